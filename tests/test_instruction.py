"""Instruction following: generated single- and multi-turn samples, the IFEval loader, oracle runs."""

import json
from pathlib import Path

import pytest
from helpers import run_cli

import slmbench
from slmbench.client import Completion
from slmbench.config import Config, EvalSettings, ModelSpec
from slmbench.errors import SlmbenchError
from slmbench.runner import run
from slmbench.tasks.ifeval_checks import CHECKERS, CONFLICTS
from slmbench.tasks.instruction import CONDITIONAL_PAIRS, IFEval, Instruction, load_ifeval
from slmbench.testing.scripted import ScriptedServer

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
        "punctuation:no_comma",
        "detectable_format:number_highlighted_sections",
        "length_constraints:number_words",
    ]
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
    bad.write_text(
        '{"key": 7, "prompt": "x", "instruction_id_list": ["combination:repeat_prompt"], "kwargs": [{"prompt_to_repeat": ""}]}\n'
    )
    with pytest.raises(SlmbenchError, match="line 1 is not an IFEval row .prompt_to_repeat must be set"):
        load_ifeval(str(bad))


# -- repeated ids and IFEval's accounting ----------------------------------------------------

REPEATED_IDS = FIXTURES / "ifeval_repeated_ids.jsonl"


def test_a_row_repeating_an_id_scores_every_copy():
    # google/IFEval 3407: capital words "at least 1" and "less than 5".
    row = next(s for s in load_ifeval(str(REPEATED_IDS)) if s.id == "3407")
    assert row.meta["types"] == ["change_case:capital_word_frequency"] * 2
    lower = task.score(row, answer("the riddle of the night, all lowercase."))
    assert lower.parts["strict:0:change_case:capital_word_frequency"] == 0.0
    assert lower.parts["strict:1:change_case:capital_word_frequency"] == 1.0
    assert (lower.parts["strict"], lower.parts["loose"], lower.parts["completeness"]) == (0.0, 0.0, 0.5)
    shouting = task.score(row, answer("THE BIG RED DOG RUNS FAST"))  # 6 capital words: the second copy fails
    assert shouting.parts["strict:0:change_case:capital_word_frequency"] == 1.0
    assert (shouting.parts["strict"], shouting.parts["loose"]) == (0.0, 0.0)
    assert task.score(row, answer("I am the RIDDLE. SOLVE me.")).verdict == "ok"
    metrics = task.metrics([_record(row, lower), _record(row, shouting)])
    assert metrics["instruction_strict"].n == 4 and metrics["instruction_strict"].value == 0.5
    assert metrics["type:change_case:capital_word_frequency"].n == 4


def _record(sample, verdict, status=None):
    from slmbench.results import SampleRecord

    return SampleRecord(id=sample.id, prompt="p", answer="a", target=sample.target, verdict=status or verdict.verdict,
                        score=verdict.score, why="", finish_reason="stop", latency_s=0.1, prompt_tokens=1,
                        completion_tokens=1, cached=False, meta=sample.meta, parts={} if status else verdict.parts)  # fmt: skip


def test_ifeval_counts_unanswered_prompts_as_failed_and_shows_how_many(tmp_path):
    by_prompt = {s.target["prompt"]: RESPONSES[int(s.id)]["good"] for s in load_ifeval(str(IFEVAL_FILE))}
    with ScriptedServer(lambda body: by_prompt[body["messages"][-1]["content"]], script=[400, 400]) as server:
        model = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
        config = Config(eval=EvalSettings(data={"ifeval": str(IFEVAL_FILE)}))
        results = slmbench.evaluate([model], ["ifeval"], out=tmp_path, config=config)
    result = results.models[0].tasks["ifeval"]
    assert result.counts["error"] == 2 and result.counts["ok"] == 6
    # IFEval's accounting: the two prompts without an answer are failures, in n.
    assert (result.metrics["prompt_strict"].value, result.metrics["prompt_strict"].n) == (0.75, 8)
    assert (result.metrics["prompt_loose"].value, result.metrics["prompt_loose"].n) == (0.75, 8)
    lost = sum(len(r.target["instructions"]) for r in result.samples if r.verdict == "error")
    assert (
        result.metrics["instruction_strict"].n == 12 and result.metrics["instruction_strict"].value == (12 - lost) / 12
    )
    assert sum(e.n for name, e in result.metrics.items() if name.startswith("type:")) == 12
    # ... and over answered prompts only, beside them.
    assert (result.metrics["prompt_strict_answered"].value, result.metrics["prompt_strict_answered"].n) == (1.0, 6)
    assert result.extra == {"accounting": "ifeval", "unanswered_failed": 2}
    md = (results.run_dir / "results.md").read_text()
    assert (
        "| scripted | ifeval | prompt_strict | 75.0 [40.9, 92.9] | 8 (incl. 2 unanswered) | 6 | 0 | 0 | 0 | 2 |" in md
    )
    assert "`ifeval` keeps IFEval's own accounting" in md
    data = json.loads((results.run_dir / "results.json").read_text())["models"][0]["tasks"]["ifeval"]
    assert data["metrics"]["prompt_strict"]["n"] == 8 and data["extra"]["unanswered_failed"] == 2


def test_cli_table_shows_ifeval_n_with_the_unanswered(tmp_path):
    by_prompt = {s.target["prompt"]: RESPONSES[int(s.id)]["good"] for s in load_ifeval(str(IFEVAL_FILE))}
    with ScriptedServer(lambda body: by_prompt[body["messages"][-1]["content"]], script=[400]) as server:
        result = run_cli("eval", "--model", f"scripted={server.url}", "--task", "ifeval", "--data", f"ifeval={IFEVAL_FILE}",
                         "--out", str(tmp_path), timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "8 (incl. 1" in result.stdout and "unanswered)" in result.stdout


def test_generated_suite_leaves_unanswered_samples_out_of_n(tmp_path):
    with ScriptedServer(lambda body: "", script=[400]) as server:
        model = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
        result = slmbench.evaluate([model], ["instruction"], limit=3, out=tmp_path).models[0].tasks["instruction"]
    assert result.counts["error"] == 1 and result.metrics["prompt_strict"].n == 2
    assert "prompt_strict_answered" not in result.metrics and result.extra == {}
