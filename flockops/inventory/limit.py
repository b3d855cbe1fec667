"""Host patterns: ``host:port`` addresses in inventories, and ``-l/--limit`` selections.

Both follow ansible-core so that a pattern means the same thing to flockops as to ``ansible -l``:
``parse_address`` mirrors ``ansible/parsing/utils/addresses.py``, and ``select_names`` mirrors
``InventoryManager.get_hosts`` (``split_host_pattern``, ``order_patterns``, ``_match_one_pattern``) in
``ansible/inventory/manager.py``. Pure functions over host and group names; no I/O.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Mapping, Sequence

from flockops.errors import UsageError

# Range expressions allowed inside addresses ("node[01:20]", "10.0.[1:3].1", "db-[a:f]").
_NUMERIC_RANGE = r"\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_HEX_RANGE = r"\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]"
_ALNUM_RANGE = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_IPV6_PART = rf"(?:[0-9a-f]{{1,4}}|{_HEX_RANGE})"
_IPV4_PART = rf"(?:[01]?[0-9]{{1,2}}|2[0-4][0-9]|25[0-5]|{_NUMERIC_RANGE})"
# A DNS-ish label that may hold ranges; it may not end with "-" or "_".
_LABEL = rf"(?:[\w]|{_ALNUM_RANGE})(?:[\w_-]|{_ALNUM_RANGE})*(?<![_-])"
_BRACKETED_HOSTPORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
# A host (which may hold complete [x:y] ranges) followed by ":port".
_HOSTPORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_IPV4 = re.compile(rf"^(?:{_IPV4_PART}\.){{3}}{_IPV4_PART}$", re.I)
_H = _IPV6_PART


@functools.cache
def _ipv6() -> re.Pattern[str]:
    """Every way to write an IPv6 address, from 1:2:3:4:5:6:7:8 through "a::b" forms to "::", plus
    IPv4-in-IPv6. Compiled on first use: it is slow to compile, and inventories of host names never need it."""
    return re.compile(
        rf"^((?:{_H}:){{7}}{_H}|(?:{_H}:){{1,6}}:|(?:{_H}:)(?::{_H}){{1,6}}|(?:{_H}:){{2}}(?::{_H}){{1,5}}|"
        rf"(?:{_H}:){{3}}(?::{_H}){{1,4}}|(?:{_H}:){{4}}(?::{_H}){{1,3}}|(?:{_H}:){{5}}(?::{_H}){{1,2}}|"
        rf"(?:{_H}:){{6}}(?::{_H})|:(?::{_H}){{1,6}}|{_H}?::|"
        rf"(?:0:){{6}}(?:{_H}\.){{3}}{_H}|::(?:ffff:)?(?:{_H}\.){{3}}{_H}|(?:0:){{5}}ffff:(?:{_H}\.){{3}}{_H})$",
        re.I,
    )

# Host names without ranges, which most are, checked by a pattern that compiles in a tenth of the time.
_PLAIN_LABEL = r"\w[\w-]*(?<![_-])"
_PLAIN_HOSTNAME = re.compile(rf"^{_PLAIN_LABEL}(?:\.{_PLAIN_LABEL})*$", re.UNICODE)


@functools.cache
def _hostname() -> re.Pattern[str]:
    return re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I | re.UNICODE)

# "web[0]", "web[1:3]", "web[2:]": a subscript into the hosts a pattern matched (never on a ~regex).
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
# The old ":"-separated form: words, each possibly holding complete [..] expressions.
_COLON_SEPARATED = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")


def parse_address(address: str) -> tuple[str, int | None]:
    """Split ``host:port``, ``[host]:port`` or a bare host (ranges allowed) into (host, port).

    ``[::1]:2201`` gives ``("::1", 2201)``; ``fe80::1`` gives ``("fe80::1", None)``: an IPv6 address can
    only carry a port inside square brackets. Raises ValueError when the rest is not an IPv4 or IPv6
    address or a host name, as ansible-core's ``parse_address(..., allow_ranges=True)`` does.
    """
    port: int | None = None
    # Both forms are tried in turn, as in ansible-core (its loop does not stop at the first match).
    for pattern in (_BRACKETED_HOSTPORT, _HOSTPORT):
        match = pattern.match(address)
        if match:
            address, port = match.group(1), int(match.group(2))
    if _PLAIN_HOSTNAME.match(address):
        return address, port
    if not (_IPV4.match(address) or _hostname().match(address) or _ipv6().match(address)):
        raise ValueError(f"not a valid network host name: {address}")
    return address, port


def split_patterns(limit: str) -> list[str]:
    """Split a limit into single patterns: on commas if there are any, else on colons outside [..].

    ``"gpu:&prod:!node02"`` gives ``["gpu", "&prod", "!node02"]``; an IPv6 address or ``node[1:3]`` that
    parses as one address stays whole, as in ansible-core's ``split_host_pattern``.
    """
    if "," in limit:
        parts = limit.split(",")
    else:
        try:
            parse_address(limit)
            parts = [limit]
        except ValueError:
            parts = _COLON_SEPARATED.findall(limit)
    return [p.strip() for p in parts if p.strip()]


def order_patterns(patterns: Sequence[str]) -> list[str]:
    """Plain patterns first, then ``&`` intersections, then ``!`` exclusions; ``all`` if no plain one."""
    plain = [p for p in patterns if p and p[0] not in "&!"]
    intersections = [p for p in patterns if p and p[0] == "&"]
    exclusions = [p for p in patterns if p and p[0] == "!"]
    return (plain or ["all"]) + intersections + exclusions


def select_names(
    limit: str, hosts: Sequence[str], groups: Mapping[str, Sequence[str]]
) -> tuple[list[str], list[str]]:
    """Evaluate ``limit`` as ansible-core does; return (matched host names, patterns that matched nothing).

    ``hosts`` is every host name; ``groups`` maps each group name (``all`` and ``ungrouped`` included, in
    inventory order) to the hosts of that group and its descendants. Matched names come in the order the
    patterns produced them; the caller puts them back in inventory order.
    Raises UsageError for an invalid ``~regex`` or a subscript beyond the matched hosts.
    """
    known = set(hosts)
    unmatched: list[str] = []
    result: list[str] = []
    for pattern in order_patterns(split_patterns(limit)):
        if pattern in known:
            # A plain host name is taken as is, without matching it against group names.
            result.append(pattern)
            continue
        matched = _match_one(pattern[1:] if pattern[0] in "&!" else pattern, hosts, groups, unmatched)
        if pattern[0] == "!":
            excluded = set(matched)
            result = [h for h in result if h not in excluded]
        elif pattern[0] == "&":
            kept = set(matched)
            result = [h for h in result if h in kept]
        else:
            present = set(result)
            result.extend(h for h in matched if h not in present)
    return list(dict.fromkeys(result)), unmatched


def _match_one(
    pattern: str, hosts: Sequence[str], groups: Mapping[str, Sequence[str]], unmatched: list[str]
) -> list[str]:
    if not pattern:  # a lone "!" or "&"
        unmatched.append(pattern)
        return []
    if pattern == "~":
        # An empty regex matches every host: here it is the rest of "~[unclosed", split at the "[".
        raise UsageError("an empty ~regex (an unclosed '[' in the limit?) would select every host")
    expr, subscript = _split_subscript(pattern)
    matcher = _compile(expr)
    matching_groups = [name for name in groups if matcher.match(name)]
    found: list[str] = [h for name in matching_groups for h in groups[name]]
    # A plain word that names a group does not also match a host of that name; a glob or regex does.
    if not matching_groups or expr[0] == "~" or any(c in expr for c in ".?*["):
        found.extend(h for h in hosts if matcher.match(h))
    if not found and not matching_groups and expr != "all":
        unmatched.append(pattern)
    if subscript is None or not found:
        return found
    start, end = subscript
    try:
        # An end of 0 means "no end" to ansible-core too: "web[2:0]" is just web[2].
        if not end:
            return [found[start]]
        return found[start : (len(found) - 1 if end == -1 else end) + 1]
    except IndexError:
        raise UsageError(f"no hosts matched the subscripted pattern {pattern!r}") from None


def _split_subscript(pattern: str) -> tuple[str, tuple[int, int | None] | None]:
    if pattern[0] == "~":
        return pattern, None
    match = _SUBSCRIPT.match(pattern)
    if not match:
        return pattern, None
    expr, index, start, _sep, end = match.groups()
    if index:
        return expr, (int(index), None)
    # "web[2:]" runs to the last host; ansible-core spells that end as -1.
    return expr, (int(start), int(end) if end else -1)


def _compile(expr: str) -> re.Pattern[str]:
    try:
        # A glob must match the whole name; a ~regex is anchored at the start only (re.match), as in Ansible.
        return re.compile(expr[1:] if expr[0] == "~" else fnmatch.translate(expr))
    except re.error as exc:
        raise UsageError(f"invalid host pattern {expr!r}: {exc}") from None
