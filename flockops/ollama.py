"""Ollama as a source: which models a server has loaded, and where (``GET /api/ps``).

Asked from the machine running flockops, never over SSH: an Ollama endpoint is plain HTTP. The
standard library's ``http.client`` does the talking, not the ``ollama`` package (importing that costs
about 300 ms, more than a whole local report), and it is imported only once something has accepted
the TCP connection: a refused connect on the local default port costs the report next to nothing.

Every failure becomes an :class:`~flockops.agent.ollama_model.OllamaReport` with a status and a reason; nothing
here raises past :func:`query`. Statuses: ``ok``; ``not_running`` (connection refused on the implicit
local endpoint); ``unreachable`` (refused on a configured endpoint, DNS, no route, connect timeout);
``error`` (it accepted the connection but gave no usable answer: read timeout, HTTP error, not JSON,
or a server older than 0.1.38, which answers ``/api/ps`` with a plain-text ``404 page not found``).

``--infer`` times ``POST /api/embed``: a labelled guess, never a VRAM size (see :func:`infer`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from flockops.agent.ollama_model import InferenceVerdict, OllamaModel, OllamaReport

if TYPE_CHECKING:
    import http.client
    import socket

    from flockops.remote.settings import Target

DEFAULT_PORT = 11434
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
MAX_BODY = 16 << 20  # a /api/ps or /api/tags answer is kilobytes; anything this big is not Ollama
# Where an endpoint's URL came from (OllamaReport.endpoint_from).
FROM_DEFAULT, FROM_ENV, FROM_INVENTORY, FROM_CLI = "default", "OLLAMA_HOST", "inventory", "command line"
IMPLICIT = frozenset({FROM_DEFAULT, FROM_ENV})


# NamedTuples, not dataclasses: this module is on the local report's path, and a frozen dataclass
# costs a millisecond or two to create at import; change one with ``options._replace(infer=True)``.
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


class Endpoint(NamedTuple):
    url: str
    endpoint_from: str = FROM_CLI


class OllamaUrlError(ValueError):
    """A URL or OLLAMA_HOST value that cannot name an Ollama endpoint."""


# --------------------------------------------------------------------------------------------------
# Where to ask


def normalize_url(text: str) -> str:
    """``scheme://host:port[/path]`` from an ``OLLAMA_HOST``-style value, by Ollama's own rule.

    Ollama's envconfig.Host(): trim spaces and quotes; no scheme means http and port 11434; an
    explicit ``http://`` without a port means 80 (``https://``: 443); ``:11435`` and ``0.0.0.0`` (a
    server's listen address) mean this machine. E.g. ``0.0.0.0:11434`` -> ``http://127.0.0.1:11434``.
    """
    value = text.strip().strip("\"'").strip()
    scheme, sep, rest = value.partition("://")
    default_port = DEFAULT_PORT
    if not sep:
        scheme, rest = "http", value
    elif scheme.lower() in ("http", "https"):
        scheme = scheme.lower()
        default_port = 80 if scheme == "http" else 443
    else:
        raise OllamaUrlError(f"{text!r}: only http:// and https:// are supported")
    hostport, _, path = rest.partition("/")
    if "@" in hostport:
        # Never echoed: what precedes the @ is a user name and password.
        raise OllamaUrlError(f"{scheme}://…@{hostport.rpartition('@')[2]}: a user name or password in an Ollama "
                             "URL is not supported (flockops sends no credentials); leave it out")
    host, port = _split_host_port(hostport, default_port, text)
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"  # a listen-on-everything address: the server is on this machine
    elif not _is_host(host):
        raise OllamaUrlError(f"{text!r}: {host!r} is not a host name or an IP address")
    shown = f"[{host}]" if ":" in host else host
    path = path.rstrip("/")
    return f"{scheme}://{shown}:{port}" + (f"/{path}" if path else "")


def _is_host(host: str) -> bool:
    if ":" in host:
        import ipaddress

        try:
            ipaddress.IPv6Address(host.split("%")[0])  # fe80::1%eth0: the zone is the kernel's business
        except ValueError:
            return False
        return True
    return all(c.isalnum() or c in ".-_" for c in host)


def _split_host_port(hostport: str, default_port: int, original: str) -> tuple[str, int]:
    if hostport.startswith("["):  # [::1]:11434 or [::1]
        host, _, after = hostport[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else ""
    elif hostport.count(":") == 1:
        host, port_text = hostport.split(":")
    else:
        host, port_text = hostport, ""  # a bare name, or a bare IPv6 address
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise OllamaUrlError(f"{original!r}: {port_text!r} is not a port number")
    return host, int(port_text)


def local_endpoint(env: Mapping[str, str]) -> Endpoint:
    """This machine's Ollama as its own client would find it: ``OLLAMA_HOST``, else 127.0.0.1:11434."""
    value = env.get("OLLAMA_HOST", "").strip()
    if not value:
        return Endpoint(DEFAULT_URL, FROM_DEFAULT)
    try:
        return Endpoint(normalize_url(value), FROM_ENV)
    except OllamaUrlError:
        # Ollama itself falls back to the default port for a bad one; we fall back to the default.
        return Endpoint(DEFAULT_URL, FROM_DEFAULT)


