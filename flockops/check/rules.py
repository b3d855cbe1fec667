"""`flockops check`: the temperature and throttle rules, as monitoring plugins state them.

Pure logic: a fleet report in, check items out. Rendering (Nagios lines, perfdata) lives
in :mod:`flockops.check.nagios`; files, locks and notifications in :mod:`flockops.check.run`.

Temperature rules (documented in the README):
- with the card's own slowdown limit known: CRITICAL at ``slowdown - 2 °C``, WARNING at
  ``slowdown - 7 °C`` (5 °C of warning before critical);
- with no known limit: absolute defaults, WARNING at 80 °C and CRITICAL at 87 °C
  (below the lowest slowdown points seen on data-centre parts, about 87-89 °C);
- ``--warn-temp`` / ``--crit-temp`` (or the inventory variables ``flockops_warn_temp`` /
  ``flockops_crit_temp``) replace both with absolute limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from flockops.agent.model import OLLAMA_ERROR_KINDS, FleetReport, GpuSample, HostReport, HostStatus, Outcome
from flockops.errors import ErrorKind, Vocabulary

# Margins below the card's own slowdown temperature.
CRIT_MARGIN_C = 2.0
WARN_MARGIN_C = 7.0
# Absolute defaults when the driver knows no limit.
DEFAULT_WARN_C = 80.0
DEFAULT_CRIT_C = 87.0

THROTTLE_CRITICAL = frozenset({"sw_thermal_slowdown", "hw_thermal_slowdown"})
THROTTLE_WARNING = frozenset({"hw_slowdown", "hw_power_brake_slowdown"})
# Reported in the text, never alerted: the card holding its power budget is normal work.
THROTTLE_REPORTED = frozenset({"sw_power_cap"})


class State(Vocabulary):
    """Nagios plugin states, by their names; :attr:`exit_code` is the plugin's exit status."""

    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    UNKNOWN = "UNKNOWN"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]

    @classmethod
    def from_exit_code(cls, code: int) -> State:
        return next(state for state, value in _EXIT_CODES.items() if value == code)


_EXIT_CODES = {State.OK: 0, State.WARNING: 1, State.CRITICAL: 2, State.UNKNOWN: 3}


# Which state is worse, for the exit code and the order of problems alike: CRITICAL beats
# UNKNOWN beats WARNING (monitoring-plugins' max_state_alt). A hot GPU must not hide behind
# another host being down, nor a host nobody can read behind a warm GPU.
SEVERITY = {State.CRITICAL: 3, State.UNKNOWN: 2, State.WARNING: 1, State.OK: 0}


@dataclass(frozen=True, slots=True)
class Thresholds:
    warn_temp_c: float | None = None  # absolute overrides
    crit_temp_c: float | None = None
    min_free_vram_bytes: int | None = None
    min_free_vram_pct: float | None = None
    unreachable: State = State.UNKNOWN
    check_ollama_spill: bool = True
    # Items whose value a GPU cannot report is UNKNOWN (--require). Otherwise a throttle status the
    # card or its driver does not give (sysfs, rocm-smi, most AMD and Intel parts), or an iGPU's
    # missing temperature, is information said once: a check that can never be OK gets switched off.
    required: frozenset[str] = frozenset()
    # A vLLM or SGLang server's KV cache this full (%), for this many runs in a row: WARNING.
    kv_cache_warn_pct: float | None = 90.0
    kv_cache_runs: int = 3

    def temperature_limits(self, gpu: GpuSample) -> tuple[float, float, str]:
        """(warn, crit, where they came from) for one GPU."""
        if self.warn_temp_c is not None or self.crit_temp_c is not None:
            crit = self.crit_temp_c if self.crit_temp_c is not None else DEFAULT_CRIT_C
            warn = self.warn_temp_c if self.warn_temp_c is not None else min(crit - 5.0, DEFAULT_WARN_C)
            return warn, crit, "configured"
        limit = gpu.temperature_slowdown_c
        if limit is not None:
            return limit - WARN_MARGIN_C, limit - CRIT_MARGIN_C, f"slowdown {limit:g} °C"
        return DEFAULT_WARN_C, DEFAULT_CRIT_C, "default"


@dataclass(frozen=True, slots=True)
class Perf:
    """One monitoring-plugins performance datum: 'label'=value[UOM];warn;crit;min;max."""

    label: str
    value: float
    uom: str = ""
    warn: float | None = None
    crit: float | None = None
    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True, slots=True)
