"""The nvidia-smi driver against every recorded case, through the real CLI and the fake tool.

Each case directory under tests/data/nvidia-smi/cases holds a real capture (see SOURCES.md
there) and, beside it, the parse we expect, worked out by hand from the capture.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.paths import DATA, FAKES
from support.processes import ended

CASES = DATA / "nvidia-smi" / "cases"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


def smi_env(case: Path) -> dict[str, str]:
    # The capture's processes ran on another machine: this one's /proc must not answer for their pids.
    return {"FAKE_NVIDIA_SMI_CASE": str(case), "PATH": f"{FAKES}:/usr/bin:/bin",
            "FLOCKOPS_PROC_ROOT": str(case / "no-such-proc")}


def parsed(got: dict[str, object], want: dict[str, object]) -> dict[str, object]:
    """``got``'s fields that ``want`` names; of each process, too (the holders' attribution adds more)."""
    out = {key: got[key] for key in want}
    if isinstance(want.get("processes"), list) and isinstance(got.get("processes"), list):
        out["processes"] = [{k: p[k] for k in w} for p, w in zip(got["processes"], want["processes"], strict=False)]
    return out


@pytest.mark.parametrize("case", CASE_NAMES)
def test_recorded_case(case: str, flockops) -> None:  # type: ignore[no-untyped-def]
    expected = json.loads((CASES / case / "expected.json").read_text())
    run = flockops("report", "-o", "json", "--driver", "nvidia-smi", env=smi_env(CASES / case))
    assert "Traceback" not in run.stderr
    assert run.returncode == 0, run.stderr
    host = run.json()["hosts"][0]
    smi = next(d for d in host["drivers"] if d["name"] == "nvidia-smi")
    if isinstance(expected, dict):  # an error case
        said = [smi["reason"] or ""] + [e["message"] for e in host["errors"]]
        said += [g["lost_reason"] or "" for g in host["gpus"]]
        assert any(expected["error_reason_contains"] in text.lower() for text in said), said
        return
    assert smi["outcome"] == "used", smi
    assert len(host["gpus"]) == len(expected)
    for got, want in zip(host["gpus"], expected, strict=True):
        assert parsed(got, want) == want
        if got.get("processes"):  # another machine's pids, not this one's processes
            assert all(p["command_line"] is None and "command_line" in p["field_errors"] for p in got["processes"])


def test_a_mig_container_says_why_memory_is_unknown(flockops) -> None:  # type: ignore[no-untyped-def]
    # A real pod on a MIG A100: [Insufficient Permissions] for memory, [N/A] for use, even with nounits.
    (gpu,) = flockops("report", "-o", "json", "--driver", "nvidia-smi",
                      env=smi_env(CASES / "a100-mig-k8s-pod")).json()["hosts"][0]["gpus"]
    assert gpu["memory_total_bytes"] is None and gpu["temperature_c"] == 47.0
    assert gpu["field_errors"]["memory_used_bytes"] == ("nvidia-smi: [Insufficient Permissions] (a container on a "
                                                        "MIG GPU sees only its own instance)")
    assert gpu["field_errors"]["utilization_pct"] == "nvidia-smi: [N/A]"


def test_a_lost_gpu_keeps_its_bus_id(flockops) -> None:  # type: ignore[no-untyped-def]
    host = flockops("report", "-o", "json", "--driver", "nvidia-smi",
                    env=smi_env(CASES / "error-gpu-lost")).json()["hosts"][0]
    (gpu,) = host["gpus"]
    assert gpu["lost"] is True and gpu["pci_bus_id"] == "0000:03:00.0"
    assert host["status"] == "partial"
    assert host["errors"][0]["kind"] == "gpu_lost"


def test_driver_not_loaded_is_unavailable_not_failed(flockops) -> None:  # type: ignore[no-untyped-def]
    run = flockops("report", "--driver", "nvidia-smi", env=smi_env(CASES / "error-driver-not-loaded"))
    assert run.returncode == 0
    assert "No GPU detected" in run.stdout
    assert "couldn't communicate with the NVIDIA driver" in run.stdout


def test_hung_nvidia_smi_times_out(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    case = tmp_path / "hung"
    shutil.copytree(CASES / "h200-load", case)
    (case / "delay-seconds").write_text("30")
    run = flockops("report", "-o", "json", "--driver", "nvidia-smi", env={
        **smi_env(case), "FLOCKOPS_COMMAND_TIMEOUT": "0.5"})
    host = run.json()["hosts"][0]
    smi = next(d for d in host["drivers"] if d["name"] == "nvidia-smi")
    assert smi["outcome"] == "failed" and "did not answer within 0.5 s" in smi["reason"]
    assert host["errors"] == [{"kind": "driver", "source": "nvidia-smi", "message": smi["reason"]}]


def test_table_shows_the_recorded_gpu(flockops) -> None:  # type: ignore[no-untyped-def]
    run = flockops("report", "--driver", "nvidia-smi", env=smi_env(CASES / "h200-load"))
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    row = next(line for line in lines if "NVIDIA H200" in line)
    assert "143,771 MiB (140.4 GiB)" in row and "32,362 MiB" in row and "614 MiB" in row
    assert "52 °C" in row and "627 / 700 W" in row and "100%" in row
    assert any("Total VRAM: 140.4 GiB" in line for line in lines)


def test_one_unreadable_value_costs_only_its_field(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    """The h200-load capture with its power.draw cell replaced by text nvidia-smi never prints as a
    number (constructed here): that field is unknown with the reason, every other one is kept."""
    case = tmp_path / "h200-bad-power"
    shutil.copytree(CASES / "h200-load", case)
    capture = case / "query-gpu.csv"
    header, row = capture.read_text().splitlines()[:2]
    names = [name.split(" [")[0].strip() for name in header.split(",")]
    cells = row.split(", ")
    cells[names.index("power.draw")] = "ERR!"
    capture.write_text(header + "\n" + ", ".join(cells) + "\n")
    host = flockops("report", "-o", "json", "--driver", "nvidia-smi", env=smi_env(case)).json()["hosts"][0]
    (gpu,) = host["gpus"]
    assert gpu["power_w"] is None and gpu["field_errors"]["power_w"] == "cannot read power.draw as a number: 'ERR!'"
    assert gpu["memory_total_bytes"] == 143771 << 20 and gpu["temperature_c"] == 52.0
    assert host["status"] == "ok"


def test_a_failed_driver_is_not_reported_as_no_gpu(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    case = tmp_path / "hung"
    shutil.copytree(CASES / "h200-load", case)
    (case / "delay-seconds").write_text("30")
    run = flockops("report", "--driver", "nvidia-smi", env={**smi_env(case), "FLOCKOPS_COMMAND_TIMEOUT": "0.5"})
    assert "No GPU detected" not in run.stdout
    assert "No GPU reported: a driver failed" in run.stdout and "did not answer within 0.5 s" in run.stdout


def test_a_hung_tool_goes_with_its_children(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    """A wrapper whose nvidia-smi hangs: the timeout ends the wrapper and what it started."""
    bin_dir = tmp_path / "wrapper"
    bin_dir.mkdir()
    pid_file = tmp_path / "child.pid"
    tool = bin_dir / "nvidia-smi"
    tool.write_text(f"#!/bin/sh\nsleep 600 &\necho $! > {pid_file}\nwait\n")
    tool.chmod(0o755)
    run = flockops("report", "-o", "json", "--no-ollama", "--driver", "nvidia-smi",
                   env={"PATH": f"{bin_dir}:/usr/bin:/bin", "FLOCKOPS_COMMAND_TIMEOUT": "1"})
    [error] = [e for e in run.json()["hosts"][0]["errors"] if e["source"] == "nvidia-smi"]
    assert "did not answer within 1 s" in error["message"]
    assert ended(int(pid_file.read_text()))


def test_a_tool_printing_without_end_is_stopped(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    bin_dir = tmp_path / "flood"
    bin_dir.mkdir()
    tool = bin_dir / "nvidia-smi"
    tool.write_text("#!/bin/sh\nexec yes 0123456789abcdefghijklmnopqrstuvwxyz\n")
    tool.chmod(0o755)
    run = flockops("report", "-o", "json", "--no-ollama", "--driver", "nvidia-smi",
                   env={"PATH": f"{bin_dir}:/usr/bin:/bin"})
    [error] = [e for e in run.json()["hosts"][0]["errors"] if e["source"] == "nvidia-smi"]
    assert "printed more than 16 MiB; stopped" in error["message"]
