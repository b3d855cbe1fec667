"""The per-vendor fallback chain: a plain loop, not a ``firstresult`` hook.

Through pluggy, a hook implementation that raises aborts the whole call; here each
driver's failure is caught, recorded with its reason, and the next driver is tried.
Standard library only: this module also runs inside the remote probe.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from .driver import Context, Driver
from .errors import DriverUnavailable, FlockopsError
from .model import DriverAttempt, GpuSample, HostError, HostReport


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FlockopsError):
        return str(exc)
    # Not ours: keep the type, it is the only clue for a bug report.
    return f"{type(exc).__name__}: {exc}"


def chain_order(drivers: Iterable[Driver]) -> list[list[Driver]]:
    """Drivers grouped by vendor, each group in priority order."""
    groups: dict[str, list[Driver]] = {}
    for driver in sorted(drivers, key=lambda d: (d.priority, d.name)):
        groups.setdefault(driver.vendor, []).append(driver)
    return list(groups.values())


def collect_host(
    drivers: Sequence[Driver],
    ctx: Context,
    host: str = "localhost",
    selected: Iterable[str] | None = None,
) -> HostReport:
    """Try each vendor's drivers in priority order; the first that answers wins for that vendor."""
    wanted = set(selected) if selected is not None else None
    gpus: list[GpuSample] = []
    attempts: list[DriverAttempt] = []
    errors: list[HostError] = []
    for chain in chain_order(drivers):
        answered_by: str | None = None
        failures: list[DriverAttempt] = []
        for driver in chain:
            def attempt(outcome: str, reason: str | None, d: Driver = driver) -> DriverAttempt:
                return DriverAttempt(d.name, d.vendor, outcome, reason, d.priority)

            if wanted is not None and driver.name not in wanted:
                attempts.append(attempt("skipped", "not selected with --driver"))
                continue
            if answered_by is not None:
                attempts.append(attempt("skipped", f"{answered_by} already answered"))
                continue
            try:
                found = list(driver.collect(ctx))
            except DriverUnavailable as exc:
                attempts.append(attempt("unavailable", str(exc)))
                continue
            except Exception as exc:  # any driver bug stays inside this driver
                failed = attempt("failed", _reason(exc))
                attempts.append(failed)
                failures.append(failed)
                continue
            answered_by = driver.name
            attempts.append(attempt("used", None))
            gpus.extend(found)
            for gpu in found:
                if gpu.lost:
                    errors.append(
                        HostError("gpu_lost", driver.name, f"GPU {gpu.index}: {gpu.lost_reason or 'lost'}")
                    )
        if answered_by is None:
            # Nothing of this vendor answered: a failure is the report's business now.
            errors.extend(HostError("driver", f.name, f.reason or "failed") for f in failures)
    return HostReport(host=host, gpus=tuple(gpus), drivers=tuple(attempts), errors=tuple(errors),
                      collected_at=time.time())


def probe_drivers(drivers: Sequence[Driver], ctx: Context) -> list[tuple[Driver, str | None]]:
    """Each driver with None when it can run here, else the reason it cannot."""
    results: list[tuple[Driver, str | None]] = []
    for chain in chain_order(drivers):
        for driver in chain:
            try:
                driver.probe(ctx)
            except Exception as exc:
                results.append((driver, _reason(exc)))
            else:
                results.append((driver, None))
    return results
