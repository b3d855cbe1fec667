"""Lengths of time as commands take them: ``--retention 30d``, ``--since 24h`` or a date."""

from __future__ import annotations

import re

DEFAULT_SINCE_S = 86400.0

_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}

# The unit is required: a bare "30" meant 30 seconds to --retention, which deleted a day of history.
# Lower case only: "30M" reads as months to many, and flockops's m is minutes.
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(s|min|m|h|d|w)\s*$")

_LONGEST_S = 100 * 365 * 86400.0


def parse_duration(text: str) -> float:
    """"30d", "24h", "90m" or "90min", "45s", "2w", in seconds; ValueError otherwise."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (a number and a unit: 30d, 24h, 90m, 45s, 2w)")
    value = float(match.group(1)) * _UNITS[match.group(2)]
    if value <= 0:
        raise ValueError(f"a duration must be more than 0: {text!r}")
    if value > _LONGEST_S:
        raise ValueError(f"a duration of more than 100 years: {text!r}")
    return value


def parse_since(text: str, now: float) -> float:
    """``--since``: a duration back from ``now`` ("24h") or a date and time ("2025-06-01T08:00")."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"--since: not a duration or date: {text!r} (try 24h, 7d or 2025-06-01T08:00)") from None
