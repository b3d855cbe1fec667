"""Pure helpers that turn tool text into values. No I/O.

Every sentinel a tool prints for "no value" goes through :func:`field_text` and becomes
``None``; nothing downstream compares strings against ``"[N/A]"``.
"""

from __future__ import annotations

import re

from flockops.errors import ParseError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing is slow to import, and the probe never needs it
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

# What nvidia-smi (and friends) print instead of a value. Compared case-insensitively
# after stripping brackets and whitespace, e.g. "[N/A]", "N/A", "[Not Supported]",
# "[Unknown Error]", "[Function Not Found]", "[GPU requires reset]",
# "[Requested functionality has been deprecated]", "[Insufficient Permissions]".
_SENTINELS = frozenset(
    {
        "",
        "n/a",
        "na",
        "not supported",
        "unknown error",
        "function not found",
        "gpu requires reset",
        "gpu is lost",
        "requested functionality has been deprecated",
        "insufficient permissions",
        "not available",
        "unknown",
    }
)

# Pattern strings, compiled on first use (re caches them): every probe imports this module.
_UNIT_RE = r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z%]*)\s*$"


def field_text(raw: str | None) -> str | None:
    """The value of one tool field, or None for any "no value" sentinel.

    >>> field_text(" [N/A]"), field_text("NVIDIA H200")
    (None, 'NVIDIA H200')
    """
    if raw is None:
        return None
    text = raw.strip().strip("\x00").strip()
    key = text.strip("[]").strip().lower()
    if key in _SENTINELS:
        return None
    return text


def number(raw: str | None, what: str = "value") -> float | None:
    """A number with an optional unit suffix ("71.15 W", "59 MiB", "45 %"); sentinels give None.

    Anything else is a parse error quoting the text: a malformed value is never "no GPU".
    """
    text = field_text(raw)
    if text is None:
        return None
    match = re.match(_UNIT_RE, text)
    if not match:
        raise ParseError(f"cannot read {what} as a number", raw)
    return float(match.group(1))


def integer(raw: str | None, what: str = "value") -> int | None:
    value = number(raw, what)
    return None if value is None else int(round(value))


def mib_to_bytes(raw: str | None, what: str = "memory") -> int | None:
    """nvidia-smi memory fields are MiB ("81559" or "81559 MiB")."""
    value = number(raw, what)
    return None if value is None else int(value) * 1024 * 1024


def hex_mask(raw: str | None, what: str = "bitmask") -> int | None:
    """A hexadecimal bitmask such as "0x0000000000000044"."""
    text = field_text(raw)
    if text is None:
        return None
    try:
        return int(text, 16)
    except ValueError:
        raise ParseError(f"cannot read {what} as a hexadecimal mask", raw) from None



def pci_bus_key(bus_id: str | None) -> str | None:
    """A PCI address normalised for matching: nvidia-smi's "00000000:83:00.0" and sysfs's
    "0000:83:00.0" both become "0000:83:00.0"."""
    text = field_text(bus_id)
    if text is None:
        return None
    parts = text.lower().split(":")
    if len(parts) == 3:
        try:
            return f"{int(parts[0], 16):04x}:{parts[1]}:{parts[2]}"
        except ValueError:
            pass
    return text.lower()


class Lenient:
    """Reads each field on its own: a value that does not parse is None, its reason noted in
    ``errors`` under the field, and the GPU's other fields stand (one odd value must not cost the
    driver every GPU)."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors

    def __call__(self, field: str, parse: Callable[..., T], *args: Any) -> T | None:
        try:
            return parse(*args)
        except ParseError as exc:
            self.errors.setdefault(field, str(exc))
            return None
