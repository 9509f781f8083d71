"""Long context: haystack sizing, needle placement, scoring oracles, effective context, pre-flight."""

import json
import re
from collections import Counter

import pytest

import slmbench
from slmbench.config import Config, EvalSettings, ModelSpec, parse_lengths
from slmbench.errors import SlmbenchError
from slmbench.serving.tokens import Budget, TokenEstimate
from slmbench.tasks import TASKS
from slmbench.tasks.longcontext import (
    KINDS,
    TOLERANCE,
    GridPoint,
    LongContext,
    build,
    effective_context,
    score_answer,
)
from slmbench.testing.scripted import ScriptedServer


class WordTokens:
    """A tokenizer unlike the estimate: one token per word plus one per punctuation mark."""

    source = "test words"
    exact = True

    def __init__(self):
        self.calls = 0

    def count(self, text):
        self.calls += 1
        return len(re.findall(r"\w+|[^\w\s]", text))

    def count_messages(self, messages):
        return sum(self.count(m["content"]) + 3 for m in messages)


def gold(body):
    """An oracle that reads the answer out of the prompt, as a perfect reader would."""
    prompt = body["messages"][-1]["content"]
    if "special magic number" in prompt:
        question = prompt.rsplit("\n", 1)[1]
        keys = re.findall(r"[a-z]+-[a-z]+", question.split("mentioned")[0])
        values = [v for k in dict.fromkeys(keys) for v in re.findall(rf"for {k} is: (\d+)\.", prompt)]
        return ", ".join(values) + "."
    if prompt.startswith("Memorize and track"):
        value = re.search(r"assigned the value (\d+)", prompt).group(1)
        names = set(re.findall(rf"VAR ([A-Z]+) = {value}\.", prompt))
        for _ in range(10):
            names |= {b for b, a in re.findall(r"VAR ([A-Z]+) = VAR ([A-Z]+)\.", prompt) if a in names}
        return " ".join(sorted(names))
    if prompt.startswith("Below is a numbered list"):
        counts = Counter(re.findall(r"^\d+\. (\w+)$", prompt, re.MULTILINE))
        return ", ".join(w for w, _ in counts.most_common(10))
    words = prompt.split("\n")[1].split()
    return " ".join(w for w, _ in Counter(words).most_common(3))


def attach(server):
    return ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")


def test_lengths_parse_like_the_flag():
    assert parse_lengths("1k,2K,4096") == [1024, 2048, 4096]
    for bad in ("", "1k,x", "0", "100"):
        with pytest.raises(ValueError):
            parse_lengths(bad)


@pytest.mark.parametrize("counter", [TokenEstimate(), WordTokens()], ids=["estimate", "words"])
@pytest.mark.parametrize("kind", KINDS)
def test_prompts_are_sized_to_the_token_target(kind, counter):
    for length in (1024, 3000):
        sample = build(GridPoint(kind, length, 0.5 if kind.startswith("niah") else None, 7), counter, 64)
        tokens = counter.count_messages(sample.messages)
        assert tokens == sample.meta["prompt_tokens"]
        assert length - 64 - TOLERANCE <= tokens <= length - 64, (kind, length, tokens)
        assert sample.meta["counted_by"] == counter.source


def test_a_large_haystack_is_sized_exactly_too():
    sample = build(GridPoint("niah_single", 128 * 1024, 0.25, 1), TokenEstimate(), 96)
    assert 128 * 1024 - 96 - TOLERANCE <= sample.meta["prompt_tokens"] <= 128 * 1024 - 96


@pytest.mark.parametrize("depth", [0.1, 0.5, 0.9])
def test_the_needle_sits_at_its_depth_on_a_sentence_boundary(depth):
    sample = build(GridPoint("niah_single", 4096, depth, 3), TokenEstimate(), 96)
    text = sample.messages[0]["content"]
    needle = "One of the special magic numbers for"
    at = text.index(needle)
    haystack_start = text.index("\n") + 1
    haystack_end = text.rindex("\n")
    assert abs((at - haystack_start) / (haystack_end - haystack_start) - depth) < 0.03
    assert abs(sample.meta["needle_depth"] - depth) < 0.03
    assert text[at - 2 : at] in (". ", "\n\n") or at == haystack_start
    assert text.count(needle) == 1 and sample.target[0] in text


def test_generation_is_seeded_and_offline():
    task = LongContext()
    a, b = task.samples(15, 4), task.samples(15, 4)
    assert [s.messages for s in a] == [s.messages for s in b]
    assert [s.messages for s in a] != [s.messages for s in task.samples(15, 5)]
    # A small --limit still spans every length.
    assert {s.meta["length"] for s in a[:3]} == {1024, 2048, 4096}


