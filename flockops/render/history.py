"""``flockops history``: one line per GPU over the period."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .columns import Column, fit_columns, hidden_note
from .units import GIB, NA, duration, gib

if TYPE_CHECKING:
    from flockops.history.summary import GpuSummary, Stats


def _triple(stats: Stats | None, scale: float, unit: str, digits: int) -> str:
    if stats is None:
        return NA
    parts = (stats.minimum, stats.mean, stats.maximum)
    return " / ".join(f"{v / scale:.{digits}f}" for v in parts) + unit


HISTORY_COLUMNS = [Column("Host", cuttable=True), Column("GPU"), Column("Name", priority=3, cuttable=True),
                   Column("Samples", priority=5), Column("VRAM used min / mean / max", compact_header="VRAM used"),
                   Column("VRAM total", priority=4, compact_header="Total"),
                   Column("Temp min / mean / max", compact_header="Temp"), Column("Warning at", priority=6),
                   Column("Above warning", compact_header="Hot"), Column("Model spilled", priority=2,
                                                                          compact_header="Spilled")]


def history_table(summaries: Sequence[GpuSummary], width: int | None = None) -> str:
    """``flockops history``: one line per GPU over the period."""
    rows = []
    for s in summaries:
        warn = NA if s.warn_temperature_c is None else f"{s.warn_temperature_c:g} °C ({s.warn_origin})"
        rows.append([s.host, NA if s.gpu_index < 0 else str(s.gpu_index), s.name or NA, str(s.samples),
                     _triple(s.memory_used_bytes, GIB, " GiB", 1), gib(s.memory_total_bytes),
                     _triple(s.temperature_c, 1.0, " °C", 0), warn, duration(s.above_warn_s),
                     duration(s.ollama_spilled_s)])
    fitted = fit_columns(HISTORY_COLUMNS, rows, width)
    return fitted.text + hidden_note(fitted, width)


def history_heading(summaries: Sequence[GpuSummary], db: object, since: float, until: float) -> str:
    from datetime import datetime

    def local(ts: float) -> str:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")

    gpus = [s for s in summaries if s.gpu_index >= 0]
    hosts = len({s.host for s in gpus})
    found = (f"{len(gpus)} GPU{'s' * (len(gpus) != 1)} on {hosts} host{'s' * (hosts != 1)}" if summaries
             else "no samples (record some with `flockops report --record`)")
    return f"History in {db}, {local(since)} to {local(until)} ({duration(until - since)}): {found}"
