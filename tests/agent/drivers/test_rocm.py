"""The amd-smi and rocm-smi drivers against every case, through the real CLI and the fake tools.

Cases live under tests/data/{rocm-smi,amd-smi}/cases (provenance in SOURCES.md beside them),
each with the parse we expect.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.paths import DATA, FAKES

from flockops.agent.driver import CommandResult, Context
from flockops.agent.drivers import rocm as rocm
from flockops.agent.drivers.amd_smi import AmdSmiDriver
from flockops.agent.drivers.rocm_smi import RocmSmiDriver
from flockops.errors import DriverFailed, DriverUnavailable, ParseError

TOOLS = {"rocm-smi": ("FAKE_ROCM_SMI_CASE", DATA / "rocm-smi" / "cases"),
         "amd-smi": ("FAKE_AMD_SMI_CASE", DATA / "amd-smi" / "cases")}
CASES = [(tool, p.name) for tool, (_, root) in TOOLS.items() for p in sorted(root.iterdir()) if p.is_dir()]


def tool_env(tool: str, case: str) -> dict[str, str]:
    variable, root = TOOLS[tool]
    return {variable: str(root / case), "PATH": f"{FAKES}:/usr/bin:/bin"}


def _report(flockops: Any, tool: str, case: str) -> dict[str, Any]:
    run = flockops("report", "-o", "json", "--driver", tool, env=tool_env(tool, case))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    host: dict[str, Any] = run.json()["hosts"][0]
    return host


@pytest.mark.parametrize(("tool", "case"), CASES)
def test_recorded_case(tool: str, case: str, flockops) -> None:  # type: ignore[no-untyped-def]
    expected = json.loads((TOOLS[tool][1] / case / "expected.json").read_text())
    host = _report(flockops, tool, case)
    attempt = next(d for d in host["drivers"] if d["name"] == tool)
    if isinstance(expected, dict):  # an outcome, not GPUs
        assert attempt["outcome"] == expected["outcome"], attempt
        assert expected["error_reason_contains"] in attempt["reason"].lower(), attempt
        assert host["gpus"] == []
        return
    assert attempt["outcome"] == "used", attempt
    assert len(host["gpus"]) == len(expected)
    for got, want in zip(host["gpus"], expected, strict=True):
        assert {key: got[key] for key in want} == want


def test_secondary_die_power_says_why(flockops) -> None:  # type: ignore[no-untyped-def]
    (gpu,) = _report(flockops, "rocm-smi", "rx6700xt-rocm602")["gpus"]
    assert gpu["power_w"] is None and gpu["field_errors"]["power_w"] == "N/A (Secondary die)"


def test_missing_edge_falls_back_to_junction_and_says_so(flockops) -> None:  # type: ignore[no-untyped-def]
    (gpu,) = _report(flockops, "amd-smi", "mi300a-no-edge")["gpus"]
    assert gpu["temperature_sensor"] == "junction"
    assert "no edge temperature" in gpu["field_errors"]["temperature_c"]
    assert "power_w" not in gpu["field_errors"]  # a bare N/A is just unknown


def test_rocm_smi_is_found_in_opt_rocm_bin_layout(tmp_path: Path) -> None:
    # Context.which also looks in /opt/rocm/bin; here the fake is reached through PATH only.
    ctx = Context(env={"PATH": str(tmp_path)})
    with pytest.raises(DriverUnavailable, match="not found on PATH or in /opt/rocm/bin"):
        RocmSmiDriver().probe(ctx)
    with pytest.raises(DriverUnavailable, match="amd-smi not found"):
        AmdSmiDriver().collect(ctx)


def _result(stdout: str, stderr: str = "", code: int = 0) -> CommandResult:
    return CommandResult(("tool",), code, stdout, stderr)


def test_json_document_finds_json_after_noise_and_sorts_outcomes() -> None:
    assert rocm.json_document("t", _result('\nWARNING: x {\n[1, 2]\n')) == [1, 2]
    assert rocm.json_document("t", _result('notice\n{"a": 1}\ntrailing words\n')) == {"a": 1}
    with pytest.raises(DriverUnavailable, match="reported no data"):
        rocm.json_document("t", _result("WARNING: No JSON data to report\n"))
    with pytest.raises(DriverFailed, match="exited with status 3: boom"):
        rocm.json_document("t", _result("", "boom\n", 3))
    with pytest.raises(ParseError, match="printed no JSON"):
        rocm.json_document("t", _result("a table, not JSON\n"))


@pytest.mark.parametrize(("raw", "value"), [
    ("34342961152", 34342961152.0), (" 45.0 ", 45.0), (42, 42.0), ({"value": 71, "unit": "C"}, 71.0),
    ("N/A", None), ("N/A (Secondary die)", None), ({"value": "N/A", "unit": "W"}, None), (None, None),
    ("612 W", 612.0),
])
def test_tool_values(raw: object, value: float | None) -> None:
    assert rocm.number(raw, "x") == value


def test_tool_value_garbage_is_a_parse_error_quoting_it() -> None:
    with pytest.raises(ParseError, match="lots of watts"):
        rocm.number("lots of watts", "power")
    assert rocm.byte_count({"value": 2, "unit": "MB"}, "m", "b") == 2 << 20
    assert rocm.byte_count("1024", "m", "b") == 1024


def test_one_unreadable_value_costs_only_its_field(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    """The ROCm 6.0.2 capture with its GPU use replaced by a word (constructed here): rocm-smi's other
    fields of that GPU stand, and the odd one is null with its reason."""
    import json
    import shutil

    case = tmp_path / "odd-gpu-use"
    shutil.copytree(DATA / "rocm-smi" / "cases" / "rx6700xt-rocm602", case)
    capture = json.loads((case / "stdout.txt").read_text())
    capture["card0"]["GPU use (%)"] = "Busy"
    (case / "stdout.txt").write_text(json.dumps(capture))
    run = flockops("report", "-o", "json", "--driver", "rocm-smi",
                   env={"FAKE_ROCM_SMI_CASE": str(case), "PATH": f"{FAKES}:/usr/bin:/bin"})
    (gpu,) = run.json()["hosts"][0]["gpus"]
    assert gpu["utilization_pct"] is None
    assert "cannot read GPU use (%) as a number" in gpu["field_errors"]["utilization_pct"]
    assert gpu["temperature_c"] == 45.0 and gpu["memory_total_bytes"] == 12868124672


# ---------------------------------------------------------------------------------------------
# Real amd-smi 26.2.2 captures (ROCm 7.2.1, 8x MI300X; tests/data/amd-smi/SOURCES.md, "Captures")

CAPTURES = DATA / "amd-smi" / "captures"


def test_rocm7_static_in_its_gpu_data_wrapper_as_root() -> None:
    from flockops.agent.drivers.amd_smi import parse_outputs

    document = rocm.json_document("amd-smi", _result((CAPTURES / "static-json-mi300x-rocm7.2.1-root.json").read_text()))
    assert set(document) == {"gpu_data"}
    gpus = parse_outputs(document, {"gpu_data": []})  # metric unread: what static says stands alone
    assert [g.pci_bus_id for g in gpus][:2] == ["0000:1b:00.0", "0000:3d:00.0"] and len(gpus) == 8
    first = gpus[0]
    assert first.name == "AMD Instinct MI300X" and first.driver_version == "6.16.13"
    # "196592 MB" is MiB: 206,141,652,992 bytes, the 192 GiB of an MI300X (rocm-smi says the same bytes).
    assert first.memory_total_bytes == 196592 << 20 == 206141652992
    assert first.power_limit_w == 750.0  # limit.ppt0.socket_power_limit, where amd-smi 26.2 moved it
    junction = next(r for r in first.temperatures if r.sensor == "junction")
    assert (junction.critical_c, junction.emergency_c) == (100.0, 110.0)
    assert first.memory_used_bytes is None and first.utilization_pct is None  # never guessed


def test_rocm7_static_after_the_permission_banner() -> None:
    from flockops.agent.drivers.amd_smi import parse_outputs, with_permission_note

    text = (CAPTURES / "static-json-mi300x-rocm7.2.1-nonroot-banner.txt").read_text()
    assert text.startswith("Permission needed to access required GPU device node(s):")
    notice = rocm.permission_notice(text)
    assert notice == "/dev/kfd: Permission denied"
    gpus = [with_permission_note(g, notice) for g in parse_outputs(rocm.json_document("amd-smi", _result(text)),
                                                                    {"gpu_data": []})]
    assert len(gpus) == 8 and gpus[0].pci_bus_id == "0000:1b:00.0"  # what it could read, it says
    assert gpus[0].name is None and gpus[0].memory_total_bytes is None  # "N/A" for a user outside render
    assert "/dev/kfd: Permission denied" in gpus[0].field_errors["memory_total_bytes"]
    assert "render" in gpus[0].field_errors["name"]
    assert rocm.permission_notice((CAPTURES / "static-json-mi300x-rocm7.2.1-root.json").read_text()) is None


def test_a_status_string_where_a_value_belongs() -> None:
    (version,) = json.loads((CAPTURES / "version-json-rocm7.2.1-nonroot.json").read_text())  # a list
    status = version["amdgpu_version"]
    assert status == "AMDSMI_STATUS_FILE_ERROR - Error opening file"
    assert rocm.text_value(status) is None and rocm.number(status, "x") is None
    assert rocm.unavailable_reason(status) == status
    assert rocm.text_value(version["rocm_version"]) == "7.2.1"


# ---------------------------------------------------------------------------------------------
# Partitioned cards: rocm-smi gives each partition the whole card (ROCm/ROCm#4750)

KFD_TREE = DATA / "kfd" / "mi308x-4-partitions"  # real: ROCm/k8s-device-plugin's testdata


def _partitioned(flockops: Any, tmp_path: Path, total: str | None = None, sysfs: Path = KFD_TREE) -> list[Any]:
    case = DATA / "rocm-smi" / "partitioned"
    if total is not None:  # the same four partitions, each with this total
        document = json.loads((case / "stdout.txt").read_text())
        for key in ("card0", "card1", "card2", "card3"):
            document[key]["VRAM Total Memory (B)"] = total
        case = tmp_path / "case"
        case.mkdir()
        (case / "stdout.txt").write_text(json.dumps(document))
    run = flockops("report", "-o", "json", "--driver", "rocm-smi",
                   env={"FAKE_ROCM_SMI_CASE": str(case), "PATH": f"{FAKES}:/usr/bin:/bin",
                        "FLOCKOPS_SYSFS_ROOT": str(sysfs)})
    assert run.returncode == 0, run.stderr
    gpus: list[Any] = run.json()["hosts"][0]["gpus"]
    return gpus


def test_each_partition_gets_its_own_share_from_kfd(flockops, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gpus = _partitioned(flockops, tmp_path)
    # KFD's mem_banks: 48 GiB each, one partition of each card a little less, as the capture has it.
    assert [g["memory_total_bytes"] for g in gpus] == [51539607552, 51539607552, 51539607552, 51522830336]
    assert all(g["memory_used_bytes"] is None and g["memory_free_bytes"] is None for g in gpus)
    assert "whole card's VRAM (206,158,430,208 bytes)" in gpus[0]["field_errors"]["memory_total_bytes"]
    assert "not this partition's" in gpus[0]["field_errors"]["memory_used_bytes"]


def test_a_total_already_divided_or_without_kfd_stands(flockops, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # MI300A's rocm-smi divides by the partitions itself (ROCm/ROCm#4750: 33580773376 = a third).
    divided = _partitioned(flockops, tmp_path, total="51539607552")
    assert [g["memory_used_bytes"] for g in divided] == [297771008] * 4
    assert all("memory_total_bytes" not in g["field_errors"] for g in divided)
    no_kfd = _partitioned(flockops, tmp_path / "none", sysfs=tmp_path / "empty-sys")
    assert [g["memory_total_bytes"] for g in no_kfd] == [206158430208] * 4