def test_default_grid_and_variants_size_the_llama_slot():
    assert TASKS["longcontext"].lengths == (1024, 2048, 4096)
    assert TASKS["longcontext"].default_limit == 3 * (4 * 3 + 3)
    assert TASKS["longcontext"].context_tokens + TASKS["longcontext"].max_tokens == 4096
    assert TASKS["longcontext-256k"].lengths[-1] == 262144
    from slmbench.runner import _ctx_per_slot

    assert _ctx_per_slot([TASKS["longcontext"]], EvalSettings()) == 4096
    assert _ctx_per_slot([TASKS["longcontext"].with_lengths([1024, 8192])], EvalSettings()) == 8192


def test_scorer_verdicts():
    target = ["1234567", "7654321"]
    assert score_answer("niah_multivalue", target, "7654321 and 1234567", False).verdict == "ok"
    half = score_answer("niah_multivalue", target, "1234567 and 1111111", False)
    assert half.verdict == "wrong" and half.score == 0.5
    # Listing every number in sight earns nothing beyond the first len(target).
    assert score_answer("niah_single", ["1234567"], "2222222, 1234567", False).verdict == "wrong"
    assert score_answer("niah_single", ["1234567"], "I do not know", False).verdict == "extraction_failed"
    assert score_answer("niah_single", ["1234567"], "The number is", True).verdict == "truncated"
    assert score_answer("niah_single", ["1234567"], "12345678", False).verdict == "extraction_failed"
    assert score_answer("variable_tracking", ["ABCDE"], "They are: ABCDE", False).verdict == "ok"
    assert score_answer("common_words", ["kovari"], "1. Kovari", False).verdict == "ok"


def test_oracle_scores_100_percent_and_wrong_answers_0(tmp_path):
    with ScriptedServer(gold) as server:
        results = slmbench.evaluate([attach(server)], ["longcontext"], out=tmp_path / "gold")
    task = results.models[0].tasks["longcontext"]
    assert task.counts["ok"] == 45 and task.metrics["accuracy"].value == 1.0
    assert task.extra["effective_context"] == 4096
    assert set(task.breakdown["kind"]) == set(KINDS)
    assert all(
        cell["score"] == 1.0 and cell["n"] == 4 for row in task.extra["heatmap"].values() for cell in row.values()
    )

    with ScriptedServer(lambda b: "The numbers are 1000000, 1000001, 1000002 and 1000003; words: bababa.") as server:
        task = (
            slmbench.evaluate([attach(server)], ["longcontext"], out=tmp_path / "wrong").models[0].tasks["longcontext"]
        )
    assert task.metrics["accuracy"].value == 0.0 and task.metrics["recall"].value == 0.0
    assert (
        task.counts["ok"] == 0 and task.counts["wrong"] == 42 and task.counts["extraction_failed"] == 3
    )  # no VAR names in it
    assert task.extra["effective_context"] is None and "no signal" in task.extra["effective_context_why"]

    with ScriptedServer(lambda b: "Sorry, I cannot help with that.") as server:
        task = (
            slmbench.evaluate([attach(server)], ["longcontext"], limit=6, out=tmp_path / "none")
            .models[0]
            .tasks["longcontext"]
        )
    assert task.counts["extraction_failed"] == 6 and task.metrics["accuracy"].value == 0.0


def test_effective_context_on_hand_made_scores():
    def grid(*scores):
        return {1024 * 2**i: {"score": s, "n": 10} for i, s in enumerate(scores)}

    assert effective_context(grid(0.9, 0.85, 0.8, 0.5))[0] == 4096
    assert effective_context(grid(0.9, 0.7, 0.9, 0.9))[0] == 1024  # must stay within the margin all the way
    assert effective_context(grid(1.0, 1.0, 1.0))[0] == 4096
    # Too few samples at a length is no evidence either way.
    few = grid(1.0, 1.0, 1.0) | {2048: {"score": 1.0, "n": 2}}
    value, why = effective_context(few)
    assert value == 1024 and "only 2 answered samples at 2048 tokens" in why
    value, why = effective_context({1024: {"score": 1.0, "n": 2}, 2048: {"score": 1.0, "n": 10}})
    assert value is None and "only 2 answered samples at 1024 tokens, the shortest length" in why
    assert effective_context(grid(0.05, 0.05))[0] is None
    skipped = grid(0.9, 0.9) | {4096: {"score": None, "n": 0, "why_skipped": "over context"}}
    value, why = effective_context(skipped)
    assert value == 2048 and "over context" in why
    assert effective_context(grid(0.9, 0.9, 0.75), margin=0.2)[0] == 4096


