"""The terminal a command's tables are fitted to."""

from __future__ import annotations

import argparse
import sys


def table_width(args: argparse.Namespace) -> int | None:
    """What the tables fit: the terminal's width (else COLUMNS), or no limit with --wide."""
    from flockops.render.columns import terminal_width

    return None if getattr(args, "wide", False) else terminal_width(sys.stdout)
