"""Charts of recorded history: VRAM used against total, temperature against the slowdown limit.

One row per GPU, titled with its host: VRAM on the left (used filled, total dashed), temperature on
the right (the slowdown limit dashed, the warning temperature dotted, time above it shaded). All
rows share the time axis. matplotlib is an optional extra (``pip install 'flockops[plot]'``),
imported here only, through its object API (no pyplot, no global figure state, no GUI backend).
"""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flockops.errors import UsageError
from flockops.render.units import duration

from .store import GpuSeries
from .summary import MAX_GAP_S, GpuSummary, held

if TYPE_CHECKING:
    from matplotlib.figure import Figure

GIB = float(1 << 30)
# Past this many GPUs the image stops being readable; the rest are left out with a warning.
MAX_ROWS = 48
FORMATS = (".png", ".svg")

USED = "#1f77b4"
TOTAL = "#555555"
TEMP = "#d62728"
SLOWDOWN = "#7f0000"
WARN = "#ff7f0e"
SPILL = "#9467bd"


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("plots need matplotlib: pip install 'flockops[plot]'") from None


def check_plot_path(path: Path) -> None:
    if path.suffix.lower() not in FORMATS:
        raise UsageError(f"--plot {path}: the file name must end in .png or .svg")


def _segments(times: Sequence[float], max_gap_s: float) -> list[int]:
    """Indexes where a gap longer than ``max_gap_s`` starts a new line segment."""
    return [i for i in range(1, len(times)) if times[i] - times[i - 1] > max_gap_s]


def _with_gaps(times: Sequence[float], values: Sequence[float | None],
               max_gap_s: float) -> tuple[list[Any], list[float]]:
    """Dates and values, with a NaN between samples further apart than ``max_gap_s``, so the line
    breaks where the recorder was silent instead of drawing a straight line across the gap."""
    nan = float("nan")
    xs: list[Any] = []
    ys: list[float] = []
    breaks = set(_segments(times, max_gap_s))
    for i, (t, v) in enumerate(zip(times, values, strict=True)):
        if i in breaks:
            xs.append(datetime.fromtimestamp((times[i - 1] + t) / 2))
            ys.append(nan)
        xs.append(datetime.fromtimestamp(t))
        ys.append(nan if v is None else float(v))
    return xs, ys


def spans(polls: Sequence[tuple[float, bool]], max_gap_s: float = MAX_GAP_S) -> list[tuple[float, float]]:
    """(start, end) of each stretch of polls with a model spilled, each poll holding as in
    :func:`flockops.history.summary.held`; the last one of a stretch is drawn until the next poll."""
    out: list[tuple[float, float]] = []
    for (ts, is_spilled), hold in zip(polls, held([t for t, _ in polls], max_gap_s), strict=True):
        if not is_spilled:
            continue
        if out and abs(out[-1][1] - ts) < 1e-6:
            out[-1] = (out[-1][0], ts + hold)
        else:
            out.append((ts, ts + hold))
    return out


