"""Ansible-compatible inventories: YAML and INI files, group_vars/ and host_vars/, host ranges, limits.

An inventory that works with ``ansible-inventory -i FILE`` works here unchanged, and gives the same
hosts, groups and variables: ``Inventory.to_list_json()`` prints what ``ansible-inventory --list``
prints, except that secrets are masked. The rules follow ansible-core 2.19, read from its source:

- ``plugins/inventory/yaml.py`` and ``ini.py``: the two file formats (YAML in
  :mod:`flockops.inventory_yaml`, imported only when a YAML file is read);
- ``plugins/inventory/__init__.py``: ``expand_hostname_range`` (``node[01:20]``, ``[1:9:2]``, ``[a:f]``);
- ``inventory/data.py`` and ``group.py``: the implicit ``all`` and ``ungrouped`` groups, group depth;
- ``vars/manager.py``, ``inventory/helpers.py`` and ``plugins/vars/host_group_vars.py``: which variable
  wins, and which group_vars/host_vars files are read.

Everything is read and checked in ``load_inventory``, before any host is contacted: a structural fault
raises ``InventoryError`` naming file, line and key; a harmless oddity becomes a warning in
``Inventory.warnings`` (the CLI prints them to stderr).
"""

from __future__ import annotations

import ast
import datetime
import json
import os
import re
import shlex
import string
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flockops import limit as _limit
from flockops.errors import InventoryError

MASK = "********"
MAX_RANGE_HOSTS = 100_000
# Connection secrets by name; any other variable whose name contains one of SECRET_WORDS is masked too.
SECRET_VARS = frozenset({"ansible_password", "ansible_ssh_pass", "ansible_ssh_password", "ansible_become_password",
                         "ansible_become_pass", "ansible_sudo_pass", "ansible_su_pass", "ansible_private_key"})
# Also ansible-core 2.19's ansible_private_key_passphrase and the *_pass of other connection plugins
# (ansible_httpapi_pass, ansible_winrm_pass, ansible_net_auth_pass); a key *file* is a path, shown.
SECRET_WORDS = ("password", "passwd", "passphrase", "secret", "token", "credential", "api_key", "apikey")
SECRET_SUFFIXES = ("_pass", "_pw", "_pwd", "_private_key", "_key_data")

YAML_SUFFIXES = (".yml", ".yaml", ".json")
# ansible-core's C.YAML_FILENAME_EXTENSIONS, tried in this order after the bare name in group_vars/.
_VARS_FILE_SUFFIXES = ("", ".yml", ".yaml", ".json")
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


# --------------------------------------------------------------------------------------------------
# The data model


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
class Vaulted:
    """A ``!vault`` value. flockops cannot decrypt it, so it is treated as a secret that is not there."""

    ciphertext: str = field(repr=False)


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
        return _group_hosts(self.groups, name)

    def select(self, limit: str | None) -> tuple[Host, ...]:
        """The hosts a ``-l/--limit`` pattern selects, in inventory order; every host when ``limit`` is None.

        Patterns as in Ansible: ``a,b`` or ``a:b`` (union), ``a:&b`` (intersection), ``a:!b`` (exclusion),
        globs (``web*``), ``~regex`` (matched at the start of the name), group and host names mixed,
        ``all``/``*``, and subscripts (``gpu[0]``, ``gpu[1:3]``). Raises UsageError for a bad pattern.
        """
        if limit is None:
            return self.hosts
        names, _ = _limit.select_names(limit, [h.name for h in self.hosts], self._group_members())
        chosen = set(names)
        return tuple(h for h in self.hosts if h.name in chosen)

    def unmatched(self, limit: str | None) -> tuple[str, ...]:
        """The single patterns of ``limit`` that match no host or group (Ansible warns about each)."""
        if limit is None:
            return ()
        _, unmatched = _limit.select_names(limit, [h.name for h in self.hosts], self._group_members())
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
        return {name: _group_hosts(self.groups, name) for name in self.groups}


