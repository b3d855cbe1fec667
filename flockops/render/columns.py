"""Tables that fit the terminal: columns with priorities, collapsing the way nvitop and gpustat do.

A table is first drawn whole. Too wide for the terminal, it is drawn compact (each cell's short
form: ``79.6G`` for ``81,559 MiB (79.6 GiB)``, ``62/87°C``), then its least important columns are
left out one by one, and last its long texts (a GPU's name) are cut with ``…``. ``--wide`` and a
stream that is no terminal (without ``COLUMNS``) get every column whole: a script reads them all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TextIO, TypeAlias

from .table import simple_table

# A cell: its text, or (whole, compact).
Cell: TypeAlias = "str | tuple[str, str]"

ELLIPSIS = "…"
# A cut text keeps at least this much: "NVIDIA H1…" still says which card.
MIN_CUT_CHARACTERS = 10


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    # 0: always shown; otherwise the higher the number, the sooner it is left out.
    priority: int = 0
    compact_header: str | None = None
    # Free text (a name) that may be cut with … when nothing else is left to do.
    cuttable: bool = False


@dataclass(frozen=True, slots=True)
class Fitted:
    text: str
    hidden: tuple[str, ...]  # the headers left out, most important first


def terminal_width(stream: TextIO, env: Mapping[str, str] | None = None) -> int | None:
    """The width to fit: the terminal's, else ``COLUMNS``; None (no limit) for a pipe or a file
    without ``COLUMNS``."""
    env = os.environ if env is None else env
    try:
        if stream.isatty():
            return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        pass
    try:
        columns = int(env.get("COLUMNS", ""))
    except ValueError:
        return None
    return columns if columns > 0 else None


def width_of(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def fit_columns(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int | None,
              wide: bool = False) -> Fitted:
    """``rows`` drawn under ``columns`` within ``width`` characters, as far as that can be done."""
    whole = _draw(columns, rows, range(len(columns)), compact=False)
    if wide or width is None or width_of(whole) <= width:
        return Fitted(whole, ())
    shown = list(range(len(columns)))
    text = _draw(columns, rows, shown, compact=True)
    # Least important first; of equal priority, the rightmost.
    order = sorted((i for i, c in enumerate(columns) if c.priority > 0), key=lambda i: (-columns[i].priority, -i))
    for index in order:
        if width_of(text) <= width:
            break
        shown.remove(index)
        text = _draw(columns, rows, shown, compact=True)
    if width_of(text) > width:
        text = _cut(columns, rows, shown, width, text)
    hidden = tuple(columns[i].header for i in sorted(set(range(len(columns))) - set(shown),
                                                   key=lambda i: columns[i].priority))
    return Fitted(text, hidden)


def hidden_note(fitted: Fitted, width: int | None) -> str:
    """The line under a table that left columns out; "" when none was."""
    if not fitted.hidden:
        return ""
    return "\n".join(wrapped(f"(--wide shows {', '.join(fitted.hidden)}: left out to fit {width} columns)",
                             width, indent=" ")) + "\n"


def _text(cell: Cell, compact: bool) -> str:
    if isinstance(cell, tuple):
        return cell[1] if compact else cell[0]
    return cell


def _draw(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], shown: Sequence[int] | range,
          compact: bool, limits: Mapping[int, int] | None = None) -> str:
    headers = [(columns[i].compact_header or columns[i].header) if compact else columns[i].header for i in shown]
    body = []
    for row in rows:
        cells = []
        for i in shown:
            text = _text(row[i], compact) if i < len(row) else ""
            limit = (limits or {}).get(i)
            if limit is not None and len(text) > limit:
                text = text[:limit - 1] + ELLIPSIS
            cells.append(text)
        body.append(cells)
    return simple_table(body, headers)


def _cut(columns: Sequence[Column], rows: Sequence[Sequence[Cell]], shown: list[int], width: int,
         text: str) -> str:
    """Cut the cuttable columns, widest first, until the table fits or none can give more."""
    limits: dict[int, int] = {}
    for index in sorted((i for i in shown if columns[i].cuttable),
                        key=lambda i: -max((len(_text(r[i], True)) for r in rows if i < len(r)), default=0)):
        longest = max((len(_text(r[index], True)) for r in rows if index < len(r)), default=0)
        excess = width_of(text) - width
        if excess <= 0:
            break
        limits[index] = max(MIN_CUT_CHARACTERS, longest - excess)
        text = _draw(columns, rows, shown, compact=True, limits=limits)
    return text


def wrapped(text: str, width: int | None, indent: str = "  ") -> list[str]:
    """A line of text within ``width``, its continuation lines indented; as it is without a width."""
    if width is None or len(text) <= width:
        return [text]
    import textwrap

    return textwrap.wrap(text, width=width, subsequent_indent=indent, break_on_hyphens=False) or [text]
