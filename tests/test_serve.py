"""`slmbench serve` without a GPU: vLLM start-up failures from recorded logs, the vLLM
command from the plan, and the supervision around it (a stand-in `vllm` that serves the
scripted endpoint); `ps`/`stop` of detached servers; attach and the capability probe."""

import http.server
import os
import signal
import sys
import threading
from pathlib import Path

import pytest
from helpers import alive, read_until, run_cli, start_cli, stop_detached, stopped_after

from slmbench import plan as P
from slmbench.profiles import get_profile
from slmbench.serving.probe import probe_capabilities
from slmbench.serving.vllm import diagnose, kv_report, vllm_argv
from slmbench.testing.scripted import ScriptedServer

FIXTURES = Path(__file__).parent / "fixtures"
LOGS = FIXTURES / "vllm"


@pytest.mark.parametrize(
    ("log", "problem", "fix"),
    [
        ("kv_cache_too_small.log", "needs 36.00 GiB but only 12.10 GiB", "--context 88064 (vLLM estimates 88,112 tokens fit), or --kv-dtype fp8"),
        ("kv_cache_too_small_v0.log", "max-model-len 8,192 is more than the KV cache holds (3,360 tokens)", "--context 3072"),
        ("cuda_oom.log", "CUDA ran out of memory while loading", "smaller --weights (fp8, awq) or --tp 2"),
        ("unknown_architecture.log", "does not support the model architecture 'Qwen3NextForCausalLM'", "pip install -U vllm"),
        ("port_in_use.log", "port 8000 is in use", "pass another --port"),
        ("free_memory_too_low.log", "only 16.42 of 23.99 GiB of GPU memory is free", "--gpu-memory-utilization 0.66"),
        ("no_gpu.log", "vLLM found no GPU", "--backend llamacpp"),
        ("gated_repo.log", "gated", "HF_TOKEN"),
    ],
)  # fmt: skip
def test_recorded_vllm_failures_are_recognised_with_their_fix(log, problem, fix):
    found = diagnose((LOGS / log).read_text(), port=8000)
    assert found is not None and problem in found.problem and fix in found.fix


def test_fp8_is_not_suggested_when_already_in_use_and_a_clean_log_is_not_a_failure():
    found = diagnose((LOGS / "kv_cache_too_small.log").read_text(), kv_dtype="fp8")
    assert "fp8" not in found.fix
    assert diagnose((LOGS / "ready.log").read_text()) is None
    assert (
        kv_report((LOGS / "ready.log").read_text())
        == "vLLM KV cache: 88,112 tokens, 1.34x concurrency at 65,536 tokens"
    )


def test_vllm_command_comes_from_the_plan():
    pl = P.plan(P.make_request(get_profile("qwen3-4b"), P.find_gpu("h100"), kv="fp8", context=131072, tp=2, dp=2))
    argv = vllm_argv("/opt/bin/vllm", pl, port=8123, host="0.0.0.0", served_name="qwen")
    assert argv == [
        "/opt/bin/vllm", "serve", "Qwen/Qwen3-4B-Instruct-2507", "--max-model-len", "131072",
        "--gpu-memory-utilization", "0.9", "--kv-cache-dtype", "fp8", "--tensor-parallel-size", "2",
        "--data-parallel-size", "2", "--served-model-name", "qwen", "--enable-auto-tool-choice",
        "--tool-call-parser", "hermes", "--port", "8123", "--host", "0.0.0.0",
    ]  # fmt: skip


@pytest.fixture
def state(tmp_path):
    yield {"SLMBENCH_STATE": str(tmp_path / "state")}
    stop_detached(tmp_path / "state")


@pytest.fixture
def fake_vllm(tmp_path, state):
    exe = tmp_path / "bin" / "vllm"
    exe.parent.mkdir()
    exe.write_text(f"#!{sys.executable}\n" + (FIXTURES / "fake_vllm.py").read_text())
    exe.chmod(0o755)
    return {**state, "SLMBENCH_VLLM": str(exe)}


