"""What a vLLM or SGLang server has claimed of a GPU but does not hold yet: ``fit`` counts it as taken.

Both take a fixed share of each GPU they run on when they start: vLLM its
``gpu_memory_utilization`` (default 0.9), SGLang its ``mem_fraction_static``, for the weights and
a KV cache sized to fill it. While one loads, or before its KV cache is allocated, the device
still shows that memory free; placing a model there would fail the moment the engine finishes.
So: claimed = share x the GPU's total; pending = claimed - what its processes hold there now.
The share is the engine's own answer over HTTP, else its flags'; when neither says, nothing is
subtracted and ``fit`` says so. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from flockops.agent.engine_model import reported_fraction
from flockops.agent.model import Engine, GpuSample, HostReport

RESERVING = frozenset({Engine.VLLM, Engine.SGLANG})


@dataclass(frozen=True, slots=True)
class Reservation:
    engine: Engine
    engine_pid: int | None
    claimed_bytes: int
    held_bytes: int
    source: str  # "engine" (its HTTP answer) or "flags"

    @property
    def pending_bytes(self) -> int:
        return max(0, self.claimed_bytes - self.held_bytes)


def reservations(host: HostReport, gpu: GpuSample) -> tuple[list[Reservation], list[str]]:
    """The reservations of the vLLM and SGLang servers holding ``gpu``, and what could not be told."""
    found: list[Reservation] = []
    notes: list[str] = []
    by_engine: dict[int | None, list[int | None]] = {}
    kinds: dict[int | None, Engine] = {}
    fractions: dict[int | None, float | None] = {}
    for holder in gpu.processes or ():
        if holder.engine not in RESERVING:
            continue
        owner = holder.engine_pid if holder.engine_pid is not None else holder.pid
        by_engine.setdefault(owner, []).append(holder.memory_used_bytes)
        kinds[owner] = holder.engine
        if fractions.get(owner) is None:
            fractions[owner] = holder.engine_memory_fraction
    for key, held in by_engine.items():
        said = reported_fraction(host, key)
        fraction, source = (said, "engine") if said is not None else (fractions.get(key), "flags")
        label = f"{kinds[key]} (pid {key}) on GPU {gpu.index}"
        if fraction is None or not 0 < fraction <= 1:
            notes.append(f"{label}: its share of the GPU is unknown (not asked, and not in its flags); "
                         "nothing subtracted for it")
            continue
        if gpu.memory_total_bytes is None or any(h is None for h in held):
            notes.append(f"{label}: the GPU's total or its processes' memory is unknown; nothing subtracted")
            continue
        found.append(Reservation(kinds[key], key, int(fraction * gpu.memory_total_bytes),
                                 sum(h for h in held if h is not None), source))
    return found, notes


def pending_bytes(host: HostReport, gpu: GpuSample) -> tuple[int, list[str]]:
    """What the GPU's vLLM and SGLang servers will still take, and the notes of what is unknown."""
    found, notes = reservations(host, gpu)
    return sum(r.pending_bytes for r in found), notes
