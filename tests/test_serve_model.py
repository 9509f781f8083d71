"""`slmbench serve` with the real llama.cpp on the embedded model: start, ready, Ctrl-C, no
orphans, port in use, detach/ps/stop; attach and the capability probe against it."""

import signal
import socket
import time

import pytest
from helpers import alive, children_named, read_until, run_cli, start_cli, stop_detached, stopped_after

from slmbench.serving.build import find_llama_server
from slmbench.serving.http import post_json
from slmbench.serving.llamacpp import LlamaCppServer
from slmbench.serving.models import embedded_gguf, gguf_sha256
from slmbench.serving.probe import probe_capabilities

pytestmark = pytest.mark.model

SMALL = ["gemma-3-270m", "--parallel", "2", "--context", "1024"]


@pytest.fixture
def state(tmp_path):
    yield {"SLMBENCH_STATE": str(tmp_path / "state")}
    stop_detached(tmp_path / "state")


@pytest.fixture(scope="module")
def embedded_server(tmp_path_factory):
    gguf = embedded_gguf("gemma-3-270m")
    server = LlamaCppServer(name="gemma", binary=find_llama_server(), gguf=gguf, gguf_sha256=gguf_sha256(gguf),
                            log_path=tmp_path_factory.mktemp("logs") / "s.log", parallel=2, ctx_per_slot=1024,
                            chat_template="gemma")  # fmt: skip
    with server as endpoint:
        yield endpoint


def test_serve_foreground_ready_answers_then_ctrl_c_leaves_no_orphan(state):
    started = time.monotonic()
    with stopped_after(start_cli("serve", *SMALL, env=state)) as proc:
        ready = read_until(proc, "ready: ")
        took = time.monotonic() - started
        assert ready.startswith("ready: gemma-3-270m at http://127.0.0.1:") and "(llama.cpp " in ready
        url = ready.split(" at ")[1].split(" ")[0]
        servers = children_named(proc.pid, "llama-server")
        assert len(servers) == 1
        status, reply = post_json(
            f"{url}/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}, timeout_s=120
        )
        assert status == 200 and reply["usage"]["completion_tokens"] >= 1
        print(f"serve: ready line after {took:.1f} s")
        proc.send_signal(signal.SIGINT)
        assert read_until(proc, "stopped", timeout=60)
        proc.wait(60)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr.read()
        assert not alive(servers[0])


def test_serve_on_a_port_in_use_is_one_line(state):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", *SMALL, "--port", str(port), env=state)
    assert (
        result.returncode == 1
        and result.stderr
        == f"error: port {port} on 127.0.0.1 is in use by another process; pass another --port or omit --port\n"
    )


def test_detach_ps_stop_with_llama_cpp(state):
    result = run_cli("serve", *SMALL, "--detach", env=state)
    assert result.returncode == 0, result.stderr
    pid = int(result.stdout.split("detached: pid ")[1].split(";")[0])
    assert alive(pid)  # outlived the slmbench that started it
    url = result.stdout.split(" at ")[1].split(" ")[0]
    assert (
        post_json(
            f"{url}/chat/completions", {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2}, timeout_s=120
        )[0]
        == 200
    )
    listed = run_cli("ps", env=state).stdout
    assert "gemma-3-270m" in listed and str(pid) in listed and "llamacpp" in listed
    stopped = run_cli("stop", "--all", env=state)
    assert f"stopped gemma-3-270m (pid {pid})" in stopped.stdout
    assert not alive(pid) and "no servers running" in run_cli("ps", env=state).stdout


def test_attach_to_the_embedded_server(embedded_server, state):
    result = run_cli("serve", "--backend", "attach", "--url", embedded_server.base_url, env=state)
    assert result.returncode == 0, result.stderr
    assert f"attached: gemma at {embedded_server.base_url}" in result.stdout
    assert "streaming     yes (usage in stream: yes)" in result.stdout
    assert "max context   1,024 tokens" in result.stdout
    wrong = run_cli("serve", "--backend", "attach", "--url", embedded_server.base_url, "--name", "qwen", env=state)
    assert wrong.returncode == 1 and "model 'qwen' is not served" in wrong.stderr and "it serves: gemma" in wrong.stderr


def test_probe_the_embedded_server(embedded_server):
    caps = probe_capabilities(embedded_server.base_url, "gemma", timeout_s=120)
    assert caps.models == ["gemma"] and caps.answers and caps.usage
    assert caps.streams and caps.stream_usage
    assert caps.json_schema  # llama.cpp turns the schema into a grammar
    assert caps.tokenize and caps.max_context == 1024
    assert caps.reasoning is None
