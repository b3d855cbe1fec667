"""The data model: what a driver measured, per GPU, per host, per fleet.

Frozen dataclasses, no I/O. Canonical units live in the field names (bytes, °C, W, %).
``None`` always means "the source could not tell"; it is never replaced by 0. Only the
renderer turns ``None`` into ``N/A`` or bytes into MiB/GiB.

Everything here is standard library only: the same module runs inside the remote probe.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from flockops.errors import ErrorKind, Vocabulary

# typing is slow to import, and the probe never needs it: annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from .engine_model import EngineReport
    from .ollama_model import OllamaModel, OllamaReport


class HostStatus(Vocabulary):
    """A host's status, derived from its contents (``HostReport.status``)."""

    OK = "ok"
    PARTIAL = "partial"  # something failed, the rest is there
    FAILED = "failed"
    UNREACHABLE = "unreachable"


class Outcome(Vocabulary):
    """What came of trying one driver on one host (``DriverAttempt.outcome``)."""

    USED = "used"
    UNAVAILABLE = "unavailable"  # it cannot run here, and said why
    FAILED = "failed"  # it should have worked, and broke
    SKIPPED = "skipped"  # not tried: another answered, or not selected


class OllamaStatus(Vocabulary):
    """What one Ollama endpoint's answer came to (``OllamaReport.status``)."""

    OK = "ok"
    NOT_RUNNING = "not_running"  # connection refused on the implicit local endpoint
    UNREACHABLE = "unreachable"  # refused on a configured endpoint, DNS, no route, connect timeout
    ERROR = "error"  # it accepted the connection but gave no usable answer


class Placement(Vocabulary):
    """Where an Ollama model sits, by ``ollama ps``'s own rule (``OllamaModel.placement``)."""

    GPU = "gpu"
    CPU = "cpu"
    SPLIT = "split"
    UNKNOWN = "unknown"


class Engine(Vocabulary):
    """An inference engine holding GPU memory, as its command line names it (``GpuProcess.engine``)."""

    VLLM = "vllm"
    SGLANG = "sglang"
    LLAMA_CPP = "llama.cpp"
    TGI = "tgi"  # Hugging Face text-generation-inference
    OLLAMA = "ollama"
    LOCALAI = "localai"
    LMSTUDIO = "lmstudio"


class EngineStatus(Vocabulary):
    """What one engine endpoint's answer came to (``EngineReport.status``)."""

    OK = "ok"
    PARTIAL = "partial"  # it answered, but some of its endpoints did not (llama.cpp without --metrics)
    UNREACHABLE = "unreachable"  # nothing accepted the connection (or the SSH channel to it)
    ERROR = "error"  # it accepted the connection but gave no usable answer


# The vocabularies by the name the model's annotations give them: the JSON codec makes each of its
# words one of these, and the field checks (flockops.agent.fields) accept only these.
VOCABULARIES: Mapping[str, type[Vocabulary]] = {
    cls.__name__: cls for cls in (ErrorKind, HostStatus, Outcome, OllamaStatus, Placement, Engine, EngineStatus)
}

