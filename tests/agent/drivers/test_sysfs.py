"""The sysfs drivers against every recorded tree, through the real CLI.

Each case under tests/data/sysfs is a recorded sysfs tree (provenance in SOURCES.md there)
with the parse we expect beside it, worked out by hand from the files.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import pytest
from support.paths import DATA

from flockops.agent.driver import Context
from flockops.agent.drivers.sysfs import AmdgpuSysfsDriver, IntelSysfsDriver
from flockops.errors import DriverUnavailable

CASES = DATA / "sysfs"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASE_NAMES)
def test_recorded_tree(case: str, flockops) -> None:  # type: ignore[no-untyped-def]
    expected = json.loads((CASES / case / "expected.json").read_text())
    run = flockops("report", "-o", "json", env={"FLOCKOPS_SYSFS_ROOT": str(CASES / case)})
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    host = run.json()["hosts"][0]
    driver = f"sysfs-{expected[0]['vendor']}"
    attempt = next(d for d in host["drivers"] if d["name"] == driver)
    assert attempt["outcome"] == "used", attempt
    assert len(host["gpus"]) == len(expected)
    for got, want in zip(host["gpus"], expected, strict=True):
        assert {key: got[key] for key in want} == want


def test_all_fifteen_recorded_trees_are_tested() -> None:
    assert len(CASE_NAMES) == 15


def test_memory_reasons_are_said(flockops) -> None:  # type: ignore[no-untyped-def]
    def gpu(case: str) -> dict:  # type: ignore[type-arg]
        run = flockops("report", "-o", "json", "--driver", "sysfs-amd", "--driver", "sysfs-intel",
                       env={"FLOCKOPS_SYSFS_ROOT": str(CASES / case)})
        gpus: list[dict] = run.json()["hosts"][0]["gpus"]  # type: ignore[type-arg]
        return gpus[0]

    igpu = gpu("intel-tigerlake")
    assert igpu["memory_shared"] is True and igpu["memory_total_bytes"] is None
    assert "integrated" in igpu["field_errors"]["memory_total_bytes"]
    arc = gpu("intel-a380-i915")
    assert arc["memory_shared"] is False
    assert "i915" in arc["field_errors"]["memory_total_bytes"]
    assert "power_w" in arc["field_errors"]
    rdna3 = gpu("amd-rx7900xtx")
    assert "mem_info_vram_total" in rdna3["field_errors"]["memory_total_bytes"]


def _tree(root: Path, card: str, device: dict[str, str], hwmon: dict[str, str] | None = None) -> None:
    base = root / "class" / "drm" / card / "device"
    base.mkdir(parents=True)
    for name, text in device.items():
        (base / name).parent.mkdir(parents=True, exist_ok=True)
        (base / name).write_text(text)
    if hwmon is not None:
        (base / "hwmon" / "hwmon3").mkdir(parents=True)
        for name, text in hwmon.items():
            (base / "hwmon" / "hwmon3" / name).write_text(text)


def _uevent(driver: str, pci_id: str, slot: str, pci_class: str = "30000") -> str:
    return f"DRIVER={driver}\nPCI_CLASS={pci_class}\nPCI_ID={pci_id}\nPCI_SLOT_NAME={slot}\n"


def test_bmc_card_and_connectors_are_not_gpus(tmp_path: Path) -> None:
    # card0: the ASPEED BMC of a server (vendor 0x1a03), card1: an MI210.
    _tree(tmp_path, "card0", {"uevent": _uevent("ast", "1A03:2000", "0000:02:00.0")})
    _tree(tmp_path, "card1", {"uevent": _uevent("amdgpu", "1002:740F", "0000:83:00.0", "38000"),
                              "mem_info_vram_total": "68702699520\n", "mem_info_vram_used": "10518528\n"},
          {"temp2_input": "41000\n", "temp2_label": "junction\n", "temp3_input": "38000\n", "temp3_label": "mem\n",
           "power1_input": "42000000\n"})
    (tmp_path / "class" / "drm" / "card1-DP-1").mkdir()
    (tmp_path / "class" / "drm" / "renderD128").mkdir()
    ctx = Context(env={}, sysfs_root=str(tmp_path))
    (gpu,) = AmdgpuSysfsDriver().collect(ctx)
    assert gpu.pci_bus_id == "0000:83:00.0" and gpu.memory_total_bytes == 68702699520
    # No edge sensor (MI300A, and this MI210 recording): temperature_c is the junction, and says so.
    assert gpu.temperature_c == 41.0 and gpu.temperature_sensor == "junction"
    assert "junction" in gpu.field_errors["temperature_c"]
    assert gpu.power_w == 42.0
    with pytest.raises(DriverUnavailable, match="no intel GPU"):
        IntelSysfsDriver().collect(ctx)


def test_xe_discrete_vram_is_summed_over_tiles(tmp_path: Path) -> None:
    _tree(tmp_path, "card0", {"uevent": _uevent("xe", "8086:0BD5", "0000:3a:00.0"),
                              "tile0/physical_vram_size_bytes": "68719476736\n",
                              "tile1/memory/physical_vram_size_bytes": "0x1000000000\n"})
    (gpu,) = IntelSysfsDriver().collect(Context(env={}, sysfs_root=str(tmp_path)))
    assert gpu.memory_total_bytes == 68719476736 * 2
    assert gpu.memory_used_bytes is None and "usage" in gpu.field_errors["memory_used_bytes"]


def test_a_tile_whose_vram_cannot_be_read_makes_the_total_unknown(tmp_path: Path) -> None:
    """Two tiles, one without its size file: half the card must not pass for its total."""
    _tree(tmp_path, "card0", {"uevent": _uevent("xe", "8086:0BD5", "0000:3a:00.0"),
                              "tile0/physical_vram_size_bytes": "68719476736\n",
                              "tile1/gt0/name": "gt0\n"})
    (gpu,) = IntelSysfsDriver().collect(Context(env={}, sysfs_root=str(tmp_path)))
    assert gpu.memory_total_bytes is None
    assert gpu.field_errors["memory_total_bytes"] == "the VRAM size of 1 of its 2 tiles could not be read"


def test_garbage_and_implausible_values_become_none_with_a_reason(tmp_path: Path) -> None:
    _tree(tmp_path, "card0", {"uevent": _uevent("amdgpu", "1002:73BF", "0000:0c:00.0"),
                              "mem_info_vram_total": "lots\n", "mem_info_vram_used": "1\x00\x00"},
          {"temp1_input": "50000\n", "temp1_crit": "2147483647\n"})
    (gpu,) = AmdgpuSysfsDriver().collect(Context(env={}, sysfs_root=str(tmp_path)))
    assert gpu.memory_total_bytes is None and "lots" in gpu.field_errors["memory_total_bytes"]
    assert gpu.memory_used_bytes == 1 and gpu.memory_free_bytes is None
    assert gpu.temperature_c == 50.0 and gpu.temperature_slowdown_c is None
    assert "implausible" in gpu.field_errors["temperatures.edge.critical_c"]


def test_no_sysfs_at_all_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DriverUnavailable, match="no DRM devices"):
        AmdgpuSysfsDriver().probe(Context(env={}, sysfs_root=str(tmp_path / "nothing")))


@pytest.mark.skipif(not os.path.isdir("/sys/class/drm"), reason="no /sys here")
def test_real_sysfs_never_raises_anything_but_unavailable() -> None:
    for driver in (AmdgpuSysfsDriver(), IntelSysfsDriver()):
        with contextlib.suppress(DriverUnavailable):
            driver.collect(Context(env={}))
