"""SSH connections kept open between refreshes (``flockops watch``): a kept transport only opens a
new channel for each probe, instead of a new handshake per host per refresh."""

from __future__ import annotations

import threading

from .connection import SshConnection


class ConnectionPool:
    """Open :class:`SshConnection` objects by key (the inventory host name), reused across runs.

    A connection is taken out while one probe uses it and given back after, so two probes never
    share one (a probe that overran its deadline may still hold its connection when the next
    refresh starts: that refresh opens another). Thread-safe; :meth:`close` closes them all, and any
    given back later.
    """

    def __init__(self) -> None:
        self._idle: dict[str, SshConnection] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.opened = 0  # connections opened through this pool, for tests and --timing

    def take(self, key: str) -> SshConnection | None:
        """The idle open connection for ``key``, or None; a dropped one is closed and forgotten."""
        with self._lock:
            connection = self._idle.pop(key, None)
        if connection is not None and not connection.is_open():
            connection.close()
            return None
        return connection

    def give(self, key: str, connection: SshConnection) -> None:
        with self._lock:
            if not self._closed and key not in self._idle:
                self._idle[key] = connection
                return
        connection.close()

    def count_open(self) -> None:
        with self._lock:
            self.opened += 1

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle.values()), {}
        for connection in idle:
            connection.close()
