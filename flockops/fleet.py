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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from flockops.agent.chain import collect_host
from flockops.agent.driver import CommandResult, Context, Driver
from flockops.agent.fields import printable
from flockops.agent.model import DriverAttempt, FleetReport, HostError, HostReport
from flockops.connection import ConnectionPool, Endpoint, SshConnection, SshOptions, quiet_paramiko, resolve
from flockops.errors import ConnectionFailure, ParseError, UsageError
from flockops.probe import (
    JSON_MARKER,
    SHELL_MARKER,
    parse_python_output,
    parse_shell_output,
    probe_zip,
    remote_command,
)

if TYPE_CHECKING:
    from flockops.inventory import Target

GRACE_S = 1.0


@dataclass(frozen=True)
class FleetOptions:
    forks: int = 10
    timeout_s: float = 30.0  # per host, connection and probe together
    selected_drivers: tuple[str, ...] | None = None
    ssh: SshOptions = field(default_factory=SshOptions)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)  # may hold tokens
    # --- watch (issue 7): connections kept open between runs; None opens and closes one per host. ---
    pool: ConnectionPool | None = None


# Ansible's connection plugins that are SSH underneath (smart picks ssh or paramiko).
SSH_CONNECTIONS = frozenset({"ssh", "paramiko", "paramiko_ssh", "smart"})


def host_key_checking(target: Target, options: FleetOptions) -> bool:
    """The inventory's host_key_checking wins, then FLOCKOPS_HOST_KEY_CHECKING; on by default."""
    if options.ssh.host_key_checking is not None:
        return options.ssh.host_key_checking
    if target.host_key_checking is not None:
        return bool(target.host_key_checking)
    return env_host_key_checking(options.env)


def env_host_key_checking(env: Mapping[str, str]) -> bool:
    """FLOCKOPS_HOST_KEY_CHECKING: true unless it says false; UsageError for a word that is neither
    ("maybe" must not silently mean either)."""
    raw = env.get("FLOCKOPS_HOST_KEY_CHECKING", "true").strip().lower()
    if raw in ("0", "false", "no", "off", "n", "f"):
        return False
    if raw in ("1", "true", "yes", "on", "y", "t", ""):
        return True
    raise UsageError(f"FLOCKOPS_HOST_KEY_CHECKING={raw!r}: say true or false")


def _failed(target: Target, kind: str, message: str, source: str = "ssh") -> HostReport:
    return HostReport(host=target.name, address=target.address, errors=(HostError(kind, source, message),),
                      collected_at=time.time())


@dataclass(frozen=True)
class Shipment:
    """Third-party drivers and how they reach the targets."""

    modules: tuple[str, ...] = ()  # top-level modules packed into the probe zip
    targets: tuple[str, ...] = ()  # "module:Class" the probe instantiates there
    local_only: tuple[Driver, ...] = ()  # not pure Python: they ran on the controller only


def shipment(local_drivers: Sequence[Driver]) -> Shipment:
    """Pure-Python third-party drivers travel with the probe; the others are reported as local-only."""
    from flockops.agent.drivers import BUILTIN_DRIVERS
    from flockops.probe import shippable_sources

    modules: list[str] = []
    targets: list[str] = []
    local_only: list[Driver] = []
    for driver in local_drivers:
        if driver.name in BUILTIN_DRIVERS:
            continue
        module = type(driver).__module__
        if shippable_sources(module) is None:
            local_only.append(driver)
            continue
        modules.append(module.split(".")[0])
        targets.append(f"{module}:{type(driver).__qualname__}")
    return Shipment(tuple(dict.fromkeys(modules)), tuple(targets), tuple(local_only))


def interpret(output: str, stderr: str, target: Target, remote_only: Sequence[Driver]) -> HostReport:
    """Turn the remote command's output into a host report (Python JSON or shell replay), its text
    made printable (a target's escape sequences must not reach the operator's terminal).

    ``remote_only``: third-party drivers that could not travel (not pure Python).
    """
    report: HostReport = printable(_interpret(output, stderr, target, remote_only))
    return report


