"""One way for every command to send a bearer API key: --api-key-env NAME (or api_key_env per
model in slmbench.toml), else $OPENAI_API_KEY as OpenAI clients do; the key is never printed
or stored. Against a scripted endpoint that answers 401 without the key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from slmbench.testing.scripted import ScriptedServer

KEY = "sk-test-5f1d0c9e-not-a-real-key"


def answer(body):
    return "Answer: 42"


@pytest.fixture
def locked():
    with ScriptedServer(answer, models=("locked",), api_key=KEY) as server:
        yield server


def env_without_keys(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "MY_KEY")}
    return env | extra


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slmbench.cli", *args], capture_output=True, text=True, timeout=300, env=env, check=False
    )


def commands(url: str, tmp_path) -> dict[str, list[str]]:
    doc = tmp_path / "doc.txt"
    doc.write_text("The harbour of Varnholm opened in 1821. " * 20)
    return {
        "eval": ["eval", "--model", f"locked={url}", "--task", "arithmetic", "--limit", "3", "--out", str(tmp_path / "eval"), "-q"],
        "perf": ["perf", "--model", f"locked={url}", "--concurrency", "1", "--requests", "2", "--warmup", "0",
                 "--input-len", "16", "--output-len", "4", "--bandwidth", "10", "--peak-tflops", "1", "--out", str(tmp_path / "perf")],
        "longdoc": ["longdoc", "summarize", str(doc), "--model", f"locked={url}", "-q"],
        "chat": ["chat", "--model", f"locked={url}"],
    }  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_without_the_key_every_command_says_how_to_pass_it(locked, tmp_path):
    for name, args in commands(locked.url, tmp_path).items():
        error = one_line_error(cli(*args, env=env_without_keys()))
        assert "HTTP 401" in error and "--api-key-env" in error, (name, error)
    # a named variable that is not set is named
    error = one_line_error(
        cli(*commands(locked.url, tmp_path)["eval"], "--api-key-env", "MY_KEY", env=env_without_keys())
    )
    assert "$MY_KEY" in error and "not set" in error


def test_with_the_key_eval_perf_and_longdoc_work_and_store_no_key(locked, tmp_path):
    cmds = commands(locked.url, tmp_path)
    for name in ("eval", "perf", "longdoc"):
        result = cli(*cmds[name], "--api-key-env", "MY_KEY", env=env_without_keys(MY_KEY=KEY))
        assert result.returncode == 0, (name, result.stderr[-2000:])
        assert KEY not in result.stdout + result.stderr
    chats = locked.chat_requests
    # OPENAI_API_KEY is honoured as OpenAI clients do
    result = cli(*cmds["eval"], "--out", str(tmp_path / "eval2"), env=env_without_keys(OPENAI_API_KEY=KEY))
    assert result.returncode == 0, result.stderr[-2000:]
    assert locked.chat_requests > chats and locked.auth_headers == {f"Bearer {KEY}"}
    # the key is in no file slmbench wrote: results, manifests, the store
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != "doc.txt"]
    assert any(p.name == "results.json" for p in written) and any(p.suffix == ".sqlite" for p in written)
    assert not [p for p in written if KEY.encode() in p.read_bytes()]


def test_chat_reads_the_key_from_the_config_file(locked, tmp_path):
    """`chat --config` takes its models (and api_key_env) from slmbench.toml, as eval does."""
    config = tmp_path / "slmbench.toml"
    config.write_text(f'[[model]]\nname = "locked"\nbackend = "attach"\nurl = "{locked.url}"\napi_key_env = "MY_KEY"\n')
    proc = subprocess.Popen([sys.executable, "-m", "slmbench.cli", "chat", "--config", str(config)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env_without_keys(MY_KEY=KEY))  # fmt: skip
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            if line.startswith("ready in"):
                break
        assert any(line.startswith("model locked: ") for line in lines), (
            lines,
            proc.stderr.read() if proc.poll() else "",
        )
        assert KEY not in "\n".join(lines)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert KEY not in proc.stderr.read()
