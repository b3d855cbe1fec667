"""Capacity planning: which GPUs and nodes can hold a model of a given size now. No I/O.

Free VRAM is the device's (NVML, nvidia-smi, sysfs...), never Ollama's: ``/api/ps`` says what Ollama
has reserved, not what is free (ollama/ollama#10505), so a node known only by its Ollama URL is
listed as "cannot tell", not as a fit. A model needs its size plus a margin (default: 10 % of the
size, at least 1 GiB) for the context's KV cache and the runtime's own buffers.

Ranking, best first: a single GPU before a split over several GPUs of one node (Ollama spreads a
model over a node's GPUs when no one GPU can hold it; slower, but it loads), then the most headroom
left after loading, then the cooler GPU. GPUs that are lost, thermally throttling
(``sw_thermal_slowdown``/``hw_thermal_slowdown``), MIG-partitioned, or whose free memory is unknown
are skipped, each with its reason.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from flockops.agent.model import FleetReport, GpuSample, HostReport, HostStatus, OllamaStatus

GIB = 1 << 30
DEFAULT_MARGIN_FRACTION = 0.10
DEFAULT_MARGIN_MIN_BYTES = GIB
THERMAL_REASONS = frozenset({"sw_thermal_slowdown", "hw_thermal_slowdown"})

_UNITS = {
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def parse_size(text: str) -> int | None:
    """Bytes from ``40GiB``, ``40GB``, ``512MiB``, ``1.5 TB`` or a plain byte count; None if not a size.

    GB/MB are decimal (Ollama's own ``format.HumanBytes`` prints decimal GB), GiB/MiB binary. A lone
    ``G``/``M`` is refused (ValueError) rather than guessed. None means "not a size": a model name.
    """
    match = _SIZE.match(text)
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2)
    if unit == "" or unit == "B":  # "7b" (lower case) reads as a model name, not 7 bytes
        return int(number)
    multiplier = _UNITS.get(unit.lower())
    if multiplier is not None:
        return int(number * multiplier)
    if unit.lower() in ("k", "m", "g", "t"):
        raise ValueError(f"{text!r}: say {unit.upper()}iB (binary) or {unit.upper()}B (decimal)")
    return None


def parse_margin(text: str, size_bytes: int) -> int:
    """``15%`` of the size, or a size such as ``2GiB``. Raises ValueError."""
    stripped = text.strip()
    if stripped.endswith("%"):
        try:
            share = float(stripped[:-1])
        except ValueError:
            raise ValueError(f"not a percentage: {text!r}") from None
        if share < 0:
            raise ValueError(f"a margin cannot be negative: {text!r}")
        return int(size_bytes * share / 100)
    value = parse_size(stripped)
    if value is None:
        raise ValueError(f"not a size or percentage: {text!r} (e.g. 2GiB or 15%)")
    return value


def default_margin(size_bytes: int) -> int:
    return max(DEFAULT_MARGIN_MIN_BYTES, int(size_bytes * DEFAULT_MARGIN_FRACTION))


@dataclass(frozen=True)
class Placement:
    """Where a model fits: one GPU (``kind`` "gpu") or several GPUs of one node ("node")."""

    host: str
    kind: str  # gpu | node
    gpus: tuple[int, ...]
    free_bytes: int
    needed_bytes: int
    # Free VRAM left after loading (free minus size and margin).
    headroom_bytes: int
    temperature_c: float | None
    source: str
    address: str | None = None
    ollama_url: str | None = None
    # Of the device's free VRAM, what vLLM or SGLang servers there have claimed but not taken yet
    # (flockops.engines.reservations): already left out of free_bytes.
    engine_pending_bytes: int = 0


@dataclass(frozen=True)
class Skipped:
    host: str
    gpu: int | None  # None: the whole host
    reason: str


@dataclass(frozen=True)
class FitResult:
    size_bytes: int
    margin_bytes: int
    candidates: tuple[Placement, ...]
    skipped: tuple[Skipped, ...]
    model: str | None = None
    # Hosts whose Ollama already has this model loaded, with its placement ("gpu", "split"...).
    loaded_on: tuple[tuple[str, str], ...] = ()
    # What could not be told of the engines' reservations (a vLLM server whose share is unknown).
    notes: tuple[str, ...] = ()

    @property
    def needed_bytes(self) -> int:
        return self.size_bytes + self.margin_bytes

    @property
    def best(self) -> Placement | None:
        return self.candidates[0] if self.candidates else None


def _skip_reason(gpu: GpuSample) -> str | None:
    if gpu.lost:
        return f"lost ({gpu.lost_reason or 'no reason given'})"
    hot = sorted(THERMAL_REASONS.intersection(gpu.throttle_reasons or ()))
    if hot:
        return f"thermally throttling ({', '.join(hot)})"
    if gpu.mig_enabled:
        return "MIG enabled: plan per MIG instance, not the whole GPU"
    if gpu.memory_free_bytes is None:
        return "free VRAM unknown"
    return None


def _host_candidates(host: HostReport, needed: int, skipped: list[Skipped],
                     notes: list[str] | None = None) -> list[Placement]:
    url = host.ollama.url if host.ollama is not None else None
    if not host.gpus:
        if host.status in (HostStatus.UNREACHABLE, HostStatus.FAILED):
            skipped.append(Skipped(host.host, None, f"host {host.status}"))
        elif host.ollama is not None and host.ollama.status == OllamaStatus.OK:
            skipped.append(Skipped(host.host, None, "no device data: Ollama's /api/ps tells what it reserved, "
                                                    "not what is free"))
        else:
            skipped.append(Skipped(host.host, None, "no GPU reported"))
        return []
    usable: list[GpuSample] = []
    for gpu in host.gpus:
        reason = _skip_reason(gpu)
        if reason is None:
            usable.append(gpu)
        else:
            skipped.append(Skipped(host.host, gpu.index, reason))

    from flockops.engines.reservations import pending_bytes

    pending: dict[int, int] = {}
    for gpu in usable:
        pending[gpu.index], said = pending_bytes(host, gpu)
        (notes if notes is not None else []).extend(f"{host.host}: {note}" for note in said)

    def free_of(gpu: GpuSample) -> int:
        return max(0, (gpu.memory_free_bytes or 0) - pending[gpu.index])

    def placement(kind: str, gpus: Sequence[GpuSample]) -> Placement:
        free = sum(free_of(g) for g in gpus)
        temps = [g.temperature_c for g in gpus if g.temperature_c is not None]
        return Placement(host.host, kind, tuple(g.index for g in gpus), free, needed, free - needed,
                         max(temps) if temps else None, ", ".join(sorted({g.source for g in gpus})),
                         host.address, url, sum(pending[g.index] for g in gpus))

    singles = [placement("gpu", [g]) for g in usable if free_of(g) >= needed]
    if singles:
        return singles
    if len(usable) > 1 and sum(free_of(g) for g in usable) >= needed:
        return [placement("node", usable)]
    return []


def _rank(p: Placement) -> tuple[int, int, float, str, tuple[int, ...]]:
    return (0 if p.kind == "gpu" else 1, -p.headroom_bytes,
            p.temperature_c if p.temperature_c is not None else float("inf"), p.host, p.gpus)


def plan(fleet: FleetReport, size_bytes: int, margin_bytes: int | None = None,
         model: str | None = None) -> FitResult:
    """Every GPU and node that can hold ``size_bytes`` plus the margin now, best first."""
    margin = default_margin(size_bytes) if margin_bytes is None else margin_bytes
    needed = size_bytes + margin
    skipped: list[Skipped] = []
    candidates: list[Placement] = []
    loaded: list[tuple[str, str]] = []
    notes: list[str] = []
    for host in fleet.hosts:
        candidates.extend(_host_candidates(host, needed, skipped, notes))
        if model is not None and host.ollama is not None:
            loaded.extend((host.host, m.placement) for m in host.ollama.models
                          if m.name in (model, f"{model}:latest"))
    return FitResult(size_bytes, margin, tuple(sorted(candidates, key=_rank)), tuple(skipped), model,
                     tuple(loaded), tuple(notes))


def best_node(fleet: FleetReport, size_bytes: int, margin_bytes: int | None = None) -> Placement | None:
    """The one best place for a model of ``size_bytes`` now, or None when nothing can hold it."""
    return plan(fleet, size_bytes, margin_bytes).best


def fit_to_dict(result: FitResult) -> dict[str, Any]:
    """``flockops fit -o json``."""
    return {
        "model": result.model,
        "size_bytes": result.size_bytes,
        "margin_bytes": result.margin_bytes,
        "needed_bytes": result.needed_bytes,
        "fits": bool(result.candidates),
        "candidates": [{**asdict(p), "gpus": list(p.gpus)} for p in result.candidates],
        "skipped": [asdict(s) for s in result.skipped],
        "loaded_on": [{"host": host, "placement": placement} for host, placement in result.loaded_on],
        "notes": list(result.notes),
    }
