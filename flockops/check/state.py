"""What ``flockops check`` remembers between runs: per item, its breach streak, the state last
reported and the state the webhook last heard of, for ``--consecutive`` and ``--notify``.

The state file (``$XDG_STATE_HOME/flockops/check-state.json`` by default) is written atomically
(temp file and rename in the same directory).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from flockops.userdirs import replace_file

from .rules import Item, State

STATE_VERSION = 1


def default_state_file(env: Mapping[str, str] | None = None) -> Path:
    from flockops.userdirs import xdg_path

    base = xdg_path(os.environ if env is None else env, "XDG_STATE_HOME", (".local", "state"))
    return base / "flockops" / "check-state.json"


@dataclass(frozen=True, slots=True)
class Memory:
    streak: int = 0  # runs in a row in breach (not OK)
    reported: int = State.OK.exit_code  # the state last reported (after --consecutive), as its exit code
    # The state last delivered to --notify's webhook: a message that failed leaves it behind, and
    # the next run sends the change again. Files older than it did not keep it: as reported.
    notified: int | None = None

    @property
    def heard(self) -> State:
        """The state the webhook last heard of."""
        return State.from_exit_code(self.reported if self.notified is None else self.notified)


def load_state(path: Path) -> dict[str, Memory]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}  # a damaged state file only costs the streaks, never the check
    items = data.get("items", {}) if isinstance(data, dict) else {}
    if not isinstance(items, dict):
        return {}
    memory = {}
    for key, value in items.items():
        if not isinstance(value, dict):
            continue  # an entry of the wrong shape only costs its streak
        streak, reported, notified = value.get("streak", 0), value.get("reported", 0), value.get("notified")
        if (all(isinstance(n, int) and not isinstance(n, bool) for n in (streak, reported))
                and 0 <= streak < 1 << 31 and 0 <= reported <= 3):
            if not (isinstance(notified, int) and not isinstance(notified, bool) and 0 <= notified <= 3):
                notified = None
            memory[str(key)] = Memory(streak, reported, notified)
    return memory


def save_state(path: Path, memory: Mapping[str, Memory]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    items = {}
    for key, m in sorted(memory.items()):
        entry = {"streak": m.streak, "reported": m.reported}
        if m.notified is not None and m.notified != m.reported:
            entry["notified"] = m.notified  # only while a change is still due to the webhook
        items[key] = entry
    payload = {"version": STATE_VERSION, "items": items}
    replace_file(path, json.dumps(payload, indent=1).encode())


def apply_consecutive(items: Sequence[Item], memory: Mapping[str, Memory], needed: int) -> list[Item]:
    """Hold a breach back as OK until it has lasted ``needed`` runs in a row (an item's own ``runs``,
    where its rule sets one: KV-cache pressure)."""
    out = []
    for item in items:
        needed_here = item.runs or needed
        streak = memory.get(item.key, Memory()).streak + 1 if item.state != State.OK else 0
        if item.state != State.OK and streak < needed_here:
            item = replace(item, state=State.OK, held=True,
                           text=f"{item.text} (breach {streak} of {needed_here}, not alerting yet)")
        out.append(item)
    return out


def remember(raw: Sequence[Item], reported: Sequence[Item], memory: Mapping[str, Memory],
             undelivered: Mapping[str, State] | None = None) -> dict[str, Memory]:
    """The memory after this run. ``undelivered``: the items whose change the webhook did not take,
    with the state it last heard of, kept so that the next run sends the change again."""
    updated = dict(memory)
    for before, after in zip(raw, reported, strict=True):
        streak = memory.get(before.key, Memory()).streak + 1 if before.state != State.OK else 0
        heard = (undelivered or {}).get(before.key)
        updated[before.key] = Memory(streak, after.state.exit_code, None if heard is None else heard.exit_code)
    return updated


def changes(reported: Sequence[Item], memory: Mapping[str, Memory]) -> list[tuple[State, Item]]:
    """(the state the webhook last heard of, item) for every item whose reported state differs from it."""
    found = []
    for item in reported:
        heard = memory.get(item.key, Memory()).heard
        if heard != item.state:
            found.append((heard, item))
    return found
