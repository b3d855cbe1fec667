"""The probe's zip, kept between runs in ``$XDG_CACHE_HOME/flockops`` (``~/.cache/flockops``).

Every run built the same zip again (its sources compiled, then deflated) before its first host
could be asked; it is kept here instead. Nothing in it can be stale: the zip is found by a hash of
every byte it is built from, and each file is for one bytecode version. What cannot be read or
written (a read-only home, cron without HOME, a file another user owns) costs the time and nothing
else.
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

from flockops import __version__

# Code objects load only into the same bytecode version; a new flockops starts a new file.
_TAG = f"{__version__}-{sys.implementation.cache_tag}-{MAGIC_NUMBER.hex()}"
_ZIP = "probe-"
_DIGEST_BYTES = 32
_MAX_BYTES = 64 << 20  # far above the zip (0.4 MB); a larger file is not ours
# Only the `flockops` command keeps files (cli.run sets it); a program importing flockops, and
# the test suite's in-process runs, write nothing under the user's home.
enabled = False


def directory() -> Path | None:
    """The cache directory, or None: not the command, no home, or a place that is not only ours."""
    if not enabled:
        return None
    from flockops.errors import UsageError
    from flockops.userdirs import xdg_path

    try:
        path = xdg_path(os.environ, "XDG_CACHE_HOME", (".cache",)) / "flockops"
    except UsageError:
        return None
    # Where it exists, ours alone; where not, the nearest existing folder above it ours: `sudo`
    # keeping HOME must not leave root's directories in the user's home.
    existing = next((p for p in (path, *path.parents) if os.path.lexists(p)), None)
    try:
        info = os.lstat(existing) if existing is not None else None
    except OSError:
        return None
    if info is None or info.st_uid != os.geteuid():
        return None
    if existing == path and (not stat.S_ISDIR(info.st_mode) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
        return None
    return path


def _read(path: Path) -> bytes | None:
    """The file's contents if it is a plain file this user owns and nobody else can write (it is
    code we run), and what it holds is what was written: a digest of the rest leads it."""
    try:
        # No link followed, no FIFO waited on.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if (not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid()
                or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or info.st_size > _MAX_BYTES):
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(_MAX_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    digest, body = data[:_DIGEST_BYTES], data[_DIGEST_BYTES:]
    return body if len(digest) == _DIGEST_BYTES and hashlib.sha256(body).digest() == digest else None


def _write(path: Path, data: bytes, prefix: str) -> None:
    """``path`` replaced by ``data`` (after its digest); the files an earlier version or Python
    kept under ``prefix`` go."""
    from flockops.userdirs import replace_file

    with contextlib.suppress(OSError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        replace_file(path, hashlib.sha256(data).digest() + data)
        for old in path.parent.glob(f"{prefix}*"):
            if old != path:
                old.unlink()


def zip_key(parts: Iterable[bytes]) -> bytes:
    """What a zip is built from, hashed: the caller's parts (each source and its name, and the code
    that lays the zip out and reads it), plus the Python building it."""
    digest = hashlib.sha256(f"{__version__} {sys.version} {sys.flags.optimize}".encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.digest()


def cached_zip(key: bytes) -> bytes | None:
    """The probe zip built from exactly the inputs ``key`` hashes, if an earlier run kept it."""
    base = directory()
    data = None if base is None else _read(base / f"{_ZIP}{_TAG}.zip")
    if data is None or data[:len(key)] != key:
        return None
    return data[len(key):]


def keep_zip(key: bytes, payload: bytes) -> None:
    base = directory()
    if base is not None:
        _write(base / f"{_ZIP}{_TAG}.zip", key + payload, _ZIP)
