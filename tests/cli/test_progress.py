"""The progress line of a long fleet run (#15 item 4): on a terminal's stderr, never in a pipe."""

from __future__ import annotations

import io
import subprocess
import sys

from support.fleet import fleet_gpu, host, write_inventory
from support.runner import base_env
from support.terminal import run_on_terminal

from flockops.cli.progress import ProgressLine, line
from flockops.remote.fleet import Progress


def progress(done: int, elapsed: float, finished: bool = False, failed: int = 0) -> Progress:
    return Progress(total=20, done=done, failed=failed, running=(("gpu-07", 4.2), ("gpu-01", 1.0)),
                    elapsed_s=elapsed, finished=finished)


def test_the_line_says_done_failed_pending_and_the_slowest() -> None:
    assert line(progress(12, 3.0, failed=1)) == "12/20 hosts done (1 failed), 8 pending; slowest: gpu-07 4.2 s"


def test_quiet_for_the_first_second_then_drawn_in_place_and_erased_at_the_end() -> None:
    now = [0.0]
    stream = io.StringIO()
    draw = ProgressLine(stream, clock=lambda: now[0])
    draw(progress(1, 0.5))
    assert stream.getvalue() == ""  # a run under a second says nothing
    now[0] = 1.5
    draw(progress(5, 1.5))
    now[0] = 1.6
    draw(progress(6, 1.6))  # within a quarter second of the last: not redrawn
    assert stream.getvalue() == "\r\x1b[K5/20 hosts done, 15 pending; slowest: gpu-07 4.2 s"
    draw(progress(20, 2.0, finished=True))
    assert stream.getvalue().endswith("\r\x1b[K")  # the table that follows starts on a clean line


def test_a_fleet_run_over_a_second_shows_progress_on_a_terminal_only(tmp_path, world, sshd, fleet_env) -> None:  # type: ignore[no-untyped-def]
    # A host that takes two seconds to answer (a busy target), beside one that answers at once.
    quick = world.python("quick", [fleet_gpu()])
    slow = world.python("slow", body=f'sleep 2; exec {quick} "$@"')
    inventory = write_inventory(tmp_path / "inv.yml", {"fast-one": host(sshd, ansible_python_interpreter=quick),
                                                       "slow-one": host(sshd, ansible_python_interpreter=slow)})
    env = {**base_env(tmp_path), **fleet_env, "COLUMNS": "80"}
    code, terminal, stdout = run_on_terminal(["report", "-i", str(inventory), "--no-ollama"], env, stream="stderr")
    assert code == 0, stdout + terminal
    assert "1/2 hosts done, 1 pending; slowest: slow-one" in terminal
    assert terminal.endswith("\r\x1b[K")  # erased before the table
    assert "hosts done" not in stdout and "== slow-one" in stdout
    quiet = run_on_terminal(["report", "-i", str(inventory), "--no-ollama", "-q"], env, stream="stderr")
    assert "hosts done" not in quiet[1]
    piped = subprocess.run([sys.executable, "-m", "flockops", "report", "-i", str(inventory), "--no-ollama"],
                           capture_output=True, text=True, env=env, check=False, timeout=60)
    assert piped.returncode == 0 and "hosts done" not in piped.stderr  # cron, a log: nothing
