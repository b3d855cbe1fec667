"""Two trees of flockops side by side: the probe's CPU and `flockops report -i`, interleaved.

An earlier revision is checked out with `git worktree add` and run through PYTHONPATH, the working
tree the same way, from one venv (the benchmark venv of fleet_speed.py), so that nothing but the
code differs. Interleaved rounds spread a busy moment of the machine over both.

Run: python benchmarks/tree_ab.py REVISION [--probe-runs 60] [--report-runs 10] [HOSTS ...]
  e.g. python benchmarks/tree_ab.py 0748ae9 10 50
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, make_venv
from fleet_speed import timed, write_inventory

sys.path.insert(0, str(REPO / "tests"))
from support.nvml import build_fake_nvml, write_config  # noqa: E402
from support.sshd import start_sshd, world_readable_dir  # noqa: E402

ZIP_AND_COMMAND = """
import sys
try:  # the layout since the agent package
    from flockops.agent.drivers.nvidia_smi import planned_queries
    from flockops.remote.bundle import probe_zip
    from flockops.remote.command import remote_command
except ImportError:  # the flat layout before it
    from flockops.drivers.nvidia_smi import planned_queries
    from flockops.probe import probe_zip, remote_command
sys.stdout.buffer.write(remote_command("/usr/bin/python3", None, planned_queries()).encode() + b"\\0" + probe_zip())
"""


def probe_payload(python: Path, tree: Path) -> tuple[str, bytes]:
    # cwd too: `python -c` puts the working directory first on sys.path, before PYTHONPATH.
    out = subprocess.run([str(python), "-c", ZIP_AND_COMMAND], env={"PYTHONPATH": str(tree)}, cwd=tree,
                         check=True, capture_output=True).stdout
    command, _, payload = out.partition(b"\0")
    return command.decode(), payload


def probe_cpu_ms(command: str, payload: bytes, env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["/bin/sh", "-c", command], input=payload, env=env, capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("revision")
    parser.add_argument("hosts", nargs="*", type=int, default=[10, 50])
    parser.add_argument("--probe-runs", type=int, default=60)
    parser.add_argument("--report-runs", type=int, default=10)
    args = parser.parse_intermixed_args()
    old = Path(tempfile.mkdtemp(prefix="flockops-ab-")) / "tree"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(old), args.revision], check=True)
    world = world_readable_dir("flockops-ab-")
    try:
        build_fake_nvml(world / "nvml")
        write_config(world / "nvml.conf", [{"name": "NVIDIA H200", "uuid": "GPU-0", "pci_bus_id": "00000000:83:00.0",
                                            "memory_total": 143771 << 20, "memory_used": 32362 << 20}])
        for path in world.rglob("*"):
            path.chmod(0o755 if path.is_dir() or path.name == "libnvidia-ml.so.1" else 0o644)
        ours = make_venv("flockops", [], refresh=[str(REPO)])
        trees = {args.revision: old, "working tree": REPO}
        nvml = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": f"{world}/nvml", "FAKE_NVML_CONFIG": f"{world}/nvml.conf"}
        payloads = {name: probe_payload(ours / "python", tree) for name, tree in trees.items()}
        cpu: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.probe_runs):
            for name, (command, payload) in payloads.items():
                cpu[name].append(probe_cpu_ms(command, payload, nvml))
        print(f"probe CPU, median of {args.probe_runs} serial runs: "
              + ", ".join(f"{name} {statistics.median(v):.1f} ms" for name, v in cpu.items()))
        sshd = start_sshd(world / "sshd", set_env={"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": f"{world}/nvml",
                                                    "FAKE_NVML_CONFIG": f"{world}/nvml.conf"})
        try:
            known_hosts = sshd.write_known_hosts(world / "known_hosts")
            home, empty = world / "home", world / "empty"
            home.mkdir()
            empty.mkdir()
            for n in args.hosts:
                inventory = write_inventory(world / f"inv{n}.ini", n, sshd.port, sshd.user, sshd.client_key,
                                            known_hosts)
                # -m flockops: each tree's own entry point (a console script names one), run from
                # an empty directory, which -m puts first on sys.path, before PYTHONPATH.
                argv = [str(ours / "python"), "-m", "flockops", "report", "-f", "20", "--known-hosts",
                        str(known_hosts), "-o", "json", "-i", str(inventory)]
                wall: dict[str, list[float]] = {name: [] for name in trees}
                for _ in range(args.report_runs):
                    for name, tree in trees.items():
                        # A cache of its own per tree (flockops.code_cache), as each would have.
                        env = {"PATH": f"{ours}:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8",
                               "PYTHONPATH": str(tree), "XDG_CACHE_HOME": str(home / "cache" / name)}
                        wall[name].append(timed(argv, env, cwd=empty))
                print(f"report -i, {n} hosts, median of {args.report_runs}: "
                      + ", ".join(f"{name} {statistics.median(v):.3f} s" for name, v in wall.items()), flush=True)
        finally:
            sshd.stop()
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], check=False)
        shutil.rmtree(world, ignore_errors=True)


if __name__ == "__main__":
    main()
