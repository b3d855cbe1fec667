"""What makes `flockops check` safe under cron: a run lock, remembered state, notifications.

The state file (``$XDG_STATE_HOME/flockops/check-state.json`` by default) keeps, per check
item, how many runs in a row it has been in breach and the state last reported; it is
written atomically (temp file and rename in the same directory).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from flockops.check import Item, State
from flockops.userdirs import replace_file

STATE_VERSION = 1


def default_state_file(env: Mapping[str, str] | None = None) -> Path:
    from flockops.userdirs import xdg_path

    base = xdg_path(os.environ if env is None else env, "XDG_STATE_HOME", (".local", "state"))
    return base / "flockops" / "check-state.json"


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[bool]:
    """flock(2) on ``path``; yields False at once when another run holds it. UsageError when the file
    cannot be opened (a directory, a missing directory)."""
    from flockops.errors import UsageError

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UsageError(f"--lock {path}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


@dataclass(frozen=True, slots=True)
class Memory:
    streak: int = 0  # runs in a row in breach (not OK)
    reported: int = int(State.OK)  # the state last reported (after --consecutive)


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
        if all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 1 << 31 for n in (streak, reported)):
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
        updated[before.key] = Memory(streak, int(after.state))
    return updated


def changes(reported: Sequence[Item], memory: Mapping[str, Memory]) -> list[tuple[State, Item]]:
    """(previous state, item) for every item whose reported state differs from the last run's."""
    return [(State(memory.get(i.key, Memory()).reported), i) for i in reported
            if State(memory.get(i.key, Memory()).reported) != i.state]


def notify(url: str, changed: Sequence[tuple[State, Item]], timeout_s: float = 5.0) -> list[str]:
    """POST one JSON message per state change; returns the errors (a failed notification is
    said on stderr, it never changes the check's state)."""
    import urllib.error
    import urllib.request

    errors = []
    for previous, item in changed:
        message: dict[str, Any] = {
            "source": "flockops", "host": item.host, "check": item.key, "from": previous.name,
            "to": item.state.name, "text": item.text,
            "gpu": None if item.gpu is None else {"index": item.gpu.index, "name": item.gpu.name,
                                                  "uuid": item.gpu.uuid},
        }
        request = urllib.request.Request(url, data=json.dumps(message).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                response.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            errors.append(f"notification to {shown_url(url)} failed: {exc}")
    return errors


def shown_url(url: str) -> str:
    """``url`` without what may be a secret: the user and password before ``@``, and the query
    (``?token=...``), which webhook URLs often carry."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an unreadable URL)"
    user = "…@" if "@" in parts.netloc else ""
    query = "?…" if parts.query else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}{query}" if parts.scheme else "(not a URL)"
