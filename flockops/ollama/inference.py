"""``--infer``: timing embeddings as a last resort, a guess labelled as one and never a VRAM size."""

from __future__ import annotations

import time
from collections.abc import Callable

from flockops.agent.ollama_model import InferenceVerdict

from .client import OllamaClient, OllamaOptions, RequestFailure


def infer(url: str, options: OllamaOptions | None = None,
          clock: Callable[[], float] = time.perf_counter) -> InferenceVerdict:
    """Time ``POST /api/embed``: one warm-up, then ``infer_runs`` timed calls. A guess, labelled so.

    The warm-up includes loading the model, which is why a cold GPU node looked like a CPU to the tool
    we replace. The verdict uses Ollama's own ``total_duration`` when every answer carries one (it has
    no network in it), else the round trip measured here. It never says how much VRAM there is.
    """
    import json

    options = options or OllamaOptions()
    model = options.infer_model
    body = json.dumps({"model": model, "input": "flockops: is this a GPU?"}).encode()
    client = OllamaClient(url, options)

    def unknown(reason: str) -> InferenceVerdict:
        return InferenceVerdict("unknown", model, reason=reason)

    try:
        try:
            client.get_json("/api/embed", options.infer_warmup_timeout_s, body)
        except RequestFailure as failure:
            return unknown(f"warm-up failed: {failure}")
        wall: list[float] = []
        server: list[float] = []
        for _ in range(options.infer_runs):
            started = clock()
            try:
                answer = client.get_json("/api/embed", None, body)
            except RequestFailure as failure:
                return unknown(f"timed call failed: {failure}")
            wall.append((clock() - started) * 1000.0)
            total = answer.get("total_duration") if isinstance(answer, dict) else None
            if isinstance(total, int) and not isinstance(total, bool) and total > 0:
                server.append(total / 1e6)
    finally:
        client.close()
    if not wall:
        return unknown("no timed calls (--infer-runs 0)")
    basis, samples = ("server", server) if len(server) == len(wall) else ("wall", wall)
    latency = sorted(samples)[len(samples) // 2]
    if latency < options.gpu_likely_below_ms:
        verdict = "gpu-likely"
    elif latency > options.cpu_likely_above_ms:
        verdict = "cpu-likely"
    else:
        verdict = "unknown"
    what = "Ollama's total_duration" if basis == "server" else "round trip from here"
    reason = (f"median of {len(samples)} embeddings with {model}: {latency:.1f} ms ({what}); under "
              f"{options.gpu_likely_below_ms:g} ms suggests a GPU, over {options.cpu_likely_above_ms:g} ms a CPU. "
              "Timing is a guess: a busy GPU or a fast CPU reads the other way")
    return InferenceVerdict(verdict, model, latency_ms=round(latency, 3), runs=len(samples), basis=basis,
                            reason=reason)
