"""Structured JSON output: the checkers on hand-written answers, and oracle runs."""

import json

import pytest

import slmbench
from slmbench.client import Completion
from slmbench.config import ModelSpec
from slmbench.tasks.structured import MODES, VALIDATORS, Structured, field_accuracy, parse_json
from slmbench.testing.scripted import ScriptedServer

task = Structured()


def answer(text, finish="stop"):
    return Completion(text, finish, 5, 5, 0.1, 1)


def first(kind="order", mode="prompt"):
    return next(s for s in task.samples(6, seed=0) if s.meta["kind"] == kind and s.meta["mode"] == mode)


def test_every_document_is_asked_in_every_mode_and_only_json_schema_mode_is_guided():
    samples = task.samples(6, seed=0)
    assert len(samples) == 18
    assert {s.meta["kind"] for s in samples} == {"order", "event", "incident"}
    for s in samples:
        assert ("response_format" in s.params) == (s.meta["mode"] == "json_schema")
    prompt, repair = first(mode="prompt"), first(mode="repair")
    assert prompt.messages == repair.messages and prompt.params == repair.params == {}  # one request serves both
    assert task.samples(6, seed=0) == samples and task.samples(6, seed=1) != samples


def test_expected_answers_satisfy_their_own_schemas():
    for s in task.samples(60, seed=0):
        assert not list(VALIDATORS[s.meta["kind"]].iter_errors(s.target)), s.target


def test_the_text_states_every_fact():
    s = first("order")
    text = s.messages[-1]["content"]
    assert s.target["order_id"] in text and s.target["customer"]["email"] in text
    assert f"{s.target['total_eur']:.2f} EUR" in text
    e = first("event")
    assert e.target["city"] in e.messages[-1]["content"]


@pytest.mark.parametrize(
    ("text", "repair", "expected"),
    [
        ('{"a": 1}', False, {"a": 1}),
        ('  {"a": 1}\n\n ', False, {"a": 1}),  # trailing whitespace
        ('```json\n{"a": 1}\n```', False, {"a": 1}),  # a Markdown fence
        ('```\n{"a": "Zoë 東京"}\n```', False, {"a": "Zoë 東京"}),  # Unicode
        ('Here you go: {"a": 1}', False, None),  # prose is not JSON without repair
        ('Here you go: {"a": 1}', True, {"a": 1}),
        ('{"a": 1,', True, {"a": 1}),
        ("", False, None),
        ("", True, None),
        ("no json at all", True, None),
    ],
)
def test_parse_json(text, repair, expected):
    assert parse_json(text, repair=repair) == expected


def test_field_accuracy_counts_leaves_and_treats_scalar_lists_as_sets():
    expected = {"a": 1, "b": {"c": "X", "d": True}, "items": [{"k": 1}, {"k": 2}], "tags": ["p", "q"]}
    assert field_accuracy(expected, expected) == (6, 6, [])
    answer = {"a": 1.0, "b": {"c": " x ", "d": 1}, "items": [{"k": 1}], "tags": ["Q", "P"]}
    right, total, misses = field_accuracy(answer, expected)
    assert (right, total) == (4, 6) and misses == ["b.d", "items[1].k"]  # 1 is not true; item 2 missing
    assert field_accuracy(None, expected)[0] == 0


def test_scoring_gold_wrong_invalid_truncated_and_empty():
    s = first("order")
    gold = json.dumps(s.target, ensure_ascii=False)
    v = task.score(s, answer(gold))
    assert v.verdict == "ok" and v.parts == {"valid": 1.0, "field_accuracy": 1.0}
    v = task.score(s, answer(f"```json\n{gold}\n```"))
    assert v.verdict == "ok"
    wrong = dict(s.target, status="pending" if s.target["status"] != "pending" else "shipped")
    v = task.score(s, answer(json.dumps(wrong)))
    assert v.verdict == "wrong" and v.parts["valid"] == 1.0 and v.parts["field_accuracy"] == pytest.approx(6 / 7)
    assert "status" in v.why
    invalid = dict(s.target, order_id="12345")
    v = task.score(s, answer(json.dumps(invalid)))
    assert v.verdict == "wrong" and v.parts["valid"] == 0.0 and "schema: order_id" in v.why
    assert task.score(s, answer(gold[:40], finish="length")).verdict == "truncated"
    assert task.score(s, answer("")).verdict == "extraction_failed"
    assert task.score(s, answer("[1, 2]")).verdict == "extraction_failed"  # JSON, but not an object


def test_repair_mode_recovers_what_prompt_mode_rejects():
    gold = json.dumps(first("incident").target)
    chatty = f"Sure! Here is the JSON:\n{gold}\nLet me know if you need more."
    assert task.score(first("incident", "prompt"), answer(chatty)).verdict == "extraction_failed"
    assert task.score(first("incident", "repair"), answer(chatty)).verdict == "ok"


def gold_server(limit, seed=0):
    by_text = {s.messages[-1]["content"]: s.target for s in task.samples(limit, seed)}
    return lambda body: json.dumps(by_text[body["messages"][-1]["content"]])


def run_structured(server, tmp_path, limit=6):
    model = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
    return slmbench.evaluate([model], ["structured"], limit=limit, out=tmp_path).models[0].tasks["structured"]


def test_oracle_is_valid_and_exact_in_every_mode(tmp_path):
    with ScriptedServer(gold_server(6)) as server:
        result = run_structured(server, tmp_path)
        assert server.chat_requests == 12  # repair mode re-uses the prompt-mode answers
        guided = [b for b in server.bodies if "response_format" in b]
        assert len(guided) == 6 and guided[0]["response_format"]["type"] == "json_schema"
    assert result.counts["ok"] == 18
    for mode in MODES:
        assert result.metrics[f"valid_{mode}"].value == 1.0 and result.metrics[f"valid_{mode}"].n == 6
        assert result.metrics[f"field_accuracy_{mode}"].value == 1.0
    assert result.headline == "valid_prompt"
    assert result.requests_sent == 12 and result.requests_cached == 0


def test_wrong_and_malformed_answers_score_zero_with_the_right_kinds(tmp_path):
    with ScriptedServer(lambda body: '{"unexpected": true}') as server:
        wrong = run_structured(server, tmp_path / "a")
    assert wrong.counts["wrong"] == 18 and wrong.metrics["valid_prompt"].value == 0.0
    assert wrong.metrics["field_accuracy_json_schema"].value == 0.0
    with ScriptedServer(lambda body: "I am not able to produce JSON today.") as server:
        prose = run_structured(server, tmp_path / "b")
    assert prose.counts["extraction_failed"] == 18 and prose.metrics["valid_repair"].value == 0.0


def test_an_endpoint_that_refuses_response_format_shows_errors_in_that_mode_only(tmp_path):
    answer_gold = gold_server(6)
    with ScriptedServer(answer_gold) as server:
        original = server.reply

        def refuse_guided(method, path, body):
            if b"response_format" in body:
                return 400, b'{"error": {"message": "response_format is not supported"}}'
            return original(method, path, body)

        server.reply = refuse_guided
        result = run_structured(server, tmp_path)
    assert result.counts["error"] == 6 and result.counts["ok"] == 12
    assert result.metrics["valid_json_schema"].n == 0 and result.metrics["valid_json_schema"].value is None
    assert result.metrics["valid_prompt"].value == 1.0
