"""The report: a section per host (or one line per host), fleet totals, JSON and CSV."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flockops.agent.codec import fleet_to_dict
from flockops.agent.fields import count
from flockops.agent.model import ANSWERED, FleetReport, GpuSample, HostReport, HostStatus, Outcome

from .columns import Cell, Column, fit_columns, hidden_note, wrapped
from .holders import engine_lines, largest_holder, process_lines
from .ollama import CAVEAT, ollama_cell, ollama_lines, shows_caveat
from .units import (
    NA,
    gib,
    mib,
    pct,
    power,
    shared_share,
    short_gib,
    short_power,
    short_temperature,
    short_throttle,
    sum_or_none,
    temperature,
    throttle,
)


def to_json(fleet: FleetReport) -> str:
    """The report as ``flockops report -o json`` prints it: versioned JSON (``schema_version``; see
    docs/json.md), unknown values as ``null``, indented, ending in a newline."""
    import json

    return json.dumps(fleet_to_dict(fleet), indent=2) + "\n"


def _memory_cells(gpu: GpuSample) -> tuple[Cell, Cell]:
    """(total, used). An integrated GPU's carve-out is no card's VRAM: the system memory it maps is
    said beside it as ``shared``, and its use as a share of both."""
    used = mib(gpu.memory_used_bytes)
    if gpu.memory_used_includes_reserved and gpu.memory_used_bytes is not None:
        used += " incl. reserved"
    total: Cell = (mib(gpu.memory_total_bytes), short_gib(gpu.memory_total_bytes))
    used_cell: Cell = (used, short_gib(gpu.memory_used_bytes))
    if gpu.memory_shared and gpu.memory_shared_total_bytes is not None:
        total = (f"{mib(gpu.memory_total_bytes)} + {gib(gpu.memory_shared_total_bytes)} shared",
                 f"{short_gib(gpu.memory_total_bytes)}+{short_gib(gpu.memory_shared_total_bytes)} sh")
        share = shared_share(gpu)
        of_all = f" ({pct(share)} of all)" if share is not None else ""
        used_cell = (f"{used} + {gib(gpu.memory_shared_used_bytes)} shared{of_all}",
                     f"{short_gib(gpu.memory_used_bytes)}+{short_gib(gpu.memory_shared_used_bytes)} sh")
    elif gpu.memory_shared:
        total = (f"{mib(gpu.memory_total_bytes)} shared", f"{short_gib(gpu.memory_total_bytes)} sh")
    return total, used_cell


def gpu_columns(vendors: bool) -> list[Column]:
    """The GPU table's columns, least important last to stay (nvitop keeps use and temperature)."""
    columns = [Column("GPU"), Column("Vendor", priority=1), Column("Name", cuttable=True),
               Column("VRAM total", priority=1, compact_header="Total"), Column("Used"),
               Column("Free", priority=6), Column("Reserved", priority=7, compact_header="Rsvd"),
               Column("Util", priority=2), Column("Temp / slowdown", compact_header="Temp"),
               Column("Power", priority=5), Column("Throttle", priority=3), Column("Top holder", priority=4,
                                                                                  cuttable=True),
               Column("Source", priority=3)]
    return columns if vendors else [c for c in columns if c.header != "Vendor"]


