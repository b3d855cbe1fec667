"""An SSH connection to one target (paramiko): open it, run a command, close it.

The one place where socket and paramiko exceptions become ours
(:class:`flockops.errors.ConnectionFailure` with a kind). Secrets never reach a message.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import random
import shlex
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flockops.agent.driver import CommandResult
from flockops.agent.fields import seconds
from flockops.errors import ConnectionFailure, ErrorKind

from .known_hosts import KnownHosts, read_known_hosts
from .settings import Hop, SshEndpoint, SshOptions
from .streams import MAX_OUTPUT_BYTES, OutputTooLarge, Sender, read_streams

if TYPE_CHECKING:
    import paramiko

    from .resident import ResidentProbe

BANNER_RETRIES = 3
SYSTEM_KNOWN_HOSTS = Path("/etc/ssh/ssh_known_hosts")


def quiet_paramiko() -> None:
    """paramiko logs tracebacks of failed connections; with no handler Python would print them."""
    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    logger.propagate = False


def _vault_hint(vaulted: bool) -> str:
    return "; the inventory's password is !vault-encrypted, which flockops cannot decrypt" if vaulted else ""


def _known_name(hostname: str, port: int) -> str:
    """How known_hosts (and paramiko) name a host: bare on port 22, "[host]:port" elsewhere."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


class _UnknownKey:
    """paramiko's policy for a key that known_hosts does not list for the host: a revoked key is
    refused always; any other is refused, or with host_key_checking=false accepted, as Ansible
    does, but said."""

    def __init__(self, known: KnownHosts, checking: bool, warn: Callable[[str], None]) -> None:
        self.known = known
        self.checking = checking
        self.warn = warn

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
        import paramiko

        if self.known.is_revoked(key):
            raise paramiko.SSHException(f"the host offers {key.get_name()} {key.fingerprint}, a key known_hosts "
                                        "marks @revoked: REVOKED, refused (host key checking cannot accept it)")
        if self.checking:
            raise paramiko.SSHException(f"Server {hostname!r} not found in known_hosts")
        self.warn(f"{hostname}: accepting unknown host key {key.get_name()} {key.fingerprint} "
                  "because host key checking is off")


