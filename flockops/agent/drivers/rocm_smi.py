"""AMD GPUs through ``rocm-smi --json``: the oldest ROCm tool, the last resort before sysfs.

One run: ``rocm-smi --showproductname --showmeminfo vram --showuse --showmemuse --showtemp
--showpower --showmaxpower --showbus --showdriverversion --json``. Every value is a string
(``"VRAM Total Memory (B)": "34342961152"``), keyed ``card0``, ``card1``... plus ``system``.

Keys changed across ROCm releases (captures from ROCm 4.3 to 6.1 in tests/data/rocm-smi):

- product name: ``Card series`` (<= 6.0; ROCm 4.3 prints the vendor id ``0x1002`` there),
  ``Card Series`` and ``Device Name`` (6.1+);
- memory-controller activity: ``GPU memory use (%)`` (<= 6.0, it was
  ``rsmi_dev_memory_busy_percent_get``) became ``GPU Memory Read/Write Activity (%)`` in
  6.1, beside a new ``GPU Memory Allocated (VRAM%)``, the share of VRAM in use, which
  flockops derives from the byte counts instead;
- power: ``Average Graphics Package Power (W)``, ``Current Socket Graphics Package Power
  (W)`` on MI300 (ROCm/rocm_smi_lib#149); the second die of an MI250X reads ``N/A
  (Secondary die)``: its power is counted on the first die (ROCm/rocm_smi_lib#160);
- power limit: ``Max Graphics Package Power (W)`` (the current cap).

JSON may follow a blank line (5.7, 6.1) or ``ERROR: ... RSMI_STATUS_NOT_SUPPORTED`` lines;
``WARNING: No JSON data to report`` is an outcome (nothing readable), not a crash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from flockops.errors import DriverUnavailable, ParseError

from ..driver import Context, ToolDriver
from ..model import GpuSample, TemperatureReading
from ..parse import Lenient, pci_bus_key
from . import rocm

# typing is slow to import and the probe never needs it: annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TOOL = "rocm-smi"
ARGS = ("--showproductname", "--showmeminfo", "vram", "--showuse", "--showmemuse", "--showtemp",
        "--showpower", "--showmaxpower", "--showbus", "--showdriverversion", "--json")

NAME_KEYS = ("Device Name", "Card Series", "Card series")
MEMORY_ACTIVITY_KEYS = ("GPU Memory Read/Write Activity (%)", "GPU memory use (%)")
POWER_KEYS = ("Average Graphics Package Power (W)", "Current Socket Graphics Package Power (W)")
POWER_LIMIT_KEYS = ("Max Graphics Package Power (W)",)
# Pattern strings, compiled on first use (re caches them): every probe imports this module.
_TEMPERATURE = r"^Temperature \(Sensor (?P<sensor>[^)]+)\) \(C\)$"
# rocm-smi says "memory"; amdgpu hwmon and amdsmi say "mem": one name in the report.
SENSOR_NAMES = {"memory": "mem", "hotspot": "junction"}
_CARD = r"^card(\d+)$"
_HEX_ONLY = r"^0x[0-9a-fA-F]+$"


def _first(card: Mapping[str, Any], keys: Sequence[str]) -> tuple[str | None, Any]:
    for key in keys:
        if key in card:
            return key, card[key]
    return None, None


def parse_card(card: Mapping[str, Any], index: int, driver_version: str | None) -> GpuSample:
    """One ``cardN`` object, e.g. ``{"PCI Bus": "0000:07:00.0", "GPU use (%)": "0", ...}``."""
    errors: dict[str, str] = {}
    read = Lenient(errors)
    name = None
    for key in NAME_KEYS:
        text = rocm.text_value(card.get(key))
        if text and not re.match(_HEX_ONLY, text):  # ROCm 4.3: "Card series": "0x1002"
            name = text
            break
    total = read("memory_total_bytes", rocm.byte_count, card.get("VRAM Total Memory (B)"), "VRAM Total Memory (B)", "b")
    used = read("memory_used_bytes", rocm.byte_count, card.get("VRAM Total Used Memory (B)"),
                "VRAM Total Used Memory (B)", "b")
    readings = []
    for key, raw in card.items():
        match = re.match(_TEMPERATURE, key)
        if match:
            sensor = match.group("sensor").strip()
            readings.append(TemperatureReading(sensor=SENSOR_NAMES.get(sensor, sensor),
                                               temperature_c=read("temperature_c", rocm.number, raw, key)))
    known = {r.sensor: r.temperature_c for r in readings if r.temperature_c is not None}
    sensor = next((s for s in ("edge", "junction") if s in known), None)
    if sensor == "junction":
        errors["temperature_c"] = "no edge temperature: temperature_c is junction"
    power_key, power_raw = _first(card, POWER_KEYS)
    power = read("power_w", rocm.number, power_raw, power_key or "power")
    reason = rocm.unavailable_reason(power_raw)
    if power is None and reason:
        errors["power_w"] = reason
    limit_key, limit_raw = _first(card, POWER_LIMIT_KEYS)
    _, activity_raw = _first(card, MEMORY_ACTIVITY_KEYS)
    return GpuSample(
        vendor="amd", index=index, source=TOOL, name=name,
        pci_bus_id=rocm.text_value(card.get("PCI Bus")),
        memory_total_bytes=total, memory_used_bytes=used,
        memory_free_bytes=None if total is None or used is None else total - used,
        utilization_pct=read("utilization_pct", rocm.integer, card.get("GPU use (%)"), "GPU use (%)"),
        memory_utilization_pct=read("memory_utilization_pct", rocm.integer, activity_raw, "memory activity"),
        temperature_c=known.get(sensor) if sensor else None, temperature_sensor=sensor,
        temperatures=tuple(readings),
        power_w=power, power_limit_w=read("power_limit_w", rocm.number, limit_raw, limit_key or "power limit"),
        driver_version=driver_version, field_errors=errors,
    )


def parse_output(document: Any) -> list[GpuSample]:
    if not isinstance(document, dict):
        raise ParseError("rocm-smi's JSON is not an object", str(document)[:200])
    system = document.get("system")
    driver_version = rocm.text_value(system.get("Driver version")) if isinstance(system, dict) else None
    cards = sorted((int(m.group(1)), key) for key in document if (m := re.match(_CARD, key)))
    gpus = []
    for position, (_, key) in enumerate(cards):
        card = document[key]
        if not isinstance(card, dict):
            raise ParseError(f"rocm-smi's {key} is not an object", str(card)[:200])
        gpus.append(parse_card(card, position, driver_version))
    return gpus


class RocmSmiDriver(ToolDriver):
    """AMD GPUs through the rocm-smi command (ROCm's older tool)."""

    name = TOOL
    tool = TOOL
    tool_home = "/opt/rocm/bin"
    vendor = "amd"
    priority = 30

    def planned_commands(self) -> list[list[str]]:
        return [[TOOL, *ARGS]]

    def collect(self, ctx: Context) -> Sequence[GpuSample]:
        result = ctx.run([self.tool_path(ctx), *ARGS])
        gpus = parse_output(rocm.json_document(TOOL, result))
        if not gpus:
            raise DriverUnavailable("rocm-smi listed no GPU")
        return partitions_own_share(gpus, ctx.sysfs_root)


# A partition's total over its KFD share by more than this is the whole card's (an MI300A, whose
# rocm-smi divides by the partitions itself, stays as it is).
_WHOLE_CARD_RATIO = 1.5


def partitions_own_share(gpus: list[GpuSample], sysfs_root: str) -> list[GpuSample]:
    """Each partition of a partitioned card with KFD's share of the VRAM as its total, instead of the
    whole card's; its used VRAM, also the whole card's, unknown (ROCm/ROCm#4750)."""
    import dataclasses

    from ..kfd import partition_shares, read_nodes

    if not any(g.memory_total_bytes for g in gpus):
        return gpus
    shares = partition_shares(read_nodes(sysfs_root))
    fixed = []
    for gpu in gpus:
        share = shares.get(pci_bus_key(gpu.pci_bus_id) or "")
        if share is None or not gpu.memory_total_bytes or gpu.memory_total_bytes < share * _WHOLE_CARD_RATIO:
            fixed.append(gpu)
            continue
        card = gpu.memory_total_bytes
        said = f"rocm-smi gives each partition the whole card's VRAM ({card:,} bytes)"
        fixed.append(dataclasses.replace(
            gpu, memory_total_bytes=share, memory_used_bytes=None, memory_free_bytes=None,
            field_errors={**gpu.field_errors,
                          "memory_total_bytes": f"{said}: this partition's share is KFD's ({share:,} bytes)",
                          "memory_used_bytes": f"{said}, and the whole card's used: not this partition's",
                          "memory_free_bytes": "its used VRAM is unknown"}))
    return fixed
