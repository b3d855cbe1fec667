"""Stand-ins for modules that an import pulls in but a run never uses.

Some dependencies import a module at the top for one rarely used feature, and every run pays
for it. A stand-in in ``sys.modules`` takes its place: the first attribute read on it imports
the real module, so code that does use it sees no difference.

- The remote probe is a fresh ``python3`` per host per report. ``dataclasses`` imports
  ``inspect`` only to write a docstring for a class that has none (ours all have one).
- ``pynvml`` imports ``ctypes.util`` (subprocess, shutil, tempfile) for ``find_library``, which
  it calls on Windows only. With inspect, a fifth of the probe's CPU. At import it also calls
  ``threading.Lock()`` and ``string.capwords()``, whose modules cost 2 ms more (string compiles
  a pattern for ``Template``): both are answered here with the same results.
- On the controller, ``paramiko.config`` imports ``invoke`` (unittest.mock, asyncio: about
  50 ms) for ``Match exec`` lines of an SSH config only, and ``paramiko/__init__.py`` imports
  ``importlib.metadata`` (email, zipfile, csv: about 50 ms) for ``version("paramiko")`` alone.
  That ``version`` is answered from the distribution's ``.dist-info`` directly
  (:func:`flockops.entrypoints.distribution_version`), or by the real one when that scan finds none.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from types import ModuleType


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


Attribute = Callable[[DeferredModule, str], object]


def forward(module: DeferredModule, attr: str) -> object:
    """A function that imports the real module when it is called, not when it is imported."""
    def call(*args: object, **kwargs: object) -> object:
        return getattr(module._real(), attr)(*args, **kwargs)

    call.__name__ = attr
    return call


def fast_version(module: DeferredModule, attr: str) -> object:
    """``importlib.metadata.version`` read from the ``.dist-info`` itself; the real one otherwise."""
    def version(distribution_name: str) -> str:
        from .entrypoints import distribution_version

        found = distribution_version(distribution_name)
        return found if found is not None else getattr(module._real(), attr)(distribution_name)

    return version


def capwords(module: DeferredModule, attr: str) -> object:
    """``string.capwords``, the same three steps (the real one is one line too)."""
    def words(text: str, sep: str | None = None) -> str:
        return (sep or " ").join(map(str.capitalize, text.split(sep)))

    return words


def lock(module: DeferredModule, attr: str) -> object:
    """``threading.Lock``: the ``_thread`` lock that the real one is."""
    import _thread

    return _thread.allocate_lock


# module -> the attributes it has before the real module is imported: names that
# `from module import name` reads at import time, each made by its function.
StandIns = Mapping[str, Mapping[str, Attribute]]
PROBE: StandIns = {"inspect": {}}  # installed by the probe's bootstrap
PYNVML: StandIns = {  # by the NVML driver, before pynvml
    "ctypes.util": {"find_library": forward}, "string": {"capwords": capwords}, "threading": {"Lock": lock},
}
CONTROLLER: StandIns = {"invoke": {}, "importlib.metadata": {"version": fast_version}}  # before paramiko


def install(modules: StandIns) -> None:
    """Put stand-ins in place for those of ``modules`` that are installed and not imported yet
    (one that is missing stays missing, so that an ``except ImportError`` still sees it)."""
    for name, attributes in modules.items():
        if name in sys.modules or importlib.util.find_spec(name) is None:
            continue
        module = DeferredModule(name)
        for attr, make in attributes.items():
            setattr(module, attr, make(module, attr))
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:  # `import ctypes.util` then reads ctypes.util: the package must have it (find_spec imported it)
            setattr(sys.modules[parent], child, module)
