"""Finding the ``flockops`` entry points of installed distributions, cheaply.

``importlib.metadata`` is slow to import (email, zipfile, csv...: BENCHMARKS.md has it at a
fifth of a whole local report). Entry points of path-installed distributions live in
``<name>.dist-info/entry_points.txt`` (or ``.egg-info``) on ``sys.path``; reading those
few files directly gives the same answer for the one group we need. The first
distribution of a name on ``sys.path`` wins, as with importlib.metadata.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_META_DIR = re.compile(r"^(?P<name>.+?)(?:-(?P<version>[^-]+?))?(?:-py[\d.]+)?\.(?:dist|egg)-info$")


@dataclass(frozen=True, slots=True)
class EntryPoint:
    name: str
    value: str  # "module" or "module:attribute"
    dist_name: str
    dist_version: str | None

    def load(self) -> object:
        module_name, _, attribute = self.value.partition(":")
        obj: object = importlib.import_module(module_name.strip())
        for part in filter(None, attribute.strip().split(".")):
            obj = getattr(obj, part)
        return obj


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _section(text: str, group: str) -> Iterator[tuple[str, str]]:
    """``name = value`` lines of one ``[group]`` section of an entry_points.txt."""
    inside = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            inside = line.strip("[]").strip() == group
            continue
        if inside and "=" in line:
            name, _, value = line.partition("=")
            yield name.strip(), value.strip()


def _version(meta_dir: str, fallback: str | None) -> str | None:
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(meta_dir, filename), encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if line.startswith("Version:"):
                        return line.split(":", 1)[1].strip()
                    if not line.strip():
                        break
        except OSError:
            continue
    return fallback


def _distributions(path: Iterable[str] | None) -> Iterator[tuple[str, str, str | None]]:
    """(normalised name, metadata directory, version from its name) of each distribution on
    ``path`` (default ``sys.path``); the first of a name wins, as with importlib.metadata."""
    seen: set[str] = set()
    for directory in path if path is not None else sys.path:
        try:
            entries = sorted(os.scandir(directory or "."), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            match = _META_DIR.match(entry.name)
            if not match or not entry.is_dir():
                continue
            dist = _normalise(match.group("name"))
            if dist not in seen:
                seen.add(dist)
                yield dist, entry.path, match.group("version")


def entry_points(group: str, path: Iterable[str] | None = None) -> list[EntryPoint]:
    found: list[EntryPoint] = []
    for dist, meta_dir, dir_version in _distributions(path):
        try:
            with open(os.path.join(meta_dir, "entry_points.txt"), encoding="utf-8") as handle:
                text = handle.read()
        except OSError:
            continue
        version = None
        for name, value in _section(text, group):
            version = version or _version(meta_dir, dir_version)
            found.append(EntryPoint(name, value, dist, version))
    return found

