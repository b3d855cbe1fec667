"""Compiled code the controller keeps between runs, in ``$XDG_CACHE_HOME/flockops`` (``~/.cache/flockops``).

Every run compiled the same things again before its first host could be asked: the methods that
``dataclasses`` writes for flockops's classes (about 25 ms of a run's 0.35 s of CPU) and the
probe's zip (about 40 ms). Both are kept here instead. Nothing in it can be stale: a method's code
is found by its exact source text (:mod:`flockops.dataclass_cache`), the zip by a hash of every
byte it is built from, and each file is for one bytecode version. What cannot be read or written
(a read-only home, cron without HOME, a file another user owns) costs the time and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
from collections.abc import Iterable
from importlib.util import MAGIC_NUMBER
from pathlib import Path

from . import __version__, dataclass_cache

# Code objects load only into the same bytecode version; a new flockops starts a new file.
_TAG = f"{__version__}-{sys.implementation.cache_tag}-{MAGIC_NUMBER.hex()}"
_METHODS, _ZIP = "dataclass-methods-", "probe-"
_KEY_BYTES = 32
_loaded_methods = 0  # how many method texts came from the cache file: more compiled since means save
# Only the `flockops` command keeps files (cli.run sets it); a program importing flockops, and
# the test suite's in-process runs, write nothing under the user's home.
enabled = False


def directory() -> Path | None:
    from .errors import UsageError

    if not enabled:
        return None
    from .userdirs import xdg_path

    try:
        return xdg_path(os.environ, "XDG_CACHE_HOME", (".cache",)) / "flockops"
    except UsageError:
        return None


def _read(path: Path) -> bytes | None:
    """The file's bytes if this user owns it and nobody else can write it (it is code we run)."""
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if info.st_uid != os.getuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                return None
            return handle.read()
    except OSError:
        return None


def _write(path: Path, data: bytes, prefix: str) -> None:
    """``path`` replaced by ``data``; the files an earlier version or Python kept under ``prefix`` go."""
    from .userdirs import replace_file

    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        replace_file(path, data)
        for old in path.parent.glob(f"{prefix}*"):
            if old != path:
                old.unlink()


def _methods_file() -> Path | None:
    base = directory()
    return None if base is None else base / f"{_METHODS}{_TAG}.marshal"


def load_methods() -> None:
    """Before flockops's classes are made: the methods compiled by earlier runs."""
    global _loaded_methods
    path = _methods_file()
    data = None if path is None else _read(path)
    dataclass_cache.install()
    with contextlib.suppress(Exception):  # a damaged file: its methods are compiled again, and it is replaced
        dataclass_cache.install(data)
    _loaded_methods = dataclass_cache.count()


def save_methods() -> None:
    """After a run: the methods it had to compile, for the next one."""
    path = _methods_file()
    if path is not None and dataclass_cache.count() > _loaded_methods:
        _write(path, dataclass_cache.shipped(), _METHODS)


def zip_key(parts: Iterable[bytes]) -> bytes:
    digest = hashlib.sha256(f"{__version__} {sys.version}".encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.digest()


def cached_zip(key: bytes) -> bytes | None:
    """The probe zip built from exactly the inputs ``key`` hashes, if an earlier run kept it."""
    base = directory()
    data = None if base is None else _read(base / f"{_ZIP}{_TAG}.zip")
    if data is None or data[:_KEY_BYTES] != key:
        return None
    return data[_KEY_BYTES:]


def keep_zip(key: bytes, payload: bytes) -> None:
    base = directory()
    if base is not None:
        _write(base / f"{_ZIP}{_TAG}.zip", key + payload, _ZIP)
