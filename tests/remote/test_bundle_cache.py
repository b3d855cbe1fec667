"""What the `flockops` command keeps between runs (flockops.remote.bundle_cache): the probe's zip. Kept only
where it is safe to load, never served stale, and a cache that cannot be used costs nothing but time."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.paths import REPO
from support.runner import Run

from flockops.remote import bundle, bundle_cache

INVENTORY = str(REPO / "inventory" / "lab.yml")


def test_no_usable_cache_directory_costs_nothing_but_time(tmp_path: Path, flockops: Callable[..., Run]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = flockops("inventory", "-i", INVENTORY, "--list", env={"XDG_CACHE_HOME": str(blocker / "cache")})
    assert (run.returncode, run.stderr) == (0, "")


@pytest.fixture
def zip_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(bundle_cache, "enabled", True)
    bundle._build_zip.cache_clear()
    yield tmp_path / "cache" / "flockops"
    bundle._build_zip.cache_clear()


def kept_file(path: Path, body: bytes) -> None:
    """A cache file as bundle_cache writes one: the digest of what follows, then that."""
    path.write_bytes(hashlib.sha256(body).digest() + body)
    path.chmod(0o600)


def test_the_zip_is_kept_by_what_it_is_built_from(zip_cache: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "cache_probe_driver.py").write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(plugin))
    built = bundle.probe_zip(("cache_probe_driver",))
    [kept] = zip_cache.glob("probe-*.zip")
    assert kept.read_bytes().endswith(built)
    # The next run takes the kept zip (here marked, to tell it from a new build) ...
    key = kept.read_bytes()[32:64]
    kept_file(kept, key + b"marked")
    bundle._build_zip.cache_clear()
    assert bundle.probe_zip(("cache_probe_driver",)) == b"marked"
    # ... until a byte of what goes in it changes: then it is built again, and kept instead.
    (plugin / "cache_probe_driver.py").write_text("VERSION = 2\n")
    bundle._build_zip.cache_clear()
    rebuilt = bundle.probe_zip(("cache_probe_driver",))
    assert zipfile.ZipFile(io.BytesIO(rebuilt)).read("cache_probe_driver.py") == b"VERSION = 2\n"
    assert kept.read_bytes().endswith(rebuilt)
    # The builder is one of its inputs too: a bundle.py that lays the zip out otherwise.
    kept_file(kept, kept.read_bytes()[32:64] + b"marked")
    changed = tmp_path / "bundle.py"
    changed.write_bytes(Path(bundle.__file__).read_bytes() + b"\n# another layout\n")
    monkeypatch.setattr(bundle, "__file__", str(changed))
    bundle._build_zip.cache_clear()
    assert bundle.probe_zip(("cache_probe_driver",)) != b"marked"


@pytest.mark.parametrize("spoil", ["a damaged byte", "a FIFO", "a link"])
def test_a_kept_zip_that_is_not_what_was_written_is_built_again(zip_cache: Path, tmp_path: Path, spoil: str) -> None:
    bundle.probe_zip()
    [kept] = zip_cache.glob("probe-*.zip")
    data = bytearray(kept.read_bytes())
    kept.unlink()
    if spoil == "a damaged byte":
        data[-100] ^= 0xFF  # in the zip itself, past the key: what a crash or a bad disk leaves
        kept.write_bytes(bytes(data))
        kept.chmod(0o600)
    elif spoil == "a FIFO":
        os.mkfifo(kept, 0o600)  # opened without waiting for a writer, and refused
    else:
        elsewhere = tmp_path / "elsewhere.zip"
        kept_file(elsewhere, bytes(data[32:64]) + b"marked")  # would be served, were the link followed
        kept.symlink_to(elsewhere)
    bundle._build_zip.cache_clear()
    served = bundle.probe_zip()
    assert served != (bytes(data[64:]) if spoil == "a damaged byte" else b"marked")
    assert zipfile.ZipFile(io.BytesIO(served)).testzip() is None  # a whole zip, built again


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_sudo_keeping_home_leaves_no_directory_of_roots_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The nearest existing directory above the cache is another user's (a home, under sudo): the
    run writes nothing there, so that user's own runs (and other programs) keep using it."""
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setattr(bundle_cache, "enabled", True)
    bundle._build_zip.cache_clear()
    bundle.probe_zip()
    bundle._build_zip.cache_clear()
    assert list(home.iterdir()) == []


def test_a_cache_directory_others_can_write_is_not_used(zip_cache: Path) -> None:
    zip_cache.mkdir(parents=True, mode=0o777)
    zip_cache.chmod(0o777)
    bundle.probe_zip()
    assert list(zip_cache.iterdir()) == []


def test_only_the_command_keeps_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A program that imports flockops (and the test suite in-process) writes nothing to the home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bundle._build_zip.cache_clear()
    assert bundle_cache.enabled is False
    bundle.probe_zip()
    assert not (tmp_path / "cache").exists()


def test_files_of_another_version_are_removed_when_a_new_one_is_kept(zip_cache: Path) -> None:
    zip_cache.mkdir(parents=True)
    old = zip_cache / "probe-0.0.1-cpython-39-0000.zip"
    old.write_bytes(b"old")
    bundle.probe_zip()
    assert not old.exists() and len(list(zip_cache.glob("probe-*.zip"))) == 1

