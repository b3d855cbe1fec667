"""Reports from many hosts at once: every host gets a result, never an exception.

A bounded pool of daemon worker threads (``--forks``) probes the hosts; each host has its
own deadline, and the run as a whole waits no longer than the slowest deadline plus a
second, so a host stuck in some call we cannot interrupt is reported as a timeout
instead of holding the report back.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from flockops.agent.chain import collect_host
from flockops.agent.driver import CommandResult, Context, Driver
from flockops.agent.fields import seconds
from flockops.agent.model import ANSWERED, FleetReport, HostReport
from flockops.errors import ConnectionFailure, ErrorKind

from .answer import failed_report, interpret
from .bundle import probe_zip, shipment
from .command import remote_command
from .connection import SshConnection, quiet_paramiko
from .pool import ConnectionPool
from .settings import SSH_CONNECTIONS, SshEndpoint, SshOptions, Target, host_key_checking, resolve
from .shell import shell_commands

GRACE_S = 1.0

# Asked while a host's connection is still open, once its probe has answered: (its report, an opener
# of connections to the host's own addresses, None for this machine's plain TCP; "ssh" or "direct";
# the host's deadline) -> the report with what the engines its holders run said (flockops.engines).
EngineHook = Callable[[HostReport, Callable[[str, int, float], Any] | None, str, float], HostReport]


@dataclass(frozen=True)
class FleetOptions:
    forks: int = 10
    timeout_s: float = 30.0  # per host, connection and probe together
    selected_drivers: tuple[str, ...] | None = None
    ssh: SshOptions = field(default_factory=SshOptions)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)  # may hold tokens
    # watch: connections kept open between runs; None opens and closes one per host.
    pool: ConnectionPool | None = None
    # Told how the run stands a few times a second (the CLI's progress line); its failure is ignored.
    progress: Callable[[Progress], None] | None = field(default=None, repr=False, compare=False)
    engines: EngineHook | None = None


@dataclass(frozen=True, slots=True)
class Progress:
    """How a fleet run stands: what the progress line on a terminal says."""

    total: int
    done: int
    failed: int  # of the done: any status but ok and partial
    running: tuple[tuple[str, float], ...]  # (host, seconds it has taken so far), slowest first
    elapsed_s: float
    finished: bool = False

    @property
    def pending(self) -> int:
        return self.total - self.done


def probe_host(target: Target, options: FleetOptions, local_drivers: Sequence[Driver]) -> HostReport:
    """One host's report; connection problems become a failed report with their kind."""
    if target.connection not in SSH_CONNECTIONS and target.connection != "local":
        return failed_report(target, ErrorKind.UNREACHABLE,
                             f"ansible_connection {target.connection!r} is not one flockops speaks "
                             "(ssh, paramiko, smart or local); this host was not asked")
    deadline = time.monotonic() + options.timeout_s
    if target.connection == "local":
        report = collect_host(local_drivers, Context.local(), host=target.name, selected=options.selected_drivers)
        return _with_engines(replace(report, address="local"), options, None, deadline)
    ship = shipment(local_drivers)
    try:
        endpoint = resolve(target, options.ssh)
        # The probe's own alarm, a little after the deadline: a hung probe ends on the target too.
        command = remote_command(target.python, options.selected_drivers, shell_commands(), ship.targets,
                                 serve=options.pool is not None, alarm_s=math.ceil(options.timeout_s) + 1)
        if options.pool is not None:
            result, kept = _exec_pooled(options.pool, target, endpoint, options, command, probe_zip(ship.modules),
                                        deadline)
            return _with_engines(interpret(result.stdout, result.stderr, target, ship.local_only, result.returncode),
                                 options, kept, deadline)
        connection = _connection(target, endpoint, options)
        try:
            connection.open(deadline)
            result = connection.exec(command, probe_zip(ship.modules), deadline)
            # The connection stays open for the engines the report names, then closes.
            return _with_engines(interpret(result.stdout, result.stderr, target, ship.local_only, result.returncode),
                                 options, connection, deadline)
        finally:
            connection.close()
    except ConnectionFailure as exc:
        return failed_report(target, exc.kind, str(exc))


def _with_engines(report: HostReport, options: FleetOptions, connection: SshConnection | None,
                  deadline: float) -> HostReport:
    """``report`` with what its engines said, asked through ``connection`` (None: from here)."""
    if options.engines is None:
        return report
    try:
        return options.engines(report, connection.tunnel if connection is not None else None,
                               "ssh" if connection is not None else "direct", deadline)
    except Exception:  # the engines' trouble never costs the host's report
        return report


