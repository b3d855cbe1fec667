"""The least any SSH fan-out can do: connect, authenticate, run `true`, close, N hosts at once.

Imported by fleet_speed.py (timed in-process, paramiko already loaded) and run as a script
(timed as a whole program, interpreter start and `import paramiko` included, as flockops is):
python benchmarks/paramiko_floor.py N PORT USER KEY KNOWN_HOSTS FORKS
"""

from __future__ import annotations

import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


def floor(n: int, port: int, user: str, key: Path, known_hosts: Path, forks: int) -> float:
    import paramiko

    def one(_: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = paramiko.SSHClient()
        client.load_system_host_keys(str(known_hosts))
        client.connect("127.0.0.1", port=port, username=user, key_filename=str(key), sock=sock,
                       allow_agent=False, look_for_keys=False)
        _, stdout, _ = client.exec_command("true")
        stdout.channel.recv_exit_status()
        client.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(forks) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - started


if __name__ == "__main__":
    n, port, user, key, known_hosts, forks = sys.argv[1:7]
    floor(int(n), int(port), user, Path(key), Path(known_hosts), int(forks))
