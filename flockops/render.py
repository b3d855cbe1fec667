"""Turning reports into text: the table a person reads and the JSON a script reads.

The only module that writes ``N/A`` or converts bytes to MiB/GiB. tabulate is imported
only when a table is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .model import FleetReport, GpuSample, HostReport, fleet_to_dict

NA = "N/A"
MIB = 1024 * 1024
GIB = 1024 * MIB


def to_json(fleet: FleetReport) -> str:
    import json

    return json.dumps(fleet_to_dict(fleet), indent=2) + "\n"


def mib(value: int | None) -> str:
    """Bytes as "81,559 MiB (79.6 GiB)"."""
    if value is None:
        return NA
    return f"{value // MIB:,} MiB ({value / GIB:.1f} GiB)"


def gib(value: int | float | None) -> str:
    return NA if value is None else f"{value / GIB:.1f} GiB"


def pct(value: float | None, digits: int = 0) -> str:
    return NA if value is None else f"{value:.{digits}f}%"


def _deg(value: float | None) -> str:
    return NA if value is None else f"{value:g} °C"


def temperature(gpu: GpuSample) -> str:
    """Current temperature against the card's own slowdown point: "62 °C / 87 °C"."""
    if gpu.temperature_slowdown_c is None:
        return _deg(gpu.temperature_c)
    return f"{_deg(gpu.temperature_c)} / {_deg(gpu.temperature_slowdown_c)}"


def power(gpu: GpuSample) -> str:
    if gpu.power_w is None:
        return NA
    if gpu.power_limit_w is None:
        return f"{gpu.power_w:.0f} W"
    return f"{gpu.power_w:.0f} / {gpu.power_limit_w:.0f} W"


def throttle(gpu: GpuSample) -> str:
    if gpu.throttle_reasons is None:
        return NA
    return ", ".join(gpu.throttle_reasons) or "none"


def _gpu_rows(gpu: GpuSample) -> list[list[str]]:
    if gpu.lost:
        # The reason is on the host's "!" line; a long one here would widen the column.
        return [[str(gpu.index), gpu.name or NA, "LOST"] + [""] * 7 + [gpu.source]]
    used = mib(gpu.memory_used_bytes)
    if gpu.memory_used_includes_reserved and gpu.memory_used_bytes is not None:
        used += " incl. reserved"
    rows = [[
        str(gpu.index), gpu.name or NA, mib(gpu.memory_total_bytes), used, mib(gpu.memory_free_bytes),
        mib(gpu.memory_reserved_bytes), pct(gpu.utilization_pct), temperature(gpu), power(gpu),
        throttle(gpu), gpu.source,
    ]]
    for mig in gpu.mig_devices:
        rows.append([
            f"{gpu.index}/{mig.index}", f"  {mig.name or 'MIG device'}", mib(mig.memory_total_bytes),
            mib(mig.memory_used_bytes), mib(mig.memory_free_bytes), "", pct(mig.utilization_pct), "", "", "",
            gpu.source,
        ])
    return rows


GPU_HEADERS = ["GPU", "Name", "VRAM total", "Used", "Free", "Reserved", "Util", "Temp / slowdown",
               "Power", "Throttle", "Source"]


def _summary(host: HostReport) -> str:
    gpus = [g for g in host.gpus if not g.lost]
    total_b = _sum(g.memory_total_bytes for g in gpus)
    used_b = _sum(g.memory_used_bytes for g in gpus)
    free_b = _sum(g.memory_free_bytes for g in gpus)
    used_pct = 100.0 * used_b / total_b if used_b is not None and total_b else None
    sources = ", ".join(sorted({f"{g.vendor}: {g.source}" for g in host.gpus}))
    lost_count = len(host.gpus) - len(gpus)
    lost = f" ({lost_count} lost, not counted)" if lost_count else ""
    return (
        f"Vendors: {', '.join(host.vendors) or NA} | GPUs: {len(host.gpus)}{lost} | "
        f"Total VRAM: {gib(total_b)} | Used: {gib(used_b)} ({pct(used_pct, 1)}) | "
        f"Free: {gib(free_b)} | Data from: {sources or NA}"
    )


