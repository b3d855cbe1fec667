"""An Ollama runner's model, named: its ``--model .../blobs/sha256-<hex>`` found in Ollama's manifests.

Ollama keeps ``<models>/manifests/<registry>/<namespace>/<model>/<tag>`` (JSON) beside
``<models>/blobs/sha256-<hex>``; each manifest lists its layers, and the one of media type
``application/vnd.ollama.image.model`` is the weights the runner loads. ``/api/ps``'s ``digest``
may be the manifest's own, not the blob's, so the manifests are the one source of the name.

The models directory is read as the runner sees it (``/proc/PID/root``: Ollama in a container has
its own), else as this host does.
"""

from __future__ import annotations

import json
import os

from .proc import Process

MODEL_LAYER = "application/vnd.ollama.image.model"
DEFAULT_REGISTRY, DEFAULT_NAMESPACE = "registry.ollama.ai", "library"


def model_layer(manifest: bytes) -> str | None:
    """The weights' digest in a manifest, or None.

    One real manifest (gemma:2b, Ollama 0.1.48), cut here: ``{"schemaVersion":2,...,"layers":
    [{"mediaType":"application/vnd.ollama.image.model","digest":"sha256:c1864a5e...d12","size":1678447520},
    {"mediaType":"application/vnd.ollama.image.license",...}]}``.
    """
    try:
        data = json.loads(manifest)
    except ValueError:
        return None
    layers = data.get("layers") if isinstance(data, dict) else None
    for layer in layers if isinstance(layers, list) else ():
        if isinstance(layer, dict) and layer.get("mediaType") == MODEL_LAYER and isinstance(layer.get("digest"), str):
            return str(layer["digest"])
    return None


def display_name(parts: list[str]) -> str:
    """``registry.ollama.ai/library/gemma/2b`` -> ``gemma:2b``, as ``ollama list`` shows names."""
    registry, namespace, model, tag = parts
    if registry == DEFAULT_REGISTRY and namespace == DEFAULT_NAMESPACE:
        return f"{model}:{tag}"
    if registry == DEFAULT_REGISTRY:
        return f"{namespace}/{model}:{tag}"
    return f"{registry}/{namespace}/{model}:{tag}"


class Manifests:
    """Blob digest -> model names, per models directory, read once per probe."""

    def __init__(self) -> None:
        self.by_dir: dict[str, dict[str, list[str]]] = {}

    def name(self, runner: Process, models_dir: str, digest: str) -> tuple[str | None, str | None]:
        """The model whose weights are ``digest``, or (None, why not). Several tags of one model share a
        blob (``llama3:latest`` and ``llama3:8b``): they are named together."""
        reasons: list[str] = []
        for place in (runner.root_path(models_dir), models_dir):
            if place not in self.by_dir:
                self.by_dir[place] = self._read(runner, place, reasons)
            names = self.by_dir[place].get(digest)
            if names:
                return " = ".join(sorted(names)), None
            if self.by_dir[place]:
                return None, f"no manifest under {models_dir}/manifests lists the blob {digest[:19]}..."
        return None, "; ".join(reasons) or f"no manifests under {models_dir}"

    @staticmethod
    def _read(runner: Process, place: str, reasons: list[str]) -> dict[str, list[str]]:
        ctx = runner.ctx
        found: dict[str, list[str]] = {}
        top = os.path.join(place, "manifests")
        registries, why = ctx.list_or_why(top)
        if registries is None:
            reasons.append(f"{top}: {why}")
            return found
        for registry in registries:
            for namespace in ctx.list_or_why(os.path.join(top, registry))[0] or ():
                for model in ctx.list_or_why(os.path.join(top, registry, namespace))[0] or ():
                    for tag in ctx.list_or_why(os.path.join(top, registry, namespace, model))[0] or ():
                        data, _ = ctx.read_or_why(os.path.join(top, registry, namespace, model, tag), 1 << 20)
                        digest = model_layer(data) if data else None
                        if digest is not None:
                            found.setdefault(digest, []).append(display_name([registry, namespace, model, tag]))
        return found
