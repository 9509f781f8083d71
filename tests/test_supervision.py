"""A managed server that dies mid-run: noticed from its process exit (not from failed requests),
restarted with the same command, the run goes on from the store; past the restart limit the
model fails with the last lines of the server's log. The server here is the scripted one in its
own process (harness logic); tests/test_supervised_model.py does the same with llama-server."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import orjson

import slmbench
from slmbench import runner
from slmbench.config import ModelSpec
from slmbench.serving import process
from slmbench.serving.base import Endpoint
from slmbench.serving.http import get_json
from slmbench.serving.llamacpp import free_port


class ScriptedProcess(process.Supervised):
    """The scripted server as a child process, supervised like llama-server."""

    what = "scripted server"

    def __init__(self, log_path: Path, delay_s: float) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.delay_s = delay_s
        self.pids: list[int] = []

    def _respawn(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "slmbench.testing.scripted",
            "--port",
            str(self.port),
            "--delay",
            str(self.delay_s),
        ]
        self._proc = process.spawn(argv, self.log_path)
        self.pids.append(self._proc.pid)
        deadline = time.monotonic() + 30
        while get_json(f"http://127.0.0.1:{self.port}/health", timeout_s=1)[0] != 200:
            assert time.monotonic() < deadline and self._proc.poll() is None
            time.sleep(0.05)

    def served(self) -> int:
        status, body = get_json(f"http://127.0.0.1:{self.port}/stats", timeout_s=1)
        return body["chat_requests"] if status == 200 else 0


def supervised(monkeypatch, tmp_path, delay_s=0.02):
    server = ScriptedProcess(tmp_path / "scripted.log", delay_s)

    @contextmanager
    def open_endpoint(spec, **kw):
        server._respawn()
        try:
            yield Endpoint(name=spec.name, base_url=f"http://127.0.0.1:{server.port}/v1", model="scripted", server="scripted",
                           identity={"server": "scripted"}, supervisor=server)  # fmt: skip
        finally:
            server.stop()

    monkeypatch.setattr(runner, "open_endpoint", open_endpoint)
    monkeypatch.setattr(runner, "preflight", lambda spec: None)
    return server


def killer(server: ScriptedProcess, every: int, times: int) -> threading.Thread:
    """Kill -9 the server process each time it has served `every` requests, `times` times."""

    def loop() -> None:
        killed = 0
        while killed < times:
            proc = server._proc
            if proc is not None and proc.poll() is None:
                try:
                    if server.served() >= every:
                        os.kill(proc.pid, signal.SIGKILL)
                        killed += 1
                        server.killed_at = time.monotonic()
                except (OSError, TypeError):
                    pass
            time.sleep(0.02)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


SPEC = ModelSpec(name="supervised", backend="attach", url="http://unused/v1", served="scripted")


def test_a_server_killed_mid_run_is_restarted_and_every_sample_answered(monkeypatch, tmp_path):
    server = supervised(monkeypatch, tmp_path)
    killer(server, every=40, times=1)
    start = time.monotonic()
    results = slmbench.evaluate([SPEC], ["arithmetic"], limit=200, concurrency=4, out=tmp_path / "runs")
    took = time.monotonic() - start
    task = results.models[0].tasks["arithmetic"]
    assert results.status == "complete" and results.models[0].error is None
    assert server.restarts == 1 and len(server.pids) == 2
    assert task.counts["ok"] + task.counts["wrong"] == 200 and task.counts["error"] == 0  # none lost to the death
    # Noticed from the process exit, not after retries: the whole run stays short.
    assert took < 30, took
    from slmbench.store import Store

    store = Store(tmp_path / "runs" / "slmbench.sqlite")
    assert store.db.execute("SELECT COUNT(*) FROM failures").fetchone()[0] == 0
    assert store.db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 200
    store.close()


def test_past_the_restart_limit_the_model_fails_with_the_log_tail(monkeypatch, tmp_path):
    server = supervised(monkeypatch, tmp_path)
    killer(server, every=5, times=10)
    results = slmbench.evaluate([SPEC], ["arithmetic"], limit=400, concurrency=4, out=tmp_path / "runs")
    assert results.status == "partial"
    error = results.models[0].error
    assert server.restarts == 4 and len(server.pids) == 4  # 3 restarts; the 4th death ends it
    assert "scripted server was killed by SIGKILL 4 times; not restarted again" in error
    assert f"Last lines of its log ({tmp_path / 'scripted.log'})" in error
    assert "http://127.0.0.1" in error  # the log's own last line (the scripted server prints its URL)
    assert process.pid_alive(server.pids[-1]) is False
    data = orjson.loads((tmp_path / "runs" / results.run_id / "results.json").read_bytes())
    assert data["status"] == "partial"
