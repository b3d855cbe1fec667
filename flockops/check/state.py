"""What ``flockops check`` remembers between runs: per item, its breach streak and the state last
reported, for ``--consecutive`` and ``--notify``.

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
        streak, reported = (value.get("streak", 0), value.get("reported", 0)) if isinstance(value, dict) else (0, 0)
        if (all(isinstance(n, int) and not isinstance(n, bool) for n in (streak, reported))
                and 0 <= streak < 1 << 31 and 0 <= reported <= 3):
            memory[str(key)] = Memory(streak, reported)  # an entry of the wrong shape only costs its streak
    return memory


def save_state(path: Path, memory: Mapping[str, Memory]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"version": STATE_VERSION,
               "items": {k: {"streak": m.streak, "reported": m.reported} for k, m in sorted(memory.items())}}
    replace_file(path, json.dumps(payload, indent=1).encode())


def apply_consecutive(items: Sequence[Item], memory: Mapping[str, Memory], needed: int) -> list[Item]:
    """Hold a breach back as OK until it has lasted ``needed`` runs in a row."""
    out = []
    for item in items:
        streak = memory.get(item.key, Memory()).streak + 1 if item.state != State.OK else 0
        if item.state != State.OK and streak < needed:
            item = replace(item, state=State.OK, held=True,
                           text=f"{item.text} (breach {streak} of {needed}, not alerting yet)")
        out.append(item)
    return out


def remember(raw: Sequence[Item], reported: Sequence[Item], memory: Mapping[str, Memory]) -> dict[str, Memory]:
    updated = dict(memory)
    for before, after in zip(raw, reported, strict=True):
        streak = memory.get(before.key, Memory()).streak + 1 if before.state != State.OK else 0
        updated[before.key] = Memory(streak, after.state.exit_code)
    return updated


def changes(reported: Sequence[Item], memory: Mapping[str, Memory]) -> list[tuple[State, Item]]:
    """(previous state, item) for every item whose reported state differs from the last run's."""
    found = []
    for item in reported:
        previous = State.from_exit_code(memory.get(item.key, Memory()).reported)
        if previous != item.state:
            found.append((previous, item))
    return found
