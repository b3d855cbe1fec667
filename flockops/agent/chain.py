"""The per-vendor fallback chain: a plain loop, not a ``firstresult`` hook.

Through pluggy, a hook implementation that raises aborts the whole call; here each
driver's failure is caught, recorded with its reason, and the next driver is tried.
Standard library only: this module also runs inside the remote probe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from flockops.errors import DriverUnavailable, ErrorKind, FlockopsError

from .driver import Context, Driver
from .fields import a_vendor, clean_gpu
from .model import DriverAttempt, GpuSample, HostError, HostReport, Outcome
from .parse import pci_bus_key


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
            def attempt(outcome: Outcome, reason: str | None, d: Driver = driver) -> DriverAttempt:
                return DriverAttempt(d.name, d.vendor, outcome, reason, d.priority)

            if wanted is not None and driver.name not in wanted:
                attempts.append(attempt(Outcome.SKIPPED, "not selected with --driver"))
                continue
            if answered_by is not None:
                if driver.supplements:  # cheap (sysfs): may fill what the answering driver lacked
                    attempts.append(_supplement(driver, ctx, answered_by, gpus, attempt))
                    continue
                attempts.append(attempt(Outcome.SKIPPED, f"{answered_by} already answered"))
                continue
            try:
                found = [clean_gpu(gpu, driver.name) for gpu in driver.collect(ctx)]
            except DriverUnavailable as exc:
                attempts.append(attempt(Outcome.UNAVAILABLE, str(exc)))
                continue
            except Exception as exc:  # any driver bug stays inside this driver
                failed = attempt(Outcome.FAILED, _reason(exc))
                attempts.append(failed)
                failures.append(failed)
                continue
            answered_by = driver.name
            attempts.append(attempt(Outcome.USED, None))
            gpus.extend(found)
            for gpu in found:
                if gpu.lost:
                    errors.append(
                        HostError(ErrorKind.GPU_LOST, driver.name, f"GPU {gpu.index}: {gpu.lost_reason or 'lost'}")
                    )
        if answered_by is None:
            # Nothing of this vendor answered: a failure is the report's business now.
            errors.extend(HostError(ErrorKind.DRIVER, f.name, f.reason or "failed") for f in failures)
    # With --driver, only the vendors of the drivers asked for: `--driver nvidia-smi` on a host whose
    # NVIDIA GPUs nvidia-smi cannot read must not read as "no GPU", nor name the AMD card it skipped.
    vendors = None if wanted is None else {d.vendor for d in drivers if d.name in wanted}
    if vendors is None or vendors:
        errors.extend(_undetected(ctx, gpus, attempts, vendors))
    gpus, trouble = _attributed(gpus, ctx)
    errors.extend(trouble)
    return HostReport(host=host, gpus=tuple(gpus), drivers=tuple(attempts), errors=tuple(errors),
                      collected_at=time.time())


def _attributed(gpus: list[GpuSample], ctx: Context) -> tuple[list[GpuSample], list[HostError]]:
    """The GPUs with their holders attributed (flockops.agent.holders): read only when a driver listed
    a holder, or an AMD or Intel GPU has no process list a DRM fdinfo scan could fill."""
    if not any(g.processes or (g.processes is None and g.vendor in ("amd", "intel")) for g in gpus):
        return gpus, []
    from .holders.attribution import attribute

    try:
        return attribute(gpus, ctx), []
    except Exception as exc:  # a bug here costs the attribution, never the GPUs
        return gpus, [HostError(ErrorKind.INTERNAL, "holders", f"could not attribute the GPUs' processes: "
                                f"{_reason(exc)}")]


# --- Vendor detection and merging -----------------------------------------------------
# Fields a supplementing source may fill where the answering one has None (or nothing).
MERGEABLE = (
    "name", "uuid", "memory_total_bytes", "memory_used_bytes", "memory_free_bytes", "utilization_pct",
    "memory_utilization_pct", "power_w", "power_limit_w", "temperatures",
    "memory_shared_total_bytes", "memory_shared_used_bytes",
)
# Taken together, only when the answering source has no temperature at all.
TEMPERATURE_GROUP = ("temperature_c", "temperature_sensor", "temperature_slowdown_c", "temperature_shutdown_c")


def merge_gpu(primary: GpuSample, extra: GpuSample) -> GpuSample:
    """``primary`` with the fields it lacks taken from ``extra`` (the same GPU seen by another
    source), each named in ``merged_from``. Nothing ``primary`` measured is replaced."""
    changes: dict[str, object] = {}
    for name in MERGEABLE:
        mine, theirs = getattr(primary, name), getattr(extra, name)
        if mine in (None, ()) and theirs not in (None, ()):
            changes[name] = theirs
    if primary.temperature_c is None and extra.temperature_c is not None:
        changes.update({name: getattr(extra, name) for name in TEMPERATURE_GROUP})
    elif (primary.temperature_sensor is not None and primary.temperature_sensor == extra.temperature_sensor):
        for name in ("temperature_slowdown_c", "temperature_shutdown_c"):  # limits of the same sensor
            if getattr(primary, name) is None and getattr(extra, name) is not None:
                changes[name] = getattr(extra, name)
    if extra.memory_shared and not primary.memory_shared:
        changes["memory_shared"] = True
    if not changes:
        return primary
    merged_from = {**primary.merged_from, **{name: extra.source for name in changes}}
    return replace(primary, merged_from=merged_from, **changes)  # type: ignore[arg-type]


def _supplement(driver: Driver, ctx: Context, answered_by: str, gpus: list[GpuSample],
                attempt: Callable[[Outcome, str | None], DriverAttempt]) -> DriverAttempt:
    """Run a cheap driver after another of its vendor answered; merge by PCI bus id, in place."""
    try:
        found = [clean_gpu(gpu, driver.name) for gpu in driver.collect(ctx)]
    except Exception as exc:  # a supplement's trouble is never the report's: the vendor has answered
        return attempt(Outcome.SKIPPED,
                       f"{answered_by} already answered; this one could not add to it ({_reason(exc)})")
    mine = [i for i, g in enumerate(gpus) if g.vendor == driver.vendor and g.source == answered_by]
    by_bus = {pci_bus_key(g.pci_bus_id): g for g in found if not g.lost and pci_bus_key(g.pci_bus_id)}
    filled = 0
    for i in mine:
        extra = by_bus.pop(pci_bus_key(gpus[i].pci_bus_id) or "", None)
        if extra is not None and not gpus[i].lost:
            merged = merge_gpu(gpus[i], extra)
            filled += len(merged.merged_from) - len(gpus[i].merged_from)
            gpus[i] = merged
    # A GPU the answering driver did not list at all (ROCm skips some iGPUs) is still a GPU of
    # this host; added only when every listed GPU had a bus id, so the matching can be trusted.
    added = 0
    if mine and all(pci_bus_key(gpus[i].pci_bus_id) for i in mine):
        next_index = max(gpus[i].index for i in mine) + 1
        for offset, extra in enumerate(by_bus.values()):
            gpus.append(replace(extra, index=next_index + offset))
            added += 1
    if not filled and not added:
        return attempt(Outcome.SKIPPED, f"{answered_by} already answered; nothing to add")
    said = [f"{filled} field(s) {answered_by} lacked"] if filled else []
    said += [f"{added} GPU(s) {answered_by} did not list"] if added else []
    return attempt(Outcome.USED, "supplemented: " + ", ".join(said))


def _undetected(ctx: Context, gpus: Sequence[GpuSample], attempts: Sequence[DriverAttempt],
                vendors: set[str] | None = None) -> list[HostError]:
    """An error for each vendor (of ``vendors``, None: any) whose display controller is on the PCI bus
    but whose GPUs no driver reported. Detection only adds: it never stops a driver that answers."""
    from .pci import detected_vendors

    try:
        present = detected_vendors(ctx)
    except Exception as exc:  # detection is a bonus: what failed costs the report that check, said so
        return [HostError(ErrorKind.DRIVER, "pci", f"could not look for GPUs that no driver reported on the PCI bus: "
                          f"{type(exc).__name__}: {exc}")]
    reported = {g.vendor for g in gpus}
    errors = []
    for vendor in present:
        if vendor in reported or (vendors is not None and vendor not in vendors):
            continue
        tried = [a for a in attempts if a.vendor == vendor and a.outcome != Outcome.SKIPPED]
        why = "; ".join(f"{a.name}: {a.reason}" for a in tried if a.reason) or f"no {vendor} driver is installed"
        errors.append(HostError(ErrorKind.DRIVER, "pci",
                                f"{a_vendor(vendor)} GPU is on the PCI bus but no driver reported it ({why})"))
    return errors


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