def _connection(target: Target, endpoint: SshEndpoint, options: FleetOptions) -> SshConnection:
    return SshConnection(endpoint, options.ssh, host_key_checking(target, options.ssh.host_key_checking, options.env))


def _exec_pooled(pool: ConnectionPool, target: Target, endpoint: SshEndpoint, options: FleetOptions, command: str,
                 payload: bytes, deadline: float) -> tuple[CommandResult, SshConnection]:
    """watch: ask the resident probe (:mod:`flockops.remote.resident`) on the pool's open
    connection to ``target``, opening one if there is none. A kept connection that fails (its probe
    timed out or died, sshd restarted, a NAT dropped it) is closed and re-opened once; a fresh one
    that fails is the host's answer."""
    from .resident import sample

    kept = pool.take(target.name)
    if kept is not None:
        try:
            result = sample(kept, command, payload, deadline)
        except ConnectionFailure:
            kept.close()
            if time.monotonic() >= deadline:
                raise
        except BaseException:
            kept.close()
            raise
        else:
            pool.give(target.name, kept)
            return result, kept
    connection = _connection(target, endpoint, options)
    pool.count_open()
    try:
        connection.open(deadline)
        result = sample(connection, command, payload, deadline)
    except BaseException:
        connection.close()
        raise
    pool.give(target.name, connection)
    return result, connection


def _build_ahead(modules: tuple[str, ...]) -> None:
    # A failed build is not this thread's to report: each worker asks again and reports it as its host's.
    with contextlib.suppress(Exception):
        probe_zip(modules)


def run_fleet(targets: Sequence[Target], options: FleetOptions, local_drivers: Sequence[Driver],
              clock: Callable[[], float] = time.monotonic) -> FleetReport:
    """Probe every target with ``options.forks`` workers; results come back in inventory order."""
    quiet_paramiko()
    if any(t.connection != "local" for t in targets):
        # Built beside the workers' first connections (its compression lets go of the GIL);
        # a worker that is ready to send it first waits for it.
        threading.Thread(target=_build_ahead, args=(shipment(local_drivers).modules,), daemon=True,
                         name="flockops-probe-zip").start()
    results: dict[int, HostReport] = {}
    started: dict[int, float] = {}
    lock = threading.Condition()
    work: queue.Queue[int] = queue.Queue()
    for position in range(len(targets)):
        work.put(position)

    def worker() -> None:
        while True:
            try:
                position = work.get_nowait()
            except queue.Empty:
                return
            target = targets[position]
            with lock:
                started[position] = clock()
            try:
                report = probe_host(target, options, local_drivers)
            except Exception as exc:  # a bug must cost one host, not the run
                report = failed_report(target, ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}", "flockops")
            with lock:
                given_up = position in results  # the supervisor started a worker in this one's place
                results.setdefault(position, report)
                lock.notify_all()
            if given_up:
                return  # else -f would be exceeded: that worker takes the hosts still waiting

    for _ in range(max(1, min(options.forks, len(targets)))):
        threading.Thread(target=worker, daemon=True, name="flockops-probe").start()

    began_run = clock()

    def tell(finished: bool = False) -> None:
        # Under the lock: a snapshot of results and started. A broken progress line is no reason to fail.
        if options.progress is None:
            return
        now = clock()
        running = sorted(((targets[p].name, now - t) for p, t in started.items() if p not in results),
                         key=lambda pair: -pair[1])
        failed = sum(1 for r in results.values() if r.status not in ANSWERED)
        with contextlib.suppress(Exception):
            options.progress(Progress(len(targets), len(results), failed, tuple(running), now - began_run, finished))

    with lock:
        while len(results) < len(targets):
            tell()
            now = clock()
            for position, began in started.items():
                if position not in results and now - began > options.timeout_s + GRACE_S:
                    results[position] = failed_report(targets[position], ErrorKind.TIMEOUT,
                                                f"no result within the {seconds(options.timeout_s)} s deadline")
                    # Its worker is stuck in a call nothing can interrupt (a DNS lookup): it is left
                    # behind, and a new one takes the hosts still waiting.
                    threading.Thread(target=worker, daemon=True, name="flockops-probe").start()
            lock.wait(timeout=0.2)
        tell(finished=True)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return FleetReport(hosts=tuple(results[i] for i in range(len(targets))), generated_at=generated)
