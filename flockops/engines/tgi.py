"""Hugging Face text-generation-inference: ``/info`` and ``/metrics``.

``/info`` is the router's ``Info`` (``router/src/lib.rs``, docs/openapi.json): ``model_id``,
``version``, ``max_total_tokens``, and the backend's ``model_device_type`` (``cuda``, ``cpu``...)
and ``model_dtype``. ``/metrics`` (docs/source/reference/metrics.md) has ``tgi_queue_size`` (waiting)
and ``tgi_batch_current_size`` (running); no KV-cache use.
"""

from __future__ import annotations

from . import exposition
from .readers import Answers, Reading, body, document, text_of, whole

PATHS = ("/info", "/metrics")


def read(answers: Answers) -> Reading:
    """The keys of one answer (TGI's openapi.json ``Info`` example): ``{"model_id": "bigscience/blomm-560m",
    "version": "0.5.0", "max_total_tokens": 2048, ...}``."""
    reading = Reading()
    info = document(answers, "/info", reading)
    if isinstance(info, dict):
        model = text_of(info.get("model_id"))
        reading.set("models", (model,) if model else None)
        reading.set("version", text_of(info.get("version")))
        reading.set("context_length", whole(info.get("max_total_tokens")))
        device = text_of(info.get("model_device_type"))
        if device is not None:
            reading.set("model_on_cpu", device == "cpu")
    text = body(answers, "/metrics", reading)
    if text is not None:
        found = exposition.samples(text)
        reading.set("requests_waiting", exposition.count(exposition.total(found, "tgi_queue_size")))
        reading.set("requests_running", exposition.count(exposition.total(found, "tgi_batch_current_size")))
    return reading
