"""Turning reports into text: the table a person reads and the JSON a script reads.

The only module that writes ``N/A`` or converts bytes to MiB/GiB. tabulate is imported
only when a table is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from flockops.agent.codec import fleet_to_dict
from flockops.agent.model import FleetReport, GpuSample, HostReport

if TYPE_CHECKING:
    from flockops.agent.ollama_model import InferenceVerdict, OllamaModel
    from flockops.history import GpuSummary, Stats
    from flockops.ollama.capacity import FitResult
    from flockops.watch import HostView

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


# The statuses of a host with no data at all (HostReport.status): nothing measured, not even a count.
_NO_DATA = frozenset({"failed", "unreachable"})


def _gpu_count(host: HostReport) -> str:
    """How many GPUs: unknown (N/A, never 0) for a host that could not be asked at all."""
    return NA if host.status in _NO_DATA else str(len(host.gpus))


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
        f"Vendors: {', '.join(host.vendors) or NA} | GPUs: {_gpu_count(host)}{lost} | "
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


def host_table(host: HostReport, verbose: bool = False, status: str | None = None) -> str:
    """``status`` replaces the host's status in the title (watch, issue 7: "ok, age 1.2 s", "STALE ...")."""
    from tabulate import tabulate

    title = host.host if host.address in (None, host.host) else f"{host.host} ({host.address})"
    out = [f"== {title}  [{status or host.status}]"]
    if host.gpus:
        rows = [row for gpu in host.gpus for row in _gpu_rows(gpu)]
        out.append(tabulate(rows, headers=GPU_HEADERS, tablefmt="simple", disable_numparse=True))
        out.append(_summary(host))
    elif host.ollama is not None and not (host.drivers or host.errors):
        out.append("No device data: known only by its Ollama URL (no SSH).")
    elif any(d.outcome == "failed" for d in host.drivers):
        # A failed driver may have had GPUs to report: not "no GPU".
        out.append("No GPU reported: a driver failed, so GPUs it would have listed may be missing. Each driver said:")
        out.extend(_driver_lines(host, only_reasons=True))
    elif host.status in ("ok", "partial"):
        out.append("No GPU detected. Each driver said:")
        out.extend(_driver_lines(host, only_reasons=True))
    out.extend(ollama_lines(host))
    for error in host.all_errors + host.warnings:
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
    # The GPU count beside this includes lost GPUs and GPUs whose memory could not be read: theirs is
    # unknown, so it is said, not summed, and it does not blank what the others measured.
    live = [g for g in gpus if not g.lost]
    known = [g for g in live if g.memory_used_bytes is not None and g.memory_total_bytes is not None]
    used, total = _sum(g.memory_used_bytes for g in known), _sum(g.memory_total_bytes for g in known)
    notes = [f"{n} {what} GPU{'s' if n > 1 else ''} not counted"
             for n, what in ((len(gpus) - len(live), "lost"), (len(live) - len(known), "unread")) if n]
    return f"{gib(used)} / {gib(total)}" + (f" ({', '.join(notes)})" if notes else "")


def _problem(host: HostReport) -> str:
    return "; ".join(f"{e.kind}: {e.message}" for e in host.all_errors)


def summary_table(fleet: FleetReport) -> str:
    rows = [[h.host, h.status, _gpu_count(h), _used_of_total(h.gpus), _hottest(h), ollama_cell(h), _problem(h)]
            for h in fleet.hosts]
    headers = ["Host", "Status", "GPUs", "VRAM used / total", "Hottest", "Ollama", "Problem"]
    if not any(h.ollama is not None for h in fleet.hosts):  # issue 5: the column only where Ollama was asked
        rows, headers = [r[:5] + r[6:] for r in rows], headers[:5] + headers[6:]
    return simple_table(rows, headers)


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


# --------------------------------------------------------------------------------------------------
# Ollama (issue 5): models beside the device, and `flockops fit`.

CAVEAT = "Ollama's figures are its reservations, not device usage (ollama/ollama#10505)"
# Keep-alive forever shows as an expiry some 290 years ahead (now + the largest Go duration).
FOREVER_YEAR = 2200


