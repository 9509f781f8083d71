"""Instruction following: generated single- and multi-turn samples, the IFEval loader, oracle runs."""

import json
from pathlib import Path

import pytest

import slmbench
from slmbench.client import Completion
from slmbench.config import Config, EvalSettings, ModelSpec
from slmbench.errors import SlmbenchError
from slmbench.runner import run
from slmbench.scripted import ScriptedServer
from slmbench.tasks.ifeval_checks import CHECKERS, CONFLICTS
from slmbench.tasks.instruction import CONDITIONAL_PAIRS, IFEval, Instruction, load_ifeval

FIXTURES = Path(__file__).parent / "fixtures"
IFEVAL_FILE = FIXTURES / "ifeval_sample.jsonl"
RESPONSES = {row["key"]: row for row in map(json.loads, (FIXTURES / "ifeval_responses.jsonl").read_text().splitlines())}
task = Instruction()


def answer(text, finish="stop"):
    return Completion(text, finish, 5, 5, 0.1, 1)


def test_generated_samples_are_seeded_compatible_and_mix_single_and_multi_turn():
    samples = task.samples(30, seed=0)
    assert samples == task.samples(30, seed=0) and samples != task.samples(30, seed=1)
    assert [s.meta["turns"] for s in samples[:6]] == [1, 1, 2, 1, 1, 2]
    for s in samples:
        ids = [i["id"] for i in s.target["instructions"]]
        assert 1 <= len(ids) <= 4 and len(set(ids)) == len(ids)
        assert all(i in CHECKERS for i in ids)
        for a in ids:
            assert not (CONFLICTS[a] & (set(ids) - {a})), (a, ids)
        assert s.messages[-1]["role"] == "user"


def test_single_turn_prompt_states_each_instruction():
    s = next(s for s in task.samples(10, seed=2) if s.meta["turns"] == 1)
    for ins in s.target["instructions"]:
        assert CHECKERS[ins["id"]].describe(ins["kwargs"]) in s.messages[0]["content"]


def test_multi_turn_constraints_in_force_follow_the_conversation():
    multi = [s for s in task.samples(90, seed=0) if s.meta["turns"] == 2]
    assert {s.meta["operation"] for s in multi} == {"change", "revoke", "add"}
    pairs = dict(CONDITIONAL_PAIRS)
    assert {s.meta["conditional"] for s in multi} >= set(pairs)  # every "if dated" branch occurs
    assert len({i for s in multi for i in s.meta["types"]}) >= 12  # conversations vary
    for s in multi:
        ids = {i["id"] for i in s.target["instructions"]}
        last = s.messages[-1]["content"]
        assert s.meta["conditional"] in ids and "If these notes mention a date:" in last
        mentions_date = any(year in last for year in ("2026", "2025"))
        assert mentions_date == s.meta["dated"] == (s.meta["conditional"] in pairs)
        assert s.messages[1]["role"] == "assistant"
        if s.meta["operation"] == "revoke":
            assert "ignore this earlier instruction" in last and len(ids) == 2
        if s.meta["operation"] == "add":
            assert "One more rule:" in last and len(ids) == 4


def test_scoring_records_strict_loose_and_completeness():
    s = next(s for s in load_ifeval(str(IFEVAL_FILE)) if s.id == "2001")  # keywords + lowercase
    ok = task.score(s, answer(RESPONSES[2001]["good"]))
    assert ok.verdict == "ok" and ok.parts["strict"] == 1.0 and ok.parts["completeness"] == 1.0
    bad = task.score(s, answer("The Sun is up."))  # has 'sun', lacks 'moon', has capitals
    assert bad.verdict == "wrong" and bad.parts["completeness"] == 0.0
    half = task.score(s, answer("the sun is up."))
    assert half.parts["completeness"] == 0.5 and "keywords:existence" in half.why
    # Loose forgives a chatty first line that strict does not.
    loose = task.score(s, answer("Sure, Here Is My Poem:\nthe sun and the moon."))
    assert loose.parts["strict"] == 0.0 and loose.parts["loose"] == 1.0
    cut = task.score(s, answer("the sun and the moon", finish="length"))
    assert cut.verdict == "truncated"


