"""The NVML driver, through the real pynvml loading the fake libnvidia-ml.so.1 (tests/support/fakenvml)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from support.gpus import h100
from support.paths import DATA, FAKES
from support.units import GIB, MIB


def report(flockops, env: dict[str, str], *extra: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    run = flockops("report", "-o", "json", *extra, env=env)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    host: dict[str, Any] = run.json()["hosts"][0]
    return host


def test_full_sample(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    me = os.getpid()
    env = nvml_env([h100(process=[(me, 2 * GIB), (999_999_999, None)], graphics_process=[(me, 2 * GIB)]),
                    h100(name="NVIDIA H200", memory_total=141 * GIB, memory_free=141 * GIB - 479 * MIB - 10 * GIB,
                         clocks_event_reasons=0)],
                   driver_version="590.48.01", cuda_driver_version=13010)
    host = report(flockops, env)
    assert host["status"] == "ok"
    nvidia = [(d["name"], d["outcome"]) for d in host["drivers"] if d["vendor"] == "nvidia"]
    assert nvidia == [("nvml", "used"), ("nvidia-smi", "skipped")]
    first, second = host["gpus"]
    assert first["source"] == "nvml" and first["vendor"] == "nvidia" and first["index"] == 0
    assert first["name"] == "NVIDIA H100 80GB HBM3" and first["pci_bus_id"] == "00000000:00:09.0"
    assert (first["memory_total_bytes"], first["memory_reserved_bytes"], first["memory_used_bytes"]) == (
        80 * GIB, 479 * MIB, 10 * GIB)
    assert first["memory_used_includes_reserved"] is False
    assert (first["utilization_pct"], first["memory_utilization_pct"]) == (45, 12)
    assert (first["temperature_c"], first["temperature_slowdown_c"], first["temperature_shutdown_c"],
            first["temperature_max_operating_c"]) == (62, 89, 92, 87)
    assert (first["power_w"], first["power_limit_w"], first["fan_pct"]) == (250.5, 700.0, 30)
    assert first["throttle_reasons"] == ["sw_power_cap", "hw_thermal_slowdown"]
    assert second["throttle_reasons"] == [] and second["index"] == 1
    assert (first["driver_version"], first["cuda_driver_version"]) == ("590.48.01", "13.1")
    procs = {p["pid"]: p for p in first["processes"]}
    assert procs[me]["memory_used_bytes"] == 2 * GIB and procs[me]["name"]  # the test's own process
    # A pid NVML cannot size (WDDM) and /proc cannot name: unknown, not 0.
    gone = procs[999_999_999]
    assert {k: gone[k] for k in ("pid", "name", "memory_used_bytes")} == {"pid": 999_999_999, "name": None,
                                                                          "memory_used_bytes": None}
    # Nor can /proc say who it is: unknown, with why, never a guess.
    assert gone["command_line"] is None and gone["user"] is None and "no such file" in gone["field_errors"]["user"]
    assert first["mig_enabled"] is None and first["mig_devices"] == [] and first["lost"] is False


def test_old_driver_without_memory_v2_falls_back_to_v1(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([h100()], fail={"nvmlDeviceGetMemoryInfo_v2": 13})
    gpu = report(flockops, env)["gpus"][0]
    assert gpu["memory_used_bytes"] == 10 * GIB + 479 * MIB  # v1 "used" counts the reserved memory
    assert gpu["memory_used_includes_reserved"] is True
    assert gpu["memory_reserved_bytes"] is None
    assert gpu["memory_total_bytes"] == 80 * GIB
    # Prometheus says so too, beside the used gauge whose meaning it changes.
    metrics = flockops("report", "-o", "prometheus", env=env).stdout
    assert 'flockops_gpu_memory_used_includes_reserved{' in metrics and metrics.count("includes_reserved{") == 1
    assert next(line for line in metrics.splitlines() if line.startswith("flockops_gpu_memory_used_includes")
                ).endswith(" 1")


@pytest.mark.parametrize(("code", "words"), [
    (12, "libnvidia-ml.so.1 not found"),
    (9, "kernel driver is not loaded"),
    (18, "version mismatch"),
    (17, "blocked by the operating system"),
])
def test_init_errors_make_nvml_unavailable_and_fall_back(code: int, words: str, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([h100()], init_error=code)
    env.update({"PATH": f"{FAKES}:/usr/bin:/bin",
                "FAKE_NVIDIA_SMI_CASE": str(DATA / "nvidia-smi" / "cases" / "h200-load")})
    host = report(flockops, env)
    nvml, smi = (d for d in host["drivers"] if d["vendor"] == "nvidia")
    assert nvml["outcome"] == "unavailable" and words in nvml["reason"]
    assert smi["outcome"] == "used"
    assert [g["name"] for g in host["gpus"]] == ["NVIDIA H200"] and host["status"] == "ok"


def test_no_gpu_at_all_says_why_and_exits_0(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    run = flockops("report", env=nvml_env([], init_error=9))
    assert run.returncode == 0
    assert "No GPU detected" in run.stdout and "kernel driver is not loaded" in run.stdout
    assert "nvidia-smi not found" in run.stdout


@pytest.mark.parametrize("key", ["handle_error", "device_error"])
@pytest.mark.parametrize("code", [15, 16])
def test_a_lost_gpu_keeps_its_index_and_the_others(key: str, code: int, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([h100(), h100(**{key: code}), h100(name="third")])
    host = report(flockops, env)
    assert [g["lost"] for g in host["gpus"]] == [False, True, False]
    lost = host["gpus"][1]
    assert lost["index"] == 1 and ("lost" in lost["lost_reason"] or "reset" in lost["lost_reason"])
    assert host["gpus"][2]["name"] == "third" and host["gpus"][2]["memory_used_bytes"] == 10 * GIB
    assert host["status"] == "partial" and host["errors"][0]["kind"] == "gpu_lost"


@pytest.mark.parametrize(("code", "reason"), [(3, "not supported"), (4, "no permission"),
                                              (13, "not in this driver's NVML")])
def test_a_failing_field_is_null_with_its_reason(code: int, reason: str, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([h100(fail={"nvmlDeviceGetPowerUsage": code, "nvmlDeviceGetTemperatureThreshold": code})])
    gpu = report(flockops, env)["gpus"][0]
    assert gpu["power_w"] is None and gpu["temperature_slowdown_c"] is None
    assert gpu["field_errors"]["power_w"] == reason
    assert gpu["temperature_c"] == 62 and gpu["power_limit_w"] == 700.0  # the rest stands


def test_unset_fields_are_null_never_zero(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([{"name": "bare", "memory_total": 16 * GIB}])
    gpu = report(flockops, env)["gpus"][0]
    for key in ("utilization_pct", "temperature_c", "power_w", "fan_pct", "throttle_reasons"):
        assert gpu[key] is None, key


def test_throttle_falls_back_to_the_old_name(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([h100(clocks_event_reasons=0x28)], fail={"nvmlDeviceGetCurrentClocksEventReasons": 13})
    assert report(flockops, env)["gpus"][0]["throttle_reasons"] == ["hw_slowdown", "sw_thermal_slowdown"]


def test_process_library_mismatch_is_a_field_error(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    # pynvml turns a missing _v3 process call into NVMLLibraryMismatchError, which is not an NVMLError.
    env = nvml_env([h100(process=[(4242, GIB)])], fail={"nvmlDeviceGetComputeRunningProcesses_v3": 13,
                                                         "nvmlDeviceGetGraphicsRunningProcesses_v3": 13})
    gpu = report(flockops, env)["gpus"][0]
    assert gpu["processes"] is None and "mismatch" in gpu["field_errors"]["processes"]
    assert gpu["memory_used_bytes"] == 10 * GIB


def test_mig_devices_are_listed_under_their_parent(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    migs = [{"name": "MIG 3g.40gb", "uuid": "MIG-aaaa", "memory_total": 40 * GIB, "memory_used": GIB},
            {"name": "MIG 1g.10gb", "uuid": "MIG-bbbb", "memory_total": 10 * GIB, "memory_used": 0}]
    env = nvml_env([h100(mig_mode=1, mig=migs, util_gpu=None)])
    gpu = report(flockops, env)["gpus"][0]
    assert gpu["mig_enabled"] is True and gpu["utilization_pct"] is None
    assert [(m["name"], m["memory_total_bytes"], m["memory_used_bytes"], m["utilization_pct"])
            for m in gpu["mig_devices"]] == [("MIG 3g.40gb", 40 * GIB, GIB, None), ("MIG 1g.10gb", 10 * GIB, 0, None)]


def test_table(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    no_memory = {"nvmlDeviceGetMemoryInfo_v2": 3, "nvmlDeviceGetMemoryInfo": 3}
    run = flockops("report", "-v", env=nvml_env([h100(), h100(fail=no_memory, temperature=None)]))
    assert run.returncode == 0
    rows = [line for line in run.stdout.splitlines() if "H100" in line]
    assert "81,920 MiB (80.0 GiB)" in rows[0] and "10,240 MiB (10.0 GiB)" in rows[0]
    assert "62 °C / 89 °C" in rows[0] and "250 / 700 W" in rows[0] and "45%" in rows[0]
    assert "sw_power_cap, hw_thermal_slowdown" in rows[0]
    assert "N/A / 89 °C" in rows[1]
    assert "N/A" in rows[1].split("NVIDIA H100 80GB HBM3")[1].split()[0]
    # One GPU's memory is unknown, so the host totals are unknown too, never a partial sum.
    assert "Total VRAM: N/A | Used: N/A (N/A) | Free: N/A" in run.stdout
    assert "nvidia-smi (nvidia) skipped: nvml already answered" in run.stdout


def test_driver_flag_restricts_and_rejects_unknown_names(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([h100()])
    host = report(flockops, env, "--driver", "nvidia-smi")
    nvidia = [d["outcome"] for d in host["drivers"] if d["vendor"] == "nvidia"]
    assert nvidia == ["skipped", "unavailable"] and host["gpus"] == []
    run = flockops("report", "--driver", "nvml2", env=env)
    assert run.returncode == 1 and "unknown driver nvml2" in run.stderr and "Traceback" not in run.stderr


def test_drivers_command_with_fake_nvml(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    rows = flockops("drivers", "-o", "json", env=nvml_env([h100()])).json()
    nvml = next(row for row in rows if row["name"] == "nvml")
    assert nvml == {"name": "nvml", "vendor": "nvidia", "priority": 10, "available": True, "reason": None}


def test_installed_console_script_runs(tmp_path, nvml_env) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import subprocess
    import sys

    script = shutil.which("flockops", path=os.path.dirname(sys.executable))
    assert script, "the flockops console script is not installed next to this Python"
    env = {**os.environ, **nvml_env([h100()])}
    done = subprocess.run([script, "report"], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0 and "NVIDIA H100 80GB HBM3" in done.stdout
    assert "exit codes:" in subprocess.run([script, "report", "--help"], capture_output=True, text=True,
                                           check=False).stdout


def test_a_binding_surprise_costs_one_field_not_the_gpu(nvml_env) -> None:  # type: ignore[no-untyped-def]
    """A pynvml call that raises something other than NVMLError (a newer or older binding than the
    driver expects) is that field's error; the GPU is not called lost and its other fields stay."""
    import json
    import subprocess
    import sys

    code = """
import json, pynvml
from flockops.agent.driver import Context
from flockops.agent.drivers.nvml import NvmlDriver
def surprise(*args):
    raise ValueError("bad fan struct")
pynvml.nvmlDeviceGetFanSpeed = surprise
(gpu,) = NvmlDriver().collect(Context.local())
print(json.dumps([gpu.lost, gpu.fan_pct, gpu.field_errors.get("fan_pct"), gpu.memory_total_bytes, gpu.temperature_c]))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          env={**os.environ, **nvml_env([h100()])})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, None, "ValueError: bad fan struct", 80 * GIB, 62.0]