def processor(model: OllamaModel) -> str:
    """Where the model sits, worded as ``ollama ps`` prints it: "100% GPU", "48%/52% CPU/GPU"."""
    placement = model.placement
    if placement in ("cpu", "gpu"):
        return f"100% {placement.upper()}"
    if placement == "unknown" or not model.size_bytes or model.vram_bytes is None:
        return "Unknown"
    # Go's math.Round: half away from zero.
    cpu = int((model.size_bytes - model.vram_bytes) / model.size_bytes * 100 + 0.5)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def until(expires_at: str | None) -> str:
    if not expires_at:
        return NA
    year = expires_at[:4]
    if year.isdigit() and int(year) >= FOREVER_YEAR:
        return "forever"
    date, _, rest = expires_at.partition("T")
    clock, offset = rest[:8], ""
    for sign in ("Z", "+", "-"):
        if sign in rest[8:]:
            offset = " " + rest[8:][rest[8:].index(sign):].replace("Z", "UTC")
            break
    return f"{date} {clock}{offset}".strip()


def inference_line(verdict: InferenceVerdict) -> str:
    head = f"Inference (a guess; source: {verdict.source}, confidence: {verdict.confidence}): {verdict.verdict}"
    if verdict.latency_ms is None:
        return f"{head} ({verdict.reason})" if verdict.reason else head
    basis = "Ollama's total_duration" if verdict.basis == "server" else "round trip"
    return (f"{head}, {verdict.latency_ms:.1f} ms median of {verdict.runs} embeddings with {verdict.model} "
            f"({basis}); no VRAM size is inferred")


def ollama_lines(host: HostReport) -> list[str]:
    """The host's Ollama part: a header, the models, device beside Ollama, and the caveat."""
    from flockops.agent.model import spilled, vram_breakdown

    report = host.ollama
    if report is None:
        return []
    if report.status == "not_running":
        return [f"Ollama: not running (nothing listens at {report.url})"]
    if report.status != "ok":
        return [f"Ollama at {report.url}: {report.status}"]
    version = f" {report.version}" if report.version else ""
    head = f"Ollama{version} at {report.url}: "
    if not report.models:
        head += "no model loaded"
    else:
        count = len(report.models)
        head += (f"{count} model{'s' if count > 1 else ''} | in VRAM {gib(report.vram_bytes)} | "
                 f"in RAM {gib(report.ram_bytes)} | GPU-accelerated: {report.gpu_accelerated}")
    out = [head]
    if report.models:
        rows = [[m.name, gib(m.size_bytes), gib(m.vram_bytes), processor(m),
                 NA if m.context_length is None else str(m.context_length), until(m.expires_at),
                 m.family or NA, m.parameter_size or NA, m.quantization or NA,
                 "SPILLED" if spilled(host, m) else ""] for m in report.models]
        out.append(simple_table(rows, ["Model", "Size", "VRAM", "Processor", "Context", "Until", "Family",
                                       "Params", "Quant", "Spill"]).rstrip("\n"))
    breakdown = vram_breakdown(host)
    if breakdown is not None:
        line = (f"VRAM: device used {gib(breakdown.device_used_bytes)} | Ollama reserved "
                f"{gib(breakdown.ollama_reserved_bytes)} | other {gib(breakdown.other_bytes)}")
        if breakdown.ollama_exceeds_device:
            line += " (Ollama reserves more than the device shows in use; other floored at 0)"
        out.append(line)
    if report.models or breakdown is not None:
        out.append(f"Note: {CAVEAT}.")
    if report.inference is not None:
        out.append(inference_line(report.inference))
    return out


def ollama_cell(host: HostReport) -> str:
    """The summary table's Ollama column."""
    report = host.ollama
    if report is None:
        return ""
    if report.status != "ok":
        return report.status.replace("_", " ")
    text = f"{len(report.models)} loaded, {gib(report.vram_bytes)} VRAM"
    spills = len(host.warnings)
    return text + (f", {spills} spilled" if spills else "")


def fit_table(result: FitResult) -> str:
    asked = f"{result.model} ({gib(result.size_bytes)})" if result.model else gib(result.size_bytes)
    needed = f"{asked} + {gib(result.margin_bytes)} margin = {gib(result.needed_bytes)}"
    out: list[str] = []
    for host, placement in result.loaded_on:
        out.append(f"{result.model} is already loaded on {host} (placement: {placement}).")
    if result.candidates:
        out.append(f"Can hold {needed} now, best first:")
        rows = [[str(rank), p.host, ",".join(str(i) for i in p.gpus), gib(p.free_bytes), gib(p.headroom_bytes),
                 _deg(p.temperature_c), "one GPU" if p.kind == "gpu" else f"split over {len(p.gpus)} GPUs",
                 p.source] for rank, p in enumerate(result.candidates, 1)]
        out.append(simple_table(rows, ["Rank", "Host", "GPU", "Free", "Headroom", "Temp", "Placement",
                                       "Source"]).rstrip("\n"))
    else:
        out.append(f"Nothing can hold {needed} now.")
    if result.skipped:
        out.append("Skipped:")
        out.extend(f"  {s.host}{'' if s.gpu is None else f' GPU {s.gpu}'}: {s.reason}" for s in result.skipped)
    return "\n".join(out) + "\n"


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


