"""A remote command's stdin, stdout and stderr on one SSH channel, moved together.

The two output streams share the channel's window: a command that writes to stderr while the
controller waits on stdout fills that window, and then neither side moves until the deadline (a
probe whose Python wrote 2 MiB of warnings first looked like a host that timed out). So stdout and
stderr are read as they arrive, and stdin is written by a thread of its own while they are. What a
target prints is bounded: its answer (a few kB per GPU) by :data:`MAX_OUTPUT_BYTES`, and only the
last :data:`STDERR_KEPT` bytes of stderr are kept (the end of a traceback says why a probe failed).
"""

from __future__ import annotations

import select
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import paramiko

# A host's report is a few kB per GPU: more is a broken or hostile target, whose answer must not
# fill the controller's memory (nor take past its deadline to parse).
MAX_OUTPUT_BYTES = 4 << 20
STDERR_KEPT = 64 << 10
_CHUNK = 65536


class OutputTooLarge(Exception):
    """The remote command printed more than MAX_OUTPUT_BYTES."""


class Sender:
    """Writes ``data`` to the channel's stdin from a thread of its own, then closes stdin when
    ``close`` (the one-shot probe reads to the end of its stdin). A command that ended without
    reading it all (a broken interpreter, the shell branch) is no error: what it printed tells."""

    def __init__(self, chan: paramiko.Channel, data: bytes, close: bool) -> None:
        self.chan = chan
        self.data = data
        self.close = close
        self.failure: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True, name="flockops-stdin")
        self.thread.start()

    def _run(self) -> None:
        try:
            if self.data:
                self.chan.sendall(self.data)
            if self.close:
                self.chan.shutdown_write()
        except (OSError, EOFError) as exc:  # the command stopped reading, or the channel went
            self.failure = exc

    def wait(self, deadline: float) -> None:
        self.thread.join(max(0.0, deadline - time.monotonic()))


def read_streams(chan: paramiko.Channel, deadline: float, until: bytes | None = None) -> tuple[bytes, bytes]:
    """stdout and the tail of stderr, read together until the command's end of output, or (``until``)
    until stdout ends with that marker. TimeoutError past ``deadline``, OutputTooLarge past the cap."""
    out = bytearray()
    err = bytearray()
    while True:
        moved = False
        if chan.recv_ready():
            out += chan.recv(_CHUNK)
            moved = True
            if len(out) > MAX_OUTPUT_BYTES:
                raise OutputTooLarge()
            if until is not None and out.endswith(until):
                return bytes(out), bytes(err)
        if chan.recv_stderr_ready():
            err += chan.recv_stderr(_CHUNK)
            del err[:-STDERR_KEPT]
            moved = True
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError()
        if moved:
            continue
        if chan.eof_received or chan.closed:
            if not (chan.recv_ready() or chan.recv_stderr_ready()):  # the last bytes came with the end
                return bytes(out), bytes(err)
            continue
        # The channel's fileno is readable when either stream has data, or the channel ends.
        select.select([chan], [], [], min(left, 1.0))
