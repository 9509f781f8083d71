"""A 20-page Chinese document through the long-document toolkit on the real SmolLM2-135M-Instruct
(llama-server): chunks sized by the server's own tokenizer, then `slmbench longdoc summarize`
and `slmbench longdoc ask` end to end. Slow (marked `model`); kept to small answers.
"""

import random
import re
import time

import pytest
import zh_text
from helpers import run_cli

from slmbench import longdoc
from slmbench.serving.build import find_llama_server
from slmbench.serving.llamacpp import LlamaCppServer
from slmbench.serving.models import embedded_gguf, gguf_sha256
from slmbench.serving.tokens import LlamaCppTokens, probe_budget

pytestmark = pytest.mark.model

MODEL = "smollm2-135m"  # the embedded instruct model, longdoc's default
PAGES = 20
FACT, QUESTION, _ = zh_text.FACTS[0]


@pytest.fixture(scope="module")
def document(tmp_path_factory):
    text = zh_text.document(PAGES, seed=2, facts={13: FACT})
    path = tmp_path_factory.mktemp("zh") / "年度报告.txt"
    path.write_text(text, encoding="utf-8")
    return path, text


def test_chinese_text_is_chunked_within_the_servers_token_counts(tmp_path, document):
    _, text = document
    gguf = embedded_gguf(MODEL)
    server = LlamaCppServer(name=MODEL, binary=find_llama_server(), gguf=gguf, gguf_sha256=gguf_sha256(gguf),
                            log_path=tmp_path / "s.log", parallel=1, ctx_per_slot=2048)  # fmt: skip
    with server as ep:
        counter = probe_budget(ep).counter
        assert isinstance(counter, LlamaCppTokens)
        paragraph = text.split("\n\n")[0]
        while len(paragraph) < 920:  # issue 17's case: one 920-character paragraph, 200 tokens a chunk
            paragraph += zh_text.sentence(random.Random(len(paragraph)))
        paragraph = paragraph[:920]
        started = time.perf_counter()
        for sample, budget in ((paragraph, 200), (text, 512)):
            chunks = longdoc.chunk_text(sample, counter, budget, budget // 8)
            assert len(chunks) > 1
            for c in chunks:
                assert c.text == sample[c.start : c.end] and c.tokens == counter.count(c.text) <= budget
            covered = {i for c in chunks for i in range(c.start, c.end)}
            assert all(i in covered for i, ch in enumerate(sample) if not ch.isspace())
        seconds = time.perf_counter() - started
        per_char = counter.count(text) / len(text)
    print(f"{PAGES} pages, {len(text)} characters, {per_char:.2f} tokens/character, {len(chunks)} chunks of <= 512 "
          f"tokens; chunking both texts took {seconds:.1f} s")  # fmt: skip


def test_longdoc_summarize_a_twenty_page_chinese_document(document):
    path, text = document
    result = run_cli("longdoc", "summarize", str(path), "--model", MODEL, "--ctx-per-slot", "2048",
                     "--chunk-tokens", "1024", "--summary-tokens", "48", "--final-tokens", "96", "--parallel", "2", "-q",
                     timeout=1200)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    stats = result.stderr.strip().splitlines()[-1]
    print(stats)
    found = re.search(r"([\d,]+) chars, (\d+) chunks, (\d+) reduce levels, (\d+) requests", stats)
    assert found and "llama.cpp /tokenize" in stats, stats
    chars, chunks, levels, requests = (int(g.replace(",", "")) for g in found.groups())
    assert chars == len(text) and chunks >= 8 and levels >= 1 and requests >= chunks + 1


def test_longdoc_ask_finds_the_passage_of_a_chinese_question(document):
    path, text = document
    result = run_cli("longdoc", "ask", str(path), QUESTION, "--model", MODEL, "--ctx-per-slot", "2048",
                     "--passages", "3", "--final-tokens", "64", "-q", timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    used = result.stderr.strip().splitlines()[-1]
    print(used, "| answer:", result.stdout.strip()[:200])
    first = re.search(r"most relevant first: P\d+ \((\d+)-(\d+)\)", used)
    assert first, used
    start, end = int(first.group(1)), int(first.group(2))
    assert start <= text.index(FACT) < end  # the best passage holds the fact
