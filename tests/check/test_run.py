"""`flockops check` end to end: fake NVML GPUs, real files, a loopback HTTP receiver, cron's environment."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from support.paths import DATA, FAKES
from support.units import GIB
from support.webhook import Webhook


def card(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": "NVIDIA L40S", "uuid": "GPU-1", "memory_total": 48 * GIB, "memory_used": 8 * GIB,
                            "temperature": 60, "temp_slowdown": 89, "temp_shutdown": 92, "util_gpu": 30,
                            "clocks_event_reasons": 0}
    base.update(kw)
    return base


@pytest.mark.parametrize(("gpu", "code", "first"), [
    (card(), 0, "FLOCKOPS OK - 1 GPU on 1 host OK | "),
    (card(temperature=83), 1, "FLOCKOPS WARNING - localhost GPU0 83 °C >= warning 82 °C (slowdown 89 °C) | "),
    (card(temperature=88), 2, "FLOCKOPS CRITICAL - localhost GPU0 88 °C >= critical 87 °C (slowdown 89 °C) | "),
    (card(clocks_event_reasons=0x40), 2, "FLOCKOPS CRITICAL - localhost GPU0 thermal throttling: hw_thermal_slowdown"),
    (card(clocks_event_reasons=0x8), 1, "FLOCKOPS WARNING - localhost GPU0 throttling: hw_slowdown"),
    (card(clocks_event_reasons=0x5), 0, "FLOCKOPS OK - "),  # gpu_idle + sw_power_cap never alert
    (card(temperature=None), 3, "FLOCKOPS UNKNOWN - localhost GPU0 temperature not readable | "),
    (card(handle_error=15), 2, "FLOCKOPS CRITICAL - localhost GPU0 lost: GPU is lost"),
])
def test_rules_through_the_cli(gpu: dict[str, Any], code: int, first: str, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    run = flockops("check", "--no-ollama", env=nvml_env([gpu]))
    assert run.returncode == code, run.stdout + run.stderr
    assert run.stdout.splitlines()[0].startswith(first), run.stdout


def test_thresholds_from_flags_and_inventory(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([card(temperature=70)])
    assert flockops("check", "--no-ollama", "--warn-temp", "65", "--crit-temp", "75", env=env).returncode == 1
    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {"me": {
        "ansible_connection": "local", "flockops_warn_temp": 60, "flockops_crit_temp": 68}}}}))
    run = flockops("check", "--no-ollama", "-i", str(inventory), env=env)
    assert run.returncode == 2 and "me GPU0 70 °C >= critical 68 °C (configured)" in run.stdout
    # The command line wins over the inventory.
    assert flockops("check", "--no-ollama", "-i", str(inventory), "--crit-temp", "90", env=env).returncode == 1


def test_min_free_vram_and_usage_errors_are_unknown(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([card()])
    assert flockops("check", "--no-ollama", "--min-free-vram", "41GiB", env=env).returncode == 1
    assert flockops("check", "--no-ollama", "--min-free-vram", "80%", env=env).returncode == 0
    for bad in (["--min-free-vram", "lots"], ["--bogus"], ["--warn-temp", "hot"], ["--crit-temp", "nan"],
                ["--min-free-vram", "nan%"], ["--warn-temp", "90", "--crit-temp", "80"], ["--deadline", "inf"],
                ["--notify", "notaurl"], ["-l", "gpu-*"], ["-i", ""]):
        run = flockops("check", "--no-ollama", *bad, env=env)
        assert run.returncode == 3, (bad, run.stderr)
        assert "Traceback" not in run.stderr
        # Nagios reads stdout only: the reason is there, on the one status line.
        assert run.stdout.startswith("FLOCKOPS UNKNOWN - ") and run.stdout.count("\n") == 1, (bad, run.stdout)


def test_a_state_file_that_cannot_be_saved_holds_nothing_back(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    """Unsaved, the streak never reaches --consecutive: each run would hold the breach back as OK for
    ever. The verdict is the GPU's (CRITICAL, not UNKNOWN: the state file is an output), said at once,
    and the broken file is a warning naming it."""
    receiver = Webhook()
    directory = tmp_path / "a-directory"
    directory.mkdir()
    for _ in range(2):
        run = flockops("check", "--no-ollama", "--consecutive", "2", "--state-file", str(directory),
                       "--notify", receiver.url, env=nvml_env([card(temperature=95)]))
        assert run.returncode == 2 and run.stdout.startswith("FLOCKOPS CRITICAL - localhost GPU0 95 °C"), run.stdout
        assert f"cannot save the check state to {directory}" in run.stderr
    assert receiver.posts() == []  # each run would send the same change again: none is sent
    receiver.close()


def test_a_lock_that_cannot_be_opened_is_unknown_with_the_reason(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    run = flockops("check", "--no-ollama", "--lock", str(tmp_path), env=nvml_env([card()]))
    assert run.returncode == 3 and run.stdout.startswith(f"FLOCKOPS UNKNOWN - --lock {tmp_path}: Is a directory")
    # A lock in a directory not made yet is made (the state directory of a first run).
    fresh = flockops("check", "--no-ollama", "--lock", str(tmp_path / "new" / "dir" / "check.lock"),
                     env=nvml_env([card()]))
    assert fresh.returncode == 0, fresh.stdout


def test_a_damaged_state_file_costs_only_the_streaks(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "state.json"
    for text in ('{"version": 1, "items": []}', '{"items": 5}', '{"items": {"k": {"streak": "a"}}}',
                 '{"items": {"k": {"streak": null}}}', '{"items": {"k": {"streak": 1e400}}}'):
        state.write_text(text)
        run = flockops("check", "--no-ollama", "--consecutive", "2", "--state-file", str(state),
                       env=nvml_env([card()]))
        assert run.returncode == 0 and "Traceback" not in run.stderr, (text, run.stdout, run.stderr)


def test_a_notify_url_never_shows_its_credentials(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    from support.sshd import free_port

    bad = flockops("check", "--no-ollama", "--notify", "https://hook:Secr3tTok@[example.com/x")
    assert bad.returncode == 3 and "Secr3t" not in bad.stdout + bad.stderr, bad.stdout + bad.stderr
    url = f"http://admin:Secr3tPw@127.0.0.1:{free_port()}/hook?token=Secr3tTok"
    run = flockops("check", "--no-ollama", "--state-file", str(tmp_path / "s.json"), "--notify", url,
                   env=nvml_env([card(temperature=95)]))
    assert run.returncode == 2 and "notification to http://…@127.0.0.1" in run.stderr
    assert "Secr3t" not in run.stdout + run.stderr


def test_unreachable_host_is_unknown_unless_asked(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    from support.sshd import free_port

    inventory = tmp_path / "inv.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": {
        "me": {"ansible_connection": "local"}, "gone": {"ansible_host": "127.0.0.1", "ansible_port": free_port()}}}}))
    env = {**nvml_env([card()]), "HOME": str(tmp_path)}
    run = flockops("check", "--no-ollama", "-i", str(inventory), env=env)
    assert run.returncode == 3 and "gone unreachable: connection refused" in run.stdout
    assert flockops("check", "--no-ollama", "-i", str(inventory), "--unreachable", "critical",
                    env=env).returncode == 2


def test_like_cron_quiet_no_tty_minimal_environment(tmp_path: Path, fake_nvml_dir: Path) -> None:
    from support.nvml import nvml_env, write_config

    def cron(gpu: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        config = write_config(tmp_path / "nvml.conf", [gpu])
        env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh", "LOGNAME": "cron",
               **nvml_env(fake_nvml_dir, config)}
        flockops = [sys.executable, "-m", "flockops"]
        return subprocess.run([*flockops, "check", "--quiet", "--no-ollama"], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, check=False, start_new_session=True)

    ok = cron(card())
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, "", "")  # cron mails nothing
    hot = cron(card(temperature=95))
    assert hot.returncode == 2 and hot.stdout.startswith("FLOCKOPS CRITICAL")
    assert "\x1b[" not in hot.stdout  # no colour codes off a terminal


def test_lock_held_by_another_run(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    lock = tmp_path / "check.lock"
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        run = flockops("check", "--no-ollama", "--lock", str(lock), env=nvml_env([card()]))
    assert run.returncode == 3 and "holds" in run.stdout
    assert flockops("check", "--no-ollama", "--lock", str(lock), env=nvml_env([card()])).returncode == 0


def test_deadline_bounds_the_whole_run(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    case = tmp_path / "hung"
    shutil.copytree(DATA / "nvidia-smi" / "cases" / "h200-load", case)
    (case / "delay-seconds").write_text("30")  # an nvidia-smi wedged on a GPU fallen off the bus
    env = {"PATH": f"{FAKES}:/usr/bin:/bin", "FAKE_NVIDIA_SMI_CASE": str(case), "FLOCKOPS_COMMAND_TIMEOUT": "60"}
    import time

    started = time.monotonic()
    run = flockops("check", "--no-ollama", "--driver", "nvidia-smi", "--deadline", "1.5", env=env)
    assert time.monotonic() - started < 1.5 + 3  # plus interpreter start-up
    assert run.returncode == 3 and "deadline" in run.stdout


def test_consecutive_and_notify(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    receiver = Webhook()
    state = tmp_path / "state.json"
    args = ["check", "--no-ollama", "--consecutive", "2", "--state-file", str(state), "--notify", receiver.url]
    hot, cool = nvml_env([card(temperature=95)]), None
    first = flockops(*args, env=hot)
    assert first.returncode == 0 and "breach 1 of 2, not alerting yet" in first.stdout
    assert receiver.posts() == []
    second = flockops(*args, env=hot)
    assert second.returncode == 2
    assert [(b["check"], b["from"], b["to"]) for b in receiver.posts()] == [
        ("localhost/gpu0/temperature", "OK", "CRITICAL")]
    cool = nvml_env([card()])
    assert flockops(*args, env=cool).returncode == 0
    assert [(b["from"], b["to"]) for b in receiver.posts()][-1] == ("CRITICAL", "OK")
    assert json.loads(state.read_text())["items"]["localhost/gpu0/temperature"] == {"streak": 0, "reported": 0}
    receiver.close()


def test_notify_failure_is_a_warning_not_a_state(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    from support.sshd import free_port

    run = flockops("check", "--no-ollama", "--state-file", str(tmp_path / "s.json"), "--notify",
                   f"http://127.0.0.1:{free_port()}/", env=nvml_env([card(temperature=95)]))
    assert run.returncode == 2 and "notification to" in run.stderr


def test_prometheus_output_and_textfile(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([card(), card(uuid="GPU-2", temperature=88)])
    textfile = tmp_path / "textfile"
    textfile.mkdir()
    run = flockops("check", "--no-ollama", "-o", "prometheus", "--textfile", str(textfile), env=env)
    assert run.returncode == 2
    families = {f.name: f for f in text_string_to_metric_families(run.stdout)}
    statuses = {s.labels["check"]: s.value for s in families["flockops_check_status"].samples}
    assert statuses["localhost/gpu1/temperature"] == 2 and statuses["localhost/gpu0/temperature"] == 0
    assert families["flockops_gpu_temperature_celsius"].samples[1].value == 88
    assert families["flockops_last_run_timestamp_seconds"].samples[0].value > 1.7e9
    assert (textfile / "flockops.prom").read_text() == run.stdout
    assert sorted(p.name for p in textfile.iterdir()) == ["flockops.prom"]  # no temp file left behind
    report = flockops("report", "-o", "prometheus", "--no-ollama", env=env)
    names = {f.name for f in text_string_to_metric_families(report.stdout)}
    assert {"flockops_gpu_memory_used_bytes", "flockops_gpu_utilization_ratio", "flockops_host_up"} <= names


def test_report_csv_one_row_per_gpu(flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    import csv
    import io

    env = nvml_env([card(), card(uuid="GPU-2", util_gpu=None)])
    rows = list(csv.DictReader(io.StringIO(flockops("report", "-o", "csv", "--no-ollama", env=env).stdout)))
    assert [r["uuid"] for r in rows] == ["GPU-1", "GPU-2"]
    assert rows[0]["memory_total_bytes"] == str(48 * GIB) and rows[0]["utilization_pct"] == "30"
    assert rows[1]["utilization_pct"] == ""  # unknown is empty, never 0


def test_help_lists_exit_codes(flockops) -> None:  # type: ignore[no-untyped-def]
    text = flockops("check", "--help").stdout
    assert "3  UNKNOWN" in text and "slowdown - 2 °C" in text
    assert os.environ.get("FLOCKOPS_DEBUG") is None


def test_report_refuses_what_would_silently_change_the_hosts_asked(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[gpu]\nnode1 ansible_host=127.0.0.1\n")
    for args, said in ((["-i", str(inventory), "-i", ""], "empty path"),
                       (["-l", "gpu"], "give -i FILE too"),
                       (["-i", str(inventory), "--known-hosts", str(tmp_path / "typo")], "no such file"),
                       (["--timeout", "nan"], "finite number"),
                       (["--timeout", "1e10"], "at most 10,000,000"),  # a timer cannot hold it
                       (["-i", str(inventory), "--textfile", str(tmp_path / "typo")], "no such directory"),
                       (["--ollama", "http://admin:Secr3tPw@127.0.0.1:1"], "user name or password")):
        run = flockops("report", "--no-ollama", *args)
        assert run.returncode == 1 and said in run.stderr, (args, run.stderr)
        assert "Traceback" not in run.stderr and "Secr3t" not in run.stderr + run.stdout


def test_several_inventories_are_read_as_one(flockops) -> None:  # type: ignore[no-untyped-def]
    sources = DATA / "inventory" / "two_sources"
    run = flockops("inventory", "-i", str(sources / "first" / "hosts.ini"), "-i", str(sources / "second"), "--list")
    assert run.returncode == 0, run.stderr
    hostvars = run.json()["_meta"]["hostvars"]
    assert sorted(hostvars) == ["node1", "node2", "node3"]
    assert (hostvars["node1"]["rack"], hostvars["node1"]["site"]) == ("b7", "second")  # the later source wins
    missing = flockops("report", "-i", str(sources / "first" / "hosts.ini"), "-i", str(sources / "nowhere.yml"))
    assert missing.returncode == 1 and "nowhere.yml" in missing.stderr and "Traceback" not in missing.stderr


def test_a_limit_pattern_that_matches_nothing_is_warned_about(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    inventory = tmp_path / "hosts.ini"
    inventory.write_text("[gpu]\nnode1 ansible_host=127.0.0.1\n")
    run = flockops("inventory", "-i", str(inventory), "--graph", "-l", "gpu:nmoatch")
    assert run.returncode == 0 and "warning: -l gpu:nmoatch: 'nmoatch' matches no host or group" in run.stderr
