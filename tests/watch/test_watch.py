"""`flockops watch`: in place on a pseudo-terminal, one table per refresh elsewhere, stale hosts kept.

The pty tests read the terminal until what they wait for appears (bounded by a deadline), never
sleep to synchronise. The fake NVML re-reads its config at every nvmlInit, so rewriting it (atomically)
changes the GPU between refreshes.
"""

from __future__ import annotations

import fcntl
import io
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.nvml import write_config
from support.runner import base_env
from support.units import GIB

from flockops.agent.model import FleetReport, GpuSample, HostError, HostReport
from flockops.render.watch import watch_table
from flockops.watch.loop import merge, run
from flockops.watch.screen import Screen

HAS_SSHD = shutil.which("sshd") is not None or Path("/usr/sbin/sshd").exists()


def gpu(used_gib: int = 20, temp: int = 55) -> dict[str, Any]:
    return {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-w0", "memory_total": 80 * GIB,
            "memory_used": used_gib * GIB, "temperature": temp, "temp_slowdown": 87}


def rewrite(path: Path, gpus: list[dict[str, Any]]) -> None:
    """Replace the fake's config in one rename: an nvmlInit never reads half a file."""
    tmp = path.with_suffix(".tmp")
    write_config(tmp, gpus)
    os.replace(tmp, path)


