"""What the ROCm command-line drivers (amd-smi, rocm-smi) share: finding the JSON in a tool's
output, reading values that arrive as strings, and the outcomes that are not crashes.

Standard library only; no I/O beyond what the Context runs.
"""

from __future__ import annotations

import json
import re

from flockops.errors import DriverFailed, DriverUnavailable, ParseError

from ..driver import CommandResult
from ..parse import field_text

# typing is slow to import and the probe never needs it: annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Texts that mean "nothing to read here", not "broken" (matched case-insensitively).
UNAVAILABLE_TEXTS = (
    # rocm-smi when none of the asked fields exists (ROCm/legacy-rocm-build#4374).
    ("no json data to report", "reported no data (no AMD GPU it can read?)"),
    # amdsmi_cli/amdsmi_init.py and rocm_smi.py when /sys/module/amdgpu/initstate is not "live".
    ("driver not initialized", "the amdgpu kernel driver is not loaded"),
    ("amdgpu not found in modules", "the amdgpu kernel driver is not loaded"),
    # amd-smi when it sees no GPU (amdsmi CHANGELOG, ROCm 6.2.1: "Can not find a device: GPU '123123' Error code: -3").
    ("can not find a device", "found no AMD GPU"),
    ("no gpus found", "found no AMD GPU"),
    ("permission denied", "has no permission to open the GPU (is the user in the render and video groups?)"),
)

# Pattern strings, compiled on first use (re caches them): every probe imports this module.
_JSON_START = r"(?m)^\s*[\[{]"


def first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def check_outcome(tool: str, result: CommandResult) -> None:
    """Raise DriverUnavailable for a known "nothing here" text, DriverFailed for a non-zero exit."""
    said = f"{result.stdout}\n{result.stderr}"
    lowered = said.lower()
    for needle, reason in UNAVAILABLE_TEXTS:
        if needle in lowered:
            raise DriverUnavailable(f"{tool} {reason}: {_quoted_line(said, needle)}")
    if result.returncode != 0:
        raise DriverFailed(f"{tool} exited with status {result.returncode}: {first_line(said) or 'no output'}")


def _quoted_line(text: str, needle: str) -> str:
    return next((line.strip() for line in text.splitlines() if needle in line.lower()), first_line(text))


def json_document(tool: str, result: CommandResult) -> Any:
    """The JSON document in a tool's stdout, wherever it starts.

    ROCm tools print warnings, blank lines ("\\n{" in rocm-smi 5.7/6.1) or a permission
    notice (amd-smi, ROCm/amdsmi#114) before the JSON; the first line that opens a JSON
    value and parses is it. Without one, the output is an outcome or an error.
    """
    text = result.stdout
    decoder = json.JSONDecoder()
    for match in re.finditer(_JSON_START, text):
        start = match.end() - 1
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        return value
    check_outcome(tool, result)
    raise ParseError(f"{tool} printed no JSON", text.strip()[:300])


# amd-smi writes a status where a value could not be read: "AMDSMI_STATUS_FILE_ERROR - Error opening
# file" for amdgpu_version without the render group (huggingface/dell-ai#54's captures).
STATUS_PREFIX = "AMDSMI_STATUS_"


def is_status(text: str) -> bool:
    return text.upper().startswith(("N/A", STATUS_PREFIX))


def permission_notice(text: str) -> str | None:
    """The line of amd-smi's permission banner that says what was denied ("/dev/kfd: Permission
    denied"), printed on stdout before JSON whose values are then "N/A"; None without one."""
    for line in text.splitlines():
        if "permission denied" in line.lower():
            return line.strip(" \t•-*")
        if line.lstrip().startswith(("{", "[")):
            return None
    return None


_VALUE_UNIT = r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z%°]*)\s*$"
# amd-smi's "MB" is MiB: amdsmi_commands.py divides bytes by 1024*1024 and writes "MB".
BYTE_UNITS = {"": 1, "b": 1, "kb": 1 << 10, "kib": 1 << 10, "mb": 1 << 20, "mib": 1 << 20,
              "gb": 1 << 30, "gib": 1 << 30}


def value_and_unit(raw: Any, what: str) -> tuple[float, str] | None:
    """A tool value: 42, "42.0", "42 W", {"value": 42, "unit": "W"}; None for "N/A" and friends.

    A value that says more than N/A ("N/A (Secondary die)") is None too; callers that want
    the reason use :func:`unavailable_reason`.
    """
    if isinstance(raw, dict):
        inner = value_and_unit(raw.get("value"), what)
        if inner is None:
            return None
        return inner[0], str(raw.get("unit") or inner[1])
    if isinstance(raw, bool):
        raise ParseError(f"cannot read {what} as a number", str(raw))
    if isinstance(raw, (int, float)):
        return float(raw), ""
    if raw is None:
        return None
    text = field_text(str(raw))
    if text is None or is_status(text):
        return None
    match = re.match(_VALUE_UNIT, text)
    if not match:
        raise ParseError(f"cannot read {what} as a number", str(raw))
    return float(match.group(1)), match.group(2)


def number(raw: Any, what: str) -> float | None:
    found = value_and_unit(raw, what)
    return None if found is None else found[0]


def integer(raw: Any, what: str) -> int | None:
    value = number(raw, what)
    return None if value is None else int(round(value))


def byte_count(raw: Any, what: str, default_unit: str) -> int | None:
    found = value_and_unit(raw, what)
    if found is None:
        return None
    value, unit = found
    factor = BYTE_UNITS.get((unit or default_unit).lower())
    if factor is None:
        raise ParseError(f"unknown unit for {what}", str(raw))
    return int(value * factor)


def unavailable_reason(raw: Any) -> str | None:
    """The words of a value that is not a number ("N/A (Secondary die)"), for field_errors."""
    if isinstance(raw, dict):
        raw = raw.get("value")
    text = raw.strip() if isinstance(raw, str) else ""
    # A bare "N/A" says nothing more than None does.
    if is_status(text) and text.upper() != "N/A":
        return text
    return None


def text_value(raw: Any) -> str | None:
    """A tool's text ("AMD Instinct MI300X"); None for N/A and for a status in its place."""
    if raw is None or isinstance(raw, (dict, list)):
        return None
    text = field_text(str(raw))
    return None if text is None or is_status(text) else text