class Item:
    """One checked thing (a GPU rule, or a host) and its state."""

    host: str
    key: str  # stable identity for --consecutive and --notify: "host/gpu0/temperature"
    state: State
    text: str
    gpu: GpuSample | None = None
    perf: tuple[Perf, ...] = field(default_factory=tuple)
    # A breach reported as OK because --consecutive wants more runs of it first.
    held: bool = False
    # What the GPU cannot report, said as information (an OK item), not as a problem.
    info: str | None = None
    # The text for the plugin's first line, where ``text`` is long (every driver's reason).
    brief: str | None = None
    # Runs in a row a breach must last before it alerts, where the rule sets its own (KV-cache
    # pressure); None: --consecutive's.
    runs: int | None = None


# The items a GPU has, for --require.
GPU_ITEMS = ("temperature", "throttle", "free_vram")


@dataclass(frozen=True, slots=True)
class GpuName:
    """How one GPU is named in item keys, perfdata labels and texts: ``gpu0`` on a host of one vendor;
    ``amd-gpu0`` where vendors share the index numbers, so an NVIDIA and an AMD GPU 0 stay apart
    (in the state file, the perfdata and Prometheus alike)."""

    host: str
    ident: str  # "gpu0", "amd-gpu0"; with "@<bus id>" where even that repeats
    label: str  # "node1 GPU0", "node1 AMD GPU0"

    def key(self, item: str) -> str:
        return f"{self.host}/{self.ident}/{item}"

    def perf(self, what: str) -> str:
        return f"{self.host}/{self.ident} {what}"


_VENDOR_NAMES = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel"}


def gpu_names(host: HostReport) -> list[GpuName]:
    """A GpuName for each of the host's GPUs, in order, each unique on the host."""
    mixed = len({g.vendor for g in host.gpus}) > 1
    names = []
    for g in host.gpus:
        vendor = _VENDOR_NAMES.get(g.vendor, g.vendor)
        names.append((f"{g.vendor}-gpu{g.index}", f"{host.host} {vendor} GPU{g.index}") if mixed
                     else (f"gpu{g.index}", f"{host.host} GPU{g.index}"))
    idents = [ident for ident, _ in names]
    out = []
    for position, ((ident, label), g) in enumerate(zip(names, host.gpus, strict=True)):
        if idents.count(ident) > 1:
            where = g.pci_bus_id or f"#{position}"
            ident, label = f"{ident}@{where}", f"{label} ({where})"
        out.append(GpuName(host.host, ident, label))
    return out


def _cannot_report(gpu: GpuSample, field_name: str, what: str) -> str:
    reason = gpu.field_errors.get(field_name)
    return f"{what} not reported by {gpu.source}" + (f" ({reason})" if reason else "")


def _temperature(name: GpuName, gpu: GpuSample, t: Thresholds) -> Item:
    host, key = name.host, name.key("temperature")
    warn, crit, origin = t.temperature_limits(gpu)
    label = name.label
    if gpu.temperature_c is None:
        if gpu.memory_shared and "temperature" not in t.required:  # an iGPU: the CPU package's sensor
            return Item(host, key, State.OK, f"{label} temperature not readable", gpu,
                        info=_cannot_report(gpu, "temperature_c", "temperature (an integrated GPU)"))
        return Item(host, key, State.UNKNOWN, f"{label} temperature not readable", gpu)
    temp = gpu.temperature_c
    perf = (Perf(name.perf("temperature"), temp, "", warn, crit, None, gpu.temperature_shutdown_c),)
    if temp >= crit:
        state, verdict = State.CRITICAL, f">= critical {crit:g} °C"
    elif temp >= warn:
        state, verdict = State.WARNING, f">= warning {warn:g} °C"
    else:
        state, verdict = State.OK, f"below warning {warn:g} °C"
    return Item(host, key, state, f"{label} {temp:g} °C {verdict} ({origin})", gpu, perf)


