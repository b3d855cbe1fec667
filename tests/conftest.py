"""Shared fixtures: a clean environment, the fake NVML library, and running the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
FAKES = TESTS / "fakes"
DATA = TESTS / "data"


@pytest.fixture(autouse=True)
def _clean_flockops_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("FLOCKOPS_", "FAKE_NVML", "FAKE_NVIDIA_SMI")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def fake_nvml_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the fake libnvidia-ml.so.1, compiled once per test session."""
    from nvmlfake import build_fake_nvml

    libdir = tmp_path_factory.mktemp("nvml")
    build_fake_nvml(libdir)
    return libdir


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def base_env(tmp_path: Path) -> dict[str, str]:
    """A minimal environment: no real GPU tool on PATH, nothing of the caller's FLOCKOPS_*."""
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOCKOPS_", "FAKE_", "LD_LIBRARY"))}
    env["PATH"] = f"{empty_bin}:{os.path.dirname(sys.executable)}:/usr/bin:/bin"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # An empty sysfs: the host's own GPUs (PCI detection, DRM cards) never leak into a test.
    env["FLOCKOPS_SYSFS_ROOT"] = str(tmp_path / "empty-sysfs")
    # The compiled code a run keeps (flockops.code_cache) stays in the test's own directory.
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env


@pytest.fixture
def flockops(tmp_path: Path) -> Callable[..., Run]:
    """Run ``python -m flockops ARGS`` in a subprocess with a clean environment plus ``env``."""

    def run(*args: str, env: Mapping[str, str] | None = None, timeout: float = 60) -> Run:
        full_env = base_env(tmp_path)
        full_env.update(env or {})
        done = subprocess.run([sys.executable, "-m", "flockops", *args], capture_output=True, text=True,
                              env=full_env, timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        return Run(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def nvml_env(fake_nvml_dir: Path, tmp_path: Path) -> Iterator[Callable[..., dict[str, str]]]:
    """Write a fake-NVML config and return the environment that loads it."""
    from nvmlfake import nvml_env as make_env
    from nvmlfake import write_config

    def make(gpus: list[dict[str, Any]], **globals_: Any) -> dict[str, str]:
        config = write_config(tmp_path / "nvml.conf", gpus, **globals_)
        return dict(make_env(fake_nvml_dir, config))

    yield make
