"""What the readers share: the answers to one engine's paths, and how a reader says what it read.

A reader is a module with ``PATHS`` (what to ask, the first the one that says the engine is there)
and ``read(answers) -> Reading``: the fields of an EngineReport it could fill, and, per path, why a
path gave nothing (``"HTTP 404: start it with --metrics"``). Readers never raise for an engine's
answer: a body they cannot read is a note, the field stays None.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .client import Answer


@dataclass
class Reading:
    """A reader's result: EngineReport field -> value, and path -> what it came to."""

    fields: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def set(self, name: str, value: Any) -> None:
        if value is not None and self.fields.get(name) is None:
            self.fields[name] = value


# What each path's answer is: the Answer, or why there is none (a failed request's words).
Answers = Mapping[str, "Answer | str"]


def body(answers: Answers, path: str, reading: Reading, hint: str = "") -> str | None:
    """The text of ``path``'s 200 answer, or None with the reason noted (``hint`` for a 404)."""
    answer = answers.get(path)
    if answer is None:
        return None
    if isinstance(answer, str):
        reading.notes[path] = answer
        return None
    if answer.status != 200:
        said = f"HTTP {answer.status} {answer.reason}".strip()
        reading.notes[path] = f"{said}{': ' + hint if hint and answer.status == 404 else ''}"
        return None
    reading.notes[path] = "ok"
    return answer.text


def document(answers: Answers, path: str, reading: Reading, hint: str = "") -> Any:
    """The JSON of ``path``'s 200 answer, or None with the reason noted."""
    text = body(answers, path, reading, hint)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        reading.notes[path] = f"not JSON: {text.strip()[:60]!r}"
        return None


def text_of(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def number(value: Any) -> float | None:
    """A number, or a number written as a string ("0.9"; cache_config_info's labels); "None" is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def whole(value: Any) -> int | None:
    found = number(value)
    return None if found is None or found < 0 or not float(found).is_integer() else int(found)


def model_ids(data: Any) -> tuple[str, ...]:
    """The ``id``s of an OpenAI-style ``/v1/models`` list."""
    entries = data.get("data") if isinstance(data, dict) else None
    return tuple(e["id"] for e in entries if isinstance(e, dict) and text_of(e.get("id"))) \
        if isinstance(entries, list) else ()