# Statuses of a host with data (it answered, maybe with some fields or drivers missing).
ANSWERED = frozenset({HostStatus.OK, HostStatus.PARTIAL})
# Error kinds derived from a host's Ollama part, never stored in HostReport.errors.
OLLAMA_ERROR_KINDS = frozenset({ErrorKind.OLLAMA_UNREACHABLE, ErrorKind.OLLAMA_ERROR})
# Error kinds derived from a host's Ollama or engine parts: rebuilt from them, never stored.
DERIVED_ERROR_KINDS = OLLAMA_ERROR_KINDS | {ErrorKind.ENGINE_UNREACHABLE, ErrorKind.ENGINE_ERROR}

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
class ListenSocket:
    """A TCP socket an engine listens on, as its host's /proc/net/tcp{,6} shows it."""

    address: str  # as bound: "127.0.0.1", "0.0.0.0", "::", "::1"
    port: int
    pid: int | None = None  # the listening process: the engine's own, or one of its children (TGI's router)


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """A process holding memory on a GPU, and who it is: its user, engine, model, container or job.

    Everything past ``memory_used_bytes`` is read from /proc on the GPU's host (``flockops.agent.holders``);
    a field that could not be read is None with the reason in ``field_errors``, never a guess.
    """

    pid: int
    name: str | None = None
    # None when the driver cannot attribute memory per process (Windows WDDM).
    memory_used_bytes: int | None = None
    # New fields go at the end, with defaults (older probes and readers know only those before).
    user: str | None = None
    uid: int | None = None
    # Its command line, words joined with spaces, secrets masked on the host (flockops.agent.secrets).
    command_line: str | None = None
    # The inference engine, from the command line of this process or of the engine process that
    # started it (a tensor-parallel worker's parent): ``engine_pid``. None: not an engine we know.
    engine: Engine | None = None
    engine_pid: int | None = None
    # The model, from the engine's own flags (``--served-model-name`` before ``--model``; an Ollama
    # runner's blob mapped to its name through Ollama's manifests).
    model: str | None = None
    container_id: str | None = None
    container_name: str | None = None
    container_runtime: str | None = None  # docker, containerd, cri-o, podman
    pod_uid: str | None = None
    pod_namespace: str | None = None
    pod_name: str | None = None
    slurm_job_id: int | None = None
    # The TCP sockets the engine's HTTP server may listen on (engines only; the controller asks them).
    listening: tuple[ListenSocket, ...] | None = None
    # The share of each GPU's memory the engine takes for itself at start, from its flags (vLLM
    # --gpu-memory-utilization, SGLang --mem-fraction-static); None: the flags do not say.
    engine_memory_fraction: float | None = None
    # True when the engine's flags keep the model's layers off the GPU (llama.cpp -ngl 0, --device cpu).
    model_on_cpu: bool | None = None
    # System memory the GPU has mapped for this process (amdgpu and xe GTT, from DRM fdinfo).
    memory_shared_used_bytes: int | None = None
    # Where this process was found when not through the GPU's own driver: "fdinfo" (DRM fdinfo).
    source: str | None = None
    # Fields that could not be read, with why ("user": "uid 1234 has no name in /etc/passwd").
    field_errors: Mapping[str, str] = field(default_factory=dict)


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
    # New fields go at the end, with defaults (older probes and readers know only those before).
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
    outcome: Outcome
    reason: str | None = None
    priority: int | None = None


@dataclass(frozen=True, slots=True)
class HostError:
    """Something that failed on a host, said in words a person can act on."""

    kind: ErrorKind
    source: str
    message: str


# Error kinds that mean the host gave us nothing at all.
FAILED_KINDS = frozenset({ErrorKind.TIMEOUT, ErrorKind.AUTH_FAILED, ErrorKind.HOST_KEY, ErrorKind.PROBE_FAILED,
                          ErrorKind.INTERNAL})
UNREACHABLE_KINDS = frozenset({ErrorKind.UNREACHABLE})


@dataclass(frozen=True, slots=True)
class HostReport:
    """Everything gathered from one host."""

    host: str
    gpus: tuple[GpuSample, ...] = ()
    drivers: tuple[DriverAttempt, ...] = ()
    errors: tuple[HostError, ...] = ()
    address: str | None = None
    collected_at: float | None = None
    # What the host's Ollama answered; None when no endpoint was asked.
    ollama: OllamaReport | None = None
    # What the inference engines holding its GPUs (or listed for it) answered; None: none was asked.
    engines: tuple[EngineReport, ...] | None = None

    @property
    def status(self) -> HostStatus:
        """Derived, never stored."""
        kinds = {e.kind for e in self.errors}
        if self.ollama is not None and not (self.gpus or self.drivers or self.errors):
            # Known only by its Ollama URL: that endpoint is all there is to this host.
            if self.ollama.status == OllamaStatus.OK:
                return HostStatus.OK
            return HostStatus.FAILED if self.ollama.status == OllamaStatus.ERROR else HostStatus.UNREACHABLE
        # An Ollama that answered is data too: SSH failing beside it leaves the host partial.
        has_data = bool(self.gpus) or (self.ollama is not None and self.ollama.status == OllamaStatus.OK)
        if kinds & UNREACHABLE_KINDS and not has_data:
            return HostStatus.UNREACHABLE
        if kinds & FAILED_KINDS and not has_data:
            return HostStatus.FAILED
        if self.all_errors:
            return HostStatus.PARTIAL
        return HostStatus.OK

    @property
    def all_errors(self) -> tuple[HostError, ...]:
        """The stored errors plus those its Ollama and engine parts imply (derived, never stored twice)."""
        derived = ollama_errors(self.ollama) if self.ollama is not None else ()
        return self.errors + derived + engine_errors(self.engines or ())

    @property
    def warnings(self) -> tuple[HostError, ...]:
        """Not failures, but worth a look: models spilled to CPU on a node with a GPU."""
        found = spill_warnings(self) if self.ollama is not None else ()
        if self.engines or any(p.model_on_cpu for g in self.gpus for p in g.processes or ()):
            found += cpu_warnings(self)
        return found

    @property
    def vendors(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.vendor for g in self.gpus))


