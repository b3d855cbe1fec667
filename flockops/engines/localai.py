"""LocalAI: ``/system`` and ``/version``.

``/system`` lists the backends and the loaded models (``loaded_models[].id``); its ``rss_bytes``
(where a release reports it) is the backend's resident memory and excludes GPU memory: it is not read as VRAM.
"""

from __future__ import annotations

from .readers import Answers, Reading, document, text_of

PATHS = ("/system", "/version")


def read(answers: Answers) -> Reading:
    """One documented answer (LocalAI's docs, system-info): ``{"backends": ["llama-cpp", ...],
    "loaded_models": [{"id": "my-llama-model"}, ...]}``."""
    reading = Reading()
    system = document(answers, "/system", reading)
    if isinstance(system, dict):
        loaded = system.get("loaded_models")
        if isinstance(loaded, list):
            reading.fields["models"] = tuple(m["id"] for m in loaded if isinstance(m, dict) and text_of(m.get("id")))
    version = document(answers, "/version", reading)
    if isinstance(version, dict):
        reading.set("version", text_of(version.get("version")))
    return reading
