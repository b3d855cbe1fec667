"""Where flockops keeps its own files on the controller, by the XDG base directory rules."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path


def xdg_path(env: Mapping[str, str], variable: str, fallback: Sequence[str]) -> Path:
    """``$variable``, else ``$HOME`` joined with ``fallback`` (".local", "share"). A value that is
    not an absolute path is ignored, as the XDG specification says: an empty or relative HOME (cron,
    ``env -i``) would otherwise put the files under whatever directory the run started in."""
    base = env.get(variable, "")
    if os.path.isabs(base):
        return Path(base)
    home = env.get("HOME", "")
    if not os.path.isabs(home):
        import pwd

        try:
            home = pwd.getpwuid(os.getuid()).pw_dir
        except KeyError:  # a uid without a passwd entry (a container)
            home = ""
    if not os.path.isabs(home):
        from flockops.errors import UsageError

        raise UsageError(f"no home directory to keep flockops's files in: set HOME or {variable}, or give a path")
    return Path(home, *fallback)


def replace_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically: a temp file in the same directory, renamed over
    it, so that a reader (node_exporter, the next cron run) sees the old file or the new, never half."""
    import contextlib
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
