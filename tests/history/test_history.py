"""Recorded history: concurrent writers, retention, and the summary numbers on injected timestamps."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.history_data import build
from support.runner import base_env
from support.units import GIB

from flockops.agent.model import FleetReport, GpuSample, HostError, HostReport
from flockops.agent.ollama_model import OllamaModel, OllamaReport
from flockops.errors import UsageError
from flockops.history.periods import parse_duration, parse_since
from flockops.history.store import History, default_db_path
from flockops.history.summary import held, select_hosts, summarize

T0 = 1_750_000_000.0  # an injected "now": 2025-06-15


def sample(temp: float | None, used: int = 10, slowdown: float | None = 87.0, index: int = 0) -> GpuSample:
    return GpuSample(vendor="nvidia", index=index, source="nvml", name="H100", uuid=f"GPU-{index}",
                     memory_total_bytes=80 * GIB, memory_used_bytes=used * GIB, temperature_c=temp,
                     temperature_slowdown_c=slowdown, utilization_pct=5, power_w=100.0,
                     throttle_reasons=("sw_power_cap",))


def fleet(*hosts: HostReport) -> FleetReport:
    return FleetReport(hosts=hosts, generated_at="")


def node(name: str, at: float, *gpus: GpuSample, ollama: OllamaReport | None = None) -> HostReport:
    return HostReport(host=name, gpus=gpus, collected_at=at, ollama=ollama)


def test_parse_duration_and_since() -> None:
    assert [parse_duration(t) for t in ("30d", "24h", "90m", "90min", "45s", "2w", "1.5h")] == [
        30 * 86400, 86400, 5400, 5400, 45, 14 * 86400, 5400]
    # No unit (it meant seconds, and --retention 30 deleted the history), months-or-minutes, centuries.
    for bad in ("", "soon", "0d", "-1h", "3y", "30", "30M", "1000000d"):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_since("2h", now=T0) == T0 - 7200
    assert parse_since("2025-06-01T08:00", now=T0) > 0
    with pytest.raises(ValueError, match="not a duration or date"):
        parse_since("yesterday", now=T0)


def test_default_path_follows_xdg() -> None:
    assert default_db_path({"XDG_DATA_HOME": "/data"}) == Path("/data/flockops/history.sqlite")
    assert default_db_path({"HOME": "/home/u"}) == Path("/home/u/.local/share/flockops/history.sqlite")
    # An empty or relative HOME or XDG value is ignored (XDG's rule), never a path under the current directory.
    import pwd

    home = Path(pwd.getpwuid(os.getuid()).pw_dir)
    for env in ({"HOME": ""}, {"HOME": "relative"}, {"XDG_DATA_HOME": "data", "HOME": ""}, {}):
        assert default_db_path(env) == home / ".local/share/flockops/history.sqlite", env
    from flockops.check.state import default_state_file

    assert default_state_file({"HOME": ""}) == home / ".local/state/flockops/check-state.json"


def test_record_stores_every_field_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "h.sqlite"
    spill = OllamaReport(url="http://x:11434", status="ok",
                         models=(OllamaModel("big", size_bytes=40 * GIB, vram_bytes=20 * GIB),))
    with History(db) as history:
        written = history.record(fleet(node("a", T0, sample(60.0), sample(None, index=1), ollama=spill),
                                       HostReport(host="b", collected_at=T0,
                                                  errors=(HostError("unreachable", "ssh", "refused"),))),
                                 now=T0)
        assert written == 2
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("SELECT host, gpu_index, uuid, name, memory_used_bytes, memory_total_bytes, temperature_c, "
                       "temperature_slowdown_c, utilization_pct, power_w, throttle_reasons FROM gpu_samples "
                       "ORDER BY gpu_index").fetchall() == [
        ("a", 0, "GPU-0", "H100", 10 * GIB, 80 * GIB, 60.0, 87.0, 5, 100.0, "sw_power_cap"),
        ("a", 1, "GPU-1", "H100", 10 * GIB, 80 * GIB, None, 87.0, 5, 100.0, "sw_power_cap")]
    assert raw.execute("SELECT host, status, ollama_status FROM host_polls ORDER BY host").fetchall() == [
        ("a", "ok", "ok"), ("b", "unreachable", None)]
    assert raw.execute("SELECT model, vram_bytes, placement, spilled FROM ollama_models").fetchall() == [
        ("big", 20 * GIB, "split", 1)]


def test_retention_prunes_old_rows_at_write_time(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    with History(db) as history:
        for day in range(10):
            at = T0 + day * 86400
            history.record(fleet(node("a", at, sample(50.0))), now=at, retention_s=None)
        assert history.count("gpu_samples") == 10
        last = T0 + 10 * 86400
        history.record(fleet(node("a", last, sample(50.0))), now=last, retention_s=parse_duration("3d"))
        rows = [r[0] for r in history.db.execute("SELECT ts FROM gpu_samples ORDER BY ts")]
        assert rows == [T0 + d * 86400 for d in (7, 8, 9, 10)]
        assert history.count("host_polls") == 4


def test_summary_numbers_from_sample_intervals(tmp_path: Path) -> None:
    """Samples every 60 s; a 2-hour silence counts at most 15 minutes; the last sample counts nothing."""
    db = tmp_path / "h.sqlite"
    split = OllamaReport(url="u", status="ok", models=(OllamaModel("m", size_bytes=10 * GIB, vram_bytes=5 * GIB),))
    on_gpu = OllamaReport(url="u", status="ok", models=(OllamaModel("m", size_bytes=10 * GIB, vram_bytes=10 * GIB),))
    # (offset s, temperature, VRAM used GiB, Ollama)
    plan = [(0, 70, 10, on_gpu), (60, 81, 20, split), (120, 85, 30, split), (180, 60, 40, on_gpu),
            (240, 82, 50, split), (240 + 7200, 90, 60, split)]
    with History(db) as history:
        for offset, temp, used, ollama in plan:
            at = T0 + offset
            history.record(fleet(node("a", at, sample(temp, used), ollama=ollama)), now=at, retention_s=None)
        # Another host with no slowdown limit: the 80 °C default applies.
        for offset, temp in [(0, 79), (60, 80), (120, 50)]:
            history.record(fleet(node("b", T0 + offset, sample(temp, slowdown=None))), now=T0 + offset,
                           retention_s=None)
        [a, b] = summarize(history, since=T0 - 1, until=T0 + 10_000)
        assert history.hosts() == ["a", "b"]
    assert (a.host, a.gpu_index, a.samples) == ("a", 0, 6)
    assert a.memory_used_bytes is not None and a.temperature_c is not None
    assert (a.memory_used_bytes.minimum, a.memory_used_bytes.mean, a.memory_used_bytes.maximum) == (
        10 * GIB, 35 * GIB, 60 * GIB)
    assert (a.temperature_c.minimum, a.temperature_c.maximum) == (60, 90)
    assert a.temperature_c.mean == pytest.approx((70 + 81 + 85 + 60 + 82 + 90) / 6)
    assert (a.warn_temperature_c, a.warn_origin) == (80.0, "slowdown 87 °C")
    # Above 80 °C: 81 (60 s) + 85 (60 s) + 82 (the gap, capped at 900 s); 90 is the last sample (0 s).
    assert a.above_warn_s == 60 + 60 + 900
    # Spilled (split) at 60, 120 (60 s each), 240 (capped gap 900 s), 7440 (last: 0 s).
    assert a.ollama_spilled_s == 60 + 60 + 900
    assert (b.warn_temperature_c, b.warn_origin, b.above_warn_s, b.ollama_spilled_s) == (80.0, "default", 60, None)
    # --since cuts the window: only the last two samples of a.
    with History(db) as history:
        late = summarize(history, since=T0 + 200, until=T0 + 10_000, hosts=["a"])
    assert [(s.host, s.samples, s.above_warn_s) for s in late] == [("a", 2, 900)]


def test_held_intervals() -> None:
    assert held([]) == []
    assert held([5.0]) == [0.0]
    assert held([0.0, 10.0, 5000.0], max_gap_s=900) == [10.0, 900.0, 0.0]


def test_concurrent_writers_lose_nothing(tmp_path: Path, nvml_env) -> None:  # type: ignore[no-untyped-def]
    """Two `report --record`s and two `watch --record`s (subprocesses) and a thread, all at once on a
    database none of them has created yet: no "database is locked", every row there."""
    db = tmp_path / "shared.sqlite"
    env = base_env(tmp_path)
    env.update(nvml_env([{"name": "NVIDIA H100", "uuid": "GPU-c", "memory_total": 80 * GIB,
                          "memory_used": 5 * GIB, "temperature": 50}]))
    command = [sys.executable, "-m", "flockops"]
    argvs = [command + ["report", "--record", "--db", str(db), "--no-ollama", "-o", "json"]] * 2
    argvs += [command + ["watch", "--record", "--db", str(db), "--no-ollama", "--count", "15", "-n", "0.01"]] * 2
    processes = [subprocess.Popen(a, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for a in argvs]
    errors: list[BaseException] = []
    writes = [0]
    stop = threading.Event()

    def thread_writer() -> None:
        """Writes for as long as the subprocesses run (and at least 20 times)."""
        try:
            with History(db) as history:
                while not stop.is_set() or writes[0] < 20:
                    # Real time: the other writers prune anything older than their 30-day retention.
                    history.record(fleet(node("thread", time.time(), sample(50.0))))
                    writes[0] += 1
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=thread_writer)
    thread.start()
    results = [(p.wait(timeout=120), p.stderr.read().decode() if p.stderr else "") for p in processes]
    stop.set()
    thread.join(timeout=120)
    assert not errors, errors
    for rc, stderr in results:
        assert rc == 0 and "locked" not in stderr and "Traceback" not in stderr, stderr
    with History(db) as history:
        counts = dict(history.db.execute("SELECT host, COUNT(*) FROM gpu_samples GROUP BY host").fetchall())
    assert counts == {"localhost": 2 + 2 * 15, "thread": writes[0]}


def test_history_command_table_json_and_limit(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    import json

    db = tmp_path / "day.sqlite"
    build(db, time.time())
    table = flockops("history", "--db", str(db))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "3 GPUs on 2 hosts" in lines[0]
    row = next(line for line in lines if line.startswith("gpu-b"))
    assert "24.0 GiB" in row and "83 °C (slowdown 90 °C)" in row and row.rstrip().endswith("2 h 00 min")
    hot = next(line for line in lines if line.startswith("gpu-a   0"))
    assert "1 h 00 min" in hot
    data = json.loads(flockops("history", "--db", str(db), "-o", "json", "-l", "gpu-a", "--since", "6h").stdout)
    assert [(g["host"], g["gpu_index"]) for g in data["gpus"]] == [("gpu-a", 0), ("gpu-a", 1)]
    assert all(60 <= g["samples"] <= 73 for g in data["gpus"])
    none = flockops("history", "--db", str(db), "-l", "nothing*")
    assert none.returncode == 1 and "no recorded host matches" in none.stderr
    missing = flockops("history", "--db", str(tmp_path / "absent.sqlite"))
    assert missing.returncode == 1 and "no history at" in missing.stderr
    bad = flockops("history", "--db", str(db), "--since", "soon")
    assert bad.returncode == 1 and "--since" in bad.stderr


def test_report_record_and_bad_retention(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    env = nvml_env([{"name": "NVIDIA H100", "memory_total": 80 * GIB, "memory_used": GIB, "temperature": 40}])
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    done = flockops("report", "--record", "--no-ollama", env=env)
    assert done.returncode == 0, done.stderr
    with History(tmp_path / "data" / "flockops" / "history.sqlite") as history:
        assert history.count("gpu_samples") == 1
    bad = flockops("report", "--record", "--retention", "forever", "--no-ollama", env=env)
    assert bad.returncode == 1 and "--retention" in bad.stderr and bad.stdout == ""


def test_select_hosts_uses_limit_patterns(tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite") as history:
        history.record(fleet(*(node(n, T0) for n in ("gpu-a", "gpu-b", "cpu-c"))), now=T0)
        assert select_hosts(history, None) is None
        assert select_hosts(history, "gpu-*:!gpu-b") == ["gpu-a"]
        assert select_hosts(history, "~cpu") == ["cpu-c"]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "h.sqlite"
    raw = sqlite3.connect(db)
    raw.execute("PRAGMA user_version = 99")
    raw.close()
    with pytest.raises(UsageError, match="newer flockops"):
        History(db)


def test_reading_leaves_a_foreign_database_alone(tmp_path: Path, flockops) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import sqlite3

    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE foo (x)")
    before = hashlib.md5(foreign.read_bytes()).hexdigest()
    run = flockops("history", "--db", str(foreign))
    assert run.returncode == 1 and "not a flockops history" in run.stderr
    assert hashlib.md5(foreign.read_bytes()).hexdigest() == before and not Path(f"{foreign}-wal").exists()
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    run = flockops("report", "--no-ollama", "--record", "--db", str(a_file / "history.sqlite"))
    assert run.returncode == 1 and "cannot create the history database's directory" in run.stderr


def test_a_new_history_database_is_the_owners_only(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with History(path) as history:
        history.record(fleet(node("a", T0, sample(50.0))), now=T0)
    assert path.stat().st_mode & 0o777 == 0o600
    assert all(p.stat().st_mode & 0o077 == 0 for p in tmp_path.glob("h.sqlite*"))


def test_a_path_the_system_refuses_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot create the history database"):
        History(tmp_path / ("x" * 300))


def test_a_record_that_fails_costs_the_record_not_the_report(tmp_path: Path, flockops, nvml_env) -> None:  # type: ignore[no-untyped-def]
    """A database that refuses the write (here a trigger raising, as a full disk or a lock held past
    the busy timeout would): the report is printed whole, the failure is a warning naming the
    database, and the exit code says an output failed."""
    db = tmp_path / "h.sqlite"
    env = nvml_env([{"name": "NVIDIA H100", "memory_total": 80 * GIB, "memory_used": GIB}])
    assert flockops("report", "--no-ollama", "--record", "--db", str(db), env=env).returncode == 0
    with sqlite3.connect(db) as refusing:
        refusing.execute("CREATE TRIGGER full BEFORE INSERT ON gpu_samples BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    run = flockops("report", "--no-ollama", "-o", "json", "--record", "--db", str(db), env=env)
    assert run.returncode == 6, run.stderr
    assert run.json()["hosts"][0]["gpus"][0]["name"] == "NVIDIA H100"
    assert f"cannot record to {db}: disk full" in run.stderr and "Traceback" not in run.stderr