class Pty:
    """``python -m flockops ARGS`` on a pseudo-terminal (200x250), in its own session and process group."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 200, 250, 0, 0))
        self.master = master
        self.process = subprocess.Popen([sys.executable, "-m", "flockops", *args], stdin=slave, stdout=slave,
                                        stderr=subprocess.PIPE, env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        self.output = ""

    def expect(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match[str]:
        """Read until ``pattern`` (a regex) appears in the output after ``start``; fail at the deadline."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while True:
            found = compiled.search(self.output, start)
            if found:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._read(remaining):
                raise AssertionError(f"{pattern!r} did not appear; output so far:\n{self.output[-3000:]}")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True  # the deadline check decides
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not chunk:
            return False
        self.output += chunk.decode(errors="replace")
        return True

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C, as a terminal sends it: SIGINT to the whole foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        return self.finish()

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        rc = self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        # What the child wrote last is still in the terminal: read until it is empty or closed.
        while select.select([self.master], [], [], 0.2)[0] and self._read(0):
            pass
        assert self.process.stderr is not None
        stderr = self.process.stderr.read().decode(errors="replace")
        os.close(self.master)
        return rc, stderr

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def local_env(nvml_env, tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:  # type: ignore[no-untyped-def]
    env = base_env(tmp_path)
    env.update(nvml_env([gpu()]))
    env["TERM"] = "xterm"
    yield env, Path(env["FAKE_NVML_CONFIG"])


# --- in-process: what a host shows, and the two ways of drawing ---------------------------------------


def _host(name: str, used: int, at: float) -> HostReport:
    return HostReport(host=name, address="10.0.0.1", collected_at=at, gpus=(GpuSample(
        vendor="nvidia", index=0, source="nvml", name="H100", memory_total_bytes=80 * GIB,
        memory_used_bytes=used * GIB, temperature_c=50.0),))


def test_a_host_that_stops_answering_keeps_its_last_data_marked_stale() -> None:
    last_good: dict[str, HostReport] = {}
    first = FleetReport((_host("a", 10, 100.0), _host("b", 20, 100.0)), "")
    views = merge(first, last_good, now=100.5)
    assert [(v.report.host, v.stale, v.age_s) for v in views] == [("a", False, 0.5), ("b", False, 0.5)]
    down = HostReport(host="b", address="10.0.0.1", collected_at=102.0,
                      errors=(HostError("unreachable", "ssh", "connection refused by 10.0.0.1 port 22"),))
    views = merge(FleetReport((_host("a", 11, 102.0), down), ""), last_good, now=112.0)
    assert views[1].stale and views[1].age_s == 12.0 and views[1].report.gpus[0].memory_used_bytes == 20 * GIB
    text = watch_table(views)
    assert "== a (10.0.0.1)  [ok, age 10 s]" in text
    assert "== b (10.0.0.1)  [STALE, last data 12 s ago]" in text
    assert "! now unreachable (ssh): connection refused" in text
    assert "20,480 MiB" in text.split("== b")[1]  # b's last data, still there
    assert "Fleet: 2 hosts (1 fresh, 1 stale)" in text
    summary = watch_table(views, summary=True)
    assert re.search(r"^b\s+STALE\s+12 s\s+1\s+20.0 GiB / 80.0 GiB", summary, re.M), summary
    # A host that never answered has nothing to keep: its error is shown as is.
    # It is neither fresh nor stale, and has no age: no data was ever collected from it.
    never = merge(FleetReport((_host("a", 11, 102.0), down), ""), {}, now=103.0)
    assert not never[1].stale and "== b (10.0.0.1)  [unreachable, age N/A]" in watch_table(never)
    assert "Fleet: 2 hosts (1 fresh, 0 stale, 1 without data)" in watch_table(never)
    assert re.search(r"^b\s+unreachable\s+N/A\s+N/A\s+N/A / N/A", watch_table(never, summary=True), re.M)


def test_screen_draws_in_place_on_a_terminal_and_appends_elsewhere() -> None:
    plain = io.StringIO()
    screen = Screen(plain, tty=False)
    screen.show("one\n")
    screen.show("two\n")
    screen.close()
    assert plain.getvalue() == "one\n\ntwo\n"

    class Terminal(io.StringIO):
        def fileno(self) -> int:
            raise io.UnsupportedOperation()  # no real terminal: the default size (100x40) is used

    term = Terminal()
    screen = Screen(term, tty=True)
    screen.show("first\n" + "x" * 300)
    screen.show("\n".join(f"line {i}" for i in range(60)))
    screen.close()
    out = term.getvalue()
    assert out.startswith("\x1b[?25l\x1b[2J\x1b[H") and out.count("\x1b[2J") == 1
    assert "x" * 100 + "\x1b[K" in out and "x" * 101 not in out  # cut at the width, never wrapped
    assert "... 21 more lines" in out and "line 38" in out and "line 39" not in out
    assert out.endswith("\x1b[J\n\x1b[?25h")


def test_a_terminal_that_says_it_is_0x0_still_shows_the_frame() -> None:
    """A pseudo-terminal nobody sized (script, some CI runners) reports 0 columns and 0 rows."""
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as out:
        assert os.get_terminal_size(out.fileno()) == (0, 0)
        screen = Screen(out, tty=True)
        screen.show("gpu-a  ok  1  10.0 GiB / 80.0 GiB\n")
    shown = os.read(master, 65536).decode()
    os.close(master)
    assert "gpu-a  ok  1  10.0 GiB / 80.0 GiB" in shown


def test_refreshes_are_paced_start_to_start_and_stop_after_count() -> None:
    now = [0.0]
    slept: list[float] = []

    def collect() -> FleetReport:
        now[0] += 0.5  # each refresh takes half a second
        return FleetReport((_host("a", 1, now[0]),), "")

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    shown: list[int] = []
    done = run(collect, lambda tick: shown.append(tick.number), interval_s=2.0, count=3, clock=lambda: now[0],
               wall=lambda: now[0], sleep=sleep)
    assert done == 3 and shown == [1, 2, 3] and slept == [1.5, 1.5]


# --- the real command ---------------------------------------------------------------------------------


def test_not_a_terminal_prints_one_table_per_refresh(flockops, local_env) -> None:  # type: ignore[no-untyped-def]
    env, _ = local_env
    run_ = flockops("watch", "--count", "2", "-n", "0.1", "--no-ollama", env=env)
    assert run_.returncode == 0, run_.stderr
    assert "\x1b" not in run_.stdout
    frames = run_.stdout.split("\n\nflockops watch |")
    assert len(frames) == 2 and run_.stdout.startswith("flockops watch | every 0.1 s | refresh 1/2")
    assert "refresh 2/2" in frames[1]
    for frame in frames:
        assert "== localhost  [ok, age" in frame and "20,480 MiB" in frame
    assert "Ctrl-C" not in run_.stdout


def test_terminal_redraws_new_values_and_ctrl_c_exits_cleanly(local_env) -> None:  # type: ignore[no-untyped-def]
    env, config = local_env
    term = Pty(["watch", "-n", "0.2", "--count", "500", "--no-ollama"], env)
    try:
        first = term.expect(r"refresh 1/500 .*")
        term.expect(r"20,480 MiB \(20\.0 GiB\)")
        rewrite(config, [gpu(used_gib=30, temp=71)])
        changed = term.expect(r"30,720 MiB \(30\.0 GiB\)", start=first.end())
        assert "71 °C / 87 °C" in term.output[changed.start() - 500:changed.end() + 500]
        rc, stderr = term.interrupt()
    finally:
        term.kill()
    assert rc == 0, stderr
    assert "Traceback" not in stderr and stderr.strip() == ""
    out = term.output
    assert out.startswith("\x1b[?25l\x1b[2J\x1b[H") and out.count("\x1b[2J") == 1  # cleared once, then in place
    assert out.count("\x1b[H") >= 2 and "Ctrl-C quits" in out
    assert out.rstrip("\r\n").endswith("\x1b[?25h")  # the cursor is given back


# --- over SSH: connections kept open, a host that goes away ------------------------------------------

if HAS_SSHD:
    from support.fleet import World, fleet_gpu, host, session_env, write_inventory
    from support.sshd import Sshd, start_sshd


@pytest.fixture
def fleet_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    return home


@pytest.mark.skipif(not HAS_SSHD, reason="OpenSSH server not installed (.ci/run installs it)")
def test_a_host_stopped_mid_run_goes_stale_with_its_last_data(tmp_path, world, fleet_home) -> None:  # type: ignore[no-untyped-def]
    steady_sshd = start_sshd(world.root / f"sshd-steady-{tmp_path.name}", set_env=session_env(world))
    doomed_sshd = start_sshd(world.root / f"sshd-doomed-{tmp_path.name}", set_env=session_env(world))
    try:
        known = fleet_home / ".ssh" / "known_hosts"
        known.write_text(steady_sshd.known_hosts_line() + doomed_sshd.known_hosts_line())
        inventory = write_inventory(tmp_path / "inv.yml", {
            "steady": host(steady_sshd, ansible_python_interpreter=world.python("steady", [fleet_gpu()])),
            "doomed": host(doomed_sshd, ansible_python_interpreter=world.python(
                "doomed", [fleet_gpu(memory_used=33 * GIB, temperature=66)])),
        })
        env = base_env(tmp_path)
        env.update({"HOME": str(fleet_home), "SSH_AUTH_SOCK": "", "TERM": "xterm"})
        term = Pty(["watch", "-i", str(inventory), "-n", "0.2", "--count", "500", "--timeout", "5", "--timing"],
                   env)
        try:
            term.expect(r"== doomed \(127\.0\.0\.1\)  \[ok, age [0-9.]+ s\]")
            term.expect(r"refresh 2/500")
            doomed_sshd.stop_host()
            stale = term.expect(r"== doomed \(127\.0\.0\.1\)  \[STALE, last data [0-9.]+ s ago\]")
            end = term.expect(r"Fleet: 2 hosts \(1 fresh, 1 stale\)", start=stale.end())  # the whole frame
            frame = term.output[stale.start():end.start()]
            assert "33,792 MiB (33.0 GiB)" in frame and "66 °C / 87 °C" in frame  # its last good data
            assert re.search(r"! now unreachable \(ssh\): connection refused by 127\.0\.0\.1 port", frame), frame
            term.expect(r"== steady \(127\.0\.0\.1\)  \[ok, age", start=stale.end())
            rc, stderr = term.interrupt()
        finally:
            term.kill()
    finally:
        doomed_sshd.stop_host()
        steady_sshd.stop_host()
    assert rc == 0 and "Traceback" not in stderr, stderr
    timings = re.findall(r"refresh (\d+): .* (\d+) connections opened", stderr)
    assert timings[0] == ("1", "2")  # both hosts connected once...
    assert timings[1] == ("2", "0")  # ...and kept open for the next refresh


@pytest.mark.skipif(not HAS_SSHD, reason="OpenSSH server not installed (.ci/run installs it)")
def test_a_probe_that_fails_before_answering_says_why_as_in_report(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """What the target printed on stderr is the reason, as `report` shows it, not an empty quote."""
    broken = world.python("maintenance", body="echo 'host is down for maintenance' >&2; exit 1")
    inventory = write_inventory(tmp_path / "inv.yml", {"gpu": host(sshd, ansible_python_interpreter=broken)})
    run = flockops("watch", "-i", str(inventory), "--count", "1", "--timeout", "10", env=fleet_env)
    assert "host is down for maintenance" in run.stdout, run.stdout + run.stderr


def counted_python(world: World, name: str, gpus: list[dict[str, Any]]) -> tuple[str, Path, Path]:
    """A host's python3 wrapper that appends a line to a file each time it starts; with its fake NVML
    config (rewrite it to change the GPU) and that file."""
    config = write_config(world.root / f"nvml-{name}.conf", gpus)
    config.chmod(0o644)
    starts = world.root / f"starts-{name}"
    starts.write_text("")
    starts.chmod(0o666)  # the sshd test user runs the wrapper
    body = (f"echo start >> {starts}; LD_LIBRARY_PATH={world.root}/nvml FAKE_NVML_CONFIG={config} "
            'exec /usr/bin/python3 "$@"')
    return world.python(name, body=body), config, starts


@pytest.mark.skipif(not HAS_SSHD, reason="OpenSSH server not installed (.ci/run installs it)")
def test_each_host_starts_python_once_and_its_values_still_change(tmp_path, world, fleet_home) -> None:  # type: ignore[no-untyped-def]
    server = start_sshd(world.root / f"sshd-resident-{tmp_path.name}", set_env=session_env(world))
    try:
        (fleet_home / ".ssh" / "known_hosts").write_text(server.known_hosts_line())
        hosts = {f"r{i}-{tmp_path.name}": counted_python(world, f"r{i}-{tmp_path.name}", [gpu(used_gib=20)])
                 for i in range(2)}
        inventory = write_inventory(tmp_path / "inv.yml", {
            name: host(server, ansible_python_interpreter=python) for name, (python, _, _) in hosts.items()})
        env = base_env(tmp_path)
        env.update({"HOME": str(fleet_home), "SSH_AUTH_SOCK": "", "TERM": "xterm"})
        term = Pty(["watch", "-i", str(inventory), "-n", "1", "--count", "3", "--timeout", "5", "--timing",
                    "--summary", "--no-ollama"], env)
        try:
            first = term.expect(r"refresh 1/3 .*\n(.*\n)*?.*Fleet: 2 hosts")  # the first frame, whole
            assert "20.0 GiB / 80.0 GiB" in first.group(0)
            for _, config, _ in hosts.values():
                rewrite(config, [gpu(used_gib=30)])  # refresh 3 starts 2 s after refresh 1: it reads this
            last = term.expect(r"refresh 3/3 .*\n(.*\n)*?.*Fleet: 2 hosts", start=first.end())
            rc, stderr = term.finish()
        finally:
            term.kill()
    finally:
        server.stop_host()
    assert rc == 0 and "Traceback" not in stderr, stderr
    assert last.group(0).count("30.0 GiB / 80.0 GiB") == 2, last.group(0)
    assert re.findall(r"refresh (\d+): .* (\d+) connections opened", stderr) == [("1", "2"), ("2", "0"), ("3", "0")]
    # One python3 per host for the whole watch: the resident probe answered every refresh.
    assert [starts.read_text().count("start") for _, _, starts in hosts.values()] == [1, 1]


@pytest.mark.skipif(not HAS_SSHD, reason="OpenSSH server not installed (.ci/run installs it)")
def test_pool_reuses_connections_and_reopens_a_dropped_one(tmp_path, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from flockops.inventory.loader import load_inventory
    from flockops.remote.fleet import FleetOptions, run_fleet
    from flockops.remote.pool import ConnectionPool
    from flockops.remote.settings import SshOptions, target_for

    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    server: Sshd = start_sshd(world.root / f"sshd-pool-{tmp_path.name}", set_env=session_env(world))
    pool = ConnectionPool()
    try:
        known = server.write_known_hosts(tmp_path / "known_hosts")
        python, _, starts = counted_python(world, f"pooled-{tmp_path.name}", [fleet_gpu()])
        inventory = write_inventory(tmp_path / "inv.yml", {
            f"node{i}": host(server, ansible_python_interpreter=python) for i in range(3)})
        targets = [target_for(h) for h in load_inventory(inventory).hosts]
        options = FleetOptions(forks=3, timeout_s=10, pool=pool,
                               ssh=SshOptions(known_hosts_files=(known,), ssh_config_path=None))
        for _ in range(3):
            fleet = run_fleet(targets, options, [])
            assert [h.status for h in fleet.hosts] == ["ok"] * 3, [h.errors for h in fleet.hosts]
        assert pool.opened == 3  # one connection per host, for three runs
        assert starts.read_text().count("start") == 3  # and one resident probe on each
        server.kill_sessions()  # every kept connection drops (a NAT timeout, sshd restarted)
        fleet = run_fleet(targets, options, [])
        assert [h.status for h in fleet.hosts] == ["ok"] * 3, [h.errors for h in fleet.hosts]
        assert pool.opened == 6  # each re-opened once, and the run never saw the drop
        assert starts.read_text().count("start") == 6  # with a new probe on it
    finally:
        pool.close()
        server.stop_host()


@pytest.mark.skipif(not HAS_SSHD, reason="OpenSSH server not installed (.ci/run installs it)")
def test_a_warning_stays_visible_under_the_frames(tmp_path, world, fleet_home) -> None:  # type: ignore[no-untyped-def]
    """On a terminal the first frame clears the screen: the accepted-unknown-key warning, written to
    stderr before it, would be wiped. It is shown under every frame, and printed again at the end."""
    sshd = start_sshd(world.root / f"sshd-warned-{tmp_path.name}", set_env=session_env(world))
    (fleet_home / ".ssh" / "known_hosts").write_text("")
    inventory = write_inventory(tmp_path / "inv.yml", {
        "new": host(sshd, ansible_python_interpreter=world.python("warned", [fleet_gpu()]), host_key_checking=False)})
    env = base_env(tmp_path)
    env.update({"HOME": str(fleet_home), "SSH_AUTH_SOCK": "", "TERM": "xterm"})
    term = Pty(["watch", "-i", str(inventory), "-n", "0.2", "--count", "3", "--timeout", "5"], env)
    try:
        frame = term.expect(r"refresh 2/3")
        term.expect(r"flockops: warning: .*accepting unknown host key", start=frame.end())
        rc, stderr = term.finish()
    finally:
        term.kill()
        sshd.stop_host()
    assert rc == 0 and "accepting unknown host key" in stderr, stderr
