"""AMD and Intel GPUs straight from the kernel's sysfs: no vendor library, no tool.

The last resort of the AMD chain (amdsmi, amd-smi and rocm-smi come first) and the only
built-in source for Intel. Every file is read through the Context, under its
``sysfs_root`` (``/sys``, or ``FLOCKOPS_SYSFS_ROOT``): ``class/drm/card*/device`` is the
GPU's PCI device directory. Values are plain decimal text; a trailing newline (and the
NUL padding some recorded trees carry) is stripped by ``Context.read_text``.

amdgpu (kernel-doc in ``drivers/gpu/drm/amd/amdgpu/amdgpu_vram_mgr.c`` and
``amdgpu_gtt_mgr.c``; ``drivers/gpu/drm/amd/pm/amdgpu_pm.c``; hwmon in
``Documentation/gpu/amdgpu/thermal.rst``):

- ``mem_info_vram_total`` / ``mem_info_vram_used``: VRAM in bytes. Absent on kernels
  before 5.4.87/5.10.5; a missing file is None, never 0.
- ``gpu_busy_percent``, ``mem_busy_percent``: %.
- ``hwmon/hwmon*/temp{1,2,3}_{input,label,crit,emergency}``: edge, junction, mem, in
  millidegrees Celsius; ``power1_average`` (or ``power1_input`` where only that exists)
  and ``power1_cap`` in microwatts.
- ``gpu_metrics`` (binary): only its header is read. ``format_revision`` 2 and 3 are the
  APU layouts (``gpu_metrics_v2_x``, ``gpu_metrics_v3_0`` in
  ``drivers/gpu/drm/amd/include/kgd_pp_interface.h``; dGPUs use ``v1_x``): an APU's
  "VRAM" is a BIOS carve-out of system memory, reported with ``memory_shared`` and the
  GTT (``mem_info_gtt_*``) beside it.

Intel i915 and xe:

- VRAM size: xe publishes ``device/tile<N>/physical_vram_size_bytes`` per tile
  (``drivers/gpu/drm/xe/xe_tile_sysfs.c``; some kernels put it under ``tile<N>/memory/``);
  i915 publishes none in mainline (``lmem_total_bytes`` exists only in Intel's out-of-tree
  backports, also read). Neither publishes *used* VRAM device-wide (per-client usage is in
  DRM fdinfo only), so ``memory_used_bytes`` is None with the reason in ``field_errors``.
- hwmon (``Documentation/ABI/testing/sysfs-driver-intel-i915-hwmon`` and
  ``sysfs-driver-intel-xe-hwmon``): i915 ``temp1_input`` is the package temperature
  (unlabelled); xe labels ``pkg``, ``vram``, ``mctrl``, ``pcie``, ``vram_ch_N``. Power
  limits: ``power1_max`` (card PL1), ``power2_max`` (package PL1), microwatts. Both
  drivers report energy (``energy*_input``, µJ), not power, so ``power_w`` is None.
- An integrated GPU is the function at ``0000:00:02.0`` (where Intel places it; igt's
  ``intel_get_pci_device()`` looks there first): it has no VRAM, it uses system memory,
  and is reported with ``memory_shared`` and no memory size.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from flockops.errors import DriverUnavailable

from ..driver import Context, Driver
from ..model import GpuSample, TemperatureReading
from ..parse import pci_bus_key
from ..pci import PciDevice, drm_cards

# typing is slow to import and the probe never needs it: annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SOURCE = "sysfs"
# Pattern strings, compiled on first use (re caches them): every probe imports this module.
_TEMP_INPUT = r"^temp(\d+)_input$"
# Temperatures outside this range are a sensor's "no value" (amdgpu has reported a crit of
# 0x7fffffff millidegrees; crit_hyst reads -273150), never a reading.
PLAUSIBLE_C = (-40.0, 200.0)
INTEL_IGPU_SLOT = "0000:00:02.0"


class _Files:
    """Reads numbers from one directory; an unreadable or malformed value is None plus a note."""

    def __init__(self, ctx: Context, errors: dict[str, str]) -> None:
        self.ctx = ctx
        self.errors = errors

    def text(self, directory: str, name: str) -> str | None:
        text = self.ctx.read_text(os.path.join(directory, name))
        return text if text else None

    def integer(self, directory: str, name: str, field: str | None = None) -> int | None:
        text = self.text(directory, name)
        if text is None:
            return None
        try:
            return int(text, 0) if text.lower().startswith("0x") else int(text)
        except ValueError:
            self.errors[field or name] = f"unreadable value {text[:40]!r} in {name}"
            return None

    def celsius(self, directory: str, name: str, field: str) -> float | None:
        milli = self.integer(directory, name, field)
        if milli is None:
            return None
        value = milli / 1000.0
        if not PLAUSIBLE_C[0] <= value <= PLAUSIBLE_C[1]:
            self.errors[field] = f"implausible {name} {milli} (millidegrees): ignored"
            return None
        return value

    def watts(self, directory: str, name: str, field: str) -> float | None:
        micro = self.integer(directory, name, field)
        return None if micro is None else micro / 1_000_000.0


def _hwmon(ctx: Context, device: str) -> str | None:
    """The device's hwmon directory (``device/hwmon/hwmonN``; N is any number, 8 on some hosts)."""
    base = os.path.join(device, "hwmon")
    names = [n for n in ctx.list_dir(base) if n.startswith("hwmon")]
    return os.path.join(base, names[0]) if names else None


