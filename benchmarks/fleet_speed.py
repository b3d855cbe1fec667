"""`flockops report -i` over N loopback hosts, beside Ansible and a bare paramiko fan-out.

One real sshd on 127.0.0.1 serves every inventory host (different names, same port).
Like a real NVIDIA host, each has both an NVML library (the fake libnvidia-ml.so.1 with
one H200) and nvidia-smi (the replaying fake, on a recorded H200 capture): flockops's
probe reads NVML in-process, Ansible runs the nvidia-smi query. Same forks for every
tool. Run: python benchmarks/fleet_speed.py [N ...]
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import REPO, make_venv

sys.path.insert(0, str(REPO / "tests"))
from nvmlfake import build_fake_nvml, write_config  # noqa: E402
from sshd import start_sshd, world_readable_dir  # noqa: E402

FORKS = 20
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


def floor(n: int, port: int, user: str, key: Path, known_hosts: Path) -> float:
    """The least any SSH fan-out can do: connect, authenticate, run `true`, close."""
    import paramiko

    def one(_: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = paramiko.SSHClient()
        client.load_system_host_keys(str(known_hosts))
        client.connect("127.0.0.1", port=port, username=user, key_filename=str(key), sock=sock,
                       allow_agent=False, look_for_keys=False)
        _, stdout, _ = client.exec_command("true")
        stdout.channel.recv_exit_status()
        client.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(FORKS) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - started


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
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
    print(f"cpu cores: {os.cpu_count()}, forks {FORKS}, one loopback sshd, fake nvidia-smi (H200 capture)\n")
    print("| hosts | flockops report -i | ansible -m command | ansible -m raw | paramiko floor (`true`) | "
          "command / flockops | flockops / floor |")
    print("|---|---|---|---|---|---|---|")
    try:
        for n in sizes:
            inventory = write_inventory(world / f"inv{n}.ini", n, sshd.port, sshd.user, sshd.client_key,
                                        known_hosts)
            ours_s = timed([str(ours / "flockops"), "report", "-i", str(inventory), "-f", str(FORKS),
                            "--known-hosts", str(known_hosts), "-o", "json"], env)
            command_s = timed([str(ansible / "ansible"), "all", "-i", str(inventory), "-f", str(FORKS),
                               "-m", "command", "-a", QUERY], env)
            raw_s = timed([str(ansible / "ansible"), "all", "-i", str(inventory), "-f", str(FORKS),
                           "-m", "raw", "-a", QUERY], env)
            floor_s = floor(n, sshd.port, sshd.user, sshd.client_key, known_hosts)
            print(f"| {n} | {ours_s:.2f} s | {command_s:.2f} s | {raw_s:.2f} s | {floor_s:.2f} s | "
                  f"{command_s / ours_s:.1f}x | {ours_s / floor_s:.2f}x |", flush=True)
    finally:
        sshd.stop()
        shutil.rmtree(world, ignore_errors=True)


if __name__ == "__main__":
    main()
