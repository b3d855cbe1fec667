"""``flockops check`` as cron runs it: a lock against overlapping runs, a deadline over the whole run,
state across runs (``--consecutive``), notifications (``--notify``) and the outputs.

The collection itself is handed in (``collect``): the check does not know how a fleet is asked.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flockops.agent.model import FleetReport, HostReport

from .rules import Item, State, Thresholds, evaluate, overall, thresholds_from_vars
from .state import apply_consecutive, changes, default_state_file, load_state, remember, save_state


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[bool]:
    """flock(2) on ``path``; yields False at once when another run holds it. UsageError when the file
    cannot be opened (a directory, a missing directory)."""
    from flockops.errors import UsageError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UsageError(f"--lock {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock



class DeadlineExceeded(BaseException):
    """Raised by the --deadline alarm. A BaseException, like KeyboardInterrupt, so that the
    per-driver and per-host isolation (which catches Exception) lets it through."""


@contextlib.contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise DeadlineExceeded in this (the main) thread once ``seconds`` have passed; None: never."""
    if not seconds:
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise DeadlineExceeded()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def host_timeout(timeout_s: float, deadline_s: float | None) -> float:
    """Each host's deadline within the run's: the deadline less a second (the alarm is the backstop
    for everything else)."""
    return timeout_s if not deadline_s else max(0.5, min(timeout_s, deadline_s - 1.0))


@dataclass(frozen=True)
class CheckRequest:
    """What one check run does besides evaluating: the state it keeps, where it notifies, what it prints."""

    thresholds: Thresholds
    output: str = "nagios"  # nagios | prometheus | json
    quiet: bool = False
    consecutive: int = 1
    notify_url: str | None = None
    state_file: Path | None = None  # None: the default, $XDG_STATE_HOME/flockops/check-state.json
    textfile_dir: str | None = None


@dataclass(frozen=True)
class CheckResult:
    state: State
    stdout: str
    prometheus: str | None  # for --textfile


def run(request: CheckRequest, collect: Callable[[], tuple[FleetReport, Mapping[str, Mapping[str, Any]]]],
        warn: Callable[[str], None]) -> CheckResult:
    """Collect, evaluate, apply and remember the state across runs, notify, and render.
    ``collect`` returns the fleet and each host's inventory variables (per-host thresholds)."""
    fleet, host_vars = collect()

    def thresholds_for(host: HostReport) -> Thresholds:
        return thresholds_from_vars(request.thresholds, host_vars.get(host.host, {}), host.host)

    raw = evaluate(fleet, thresholds_for)
    items = raw
    if request.consecutive > 1 or request.notify_url:
        state_file = request.state_file or default_state_file()
        memory = load_state(state_file)
        items = apply_consecutive(raw, memory, request.consecutive)
        if request.notify_url:
            from .notify import notify

            for problem in notify(request.notify_url, changes(items, memory)):
                warn(problem)
        try:
            save_state(state_file, remember(raw, items, memory))
        except OSError as exc:
            # Unsaved, no streak ever reaches --consecutive: every run would hold its breaches back as OK.
            said = f"cannot save the check state to {state_file}: {exc.strerror or exc}"
            warn(said)
            items = [*items, Item("flockops", "flockops/state-file", State.UNKNOWN,
                                  f"{said}; --consecutive and --notify cannot work without it")]
    state = overall(items)
    prometheus = None
    if request.textfile_dir or request.output == "prometheus":
        from flockops.render.prometheus import check_metrics, fleet_metrics

        prometheus = check_metrics(fleet_metrics(fleet), items).text()
    if request.quiet and state == State.OK:
        stdout = ""
    elif request.output == "prometheus":
        stdout = prometheus or ""
    elif request.output == "json":
        payload = {"schema_version": 1, "state": state.name, "generated_at": fleet.generated_at,
                   "items": [{"host": i.host, "check": i.key, "state": i.state.name, "text": i.text} for i in items]}
        stdout = json.dumps(payload, indent=2) + "\n"
    else:
        from .nagios import render

        stdout = render(items, state)
    return CheckResult(state, stdout, prometheus)