# --------------------------------------------------------------------------------------------------
# watch (issue 7): the fleet table with each host's data age, stale hosts kept with their last data.


def age(seconds: float | None) -> str:
    """"0.4 s", "12 s", "3 min 05 s", "2 h 03 min"."""
    if seconds is None:
        return NA
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def _watch_status(view: HostView) -> str:
    if view.stale:
        return f"STALE, last data {age(view.age_s)} ago"
    return f"{view.report.status}, age {age(view.age_s)}"


def watch_table(views: Sequence[HostView], summary: bool = False, verbose: bool = False) -> str:
    """The watch frame's body: each host's section (or one line each with ``summary``), then totals."""
    if summary:
        rows = [[v.report.host, "STALE" if v.stale else v.report.status, age(v.age_s), _gpu_count(v.report),
                 _used_of_total(v.report.gpus), _hottest(v.report), ollama_cell(v.report),
                 "; ".join(f"now {e.kind}: {e.message}" for e in v.now_errors) if v.stale else _problem(v.report)]
                for v in views]
        headers = ["Host", "Status", "Age", "GPUs", "VRAM used / total", "Hottest", "Ollama", "Problem"]
        if not any(v.report.ollama is not None for v in views):
            rows, headers = [r[:6] + r[7:] for r in rows], headers[:6] + headers[7:]
        body = simple_table(rows, headers)
    else:
        sections = []
        for view in views:
            text = host_table(view.report, verbose, status=_watch_status(view))
            if view.stale:
                text += "".join(f"\n! now {e.kind} ({e.source}): {e.message}" for e in view.now_errors)
            sections.append(text)
        body = "\n\n".join(sections) + "\n"
    if len(views) > 1 or summary:
        gpus = [g for v in views for g in v.report.gpus]
        stale = sum(v.stale for v in views)
        # Not stale and failed: a host that has not answered once, so neither fresh nor stale.
        never = sum(1 for v in views if not v.stale and v.report.status in _NO_DATA)
        without = f", {never} without data" if never else ""
        body += (f"\nFleet: {len(views)} hosts ({len(views) - stale - never} fresh, {stale} stale{without}) | "
                 f"GPUs: {len(gpus)} | VRAM used / total: {_used_of_total(gpus)}\n")
    return body


def duration(seconds: float | None) -> str:
    """A length of time: "0 s", "45 s", "3 min 05 s", "2 h 03 min"."""
    if seconds is None:
        return NA
    return "0 s" if seconds < 0.5 else age(seconds) if seconds >= 10 else f"{seconds:.0f} s"


def _triple(stats: Stats | None, scale: float, unit: str, digits: int) -> str:
    if stats is None:
        return NA
    parts = (stats.minimum, stats.mean, stats.maximum)
    return " / ".join(f"{v / scale:.{digits}f}" for v in parts) + unit


def history_table(summaries: Sequence[GpuSummary]) -> str:
    """``flockops history``: one line per GPU over the period."""
    rows = []
    for s in summaries:
        warn = NA if s.warn_temperature_c is None else f"{s.warn_temperature_c:g} °C ({s.warn_origin})"
        rows.append([s.host, NA if s.gpu_index < 0 else str(s.gpu_index), s.name or NA, str(s.samples),
                     _triple(s.memory_used_bytes, GIB, " GiB", 1), gib(s.memory_total_bytes),
                     _triple(s.temperature_c, 1.0, " °C", 0), warn, duration(s.above_warn_s),
                     duration(s.ollama_spilled_s)])
    return simple_table(rows, ["Host", "GPU", "Name", "Samples", "VRAM used min / mean / max", "VRAM total",
                               "Temp min / mean / max", "Warning at", "Above warning", "Model spilled"])


def history_heading(summaries: Sequence[GpuSummary], db: object, since: float, until: float) -> str:
    from datetime import datetime

    def local(ts: float) -> str:
        return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")

    gpus = [s for s in summaries if s.gpu_index >= 0]
    hosts = len({s.host for s in gpus})
    found = (f"{len(gpus)} GPU{'s' * (len(gpus) != 1)} on {hosts} host{'s' * (hosts != 1)}" if summaries
             else "no samples (record some with `flockops report --record`)")
    return f"History in {db}, {local(since)} to {local(until)} ({duration(until - since)}): {found}"
