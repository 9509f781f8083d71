"""SQLite store: runs, every response as it arrives (the cache), failures, per-sample scores.

WAL with synchronous=NORMAL: a committed transaction survives the process being killed
(only an OS crash can lose the last commits), and commits stay cheap enough to group every
~100 ms on the hot path.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
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
    manifest TEXT NOT NULL
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
            raise SlmbenchError(f"cannot open the run store {path} ({exc}); pass a writable folder with --out") from None
        self._pending_responses: list[tuple[Any, ...]] = []
        self._pending_failures: list[tuple[Any, ...]] = []
        self.last_commit = time.monotonic()

    def close(self) -> None:
        self.flush()
        self.db.close()

    # runs -----------------------------------------------------------------
    def start_run(self, run_id: str, manifest: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO runs (id, created, status, manifest) VALUES (?, ?, 'running', ?)",
            (run_id, time.time(), orjson.dumps(manifest).decode()),
        )

    def finish_run(self, run_id: str, status: str, manifest: dict[str, Any]) -> None:
        self.db.execute(
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
            with self.db:
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

    # per-sample scores -----------------------------------------------------
    def save_sample_results(self, rows: Iterable[tuple[str, str, str, str, str, str, float, str]]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO sample_results (run_id, model, task, sample_id, key, verdict, score, why) "
                "VALUES (?,?,?,?,?,?,?,?)",
                rows,
            )


    # perf (load test) points: the summary of each point and every request it timed -----------
    def save_perf_point(
        self, run_id: str, model: str, point: str, repeat: int, summary: dict[str, Any], records: Iterable[dict[str, Any]]
    ) -> None:
        with self.db:
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


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Stores written by earlier versions lack later columns; add them so the cache stays usable."""
    have = {row[1] for row in db.execute("PRAGMA table_info(responses)")}
    if "reasoning" not in have:
        db.execute("ALTER TABLE responses ADD COLUMN reasoning TEXT")
