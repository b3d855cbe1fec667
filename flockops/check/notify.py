"""``--notify``: a JSON message POSTed to a webhook for each check item whose state changed.

Every message is sent at once (a few connections at a time), all within one time budget: a webhook
that hangs, or trickles its answer a byte at a time, costs that budget and never the check's
verdict. At the end of the budget every connection still open is closed, so nothing outlives it.

A POST is never turned into a GET. urllib (and browsers) follow a 301, 302 or 303 by sending a
bodiless GET to the new place, which loses the alert while the webhook answers "200 OK"; here a 307
or 308 is followed as the same POST, three hops at most, and any other redirect is reported. A
message that was not delivered stays due: :mod:`flockops.check.state` keeps what the webhook last
heard of each item, and the next run sends it again.

Credentials in the URL (``https://user:password@host/...``) are sent as basic auth, only to that
host, and never shown: :func:`shown_url` leaves them out of every message, with the query string
(webhook URLs often carry ``?token=...``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flockops.agent.fields import seconds

from .rules import Item, State

if TYPE_CHECKING:
    import http.client

DEFAULT_BUDGET_S = 10.0  # for all of a run's messages together
CONNECTIONS = 8  # messages in flight at once
MAX_REDIRECTS = 3
MAX_ANSWER_BYTES = 64 << 10  # a webhook's answer is read (and dropped) up to this much


@dataclass(frozen=True, slots=True)
class Delivery:
    """What came of one message."""

    key: str  # the check item's key
    delivered: bool
    problem: str | None = None


def message(previous: State, item: Item) -> dict[str, Any]:
    return {
        "source": "flockops", "host": item.host, "check": item.key, "from": previous.name, "to": item.state.name,
        "text": item.text,
        "gpu": None if item.gpu is None else {"index": item.gpu.index, "name": item.gpu.name, "uuid": item.gpu.uuid},
    }


class _Sender:
    """The connections of one run's notifications, closed together when the budget ends."""

    def __init__(self, url: str, deadline: float, clock: Callable[[], float]) -> None:
        self.url = url
        self.deadline = deadline
        self.clock = clock
        self.lock = threading.Lock()
        self.open: set[http.client.HTTPConnection] = set()
        self.expired = False

    def remaining(self) -> float:
        left = self.deadline - self.clock()
        if left <= 0:
            raise TimeoutError()
        return left

    def close_all(self) -> None:
        with self.lock:
            self.expired = True
            connections, self.open = list(self.open), set()
        import socket

        for connection in connections:
            if connection.sock is not None:
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked on a trickle
            connection.close()

    def post(self, body: bytes) -> str | None:
        """None when the webhook took the message, else why not."""
        from urllib.parse import urljoin, urlsplit

        url = self.url
        origin = urlsplit(url).netloc.rpartition("@")[2]
        for _ in range(MAX_REDIRECTS + 1):
            parts = urlsplit(url)
            # Basic auth from the URL the user gave, never sent to another host a redirect names.
            auth = parts.username is not None and parts.netloc.rpartition("@")[2] == origin
            status, reason, location = self._exchange(parts, body, auth)
            if 200 <= status < 300:
                return None
            if status in (307, 308) and location:
                url = urljoin(url, location)
                continue
            if status in (301, 302, 303):
                return (f"the webhook answered {status} {reason} (a redirect to {shown_url(urljoin(url, location))}); "
                        "a POST there would become a GET and lose the message, so it was not sent: give --notify "
                        "the final URL")
            return f"the webhook answered HTTP {status} {reason}"
        return f"more than {MAX_REDIRECTS} redirects"

    def _exchange(self, parts: Any, body: bytes, auth: bool) -> tuple[int, str, str]:
        import http.client

        port = parts.port
        if parts.scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname, port, timeout=self.remaining())
        else:
            connection = http.client.HTTPConnection(parts.hostname, port, timeout=self.remaining())
        with self.lock:
            if self.expired:
                raise TimeoutError()
            self.open.add(connection)
        try:
            headers = {"Content-Type": "application/json", "User-Agent": "flockops"}
            if auth:
                from urllib.parse import unquote

                pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            connection.request("POST", path, body=body, headers=headers)
            if connection.sock is not None:
                connection.sock.settimeout(self.remaining())
            response = connection.getresponse()
            read = 0
            while read < MAX_ANSWER_BYTES:  # the answer is read to free the connection, never kept
                if connection.sock is not None:
                    connection.sock.settimeout(self.remaining())
                chunk = response.read1(4096)
                if not chunk:
                    break
                read += len(chunk)
            return response.status, response.reason, response.getheader("Location") or ""
        finally:
            with self.lock:
                self.open.discard(connection)
            connection.close()


def notify(url: str, changed: Sequence[tuple[State, Item]], budget_s: float = DEFAULT_BUDGET_S,
           clock: Callable[[], float] = time.monotonic) -> list[Delivery]:
    """POST one JSON message per change, all within ``budget_s``; what came of each, in order."""
    sender = _Sender(url, clock() + budget_s, clock)
    late = f"no complete answer within the notification budget of {seconds(budget_s)} s"
    results: dict[int, Delivery] = {}
    work: queue.Queue[int] = queue.Queue()
    for position in range(len(changed)):
        work.put(position)
    done = threading.Condition()

    def worker() -> None:
        while True:
            try:
                position = work.get_nowait()
            except queue.Empty:
                return
            previous, item = changed[position]
            problem: str | None
            try:
                problem = sender.post(json.dumps(message(previous, item)).encode())
            except TimeoutError:
                problem = late
            except (OSError, ValueError) as exc:  # refused, DNS, TLS, a URL http.client cannot use
                problem = late if sender.expired else (str(exc) or type(exc).__name__)
            except Exception as exc:  # http.client's protocol errors: this message's only
                problem = late if sender.expired else f"{type(exc).__name__}: {exc}"
            with done:
                results[position] = Delivery(item.key, problem is None, problem)
                done.notify_all()

    threads = [threading.Thread(target=worker, daemon=True, name="flockops-notify")
               for _ in range(min(CONNECTIONS, len(changed)))]
    for thread in threads:
        thread.start()
    with done:
        done.wait_for(lambda: len(results) == len(changed), timeout=max(0.0, sender.deadline - clock()))
    sender.close_all()  # what is still open is past the budget: its worker ends now
    for thread in threads:
        thread.join(1.0)
    return [results.get(i) or Delivery(item.key, False, late) for i, (_, item) in enumerate(changed)]


def problems(url: str, deliveries: Sequence[Delivery]) -> list[str]:
    """The warnings to print: one per distinct problem, with how many messages it cost."""
    by_problem: dict[str, list[str]] = {}
    for delivery in deliveries:
        if not delivery.delivered:
            by_problem.setdefault(delivery.problem or "failed", []).append(delivery.key)
    said = []
    for problem, keys in by_problem.items():
        what = keys[0] if len(keys) == 1 else f"{len(keys)} items"
        said.append(f"notification to {shown_url(url)} failed for {what}: {problem}; it is sent again at the next run")
    return said


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
