"""What a host's Ollama says it holds (issue 5), from its ``/api/ps``, and what follows from it.

These are Ollama's reservations, not device usage (ollama/ollama#10505: "`ollama ps` showing
reserved memory that may be needed as the context window grows"), so they stay beside the
GpuSamples, never merged into them. Apart from :mod:`flockops.model` because the remote probe
never asks Ollama (the controller does, over HTTP) and each dataclass costs every probe run
about a millisecond to build.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .model import HostError, HostReport, build_dataclass, plain

OLLAMA_STATUSES = ("ok", "not_running", "unreachable", "error")
SPILL_KIND = "ollama_spill"


@dataclass(frozen=True, slots=True)
class OllamaModel:
    """One model Ollama has loaded, as its ``/api/ps`` lists it."""

    name: str
    size_bytes: int | None = None
    # ``size_vram``: 0 is fully on CPU. None: the server did not say (Ollama always writes it; a
    # server that omits it or writes null is not one whose placement can be told).
    vram_bytes: int | None = None
    context_length: int | None = None
    # As Ollama wrote it (RFC 3339, nanoseconds). Keep-alive forever reads as a date centuries away.
    expires_at: str | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None

    @property
    def placement(self) -> str:
        """gpu, cpu, split or unknown, by ``ollama ps``'s own rule (cmd/cmd.go, ListRunningHandler)."""
        if self.vram_bytes is None:
            return "unknown"
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
        assert self.size_bytes and self.vram_bytes is not None  # placement gpu/split implies both
        return self.vram_bytes / self.size_bytes

    @property
    def ram_bytes(self) -> int | None:
        if self.size_bytes is None or self.vram_bytes is None:
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
        if self.status != "ok" or any(m.vram_bytes is None for m in self.models):
            return None
        return sum(m.vram_bytes or 0 for m in self.models)

    @property
    def ram_bytes(self) -> int | None:
        if self.status != "ok":
            return None
        return _sum_known(m.ram_bytes for m in self.models)

    @property
    def gpu_accelerated(self) -> str | None:
        """yes (every model wholly in VRAM), partial, or no; None with no model loaded, or one whose
        placement the server did not say (nothing to tell)."""
        placements = {m.placement for m in self.models}
        if self.status != "ok" or not self.models or "unknown" in placements:
            return None
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
        entry: dict[str, Any] = plain(m)
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
    report: OllamaReport = build_dataclass(OllamaReport, {k: v for k, v in data.items() if k != "models"}, {})
    models = tuple(build_dataclass(OllamaModel, m, {}) for m in data.get("models") or ())
    verdict = None if inference is None else build_dataclass(InferenceVerdict, inference, {})
    return dataclasses.replace(report, models=models, inference=verdict)
