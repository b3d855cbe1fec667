"""Running the flockops command as a user does: a subprocess with a clean environment."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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
    # The probe zip a run keeps (flockops.remote.bundle_cache) stays in the test's own directory.
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env
