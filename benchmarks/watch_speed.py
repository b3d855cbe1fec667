"""`flockops watch -i` over N loopback hosts: does each refresh finish inside the interval?

One real sshd on 127.0.0.1 serves every inventory host (different names, same port), each with
the fake NVML library and one H200, as in fleet_speed.py. watch runs with ``--timing``, which
prints each refresh's wall time, the controller's CPU time (all its threads) and the SSH
connections it opened. Beside it: the busy CPU time of the whole machine per refresh (from
/proc/stat: the controller, sshd and every probe's Python, since the targets are this machine),
and one ``flockops report -i`` for the cost of a refresh that reconnects every host.
Run: python benchmarks/watch_speed.py [--hosts 10 25 50] [--interval 2] [--count 5] [--forks 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import REPO, probe_cpu_s
from fleet_speed import write_inventory

sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
from support.nvml import build_fake_nvml, write_config  # noqa: E402
from support.sshd import start_sshd, world_readable_dir  # noqa: E402

FLOCKOPS = [sys.executable, "-m", "flockops"]
TIMING = re.compile(r"refresh (\d+): ([0-9.]+) s wall, ([0-9.]+) s cpu, (\d+) hosts \((\d+) stale\), "
                    r"(\d+) connections opened")


def busy_cpu_s() -> float:
    """Busy CPU seconds of the whole machine so far (every core, /proc/stat, less idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / os.sysconf("SC_CLK_TCK")


def watch(inventory: Path, known_hosts: Path, env: dict[str, str], interval: float, count: int,
          forks: int) -> tuple[list[tuple[int, float, float, int, int]], float, float]:
    argv = [*FLOCKOPS, "watch", "-i", str(inventory), "-n", str(interval), "--count", str(count), "-f", str(forks),
            "--known-hosts", str(known_hosts), "--timing", "--summary"]
    before = busy_cpu_s()
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    machine = busy_cpu_s() - before
    if process.returncode != 0:
        sys.exit(f"watch failed ({process.returncode}):\n{stderr[-2000:]}")
    ticks = [(int(m[1]), float(m[2]), float(m[3]), int(m[5]), int(m[6])) for m in TIMING.finditer(stderr)]
    if len(ticks) != count:
        sys.exit(f"expected {count} timing lines:\n{stderr[-2000:]}")
    return ticks, machine, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, nargs="+", default=[10, 25, 50])
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--forks", type=int, default=10)
    args = parser.parse_args()

    world = world_readable_dir("flockops-watch-bench-")
    build_fake_nvml(world / "nvml")
    write_config(world / "nvml.conf", [{"name": "NVIDIA H200", "uuid": "GPU-0", "pci_bus_id": "00000000:83:00.0",
                                        "memory_total": 143771 << 20, "memory_used": 32362 << 20,
                                        "memory_reserved": 614 << 20, "util_gpu": 100, "temperature": 52,
                                        "temp_slowdown": 87, "power_mw": 627_400, "power_limit_mw": 700_000}])
    for path in world.rglob("*"):
        path.chmod(0o755 if path.is_dir() or path.name == "libnvidia-ml.so.1" else 0o644)
    sshd = start_sshd(world / "sshd", set_env={"LD_LIBRARY_PATH": f"{world}/nvml",
                                                "FAKE_NVML_CONFIG": f"{world}/nvml.conf"})
    known_hosts = sshd.write_known_hosts(world / "known_hosts")
    home = world / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "SSH_AUTH_SOCK": ""}
    print(f"cpu cores: {os.cpu_count()}, one loopback sshd serving every host, fake NVML (one H200 each), "
          f"watch -n {args.interval:g} --count {args.count} -f {args.forks} --summary, stdout to /dev/null\n")
    print(f"one probe as a target runs it (sh + python3 + NVML, no SSH): {probe_cpu_s(world) * 1000:.0f} ms CPU\n")
    try:
        rows = []
        for hosts in args.hosts:
            inventory = write_inventory(world / f"inv{hosts}.ini", hosts, sshd.port, sshd.user, sshd.client_key,
                                        known_hosts)
            started = time.perf_counter()
            done = subprocess.run([*FLOCKOPS, "report", "-i", str(inventory), "-f", str(args.forks),
                                   "--known-hosts", str(known_hosts), "-o", "json"], env=env, capture_output=True,
                                  check=False)
            report_s = time.perf_counter() - started
            if done.returncode != 0:
                sys.exit(f"report failed: {done.stderr.decode()[-2000:]}")
            ticks, machine, _ = watch(inventory, known_hosts, env, args.interval, args.count, args.forks)
            rows.append((hosts, report_s, ticks, machine))
        print("| hosts | refresh | wall | inside -n? | controller CPU | SSH connections opened |")
        print("|---|---|---|---|---|---|")
        for hosts, _, ticks, _ in rows:
            for number, wall, cpu, stale, opened in ticks:
                ok = "yes" if wall <= args.interval else "no"
                stale_note = f" ({stale} stale)" if stale else ""
                print(f"| {hosts} | {number} | {wall:.2f} s{stale_note} | {ok} | {cpu:.2f} s | {opened} |")
        print("\n| hosts | `report -i` (reconnects; process start included) | watch refresh, median of 2..N | "
              "slowest of 2..N | controller CPU / refresh | machine CPU / refresh (controller + sshd + probes) |")
        print("|---|---|---|---|---|---|")
        for hosts, report_s, ticks, machine in rows:
            kept = [t for t in ticks if t[0] > 1]
            print(f"| {hosts} | {report_s:.2f} s | {statistics.median(t[1] for t in kept):.2f} s | "
                  f"{max(t[1] for t in kept):.2f} s | {statistics.median(t[2] for t in kept):.2f} s | "
                  f"{machine / args.count:.2f} s |")
    finally:
        sshd.stop_host()
        shutil.rmtree(world, ignore_errors=True)


if __name__ == "__main__":
    main()
