"""Reading an inventory: its sources (files, directories, several ``-i``) into one :class:`Inventory`."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from flockops.errors import InventoryError

from .builder import Builder
from .files import read_text_file
from .ini import IniReader
from .model import Inventory

YAML_SUFFIXES = (".yml", ".yaml", ".json")


def load_inventory(path: Path | Sequence[Path]) -> Inventory:
    """Read an inventory (a YAML or INI file, or a directory of them) and the group_vars/ and host_vars/ beside it.

    The format follows the name, as Ansible's plugins do: ``.yml``, ``.yaml`` and ``.json`` are YAML; a
    name without a suffix is YAML if it reads as a YAML mapping and INI otherwise; any other name is INI.
    A directory stands for every file in it (sorted, recursively; hidden files, group_vars/, host_vars/
    and names ending in one of ``DIRECTORY_SKIPS`` left out), with group_vars/ and host_vars/ read from
    the directory itself. Several paths (``-i a -i b``) are read in turn into one inventory, as
    ``ansible-inventory`` does: a later source's variables win over an earlier one's. Raises
    InventoryError naming the file (and line and key where there is one) for anything missing or malformed.
    """
    paths = [path] if isinstance(path, Path) else list(path)
    if not paths:
        raise InventoryError("no inventory source given", "-i")
    builder = Builder(str(paths[0]))
    bases = []
    for source in paths:
        if source.is_dir():
            files = _directory_sources(source)
            if not files:
                raise InventoryError("the inventory directory holds no inventory file", str(source))
            bases.append(source.resolve())
        else:
            files = [source]
            # The directory the file is named in, as ansible-core takes it: a linked inventory file
            # gets the group_vars/ beside the link.
            bases.append(Path(os.path.abspath(source)).parent.resolve())
        for file in files:
            try:
                _read_source(builder, file)
            except RecursionError:  # a YAML or group structure nested past what Python can follow
                raise InventoryError("nested too deeply to read (thousands of levels of groups or values)",
                                     str(file)) from None
    try:
        builder.reconcile()
        return builder.build(bases, paths[0])
    except RecursionError:
        raise InventoryError("groups nested too deeply to read", str(paths[0])) from None


# ansible-core's INVENTORY_IGNORE_EXTS: names a directory inventory skips.
DIRECTORY_SKIPS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry")
_NOT_SOURCES = ("group_vars", "host_vars", "vars_plugins")


def _directory_sources(directory: Path) -> list[Path]:
    found: list[Path] = []
    for name in sorted(os.listdir(directory)):
        if name.startswith(".") or name in _NOT_SOURCES or name.endswith(DIRECTORY_SKIPS):
            continue
        entry = directory / name
        found.extend(_directory_sources(entry) if entry.is_dir() else [entry])
    return found


def _read_source(builder: Builder, path: Path) -> None:
    shown = str(path)
    builder.file = shown
    text = read_text_file(path, "inventory")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        raise InventoryError("TOML inventories are not supported; use YAML or INI", shown)
    if suffix in YAML_SUFFIXES or not suffix:
        from .yaml_reader import YamlReader, looks_like_yaml_mapping  # PyYAML, only for YAML

        if suffix or looks_like_yaml_mapping(text):
            YamlReader(builder, shown, _json_tabs_as_spaces(text)).read()
            return
    IniReader(builder, shown).read(text.splitlines())


def _json_tabs_as_spaces(text: str) -> str:
    # Ansible reads JSON with json.loads before trying YAML; YAML refuses the tabs JSON indents with.
    # In valid JSON a raw tab can only be whitespace between tokens, so spaces change nothing else.
    if "\t" not in text:
        return text
    try:
        json.loads(text)
    except ValueError:
        return text
    return text.replace("\t", " ")
