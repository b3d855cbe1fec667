"""The data model: what a driver measured, per GPU, per host, per fleet.

Frozen dataclasses, no I/O. Canonical units live in the field names (bytes, °C, W, %).
``None`` always means "the source could not tell"; it is never replaced by 0. Only the
renderer turns ``None`` into ``N/A`` or bytes into MiB/GiB.

Everything here is standard library only: the same module runs inside the remote probe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SCHEMA_VERSION = 1

# Clock event ("throttle") reason bits, as NVML defines them (nvml.h,
# nvmlClocksEventReason*). Decoded from the literal bits because the Python
# constant names changed across nvidia-ml-py releases (Throttle -> Event).
THROTTLE_REASON_BITS: tuple[tuple[int, str], ...] = (
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clock_setting"),
)


def decode_throttle_reasons(mask: int) -> tuple[str, ...]:
    """Names of the reasons whose bit is set in ``mask``, in bit order."""
    return tuple(name for bit, name in THROTTLE_REASON_BITS if mask & bit)


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """A process holding memory on a GPU."""

    pid: int
    name: str | None = None
    # None when the driver cannot attribute memory per process (Windows WDDM).
    memory_used_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class MigDevice:
    """A MIG instance listed under its parent GPU, with its own memory."""

    index: int
    name: str | None = None
    uuid: str | None = None
    memory_total_bytes: int | None = None
    memory_used_bytes: int | None = None
    memory_free_bytes: int | None = None
    # NVML does not report utilisation per MIG instance: unknown, not 0.
    utilization_pct: int | None = None


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One GPU as one driver saw it at one moment."""

    vendor: str
    index: int
    source: str
    name: str | None = None
    uuid: str | None = None
    pci_bus_id: str | None = None
    memory_total_bytes: int | None = None
    memory_reserved_bytes: int | None = None
    memory_used_bytes: int | None = None
    memory_free_bytes: int | None = None
    # True when "used" counts the driver's reserved memory too (NVML v1 API on
    # old drivers), so it reads higher than nvidia-smi's.
    memory_used_includes_reserved: bool = False
    utilization_pct: int | None = None
    memory_utilization_pct: int | None = None
    temperature_c: float | None = None
    temperature_slowdown_c: float | None = None
    temperature_shutdown_c: float | None = None
    temperature_max_operating_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    fan_pct: int | None = None
    # None: the driver could not tell; () : it could, and nothing is active.
    throttle_reasons: tuple[str, ...] | None = None
    lost: bool = False
    lost_reason: str | None = None
    processes: tuple[GpuProcess, ...] | None = None
    mig_enabled: bool | None = None
    mig_devices: tuple[MigDevice, ...] = ()
    driver_version: str | None = None
    cuda_driver_version: str | None = None
    # Fields this source could not read, with why ("power_w": "not supported").
    field_errors: Mapping[str, str] = field(default_factory=dict)

    @property
    def memory_used_pct(self) -> float | None:
        if self.memory_used_bytes is None or not self.memory_total_bytes:
            return None
        return 100.0 * self.memory_used_bytes / self.memory_total_bytes


@dataclass(frozen=True, slots=True)
class DriverAttempt:
    """What happened when the core tried one driver on one host."""

    name: str
    vendor: str
    outcome: str  # used | unavailable | failed | skipped
    reason: str | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class HostError:
    """Something that failed on a host, said in words a person can act on."""

    kind: str  # driver, gpu_lost, unreachable, timeout, auth_failed, host_key, probe_failed, internal, ...
    source: str
    message: str


# Error kinds that mean the host gave us nothing at all.
FAILED_KINDS = frozenset({"timeout", "auth_failed", "host_key", "probe_failed", "internal"})
UNREACHABLE_KINDS = frozenset({"unreachable"})


@dataclass(frozen=True, slots=True)
class HostReport:
    """Everything gathered from one host."""

    host: str
    gpus: tuple[GpuSample, ...] = ()
    drivers: tuple[DriverAttempt, ...] = ()
    errors: tuple[HostError, ...] = ()
    address: str | None = None
    collected_at: float | None = None

    @property
    def status(self) -> str:
        """Derived, never stored: ok, partial, failed or unreachable."""
        kinds = {e.kind for e in self.errors}
        if kinds & UNREACHABLE_KINDS and not self.gpus:
            return "unreachable"
        if kinds & FAILED_KINDS and not self.gpus:
            return "failed"
        if self.errors:
            return "partial"
        return "ok"

    @property
    def vendors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.vendor for g in self.gpus))


@dataclass(frozen=True, slots=True)
class FleetReport:
    """Reports from every host asked, in inventory order."""

    hosts: tuple[HostReport, ...]
    generated_at: str


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def gpu_to_dict(gpu: GpuSample) -> dict[str, Any]:
    out: dict[str, Any] = _plain(gpu)
    out["field_errors"] = dict(gpu.field_errors)
    return out


def host_to_dict(host: HostReport) -> dict[str, Any]:
    return {
        "host": host.host,
        "address": host.address,
        "status": host.status,
        "errors": [_plain(e) for e in host.errors],
        "drivers": [_plain(d) for d in host.drivers],
        "gpus": [gpu_to_dict(g) for g in host.gpus],
    }


def fleet_to_dict(fleet: FleetReport) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": fleet.generated_at,
        "hosts": [host_to_dict(h) for h in fleet.hosts],
    }


def _build(cls: Any, data: Mapping[str, Any], nested: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            continue  # newer producer, older reader: ignore what we do not know
        if key in nested and value is not None:
            value = tuple(_build(nested[key], v, {}) for v in value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def gpu_from_dict(data: Mapping[str, Any]) -> GpuSample:
    gpu: GpuSample = _build(GpuSample, data, {"processes": GpuProcess, "mig_devices": MigDevice})
    return gpu


def host_from_dict(data: Mapping[str, Any]) -> HostReport:
    """Rebuild a host report from its JSON form (the remote probe's answer)."""
    return HostReport(
        host=str(data["host"]),
        address=data.get("address"),
        gpus=tuple(gpu_from_dict(g) for g in data.get("gpus", ())),
        drivers=tuple(_build(DriverAttempt, d, {}) for d in data.get("drivers", ())),
        errors=tuple(_build(HostError, e, {}) for e in data.get("errors", ())),
    )


def merge_errors(*groups: Iterable[HostError]) -> tuple[HostError, ...]:
    return tuple(e for group in groups for e in group)
