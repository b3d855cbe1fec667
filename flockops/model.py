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

# typing costs the remote probe about 10 ms to import; annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
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
        return self.errors + ollama_errors(self.ollama)

    @property
    def warnings(self) -> tuple[HostError, ...]:
        """Not failures, but worth a look: models spilled to CPU on a node with a GPU."""
        return spill_warnings(self)

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
    out["merged_from"] = dict(gpu.merged_from)
    return out


def host_to_dict(host: HostReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "host": host.host,
        "address": host.address,
        "status": host.status,
        "errors": [_plain(e) for e in host.all_errors],
        "drivers": [_plain(d) for d in host.drivers],
        "gpus": [gpu_to_dict(g) for g in host.gpus],
    }
    # --- Ollama (issue 5): derived keys, rebuilt from "ollama" by host_from_dict. ---
    out["warnings"] = [_plain(w) for w in host.warnings]
    out["ollama"] = ollama_to_dict(host)
    breakdown = vram_breakdown(host)
    out["vram_breakdown"] = None if breakdown is None else _plain(breakdown)
    if host.ollama is not None and host.ollama.inference is not None:
        out["inference"] = _plain(host.ollama.inference)
    return out


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
    gpu: GpuSample = _build(GpuSample, data, {"processes": GpuProcess, "mig_devices": MigDevice,
                                             "temperatures": TemperatureReading})
    return gpu


def host_from_dict(data: Mapping[str, Any]) -> HostReport:
    """Rebuild a host report from its JSON form (the remote probe's answer)."""
    return HostReport(
        host=str(data["host"]),
        address=data.get("address"),
        gpus=tuple(gpu_from_dict(g) for g in data.get("gpus", ())),
        drivers=tuple(_build(DriverAttempt, d, {}) for d in data.get("drivers", ())),
        # Errors derived from the Ollama part are rebuilt from it, not stored (issue 5).
        errors=tuple(_build(HostError, e, {}) for e in data.get("errors", ())
                     if e.get("kind") not in OLLAMA_ERROR_KINDS),
        ollama=ollama_from_dict(data.get("ollama"), data.get("inference")),
    )


# --------------------------------------------------------------------------------------------------
# Ollama (issue 5). What an Ollama server says it holds, from its /api/ps. These are Ollama's
# reservations, not device usage (ollama/ollama#10505: "`ollama ps` showing reserved memory that may
# be needed as the context window grows"), so they stay beside the GpuSamples, never merged into them.

OLLAMA_STATUSES = ("ok", "not_running", "unreachable", "error")
# Error kinds derived from a host's Ollama part (never stored in HostReport.errors).
OLLAMA_ERROR_KINDS = frozenset({"ollama_unreachable", "ollama_error"})
SPILL_KIND = "ollama_spill"


@dataclass(frozen=True, slots=True)
class OllamaModel:
    """One model Ollama has loaded, as its ``/api/ps`` lists it."""

    name: str
    size_bytes: int | None = None
    # ``size_vram``. Servers from before it existed omit it, and that means 0: fully on CPU.
    vram_bytes: int = 0
    context_length: int | None = None
    # As Ollama wrote it (RFC 3339, nanoseconds). Keep-alive forever reads as a date centuries away.
    expires_at: str | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None

    @property
    def placement(self) -> str:
        """gpu, cpu, split or unknown, by ``ollama ps``'s own rule (cmd/cmd.go, ListRunningHandler)."""
        if self.vram_bytes == 0:
            return "cpu"
        if not self.size_bytes or self.vram_bytes > self.size_bytes:
            return "unknown"
        return "gpu" if self.vram_bytes == self.size_bytes else "split"

    @property
    def gpu_fraction(self) -> float | None:
        """The share of the model in VRAM (``ollama ps`` prints ``48%/52% CPU/GPU``); None when unknown."""
        placement = self.placement
        if placement == "unknown":
            return None
        if placement == "cpu":
            return 0.0
        assert self.size_bytes  # placement gpu/split implies a size
        return self.vram_bytes / self.size_bytes

    @property
    def ram_bytes(self) -> int | None:
        if self.size_bytes is None:
            return None
        return max(0, self.size_bytes - self.vram_bytes)


@dataclass(frozen=True, slots=True)
class InferenceVerdict:
    """A guess at GPU or CPU from how fast embeddings return: labelled a guess, and never a VRAM size."""

    verdict: str  # gpu-likely | cpu-likely | unknown
    model: str
    # Median of the timed calls (the warm-up, which includes loading the model, is not counted).
    latency_ms: float | None = None
    runs: int = 0
    # "server": Ollama's own total_duration (no network in it); "wall": round trip measured here.
    basis: str | None = None
    confidence: str = "low"
    reason: str | None = None
    source: str = "inferred"


