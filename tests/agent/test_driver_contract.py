"""One contract for every driver: run each against its fake on every case it has, and check
the same invariants. Used <= total, free >= 0, plausible temperatures or None, percentages in
0..100, `source` set, and nothing raised but DriverUnavailable (an outcome)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from support.paths import DATA, FAKES, PLUGINS

from flockops.agent.codec import gpu_from_dict
from flockops.agent.driver import Context, Driver
from flockops.agent.drivers.amd_smi import AmdSmiDriver
from flockops.agent.drivers.nvidia_smi import NvidiaSmiDriver
from flockops.agent.drivers.rocm_smi import RocmSmiDriver
from flockops.agent.drivers.sysfs import AmdgpuSysfsDriver, IntelSysfsDriver
from flockops.agent.model import GpuSample
from flockops.errors import DriverUnavailable


def _cases(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir())


def _tool_ctx(tmp: Path, tool: str, variable: str, case: Path) -> Context:
    bin_dir = tmp / f"bin-{tool}"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / tool).exists():
        (bin_dir / tool).symlink_to(FAKES / tool)
    return Context(env={"PATH": f"{bin_dir}:/usr/bin:/bin", variable: str(case)}, sysfs_root=str(tmp / "no-sys"))


def _xpu_smi_driver() -> Driver:
    import sys

    sys.path.insert(0, str(PLUGINS / "flockops-xpu-smi"))
    try:
        from flockops_xpu_smi import XpuSmiDriver
    finally:
        sys.path.remove(str(PLUGINS / "flockops-xpu-smi"))
    return XpuSmiDriver()


def all_cases() -> Iterator[Any]:
    tools = (("nvidia-smi", NvidiaSmiDriver, "FAKE_NVIDIA_SMI_CASE"), ("rocm-smi", RocmSmiDriver, "FAKE_ROCM_SMI_CASE"),
             ("amd-smi", AmdSmiDriver, "FAKE_AMD_SMI_CASE"), ("xpu-smi", None, "FAKE_XPU_SMI_CASE"))
    for tool, cls, variable in tools:
        for case in _cases(DATA / tool / "cases"):
            yield pytest.param("tool", tool, cls, variable, case, id=f"{tool}-{case.name}")
    for case in _cases(DATA / "sysfs"):
        cls = AmdgpuSysfsDriver if case.name.startswith("amd") else IntelSysfsDriver
        yield pytest.param("sysfs", cls.name, cls, "", case, id=f"{cls.name}-{case.name}")


def check_contract(driver_name: str, gpus: Sequence[GpuSample]) -> None:
    assert gpus, f"{driver_name} returned no GPU without saying why"
    for gpu in gpus:
        assert gpu.source, gpu
        assert gpu.vendor in ("nvidia", "amd", "intel")
        if gpu.lost:
            assert gpu.lost_reason
            continue
        total, used, free = gpu.memory_total_bytes, gpu.memory_used_bytes, gpu.memory_free_bytes
        for value in (total, used, free, gpu.memory_reserved_bytes):
            assert value is None or (isinstance(value, int) and value >= 0), gpu
        if total is not None and used is not None:
            assert used <= total, gpu
        if gpu.memory_shared:
            assert total is None or total > 0  # shared: unknown or a carve-out, never a made-up 0
        for pct in (gpu.utilization_pct, gpu.memory_utilization_pct, gpu.fan_pct):
            assert pct is None or 0 <= pct <= 100, gpu
        temps = [gpu.temperature_c] + [t.temperature_c for t in gpu.temperatures]
        for celsius in temps:
            assert celsius is None or (-40 <= celsius <= 150 and math.isfinite(celsius)), gpu
        limits = [gpu.temperature_slowdown_c, gpu.temperature_shutdown_c]
        limits += [v for t in gpu.temperatures for v in (t.critical_c, t.emergency_c)]
        assert all(v is None or 0 < v <= 200 for v in limits), gpu
        for watts in (gpu.power_w, gpu.power_limit_w):
            assert watts is None or 0 <= watts <= 5000, gpu
        assert gpu_from_dict(json.loads(json.dumps(_plain(gpu)))) == gpu  # survives the probe's JSON


def _plain(gpu: GpuSample) -> dict[str, Any]:
    from flockops.agent.codec import gpu_to_dict

    return gpu_to_dict(gpu)


@pytest.mark.parametrize(("kind", "tool", "cls", "variable", "case"), list(all_cases()))
def test_driver_contract(kind: str, tool: str, cls: type[Driver] | None, variable: str, case: Path,
                         tmp_path: Path) -> None:
    driver = cls() if cls is not None else _xpu_smi_driver()
    sysfs = kind == "sysfs"
    ctx = Context(env={}, sysfs_root=str(case)) if sysfs else _tool_ctx(tmp_path, tool, variable, case)
    try:
        gpus = driver.collect(ctx)
    except DriverUnavailable as exc:
        assert str(exc)  # an outcome, said in words
        return
    except Exception as exc:
        # A recorded failure (a hung or broken tool) is allowed to fail, but only on purpose.
        expected = case / "expected.json"
        assert expected.exists() and isinstance(json.loads(expected.read_text()), dict), repr(exc)
        return
    check_contract(driver.name, gpus)


def test_nvml_against_its_fake_library(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    from support.gpus import h100

    env = nvml_env([h100(), h100(name="NVIDIA H200", clocks_event_reasons=0)], driver_version="590.48.01")
    run = flockops("report", "-o", "json", "--driver", "nvml", env=env)
    assert run.returncode == 0, run.stderr
    gpus = [gpu_from_dict(g) for g in run.json()["hosts"][0]["gpus"]]
    check_contract("nvml", gpus)


def test_amdsmi_against_its_fake_library(flockops, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import importlib.util
    import shutil

    if importlib.util.find_spec("amdsmi") is None or shutil.which("cc") is None:
        pytest.skip("needs the amdsmi package and a C compiler")
    from support.amdsmi import amdsmi_env, build_fake_amdsmi, write_config
    from support.gpus import mi210, mi300a

    gpus = [mi210(), mi300a(), mi210(vram_used=0, gfx_activity=0, temp_edge_current=None),
            {"market_name": "AMD Radeon RX 7900 XTX"}]  # the last: a name and nothing else
    env = amdsmi_env(build_fake_amdsmi(tmp_path / "rocm"), write_config(tmp_path / "amdsmi.conf", gpus))
    run = flockops("report", "-o", "json", "--driver", "amdsmi", env=env)
    assert run.returncode == 0, run.stderr
    samples = [gpu_from_dict(g) for g in run.json()["hosts"][0]["gpus"]]
    assert len(samples) == 4
    check_contract("amdsmi", samples)
    assert samples[3].memory_total_bytes is None and samples[3].temperature_c is None and samples[3].power_w is None


def test_this_machines_driver_text_is_printable_too(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    # A library's name string reaches the table as a target's does: written out, never sent to the terminal.
    from support.gpus import h100

    run = flockops("report", "--driver", "nvml", "--no-ollama", env=nvml_env([h100(name="H100\x1b]0;PWNED\x07")]))
    assert run.returncode == 0, run.stderr
    assert "\x1b" not in run.stdout and "\x07" not in run.stdout
    assert "H100\\x1b]0;PWNED\\x07" in run.stdout
