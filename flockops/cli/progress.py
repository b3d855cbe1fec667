"""The progress line of a long fleet run: on a terminal's stderr only, from its second second on.

``12/20 hosts done (1 failed), 8 pending; slowest: gpu-07 4 s`` rewritten in place a few times a
second, and erased when the run ends, so that what follows on the terminal (the table) starts
clean. Nothing when stderr is not a terminal (cron, a pipe, a log) or with ``-q``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from flockops.agent.fields import count, seconds

if TYPE_CHECKING:
    from flockops.remote.fleet import Progress

# A run quicker than this says nothing: a line that flashes for a moment is noise.
QUIET_FOR_S = 1.0
EVERY_S = 0.25
_ERASE = "\r\x1b[K"


def line(progress: Progress) -> str:
    failed = f" ({progress.failed} failed)" if progress.failed else ""
    text = f"{progress.done}/{count(progress.total, 'host')} done{failed}, {progress.pending} pending"
    if progress.running:
        host, taken = progress.running[0]
        text += f"; slowest: {host} {seconds(taken)} s"
    return text


class ProgressLine:
    """A FleetOptions.progress callback that draws :func:`line` on ``stream``."""

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream
        self.clock = clock
        self.shown = False
        self.last = 0.0

    def __call__(self, progress: Progress) -> None:
        if progress.finished:
            if self.shown:
                self.stream.write(_ERASE)
                self.stream.flush()
                self.shown = False
            return
        now = self.clock()
        if progress.elapsed_s < QUIET_FOR_S or now - self.last < EVERY_S:
            return
        self.last = now
        width = shutil.get_terminal_size().columns - 1  # never wrap: \r returns only to this line's start
        self.stream.write(_ERASE + line(progress)[:max(width, 20)])
        self.stream.flush()
        self.shown = True


def progress_for(stream: TextIO, quiet: bool) -> ProgressLine | None:
    """A progress line for ``stream`` when it is a terminal and ``quiet`` is not set."""
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return ProgressLine(stream) if tty and not quiet else None
