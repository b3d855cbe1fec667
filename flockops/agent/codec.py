"""The data model's JSON form: what ``report -o json`` prints and what a remote probe answers.

``schema_version`` names the shape; a reader ignores keys it does not know (a newer producer).
Derived values (a host's ``status``, the errors and warnings its Ollama part implies, the VRAM
breakdown) are written out for scripts and rebuilt from their sources when read back, never
stored twice. Standard library only: the probe uses it to print its answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from .model import (
    DERIVED_ERROR_KINDS,
    VOCABULARIES,
    DriverAttempt,
    FleetReport,
    GpuProcess,
    GpuSample,
    HostError,
    HostReport,
    ListenSocket,
    MigDevice,
    TemperatureReading,
    spilled,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .ollama_model import OllamaReport

SCHEMA_VERSION = 1


# Field names by model class: dataclasses.fields() builds its tuple anew at each call, and a host
# with holders has hundreds of objects to write.
_NAMES: dict[type, tuple[str, ...]] = {}


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _NAMES.get(type(value))
        if names is None:
            names = _NAMES[type(value)] = tuple(f.name for f in dataclasses.fields(value))
        return {name: plain(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def gpu_to_dict(gpu: GpuSample) -> dict[str, Any]:
    out: dict[str, Any] = plain(gpu)
    out["field_errors"] = dict(gpu.field_errors)
    out["merged_from"] = dict(gpu.merged_from)
    return out


def host_to_dict(host: HostReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "host": host.host,
        "address": host.address,
        "status": host.status,
        "errors": [plain(e) for e in host.all_errors],
        "drivers": [plain(d) for d in host.drivers],
        "gpus": [gpu_to_dict(g) for g in host.gpus],
    }
    # Derived from "ollama", which host_from_dict rebuilds them from.
    out["warnings"] = [plain(w) for w in host.warnings]
    out["ollama"] = None
    out["vram_breakdown"] = None
    # What the engines said (asked by the controller; a probe's answer has none).
    out["engines"] = None if host.engines is None else [plain(e) for e in host.engines]
    if host.ollama is not None:
        from .ollama_model import vram_breakdown

        out["ollama"] = ollama_to_dict(host)
        breakdown = vram_breakdown(host)
        out["vram_breakdown"] = None if breakdown is None else plain(breakdown)
        if host.ollama.inference is not None:
            out["inference"] = plain(host.ollama.inference)
    return out


def fleet_to_dict(fleet: FleetReport) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": fleet.generated_at,
        "hosts": [host_to_dict(h) for h in fleet.hosts],
    }


def build_dataclass(cls: Any, data: Mapping[str, Any], nested: Mapping[str, Any]) -> Any:
    """``cls`` from its JSON form: lists become tuples, the words of a vocabulary its members (a word
    it does not have is a ValueError), ``nested`` fields their classes."""
    types = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in types:
            continue  # newer producer, older reader: ignore what we do not know
        if key in nested and value is not None:
            value = tuple(build_dataclass(nested[key], v, NESTED.get(nested[key], {})) for v in value)
        elif isinstance(value, list):
            value = tuple(value)
        elif isinstance(value, str) and types[key].removesuffix(" | None") in VOCABULARIES:
            value = VOCABULARIES[types[key].removesuffix(" | None")](value)
        kwargs[key] = value
    return cls(**kwargs)


# The fields of a class that hold tuples of another model class, by class.
NESTED: Mapping[Any, Mapping[str, Any]] = {
    GpuSample: {"processes": GpuProcess, "mig_devices": MigDevice, "temperatures": TemperatureReading},
    GpuProcess: {"listening": ListenSocket},
}


def gpu_from_dict(data: Mapping[str, Any]) -> GpuSample:
    gpu: GpuSample = build_dataclass(GpuSample, data, NESTED[GpuSample])
    return gpu


def host_from_dict(data: Mapping[str, Any]) -> HostReport:
    """Rebuild a host report from its JSON form (the remote probe's answer)."""
    ollama = None
    if data.get("ollama") is not None:
        ollama = ollama_from_dict(data["ollama"], data.get("inference"))
    engines = None
    if data.get("engines") is not None:
        from .engine_model import EngineReport

        engines = tuple(build_dataclass(EngineReport, e, {}) for e in data["engines"])
    return HostReport(
        host=str(data["host"]),
        address=data.get("address"),
        gpus=tuple(gpu_from_dict(g) for g in data.get("gpus", ())),
        drivers=tuple(build_dataclass(DriverAttempt, d, {}) for d in data.get("drivers", ())),
        # Errors derived from the Ollama part are rebuilt from it, not stored.
        errors=tuple(build_dataclass(HostError, e, {}) for e in data.get("errors", ())
                     if e.get("kind") not in DERIVED_ERROR_KINDS),
        ollama=ollama,
        engines=engines,
    )


def ollama_to_dict(host: HostReport) -> dict[str, Any] | None:
    report = host.ollama
    if report is None:
        return None
    models = []
    for m in report.models:
        entry: dict[str, Any] = plain(m)
        entry.update(placement=m.placement, gpu_fraction=m.gpu_fraction, ram_bytes=m.ram_bytes,
                     spilled=spilled(host, m))
        models.append(entry)
    return {
        "url": report.url, "status": report.status, "error": report.error, "version": report.version,
        "endpoint_from": report.endpoint_from, "source": report.source,
        "vram_bytes": report.vram_bytes, "ram_bytes": report.ram_bytes, "gpu_accelerated": report.gpu_accelerated,
        "models": models,
    }


def ollama_from_dict(data: Mapping[str, Any] | None, inference: Mapping[str, Any] | None) -> OllamaReport | None:
    if data is None:
        return None
    from .ollama_model import InferenceVerdict, OllamaModel, OllamaReport

    report: OllamaReport = build_dataclass(OllamaReport, {k: v for k, v in data.items() if k != "models"}, {})
    models = tuple(build_dataclass(OllamaModel, m, {}) for m in data.get("models") or ())
    verdict = None if inference is None else build_dataclass(InferenceVerdict, inference, {})
    return dataclasses.replace(report, models=models, inference=verdict)
