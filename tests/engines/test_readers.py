"""Each engine's reader against recorded bodies, served over real HTTP on loopback.

Every case under tests/data/engines/cases names its engine, the bodies each path answers with
(files in tests/data/engines: provenance in SOURCES.md there; a path not listed answers 404), and
beside them the parse we expect, worked out by hand from the bodies.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from support.ollama_server import FakeOllama
from support.paths import DATA

from flockops.agent.model import Engine
from flockops.engines.client import EngineOptions, direct
from flockops.engines.endpoints import EngineEndpoint
from flockops.engines.query import ask_one

ENGINES = DATA / "engines"
CASES = sorted(p.stem for p in (ENGINES / "cases").glob("*.json"))


def served(server: FakeOllama, routes: dict[str, list[Any]]) -> None:
    for path, (status, name) in routes.items():
        server.route("GET", path, status=status, body=(ENGINES / name).read_bytes(), content_type="text/plain")


@pytest.mark.parametrize("case", CASES)
def test_recorded_case(case: str) -> None:
    spec = json.loads((ENGINES / "cases" / f"{case}.json").read_text())
    with FakeOllama() as server:
        served(server, spec["routes"])
        endpoint = EngineEndpoint(Engine(spec["engine"]), "127.0.0.1", server.port)
        report = ask_one(endpoint, direct, EngineOptions(), time.monotonic() + 10)
        asked = [r.path for r in server.requests]
    got = {key: (list(v) if isinstance(v, tuple) else v) for key, v in
           ((key, getattr(report, key)) for key in spec["expected"])}
    assert got == spec["expected"], report
    assert report.url == f"http://127.0.0.1:{server.port}" and report.engine == spec["engine"]
    if "error_contains" in spec:
        assert spec["error_contains"] in (report.error or ""), report.error
    # Every path of the engine was asked, once, and each said what it came to.
    assert sorted(asked) == sorted(report.endpoints) and len(asked) == len(set(asked))


def test_nothing_listening_is_unreachable_and_asks_nothing_more() -> None:
    from support.ollama_server import free_port

    report = ask_one(EngineEndpoint(Engine.VLLM, "127.0.0.1", free_port()), direct, EngineOptions(),
                     time.monotonic() + 5)
    assert report.status == "unreachable" and "refused" in (report.error or "")
    assert report.endpoints == {}


def test_a_server_that_never_answers_ends_at_its_deadline() -> None:
    with FakeOllama() as server:
        server.route("GET", "/metrics", hold=True)
        started = time.monotonic()
        report = ask_one(EngineEndpoint(Engine.TGI, "127.0.0.1", server.port), direct,
                         EngineOptions(connect_timeout_s=1, read_timeout_s=0.3), time.monotonic() + 5)
        server.release.set()
    assert report.status == "error" and "within 0.3 s" in report.endpoints["/metrics"]
    assert "/metrics: no answer" in (report.error or "")
    assert time.monotonic() - started < 5


def test_an_answer_that_is_no_http_is_an_error(tmp_path: Path) -> None:
    import socket
    import threading

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def garbage() -> None:
            for _ in range(3):  # one connection per path asked
                conn, _ = listener.accept()
                with conn:
                    conn.recv(4096)
                    conn.sendall(b"\x1b[2Jnot http at all\r\n\r\n")

        thread = threading.Thread(target=garbage, daemon=True)
        thread.start()
        report = ask_one(EngineEndpoint(Engine.VLLM, "127.0.0.1", listener.getsockname()[1]), direct,
                         EngineOptions(), time.monotonic() + 5)
        thread.join(5)
    assert report.status == "error" and "not an HTTP answer" in (report.error or "")


def test_a_chunked_answer_is_read_whole() -> None:
    from flockops.engines.client import parse_response

    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"1a\r\nvllm:num_requests_running \r\n4\r\n3.0\n\r\n0\r\n\r\n")
    answer = parse_response(raw, "/metrics")
    assert (answer.status, answer.body) == (200, b"vllm:num_requests_running 3.0\n")
