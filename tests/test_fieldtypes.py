"""The model's field types as flockops.fieldtypes reads them: every form the model uses must be one it knows."""

from __future__ import annotations

import dataclasses

import pytest

import flockops.model
import flockops.ollama_report
from flockops.fieldtypes import type_problems

CLASSES = [value for module in (flockops.model, flockops.ollama_report) for value in vars(module).values()
           if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__]
NAMES = {cls.__name__ for cls in CLASSES}


def _known(option: str) -> bool:
    if option in ("int", "float", "str", "bool", "None") or option in NAMES:
        return True
    if option.startswith("tuple[") and option.endswith(", ...]"):
        return all(_known(o) for o in option[6:-6].split(" | "))
    if option.startswith("Mapping["):
        return all(_known(o) for part in option[8:-1].split(", ") for o in part.split(" | "))
    return False


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_field_annotation_is_a_form_the_checker_reads(cls: type) -> None:
    """A field typed list[...], dict[...] or Optional[...] would be rejected on every probe answer."""
    unknown = [f"{f.name}: {f.type}" for f in dataclasses.fields(cls)
               if not all(_known(option) for option in str(f.type).split(" | "))]
    assert unknown == []


def test_ints_count_as_floats_and_bools_as_neither() -> None:
    from flockops.model import GpuSample

    ok = GpuSample(vendor="nvidia", index=0, source="nvml", temperature_c=52, power_w=61.5)  # type: ignore[arg-type]
    assert type_problems(ok) == []
    assert type_problems(GpuSample(vendor="nvidia", index=True, source="nvml")) == [
        "GpuSample.index = True (not int)"]