def _throttle(name: GpuName, gpu: GpuSample, t: Thresholds) -> Item:
    host, key, label = name.host, name.key("throttle"), name.label
    if gpu.throttle_reasons is None:
        if "throttle" in t.required:
            return Item(host, key, State.UNKNOWN, f"{label} throttle reasons not readable", gpu)
        return Item(host, key, State.OK, f"{label} throttle reasons not readable", gpu,
                    info=_cannot_report(gpu, "throttle_reasons", "throttle status"))
    active = set(gpu.throttle_reasons)
    if gpu.vendor == "amd":
        # AMD throttle status is stuck on for some parts (amd-smi shows THROTTLED at idle).
        shown = ", ".join(sorted(active)) or "none"
        return Item(host, key, State.OK, f"{label} throttle (advisory on AMD): {shown}", gpu)
    critical = sorted(active & THROTTLE_CRITICAL)
    warning = sorted(active & THROTTLE_WARNING)
    noted = sorted(active & THROTTLE_REPORTED)
    if critical:
        return Item(host, key, State.CRITICAL, f"{label} thermal throttling: {', '.join(critical + warning)}", gpu)
    if warning:
        return Item(host, key, State.WARNING, f"{label} throttling: {', '.join(warning)}", gpu)
    tail = f" (power cap active: {', '.join(noted)})" if noted else ""
    return Item(host, key, State.OK, f"{label} not throttling{tail}", gpu)


def _free_vram(name: GpuName, gpu: GpuSample, t: Thresholds) -> Item | None:
    if t.min_free_vram_bytes is None and t.min_free_vram_pct is None:
        return None
    host, key, label = name.host, name.key("free_vram"), name.label
    free, total = gpu.memory_free_bytes, gpu.memory_total_bytes
    if free is None or (t.min_free_vram_pct is not None and not total):
        return Item(host, key, State.UNKNOWN, f"{label} free VRAM not readable", gpu)
    floor = t.min_free_vram_bytes or 0
    if t.min_free_vram_pct is not None and total:
        floor = max(floor, int(total * t.min_free_vram_pct / 100))
    perf = (Perf(name.perf("vram_free"), free, "B", floor, None, 0, total),)
    if free < floor:
        return Item(host, key, State.WARNING, f"{label} free VRAM {free / 2**30:.1f} GiB below "
                    f"{floor / 2**30:.1f} GiB", gpu, perf)
    return Item(host, key, State.OK, f"{label} free VRAM {free / 2**30:.1f} GiB", gpu, perf)


def _gpu_items(name: GpuName, gpu: GpuSample, t: Thresholds) -> list[Item]:
    if gpu.lost:
        return [Item(name.host, name.key("lost"), State.CRITICAL, f"{name.label} lost: {gpu.lost_reason or 'lost'}",
                     gpu)]
    items = [_temperature(name, gpu, t), _throttle(name, gpu, t)]
    free = _free_vram(name, gpu, t)
    if free is not None:
        items.append(free)
    used = gpu.memory_used_bytes
    if used is not None:
        items[0] = _with_perf(items[0], Perf(name.perf("vram_used"), used, "B", None, None, 0, gpu.memory_total_bytes))
    if gpu.utilization_pct is not None:
        items[0] = _with_perf(items[0], Perf(name.perf("utilization"), gpu.utilization_pct, "%", None, None, 0, 100))
    return items


def _with_perf(item: Item, perf: Perf) -> Item:
    from dataclasses import replace

    return replace(item, perf=item.perf + (perf,))


def _spill_items(host: HostReport) -> list[Item]:
    """Ollama models spilled to CPU (split or cpu placement) on a host that has a GPU: WARNING."""
    if host.ollama is None:
        return []
    from flockops.agent.model import spilled

    return [Item(host.host, f"{host.host}/ollama/{model.name}", State.WARNING,
                 f"{host.host} Ollama model {model.name} spilled to CPU ({model.placement})")
            for model in host.ollama.models if spilled(host, model)]


def evaluate(fleet: FleetReport, thresholds_for: Callable[[HostReport], Thresholds]) -> list[Item]:
    """Every check item of every host, in report order."""
    items: list[Item] = []
    for host in fleet.hosts:
        t = thresholds_for(host)
        if host.status in (HostStatus.FAILED, HostStatus.UNREACHABLE):
            reason = "; ".join(e.message for e in host.errors) or host.status
            items.append(Item(host.host, f"{host.host}/host", t.unreachable, f"{host.host} {host.status}: {reason}"))
            continue
        if not host.gpus:
            why = "; ".join(f"{d.name}: {d.reason}" for d in host.drivers if d.reason and d.outcome != Outcome.SKIPPED)
            tried = sum(1 for d in host.drivers if d.outcome != Outcome.SKIPPED)
            items.append(Item(host.host, f"{host.host}/host", State.UNKNOWN,
                              f"{host.host} no GPU detected{' (' + why + ')' if why else ''}",
                              brief=f"{host.host} no GPU detected by {tried} driver{'s' if tried != 1 else ''}"))
        for name, gpu in zip(gpu_names(host), host.gpus, strict=True):
            items.extend(_gpu_items(name, gpu, t))
        items.extend(_partial_items(host, t))
        if t.check_ollama_spill:
            items.extend(_spill_items(host))
        items.extend(_engine_items(host, t))
    return items


