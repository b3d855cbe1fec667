"""Where to ask: an Ollama endpoint's URL from ``OLLAMA_HOST``, the inventory or the command line."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from flockops.remote.settings import Target

DEFAULT_PORT = 11434

DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
# Where an endpoint's URL came from (OllamaReport.endpoint_from).
FROM_DEFAULT, FROM_ENV, FROM_INVENTORY, FROM_CLI = "default", "OLLAMA_HOST", "inventory", "command line"
IMPLICIT = frozenset({FROM_DEFAULT, FROM_ENV})


class OllamaEndpoint(NamedTuple):
    url: str
    endpoint_from: str = FROM_CLI


class OllamaUrlError(ValueError):
    """A URL or OLLAMA_HOST value that cannot name an Ollama endpoint."""


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


def local_endpoint(env: Mapping[str, str]) -> OllamaEndpoint:
    """This machine's Ollama as its own client would find it: ``OLLAMA_HOST``, else 127.0.0.1:11434."""
    value = env.get("OLLAMA_HOST", "").strip()
    if not value:
        return OllamaEndpoint(DEFAULT_URL, FROM_DEFAULT)
    try:
        return OllamaEndpoint(normalize_url(value), FROM_ENV)
    except OllamaUrlError:
        # Ollama itself falls back to the default port for a bad one; we fall back to the default.
        return OllamaEndpoint(DEFAULT_URL, FROM_DEFAULT)


def endpoint_for(target: Target) -> OllamaEndpoint | None:
    """A host's Ollama from its inventory variables: ``ollama_url``, or ``ollama: true`` for port 11434.

    Raises InventoryError for a value that cannot be one (before any host is contacted).
    """
    from flockops.errors import InventoryError
    from flockops.remote.settings import boolean

    url = target.vars.get("ollama_url")
    if url is not None and str(url).strip():
        if "{{" in str(url) or "{%" in str(url):
            raise InventoryError(f"host {target.name!r} variable 'ollama_url' is a Jinja template ({url!r}); "
                                 "flockops does not evaluate templates", key="ollama_url")
        try:
            return OllamaEndpoint(normalize_url(str(url)), FROM_INVENTORY)
        except OllamaUrlError as exc:
            raise InventoryError(f"host {target.name!r} variable 'ollama_url': {exc}", key="ollama_url") from None
    try:
        wanted = boolean(target.vars.get("ollama"))
    except ValueError:
        raise InventoryError(f"host {target.name!r} variable 'ollama' must be a boolean (or set ollama_url), "
                             f"got {target.vars.get('ollama')!r}", key="ollama") from None
    if not wanted:
        return None
    address = target.address
    if target.connection == "local" and address == target.name:
        address = "127.0.0.1"
    shown = f"[{address}]" if ":" in address and not address.startswith("[") else address
    return OllamaEndpoint(f"http://{shown}:{DEFAULT_PORT}", FROM_INVENTORY)