def _interpret(output: str, stderr: str, target: Target, remote_only: Sequence[Driver]) -> HostReport:
    marker, _, rest = output.partition("\n")
    notes = tuple(DriverAttempt(d.name, d.vendor, "skipped", "ran on the controller only: not pure Python, "
                                "so it cannot travel with the probe", d.priority) for d in remote_only)
    if marker.strip() == JSON_MARKER:
        try:
            report = parse_python_output(rest, target.name)
        except ParseError as exc:
            detail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            return _failed(target, "probe_failed", f"{exc}{'; stderr: ' + detail if detail else ''}", "probe")
        return replace(report, address=target.address, drivers=report.drivers + notes, collected_at=time.time())
    if marker.strip() == SHELL_MARKER:
        from flockops.probe import shell_drivers

        ctx = parse_shell_output(rest)
        if ctx.empty:
            return _failed(target, "probe_failed", f"no usable python3 (3.10+), no GPU tool "
                           f"({', '.join(sorted(ctx.missing_tools))}) and no GPU in sysfs on the target", "probe")
        report = collect_host(shell_drivers(), ctx, host=target.name)
        no_python = DriverAttempt("nvml", "nvidia", "unavailable", "no python3 3.10+ on the target (shell probe)", 10)
        return replace(report, address=target.address, drivers=(no_python, *report.drivers, *notes))
    shown = (output.strip() or stderr.strip())[:200]
    return _failed(target, "probe_failed", f"the probe printed something unexpected: {shown!r}", "probe")


def probe_host(target: Target, options: FleetOptions, local_drivers: Sequence[Driver]) -> HostReport:
    """One host's report; connection problems become a failed report with their kind."""
    if target.connection not in SSH_CONNECTIONS and target.connection != "local":
        return _failed(target, "unreachable", f"ansible_connection {target.connection!r} is not one flockops speaks "
                       "(ssh, paramiko, smart or local); this host was not asked")
    if target.connection == "local":
        report = collect_host(local_drivers, Context.local(), host=target.name, selected=options.selected_drivers)
        return replace(report, address="local")
    deadline = time.monotonic() + options.timeout_s
    ship = shipment(local_drivers)
    from flockops.probe import shell_commands

    try:
        endpoint = resolve(target, options.ssh)
        # The probe's own alarm, a little after the deadline: a hung probe ends on the target too.
        command = remote_command(target.python, options.selected_drivers, shell_commands(), ship.targets,
                                 serve=options.pool is not None, alarm_s=math.ceil(options.timeout_s) + 1)
        if options.pool is not None:
            result = _exec_pooled(options.pool, target, endpoint, options, command, probe_zip(ship.modules), deadline)
        else:
            connection = SshConnection(endpoint, options.ssh, host_key_checking(target, options))
            try:
                connection.open(deadline)
                result = connection.exec(command, probe_zip(ship.modules), deadline)
            finally:
                connection.close()
    except ConnectionFailure as exc:
        return _failed(target, exc.kind, str(exc))
    return interpret(result.stdout, result.stderr, target, ship.local_only)


def _exec_pooled(pool: ConnectionPool, target: Target, endpoint: Endpoint, options: FleetOptions, command: str,
                 payload: bytes, deadline: float) -> CommandResult:
    """--- watch (issue 7) --- Ask the resident probe (:mod:`flockops.resident`) on the pool's open
    connection to ``target``, opening one if there is none. A kept connection that fails (its probe
    timed out or died, sshd restarted, a NAT dropped it) is closed and re-opened once; a fresh one
    that fails is the host's answer."""
    from flockops.resident import sample

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
            return result
    connection = SshConnection(endpoint, options.ssh, host_key_checking(target, options))
    pool.count_open()
    try:
        connection.open(deadline)
        result = sample(connection, command, payload, deadline)
    except BaseException:
        connection.close()
        raise
    pool.give(target.name, connection)
    return result


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
                report = _failed(target, "internal", f"{type(exc).__name__}: {exc}", "flockops")
            with lock:
                given_up = position in results  # the supervisor started a worker in this one's place
                results.setdefault(position, report)
                lock.notify_all()
            if given_up:
                return  # else -f would be exceeded: that worker takes the hosts still waiting

    for _ in range(max(1, min(options.forks, len(targets)))):
        threading.Thread(target=worker, daemon=True, name="flockops-probe").start()

    with lock:
        while len(results) < len(targets):
            now = clock()
            for position, began in started.items():
                if position not in results and now - began > options.timeout_s + GRACE_S:
                    results[position] = _failed(targets[position], "timeout",
                                                f"no result within the {options.timeout_s:g} s deadline")
                    # Its worker is stuck in a call nothing can interrupt (a DNS lookup): it is left
                    # behind, and a new one takes the hosts still waiting.
                    threading.Thread(target=worker, daemon=True, name="flockops-probe").start()
            lock.wait(timeout=0.2)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return FleetReport(hosts=tuple(results[i] for i in range(len(targets))), generated_at=generated)
