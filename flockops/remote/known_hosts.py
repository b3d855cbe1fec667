"""known_hosts files read the way OpenSSH reads them, for paramiko.

paramiko's own loader takes a marker line (``@cert-authority``, ``@revoked``) for a key whose
type is the marker and raises an exception it does not catch, so one such line anywhere in
``/etc/ssh/ssh_known_hosts`` failed every host; and it has no notion of revocation. Here:

- ``@revoked`` keys are never accepted, whatever else lists them and even with host key
  checking off (OpenSSH's rule);
- ``@cert-authority`` lines are skipped: flockops does not check host certificates, so a host
  known only through its CA is an unknown host (refused by default), never a trusted one;
- an unreadable file or a line paramiko cannot read is skipped, as OpenSSH skips it.

Host patterns match as paramiko matches them: exact names and hashed (``|1|``) names; a
wildcard pattern matches nothing, so such a host is unknown (refused by default).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import paramiko


@dataclass(frozen=True)
class KnownHosts:
    """Every trusted (host patterns, key) line of the files, and the revoked keys."""

    entries: tuple[tuple[tuple[str, ...], paramiko.PKey], ...] = ()
    revoked: frozenset[str] = frozenset()  # "type base64" of each @revoked key

    def keys_for(self, name: str) -> list[paramiko.PKey]:
        """The keys listed for ``name`` ("host", or "[host]:port" off port 22), in file order,
        revoked ones left out."""
        return [key for patterns, key in self.entries
                if _matches(name, patterns) and not self.is_revoked(key)]

    def lists(self, name: str, key: paramiko.PKey) -> bool:
        """``key`` is one of the (unrevoked) keys listed for ``name``, whichever line it is on."""
        return any(known == key for known in self.keys_for(name))

    def is_revoked(self, key: paramiko.PKey) -> bool:
        return f"{key.get_name()} {key.get_base64()}" in self.revoked


def _matches(name: str, patterns: Sequence[str]) -> bool:
    from paramiko.hostkeys import HostKeys

    for pattern in patterns:
        if pattern == name:
            return True
        try:
            if pattern.startswith("|1|") and hmac.compare_digest(HostKeys.hash_host(name, pattern), pattern):
                return True
        except Exception:  # a damaged hashed name (paramiko asserts on it): that line matches nothing
            continue
    return False


def read_known_hosts(paths: Sequence[Path]) -> KnownHosts:
    """The files in ``paths`` that exist and can be read, together."""
    stamps = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
    return _read(tuple(stamps))


@lru_cache(maxsize=8)  # per run (and per change of a file, for watch): read once, not per connection
def _read(stamps: tuple[tuple[str, int, int], ...]) -> KnownHosts:
    from paramiko.hostkeys import HostKeyEntry

    entries: list[tuple[tuple[str, ...], paramiko.PKey]] = []
    revoked: set[str] = set()
    for path, _, _ in stamps:
        try:
            lines = Path(path).read_text(errors="replace").splitlines()
        except OSError:
            continue  # unreadable (another user's file): OpenSSH skips it too
        for line in lines:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            marker, _, rest = line.partition(" ") if line.startswith("@") else ("", "", line)
            if marker not in ("", "@revoked"):
                continue  # @cert-authority: host certificates are not checked here
            try:
                entry = HostKeyEntry.from_line(rest.strip())
            except Exception:  # a key type or encoding paramiko cannot read: skip the line
                continue
            if entry is None or entry.key is None:
                continue
            if marker == "@revoked":
                revoked.add(f"{entry.key.get_name()} {entry.key.get_base64()}")
            else:
                entries.append((tuple(entry.hostnames), entry.key))
    return KnownHosts(tuple(entries), frozenset(revoked))