def test_vllm_not_installed_says_how_to_install_and_points_cpu_users_to_llamacpp(state, tmp_path):
    env = {**state, "PATH": str(tmp_path), "SLMBENCH_VLLM": ""}
    result = run_cli("serve", "qwen3-4b", "--backend", "vllm", "--gpu", "rtx4090", env=env)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "vLLM is not installed" in result.stderr and "pip install vllm" in result.stderr
    assert "--backend llamacpp" in result.stderr


def test_dry_run_prints_the_planned_vllm_command_without_vllm(state):
    result = run_cli("serve", "qwen3-4b", "--backend", "vllm", "--gpu", "rtx4090", "--dry-run", env=state)
    assert result.returncode == 0, result.stderr
    assert "native 262,144 tokens do not fit RTX 4090 24 GB; --max-model-len 89088 (plan)" in result.stdout
    assert "vllm serve Qwen/Qwen3-4B-Instruct-2507 --max-model-len 89088 --gpu-memory-utilization 0.9" in result.stdout


def test_context_that_cannot_fit_is_refused_before_starting(fake_vllm):
    result = run_cli("serve", "qwen3-4b", "--backend", "vllm", "--gpu", "rtx3060", "--context", "128K", env=fake_vllm)
    assert result.returncode == 1 and "misses by" in result.stderr and "would fit: --context" in result.stderr


def test_a_failed_vllm_start_prints_the_fix(fake_vllm):
    env = {**fake_vllm, "FAKE_VLLM_LOG": str(LOGS / "kv_cache_too_small.log")}
    result = run_cli("serve", "qwen3-4b", "--backend", "vllm", "--gpu", "rtx4090", "--context", "32K", env=env)
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: vLLM could not start: the KV cache for one 262,144-token sequence")
    assert "pass --context 88064" in result.stderr


def test_vllm_in_the_foreground_ready_then_ctrl_c(fake_vllm):
    with stopped_after(
        start_cli("serve", "qwen3-4b", "--backend", "vllm", "--gpu", "rtx4090", "--context", "32K", env=fake_vllm)
    ) as proc:
        ready = read_until(proc, "ready: ", timeout=60)
        assert (
            ready.startswith("ready: qwen3-4b at http://127.0.0.1:") and "(vLLM 0.10.1.1, " in ready
        )  # the version from GET /version
        assert (
            read_until(proc, "  vLLM KV cache: 88,112 tokens", timeout=10)
            .rstrip()
            .endswith("(plan: 89,959 tokens for one sequence)")
        )
        url = ready.split(" at ")[1].split(" ")[0]
        caps = probe_capabilities(url, "qwen3-4b", timeout_s=10)
        assert caps.answers and caps.models == ["qwen3-4b"]
        server = _child_running(proc.pid, "vllm")
        proc.send_signal(signal.SIGINT)
        assert read_until(proc, "stopped", timeout=60)
        proc.wait(60)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr.read()
        assert not alive(server)


def _child_running(pid, script):
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().split(b"\0")
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"PPid:\t{pid}\n" in status and any(Path(c.decode()).name == script for c in cmd[:2]):
                return int(entry.name)
    raise AssertionError(f"no child {script} of {pid}")


def test_detach_ps_stop(fake_vllm):
    args = ("serve", "qwen3-4b", "--backend", "vllm", "--gpu", "h200", "--context", "8K", "--detach", "--name", "q")
    result = run_cli(*args, env=fake_vllm, timeout=120)
    assert result.returncode == 0, result.stderr
    pid = int(result.stdout.split("detached: pid ")[1].split(";")[0])
    assert alive(pid)
    listed = run_cli("ps", env=fake_vllm)
    assert " q " in listed.stdout and str(pid) in listed.stdout and "vllm" in listed.stdout
    again = run_cli(*args, env=fake_vllm)
    assert again.returncode == 1 and f"a server named 'q' is already running (pid {pid})" in again.stderr
    wrong = run_cli("stop", "qq", env=fake_vllm)
    assert wrong.returncode == 1 and "did you mean q?" in wrong.stderr
    stopped = run_cli("stop", "q", env=fake_vllm)
    assert stopped.returncode == 0 and f"stopped q (pid {pid})" in stopped.stdout
    assert not alive(pid)
    assert "no servers running" in run_cli("ps", env=fake_vllm).stdout


