"""The plugin manager factory, and the driver list it yields.

No import-time global manager: each command asks for one with :func:`get_plugin_manager`.
One broken plugin (it fails to import, or its hook raises) is recorded and skipped; it
never takes the others down.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pluggy

from flockops import __version__
from flockops.agent.driver import Driver, contract_problem
from flockops.agent.drivers import BUILTIN_DRIVERS

from . import hookspecs
from .entrypoints import entry_points

ENTRY_POINT_GROUP = "flockops"
DISABLE_ENV = "FLOCKOPS_DISABLE_PLUGINS"



class BuiltinDriverPlugin:
    """A built-in driver, registered through the same hook a third-party plugin uses."""

    def __init__(self, target: str) -> None:
        self.target = target  # "module:class"

    @hookspecs.hookimpl
    def register_drivers(self, register: Callable[[Driver], None]) -> None:
        module_name, class_name = self.target.split(":")
        register(getattr(importlib.import_module(module_name), class_name)())


@dataclass(frozen=True, slots=True)
class PluginInfo:
    name: str
    version: str | None
    hooks: tuple[str, ...]
    builtin: bool
    error: str | None = None


@dataclass
class Plugins:
    """A loaded plugin manager plus what could not be loaded, and why."""

    manager: pluggy.PluginManager
    info: list[PluginInfo] = field(default_factory=list)

    @property
    def failures(self) -> list[PluginInfo]:
        return [p for p in self.info if p.error]


def blocked_names(env: dict[str, str] | None = None) -> set[str]:
    raw = (env if env is not None else os.environ).get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    return tuple(sorted(caller.name for caller in pm.get_hookcallers(plugin) or ()))


def get_plugin_manager(
    env: dict[str, str] | None = None, extra: Iterable[tuple[str, object]] = ()
) -> Plugins:
    """A fresh plugin manager with the built-in plugins, entry-point plugins and ``extra``.

    Plugins named in ``FLOCKOPS_DISABLE_PLUGINS`` (comma-separated) are blocked.
    """
    pm = pluggy.PluginManager("flockops")
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(pm)
    for name in blocked_names(env):
        pm.set_blocked(name)

    def add(name: str, plugin: object, version: str | None, builtin: bool) -> None:
        if pm.is_blocked(name):
            return
        try:
            pm.register(plugin, name=name)
        except Exception as exc:  # a misnamed hook, a duplicate name: that plugin only
            plugins.info.append(PluginInfo(name, version, (), builtin, f"cannot register: {exc}"))
            return
        # What pm.check_pending() would catch, per plugin: a misspelt hook name.
        unknown = [c.name for c in pm.get_hookcallers(plugin) or () if not c.has_spec()]
        if unknown:
            pm.unregister(plugin)
            plugins.info.append(PluginInfo(name, version, (), builtin,
                                           f"unknown hook {', '.join(unknown)} (misspelt?)"))
            return
        plugins.info.append(PluginInfo(name, version, _hooks_of(pm, plugin), builtin))

    for name, target in BUILTIN_DRIVERS.items():
        add(name, BuiltinDriverPlugin(target), __version__, True)

    for ep in entry_points(ENTRY_POINT_GROUP):
        if pm.is_blocked(ep.name):
            continue
        version = ep.dist_version
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party plugin must not stop the report
            reason = f"cannot import {ep.value}: {type(exc).__name__}: {exc}"
            plugins.info.append(PluginInfo(ep.name, version, (), False, reason))
            continue
        add(ep.name, plugin, version, False)

    for name, plugin in extra:
        add(name, plugin, None, False)
    return plugins


@dataclass(frozen=True, slots=True)
class DriverRegistry:
    drivers: tuple[Driver, ...]
    # (plugin name, what went wrong) for plugins whose register_drivers raised.
    failures: tuple[tuple[str, str], ...] = ()


def load_drivers(plugins: Plugins) -> DriverRegistry:
    """Ask every plugin for its drivers, one plugin at a time.

    Each hook implementation is called on its own: through pluggy, one that raises would
    abort the call for every plugin.
    """
    drivers: list[Driver] = []
    failures: list[tuple[str, str]] = [(p.name, p.error) for p in plugins.failures if p.error]
    names: set[str] = set()
    for impl in plugins.manager.hook.register_drivers.get_hookimpls():
        found: list[Driver] = []
        try:
            impl.function(register=found.append)
        except Exception as exc:
            failures.append((impl.plugin_name, f"register_drivers raised {type(exc).__name__}: {exc}"))
            continue
        for driver in found:
            problem = contract_problem(driver)
            if problem is not None:
                failures.append((impl.plugin_name, f"driver rejected: {problem}"))
                continue
            if driver.name in names:
                failures.append((impl.plugin_name, f"driver name {driver.name!r} is already taken"))
                continue
            names.add(driver.name)
            drivers.append(driver)
    drivers.sort(key=lambda d: (d.vendor, d.priority, d.name))
    return DriverRegistry(tuple(drivers), tuple(failures))
