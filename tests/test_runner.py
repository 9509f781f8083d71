"""The whole eval path (task -> client -> store -> score -> results) against scripted endpoints.

Oracle tests prove the scorer: gold answers must score 100%, wrong or broken ones 0% with
the right failure kinds.
"""

import json

import pytest
from helpers import gold_arithmetic, wrong_arithmetic

import slmbench
from slmbench.config import Config, EvalSettings, ModelSpec
from slmbench.errors import SlmbenchError
from slmbench.runner import request_timeout, run
from slmbench.tasks import TASKS
from slmbench.testing.scripted import HANG, MALFORMED, ScriptedServer


def attach(server, name="scripted"):
    return ModelSpec(name=name, backend="attach", url=server.url, served="scripted")


def evaluate(server, tmp_path, **settings):
    settings.setdefault("limit", 20)
    return slmbench.evaluate([attach(server)], ["arithmetic"], out=tmp_path, **settings)


def test_oracle_scores_100_percent(tmp_path, oracle):
    results = evaluate(oracle, tmp_path)
    est = results.score("scripted", "arithmetic")
    assert est.value == 1.0 and est.n == 20 and est.ci_high == 1.0 and est.ci_low > 0.8
    task = results.models[0].tasks["arithmetic"]
    assert task.counts == {
        "ok": 20,
        "wrong": 0,
        "truncated": 0,
        "extraction_failed": 0,
        "error": 0,
        "timeout": 0,
        "skipped": 0,
    }
    assert set(task.breakdown["level"]) == {"1", "2", "3", "4"}
    assert all(e.value == 1.0 for e in task.breakdown["level"].values())
    assert results.status == "complete"


def test_wrong_answers_score_0_percent(tmp_path):
    with ScriptedServer(wrong_arithmetic) as server:
        results = evaluate(server, tmp_path)
    task = results.models[0].tasks["arithmetic"]
    assert task.metrics["accuracy"].value == 0.0 and task.counts["wrong"] == 20
    assert "!=" in task.samples[0].why


def test_unparsable_answers_are_extraction_failures(tmp_path):
    with ScriptedServer(lambda b: "I would rather not.") as server:
        task = evaluate(server, tmp_path).models[0].tasks["arithmetic"]
    assert task.metrics["accuracy"].value == 0.0 and task.counts["extraction_failed"] == 20


def test_truncated_answers_are_counted_apart(tmp_path):
    with ScriptedServer(lambda b: ("Let me think step by step about 3", "length")) as server:
        task = evaluate(server, tmp_path).models[0].tasks["arithmetic"]
    assert task.counts["truncated"] == 20 and task.metrics["accuracy"].value == 0.0


def test_malformed_replies_and_server_errors_are_errors_not_wrong_answers(tmp_path):
    with ScriptedServer(gold_arithmetic, script=[MALFORMED] * 3 + [400] * 2) as server:
        results = evaluate(server, tmp_path, limit=10)
    task = results.models[0].tasks["arithmetic"]
    assert task.counts["error"] == 5 and task.counts["ok"] == 5 and task.counts["wrong"] == 0
    # Errors are shown, and left out of n rather than scored as wrong.
    assert task.metrics["accuracy"].n == 5 and task.metrics["accuracy"].value == 1.0
    kinds = sorted(s.why.split(":")[0] for s in task.samples if s.verdict == "error")
    assert kinds == ["http_4xx", "http_4xx", "malformed", "malformed", "malformed"]


def test_timeouts_are_counted_apart_and_retried_next_run(tmp_path):
    config = Config(eval=EvalSettings(timeout_s=0.3))
    with ScriptedServer(gold_arithmetic, script=[HANG, HANG]) as server:
        first = slmbench.evaluate([attach(server)], ["arithmetic"], limit=6, out=tmp_path, config=config)
        task = first.models[0].tasks["arithmetic"]
        assert task.counts["timeout"] == 2 and task.counts["ok"] == 4 and task.metrics["accuracy"].n == 4
        assert all("no answer within 0.3 s" in s.why for s in task.samples if s.verdict == "timeout")
        second = slmbench.evaluate([attach(server)], ["arithmetic"], limit=6, out=tmp_path, config=config)
        assert server.chat_requests == 8
    assert second.models[0].tasks["arithmetic"].counts["ok"] == 6