def _temperatures(files: _Files, hwmon: str, unlabelled: str) -> tuple[TemperatureReading, ...]:
    """Every ``temp<N>_input`` with its label and limits, in sensor order."""
    numbers = sorted(int(m.group(1)) for name in files.ctx.list_dir(hwmon) if (m := re.match(_TEMP_INPUT, name)))
    readings = []
    for n in numbers:
        label = files.text(hwmon, f"temp{n}_label") or (unlabelled if n == 1 else f"temp{n}")
        prefix = f"temperatures.{label}"
        readings.append(TemperatureReading(
            sensor=label,
            temperature_c=files.celsius(hwmon, f"temp{n}_input", prefix),
            critical_c=files.celsius(hwmon, f"temp{n}_crit", f"{prefix}.critical_c"),
            emergency_c=files.celsius(hwmon, f"temp{n}_emergency", f"{prefix}.emergency_c"),
        ))
    return tuple(readings)


def _primary(readings: Sequence[TemperatureReading], preferred: Sequence[str]) -> dict[str, Any]:
    """temperature_c and its limits from the first preferred sensor that has a reading."""
    known = [r for r in readings if r.temperature_c is not None]
    by_name = {r.sensor: r for r in known}
    chosen = next((by_name[name] for name in preferred if name in by_name), known[0] if known else None)
    if chosen is None:
        return {"temperatures": tuple(readings)}
    return {"temperature_c": chosen.temperature_c, "temperature_slowdown_c": chosen.critical_c,
            "temperature_shutdown_c": chosen.emergency_c, "temperature_sensor": chosen.sensor,
            "temperatures": tuple(readings)}


def _name(files: _Files, pci: PciDevice, vendor_label: str) -> str | None:
    # amdgpu's product_name comes from the board's FRU EEPROM; most consumer boards leave it
    # empty. Without pci.ids (a host file, not sysfs) the PCI id is the honest name.
    product = files.text(pci.path, "product_name")
    if product:
        return product
    return f"{vendor_label} GPU [{pci.pci_id}]" if pci.pci_id else None


def _is_apu(ctx: Context, device: str) -> bool:
    header = ctx.read_bytes(os.path.join(device, "gpu_metrics"), 4)
    # struct metrics_table_header { u16 structure_size; u8 format_revision; u8 content_revision; }
    return header is not None and len(header) >= 4 and header[2] in (2, 3)


def amd_sample(ctx: Context, pci: PciDevice, index: int) -> GpuSample:
    """One amdgpu GPU from its sysfs files."""
    errors: dict[str, str] = {}
    files = _Files(ctx, errors)
    device = pci.path
    values: dict[str, Any] = {"name": _name(files, pci, "AMD"), "pci_bus_id": pci.bus_id}
    total = files.integer(device, "mem_info_vram_total", "memory_total_bytes")
    used = files.integer(device, "mem_info_vram_used", "memory_used_bytes")
    if total is None and "memory_total_bytes" not in errors:
        errors["memory_total_bytes"] = "no mem_info_vram_total in sysfs (kernel before 5.4.87/5.10.5?)"
    if used is None and "memory_used_bytes" not in errors:
        errors["memory_used_bytes"] = "no mem_info_vram_used in sysfs"
    values.update(memory_total_bytes=total, memory_used_bytes=used,
                  memory_free_bytes=None if total is None or used is None else total - used)
    if _is_apu(ctx, device):
        values.update(memory_shared=True,
                      memory_shared_total_bytes=files.integer(device, "mem_info_gtt_total"),
                      memory_shared_used_bytes=files.integer(device, "mem_info_gtt_used"))
    values["utilization_pct"] = files.integer(device, "gpu_busy_percent", "utilization_pct")
    values["memory_utilization_pct"] = files.integer(device, "mem_busy_percent", "memory_utilization_pct")
    hwmon = _hwmon(ctx, device)
    if hwmon is None:
        errors["hwmon"] = "no hwmon directory: no temperature or power"
    else:
        # amdgpu temp1 is "edge" even on kernels that predate the labels.
        values.update(_primary(_temperatures(files, hwmon, "edge"), ("edge", "junction", "mem")))
        if values.get("temperature_sensor") not in (None, "edge"):
            errors["temperature_c"] = f"no edge sensor: temperature_c is {values['temperature_sensor']}"
        power = files.watts(hwmon, "power1_average", "power_w")
        if power is None:
            power = files.watts(hwmon, "power1_input", "power_w")
        values["power_w"] = power
        values["power_limit_w"] = files.watts(hwmon, "power1_cap", "power_limit_w")
        # No fan_pct: pwm1 is a duty cycle only while pwm1_enable is 1 or 2, and RDNA3+ drive
        # the fan through gpu_od/fan_ctrl instead; a wrong percentage is worse than none.
    return GpuSample(vendor="amd", index=index, source=SOURCE, field_errors=errors, **values)


