"""HTTP GET over whatever carries it: a TCP socket from here, or an SSH channel to the target's loopback.

One request per connection (``Connection: close``): an SSH channel opens as cheaply as a socket,
and nothing is left half-read between requests. The answer is read to its end, bounded in size
and in time; a refused connection, a timeout, an answer that is no HTTP become
:class:`RequestFailure` with the stage it failed at.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from flockops.errors import ConnectionFailure

MAX_BODY = 16 << 20  # a /metrics body is tens of kilobytes; more is not an engine's

# (address, port, timeout_s) -> a connected socket-like object: sendall, recv, settimeout, close.
Opener = Callable[[str, int, float], Any]


class EngineOptions(NamedTuple):
    connect_timeout_s: float = 1.0
    read_timeout_s: float = 3.0  # per request; each endpoint also ends at its overall deadline


class RequestFailure(Exception):
    """One request's failure: ``stage`` is connect (nothing answered) or answer (something did, badly)."""

    def __init__(self, stage: str, message: str) -> None:
        super().__init__(message)
        self.stage = stage


class Answer(NamedTuple):
    status: int
    reason: str
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def direct(address: str, port: int, timeout_s: float) -> Any:
    """A TCP connection from this machine."""
    import socket

    try:
        return socket.create_connection((address, port), timeout=timeout_s)
    except ConnectionRefusedError:
        raise RequestFailure("connect", f"connection refused ({address} port {port})") from None
    except TimeoutError:
        raise RequestFailure("connect", f"no connection within {timeout_s:g} s ({address} port {port})") from None
    except OSError as exc:
        raise RequestFailure("connect", f"cannot connect to {address} port {port}: {exc.strerror or exc}") from None


def get(opener: Opener, address: str, port: int, path: str, options: EngineOptions, deadline: float,
        host_header: str | None = None) -> Answer:
    """``GET path`` from ``address:port`` through ``opener``, finished before ``deadline``."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise RequestFailure("answer", f"GET {path}: no time left before the deadline")
    try:
        conn = opener(address, port, min(options.connect_timeout_s, left))
    except ConnectionFailure as exc:  # an SSH channel the target's sshd would not open
        raise RequestFailure("connect", str(exc)) from None
    try:
        host = host_header or (f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
        request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: flockops\r\nAccept: */*\r\n"
                   "Connection: close\r\n\r\n").encode()
        try:
            conn.settimeout(max(0.05, min(options.read_timeout_s, deadline - time.monotonic())))
            conn.sendall(request)
            raw = _read_all(conn, options, deadline)
        except TimeoutError:
            raise RequestFailure("answer", f"no answer to GET {path} within "
                                 f"{min(options.read_timeout_s, left):g} s") from None
        except OSError as exc:
            raise RequestFailure("answer", f"GET {path}: the connection failed ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(Exception):  # closing a dead channel or socket is no one's problem
            conn.close()
    return parse_response(raw, path)


def _read_all(conn: Any, options: EngineOptions, deadline: float) -> bytes:
    data = bytearray()
    while True:
        if time.monotonic() > deadline:
            raise TimeoutError()
        conn.settimeout(max(0.05, min(options.read_timeout_s, deadline - time.monotonic())))
        chunk = conn.recv(65536)
        if not chunk:
            return bytes(data)
        data += chunk
        if len(data) > MAX_BODY + 65536:
            raise RequestFailure("answer", f"an answer larger than {MAX_BODY >> 20} MiB")
        if _complete(data):
            return bytes(data)


def _complete(data: bytearray) -> bool:
    """The whole answer is in (a server may keep the connection open despite Connection: close)."""
    head, sep, body = bytes(data).partition(b"\r\n\r\n")
    if not sep:
        return False
    headers = _headers(head)
    if "content-length" in headers and headers["content-length"].isdigit():
        return len(body) >= int(headers["content-length"])
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return body.endswith(b"0\r\n\r\n")
    return False


def _headers(head: bytes) -> dict[str, str]:
    out = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        key, _, value = line.partition(":")
        out[key.strip().lower()] = value.strip()
    return out


def parse_response(raw: bytes, path: str) -> Answer:
    """Status, reason and body of an HTTP/1.x answer (Content-Length, chunked, or to the end)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        shown = status_line[:60] or "nothing"
        raise RequestFailure("answer", f"GET {path}: not an HTTP answer ({shown!r})")
    headers = _headers(head)
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body, path)
    elif headers.get("content-length", "").isdigit():
        body = body[:int(headers["content-length"])]
    if len(body) > MAX_BODY:
        raise RequestFailure("answer", f"GET {path}: an answer larger than {MAX_BODY >> 20} MiB")
    return Answer(int(parts[1]), parts[2] if len(parts) > 2 else "", body)


def _dechunk(body: bytes, path: str) -> bytes:
    out = bytearray()
    rest = body
    while True:
        size_line, sep, rest = rest.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"x", 16)
        except ValueError:
            raise RequestFailure("answer", f"GET {path}: a chunked answer cut short") from None
        if not sep or size == 0:
            return bytes(out)
        out += rest[:size]
        rest = rest[size + 2:]
