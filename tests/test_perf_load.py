"""The load generator against the scripted streaming server: error kinds, Ctrl-C, bad input, the store."""

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from helpers import db_path, run_cli

from slmbench.perf.load import PointRun, closed_loop, open_loop
from slmbench.perf.prompts import Prompt, request_body
from slmbench.perf.stream import StreamClient
from slmbench.testing.scripted import DROP_MID, HANG, ScriptedServer

WORDS = "one two three four five six seven eight"


def bodies(n, max_tokens=8, ignore_eos=True):
    return [
        request_body(
            "scripted", Prompt([{"role": "user", "content": f"q{i}"}], max_tokens), ignore_eos=ignore_eos, seed=0
        )
        for i in range(n)
    ]


def drive(server, n, concurrency=2, timeout_s=5.0, **kw):
    run = PointRun()

    async def go():
        async with StreamClient(server.url, connections=concurrency, timeout_s=timeout_s) as c:
            await closed_loop(c, bodies(n, **kw), concurrency, None, run)

    asyncio.run(go())
    return run


def test_stream_is_timed_per_chunk_with_usage_and_server_timings():
    with ScriptedServer(lambda b: WORDS, chunk_delay_s=0.01, delay_s=0.05) as server:
        run = drive(server, 4)
    assert len(run.records) == 4 and all(r.ok for r in run.records)
    r = run.records[0]
    assert r.output_tokens == 8 and r.prompt_tokens == 5 and r.finish_reason == "length"
    assert len(r.chunk_times) == 8 and r.chunk_tokens == [1] * 8 and r.multi_token_chunks == 0
    # the server's pauses are lower bounds (asyncio timers may fire up to ~1 ms early)
    assert r.ttft >= 0.049 and r.e2e - r.ttft >= 7 * 0.009
    assert len(r.itl) == 7 and sum(r.itl) == pytest.approx(r.e2e - r.ttft)  # one gap per later chunk
    assert r.server["predicted_n"] == 8
    assert server.max_in_flight <= 2


def test_multi_token_chunks_are_counted():
    with ScriptedServer(lambda b: WORDS, tokens_per_chunk=3) as server:
        run = drive(server, 2)
    r = run.records[0]
    assert r.output_tokens == 8 and len(r.chunk_times) == 3
    assert r.chunk_tokens == [3, 3, 2] and r.multi_token_chunks == 3


def test_failures_are_counted_by_kind_never_retried():
    script = [DROP_MID, 500, 429, "malformed", DROP_MID]
    with ScriptedServer(lambda b: WORDS, script=script) as server:
        run = drive(server, 8, concurrency=1)
        assert server.chat_requests == 8  # one request each: no retries
    kinds = sorted(r.error_kind or "ok" for r in run.records)
    assert kinds == ["dropped", "dropped", "http_429", "http_5xx", "malformed", "ok", "ok", "ok"]
    dropped = [r for r in run.records if r.error_kind == "dropped"]
    assert all(0 < len(r.chunk_times) < 8 for r in dropped)  # some content came before the cut


def test_hang_is_a_timeout_and_refused_is_a_connection_error():
    with ScriptedServer(lambda b: WORDS, script=[HANG]) as server:
        run = drive(server, 2, concurrency=1, timeout_s=0.5)
    assert [r.error_kind for r in sorted(run.records, key=lambda r: r.index)] == ["timeout", None]
    with ScriptedServer() as gone:
        url = gone.url
    run = PointRun()

    async def go():
        async with StreamClient(url, connections=1, timeout_s=2) as c:
            await closed_loop(c, bodies(2), 1, None, run)

    asyncio.run(go())
    assert [r.error_kind for r in run.records] == ["connection", "connection"]


