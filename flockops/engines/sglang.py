"""SGLang: ``/metrics`` (only with ``--enable-metrics``) and ``/get_server_info``.

Its first releases labelled series ``name=`` and used vLLM-style names (sglang PR #1853); now
``model_name``, ``sglang:num_running_reqs``, ``sglang:num_queue_reqs``, and ``sglang:token_usage``
(the KV-cache pool's use, a fraction). ``cache_hit_rate`` was once a percentage, now a fraction: it
is not read. ``/get_server_info`` is the server's arguments flattened (``model_path``,
``served_model_name``, ``mem_fraction_static``, ``device``...) with the scheduler's
(``max_total_num_tokens``) and ``version`` (``python/sglang/srt/entrypoints/http_server.py``).
"""

from __future__ import annotations

from . import exposition
from .readers import Answers, Reading, body, document, number, text_of, whole

PATHS = ("/get_server_info", "/metrics")
METRICS_HINT = "SGLang serves /metrics only when started with --enable-metrics"


def read(answers: Answers) -> Reading:
    """One documented line (SGLang's production_metrics.md):
    ``sglang:token_usage{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.28``."""
    reading = Reading()
    info = document(answers, "/get_server_info", reading)
    if isinstance(info, dict):
        reading.set("version", text_of(info.get("version")))
        served = info.get("served_model_name")
        model = text_of(served) or text_of(info.get("model_path"))
        reading.set("models", (model,) if model else None)
        fraction = number(info.get("mem_fraction_static"))
        reading.set("memory_fraction", fraction if fraction is not None and 0 < fraction <= 1 else None)
        reading.set("context_length", whole(info.get("context_length")) or whole(info.get("max_req_input_len")))
        device = text_of(info.get("device"))
        if device is not None:
            reading.set("model_on_cpu", device == "cpu")
    text = body(answers, "/metrics", reading, METRICS_HINT)
    if text is not None:
        found = exposition.samples(text)
        reading.set("kv_cache_usage_ratio", exposition.highest(found, "sglang:token_usage",
                                                               "sglang:kv_cache_usage_perc",
                                                               "sglang:gpu_cache_usage_perc"))
        reading.set("requests_running", exposition.count(exposition.total(
            found, "sglang:num_running_reqs", "sglang:num_requests_running")))
        reading.set("requests_waiting", exposition.count(exposition.total(
            found, "sglang:num_queue_reqs", "sglang:num_requests_waiting")))
        names = sorted({s.labels.get("model_name") or s.labels.get("name") or "" for s in found
                        if s.name.startswith("sglang:") and s.name != "sglang:func_latency_seconds_sum"
                        and not s.name.startswith("sglang:func_latency")} - {""})
        reading.set("models", tuple(names) or None)
    return reading
