"""``flockops fit``: where a model of a given size fits now, best first."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .columns import Column, fit_columns, hidden_note, wrapped
from .units import deg, gib

if TYPE_CHECKING:
    from flockops.ollama.capacity import FitResult


FIT_COLUMNS = [Column("Rank"), Column("Host", cuttable=True), Column("GPU"), Column("Free"), Column("Headroom"),
               Column("Temp", priority=2), Column("Placement", priority=1), Column("Source", priority=3)]


def fit_table(result: FitResult, width: int | None = None) -> str:
    asked = f"{result.model} ({gib(result.size_bytes)})" if result.model else gib(result.size_bytes)
    needed = f"{asked} + {gib(result.margin_bytes)} margin = {gib(result.needed_bytes)}"
    out: list[str] = []
    for host, placement in result.loaded_on:
        out.append(f"{result.model} is already loaded on {host} (placement: {placement}).")
    if result.candidates:
        out.append(f"Can hold {needed} now, best first:")
        rows = [[str(rank), p.host, ",".join(str(i) for i in p.gpus), gib(p.free_bytes), gib(p.headroom_bytes),
                 deg(p.temperature_c), "one GPU" if p.kind == "gpu" else f"split over {len(p.gpus)} GPUs",
                 p.source] for rank, p in enumerate(result.candidates, 1)]
        fitted = fit_columns(FIT_COLUMNS, rows, width)
        out.append((fitted.text + hidden_note(fitted, width)).rstrip("\n"))
    else:
        out.append(f"Nothing can hold {needed} now.")
    if any(p.engine_pending_bytes for p in result.candidates):
        out.extend(wrapped("Free leaves out what vLLM or SGLang servers there have claimed but not taken yet "
                           "(their share of each GPU, less what they hold).", width))
    out.extend(line for note in result.notes for line in wrapped(f"Note: {note}", width))
    if result.skipped:
        out.append("Skipped:")
        out.extend(line for s in result.skipped
                   for line in wrapped(f"  {s.host}{'' if s.gpu is None else f' GPU {s.gpu}'}: {s.reason}", width,
                                       indent="    "))
    return "\n".join(out) + "\n"
