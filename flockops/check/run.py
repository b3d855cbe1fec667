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
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flockops.agent.model import FleetReport, HostReport

from .notify import DEFAULT_BUDGET_S, notify, shown_url
from .notify import problems as notify_problems
from .rules import State, Thresholds, evaluate, overall, thresholds_from_vars
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
    notify_budget_s: float = DEFAULT_BUDGET_S
    state_file: Path | None = None  # None: the default, $XDG_STATE_HOME/flockops/check-state.json
    textfile_dir: str | None = None
    deadline_s: float | None = None  # the whole run's, from its start


@dataclass(frozen=True)
class CheckResult:
    state: State
    stdout: str
    # Outputs that failed (the webhook, the state file, the textfile), each said once: warnings,
    # never the verdict's business.
    problems: tuple[str, ...] = ()


# Left for what follows the collection when --deadline is near: the outputs need a moment too.
OUTPUT_MARGIN_S = 1.0


def run(request: CheckRequest, collect: Callable[[], tuple[FleetReport, Mapping[str, Mapping[str, Any]]]],
        clock: Callable[[], float] = time.monotonic) -> CheckResult:
    """Collect (within --deadline: past it, DeadlineExceeded), evaluate, apply and remember the state
    across runs, notify, write the textfile and render. ``collect`` returns the fleet and each host's
    inventory variables (per-host thresholds). Once the hosts have answered the verdict is kept,
    whatever the outputs do: each one that fails is a problem in the result, with its reason."""
    started = clock()
    with deadline(request.deadline_s):
        fleet, host_vars = collect()

    def thresholds_for(host: HostReport) -> Thresholds:
        return thresholds_from_vars(request.thresholds, host_vars.get(host.host, {}), host.host)

    def time_left() -> float:
        if not request.deadline_s:
            return float("inf")
        return request.deadline_s - (clock() - started) - OUTPUT_MARGIN_S

    raw = evaluate(fleet, thresholds_for)
    items = raw
    problems: list[str] = []
    if request.consecutive > 1 or request.notify_url or any((i.runs or 1) > 1 for i in raw):
        state_file = request.state_file or default_state_file()
        memory = load_state(state_file)
        items = apply_consecutive(raw, memory, request.consecutive)
        due = changes(items, memory) if request.notify_url else []
        # Kept first with every due change still due: a state that cannot be kept cannot count
        # streaks, so no breach is held back (each would be "1 of N" for ever), and a webhook would
        # get the same change at every run, so none is sent.
        pending = {item.key: heard for heard, item in due}
        try:
            save_state(state_file, remember(raw, items, memory, pending))
        except OSError as exc:
            problems.append(f"cannot save the check state to {state_file}: {exc.strerror or exc}; "
                            "without it no breach is held back by --consecutive and nothing is notified")
            items, due = raw, []
        if due:
            assert request.notify_url is not None
            budget = min(request.notify_budget_s, time_left())
            if budget <= 0:
                problems.append(f"no time left before the --deadline to notify {shown_url(request.notify_url)} "
                                f"of {len(due)} change(s); they are sent at the next run")
            else:
                deliveries = notify(request.notify_url, due, budget, clock)
                problems.extend(notify_problems(request.notify_url, deliveries))
                undelivered = {d.key: pending[d.key] for d in deliveries if not d.delivered}
                try:
                    save_state(state_file, remember(raw, items, memory, undelivered))
                except OSError as exc:
                    problems.append(f"cannot save the check state to {state_file}: {exc.strerror or exc}; "
                                    "the changes just notified are sent again at the next run")
    state = overall(items)
    prometheus = None
    if request.textfile_dir or request.output == "prometheus":
        from flockops.render.prometheus import check_metrics, fleet_metrics

        prometheus = check_metrics(fleet_metrics(fleet), items).text()
    if request.textfile_dir and prometheus is not None:
        from flockops.render.prometheus import write_textfile

        try:
            write_textfile(request.textfile_dir, prometheus)
        except OSError as exc:
            problems.append(f"cannot write {request.textfile_dir}/flockops.prom: {exc.strerror or exc}")
    if request.quiet and state == State.OK:
        stdout = ""
    elif request.output == "prometheus":
        stdout = prometheus or ""
    elif request.output == "json":
        payload = {"schema_version": 1, "state": state.name, "generated_at": fleet.generated_at,
                   "items": [{"host": i.host, "check": i.key, "state": i.state.name, "text": i.text, "info": i.info}
                             for i in items]}
        stdout = json.dumps(payload, indent=2) + "\n"
    else:
        from .nagios import render

        stdout = render(items, state)
    return CheckResult(state, stdout, tuple(problems))
