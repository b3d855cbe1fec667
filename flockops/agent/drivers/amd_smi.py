"""AMD GPUs through the ``amd-smi`` command: the fallback when the amdsmi package is missing.

Two runs, ``amd-smi static --json`` (name, bus id, VRAM size, power and temperature
limits, driver) and ``amd-smi metric --json`` (use, power, temperatures, memory use),
joined on their ``gpu`` index. The layout moved between releases (from the amdsmi CLI's
own source, ``amdsmi_cli/amdsmi_commands.py``):

- the document is a list of GPU objects (ROCm 6.0-6.3) or ``{"gpu_data": [...]}`` (6.4+);
- a value is a plain number (6.0-6.1), a ``{"value": 40, "unit": "C"}`` object (later), or
  ``"N/A"``; memory is in "MB", which amd-smi computes as bytes // (1024 * 1024): MiB;
- temperature keys ``edge``, ``hotspot`` (= junction), ``mem``; limits in ``static``'s
  ``limit``: ``slowdown_<sensor>_temperature`` (critical) and ``shutdown_<sensor>_temperature``
  (emergency), ``socket_power`` (the current cap).

A permission banner may come before the JSON (ROCm/amdsmi#114), whose values are then "N/A"
or an ``AMDSMI_STATUS_*`` text: those fields are unknown, with the banner's reason.
``Driver not initialized`` and ``Can not find a device`` are outcomes, not crashes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flockops.errors import DriverFailed, DriverUnavailable, ParseError

from ..driver import Context, ToolDriver
from ..model import GpuSample, TemperatureReading
from ..parse import Lenient
from . import rocm

# typing is slow to import and the probe never needs it: annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TOOL = "amd-smi"
STATIC_ARGS = ("static", "--json")
METRIC_ARGS = ("metric", "--json")
# (metric temperature key, static limit key, the report's sensor name as amdgpu hwmon labels it)
SENSORS = (("edge", "edge", "edge"), ("hotspot", "hotspot", "junction"), ("mem", "vram", "mem"))


def gpu_list(document: Any, what: str) -> list[Mapping[str, Any]]:
    """The per-GPU objects of a static/metric document, in either layout."""
    if isinstance(document, dict) and "gpu_data" in document:
        document = document["gpu_data"]
    if isinstance(document, dict) and "gpu" in document:
        document = [document]  # one GPU, printed bare by some releases
    if not isinstance(document, list) or not all(isinstance(g, dict) for g in document):
        raise ParseError(f"amd-smi {what}: not a list of GPUs", str(document)[:200])
    return document


def _section(gpu: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = gpu.get(key)
    return value if isinstance(value, dict) else {}


def _celsius(raw: Any, what: str) -> float | None:
    value = rocm.number(raw, what)
    # The amdsmi library answers in millidegrees on some releases; amd-smi prints what it gets.
    if value is not None and value > 1000:
        value /= 1000.0
    return value


def merge_gpu(static: Mapping[str, Any], metric: Mapping[str, Any], position: int) -> GpuSample:
    errors: dict[str, str] = {}
    read = Lenient(errors)
    asic, bus, limit = _section(static, "asic"), _section(static, "bus"), _section(static, "limit")
    usage, power = _section(metric, "usage"), _section(metric, "power")
    memory, temps = _section(metric, "mem_usage"), _section(metric, "temperature")
    readings = []
    for key, limit_key, sensor in SENSORS:
        critical = read("temperature_slowdown_c", _celsius, limit.get(f"slowdown_{limit_key}_temperature"),
                        f"slowdown_{limit_key}_temperature")
        emergency = read("temperature_shutdown_c", _celsius, limit.get(f"shutdown_{limit_key}_temperature"),
                         f"shutdown_{limit_key}_temperature")
        if key in temps or critical is not None or emergency is not None:
            readings.append(TemperatureReading(sensor=sensor, critical_c=critical, emergency_c=emergency,
                                               temperature_c=read("temperature_c", _celsius, temps.get(key),
                                                                  f"temperature.{key}")))
    known = {r.sensor: r for r in readings if r.temperature_c is not None}
    chosen = known.get("edge") or known.get("junction")
    if chosen is not None and chosen.sensor != "edge":
        # MI300A has no edge sensor: its hottest-spot reading stands in, and says so.
        errors["temperature_c"] = "no edge temperature: temperature_c is junction (hotspot)"
    total = read("memory_total_bytes", rocm.byte_count, memory.get("total_vram"), "total_vram", "mb")
    if total is None:
        total = read("memory_total_bytes", rocm.byte_count, _section(static, "vram").get("size"), "vram.size", "mb")
    used = read("memory_used_bytes", rocm.byte_count, memory.get("used_vram"), "used_vram", "mb")
    free = read("memory_free_bytes", rocm.byte_count, memory.get("free_vram"), "free_vram", "mb")
    if free is None and total is not None and used is not None:
        free = total - used
    power_raw = power.get("socket_power", power.get("average_socket_power"))
    power_w = read("power_w", rocm.number, power_raw, "socket_power")
    if power_w is None and rocm.unavailable_reason(power_raw):
        errors["power_w"] = str(rocm.unavailable_reason(power_raw))
    index = metric.get("gpu", static.get("gpu", position))
    return GpuSample(
        vendor="amd", index=index if isinstance(index, int) else position, source=TOOL,
        name=rocm.text_value(asic.get("market_name")),
        pci_bus_id=rocm.text_value(bus.get("bdf")) or rocm.text_value(static.get("bdf")),
        memory_total_bytes=total, memory_used_bytes=used, memory_free_bytes=free,
        utilization_pct=read("utilization_pct", rocm.integer, usage.get("gfx_activity"), "gfx_activity"),
        memory_utilization_pct=read("memory_utilization_pct", rocm.integer, usage.get("umc_activity"), "umc_activity"),
        temperature_c=None if chosen is None else chosen.temperature_c,
        temperature_slowdown_c=None if chosen is None else chosen.critical_c,
        temperature_shutdown_c=None if chosen is None else chosen.emergency_c,
        temperature_sensor=None if chosen is None else chosen.sensor,
        temperatures=tuple(readings),
        power_w=power_w,
        power_limit_w=read("power_limit_w", rocm.number, _power_limit(limit), "limit.socket_power"),
        driver_version=rocm.text_value(_section(static, "driver").get("version")),
        field_errors=errors,
    )


def _power_limit(limit: Mapping[str, Any]) -> Any:
    # ROCm 7.2 (amd-smi 26.2) moved the cap under the power-tracking limit: limit.ppt0.socket_power_limit.
    for raw in (limit.get("socket_power"), limit.get("power_cap"), _section(limit, "ppt0").get("socket_power_limit")):
        if raw is not None:
            return raw
    return None


def parse_outputs(static_doc: Any, metric_doc: Any) -> list[GpuSample]:
    """One sample per GPU either document lists, joined on ``gpu``; a GPU in one only keeps what it says."""
    statics = gpu_list(static_doc, "static")
    metrics = gpu_list(metric_doc, "metric")
    keys: list[Any] = []
    static_of: dict[Any, Mapping[str, Any]] = {}
    metric_of: dict[Any, Mapping[str, Any]] = {}
    for documents, into in ((statics, static_of), (metrics, metric_of)):
        for position, gpu in enumerate(documents):
            key = gpu.get("gpu", position)
            into.setdefault(key, gpu)
            if key not in keys:
                keys.append(key)
    return [merge_gpu(static_of.get(key, {}), metric_of.get(key, {}), position) for position, key in enumerate(keys)]


# What a permission banner leaves "N/A" that root would read: each gets the banner's reason.
_PERMISSION_FIELDS = ("name", "memory_total_bytes", "memory_used_bytes", "utilization_pct", "temperature_c",
                      "power_w")


def with_permission_note(gpu: GpuSample, notice: str) -> GpuSample:
    import dataclasses

    reason = f"amd-smi could not read it ({notice}): add the user to the render and video groups"
    errors = {f: reason for f in _PERMISSION_FIELDS if getattr(gpu, f) is None and f not in gpu.field_errors}
    return dataclasses.replace(gpu, field_errors={**gpu.field_errors, **errors}) if errors else gpu


class AmdSmiDriver(ToolDriver):
    """AMD GPUs through the amd-smi command (ROCm 6+)."""

    name = TOOL
    tool = TOOL
    tool_home = "/opt/rocm/bin"
    vendor = "amd"
    priority = 20

    def planned_commands(self) -> list[list[str]]:
        return [[TOOL, *STATIC_ARGS], [TOOL, *METRIC_ARGS]]

    def collect(self, ctx: Context) -> Sequence[GpuSample]:
        tool = self.tool_path(ctx)
        static_result = ctx.run([tool, *STATIC_ARGS])
        static = rocm.json_document(TOOL, static_result)
        metric = rocm.json_document(TOOL, ctx.run([tool, *METRIC_ARGS]))
        try:
            gpus = parse_outputs(static, metric)
        except (KeyError, TypeError, AttributeError) as exc:
            raise DriverFailed(f"amd-smi printed JSON of an unexpected shape: {type(exc).__name__}: {exc}") from None
        if not gpus:
            raise DriverUnavailable("amd-smi listed no GPU")
        notice = rocm.permission_notice(static_result.stdout)
        return [with_permission_note(g, notice) for g in gpus] if notice else gpus
