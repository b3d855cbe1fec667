"""Shared fixtures: a clean environment, the fake NVML library, running the CLI, and a loopback fleet.

Helpers and fakes live in the ``support`` package beside this file; fixtures are here, so that
no test module imports another.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from support.fleet import fleet_env, sshd, world  # noqa: F401  (fixtures of the loopback fleet)
from support.runner import Run, base_env


@pytest.fixture(autouse=True)
def _clean_flockops_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("FLOCKOPS_", "FAKE_NVML", "FAKE_NVIDIA_SMI")):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def fake_nvml_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the fake libnvidia-ml.so.1, compiled once per test session."""
    from support.nvml import build_fake_nvml

    libdir = tmp_path_factory.mktemp("nvml")
    build_fake_nvml(libdir)
    return libdir


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
    from support.nvml import nvml_env as make_env
    from support.nvml import write_config

    def make(gpus: list[dict[str, Any]], **globals_: Any) -> dict[str, str]:
        config = write_config(tmp_path / "nvml.conf", gpus, **globals_)
        return dict(make_env(fake_nvml_dir, config))

    yield make
