"""Long context and long documents on the real embedded model (llama-server + Gemma 3 270M).

Slow (marked `model`); kept small: a 2-core machine processes a few hundred prompt tokens/s.
"""

import json
import random

import pytest
from helpers import run_cli

from slmbench.serving.build import find_llama_server
from slmbench.serving.http import post_json
from slmbench.serving.llamacpp import LlamaCppServer
from slmbench.serving.models import embedded_gguf, gguf_sha256
from slmbench.serving.tokens import LlamaCppTokens, probe_budget
from slmbench.tasks.haystack import essay_words, join_words
from slmbench.tasks.longcontext import KINDS, TOLERANCE, GridPoint, build

pytestmark = pytest.mark.model


def test_haystacks_are_sized_exactly_with_the_served_tokenizer(tmp_path):
    gguf = embedded_gguf("gemma-3-270m")
    server = LlamaCppServer(name="gemma", binary=find_llama_server(), gguf=gguf, gguf_sha256=gguf_sha256(gguf),
                            log_path=tmp_path / "s.log", parallel=1, ctx_per_slot=2048, chat_template="gemma")  # fmt: skip
    with server as ep:
        budget = probe_budget(ep)
        assert isinstance(budget.counter, LlamaCppTokens) and budget.max_context == 2048
        for kind in KINDS:
            sample = build(GridPoint(kind, 1024, 0.5 if kind.startswith("niah") else None, 11), budget.counter, 32)
            assert 1024 - 32 - TOLERANCE <= sample.meta["prompt_tokens"] <= 1024 - 32, kind
        # The server's own prompt count for the request agrees with ours, to the token.
        status, reply = post_json(f"{ep.base_url}/chat/completions",
                                  {"messages": sample.messages, "max_tokens": 1, "temperature": 0}, timeout_s=600)  # fmt: skip
        assert status == 200 and reply["usage"]["prompt_tokens"] == sample.meta["prompt_tokens"]


def test_eval_longcontext_end_to_end_skips_what_the_slot_cannot_hold(tmp_path):
    result = run_cli("eval", "-m", "gemma-3-270m", "--task", "longcontext", "--lengths", "512,1k,2k", "--limit", "3", "--max-tokens", "16",
                     "--ctx-per-slot", "1024", "--parallel", "1", "--out", str(tmp_path), "-q", timeout=1800)  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "latest" / "results.json").read_text())
    model = data["models"][0]
    assert data["manifest"]["models"][model["name"]]["tokens"] == {
        "tokenizer": "llama.cpp /tokenize",
        "exact": True,
        "max_context": 1024,
    }
    task = model["tasks"]["longcontext"]
    assert task["counts"]["skipped"] == 1 and sum(task["counts"].values()) == 3
    by_id = {s["meta"]["length"]: s for s in task["samples"]}
    assert "length 2048 > the endpoint's context 1024" in by_id[2048]["why"] and by_id[2048]["answer"] is None
    for length in (512, 1024):
        # What llama.cpp reports it processed is what we sized.
        assert by_id[length]["prompt_tokens"] == by_id[length]["meta"]["prompt_tokens"] > length - 16 - TOLERANCE
    extra = task["extra"]
    assert set(extra["heatmap"]) == {"512", "1024", "2048"} and extra["by_length"]["2048"]["n"] == 0
    assert "effective context" in result.stdout


def test_longdoc_summarize_on_the_embedded_model(tmp_path):
    rng = random.Random(3)
    paragraphs = []
    for i in range(12):
        words = essay_words(rng, 120)
        paragraphs.append(f"Chapter {i + 1}. " + join_words([w for w in words if w != "\n\n"]))
    doc = tmp_path / "report.md"
    doc.write_text("\n\n".join(paragraphs))
    result = run_cli("longdoc", "summarize", str(doc), "-m", "gemma-3-270m", "--ctx-per-slot", "1024", "--summary-tokens", "48",
                     "--final-tokens", "64", "--parallel", "2", "-q", timeout=1800)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    stats = result.stderr.strip().splitlines()[-1]
    print(stats)
    assert "chunks" in stats and "llama.cpp /tokenize" in stats
    assert int(stats.split(" chunks")[0].split()[-1]) > 1
