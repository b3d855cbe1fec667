"""YAML inventories and variables files.

ansible-core's ``plugins/inventory/yaml.py`` read node by node, so that errors can name their line,
and the group_vars/host_vars files. A module of its own because PyYAML is slow to import,
and an INI inventory without YAML variables files never needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from flockops.errors import InventoryError

from .files import read_text_file
from .ranges import expand_hosts
from .secrets import Vaulted, brief, names_secret

if TYPE_CHECKING:
    from .builder import Builder

_YAML_SECTIONS = ("vars", "children", "hosts")


def looks_like_yaml_mapping(text: str) -> bool:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except (yaml.YAMLError, RecursionError):
        return False
    return isinstance(node, yaml.MappingNode)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader plus the two Ansible tags an inventory may hold."""


def _construct_vault(loader: yaml.SafeLoader, node: yaml.Node) -> Vaulted:
    return Vaulted(str(loader.construct_scalar(node)))  # type: ignore[arg-type]


def _construct_unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    # !unsafe only stops Jinja templating, which flockops never does: the plain value.
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]


_Loader.add_constructor("!vault", _construct_vault)
_Loader.add_constructor("!unsafe", _construct_unsafe)


def _loader(text: str, file: str) -> _Loader:
    """A loader for ``text``; PyYAML refuses some characters (a NUL byte) as it is made."""
    try:
        return _Loader(text)
    except yaml.YAMLError as exc:  # yaml.reader.ReaderError: "unacceptable character #x0000"
        raise _yaml_error(exc, file, text) from None


# Values a file may expand to through its aliases (*name), beyond the nodes it holds: an alias is
# shared, not copied, when read, but the outputs that print values (inventory --list, --graph --vars)
# and the secret masking walk every use of it. Ten levels of ten aliases in a kilobyte are ten
# billion values ("billion laughs").
MAX_ALIAS_EXPANSION = 1_000_000


def check_aliases(root: yaml.Node, file: str) -> None:
    """InventoryError when the document's aliases make it expand past MAX_ALIAS_EXPANSION values."""
    sizes: dict[int, int] = {}  # node id -> the values it expands to, itself included
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    distinct = 0
    while stack:  # post-order, without recursion: a document may nest thousands of levels
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not children_done:
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
            continue
        distinct += 1
        sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
        if sizes[id(node)] - distinct > MAX_ALIAS_EXPANSION:
            raise InventoryError(f"its aliases expand to more than {MAX_ALIAS_EXPANSION:,} values (an alias of "
                                 "an alias of ...: refused, as ansible refuses a billion laughs)", file,
                                 node.start_mark.line + 1, None)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def read_vars_file(file: Path) -> dict[str, Any]:
    """One group_vars/host_vars file, as a mapping of variable names."""
    shown = str(file)
    text = read_text_file(file, "variables")
    loader = _loader(text, shown)
    try:
        node = loader.get_single_node()
        if node is not None:
            check_aliases(node, shown)
        data = None if node is None else loader.construct_document(node)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, KeyError, AttributeError) as exc:
        raise _yaml_error(exc, shown, text) from None
    except RecursionError:
        raise InventoryError("nested too deeply to read (thousands of levels of values)", shown) from None
    finally:
        loader.dispose()
    if not data:
        # ansible-core skips an empty file (or one holding only null, {} or an empty string).
        return {}
    if not isinstance(data, Mapping):
        line = node.start_mark.line + 1 if node is not None else None
        raise InventoryError(f"a variables file must be a mapping of variable names, got {_kind(data)}",
                             shown, line)
    return {str(k): v for k, v in data.items()}


