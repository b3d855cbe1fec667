"""The remote probe's payload, run here under a bare interpreter exactly as a target runs it."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import DATA, FAKES, REPO

from flockops.agent.drivers.nvidia_smi import planned_queries
from flockops.errors import ParseError
from flockops.remote.answer import parse_python_output
from flockops.remote.bundle import probe_zip
from flockops.remote.command import JSON_MARKER, remote_command
from flockops.remote.replay import parse_shell_output
from flockops.remote.shell import SHELL_MARKER


def run_remote(command: str, env: dict[str, str], stdin: bytes,
               cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["/bin/sh", "-c", command], input=stdin, env=env, capture_output=True, timeout=60,
                          check=False, cwd=cwd)


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


def _other_pythons() -> list[str]:
    """Interpreters other than this one that a target might have: the system's python3.X, pyenv's."""
    found = [*Path("/usr/bin").glob("python3.[0-9]*"), *Path("/usr/local/bin").glob("python3.[0-9]*"),
             *(Path.home() / ".pyenv" / "versions").glob("3.*/bin/python3")]
    by_real = {p.resolve(): p for p in found if p.name.replace("python3.", "").isdigit() or p.name == "python3"}
    by_real.pop(Path(sys.executable).resolve(), None)
    return sorted(str(p) for p in by_real.values())


@pytest.mark.parametrize("python", _other_pythons() or [pytest.param(None, marks=pytest.mark.skip("no other python"))])
def test_payload_on_other_python_versions(python: str, nvml_env) -> None:  # type: ignore[no-untyped-def]
    """Code objects travel for the controller's Python only: any other 3.10+ compiles the sources
    3.9 and older get the shell branch."""
    version = subprocess.run([python, "-c", "import sys; print(sys.version_info[:2] >= (3, 10))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    env = {"PATH": "/usr/bin:/bin", **nvml_env([{"name": "NVIDIA H200", "memory_total": 1 << 30}])}
    done = run_remote(remote_command(python, None, planned_queries()), env, probe_zip())
    marker, _, body = done.stdout.decode().partition("\n")
    if version == "True":
        assert marker == JSON_MARKER, done.stderr.decode()[-1000:]
        assert [(g["name"], g["source"]) for g in json.loads(body)["gpus"]] == [("NVIDIA H200", "nvml")]
    else:
        assert marker == SHELL_MARKER


def test_probe_leaves_heavy_unused_modules_unimported(nvml_env) -> None:  # type: ignore[no-untyped-def]
    """Every import costs every target on every report: these the probe's path must not load
    (PYTHONPROFILEIMPORTTIME makes the target's python3 list each module it imports)."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPROFILEIMPORTTIME": "1",
           **nvml_env([{"name": "NVIDIA H200", "memory_total": 1 << 30}])}
    done = run_remote(remote_command("python3", None, planned_queries()), env, probe_zip())
    assert done.stdout.decode().startswith(JSON_MARKER), done.stderr.decode()[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in done.stderr.decode().splitlines()
                if line.startswith("import time:")}
    # The log is really there; importlib.import_module (drivers, pynvml) is not logged, but what
    # pynvml's own body imports is.
    assert {"flockops.agent.model", "json", "ctypes"} <= imported
    assert '"source": "nvml"' in done.stdout.decode()
    assert imported.isdisjoint({"typing", "zipfile", "importlib.abc", "flockops.agent.ollama_model", "flockops.cli",
                                "csv"})


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
    # Split into words as Ansible runs "/usr/bin/env python3", each word quoted: ';' stays text.
    assert command.startswith("'/usr/bin/python3;' touch /tmp/pwned -B -c ")
    assert "'--driver=nvml; rm -rf /'" in command
    assert remote_command("$(id)'", None, []).startswith(shlex.quote("$(id)'") + " -B")  # unclosed: one word
    assert remote_command("/usr/bin/env python3", None, []).startswith("/usr/bin/env python3 -B -c ")
    assert remote_command("auto_silent", None, []).startswith("python3 -B -c ")


