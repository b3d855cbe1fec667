"""Numbers as people read them: N/A for unknown, MiB/GiB, percentages, degrees, ages and durations."""

from __future__ import annotations

from collections.abc import Iterable

from flockops.agent.model import GpuSample

NA = "N/A"

MIB = 1024 * 1024

GIB = 1024 * MIB


def mib(value: int | None) -> str:
    """Bytes as "81,559 MiB (79.6 GiB)"."""
    if value is None:
        return NA
    return f"{value // MIB:,} MiB ({value / GIB:.1f} GiB)"


def gib(value: int | float | None) -> str:
    return NA if value is None else f"{value / GIB:.1f} GiB"


def pct(value: float | None, digits: int = 0) -> str:
    return NA if value is None else f"{value:.{digits}f}%"


def deg(value: float | None) -> str:
    return NA if value is None else f"{value:g} °C"


def temperature(gpu: GpuSample) -> str:
    """Current temperature against the card's own slowdown point: "62 °C / 87 °C"."""
    if gpu.temperature_slowdown_c is None:
        return deg(gpu.temperature_c)
    return f"{deg(gpu.temperature_c)} / {deg(gpu.temperature_slowdown_c)}"


def power(gpu: GpuSample) -> str:
    if gpu.power_w is None:
        return NA
    if gpu.power_limit_w is None:
        return f"{gpu.power_w:.0f} W"
    return f"{gpu.power_w:.0f} / {gpu.power_limit_w:.0f} W"


def throttle(gpu: GpuSample) -> str:
    if gpu.throttle_reasons is None:
        return NA
    return ", ".join(gpu.throttle_reasons) or "none"


# The compact forms, for a table that must fit a narrow terminal (nvitop's and gpustat's style).

def short_gib(value: int | float | None) -> str:
    """Bytes as "79.6G"."""
    return NA if value is None else f"{value / GIB:.1f}G"


def short_temperature(gpu: GpuSample) -> str:
    """ "62/87°C", "62°C", N/A."""
    if gpu.temperature_c is None:
        return NA
    if gpu.temperature_slowdown_c is None:
        return f"{gpu.temperature_c:g}°C"
    return f"{gpu.temperature_c:g}/{gpu.temperature_slowdown_c:g}°C"


def short_power(gpu: GpuSample) -> str:
    if gpu.power_w is None:
        return NA
    if gpu.power_limit_w is None:
        return f"{gpu.power_w:.0f}W"
    return f"{gpu.power_w:.0f}/{gpu.power_limit_w:.0f}W"


# nvidia-smi -q's own words for the reasons, shortened as nvitop and gpustat do: thermal ones loud.
_SHORT_THROTTLE = {"gpu_idle": "idle", "applications_clocks_setting": "app-clk", "sw_power_cap": "pwr-cap",
                   "hw_slowdown": "HW-SLOW", "sync_boost": "sync", "sw_thermal_slowdown": "SW-THERM",
                   "hw_thermal_slowdown": "HW-THERM", "hw_power_brake_slowdown": "PWR-BRAKE",
                   "display_clock_setting": "disp-clk"}


def short_throttle(gpu: GpuSample) -> str:
    if gpu.throttle_reasons is None:
        return NA
    return ",".join(_SHORT_THROTTLE.get(r, r) for r in gpu.throttle_reasons) or "none"


def shared_share(gpu: GpuSample) -> float | None:
    """An integrated GPU's use of all the memory it may use, its carve-out and the system memory it
    maps (GTT) together, in percent: 95.8 % of a 512 MiB carve-out can be 26 % of what it may use."""
    parts = (gpu.memory_used_bytes, gpu.memory_total_bytes, gpu.memory_shared_used_bytes,
             gpu.memory_shared_total_bytes)
    if any(p is None for p in parts):
        return None
    used, total, shared_used, shared_total = (int(p or 0) for p in parts)
    return 100.0 * (used + shared_used) / (total + shared_total) if total + shared_total else None


def sum_or_none(values: Iterable[int | None]) -> int | None:
    """A total is only a measurement when every part of it is known."""
    items = list(values)
    if not items or any(v is None for v in items):
        return None
    return sum(v for v in items if v is not None)


def age(seconds: float | None) -> str:
    """"0.4 s", "12 s", "3 min 05 s", "2 h 03 min"."""
    if seconds is None:
        return NA
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def duration(seconds: float | None) -> str:
    """A length of time: "0 s", "45 s", "3 min 05 s", "2 h 03 min"."""
    if seconds is None:
        return NA
    return "0 s" if seconds < 0.5 else age(seconds) if seconds >= 10 else f"{seconds:.0f} s"
