"""The TCP sockets a process listens on: its socket inodes matched to the listening sockets.

The listening sockets of the probe's own network namespace are asked of the kernel over netlink
(``NETLINK_SOCK_DIAG``, the interface ``ss`` uses), for the listening state only: reading
``/proc/net/tcp{,6}`` instead makes the kernel format every socket of the host, thousands on a busy
one, for the few that listen. Where netlink is refused, and for a recorded tree, the tables are
read through the process's own ``/proc/PID/net``, once per namespace. A process in another
network namespace than the probe's (a container's bridge network) listens where this host cannot
reach it at that address: its sockets are not offered, and the reason says so. Reading another
user's fds needs root; then the reason says that.
"""

from __future__ import annotations

import contextlib
import os
import re

from ..driver import Context
from ..model import ListenSocket
from .proc import Process

# /proc/net/tcp: "  0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000 0 12345 ..."
# st 0A is TCP_LISTEN (include/net/tcp_states.h); the 10th field is the inode.
_LISTEN = rb"^\s*\d+: ([0-9A-F]+):([0-9A-F]{4}) [0-9A-F]+:[0-9A-F]{4} 0A (?:\S+\s+){5}(\d+)"
MAX_FDS = 4096  # a process with more open files is read this far: an engine's HTTP socket is opened early


# linux/sock_diag.h, linux/inet_diag.h, linux/netlink.h
NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, NLMSG_ERROR, NLMSG_DONE = 4, 20, 2, 3
NLM_F_REQUEST, NLM_F_DUMP, TCP_LISTEN, IPPROTO_TCP = 0x1, 0x300, 10, 6


def netlink_listeners() -> dict[int, tuple[str, int]]:
    """inode -> (address, port) of every TCP socket listening in this process's network namespace,
    from the kernel's sock_diag; OSError where netlink is refused (a seccomp filter, an old kernel).

    Each answer is a ``struct inet_diag_msg``: family, state, timer, retrans (u8 each), the socket id
    (sport, dport big-endian u16; src, dst 16 bytes; interface u32; cookie 8 bytes), then expires,
    rqueue, wqueue, uid and inode (u32 each). ``_socket``, not ``socket``: the probe need not build
    the latter's enums for this."""
    import _socket
    import struct

    found: dict[int, tuple[str, int]] = {}
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    try:
        sock.settimeout(2.0)
        for seq, family in enumerate((_socket.AF_INET, _socket.AF_INET6), start=1):
            request = struct.pack("=BBBBI", family, IPPROTO_TCP, 0, 0, 1 << TCP_LISTEN) + bytes(48)
            sock.sendall(struct.pack("=IHHII", 16 + len(request), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP,
                                     seq, 0) + request)
            done = False
            while not done:
                data = sock.recv(1 << 16)
                if not data:
                    raise OSError("netlink closed before its answer ended")
                offset = 0
                while offset + 16 <= len(data):
                    length, kind = struct.unpack_from("=IH", data, offset)
                    if kind == NLMSG_DONE:
                        done = True
                        break
                    if kind == NLMSG_ERROR or length < 16:
                        raise OSError("netlink refused the socket dump")
                    body = offset + 16
                    if length >= 16 + 72:
                        port = struct.unpack_from(">H", data, body + 4)[0]
                        raw = data[body + 8:body + 8 + (4 if family == _socket.AF_INET else 16)]
                        inode = struct.unpack_from("=I", data, body + 68)[0]
                        found[inode] = (_socket.inet_ntop(family, raw), port)
                    offset += (length + 3) & ~3
    finally:
        sock.close()
    return found


def _address(hexed: bytes) -> str:
    """An address of /proc/net/tcp{,6}: 32-bit words in the host's (little-endian) byte order."""
    import _socket

    raw = bytes.fromhex(hexed.decode())
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(_socket.inet_ntop(_socket.AF_INET if len(words) == 4 else _socket.AF_INET6, words))


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
        if namespace not in self.tables and self.ctx.proc_root == "/proc" and namespace == self.own_namespace():
            with contextlib.suppress(OSError):  # the tables below say the same, dearer
                self.tables[namespace] = netlink_listeners()
        if namespace not in self.tables:
            table: dict[int, tuple[str, int]] = {}
            for name in ("tcp", "tcp6"):
                data, _ = self.ctx.read_or_why(os.path.join(process.dir, "net", name), 64 << 20)
                table.update(parse_table(data or b""))
            self.tables[namespace] = table
        return self.tables[namespace]
