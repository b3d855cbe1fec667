"""The probe's zip: the agent package whole, pynvml and the pure-Python third-party drivers.

Built once per run (and kept between runs, :mod:`flockops.remote.bundle_cache`), sent to every
target on the stdin of its remote command (:mod:`flockops.remote.command`). Beside each source goes
its code object for the controller's Python: a target whose Python has the same bytecode magic
runs that, any other compiles the source.
"""

from __future__ import annotations

import importlib.util
import io
import marshal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flockops.agent.driver import Driver

from . import bundle_cache

# What travels: the agent package whole, and the two modules it may import from its parent (the
# package's own __init__, which imports nothing at import time, and the error tree). Everything
# else of flockops is the controller's and never leaves it.
SHIPPED_TOP_LEVEL = ("__init__.py", "errors.py")


def package_dir() -> Path:
    import flockops

    return Path(flockops.__file__).resolve().parent


def probe_modules() -> tuple[str, ...]:
    """Paths, relative to the package, of every module shipped to a target."""
    package = package_dir()
    agent = sorted(str(p.relative_to(package)) for p in (package / "agent").rglob("*.py")
                   if "__pycache__" not in p.parts)
    return (*SHIPPED_TOP_LEVEL, *agent)


def shippable_sources(module_name: str) -> dict[str, Path] | None:
    """The files of a third-party driver's top-level package or module, as zip paths, when it is
    pure Python; None when it is not (a compiled extension, a namespace package, unknown origin)."""
    top = module_name.split(".")[0]
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    origin = Path(spec.origin)
    if not spec.submodule_search_locations:
        return {f"{top}.py": origin}
    root = origin.parent
    files: dict[str, Path] = {}
    for path in root.rglob("*"):
        if "__pycache__" in path.parts or path.is_dir():
            continue
        if path.suffix in (".so", ".pyd", ".dylib"):
            return None  # compiled: it cannot travel
        if path.suffix == ".py":
            files[f"{top}/{path.relative_to(root)}"] = path
    return files


_BUILDING = threading.Lock()


def probe_zip(extra_modules: tuple[str, ...] = ()) -> bytes:
    """The zip sent to every target (built once per run): flockops's collection code, pynvml,
    and the pure-Python third-party driver modules named in ``extra_modules``. Callers that ask
    while it is being built wait for that build."""
    with _BUILDING:
        return _build_zip(extra_modules)


@lru_cache(maxsize=8)
def _build_zip(extra_modules: tuple[str, ...]) -> bytes:
    package = package_dir()
    sources = {f"flockops/{relative}": package / relative for relative in probe_modules()}
    for module_name in extra_modules:
        sources.update(shippable_sources(module_name) or {})
    spec = importlib.util.find_spec("pynvml")
    if spec is not None and spec.origin:
        sources["pynvml.py"] = Path(spec.origin)
    texts = {name: path.read_bytes() for name, path in sources.items()}
    # The same inputs make the same zip: an earlier run's, when it kept one. The builder is an input
    # too: this module lays the zip out, and the bootstrap in command.py reads it.
    from . import command

    builders = (Path(__file__).read_bytes(), Path(command.__file__).read_bytes())
    inputs = (part for name, source in texts.items() for part in (name.encode(), source))
    key = bundle_cache.zip_key((*builders, *inputs))
    kept = bundle_cache.cached_zip(key)
    if kept is not None:
        return kept
    import zipfile  # only when the zip is built: it is usually kept

    # Compiling pynvml alone would cost every target more than the rest of its run. Beside each source goes
    # its code object for this Python; a target whose Python has the same bytecode magic
    # uses it, any other compiles the source.
    magic = importlib.util.MAGIC_NUMBER.hex()
    buffer = io.BytesIO()
    # Level 1: a quicker build than the default level, for a zip a tenth larger, which costs sshd and
    # the target nothing measurable (BENCHMARKS.md).
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, source in texts.items():
            archive.writestr(name, source)
            archive.writestr(f"{name}.code-{magic}", _code_bytes(sources[name], source, name))
    payload = buffer.getvalue()
    bundle_cache.keep_zip(key, payload)
    return payload


def _code_bytes(path: Path, source: bytes, name: str) -> bytes:
    """Marshalled code for ``source``: from this interpreter's own fresh .pyc when there is one
    (pip compiles installed packages), else compiled now."""
    try:
        pyc = Path(importlib.util.cache_from_source(str(path))).read_bytes()
        stat = path.stat()
        fresh = (pyc[:4] == importlib.util.MAGIC_NUMBER and pyc[4:8] == b"\0\0\0\0"
                 and int.from_bytes(pyc[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
                 and int.from_bytes(pyc[12:16], "little") == stat.st_size & 0xFFFFFFFF)
        if fresh:
            return pyc[16:]
    except (OSError, ValueError, NotImplementedError):
        pass
    return marshal.dumps(compile(source, f"flockops-probe/{name}", "exec", dont_inherit=True))


@dataclass(frozen=True)
class Shipment:
    """Third-party drivers and how they reach the targets."""

    modules: tuple[str, ...] = ()  # top-level modules packed into the probe zip
    targets: tuple[str, ...] = ()  # "module:Class" the probe instantiates there
    local_only: tuple[Driver, ...] = ()  # not pure Python: they ran on the controller only


def shipment(local_drivers: Sequence[Driver]) -> Shipment:
    """Pure-Python third-party drivers travel with the probe; the others are reported as local-only."""
    from flockops.agent.drivers import BUILTIN_DRIVERS

    modules: list[str] = []
    targets: list[str] = []
    local_only: list[Driver] = []
    for driver in local_drivers:
        if driver.name in BUILTIN_DRIVERS:
            continue
        module = type(driver).__module__
        if shippable_sources(module) is None:
            local_only.append(driver)
            continue
        modules.append(module.split(".")[0])
        targets.append(f"{module}:{type(driver).__qualname__}")
    return Shipment(tuple(dict.fromkeys(modules)), tuple(targets), tuple(local_only))
