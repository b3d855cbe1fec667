"""vLLM: ``/metrics``, ``/version`` and ``/v1/models``.

Facts a reader must respect (vllm ``docs/design/metrics.md`` and its tracker):

- ``vllm:gpu_cache_usage_perc`` became ``vllm:kv_cache_usage_perc`` (vllm PR #18354); both may be
  served for a while (deprecated names are hidden one minor release later, removed the next): the
  new name is read first. Either is a fraction, 1 meaning 100 %.
- V1 labels each series with ``engine="N"`` (one per engine core, data parallelism): running and
  waiting requests and preemptions are summed over them, KV-cache use is the fullest one's.
- ``vllm:cache_config_info`` is a gauge fixed at 1 whose labels carry the configuration as strings,
  which can read ``"None"`` (``num_gpu_blocks``, vllm #16560); ``gpu_memory_utilization`` is the share
  of each GPU vLLM takes at start.
- ``model_name`` may be a path; ``/v1/models`` lacks ``max_model_len`` before vllm PR #4643.
"""

from __future__ import annotations

from . import exposition
from .readers import Answers, Reading, body, document, model_ids, number, text_of, whole

PATHS = ("/metrics", "/version", "/v1/models")


def read(answers: Answers) -> Reading:
    """One recorded line (Datadog's vLLM fixture):
    ``vllm:kv_cache_usage_perc{model_name="facebook/opt-125m"} 0.0``."""
    reading = Reading()
    text = body(answers, "/metrics", reading)
    if text is not None:
        found = exposition.samples(text)
        reading.set("kv_cache_usage_ratio", exposition.highest(found, "vllm:kv_cache_usage_perc",
                                                               "vllm:gpu_cache_usage_perc"))
        reading.set("requests_running", exposition.count(exposition.total(found, "vllm:num_requests_running")))
        reading.set("requests_waiting", exposition.count(exposition.total(found, "vllm:num_requests_waiting")))
        reading.set("preemptions_total", exposition.count(exposition.total(found, "vllm:num_preemptions_total",
                                                                           "vllm:num_preemptions")))
        fractions = [number(s.labels.get("gpu_memory_utilization"))
                     for s in exposition.values(found, "vllm:cache_config_info")]
        reading.set("memory_fraction", next((f for f in fractions if f is not None), None))
        names = sorted({s.labels["model_name"] for s in found if s.name.startswith("vllm:") and
                        text_of(s.labels.get("model_name"))})
        reading.set("models", tuple(names) or None)
        if not any(s.name.startswith("vllm:") for s in found):
            reading.notes["/metrics"] = "no vllm: series: is this a vLLM server?"
    version = document(answers, "/version", reading)
    if isinstance(version, dict):
        reading.set("version", text_of(version.get("version")))
    listed = document(answers, "/v1/models", reading)
    ids = model_ids(listed)
    if ids:
        reading.fields["models"] = ids  # what the API serves, before /metrics' labels
        entries = listed.get("data") if isinstance(listed, dict) else None
        lengths = [whole(e.get("max_model_len")) for e in entries or () if isinstance(e, dict)]
        reading.set("context_length", next((n for n in lengths if n), None))
    return reading
