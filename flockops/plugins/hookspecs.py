"""The hooks a flockops plugin can implement.

A plugin is a module or object with functions marked ``@flockops.hookimpl``. Built-in
drivers are plugins of exactly this kind (``flockops/drivers/``); third-party plugins
are found through the ``flockops`` entry-point group.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from flockops.agent.driver import Driver

hookspec = pluggy.HookspecMarker("flockops")
hookimpl = pluggy.HookimplMarker("flockops")


@hookspec
def register_drivers(register: Callable[[Driver], None]) -> None:
    """Register vendor drivers by calling ``register(driver)`` once per driver instance.

    A driver subclasses :class:`flockops.agent.driver.Driver` and sets ``name`` (unique),
    ``vendor`` (``nvidia``, ``amd``, ``intel``, ...) and ``priority`` (lower is tried
    first within its vendor). The core tries each vendor's drivers in priority order and
    stops at the first that answers; a driver that raises only fails itself.
    """
