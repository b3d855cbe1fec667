"""The --db rule (#14 items 7 and 12): flockops records only into a regular file of the user's own,
never through a link and never into another program's database; it reads any regular file
read-only, read-only media included."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO

from flockops.agent.model import FleetReport, HostReport
from flockops.errors import UsageError
from flockops.history.store import History

NOBODY = 65534  # the nobody user, who owns the other user's files
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to own files as another user")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recorded(path: Path) -> None:
    with History(path) as history:
        history.record(FleetReport(hosts=(HostReport(host="a", collected_at=1.0),), generated_at=""), now=1.0)


def test_a_link_is_never_followed_to_record(tmp_path: Path) -> None:
    mine = tmp_path / "mine.sqlite"
    recorded(mine)
    before = digest(mine)
    (tmp_path / "to-mine.sqlite").symlink_to(mine)
    (tmp_path / "dangling.sqlite").symlink_to(tmp_path / "elsewhere" / "planted.sqlite")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "loop.sqlite").symlink_to(tmp_path / "loop.sqlite")
    for name in ("to-mine.sqlite", "dangling.sqlite", "loop.sqlite"):
        with pytest.raises(UsageError, match=f"{name} is a symbolic link; flockops does not follow one"):
            History(tmp_path / name)
    assert digest(mine) == before
    assert not (tmp_path / "elsewhere" / "planted.sqlite").exists()  # nothing made through the link


def test_a_link_is_never_followed_to_read(tmp_path: Path) -> None:
    mine = tmp_path / "mine.sqlite"
    recorded(mine)
    (tmp_path / "to-mine.sqlite").symlink_to(mine)
    with pytest.raises(UsageError, match="is a symbolic link"):
        History(tmp_path / "to-mine.sqlite", create=False)


def test_a_linked_companion_file_is_refused(tmp_path: Path) -> None:
    # SQLite opens -wal and -shm itself, following links: a planted link there is refused too.
    victim = tmp_path / "victim"
    victim.write_text("someone's file\n")
    (tmp_path / "h.sqlite-wal").symlink_to(victim)
    with pytest.raises(UsageError, match=r"h\.sqlite-wal, beside the history database, is not a plain file"):
        History(tmp_path / "h.sqlite")
    assert victim.read_text() == "someone's file\n"


def test_a_fifo_is_not_a_database(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    for create in (True, False):
        with pytest.raises(UsageError, match="is not a regular file"):
            History(tmp_path / "pipe", create=create)


def test_another_programs_database_gets_no_tables(tmp_path: Path) -> None:
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE foo (x)")
    db.close()
    before = digest(foreign)
    with pytest.raises(UsageError, match="not a flockops history .*another program's database"):
        History(foreign)
    assert digest(foreign) == before and not Path(f"{foreign}-wal").exists()


def test_an_empty_file_of_ones_own_becomes_a_history(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    path.touch(mode=0o600)
    recorded(path)
    with History(path, create=False) as history:
        assert history.hosts() == ["a"]


@as_root
def test_another_users_file_is_never_written(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.sqlite"
    recorded(theirs)
    os.chown(theirs, NOBODY, NOBODY)
    os.chmod(theirs, 0o666)  # world-writable even: still not ours to write
    before = digest(theirs)
    with pytest.raises(UsageError, match="belongs to (user nobody|uid 65534), not to you"):
        History(theirs)
    assert digest(theirs) == before
    with History(theirs, create=False) as history:  # reading it is fine, and read-only
        assert history.hosts() == ["a"]
    assert digest(theirs) == before


def test_a_history_on_read_only_media_can_be_read(tmp_path: Path) -> None:
    """A WAL database needs its -shm file even to be read. The reader runs where the history's
    directory is a read-only bind mount (in a mount namespace of its own), or, for a user other
    than root, where it may not write."""
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    path = shelf / "h.sqlite"
    recorded(path)
    assert not Path(f"{path}-shm").exists()  # the writer's close folded the WAL back
    code = ("import sys; from flockops.history.store import History; "
            "h = History(sys.argv[1], create=False); print(h.hosts()); h.close()")
    reader = [sys.executable, "-c", code, str(path)]
    if os.geteuid() == 0:
        mount = f"mount --bind {shelf} {shelf} && mount -o remount,ro,bind {shelf} {shelf} && touch {shelf}/x"
        probe = subprocess.run(["unshare", "-m", "sh", "-c", mount], capture_output=True, text=True, check=False)
        if "Read-only file system" not in probe.stderr:
            pytest.skip(f"no read-only bind mount here: {probe.stderr.strip()}")
        command = ["unshare", "-m", "sh", "-c", mount.replace(f" && touch {shelf}/x", ' && exec "$@"'), "sh",
                   *reader]
    else:
        shelf.chmod(0o555)
        command = reader
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False, timeout=60)
    finally:
        shelf.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['a']"
    assert not Path(f"{path}-shm").exists()
