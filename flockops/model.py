"""The data model: what a driver measured, per GPU, per host, per fleet.

Frozen dataclasses, no I/O. Canonical units live in the field names (bytes, °C, W, %).
``None`` always means "the source could not tell"; it is never replaced by 0. Only the
renderer turns ``None`` into ``N/A`` or bytes into MiB/GiB.

Everything here is standard library only: the same module runs inside the remote probe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

# typing costs the remote probe about 10 ms to import; annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .ollama_report import OllamaReport

SCHEMA_VERSION = 1

# Error kinds derived from a host's Ollama part (flockops.ollama_report), never stored in HostReport.errors.
OLLAMA_ERROR_KINDS = frozenset({"ollama_unreachable", "ollama_error"})

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
class TemperatureReading:
    """One temperature sensor of a GPU, with the limits the card itself declares.

    ``sensor`` is the sensor's own label: amdgpu hwmon/amdsmi ``edge``, ``junction``
    (also called hotspot), ``mem``; Intel xe ``pkg``, ``vram``, ``mctrl``, ``pcie``.
    ``critical_c``: where the card starts to throttle (hwmon ``temp*_crit``);
    ``emergency_c``: where it shuts down (hwmon ``temp*_emergency``).
    """

    sensor: str
    temperature_c: float | None = None
    critical_c: float | None = None
    emergency_c: float | None = None


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
    # --- AMD/Intel (issue 4): new fields go at the end, with defaults. ---
    # True when the GPU has no VRAM of its own (an integrated GPU or APU): its memory is
    # system memory. memory_total_bytes is then None (Intel iGPU: the kernel does not say)
    # or the BIOS carve-out the driver calls "VRAM" (AMD APU), never a made-up 0.
    memory_shared: bool = False
    # System memory the GPU may map and has mapped (amdgpu GTT), reported for shared-memory
    # GPUs, where it is where the real allocations live.
    memory_shared_total_bytes: int | None = None
    memory_shared_used_bytes: int | None = None
    # Which sensor temperature_c (and its slowdown/shutdown limits) came from: "edge",
    # "junction" (when a part has no edge sensor, e.g. MI300A), "pkg" (Intel)... None: the
    # driver's only GPU temperature (NVIDIA).
    temperature_sensor: str | None = None
    # Every temperature sensor the source reported, with its limits.
    temperatures: tuple[TemperatureReading, ...] = ()
    # Fields filled in from another source describing the same GPU (matched by PCI bus
    # id): field name -> that source ("memory_total_bytes": "sysfs").
    merged_from: Mapping[str, str] = field(default_factory=dict)

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
    # --- Ollama (issue 5): what the host's Ollama answered; None when no endpoint was asked. ---
    ollama: OllamaReport | None = None

    @property
    def status(self) -> str:
        """Derived, never stored: ok, partial, failed or unreachable."""
        kinds = {e.kind for e in self.errors}
        if self.ollama is not None and not (self.gpus or self.drivers or self.errors):
            # Known only by its Ollama URL (issue 5): that endpoint is all there is to this host.
            return {"ok": "ok", "error": "failed"}.get(self.ollama.status, "unreachable")
        # An Ollama that answered is data too: SSH failing beside it leaves the host partial.
        has_data = bool(self.gpus) or (self.ollama is not None and self.ollama.status == "ok")
        if kinds & UNREACHABLE_KINDS and not has_data:
            return "unreachable"
        if kinds & FAILED_KINDS and not has_data:
            return "failed"
        if self.all_errors:
            return "partial"
        return "ok"

    @property
    def all_errors(self) -> tuple[HostError, ...]:
        """The stored errors plus the one the Ollama part implies (derived from it, never stored twice)."""
        if self.ollama is None:
            return self.errors
        from .ollama_report import ollama_errors

        return self.errors + ollama_errors(self.ollama)

    @property
    def warnings(self) -> tuple[HostError, ...]:
        """Not failures, but worth a look: models spilled to CPU on a node with a GPU."""
        if self.ollama is None:
            return ()
        from .ollama_report import spill_warnings

        return spill_warnings(self)

    @property
    def vendors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.vendor for g in self.gpus))


@dataclass(frozen=True, slots=True)
class FleetReport:
    """Reports from every host asked, in inventory order."""

    hosts: tuple[HostReport, ...]
    generated_at: str


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def gpu_to_dict(gpu: GpuSample) -> dict[str, Any]:
    out: dict[str, Any] = plain(gpu)
    out["field_errors"] = dict(gpu.field_errors)
    out["merged_from"] = dict(gpu.merged_from)
    return out


def host_to_dict(host: HostReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "host": host.host,
        "address": host.address,
        "status": host.status,
        "errors": [plain(e) for e in host.all_errors],
        "drivers": [plain(d) for d in host.drivers],
        "gpus": [gpu_to_dict(g) for g in host.gpus],
    }
    # --- Ollama (issue 5): derived keys, rebuilt from "ollama" by host_from_dict. ---
    out["warnings"] = [plain(w) for w in host.warnings]
    out["ollama"] = None
    out["vram_breakdown"] = None
    if host.ollama is not None:
        from .ollama_report import ollama_to_dict, vram_breakdown

        out["ollama"] = ollama_to_dict(host)
        breakdown = vram_breakdown(host)
        out["vram_breakdown"] = None if breakdown is None else plain(breakdown)
        if host.ollama.inference is not None:
            out["inference"] = plain(host.ollama.inference)
    return out


def fleet_to_dict(fleet: FleetReport) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": fleet.generated_at,
        "hosts": [host_to_dict(h) for h in fleet.hosts],
    }


def build_dataclass(cls: Any, data: Mapping[str, Any], nested: Mapping[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in names:
            continue  # newer producer, older reader: ignore what we do not know
        if key in nested and value is not None:
            value = tuple(build_dataclass(nested[key], v, {}) for v in value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[key] = value
    return cls(**kwargs)


def gpu_from_dict(data: Mapping[str, Any]) -> GpuSample:
    gpu: GpuSample = build_dataclass(GpuSample, data, {"processes": GpuProcess, "mig_devices": MigDevice,
                                                       "temperatures": TemperatureReading})
    return gpu


def host_from_dict(data: Mapping[str, Any]) -> HostReport:
    """Rebuild a host report from its JSON form (the remote probe's answer)."""
    ollama = None
    if data.get("ollama") is not None:
        from .ollama_report import ollama_from_dict

        ollama = ollama_from_dict(data["ollama"], data.get("inference"))
    return HostReport(
        host=str(data["host"]),
        address=data.get("address"),
        gpus=tuple(gpu_from_dict(g) for g in data.get("gpus", ())),
        drivers=tuple(build_dataclass(DriverAttempt, d, {}) for d in data.get("drivers", ())),
        # Errors derived from the Ollama part are rebuilt from it, not stored (issue 5).
        errors=tuple(build_dataclass(HostError, e, {}) for e in data.get("errors", ())
                     if e.get("kind") not in OLLAMA_ERROR_KINDS),
        ollama=ollama,
    )
