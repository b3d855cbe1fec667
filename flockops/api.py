"""The Python API, and the one place a report is gathered: devices and Ollama side by side.

``flockops report`` and ``flockops fit`` call :func:`gather`; a load balancer calls
:func:`collect_report` and :func:`flockops.ollama.capacity.best_node` (both re-exported lazily by the package).

Ollama endpoints are asked from this machine, one thread each, started before the device probes so
both run at once: a host's ``ollama_url`` (or ``ollama: true``) inventory variable, the
``--ollama URL`` nodes known by URL alone, and, for this machine's report, the local default endpoint.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from flockops.agent.fields import printable
from flockops.agent.model import FleetReport, HostReport
from flockops.ollama.client import OllamaOptions
from flockops.ollama.endpoints import (
    FROM_CLI,
    OllamaEndpoint,
    OllamaUrlError,
    endpoint_for,
    local_endpoint,
    normalize_url,
)
from flockops.ollama.query import Pending

if TYPE_CHECKING:
    from flockops.agent.driver import Driver
    from flockops.remote.fleet import FleetOptions
    from flockops.remote.settings import Target


def url_endpoints(urls: Iterable[str]) -> list[OllamaEndpoint]:
    """``--ollama`` values as endpoints; raises UsageError for one that is not a URL."""
    from flockops.errors import UsageError

    out: list[OllamaEndpoint] = []
    for url in urls:
        try:
            endpoint = OllamaEndpoint(normalize_url(url), FROM_CLI)
        except OllamaUrlError as exc:
            raise UsageError(f"--ollama {exc}") from None
        if endpoint not in out:
            out.append(endpoint)
    return out


def gather(targets: Sequence[Target] | None, drivers: Sequence[Driver], *,
           fleet_options: FleetOptions | None = None, selected_drivers: Iterable[str] | None = None,
           ollama_urls: Iterable[str] = (), local_ollama: bool = True,
           ollama_options: OllamaOptions | None = None, env: Mapping[str, str] | None = None) -> FleetReport:
    """The report for ``targets`` (None: this machine) plus the Ollama-only nodes, in that order."""
    env = os.environ if env is None else env
    if targets is None:
        per_host = [local_endpoint(env) if local_ollama else None]
    else:
        per_host = [endpoint_for(t) for t in targets]  # inventory errors before anything is contacted
    known = {e.url for e in per_host if e is not None}
    url_only = [e for e in url_endpoints(ollama_urls) if e.url not in known]
    asked = [e for e in per_host if e is not None] + url_only
    pending = Pending(asked, ollama_options) if asked else None

    if targets is None:
        from flockops.agent.chain import collect_host
        from flockops.agent.driver import Context

        hosts = [collect_host(drivers, Context.local(), selected=selected_drivers)]
    else:
        from flockops.remote.fleet import FleetOptions, run_fleet

        options = fleet_options or FleetOptions()
        if selected_drivers is not None:
            options = replace(options, selected_drivers=tuple(selected_drivers))
        hosts = list(run_fleet(targets, options, drivers).hosts)

    # An Ollama's answer (model names, error texts) comes from the network: printable, as a probe's is.
    answers = iter(printable(tuple(pending.wait())) if pending else ())
    joined = [replace(h, ollama=next(answers)) if e is not None else h for h, e in zip(hosts, per_host, strict=True)]
    now = time.time()
    joined += [HostReport(host=e.url, ollama=next(answers), collected_at=now) for e in url_only]
    return FleetReport(hosts=tuple(joined), generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


def collect_report(inventory: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
                   limit: str | None = None,
                   ollama_urls: Iterable[str] = (), *, local_ollama: bool = True, infer: bool = False,
                   timeout_s: float = 30.0, forks: int = 10, ollama_options: OllamaOptions | None = None,
                   warn: Callable[[str], None] | None = None) -> FleetReport:
    """Collect a report, as ``flockops report -o json`` does, and return it as objects.

    Without ``inventory``: this machine, with its local Ollama (``OLLAMA_HOST`` or 127.0.0.1:11434)
    unless ``local_ollama`` is False. With one (or several, read as one, as ``-i a -i b``): every
    host matching ``limit`` over SSH, and each host's ``ollama_url``. ``ollama_urls`` adds nodes
    known only by their Ollama URL. Inventory
    errors raise :class:`flockops.errors.InventoryError`; per-host failures are in the report.
    """
    from flockops.plugins.manager import get_plugin_manager, load_drivers

    options = ollama_options or OllamaOptions()
    if infer and not options.infer:
        options = options._replace(infer=True)
    drivers = load_drivers(get_plugin_manager()).drivers
    targets: list[Target] | None = None
    fleet_options = None
    if inventory is not None:
        from pathlib import Path

        from flockops.errors import UsageError
        from flockops.inventory.loader import load_inventory
        from flockops.remote.fleet import FleetOptions
        from flockops.remote.settings import SshOptions, target_for

        sources = [inventory] if isinstance(inventory, (str, os.PathLike)) else list(inventory)
        loaded = load_inventory([Path(source) for source in sources])
        for message in loaded.warnings:
            if warn is not None:
                warn(message)
        hosts = loaded.select(limit)
        if not hosts:
            raise UsageError(f"no host in {', '.join(map(str, sources))} matches {limit or 'all'}")
        targets = [target_for(h) for h in hosts]
        ssh = SshOptions(connect_timeout_s=min(10.0, timeout_s))
        if warn is not None:
            ssh = replace(ssh, warn=warn)
        fleet_options = FleetOptions(forks=forks, timeout_s=timeout_s, ssh=ssh)
    return gather(targets, drivers, fleet_options=fleet_options, ollama_urls=ollama_urls,
                  local_ollama=local_ollama, ollama_options=options)
