"""Per GPU over a period: min / mean / max VRAM and temperature, and how long states held.

Durations over time ("time above the warning temperature", "time with a model spilled") are
counted from sample intervals: a sample's state holds until the next sample of the same GPU (or
host), but never longer than :data:`MAX_GAP_S`, so a recorder that stopped for a night does not
count the night. The last sample of a series counts nothing: what came after it is unknown.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .store import History

# The longest a sample is taken to hold (cron every 15 minutes still counts in full).
MAX_GAP_S = 900.0


@dataclass(frozen=True, slots=True)
class Stats:
    minimum: float
    mean: float
    maximum: float


@dataclass(frozen=True, slots=True)
class GpuSummary:
    """One GPU over the asked period. ``None``: no sample could tell."""

    host: str
    gpu_index: int
    name: str | None
    uuid: str | None
    samples: int
    first_ts: float
    last_ts: float
    memory_used_bytes: Stats | None
    memory_total_bytes: int | None  # the largest seen
    temperature_c: Stats | None
    warn_temperature_c: float | None
    warn_origin: str | None
    above_warn_s: float | None
    # The host's Ollama: time with a model split or on CPU; None when its Ollama never answered.
    ollama_spilled_s: float | None


def held(times: Sequence[float], max_gap_s: float = MAX_GAP_S) -> list[float]:
    """How long each sample's state is taken to hold: until the next sample, at most ``max_gap_s``;
    the last one holds 0 s."""
    return [min(b - a, max_gap_s) for a, b in zip(times, times[1:], strict=False)] + [0.0] * bool(times)


def _stats(values: Iterable[float | None]) -> Stats | None:
    known = [float(v) for v in values if v is not None]
    if not known:
        return None
    return Stats(min(known), statistics.fmean(known), max(known))


def summarize(history: History, since: float, until: float, hosts: Iterable[str] | None = None,
              max_gap_s: float = MAX_GAP_S) -> list[GpuSummary]:
    """Per GPU: min/mean/max VRAM used and temperature, time above the warning temperature (as
    ``flockops check`` sets it: ``Thresholds().temperature_limits``), and the host's time with an
    Ollama model spilled to CPU."""
    from flockops.check.rules import Thresholds

    chosen = None if hosts is None else list(hosts)
    thresholds = Thresholds()
    spill = {host: sum(h for (_, is_spilled), h in zip(polls, held([t for t, _ in polls], max_gap_s),
                                                         strict=True) if is_spilled)
             for host, polls in history.spill_polls(since, until, chosen).items()}
    out = []
    for series in history.gpu_series(since, until, chosen):
        rows = [r for r in series.rows if not r.lost]
        last = series.rows[-1]
        above: float | None = None
        warn = origin = None
        temps = [(r, h) for r, h in zip(series.rows, held([r.ts for r in series.rows], max_gap_s), strict=True)
                 if r.temperature_c is not None and not r.lost]
        if temps:
            above = 0.0
            for row, hold in temps:
                warn, _, origin = thresholds.temperature_limits(row.gpu())
                if row.temperature_c is not None and row.temperature_c >= warn:
                    above += hold
        totals = [r.memory_total_bytes for r in rows if r.memory_total_bytes is not None]
        out.append(GpuSummary(
            host=series.host, gpu_index=series.gpu_index,
            name=next((r.name for r in reversed(series.rows) if r.name), None),
            uuid=next((r.uuid for r in reversed(series.rows) if r.uuid), None),
            samples=len(series.rows), first_ts=series.rows[0].ts, last_ts=last.ts,
            memory_used_bytes=_stats(r.memory_used_bytes for r in rows),
            memory_total_bytes=max(totals) if totals else None,
            temperature_c=_stats(r.temperature_c for r in rows),
            warn_temperature_c=warn, warn_origin=origin, above_warn_s=above,
            ollama_spilled_s=spill.get(series.host),
        ))
    gpu_hosts = {s.host for s in out}
    # An Ollama-only node (known by URL) has no GPU rows: it still gets a line for its spill time.
    for host, seconds in spill.items():
        if host not in gpu_hosts:
            out.append(GpuSummary(host, -1, None, None, 0, since, until, None, None, None, None, None, None,
                                  seconds))
    return out


def summary_to_dict(summaries: Sequence[GpuSummary], db: Path, since: float, until: float) -> dict[str, Any]:
    from datetime import datetime, timezone

    def iso(ts: float) -> str:
        return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")

    def stats(s: Stats | None) -> dict[str, float] | None:
        return None if s is None else {"min": s.minimum, "mean": s.mean, "max": s.maximum}

    return {
        "schema_version": 1, "db": str(db), "since": iso(since), "until": iso(until),
        "gpus": [{
            "host": s.host, "gpu_index": None if s.gpu_index < 0 else s.gpu_index, "name": s.name, "uuid": s.uuid,
            "samples": s.samples, "first_at": iso(s.first_ts) if s.samples else None,
            "last_at": iso(s.last_ts) if s.samples else None,
            "memory_used_bytes": stats(s.memory_used_bytes), "memory_total_bytes": s.memory_total_bytes,
            "temperature_c": stats(s.temperature_c), "warn_temperature_c": s.warn_temperature_c,
            "warn_origin": s.warn_origin, "above_warn_s": s.above_warn_s, "ollama_spilled_s": s.ollama_spilled_s,
        } for s in summaries],
    }


def select_hosts(history: History, limit: str | None) -> list[str] | None:
    """``-l PATTERN`` over the recorded host names (globs, ~regex, a:b, a:!b, as for an inventory)."""
    if limit is None:
        return None
    from flockops.inventory.limit import select_names

    names = history.hosts()
    chosen, _ = select_names(limit, names, {"all": names})
    return chosen
