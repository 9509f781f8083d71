"""The real llama-server under slmbench's supervision: kill -9 mid-eval is noticed, the server
restarted with the same command and every sample answered; SIGTERM to `serve` stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import alive, children_named, db_path, read_until, start_cli, stopped_after

pytestmark = pytest.mark.model

TOTAL = 24


def port_of(pid: int) -> int:
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return int(argv[argv.index(b"--port") + 1])


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


def test_kill_9_of_llama_server_mid_eval_restarts_it_and_answers_every_sample(tmp_path):
    out = tmp_path / "runs"
    proc = start_cli("eval", "--model", "smollm2-135m", "-t", "arithmetic", "--limit", str(TOTAL), "--concurrency", "4", "--parallel", "4",
                     "--max-tokens", "24", "--out", str(out), "-q")  # fmt: skip
    with stopped_after(proc):
        deadline = time.monotonic() + 600
        stored = 0
        while stored < 6 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            try:
                stored = sqlite3.connect(db_path(out)).execute("SELECT COUNT(*) FROM responses").fetchone()[0]
            except sqlite3.Error:
                pass
        assert 6 <= stored < TOTAL, f"stored {stored} before the kill"
        [server] = children_named(proc.pid, "llama-server")
        port = port_of(server)
        os.kill(server, signal.SIGKILL)
        killed = time.monotonic()
        while healthy(port):  # the dead server's socket closes at once
            time.sleep(0.01)
        while not healthy(port) and time.monotonic() < killed + 300:
            time.sleep(0.05)
        back = time.monotonic() - killed
        assert healthy(port), "not serving again"
        _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "llama-server was killed by SIGKILL; restarting it (1 of at most 3)" in err
    [run_dir] = [p for p in out.iterdir() if p.is_dir() and p.name != "latest" and p.name[0].isdigit()]
    task = json.loads((run_dir / "results.json").read_text())["models"][0]["tasks"]["arithmetic"]
    answered = sum(task["counts"][k] for k in ("ok", "wrong", "truncated", "extraction_failed"))
    assert answered == TOTAL and task["counts"]["error"] == 0 and task["counts"]["timeout"] == 0
    assert task["requests"]["sent"] + task["requests"]["cached"] == TOTAL
    print(
        f"kill -9 -> serving again after {back:.1f} s; {stored} answers stored before the kill; {answered} of {TOTAL} answered"
    )


def test_sigterm_to_serve_stops_the_server_says_so_and_exits_143(tmp_path):
    with stopped_after(
        start_cli("serve", "--parallel", "2", "--context", "1024", env={"SLMBENCH_STATE": str(tmp_path)})
    ) as proc:
        read_until(proc, "ready: ")
        [server] = children_named(proc.pid, "llama-server")
        proc.send_signal(signal.SIGTERM)
        assert read_until(proc, "stopped", timeout=60).strip() == "stopped (SIGTERM)"
        proc.wait(60)
        assert proc.returncode == 143
        assert not alive(server)


def test_a_truncated_gguf_fails_its_model_and_latest_stays_on_the_last_good_run(tmp_path, oracle):
    from helpers import run_cli

    from slmbench.serving.models import embedded_gguf

    out = tmp_path / "runs"
    good = run_cli(
        "eval", "--model", f"scripted={oracle.url}", "-t", "arithmetic", "--limit", "2", "--out", str(out), "-q"
    )
    assert good.returncode == 0, good.stderr
    last_good = (out / "latest").resolve()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(embedded_gguf("smollm2-135m").read_bytes()[: 2 << 20])  # a download that stopped at 2 MiB
    bad = run_cli("eval", "--gguf", str(cut), "-t", "arithmetic", "--limit", "2", "--out", str(out), "-q")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "could not load" in bad.stderr and "complete GGUF" in bad.stderr
    assert (out / "latest").resolve() == last_good