_TRUE = frozenset({"y", "yes", "on", "1", "true", "t"})
_FALSE = frozenset({"n", "no", "off", "0", "false", "f", ""})


def endpoint_for(target: Target) -> Endpoint | None:
    """A host's Ollama from its inventory variables: ``ollama_url``, or ``ollama: true`` for port 11434.

    Raises InventoryError for a value that cannot be one (before any host is contacted).
    """
    from flockops.errors import InventoryError

    url = target.vars.get("ollama_url")
    if url is not None and str(url).strip():
        if "{{" in str(url) or "{%" in str(url):
            raise InventoryError(f"host {target.name!r} variable 'ollama_url' is a Jinja template ({url!r}); "
                                 "flockops does not evaluate templates", key="ollama_url")
        try:
            return Endpoint(normalize_url(str(url)), FROM_INVENTORY)
        except OllamaUrlError as exc:
            raise InventoryError(f"host {target.name!r} variable 'ollama_url': {exc}", key="ollama_url") from None
    flag = target.vars.get("ollama")
    if flag is None:
        return None
    if not isinstance(flag, bool):
        lowered = str(flag).strip().lower()
        if lowered not in _TRUE | _FALSE:
            raise InventoryError(f"host {target.name!r} variable 'ollama' must be a boolean (or set ollama_url), "
                                 f"got {flag!r}", key="ollama")
        flag = lowered in _TRUE
    if not flag:
        return None
    address = target.address
    if target.connection == "local" and address == target.name:
        address = "127.0.0.1"
    shown = f"[{address}]" if ":" in address and not address.startswith("[") else address
    return Endpoint(f"http://{shown}:{DEFAULT_PORT}", FROM_INVENTORY)


# --------------------------------------------------------------------------------------------------
# HTTP, with the standard library


