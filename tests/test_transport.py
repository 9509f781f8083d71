"""Every transport error is a failure kind of one request, never an exception that ends the run."""

import asyncio
import json

from helpers import gold_arithmetic, run_cli

import slmbench
from slmbench.client import ChatClient, RetryPolicy
from slmbench.config import Config, EvalSettings, ModelSpec
from slmbench.perf.load import PointRun, closed_loop
from slmbench.perf.prompts import Prompt, request_body
from slmbench.perf.stream import StreamClient
from slmbench.store import Store
from slmbench.testing.scripted import BAD_STATUS, NULL_CONTENT, ScriptedServer

BODY = b'{"model":"scripted","messages":[{"role":"user","content":"hi"}],"max_tokens":8}'
FAST_RETRY = RetryPolicy(retries=2, base_s=0.01, max_s=0.02)


def complete(server, retry=FAST_RETRY):
    async def go():
        async with ChatClient(server.url, concurrency=2, timeout_s=5, retry=retry) as client:
            return await client.complete(BODY)

    return asyncio.run(go())


def test_a_broken_status_line_is_a_protocol_failure_then_retried():
    with ScriptedServer(script=[BAD_STATUS] * 10) as server:
        c = complete(server)
        assert server.chat_requests == 3  # one try + 2 retries
    assert not c.ok and c.error_kind == "protocol" and "status" in c.error.lower()
    with ScriptedServer(script=[BAD_STATUS]) as server:
        assert complete(server).ok


def test_content_null_is_malformed_not_an_empty_answer():
    with ScriptedServer(script=[NULL_CONTENT]) as server:
        c = complete(server, retry=RetryPolicy(retries=0))
    assert c.error_kind == "malformed" and "null" in c.error


def test_eval_goes_on_past_broken_status_lines_and_null_content_is_not_cached(tmp_path):
    with ScriptedServer(gold_arithmetic, script=[BAD_STATUS] * 4 + [NULL_CONTENT] * 2) as server:
        spec = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
        config = Config(eval=EvalSettings(retries=0))
        results = slmbench.evaluate([spec], ["arithmetic"], out=tmp_path, limit=12, concurrency=1, config=config)
    task = results.models[0].tasks["arithmetic"]
    assert results.status == "complete"
    assert task.counts["ok"] == 6 and task.counts["error"] == 6
    kinds = sorted(s.why.split(":")[0] for s in task.samples if s.verdict == "error")
    assert kinds == ["malformed"] * 2 + ["protocol"] * 4
    store = Store(tmp_path / "slmbench.sqlite")
    assert store.db.execute("SELECT count(*) FROM responses").fetchone()[0] == 6  # failures are not cached
    store.close()
    with ScriptedServer(gold_arithmetic, port=server.port) as server:  # the re-run asks the 6 again and gets them
        again = slmbench.evaluate([spec], ["arithmetic"], out=tmp_path, limit=12)
        assert server.chat_requests == 6
    assert again.models[0].tasks["arithmetic"].counts["ok"] == 12


def test_perf_counts_a_broken_status_line_and_keeps_measuring():
    bodies = [
        request_body("scripted", Prompt([{"role": "user", "content": "hi"}], 4), ignore_eos=True, seed=0)
        for _ in range(6)
    ]
    with ScriptedServer(script=[BAD_STATUS, BAD_STATUS]) as server:
        run = PointRun()

        async def go():
            async with StreamClient(server.url, connections=1, timeout_s=5) as c:
                await closed_loop(c, bodies, 1, None, run)

        asyncio.run(go())
    kinds = [r.error_kind for r in run.records]
    assert kinds.count("protocol") == 2 and kinds.count(None) == 4


def test_a_model_whose_every_request_failed_makes_the_run_partial_and_says_why(tmp_path):
    with ScriptedServer(script=[500] * 100) as server:
        result = run_cli("eval", "--model", f"scripted={server.url}", "-t", "arithmetic", "--limit", "5",
                         "--retries", "0", "--out", str(tmp_path), timeout=120)  # fmt: skip
    assert result.returncode == 1, result.stderr
    data = json.loads(
        (tmp_path / result.stdout.split("results: ")[1].split()[0].split("/")[-2] / "results.json").read_text()
    )
    assert data["status"] == "partial"
    assert "every request failed" in data["models"][0]["error"]
    # Per model and task: the kinds with counts and one example message, after the table.
    assert "scripted / arithmetic: 5 of 5 requests failed (100%): http_5xx 5, e.g. HTTP 500" in result.stdout


def test_an_error_share_above_the_threshold_is_printed_after_the_table(tmp_path):
    with ScriptedServer(gold_arithmetic, script=[500] * 2) as server:
        result = run_cli("eval", "--model", f"scripted={server.url}", "-t", "arithmetic", "--limit", "20",
                         "--retries", "0", "--concurrency", "1", "--out", str(tmp_path), timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "scripted / arithmetic: 2 of 20 requests failed (10%): http_5xx 2, e.g. HTTP 500" in result.stdout
    with ScriptedServer(gold_arithmetic) as server:
        result = run_cli("eval", "--model", f"scripted={server.url}", "-t", "arithmetic", "--limit", "20",
                         "--out", str(tmp_path), timeout=120)  # fmt: skip
    assert "requests failed" not in result.stdout


def test_the_models_hint_fits_the_url(tmp_path):
    import http.server
    import threading

    class Failing(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"boom")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        result = run_cli("eval", "--model", f"m=http://127.0.0.1:{httpd.server_address[1]}/v1", "--out", str(tmp_path))
    finally:
        httpd.shutdown()
    assert result.returncode == 1 and result.stderr.count("\n") == 1, result.stderr
    assert "HTTP 500 to GET /models (a server error)" in result.stderr and "ending in /v1" not in result.stderr
