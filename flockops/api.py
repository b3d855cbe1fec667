"""The Python API, and the one place a report is assembled: devices and Ollama side by side.

Every command that collects (``report``, ``check``, ``fit``, ``watch``) and a load balancer calling
:func:`collect_report` go through :func:`prepare`, which resolves what to ask once (drivers, the
inventory, the hosts a limit selects: every error a person can fix is raised here, before any host
is contacted), and :meth:`Collection.collect`, which asks it (``watch`` asks every refresh).

Ollama endpoints are asked from this machine, one thread each, started before the device probes so
both run at once: a host's ``ollama_url`` (or ``ollama: true``) inventory variable, the
``--ollama URL`` nodes known by URL alone, and, for this machine's report, the local default endpoint.

Inference engines (:mod:`flockops.engines`) likewise: a host's ``engine_urls`` from here, beside the
probes; and the engines its report names (the sockets its VRAM holders listen on) once its probe has
answered, through its still open SSH connection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from flockops.agent.fields import printable
from flockops.agent.model import FleetReport, HostReport
from flockops.engines.client import EngineOptions
from flockops.errors import UsageError
from flockops.ollama.client import OllamaOptions
from flockops.ollama.endpoints import (
    FROM_CLI,
    OllamaEndpoint,
    OllamaUrlError,
    endpoint_for,
    local_endpoint,
    normalize_url,
)

if TYPE_CHECKING:
    from typing import Any, TypeAlias

    from flockops.agent.driver import Driver
    from flockops.agent.engine_model import EngineReport
    from flockops.engines.endpoints import EngineEndpoint
    from flockops.inventory.model import Inventory
    from flockops.remote.fleet import FleetOptions, Progress
    from flockops.remote.pool import ConnectionPool
    from flockops.remote.settings import Target

    # An inventory source as -i takes it (a file or a directory), or several read as one.
    Sources: TypeAlias = "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]"


def url_endpoints(urls: Iterable[str]) -> list[OllamaEndpoint]:
    """``--ollama`` values as endpoints; raises UsageError for one that is not a URL."""
    out: list[OllamaEndpoint] = []
    for url in urls:
        try:
            endpoint = OllamaEndpoint(normalize_url(url), FROM_CLI)
        except OllamaUrlError as exc:
            raise UsageError(f"--ollama {exc}") from None
        if endpoint not in out:
            out.append(endpoint)
    return out


def _engine_hook(options: EngineOptions) -> Callable[..., HostReport]:
    """What the fleet runner asks while a host's connection is open: the engines its report names."""

    def hook(report: HostReport, opener: Callable[[str, int, float], Any] | None, via: str,
             deadline: float) -> HostReport:
        from flockops.engines.client import direct
        from flockops.engines.query import attach

        return attach(report, opener or direct, via, options, deadline)

    return hook


def gather(targets: Sequence[Target] | None, drivers: Sequence[Driver], *,
           fleet_options: FleetOptions | None = None, selected_drivers: Iterable[str] | None = None,
           ollama_urls: Iterable[str] = (), local_ollama: bool = True,
           ollama_options: OllamaOptions | None = None, env: Mapping[str, str] | None = None,
           engines: bool = True, engine_options: EngineOptions | None = None) -> FleetReport:
    """The report for ``targets`` (None: this machine) plus the Ollama-only nodes, in that order; with
    ``engines``, what the inference engines holding each host's GPUs (or listed for it) say."""
    env = os.environ if env is None else env
    if targets is None:
        per_host = [local_endpoint(env) if local_ollama else None]
    else:
        per_host = [endpoint_for(t) for t in targets]  # inventory errors before anything is contacted
    known = {e.url for e in per_host if e is not None}
    url_only = [e for e in url_endpoints(ollama_urls) if e.url not in known]
    asked = [e for e in per_host if e is not None] + url_only
    pending = None
    if asked:
        from flockops.ollama.query import Pending

        pending = Pending(asked, ollama_options)
    engine_options = engine_options or EngineOptions()
    listed = _listed_engines(targets, engine_options) if engines and targets else None

    if targets is None:
        from flockops.agent.chain import collect_host
        from flockops.agent.driver import Context

        # This machine's drivers read text from tools and libraries as a target's probe does.
        hosts = [printable(collect_host(drivers, Context.local(), selected=selected_drivers))]
        if engines:
            hosts = [_engine_hook(engine_options)(hosts[0], None, "direct", time.monotonic() + 30.0)]
    else:
        from flockops.remote.fleet import FleetOptions, run_fleet

        options = fleet_options or FleetOptions()
        if selected_drivers is not None:
            options = replace(options, selected_drivers=tuple(selected_drivers))
        if engines:
            options = replace(options, engines=_engine_hook(engine_options))
        hosts = list(run_fleet(targets, options, drivers).hosts)
        if listed is not None:
            hosts = [replace(h, engines=(*(h.engines or ()), *found)) if found else h
                     for h, found in zip(hosts, listed.wait(), strict=True)]

    # An Ollama's answer (model names, error texts) comes from the network: printable, as a probe's is.
    answers = iter(printable(tuple(pending.wait())) if pending else ())
    joined = [replace(h, ollama=next(answers)) if e is not None else h for h, e in zip(hosts, per_host, strict=True)]
    now = time.time()
    joined += [HostReport(host=printable(e.url), ollama=next(answers), collected_at=now) for e in url_only]
    return FleetReport(hosts=tuple(joined), generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))