def test_open_loop_reports_a_rate_it_could_not_meet():
    # 0.2 s per answer one at a time... the scripted server answers in parallel, so slow it per chunk:
    with ScriptedServer(lambda b: WORDS, chunk_delay_s=0.05) as server:
        run = PointRun()

        async def go():
            async with StreamClient(server.url, connections=64, timeout_s=10) as c:
                await open_loop(c, bodies(20), rate=50.0, burstiness=1.0, duration_s=None, seed=0, into=run)

        asyncio.run(go())
    assert len(run.records) == 20 and run.rate_requested == 50.0
    assert run.rate_sent > 25  # the generator kept (roughly) to the schedule
    assert 20 / run.duration_s < 0.9 * 50  # each answer takes 0.35 s+: completions trail the rate
    assert all(r.scheduled is not None for r in run.records)


def one_line_error(result, rc=1):
    assert result.returncode == rc, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_cli_bad_input_is_one_line(tmp_path):
    with ScriptedServer() as server:
        url = f"scripted={server.url}"
        assert "--concurrency must be at least 1" in one_line_error(
            run_cli("perf", "-m", url, "--concurrency", "0", "--out", str(tmp_path))
        )
        assert "--rate" in one_line_error(run_cli("perf", "-m", url, "--rate", "0", "--out", str(tmp_path)))
        assert "--concurrency" in one_line_error(
            run_cli("perf", "-m", url, "--concurrency", "x", "--out", str(tmp_path))
        )
        assert "--slo" in one_line_error(run_cli("perf", "-m", url, "--slo", "fast", "--out", str(tmp_path)))
        assert "--prompts" in one_line_error(
            run_cli("perf", "-m", url, "--prompts", str(tmp_path / "none.jsonl"), "--out", str(tmp_path))
        )
        assert "--compare" in one_line_error(
            run_cli("perf", "-m", url, "--compare", str(tmp_path), "--out", str(tmp_path))
        )
    assert "cannot reach" in one_line_error(run_cli("perf", "-m", url, "--out", str(tmp_path)))


def test_cli_sweep_lands_in_store_and_files_and_compares(tmp_path):
    out = tmp_path / "runs"
    with ScriptedServer(lambda b: WORDS, chunk_delay_s=0.002, script=[0] * 0) as server:
        args = ["perf", "-m", f"scripted={server.url}", "--concurrency", "1,2", "--requests", "6", "--input-len", "16",
                "--output-len", "8", "--slo", "ttft:1000 tpot:100", "--repeats", "2", "--out", str(out)]  # fmt: skip
        first = run_cli(*args)
        assert first.returncode == 0, first.stderr
        run_dir = (out / "latest").resolve()
        second = run_cli(*args, "--compare", str(run_dir))
    assert second.returncode == 0, second.stderr
    assert "c=1 in=16" in first.stdout and "c=2 in=16" in first.stdout
    data = json.loads((run_dir / "perf.json").read_text())
    assert data["status"] == "complete" and [p["key"] for p in data["points"]] == ["c=1 in=16", "c=2 in=16"]
    for p in data["points"]:
        assert p["pooled"]["requests"]["completed"] == 12 and len(p["repeats"]) == 2
        assert {r["prompt_tokens"] for rep in p["repeats"] for r in rep["records"]} == {16}  # exact input length
        assert {r["output_tokens"] for rep in p["repeats"] for r in rep["records"]} == {8}
        assert p["pooled"]["slo_met"] == 12
    assert [c["concurrency"] for c in data["curves"]["throughput_vs_concurrency"]] == [1, 2]
    assert "| c=2 in=16 |" in (run_dir / "perf.md").read_text()
    assert "B - A" in second.stdout and "TTFT ms (median)" in second.stdout
    db = sqlite3.connect(db_path(out))
    assert db.execute("SELECT count(*) FROM perf_points WHERE run_id = ?", (data["run_id"],)).fetchone()[0] == 4
    assert db.execute("SELECT count(*) FROM perf_requests WHERE run_id = ?", (data["run_id"],)).fetchone()[0] == 24
    manifest = json.loads(db.execute("SELECT manifest FROM runs WHERE id = ?", (data["run_id"],)).fetchone()[0])
    assert manifest["kind"] == "perf" and manifest["model"]["base_url"] == server.url