def _yaml_error(exc: Exception, file: str, text: str, node: yaml.Node | None = None) -> InventoryError:
    """One YAML error, or a value its tag cannot build (``!!int hunter2``), as an InventoryError at its
    line. PyYAML quotes the offending token ("found undefined alias 'hunter2'"): on the line of a
    secret variable the quotes are hidden."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    mark = mark or (node.start_mark if node is not None else None)
    line = mark.line + 1 if mark is not None else None
    if isinstance(exc, yaml.reader.ReaderError):  # no mark: a character offset, and a repr of the byte
        line = text.count("\n", 0, exc.position) + 1
        return InventoryError(f"YAML cannot hold the character #x{exc.character:04x} ({exc.reason}); "
                              "remove it", file, line)
    if isinstance(exc, yaml.YAMLError):
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"YAML syntax error: {context}: {problem}" if context else f"YAML syntax error: {problem}"
    else:  # a constructor's ValueError/TypeError, whose text quotes the value
        detail = f"a value does not fit its tag ({type(exc).__name__}): {exc}"
    # A file that names a secret anywhere hides every quoted token: which key a broken line sits
    # under is the parser's to know (flow mappings, indentless lists, comments between), and a
    # hidden quote costs little. Quotes as Python's repr writes them, backslash escapes included.
    if names_secret(text):
        masked = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "\0", detail)
        unpaired = [i for i in (masked.find("'"), masked.find('"')) if i >= 0]
        if unpaired:  # a quote left without its pair: nothing after it is shown
            masked = masked[:min(unpaired)] + "…"
        detail = masked.replace("\0", "'…'") + " (the value is hidden: the file sets a secret)"
    return InventoryError(detail, file, line)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return f"a {type(value).__name__}"


class YamlReader:
    """ansible-core's yaml inventory plugin, reading node by node so that errors can name their line."""

    def __init__(self, builder: Builder, file: str, text: str) -> None:
        self.b = builder
        self.file = file
        self.text = text
        self.loader = _loader(text, file)

    def read(self) -> None:
        try:
            try:
                root = self.loader.get_single_node()
            except yaml.YAMLError as exc:
                raise _yaml_error(exc, self.file, self.text) from None
            if root is not None:
                check_aliases(root, self.file)
            if root is None:
                self.b.warn("the inventory is empty", None)
                return
            if not isinstance(root, yaml.MappingNode):
                raise self.b.error("a YAML inventory must be a mapping of group names, got "
                                   f"{_node_kind(root)}", _line(root))
            pairs = self._pairs(root)
            if "plugin" in [k for k, _, _ in pairs]:
                raise self.b.error("this is an inventory plugin configuration ('plugin' key), which flockops "
                                   "cannot run; give a YAML or INI inventory", _line(root), "plugin")
            for name, key_node, value in pairs:
                self._group(name, key_node, value)
        finally:
            self.loader.dispose()

    def _pairs(self, node: yaml.MappingNode) -> list[tuple[Any, yaml.Node, yaml.Node]]:
        try:
            explicit: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.loader.construct_object(key_node, deep=True)
                if isinstance(key, (list, dict)):
                    raise self.b.error(f"a key must be a name, got {_kind(key)}", _line(key_node))
                if key in explicit:
                    self.b.warn(f"duplicate key {key!r}; the last one wins", _line(key_node))
                explicit.add(key)
            self.loader.flatten_mapping(node)  # resolves "<<" merge keys, which the explicit keys override
            # Later keys win, at the place of the first, as in a Python dict (and in Ansible).
            pairs: dict[Any, tuple[Any, yaml.Node, yaml.Node]] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                pairs[key] = (key, key_node, value_node)
            return list(pairs.values())
        except (yaml.YAMLError, ValueError, TypeError, OverflowError, KeyError, AttributeError) as exc:  # see _value
            raise _yaml_error(exc, self.file, self.text, node) from None

    def _value(self, node: yaml.Node) -> Any:
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError, KeyError, AttributeError) as exc:
            # A tag's constructor fails on a value that does not fit it: !!bool hunter2 (KeyError),
            # !!timestamp hello (AttributeError), !!int x (ValueError).
            raise _yaml_error(exc, self.file, self.text, node) from None

    def _group(self, name: Any, key_node: yaml.Node, node: yaml.Node) -> None:
        """Read one group, or warn and skip it when its value is neither a mapping nor empty."""
        line = _line(key_node)
        if not _is_null(node) and not isinstance(node, yaml.MappingNode):
            self.b.warn(f"group {name!r} skipped: a group must be a mapping or empty, got {_node_kind(node)}", line)
            return
        if not isinstance(name, str) or not name:
            raise self.b.error(f"a group name must be a non-empty string, got {name!r}", line)
        self.b.add_group(name, line)
        if not isinstance(node, yaml.MappingNode):
            return
        sections = self._pairs(node)
        for key, section_key, section in sections:
            if key in _YAML_SECTIONS and not (_is_null(section) or isinstance(section, yaml.MappingNode)
                                              or _is_string(section)):
                what = {"hosts": "host names", "vars": "variable names", "children": "group names"}[key]
                raise self.b.error(f"group {name!r} key {key!r} must be a mapping of {what}, got "
                                   f"{_node_kind(section)}", _line(section_key), key)
        for key, section_key, section in sections:
            if key not in _YAML_SECTIONS:
                if isinstance(section, yaml.MappingNode) or _is_null(section):
                    # ansible-core is silent about an unknown key with no value; a typo ("host:") deserves a word.
                    self.b.warn(f"group {name!r} key {key!r} ignored: only 'hosts', 'vars' and 'children' are "
                                "valid", _line(section_key))
                else:
                    self.b.warn(f"group {name!r} key {key!r} skipped: it is {_node_kind(section)}, not a mapping",
                                _line(section_key))
                continue
            if _is_null(section):
                continue
            entries: list[tuple[Any, yaml.Node, yaml.Node | None]]
            if isinstance(section, yaml.MappingNode):
                entries = list(self._pairs(section))
            else:
                # A string: "hosts: node01" is allowed and means "hosts: {node01: }".
                entries = [(self._value(section), section, None)]
            if key == "vars":
                for var, var_node, value_node in entries:
                    value = None if value_node is None else self._value(value_node)
                    self.b.set_group_var(name, str(var), value, _line(var_node))
            elif key == "children":
                for child, child_node, child_value in entries:
                    self._group(child, child_node, _NULL if child_value is None else child_value)
                    # Even after a warning, as in ansible-core: fine if the name is a known group (or host).
                    self.b.add_child(name, str(child), _line(child_node))
            else:
                for pattern, host_node, vars_node in entries:
                    self._hosts(name, pattern, host_node, vars_node)

    def _hosts(self, group: str, pattern: Any, node: yaml.Node, vars_node: yaml.Node | None) -> None:
        line = _line(node)
        if not isinstance(pattern, str):
            raise self.b.error(f"group {brief(group)} host {brief(pattern)} must be a string; quote numbers",
                               line, str(pattern))
        try:
            names, port = expand_hosts(pattern)
        except ValueError as exc:
            raise self.b.error(f"group {brief(group)} host {brief(pattern)}: {exc}", line, pattern) from None
        pairs: list[tuple[Any, yaml.Node, yaml.Node]] = []
        if vars_node is not None and not _is_null(vars_node):
            if not isinstance(vars_node, yaml.MappingNode):
                raise self.b.error(f"group {brief(group)} host {brief(pattern)} must have a mapping of variables or "
                                   f"nothing, got {_node_kind(vars_node)}", line, pattern)
            pairs = self._pairs(vars_node)
        for host in names:
            self.b.add_host(host, group, port, line)
            for var, var_node, value_node in pairs:
                self.b.set_host_var(host, str(var), self._value(value_node), _line(var_node))


_NULL = yaml.ScalarNode("tag:yaml.org,2002:null", "")


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _is_string(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:str"


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    kinds = {"null": "nothing (null)", "bool": "a boolean", "int": "an integer", "float": "a number",
             "str": "a string"}
    return kinds.get(str(node.tag).rsplit(":", 1)[-1], f"a {node.tag} value")
