"""An engine on a target, listening on the target's loopback only, asked through the host's SSH
connection: a real sshd on loopback, the real probe, a real process with llama-server's command
line whose pid the target's fake NVML lists as holding GPU memory.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.engines import Standins
from support.fleet import fleet_gpu, host, run_fleet, write_inventory
from support.paths import DATA
from support.sshd import world_readable_dir
from support.units import GIB

pytestmark = pytest.mark.skipif(shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists(),
                                reason="OpenSSH server not installed (.ci/run installs it)")

ENGINES = DATA / "engines"


@pytest.fixture
def target_engines(sshd):  # type: ignore[no-untyped-def]
    """Stand-ins run as the SSH user, with a Python it can run: the probe reads their fds as theirs."""
    root = world_readable_dir("flockops-engines-")
    with Standins(root, python="/usr/bin/python3") as running:
        yield running, sshd.user
    shutil.rmtree(root, ignore_errors=True)


def test_a_loopback_engine_is_asked_through_the_ssh_connection(tmp_path, world, sshd, fleet_env, flockops,  # type: ignore[no-untyped-def]
                                                              target_engines) -> None:
    engines, user = target_engines
    llama = engines.start(["llama-server", "-m", "/models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", "--host",
                           "127.0.0.1", "--port", "0"],
                          {"/props": ENGINES / "props-llamacpp-readme-docs-example.json",
                           "/slots": ENGINES / "slots-llamacpp-readme-docs-2-slots-example.json",
                           "/health": ENGINES / "health-llamacpp-readme-docs-200-ok-example.json"}, user=user)
    inventory = write_inventory(tmp_path / "inv.yml", {
        "gpu-a": host(sshd, ansible_python_interpreter=world.python("eng", [fleet_gpu(process=[(llama.pid,
                                                                                               5 * GIB)])])),
    })
    run, hosts = run_fleet(flockops, inventory, fleet_env)
    assert run.returncode == 0, hosts["gpu-a"]["errors"]
    (holder,) = hosts["gpu-a"]["gpus"][0]["processes"]
    assert (holder["engine"], holder["user"]) == ("llama.cpp", user)
    assert [(s["address"], s["port"]) for s in holder["listening"] or ()] == [("127.0.0.1", llama.port)], holder
    (engine,) = hosts["gpu-a"]["engines"]
    assert (engine["via"], engine["endpoint_from"], engine["pid"]) == ("ssh", "discovered", llama.pid)
    assert engine["url"] == f"http://127.0.0.1:{llama.port}"
    assert engine["status"] == "partial" and engine["models"] == ["../models/Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf"]
    assert engine["slots_busy"] == 2 and "--metrics" in engine["error"]
    # Every request came in through the target's sshd (a direct-tcpip channel: its session process,
    # running as the SSH user, connects), none straight from here, where flockops runs as root.
    import os
    import pwd

    peers = llama.peer_names()
    assert len(peers) == 4, peers
    owners = {peer.split()[0] for peer in peers}
    assert owners == {f"uid={pwd.getpwnam(user).pw_uid}"}, peers
    if os.geteuid() == 0:  # as root the SSH user is another user (support.sshd): a direct connection would show
        assert "uid=0" not in owners


def test_no_engines_asks_nothing(tmp_path, world, sshd, fleet_env, flockops, target_engines) -> None:  # type: ignore[no-untyped-def]
    engines, user = target_engines
    props = ENGINES / "props-llamacpp-readme-docs-example.json"
    llama = engines.start(["llama-server", "-m", "x.gguf"], {"/props": props}, user=user)
    inventory = write_inventory(tmp_path / "inv.yml", {
        "gpu-a": host(sshd, ansible_python_interpreter=world.python("quiet", [fleet_gpu(process=[(llama.pid, GIB)])])),
    })
    run, hosts = run_fleet(flockops, inventory, fleet_env, "--no-engines")
    assert hosts["gpu-a"]["engines"] is None and hosts["gpu-a"]["gpus"][0]["processes"][0]["engine"] == "llama.cpp"
    assert llama.peer_names() == []