def _driver_lines(host: HostReport, only_reasons: bool) -> list[str]:
    lines = []
    for d in host.drivers:
        if only_reasons and d.outcome == "skipped":
            continue
        reason = f": {d.reason}" if d.reason else ""
        lines.append(f"  {d.name} ({d.vendor}) {d.outcome}{reason}")
    return lines


def host_table(host: HostReport, verbose: bool = False) -> str:
    from tabulate import tabulate

    title = host.host if host.address in (None, host.host) else f"{host.host} ({host.address})"
    out = [f"== {title}  [{host.status}]"]
    if host.gpus:
        rows = [row for gpu in host.gpus for row in _gpu_rows(gpu)]
        out.append(tabulate(rows, headers=GPU_HEADERS, tablefmt="simple", disable_numparse=True))
        out.append(_summary(host))
    elif host.status in ("ok", "partial"):
        out.append("No GPU detected. Each driver said:")
        out.extend(_driver_lines(host, only_reasons=True))
    for error in host.errors:
        out.append(f"! {error.kind} ({error.source}): {error.message}")
    if verbose and host.gpus:
        out.append("Driver attempts:")
        out.extend(_driver_lines(host, only_reasons=False))
    return "\n".join(out)


def _sum(values: Iterable[int | None]) -> int | None:
    """A total is only a measurement when every part of it is known."""
    items = list(values)
    if not items or any(v is None for v in items):
        return None
    return sum(v for v in items if v is not None)


def _hottest(host: HostReport) -> str:
    known = [g for g in host.gpus if g.temperature_c is not None]
    if not known:
        return NA
    hottest = max(known, key=lambda g: g.temperature_c or 0.0)
    return f"GPU {hottest.index}: {temperature(hottest)}"


def _used_of_total(gpus: Sequence[GpuSample]) -> str:
    live = [g for g in gpus if not g.lost]
    used, total = _sum(g.memory_used_bytes for g in live), _sum(g.memory_total_bytes for g in live)
    return f"{gib(used)} / {gib(total)}"


def _problem(host: HostReport) -> str:
    return "; ".join(f"{e.kind}: {e.message}" for e in host.errors)


def summary_table(fleet: FleetReport) -> str:
    rows = [[h.host, h.status, str(len(h.gpus)), _used_of_total(h.gpus), _hottest(h), _problem(h)]
            for h in fleet.hosts]
    return simple_table(rows, ["Host", "Status", "GPUs", "VRAM used / total", "Hottest", "Problem"])


def fleet_totals(fleet: FleetReport) -> str:
    counts: dict[str, int] = {}
    for host in fleet.hosts:
        counts[host.status] = counts.get(host.status, 0) + 1
    states = ", ".join(f"{counts[s]} {s}" for s in ("ok", "partial", "failed", "unreachable") if s in counts)
    gpus = [g for h in fleet.hosts for g in h.gpus]
    reporting = [h for h in fleet.hosts if h.gpus]
    return (f"Fleet: {len(fleet.hosts)} hosts ({states}) | GPUs: {len(gpus)} | "
            f"VRAM used / total: {_used_of_total(gpus)} over {len(reporting)} hosts with GPUs\n")


def fleet_table(fleet: FleetReport, verbose: bool = False, summary: bool = False) -> str:
    body = summary_table(fleet) if summary else "\n\n".join(host_table(h, verbose) for h in fleet.hosts) + "\n"
    if len(fleet.hosts) > 1 or summary:
        body += "\n" + fleet_totals(fleet)
    return body


def simple_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    from tabulate import tabulate

    return str(tabulate([[NA if v is None else v for v in row] for row in rows], headers=list(headers),
                        tablefmt="simple", disable_numparse=True)) + "\n"
