"""The model's field types as flockops.agent.fields reads them: every form the model uses must be one it knows."""

from __future__ import annotations

import dataclasses

import pytest

import flockops.agent.engine_model
import flockops.agent.model
import flockops.agent.ollama_model
from flockops.agent.fields import type_problems
from flockops.agent.model import VOCABULARIES

MODULES = (flockops.agent.model, flockops.agent.ollama_model, flockops.agent.engine_model)
CLASSES = [value for module in MODULES for value in vars(module).values()
           if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__]
NAMES = {cls.__name__ for cls in CLASSES}


def _known(option: str) -> bool:
    if option in ("int", "float", "str", "bool", "None") or option in NAMES or option in VOCABULARIES:
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
    from flockops.agent.model import GpuSample

    ok = GpuSample(vendor="nvidia", index=0, source="nvml", temperature_c=52, power_w=61.5)  # type: ignore[arg-type]
    assert type_problems(ok) == []
    assert type_problems(GpuSample(vendor="nvidia", index=True, source="nvml")) == [
        "GpuSample.index = True (not int)"]


def test_values_no_gpu_can_have_become_unknown_with_a_note() -> None:
    """From a local driver or a remote probe alike: never summed into the fleet's totals."""
    import json

    from flockops.agent.codec import host_to_dict
    from flockops.agent.fields import clean_gpu
    from flockops.agent.model import GpuSample, HostReport
    from flockops.remote.answer import parse_python_output

    odd = GpuSample(vendor="nvidia", index=0, source="nvml", memory_total_bytes=80 << 30, memory_used_bytes=-5,
                    utilization_pct=500, temperature_c=-300.0, fan_pct=120, power_w=350.0)
    cleaned = clean_gpu(odd, "nvml")
    assert (cleaned.memory_used_bytes, cleaned.utilization_pct, cleaned.temperature_c) == (None, None, None)
    # NVML's fan speed may pass 100 %
    assert (cleaned.memory_total_bytes, cleaned.fan_pct, cleaned.power_w) == (80 << 30, 120, 350.0)
    assert cleaned.field_errors["utilization_pct"] == "the driver gave 500 is outside 0 to 100"
    text = json.dumps(host_to_dict(HostReport("x", gpus=(odd,))))
    remote = parse_python_output(text, "gpu-a").gpus[0]
    assert (remote.memory_used_bytes, remote.memory_total_bytes) == (None, 80 << 30)
    assert "memory_used_bytes" in remote.field_errors


def test_a_word_outside_its_vocabulary_does_not_fit_the_model() -> None:
    """A probe's error kind or driver outcome must be one of the words the controller knows: its
    renderers and the check compare against them."""
    from flockops.agent.codec import host_from_dict
    from flockops.agent.model import ErrorKind, HostError, HostReport

    report = host_from_dict({"host": "h", "gpus": [], "errors": [{"kind": "timeout", "source": "ssh", "message": "m"}]})
    assert report.errors[0].kind is ErrorKind.TIMEOUT and type_problems(report) == []
    with pytest.raises(ValueError):
        host_from_dict({"host": "h", "gpus": [], "errors": [{"kind": "timout", "source": "ssh", "message": "m"}]})
    assert type_problems(HostReport("h", errors=(HostError("timeout", "ssh", "m"),))) != []  # type: ignore[arg-type]


def test_message_words() -> None:
    from flockops.agent.fields import a_vendor, count, seconds

    # The time left of a 5 s deadline read 4.99979 s; durations are rounded for people.
    assert [seconds(v) for v in (4.99979, 0.3, 0.25, 12.345, 30.0, 10)] == ["5", "0.3", "0.25", "12.3", "30", "10"]
    assert [count(n, "host") for n in (0, 1, 2)] == ["0 hosts", "1 host", "2 hosts"]
    assert [a_vendor(v) for v in ("nvidia", "amd", "intel", "moore")] == ["an NVIDIA", "an AMD", "an Intel", "a moore"]
