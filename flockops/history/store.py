"""The history database: every GPU sample and Ollama placement, in an embedded SQLite file.

WAL mode (readers never block the writer), a busy timeout instead of "database is locked", and one
short ``BEGIN IMMEDIATE`` transaction per run, which also prunes rows older than the retention.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flockops.agent.model import FleetReport, GpuSample, OllamaStatus, spilled
from flockops.errors import UsageError

SCHEMA_VERSION = 1

DEFAULT_RETENTION_S = 30 * 86400.0

BUSY_TIMEOUT_S = 30.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS host_polls (
    ts REAL NOT NULL,
    host TEXT NOT NULL,
    status TEXT NOT NULL,
    ollama_status TEXT
);
CREATE INDEX IF NOT EXISTS host_polls_host_ts ON host_polls (host, ts);
CREATE INDEX IF NOT EXISTS host_polls_ts ON host_polls (ts);
CREATE TABLE IF NOT EXISTS gpu_samples (
    ts REAL NOT NULL,
    host TEXT NOT NULL,
    gpu_index INTEGER NOT NULL,
    uuid TEXT,
    name TEXT,
    vendor TEXT NOT NULL,
    source TEXT NOT NULL,
    memory_used_bytes INTEGER,
    memory_total_bytes INTEGER,
    temperature_c REAL,
    temperature_slowdown_c REAL,
    utilization_pct INTEGER,
    power_w REAL,
    throttle_reasons TEXT,
    lost INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS gpu_samples_host_ts ON gpu_samples (host, gpu_index, ts);
CREATE INDEX IF NOT EXISTS gpu_samples_ts ON gpu_samples (ts);
CREATE TABLE IF NOT EXISTS ollama_models (
    ts REAL NOT NULL,
    host TEXT NOT NULL,
    model TEXT NOT NULL,
    size_bytes INTEGER,
    vram_bytes INTEGER NOT NULL,
    placement TEXT NOT NULL,
    spilled INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS ollama_models_host_ts ON ollama_models (host, ts);
CREATE INDEX IF NOT EXISTS ollama_models_ts ON ollama_models (ts);
"""
TABLES = ("host_polls", "gpu_samples", "ollama_models")


