"""A real OpenSSH sshd on loopback, for every SSH test and benchmark.

Keys come from ssh-keygen in a temp dir; sshd runs in the foreground (-D -e) and is
stopped by its own pid. Readiness is sshd's own "Server listening" line, not a sleep.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@dataclass
class Sshd:
    root: Path
    port: int
    process: subprocess.Popen[bytes]
    client_key: Path
    host_key: Path

    user: str = ""

    def known_hosts_line(self, host: str = "127.0.0.1") -> str:
        key_type, key = self.host_key.with_suffix(".pub").read_text().split()[:2]
        return f"[{host}]:{self.port} {key_type} {key}\n"

    def write_known_hosts(self, path: Path, hosts: tuple[str, ...] = ("127.0.0.1",)) -> Path:
        path.write_text("".join(self.known_hosts_line(h) for h in hosts))
        return path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    # --- watch: a host going away, and a connection dropping ---
    def session_pids(self, parent: int | None = None) -> list[int]:
        """The per-connection sshd processes: the listener's children (they outlive its stop)."""
        parent = self.process.pid if parent is None else parent
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue  # gone already
            if int(fields[1]) == parent:
                found.append(int(stat.parent.name))
        return found

    def kill_sessions(self, timeout: float = 10.0) -> None:
        """Drop every open SSH connection, and return once its sshd processes have ended; the listener
        goes on accepting new ones. The unprivileged child that holds the socket is killed too, and
        waited for: until it notices its monitor is gone it still serves open channels (watch's
        resident probe)."""
        pids = [pid for session in self.session_pids() for pid in (session, *self.session_pids(session))]
        handles = []
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                handles.append(os.pidfd_open(pid))
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as waiting:
            for handle in handles:
                waiting.register(handle, selectors.EVENT_READ)  # readable once the process has ended
            while waiting.get_map() and time.monotonic() < deadline:
                for key, _ in waiting.select(max(0.0, deadline - time.monotonic())):
                    waiting.unregister(key.fd)
        for handle in handles:
            os.close(handle)

    def stop_host(self) -> None:
        """The host goes away: open connections drop, and new ones are refused."""
        pids = self.session_pids()
        self.stop()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def start_sshd(root: Path, set_env: Mapping[str, str] | None = None, port: int | None = None) -> Sshd:
    """Start sshd on 127.0.0.1 with fresh keys under ``root``; ``set_env`` goes to sessions (SetEnv)."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    host_key = keygen(root / "host_key")
    client_key = keygen(root / "client_key")
    (root / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    port = port or free_port()
    lines = [
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"PidFile {root / 'sshd.pid'}",
        f"AuthorizedKeysFile {root / 'authorized_keys'}", "StrictModes no", "UsePAM no",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password", "MaxStartups 64:30:128", "MaxSessions 64", "LogLevel INFO",
    ]
    if set_env:
        lines.append("SetEnv " + " ".join(f"{k}={v}" for k, v in set_env.items()))
    config = root / "sshd_config"
    config.write_text("\n".join(lines) + "\n")
    process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
    assert process.stderr is not None
    # Wait for sshd to say it listens (bounded; it answers in milliseconds).
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    seen = b""
    deadline = time.monotonic() + 20
    while b"Server listening" not in seen:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"sshd did not start: {seen.decode(errors='replace')}")
        if selector.select(timeout=deadline - time.monotonic()):
            seen += os.read(process.stderr.fileno(), 4096)
    selector.close()
    # sshd keeps logging to this pipe; drain it so sshd never blocks on a full pipe.
    import threading

    threading.Thread(target=process.stderr.read, daemon=True).start()
    return Sshd(root=root, port=port, process=process, client_key=client_key, host_key=host_key,
                user=ensure_test_user())


TEST_USER = "flockops-test"


def ensure_test_user() -> str:
    """A user whose login shell is /bin/sh: a login shell that sources heavy rc files adds
    about 100 ms per command. Created when we are root (CI is); otherwise the current user."""
    import getpass
    import pwd

    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        pwd.getpwnam(TEST_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/bin/sh", TEST_USER], check=True)
        # useradd locks the password ("!"); without PAM sshd then refuses every method.
        subprocess.run(["usermod", "-p", "*", TEST_USER], check=True)
    return TEST_USER


def world_readable_dir(prefix: str) -> Path:
    """pytest's tmp dirs are private (0700); the SSH test user must read what we put here."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
