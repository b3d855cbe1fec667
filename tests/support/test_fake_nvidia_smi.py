"""Checks of the fake nvidia-smi itself (tests/fakes/nvidia-smi), not of flockops.

The fake must answer like the real tool from the recorded captures: requested columns by
name and in order, units stripped only with ``nounits``, unknown fields refused with the
driver's message and exit 2, error cases replayed byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from support.paths import TESTS

FAKE = TESTS / "fakes" / "nvidia-smi"
CASES = TESTS / "data" / "nvidia-smi" / "cases"
CAPTURE_CASES = sorted(p.name for p in CASES.iterdir() if (p / "query-gpu.csv").is_file())
ERROR_CASES = sorted(p.name for p in CASES.iterdir() if (p / "error.txt").is_file())

GPU_KEYS = {
    "vendor",
    "index",
    "name",
    "uuid",
    "pci_bus_id",
    "source",
    "memory_total_bytes",
    "memory_reserved_bytes",
    "memory_used_bytes",
    "memory_free_bytes",
    "utilization_pct",
    "memory_utilization_pct",
    "temperature_c",
    "power_w",
    "power_limit_w",
    "fan_pct",
    "throttle_reasons",
    "lost",
    "processes",
    "mig_enabled",
}
# Asked of every case, in this (deliberately not capture) order; filtered per capture.
WANTED = [
    "power.draw",
    "memory.used",
    "index",
    "name",
    "temperature.gpu",
    "fan.speed",
    "utilization.gpu",
    "memory.total",
    "memory.reserved",
    "memory.free",
    "uuid",
    "clocks_event_reasons.active",
    "pci.bus_id",
    "enforced.power.limit",
    "mig.mode.current",
]


def run(case: Path | str, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, FAKE_NVIDIA_SMI_CASE=str(case))
    return subprocess.run(
        [sys.executable, str(FAKE), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def recorded(path: Path) -> tuple[list[str], list[str], list[list[str]]]:
    """(column names, header cells, rows) of a capture, read the simple way."""
    lines = [ln for ln in path.read_text(encoding="utf-8").split("\n") if ln]
    heads = lines[0].split(", ")
    names = [re.sub(r" \[[^\]]+\]$", "", h) for h in heads]
    return names, heads, [ln.split(", ") for ln in lines[1:]]


def test_fake_is_an_executable_python_script() -> None:
    assert FAKE.read_text(encoding="utf-8").startswith("#!/usr/bin/env python3\n")
    if os.name == "posix":
        assert FAKE.stat().st_mode & stat.S_IXUSR


@pytest.mark.parametrize("case", CAPTURE_CASES)
def test_answers_requested_fields_in_order(case: str) -> None:
    names, heads, rows = recorded(CASES / case / "query-gpu.csv")
    fields = [f for f in WANTED if f in names]
    assert len(fields) >= 5  # the MIG pod capture asked for 8 columns, 6 of them these
    cols = [names.index(f) for f in fields]
    query = "--query-gpu=" + ",".join(fields)

    raw = run(CASES / case, query, "--format=csv")
    assert raw.returncode == 0, raw.stdout + raw.stderr
    lines = raw.stdout.splitlines()
    assert lines[0] == ", ".join(heads[c] for c in cols)
    for line, row in zip(lines[1:], rows, strict=True):
        cells = line.split(", ")
        assert len(cells) == len(fields)
        for cell, c in zip(cells, cols, strict=True):
            unit = re.search(r" \[([^\]]+)\]$", heads[c])
            if unit and re.fullmatch(r"-?\d+(\.\d+)?", row[c]):  # nounits recording
                assert cell == f"{row[c]} {unit.group(1)}"
            else:
                assert cell == row[c]

    bare = run(CASES / case, query, "--format=csv,noheader,nounits")
    assert bare.returncode == 0
    lines = bare.stdout.splitlines()
    assert len(lines) == len(rows)
    for line, row in zip(lines, rows, strict=True):
        for cell, c in zip(line.split(", "), cols, strict=True):
            assert cell == re.sub(r"^(-?\d+(?:\.\d+)?) \S+$", r"\1", row[c])
            assert not re.fullmatch(r"-?\d+(\.\d+)? (MiB|W|%|us|MHz)", cell)


def test_nounits_strips_units_but_keeps_sentinels() -> None:
    fields = "memory.total,power.draw,utilization.gpu,fan.speed,temperature.memory,power.management"
    out = run(CASES / "h100-mig-idle", f"--query-gpu={fields}", "--format=csv,noheader,nounits")
    assert out.stdout == ("81559, 71.15, [N/A], [N/A], 48, [Requested functionality has been deprecated]\n")
    out = run(CASES / "h100-mig-idle", f"--query-gpu={fields}", "--format=csv,noheader")
    assert out.stdout == (
        "81559 MiB, 71.15 W, [N/A], [N/A], 48, [Requested functionality has been deprecated]\n"
    )
    out = run(
        CASES / "rtx-4080-super-idle",
        "--query-gpu=fan.speed,clocks_event_reasons_counters.sw_power_cap",
        "--format=csv,nounits",
    )
    assert out.stdout == "fan.speed [%], clocks_event_reasons_counters.sw_power_cap [us]\n0, 0\n"


def test_documented_example() -> None:
    out = run(
        CASES / "h200-load",
        "--query-gpu=index,name,memory.total,memory.reserved,temperature.gpu,power.draw",
        "--format=csv,noheader,nounits",
    )
    assert (out.returncode, out.stdout) == (0, "0, NVIDIA H200, 143771, 614, 52, 627.40\n")


def test_separate_word_arguments_and_aliases() -> None:
    out = run(
        CASES / "rtx-2080-super-windows-load",
        "--query-gpu",
        "gpu_name,gpu_bus_id,clocks_throttle_reasons.active",
        "--format",
        "csv",
    )
    assert out.returncode == 0
    assert out.stdout == (
        "name, pci.bus_id, clocks_event_reasons.active\n"
        "NVIDIA GeForce RTX 2080 SUPER, 00000000:0C:00.0, 0x0000000000000000\n"
    )


@pytest.mark.parametrize("case", CAPTURE_CASES)
def test_unknown_field_is_refused_like_an_old_driver(case: str) -> None:
    out = run(CASES / case, "--query-gpu=name,no.such.field,uuid", "--format=csv,noheader,nounits")
    assert out.returncode == 2
    assert out.stdout == 'Field "no.such.field" is not a valid field to query.\n\n'


@pytest.mark.parametrize(
    "field",
    [
        "index",
        "memory.total",
        "pci.bus_id",
        "clocks_event_reasons.active",
        "clocks_throttle_reasons.active",
        "enforced.power.limit",
    ],
)
def test_limited_driver_refuses_missing_columns(field: str) -> None:
    out = run(CASES / "tesla-p100-old-driver", f"--query-gpu=name,{field}", "--format=csv,noheader,nounits")
    assert (out.returncode, out.stdout) == (2, f'Field "{field}" is not a valid field to query.\n\n')
    ok = run(
        CASES / "tesla-p100-old-driver",
        "--query-gpu=uuid,memory.used,fan.speed,power.draw",
        "--format=csv,noheader,nounits",
    )
    assert ok.stdout == "GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6, 0, [N/A], 28.16\n"


def test_compute_apps() -> None:
    query = "--query-compute-apps=pid,process_name,used_memory,gpu_uuid,gpu_bus_id"
    out = run(CASES / "h100-mig-idle", query, "--format=csv,noheader,nounits")
    assert out.returncode == 0
    assert out.stdout.splitlines() == [
        "21180, /root/tools/memhog, 2296, GPU-00000000-0000-0000-0000-000000000000, 00000000:00:09.0",
        "21181, /root/tools/memhog, 1272, GPU-00000000-0000-0000-0000-000000000000, 00000000:00:09.0",
        "21198, ./gpu_burn, 7484, GPU-00000000-0000-0000-0000-000000000000, 00000000:00:09.0",
    ]
    units = run(CASES / "rtx-4080-super-idle", "--query-compute-apps=pid,used_gpu_memory", "--format=csv")
    assert units.stdout == "pid, used_gpu_memory [MiB]\n2165, 25 MiB\n5022, 503 MiB\n5021, 360 MiB\n"
    wddm = run(
        CASES / "rtx-2080-super-windows-load",
        "--query-compute-apps=name,used_memory",
        "--format=csv,noheader,nounits",
    )
    lines = wddm.stdout.splitlines()
    assert len(lines) == 12
    assert lines[4] == r"C:\Program Files\NZXT CAM\NZXT CAM.exe, [N/A]"
    bad = run(CASES / "h100-mig-idle", "--query-compute-apps=pid,used_memory_mib", "--format=csv")
    assert (bad.returncode, bad.stdout) == (2, 'Field "used_memory_mib" is not a valid field to query.\n\n')


@pytest.mark.parametrize("case", ["h200-load", "l40s-idle", "tesla-p100-old-driver"])
def test_no_processes(case: str) -> None:
    query = "--query-compute-apps=pid,process_name,used_memory"
    assert run(CASES / case, query, "--format=csv,noheader,nounits").stdout == ""
    out = run(CASES / case, query, "--format=csv")
    assert (out.returncode, out.stdout) == (0, "pid, process_name, used_gpu_memory [MiB]\n")


def test_list_gpus() -> None:
    recorded_l = (CASES / "h100-mig-idle" / "list-L.txt").read_text(encoding="utf-8")
    assert run(CASES / "h100-mig-idle", "-L").stdout == recorded_l
    assert run(CASES / "h200-load", "-L").stdout == (
        "GPU 0: NVIDIA H200 (UUID: GPU-00000000-0000-0000-0000-000000000000)\n"
    )


@pytest.mark.parametrize("case", ERROR_CASES)
@pytest.mark.parametrize(
    "args",
    [
        ("--query-gpu=index,name", "--format=csv,noheader,nounits"),
        ("--query-compute-apps=pid", "--format=csv"),
        ("-L",),
        (),
    ],
)
def test_error_cases_replay(case: str, args: tuple[str, ...]) -> None:
    out = run(CASES / case, *args)
    assert out.stdout == (CASES / case / "error.txt").read_text(encoding="utf-8")
    assert out.returncode == int((CASES / case / "exit-code").read_text())
    assert out.returncode != 0
    assert out.stderr == ""


def test_delay_simulates_a_hung_nvidia_smi(tmp_path: Path) -> None:
    (tmp_path / "query-gpu.csv").write_bytes((CASES / "h200-load" / "query-gpu.csv").read_bytes())
    (tmp_path / "delay-seconds").write_text("5\n")
    with pytest.raises(subprocess.TimeoutExpired):
        run(tmp_path, "--query-gpu=name", "--format=csv,noheader", timeout=0.5)
    (tmp_path / "delay-seconds").write_text("0.05\n")
    assert run(tmp_path, "--query-gpu=name", "--format=csv,noheader").stdout == "NVIDIA H200\n"


@pytest.mark.parametrize(
    "args", [("-q",), ("--query-gpu=name", "--format=xml"), ("--query-gpu=name",), ("-i", "0")]
)
def test_unsupported_invocations_are_the_fakes_own_error(args: tuple[str, ...]) -> None:
    out = run(CASES / "h200-load", *args)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.startswith("fake nvidia-smi:")


def test_every_case_has_a_well_formed_expected_json() -> None:
    assert len(CAPTURE_CASES) == 7 and len(ERROR_CASES) >= 6
    for case in CAPTURE_CASES:
        gpus = json.loads((CASES / case / "expected.json").read_text(encoding="utf-8"))
        _, _, rows = recorded(CASES / case / "query-gpu.csv")
        assert len(gpus) == len(rows)
        for gpu in gpus:
            assert set(gpu) == GPU_KEYS, case
            assert gpu["source"] == "nvidia-smi" and gpu["vendor"] == "nvidia" and gpu["lost"] is False
    for case in ERROR_CASES:
        expected = json.loads((CASES / case / "expected.json").read_text(encoding="utf-8"))
        assert set(expected) == {"error_reason_contains", "exit_code"}
        assert expected["exit_code"] == int((CASES / case / "exit-code").read_text())
        text = (CASES / case / "error.txt").read_text(encoding="utf-8").lower()
        assert expected["error_reason_contains"] in text
        assert expected["error_reason_contains"] == expected["error_reason_contains"].lower()
