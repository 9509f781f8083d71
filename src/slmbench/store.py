"""SQLite store: runs, every response as it arrives (the cache), failures, per-sample scores.

WAL with synchronous=NORMAL: a committed transaction survives the process being killed
(only an OS crash can lose the last commits), and commits stay cheap enough to group every
~50 ms on the hot path (see runner).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson

from .client import Completion
from .errors import SlmbenchError

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    finished REAL,
    status TEXT NOT NULL,
    manifest TEXT NOT NULL,
    pid INTEGER,
    host TEXT,
    pid_start TEXT
);
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    request TEXT NOT NULL,
    text TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_s REAL NOT NULL,
    attempts INTEGER NOT NULL,
    created REAL NOT NULL,
    reasoning TEXT
);
CREATE TABLE IF NOT EXISTS failures (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    key TEXT NOT NULL,
    model TEXT NOT NULL,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    latency_s REAL NOT NULL,
    attempts INTEGER NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sample_results (
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    sample_id TEXT NOT NULL,
    key TEXT NOT NULL,
    verdict TEXT NOT NULL,
    score REAL NOT NULL,
    why TEXT NOT NULL,
    PRIMARY KEY (run_id, model, task, sample_id)
);
CREATE TABLE IF NOT EXISTS perf_points (
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    point TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    summary TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, model, point, repeat)
);
CREATE TABLE IF NOT EXISTS perf_requests (
    run_id TEXT NOT NULL,
    model TEXT NOT NULL,
    point TEXT NOT NULL,
    repeat INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (run_id, model, point, repeat, idx)
);
"""

_RESPONSE_COLUMNS = (
    "key, run_id, model, request, text, finish_reason, prompt_tokens, completion_tokens, latency_s, attempts, created, "
    "reasoning"
)


class Store:
    """One SQLite file; one writer (the runner's event loop thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA busy_timeout=5000")
            self.db.executescript(SCHEMA)
            _add_missing_columns(self.db)
        except (OSError, sqlite3.Error) as exc:
            raise _open_error(path, exc) from None
        self._pending_responses: list[tuple[Any, ...]] = []
        self._pending_failures: list[tuple[Any, ...]] = []
        self.last_commit = time.monotonic()
        self._oldest_pending: float | None = None  # monotonic time the oldest queued answer arrived
        # Longest an answer waited in memory before its commit: what a kill -9 could have lost.
        self.max_commit_lag_s = 0.0

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.db.close()

    def _write(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._writing():
            self.db.execute(sql, params)

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A full disk (or any write failure) is one clear StoreError; what was committed stays."""
        try:
            yield
        except sqlite3.Error as exc:
            if self.db.in_transaction:
                with suppress(sqlite3.Error):
                    self.db.rollback()
            raise _write_error(self.path, exc) from None

    # runs -----------------------------------------------------------------
    def start_run(self, run_id: str, manifest: dict[str, Any]) -> None:
        """Record the run as running, with who runs it: a later command can tell it died."""
        self._write(
            "INSERT INTO runs (id, created, status, manifest, pid, host, pid_start) VALUES (?, ?, 'running', ?, ?, ?, ?)",
            (
                run_id,
                time.time(),
                orjson.dumps(manifest).decode(),
                os.getpid(),
                socket.gethostname(),
                process_start(os.getpid()),
            ),
        )

    def mark_dead_runs(self) -> list[str]:
        """Runs still `running` whose process on this host is gone (killed, machine rebooted)
        become `interrupted`; their ids."""
        host = socket.gethostname()
        rows = self.db.execute(
            "SELECT id, pid, pid_start FROM runs WHERE status = 'running' AND host = ?", (host,)
        ).fetchall()
        dead = [run_id for run_id, pid, started in rows if pid is not None and process_start(pid) != started]
        for run_id in dead:
            self._write("UPDATE runs SET status = 'interrupted' WHERE id = ? AND status = 'running'", (run_id,))
        return dead

    def finish_run(self, run_id: str, status: str, manifest: dict[str, Any]) -> None:
        self._write(
            "UPDATE runs SET finished = ?, status = ?, manifest = ? WHERE id = ?",
            (time.time(), status, orjson.dumps(manifest).decode(), run_id),
        )

    def run_status(self, run_id: str) -> str | None:
        row = self.db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row[0] if row else None

    # responses (the cache) -------------------------------------------------
    def cached(self, keys: Sequence[str]) -> dict[str, Completion]:
        """The stored answers among `keys`."""
        found: dict[str, Completion] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                "SELECT key, text, finish_reason, prompt_tokens, completion_tokens, latency_s, attempts, reasoning "
                f"FROM responses WHERE key IN ({marks})",
                chunk,
            )
            for key, text, finish, p_tok, c_tok, latency, attempts, reasoning in rows:
                found[key] = Completion(text, finish, p_tok, c_tok, latency, attempts, reasoning=reasoning)
        return found

    def add_response(self, key: str, run_id: str, model: str, request: bytes, c: Completion) -> None:
        """Queue an answer (or a failure) for the next group commit."""
        if self._oldest_pending is None:
            self._oldest_pending = time.monotonic()
        now = time.time()
        if c.ok:
            self._pending_responses.append(
                (key, run_id, model, request.decode(), c.text, c.finish_reason, c.prompt_tokens,
                 c.completion_tokens, c.latency_s, c.attempts, now, c.reasoning)
            )  # fmt: skip
        else:
            self._pending_failures.append(
                (run_id, key, model, c.error_kind, c.error or "", c.latency_s, c.attempts, now)
            )

    def flush(self) -> None:
        if self._pending_responses or self._pending_failures:
            with self._writing(), self.db:
                self.db.execute("BEGIN")
                if self._pending_responses:
                    self.db.executemany(
                        f"INSERT OR REPLACE INTO responses ({_RESPONSE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                        self._pending_responses,
                    )
                if self._pending_failures:
                    self.db.executemany(
                        "INSERT INTO failures (run_id, key, model, kind, message, latency_s, attempts, created) "
                        "VALUES (?,?,?,?,?,?,?,?)",
                        self._pending_failures,
                    )
            self._pending_responses.clear()
            self._pending_failures.clear()
        self.last_commit = time.monotonic()
        if self._oldest_pending is not None:
            self.max_commit_lag_s = max(self.max_commit_lag_s, self.last_commit - self._oldest_pending)
            self._oldest_pending = None

    def pending_age(self) -> float:
        """Seconds the oldest uncommitted answer has waited (0 when none waits)."""
        return 0.0 if self._oldest_pending is None else time.monotonic() - self._oldest_pending

    # per-sample scores -----------------------------------------------------
    def save_sample_results(self, rows: Iterable[tuple[str, str, str, str, str, str, float, str]]) -> None:
        with self._writing(), self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO sample_results (run_id, model, task, sample_id, key, verdict, score, why) "
                "VALUES (?,?,?,?,?,?,?,?)",
                rows,
            )

    # perf (load test) points: the summary of each point and every request it timed -----------
    def save_perf_point(
        self,
        run_id: str,
        model: str,
        point: str,
        repeat: int,
        summary: dict[str, Any],
        records: Iterable[dict[str, Any]],
    ) -> None:
        with self._writing(), self.db:
            self.db.execute("BEGIN")
            self.db.execute(
                "INSERT OR REPLACE INTO perf_points (run_id, model, point, repeat, summary, created) VALUES (?,?,?,?,?,?)",
                (run_id, model, point, repeat, orjson.dumps(summary).decode(), time.time()),
            )
            self.db.executemany(
                "INSERT OR REPLACE INTO perf_requests (run_id, model, point, repeat, idx, record) VALUES (?,?,?,?,?,?)",
                [(run_id, model, point, repeat, r["index"], orjson.dumps(r).decode()) for r in records],
            )

    def perf_points(self, run_id: str) -> list[tuple[str, str, int, dict[str, Any]]]:
        """(model, point, repeat, summary) of a run, in the order they were measured."""
        rows = self.db.execute(
            "SELECT model, point, repeat, summary FROM perf_points WHERE run_id = ? ORDER BY created", (run_id,)
        )
        return [(m, p, r, orjson.loads(s)) for m, p, r, s in rows]


