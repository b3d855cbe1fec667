"""A loopback HTTP server standing in for a webhook (``flockops check --notify``), whose behaviour a
test sets: answer 204, hang, trickle its answer, answer any status, or redirect."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Webhook:
    """``behaviour``: "ok" (204), "hang" (reads the request, never answers), "trickle" (a status line
    a byte at a time, every ``trickle_s``), "status:500", "redirect:302:/elsewhere". Each path may
    have its own in ``by_path``."""

    behaviour: str = "ok"
    by_path: dict[str, str] = field(default_factory=dict)
    trickle_s: float = 0.4
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        hook = self
        self.closing = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path
                hook.received.append(Received(self.command, path, dict(self.headers), body))
                behaviour = hook.by_path.get(path.split("?")[0], hook.behaviour)
                if behaviour == "hang":
                    hook.closing.wait(60)
                    return
                if behaviour == "trickle":
                    for byte in b"HTTP/1.1 204 No Content\r\n\r\n":
                        if hook.closing.is_set():
                            return
                        try:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                        except OSError:
                            return
                        hook.closing.wait(hook.trickle_s)
                    return
                if behaviour.startswith("redirect:"):
                    _, code, location = behaviour.split(":", 2)
                    self.send_response(int(code))
                    self.send_header("Location", location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                code = int(behaviour.split(":")[1]) if behaviour.startswith("status:") else 204
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = _handle  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def posts(self, path: str = "/hook") -> list[Any]:
        """The JSON bodies POSTed to ``path``, in order."""
        return [r.json() for r in self.received if r.method == "POST" and r.path.split("?")[0] == path]

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

