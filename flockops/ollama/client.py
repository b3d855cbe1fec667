"""HTTP with the standard library: one keep-alive connection to one Ollama endpoint.

``http.client`` is imported only once something has accepted the TCP connection: a refused connect
on the local default port costs the report next to nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import http.client
    import socket

MAX_BODY = 16 << 20  # a /api/ps or /api/tags answer is kilobytes; anything this big is not Ollama


# NamedTuples, not dataclasses: this module is on the local report's path, and a frozen dataclass
# costs more to create at import; change one with ``options._replace(infer=True)``.
class OllamaOptions(NamedTuple):
    """Timeouts, and the embedding timing that ``--infer`` does."""

    connect_timeout_s: float = 1.0
    # Per socket read; each request also ends at the endpoint's overall deadline (see Pending).
    read_timeout_s: float = 3.0
    infer: bool = False
    # A small embedding model; it must be pulled on the server (``ollama pull all-minilm``).
    infer_model: str = "all-minilm"
    infer_runs: int = 5
    # The warm-up call includes loading the model from disk, so it gets longer.
    infer_warmup_timeout_s: float = 60.0
    # Median latency under this suggests a GPU, over the other a CPU; between them: unknown.
    gpu_likely_below_ms: float = 25.0
    cpu_likely_above_ms: float = 75.0


class RequestFailure(Exception):
    """One request's failure: ``stage`` is connect (nothing answered) or answer (something did, badly)."""

    def __init__(self, stage: str, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.stage = stage
        self.refused = refused


class OllamaClient:
    """One keep-alive connection to one endpoint; reconnects when the server closes it."""

    def __init__(self, url: str, options: OllamaOptions) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.url = url
        self.https = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.https else 80)
        self.base = parts.path.rstrip("/")
        self.options = options
        self.conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        import _socket

        connect_s = self.options.connect_timeout_s
        try:
            if self.https:
                import http.client

                conn: http.client.HTTPConnection = http.client.HTTPSConnection(self.host, self.port,
                                                                               timeout=connect_s)
                conn.connect()
            else:
                # Connect first, import http.client only once something listens.
                sock = _open(self.host, self.port, connect_s)
                import http.client

                conn = http.client.HTTPConnection(self.host, self.port, timeout=connect_s)
                conn.sock = sock
        except ConnectionRefusedError:
            raise RequestFailure("connect", f"connection refused ({self.host} port {self.port})",
                                 refused=True) from None
        except _socket.gaierror as exc:
            raise RequestFailure("connect", f"cannot resolve {self.host}: {exc.strerror or exc}") from None
        except UnicodeError as exc:  # the idna codec refuses the name (a right-to-left mark)
            raise RequestFailure("connect", f"cannot resolve {self.host!r}: not a host name ({exc})") from None
        except TimeoutError:
            from flockops.agent.fields import seconds  # only on this rare path

            raise RequestFailure("connect", f"no connection within {seconds(connect_s)} s "
                                 f"({self.host} port {self.port})") from None
        except OSError as exc:
            raise RequestFailure("connect", f"cannot connect to {self.host} port {self.port}: "
                           f"{exc.strerror or exc}") from None
        return conn

    def request(self, method: str, path: str, body: bytes | None = None,
                read_timeout_s: float | None = None) -> tuple[int, str, bytes]:
        """(status, reason, body); raises RequestFailure."""
        if self.conn is None:
            self.conn = self._connect()
        import http.client  # only now: something accepted the connection
        timeout = read_timeout_s if read_timeout_s is not None else self.options.read_timeout_s
        assert self.conn.sock is not None
        self.conn.sock.settimeout(timeout)
        headers = {"Accept": "application/json", "User-Agent": "flockops"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, self.base + path, body=body, headers=headers)
            response = self.conn.getresponse()
            data = response.read(MAX_BODY + 1)
        except TimeoutError:
            self.close()
            from flockops.agent.fields import seconds  # only on this rare path

            raise RequestFailure("answer", f"no answer to {method} {path} within {seconds(timeout)} s") from None
        except (http.client.HTTPException, OSError) as exc:
            self.close()
            detail = str(exc) or type(exc).__name__
            raise RequestFailure("answer", f"{method} {path}: not an HTTP answer ({detail})") from None
        if len(data) > MAX_BODY:
            self.close()
            raise RequestFailure("answer", f"{method} {path}: answer larger than {MAX_BODY >> 20} MiB")
        if response.will_close:
            self.close()
        return response.status, response.reason, data

    def get_json(self, path: str, read_timeout_s: float | None = None, body: bytes | None = None) -> Any:
        status, reason, data = self.request("POST" if body is not None else "GET", path, body, read_timeout_s)
        text = data.decode("utf-8", "replace")
        if status != 200:
            raise RequestFailure("answer", _http_error(path, status, reason, text))
        import json

        try:
            return json.loads(text)
        except RecursionError:  # [[[[...: no answer Ollama gives
            raise RequestFailure("answer", f"{path}: JSON nested too deeply to read (is this an Ollama "
                                 "server?)") from None
        except ValueError:
            raise RequestFailure("answer", f"{path}: not JSON (is this an Ollama server?): "
                                 f"{shown_text(text)}") from None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _open(host: str, port: int, timeout_s: float) -> socket.socket:
    """A connected TCP socket, as cheaply as can be when nothing listens (the local report's case).

    An IPv4 literal (127.0.0.1, the default) is connected with ``_socket``: importing ``socket``
    itself is slower (it builds its enums), and a refused connect should cost next to nothing.
    """
    import _socket

    try:
        _socket.inet_pton(_socket.AF_INET, host)
        literal = True
    except OSError:
        literal = False
    if literal:
        raw = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        try:
            raw.settimeout(timeout_s)
            raw.connect((host, port))
        except BaseException:
            raw.close()
            raise
        import socket

        sock = socket.socket(_socket.AF_INET, _socket.SOCK_STREAM, fileno=raw.detach())
    else:
        import socket

        # An ASCII name as bytes: a str one makes getaddrinfo import the idna codec.
        name: Any = host.encode() if host.isascii() else host
        sock = socket.create_connection((name, port), timeout=timeout_s)
    # As HTTPConnection.connect does: http.client writes a POST's headers and body separately,
    # and Nagle's algorithm with the server's delayed ACK would delay every embedding (a timing!).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def shown_text(text: str, limit: int = 120) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _http_error(path: str, status: int, reason: str, text: str) -> str:
    if status == 404 and text.strip() == "404 page not found":
        # Go's default 404: the route does not exist on this server.
        if path == "/api/ps":
            return "this Ollama predates /api/ps (added in 0.1.38): 404 page not found"
        return f"this Ollama has no {path}: 404 page not found"
    import json

    try:
        message = json.loads(text).get("error")  # Ollama's errors are {"error": "..."}
    except (ValueError, AttributeError):
        message = None
    shown = message if isinstance(message, str) and message else shown_text(text)
    if status in (401, 403):
        # ollama.com, or a proxy in front of a server: {"error":"unauthorized"} (server/cloud_proxy.go).
        shown += " (this server wants credentials, as ollama.com does; flockops reads Ollama servers that do not)"
    return f"{path}: HTTP {status} {reason}: {shown}"