def _group_hosts(groups: Mapping[str, Group], name: str) -> tuple[str, ...]:
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


def is_secret(name: str) -> bool:
    """True for a variable whose value must not be printed: passwords, passphrases, secrets."""
    lowered = name.lower()
    return (lowered in SECRET_VARS or lowered == "pwd" or any(word in lowered for word in SECRET_WORDS)
            or lowered.endswith(SECRET_SUFFIXES))


def names_secret(text: str) -> bool:
    """``text`` (a line, or words of one) names a secret variable anywhere (``ansible_password Secr3t``,
    ``ansible_password:Secr3t``, ``{ansible_password: x}``): a value beside it may be a secret too."""
    return any(is_secret(word) for word in re.split(r"[\s=:'\"{},]+", text) if word)


def shown(text: str) -> str:
    """``text`` quoted for an error message, unless it names a secret: then it is not shown."""
    return "text that sets a secret (not shown)" if names_secret(text) else repr(text)


def mask_secrets(variables: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``variables`` with each secret (see ``is_secret``, at any depth, and ``!vault``) as ``MASK``."""
    return {key: MASK if is_secret(str(key)) else _mask_value(value) for key, value in variables.items()}


def _mask_value(value: Any) -> Any:
    if isinstance(value, Vaulted):
        return MASK
    if isinstance(value, Mapping):
        return mask_secrets(value)
    if isinstance(value, (list, tuple)):
        return [_mask_value(v) for v in value]
    return value


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


# --------------------------------------------------------------------------------------------------
# Loading


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
    builder = _Builder(str(paths[0]))
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
            _read_source(builder, file)
    builder.reconcile()
    return builder.build(bases, paths[0])


def _merged(layers: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The layers' variables, a later layer's value winning (ansible's default hash_behaviour=replace)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    return merged


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


def _read_source(builder: _Builder, path: Path) -> None:
    shown = str(path)
    builder.file = shown
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError("inventory file not found", shown) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read inventory: {exc}", shown) from None
    suffix = path.suffix.lower()
    if suffix == ".toml":
        raise InventoryError("TOML inventories are not supported; use YAML or INI", shown)
    if suffix in YAML_SUFFIXES or not suffix:
        from flockops.inventory_yaml import YamlReader, looks_like_yaml_mapping  # PyYAML: 25 ms, only for YAML

        if suffix or looks_like_yaml_mapping(text):
            YamlReader(builder, shown, _json_tabs_as_spaces(text)).read()
            return
    _IniReader(builder, shown).read(text.splitlines())


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


class _Builder:
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
        # The longest path from "all", which is what ansible-core's incremental depth amounts to.
        depth: dict[str, int] = {}

        def of(name: str) -> int:
            if name not in depth:
                parents = self.groups[name].parents
                depth[name] = 0 if not parents else 1 + max(of(p) for p in parents)
            return depth[name]

        for name in self.groups:
            of(name)
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
        for name in _group_hosts(groups, "all"):
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
        from flockops.inventory_yaml import read_vars_file  # PyYAML: 25 ms, only when there are such files

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


# --------------------------------------------------------------------------------------------------
# Host patterns in inventories


def expand_hosts(pattern: str) -> tuple[list[str], int | None]:
    """Host names and port of one inventory host entry: ``node[01:03]:2222`` gives three names and 2222.

    Raises ValueError with the reason for a malformed range.
    """
    try:
        name, port = _limit.parse_address(pattern)
    except ValueError:
        # Not an address Ansible recognises: the whole text is the name (ranges still expand).
        name, port = pattern, None
    return (expand_range(name) if "[" in name else [name]), port


def expand_range(name: str) -> list[str]:
    """Expand every ``[begin:end(:step)]`` in ``name``, as ansible-core's ``expand_hostname_range``.

    ``node[01:03]`` gives node01..node03 (a leading zero on ``begin`` keeps the width, and then
    ``end`` must be as wide); ``[1:9:2]`` steps; ``db-[a:c]`` runs over letters; ``[:3]`` starts at 0.
    """
    parts = name.replace("[", "|", 1).replace("]", "|", 1).split("|")
    if len(parts) != 3:
        raise ValueError("a host range needs one [begin:end] pair of brackets")
    head, inner, tail = parts
    bounds = inner.split(":")
    if len(bounds) not in (2, 3):
        raise ValueError("a host range must be begin:end or begin:end:step")
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise ValueError("a host range must have an end")
    width = 0
    if begin[0] == "0" and len(begin) > 1:
        width = len(begin)
        if len(end) != width:
            raise ValueError("a zero-padded host range must have begin and end of equal width")
    letters = string.ascii_letters
    # str.find, like ansible-core's str.index, finds one letter (or, quirkily, a run of letters).
    first, last = letters.find(begin), letters.find(end)
    values: list[str]
    if first >= 0 and last >= 0 and step_text.strip().lstrip("+").isdigit() and int(step_text) > 0:
        if first > last:
            raise ValueError("a host range must have begin <= end")
        values = list(letters[first : last + 1 : int(step_text)])
    else:
        try:
            numbers = range(int(begin), int(end) + 1, int(step_text))
        except ValueError:
            raise ValueError(f"bad host range [{inner}]: begin and end must be numbers or single letters, "
                             "and step a number other than 0") from None
        if len(numbers) > MAX_RANGE_HOSTS:  # node[1:100000000] would take gigabytes, then hours
            raise ValueError(f"host range [{inner}] names {len(numbers):,} hosts; more than "
                             f"{MAX_RANGE_HOSTS:,} in one range is surely a typo")
        values = [str(n).zfill(width) for n in numbers]
    names: list[str] = []
    for value in values:
        expanded = head + value + tail
        names.extend(expand_range(expanded) if "[" in expanded else [expanded])
        if len(names) > MAX_RANGE_HOSTS:  # n[1:1500]-[1:1500]: each range small, together millions
            raise ValueError(f"host ranges in {name!r} name more than {MAX_RANGE_HOSTS:,} hosts; surely a typo")
    return names


# --------------------------------------------------------------------------------------------------
# YAML


# --------------------------------------------------------------------------------------------------
# INI


# "[name]" or "[name:children]"/"[name:vars]", then an optional comment; a group name in [x:children].
_INI_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$")
_INI_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:\#.*)?$")


class _IniReader:
    """ansible-core's ini inventory plugin: sections, host lines, ``:vars`` and ``:children``.

    Values are Python literals where they parse as one (``ast.literal_eval``), strings otherwise; in
    host lines after shell-style word splitting (so ``x="'07'"`` is the string ``07``), and in
    ``:vars`` sections on the whole text after ``=``, comments included. Ansible's documentation says
    ``:vars`` values are always strings; ansible-core 2.19 does evaluate them, and this follows the code.
    """

    def __init__(self, builder: _Builder, file: str) -> None:
        self.b = builder
        self.file = file

    def read(self, lines: Sequence[str]) -> None:
        section, group_name = _INI_SECTION, _INI_GROUP_NAME
        # Groups named in [x:children] or [x:vars] before [x] is seen: name -> (line, state, parents).
        pending: dict[str, tuple[int, str, list[str]]] = {}
        group, state = "ungrouped", "hosts"
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            match = section.match(line)
            if match:
                group, state = match.group(1), match.group(2) or "hosts"
                if state not in ("hosts", "children", "vars"):
                    raise self.b.error(f"section [{group}:{state}] has an unknown type {state!r}; expected "
                                       "children or vars", number, state)
                if group not in self.b.groups:
                    # [x:vars] alone does not declare x; it must be declared somewhere in the file.
                    if state == "vars" and group not in pending:
                        pending[group] = (number, "vars", [])
                    self.b.add_group(group, number)
                if group in pending and state != "vars":
                    if pending[group][1] == "children":
                        self._add_pending(group, pending)
                    else:
                        del pending[group]
                continue
            if line.startswith("[") and line.endswith("]"):
                raise self.b.error(f"invalid section {line!r}: no spaces or other characters allowed in a "
                                   "section name", number)
            if state == "hosts":
                self._host_line(group, line, number)
            elif state == "vars":
                if "=" not in line:
                    raise self.b.error(f"[{group}:vars] expects key=value, got {shown(line)}", number)
                key, value = (part.strip() for part in line.split("=", 1))
                self.b.set_group_var(group, key, self._value(value, number, key), number)
            else:
                child_match = group_name.match(line)
                if not child_match:
                    raise self.b.error(f"[{group}:children] expects a group name, got {line!r}", number)
                child = child_match.group(1)
                if child in self.b.groups:
                    self.b.add_child(group, child, number)
                elif child in pending:
                    pending[child][2].append(group)
                else:
                    pending[child] = (number, "children", [group])
        for name, (number, kind, parents) in pending.items():
            if kind == "vars":
                raise self.b.error(f"section [{name}:vars] is for group {name!r}, which is not defined", number,
                                   name)
            raise self.b.error(f"section [{parents[-1]}:children] names group {name!r}, which is not defined",
                               number, name)

    def _add_pending(self, group: str, pending: dict[str, tuple[int, str, list[str]]]) -> None:
        number, _, parents = pending.pop(group)
        for parent in parents:
            self.b.add_child(parent, group, number)
            if parent in pending and pending[parent][1] == "children":
                self._add_pending(parent, pending)

    def _host_line(self, group: str, line: str, number: int) -> None:
        try:
            words = shlex.split(line, comments=True)
        except ValueError as exc:
            # Only the host is quoted: the rest of the line may hold a password.
            raise self.b.error(f"cannot parse the line of host {line.split()[0]!r}: {exc}", number) from None
        if not words or not words[0]:
            raise self.b.error(f"empty host name in {shown(line)}", number)
        pattern = words[0]
        try:
            names, port = expand_hosts(pattern)
        except ValueError as exc:
            raise self.b.error(f"host {pattern!r}: {exc}", number, pattern) from None
        if pattern.endswith(":") and port is None:
            raise self.b.error(f"host {pattern!r} ends in ':' without a port", number, pattern)
        if any(name.strip() == "---" for name in names):
            raise self.b.error("'---' is not a host; is this a YAML file without a .yml suffix?", number)
        variables = {}
        for word in words[1:]:
            if "=" not in word:
                # Most often the rest of an unquoted value with a space, or "key = value": on a line
                # that names a secret anywhere, the word is not quoted (nor the host, which may be the key).
                if names_secret(" ".join(words)):
                    raise self.b.error("a host line that names a secret expects key=value variables, without "
                                       "spaces around '=' (quote a value that has spaces)", number)
                raise self.b.error(f"host {pattern!r} expects key=value variables, got {word!r} "
                                   "(quote a value that has spaces)", number, word)
            key, value = word.split("=", 1)
            variables[key] = self._value(value, number, key)
        for name in names:
            self.b.add_host(name, group, port, number)
            for key, value in variables.items():
                self.b.set_host_var(name, key, value, number)

    def _value(self, text: str, number: int, key: str) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)
                value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        except (TypeError, MemoryError, RecursionError) as exc:
            shown = MASK if is_secret(key) else repr(text)
            raise self.b.error(f"variable {key!r} value {shown} cannot be read: {exc}", number, key) from None
        return _plain(value)


def _plain(value: Any) -> Any:
    # literal_eval can give types no inventory variable has: tuples and sets become lists, bytes text,
    # and an Ellipsis or a complex number the text it came from (all as ansible-core does).
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if value is Ellipsis:
        return "..."
    if isinstance(value, complex):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    return value

