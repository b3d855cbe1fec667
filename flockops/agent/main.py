"""The target side of the remote probe: run every driver here and print one JSON report.

Runs from an in-memory zip under the target's python3 (see :mod:`flockops.remote.command`).
Standard library, the drivers (built-in, and pure-Python third-party ones shipped from the
controller) and ``pynvml`` only.
"""

from __future__ import annotations

import gc
import importlib
import json
import sys
from collections.abc import Sequence
from dataclasses import replace

from .chain import collect_host
from .codec import host_to_dict
from .driver import Context, Driver, contract_problem
from .drivers import BUILTIN_DRIVERS
from .model import DriverAttempt, Outcome


def builtin_drivers() -> list[Driver]:
    drivers = []
    for target in BUILTIN_DRIVERS.values():
        module_name, class_name = target.split(":")
        drivers.append(getattr(importlib.import_module(module_name), class_name)())
    return drivers


def extra_drivers(targets: Sequence[str]) -> tuple[list[Driver], list[DriverAttempt]]:
    """Third-party drivers shipped from the controller ("module:Class"); one that cannot be
    loaded here is a failed attempt, never the end of the probe."""
    drivers: list[Driver] = []
    failed: list[DriverAttempt] = []
    for target in targets:
        module_name, _, class_name = target.partition(":")
        try:
            driver = getattr(importlib.import_module(module_name), class_name)()
        except Exception as exc:
            failed.append(DriverAttempt(target, "unknown", Outcome.FAILED,
                                        f"could not load on the target: {type(exc).__name__}: {exc}"))
            continue
        problem = contract_problem(driver)
        if problem is None:
            drivers.append(driver)
        else:
            failed.append(DriverAttempt(target, "unknown", Outcome.FAILED, f"rejected on the target: {problem}"))
    return drivers, failed


# --serve (watch): after each report, so the controller knows where it ends without EOF.
END_MARKER = "@@flockops-end"


def main(argv: Sequence[str]) -> None:
    selected = [a.split("=", 1)[1] for a in argv if a.startswith("--driver=")]
    extras, failed = extra_drivers([a.split("=", 1)[1] for a in argv if a.startswith("--extra=")])
    drivers = [*builtin_drivers(), *extras]

    def report() -> str:
        found = collect_host(drivers, Context.local(), host="", selected=selected or None)
        return json.dumps(host_to_dict(replace(found, drivers=found.drivers + tuple(failed))))

    if "--serve" not in argv:
        alarm = [int(a.split("=", 1)[1]) for a in argv if a.startswith("--alarm=")]
        if alarm:
            import signal

            signal.alarm(alarm[0])  # SIGALRM's default action ends the process, even inside a C call
        sys.stdout.write(report() + "\n")
        return
    # Resident (flockops.remote.resident): the imports above are paid once; then every request line gets one
    # report and the end marker, flushed at once, until the controller closes stdin. It lives for
    # hours, so the garbage collector the bootstrap turned off comes back on.
    gc.enable()
    for _ in iter(sys.stdin.buffer.readline, b""):
        sys.stdout.write(report() + "\n" + END_MARKER + "\n")
        sys.stdout.flush()
