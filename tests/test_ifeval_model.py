"""Agreement on real answers: SmolLM2-135M-Instruct answers `instruction` samples through
slmbench's own llama-server path, and the same answers are scored by slmbench (in the run) and
by IFEval's reference checkers (`ifeval_ref`, evaluation_lib's scoring). Every verdict must agree,
per instruction and per prompt, strict and loose.

Multi-turn samples are compared on the constraints in force at the final turn: that list is
what slmbench checks, and each of its instructions is one the reference can check.
Slow (marked `model`): a real model on CPU, answers capped at 256 tokens.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from helpers import run_cli
from ifeval_ref import open_reference, reference_row

from slmbench.serving.models import embedded_gguf
from slmbench.tasks.base import ANSWERED
from slmbench.tasks.instruction import instruction_results

pytestmark = pytest.mark.model

SAMPLES = 40


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("ifeval_model")
    result = run_cli("eval", "--gguf", str(embedded_gguf("smollm2-135m")), "--task", "instruction", "--limit", str(SAMPLES),
                     "--max-tokens", "256", "--parallel", "2", "--out", str(out), "--quiet", timeout=1200)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((out / "latest" / "results.json").read_text())["models"][0]["tasks"]["instruction"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory):
    with open_reference(tmp_path_factory.mktemp("nltk_data")) as ref:
        yield ref


def test_real_answers_get_the_same_verdicts_from_slmbench_and_ifeval(answers, reference):
    records = [SimpleNamespace(**s) for s in answers["samples"]]
    answered = [r for r in records if r.verdict in ANSWERED]
    assert len(answered) == len(records) == SAMPLES, [r.why for r in records if r.verdict not in ANSWERED]
    disagreements = []
    instructions = 0
    theirs_all = []
    for r in answered:
        instructions_list = r.target["instructions"]
        ids = [i["id"] for i in instructions_list]
        theirs = reference_row(reference, ids, [i["kwargs"] for i in instructions_list], r.target["prompt"], r.answer)
        ours = [(strict, loose) for _, strict, loose in instruction_results(r)]
        prompt_ours = (r.parts["strict"] == 1.0, r.parts["loose"] == 1.0)
        prompt_theirs = (all(s for s, _ in theirs), all(lo for _, lo in theirs))
        instructions += len(ids)
        theirs_all.append(theirs)
        if ours != theirs or prompt_ours != prompt_theirs:
            disagreements.append(
                f"sample {r.id} ({r.meta['turns']} turn(s)) {ids}\n  answer: {r.answer!r}\n"
                f"  slmbench (strict, loose) per instruction {ours}, prompt {prompt_ours}\n"
                f"  IFEval   (strict, loose) per instruction {theirs}, prompt {prompt_theirs}"
            )
    multi = sum(r.meta["turns"] > 1 for r in answered)
    print(f"\ncompared {len(answered)} answers ({multi} multi-turn), {instructions} instructions: "
          f"{len(answered) - len(disagreements)}/{len(answered)} prompts agree")  # fmt: skip
    assert not disagreements, "\n".join(disagreements)
    # The run's own metrics are the reference's figures over the same answers.
    metrics = answers["metrics"]
    expected = {
        "prompt_strict": (sum(all(s for s, _ in t) for t in theirs_all), len(theirs_all)),
        "prompt_loose": (sum(all(lo for _, lo in t) for t in theirs_all), len(theirs_all)),
        "instruction_strict": (sum(s for t in theirs_all for s, _ in t), instructions),
        "instruction_loose": (sum(lo for t in theirs_all for _, lo in t), instructions),
    }
    for name, (followed, total) in expected.items():
        got = metrics[name]
        assert (round(got["value"] * got["n"]), got["n"]) == (followed, total), name
        print(f"{name}: {followed}/{total} = {100 * followed / total:.1f}%")
    # A real instruct model follows some instructions: the comparison covers both verdicts.
    assert 0 < expected["instruction_loose"][0] < instructions
