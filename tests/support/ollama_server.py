"""A real HTTP server on loopback (port 0) that stands in for Ollama and replays recorded bodies.

Each route answers what the test set: a status, a body (recorded JSON, plain text, garbage), and
optionally a delay or a hold. A delay waits on an Event nobody sets, with the delay as its timeout
(the handler's latency, not the test's synchronisation); a hold waits until the test sets
``release`` (or the server stops), so the client's own timeout is what ends the exchange.

    with FakeOllama() as server:
        server.route("GET", "/api/ps", body=DATA / "ollama" / "ps" / "docs-mistral.json")
        report = query(OllamaEndpoint(server.url))
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GO_404 = b"404 page not found\n"  # Go net/http's NotFound, what Ollama sends for an unknown route


@dataclass
class Route:
    status: int = 200
    body: bytes = b"{}"
    content_type: str = "application/json; charset=utf-8"
    delay_s: float = 0.0
    hold: bool = False


@dataclass
class Request:
    method: str
    path: str
    body: bytes


class FakeOllama:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[Request] = []
        self.release = threading.Event()
        self._never = threading.Event()  # never set: waiting on it is a delay that ends by timeout
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Go's server does
            # Go sets TCP_NODELAY; without it, headers and body in two writes meet the client's
            # delayed ACK and every answer takes 40 ms more.
            disable_nagle_algorithm = True

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fake.requests.append(Request(method, self.path, body))
                route = fake.routes.get((method, self.path))
                if route is None:
                    route = Route(404, GO_404, "text/plain; charset=utf-8")
                if route.hold:
                    fake.release.wait(30)
                    if fake.release.is_set() and fake.stopping:
                        return
                if route.delay_s:
                    fake._never.wait(route.delay_s)
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.stopping = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True,
                                       name="fake-ollama")

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def route(self, method: str, path: str, *, status: int = 200, body: bytes | str | Path | Any = None,
              content_type: str | None = None, delay_s: float = 0.0, hold: bool = False) -> FakeOllama:
        """Set what ``method path`` answers. ``body``: a Path (file bytes), str/bytes, or a JSON value."""
        if isinstance(body, Path):
            raw = body.read_bytes()
        elif isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
            content_type = content_type or "text/plain; charset=utf-8"
        else:
            raw = json.dumps(body if body is not None else {}).encode()
        self.routes[(method, path)] = Route(status, raw, content_type or "application/json; charset=utf-8",
                                            delay_s, hold)
        return self

    def start(self) -> FakeOllama:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeOllama:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