def _tcp(hostname: str, port: int, timeout: float) -> socket.socket:
    try:
        # An ASCII name as bytes: getaddrinfo encodes a str through the "idna" codec, whose import
        # (stringprep, unicodedata) the first connection would wait for.
        host: str | bytes = hostname.encode() if hostname.isascii() else hostname
        sock = socket.create_connection((host, port), timeout=timeout)  # type: ignore[arg-type]  # bytes work
    except socket.gaierror as exc:
        raise ConnectionFailure(ErrorKind.UNREACHABLE,
                                f"cannot resolve host name {hostname!r}: {exc.strerror}") from None
    except UnicodeError as exc:  # the idna codec refuses the name (a right-to-left mark, an empty label)
        raise ConnectionFailure(ErrorKind.UNREACHABLE, f"{hostname!r} is not a host name DNS can look up "
                                f"({exc}); "
                                "check ansible_host") from None
    except ConnectionRefusedError:
        raise ConnectionFailure(ErrorKind.UNREACHABLE, f"connection refused by {hostname} port {port}") from None
    except TimeoutError:
        raise ConnectionFailure(ErrorKind.UNREACHABLE,
                                f"no answer from {hostname} port {port} within {seconds(timeout)} s") from None
    except OSError as exc:
        what = {errno.EHOSTUNREACH: "no route to host", errno.ENETUNREACH: "network unreachable"}
        reason = what.get(exc.errno or 0, exc.strerror or str(exc))
        raise ConnectionFailure(ErrorKind.UNREACHABLE, f"{hostname} port {port}: {reason}") from None
    # Without it, paramiko's many small handshake packets wait on Nagle's algorithm
    # (BENCHMARKS.md has the handshake timed with and without).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class SshConnection:
    """One SSH connection to one target; open, run commands, close."""

    def __init__(self, endpoint: SshEndpoint, options: SshOptions, host_key_checking: bool) -> None:
        self.endpoint = endpoint
        self.options = options
        self.host_key_checking = host_key_checking
        self._clients: list[paramiko.SSHClient] = []
        self.resident: ResidentProbe | None = None  # watch: its probe, on a channel of this connection

    def _known_hosts(self) -> KnownHosts:
        return read_known_hosts((Path(os.path.expanduser("~/.ssh/known_hosts")), SYSTEM_KNOWN_HOSTS,
                                 *self.options.known_hosts_files))

    def _client(self, hostname: str, port: int, checking: bool, offered: paramiko.PKey | None) -> paramiko.SSHClient:
        import paramiko

        client = paramiko.SSHClient()
        # Never written to. The keys listed for this host go to the client, which checks the offered
        # key against them, one per key type (paramiko's rule); any other key goes to the policy.
        # ``offered``: a listed key the host offered on a first try that paramiko compared with
        # another listed key of its type; trusted now, as ssh trusts any line that lists it.
        known = self._known_hosts()
        name = _known_name(hostname, port)
        for key in (*known.keys_for(name), *([offered] if offered is not None else [])):
            client.get_host_keys().add(name, key.get_name(), key)
        client.set_missing_host_key_policy(_UnknownKey(known, checking, self.options.warn))  # type: ignore[arg-type]
        return client

    def _connect_one(self, hostname: str, port: int, user: str, through: Callable[[], Any] | None, deadline: float,
                     key_files: Sequence[str], password: str | None, checking: bool,
                     vaulted: bool = False, hop: bool = False) -> paramiko.SSHClient:
        label = f"{user}@{hostname}:{port}"
        offered: paramiko.PKey | None = None
        dropped = 0  # connections sshd dropped before its banner (MaxStartups), retried up to BANNER_RETRIES
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ConnectionFailure(ErrorKind.TIMEOUT, f"{label}: no SSH session within the deadline")
            timeout = min(self.options.connect_timeout_s, remaining)
            # TCP before paramiko's import (0.1 s, paid by the first worker): the host's sshd
            # accepts and starts its session process meanwhile.
            channel = through() if through is not None else _tcp(hostname, port, timeout)
            import paramiko

            client = self._client(hostname, port, checking, offered)
            started = time.monotonic()
            try:
                client.connect(hostname, port=port, username=user, password=password,
                               key_filename=list(key_files) or None,  # type: ignore[arg-type]  # a list works
                               sock=channel, timeout=timeout,
                               banner_timeout=timeout, auth_timeout=timeout, allow_agent=True,
                               look_for_keys=not key_files)
            except paramiko.BadHostKeyException as exc:
                client.close()
                if offered is None and self._known_hosts().lists(_known_name(hostname, port), exc.key):
                    offered = exc.key  # listed on another line of its type: connect again, trusting it
                    continue
                raise ConnectionFailure(
                    ErrorKind.HOST_KEY,
                    f"REMOTE HOST KEY CHANGED for {hostname}:{port}: known_hosts has "
                    f"{exc.expected_key.get_name()} {exc.expected_key.fingerprint}, the host offers "
                    f"{exc.key.get_name()} {exc.key.fingerprint}. Someone may be intercepting the "
                    "connection; if the host was reinstalled, remove the old key with "
                    f"`ssh-keygen -R {shlex.quote(_known_name(hostname, port))}`") from None
            except paramiko.AuthenticationException:
                client.close()
                tried = ", ".join(filter(None, ["key files" if key_files else "default keys", "ssh-agent",
                                                "password" if password else None]))
                raise ConnectionFailure(ErrorKind.AUTH_FAILED, f"{label}: authentication failed (tried {tried})"
                                        f"{_vault_hint(vaulted)}") from None
            except paramiko.SSHException as exc:
                client.close()
                text = str(exc)
                if time.monotonic() - started >= timeout * 0.9:
                    # Accepted TCP, then silence until our timeout (paramiko words this
                    # "Error reading SSH protocol banner" or "No existing session").
                    raise ConnectionFailure(
                        ErrorKind.TIMEOUT, f"{label}: accepted the connection but did not complete the SSH handshake "
                        f"within {seconds(timeout)} s") from None
                if "REVOKED" in text:
                    raise ConnectionFailure(ErrorKind.HOST_KEY, f"{hostname}:{port}: {text}") from None
                if "not found in known_hosts" in text:
                    scan = f"ssh-keyscan -p {port} {shlex.quote(hostname)}"
                    # Behind a jump only the hop before can reach it: scan there, add the line here.
                    how = (f"run `{scan}` on the jump host before it and add that line to ~/.ssh/known_hosts "
                           "here" if through is not None else f"add it with `{scan} >> ~/.ssh/known_hosts`")
                    # A jump host's key is checked whatever host_key_checking says: no hint to turn it off.
                    who, off = ((f"jump host {hostname}:{port}", " (a jump host's key is checked even with "
                                 "host_key_checking=false)") if hop else
                                (f"{hostname}:{port}", " (host_key_checking=false accepts unknown keys)"))
                    raise ConnectionFailure(
                        ErrorKind.HOST_KEY,
                        f"{who}: unknown host key. Check its fingerprint, then {how}, or pass "
                        f"--known-hosts FILE{off}") from None
                # sshd's MaxStartups drops connections past its limit at once: retry with jitter.
                if "protocol banner" in text:
                    if dropped == BANNER_RETRIES:
                        raise ConnectionFailure(ErrorKind.UNREACHABLE, f"{label}: SSH banner never arrived after "
                                                f"{BANNER_RETRIES} retries") from None
                    dropped += 1
                    time.sleep(random.uniform(0.05, 0.3) * dropped)
                    continue
                if "private key file" in text or "No authentication methods" in text or "no acceptable" in text.lower():
                    raise ConnectionFailure(ErrorKind.AUTH_FAILED, f"{label}: {text}{_vault_hint(vaulted)}") from None
                raise ConnectionFailure(ErrorKind.UNREACHABLE, f"{label}: SSH error: {text}") from None
            except TimeoutError:
                client.close()
                raise ConnectionFailure(ErrorKind.TIMEOUT,
                                        f"{label}: SSH handshake did not finish in {seconds(timeout)} s") from None
            except (OSError, EOFError) as exc:
                client.close()
                raise ConnectionFailure(ErrorKind.UNREACHABLE, f"{label}: connection lost during the handshake "
                                        f"({type(exc).__name__}: {exc})") from None
            self._clients.append(client)
            return client

    def open(self, deadline: float) -> None:
        e = self.endpoint
        through: Callable[[], Any] | None = None  # opens the way to the next host; None: TCP from here
        path = [*e.jumps, Hop(e.user, e.hostname, e.port)]
        for hop, onward in itertools.pairwise(path):
            # A hop's own key is always checked: host_key_checking=false is the target's setting,
            # as with OpenSSH, where it does not reach the -J hops. Its identity is its own
            # IdentityFile, else the target's key files as before, else the default keys and agent.
            client = self._connect_one(hop.hostname, hop.port, hop.user, through, deadline,
                                       hop.key_files or e.key_files, None, checking=True, hop=True)
            through = self._onward(client, hop.hostname, onward.hostname, onward.port, deadline)
        self._connect_one(e.hostname, e.port, e.user, through, deadline, e.key_files, e.password,
                          checking=self.host_key_checking, vaulted=e.password_vaulted)

    @staticmethod
    def _onward(client: paramiko.SSHClient, host: str, to_host: str, to_port: int,
                deadline: float) -> Callable[[], Any]:
        """Opens a direct-tcpip channel through the hop ``client`` to (to_host, to_port): the socket
        of the next connection. A callable, so that a retried connection gets a fresh channel."""

        def channel() -> Any:
            transport = client.get_transport()
            try:
                if transport is None:
                    raise EOFError("its connection closed")
                return transport.open_channel("direct-tcpip", (to_host, to_port), ("127.0.0.1", 0),
                                              timeout=max(0.1, deadline - time.monotonic()))
            except Exception as exc:
                raise ConnectionFailure(ErrorKind.UNREACHABLE, f"jump host {host} cannot reach {to_host}:{to_port}: "
                                        f"{exc}") from None

        return channel

    def _transport(self) -> paramiko.Transport:
        transport = self._clients[-1].get_transport() if self._clients else None
        if transport is None:
            raise ConnectionFailure(ErrorKind.UNREACHABLE, f"{self.endpoint.label}: connection closed")
        return transport

    def exec(self, command: str, stdin: bytes, deadline: float) -> CommandResult:
        """Run one command, feed it ``stdin``, and collect its output before ``deadline``."""
        transport = self._transport()
        label = self.endpoint.label
        watchdog = _Watchdog(transport, deadline)
        try:
            chan = transport.open_session(timeout=max(0.1, deadline - time.monotonic()))
            chan.settimeout(max(0.1, deadline - time.monotonic()))
            chan.exec_command(command)
            sender = Sender(chan, stdin, close=True)
            out, err = read_streams(chan, deadline)
            sender.wait(deadline)
            if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
                raise TimeoutError()
            status = chan.recv_exit_status()
            if status == -1:
                # No exit status: the command died of a signal, or the connection itself went (sshd
                # killed), which paramiko reports as an ended channel a moment before its transport
                # says it is down; give it that moment.
                transport.join(0.2)
                if not transport.is_active():
                    raise EOFError("the connection closed before the command ended")
        except Exception as exc:  # paramiko raises SSHException, EOFError, OSError here
            raise channel_failure(exc, label, watchdog.fired) from None
        finally:
            watchdog.cancel()
        return CommandResult((command,), status, out.decode(errors="replace"), err.decode(errors="replace"))

    def tunnel(self, address: str, port: int, timeout_s: float) -> paramiko.Channel:
        """A ``direct-tcpip`` channel to ``address:port`` as the target sees them (its loopback: an engine
        listening on 127.0.0.1 there), used as a socket. Opened by the target's sshd, so nothing needs
        opening in a firewall; refused where sshd forbids forwarding (AllowTcpForwarding no)."""
        transport = self._transport()
        try:
            return transport.open_channel("direct-tcpip", (address, port), ("127.0.0.1", 0),
                                          timeout=max(0.1, timeout_s))
        except Exception as exc:  # paramiko's ChannelException ("Connect failed"), SSHException, EOFError
            raise ConnectionFailure(ErrorKind.UNREACHABLE, f"{self.endpoint.label}: no SSH channel to "
                                    f"{address} port {port} ({type(exc).__name__}: {exc})") from None

    def close(self) -> None:
        self.resident = None  # its channel closes with the transport
        for client in reversed(self._clients):
            client.close()
        self._clients.clear()

    # --- watch: kept open between refreshes ---
    def start(self, command: str, deadline: float) -> paramiko.Channel:
        """A channel running ``command``, left open for the caller to talk to (the resident probe)."""
        transport = self._transport()
        label = self.endpoint.label
        watchdog = _Watchdog(transport, deadline)
        try:
            chan = transport.open_session(timeout=max(0.1, deadline - time.monotonic()))
            chan.exec_command(command)
        except Exception as exc:  # paramiko raises SSHException, EOFError, OSError here
            raise channel_failure(exc, label, watchdog.fired, starting=True) from None
        finally:
            watchdog.cancel()
        return chan

    def is_open(self) -> bool:
        """The SSH transport (and a jump host's under it) is still up: worth another exec."""
        if not self._clients:
            return False
        for client in self._clients:
            transport = client.get_transport()
            if transport is None or not transport.is_active():
                return False
        return True


