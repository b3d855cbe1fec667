"""`flockops report -i` over N loopback hosts, beside Ansible and a bare paramiko fan-out.

One real sshd on 127.0.0.1 serves every inventory host (different names, same port).
Like a real NVIDIA host, each has both an NVML library (the fake libnvidia-ml.so.1 with
one H200) and nvidia-smi (the replaying fake, on a recorded H200 capture): flockops's
probe reads NVML in-process, Ansible runs the nvidia-smi query. Same forks for every
tool, each figure the median of FLEET_BENCH_RUNS (3) interleaved runs. The paramiko
floor is timed twice: in-process (paramiko already imported) and as a program of its own
(benchmarks/paramiko_floor.py), which is how flockops is timed.
Run: python benchmarks/fleet_speed.py [N ...]
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from common import REPO, make_venv, probe_cpu_s
from paramiko_floor import floor

sys.path.insert(0, str(REPO / "tests"))
from support.nvml import build_fake_nvml, write_config  # noqa: E402
from support.sshd import start_sshd, world_readable_dir  # noqa: E402

FORKS = 20
RUNS = int(os.environ.get("FLEET_BENCH_RUNS", "3"))  # each figure is the median of this many runs
QUERY = ("nvidia-smi --query-gpu=index,name,uuid,pci.bus_id,driver_version,memory.total,memory.used,memory.free,"
         "utilization.gpu,utilization.memory,temperature.gpu,power.draw,enforced.power.limit,fan.speed "
         "--format=csv,noheader,nounits")


def write_inventory(path: Path, n: int, port: int, user: str, key: Path, known_hosts: Path) -> Path:
    lines = ["[gpus]"] + [f"node{i:03d} ansible_host=127.0.0.1" for i in range(1, n + 1)]
    lines += ["", "[gpus:vars]", f"ansible_port={port}", f"ansible_user={user}",
              f"ansible_ssh_private_key_file={key}", "ansible_python_interpreter=/usr/bin/python3",
              f"ansible_ssh_common_args='-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes'"]
    path.write_text("\n".join(lines) + "\n")
    return path


def timed(argv: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,), cwd: Path | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, cwd=cwd)
    elapsed = time.perf_counter() - started
    if done.returncode not in ok:
        sys.exit(f"{argv[:3]} failed ({done.returncode}):\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    return elapsed


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10, 50, 100]
    world = world_readable_dir("flockops-fleet-bench-")
    (world / "bin").mkdir()
    shutil.copy(REPO / "tests" / "fakes" / "nvidia-smi", world / "bin" / "nvidia-smi")
    shutil.copytree(REPO / "tests" / "data" / "nvidia-smi" / "cases" / "h200-load", world / "case")
    build_fake_nvml(world / "nvml")
    write_config(world / "nvml.conf", [{"name": "NVIDIA H200", "uuid": "GPU-0", "pci_bus_id": "00000000:83:00.0",
                                        "memory_total": 143771 << 20, "memory_used": 32362 << 20,
                                        "memory_reserved": 614 << 20, "util_gpu": 100, "temperature": 52,
                                        "power_mw": 627_400, "power_limit_mw": 700_000}])
    for path in world.rglob("*"):
        path.chmod(0o755 if path.is_dir() or path.name in ("nvidia-smi", "libnvidia-ml.so.1") else 0o644)
    sshd = start_sshd(world / "sshd", set_env={"PATH": f"{world}/bin:/usr/bin:/bin",
                                                "FAKE_NVIDIA_SMI_CASE": f"{world}/case",
                                                "LD_LIBRARY_PATH": f"{world}/nvml",
                                                "FAKE_NVML_CONFIG": f"{world}/nvml.conf"})
    known_hosts = sshd.write_known_hosts(world / "known_hosts")
    ours = make_venv("flockops", [], refresh=[str(REPO)])
    ansible = make_venv("ansible", ["ansible-core"])
    home = world / "home"
    home.mkdir()
    env = {"PATH": f"{ours}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
           "ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_LOCAL_TEMP": str(home / "ansible-tmp"),
           "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
           # The SSH test user has no home directory.
           "ANSIBLE_REMOTE_TMP": "/tmp/.ansible-flockops-bench"}
    print(f"cpu cores: {os.cpu_count()}, forks {FORKS}, one loopback sshd, fake NVML + fake nvidia-smi (H200), "
          f"median of {RUNS} runs\n")
    print(f"CPU of one probe as a target runs it (sh + python3 + NVML, no SSH): {probe_cpu_s(world) * 1000:.0f} ms; "
          f"of `python3 -c pass`: {probe_cpu_s(world, command='/usr/bin/python3 -c pass') * 1000:.0f} ms\n")
    print("| hosts | flockops report -i | ansible -m command | ansible -m raw | floor, in-process | floor, own process "
          "| flockops, target python = `true` | command / flockops | flockops / floor (process) |")
    print("|---|---|---|---|---|---|---|---|---|")
    try:
        for n in sizes:
            inventory = write_inventory(world / f"inv{n}.ini", n, sshd.port, sshd.user, sshd.client_key,
                                        known_hosts)
            # The same hosts with /bin/true as their python3: every host fails as probe_failed (exit 2),
            # after the same connections and remote command; what is left is the probe itself.
            no_probe = world / f"inv{n}-true.ini"
            no_probe.write_text(inventory.read_text().replace("=/usr/bin/python3", "=/bin/true"))
            report = [str(ours / "flockops"), "report", "-f", str(FORKS), "--known-hosts", str(known_hosts),
                      "-o", "json"]
            ansible_all = [str(ansible / "ansible"), "all", "-i", str(inventory), "-f", str(FORKS)]
            floor_script = [str(ours / "python"), str(Path(__file__).with_name("paramiko_floor.py")), str(n),
                            str(sshd.port), sshd.user, str(sshd.client_key), str(known_hosts), str(FORKS)]
            tools: dict[str, Callable[[], float]] = {
                "ours": partial(timed, [*report, "-i", str(inventory)], env),
                "command": partial(timed, [*ansible_all, "-m", "command", "-a", QUERY], env),
                "raw": partial(timed, [*ansible_all, "-m", "raw", "-a", QUERY], env),
                "floor": partial(floor, n, sshd.port, sshd.user, sshd.client_key, known_hosts, FORKS),
                "floor_process": partial(timed, floor_script, env),
                "transport": partial(timed, [*report, "-i", str(no_probe)], env, ok=(2,)),
            }
            # Rounds interleave the tools, so that a busy moment of the machine spreads over all of them.
            samples: dict[str, list[float]] = {name: [] for name in tools}
            for _ in range(RUNS):
                for name, run in tools.items():
                    samples[name].append(run())
            m = {name: statistics.median(values) for name, values in samples.items()}
            print(f"| {n} | {m['ours']:.2f} s | {m['command']:.2f} s | {m['raw']:.2f} s | {m['floor']:.2f} s | "
                  f"{m['floor_process']:.2f} s | {m['transport']:.2f} s | {m['command'] / m['ours']:.1f}x | "
                  f"{m['ours'] / m['floor_process']:.2f}x |", flush=True)
    finally:
        sshd.stop()
        shutil.rmtree(world, ignore_errors=True)


if __name__ == "__main__":
    main()
