"""A host's Ollama part: its models beside the device's own figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flockops.agent.model import HostReport, OllamaStatus, Placement

from .columns import Column, fit_columns, hidden_note, wrapped
from .units import NA, gib

if TYPE_CHECKING:
    from flockops.agent.ollama_model import InferenceVerdict, OllamaModel

CAVEAT = "Ollama's figures are its reservations, not device usage (ollama/ollama#10505)"
# Keep-alive forever shows as an expiry some 290 years ahead (now + the largest Go duration).
FOREVER_YEAR = 2200


def processor(model: OllamaModel) -> str:
    """Where the model sits, worded as ``ollama ps`` prints it: "100% GPU", "48%/52% CPU/GPU"."""
    placement = model.placement
    if placement in (Placement.CPU, Placement.GPU):
        return f"100% {placement.upper()}"
    if placement == Placement.UNKNOWN or not model.size_bytes or model.vram_bytes is None:
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


def ollama_lines(host: HostReport, verbose: bool = False, caveat: bool = True, width: int | None = None) -> list[str]:
    """The host's Ollama part: a header, the models, device beside Ollama, and the caveat (unless the
    caller says it once for every host). An Ollama nobody asked about that is not running (the
    default local endpoint refused) is a line only when ``verbose``."""
    from flockops.agent.model import spilled
    from flockops.agent.ollama_model import vram_breakdown

    report = host.ollama
    if report is None:
        return []
    if report.status == OllamaStatus.NOT_RUNNING:
        return [f"Ollama: not running (nothing listens at {report.url})"] if verbose else []
    if report.status != OllamaStatus.OK:
        return [f"Ollama at {report.url}: {report.status}"]
    version = f" {report.version}" if report.version else ""
    head = f"Ollama{version} at {report.url}: "
    if not report.models:
        head += "no model loaded"
    else:
        count = len(report.models)
        head += (f"{count} model{'s' if count > 1 else ''} | in VRAM {gib(report.vram_bytes)} | "
                 f"in RAM {gib(report.ram_bytes)} | GPU-accelerated: {report.gpu_accelerated or NA}")
    out = wrapped(head, width)
    if report.models:
        rows = [[m.name, gib(m.size_bytes), gib(m.vram_bytes), processor(m),
                 NA if m.context_length is None else str(m.context_length), until(m.expires_at),
                 m.family or NA, m.parameter_size or NA, m.quantization or NA,
                 "SPILLED" if spilled(host, m) else ""] for m in report.models]
        fitted = fit_columns(MODEL_COLUMNS, rows, width)
        out.append((fitted.text + hidden_note(fitted, width)).rstrip("\n"))
    breakdown = vram_breakdown(host)
    if breakdown is not None:
        line = (f"VRAM: device used {gib(breakdown.device_used_bytes)} | Ollama reserved "
                f"{gib(breakdown.ollama_reserved_bytes)} | other {gib(breakdown.other_bytes)}")
        if breakdown.ollama_exceeds_device:
            line += " (Ollama reserves more than the device shows in use; other floored at 0)"
        out.extend(wrapped(line, width))
    if caveat and (report.models or breakdown is not None):
        out.extend(wrapped(f"Note: {CAVEAT}.", width))
    if report.inference is not None:
        out.extend(wrapped(inference_line(report.inference), width))
    return out


MODEL_COLUMNS = [Column("Model", cuttable=True), Column("Size", priority=3), Column("VRAM"), Column("Processor"),
                 Column("Context", priority=4), Column("Until", priority=5), Column("Family", priority=6),
                 Column("Params", priority=6), Column("Quant", priority=5), Column("Spill")]


def ollama_cell(host: HostReport) -> str:
    """The summary table's Ollama column."""
    report = host.ollama
    if report is None:
        return ""
    if report.status != OllamaStatus.OK:
        return report.status.replace("_", " ")
    text = f"{len(report.models)} loaded, {gib(report.vram_bytes)} VRAM"
    spills = len(host.warnings)
    return text + (f", {spills} spilled" if spills else "")


def shows_caveat(host: HostReport) -> bool:
    """Whether the host's Ollama part has figures the caveat is about."""
    from flockops.agent.ollama_model import vram_breakdown

    report = host.ollama
    return report is not None and report.status == OllamaStatus.OK and bool(report.models or vram_breakdown(host))
