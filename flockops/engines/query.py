"""Asking engine endpoints: one endpoint's report, and many at once, each with its own deadline.

Every failure becomes an :class:`~flockops.agent.engine_model.EngineReport` with a status and a
reason; nothing here raises past :func:`ask`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from types import ModuleType

from flockops.agent.engine_model import EngineReport
from flockops.agent.model import Engine, EngineStatus, HostReport

from . import llama_cpp, lmstudio, localai, sglang, tgi, vllm
from .client import EngineOptions, Opener, RequestFailure, direct, get
from .endpoints import EngineEndpoint
from .readers import Answers

READERS: dict[Engine, ModuleType] = {Engine.VLLM: vllm, Engine.SGLANG: sglang, Engine.LLAMA_CPP: llama_cpp,
                                     Engine.TGI: tgi, Engine.LOCALAI: localai, Engine.LMSTUDIO: lmstudio}
# Notes that are no failure: a path that answered, or llama.cpp still loading its model.
FINE = ("ok",)


def budget_s(engine: Engine, options: EngineOptions) -> float:
    """The longest one endpoint may take: a connection and a read per path."""
    return len(READERS[engine].PATHS) * (options.connect_timeout_s + options.read_timeout_s) + 0.5


def ask_one(endpoint: EngineEndpoint, opener: Opener, options: EngineOptions, deadline: float) -> EngineReport:
    """Every path of the endpoint's engine, read into one report."""
    reader = READERS[endpoint.engine]
    deadline = min(deadline, time.monotonic() + budget_s(endpoint.engine, options))

    def report(status: EngineStatus, error: str | None = None, **fields: object) -> EngineReport:
        return EngineReport(endpoint.engine, endpoint.url, status, error, endpoint.endpoint_from, endpoint.via,
                            endpoint.pid, **fields)  # type: ignore[arg-type]

    answers: dict[str, object] = {}
    for path in reader.PATHS:
        try:
            answers[path] = get(opener, endpoint.address, endpoint.port, endpoint.base_path + path, options, deadline)
        except RequestFailure as failure:
            if failure.stage == "connect":
                return report(EngineStatus.UNREACHABLE, str(failure))
            answers[path] = str(failure)
    reading = reader.read(_typed(answers))
    answered = [path for path, note in reading.notes.items() if note in FINE]
    failed = {path: note for path, note in reading.notes.items() if note not in FINE and path != "/health"}
    fields = {k: v for k, v in reading.fields.items() if v is not None}
    if not answered:
        said = "; ".join(f"{path}: {note}" for path, note in failed.items()) or "no usable answer"
        return report(EngineStatus.ERROR, said, endpoints=dict(reading.notes))
    status = EngineStatus.PARTIAL if failed or reading.notes.get("/health", "ok") != "ok" else EngineStatus.OK
    error = "; ".join(f"{path}: {note}" for path, note in failed.items()) or None
    if reading.notes.get("/health", "ok") != "ok":
        error = "; ".join(filter(None, [error, f"/health: {reading.notes['/health']}"]))
    return report(status, error, endpoints=dict(reading.notes), **fields)


def _typed(answers: dict[str, object]) -> Answers:
    return answers  # type: ignore[return-value]  # Answer or str, as built above


class Pending:
    """Endpoints being asked, one daemon thread each; :meth:`wait` collects them by the deadline."""

    def __init__(self, endpoints: Sequence[EngineEndpoint], opener: Opener = direct,
                 options: EngineOptions | None = None, deadline: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoints = list(endpoints)
        self.options = options or EngineOptions()
        self.clock = clock
        longest = max((budget_s(e.engine, self.options) for e in self.endpoints), default=0.0)
        self.deadline = min(deadline, clock() + longest) if deadline is not None else clock() + longest
        self.results: dict[int, EngineReport] = {}
        self.threads = []
        for position, endpoint in enumerate(self.endpoints):
            thread = threading.Thread(target=self._run, args=(position, endpoint, opener), daemon=True,
                                      name="flockops-engine")
            thread.start()
            self.threads.append(thread)

    def _run(self, position: int, endpoint: EngineEndpoint, opener: Opener) -> None:
        try:
            report = ask_one(endpoint, opener, self.options, self.deadline)
        except Exception as exc:  # a bug must cost one endpoint, not the report
            report = EngineReport(endpoint.engine, endpoint.url, EngineStatus.ERROR,
                                  f"internal error: {type(exc).__name__}: {exc}", endpoint.endpoint_from,
                                  endpoint.via, endpoint.pid)
        self.results[position] = report

    def wait(self) -> list[EngineReport]:
        out = []
        for position, (endpoint, thread) in enumerate(zip(self.endpoints, self.threads, strict=True)):
            thread.join(max(0.0, self.deadline - self.clock()))
            report = self.results.get(position)
            if report is None:
                report = EngineReport(endpoint.engine, endpoint.url, EngineStatus.ERROR,
                                      "no complete answer before the deadline", endpoint.endpoint_from,
                                      endpoint.via, endpoint.pid)
            out.append(report)
        return out


def ask(endpoints: Sequence[EngineEndpoint], opener: Opener = direct, options: EngineOptions | None = None,
        deadline: float | None = None) -> list[EngineReport]:
    """Every endpoint's report, asked concurrently, in the order given."""
    return Pending(endpoints, opener, options, deadline).wait() if endpoints else []


def attach(host: HostReport, opener: Opener, via: str, options: EngineOptions | None = None,
           deadline: float | None = None) -> HostReport:
    """``host`` with what the engines its report names said (none named: ``host`` as it was).

    ``opener`` reaches the host's own addresses: the SSH connection's channels (``via`` "ssh"), or
    plain TCP for this machine. A printable copy: an engine's words reach terminals."""
    from dataclasses import replace

    from flockops.agent.fields import printable

    from .endpoints import discovered

    endpoints = discovered(host, via)
    if not endpoints:
        return host
    reports = printable(tuple(ask(endpoints, opener, options, deadline)))
    return replace(host, engines=(*(host.engines or ()), *reports))
