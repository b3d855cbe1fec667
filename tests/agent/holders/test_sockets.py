"""The sockets an engine listens on, from this machine's real /proc (flockops.agent.holders.sockets)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from support.procfs import proc_root, write_process

from flockops.agent.driver import Context
from flockops.agent.holders.proc import Process
from flockops.agent.holders.sockets import Listeners, parse_table


def test_a_listening_socket_of_this_process_is_found() -> None:
    with socket.socket() as listening, socket.socket(socket.AF_INET6) as six, socket.socket() as idle:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        six.bind(("::", 0))
        six.listen()
        idle.bind(("127.0.0.1", 0))  # bound, not listening: no server there
        ports = listening.getsockname()[1], six.getsockname()[1], idle.getsockname()[1]
        ctx = Context.local()
        found, why = Listeners(ctx).sockets(Process(ctx, os.getpid()))
    assert why is None and found is not None
    mine = {(s.address, s.port) for s in found}
    assert ("127.0.0.1", ports[0]) in mine and ("::", ports[1]) in mine
    assert all(s.port != ports[2] and s.pid == os.getpid() for s in found)


def test_the_kernels_table_layout() -> None:
    """The kernel documentation's example line, with its state set to LISTEN (0A)."""
    line = (b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
            b"  46: 010310AC:9C4C 030310AC:1770 0A 00000150:00000000 01:00000019 00000000  1000        0 54165785 4 "
            b"cd1e6040 25 4 27 3 -1\n")
    assert parse_table(line) == {54165785: ("172.16.3.1", 40012)}


def test_another_network_namespace_is_not_offered(tmp_path: Path) -> None:
    proc = proc_root(tmp_path / "proc")
    engine = write_process(proc, 7000, ["llama-server", "-m", "x.gguf"])
    (engine / "ns").mkdir()
    (engine / "ns" / "net").symlink_to("net:[4026532999]")  # a container's bridge network
    ctx = Context(env={}, proc_root=str(proc))
    found, why = Listeners(ctx).sockets(Process(ctx, 7000))
    assert found is None and why is not None and "another network namespace" in why