class _Failure(Exception):
    """One request's failure: ``stage`` is connect (nothing answered) or answer (something did, badly)."""

    def __init__(self, stage: str, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.stage = stage
        self.refused = refused


class _Client:
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
            raise _Failure("connect", f"connection refused ({self.host} port {self.port})", refused=True) from None
        except _socket.gaierror as exc:
            raise _Failure("connect", f"cannot resolve {self.host}: {exc.strerror or exc}") from None
        except TimeoutError:
            raise _Failure("connect", f"no connection within {connect_s:g} s ({self.host} port {self.port})") from None
        except OSError as exc:
            raise _Failure("connect", f"cannot connect to {self.host} port {self.port}: "
                           f"{exc.strerror or exc}") from None
        return conn

    def request(self, method: str, path: str, body: bytes | None = None,
                read_timeout_s: float | None = None) -> tuple[int, str, bytes]:
        """(status, reason, body); raises _Failure."""
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
            raise _Failure("answer", f"no answer to {method} {path} within {timeout:g} s") from None
        except (http.client.HTTPException, OSError) as exc:
            self.close()
            detail = str(exc) or type(exc).__name__
            raise _Failure("answer", f"{method} {path}: not an HTTP answer ({detail})") from None
        if len(data) > MAX_BODY:
            self.close()
            raise _Failure("answer", f"{method} {path}: answer larger than {MAX_BODY >> 20} MiB")
        if response.will_close:
            self.close()
        return response.status, response.reason, data

    def get_json(self, path: str, read_timeout_s: float | None = None, body: bytes | None = None) -> Any:
        status, reason, data = self.request("POST" if body is not None else "GET", path, body, read_timeout_s)
        text = data.decode("utf-8", "replace")
        if status != 200:
            raise _Failure("answer", _http_error(path, status, reason, text))
        import json

        try:
            return json.loads(text)
        except ValueError:
            raise _Failure("answer", f"{path}: not JSON (is this an Ollama server?): {_shown(text)}") from None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _open(host: str, port: int, timeout_s: float) -> socket.socket:
    """A connected TCP socket, as cheaply as can be when nothing listens (the local report's case).

    An IPv4 literal (127.0.0.1, the default) is connected with ``_socket``: importing ``socket``
    itself costs ~3 ms (it builds its enums), and a refused connect should cost next to nothing.
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

        # An ASCII name as bytes: a str one makes getaddrinfo import the idna codec (~5 ms).
        name: Any = host.encode() if host.isascii() else host
        sock = socket.create_connection((name, port), timeout=timeout_s)
    # As HTTPConnection.connect does: http.client writes a POST's headers and body separately,
    # and Nagle's algorithm with the server's delayed ACK would add 40 ms to every embedding.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _shown(text: str, limit: int = 120) -> str:
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
    shown = message if isinstance(message, str) and message else _shown(text)
    return f"{path}: HTTP {status} {reason}: {shown}"


# --------------------------------------------------------------------------------------------------
# Parsing


def _int(value: Any, name: str, raw: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} is not a whole number in {raw!r}")
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_ps(data: Any) -> tuple[OllamaModel, ...]:
    """The models in a ``/api/ps`` answer. Raises ValueError quoting what it could not read.

    One real entry (docs/api.md, "List Running Models")::

        {"name": "mistral:latest", "model": "mistral:latest", "size": 5137025024, "digest": "2ae6...",
         "details": {"family": "llama", "parameter_size": "7.2B", "quantization_level": "Q4_0", ...},
         "expires_at": "2024-06-04T14:38:31.83753-07:00", "size_vram": 5137025024}

    ``size_vram`` absent (older servers) means 0: wholly on CPU. ``context_length`` came later still.
    """
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {_shown(str(data))}")
    entries = data.get("models")
    if entries is None:
        return ()  # Go marshals an empty slice that was never made as null
    if not isinstance(entries, list):
        raise ValueError(f"'models' is not a list: {_shown(str(entries))}")
    models = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("name") or entry.get("model"), str):
            raise ValueError(f"a model without a name: {_shown(str(entry))}")
        raw_details = entry.get("details")
        details: dict[str, Any] = raw_details if isinstance(raw_details, dict) else {}
        context = _int(entry.get("context_length"), "context_length", entry)
        models.append(OllamaModel(
            name=entry.get("name") or entry["model"],
            size_bytes=_int(entry.get("size"), "size", entry),
            vram_bytes=_int(entry.get("size_vram"), "size_vram", entry),
            context_length=context or None,  # 0 means the server did not say
            expires_at=_text(entry.get("expires_at")),
            family=_text(details.get("family")),
            parameter_size=_text(details.get("parameter_size")),
            quantization=_text(details.get("quantization_level")),
        ))
    return tuple(models)


# --------------------------------------------------------------------------------------------------
# Asking


def query(endpoint: Endpoint, options: OllamaOptions | None = None) -> OllamaReport:
    """One endpoint's ``/api/ps`` (and ``/api/version``), every failure turned into the report's status."""
    options = options or OllamaOptions()
    client = _Client(endpoint.url, options)

    def failed(failure: _Failure, version: str | None = None) -> OllamaReport:
        if failure.stage == "connect":
            status = "not_running" if failure.refused and endpoint.endpoint_from in IMPLICIT else "unreachable"
        else:
            status = "error"
        return OllamaReport(endpoint.url, status, str(failure), version=version, endpoint_from=endpoint.endpoint_from)

    try:
        try:
            ps = client.get_json("/api/ps")
        except _Failure as failure:
            version = None
            if failure.stage == "answer" and "404 page not found" in str(failure):
                version = _version(client)  # an old server may still say which it is
            return failed(failure, version)
        version = _version(client)
        try:
            models = parse_ps(ps)
        except ValueError as exc:
            return failed(_Failure("answer", f"/api/ps: unexpected answer: {exc}"), version)
        report = OllamaReport(endpoint.url, "ok", version=version, models=models, endpoint_from=endpoint.endpoint_from)
    finally:
        client.close()
    if options.infer:
        from dataclasses import replace

        report = replace(report, inference=infer(endpoint.url, options))
    return report


def _version(client: _Client) -> str | None:
    """The server's version, or None: a missing /api/version is no reason to fail the report."""
    try:
        answer = client.get_json("/api/version")
    except _Failure:
        return None
    return _text(answer.get("version")) if isinstance(answer, dict) else None


def model_sizes(url: str, options: OllamaOptions | None = None) -> dict[str, int]:
    """Name -> size in bytes of each model the server has pulled (``GET /api/tags``); {} if it cannot say.

    The size is the model file's. Loading it takes more (the context's KV cache), hence ``fit``'s margin.
    """
    client = _Client(url, options or OllamaOptions())
    try:
        answer = client.get_json("/api/tags")
    except _Failure:
        return {}
    finally:
        client.close()
    sizes: dict[str, int] = {}
    entries = answer.get("models") if isinstance(answer, dict) else None
    for entry in entries if isinstance(entries, list) else ():
        if isinstance(entry, dict) and isinstance(entry.get("size"), int):
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


def infer(url: str, options: OllamaOptions | None = None,
          clock: Callable[[], float] = time.perf_counter) -> InferenceVerdict:
    """Time ``POST /api/embed``: one warm-up, then ``infer_runs`` timed calls. A guess, labelled so.

    The warm-up includes loading the model, which is why a cold GPU node looked like a CPU to the tool
    we replace. The verdict uses Ollama's own ``total_duration`` when every answer carries one (it has
    no network in it), else the round trip measured here. It never says how much VRAM there is.
    """
    import json

    options = options or OllamaOptions()
    model = options.infer_model
    body = json.dumps({"model": model, "input": "flockops: is this a GPU?"}).encode()
    client = _Client(url, options)

    def unknown(reason: str) -> InferenceVerdict:
        return InferenceVerdict("unknown", model, reason=reason)

    try:
        try:
            client.get_json("/api/embed", options.infer_warmup_timeout_s, body)
        except _Failure as failure:
            return unknown(f"warm-up failed: {failure}")
        wall: list[float] = []
        server: list[float] = []
        for _ in range(options.infer_runs):
            started = clock()
            try:
                answer = client.get_json("/api/embed", None, body)
            except _Failure as failure:
                return unknown(f"timed call failed: {failure}")
            wall.append((clock() - started) * 1000.0)
            total = answer.get("total_duration") if isinstance(answer, dict) else None
            if isinstance(total, int) and not isinstance(total, bool) and total > 0:
                server.append(total / 1e6)
    finally:
        client.close()
    if not wall:
        return unknown("no timed calls (--infer-runs 0)")
    basis, samples = ("server", server) if len(server) == len(wall) else ("wall", wall)
    latency = sorted(samples)[len(samples) // 2]
    if latency < options.gpu_likely_below_ms:
        verdict = "gpu-likely"
    elif latency > options.cpu_likely_above_ms:
        verdict = "cpu-likely"
    else:
        verdict = "unknown"
    what = "Ollama's total_duration" if basis == "server" else "round trip from here"
    reason = (f"median of {len(samples)} embeddings with {model}: {latency:.1f} ms ({what}); under "
              f"{options.gpu_likely_below_ms:g} ms suggests a GPU, over {options.cpu_likely_above_ms:g} ms a CPU. "
              "Timing is a guess: a busy GPU or a fast CPU reads the other way")
    return InferenceVerdict(verdict, model, latency_ms=round(latency, 3), runs=len(samples), basis=basis,
                            reason=reason)


# --------------------------------------------------------------------------------------------------
# Many endpoints at once


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

    def __init__(self, endpoints: Sequence[Endpoint], options: OllamaOptions | None = None,
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

    def _run(self, position: int, endpoint: Endpoint) -> None:
        try:
            report = query(endpoint, self.options)
        except Exception as exc:  # a bug must cost one endpoint, not the report
            report = OllamaReport(endpoint.url, "error", f"internal error: {type(exc).__name__}: {exc}",
                                  endpoint_from=endpoint.endpoint_from)
        self.results[position] = report

    def wait(self) -> list[OllamaReport]:
        out = []
        for position, (endpoint, thread) in enumerate(zip(self.endpoints, self.threads, strict=True)):
            thread.join(max(0.0, self.deadline - self.clock()))
            report = self.results.get(position)
            if report is None:
                report = OllamaReport(endpoint.url, "error",
                                      f"no complete answer within {budget_s(self.options):g} s",
                                      endpoint_from=endpoint.endpoint_from)
            out.append(report)
        return out


def query_all(endpoints: Sequence[Endpoint], options: OllamaOptions | None = None) -> list[OllamaReport]:
    """Every endpoint's report, asked concurrently, in the order given."""
    return Pending(endpoints, options).wait()
