"""Host ranges in inventory host entries: ``node[01:20]``, ``[1:9:2]``, ``db-[a:f]``, ``host:port``."""

from __future__ import annotations

import string

from .limit import parse_address

MAX_RANGE_HOSTS = 100_000
# An inventory name is an alias, not always a DNS name, but one this long is a mistake.
MAX_NAME_CHARACTERS = 1024


def expand_hosts(pattern: str) -> tuple[list[str], int | None]:
    """Host names and port of one inventory host entry: ``node[01:03]:2222`` gives three names and 2222.

    Raises ValueError with the reason for a malformed range, or a name no host has.
    """
    if len(pattern) > MAX_NAME_CHARACTERS:
        raise ValueError(f"a host name of {len(pattern):,} characters; more than {MAX_NAME_CHARACTERS:,} is no "
                         "host name (DNS allows 253)")
    try:
        name, port = parse_address(pattern)
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
        # node[1:100000000] would take gigabytes, then hours; len() itself fails past a C long.
        count = max(0, (numbers.stop - numbers.start + numbers.step - (1 if numbers.step > 0 else -1))
                    // numbers.step)
        if count > MAX_RANGE_HOSTS:
            raise ValueError(f"host range [{inner}] names {count:,} hosts; more than "
                             f"{MAX_RANGE_HOSTS:,} in one range is surely a typo")
        values = [str(n).zfill(width) for n in numbers]
    names: list[str] = []
    for value in values:
        expanded = head + value + tail
        names.extend(expand_range(expanded) if "[" in expanded else [expanded])
        if len(names) > MAX_RANGE_HOSTS:  # n[1:1500]-[1:1500]: each range small, together millions
            raise ValueError(f"host ranges in {name!r} name more than {MAX_RANGE_HOSTS:,} hosts; surely a typo")
    return names
