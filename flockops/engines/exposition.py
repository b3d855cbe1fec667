"""The Prometheus text exposition format, read: what an engine's ``/metrics`` says.

Only what the readers need: samples (name, labels, value); HELP, TYPE and comments skipped;
a line that is not a sample is skipped too (an engine's /metrics is not ours to reject whole for
one odd line), and a body without one sample is no metrics at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_SAMPLE = r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+-?\d+)?\s*$'
_LABEL = r'\s*(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"(?P<value>(?:[^"\\]|\\.)*)"\s*,?'


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def _unescape(text: str) -> str:
    return text.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def samples(text: str) -> list[Sample]:
    """Every sample of a /metrics body.

    One real line (vLLM, Datadog's fixture): ``vllm:num_requests_running{model_name="facebook/opt-125m"} 0.0``;
    llama.cpp writes integers bare (``llamacpp:prompt_tokens_total 143``), and the last line may
    lack its newline.
    """
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(_SAMPLE, line)
        if match is None:
            continue
        try:
            value = float(match.group("value"))
        except ValueError:
            continue
        labels = {m.group("key"): _unescape(m.group("value")) for m in re.finditer(_LABEL, match.group("labels") or "")}
        out.append(Sample(match.group("name"), labels, value))
    return out


def values(found: Iterable[Sample], *names: str) -> list[Sample]:
    """The samples of the first of ``names`` that has any (a renamed metric: new name first)."""
    listed = list(found)
    for name in names:
        chosen = [s for s in listed if s.name == name and math.isfinite(s.value)]
        if chosen:
            return chosen
    return []


def total(found: Iterable[Sample], *names: str) -> float | None:
    """The sum over every series (one per engine or data-parallel rank) of the first name present."""
    chosen = values(found, *names)
    return sum(s.value for s in chosen) if chosen else None


def highest(found: Iterable[Sample], *names: str) -> float | None:
    """The highest value over every series of the first name present (KV-cache use: the fullest rank)."""
    chosen = values(found, *names)
    return max(s.value for s in chosen) if chosen else None


def count(value: float | None) -> int | None:
    return None if value is None or value < 0 else int(round(value))
