"""Prometheus text exposition format, for `report -o prometheus` and `check -o prometheus`.

Unknown values are left out (an absent sample is Prometheus's "unknown"), never written as 0.
``write_textfile`` replaces ``DIR/flockops.prom`` atomically (a temp file in the same directory,
then rename) so node_exporter's textfile collector never reads half a file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flockops.agent.model import ANSWERED, THROTTLE_REASON_BITS, FleetReport, GpuSample, HostReport
from flockops.userdirs import replace_file

if TYPE_CHECKING:
    from flockops.check.rules import Item

Sample = tuple[dict[str, str], float]

GPU_GAUGES: tuple[tuple[str, str, str], ...] = (
    ("flockops_gpu_memory_total_bytes", "memory_total_bytes", "Total VRAM of the GPU."),
    ("flockops_gpu_memory_used_bytes", "memory_used_bytes",
     "VRAM in use, driver-reserved memory excluded unless flockops_gpu_memory_used_includes_reserved is 1."),
    ("flockops_gpu_memory_reserved_bytes", "memory_reserved_bytes", "VRAM reserved by the driver."),
    ("flockops_gpu_memory_free_bytes", "memory_free_bytes", "Free VRAM."),
    ("flockops_gpu_temperature_celsius", "temperature_c", "GPU temperature."),
    ("flockops_gpu_temperature_slowdown_celsius", "temperature_slowdown_c",
     "Temperature at which the card starts slowing itself down."),
    ("flockops_gpu_temperature_shutdown_celsius", "temperature_shutdown_c",
     "Temperature at which the card shuts down."),
    ("flockops_gpu_power_watts", "power_w", "Power draw."),
    ("flockops_gpu_power_limit_watts", "power_limit_w", "Enforced power limit."),
)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}" if labels else ""


def _value(value: float) -> str:
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class Exposition:
    """Metric families in order, each with HELP, TYPE and its samples."""

    def __init__(self) -> None:
        self.families: dict[str, tuple[str, list[Sample]]] = {}

    def add(self, name: str, help_text: str, labels: dict[str, str], value: float | None) -> None:
        family = self.families.setdefault(name, (help_text, []))
        if value is not None:
            family[1].append((labels, value))

    def text(self) -> str:
        lines: list[str] = []
        for name, (help_text, samples) in self.families.items():
            if not samples:
                continue
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            lines += [f"{name}{_labels(labels)} {_value(value)}" for labels, value in samples]
        return "\n".join(lines) + "\n"


def gpu_labels(host: str, gpu: GpuSample) -> dict[str, str]:
    return {"host": host, "vendor": gpu.vendor, "index": str(gpu.index), "uuid": gpu.uuid or "",
            "name": gpu.name or ""}


def fleet_metrics(fleet: FleetReport, now: float | None = None, exposition: Exposition | None = None,
                  pids: bool = False) -> Exposition:
    from .prometheus_holders import holder_metrics

    out = exposition or Exposition()
    for host in fleet.hosts:
        out.add("flockops_host_up", "1 when the host answered (ok or partial), else 0.", {"host": host.host},
                1 if host.status in ANSWERED else 0)
        for gpu in host.gpus:
            labels = gpu_labels(host.host, gpu)
            out.add("flockops_gpu_lost", "1 when the GPU is lost (fallen off the bus, needs a reset).", labels,
                    1 if gpu.lost else 0)
            for metric, attribute, help_text in GPU_GAUGES:
                out.add(metric, help_text, labels, getattr(gpu, attribute))
            if gpu.memory_used_bytes is not None:
                # NVML's v1 API on old drivers counts the reserved memory as used: said, not hidden.
                out.add("flockops_gpu_memory_used_includes_reserved",
                        "1 when this GPU's used VRAM counts the driver-reserved memory too (old NVIDIA drivers).",
                        labels, int(gpu.memory_used_includes_reserved))
            util = None if gpu.utilization_pct is None else gpu.utilization_pct / 100
            out.add("flockops_gpu_utilization_ratio", "GPU utilisation, 0 to 1.", labels, util)
            if gpu.throttle_reasons is not None:
                for _, reason in THROTTLE_REASON_BITS:
                    out.add("flockops_gpu_throttle_active", "1 while this clock-event (throttle) reason is active.",
                            {**labels, "reason": reason}, 1 if reason in gpu.throttle_reasons else 0)
        _ollama(out, host)
        holder_metrics(out, host, pids)
    out.add("flockops_last_run_timestamp_seconds", "When flockops collected this (Unix time).", {},
            time.time() if now is None else now)
    return out


def _ollama(out: Exposition, host: HostReport) -> None:
    for model in host.ollama.models if host.ollama is not None else ():
        out.add("flockops_ollama_model_vram_bytes", "VRAM Ollama reserves for a loaded model (its own figure).",
                {"host": host.host, "model": model.name}, model.vram_bytes)


def check_metrics(out: Exposition, items: Iterable[Item]) -> Exposition:
    for item in items:
        out.add("flockops_check_status", "State of a flockops check item: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
                {"host": item.host, "check": item.key}, item.state.exit_code)
    return out


def write_textfile(directory: str, text: str, name: str = "flockops.prom") -> str:
    """Atomically replace ``directory/name`` with ``text``; returns the path."""
    path = Path(directory, name)
    replace_file(path, text.encode("utf-8"), mode=0o644)  # node_exporter usually runs as another user
    return str(path)


__all__: Sequence[str] = ["Exposition", "fleet_metrics", "check_metrics", "write_textfile"]
