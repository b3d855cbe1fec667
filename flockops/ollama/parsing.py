"""Reading what an Ollama server answers."""

from __future__ import annotations

from typing import Any

from flockops.agent.ollama_model import OllamaModel

from .client import shown_text

# No model is a pebibyte: a size past it (or below 0) is a broken server's, shown as unknown, never
# as a 17-digit GiB figure or "-0.0 GiB".
MAX_MODEL_BYTES = 1 << 50


def _int(value: Any, name: str, raw: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} is not a whole number in {raw!r}")
    return value


def _size(value: Any, name: str, raw: Any) -> int | None:
    size = _int(value, name, raw)
    return size if size is not None and 0 <= size <= MAX_MODEL_BYTES else None


def text_value(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_ps(data: Any) -> tuple[OllamaModel, ...]:
    """The models in a ``/api/ps`` answer. Raises ValueError quoting what it could not read.

    One real entry (docs/api.md, "List Running Models")::

        {"name": "mistral:latest", "model": "mistral:latest", "size": 5137025024, "digest": "2ae6...",
         "details": {"family": "llama", "parameter_size": "7.2B", "quantization_level": "Q4_0", ...},
         "expires_at": "2024-06-04T14:38:31.83753-07:00", "size_vram": 5137025024}

    ``size_vram`` absent means 0, wholly on CPU: servers from 0.1.38 until June 2024 left it out when
    it was 0 (``omitempty``; ollama/ollama#4840, fixed by #4842); null is a server that did not say.
    ``context_length`` came later still.
    """
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {shown_text(str(data))}")
    entries = data.get("models")
    if entries is None:
        return ()  # Go marshals an empty slice that was never made as null
    if not isinstance(entries, list):
        raise ValueError(f"'models' is not a list: {shown_text(str(entries))}")
    models = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name") or entry.get("model"), str):
            raise ValueError(f"a model without a name: {shown_text(str(entry))}")
        raw_details = entry.get("details")
        details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
        context = _int(entry.get("context_length"), "context_length", entry)
        models.append(OllamaModel(
            name=entry.get("name") or entry["model"],
            size_bytes=_size(entry.get("size"), "size", entry),
            vram_bytes=_size(entry.get("size_vram", 0), "size_vram", entry),
            context_length=context or None,  # 0 means the server did not say
            expires_at=text_value(entry.get("expires_at")),
            family=text_value(details.get("family")),
            parameter_size=text_value(details.get("parameter_size")),
            quantization=text_value(details.get("quantization_level")),
        ))
    return tuple(models)