def default_db_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/flockops/history.sqlite`` (``~/.local/share`` when unset)."""
    from flockops.userdirs import xdg_path

    base = xdg_path(os.environ if env is None else env, "XDG_DATA_HOME", (".local", "share"))
    return base / "flockops" / "history.sqlite"


class History:
    """One open history database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: Path | str, *, create: bool = True, timeout_s: float = BUSY_TIMEOUT_S) -> None:
        """``create``: open to record, making the file when missing; else only to read. Which files
        either may open is the rule of :mod:`flockops.history.dbfile`."""
        from .dbfile import is_foreign, open_for_reading, open_for_writing

        self.path = Path(path)
        self.create = create
        self.timeout_s = timeout_s
        new = False
        if str(path) == ":memory:":
            self.db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        elif create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UsageError(f"cannot create the history database's directory {self.path.parent}: "
                                 f"{exc.strerror or exc}") from None
            self.db, new = open_for_writing(self.path, timeout_s)
        else:
            self.db = open_for_reading(self.path, timeout_s)
        try:
            if not new and is_foreign(self.db):
                # Another program's database is left exactly as it was: no tables added, no WAL.
                raise sqlite3.DatabaseError("not a flockops history (it has tables, none of them "
                                            "flockops's; another program's database?)")
            self._setup()
        except sqlite3.Error as exc:
            self.db.close()
            raise UsageError(f"cannot use the history database {self.path}: {exc}") from None

    def _setup(self) -> None:
        self.db.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if not self.create:
            if version == 0:
                raise sqlite3.DatabaseError("not a flockops history (it has no flockops tables)")
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(f"written by a newer flockops (schema {version}, this one "
                                            f"knows {SCHEMA_VERSION})")
            return
        # Switching to WAL takes an exclusive lock for a moment; another process creating the
        # same file at once can make it fail before the busy handler is asked: retry.
        self._retry(lambda: self.db.execute("PRAGMA journal_mode = WAL").fetchone())
        self.db.execute("PRAGMA synchronous = NORMAL")  # durable enough in WAL mode, and fast
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"written by a newer flockops (schema {version}, this one knows "
                                        f"{SCHEMA_VERSION})")
        if version < SCHEMA_VERSION:
            with self._transaction():
                # One statement at a time: executescript() would COMMIT our transaction first.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _retry(self, action: Any) -> Any:
        deadline = time.monotonic() + self.timeout_s
        delay = 0.01
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock at once, waiting on busy_timeout; a deferred transaction
        # that upgrades later can fail straight away with SQLITE_BUSY instead.
        self._retry(lambda: self.db.execute("BEGIN IMMEDIATE"))
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing ------------------------------------------------------------------------------

    def record(self, fleet: FleetReport, *, now: float | None = None,
               retention_s: float | None = DEFAULT_RETENTION_S) -> int:
        """Append every host's poll, GPU samples and Ollama models; prune rows older than the
        retention. Returns the number of GPU samples written."""
        now = time.time() if now is None else now
        polls: list[tuple[Any, ...]] = []
        gpus: list[tuple[Any, ...]] = []
        models: list[tuple[Any, ...]] = []
        for host in fleet.hosts:
            ts = host.collected_at if host.collected_at is not None else now
            ollama = host.ollama
            polls.append((ts, host.host, host.status, None if ollama is None else ollama.status))
            gpus.extend(_gpu_row(ts, host.host, g) for g in host.gpus)
            if ollama is not None and ollama.status == OllamaStatus.OK:
                # The table's vram_bytes is NOT NULL: a model whose VRAM the server did not say is not recorded.
                models.extend((ts, host.host, m.name, m.size_bytes, m.vram_bytes, m.placement,
                               int(spilled(host, m))) for m in ollama.models if m.vram_bytes is not None)
        try:
            with self._transaction() as db:
                db.executemany("INSERT INTO host_polls VALUES (?, ?, ?, ?)", polls)
                db.executemany(f"INSERT INTO gpu_samples VALUES ({', '.join('?' * 15)})", gpus)
                db.executemany("INSERT INTO ollama_models VALUES (?, ?, ?, ?, ?, ?, ?)", models)
                if retention_s is not None:
                    for table in TABLES:
                        db.execute(f"DELETE FROM {table} WHERE ts < ?", (now - retention_s,))
        except sqlite3.Error as exc:
            raise UsageError(f"cannot record to {self.path}: {exc}") from None
        return len(gpus)

    # --- reading ------------------------------------------------------------------------------

    def hosts(self) -> list[str]:
        """Every host name recorded, in the order first seen."""
        rows = self.db.execute("SELECT host, MIN(ts) AS first FROM host_polls GROUP BY host ORDER BY first, host")
        return [r[0] for r in rows]

    def gpu_series(self, since: float, until: float, hosts: Iterable[str] | None = None) -> list[GpuSeries]:
        """Each GPU's samples in [since, until], by host (first seen first) then GPU index."""
        wanted = None if hosts is None else set(hosts)
        rows = self.db.execute(
            "SELECT ts, host, gpu_index, uuid, name, vendor, source, memory_used_bytes, memory_total_bytes, "
            "temperature_c, temperature_slowdown_c, utilization_pct, power_w, throttle_reasons, lost "
            "FROM gpu_samples WHERE ts >= ? AND ts <= ? ORDER BY host, gpu_index, ts", (since, until))
        grouped: dict[tuple[str, int], list[Row]] = {}
        for raw in rows:
            row = Row(*raw)
            if wanted is None or row.host in wanted:
                grouped.setdefault((row.host, row.gpu_index), []).append(row)
        order = {h: i for i, h in enumerate(self.hosts())}
        keys = sorted(grouped, key=lambda k: (order.get(k[0], len(order)), k[0], k[1]))
        return [GpuSeries(k[0], k[1], tuple(grouped[k])) for k in keys]

    def spill_polls(self, since: float, until: float,
                    hosts: Iterable[str] | None = None) -> dict[str, list[tuple[float, bool]]]:
        """Per host, each poll whose Ollama answered, and whether a model was spilled to CPU then."""
        wanted = None if hosts is None else set(hosts)
        rows = self.db.execute(
            "SELECT p.ts, p.host, EXISTS (SELECT 1 FROM ollama_models m WHERE m.host = p.host AND m.ts = p.ts "
            "AND m.spilled = 1) FROM host_polls p WHERE p.ollama_status = 'ok' AND p.ts >= ? AND p.ts <= ? "
            "ORDER BY p.host, p.ts", (since, until))
        out: dict[str, list[tuple[float, bool]]] = {}
        for ts, host, spilled_now in rows:
            if wanted is None or host in wanted:
                out.setdefault(host, []).append((ts, bool(spilled_now)))
        return out

    def count(self, table: str) -> int:
        assert table in TABLES
        return int(self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _gpu_row(ts: float, host: str, g: GpuSample) -> tuple[Any, ...]:
    reasons = None if g.throttle_reasons is None else ",".join(g.throttle_reasons)
    return (ts, host, g.index, g.uuid, g.name, g.vendor, g.source, g.memory_used_bytes, g.memory_total_bytes,
            g.temperature_c, g.temperature_slowdown_c, g.utilization_pct, g.power_w, reasons, int(g.lost))


@dataclass(frozen=True, slots=True)
class Row:
    """One recorded GPU sample."""

    ts: float
    host: str
    gpu_index: int
    uuid: str | None
    name: str | None
    vendor: str
    source: str
    memory_used_bytes: int | None
    memory_total_bytes: int | None
    temperature_c: float | None
    temperature_slowdown_c: float | None
    utilization_pct: int | None
    power_w: float | None
    throttle_reasons: str | None
    lost: int

    def gpu(self) -> GpuSample:
        """Back to a (partial) GpuSample, for the check module's temperature limits."""
        return GpuSample(vendor=self.vendor, index=self.gpu_index, source=self.source, name=self.name,
                         uuid=self.uuid, memory_used_bytes=self.memory_used_bytes,
                         memory_total_bytes=self.memory_total_bytes, temperature_c=self.temperature_c,
                         temperature_slowdown_c=self.temperature_slowdown_c, lost=bool(self.lost))


@dataclass(frozen=True, slots=True)
class GpuSeries:
    host: str
    gpu_index: int
    rows: tuple[Row, ...]

    @property
    def label(self) -> str:
        name = next((r.name for r in reversed(self.rows) if r.name), None)
        return f"{self.host} GPU {self.gpu_index}" + (f" ({name})" if name else "")