class _Listed:
    """The ``engine_urls`` of each target, asked from here beside the probes; one list per target."""

    def __init__(self, per_target: list[list[EngineEndpoint]], options: EngineOptions) -> None:
        from flockops.engines.query import Pending

        self.sizes = [len(found) for found in per_target]
        self.pending = Pending([e for found in per_target for e in found], options=options)

    def wait(self) -> list[tuple[EngineReport, ...]]:
        answers = iter(printable(tuple(self.pending.wait())))
        return [tuple(next(answers) for _ in range(size)) for size in self.sizes]


def _listed_engines(targets: Sequence[Target], options: EngineOptions) -> _Listed | None:
    from flockops.engines.endpoints import from_inventory

    per_target = [from_inventory(t) for t in targets]  # inventory errors before anything is contacted
    return _Listed(per_target, options) if any(per_target) else None


@dataclass(frozen=True)
class Collection:
    """What a report asks, resolved: the drivers, and this machine or the inventory's chosen hosts."""

    drivers: tuple[Driver, ...]
    selected_drivers: tuple[str, ...] | None
    inventory: Inventory | None
    targets: tuple[Target, ...] | None  # None: this machine
    fleet_options: FleetOptions | None
    ollama_urls: tuple[str, ...]
    local_ollama: bool
    ollama_options: OllamaOptions
    engines: bool = True

    def collect(self) -> FleetReport:
        return gather(self.targets, self.drivers, fleet_options=self.fleet_options,
                      selected_drivers=self.selected_drivers, ollama_urls=self.ollama_urls,
                      local_ollama=self.local_ollama, ollama_options=self.ollama_options, engines=self.engines)

    @property
    def host_vars(self) -> dict[str, Mapping[str, object]]:
        """Each inventory host's variables (per-host check thresholds); {} for this machine."""
        return {} if self.inventory is None else {h.name: h.vars for h in self.inventory.hosts}


