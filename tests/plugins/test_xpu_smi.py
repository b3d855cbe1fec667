"""The out-of-tree xpu-smi plugin (plugins/flockops-xpu-smi), installed the way pip would leave it:
its package plus a dist-info with the entry point, on the path of a real ``flockops`` run."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from support.paths import DATA, FAKES, PLUGINS

PLUGIN = PLUGINS / "flockops-xpu-smi"
CASE = DATA / "xpu-smi" / "cases" / "flex-docs"


def _project(path: Path) -> dict:  # type: ignore[type-arg]
    """name, version and entry points from a pyproject.toml (tomllib is 3.11+; we support 3.10)."""
    text = path.read_text()
    name = re.search(r'^name = "([^"]+)"', text, re.M)
    version = re.search(r'^version = "([^"]+)"', text, re.M)
    assert name and version
    groups: dict[str, dict[str, str]] = {}
    for group, body in re.findall(r"^\[project\.entry-points\.([\w.-]+)\]\n((?:[^\[].*\n?)*)", text, re.M):
        groups[group] = dict(re.findall(r'^([\w.-]+) = "([^"]+)"', body, re.M))
    return {"name": name.group(1), "version": version.group(1), "entry-points": groups}


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    """PYTHONPATH with the plugin installed from its pyproject (package + dist-info), and the fake xpu-smi."""
    project = _project(PLUGIN / "pyproject.toml")
    site = tmp_path / "site"
    shutil.copytree(PLUGIN / "flockops_xpu_smi", site / "flockops_xpu_smi")
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    groups = project["entry-points"]
    (info / "entry_points.txt").write_text(
        "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) for group, eps in groups.items()))
    bin_dir = tmp_path / "bin-fakes"
    bin_dir.mkdir()
    (bin_dir / "xpu-smi").symlink_to(FAKES / "xpu-smi")
    return {"PYTHONPATH": str(site), "PATH": f"{bin_dir}:/usr/bin:/bin", "FAKE_XPU_SMI_CASE": str(CASE)}


def test_plugin_is_listed(plugin_env: dict[str, str], flockops) -> None:  # type: ignore[no-untyped-def]
    plugins = flockops("plugins", "-o", "json", env=plugin_env).json()
    assert {"name": "xpu-smi", "version": "0.1.0", "hooks": ["register_drivers"], "builtin": False,
            "error": None} in plugins
    drivers = flockops("drivers", "-o", "json", env=plugin_env).json()
    assert {"name": "xpu-smi", "vendor": "intel", "priority": 20, "available": True, "reason": None} in drivers


def test_fake_xpu_smi_gives_the_documented_values(plugin_env: dict[str, str], flockops) -> None:  # type: ignore[no-untyped-def]
    run = flockops("report", "-o", "json", env=plugin_env)
    assert run.returncode == 0, run.stderr
    host = run.json()["hosts"][0]
    (gpu,) = host["gpus"]
    assert {k: gpu[k] for k in ("vendor", "index", "source", "name", "uuid", "pci_bus_id", "memory_total_bytes",
                                "memory_used_bytes", "memory_free_bytes", "utilization_pct",
                                "memory_utilization_pct", "temperature_c", "power_w", "lost")} == {
        "vendor": "intel", "index": 0, "source": "xpu-smi", "name": "Intel(R) Graphics [0x020a]",
        "uuid": "00000000-0000-0000-0000-020a00008086", "pci_bus_id": "0000:4d:00.0",
        "memory_total_bytes": 34359738368, "memory_used_bytes": 24 << 20,
        "memory_free_bytes": 34359738368 - (24 << 20), "utilization_pct": 0, "memory_utilization_pct": 0,
        "temperature_c": 41.0, "power_w": 15.0, "lost": False}


def test_unknown_device_is_a_lost_gpu_not_a_crash(tmp_path: Path, plugin_env: dict[str, str], flockops) -> None:  # type: ignore[no-untyped-def]
    case = tmp_path / "case"
    shutil.copytree(CASE, case)
    (case / "stats-0.json").unlink()
    host = flockops("report", "-o", "json", env={**plugin_env, "FAKE_XPU_SMI_CASE": str(case)}).json()["hosts"][0]
    (gpu,) = host["gpus"]
    assert gpu["lost"] is True and gpu["pci_bus_id"] == "0000:4d:00.0"


def test_memory_used_unit_heuristic() -> None:
    import sys

    sys.path.insert(0, str(PLUGIN))
    try:
        from flockops_xpu_smi import _memory_used
    finally:
        sys.path.remove(str(PLUGIN))
    assert _memory_used(229.1875) == int(229.1875 * (1 << 20))  # MiB (xpumanager 1.2+)
    assert _memory_used(8501719040) == 8501719040  # bytes (1.0/1.1)
    assert _memory_used(None) is None
