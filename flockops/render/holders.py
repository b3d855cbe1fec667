"""Who holds the VRAM, for people: a GPU's largest holder, ``report -p``'s list, what the engines say.

As nvitop lists processes under its GPUs: the engine (or the plain process name), the model, the
container, pod or Slurm job, the user, the VRAM. A value the host could not tell is N/A, never 0.
"""

from __future__ import annotations

from flockops.agent.model import EngineStatus, GpuProcess, GpuSample, HostReport

from .columns import Column, fit_columns, hidden_note
from .units import NA, gib

# Text from a target is printable already (flockops.agent.fields.printable); long text is cut here.
MODEL_CHARACTERS = 40
COMMAND_CHARACTERS = 80


def short(text: str | None, limit: int = MODEL_CHARACTERS) -> str:
    """A model as people name it: a path's last part (``/models/Qwen2.5-7B/`` -> ``Qwen2.5-7B``), cut to ``limit``."""
    if not text:
        return NA
    if "/" in text and (text.startswith(("/", ".", "~")) or text.endswith("/")):
        text = text.rstrip("/").rsplit("/", 1)[-1] or text
    return text if len(text) <= limit else text[:limit - 1] + "…"


def what(holder: GpuProcess) -> str:
    """The engine, or the plain process name when it is no engine flockops knows."""
    return str(holder.engine) if holder.engine is not None else (holder.name or NA)


def placement(holder: GpuProcess) -> str:
    """The pod, else the container, else the Slurm job: where the holder runs."""
    if holder.pod_name:
        return f"pod {holder.pod_namespace}/{holder.pod_name}" if holder.pod_namespace else f"pod {holder.pod_name}"
    if holder.pod_uid:
        return f"pod {holder.pod_uid[:8]}"
    if holder.container_id:
        runtime = holder.container_runtime or "container"
        name = holder.container_name or holder.container_id[:12]
        return f"{runtime} {name}"
    if holder.slurm_job_id is not None:
        return f"slurm job {holder.slurm_job_id}"
    return ""


def largest_holder(gpu: GpuSample) -> str:
    """The default table's "Top holder" cell: the holder of the most VRAM, "none", or N/A (unknown)."""
    if gpu.processes is None:
        return NA
    if not gpu.processes:
        return "none"
    known = [p for p in gpu.processes if p.memory_used_bytes is not None]
    top = max(known, key=lambda p: p.memory_used_bytes or 0) if known else gpu.processes[0]
    model = f" {short(top.model, 24)}" if top.model else ""
    more = f" (+{len(gpu.processes) - 1})" if len(gpu.processes) > 1 else ""
    return f"{what(top)}{model} {gib(top.memory_used_bytes)}{more}"


PROCESS_COLUMNS = [Column("GPU"), Column("PID", priority=3), Column("User", priority=2), Column("Engine"),
                   Column("Model", cuttable=True), Column("Container / job", priority=1, cuttable=True),
                   Column("VRAM")]


def process_lines(host: HostReport, verbose: bool = False, width: int | None = None) -> list[str]:
    """``report -p``: every GPU's holders, largest first; with ``-v`` their command lines too."""
    rows = []
    for gpu in host.gpus:
        if gpu.processes is None:
            why = gpu.field_errors.get("processes")
            rows.append([str(gpu.index), NA, "", "", "", f"processes unknown{': ' + why if why else ''}", NA])
            continue
        for holder in sorted(gpu.processes, key=lambda p: -(p.memory_used_bytes or 0)):
            row = [str(gpu.index), str(holder.pid), holder.user or NA, what(holder), short(holder.model),
                   placement(holder), gib(holder.memory_used_bytes)]
            if verbose:
                command = holder.command_line or NA
                row.append(command if len(command) <= COMMAND_CHARACTERS else command[:COMMAND_CHARACTERS - 1] + "…")
            rows.append(row)
    if not rows:
        return []
    columns = PROCESS_COLUMNS + ([Column("Command", priority=4, cuttable=True)] if verbose else [])
    fitted = fit_columns(columns, rows, width)
    return ["Processes:", (fitted.text + hidden_note(fitted, width)).rstrip("\n")]


def _ratio(value: float | None) -> str:
    return NA if value is None else f"{100 * value:.0f}%"


def engine_lines(host: HostReport) -> list[str]:
    """What each engine asked said: one line each."""
    out = []
    for report in host.engines or ():
        where = f"{report.engine} at {report.url}" + (" (through SSH)" if report.via == "ssh" else "")
        if report.status not in (EngineStatus.OK, EngineStatus.PARTIAL):
            out.append(f"Engine {where}: {report.status}: {report.error or 'no answer'}")
            continue
        models = ", ".join(short(m) for m in report.models) or NA
        parts = [f"Engine {where}: {models}"]
        if report.version:
            parts.append(f"version {report.version}")
        if report.kv_cache_usage_ratio is not None:
            parts.append(f"KV cache {_ratio(report.kv_cache_usage_ratio)}")
        if report.requests_running is not None or report.requests_waiting is not None:
            parts.append(f"running {NA if report.requests_running is None else report.requests_running}, "
                         f"waiting {NA if report.requests_waiting is None else report.requests_waiting}")
        if report.slots_total is not None:
            parts.append(f"slots {NA if report.slots_busy is None else report.slots_busy}/{report.slots_total} busy")
        if report.memory_fraction is not None:
            parts.append(f"takes {_ratio(report.memory_fraction)} of each GPU")
        if report.status == EngineStatus.PARTIAL and report.error:
            parts.append(f"not read: {report.error}")
        out.append(" | ".join(parts))
    return out
