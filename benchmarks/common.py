"""Shared helpers for the benchmarks: isolated venvs and a plain timing loop."""

from __future__ import annotations

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
