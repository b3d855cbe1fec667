"""INI inventories, as ansible-core's ini inventory plugin reads them."""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from collections.abc import Sequence
from typing import Any

from .builder import Builder
from .ranges import expand_hosts
from .secrets import MASK, brief, is_secret, names_secret, shown

# "[name]" or "[name:children]"/"[name:vars]", then an optional comment; a group name in [x:children].
_INI_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:\#.*)?$")
# What shlex's POSIX mode treats specially: quotes, escapes and comments.
_SHELL_SPECIAL = re.compile(r"[\\'\"#]")
_SHLEX_WHITESPACE = re.compile(r"[ \t\r\n]+")  # shlex.whitespace: not str.split's Unicode spaces
_INI_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:\#.*)?$")


class IniReader:
    """ansible-core's ini inventory plugin: sections, host lines, ``:vars`` and ``:children``.

    Values are Python literals where they parse as one (``ast.literal_eval``), strings otherwise; in
    host lines after shell-style word splitting (so ``x="'07'"`` is the string ``07``), and in
    ``:vars`` sections on the whole text after ``=``, comments included. Ansible's documentation says
    ``:vars`` values are always strings; ansible-core 2.19 does evaluate them, and this follows the code.
    """

    def __init__(self, builder: Builder, file: str) -> None:
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
            # shlex reads a character at a time; a line with nothing it would treat specially splits
            # the same at whitespace (a 1 MB host name took shlex 15 s).
            plain = not _SHELL_SPECIAL.search(line)
            words = [w for w in _SHLEX_WHITESPACE.split(line) if w] if plain else shlex.split(line, comments=True)
        except ValueError as exc:
            # Only the host is quoted: the rest of the line may hold a password.
            raise self.b.error(f"cannot parse the line of host {brief(line.split()[0])}: {exc}", number) from None
        if not words or not words[0]:
            raise self.b.error(f"empty host name in {shown(line)}", number)
        pattern = words[0]
        try:
            names, port = expand_hosts(pattern)
        except ValueError as exc:
            raise self.b.error(f"host {brief(pattern)}: {exc}", number, pattern) from None
        if pattern.endswith(":") and port is None:
            raise self.b.error(f"host {brief(pattern)} ends in ':' without a port", number, pattern)
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
                raise self.b.error(f"host {brief(pattern)} expects key=value variables, got {brief(word)} "
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