def _gpu_rows(gpu: GpuSample, vendors: bool) -> list[list[Cell]]:
    vendor = [gpu.vendor] if vendors else []
    if gpu.lost:
        # The reason is on the host's "!" line; a long one here would widen the column.
        lost: list[Cell] = [str(gpu.index), *vendor, gpu.name or NA, "LOST", *[""] * 8, gpu.source]
        return [lost]
    total, used = _memory_cells(gpu)
    rows: list[list[Cell]] = [[
        str(gpu.index), *vendor, gpu.name or NA, total, used,
        (mib(gpu.memory_free_bytes), short_gib(gpu.memory_free_bytes)),
        (mib(gpu.memory_reserved_bytes), short_gib(gpu.memory_reserved_bytes)), pct(gpu.utilization_pct),
        (temperature(gpu), short_temperature(gpu)), (power(gpu), short_power(gpu)),
        (throttle(gpu), short_throttle(gpu)),
        largest_holder(gpu), gpu.source,
    ]]
    for mig in gpu.mig_devices:  # under their parent, as nvidia-smi lists them
        rows.append([
            f"{gpu.index}/{mig.index}", *vendor, f"  {mig.name or 'MIG device'}",
            (mib(mig.memory_total_bytes), short_gib(mig.memory_total_bytes)),
            (mib(mig.memory_used_bytes), short_gib(mig.memory_used_bytes)),
            (mib(mig.memory_free_bytes), short_gib(mig.memory_free_bytes)), "", pct(mig.utilization_pct), "", "",
            "", "", gpu.source,
        ])
    return rows


def gpu_table(host: HostReport, width: int | None) -> str:
    """The host's GPUs, one row each (MIG instances under their parent), fitted to ``width``."""
    vendors = len(host.vendors) > 1  # an NVIDIA and an AMD GPU 0 side by side need telling apart
    fitted = fit_columns(gpu_columns(vendors), [row for g in host.gpus for row in _gpu_rows(g, vendors)], width)
    return fitted.text + hidden_note(fitted, width)


GPU_HEADERS = [c.header for c in gpu_columns(vendors=False)]


# The statuses of a host with no data at all (HostReport.status): nothing measured, not even a count.
NO_DATA = frozenset({HostStatus.FAILED, HostStatus.UNREACHABLE})


def gpu_count(host: HostReport) -> str:
    """How many GPUs: unknown (N/A, never 0) for a host that could not be asked at all."""
    return NA if host.status in NO_DATA else str(len(host.gpus))


def _summary_lines(host: HostReport, width: int | None) -> list[str]:
    """The host's totals, broken at its " | " where the terminal is narrower than the line."""
    text = _summary(host)
    if width is None or len(text) <= width:
        return [text]
    lines, current = [], ""
    for part in text.split(" | "):
        joined = f"{current} | {part}" if current else part
        if current and len(joined) > width:
            lines.append(current)
            current = part
        else:
            current = joined
    return [*lines, current]


def _summary(host: HostReport) -> str:
    gpus = [g for g in host.gpus if not g.lost]
    total_b = sum_or_none(g.memory_total_bytes for g in gpus)
    used_b = sum_or_none(g.memory_used_bytes for g in gpus)
    free_b = sum_or_none(g.memory_free_bytes for g in gpus)
    used_pct = 100.0 * used_b / total_b if used_b is not None and total_b else None
    sources = ", ".join(sorted({f"{g.vendor}: {g.source}" for g in host.gpus}))
    lost_count = len(host.gpus) - len(gpus)
    lost = f" ({lost_count} lost, not counted)" if lost_count else ""
    total_text, used_text = gib(total_b), f"{gib(used_b)} ({pct(used_pct, 1)})"
    shared = [g for g in gpus if g.memory_shared and g.memory_shared_total_bytes is not None]
    if shared:
        # An iGPU's carve-out nearly full says little: most of what it allocates is shared system memory.
        shared_total = sum_or_none(g.memory_shared_total_bytes for g in shared)
        shared_used = sum_or_none(g.memory_shared_used_bytes for g in shared)
        every = [total_b, used_b, shared_total, shared_used]
        share = (100.0 * ((used_b or 0) + (shared_used or 0)) / ((total_b or 0) + (shared_total or 0))
                 if None not in every and (total_b or 0) + (shared_total or 0) else None)
        total_text += f" (+{gib(shared_total)} shared)"
        used_text = f"{gib(used_b)} (+{gib(shared_used)} shared; {pct(share, 1)} of all it may use)"
    return (
        f"Vendors: {', '.join(host.vendors) or NA} | GPUs: {gpu_count(host)}{lost} | "
        f"Total VRAM: {total_text} | Used: {used_text} | "
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
               processes: bool = False, width: int | None = None) -> str:
    """``status`` replaces the host's status in the title (watch: "ok, age 1.2 s", "STALE ...").
    ``brief``: one of several hosts, whose "no GPU" is one line and whose Ollama caveat the fleet
    says once (unless ``verbose``). ``processes`` lists every GPU's holders (``report -p``).
    ``width``: the terminal's, which every table and line is fitted to (None: no limit)."""
    title = host.host if host.address in (None, host.host) else f"{host.host} ({host.address})"
    out = [f"== {title}  [{status or host.status}]"]
    if host.gpus:
        out.append(gpu_table(host, width).rstrip("\n"))
        out.extend(_summary_lines(host, width))
        out.extend(process_lines(host, verbose, width) if processes else [])
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
    out.extend(ollama_lines(host, verbose, caveat=not brief, width=width))
    out.extend(line for text in engine_lines(host) for line in wrapped(text, width))
    for error in host.all_errors + host.warnings:
        out.extend(wrapped(f"! {error.kind} ({error.source}): {error.message}", width))
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