def figure(series: Sequence[GpuSeries], since: float, until: float, max_gap_s: float = MAX_GAP_S,
           spills: Mapping[str, Sequence[tuple[float, bool]]] | None = None) -> Figure:
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    from flockops.check.rules import Thresholds

    rows = max(1, len(series))
    fig = Figure(figsize=(13, 1.3 + row_height_in(rows) * rows), layout="constrained")
    axes = fig.subplots(rows, 2, sharex=True, squeeze=False)
    first, last = data_span(series, since, until)
    start, end = datetime.fromtimestamp(first), datetime.fromtimestamp(last)
    fig.suptitle(f"flockops history, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}", fontsize=13,
                 fontweight="bold")
    if not series:
        for ax in axes[0]:
            ax.text(0.5, 0.5, "no samples in this period", ha="center", va="center", transform=ax.transAxes)
    thresholds = Thresholds()
    any_spill = False
    for row, s in enumerate(series):
        vram, temp = axes[row]
        times = [r.ts for r in s.rows]
        name = next((r.name for r in reversed(s.rows) if r.name), None) or "GPU"
        label = f"{s.host}  ·  GPU {s.gpu_index}  ·  {name}"

        xs, used = _with_gaps(times, [None if r.memory_used_bytes is None else r.memory_used_bytes / GIB
                                      for r in s.rows], max_gap_s)
        _, total = _with_gaps(times, [None if r.memory_total_bytes is None else r.memory_total_bytes / GIB
                                      for r in s.rows], max_gap_s)
        vram.fill_between(xs, used, 0, color=USED, alpha=0.25, linewidth=0)
        vram.plot(xs, used, color=USED, linewidth=1.6, label="VRAM used")
        vram.plot(xs, total, color=TOTAL, linewidth=1.2, linestyle="--", label="VRAM total")
        known_total = [t for t in total if t == t]
        known_used = [u for u in used if u == u]
        top = max(known_total + known_used + [1.0])
        vram.set_ylim(0, top * 1.08)
        vram.set_ylabel("VRAM, GiB")
        vram.set_title(label, loc="left", fontsize=11, fontweight="bold")
        if known_used:
            peak = f"peak {max(known_used):.1f}" + (f" of {max(known_total):.0f} GiB" if known_total else " GiB")
            vram.set_title(peak, loc="right", fontsize=9, color=TOTAL)
        spilled = spans((spills or {}).get(s.host, ()), max_gap_s)
        for a, b in spilled:
            for ax in (vram, temp):
                ax.axvspan(datetime.fromtimestamp(a), datetime.fromtimestamp(b), color=SPILL, alpha=0.15, linewidth=0)
        # Said in the temperature panel's title, whose left title is short: a legend inside the axes
        # would cover the data.
        spill_text = f"model spilled to CPU {duration(sum(b - a for a, b in spilled))}" if spilled else ""
        any_spill = any_spill or bool(spilled)

        _, temps = _with_gaps(times, [r.temperature_c for r in s.rows], max_gap_s)
        _, slowdown = _with_gaps(times, [r.temperature_slowdown_c for r in s.rows], max_gap_s)
        warn_values = [thresholds.temperature_limits(r.gpu())[0] for r in s.rows]
        _, warn = _with_gaps(times, warn_values, max_gap_s)
        temp.plot(xs, temps, color=TEMP, linewidth=1.6, label="temperature")
        if any(v == v for v in slowdown):
            temp.plot(xs, slowdown, color=SLOWDOWN, linewidth=1.2, linestyle="--", label="slowdown limit")
        temp.plot(xs, warn, color=WARN, linewidth=1.0, linestyle=":", label="warning")
        hot = [t == t and w == w and t >= w for t, w in zip(temps, warn, strict=True)]
        temp.fill_between(xs, temps, warn, where=hot, color=TEMP, alpha=0.25, linewidth=0, interpolate=True)
        known_temps = [t for t in temps if t == t]
        limits = [v for v in slowdown + warn if v == v]
        low = min(known_temps + limits + [30.0])
        high = max(known_temps + limits + [60.0])
        temp.set_ylim(low - 5, high + 4)
        temp.set_ylabel("temperature, °C")
        temp.set_title(f"{s.host}  ·  GPU {s.gpu_index}", loc="left", fontsize=11, fontweight="bold")
        said = [spill_text] if spill_text else []
        hot_s = 0.0
        if known_temps:
            hot_s = sum(h for r, h in zip(s.rows, held(times, max_gap_s), strict=True)
                        if r.temperature_c is not None and r.temperature_c >= thresholds.temperature_limits(r.gpu())[0])
            above = f"  ·  {duration(hot_s)} above warning" if hot_s else ""
            said.insert(0, f"max {max(known_temps):.0f} °C{above}")
        if said:
            temp.set_title("  ·  ".join(said), loc="right", fontsize=9,
                           color=TEMP if hot_s else SPILL if spill_text else TOTAL)
        for ax in (vram, temp):
            ax.grid(True, color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
    if series:
        _legend(fig, axes, any_spill)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    for ax in axes[-1]:
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    axes[0][0].set_xlim(start, end)
    return fig


def row_height_in(rows: int) -> float:
    """Inches per GPU row: 2.5 for a few GPUs, down to 1.5 for many (an 8-GPU host was 2090 px tall)."""
    return max(1.5, 2.5 - 0.15 * (rows - 1))


def data_span(series: Sequence[GpuSeries], since: float, until: float) -> tuple[float, float]:
    """The time axis: from the first sample to the last within [since, until], padded a little; the
    whole window when there is none. A day's window over an hour of history was a sliver at its edge."""
    times = [r.ts for s in series for r in s.rows if since <= r.ts <= until]
    if not times:
        return since, until
    first, last = min(times), max(times)
    pad = max((last - first) * 0.02, 60.0)
    return max(since, first - pad), min(until, last + pad)


def _legend(fig: Figure, axes: Any, spill: bool) -> None:
    """One legend for every row, below them, outside the data."""
    handles: list[Any] = [*axes[0][0].get_lines(), *axes[0][1].get_lines()]
    if spill:
        from matplotlib.patches import Patch

        handles.append(Patch(color=SPILL, alpha=0.3, label="Ollama model spilled to CPU"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9, frameon=False)


def _shown(series: Sequence[GpuSeries]) -> tuple[Sequence[GpuSeries], list[str]]:
    if len(series) <= MAX_ROWS:
        return series, []
    return series[:MAX_ROWS], [f"the plot shows the first {MAX_ROWS} of {len(series)} GPUs; "
                               "choose hosts with -l for the rest"]


def _save(fig: Figure, target: Any, fmt: str) -> None:
    import matplotlib

    # Text stays text in an SVG (searchable, and the host names can be found in it).
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "flockops"}):
        fig.savefig(target, format=fmt, dpi=100)


