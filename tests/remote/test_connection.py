"""Where a host is reached: inventory variables over ~/.ssh/config, and the -J hops (no network here)."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from flockops.errors import ConnectionFailure
from flockops.remote.settings import Hop, SshOptions, Target, resolve


def options(tmp_path: Path, config: str = "") -> SshOptions:
    path = tmp_path / "ssh_config"
    path.write_text(config)
    return SshOptions(ssh_config_path=path)


def test_the_jump_host_is_resolved_through_ssh_config_with_its_own_user(tmp_path: Path) -> None:
    config = "Host gw\n  HostName 10.0.0.1\n  User jumper\n  Port 2222\n"
    target = Target(name="gpu-a", address="10.0.1.5", user="ml", proxy_jump="gw")
    assert resolve(target, options(tmp_path, config)).jumps == (Hop("jumper", "10.0.0.1", 2222),)
    # Not the target's user (ssh does not pass it to the -J hop): the local one, as ssh would.
    plain = Target(name="gpu-a", address="10.0.1.5", user="ml", proxy_jump="[fe80::1]:2201")
    assert resolve(plain, options(tmp_path)).jumps == (Hop(getpass.getuser(), "fe80::1", 2201),)
    none = Target(name="gpu-a", address="10.0.1.5", proxy_jump="none")
    assert resolve(none, options(tmp_path)).jumps == ()


def test_the_jump_host_brings_its_own_identity_file(tmp_path: Path) -> None:
    key = tmp_path / "jump_key"
    key.write_text("")
    config = f"Host gw\n  HostName 10.0.0.1\n  IdentityFile {key}\n  IdentityFile {tmp_path / 'missing'}\n"
    target = Target(name="gpu-a", address="10.0.1.5", key_file=None, proxy_jump="gw")
    endpoint = resolve(target, options(tmp_path, config))
    assert endpoint.jumps[0].key_files == (str(key),)  # a file that is not there is skipped, as ssh does
    assert endpoint.key_files == ()  # the target's own: not the jump host's


def test_several_hops_are_taken_in_order_each_through_ssh_config(tmp_path: Path) -> None:
    """As `ssh -J a,b`: a first, then b from a, then the target from b; each hop an alias or not."""
    config = "Host gw\n  HostName 10.0.0.1\n  User jumper\n"
    target = Target(name="gpu-a", address="10.0.1.5", user="ml", proxy_jump="gw, ops@inner:2202")
    hops = resolve(target, options(tmp_path, config)).jumps
    assert hops == (Hop("jumper", "10.0.0.1", 22), Hop("ops", "inner", 2202))


@pytest.mark.parametrize(("jump", "said"), [("a,,b", r"'' is not \[user@\]host\[:port\]"),
                                            ("u@:x", r"'u@:x' is not \[user@\]host\[:port\]")])
def test_a_jump_flockops_cannot_take_is_refused_with_the_reason(tmp_path: Path, jump: str, said: str) -> None:
    with pytest.raises(ConnectionFailure, match=said):
        resolve(Target(name="gpu-a", address="10.0.1.5", proxy_jump=jump), options(tmp_path))
