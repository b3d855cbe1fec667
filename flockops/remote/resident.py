"""``flockops watch``'s probe: one that stays running on each target between refreshes.

``flockops report`` starts a fresh python3 per host (:mod:`flockops.remote.command`); at every watch refresh
that start (interpreter, imports, pynvml) cost each target its CPU every time. Here the same
bootstrap runs once per host in serve mode, on a long-lived exec channel of the kept SSH connection:
the zip goes first, length-prefixed so that stdin stays open; then each refresh writes one request
line and reads one JSON report ended by an end-marker line.

A target without Python 3.10+ runs the shell branch of the same command, which answers once and
ends: that output is the refresh's answer, and the next refresh starts the command again (so such a
host costs what the one-shot probe does).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from flockops.agent.driver import CommandResult
from flockops.agent.main import END_MARKER

from .command import JSON_MARKER, framed
from .connection import MAX_OUTPUT_BYTES, OutputTooLarge, _drain, channel_failure

if TYPE_CHECKING:
    import paramiko

    from .connection import SshConnection

REQUEST = b"sample\n"
_END_LINE = (END_MARKER + "\n").encode()
_STDERR_KEPT = 64 << 10  # of a probe that never answered: its reason, not a flood


class ResidentProbe:
    """The serve-mode probe on one channel. Used by one refresh at a time: it lives on its
    :class:`SshConnection`, which the pool lends to one worker at a time."""

    def __init__(self, chan: paramiko.Channel, command: str, label: str) -> None:
        self.chan = chan
        self.command = command
        self.label = label
        self.answered = 0  # reports read so far

    def alive(self) -> bool:
        return not self.chan.closed and not self.chan.eof_received

    def sample(self, deadline: float, first_input: bytes = b"") -> CommandResult:
        """One report, its stdout shaped as the one-shot probe's (the JSON marker line, then the
        report) so that :func:`flockops.remote.answer.interpret` reads either. A ConnectionFailure on a
        timeout or a lost probe: the caller then closes the connection, and this with it."""
        try:
            try:
                self.chan.settimeout(max(0.1, deadline - time.monotonic()))
                self.chan.sendall(first_input + REQUEST)
            except TimeoutError:
                raise
            except (OSError, EOFError):
                if self.answered:
                    raise
                # A fresh command that ended without reading its stdin (the shell branch, a broken
                # interpreter): what it printed is the answer, so read on.
            out = bytearray()
            while not out.endswith(_END_LINE):
                self.chan.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = self.chan.recv(65536)
                if not chunk:
                    break
                out += chunk
                if len(out) > MAX_OUTPUT_BYTES:
                    raise OutputTooLarge()
                if time.monotonic() > deadline:
                    raise TimeoutError()
            # Unread stderr would take up the channel's window until the probe blocks: drop it,
            # but for its start, which says why a probe that never answered failed.
            said = bytearray()
            while self.chan.recv_stderr_ready():
                chunk = self.chan.recv_stderr(65536)
                if not self.answered and len(said) < _STDERR_KEPT:
                    said += chunk[:_STDERR_KEPT - len(said)]
            if out.endswith(_END_LINE):
                self.answered += 1
                text = out[:-len(_END_LINE)].decode(errors="replace")
                # Only the first answer carries the bootstrap's marker line.
                return CommandResult((self.command,), 0, text if self.answered == 1 else f"{JSON_MARKER}\n{text}", "")
            if self.answered:
                raise EOFError("the resident probe ended")
            # Ended before its first answer: the shell branch, or a probe that failed. Like
            # SshConnection.exec, an ended connection is not the probe's answer.
            err = bytes(said) + _drain(self.chan.recv_stderr, deadline, self.chan)
            transport = self.chan.get_transport()
            if not self.chan.status_event.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError()
            status = self.chan.recv_exit_status()
            if status == -1 and transport is not None:
                transport.join(0.2)
                if not transport.is_active():
                    raise EOFError("the connection closed before the command ended")
            return CommandResult((self.command,), status, out.decode(errors="replace"), err.decode(errors="replace"))
        except Exception as exc:  # paramiko raises SSHException, EOFError, OSError here
            raise channel_failure(exc, self.label) from None


def sample(connection: SshConnection, command: str, payload: bytes, deadline: float) -> CommandResult:
    """This refresh's probe output from ``connection``'s resident probe, started first when there is
    none (or the last one ended, or the command changed)."""
    probe = connection.resident
    first_input = b""
    if probe is None or probe.command != command or not probe.alive():
        if probe is not None:
            probe.chan.close()
        probe = ResidentProbe(connection.start(command, deadline), command, connection.endpoint.label)
        first_input = framed(payload)
    connection.resident = None  # kept only when this answer leaves it ready for the next
    result = probe.sample(deadline, first_input)
    if probe.alive():
        connection.resident = probe
    else:
        probe.chan.close()
    return result
