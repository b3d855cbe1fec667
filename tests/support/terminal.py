"""Running flockops with a stream on a pseudo-terminal of a chosen size, as a person's terminal is."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from collections.abc import Mapping, Sequence


def run_on_terminal(args: Sequence[str], env: Mapping[str, str], columns: int = 80, rows: int = 50,
                    stream: str = "stdout", timeout: float = 60) -> tuple[int, str, str]:
    """``python -m flockops ARGS`` with ``stream`` ("stdout" or "stderr") on a pty of ``columns`` x
    ``rows``, the other stream a pipe: (exit code, what the terminal showed, what the pipe got)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    on_terminal = {"stdout": slave} if stream == "stdout" else {"stderr": slave}
    piped = {"stderr": subprocess.PIPE} if stream == "stdout" else {"stdout": subprocess.PIPE}
    process = subprocess.Popen([sys.executable, "-m", "flockops", *args], stdin=subprocess.DEVNULL, env=dict(env),
                               **on_terminal, **piped)  # type: ignore[call-overload]
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], timeout)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer of the terminal has closed it
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    other = process.stderr if stream == "stdout" else process.stdout
    rest = other.read().decode(errors="replace") if other else ""
    # The terminal's line discipline writes \r\n for \n.
    return process.wait(timeout=timeout), seen.decode(errors="replace").replace("\r\n", "\n"), rest
