"""LM Studio: ``/api/v0/models`` (LM Studio 0.3.6 and later; ``/api/v1`` needs 0.4.0).

Each model has a ``state`` (``loaded``, ``not-loaded``); only the loaded ones are served. Its
``max_context_length`` is the model's own limit, not the context it was loaded with (which only
``/api/v1`` says): it is not reported as the context.
"""

from __future__ import annotations

from .readers import Answers, Reading, document, text_of

PATHS = ("/api/v0/models",)


def read(answers: Answers) -> Reading:
    """One documented entry (LM Studio's docs): ``{"id": "meta-llama-3.1-8b-instruct", "type": "llm", ...,
    "state": "not-loaded", "max_context_length": 131072}``."""
    reading = Reading()
    listed = document(answers, "/api/v0/models", reading, "LM Studio serves /api/v0 from 0.3.6")
    entries = listed.get("data") if isinstance(listed, dict) else None
    if isinstance(entries, list):
        reading.fields["models"] = tuple(e["id"] for e in entries if isinstance(e, dict) and e.get("state") == "loaded"
                                         and text_of(e.get("id")))
    return reading
