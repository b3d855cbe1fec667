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
from .connection import channel_failure
from .streams import Sender, read_streams

if TYPE_CHECKING:
    import paramiko

    from .connection import SshConnection

REQUEST = b"sample\n"
_END_LINE = (END_MARKER + "\n").encode()


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
            self.chan.settimeout(max(0.1, deadline - time.monotonic()))
            sender = Sender(self.chan, first_input + REQUEST, close=False)
            out, err = read_streams(self.chan, deadline, until=_END_LINE)
            sender.wait(deadline)
            if out.endswith(_END_LINE):
                self.answered += 1
                text = out[:-len(_END_LINE)].decode(errors="replace")
                # Only the first answer carries the bootstrap's marker line.
                return CommandResult((self.command,), 0, text if self.answered == 1 else f"{JSON_MARKER}\n{text}", "")
            if self.answered:
                raise EOFError("the resident probe ended")
            # Ended before its first answer: the shell branch, or a probe that failed. Like
            # SshConnection.exec, an ended connection is not the probe's answer.
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