def prepare(inventory: Sources | Inventory | None = None, limit: str | None = None,
            ollama_urls: Iterable[str] = (), *, local_ollama: bool = True,
            drivers: Iterable[str] | None = None, timeout_s: float = 30.0, forks: int = 10,
            known_hosts: Iterable[str | os.PathLike[str]] = (), ollama_options: OllamaOptions | None = None,
            warn: Callable[[str], None] | None = None, pool: ConnectionPool | None = None,
            progress: Callable[[Progress], None] | None = None, engines: bool = True) -> Collection:
    """Resolve what a report asks before anything is contacted. Raises UsageError or InventoryError for
    what a person can fix: an unknown driver name, an inventory that cannot be read, a limit that
    selects no host, ``-l`` without an inventory, an Ollama URL that is not one. Warnings (a plugin
    skipped, an inventory oddity, a limit pattern that matches nothing) go to ``warn``; ``progress`` is
    told how a fleet run stands a few times a second."""
    from flockops.plugins.manager import get_plugin_manager, load_drivers

    say = warn or (lambda message: None)
    registry = load_drivers(get_plugin_manager())
    for plugin, reason in registry.failures:
        say(f"plugin {plugin} skipped: {reason}")
    selected = tuple(drivers) if drivers else None
    if selected is not None:
        known = {d.name for d in registry.drivers}
        unknown = sorted(set(selected) - known)
        if unknown:
            raise UsageError(f"unknown driver {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    urls = tuple(ollama_urls)
    url_endpoints(urls)  # a malformed --ollama URL is refused before any host is asked
    options = ollama_options or OllamaOptions()
    if inventory is None:
        if limit:
            raise UsageError("-l/--limit chooses among an inventory's hosts: give -i FILE too")
        return Collection(registry.drivers, selected, None, None, None, urls, local_ollama, options, engines)

    from pathlib import Path

    from flockops.inventory.model import Inventory
    from flockops.remote.fleet import FleetOptions
    from flockops.remote.settings import SshOptions, env_host_key_checking, target_for

    env_host_key_checking(os.environ)  # a word that is neither true nor false is refused up front
    loaded = inventory if isinstance(inventory, Inventory) else load_sources(inventory, say)
    hosts = loaded.select(limit)
    for pattern in loaded.unmatched(limit):  # as ansible warns: a typo must not pass unseen
        say(f"-l {limit}: {pattern!r} matches no host or group")
    if not hosts:
        given = [inventory.source] if isinstance(inventory, Inventory) else _paths(inventory)
        raise UsageError(f"no host in {', '.join(map(str, given))} matches {limit or 'all'}")
    ssh = SshOptions(connect_timeout_s=min(10.0, timeout_s), known_hosts_files=tuple(Path(p) for p in known_hosts))
    if warn is not None:
        ssh = replace(ssh, warn=warn)
    fleet_options = FleetOptions(forks=forks, timeout_s=timeout_s, selected_drivers=selected, ssh=ssh, pool=pool,
                                 progress=progress)
    targets = tuple(target_for(h) for h in hosts)
    if engines:
        from flockops.engines.endpoints import from_inventory

        for target in targets:
            from_inventory(target)  # a malformed engine_urls is refused before any host is asked
    return Collection(registry.drivers, selected, loaded, targets, fleet_options, urls, False, options, engines)


def _paths(sources: Sources) -> list[str | os.PathLike[str]]:
    return [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)


def load_sources(sources: Sources, warn: Callable[[str], None]) -> Inventory:
    """One inventory from one source or several (``-i a -i b``); its warnings go to ``warn``."""
    from pathlib import Path

    from flockops.inventory.loader import load_inventory

    loaded = load_inventory([Path(source) for source in _paths(sources)])
    for message in loaded.warnings:
        warn(message)
    return loaded


def collect_report(inventory: Sources | None = None, limit: str | None = None,
                   ollama_urls: Iterable[str] = (), *, local_ollama: bool = True, infer: bool = False,
                   timeout_s: float = 30.0, forks: int = 10, ollama_options: OllamaOptions | None = None,
                   known_hosts: Iterable[str | os.PathLike[str]] = (), drivers: Iterable[str] | None = None,
                   warn: Callable[[str], None] | None = None) -> FleetReport:
    """Collect a report, as ``flockops report -o json`` does, and return it as objects.

    Without ``inventory``: this machine, with its local Ollama (``OLLAMA_HOST`` or 127.0.0.1:11434)
    unless ``local_ollama`` is False. With one (or several, read as one, as ``-i a -i b``): every
    host matching ``limit`` over SSH, and each host's ``ollama_url``. ``ollama_urls`` adds nodes
    known only by their Ollama URL. ``known_hosts``: more known_hosts files, beside
    ``~/.ssh/known_hosts``; ``drivers``: only these drivers (names as ``flockops drivers`` lists
    them). Inventory errors raise :class:`flockops.errors.InventoryError`, other mistakes
    :class:`flockops.errors.UsageError`; per-host failures are in the report.
    """
    options = ollama_options or OllamaOptions()
    if infer and not options.infer:
        options = options._replace(infer=True)
    return prepare(inventory, limit, ollama_urls, local_ollama=local_ollama, drivers=drivers, timeout_s=timeout_s,
                   forks=forks, known_hosts=known_hosts, ollama_options=options, warn=warn).collect()