@dataclass(frozen=True, slots=True)
class FleetReport:
    """Reports from every host asked, in inventory order."""

    hosts: tuple[HostReport, ...]
    generated_at: str


# --- What follows from a host's Ollama part (read by the controller, never by the probe) ------
# These are Ollama's reservations, not device usage (ollama/ollama#10505: "`ollama ps` showing
# reserved memory that may be needed as the context window grows"), so they stay beside the
# GpuSamples, never merged into them.

def ollama_errors(report: OllamaReport | None) -> tuple[HostError, ...]:
    """The host error an Ollama part implies: none for ok, nor for "not running" on the implicit default."""
    if report is None or report.status in (OllamaStatus.OK, OllamaStatus.NOT_RUNNING):
        return ()
    kind = ErrorKind.OLLAMA_UNREACHABLE if report.status == OllamaStatus.UNREACHABLE else ErrorKind.OLLAMA_ERROR
    return (HostError(kind, "ollama", f"{report.url}: {report.error or report.status}"),)


def host_has_gpu(host: HostReport) -> bool:
    """The device shows a GPU, or Ollama holds something in VRAM (which proves one)."""
    if any(not g.lost for g in host.gpus):
        return True
    return host.ollama is not None and bool(host.ollama.vram_bytes)


def spilled(host: HostReport, model: OllamaModel) -> bool:
    """A model split or on CPU on a node that has a GPU (the design note's "GPU falls back to CPU")."""
    return model.placement in (Placement.SPLIT, Placement.CPU) and host_has_gpu(host)


def spill_warnings(host: HostReport) -> tuple[HostError, ...]:
    if host.ollama is None or host.ollama.status != OllamaStatus.OK:
        return ()
    out = []
    for m in host.ollama.models:
        if spilled(host, m):
            share = "wholly" if m.placement == Placement.CPU else f"{1 - (m.gpu_fraction or 0):.0%}"
            out.append(HostError(ErrorKind.OLLAMA_SPILL, "ollama",
                                 f"{m.name} is {share} on CPU (in RAM) although this node has a GPU"))
    return tuple(out)


# --- What follows from a host's engine part (read by the controller, never by the probe) ------
# Where an engine endpoint came from (EngineReport.endpoint_from), and how it was reached (.via).
DISCOVERED, FROM_INVENTORY = "discovered", "inventory"
DIRECT, THROUGH_SSH = "direct", "ssh"


def engine_errors(engines: Iterable[EngineReport]) -> tuple[HostError, ...]:
    """An error for each endpoint the inventory lists that did not answer. A discovered one that does
    not (a listening socket that is no HTTP server) is shown with its status, not counted against the host."""
    out = []
    for report in engines:
        if report.endpoint_from != FROM_INVENTORY or report.status in (EngineStatus.OK, EngineStatus.PARTIAL):
            continue
        kind = ErrorKind.ENGINE_UNREACHABLE if report.status == EngineStatus.UNREACHABLE else ErrorKind.ENGINE_ERROR
        out.append(HostError(kind, str(report.engine), f"{report.url}: {report.error or report.status}"))
    return tuple(out)


def cpu_warnings(host: HostReport) -> tuple[HostError, ...]:
    """A model on CPU on a node with a GPU, for every engine that says so: in its flags (a holder's
    ``model_on_cpu``) or over HTTP (``EngineReport.model_on_cpu``). Ollama's are spill warnings."""
    if not host_has_gpu(host):
        return ()
    said: dict[tuple[str, str], str] = {}
    for gpu in host.gpus:
        for holder in gpu.processes or ():
            if holder.model_on_cpu and holder.engine is not None:
                key = (str(holder.engine), holder.model or f"pid {holder.engine_pid or holder.pid}")
                said.setdefault(key, "its flags keep the model's layers off the GPU")
    for report in host.engines or ():
        if report.model_on_cpu:
            for model in report.models or (report.url,):
                said.setdefault((str(report.engine), model), f"{report.url} says so")
    return tuple(HostError(ErrorKind.MODEL_ON_CPU, engine, f"{model} runs on CPU although this node has a GPU "
                           f"({why})") for (engine, model), why in said.items())


def sum_known(values: Iterable[int | None]) -> int | None:
    """The sum, or None when any part is unknown: a total is a measurement only when every part is."""
    items = list(values)
    if any(v is None for v in items):
        return None
    return sum(v for v in items if v is not None)
