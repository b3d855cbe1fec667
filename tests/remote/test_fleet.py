"""The fleet: real OpenSSH sshd on loopback, the real probe, every fault its own result."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from support.fleet import fleet_gpu, host, run_fleet, write_inventory
from support.paths import DATA
from support.sshd import free_port, keygen, start_sshd
from support.stuck_ssh import StuckSshServer, known_hosts_with
from support.units import GIB

pytestmark = pytest.mark.skipif(shutil.which("sshd") is None and not Path("/usr/sbin/sshd").exists(),
                                reason="OpenSSH server not installed (.ci/run installs it)")

CASES = DATA / "nvidia-smi" / "cases"


def test_fleet_of_nvml_and_shell_hosts(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    inventory = write_inventory(tmp_path / "inv.yml", {
        "gpu-a": host(sshd, ansible_python_interpreter=world.python("a", [fleet_gpu(), fleet_gpu("second")])),
        "gpu-b": host(sshd, ansible_python_interpreter=world.python("b", [fleet_gpu("NVIDIA H200")])),
        "old-box": host(sshd, ansible_python_interpreter="/nonexistent/python3"),
    })
    run, hosts = run_fleet(flockops, inventory, fleet_env)
    assert run.returncode == 0
    assert list(hosts) == ["gpu-a", "gpu-b", "old-box"]  # inventory order
    a, b, old = hosts.values()
    assert a["status"] == "ok" and a["address"] == "127.0.0.1"
    assert [(g["name"], g["source"], g["memory_used_bytes"]) for g in a["gpus"]] == [
        ("NVIDIA H100 80GB HBM3", "nvml", 20 * GIB), ("second", "nvml", 20 * GIB)]
    assert [g["name"] for g in b["gpus"]] == ["NVIDIA H200"]
    # No Python there: the shell branch ran nvidia-smi and the controller parsed it.
    assert [(g["name"], g["source"]) for g in old["gpus"]] == [("NVIDIA H200", "nvidia-smi")]
    assert old["gpus"][0]["memory_total_bytes"] == 143771 * 1024 * 1024
    assert old["drivers"][0]["reason"].startswith("no python3")


def test_table_and_summary(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    inventory = write_inventory(tmp_path / "inv.yml", {
        "gpu-a": host(sshd, ansible_python_interpreter=world.python("a", [fleet_gpu(temperature=70)])),
        "down": {"ansible_host": "127.0.0.1", "ansible_port": free_port()},
    })
    run = flockops("report", "-i", str(inventory), env=fleet_env)
    assert run.returncode == 4
    assert "== gpu-a (127.0.0.1)  [ok]" in run.stdout and "== down (127.0.0.1)  [unreachable]" in run.stdout
    assert "! unreachable (ssh): connection refused by 127.0.0.1 port" in run.stdout
    assert "Fleet: 2 hosts (1 ok, 1 unreachable) | GPUs: 1" in run.stdout
    summary = flockops("report", "-i", str(inventory), "--summary", env=fleet_env)
    line = next(x for x in summary.stdout.splitlines() if x.startswith("gpu-a"))
    assert "20.0 GiB / 80.0 GiB" in line and "GPU 0: 70 °C / 87 °C" in line


def _silent_listener() -> tuple[socket.socket, int]:
    """Accepts TCP connections and never says a word (a wedged sshd)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


