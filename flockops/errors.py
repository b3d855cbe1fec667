"""One exception tree, and the vocabulary of what failed. Each kind of failure is translated into
one of these in one place."""

from __future__ import annotations

import enum


class Vocabulary(str, enum.Enum):
    """A word of one of flockops's vocabularies (error kinds, statuses, outcomes...): it compares equal
    to, serialises as and prints as its text, on every Python (3.11's enum.StrEnum, back to 3.10)."""

    def __str__(self) -> str:
        return str(self.value)


class ErrorKind(Vocabulary):
    """What failed on a host (``HostError.kind``, ``ConnectionFailure.kind``)."""

    DRIVER = "driver"  # every driver of a vendor failed, or a GPU on the PCI bus no driver reported
    GPU_LOST = "gpu_lost"
    UNREACHABLE = "unreachable"  # refused, DNS, no route
    TIMEOUT = "timeout"  # accepts TCP but never answers, or ran past the deadline
    AUTH_FAILED = "auth_failed"
    HOST_KEY = "host_key"  # unknown, changed or revoked
    PROBE_FAILED = "probe_failed"  # the probe printed garbage, or no Python and no tool
    INTERNAL = "internal"  # a bug of flockops's, confined to one host
    OLLAMA_UNREACHABLE = "ollama_unreachable"
    OLLAMA_ERROR = "ollama_error"
    OLLAMA_SPILL = "ollama_spill"  # a warning, not an error: a model on CPU on a GPU node
    ENGINE_UNREACHABLE = "engine_unreachable"  # an inference engine listed in the inventory
    ENGINE_ERROR = "engine_error"
    MODEL_ON_CPU = "model_on_cpu"  # a warning: an engine (not Ollama) says its model runs on CPU


class FlockopsError(Exception):
    """Base of every error flockops raises on purpose."""


class UsageError(FlockopsError):
    """The command line asked for something that cannot be done."""


class DriverUnavailable(FlockopsError):
    """A driver cannot run on this host; the message says why, in words a person can act on."""


class DriverFailed(FlockopsError):
    """A driver that should have worked broke while sampling."""


class ParseError(FlockopsError):
    """A tool printed something we could not read; the message quotes the raw text."""

    def __init__(self, message: str, raw: str | None = None) -> None:
        if raw is not None:
            shown = raw if len(raw) <= 200 else raw[:200] + "..."
            message = f"{message}: {shown!r}"
        super().__init__(message)
        self.raw = raw


class ConnectionFailure(FlockopsError):
    """A host could not be reached or would not let us in; ``kind`` classifies it for the report."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class InventoryError(FlockopsError):
    """An inventory is missing or malformed. Raised while loading, before any host is contacted.

    The message starts with ``file:line:`` (or just ``file:`` when no line applies) and names the
    group, host or key at fault; ``file``, ``line`` and ``key`` are kept for callers that want them.
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None, key: str | None = None) -> None:
        if file is not None:
            message = f"{file}:{line}: {message}" if line is not None else f"{file}: {message}"
        super().__init__(message)
        self.file = file
        self.line = line
        self.key = key
