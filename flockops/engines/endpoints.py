"""Where to ask an engine: the sockets a target reported, and the ``engine_urls`` inventory variable.

Discovered endpoints come only from a host's own report: a socket one of its VRAM holders' engines
listens on (``GpuProcess.listening``). A socket bound to every address (``0.0.0.0``, ``::``) is
asked at the target's loopback; one bound to a single address, at that address; either through the
host's SSH connection (``via`` "ssh"), or from here for this machine. Nothing else is connected to.

The inventory variable lists what discovery cannot see (an engine in its own network namespace, a
remote API): ``engine_urls: ["vllm=http://10.0.0.5:8000", "llama.cpp=http://10.0.0.5:8080"]``, or a
mapping ``{vllm: http://10.0.0.5:8000}``, asked from here over plain HTTP, as ``ollama_url`` is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

from flockops.agent.model import DIRECT, DISCOVERED, FROM_INVENTORY, Engine, HostReport

if TYPE_CHECKING:
    from flockops.remote.settings import Target

# The engines asked over HTTP, by the names the inventory may use.
HTTP_ENGINES = (Engine.VLLM, Engine.SGLANG, Engine.LLAMA_CPP, Engine.TGI, Engine.LOCALAI, Engine.LMSTUDIO)
ALIASES = {"llamacpp": Engine.LLAMA_CPP, "llama-server": Engine.LLAMA_CPP, "llama_cpp": Engine.LLAMA_CPP,
           "text-generation-inference": Engine.TGI, "lm-studio": Engine.LMSTUDIO, "local-ai": Engine.LOCALAI}
ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1"}


class EngineEndpoint(NamedTuple):
    engine: Engine
    address: str  # what to connect to: as the target sees it (via "ssh"), or this machine (direct)
    port: int
    endpoint_from: str = DISCOVERED
    via: str = DIRECT
    pid: int | None = None  # the engine's process, for a discovered endpoint
    base_path: str = ""  # an inventory URL's path, before each of the engine's paths

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}{self.base_path}"


def discovered(host: HostReport, via: str) -> list[EngineEndpoint]:
    """The endpoints a host's report names: one per engine process and port (IPv4 before IPv6)."""
    found: dict[tuple[int | None, int], EngineEndpoint] = {}
    for gpu in host.gpus:
        for holder in gpu.processes or ():
            if holder.engine not in HTTP_ENGINES or not holder.listening:
                continue
            for socket in sorted(holder.listening, key=lambda s: ":" in s.address):
                key = (holder.engine_pid, socket.port)
                if key not in found:
                    address = ANY_ADDRESS.get(socket.address, socket.address)
                    found[key] = EngineEndpoint(holder.engine, address, socket.port, DISCOVERED, via,
                                                holder.engine_pid)
    return list(found.values())


def engine_name(text: str) -> Engine | None:
    word = text.strip().lower()
    if word in ALIASES:
        return ALIASES[word]
    return next((e for e in HTTP_ENGINES if e.value == word), None)


def _items(value: Any) -> Iterable[tuple[str, str]]:
    """(engine, url) pairs of the variable's forms: a mapping, a list of "engine=url", a comma-separated string."""
    if isinstance(value, dict):
        for engine, urls in value.items():
            for url in urls if isinstance(urls, list) else [urls]:
                yield str(engine), str(url)
        return
    words = value if isinstance(value, list) else str(value).split(",")
    for word in words:
        engine, sep, url = str(word).partition("=")
        if not str(word).strip():
            continue
        yield (engine, url) if sep else ("", engine)


def from_inventory(target: Target) -> list[EngineEndpoint]:
    """A host's ``engine_urls``; InventoryError for a value that cannot be one (before any host is asked)."""
    from urllib.parse import urlsplit

    from flockops.errors import InventoryError

    value = target.vars.get("engine_urls")
    if value is None or value == "" or value == []:
        return []
    out = []
    for name, url in _items(value):
        where = f"host {target.name!r} variable 'engine_urls'"
        engine = engine_name(name)
        if engine is None:
            known = ", ".join(e.value for e in HTTP_ENGINES)
            raise InventoryError(f"{where}: {name.strip() or url.strip()!r} names no engine; write ENGINE=URL with "
                                 f"ENGINE one of {known}", key="engine_urls")
        if "{{" in url or "{%" in url:
            raise InventoryError(f"{where}: {url!r} is a Jinja template; flockops does not evaluate templates",
                                 key="engine_urls")
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise InventoryError(f"{where}: {url.strip()!r} is not a URL", key="engine_urls") from None
        if parts.scheme != "http" or not parts.hostname:
            raise InventoryError(f"{where}: {url.strip()!r}: only http://HOST:PORT URLs are asked", key="engine_urls")
        if parts.username or parts.password:
            raise InventoryError(f"{where}: a user name or password in an engine URL is not supported",
                                 key="engine_urls")
        out.append(EngineEndpoint(engine, parts.hostname, port or 80, FROM_INVENTORY, DIRECT, None,
                                  parts.path.rstrip("/")))
    return out
