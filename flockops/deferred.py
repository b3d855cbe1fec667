"""Stand-ins for modules that an import pulls in but a run never uses.

Some dependencies import a module at the top for one rarely used feature, and every run pays
for it. A stand-in in ``sys.modules`` takes its place: the first attribute read on it imports
the real module, so code that does use it sees no difference.

- The remote probe is a fresh ``python3`` per host per report. ``dataclasses`` imports
  ``inspect`` only to write a docstring for a class that has none (ours all have one).
- ``pynvml`` imports ``ctypes.util`` (subprocess, shutil, tempfile) for ``find_library``, which
  it calls on Windows only. With inspect, a fifth of the probe's CPU; about 8 ms of a local report.
- On the controller, ``paramiko.config`` imports ``invoke`` (unittest.mock, asyncio: about
  50 ms) for ``Match exec`` lines of an SSH config only.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from types import ModuleType

# module -> names that `from module import name` reads at import time; each becomes a function
# that imports the real module when it is called, not when it is imported.
PROBE: dict[str, tuple[str, ...]] = {"inspect": ()}  # installed by the probe's bootstrap
PYNVML: dict[str, tuple[str, ...]] = {"ctypes.util": ("find_library",)}  # by the NVML driver, before pynvml
CONTROLLER: dict[str, tuple[str, ...]] = {"invoke": ()}  # by flockops.connection, before paramiko


class DeferredModule(ModuleType):
    """Looks like the module of its name; the first attribute read not defined here imports the real one."""

    def __getattr__(self, attr: str) -> object:
        if attr == "__path__":  # the import system asking whether this is a package: it is not
            raise AttributeError(attr)
        return getattr(self._real(), attr)

    def _real(self) -> ModuleType:
        name = self.__name__
        if sys.modules.get(name) is self:
            del sys.modules[name]
        real = importlib.import_module(name)
        # Modules that imported the stand-in keep it: from now on it answers as the real one.
        self.__dict__.update(real.__dict__)
        return real


def _forward(module: DeferredModule, attr: str) -> object:
    def call(*args: object, **kwargs: object) -> object:
        return getattr(module._real(), attr)(*args, **kwargs)

    call.__name__ = attr
    return call


def install(modules: Mapping[str, tuple[str, ...]]) -> None:
    """Put stand-ins in place for those of ``modules`` that are installed and not imported yet
    (one that is missing stays missing, so that an ``except ImportError`` still sees it)."""
    for name, eager in modules.items():
        if name in sys.modules or importlib.util.find_spec(name) is None:
            continue
        module = DeferredModule(name)
        for attr in eager:
            setattr(module, attr, _forward(module, attr))
        sys.modules[name] = module