@pytest.mark.parametrize("case", ["amd-rx6900xt", "amd-rx7900xtx", "intel-b580"])
def test_shell_branch_records_sysfs_for_the_same_drivers(case: str) -> None:
    """No Python on the target: the shell copies the sysfs files out, and the controller parses
    them with the very drivers that would have run there, to the same values."""
    from flockops.agent.chain import collect_host
    from flockops.agent.codec import gpu_to_dict
    from flockops.remote.replay import shell_drivers
    from flockops.remote.shell import shell_commands

    tree = DATA / "sysfs" / case
    expected = json.loads((tree / "expected.json").read_text())
    env = {"PATH": "/usr/bin:/bin", "FLOCKOPS_SYSFS_ROOT": str(tree)}
    done = run_remote(remote_command("/nonexistent/python3", None, shell_commands()), env, probe_zip())
    marker, _, body = done.stdout.decode().partition("\n")
    assert marker == SHELL_MARKER, done.stderr.decode()
    ctx = parse_shell_output(body)
    assert ctx.sysfs_root == str(tree)
    report = collect_host(shell_drivers(), ctx, host="old-box")
    got = [gpu_to_dict(g) for g in report.gpus]
    assert len(got) == len(expected)
    for gpu, want in zip(got, expected, strict=True):
        assert {k: gpu[k] for k in want} == want


def test_shell_branch_records_amd_tools() -> None:
    # Without a case the fakes answer as on a host without the amdgpu driver: still recorded output.
    env = {"PATH": f"{FAKES}:/usr/bin:/bin", "FLOCKOPS_SYSFS_ROOT": "/nonexistent"}
    from flockops.remote.shell import shell_commands

    done = run_remote(remote_command("/nonexistent/python3", None, shell_commands()), env, probe_zip())
    recorded = parse_shell_output(done.stdout.decode().partition("\n")[2])
    assert {argv[0] for argv in recorded.recorded or ()} >= {"rocm-smi", "amd-smi"}


# --- watch's resident probe ---


def test_serve_mode_answers_every_request_from_one_python(nvml_env) -> None:  # type: ignore[no-untyped-def]
    """The zip framed by its size, then per request line one report and the end marker, read anew each
    time (the fake NVML re-reads its config at every nvmlInit); the probe ends with its stdin."""
    from support.nvml import write_config

    from flockops.agent.main import END_MARKER
    from flockops.remote.command import framed

    env = {"PATH": "/usr/bin:/bin", **nvml_env([{"name": "NVIDIA H200", "memory_total": 1 << 30,
                                                "memory_used": 1 << 20}])}
    command = remote_command("python3", None, planned_queries(), serve=True)
    process = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout

    def ask(first: bool = False) -> int:
        stdin.write(b"sample\n")
        stdin.flush()
        if first:  # the bootstrap's marker line, flushed with the first report
            assert stdout.readline().decode() == JSON_MARKER + "\n"
        report = json.loads(stdout.readline())
        assert stdout.readline().decode() == END_MARKER + "\n"
        return int(report["gpus"][0]["memory_used_bytes"])

    try:
        stdin.write(framed(probe_zip()))
        stdin.flush()
        used = [ask(first=True)]
        write_config(Path(env["FAKE_NVML_CONFIG"]), [{"name": "NVIDIA H200", "memory_total": 1 << 30,
                                                      "memory_used": 2 << 20}])
        used.append(ask())
        stdin.close()
        assert process.wait(timeout=60) == 0, process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
        process.wait()
    assert used == [1 << 20, 2 << 20]


def test_serve_mode_without_python_answers_once_with_the_shell_branch() -> None:
    """No Python: the serve command runs the shell branch too, answers the first request and ends (the
    controller starts it again at the next refresh)."""
    from flockops.remote.command import framed

    env = {"PATH": f"{FAKES}:/usr/bin:/bin", "FAKE_NVIDIA_SMI_CASE": str(DATA / "nvidia-smi/cases/h200-load")}
    command = remote_command("/nonexistent/python3", None, planned_queries(), serve=True)
    done = run_remote(command, env, framed(probe_zip()) + b"sample\n")
    marker, _, body = done.stdout.decode().partition("\n")
    assert marker == SHELL_MARKER and done.returncode == 0
    assert "NVIDIA H200" in parse_shell_output(body).run(planned_queries()[0]).stdout


