"""``flockops watch``: the fleet table with each host's data age, stale hosts kept with their last data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .columns import Column, fit_columns, hidden_note, wrapped
from .ollama import ollama_cell
from .report import NO_DATA, gpu_count, host_table, hottest, problem, used_of_total
from .units import age

if TYPE_CHECKING:
    from flockops.watch.loop import HostView


def _watch_status(view: HostView) -> str:
    if view.stale:
        return f"STALE, last data {age(view.age_s)} ago"
    return f"{view.report.status}, age {age(view.age_s)}"


WATCH_COLUMNS = [Column("Host", cuttable=True), Column("Status"), Column("Age"), Column("GPUs", priority=2),
                 Column("VRAM used / total", compact_header="VRAM"), Column("Hottest", priority=1),
                 Column("Ollama", priority=3, cuttable=True)]


def watch_table(views: Sequence[HostView], summary: bool = False, verbose: bool = False,
                width: int | None = None) -> str:
    """The watch frame's body: each host's section (or one line each with ``summary``), then totals;
    fitted to ``width``, with each host's problems under the table."""
    if summary:
        with_ollama = any(v.report.ollama is not None for v in views)
        columns = WATCH_COLUMNS if with_ollama else WATCH_COLUMNS[:-1]
        rows = [[v.report.host, "STALE" if v.stale else v.report.status, age(v.age_s), gpu_count(v.report),
                 used_of_total(v.report.gpus), hottest(v.report), ollama_cell(v.report)][:len(columns)]
                for v in views]
        fitted = fit_columns(columns, rows, width)
        body = fitted.text + hidden_note(fitted, width)
        said = [line for v in views
                for text in ([f"! {v.report.host}: now {e.kind}: {e.message}" for e in v.now_errors] if v.stale
                             else [f"! {v.report.host}: {problem(v.report)}"] if problem(v.report) else [])
                for line in wrapped(text, width)]
        if said:
            body += "\n" + "\n".join(said) + "\n"
    else:
        sections = []
        for view in views:
            text = host_table(view.report, verbose, status=_watch_status(view), width=width)
            if view.stale:
                text += "".join(f"\n{line}" for e in view.now_errors
                                for line in wrapped(f"! now {e.kind} ({e.source}): {e.message}", width))
            sections.append(text)
        body = "\n\n".join(sections) + "\n"
    if len(views) > 1 or summary:
        gpus = [g for v in views for g in v.report.gpus]
        stale = sum(v.stale for v in views)
        # Not stale and failed: a host that has not answered once, so neither fresh nor stale.
        never = sum(1 for v in views if not v.stale and v.report.status in NO_DATA)
        without = f", {never} without data" if never else ""
        totals = (f"Fleet: {len(views)} hosts ({len(views) - stale - never} fresh, {stale} stale{without}) | "
                  f"GPUs: {len(gpus)} | VRAM used / total: {used_of_total(gpus)}")
        body += "\n" + "\n".join(wrapped(totals, width)) + "\n"
    return body
