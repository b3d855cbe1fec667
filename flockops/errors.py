"""One exception tree. Each kind of failure is translated into one of these in one place."""

from __future__ import annotations


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
