"""``--notify``: a JSON message POSTed to a webhook for each check item whose state changed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .rules import Item, State


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