def test_preflight_skips_what_cannot_fit_and_never_sends_it(tmp_path):
    with ScriptedServer(gold, max_model_len=1500, tokenize=True) as server:
        config = Config(eval=EvalSettings(lengths=[1024, 2048]))
        results = slmbench.evaluate([attach(server)], ["longcontext"], limit=6, out=tmp_path, config=config)
        assert server.chat_requests == 3  # the three 1K samples only
    task = results.models[0].tasks["longcontext"]
    assert task.counts["skipped"] == 3 and task.counts["ok"] == 3
    skipped = [s for s in task.samples if s.verdict == "skipped"]
    assert all(s.meta["length"] == 2048 and "skipped-over-context" in s.why and "1500" in s.why for s in skipped)
    assert task.metrics["accuracy"].n == 3  # skipped samples are shown, not scored
    assert (
        task.extra["effective_context"] == 1024
        and "2048 tokens was not measured" in task.extra["effective_context_why"]
    )
    # The served tokenizer sized the prompts (one token per word there), and the manifest says so.
    sent = [s for s in task.samples if s.verdict == "ok"]
    assert all(s.meta["counted_by"] == "vLLM /tokenize" for s in sent)
    assert all(1024 - 96 - TOLERANCE <= s.meta["prompt_tokens"] <= 1024 - 96 for s in sent)
    data = json.loads((results.run_dir / "results.json").read_text())
    assert data["manifest"]["models"]["scripted"]["tokens"] == {
        "tokenizer": "vLLM /tokenize",
        "exact": True,
        "max_context": 1500,
    }
    assert data["models"][0]["tasks"]["longcontext"]["extra"]["heatmap"]["1024"]["0.1"]["n"] == 1
    md = (results.run_dir / "results.md").read_text()
    assert "Effective context: **1024** tokens" in md


def test_budget_check_counts_only_requests_that_might_not_fit():
    words = WordTokens()
    budget = Budget(words, 1000)
    assert budget.check([{"role": "user", "content": "short question"}], 100) == (None, None)
    assert words.calls == 0  # far below the context by size alone: not counted
    long = [{"role": "user", "content": "word " * 950}]
    counted, reason = budget.check(long, 100)
    assert counted == 953 and "prompt 953 tokens + max_tokens 100 > the endpoint's context 1000" in reason
    assert Budget(words, None).check(long, 100) == (None, None)  # unknown context: nothing to check against
    estimated = Budget(TokenEstimate(), 1000).check(long, 100)[1]
    assert "by estimate (4 chars/token)" in estimated


def test_lengths_over_the_context_are_skipped_without_sizing(tmp_path):
    with ScriptedServer(gold, max_model_len=300, tokenize=True) as server:
        results = slmbench.evaluate([attach(server)], ["longcontext"], limit=2, out=tmp_path,
                                    config=Config(eval=EvalSettings(lengths=[1024, 2048])))  # fmt: skip
        assert server.chat_requests == 0
    task = results.models[0].tasks["longcontext"]
    assert task.counts["skipped"] == 2 and "length 1024 > the endpoint's context 300" in task.samples[0].why


def test_any_task_s_over_long_request_is_skipped_by_the_preflight(tmp_path):
    with ScriptedServer(gold, max_model_len=200, tokenize=True) as server:
        results = slmbench.evaluate([attach(server)], ["arithmetic"], limit=3, out=tmp_path)
        assert server.chat_requests == 0 and server.tokenize_requests >= 3
    task = results.models[0].tasks["arithmetic"]
    assert task.counts["skipped"] == 3
    assert "+ max_tokens 192 > the endpoint's context 200; not sent" in task.samples[0].why


def test_lengths_need_a_long_context_task(tmp_path, oracle):
    with pytest.raises(SlmbenchError, match="--lengths applies to the long-context tasks"):
        slmbench.evaluate(
            [attach(oracle)], ["arithmetic"], out=tmp_path, config=Config(eval=EvalSettings(lengths=[1024]))
        )
    assert oracle.chat_requests == 0


def test_long_prompts_get_a_longer_request_timeout():
    from slmbench.runner import request_timeout

    assert request_timeout(EvalSettings(), [TASKS["arithmetic"]]) == 300.0
    assert request_timeout(EvalSettings(), [TASKS["longcontext"]]) == 60 + 0.25 * 96 + 0.25 * (4000 - 2048)


def test_bad_lengths_flag_is_a_one_line_error():
    from helpers import run_cli

    result = run_cli("eval", "--task", "longcontext", "--lengths", "1q", timeout=60)
    assert (
        result.returncode == 1
        and result.stderr
        == "error: --lengths '1q': '1q' is not a length like 4k or 4096; write it like --lengths 1k,2k,4k\n"
    )


def test_longctx_is_another_name_for_the_task():
    assert EvalSettings(tasks=["longctx", "longctx-256k", "arithmetic"]).tasks == [
        "longcontext",
        "longcontext-256k",
        "arithmetic",
    ]