class _Watchdog:
    """Closes ``transport`` at ``deadline`` unless cancelled first. paramiko waits for the server's
    answer to an exec request with no timeout at all (Channel._wait_for_event), so a host that
    never answers it would hold its worker forever; closing the transport wakes every such wait."""

    def __init__(self, transport: Any, deadline: float) -> None:
        self.fired = False
        self._transport = transport
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        self._transport.close()

    def cancel(self) -> None:
        self._timer.cancel()


def channel_failure(exc: Exception, label: str, deadline_passed: bool = False,
                    starting: bool = False) -> ConnectionFailure:
    """The one place where a failure while a probe starts or runs on an open channel (a one-shot
    exec, or the resident probe of watch) becomes the host's error kind."""
    if isinstance(exc, TimeoutError) or deadline_passed:
        return ConnectionFailure(ErrorKind.TIMEOUT, f"{label}: the probe did not {'start' if starting else 'finish'} "
                                 "before the deadline")
    if isinstance(exc, OutputTooLarge):
        return ConnectionFailure(ErrorKind.PROBE_FAILED, f"{label}: answer too large: the probe printed more than "
                                 f"{MAX_OUTPUT_BYTES >> 20} MiB (a report is a few kB per GPU); stopped reading")
    doing = "starting the probe" if starting else "probing"
    return ConnectionFailure(ErrorKind.UNREACHABLE,
                             f"{label}: connection lost while {doing} ({type(exc).__name__}: {exc})")
