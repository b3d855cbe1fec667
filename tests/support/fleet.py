"""A fleet on loopback: a real sshd serving every inventory host, each with its own fake GPUs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .paths import DATA, FAKES
from .sshd import Sshd, start_sshd, world_readable_dir
from .units import GIB

CASES = DATA / "nvidia-smi" / "cases"


class World:
    """What the SSH targets can see: a world-readable dir with the fakes, and wrapper 'pythons'."""

    def __init__(self, root: Path, nvml_lib: Path) -> None:
        self.root = root
        (root / "bin").mkdir()
        shutil.copy(FAKES / "nvidia-smi", root / "bin" / "nvidia-smi")
        shutil.copytree(CASES, root / "cases")
        shutil.copytree(nvml_lib.parent, root / "nvml")
        for path in root.rglob("*"):
            path.chmod(0o755 if path.is_dir() or path.name in ("nvidia-smi",) or path.suffix == ".so.1" else 0o644)
        (root / "nvml" / "libnvidia-ml.so.1").chmod(0o755)

    def python(self, name: str, gpus: list[dict[str, Any]] | None = None, body: str | None = None) -> str:
        """A stand-in for a host's python3: real /usr/bin/python3 seeing its own fake NVML GPUs."""
        from support.nvml import write_config

        script = self.root / f"python-{name}"
        if body is None:
            config = write_config(self.root / f"nvml-{name}.conf", gpus or [])
            config.chmod(0o644)
            body = (f'LD_LIBRARY_PATH={self.root}/nvml FAKE_NVML_CONFIG={config} '
                    'exec /usr/bin/python3 "$@"')
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o755)
        return str(script)


@pytest.fixture(scope="module")
def world(fake_nvml_dir: Path) -> Iterator[World]:
    root = world_readable_dir("flockops-world-")
    yield World(root, fake_nvml_dir / "libnvidia-ml.so.1")
    shutil.rmtree(root, ignore_errors=True)


def session_env(world: World, case: str = "h200-load") -> dict[str, str]:
    return {"PATH": f"{world.root}/bin:/usr/bin:/bin", "FAKE_NVIDIA_SMI_CASE": f"{world.root}/cases/{case}"}


@pytest.fixture(scope="module")
def sshd(world: World) -> Iterator[Sshd]:
    server = start_sshd(world.root / "sshd", set_env=session_env(world))
    yield server
    server.stop()


def fleet_gpu(name: str = "NVIDIA H100 80GB HBM3", **extra: Any) -> dict[str, Any]:
    return {"name": name, "uuid": f"GPU-{name}", "memory_total": 80 * GIB, "memory_used": 20 * GIB,
            "temperature": 55, "temp_slowdown": 87, "util_gpu": 40, **extra}


def host(sshd: Sshd, **extra: Any) -> dict[str, Any]:
    return {"ansible_host": "127.0.0.1", "ansible_port": sshd.port, "ansible_user": sshd.user,
            "ansible_ssh_private_key_file": str(sshd.client_key), **extra}


def write_inventory(path: Path, hosts: dict[str, dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"all": {"hosts": hosts}}))
    return path


@pytest.fixture
def fleet_env(tmp_path: Path, sshd: Sshd) -> dict[str, str]:
    """The controller's environment: its own HOME (no real ~/.ssh), no agent."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    sshd.write_known_hosts(home / ".ssh" / "known_hosts")
    return {"HOME": str(home), "SSH_AUTH_SOCK": ""}


def run_fleet(flockops, inventory: Path, env: dict[str, str], *extra: str):  # type: ignore[no-untyped-def]
    run = flockops("report", "-i", str(inventory), "-o", "json", *extra, env=env)
    assert "Traceback" not in run.stderr, run.stderr
    return run, {h["host"]: h for h in run.json()["hosts"]}
