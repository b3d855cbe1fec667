"""The remote probe's payload, run here under a bare interpreter exactly as a target runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATA, FAKES

from flockops.drivers.nvidia_smi import planned_queries
from flockops.probe import JSON_MARKER, SHELL_MARKER, parse_shell_output, probe_zip, remote_command


def run_remote(command: str, env: dict[str, str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["/bin/sh", "-c", command], input=stdin, env=env, capture_output=True, timeout=60,
                          check=False)


@pytest.mark.parametrize("python", ["python3", sys.executable])
def test_payload_runs_under_an_isolated_python(python: str, tmp_path: Path, nvml_env) -> None:  # type: ignore[no-untyped-def]
    """No site-packages, no flockops installed: only the zip on stdin (pynvml included)."""
    real = shutil.which(python)
    assert real is not None
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nexec {real} -I "$@"\n')  # -I: isolated, no site, no user path
    wrapper.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", **nvml_env([{"name": "NVIDIA H200", "memory_total": 1 << 30}])}
    done = run_remote(remote_command(str(wrapper), None, planned_queries()), env, probe_zip())
    marker, _, body = done.stdout.decode().partition("\n")
    assert marker == JSON_MARKER, done.stderr.decode()
    report = json.loads(body)
    assert [(g["name"], g["source"]) for g in report["gpus"]] == [("NVIDIA H200", "nvml")]


def test_without_python_the_shell_branch_records_nvidia_smi(tmp_path: Path) -> None:
    env = {"PATH": f"{FAKES}:/usr/bin:/bin", "FAKE_NVIDIA_SMI_CASE": str(DATA / "nvidia-smi/cases/h200-load")}
    done = run_remote(remote_command("/nonexistent/python3", None, planned_queries()), env, probe_zip())
    marker, _, body = done.stdout.decode().partition("\n")
    assert marker == SHELL_MARKER
    recorded = parse_shell_output(body)
    assert len(recorded.recorded or {}) == 3
    result = recorded.run(planned_queries()[0])
    assert result.returncode == 0 and "NVIDIA H200" in result.stdout


def test_inventory_text_is_quoted_into_the_remote_command() -> None:
    evil = "/usr/bin/python3; touch /tmp/pwned"
    command = remote_command(evil, ["nvml; rm -rf /"], planned_queries())
    assert "'/usr/bin/python3; touch /tmp/pwned'" in command
    assert "'--driver=nvml; rm -rf /'" in command
