"""Replicas: several endpoints for one model, balanced by least outstanding requests."""

import asyncio
import urllib.request

import pytest

from slmbench.client import ReplicaClient
from slmbench.testing.scripted import ScriptedServer

BODY = b'{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":8}'


def run_many(urls, n, concurrency, body=BODY, timeout_s=30.0):
    async def go():
        async with ReplicaClient(urls, concurrency=concurrency, timeout_s=timeout_s) as client:
            gate = asyncio.Semaphore(concurrency)

            async def one():
                async with gate:
                    return await client.complete(body)

            results = await asyncio.gather(*(one() for _ in range(n)))
            return results, client.sent, client.outstanding

    return asyncio.run(go())


def test_equal_replicas_share_the_work():
    with ScriptedServer(models=("m",), delay_s=0.02) as a, ScriptedServer(models=("m",), delay_s=0.02) as b:
        results, sent, outstanding = run_many([a.url, b.url], 40, 8)
        assert all(r.ok for r in results) and outstanding == [0, 0]
        assert a.chat_requests + b.chat_requests == 40 and sent == [a.chat_requests, b.chat_requests]
        assert min(a.chat_requests, b.chat_requests) >= 15


def test_a_slow_replica_gets_less_work():
    with ScriptedServer(models=("m",), delay_s=0.5) as slow, ScriptedServer(models=("m",), delay_s=0.01) as fast:
        results, _, _ = run_many([slow.url, fast.url], 40, 8)
        assert all(r.ok for r in results)
        # The slow one keeps its first requests in flight; new work goes where nothing waits.
        assert slow.max_in_flight <= 4 and slow.chat_requests <= 8 and fast.chat_requests >= 32


def test_no_replicas_is_a_programming_error():
    with pytest.raises(ValueError):
        ReplicaClient([], concurrency=1, timeout_s=1)


@pytest.mark.model
def test_two_real_llama_cpp_replicas(tmp_path):
    from slmbench.serving.build import find_llama_server
    from slmbench.serving.llamacpp import LlamaCppServer
    from slmbench.serving.models import embedded_gguf, gguf_sha256

    gguf = embedded_gguf("gemma-3-270m")
    common = {"binary": find_llama_server(), "gguf": gguf, "gguf_sha256": gguf_sha256(gguf), "parallel": 2,
              "ctx_per_slot": 512, "threads": 1, "chat_template": "gemma"}  # fmt: skip
    one = LlamaCppServer(name="gemma", log_path=tmp_path / "a.log", **common)
    two = LlamaCppServer(name="gemma", log_path=tmp_path / "b.log", **common)
    body = b'{"model":"gemma","messages":[{"role":"user","content":"Count to five."}],"max_tokens":8}'
    with one as a, two as b:
        results, sent, outstanding = run_many([a.base_url, b.base_url], 8, 4, body=body, timeout_s=300)
        assert all(r.ok and r.completion_tokens >= 1 for r in results), [r.error for r in results]
        assert sum(sent) == 8 and min(sent) >= 2 and outstanding == [0, 0]
        for endpoint in (a, b):  # server-side evidence that each replica did work
            metrics = urllib.request.urlopen(endpoint.base_url.removesuffix("/v1") + "/metrics").read().decode()
            decoded = next(line for line in metrics.splitlines() if line.startswith("llamacpp:tokens_predicted_total"))
            assert float(decoded.split()[-1]) >= 4


def test_eval_treats_one_id_at_two_urls_as_one_model_on_replicas(tmp_path):
    from helpers import gold_arithmetic, run_cli

    with (
        ScriptedServer(gold_arithmetic, models=("m",), delay_s=0.02) as a,
        ScriptedServer(gold_arithmetic, models=("m",), delay_s=0.02) as b,
    ):
        result = run_cli("eval", "-m", f"m={a.url}", "-m", f"m={b.url}", "--task", "arithmetic", "--limit", "40",
                         "--concurrency", "8", "--out", str(tmp_path), "-q")  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert a.chat_requests + b.chat_requests == 40 and min(a.chat_requests, b.chat_requests) >= 15
    import json

    data = json.loads((tmp_path / "latest" / "results.json").read_text())
    assert [m["name"] for m in data["models"]] == ["m"]
    assert data["models"][0]["tasks"]["arithmetic"]["metrics"]["accuracy"]["value"] == 1.0
    assert data["manifest"]["models"]["m"]["replicas"] == [a.url.rstrip("/"), b.url.rstrip("/")]


def test_a_replica_that_does_not_serve_the_model_is_refused_before_any_request(tmp_path):
    from helpers import run_cli

    with ScriptedServer(models=("m",)) as a, ScriptedServer(models=("other",)) as b:
        result = run_cli(
            "eval",
            "-m",
            f"m={a.url}",
            "-m",
            f"m={b.url}",
            "--task",
            "arithmetic",
            "--limit",
            "2",
            "--out",
            str(tmp_path),
        )
        assert a.chat_requests == 0 and b.chat_requests == 0
    assert result.returncode == 1 and "model 'm' is not served at" in result.stderr and "Traceback" not in result.stderr
