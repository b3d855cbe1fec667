"""`flockops report` on this machine against the fake NVML with 8 GPUs, beside nvitop -1 and gpustat.

Each tool runs from its own venv, loads the same fake libnvidia-ml.so.1 through the real
pynvml, and is timed as a whole process. Run: python benchmarks/report_speed.py
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from common import REPO, make_venv, time_command

sys.path.insert(0, str(REPO / "tests"))
from support.nvml import build_fake_nvml, write_config  # noqa: E402

GIB = 1 << 30


def eight_gpus() -> list[dict[str, object]]:
    return [{
        "name": "NVIDIA H100 80GB HBM3", "uuid": f"GPU-0000000{i}-0000-0000-0000-000000000000",
        "pci_bus_id": f"00000000:{0x18 + i:02X}:00.0", "memory_total": 80 * GIB, "memory_reserved": 479 << 20,
        "memory_used": 10 * GIB, "util_gpu": 45, "util_memory": 10, "temperature": 62, "temp_slowdown": 89,
        "temp_shutdown": 92, "temp_gpu_max": 87, "power_mw": 250_000, "power_limit_mw": 700_000, "fan": 30,
        "clocks_event_reasons": 0x4, "bar1_total": GIB, "bar1_used": 1 << 20, "performance_state": 0,
        "persistence_mode": 1, "compute_mode": 0, "display_active": 0,
    } for i in range(8)]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="flockops-report-bench-"))
    libdir = build_fake_nvml(work / "nvml").parent
    config = write_config(work / "nvml.conf", eight_gpus(), driver_version="590.48.01",
                          cuda_driver_version=13010)
    ours = make_venv("flockops", [], refresh=[str(REPO)])
    peers = make_venv("peers", ["nvitop", "gpustat"])
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(libdir), "FAKE_NVML_CONFIG": str(config),
           "TERM": "xterm", "HOME": str(work), "LANG": "C.UTF-8"}
    commands = {
        "flockops report": [str(ours / "flockops"), "report"],
        "flockops report -o json": [str(ours / "flockops"), "report", "-o", "json"],
        "nvitop -1": [str(peers / "nvitop"), "-1"],
        "gpustat": [str(peers / "gpustat")],
        "gpustat --json": [str(peers / "gpustat"), "--json"],
        "python -c pass (floor)": [str(ours / "python"), "-c", "pass"],
    }
    print(f"cpu cores: {os.cpu_count()}, fake NVML with 8 GPUs, 20 runs after 3 warm-up runs\n")
    print("| command | median | min |\n|---|---|---|")
    for label, argv in commands.items():
        result = time_command(argv, env)
        print(f"| `{label}` | {result['median_s'] * 1000:.0f} ms | {result['min_s'] * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
