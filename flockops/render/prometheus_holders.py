"""The holders' and engines' Prometheus series, beside the GPU series of :mod:`.prometheus`.

``flockops_process_memory_used_bytes{host,uuid,engine,model,container}``: the VRAM held, per GPU
(``uuid``, to join ``flockops_gpu_info``), per engine (its name, or the plain process name), model
and container (or pod, or Slurm job). No pid label unless asked (``--process-pids``): a pid is new
each restart, and every one would be a new series. Holders that share all the labels (two unnamed
workers of one container) are summed into one sample; an unknown amount is left out, never 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flockops.agent.model import EngineStatus, HostReport

from .holders import placement, what

if TYPE_CHECKING:
    from .prometheus import Exposition

HELP = "VRAM a process holds on a GPU, by engine (or process name), model and container, pod or job."


def holder_metrics(out: Exposition, host: HostReport, pids: bool = False) -> None:
    for gpu in host.gpus:
        sums: dict[tuple[tuple[str, str], ...], float] = {}
        for holder in gpu.processes or ():
            if holder.memory_used_bytes is None:
                continue
            labels = {"host": host.host, "uuid": gpu.uuid or "", "engine": what(holder),
                      "model": holder.model or "", "container": placement(holder)}
            if pids:
                labels["pid"] = str(holder.pid)
            key = tuple(labels.items())
            sums[key] = sums.get(key, 0) + holder.memory_used_bytes
        for key, used in sums.items():
            out.add("flockops_process_memory_used_bytes", HELP, dict(key), used)
    for report in host.engines or ():
        if report.status not in (EngineStatus.OK, EngineStatus.PARTIAL):
            continue
        labels = {"host": host.host, "engine": str(report.engine), "url": report.url}
        out.add("flockops_engine_kv_cache_usage_ratio", "An inference engine's KV-cache use, 0 to 1 (its own figure).",
                labels, report.kv_cache_usage_ratio)
        out.add("flockops_engine_requests_running", "Requests an inference engine is running.", labels,
                report.requests_running)
        out.add("flockops_engine_requests_waiting", "Requests waiting in an inference engine's queue.", labels,
                report.requests_waiting)