class StoreError(SlmbenchError):
    """The store could not be written (full disk, I/O error): the run stops; what was committed stays."""


def _write_error(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    if "full" in text:
        return StoreError(f"the disk holding {path} is full ({text}); every answer committed so far is kept: "
                          "free some space and re-run the same command to resume")  # fmt: skip
    return StoreError(f"cannot write the run store {path} ({text}); every answer committed so far is kept: "
                      "fix the disk and re-run the same command to resume, or pass another folder with --out")  # fmt: skip


def _open_error(path: Path, exc: OSError | sqlite3.Error) -> SlmbenchError:
    text = str(exc)
    if isinstance(exc, sqlite3.DatabaseError) and ("not a database" in text or "malformed" in text):
        return SlmbenchError(f"the run store {path} is damaged ({text}); move it aside to start a new one "
                             "(its answers are lost to the cache), or pass another folder with --out")  # fmt: skip
    if "full" in text:
        return SlmbenchError(f"cannot open the run store {path}: the disk is full ({text}); free some space")
    return SlmbenchError(f"cannot open the run store {path} ({text}); pass a writable folder with --out")


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Stores written by earlier versions lack later columns; add them so the cache stays usable."""
    have = {row[1] for row in db.execute("PRAGMA table_info(responses)")}
    if "reasoning" not in have:
        db.execute("ALTER TABLE responses ADD COLUMN reasoning TEXT")
    have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    for column, kind in (("pid", "INTEGER"), ("host", "TEXT"), ("pid_start", "TEXT")):
        if column not in have:
            db.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")


def process_start(pid: int) -> str | None:
    """An identity for a live process that a reused pid does not share: boot id and start tick
    (Linux /proc); None when no such process runs."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except (OSError, IndexError):
        return None
    if fields[0] == b"Z":
        return None
    return f"{boot}:{int(fields[19])}"
