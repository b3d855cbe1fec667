"""llama.cpp's ``llama-server``: ``/props``, ``/slots``, ``/metrics`` and ``/health``.

``/metrics`` exists only with ``--metrics``, ``/slots`` unless ``--no-slots`` (tools/server/README.md);
``/health`` answers 503 ``Loading model`` while the model loads. ``llamacpp:kv_cache_usage_ratio``
was removed (llama.cpp PR #13660): a newer server says nothing of its KV-cache use, and None is
what is reported, never 0.
"""

from __future__ import annotations

from . import exposition
from .readers import Answers, Reading, body, document, text_of, whole

PATHS = ("/props", "/slots", "/metrics", "/health")


def read(answers: Answers) -> Reading:
    """One documented answer (tools/server/README.md, GET /props):
    ``{"total_slots": 1, "model_path": "../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", ...}``."""
    reading = Reading()
    props = document(answers, "/props", reading)
    if isinstance(props, dict):
        model = text_of(props.get("model_alias")) or text_of(props.get("model_path"))
        reading.set("models", (model,) if model else None)
        reading.set("slots_total", whole(props.get("total_slots")))
        settings = props.get("default_generation_settings")
        if isinstance(settings, dict):
            reading.set("context_length", whole(settings.get("n_ctx")))
        reading.set("version", text_of(props.get("build_info")))
    slots = document(answers, "/slots", reading, "start llama-server without --no-slots")
    if isinstance(slots, list):
        busy = [s.get("is_processing") for s in slots if isinstance(s, dict)]
        if busy and all(isinstance(b, bool) for b in busy):
            reading.set("slots_busy", sum(1 for b in busy if b))
            reading.fields["slots_total"] = len(busy)  # the slots listed, over /props' count
    text = body(answers, "/metrics", reading, "start llama-server with --metrics")
    if text is not None:
        found = exposition.samples(text)
        reading.set("requests_running", exposition.count(exposition.total(found, "llamacpp:requests_processing")))
        reading.set("requests_waiting", exposition.count(exposition.total(found, "llamacpp:requests_deferred")))
        reading.set("kv_cache_usage_ratio", exposition.highest(found, "llamacpp:kv_cache_usage_ratio"))
    health = answers.get("/health")
    if health is not None and not isinstance(health, str):
        if health.status == 503:
            reading.notes["/health"] = "503: still loading the model"
        elif health.status == 200:
            reading.notes["/health"] = "ok"
        else:
            reading.notes["/health"] = f"HTTP {health.status}"
    elif isinstance(health, str):
        reading.notes["/health"] = health
    return reading
