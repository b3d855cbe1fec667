"""An SSH server on loopback that never answers an exec request: a wedged or hostile sshd.

OpenSSH cannot be made to do this (it answers an exec request as soon as the command has
forked), so this one fault is played by paramiko's server side: it completes the handshake,
accepts any public key and a session channel, and then holds every exec request until
``stop()``. Everything else about SSH in the tests is the real sshd (tests/support/sshd.py).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import paramiko


class _Wedged(paramiko.ServerInterface):
    def __init__(self, release: threading.Event) -> None:
        self.release = release

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        self.release.wait()  # the client's exec request goes unanswered until the test ends
        return False


class StuckSshServer:
    def __init__(self) -> None:
        self.key = paramiko.ECDSAKey.generate()
        self.release = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # stopped
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.key)
            self.transports.append(transport)
            transport.start_server(server=_Wedged(self.release))  # runs in the transport's own thread

    def known_hosts_line(self) -> str:
        return f"[127.0.0.1]:{self.port} {self.key.get_name()} {self.key.get_base64()}\n"

    def stop(self) -> None:
        self.release.set()
        self.listener.close()
        for transport in self.transports:
            transport.close()


def known_hosts_with(path: Path, server: StuckSshServer) -> None:
    with path.open("a") as known_hosts:
        known_hosts.write(server.known_hosts_line())
