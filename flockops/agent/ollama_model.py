"""What a host's Ollama says it holds, from its ``/api/ps``: the Ollama part of the data model.

These are Ollama's reservations, not device usage (ollama/ollama#10505: "`ollama ps` showing
reserved memory that may be needed as the context window grows"), so they stay beside the
GpuSamples, never merged into them. Data only; what follows from them for a host (spills, the
VRAM breakdown) is in :mod:`flockops.agent.model`. Apart from it because the remote probe never
asks Ollama (the controller does, over HTTP), so the probe never builds these classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import HostReport, OllamaStatus, Placement, sum_known


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
    def placement(self) -> Placement:
        """gpu, cpu, split or unknown, by ``ollama ps``'s own rule (cmd/cmd.go, ListRunningHandler)."""
        if self.vram_bytes is None:
            return Placement.UNKNOWN
        if self.vram_bytes == 0:
            return Placement.CPU
        if not self.size_bytes or self.vram_bytes > self.size_bytes:
            return Placement.UNKNOWN
        return Placement.GPU if self.vram_bytes == self.size_bytes else Placement.SPLIT

    @property
    def gpu_fraction(self) -> float | None:
        """The share of the model in VRAM (``ollama ps`` prints ``48%/52% CPU/GPU``); None when unknown."""
        placement = self.placement
        if placement == Placement.UNKNOWN:
            return None
        if placement == Placement.CPU:
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
    status: OllamaStatus
    error: str | None = None
    version: str | None = None
    models: tuple[OllamaModel, ...] = ()
    # Where the URL came from: "default" (127.0.0.1:11434), "OLLAMA_HOST", "inventory", "command line".
    endpoint_from: str = "default"
    inference: InferenceVerdict | None = None
    source: str = "ollama"

    @property
    def vram_bytes(self) -> int | None:
        if self.status != OllamaStatus.OK or any(m.vram_bytes is None for m in self.models):
            return None
        return sum(m.vram_bytes or 0 for m in self.models)

    @property
    def ram_bytes(self) -> int | None:
        if self.status != OllamaStatus.OK:
            return None
        return sum_known(m.ram_bytes for m in self.models)

    @property
    def gpu_accelerated(self) -> str | None:
        """yes (every model wholly in VRAM), partial, or no; None with no model loaded, or one whose
        placement the server did not say (nothing to tell)."""
        placements = {m.placement for m in self.models}
        if self.status != OllamaStatus.OK or not self.models or Placement.UNKNOWN in placements:
            return None
        if placements == {Placement.GPU}:
            return "yes"
        if placements == {Placement.CPU}:
            return "no"
        return "partial"


@dataclass(frozen=True, slots=True)
class VramBreakdown:
    """Device used beside Ollama's reservations on one host; "other" is what else holds VRAM."""

    device_used_bytes: int
    ollama_reserved_bytes: int
    # device used minus Ollama's reservations, floored at 0.
    other_bytes: int
    # Ollama claims more than the device shows in use (reservations are estimates, ollama/ollama#10505).
    ollama_exceeds_device: bool


def vram_breakdown(host: HostReport) -> VramBreakdown | None:
    """Device used, Ollama reserved and the rest, when the host has both device data and an Ollama answer."""
    live = [g for g in host.gpus if not g.lost]
    if not live or host.ollama is None or host.ollama.status != OllamaStatus.OK:
        return None
    used = sum_known(g.memory_used_bytes for g in live)
    reserved = host.ollama.vram_bytes
    if used is None or reserved is None:
        return None
    return VramBreakdown(used, reserved, max(0, used - reserved), reserved > used)
