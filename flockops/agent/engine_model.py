"""What an inference engine says over HTTP: the engine part of the data model.

Asked by the controller (:mod:`flockops.engines`), never by the probe: the probe only reports
the holders and the sockets their engines listen on (``GpuProcess.listening``), and the
controller asks those, through the host's SSH connection where they listen on loopback only. So
the probe never builds these classes. Like Ollama's, these are the engine's own figures, kept
beside the device's, never merged into them. Data only, and what follows from it for a host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .model import DIRECT, DISCOVERED, FROM_INVENTORY, THROUGH_SSH, Engine, EngineStatus, HostReport

__all__ = ["DIRECT", "DISCOVERED", "FROM_INVENTORY", "THROUGH_SSH", "EngineReport", "reported_fraction"]


@dataclass(frozen=True, slots=True)
class EngineReport:
    """One engine endpoint's answer: what it serves, and how full its KV cache is."""

    engine: Engine
    url: str  # as asked: "http://127.0.0.1:8000" (on the target, through SSH, when via is "ssh")
    status: EngineStatus
    error: str | None = None
    endpoint_from: str = DISCOVERED
    via: str = DIRECT
    # The engine's process (the holders' engine_pid) whose socket was asked; None for an inventory URL.
    pid: int | None = None
    version: str | None = None
    models: tuple[str, ...] = ()
    # KV-cache use, 0 to 1 (vLLM kv_cache_usage_perc, once gpu_cache_usage_perc; SGLang token_usage).
    kv_cache_usage_ratio: float | None = None
    requests_running: int | None = None
    requests_waiting: int | None = None
    preemptions_total: int | None = None
    # The share of each GPU's memory the engine took at start (vLLM gpu_memory_utilization,
    # SGLang mem_fraction_static).
    memory_fraction: float | None = None
    context_length: int | None = None
    slots_total: int | None = None  # llama.cpp's parallel slots
    slots_busy: int | None = None
    # True when the engine itself says its model runs on CPU (TGI model_device_type, SGLang device).
    model_on_cpu: bool | None = None
    # Each path asked and what it came to: "ok", or why not ("HTTP 404: start it with --metrics").
    endpoints: Mapping[str, str] = field(default_factory=dict)
    source: str = "engine"


def reported_fraction(host: HostReport, engine_pid: int | None) -> float | None:
    """The memory fraction the engine that ``engine_pid`` runs said over HTTP, if it was asked."""
    for report in host.engines or ():
        if report.pid is not None and report.pid == engine_pid and report.memory_fraction is not None:
            return report.memory_fraction
    return None
