"""A loaded inventory: hosts with their merged variables, groups, and the shapes ansible-inventory prints."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .limit import select_names
from .secrets import MASK, Vaulted, mask_secrets

# Variables ansible-inventory never prints, even when an inventory sets them (constants.INTERNAL_STATIC_VARS).
_INTERNAL_VARS = frozenset({
    "ansible_async_path", "ansible_collection_name", "ansible_config_file", "ansible_dependent_role_names",
    "ansible_diff_mode", "ansible_facts", "ansible_forks", "ansible_inventory_sources", "ansible_limit",
    "ansible_play_batch", "ansible_play_hosts", "ansible_play_hosts_all", "ansible_play_role_names",
    "ansible_playbook_python", "ansible_role_name", "ansible_role_names", "ansible_run_tags", "ansible_skip_tags",
    "ansible_verbosity", "ansible_version", "inventory_dir", "inventory_file", "inventory_hostname",
    "inventory_hostname_short", "groups", "group_names", "hostvars", "playbook_dir", "play_hosts", "role_name",
    "role_names", "role_path", "role_uuid",
})


@dataclass(frozen=True, slots=True)
class Host:
    """One inventory host with its variables already merged in Ansible's order of precedence."""

    name: str
    vars: Mapping[str, Any] = field(repr=False)  # may hold passwords: never in a repr
    # Every group the host belongs to, directly or through a child group, sorted, without "all":
    # Ansible's ``group_names``.
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Group:
    """One group: its direct members, its direct children, and its own variables."""

    name: str
    hosts: tuple[str, ...]
    children: tuple[str, ...]
    # The group's own variables (inline, then its group_vars/ files): what ``--graph --vars`` shows for it.
    vars: Mapping[str, Any] = field(repr=False)  # may hold passwords: never in a repr
    # Longest path from "all" (all = 0); with ``priority`` it orders group variables, deeper winning.
    depth: int = 0
    priority: int = 1


@dataclass(frozen=True, slots=True)
class Inventory:
    """A loaded inventory. ``hosts`` are in inventory order: the order ``ansible all --list-hosts`` shows."""

    hosts: tuple[Host, ...]
    groups: Mapping[str, Group]
    source: Path
    warnings: tuple[str, ...] = ()

    def host(self, name: str) -> Host:
        """The host called ``name``; KeyError if there is none."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def group_hosts(self, name: str) -> tuple[str, ...]:
        """Names of the hosts in group ``name`` and its descendants, in Ansible's order for that group."""
        return group_hosts(self.groups, name)

    def select(self, limit: str | None) -> tuple[Host, ...]:
        """The hosts a ``-l/--limit`` pattern selects, in inventory order; every host when ``limit`` is None.

        Patterns as in Ansible: ``a,b`` or ``a:b`` (union), ``a:&b`` (intersection), ``a:!b`` (exclusion),
        globs (``web*``), ``~regex`` (matched at the start of the name), group and host names mixed,
        ``all``/``*``, and subscripts (``gpu[0]``, ``gpu[1:3]``). Raises UsageError for a bad pattern.
        """
        if limit is None:
            return self.hosts
        names, _ = select_names(limit, [h.name for h in self.hosts], self._group_members())
        chosen = set(names)
        return tuple(h for h in self.hosts if h.name in chosen)

    def unmatched(self, limit: str | None) -> tuple[str, ...]:
        """The single patterns of ``limit`` that match no host or group (Ansible warns about each)."""
        if limit is None:
            return ()
        _, unmatched = select_names(limit, [h.name for h in self.hosts], self._group_members())
        return tuple(unmatched)

    def to_list_json(self, limit: str | None = None) -> dict[str, Any]:
        """What ``ansible-inventory -i FILE --list [--limit LIMIT]`` prints, with secrets masked.

        Every group reachable from ``all`` appears with its ``hosts`` (limited) and ``children``; empty
        keys are left out and so is a group left with neither, though its parent still lists it as a
        child. ``all`` never lists hosts and always lists ``ungrouped``. ``_meta.hostvars`` holds each
        selected host that has variables. (ansible-core 2.19 also prints ``_meta.profile``; left out.)
        """
        available = {h.name for h in self.select(limit)}
        result: dict[str, Any] = {}
        seen: set[str] = set()

        def add(name: str) -> None:
            group = self.groups[name]
            entry: dict[str, Any] = {}
            if name != "all":
                entry["hosts"] = [h for h in group.hosts if h in available]
            entry["children"] = list(group.children)
            for child in group.children:
                if child not in seen:
                    seen.add(child)
                    add(child)
            entry = {k: v for k, v in entry.items() if v}
            if entry:
                result[name] = entry

        add("all")
        hostvars = {}
        for host in self.hosts:
            if host.name in available:
                shown = _jsonable(mask_secrets(_public_vars(host.vars)))
                if shown:
                    hostvars[host.name] = shown
        result["_meta"] = {"hostvars": hostvars}
        return result

    def to_graph(self, group: str = "all", show_vars: bool = False, limit: str | None = None) -> str:
        """What ``ansible-inventory -i FILE --graph [--vars] [GROUP]`` prints, with secrets masked.

        ``limit`` leaves out the hosts it does not select (groups stay, as empty groups do in Ansible's
        graph). ansible-inventory itself ignores ``--limit`` with ``--graph``. KeyError for an unknown group.
        """
        if group not in self.groups:
            raise KeyError(group)
        hosts = {h.name: h for h in self.select(limit)}
        lines: list[str] = []

        def line(text: str, depth: int) -> None:
            lines.append("  |" * depth + "--" + text if depth else text)

        def show(variables: Mapping[str, Any], depth: int) -> None:
            for key, value in sorted(mask_secrets(_public_vars(variables)).items()):
                line(f"{{{key} = {value}}}", depth)

        def walk(name: str, depth: int) -> None:
            node = self.groups[name]
            line(f"@{name}:", depth)
            for child in node.children:
                walk(child, depth + 1)
            if name != "all":
                for host in node.hosts:
                    if host not in hosts:
                        continue
                    line(host, depth + 1)
                    if show_vars:
                        show(hosts[host].vars, depth + 2)
            if show_vars:
                own = dict(node.vars)
                if node.priority != 1:
                    own["ansible_group_priority"] = node.priority
                show(own, depth + 1)

        walk(group, 0)
        return "\n".join(lines)

    def _group_members(self) -> dict[str, tuple[str, ...]]:
        return {name: group_hosts(self.groups, name) for name in self.groups}


def group_hosts(groups: Mapping[str, Group], name: str) -> tuple[str, ...]:
    # ansible-core's Group.get_hosts(): the group, its children, then each further generation, each
    # group's own hosts in definition order. (Ansible orders a generation beyond the children by a set;
    # here it is parent order, which is the same whenever that set has one member.)
    order = [name, *groups[name].children]
    seen = set(order)
    generation = list(groups[name].children)
    while generation:
        following = []
        for parent in generation:
            for child in groups[parent].children:
                if child not in seen:
                    seen.add(child)
                    following.append(child)
        order.extend(following)
        generation = following
    return tuple(dict.fromkeys(h for g in order for h in groups[g].hosts))


def _public_vars(variables: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in variables.items() if k not in _INTERNAL_VARS}


def _jsonable(value: Any) -> Any:
    # YAML may give dates and sets; json.dumps takes neither. Ansible prints dates in ISO form.
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Vaulted):
        return MASK
    return value