def test_rerun_uses_the_cache_and_sends_nothing(tmp_path, oracle):
    first = evaluate(oracle, tmp_path)
    sent = oracle.chat_requests
    second = evaluate(oracle, tmp_path)
    assert oracle.chat_requests == sent == 20
    task = second.models[0].tasks["arithmetic"]
    assert task.requests_cached == 20 and task.requests_sent == 0
    assert [s.answer for s in task.samples] == [s.answer for s in first.models[0].tasks["arithmetic"].samples]
    assert first.run_id != second.run_id


def test_cache_key_covers_sampling_and_limit_extends(tmp_path, oracle):
    evaluate(oracle, tmp_path, limit=10)
    evaluate(oracle, tmp_path, limit=15)  # only the 5 new samples are sent
    assert oracle.chat_requests == 15
    config = Config(eval=EvalSettings(temperature=0.7))
    slmbench.evaluate([attach(oracle)], ["arithmetic"], limit=15, out=tmp_path, config=config)
    assert oracle.chat_requests == 30  # a new temperature is a new request
    assert {b["temperature"] for b in oracle.bodies} == {0.0, 0.7}


def test_failed_requests_are_retried_on_the_next_run(tmp_path):
    with ScriptedServer(gold_arithmetic, script=[400] * 4) as server:
        first = evaluate(server, tmp_path, limit=10)
        assert first.models[0].tasks["arithmetic"].counts["error"] == 4
        second = evaluate(server, tmp_path, limit=10)
        assert server.chat_requests == 14  # 10, then only the 4 that failed
    assert second.models[0].tasks["arithmetic"].counts["ok"] == 10


def test_concurrency_setting_bounds_requests_in_flight(tmp_path):
    with ScriptedServer(gold_arithmetic, delay_s=0.02) as server:
        evaluate(server, tmp_path, limit=40, concurrency=5)
        assert server.max_in_flight == 5


def test_results_files_follow_the_documented_schema(tmp_path, oracle):
    results = evaluate(oracle, tmp_path, limit=8)
    data = json.loads((results.run_dir / "results.json").read_text())
    assert data["schema_version"] == 3 and data["status"] == "complete"
    model = data["models"][0]
    task = model["tasks"]["arithmetic"]
    assert task["metrics"]["accuracy"] == {
        "value": 1.0,
        "n": 8,
        "ci_low": pytest.approx(0.6756, abs=1e-3),
        "ci_high": 1.0,
    }
    assert set(task["samples"][0]) >= {
        "id",
        "prompt",
        "answer",
        "target",
        "verdict",
        "why",
        "latency_s",
        "completion_tokens",
    }
    assert data["manifest"]["models"]["scripted"]["identity"] == {
        "server": "attached",
        "url": oracle.url,
        "model": "scripted",
    }
    assert data["manifest"]["tasks"]["arithmetic"] == {"version": "1", "samples": 8, "max_tokens": 192}
    md = (results.run_dir / "results.md").read_text()
    assert "| scripted | arithmetic | accuracy | 100.0 [67.6, 100.0] | 8 | 8 | 0 | 0 | 0 | 0 | 0 | 0 |" in md
    assert (tmp_path / "latest").resolve() == results.run_dir.resolve()


