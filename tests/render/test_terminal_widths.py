"""Every table fits the terminal (#15 item 1): real report data drawn through a pseudo-terminal of
80 and 120 columns, as nvitop and gpustat fit one; --wide and a pipe get every column."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.fleet import fleet_gpu, host, write_inventory
from support.gpus import h100
from support.history_data import build
from support.paths import DATA
from support.runner import base_env
from support.terminal import run_on_terminal

EIGHT = [h100(uuid=f"GPU-{i}", pci_bus_id=f"00000000:{i + 1:02x}:00.0") for i in range(8)]


def widest(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.fixture
def eight(tmp_path: Path, nvml_env) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {**base_env(tmp_path), **nvml_env(EIGHT)}


@pytest.mark.parametrize("columns", [80, 120])
def test_eight_gpus_fit(eight: dict[str, str], columns: int) -> None:
    code, shown, _ = run_on_terminal(["report", "--no-ollama", "--driver", "nvml"], eight, columns)
    assert code == 0, shown
    assert widest(shown) <= columns, shown
    head = next(line for line in shown.splitlines() if line.startswith("GPU "))
    assert head.split()[:6] == ["GPU", "Name", "Total", "Used", "Util", "Temp"]  # what matters stays
    assert "62/89°C" in shown and "80.0G" in shown
    if columns == 120:
        assert "Throttle" in head and "Source" in head and "pwr-cap,HW-THERM" in shown
    assert "--wide shows" in shown


def test_wide_and_a_pipe_get_every_column(eight: dict[str, str]) -> None:
    _, wide, _ = run_on_terminal(["report", "--no-ollama", "--driver", "nvml", "--wide"], eight, 80)
    assert widest(wide) > 120 and "Reserved" in wide and "81,920 MiB (80.0 GiB)" in wide
    piped = subprocess.run([sys.executable, "-m", "flockops", "report", "--no-ollama", "--driver", "nvml"],
                           capture_output=True, text=True, env=eight, check=False, timeout=60)
    assert "Reserved" in piped.stdout and "Temp / slowdown" in piped.stdout and "--wide" not in piped.stdout


def test_a_terminals_own_size_wins_over_columns(eight: dict[str, str]) -> None:
    _, shown, _ = run_on_terminal(["report", "--no-ollama", "--driver", "nvml"], {**eight, "COLUMNS": "200"}, 80)
    assert widest(shown) <= 80


def test_the_summary_with_a_failed_host_fits_and_says_the_problem_below(tmp_path, world, sshd, fleet_env) -> None:  # type: ignore[no-untyped-def]
    inventory = write_inventory(tmp_path / "inv.yml", {
        "gpu-a": host(sshd, ansible_python_interpreter=world.python("w", [fleet_gpu()])),
        "unknown-key": host(sshd, ansible_host="localhost"),  # the long ssh-keyscan hint
    })
    env = {**base_env(tmp_path), **fleet_env}
    code, shown, _ = run_on_terminal(["report", "-i", str(inventory), "--summary", "--no-ollama", "-q"], env, 80)
    assert code == 2, shown
    assert widest(shown) <= 80, shown
    table, _, below = shown.partition("\n\n")
    assert "unknown-key" in table and "host_key" not in table
    assert "! unknown-key: host_key: " in below and "ssh-keyscan" in below


def test_watch_at_120_keeps_temperature_throttle_and_source(eight: dict[str, str]) -> None:
    code, shown, _ = run_on_terminal(["watch", "--count", "1", "--no-ollama", "--driver", "nvml"], eight, 120)
    assert code == 0, shown
    lines = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line) for line in shown.splitlines()]  # the screen's codes
    head = next(line for line in lines if line.startswith("GPU "))
    assert "Temp" in head and "Throttle" in head and "Source" in head
    assert widest("\n".join(lines)) <= 120


def test_an_apus_memory_is_marked_shared(tmp_path: Path) -> None:
    env = {**base_env(tmp_path), "FLOCKOPS_SYSFS_ROOT": str(DATA / "sysfs" / "amd-strixpoint")}
    _, shown, _ = run_on_terminal(["report", "--no-ollama", "--driver", "sysfs-amd"], env, 120)
    # A 512 MiB carve-out 96 % full, of 16 GiB it may use: "shared", and its share of all of it.
    assert "0.5G+15.3G sh" in shown and "0.5G+3.7G sh" in shown
    assert "Used: 0.5 GiB (+3.7 GiB shared; 26.3% of all it may use)" in shown.replace("\n", " ")
    assert widest(shown) <= 120


def test_a_host_of_two_vendors_shows_the_vendor(tmp_path: Path, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = {**base_env(tmp_path), **nvml_env([h100()]), "FLOCKOPS_SYSFS_ROOT": str(DATA / "sysfs" / "amd-rx7900xtx")}
    _, shown, _ = run_on_terminal(["report", "--no-ollama", "--driver", "nvml", "--driver", "sysfs-amd"], env, 120)
    head = next(line for line in shown.splitlines() if line.startswith("GPU "))
    assert head.split()[:2] == ["GPU", "Vendor"]
    rows = [line.split()[:2] for line in shown.splitlines() if line[:1].isdigit()]
    assert rows == [["0", "amd"], ["0", "nvidia"]] or rows == [["0", "nvidia"], ["0", "amd"]]


def test_history_and_fit_fit_80_columns(tmp_path: Path, eight: dict[str, str], nvml_env) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "day.sqlite"
    build(db, time.time())
    _, shown, _ = run_on_terminal(["history", "--db", str(db)], eight, 80)
    assert widest(shown) <= 80 and "gpu-a" in shown and "Hot" in shown
    cool = {**base_env(tmp_path), **nvml_env([{**g, "clocks_event_reasons": 0} for g in EIGHT])}
    _, fit, _ = run_on_terminal(["fit", "40GiB", "--no-ollama"], cool, 80)
    assert widest(fit) <= 80 and "Headroom" in fit


def test_mig_instances_sit_under_their_parent(tmp_path: Path, nvml_env) -> None:  # type: ignore[no-untyped-def]
    mig = [{"name": "MIG 3g.40gb", "uuid": "MIG-aaa", "memory_total": 40 * 2**30, "memory_used": 2**30,
            "gpu_instance_id": 1},
           {"name": "MIG 4g.40gb", "uuid": "MIG-bbb", "memory_total": 40 * 2**30, "gpu_instance_id": 2}]
    env = {**base_env(tmp_path), **nvml_env([h100(mig_mode=1, mig=mig), h100(uuid="GPU-2")])}
    _, shown, _ = run_on_terminal(["report", "--no-ollama", "--driver", "nvml"], env, 80)
    rows = [line for line in shown.splitlines() if line[:1].isdigit()]
    assert [r.split()[0] for r in rows] == ["0", "0/0", "0/1", "1"]
    assert "  MIG 3g.40gb" in rows[1] and "40.0G" in rows[1] and "1.0G" in rows[1]
    assert widest(shown) <= 80
