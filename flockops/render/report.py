"""The report: a section per host (or one line per host), fleet totals, JSON and CSV."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flockops.agent.codec import fleet_to_dict
from flockops.agent.fields import count
from flockops.agent.model import ANSWERED, FleetReport, GpuSample, HostReport, HostStatus, Outcome

from .holders import engine_lines, largest_holder, process_lines
from .ollama import CAVEAT, ollama_cell, ollama_lines, shows_caveat
from .table import simple_table
from .units import NA, gib, mib, pct, power, sum_or_none, temperature, throttle


def to_json(fleet: FleetReport) -> str:
    """The report as ``flockops report -o json`` prints it: versioned JSON (``schema_version``; see
    docs/json.md), unknown values as ``null``, indented, ending in a newline."""
    import json

    return json.dumps(fleet_to_dict(fleet), indent=2) + "\n"


def _gpu_rows(gpu: GpuSample) -> list[list[str]]:
    if gpu.lost:
        # The reason is on the host's "!" line; a long one here would widen the column.
        return [[str(gpu.index), gpu.name or NA, "LOST"] + [""] * 8 + [gpu.source]]
    used = mib(gpu.memory_used_bytes)
    if gpu.memory_used_includes_reserved and gpu.memory_used_bytes is not None:
        used += " incl. reserved"
    rows = [[
        str(gpu.index), gpu.name or NA, mib(gpu.memory_total_bytes), used, mib(gpu.memory_free_bytes),
        mib(gpu.memory_reserved_bytes), pct(gpu.utilization_pct), temperature(gpu), power(gpu),
        throttle(gpu), largest_holder(gpu), gpu.source,
    ]]
    for mig in gpu.mig_devices:
        rows.append([
            f"{gpu.index}/{mig.index}", f"  {mig.name or 'MIG device'}", mib(mig.memory_total_bytes),
            mib(mig.memory_used_bytes), mib(mig.memory_free_bytes), "", pct(mig.utilization_pct), "", "", "", "",
            gpu.source,
        ])
    return rows


GPU_HEADERS = ["GPU", "Name", "VRAM total", "Used", "Free", "Reserved", "Util", "Temp / slowdown",
               "Power", "Throttle", "Top holder", "Source"]


# The statuses of a host with no data at all (HostReport.status): nothing measured, not even a count.
NO_DATA = frozenset({HostStatus.FAILED, HostStatus.UNREACHABLE})


def gpu_count(host: HostReport) -> str:
    """How many GPUs: unknown (N/A, never 0) for a host that could not be asked at all."""
    return NA if host.status in NO_DATA else str(len(host.gpus))


def _summary(host: HostReport) -> str:
    gpus = [g for g in host.gpus if not g.lost]
    total_b = sum_or_none(g.memory_total_bytes for g in gpus)
    used_b = sum_or_none(g.memory_used_bytes for g in gpus)
    free_b = sum_or_none(g.memory_free_bytes for g in gpus)
    used_pct = 100.0 * used_b / total_b if used_b is not None and total_b else None
    sources = ", ".join(sorted({f"{g.vendor}: {g.source}" for g in host.gpus}))
    lost_count = len(host.gpus) - len(gpus)
    lost = f" ({lost_count} lost, not counted)" if lost_count else ""
    return (
        f"Vendors: {', '.join(host.vendors) or NA} | GPUs: {gpu_count(host)}{lost} | "
        f"Total VRAM: {gib(total_b)} | Used: {gib(used_b)} ({pct(used_pct, 1)}) | "
        f"Free: {gib(free_b)} | Data from: {sources or NA}"
    )


def _driver_lines(host: HostReport, only_reasons: bool) -> list[str]:
    lines = []
    for d in host.drivers:
        if only_reasons and d.outcome == Outcome.SKIPPED:
            continue
        reason = f": {d.reason}" if d.reason else ""
        lines.append(f"  {d.name} ({d.vendor}) {d.outcome}{reason}")
    return lines


def host_table(host: HostReport, verbose: bool = False, status: str | None = None, *, brief: bool = False,
               processes: bool = False) -> str:
    """``status`` replaces the host's status in the title (watch: "ok, age 1.2 s", "STALE ...").
    ``brief``: one of several hosts, whose "no GPU" is one line and whose Ollama caveat the fleet
    says once (unless ``verbose``). ``processes`` lists every GPU's holders (``report -p``)."""
    from tabulate import tabulate

    title = host.host if host.address in (None, host.host) else f"{host.host} ({host.address})"
    out = [f"== {title}  [{status or host.status}]"]
    if host.gpus:
        rows = [row for gpu in host.gpus for row in _gpu_rows(gpu)]
        out.append(tabulate(rows, headers=GPU_HEADERS, tablefmt="simple", disable_numparse=True))
        out.append(_summary(host))
        out.extend(process_lines(host, verbose) if processes else [])
    elif host.ollama is not None and not (host.drivers or host.errors):
        out.append("No device data: known only by its Ollama URL (no SSH).")
    elif any(d.outcome == Outcome.FAILED for d in host.drivers):
        # A failed driver may have had GPUs to report: not "no GPU".
        out.append("No GPU reported: a driver failed, so GPUs it would have listed may be missing. Each driver said:")
        out.extend(_driver_lines(host, only_reasons=True))
    elif host.status in ANSWERED and brief and not verbose and not host.all_errors:
        out.append("No GPU detected (-v: what each driver said).")
    elif host.status in ANSWERED:
        out.append("No GPU detected. Each driver said:")
        out.extend(_driver_lines(host, only_reasons=True))
    out.extend(ollama_lines(host, verbose, caveat=not brief))
    out.extend(engine_lines(host))
    for error in host.all_errors + host.warnings:
        out.append(f"! {error.kind} ({error.source}): {error.message}")
    if verbose and host.gpus:
        out.append("Driver attempts:")
        out.extend(_driver_lines(host, only_reasons=False))
    return "\n".join(out)


