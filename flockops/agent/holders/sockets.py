"""The TCP sockets a process listens on: its socket inodes matched to ``/proc/PID/net/tcp{,6}``.

The tables are read through the process's own ``/proc/PID/net`` (its network namespace), once
per namespace. A process in another network namespace than the probe's (a container's bridge
network) listens where this host cannot reach it at that address: its sockets are not offered,
and the reason says so. Reading another user's fds needs root; then the reason says that.
"""

from __future__ import annotations

import os
import re

from ..driver import Context
from ..model import ListenSocket
from .proc import Process

# /proc/net/tcp: "  0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 12345 ..."
# st 0A is TCP_LISTEN (include/net/tcp_states.h); the 10th field is the inode.
_LISTEN = rb"^\s*\d+: ([0-9A-F]+):([0-9A-F]{4}) [0-9A-F]+:[0-9A-F]{4} 0A (?:\S+\s+){5}(\d+)"
MAX_FDS = 4096  # a process with more open files is read this far: an engine's HTTP socket is opened early


def _address(hexed: bytes) -> str:
    """An address of /proc/net/tcp{,6}: 32-bit words in the host's (little-endian) byte order."""
    import ipaddress

    raw = bytes.fromhex(hexed.decode())
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def parse_table(data: bytes) -> dict[int, tuple[str, int]]:
    """inode -> (address, port) of each listening socket in a ``/proc/net/tcp`` or ``tcp6`` table.

    The layout, as the kernel's Documentation/networking/proc_net_tcp.rst shows it:
    ``46: 010310AC:9C4C 030310AC:1770 01 ...`` (local 172.16.3.1 port 40012, remote port 6000,
    state 01 ESTABLISHED); a listening socket's state is 0A, and its tenth field the inode.
    """
    found: dict[int, tuple[str, int]] = {}
    for match in re.finditer(_LISTEN, data, re.MULTILINE):
        try:
            found[int(match.group(3))] = (_address(match.group(1)), int(match.group(2), 16))
        except ValueError:
            continue  # a line the kernel never writes: skipped, not guessed
    return found


class Listeners:
    """Listening sockets by network namespace, read on first need."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.tables: dict[str, dict[int, tuple[str, int]]] = {}
        self._own: tuple[str | None] | None = None

    def own_namespace(self) -> str | None:
        if self._own is None:
            link, _ = self.ctx.link_or_why(os.path.join(self.ctx.proc_root, "self", "ns", "net"))
            self._own = (link,)
        return self._own[0]

    def sockets(self, process: Process) -> tuple[list[ListenSocket] | None, str | None]:
        """The sockets ``process`` listens on, or (None, why they cannot be told)."""
        namespace, why = self.ctx.link_or_why(os.path.join(process.dir, "ns", "net"))
        if namespace is None:
            return None, f"its network namespace: /proc/{process.pid}/ns/net: {why}"
        own = self.own_namespace()
        if own is not None and namespace != own:
            return None, "it listens in another network namespace (a container's): not reachable at that address"
        fds, why = self.ctx.list_or_why(os.path.join(process.dir, "fd"))
        if fds is None:
            return None, f"/proc/{process.pid}/fd: {why}"
        inodes = set()
        for fd in fds[:MAX_FDS]:
            link, _ = self.ctx.link_or_why(os.path.join(process.dir, "fd", fd))
            if link is not None and link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
        if not inodes:
            return [], None
        table = self._table(namespace, process)
        return [ListenSocket(address, port, process.pid) for inode, (address, port) in sorted(table.items())
                if inode in inodes], None

    def _table(self, namespace: str, process: Process) -> dict[int, tuple[str, int]]:
        if namespace not in self.tables:
            table: dict[int, tuple[str, int]] = {}
            for name in ("tcp", "tcp6"):
                data, _ = self.ctx.read_or_why(os.path.join(process.dir, "net", name), 64 << 20)
                table.update(parse_table(data or b""))
            self.tables[namespace] = table
        return self.tables[namespace]