def test_cli_task_and_jsonl_prompts(tmp_path):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "hi there"}\n{"messages": [{"role": "user", "content": "yo"}], "max_tokens": 3}\n')
    with ScriptedServer(lambda b: WORDS) as server:
        a = run_cli(
            "perf",
            "-m",
            f"scripted={server.url}",
            "--concurrency",
            "1",
            "--requests",
            "4",
            "--prompts",
            str(prompts),
            "--out",
            str(tmp_path / "a"),
        )
        b = run_cli(
            "perf",
            "-m",
            f"scripted={server.url}",
            "--concurrency",
            "1",
            "--requests",
            "3",
            "--task",
            "arithmetic",
            "--out",
            str(tmp_path / "b"),
        )
        sent = [body["messages"][-1]["content"] for body in server.bodies]
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    assert sent[:5] == ["hi there", "yo", "hi there", "yo", "hi there"]  # a warm-up, then 4 measured
    assert any("Expression" in s for s in sent[5:])
    outs = json.loads(((tmp_path / "a" / "latest").resolve() / "perf.json").read_text())["points"][0]["repeats"][0][
        "records"
    ]
    assert sorted(r["output_tokens"] for r in outs) == [3, 3, 8, 8]  # no ignore_eos: the answer's own length


def test_ctrl_c_keeps_and_reports_what_completed(tmp_path):
    out = tmp_path / "runs"
    with ScriptedServer(lambda b: WORDS, chunk_delay_s=0.05) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", "slmbench.cli", "perf", "-m", f"scripted={server.url}", "--concurrency", "2",
             "--requests", "400", "--input-len", "16", "--output-len", "8", "--out", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.time() + 60
        while server.chat_requests < 12 and time.time() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: kept ") and "perf.json" in last
    data = json.loads(((out / "latest").resolve() / "perf.json").read_text())
    assert data["status"] == "interrupted"
    done = data["points"][0]["pooled"]["requests"]["completed"]
    assert 4 <= done < 400 and f"kept {done} completed" in last
    assert "interrupted" in stdout  # the table of what completed is printed


@pytest.mark.parametrize("flag", ["--duration", "--requests"])
def test_duration_or_requests_bound_a_point(tmp_path, flag):
    with ScriptedServer(lambda b: WORDS, chunk_delay_s=0.01) as server:
        value = "1" if flag == "--duration" else "5"
        result = run_cli("perf", "-m", f"scripted={server.url}", "--concurrency", "2", flag, value, "--input-len", "16",
                         "--output-len", "8", "--out", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    p = json.loads(((tmp_path / "latest").resolve() / "perf.json").read_text())["points"][0]
    if flag == "--requests":
        assert p["pooled"]["requests"]["completed"] == 5
    else:  # about 0.1 s per answer at 2 in flight: ~20 in a second, never the default cap
        assert 4 <= p["pooled"]["requests"]["completed"] <= 60 and p["pooled"]["duration_s"] < 3


def test_cli_says_when_a_rate_cannot_be_met(tmp_path):
    with ScriptedServer(lambda b: WORDS, chunk_delay_s=0.05) as server:  # every answer takes 0.35 s or more
        result = run_cli("perf", "-m", f"scripted={server.url}", "--rate", "100", "--requests", "20", "--input-len", "16",
                         "--output-len", "8", "--out", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rate not met: requested 100 requests/s" in " ".join(result.stdout.split())
    rate = json.loads(((tmp_path / "latest").resolve() / "perf.json").read_text())["points"][0]["repeats"][0]["rate"]
    assert rate["requested"] == 100 and rate["met"] is False and rate["achieved"] < 90
