"""ansible-core's InventoryData in miniature: the groups and hosts the file readers add, reconciled
and merged into an :class:`~flockops.inventory.model.Inventory` in Ansible's order of precedence."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flockops.errors import InventoryError

from .model import Group, Host, Inventory, group_hosts
from .secrets import brief

# ansible-core's C.YAML_FILENAME_EXTENSIONS, tried in this order after the bare name in group_vars/.
# Real inventories nest a handful of levels; the graph and list outputs walk the tree recursively.
MAX_GROUP_DEPTH = 200
_VARS_FILE_SUFFIXES = ("", ".yml", ".yaml", ".json")


def _merged(layers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The layers' variables, a later layer's value winning (ansible's default hash_behaviour=replace)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return merged


@dataclass
class _GroupDraft:
    name: str
    line: int | None
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    inline: dict[str, Any] = field(default_factory=dict, repr=False)
    files: list[dict[str, Any]] = field(default_factory=list, repr=False)  # group_vars/, one per source
    priority: int = 1


@dataclass
class _HostDraft:
    name: str
    file: str
    line: int | None
    inline: dict[str, Any] = field(default_factory=dict, repr=False)
    files: list[dict[str, Any]] = field(default_factory=list, repr=False)  # host_vars/, one per source
    direct: list[str] = field(default_factory=list)


class Builder:
    """ansible-core's InventoryData in miniature: groups and hosts as the readers add them."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.groups: dict[str, _GroupDraft] = {}
        self.hosts: dict[str, _HostDraft] = {}
        self.warnings: list[str] = []
        self.add_group("all", None)
        self.add_group("ungrouped", None)
        self.add_child("all", "ungrouped", None)

    def error(self, message: str, line: int | None, key: str | None = None, file: str | None = None) -> InventoryError:
        return InventoryError(message, file or self.file, line, key)

    def warn(self, message: str, line: int | None, file: str | None = None) -> None:
        where = file or self.file
        self.warnings.append(f"{where}:{line}: {message}" if line is not None else f"{where}: {message}")

    def add_group(self, name: str, line: int | None) -> None:
        if name not in self.groups:
            self.groups[name] = _GroupDraft(name, line)

    def add_host(self, name: str, group: str, port: int | None, line: int | None) -> None:
        if name not in self.hosts:
            self.hosts[name] = _HostDraft(name, self.file, line)
            # A port given with the host ("node01:2222") counts only where the host is first seen:
            # ansible-core sets it when it creates the host and ignores it afterwards.
            if port:
                self.hosts[name].inline["ansible_port"] = port
        self._add_member(group, name)

    def _add_member(self, group: str, host: str) -> None:
        # The host's few groups, not the group's many hosts (a list: 50,000 hosts took 26 s).
        if group not in self.hosts[host].direct:
            self.groups[group].hosts.append(host)
            self.hosts[host].direct.append(group)

    def set_group_var(self, group: str, key: str, value: Any, line: int | None) -> None:
        if key == "ansible_group_priority":
            # Not a variable to Ansible: it orders sibling groups and is kept apart.
            try:
                self.groups[group].priority = int(value)
            except (TypeError, ValueError):
                raise self.error(f"group {group!r} variable 'ansible_group_priority' must be an integer, "
                                 f"got {value!r}", line, key) from None
        else:
            self.groups[group].inline[key] = value

    def set_host_var(self, host: str, key: str, value: Any, line: int | None) -> None:
        if host in self.groups:
            # ansible-core looks the name up among groups first, so a host named like a group gives
            # its inline variables to the group. Kept for the same result; reconcile() warns.
            self.set_group_var(host, key, value, line)
        else:
            self.hosts[host].inline[key] = value

    def ancestors(self, group: str) -> set[str]:
        found: set[str] = set()
        todo = list(self.groups[group].parents)
        while todo:
            name = todo.pop()
            if name not in found:
                found.add(name)
                todo.extend(self.groups[name].parents)
        return found

    def add_child(self, parent: str, child: str, line: int | None) -> None:
        """Make ``child`` (a group, or failing that a host, as in ansible-core) a member of ``parent``."""
        if child not in self.groups:
            if child in self.hosts:
                self._add_member(parent, child)
                return
            raise self.error(f"group {parent!r} child {child!r} is not a known group", line, child)
        if child == parent or child in self.ancestors(parent):
            raise self.error(f"adding group {child!r} as a child of {parent!r} makes a loop", line, child)
        if child not in self.groups[parent].children:
            self.groups[parent].children.append(child)
            if parent not in self.groups[child].parents:
                self.groups[child].parents.append(parent)

    def reconcile(self) -> None:
        """ansible-core's reconcile_inventory: every group under ``all``; ``ungrouped`` made exact."""
        for name in list(self.groups):
            if name != "all" and not self.groups[name].parents:
                self.add_child("all", name, None)
        ungrouped = self.groups["ungrouped"]
        for host in self.hosts.values():
            memberships = self.host_groups(host.name)
            if "ungrouped" in memberships:
                # Only a direct member leaves: one may be in ungrouped through a group of a host's name.
                if memberships - {"all", "ungrouped"} and "ungrouped" in host.direct:
                    ungrouped.hosts.remove(host.name)
                    host.direct.remove("ungrouped")
            elif not memberships - {"all"}:
                self.add_child("ungrouped", host.name, None)  # a group of the host's name wins, as in ansible-core
        for name in self.hosts:
            if name in self.groups:
                self.warn(f"{name!r} is both a group and a host", self.hosts[name].line, self.hosts[name].file)

    def host_groups(self, host: str) -> set[str]:
        direct = self.hosts[host].direct
        result = set(direct)
        for group in direct:
            result |= self.ancestors(group)
        return result

    def depths(self) -> dict[str, int]:
        """The longest path from "all" to each group, which is what ansible-core's incremental depth
        amounts to. InventoryError past MAX_GROUP_DEPTH."""
        depth: dict[str, int] = {}
        for start in self.groups:
            stack = [start]
            while stack:  # depth-first, without recursion: a group may have thousands of ancestors
                name = stack[-1]
                if name in depth:
                    stack.pop()
                    continue
                waiting = [p for p in self.groups[name].parents if p not in depth]
                if waiting:
                    stack.extend(waiting)
                    continue
                stack.pop()
                parents = self.groups[name].parents
                depth[name] = 1 + max(depth[p] for p in parents) if parents else 0
                if depth[name] > MAX_GROUP_DEPTH:
                    line = self.groups[name].line
                    raise self.error(f"group {brief(name)} is nested {depth[name]:,} levels deep; more than "
                                     f"{MAX_GROUP_DEPTH} is surely generated by mistake", line, name)
        return depth

    def build(self, bases: Sequence[Path], source: Path) -> Inventory:
        """``bases``: the directory of each source, in order; its group_vars/ and host_vars/ apply."""
        for name, group in self.groups.items():
            group.files = [self._vars_files(base / "group_vars", name) for base in bases]
        for name, host in self.hosts.items():
            host.files = [self._vars_files(base / "host_vars", name) for base in bases]
        depth = self.depths()
        groups = {
            name: Group(name=name, hosts=tuple(g.hosts), children=tuple(g.children),
                        vars=_merged([g.inline, *g.files]), depth=depth[name], priority=g.priority)
            for name, g in self.groups.items()
        }
        hosts = []
        for name in group_hosts(groups, "all"):
            memberships = self.host_groups(name) - {"all"}
            hosts.append(Host(name=name, vars=self._host_vars(name, memberships, depth),
                              groups=tuple(sorted(memberships))))
        return Inventory(hosts=tuple(hosts), groups=groups, source=source, warnings=tuple(self.warnings))

    def _host_vars(self, name: str, memberships: set[str], depth: Mapping[str, int]) -> dict[str, Any]:
        # ansible-core's VariableManager order (the default VARIABLE_PRECEDENCE), weakest first:
        # "all" inline, other groups inline, group_vars/all, other group_vars, host inline, host_vars.
        # Groups go by (depth, ansible_group_priority, name): a child beats its parent, and of two
        # groups at one depth the later name wins. Note that any group_vars file beats any inline
        # group variable, even a child group's. With several sources, each of the group_vars steps
        # goes source by source (get_vars_from_inventory_sources): a later source's group_vars of a
        # parent group beat an earlier source's of a child.
        ordered = sorted(memberships, key=lambda g: (depth[g], self.groups[g].priority, g))
        layers: list[Mapping[str, Any]] = [self.groups["all"].inline, *(self.groups[g].inline for g in ordered)]
        layers += self.groups["all"].files
        for index in range(len(self.groups["all"].files)):
            layers += [self.groups[g].files[index] for g in ordered]
        return _merged([*layers, self.hosts[name].inline, *self.hosts[name].files])

    def _vars_files(self, directory: Path, entity: str) -> dict[str, Any]:
        """The merged contents of group_vars/NAME (file or directory), NAME.yml, NAME.yaml or NAME.json.

        Only the first of those that exists is read (so a NAME/ directory hides NAME.yml); a directory is
        read recursively in sorted order, skipping hidden files, backups (``~``) and other suffixes.
        """
        if entity.startswith(os.sep) or not directory.is_dir():
            return {}
        for suffix in _VARS_FILE_SUFFIXES:
            candidate = directory / (entity + suffix)
            if candidate.exists():
                files = _dir_vars_files(candidate) if candidate.is_dir() else [candidate]
                break
        else:
            return {}
        from .yaml_reader import read_vars_file  # PyYAML, only when there are such files

        merged: dict[str, Any] = {}
        for file in files:
            merged.update(read_vars_file(file))
        return merged


def _dir_vars_files(directory: Path) -> list[Path]:
    found: list[Path] = []
    for name in sorted(os.listdir(directory)):
        if name.startswith(".") or name.endswith("~"):
            continue
        entry = directory / name
        suffix = os.path.splitext(name)[1]
        if entry.is_dir() and not suffix:
            found.extend(_dir_vars_files(entry))
        elif entry.is_file() and suffix in _VARS_FILE_SUFFIXES:
            found.append(entry)
    return found
