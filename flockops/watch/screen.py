"""Frames on a terminal, drawn in place with plain ANSI sequences (cursor home, clear to end of line,
clear below): no curses. Anywhere else (a pipe, a log file) one frame after another, no escapes."""

from __future__ import annotations

import os
from datetime import datetime
from typing import TextIO

from .loop import Tick


class Screen:
    """Shows frames: drawn in place on a terminal, one after another elsewhere."""

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.frames = 0

    def _size(self) -> os.terminal_size:
        try:
            size = os.get_terminal_size(self.out.fileno())
        except (OSError, ValueError):
            size = os.terminal_size((0, 0))
        # A terminal that says 0x0 (a pty nobody sized: script, some CI) would cut every line to nothing.
        return os.terminal_size((size.columns or 100, size.lines or 40))

    def show(self, text: str) -> None:
        lines = text.rstrip("\n").split("\n")
        if not self.tty:
            self.out.write(("\n" if self.frames else "") + "\n".join(lines) + "\n")
        else:
            columns, rows = self._size()
            if len(lines) > rows:
                hidden = len(lines) - rows + 1
                lines = lines[:rows - 1] + [f"... {hidden} more lines: a taller window, --summary or -l shows them"]
            # Over-long lines would wrap and push the frame off the screen.
            lines = [line[:columns] for line in lines]
            start = "\x1b[?25l\x1b[2J" if not self.frames else ""  # hide the cursor, clear once
            self.out.write(start + "\x1b[H" + "\x1b[K\n".join(lines) + "\x1b[K\x1b[J")
        self.out.flush()
        self.frames += 1

    def close(self) -> None:
        """Leave the last frame on screen, the cursor below it and visible again."""
        if self.tty and self.frames:
            self.out.write("\x1b[J\n\x1b[?25h")
            self.out.flush()


def header(tick: Tick, interval_s: float, count: int | None, tty: bool) -> str:
    shown = datetime.fromtimestamp(tick.started_at).strftime("%H:%M:%S")
    of = f"/{count}" if count else ""
    quit_hint = " | Ctrl-C quits" if tty else ""
    return (f"flockops watch | every {interval_s:g} s | refresh {tick.number}{of} at {shown} | "
            f"took {tick.wall_s:.2f} s{quit_hint}")