GPU = {"vendor": "nvidia", "index": 0, "source": "nvml", "memory_total_bytes": 1 << 30}


@pytest.mark.parametrize(("answer", "why"), [
    ('{"gpus": [1]}', "does not fit the model"),
    ('{"gpus": [], "errors": ["x"]}', "does not fit the model"),
    ('{"gpus": [], "drivers": {"a": 1}}', "does not fit the model"),
    ("[" * 100_000 + "]" * 100_000, "did not print a JSON report"),
    (json.dumps({"gpus": [{**GPU, "memory_total_bytes": "80 GiB"}]}),
     "HostReport.gpus[0].memory_total_bytes = '80 GiB' (not int | None)"),
    (json.dumps({"gpus": [{**GPU, "temperatures": [{"sensor": 3}]}]}), "gpus[0].temperatures[0].sensor = 3 (not str)"),
    (json.dumps({"gpus": [{**GPU, "throttle_reasons": [1]}]}), "gpus[0].throttle_reasons[0] = 1 (not str)"),
    ('{"gpus": [{"vendor": "nvidia", "index": 0, "source": "nvml", "temperature_c": NaN}]}',
     "gpus[0].temperature_c = nan (not a finite number)"),
    (json.dumps({"gpus": [GPU], "errors": [{"kind": "driver", "source": "nvml", "message": None}]}),
     "HostReport.errors[0].message = None (not str)"),
])
def test_a_probe_answer_that_does_not_fit_the_model_is_a_parse_error(answer: str, why: str) -> None:
    """Whatever a target prints, the host gets probe_failed with the reason; nothing reaches the renderers."""
    with pytest.raises(ParseError) as caught:
        parse_python_output(answer, "gpu-a")
    assert why in str(caught.value)


def test_a_well_formed_probe_answer_passes_the_type_check() -> None:
    report = parse_python_output(json.dumps({"gpus": [{**GPU, "throttle_reasons": ["sw_power_cap"],
                                                       "temperature_c": 52, "field_errors": {"fan_pct": "n/a"},
                                                       "temperatures": [{"sensor": "edge", "temperature_c": 40.5}]}],
                                             "drivers": [{"name": "nvml", "vendor": "nvidia", "outcome": "used"}]}),
                                 "gpu-a")
    assert report.gpus[0].temperature_c == 52 and report.gpus[0].temperatures[0].sensor == "edge"


def test_a_module_in_the_login_directory_cannot_stand_in_for_the_standard_library(tmp_path: Path, nvml_env) -> None:  # type: ignore[no-untyped-def]
    """`python3 -c` puts the working directory (an SSH login's home) first on sys.path: the bootstrap
    takes it off before its first import of a standard module."""
    (tmp_path / "struct.py").write_text("raise SystemExit('the home directory shadowed struct')\n")
    env = {"PATH": "/usr/bin:/bin", **nvml_env([{"name": "NVIDIA H200", "memory_total": 1 << 30}])}
    done = run_remote(remote_command("python3", None, planned_queries()), env, probe_zip(), cwd=tmp_path)
    assert done.stdout.decode().startswith(JSON_MARKER), done.stderr.decode()[-500:]
    assert not (tmp_path / "__pycache__").exists()


def test_a_one_shot_probe_ends_itself_at_its_alarm(tmp_path: Path) -> None:
    """A GPU library call that hangs (here a driver that sleeps) must not outlive the controller's
    deadline on the target: the one-shot probe's alarm ends it (SIGALRM)."""
    import signal
    import time

    code = """
import sys, time
import flockops.agent.main as probe_main
from flockops.agent.driver import Driver
class Hung(Driver):
    name, vendor, priority = "hung", "acme", 1
    def collect(self, ctx):
        time.sleep(30)
probe_main.builtin_drivers = lambda: [Hung()]
probe_main.main(sys.argv[1:])
"""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code, "--alarm=1"], capture_output=True, timeout=60, check=False,
                          cwd=REPO)
    assert done.returncode == -signal.SIGALRM, done.stderr
    assert time.monotonic() - started < 10
    assert "--alarm=31" in remote_command("python3", None, [], alarm_s=31)
    assert "--alarm" not in remote_command("python3", None, [], serve=True, alarm_s=31)
