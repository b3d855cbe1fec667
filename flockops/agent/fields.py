"""The model's declared field types, checked on data that crosses a trust boundary.

A third-party driver's ``collect()`` and a remote probe's JSON both hand the core objects
that nothing has type-checked; one string where a byte count belongs would crash every
renderer later, far from its cause. :func:`clean_gpu` checks a driver's sample where the
collection core receives it; :func:`type_problems` checks a rebuilt host report, and
:func:`printable` writes out the control characters of a target's text before any terminal sees it.

The field annotations are read as text (the model's modules use postponed annotations and
the probe must not import ``typing``): ``int | None``, ``tuple[X, ...]``, ``Mapping[str, str]``
and the model's own class names are all the forms the model uses.
Standard library only: this module also runs inside the remote probe.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping

from flockops.errors import DriverFailed

from .model import VOCABULARIES, GpuSample

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SCALARS: dict[str, tuple[type, ...]] = {
    "int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "None": (type(None),),
}


def _problems(value: Any, annotation: str, path: str) -> list[str]:
    if value is None and annotation.endswith(" | None"):
        return []  # the commonest case by far (a holder's unread fields): no option to try
    nearest: list[str] = []
    for option in annotation.split(" | "):
        found = _option_problems(value, option, path)
        if found == []:
            return []
        nearest = nearest or found or []
    # The problems inside the container or class the value is, else the value itself.
    return nearest or [f"{path} = {value!r:.60} (not {annotation})"]


def _option_problems(value: Any, option: str, path: str) -> list[str] | None:
    """None when ``value`` is not of ``option``'s kind at all; else what is wrong inside it ([]: nothing)."""
    if option in _SCALARS:
        # bool is an int to Python, never a count or a temperature to us; nor is NaN or infinity
        # (json reads them, and would write them back as JSON no other reader takes).
        fits = isinstance(value, _SCALARS[option]) and (option == "bool" or not isinstance(value, bool))
        if fits and isinstance(value, float) and not math.isfinite(value):
            return [f"{path} = {value!r} (not a finite number)"]
        return [] if fits else None
    if option in VOCABULARIES:
        return [] if isinstance(value, VOCABULARIES[option]) else None
    if option.startswith("tuple[") and option.endswith(", ...]"):
        if not isinstance(value, tuple):
            return None
        return [p for i, item in enumerate(value) for p in _problems(item, option[6:-6], f"{path}[{i}]")]
    if option.startswith("Mapping["):
        if not isinstance(value, Mapping):
            return None
        key_type, _, item_type = option[8:-1].partition(", ")
        return [p for k, v in value.items()
                for p in (*_problems(k, key_type, f"{path} key"), *_problems(v, item_type, f"{path}[{k!r}]"))]
    if dataclasses.is_dataclass(value) and type(value).__name__ == option:
        return type_problems(value, path)
    return None


def type_problems(obj: Any, path: str | None = None) -> list[str]:
    """Each value in the dataclass ``obj``, nested ones included, that is not of its declared type,
    as "HostReport.gpus[0].memory_total_bytes = '80 GiB' (not int | None)"."""
    where = path or type(obj).__name__
    return [problem for f in dataclasses.fields(obj)
            for problem in _problems(getattr(obj, f.name), str(f.type), f"{where}.{f.name}")]


# What no GPU can measure, by the unit a field's name ends in: a driver's bug or a target's lie,
# made unknown rather than added into a fleet's totals. NVML's fan speed may pass 100 %.
_RANGES: dict[str, tuple[float, float]] = {
    "fan_pct": (0, 255), "_pct": (0, 100), "_bytes": (0, 1 << 60), "_c": (-273.15, 1000), "_w": (0, 1e6),
}


def _out_of_range(name: str, value: object) -> str | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    low, high = next((r for suffix, r in _RANGES.items() if name.endswith(suffix)), (-math.inf, math.inf))
    return None if low <= value <= high else f"{value!r:.40} is outside {low:g} to {high:g}"


def clean_gpu(gpu: object, driver: str) -> GpuSample:
    """``gpu`` as a driver (or a remote probe) gave it, with each optional field of the wrong type,
    or with a value no GPU can have (negative bytes, 300 % busy), set to None and named in
    ``field_errors``. Raises DriverFailed when it is no GpuSample or a required field (vendor,
    index, source...) is wrong: then nothing of it can be trusted."""
    if not isinstance(gpu, GpuSample):
        raise DriverFailed(f"{driver} returned {type(gpu).__name__}, not a GpuSample")
    changes: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for f in dataclasses.fields(gpu):
        value = getattr(gpu, f.name)
        optional = "None" in str(f.type).split(" | ")
        if not _problems(value, str(f.type), f.name):
            outside = _out_of_range(f.name, value)
            if outside is not None and optional:
                changes[f.name] = None
                notes[f.name] = f"the driver gave {outside}"
            continue
        if not optional:
            raise DriverFailed(f"{driver} returned a GpuSample whose {f.name} is {value!r:.60}, not {f.type}")
        changes[f.name] = None
        notes[f.name] = f"the driver gave {type(value).__name__} {value!r:.40}, not {f.type}"
    if not changes:
        return gpu
    return dataclasses.replace(gpu, field_errors={**gpu.field_errors, **notes}, **changes)


# C0 controls but tab and newline, DEL and C1: what lets text move a terminal's cursor, retitle its
# window or clear its screen.
_CONTROLS = r"[\x00-\x08\x0b-\x1f\x7f-\x9f]"


def printable(obj: Any) -> Any:
    """``obj`` (a model object, or a string, tuple or mapping of them) with each control character of
    its text written out as ``\\x1b``: a target's GPU names, error texts and stderr reach terminals."""
    if isinstance(obj, str):
        if obj.isprintable():  # no control character at all (most text): no pattern to compile or run
            return obj
        return re.sub(_CONTROLS, lambda m: f"\\x{ord(m.group()):02x}", obj) if re.search(_CONTROLS, obj) else obj
    if isinstance(obj, tuple):
        return tuple(printable(item) for item in obj)
    if isinstance(obj, Mapping):
        return {printable(k): printable(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            clean = printable(value)
            if clean is not value and clean != value:
                changes[f.name] = clean
        return dataclasses.replace(obj, **changes) if changes else obj
    return obj


def seconds(value: float) -> str:
    """A duration for a message: "5" for 4.99979 (the time left of a deadline), "0.3", "12.5"."""
    return f"{value:.2g}" if abs(value) < 1 else f"{round(value, 1):g}"


def count(n: int, noun: str) -> str:
    """ "1 host", "2 hosts"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


# A vendor as a sentence names it, with its article: "an NVIDIA GPU", "an AMD GPU", "an Intel GPU".
VENDOR_NAMES = {"nvidia": "NVIDIA", "amd": "AMD", "intel": "Intel"}


def a_vendor(vendor: str) -> str:
    name = VENDOR_NAMES.get(vendor, vendor)
    spoken_vowel = name in ("NVIDIA", "AMD") or name[:1].lower() in "aeiou"  # "en-vidia", "ay-em-dee"
    return f"{'an' if spoken_vowel else 'a'} {name}"