def write_plot(path: Path, series: Sequence[GpuSeries], since: float, until: float,
               spills: Mapping[str, Sequence[tuple[float, bool]]] | None = None) -> list[str]:
    """Draw the chart to ``path`` (.png or .svg); returns warnings for the caller to show."""
    check_plot_path(path)
    shown, warnings = _shown(series)
    try:
        _save(figure(shown, since, until, spills=spills), str(path), path.suffix.lower().lstrip("."))
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return warnings


def svg_text(series: Sequence[GpuSeries], since: float, until: float,
             spills: Mapping[str, Sequence[tuple[float, bool]]] | None = None) -> str:
    buffer = io.StringIO()
    _save(figure(series, since, until, spills=spills), buffer, "svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # no XML declaration or DOCTYPE inside HTML


def write_html(path: Path, series: Sequence[GpuSeries], summaries: Sequence[GpuSummary], since: float,
               until: float, spills: Mapping[str, Sequence[tuple[float, bool]]] | None = None) -> list[str]:
    """One self-contained page: the summary table and the chart inline as SVG (no external file)."""
    from flockops.render.history import history_table

    shown, warnings = _shown(series)
    start, end = datetime.fromtimestamp(since), datetime.fromtimestamp(until)
    title = f"flockops history, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
    table = history_table(summaries) if summaries else "no samples in this period\n"
    notes = "".join(f"<p class=note>{html.escape(w)}</p>" for w in warnings)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
pre {{ background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 13px; }}
.chart svg {{ max-width: 100%; height: auto; }}
.note {{ color: #a35200; }}
</style>
</head>
<body>
<h1>{html.escape(title)}</h1>
<pre>{html.escape(table)}</pre>
{notes}
<div class="chart">
{svg_text(shown, since, until, spills)}
</div>
<p>Made by <code>flockops history --html</code> at {datetime.now():%Y-%m-%d %H:%M}.</p>
</body>
</html>
"""
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return warnings
