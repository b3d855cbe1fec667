"""What the DRM fdinfo scan costs: the holders of an AMD or Intel GPU no vendor tool lists processes for.

It looks at every process's fds (one listing, one readlink each), so it is measured on this
machine's own /proc, whatever runs here. Run: .venv/bin/python benchmarks/fdinfo_scan.py
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from common import REPO

sys.path.insert(0, str(REPO))
from flockops.agent.driver import Context  # noqa: E402
from flockops.agent.holders.attribution import attribute  # noqa: E402
from flockops.agent.model import GpuSample  # noqa: E402


def main() -> None:
    gpu = GpuSample("amd", 0, "sysfs", pci_bus_id="0000:03:00.0")
    ctx = Context.local()
    runs = []
    for _ in range(30):
        started = time.process_time()
        attribute([gpu], ctx)
        runs.append(time.process_time() - started)
    processes = sum(1 for p in os.listdir("/proc") if p.isdigit())
    fds = 0
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    print(f"fdinfo scan of {processes} processes, {fds} fds: median {statistics.median(runs) * 1000:.1f} ms, "
          f"least {min(runs) * 1000:.1f} ms CPU (30 runs, as root)")


if __name__ == "__main__":
    main()
