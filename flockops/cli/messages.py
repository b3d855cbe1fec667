"""What the CLI says on stderr beside the report: warnings, said once each where a command repeats.

While ``watch`` draws frames on a terminal, a warning on stderr would be wiped by the next frame: such
warnings are held (:func:`hold`), shown under each frame, and printed when the watch ends.
"""

from __future__ import annotations

import sys

_held: list[str] | None = None


def warn(message: str) -> None:
    if _held is not None:
        if message not in _held:
            _held.append(message)
        return
    print(f"flockops: warning: {message}", file=sys.stderr)


def hold() -> None:
    """From now on, keep warnings for the caller to show (``held``) instead of printing them."""
    global _held
    _held = []


def held() -> list[str]:
    return list(_held or [])


def release() -> None:
    """Print the held warnings (below the last frame, where they stay) and print the next ones at once."""
    global _held
    kept, _held = _held or [], None
    for message in kept:
        warn(message)


def check_status_line(text: str) -> None:
    """What a monitoring system shows for a check that could not run: one status line on stdout
    (Nagios reads stdout only, and would show "(No output)")."""
    print(f"FLOCKOPS UNKNOWN - {' '.join(text.split())}", flush=True)