def test_ifeval_loader_reads_the_hub_schema_with_null_kwargs():
    samples = load_ifeval(str(IFEVAL_FILE))
    assert [s.id for s in samples][:3] == ["1000", "1001", "1005"]
    first = samples[0]
    assert [i["id"] for i in first.target["instructions"]] == [
        "punctuation:no_comma", "detectable_format:number_highlighted_sections", "length_constraints:number_words"]
    assert first.messages == [{"role": "user", "content": first.target["prompt"]}]


def test_ifeval_loader_errors_are_one_clear_line(tmp_path):
    with pytest.raises(SlmbenchError, match="cannot read IFEval data"):
        load_ifeval(str(tmp_path / "missing.jsonl"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": 1, "prompt": "x", "instruction_id_list": ["nope:nope"], "kwargs": [{}]}\n')
    with pytest.raises(SlmbenchError, match="line 1 is not an IFEval row .unknown instruction nope:nope"):
        load_ifeval(str(bad))
    with pytest.raises(SlmbenchError, match="--data ifeval=PATH"):
        IFEval().samples(5, 0)


def fixture_server(which):
    by_prompt = {s.target["prompt"]: RESPONSES[int(s.id)][which] for s in load_ifeval(str(IFEVAL_FILE))}
    return ScriptedServer(lambda body: by_prompt[body["messages"][-1]["content"]])


def run_ifeval(server, tmp_path):
    model = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
    config = Config(eval=EvalSettings(data={"ifeval": str(IFEVAL_FILE)}))
    return slmbench.evaluate([model], ["ifeval"], out=tmp_path, config=config).models[0].tasks["ifeval"]


def test_oracle_responses_score_100_percent_strict_and_loose(tmp_path):
    with fixture_server("good") as server:
        result = run_ifeval(server, tmp_path)
    for name in ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose"):
        assert result.metrics[name].value == 1.0, name
    assert result.metrics["prompt_strict"].n == 8 and result.metrics["instruction_strict"].n == 12
    assert result.counts["ok"] == 8


def test_non_compliant_responses_score_0_percent(tmp_path):
    with fixture_server("bad") as server:
        result = run_ifeval(server, tmp_path)
    assert result.metrics["prompt_strict"].value == 0.0 and result.metrics["prompt_loose"].value == 0.0
    assert result.counts["wrong"] == 8
    assert result.metrics["type:punctuation:no_comma"].value == 0.0


def test_generated_suite_reports_multi_turn_metrics(tmp_path):
    with ScriptedServer(lambda body: "") as server:
        model = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
        result = slmbench.evaluate([model], ["instruction"], limit=9, out=tmp_path).models[0].tasks["instruction"]
    assert result.metrics["multiturn_accuracy"].n == 3 and result.metrics["multiturn_completeness"].n == 3
    assert result.metrics["prompt_strict"].n == 9
    assert any(name.startswith("type:") for name in result.metrics)


def test_data_flag_validation(tmp_path, oracle):
    model = ModelSpec(name="scripted", backend="attach", url=oracle.url, served="scripted")
    with pytest.raises(SlmbenchError, match="task 'arithmetic' reads no data"):
        run(Config(model=[model], eval=EvalSettings(out=tmp_path, data={"arithmetic": "x"})))
    with pytest.raises(SlmbenchError, match="not selected; add --task ifeval"):
        run(Config(model=[model], eval=EvalSettings(out=tmp_path, data={"ifeval": "x"})))


def test_ifeval_rows_with_unusable_kwargs_are_refused_at_load(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": 7, "prompt": "x", "instruction_id_list": ["combination:repeat_prompt"], "kwargs": [{"prompt_to_repeat": ""}]}\n')
    with pytest.raises(SlmbenchError, match="line 1 is not an IFEval row .prompt_to_repeat must be set"):
        load_ifeval(str(bad))
