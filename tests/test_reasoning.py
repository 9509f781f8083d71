"""Logical reasoning: puzzles + math through the whole path, and the scorer's edge cases."""

import json

import slmbench
from slmbench.client import Completion
from slmbench.config import ModelSpec
from slmbench.tasks.reasoning import Reasoning
from slmbench.testing.scripted import ScriptedServer

task = Reasoning()


def answer(text, finish="stop"):
    return Completion(text, finish, 5, 5, 0.1, 1)


def grid(puzzle):
    return {f"House {i + 1}": house for i, house in enumerate(puzzle.solution)}


def gold(sample):
    if sample.meta["kind"] == "puzzle":
        return "```json\n" + json.dumps(grid(sample.target)) + "\n```"
    return f"Step by step... so the result is \\boxed{{{sample.target}}}."


def test_samples_alternate_puzzles_and_math_and_are_seeded():
    samples = task.samples(12, seed=0)
    assert [s.meta["kind"] for s in samples[:4]] == ["puzzle", "math", "puzzle", "math"]
    assert [s.meta["size"] for s in samples if s.meta["kind"] == "puzzle"][:3] == ["2x2", "2x3", "3x2"]
    assert [s.messages for s in task.samples(12, seed=0)] == [s.messages for s in samples]
    assert [s.messages for s in task.samples(12, seed=1)] != [s.messages for s in samples]


def test_math_scoring_verdicts():
    s = task.samples(2, seed=0)[1]
    assert task.score(s, answer(gold(s))).verdict == "ok"
    assert (
        task.score(s, answer("<think>maybe 3? \\boxed{3}</think> \\boxed{" + s.target + "}")).parts["think_blocks"] == 1
    )
    assert task.score(s, answer("\\boxed{999999}")).verdict == "wrong"
    assert task.score(s, answer("I am not sure.")).verdict == "extraction_failed"
    assert task.score(s, answer("Let me compute 3 + 4 = 7 and", finish="length")).verdict == "truncated"
    assert task.score(s, answer("\\boxed{banana}")).verdict == "extraction_failed"


def test_puzzle_scoring_verdicts():
    s = task.samples(1, seed=0)[0]
    assert task.score(s, answer(gold(s))).verdict == "ok"
    assert task.score(s, answer('{"House 1": {', finish="length")).verdict == "truncated"
    assert task.score(s, answer("no grid here")).verdict == "extraction_failed"


def run_reasoning(server, tmp_path, limit):
    model = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
    return slmbench.evaluate([model], ["reasoning"], limit=limit, out=tmp_path).models[0].tasks["reasoning"]


def test_oracle_scores_100_percent_and_wrong_answers_0(tmp_path):
    samples = task.samples(24, seed=0)
    by_prompt = {s.messages[0]["content"]: gold(s) for s in samples}
    with ScriptedServer(lambda body: by_prompt[body["messages"][0]["content"]]) as server:
        result = run_reasoning(server, tmp_path / "gold", 24)
    for name in ("accuracy", "puzzle_accuracy", "cell_accuracy", "math_accuracy"):
        assert result.metrics[name].value == 1.0, name
    assert result.metrics["puzzle_accuracy"].n == 12 and result.metrics["math_accuracy"].n == 12
    assert {g for g in result.breakdown["group"]} >= {"math-L1", "math-L4", "puzzle-small"}

    def wrong(body):
        s = next(x for x in samples if x.messages[0]["content"] == body["messages"][0]["content"])
        if s.meta["kind"] == "math":
            return "\\boxed{" + str(int(float(eval(s.target))) + 1000) + "}"
        shifted = s.target.solution[1:] + s.target.solution[:1]  # every house moved by one
        return json.dumps({f"House {i + 1}": h for i, h in enumerate(shifted)})

    with ScriptedServer(wrong) as server:
        result = run_reasoning(server, tmp_path / "wrong", 24)
    assert result.metrics["accuracy"].value == 0.0 and result.counts["wrong"] == 24
    assert result.metrics["cell_accuracy"].value < 0.5
