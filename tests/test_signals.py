"""SIGTERM does what Ctrl-C does: what was measured is kept, the command says so, exit 143.
A port whose server just stopped is free at once."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest
from helpers import db_path, gold_arithmetic

from slmbench.errors import PortInUse
from slmbench.serving.llamacpp import ensure_port_free
from slmbench.testing.scripted import ScriptedServer


def start(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "slmbench.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(condition, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert condition()


def test_sigterm_during_eval_keeps_the_answers_says_so_and_exits_143(tmp_path):
    out = tmp_path / "runs"
    with ScriptedServer(gold_arithmetic, delay_s=0.05) as server:
        proc = start(
            "eval", "--model", f"scripted={server.url}", "-t", "arithmetic", "--limit", "400", "--out", str(out), "-q"
        )
        wait_for(lambda: server.chat_requests >= 20)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert err.strip() == "terminated (SIGTERM): answers received so far are stored; re-run the same command to resume"
    db = sqlite3.connect(db_path(out))
    assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] >= 15


def test_sigterm_during_perf_keeps_the_current_point_and_the_run_is_interrupted_not_failed(tmp_path):
    out = tmp_path / "runs"
    with ScriptedServer(lambda b: "one two three four", chunk_delay_s=0.01) as server:
        proc = start("perf", "-m", f"scripted={server.url}", "--concurrency", "2", "--requests", "2000", "--input-len", "16",
                     "--output-len", "8", "--out", str(out))  # fmt: skip
        wait_for(lambda: server.streams_completed >= 30)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "terminated (SIGTERM): kept" in err and "completed requests" in err
    run_dir = next(p for p in out.iterdir() if p.is_dir() and p.name[0].isdigit())
    data = json.loads((run_dir / "perf.json").read_text())
    assert data["status"] == "interrupted"
    assert data["points"] and data["points"][0]["pooled"]["requests"]["completed"] >= 20
    db = sqlite3.connect(db_path(out))
    assert db.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
    assert db.execute("SELECT COUNT(*) FROM perf_requests").fetchone()[0] >= 20


def test_a_port_whose_server_just_stopped_is_free_at_once():
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as llama-server binds
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = listener.accept()
    served.close()  # the server side closes first: its end of the connection stays in TIME_WAIT
    time.sleep(0.1)
    client.close()
    listener.close()
    ensure_port_free(port)  # no PortInUse: the next server may bind it now
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(PortInUse, match="in use"):  # a port someone listens on is still refused
            ensure_port_free(busy.getsockname()[1])