@dataclass(frozen=True, slots=True)
class OllamaReport:
    """What one Ollama endpoint answered (or why it did not)."""

    url: str
    status: str  # one of OLLAMA_STATUSES
    error: str | None = None
    version: str | None = None
    models: tuple[OllamaModel, ...] = ()
    # Where the URL came from: "default" (127.0.0.1:11434), "OLLAMA_HOST", "inventory", "command line".
    endpoint_from: str = "default"
    inference: InferenceVerdict | None = None
    source: str = "ollama"

    @property
    def vram_bytes(self) -> int | None:
        return sum(m.vram_bytes for m in self.models) if self.status == "ok" else None

    @property
    def ram_bytes(self) -> int | None:
        if self.status != "ok":
            return None
        return _sum_known(m.ram_bytes for m in self.models)

    @property
    def gpu_accelerated(self) -> str | None:
        """yes (every model wholly in VRAM), partial, or no; None with no model loaded (nothing to tell)."""
        if self.status != "ok" or not self.models:
            return None
        placements = {m.placement for m in self.models}
        if placements == {"gpu"}:
            return "yes"
        if placements == {"cpu"}:
            return "no"
        return "partial"


@dataclass(frozen=True, slots=True)
class VramBreakdown:
    """Device used beside Ollama's reservations on one host; "other" is what else holds VRAM."""

    device_used_bytes: int
    ollama_reserved_bytes: int
    # device used minus Ollama's reservations, floored at 0.
    other_bytes: int
    # Ollama claims more than the device shows in use (reservations are estimates, #10505).
    ollama_exceeds_device: bool


def _sum_known(values: Iterable[int | None]) -> int | None:
    items = list(values)
    if any(v is None for v in items):
        return None
    return sum(v for v in items if v is not None)


def ollama_errors(report: OllamaReport | None) -> tuple[HostError, ...]:
    """The host error an Ollama part implies: none for ok, nor for "not running" on the implicit default."""
    if report is None or report.status in ("ok", "not_running"):
        return ()
    kind = "ollama_unreachable" if report.status == "unreachable" else "ollama_error"
    return (HostError(kind, "ollama", f"{report.url}: {report.error or report.status}"),)


def host_has_gpu(host: HostReport) -> bool:
    """The device shows a GPU, or Ollama holds something in VRAM (which proves one)."""
    if any(not g.lost for g in host.gpus):
        return True
    return host.ollama is not None and bool(host.ollama.vram_bytes)


def spilled(host: HostReport, model: OllamaModel) -> bool:
    """A model split or on CPU on a node that has a GPU (the design note's "GPU falls back to CPU")."""
    return model.placement in ("split", "cpu") and host_has_gpu(host)


def spill_warnings(host: HostReport) -> tuple[HostError, ...]:
    if host.ollama is None or host.ollama.status != "ok":
        return ()
    out = []
    for m in host.ollama.models:
        if spilled(host, m):
            share = "wholly" if m.placement == "cpu" else f"{1 - (m.gpu_fraction or 0):.0%}"
            out.append(HostError(SPILL_KIND, "ollama",
                                 f"{m.name} is {share} on CPU (in RAM) although this node has a GPU"))
    return tuple(out)


def vram_breakdown(host: HostReport) -> VramBreakdown | None:
    """Device used, Ollama reserved and the rest, when the host has both device data and an Ollama answer."""
    live = [g for g in host.gpus if not g.lost]
    if not live or host.ollama is None or host.ollama.status != "ok":
        return None
    used = _sum_known(g.memory_used_bytes for g in live)
    reserved = host.ollama.vram_bytes
    if used is None or reserved is None:
        return None
    return VramBreakdown(used, reserved, max(0, used - reserved), reserved > used)


def ollama_to_dict(host: HostReport) -> dict[str, Any] | None:
    report = host.ollama
    if report is None:
        return None
    models = []
    for m in report.models:
        entry: dict[str, Any] = _plain(m)
        entry.update(placement=m.placement, gpu_fraction=m.gpu_fraction, ram_bytes=m.ram_bytes,
                     spilled=spilled(host, m))
        models.append(entry)
    return {
        "url": report.url, "status": report.status, "error": report.error, "version": report.version,
        "endpoint_from": report.endpoint_from, "source": report.source,
        "vram_bytes": report.vram_bytes, "ram_bytes": report.ram_bytes, "gpu_accelerated": report.gpu_accelerated,
        "models": models,
    }


def ollama_from_dict(data: Mapping[str, Any] | None, inference: Mapping[str, Any] | None) -> OllamaReport | None:
    if data is None:
        return None
    report: OllamaReport = _build(OllamaReport, {k: v for k, v in data.items() if k != "models"}, {})
    models = tuple(_build(OllamaModel, m, {}) for m in data.get("models") or ())
    verdict = None if inference is None else _build(InferenceVerdict, inference, {})
    return dataclasses.replace(report, models=models, inference=verdict)