def _engine_items(host: HostReport, t: Thresholds) -> list[Item]:
    """KV-cache pressure of each vLLM and SGLang server asked (WARNING at the threshold for
    ``kv_cache_runs`` runs in a row), and a model on CPU on a GPU node for every engine that says so."""
    from flockops.agent.model import Engine

    items = [Item(host.host, f"{host.host}/{w.source}/{w.message.split(' runs on CPU')[0]}/cpu", State.WARNING,
                  f"{host.host} {w.source}: {w.message}") for w in host.warnings if w.kind == ErrorKind.MODEL_ON_CPU]
    if t.kv_cache_warn_pct is None:
        return items
    for report in host.engines or ():
        if report.engine not in (Engine.VLLM, Engine.SGLANG) or report.kv_cache_usage_ratio is None:
            continue
        used = 100 * report.kv_cache_usage_ratio
        key = f"{host.host}/{report.engine}/{report.url}/kv_cache"
        label = f"{host.host} {report.engine} {', '.join(report.models) or report.url}"
        perf = (Perf(f"{host.host}/{report.engine}:{report.url.rpartition(':')[2]} kv_cache", round(used, 1), "%",
                     t.kv_cache_warn_pct, None, 0, 100),)
        full = used >= t.kv_cache_warn_pct
        said = f"{label} KV cache {used:.0f}%" + (f" >= {t.kv_cache_warn_pct:g}%" if full else "")
        items.append(Item(host.host, key, State.WARNING if full else State.OK, said, perf=perf, runs=t.kv_cache_runs))
    return items


def _partial_items(host: HostReport, t: Thresholds) -> list[Item]:
    """What a partial host could not tell: a vendor whose drivers all failed, or a GPU on the PCI bus
    that no driver reported, may hide a hot GPU, so each is UNKNOWN, never OK. A lost GPU has its
    own item; an Ollama that did not answer matters when spills are checked."""
    skipped = {ErrorKind.GPU_LOST} | (set() if t.check_ollama_spill else set(OLLAMA_ERROR_KINDS))
    errors = [e for e in host.all_errors if e.kind not in skipped]
    count: dict[tuple[str, str], int] = {}
    for error in errors:
        count[error.kind, error.source] = count.get((error.kind, error.source), 0) + 1
    items: list[Item] = []
    for error in errors:
        key = f"{host.host}/{error.kind}/{error.source}"
        if count[error.kind, error.source] > 1:
            # Keys name a series (Prometheus) and a streak (--consecutive). Two errors of one kind and
            # source (two vendors undetected on the PCI bus: "a amd GPU is...") are told apart by the
            # start of their message, which names the vendor, not by their order, which changes.
            key += "/" + "-".join(error.message.lower().split()[:3])
        items.append(Item(host.host, key, State.UNKNOWN, f"{host.host} {error.kind} ({error.source}): {error.message}"))
    return items


def overall(items: Sequence[Item]) -> State:
    return max((i.state for i in items), key=SEVERITY.__getitem__, default=State.UNKNOWN)


def problems(items: Iterable[Item]) -> list[Item]:
    """Non-OK items, worst first, report order kept within a state."""
    bad = [i for i in items if i.state != State.OK]
    return sorted(bad, key=lambda i: -SEVERITY[i.state])


def thresholds_from_vars(base: Thresholds, variables: Mapping[str, object], host: str) -> Thresholds:
    """Apply the inventory variables flockops_warn_temp / flockops_crit_temp over ``base``
    (command-line values, when given, win: the caller passes them in ``base``)."""
    from dataclasses import replace

    from flockops.errors import UsageError

    def number(var: str) -> float | None:
        raw = variables.get(var)
        if raw is None:
            return None
        try:
            return float(str(raw))
        except ValueError:
            raise UsageError(f"host {host}: {var} must be a temperature in °C, got {raw!r}") from None

    warn = base.warn_temp_c if base.warn_temp_c is not None else number("flockops_warn_temp")
    crit = base.crit_temp_c if base.crit_temp_c is not None else number("flockops_crit_temp")
    return replace(base, warn_temp_c=warn, crit_temp_c=crit)
