"""``flockops watch``: the fleet table with each host's data age, stale hosts kept with their last data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .ollama import ollama_cell
from .report import NO_DATA, gpu_count, host_table, hottest, problem, used_of_total
from .table import simple_table
from .units import age

if TYPE_CHECKING:
    from flockops.watch.loop import HostView


def _watch_status(view: HostView) -> str:
    if view.stale:
        return f"STALE, last data {age(view.age_s)} ago"
    return f"{view.report.status}, age {age(view.age_s)}"


def watch_table(views: Sequence[HostView], summary: bool = False, verbose: bool = False) -> str:
    """The watch frame's body: each host's section (or one line each with ``summary``), then totals."""
    if summary:
        rows = [[v.report.host, "STALE" if v.stale else v.report.status, age(v.age_s), gpu_count(v.report),
                 used_of_total(v.report.gpus), hottest(v.report), ollama_cell(v.report),
                 "; ".join(f"now {e.kind}: {e.message}" for e in v.now_errors) if v.stale else problem(v.report)]
                for v in views]
        headers = ["Host", "Status", "Age", "GPUs", "VRAM used / total", "Hottest", "Ollama", "Problem"]
        if not any(v.report.ollama is not None for v in views):
            rows, headers = [r[:6] + r[7:] for r in rows], headers[:6] + headers[7:]
        body = simple_table(rows, headers)
    else:
        sections = []
        for view in views:
            text = host_table(view.report, verbose, status=_watch_status(view))
            if view.stale:
                text += "".join(f"\n! now {e.kind} ({e.source}): {e.message}" for e in view.now_errors)
            sections.append(text)
        body = "\n\n".join(sections) + "\n"
    if len(views) > 1 or summary:
        gpus = [g for v in views for g in v.report.gpus]
        stale = sum(v.stale for v in views)
        # Not stale and failed: a host that has not answered once, so neither fresh nor stale.
        never = sum(1 for v in views if not v.stale and v.report.status in NO_DATA)
        without = f", {never} without data" if never else ""
        body += (f"\nFleet: {len(views)} hosts ({len(views) - stale - never} fresh, {stale} stale{without}) | "
                 f"GPUs: {len(gpus)} | VRAM used / total: {used_of_total(gpus)}\n")
    return body
