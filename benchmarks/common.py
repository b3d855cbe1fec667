"""Shared helpers for the benchmarks: isolated venvs and a plain timing loop."""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import time
import venv
from collections.abc import Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CACHE = Path("/tmp/flockops-bench")


def make_venv(name: str, packages: Sequence[str], refresh: Sequence[str] = ()) -> Path:
    """A venv of its own per tool, so that no tool pays for another's imports.

    ``refresh`` is reinstalled every time (the working tree under test).
    """
    root = CACHE / name
    python = root / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    if not python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(root)
        subprocess.run([*pip, *packages, *refresh], check=True)
    elif refresh:
        subprocess.run([*pip, "--force-reinstall", "--no-deps", *refresh], check=True)
    return root / "bin"


def time_command(argv: Sequence[str], env: Mapping[str, str], runs: int = 20, warmup: int = 3) -> dict[str, float]:
    """Wall time of whole processes: median and min over ``runs`` after ``warmup`` runs."""
    samples = []
    for i in range(warmup + runs):
        started = time.perf_counter()
        done = subprocess.run(list(argv), env=dict(env), capture_output=True, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode(errors='replace')[-500:]}")
        if i >= warmup:
            samples.append(elapsed)
    return {"median_s": statistics.median(samples), "min_s": min(samples), "runs": runs}


def probe_cpu_s(world: Path, runs: int = 9, command: str | None = None) -> float:
    """CPU of one probe as a target runs it (shell + Python + NVML), without SSH: the median of ``runs``.
    ``world`` holds the fake NVML (nvml/, nvml.conf); ``command`` replaces the probe (a baseline)."""
    from flockops.agent.drivers.nvidia_smi import planned_queries
    from flockops.remote.bundle import probe_zip
    from flockops.remote.command import remote_command

    command = command or remote_command("/usr/bin/python3", None, planned_queries())
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": f"{world}/nvml", "FAKE_NVML_CONFIG": f"{world}/nvml.conf"}
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(["/bin/sh", "-c", command], input=probe_zip(), env=env, capture_output=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    return statistics.median(samples)