def _intel_vram(files: _Files, pci: PciDevice) -> int | None:
    tiles = [n for n in files.ctx.list_dir(pci.path) if re.fullmatch(r"tile\d+", n)]
    sizes = []
    for tile in tiles:
        for relative in ("physical_vram_size_bytes", "memory/physical_vram_size_bytes"):
            size = files.integer(os.path.join(pci.path, tile), relative, "memory_total_bytes")
            if size is not None:
                sizes.append(size)
                break
    if sizes and len(sizes) < len(tiles):
        # The sum of the tiles that could be read would pass for the card's total: unknown instead.
        files.errors["memory_total_bytes"] = (f"the VRAM size of {len(tiles) - len(sizes)} of its {len(tiles)} "
                                              "tiles could not be read")
        return None
    if sizes:
        return sum(sizes)
    return files.integer(pci.path, "lmem_total_bytes", "memory_total_bytes")


def intel_sample(ctx: Context, pci: PciDevice, index: int) -> GpuSample:
    """One i915 or xe GPU from its sysfs files."""
    errors: dict[str, str] = {}
    files = _Files(ctx, errors)
    values: dict[str, Any] = {"name": _name(files, pci, "Intel"), "pci_bus_id": pci.bus_id}
    driver = pci.driver or "no driver"
    if pci_bus_key(pci.bus_id) == INTEL_IGPU_SLOT:
        values["memory_shared"] = True
        errors["memory_total_bytes"] = "integrated GPU: it uses system memory, of which sysfs gives no share"
    else:
        values["memory_total_bytes"] = total = _intel_vram(files, pci)
        if total is None and "memory_total_bytes" not in errors:
            errors["memory_total_bytes"] = (
                "xe publishes no physical_vram_size_bytes here" if driver == "xe"
                else f"{driver} publishes no VRAM size in sysfs")
        errors["memory_used_bytes"] = f"{driver} publishes no device-wide VRAM usage in sysfs"
    hwmon = _hwmon(ctx, pci.path)
    if hwmon is None:
        errors["hwmon"] = f"no hwmon directory ({driver}): no temperature or power"
    else:
        values.update(_primary(_temperatures(files, hwmon, "pkg"), ("pkg",)))
        errors["power_w"] = f"{driver} hwmon reports energy, not power"
        limit = files.watts(hwmon, "power1_max", "power_limit_w")
        if not limit:  # 0 means "PL1 disabled"; xe on a card without card-level PL1 has pkg only
            limit = files.watts(hwmon, "power2_max", "power_limit_w") or None
        values["power_limit_w"] = limit
    return GpuSample(vendor="intel", index=index, source=SOURCE, field_errors=errors, **values)


class _SysfsDriver(Driver):
    name = SOURCE
    priority = 40
    supplements = True  # files only: cheap enough to fill what amdsmi/amd-smi/rocm-smi lacked
    vendor_id: int  # the PCI vendor id this driver reads

    def _devices(self, ctx: Context) -> list[PciDevice]:
        cards = drm_cards(ctx)
        if not cards and not ctx.list_dir(os.path.join(ctx.sysfs_root, "class", "drm")):
            raise DriverUnavailable(f"no DRM devices under {ctx.sysfs_root}/class/drm")
        mine = [c for c in cards if c.vendor_id == self.vendor_id and (c.is_display or c.class_code is None)]
        if not mine:
            raise DriverUnavailable(f"no {self.vendor} GPU among the DRM cards in {ctx.sysfs_root}/class/drm")
        return mine

    def probe(self, ctx: Context) -> None:
        self._devices(ctx)

    def sample(self, ctx: Context, pci: PciDevice, index: int) -> GpuSample:
        raise NotImplementedError

    def collect(self, ctx: Context) -> Sequence[GpuSample]:
        gpus = []
        for index, pci in enumerate(self._devices(ctx)):
            try:
                gpus.append(self.sample(ctx, pci, index))
            except Exception as exc:  # one unreadable card must not hide the others
                gpus.append(GpuSample(vendor=self.vendor, index=index, source=SOURCE, pci_bus_id=pci.bus_id,
                                      lost=True, lost_reason=f"could not be read: {type(exc).__name__}: {exc}"))
        return gpus


class AmdgpuSysfsDriver(_SysfsDriver):
    """AMD GPUs through the amdgpu kernel driver's sysfs files."""

    name = "sysfs-amd"
    vendor = "amd"
    vendor_id = 0x1002

    def sample(self, ctx: Context, pci: PciDevice, index: int) -> GpuSample:
        return amd_sample(ctx, pci, index)


class IntelSysfsDriver(_SysfsDriver):
    """Intel GPUs through the i915 or xe kernel driver's sysfs files."""

    name = "sysfs-intel"
    vendor = "intel"
    vendor_id = 0x8086

    def sample(self, ctx: Context, pci: PciDevice, index: int) -> GpuSample:
        return intel_sample(ctx, pci, index)