def test_every_fault_gets_its_own_kind(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    listener, silent_port = _silent_listener()
    wrong_key = keygen(tmp_path / "wrong_key")
    garbage = world.python("garbage", body='echo "this is not json"')
    # A host that stops answering mid-probe (this stands in for a wedged machine).
    hang = world.python("hang", body="exec sleep 60")
    inventory = write_inventory(tmp_path / "inv.yml", {
        "good": host(sshd, ansible_python_interpreter=world.python("good", [fleet_gpu()])),
        "closed": {"ansible_host": "127.0.0.1", "ansible_port": free_port()},
        "silent": {"ansible_host": "127.0.0.1", "ansible_port": silent_port},
        "nokey": host(sshd, ansible_ssh_private_key_file=str(wrong_key)),
        "unknown-key": host(sshd, ansible_host="localhost"),
        "garbage": host(sshd, ansible_python_interpreter=garbage),
        "false": host(sshd, ansible_python_interpreter="/bin/false"),
        "hang": host(sshd, ansible_python_interpreter=hang),
        "nodns": {"ansible_host": "no-such-host.invalid"},
        "rtl": {"ansible_host": "gpu\u200f01.example"},  # a right-to-left mark pasted in: idna refuses it
    })
    started = time.monotonic()
    run, hosts = run_fleet(flockops, inventory, fleet_env, "--timeout", "3")
    elapsed = time.monotonic() - started
    listener.close()
    kinds = {name: (h["status"], h["errors"][0]["kind"] if h["errors"] else None) for name, h in hosts.items()}
    assert kinds == {
        "good": ("ok", None),
        "closed": ("unreachable", "unreachable"),
        "silent": ("failed", "timeout"),
        "nokey": ("failed", "auth_failed"),
        "unknown-key": ("failed", "host_key"),
        "garbage": ("failed", "probe_failed"),
        "false": ("failed", "probe_failed"),
        "hang": ("failed", "timeout"),
        "nodns": ("unreachable", "unreachable"),
        "rtl": ("unreachable", "unreachable"),
    }
    assert hosts["good"]["gpus"][0]["memory_used_bytes"] == 20 * GIB  # intact beside the broken ones
    assert run.returncode == 2
    # Deadline 3 s (+1 s grace), plus the interpreter's own start-up.
    assert elapsed < 3 + 1 + 2.5, elapsed
    assert "unknown host key" in hosts["unknown-key"]["errors"][0]["message"]
    assert "not json" in hosts["garbage"]["errors"][0]["message"]
    assert hosts["false"]["errors"][0]["message"].startswith(
        "the probe printed nothing and exited with status 1: is the interpreter '/bin/false' a Python 3.10 or newer? "
        "(set ansible_python_interpreter)")


def test_a_host_that_never_answers_the_exec_request_times_out(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """paramiko waits for an exec reply without a timeout: with one worker, the wedged host (first in
    the inventory, whose hosts are sorted) must not hold the run, and the host behind it still gets its report."""
    wedged = StuckSshServer()
    try:
        known_hosts_with(Path(fleet_env["HOME"], ".ssh", "known_hosts"), wedged)
        inventory = write_inventory(tmp_path / "inv.yml", {
            "a-wedged": {**host(sshd), "ansible_port": wedged.port},
            "b-good": host(sshd, ansible_python_interpreter=world.python("good", [fleet_gpu()])),
        })
        started = time.monotonic()
        run, hosts = run_fleet(flockops, inventory, fleet_env, "--timeout", "2", "-f", "1")
        elapsed = time.monotonic() - started
    finally:
        wedged.stop()
    assert (hosts["a-wedged"]["status"], hosts["a-wedged"]["errors"][0]["kind"]) == ("failed", "timeout")
    assert hosts["b-good"]["status"] == "ok"
    assert run.returncode == 2
    assert elapsed < 2 + 1 + 3 + 2.5, elapsed  # its deadline, the good host's, start-up


def test_changed_host_key_is_loud(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    other = keygen(tmp_path / "other_host_key")
    key_type, key = other.with_suffix(".pub").read_text().split()[:2]
    Path(fleet_env["HOME"], ".ssh", "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {key_type} {key}\n")
    inventory = write_inventory(tmp_path / "inv.yml", {"moved": host(sshd)})
    run, hosts = run_fleet(flockops, inventory, fleet_env)
    error = hosts["moved"]["errors"][0]
    assert error["kind"] == "host_key" and "REMOTE HOST KEY CHANGED" in error["message"]
    assert run.returncode == 2


def test_host_key_checking_off_accepts_with_a_warning(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    Path(fleet_env["HOME"], ".ssh", "known_hosts").write_text("")
    inventory = write_inventory(tmp_path / "inv.yml", {
        "new": host(sshd, ansible_python_interpreter=world.python("new", [fleet_gpu()]), host_key_checking=False)})
    run, hosts = run_fleet(flockops, inventory, fleet_env)
    assert hosts["new"]["status"] == "ok" and "accepting unknown host key" in run.stderr
    run, hosts = run_fleet(flockops, inventory.with_name("inv.yml"),
                           {**fleet_env, "FLOCKOPS_HOST_KEY_CHECKING": "false"})
    assert hosts["new"]["status"] == "ok"


def test_known_hosts_option(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    Path(fleet_env["HOME"], ".ssh", "known_hosts").write_text("")
    extra = sshd.write_known_hosts(tmp_path / "fleet_known_hosts")
    inventory = write_inventory(tmp_path / "inv.yml", {
        "gpu": host(sshd, ansible_python_interpreter=world.python("kh", [fleet_gpu()]))})
    _, hosts = run_fleet(flockops, inventory, fleet_env, "--known-hosts", str(extra))
    assert hosts["gpu"]["status"] == "ok"


def test_proxy_jump(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    jump = f"{sshd.user}@127.0.0.1:{sshd.port}"
    inventory = write_inventory(tmp_path / "inv.yml", {
        "behind": host(sshd, ansible_python_interpreter=world.python("j", [fleet_gpu()]),
                       ansible_ssh_common_args=f"-o ProxyJump={jump}")})
    _, hosts = run_fleet(flockops, inventory, fleet_env)
    assert hosts["behind"]["status"] == "ok", hosts["behind"]["errors"]


def test_the_jump_host_logs_in_with_its_own_ssh_config_entry(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """`ssh -J viajump target` uses viajump's own HostName, Port, User and IdentityFile. The jump here
    is a second sshd that accepts only its own key, which the target refuses: the target's key alone
    (what flockops offered every hop before) is turned away at the jump."""
    jump = start_sshd(world.root / "jump-sshd")  # readable by the test user, who reads authorized_keys
    try:
        home = Path(fleet_env["HOME"])
        known = home / ".ssh" / "known_hosts"
        known.write_text(known.read_text() + jump.known_hosts_line())
        (home / ".ssh" / "config").write_text(
            f"Host viajump\n  HostName 127.0.0.1\n  Port {jump.port}\n  User {jump.user}\n"
            f"  IdentityFile {jump.client_key}\n")
        inventory = write_inventory(tmp_path / "inv.yml", {
            "behind": host(sshd, ansible_python_interpreter=world.python("jc", [fleet_gpu()]),
                           ansible_ssh_common_args="-J viajump")})
        _, hosts = run_fleet(flockops, inventory, fleet_env)
    finally:
        jump.stop()
    assert hosts["behind"]["status"] == "ok", hosts["behind"]["errors"]
    assert hosts["behind"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"


def test_two_hops_and_a_stale_key_listed_before_the_real_one(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """`-J a,b`: through the first hop to the second, through that to the target (here the same sshd
    three times). Behind the hops, as in front of them, a host key is trusted whichever line lists
    it: the stale line last makes paramiko compare the wrong key (its last of a type wins), and the
    connection is retried over a fresh channel."""
    known = Path(fleet_env["HOME"], ".ssh", "known_hosts")
    name = f"[127.0.0.1]:{sshd.port}"
    stale = keygen(tmp_path / "stale_host_key").with_suffix(".pub")
    known.write_text(known.read_text() + _key_line(name, stale))
    hop = f"{sshd.user}@127.0.0.1:{sshd.port}"
    inventory = write_inventory(tmp_path / "inv.yml", {
        "deep": host(sshd, ansible_python_interpreter=world.python("j3", [fleet_gpu()]),
                     ansible_ssh_common_args=f"-J {hop},{hop}"),
        "dead_end": host(sshd, ansible_host="127.0.0.1", ansible_port=free_port(),
                         ansible_ssh_common_args=f"-J {hop},{hop}"),
        # Known to known_hosts only as 127.0.0.1: behind the jump, scanning it from here is no help.
        "unknown_behind": host(sshd, ansible_host="localhost", ansible_ssh_common_args=f"-J {hop}")})
    _, hosts = run_fleet(flockops, inventory, fleet_env)
    assert hosts["deep"]["status"] == "ok", hosts["deep"]["errors"]
    assert hosts["deep"]["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    error = hosts["dead_end"]["errors"][0]
    assert error["kind"] == "unreachable" and "jump host 127.0.0.1 cannot reach 127.0.0.1:" in error["message"]
    error = hosts["unknown_behind"]["errors"][0]
    assert error["kind"] == "host_key" and "on the jump host before it and add that line" in error["message"]


def test_the_jump_host_key_is_checked_even_when_the_targets_is_not(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """host_key_checking=false is the target's setting; the -J hop (here named localhost, which
    known_hosts does not list) keeps its own check, as with OpenSSH."""
    inventory = write_inventory(tmp_path / "inv.yml", {
        "behind": host(sshd, ansible_python_interpreter=world.python("j2", [fleet_gpu()]), host_key_checking=False,
                       ansible_ssh_common_args=f"-J {sshd.user}@localhost:{sshd.port}")})
    _, hosts = run_fleet(flockops, inventory, fleet_env)
    error = hosts["behind"]["errors"][0]
    assert (error["kind"], hosts["behind"]["gpus"]) == ("host_key", [])
    assert f"jump host localhost:{sshd.port}: unknown host key" in error["message"]
    assert "a jump host's key is checked even with host_key_checking=false" in error["message"]


def test_proxy_command_is_refused_not_bypassed_and_a_flood_is_cut(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """flockops does not run a ProxyCommand; connecting directly instead would reach whatever answers
    at the address. A target that prints without end is stopped, not read into memory."""
    flood = world.python("flood", body="exec yes 0123456789abcdefghijklmnopqrstuvwxyz")
    inventory = write_inventory(tmp_path / "inv.yml", {
        "proxied": host(sshd, ansible_ssh_common_args="-o ProxyCommand='nc %h %p'"),
        "flood": host(sshd, ansible_python_interpreter=flood),
    })
    _, hosts = run_fleet(flockops, inventory, fleet_env, "--timeout", "20")
    proxied, flooded = hosts["proxied"]["errors"][0], hosts["flood"]["errors"][0]
    assert proxied["kind"] == "unreachable" and "ProxyCommand is set" in proxied["message"]
    assert flooded["kind"] == "probe_failed" and "answer too large" in flooded["message"]
    assert "printed more than 4 MiB" in flooded["message"]


def test_stderr_before_the_answer_is_read_beside_it(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """A target whose interpreter writes megabytes to stderr before it answers (warnings, a noisy
    wrapper): stdout and stderr share the channel's window, so reading stdout alone would wait until
    the deadline on a healthy host."""
    config = world.python("noisy-gpus", [fleet_gpu()])  # the wrapper that sees the fake GPU
    noisy = world.python("noisy", body=f"head -c 3145728 /dev/zero | tr '\\0' w >&2; exec {config} \"$@\"")
    inventory = write_inventory(tmp_path / "inv.yml", {"noisy": host(sshd, ansible_python_interpreter=noisy)})
    _, hosts = run_fleet(flockops, inventory, fleet_env, "--timeout", "20")
    assert hosts["noisy"]["status"] == "ok", hosts["noisy"]["errors"]
    assert [g["name"] for g in hosts["noisy"]["gpus"]] == ["NVIDIA H100 80GB HBM3"]


def test_a_targets_escape_sequences_never_reach_the_terminal(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """A hostile or broken target's text (here a GPU name retitling the terminal and clearing it)
    is shown with its control characters written out."""
    report = ('{"gpus": [{"vendor": "nvidia", "index": 0, "source": "nvml", '
              '"name": "H100\\u001b]0;PWNED\\u0007\\u001b[2J"}]}')
    hostile = world.python("hostile", body=f"cat >/dev/null; printf '%s\\n%s\\n' @@flockops-json '{report}'")
    inventory = write_inventory(tmp_path / "inv.yml", {"hostile": host(sshd, ansible_python_interpreter=hostile)})
    run = flockops("report", "-i", str(inventory), env=fleet_env)
    assert "PWNED" in run.stdout, run.stdout + run.stderr
    assert "\x1b" not in run.stdout and "\x07" not in run.stdout
    assert "H100\\x1b]0;PWNED\\x07\\x1b[2J" in run.stdout


def test_an_inventorys_escape_sequences_never_reach_the_terminal(tmp_path, flockops) -> None:  # type: ignore[no-untyped-def]
    # The inventory is anyone's text too: a name that clears the screen, an address with a NUL.
    inventory = write_inventory(tmp_path / "inv.yml", {
        "evil\x1bc\x07": {"ansible_host": "127.0.0.1", "ansible_port": free_port()},
        "nul": {"ansible_host": "gpu\x0001"},
    })
    run = flockops("report", "-i", str(inventory), "--no-ollama", "--timeout", "5")
    assert run.returncode == 4, run.stdout + run.stderr  # no host answered
    assert "\x1b" not in run.stdout + run.stderr and "\x00" not in run.stdout + run.stderr
    assert "== evil\\x1bc\\x07 (127.0.0.1)  [unreachable]" in run.stdout
    assert "'gpu\\x0001'" in run.stdout  # the address, named in the reason it failed
    graph = flockops("inventory", "-i", str(inventory), "--graph")
    assert graph.returncode == 0 and "\x1b" not in graph.stdout and "evil\\x1bc\\x07" in graph.stdout


def test_local_ssh_setup_mistakes_say_what_to_fix(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("not a key\n")
    inventory = write_inventory(tmp_path / "inv.yml", {
        "missing-key": host(sshd, ansible_ssh_private_key_file=str(tmp_path / "no-such-key")),
        "text-key": host(sshd, ansible_ssh_private_key_file=str(not_a_key)),
    })
    _, hosts = run_fleet(flockops, inventory, fleet_env)
    missing, text = hosts["missing-key"]["errors"][0], hosts["text-key"]["errors"][0]
    assert missing["kind"] == "auth_failed"
    assert "no-such-key (ansible_ssh_private_key_file) does not exist" in missing["message"]
    assert text["kind"] == "auth_failed", text
    Path(fleet_env["HOME"], ".ssh", "config").write_text("Host *\n  HostName\n")
    _, hosts = run_fleet(flockops, inventory, fleet_env)
    error = hosts["missing-key"]["errors"][0]
    assert error["kind"] == "unreachable" and ".ssh/config" in error["message"] and "fix it" in error["message"]


def test_a_connection_flockops_does_not_speak_is_said_not_tried_over_ssh(tmp_path, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    inventory = write_inventory(tmp_path / "inv.yml", {
        "win": {"ansible_host": "127.0.0.1", "ansible_connection": "winrm"},
        "here": {"ansible_connection": "ansible.builtin.local"},
    })
    _, hosts = run_fleet(flockops, inventory, fleet_env)
    error = hosts["win"]["errors"][0]
    assert error["kind"] == "unreachable"
    assert "ansible_connection 'winrm' is not one flockops speaks" in error["message"]
    assert hosts["here"]["address"] == "local"


def _key_line(name: str, public_key: Path, marker: str = "") -> str:
    key_type, key = public_key.read_text().split()[:2]
    return f"{marker}{name} {key_type} {key}\n"


def test_known_hosts_markers_and_several_keys(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """A @cert-authority line (not checked here) takes nothing down; a @revoked key is refused even
    where another line lists it and host key checking is off; of two keys of one type for a host,
    the one the host offers is trusted, whichever line or file lists it (as ssh does)."""
    known = Path(fleet_env["HOME"], ".ssh", "known_hosts")
    name = f"[127.0.0.1]:{sshd.port}"
    real = sshd.host_key.with_suffix(".pub")
    stale = keygen(tmp_path / "stale_host_key").with_suffix(".pub")
    inventory = write_inventory(tmp_path / "inv.yml", {
        "gpu": host(sshd, ansible_python_interpreter=world.python("m", [fleet_gpu()]))})

    known.write_text(_key_line("*.example.org", real, "@cert-authority ") + _key_line(name, stale)
                     + _key_line(name, real))
    _, hosts = run_fleet(flockops, inventory, fleet_env)
    assert hosts["gpu"]["status"] == "ok", hosts["gpu"]["errors"]
    # Either order, and across files (the stale key in a later one): any line listing the key counts.
    known.write_text(_key_line(name, real))
    stale_file = tmp_path / "stale_known_hosts"
    stale_file.write_text(_key_line(name, stale))
    _, hosts = run_fleet(flockops, inventory, fleet_env, "--known-hosts", str(stale_file))
    assert hosts["gpu"]["status"] == "ok", hosts["gpu"]["errors"]

    known.write_text(_key_line(name, real) + _key_line("*", real, "@revoked "))
    for env in (fleet_env, {**fleet_env, "FLOCKOPS_HOST_KEY_CHECKING": "false"}):
        _, hosts = run_fleet(flockops, inventory, env)
        error = hosts["gpu"]["errors"][0]
        assert error["kind"] == "host_key" and "REVOKED" in error["message"], error


def test_a_vaulted_password_that_cannot_be_used_is_said(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    inventory = tmp_path / "inv.yml"
    inventory.write_text(f"""all:
  hosts:
    vaulted:
      ansible_host: 127.0.0.1
      ansible_port: {sshd.port}
      ansible_user: {sshd.user}
      ansible_ssh_private_key_file: {keygen(tmp_path / "k3")}
      ansible_password: !vault |
        $ANSIBLE_VAULT;1.1;AES256
        6162636465666768
""")
    _, hosts = run_fleet(flockops, inventory, fleet_env)
    error = hosts["vaulted"]["errors"][0]
    assert error["kind"] == "auth_failed" and "!vault-encrypted, which flockops cannot decrypt" in error["message"]


def test_password_is_never_shown(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    secret = "hunter2-do-not-print"
    inventory = write_inventory(tmp_path / "inv.yml", {
        "pw": host(sshd, ansible_ssh_private_key_file=str(keygen(tmp_path / "k2")), ansible_password=secret)})
    run, hosts = run_fleet(flockops, inventory, fleet_env)
    assert hosts["pw"]["errors"][0]["kind"] == "auth_failed"
    listing = flockops("inventory", "-i", str(inventory), "--list", env=fleet_env)
    for text in (run.stdout, run.stderr, listing.stdout, listing.stderr):
        assert secret not in text
    assert "********" in listing.stdout


def test_local_connection_and_limit(tmp_path, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    inventory = write_inventory(tmp_path / "inv.yml", {
        "me": {"ansible_connection": "local"}, "other": {"ansible_host": "127.0.0.1", "ansible_port": free_port()}})
    run, hosts = run_fleet(flockops, inventory, fleet_env, "-l", "me")
    assert list(hosts) == ["me"] and hosts["me"]["status"] == "ok" and run.returncode == 0
    bad = flockops("report", "-i", str(inventory), "-l", "nomatch*", env=fleet_env)
    assert bad.returncode == 1 and "no host" in bad.stderr


def test_pure_python_third_party_drivers_travel_with_the_probe(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    from support.plugins import DRIVER_SOURCE, make_distribution

    site = tmp_path / "site"
    site.mkdir()
    make_distribution(site, "acme_flockops", DRIVER_SOURCE)
    # A second plugin that is not pure Python (it carries a compiled extension) stays home.
    (site / "native_flockops").mkdir()
    (site / "native_flockops" / "__init__.py").write_text(DRIVER_SOURCE.replace('"acme"', '"native"'))
    (site / "native_flockops" / "_speedups.so").write_bytes(b"\x7fELF")
    info = site / "native_flockops_dist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: native-flockops-dist\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[flockops]\nnative = native_flockops\n")
    inventory = write_inventory(tmp_path / "inv.yml", {
        "gpu": host(sshd, ansible_python_interpreter=world.python("plug", [fleet_gpu()]))})
    _, hosts = run_fleet(flockops, inventory, {**fleet_env, "PYTHONPATH": str(site)})
    gpu_host = hosts["gpu"]
    assert gpu_host["status"] == "ok", gpu_host
    assert sorted((g["source"], g["name"]) for g in gpu_host["gpus"]) == [
        ("acme", "ACME Rocket 1"), ("nvml", "NVIDIA H100 80GB HBM3")]
    native = next(d for d in gpu_host["drivers"] if d["name"] == "native")
    assert native["outcome"] == "skipped" and "not pure Python" in native["reason"]


def test_an_interpreter_that_never_answers_is_ended_on_the_target(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """The probe's own alarm covers the probe; an interpreter that never reaches it (a wrapper that
    hangs) is ended by the target's timeout a second after the probe's alarm, children included."""
    from support.processes import ended

    pids = world.root / f"pids-{tmp_path.name}"
    pids.mkdir()
    pids.chmod(0o1777)  # the target's user writes there
    pid_file = pids / "hung.pid"
    hung = world.python(f"hung-{tmp_path.name}", body=f"sleep 600 & echo $! > {pid_file}; wait")
    inventory = write_inventory(tmp_path / "inv.yml", {"hung": host(sshd, ansible_python_interpreter=hung)})
    _, hosts = run_fleet(flockops, inventory, fleet_env, "--timeout", "2")
    assert hosts["hung"]["errors"][0]["kind"] == "timeout"
    assert ended(int(pid_file.read_text()), within_s=15)


def test_a_report_of_too_many_gpus_is_refused_before_it_is_built(tmp_path, world, sshd, fleet_env, flockops) -> None:  # type: ignore[no-untyped-def]
    """A valid answer, within the size cap, listing 60,000 GPUs: refused as too large at once, never
    built into objects, checked or rendered."""
    script = world.root / f"many-{tmp_path.name}.py"
    script.write_text('import json\nprint("@@flockops-json")\n'
                      'print(json.dumps({"gpus": [{"vendor": "nvidia", "index": i, "source": "nvml"} '
                      'for i in range(60000)]}))\n')
    script.chmod(0o644)
    many = world.python(f"many-{tmp_path.name}", body=f"exec /usr/bin/python3 {script}")
    inventory = write_inventory(tmp_path / "inv.yml", {"many": host(sshd, ansible_python_interpreter=many)})
    _, hosts = run_fleet(flockops, inventory, fleet_env, "--timeout", "20")
    [error] = hosts["many"]["errors"]
    assert error["kind"] == "probe_failed" and "answer too large" in error["message"]
    assert "lists 60,000 GPUs" in error["message"] and hosts["many"]["gpus"] == []
