"""flockops: where the GPU memory is, and whether a GPU runs hot, for one machine or a fleet.

Writing a driver plugin
-----------------------
A vendor driver is a subclass of :class:`flockops.agent.driver.Driver` with a ``name``, a
``vendor`` and a ``priority`` (lower is tried first within the vendor), a ``probe(ctx)``
that raises :class:`flockops.errors.DriverUnavailable` with a reason a person can act on,
and a ``collect(ctx)`` that returns :class:`flockops.agent.model.GpuSample` objects (unknown
values are ``None``, never 0). Register it from a hook implementation::

    import flockops

    @flockops.hookimpl
    def register_drivers(register):
        register(MyDriver())

and declare the module in your distribution's ``flockops`` entry-point group::

    [project.entry-points.flockops]
    mydriver = "my_package.driver"

``flockops plugins`` then lists it and ``flockops drivers`` says whether it can run.
``FLOCKOPS_DISABLE_PLUGINS=name1,name2`` blocks plugins by name. See ``plugins/`` in
the source tree for a complete out-of-tree example.
"""

from __future__ import annotations

# typing is slow to import and the probe never needs it: annotations are strings here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


__version__ = "0.1.0"
__all__ = ["__version__", "hookimpl", "collect_report", "best_node", "fit", "parse_size", "to_json"]

# The Python API (docs/api.md): name -> (module, attribute), imported on first use.
#   report = flockops.collect_report(inventory="hosts.yml", ollama_urls=["http://10.0.0.7:11434"])
#   place = flockops.best_node(report, flockops.parse_size("40GiB"))  # an ollama.capacity.Placement, or None
#   text = flockops.to_json(report)  # what `flockops report -o json` prints
_API = {
    "collect_report": ("api", "collect_report"),
    "best_node": ("ollama.capacity", "best_node"),
    "fit": ("ollama.capacity", "plan"),
    "parse_size": ("ollama.capacity", "parse_size"),
    "to_json": ("render.report", "to_json"),
}


def __dir__() -> list[str]:
    # The lazy names are not in globals() until first used: dir(flockops) lists them all the same.
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> Any:
    # Lazy, so that the drivers (which import this package) never pull in pluggy:
    # they also run inside the remote probe, where only the standard library is sure.
    if name == "hookimpl":
        try:
            from flockops.plugins.hookspecs import hookimpl

            return hookimpl
        except ImportError:
            # Inside the remote probe there is no pluggy, and a shipped third-party driver
            # module still decorates its hook: mark it the way pluggy's marker does, unused.
            def marker(function: Any = None, **options: Any) -> Any:
                def mark(f: Any) -> Any:
                    f.flockops_impl = options
                    return f

                return mark if function is None else mark(function)

            return marker
    if name in _API:
        import importlib

        module, attribute = _API[name]
        return getattr(importlib.import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module 'flockops' has no attribute {name!r}")
