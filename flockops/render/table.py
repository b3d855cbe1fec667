"""Plain tables, drawn by tabulate (imported only when a table is drawn)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .units import NA


def simple_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    from tabulate import tabulate

    return str(tabulate([[NA if v is None else v for v in row] for row in rows], headers=list(headers),
                        tablefmt="simple", disable_numparse=True)) + "\n"
