"""A day of recorded history for tests and the README's example plot, with injected timestamps.

Two hosts sampled every 5 minutes (as cron with ``report --record`` would): ``gpu-a`` has two
H100s, one whose VRAM creeps up overnight and that runs hot for an hour; ``gpu-b`` has an RTX
4090, an Ollama that spills a model to CPU for two hours, and a two-hour outage.

Run ``PYTHONPATH=tests python -m support.history_data DB`` to write such a database ending now.
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

from flockops.agent.model import FleetReport, GpuSample, HostError, HostReport
from flockops.agent.ollama_model import OllamaModel, OllamaReport
from flockops.history.store import History

from .units import GIB

STEP_S = 300.0
DAY_S = 86400.0


def h100(index: int, used: float, temp: float) -> GpuSample:
    return GpuSample(vendor="nvidia", index=index, source="nvml", name="NVIDIA H100 80GB HBM3",
                     uuid=f"GPU-a{index}", memory_total_bytes=80 * GIB, memory_used_bytes=int(used * GIB),
                     temperature_c=round(temp), temperature_slowdown_c=87.0, utilization_pct=50, power_w=350.0,
                     throttle_reasons=())


def rtx(used: float, temp: float) -> GpuSample:
    return GpuSample(vendor="nvidia", index=0, source="nvml", name="NVIDIA GeForce RTX 4090", uuid="GPU-b0",
                     memory_total_bytes=24 * GIB, memory_used_bytes=int(used * GIB), temperature_c=round(temp),
                     temperature_slowdown_c=90.0, utilization_pct=30, power_w=200.0, throttle_reasons=())


def build(db: Path, now: float, days: float = 1.0) -> int:
    """Write ``days`` of samples ending at ``now``; returns the number of refreshes written."""
    rng = random.Random(7)
    start = now - days * DAY_S
    count = int(days * DAY_S / STEP_S) + 1
    with History(db) as history:
        for step in range(count):
            ts = start + step * STEP_S
            hour = (ts - start) / 3600.0
            # GPU 0: VRAM creeps from 20 to 74 GiB over the day; hot between hours 15 and 16.
            used0 = 20 + 54 * hour / (24 * days) + rng.uniform(-1, 1)
            temp0 = 58 + 6 * math.sin(hour / 3) + rng.uniform(-1.5, 1.5) + (31 if 15 <= hour < 16 else 0)
            used1 = 40 + rng.uniform(-0.5, 0.5)
            temp1 = 50 + rng.uniform(-2, 2)
            a = HostReport(host="gpu-a", address="10.0.0.1", gpus=(h100(0, used0, temp0), h100(1, used1, temp1)),
                           collected_at=ts)
            if 9 <= hour < 11:  # gpu-b is down for two hours
                b = HostReport(host="gpu-b", address="10.0.0.2", collected_at=ts,
                               errors=(HostError("unreachable", "ssh", "connection refused by 10.0.0.2 port 22"),))
            else:
                spilling = 18 <= hour < 20
                model = OllamaModel(name="llama3:70b" if spilling else "llama3:8b",
                                    size_bytes=(40 if spilling else 6) * GIB,
                                    vram_bytes=(20 if spilling else 6) * GIB)
                used_b = (21 if spilling else 7) + rng.uniform(-0.3, 0.3)
                b = HostReport(host="gpu-b", address="10.0.0.2", collected_at=ts,
                               gpus=(rtx(used_b, 55 + 10 * spilling + rng.uniform(-2, 2)),),
                               ollama=OllamaReport(url="http://10.0.0.2:11434", status="ok", models=(model,)))
            history.record(FleetReport(hosts=(a, b), generated_at=""), now=ts, retention_s=None)
    return count


if __name__ == "__main__":
    print(build(Path(sys.argv[1]), time.time()), "refreshes written to", sys.argv[1])
