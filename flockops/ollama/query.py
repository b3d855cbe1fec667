"""Asking Ollama endpoints: one endpoint's report, the model sizes it knows, and many at once.

Every failure becomes an :class:`~flockops.agent.ollama_model.OllamaReport` with a status and a
reason; nothing here raises past :func:`query`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from flockops.agent.fields import seconds
from flockops.agent.model import OllamaStatus
from flockops.agent.ollama_model import OllamaReport

from .client import OllamaClient, OllamaOptions, RequestFailure
from .endpoints import IMPLICIT, OllamaEndpoint
from .parsing import MAX_MODEL_BYTES, parse_ps, text_value


def query(endpoint: OllamaEndpoint, options: OllamaOptions | None = None) -> OllamaReport:
    """One endpoint's ``/api/ps`` (and ``/api/version``), every failure turned into the report's status."""
    options = options or OllamaOptions()
    client = OllamaClient(endpoint.url, options)

    def failed(failure: RequestFailure, version: str | None = None) -> OllamaReport:
        if failure.stage == "connect":
            implicit = failure.refused and endpoint.endpoint_from in IMPLICIT
            status = OllamaStatus.NOT_RUNNING if implicit else OllamaStatus.UNREACHABLE
        else:
            status = OllamaStatus.ERROR
        return OllamaReport(endpoint.url, status, str(failure), version=version, endpoint_from=endpoint.endpoint_from)

    try:
        try:
            ps = client.get_json("/api/ps")
        except RequestFailure as failure:
            version = None
            if failure.stage == "answer" and "404 page not found" in str(failure):
                version = _version(client)  # an old server may still say which it is
            return failed(failure, version)
        version = _version(client)
        try:
            models = parse_ps(ps)
        except ValueError as exc:
            return failed(RequestFailure("answer", f"/api/ps: unexpected answer: {exc}"), version)
        report = OllamaReport(endpoint.url, OllamaStatus.OK, version=version, models=models,
                              endpoint_from=endpoint.endpoint_from)
    finally:
        client.close()
    if options.infer:
        from dataclasses import replace

        from .inference import infer

        report = replace(report, inference=infer(endpoint.url, options))
    return report


def _version(client: OllamaClient) -> str | None:
    """The server's version, or None: a missing /api/version is no reason to fail the report."""
    try:
        answer = client.get_json("/api/version")
    except RequestFailure:
        return None
    return text_value(answer.get("version")) if isinstance(answer, dict) else None


def model_sizes(url: str, options: OllamaOptions | None = None) -> dict[str, int]:
    """Name -> size in bytes of each model the server has pulled (``GET /api/tags``); {} if it cannot say.

    The size is the model file's. Loading it takes more (the context's KV cache), hence ``fit``'s margin.
    """
    client = OllamaClient(url, options or OllamaOptions())
    try:
        answer = client.get_json("/api/tags")
    except RequestFailure:
        return {}
    finally:
        client.close()
    sizes: dict[str, int] = {}
    entries = answer.get("models") if isinstance(answer, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        size = entry.get("size") if isinstance(entry, dict) else None
        if isinstance(size, int) and not isinstance(size, bool) and 0 < size <= MAX_MODEL_BYTES:
            for key in ("name", "model"):
                if isinstance(entry.get(key), str):
                    sizes[entry[key]] = entry["size"]
    return sizes


def find_model(sizes: Mapping[str, int], name: str) -> tuple[str, int] | None:
    """``llama3.1`` finds ``llama3.1:latest``, as Ollama's default tag rule has it."""
    for candidate in (name, f"{name}:latest"):
        if candidate in sizes:
            return candidate, sizes[candidate]
    return None


def budget_s(options: OllamaOptions) -> float:
    """The longest one endpoint may take: connect, /api/ps, /api/version (and --infer's calls)."""
    total = options.connect_timeout_s + 2 * options.read_timeout_s
    if options.infer:
        total += options.connect_timeout_s + options.infer_warmup_timeout_s
        total += options.infer_runs * options.read_timeout_s
    return total + 0.5


class Pending:
    """Endpoints being asked, one daemon thread each, each with its own deadline.

    Started before the device probes so that both run at once; :meth:`wait` collects the answers,
    and an endpoint still stuck at its deadline (a server trickling bytes) becomes an error.
    """

    def __init__(self, endpoints: Sequence[OllamaEndpoint], options: OllamaOptions | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.endpoints = list(endpoints)
        self.options = options or OllamaOptions()
        self.clock = clock
        self.deadline = clock() + budget_s(self.options)
        self.results: dict[int, OllamaReport] = {}
        self.threads: list[threading.Thread] = []
        for position, endpoint in enumerate(self.endpoints):
            thread = threading.Thread(target=self._run, args=(position, endpoint), daemon=True,
                                      name="flockops-ollama")
            thread.start()
            self.threads.append(thread)

    def _run(self, position: int, endpoint: OllamaEndpoint) -> None:
        try:
            report = query(endpoint, self.options)
        except Exception as exc:  # a bug must cost one endpoint, not the report
            report = OllamaReport(endpoint.url, OllamaStatus.ERROR, f"internal error: {type(exc).__name__}: {exc}",
                                  endpoint_from=endpoint.endpoint_from)
        self.results[position] = report

    def wait(self) -> list[OllamaReport]:
        out = []
        for position, (endpoint, thread) in enumerate(zip(self.endpoints, self.threads, strict=True)):
            thread.join(max(0.0, self.deadline - self.clock()))
            report = self.results.get(position)
            if report is None:
                report = OllamaReport(endpoint.url, OllamaStatus.ERROR,
                                      f"no complete answer within {seconds(budget_s(self.options))} s",
                                      endpoint_from=endpoint.endpoint_from)
            out.append(report)
        return out


def query_all(endpoints: Sequence[OllamaEndpoint], options: OllamaOptions | None = None) -> list[OllamaReport]:
    """Every endpoint's report, asked concurrently, in the order given."""
    return Pending(endpoints, options).wait()
