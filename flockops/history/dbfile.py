"""Which file ``--db`` may open, and how: the one rule for the history database's path.

Writing (``--record``): a regular file of the user's own, made 0600 when new, never through a
symbolic link, and never another program's SQLite database. As root, a link or a file planted by
another user would otherwise have flockops write the fleet's history into it, or add its tables to
it (and switch it to WAL mode). Reading (``flockops history``): any regular file that is not a link,
opened read-only, so a history on read-only media or a full disk can still be read.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

from flockops.errors import UsageError

# SQLite's companions of a database, created beside it with the database's own mode, following links.
COMPANIONS = ("-wal", "-shm", "-journal")


def open_for_writing(path: Path, timeout_s: float) -> tuple[sqlite3.Connection, bool]:
    """A connection to ``path``, made when missing; and whether the file was empty (ours to set up)."""
    _refuse_linked_companions(path)
    try:
        # O_NOFOLLOW: a link at the path, dangling or not, fails with ELOOP instead of being followed.
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UsageError(f"the history database {path} is a symbolic link; flockops does not follow "
                             "one for --db: give the file itself") from None
        raise UsageError(f"cannot create the history database {path}: {exc.strerror or exc}") from None
    try:
        opened = os.fstat(fd)
        _check_regular(path, opened)
        if opened.st_uid != os.geteuid():
            raise UsageError(f"the history database {path} belongs to {_user(opened.st_uid)}, not to you; "
                             "flockops records only into a file of your own: give another --db")
        try:
            db = sqlite3.connect(str(path), timeout=timeout_s, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise UsageError(f"cannot open the history database {path}: {exc}") from None
        try:
            now = os.stat(path, follow_symlinks=False)
        except OSError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino):
            db.close()  # the name was swapped between the check and SQLite's open
            raise UsageError(f"the history database {path} changed while it was opened; try again")
        return db, opened.st_size == 0
    finally:
        os.close(fd)


def open_for_reading(path: Path, timeout_s: float) -> sqlite3.Connection:
    """A read-only connection to an existing history."""
    try:
        found = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        raise UsageError(f"no history at {path} (record some with `flockops report --record`)") from None
    except OSError as exc:
        raise UsageError(f"cannot read the history database {path}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(found.st_mode):
        raise UsageError(f"the history database {path} is a symbolic link; flockops does not follow one "
                         "for --db: give the file itself")
    _check_regular(path, found)
    uri = f"file:{quote(os.path.abspath(path))}"
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout_s, isolation_level=None,
                             check_same_thread=False)
        try:
            db.execute("PRAGMA user_version").fetchone()
            return db
        except sqlite3.OperationalError:
            # A WAL database needs its -shm file even to be read; on read-only media or a full disk
            # it cannot be made. Immutable: read as it stands, without that file (nothing writes to
            # a history there; a writer's last close folds the WAL back into the file).
            db.close()
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=timeout_s, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot read the history database {path}: {exc}") from None


def is_foreign(db: sqlite3.Connection) -> bool:
    """A database that holds tables but was not set up by flockops (its user_version is 0)."""
    tables: int = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    return version == 0 and tables > 0


def _refuse_linked_companions(path: Path) -> None:
    for suffix in COMPANIONS:
        companion = Path(f"{path}{suffix}")
        try:
            found = os.stat(companion, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISLNK(found.st_mode) or not stat.S_ISREG(found.st_mode) or found.st_uid != os.geteuid():
            raise UsageError(f"{companion}, beside the history database, is not a plain file of yours; "
                             "SQLite would write through it: remove it or give another --db")


def _check_regular(path: Path, found: os.stat_result) -> None:
    if not stat.S_ISREG(found.st_mode):
        raise UsageError(f"the history database {path} is not a regular file: give a file's path to --db")


def _user(uid: int) -> str:
    try:
        import pwd

        return f"user {pwd.getpwuid(uid).pw_name}"
    except (ImportError, KeyError):
        return f"uid {uid}"
