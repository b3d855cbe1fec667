"""Reports from many hosts at once: every host gets a result, never an exception.

A bounded pool of daemon worker threads (``--forks``) probes the hosts; each host has its
own deadline, and the run as a whole waits no longer than the slowest deadline plus a
second, so a host stuck in some call we cannot interrupt is reported as a timeout
instead of holding the report back.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .collect import collect_host
from .connection import SshConnection, SshOptions, quiet_paramiko, resolve
from .driver import Context, Driver
from .errors import ConnectionFailure, ParseError
from .model import DriverAttempt, FleetReport, HostError, HostReport
from .probe import JSON_MARKER, SHELL_MARKER, parse_python_output, parse_shell_output, probe_zip, remote_command

if TYPE_CHECKING:
    from .inventory import Target

GRACE_S = 1.0


@dataclass(frozen=True)
class FleetOptions:
    forks: int = 10
    timeout_s: float = 30.0  # per host, connection and probe together
    selected_drivers: tuple[str, ...] | None = None
    ssh: SshOptions = field(default_factory=SshOptions)
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))


def host_key_checking(target: Target, options: FleetOptions) -> bool:
    """The inventory's host_key_checking wins, then FLOCKOPS_HOST_KEY_CHECKING; on by default."""
    if options.ssh.host_key_checking is not None:
        return options.ssh.host_key_checking
    if target.host_key_checking is not None:
        return bool(target.host_key_checking)
    raw = options.env.get("FLOCKOPS_HOST_KEY_CHECKING", "true").strip().lower()
    return raw not in ("0", "false", "no", "off")


def _failed(target: Target, kind: str, message: str, source: str = "ssh") -> HostReport:
    return HostReport(host=target.name, address=target.address, errors=(HostError(kind, source, message),),
                      collected_at=time.time())


def interpret(output: str, stderr: str, target: Target, remote_only: Sequence[Driver]) -> HostReport:
    """Turn the remote command's output into a host report (Python JSON or shell replay)."""
    marker, _, rest = output.partition("\n")
    notes = tuple(DriverAttempt(d.name, d.vendor, "skipped", "runs on the controller only (not shipped)",
                                d.priority) for d in remote_only)
    if marker.strip() == JSON_MARKER:
        try:
            report = parse_python_output(rest, target.name)
        except ParseError as exc:
            detail = stderr.strip().splitlines()[-1] if stderr.strip() else ""
            return _failed(target, "probe_failed", f"{exc}{'; stderr: ' + detail if detail else ''}", "probe")
        return replace(report, address=target.address, drivers=report.drivers + notes, collected_at=time.time())
    if marker.strip() == SHELL_MARKER:
        from .drivers.nvidia_smi import NvidiaSmiDriver

        ctx = parse_shell_output(rest)
        if not ctx.recorded:
            return _failed(target, "probe_failed", f"no usable python3 (3.10+) and no GPU tool "
                           f"({', '.join(sorted(ctx.missing_tools))}) on the target", "probe")
        report = collect_host([NvidiaSmiDriver()], ctx, host=target.name)
        no_python = DriverAttempt("nvml", "nvidia", "unavailable", "no python3 3.10+ on the target (shell probe)", 10)
        return replace(report, address=target.address, drivers=(no_python, *report.drivers, *notes))
    shown = (output.strip() or stderr.strip())[:200]
    return _failed(target, "probe_failed", f"the probe printed something unexpected: {shown!r}", "probe")


def probe_host(target: Target, options: FleetOptions, local_drivers: Sequence[Driver]) -> HostReport:
    """One host's report; connection problems become a failed report with their kind."""
    if target.connection == "local":
        report = collect_host(local_drivers, Context.local(), host=target.name, selected=options.selected_drivers)
        return replace(report, address="local")
    from .drivers import BUILTIN_DRIVERS

    deadline = time.monotonic() + options.timeout_s
    remote_only = [d for d in local_drivers if d.name not in BUILTIN_DRIVERS]
    from .drivers.nvidia_smi import planned_queries

    try:
        endpoint = resolve(target, options.ssh)
        connection = SshConnection(endpoint, options.ssh, host_key_checking(target, options))
        try:
            connection.open(deadline)
            command = remote_command(target.python, options.selected_drivers, planned_queries())
            result = connection.exec(command, probe_zip(), deadline)
        finally:
            connection.close()
    except ConnectionFailure as exc:
        return _failed(target, exc.kind, str(exc))
    return interpret(result.stdout, result.stderr, target, remote_only)


def run_fleet(targets: Sequence[Target], options: FleetOptions, local_drivers: Sequence[Driver],
              clock: Callable[[], float] = time.monotonic) -> FleetReport:
    """Probe every target with ``options.forks`` workers; results come back in inventory order."""
    quiet_paramiko()
    if any(t.connection != "local" for t in targets):
        probe_zip()  # built once here: workers racing into an empty cache would each compile it
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
                results.setdefault(position, report)
                lock.notify_all()

    for _ in range(max(1, min(options.forks, len(targets)))):
        threading.Thread(target=worker, daemon=True, name="flockops-probe").start()

    with lock:
        while len(results) < len(targets):
            now = clock()
            for position, began in started.items():
                if position not in results and now - began > options.timeout_s + GRACE_S:
                    results[position] = _failed(targets[position], "timeout",
                                                f"no result within the {options.timeout_s:g} s deadline")
            lock.wait(timeout=0.2)
    generated = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return FleetReport(hosts=tuple(results[i] for i in range(len(targets))), generated_at=generated)