def hottest(host: HostReport) -> str:
    known = [g for g in host.gpus if g.temperature_c is not None]
    if not known:
        return NA
    hottest = max(known, key=lambda g: g.temperature_c or 0.0)
    return f"GPU {hottest.index}: {temperature(hottest)}"


def used_of_total(gpus: Sequence[GpuSample]) -> str:
    # The GPU count beside this includes lost GPUs and GPUs whose memory could not be read: theirs is
    # unknown, so it is said, not summed, and it does not blank what the others measured.
    live = [g for g in gpus if not g.lost]
    known = [g for g in live if g.memory_used_bytes is not None and g.memory_total_bytes is not None]
    used, total = sum_or_none(g.memory_used_bytes for g in known), sum_or_none(g.memory_total_bytes for g in known)
    notes = [f"{n} {what} GPU{'s' if n > 1 else ''} not counted"
             for n, what in ((len(gpus) - len(live), "lost"), (len(live) - len(known), "unread")) if n]
    return f"{gib(used)} / {gib(total)}" + (f" ({', '.join(notes)})" if notes else "")


def problem(host: HostReport) -> str:
    return "; ".join(f"{e.kind}: {e.message}" for e in host.all_errors)


def summary_table(fleet: FleetReport) -> str:
    rows = [[h.host, h.status, gpu_count(h), used_of_total(h.gpus), hottest(h), ollama_cell(h), problem(h)]
            for h in fleet.hosts]
    headers = ["Host", "Status", "GPUs", "VRAM used / total", "Hottest", "Ollama", "Problem"]
    if not any(h.ollama is not None for h in fleet.hosts):  # the column only where Ollama was asked
        rows, headers = [r[:5] + r[6:] for r in rows], headers[:5] + headers[6:]
    return simple_table(rows, headers)


def fleet_totals(fleet: FleetReport) -> str:
    counts: dict[HostStatus, int] = {}
    for host in fleet.hosts:
        counts[host.status] = counts.get(host.status, 0) + 1
    states = ", ".join(f"{counts[s]} {s}" for s in HostStatus if s in counts)
    gpus = [g for h in fleet.hosts for g in h.gpus]
    reporting = [h for h in fleet.hosts if h.gpus]
    return (f"Fleet: {count(len(fleet.hosts), 'host')} ({states}) | GPUs: {len(gpus)} | "
            f"VRAM used / total: {used_of_total(gpus)} over {count(len(reporting), 'host')} with GPUs\n")


def fleet_table(fleet: FleetReport, verbose: bool = False, summary: bool = False, processes: bool = False) -> str:
    several = len(fleet.hosts) > 1
    if summary:
        body = summary_table(fleet)
    else:
        body = "\n\n".join(host_table(h, verbose, brief=several, processes=processes) for h in fleet.hosts) + "\n"
        if several and any(shows_caveat(h) for h in fleet.hosts):
            body += f"\nNote: {CAVEAT}.\n"  # once, not once a host
    if several or summary:
        body += "\n" + fleet_totals(fleet)
    return body


CSV_COLUMNS = ("host", "status", "vendor", "index", "name", "uuid", "pci_bus_id", "source", "memory_total_bytes",
               "memory_reserved_bytes", "memory_used_bytes", "memory_free_bytes", "utilization_pct",
               "temperature_c", "temperature_slowdown_c", "power_w", "power_limit_w", "throttle_reasons", "lost")


def to_csv(fleet: FleetReport) -> str:
    """One row per GPU, and one for a host with none (one that could not be asked: its status says
    so, not its absence); an unknown value is an empty field, never 0."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for host in fleet.hosts:
        for gpu in host.gpus or (None,):
            row: list[Any] = []
            for column in CSV_COLUMNS:
                if column == "host":
                    row.append(host.host)
                elif column == "status":
                    row.append(host.status)
                elif gpu is None:
                    row.append("")
                elif column == "throttle_reasons":
                    row.append("" if gpu.throttle_reasons is None else ";".join(gpu.throttle_reasons))
                else:
                    value = getattr(gpu, column)
                    row.append("" if value is None else str(value).lower() if isinstance(value, bool) else value)
            writer.writerow(row)
    return buffer.getvalue()
