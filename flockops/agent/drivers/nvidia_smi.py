"""NVIDIA through the ``nvidia-smi`` command: the fallback when NVML cannot be used.

``nvidia-smi --query-gpu=... --format=csv,noheader,nounits`` is read with the csv module
under ``LC_ALL=C`` and a timeout (nvidia-smi can hang when a GPU falls off the bus).
An old driver rejects a whole query for one field it does not know, so the fields only
newer drivers have are asked for separately, and a rejected field is dropped and the
query retried. nvidia-smi prints its errors on stdout.

Note: ``temperature.gpu.tlimit`` (and the "T.Limit" thresholds) are headroom offsets
below the slowdown point, not temperatures; they are never compared with one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from flockops.errors import DriverFailed, DriverUnavailable, ParseError

from ..driver import Context, ToolDriver
from ..model import GpuProcess, GpuSample, decode_throttle_reasons
from ..parse import Lenient, field_text, hex_mask, integer, mib_to_bytes, number, pci_bus_key

# typing is slow to import and the probe never needs it: annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# Fields every driver of the last decade knows.
BASE_FIELDS = (
    "index", "name", "uuid", "pci.bus_id", "driver_version",
    "memory.total", "memory.used", "memory.free",
    "utilization.gpu", "utilization.memory", "temperature.gpu",
    "power.draw", "enforced.power.limit", "fan.speed",
)
# Fields only newer drivers know (memory.reserved, the "event" rename of throttle
# reasons in 535+, MIG): asked separately so an old driver does not reject the base query.
NEWER_FIELDS = (
    "memory.reserved", "clocks_event_reasons.active", "clocks_throttle_reasons.active",
    "mig.mode.current",
)
APP_FIELDS = ("gpu_bus_id", "gpu_uuid", "pid", "process_name", "used_memory")

# Pattern strings, compiled on first use (re caches them): every probe imports this module.
# `Field "memory.reserved" is not a valid field to query.`
_INVALID_FIELD = r'Field "([^"]+)" is not a valid field to query'
# `Unable to determine the device handle for GPU0000:3B:00.0: Unknown Error`
_NO_HANDLE = r"Unable to determine the device handle for GPU\s*([0-9A-Fa-f:.]+)\s*:\s*(.*)"

# nvidia-smi error texts (printed on stdout) -> a reason a person can act on.
UNAVAILABLE_TEXTS = (
    ("couldn't communicate with the nvidia driver",
     "nvidia-smi couldn't communicate with the NVIDIA driver: is the driver installed and its module loaded?"),
    ("driver/library version mismatch",
     "nvidia-smi: Driver/library version mismatch: the kernel module and libraries differ, "
     "usually after a driver upgrade; reboot or reload the nvidia module"),
    ("no devices were found", "nvidia-smi: No devices were found"),
    ("insufficient permissions", "nvidia-smi: insufficient permissions to talk to the GPUs"),
)

MAX_RETRIES = 8


def _query_argv(tool: str, option: str, fields: Sequence[str]) -> list[str]:
    return [tool, f"--query-{option}={','.join(fields)}", "--format=csv,noheader,nounits"]


def planned_queries(tool: str = "nvidia-smi") -> list[list[str]]:
    """The queries collect() runs on a driver that knows every field (the shell probe records these)."""
    return [_query_argv(tool, "gpu", BASE_FIELDS), _query_argv(tool, "gpu", NEWER_FIELDS),
            _query_argv(tool, "compute-apps", APP_FIELDS)]


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _run_query(ctx: Context, tool: str, option: str, fields: Sequence[str]) -> tuple[list[str], str]:
    """Run one query, dropping fields this driver rejects; returns (fields kept, stdout)."""
    kept = list(fields)
    for _ in range(MAX_RETRIES):
        if not kept:
            return kept, ""
        result = ctx.run(_query_argv(tool, option, kept))
        rejected = re.search(_INVALID_FIELD, result.stdout + result.stderr)
        if result.returncode != 0 and rejected and rejected.group(1) in kept:
            kept.remove(rejected.group(1))
            continue
        # A GPU that nvidia-smi cannot open is one line among the others' rows (and a
        # non-zero exit): keep the rows, the line becomes a lost GPU.
        if result.returncode != 0 and not re.search(_NO_HANDLE, result.stdout):
            _raise_for(result.stdout + "\n" + result.stderr, result.returncode)
        return kept, result.stdout
    raise DriverFailed(f"nvidia-smi kept rejecting --query-{option} fields")


def _raise_for(output: str, returncode: int) -> None:
    lowered = output.lower()
    for needle, reason in UNAVAILABLE_TEXTS:
        if needle in lowered:
            raise DriverUnavailable(reason)
    if "fallen off the bus" in lowered or re.search(_NO_HANDLE, output):
        raise DriverFailed(f"nvidia-smi: a GPU has fallen off the bus or is lost: {_first_line(output)}")
    raise DriverFailed(f"nvidia-smi exited with status {returncode}: {_first_line(output) or 'no output'}")


def _rows(fields: Sequence[str], stdout: str) -> tuple[list[dict[str, str]], list[tuple[str, str]]]:
    """CSV rows as dicts, plus (bus id, reason) for GPUs nvidia-smi could not open."""
    import csv  # here: every probe imports this driver, and most answer through NVML

    rows: list[dict[str, str]] = []
    lost: list[tuple[str, str]] = []
    for line in stdout.splitlines():
        if not line.strip():
            continue
        no_handle = re.search(_NO_HANDLE, line)
        if no_handle:
            lost.append((no_handle.group(1), line.strip()))
            continue
        cells = next(csv.reader([line], skipinitialspace=True))
        if len(cells) != len(fields):
            raise ParseError(f"nvidia-smi printed {len(cells)} values for {len(fields)} fields", line)
        rows.append(dict(zip(fields, cells, strict=False)))
    return rows, lost


def _text(raw: str | None) -> str | None:
    return field_text(raw)


def _gpu(row: dict[str, str], extra: dict[str, str], position: int, extra_failed: str | None) -> GpuSample:
    """One CSV row as a sample. Each field stands alone: a value nvidia-smi could not give, or one
    that does not parse, is None with its reason in field_errors, and the other fields are kept."""
    notes: dict[str, str] = {}
    lenient = Lenient(notes)

    def read(field: str, key: str, parse: Callable[[str | None, str], Any]) -> Any:
        raw = extra.get(key, row.get(key))
        if raw is None and key in NEWER_FIELDS and extra_failed:
            notes[field] = extra_failed
            return None
        value = lenient(field, parse, raw, key)
        if value is None and raw is not None and raw.strip() and field not in notes:
            notes[field] = f"nvidia-smi: {raw.strip()}"  # "[N/A]", "[Not Supported]", ...
            if "insufficient permissions" in raw.lower():
                # In a container on a MIG GPU, the whole card's memory is not the container's to read
                # (Stability-AI/StableSwarmUI#388, ollama/ollama#932).
                notes[field] += " (a container on a MIG GPU sees only its own instance)"
        return value

    def text(raw: str | None, key: str) -> str | None:
        return field_text(raw)

    def mask(raw: str | None, key: str) -> tuple[str, ...] | None:
        bits = hex_mask(raw, key)
        return None if bits is None else decode_throttle_reasons(bits)

    throttle = read("throttle_reasons", "clocks_event_reasons.active", mask)
    if throttle is None:  # older drivers know only the "throttle" name
        notes.pop("throttle_reasons", None)
        throttle = read("throttle_reasons", "clocks_throttle_reasons.active", mask)
    mig = read("mig_enabled", "mig.mode.current", text)
    index = read("index", "index", integer)
    notes.pop("index", None)  # the row's position stands in
    values: dict[str, Any] = {
        "name": read("name", "name", text),
        "uuid": read("uuid", "uuid", text),
        "pci_bus_id": read("pci_bus_id", "pci.bus_id", text),
        "driver_version": read("driver_version", "driver_version", text),
        "memory_total_bytes": read("memory_total_bytes", "memory.total", mib_to_bytes),
        "memory_reserved_bytes": read("memory_reserved_bytes", "memory.reserved", mib_to_bytes),
        "memory_used_bytes": read("memory_used_bytes", "memory.used", mib_to_bytes),
        "memory_free_bytes": read("memory_free_bytes", "memory.free", mib_to_bytes),
        "utilization_pct": read("utilization_pct", "utilization.gpu", integer),
        "memory_utilization_pct": read("memory_utilization_pct", "utilization.memory", integer),
        "temperature_c": read("temperature_c", "temperature.gpu", number),
        "power_w": read("power_w", "power.draw", number),
        "power_limit_w": read("power_limit_w", "enforced.power.limit", number),
        "fan_pct": read("fan_pct", "fan.speed", integer),
        "throttle_reasons": throttle,
        "mig_enabled": None if mig is None else mig.lower() == "enabled",
    }
    if values["mig_enabled"] is None:
        notes.pop("mig_enabled", None)  # most GPUs have no MIG at all: not worth a note
    return GpuSample(vendor="nvidia", index=position if index is None else index, source="nvidia-smi",
                     field_errors=notes, **values)


def _processes(ctx: Context, tool: str) -> list[tuple[str | None, str | None, GpuProcess]] | str:
    """(bus id, uuid, process) for each compute process; why not, when the query failed."""
    try:
        fields, stdout = _run_query(ctx, tool, "compute-apps", APP_FIELDS)
        rows, _ = _rows(fields, stdout)
    except (DriverFailed, DriverUnavailable, ParseError) as exc:
        return f"nvidia-smi --query-compute-apps failed: {exc}"
    found = []
    for row in rows:
        pid = integer(row.get("pid"), "pid")
        if pid is None:
            continue
        used = mib_to_bytes(row.get("used_memory"), "used_memory")
        process = GpuProcess(pid=pid, name=_text(row.get("process_name")), memory_used_bytes=used)
        found.append((pci_bus_key(row.get("gpu_bus_id")), _text(row.get("gpu_uuid")), process))
    return found


class NvidiaSmiDriver(ToolDriver):
    """NVIDIA GPUs through the nvidia-smi command."""

    name = tool = "nvidia-smi"
    vendor = "nvidia"
    priority = 20

    def planned_commands(self) -> list[list[str]]:
        return planned_queries(self.tool)

    def probe(self, ctx: Context) -> None:
        tool = self.tool_path(ctx)
        _run_query(ctx, tool, "gpu", ("index",))

    def collect(self, ctx: Context) -> Sequence[GpuSample]:
        tool = self.tool_path(ctx)
        fields, stdout = _run_query(ctx, tool, "gpu", BASE_FIELDS)
        rows, lost = _rows(fields, stdout)
        extras: list[dict[str, str]] = []
        extra_failed: str | None = None
        try:
            newer, newer_out = _run_query(ctx, tool, "gpu", NEWER_FIELDS)
            extras, _ = _rows(newer, newer_out)
        except (DriverFailed, DriverUnavailable, ParseError) as exc:
            # Newer fields are a bonus; the base report stands without them, saying why they are missing.
            extra_failed = f"nvidia-smi's query of the newer fields failed: {exc}"
        if len(extras) != len(rows):
            extra_failed = extra_failed or (f"nvidia-smi listed {len(extras)} GPUs for the newer fields, "
                                            f"{len(rows)} before")
            extras = [{} for _ in rows]
        gpus = [_gpu(row, extra, position, extra_failed)
                for position, (row, extra) in enumerate(zip(rows, extras, strict=False))]
        processes = _processes(ctx, tool)
        gpus = [_attach(gpu, processes) for gpu in gpus]
        next_index = max((g.index for g in gpus), default=-1) + 1
        for offset, (bus_id, reason) in enumerate(lost):
            gpus.append(GpuSample(vendor="nvidia", index=next_index + offset, source="nvidia-smi",
                                  pci_bus_id=bus_id, lost=True, lost_reason=reason))
        if not gpus:
            raise DriverUnavailable("nvidia-smi: No devices were found")
        return gpus


def _attach(gpu: GpuSample, processes: list[tuple[str | None, str | None, GpuProcess]] | str) -> GpuSample:
    if isinstance(processes, str):
        return replace(gpu, field_errors={**gpu.field_errors, "processes": processes})
    bus = pci_bus_key(gpu.pci_bus_id)
    mine = tuple(p for b, u, p in processes if (bus is not None and b == bus) or
                 (b is None and u is not None and u == gpu.uuid))
    return replace(gpu, processes=mine)