def test_ps_forgets_servers_that_died(fake_vllm):
    result = run_cli(
        "serve", "qwen3-4b", "--backend", "vllm", "--gpu", "h200", "--context", "8K", "--detach", env=fake_vllm
    )
    pid = int(result.stdout.split("detached: pid ")[1].split(";")[0])
    os.kill(pid, signal.SIGKILL)
    for _ in range(50):
        if not alive(pid):
            break
        threading.Event().wait(0.1)
    assert "no servers running" in run_cli("ps", env=fake_vllm).stdout
    assert not list(Path(fake_vllm["SLMBENCH_STATE"], "servers").glob("*.json"))


def test_attach_validates_and_reports_capabilities(state):
    with ScriptedServer(models=("m1",)) as server:
        result = run_cli("serve", "--backend", "attach", "--url", server.url, env=state)
    assert result.returncode == 0, result.stderr
    assert f"attached: m1 at {server.url}" in result.stdout
    # the scripted server streams server-sent events, with usage in the last chunk
    assert "streaming     yes" in result.stdout and "usage in stream: yes" in result.stdout
    assert "/tokenize     yes" in result.stdout and "note: streaming did not work" not in result.stdout


def test_attach_to_a_url_that_is_not_openai_compatible(state, tmp_path):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
        result = run_cli("serve", "--backend", "attach", "--url", url, env=state)
    finally:
        httpd.shutdown()
    assert result.returncode == 1 and "answered HTTP 404 to GET /models" in result.stderr
    nothing = run_cli("serve", "--backend", "attach", "--url", "http://127.0.0.1:9/v1", env=state)
    assert nothing.returncode == 1 and "nothing answered" in nothing.stderr
    assert "needs --url" in run_cli("serve", "--backend", "attach", env=state).stderr


def test_probe_against_the_scripted_server():
    with ScriptedServer(lambda body: "<think>let me see</think>OK", models=("s",)) as server:
        caps = probe_capabilities(server.url, "s", timeout_s=5)
    assert caps.answers and caps.usage and caps.models == ["s"]
    assert caps.reasoning == "think-tags"
    assert (
        caps.streams and caps.tokenize and not caps.json_schema and caps.max_context is None
    )  # scripted: SSE + /tokenize
    with ScriptedServer(lambda body: '{"ok": true}', models=("s",)) as server:
        caps = probe_capabilities(server.url, "s", timeout_s=5)
    assert caps.json_schema and caps.reasoning is None


def test_bad_serve_input(state, tmp_path):
    assert "not one of: llamacpp, vllm, attach" in run_cli("serve", "--backend", "ollama", env=state).stderr
    missing = run_cli("serve", "--gguf", str(tmp_path / "x.gguf"), env=state)
    assert missing.returncode == 1 and "not found" in missing.stderr
    assert "has no local GGUF" in run_cli("serve", "mistral-7b", env=state).stderr
    assert "name the server to stop" in run_cli("stop", env=state).stderr


def test_vllm_without_a_gpu_or_gpu_flag_says_what_to_do(fake_vllm, tmp_path):
    env = {**fake_vllm, "PATH": str(tmp_path)}  # no nvidia-smi here
    result = run_cli("serve", "qwen3-4b", "--backend", "vllm", env=env)
    assert result.returncode == 1 and "no NVIDIA GPU found (nvidia-smi); pass --gpu NAME" in result.stderr