SUMMARY_COLUMNS = [Column("Host", cuttable=True), Column("Status"), Column("GPUs", priority=2),
                   Column("VRAM used / total", compact_header="VRAM"), Column("Hottest", priority=1),
                   Column("Ollama", priority=3, cuttable=True)]


def summary_table(fleet: FleetReport, width: int | None = None) -> str:
    """One line per host; each host's problems under the table, not in a cell (an ssh-keyscan hint
    is longer than a terminal)."""
    with_ollama = any(h.ollama is not None for h in fleet.hosts)  # the column only where Ollama was asked
    columns = SUMMARY_COLUMNS if with_ollama else SUMMARY_COLUMNS[:-1]
    rows = [[h.host, h.status, gpu_count(h), used_of_total(h.gpus), hottest(h), ollama_cell(h)][:len(columns)]
            for h in fleet.hosts]
    fitted = fit_columns(columns, rows, width)
    out = [fitted.text + hidden_note(fitted, width)]
    said = [(h.host, e) for h in fleet.hosts for e in h.all_errors]
    if said:
        out.append("\n" + "\n".join(line for host, e in said
                                    for line in wrapped(f"! {host}: {e.kind}: {e.message}", width)) + "\n")
    return "".join(out)


def fleet_totals(fleet: FleetReport, width: int | None = None) -> str:
    counts: dict[HostStatus, int] = {}
    for host in fleet.hosts:
        counts[host.status] = counts.get(host.status, 0) + 1
    states = ", ".join(f"{counts[s]} {s}" for s in HostStatus if s in counts)
    gpus = [g for h in fleet.hosts for g in h.gpus]
    reporting = [h for h in fleet.hosts if h.gpus]
    text = (f"Fleet: {count(len(fleet.hosts), 'host')} ({states}) | GPUs: {len(gpus)} | "
            f"VRAM used / total: {used_of_total(gpus)} over {count(len(reporting), 'host')} with GPUs")
    return "\n".join(wrapped(text, width)) + "\n"


def fleet_table(fleet: FleetReport, verbose: bool = False, summary: bool = False, processes: bool = False,
                width: int | None = None) -> str:
    """The report as a person reads it; ``width``: the terminal's (see render.columns.terminal_width),
    None for no limit (``--wide``, a pipe)."""
    several = len(fleet.hosts) > 1
    if summary:
        body = summary_table(fleet, width)
    else:
        body = "\n\n".join(host_table(h, verbose, brief=several, processes=processes, width=width)
                           for h in fleet.hosts) + "\n"
        if several and any(shows_caveat(h) for h in fleet.hosts):
            body += "\n" + "\n".join(wrapped(f"Note: {CAVEAT}.", width)) + "\n"  # once, not once a host
    if several or summary:
        body += "\n" + fleet_totals(fleet, width)
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
