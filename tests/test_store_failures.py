"""The store under real failures: a full disk mid-run, a damaged file, a run whose process died,
a failure during the final write."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from helpers import db_path, gold_arithmetic, run_cli

from slmbench.results import Results
from slmbench.store import Store
from slmbench.testing.scripted import ScriptedServer


@pytest.fixture
def small_disk(tmp_path):
    """A real 3 MiB filesystem (tmpfs), so that writes fail with ENOSPC as on a full disk."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def long_answer(body):
    return gold_arithmetic(body) + "\n" + "padding " * 2000  # ~16 KB per stored answer


def test_a_full_disk_mid_run_stops_in_one_line_keeps_the_store_and_the_rerun_resumes(small_disk):
    out = small_disk / "runs"
    args = ["eval", "-t", "arithmetic", "--limit", "400", "--concurrency", "4", "--out", str(out), "-q"]
    with ScriptedServer(long_answer) as server:
        result = run_cli(*args, "--model", f"scripted={server.url}", timeout=300)
        lines = [x for x in result.stderr.splitlines() if x.strip()]
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert len(lines) == 1 and "is full" in lines[0] and "re-run the same command to resume" in lines[0], lines
        db = sqlite3.connect(db_path(out))
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        kept = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
        db.close()
        assert 0 < kept < 400
        # Make room (as a user would) and run the same command again: only the rest is sent.
        subprocess.run(["mount", "-o", "remount,size=64m", str(small_disk)], check=True)
        sent_before = server.chat_requests
        again = run_cli(*args, "--model", f"scripted={server.url}", timeout=300)
        assert again.returncode == 0, again.stderr
        assert server.chat_requests - sent_before == 400 - kept
    data = json.loads((out / "latest" / "results.json").read_text())
    assert data["models"][0]["tasks"]["arithmetic"]["counts"]["ok"] == 400


def test_a_damaged_store_is_named_as_damaged_not_unwritable(tmp_path, oracle):
    out = tmp_path / "runs"
    out.mkdir()
    db_path(out).write_bytes(b"this is not a database" * 100)
    result = run_cli("eval", "--model", f"scripted={oracle.url}", "-t", "arithmetic", "--limit", "2", "--out", str(out))
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "is damaged" in result.stderr and "move it aside" in result.stderr
    assert "writable" not in result.stderr


def test_a_run_whose_process_died_is_shown_interrupted_by_the_next_command(tmp_path):
    out = tmp_path / "runs"
    with ScriptedServer(gold_arithmetic, delay_s=0.05) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "slmbench.cli", "eval", "--model", f"scripted={server.url}", "-t", "arithmetic",
             "--limit", "200", "--out", str(out), "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while server.chat_requests < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        status = sqlite3.connect(db_path(out)).execute("SELECT status FROM runs").fetchall()
        assert status == [("running",)]  # nobody could say otherwise yet
        Store(db_path(out)).close()  # merely opening the store says nothing: a command does
        result = run_cli(
            "eval", "--model", f"scripted={server.url}", "-t", "arithmetic", "--limit", "2", "--out", str(out), "-q"
        )
    assert result.returncode == 0, result.stderr
    assert "marked interrupted" in result.stderr
    status = sqlite3.connect(db_path(out)).execute("SELECT status FROM runs ORDER BY created").fetchall()
    assert status == [("interrupted",), ("complete",)]


def test_a_live_run_is_left_running(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.start_run("mine", {})
    assert store.mark_dead_runs() == [] and store.run_status("mine") == "running"
    store.db.execute("UPDATE runs SET pid = 1, pid_start = 'another boot:1' WHERE id = 'mine'")  # a reused pid
    assert store.mark_dead_runs() == ["mine"] and store.run_status("mine") == "interrupted"
    store.close()


def test_a_failure_during_the_final_write_never_leaves_a_complete_run(tmp_path, oracle, monkeypatch):
    import slmbench

    def disk_gone(self):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Results, "write", disk_gone)
    from slmbench.config import ModelSpec

    spec = ModelSpec(name="scripted", backend="attach", url=oracle.url, served="scripted")
    with pytest.raises(OSError):
        slmbench.evaluate([spec], ["arithmetic"], limit=3, out=tmp_path)
    status = sqlite3.connect(db_path(tmp_path)).execute("SELECT status FROM runs").fetchall()
    assert status == [("running",)]  # not `complete`: its files were never written
    assert not (tmp_path / "latest").exists()