def test_per_sample_verdicts_are_stored(tmp_path, oracle):
    results = evaluate(oracle, tmp_path, limit=6)
    import sqlite3

    db = sqlite3.connect(tmp_path / "slmbench.sqlite")
    rows = db.execute(
        "SELECT verdict, COUNT(*) FROM sample_results WHERE run_id = ? GROUP BY verdict", (results.run_id,)
    ).fetchall()
    assert rows == [("ok", 6)]
    assert db.execute("SELECT status FROM runs WHERE id = ?", (results.run_id,)).fetchone()[0] == "complete"


def test_two_models_side_by_side(tmp_path, oracle):
    with ScriptedServer(wrong_arithmetic) as wrong:
        results = slmbench.evaluate(
            [attach(oracle, "good"), attach(wrong, "bad")], ["arithmetic"], limit=8, out=tmp_path
        )
    assert results.score("good", "arithmetic").value == 1.0
    assert results.score("bad", "arithmetic").value == 0.0
    assert [m.name for m in results.models] == ["good", "bad"]


def test_a_model_whose_server_fails_to_start_keeps_the_others_results(tmp_path, oracle):
    gguf = tmp_path / "broken.gguf"
    gguf.write_bytes(b"GGUF" + bytes(64))
    server = tmp_path / "llama-server"
    server.write_text("#!/bin/sh\necho 'llama_model_load: error loading model: truncated file'\nexit 1\n")
    server.chmod(0o755)
    broken = ModelSpec(name="broken", backend="llamacpp", gguf=gguf, llama_server=server)
    results = run(Config(model=[broken, attach(oracle, "good")], eval=EvalSettings(limit=8, out=tmp_path)))
    assert results.status == "partial"
    assert "could not load" in results.models[0].error and "truncated file" in results.models[0].error
    assert results.score("good", "arithmetic").value == 1.0
    data = json.loads((results.run_dir / "results.json").read_text())
    assert data["status"] == "partial" and data["models"][0]["error"] == results.models[0].error


def test_bad_settings_fail_before_any_request(tmp_path, oracle):
    for settings, message in [
        ({"limit": 0}, "--limit must be at least 1"),
        ({"limit": -3}, "--limit must be at least 1"),
        ({"tasks": ["nope"]}, "unknown task 'nope'; known tasks: aime2025, arithmetic"),
    ]:
        with pytest.raises(SlmbenchError, match=message):
            run(Config(model=[attach(oracle)], eval=EvalSettings(out=tmp_path, **settings)))
    assert oracle.chat_requests == 0


def test_request_timeout_scales_with_the_longest_allowed_answer():
    short, long = TASKS["arithmetic"], TASKS["aime2025"]
    assert request_timeout(EvalSettings(), [short]) == 300.0
    assert request_timeout(EvalSettings(), [short, long]) == 60 + 0.25 * long.max_tokens
    assert request_timeout(EvalSettings(max_tokens=64), [long]) == 300.0
    assert request_timeout(EvalSettings(timeout_s=7), [long]) == 7


def test_target_ci_width_adds_samples_until_the_interval_is_narrow_enough(tmp_path):
    with ScriptedServer(gold_arithmetic) as server:
        settings = EvalSettings(out=tmp_path, tasks=["arithmetic"], limit=10, target_ci_width=10, max_samples=200)
        results = run(Config(model=[attach(server)], eval=settings))
        e = results.score("scripted", "arithmetic")
        # all correct: Wilson's width at n is about 3.84/n; 10 -> 20 -> 40 -> 80 doubles until <= 10 points
        assert e.n == 40 and e.ci_high - e.ci_low <= 0.10
        assert server.chat_requests == 40  # each sample sent once: earlier answers came from the store
    with ScriptedServer(lambda body: "Answer: 1" if server.chat_requests % 2 else gold_arithmetic(body)) as server:
        settings = EvalSettings(
            out=tmp_path / "capped", tasks=["arithmetic"], limit=10, target_ci_width=1, max_samples=30
        )
        results = run(Config(model=[attach(server)], eval=settings))
        assert results.score("scripted", "arithmetic").n == 30  # the cap wins over an unreachable width
