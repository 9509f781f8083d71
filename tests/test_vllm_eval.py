"""eval starts, evaluates and stops vLLM models in turn, without a GPU: a stand-in `vllm`
(tests/fixtures/fake_vllm.py: vLLM's argument parser and recorded start-up logs, serving the
scripted endpoint) and a stand-in `nvidia-smi` (tests/fixtures/fake_nvidia_smi.py: GPUs whose
memory the stand-in servers hold and release a moment after they stop)."""

import json
import os
import sys
import time
from pathlib import Path

import pytest
from helpers import run_cli

from slmbench.config import load_config
from slmbench.progress import Quiet
from slmbench.runner import run

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent
H100 = {"name": "NVIDIA H100 80GB HBM3", "total_mib": 81559}


def _wrapper(path: Path, script: Path) -> None:
    path.write_text(f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(script)!r}, run_name='__main__')\n")
    path.chmod(0o755)


@pytest.fixture
def gpu_box(tmp_path, monkeypatch):
    """PATH with the stand-in nvidia-smi, SLMBENCH_VLLM the stand-in vllm, one H100 whose memory
    comes back 0.5 s after a server stops; set here and returned for CLI runs: (env, state dir,
    starts file)."""
    bin_dir, state = tmp_path / "bin", tmp_path / "gpu"
    bin_dir.mkdir()
    state.mkdir()
    _wrapper(bin_dir / "vllm", FIXTURES / "fake_vllm.py")
    _wrapper(bin_dir / "nvidia-smi", FIXTURES / "fake_nvidia_smi.py")
    (state / "gpus.json").write_text(json.dumps({"gpus": [H100], "release_s": 0.5}))
    starts = tmp_path / "starts.jsonl"
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "SLMBENCH_VLLM": str(bin_dir / "vllm"), "FAKE_GPU_STATE": str(state),
           "FAKE_VLLM_STARTS": str(starts), "SLMBENCH_STATE": str(tmp_path / "state"), "COLUMNS": "1000"}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield env, state, starts
    for claim in state.glob("claim-*.json"):  # a failed test must not leave a stand-in serving
        pid = json.loads(claim.read_text())["pid"]
        if pid != os.getpid():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


class Messages(Quiet):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def message(self, text: str) -> None:
        self.lines.append(text)

    def count(self, part: str) -> int:
        return sum(part in line for line in self.lines)


def evaluate(config: Path, out: Path, **settings) -> tuple[dict, Messages]:
    """`slmbench eval -c CONFIG --out OUT` in this process (the stand-ins run as processes):
    results.json and the messages eval printed."""
    conf = load_config(config)
    conf.eval = conf.eval.model_copy(update={"out": out, **settings})
    seen = Messages()
    # the run's own folder: `latest` never moves to a run whose every model failed to start
    done = run(conf, seen)
    return json.loads((done.run_dir / "results.json").read_text()), seen


def started(starts: Path) -> list[dict]:
    return [json.loads(line) for line in starts.read_text().splitlines()] if starts.exists() else []


def results(out: Path) -> dict:
    return json.loads((out / "latest" / "results.json").read_text())


def write_config(path: Path, models: str, tasks: str = '["arithmetic"]', limit: int = 10) -> Path:
    path.write_text(f"{models}\n[eval]\ntasks = {tasks}\nlimit = {limit}\nconcurrency = 4\n")
    return path


TWO = """
[[model]]
name = "qwen3-4b"
backend = "vllm"

[[model]]
name = "llama3-8b"
backend = "vllm"
hf = "meta-llama/Meta-Llama-3-8B-Instruct"
"""


def scores(data: dict) -> dict:
    return {m["name"]: m["tasks"]["arithmetic"]["metrics"]["accuracy"]["value"] for m in data["models"]}


def test_two_models_in_turn_each_scored_on_its_own_server_then_a_rerun_starts_nothing(gpu_box, tmp_path, monkeypatch):
    _, state, starts = gpu_box
    monkeypatch.setenv("FAKE_VLLM_ANSWERS", "llama3-8b=wrong")
    config, out = write_config(tmp_path / "two.toml", TWO), tmp_path / "runs"
    first, said = evaluate(config, out)
    assert first["status"] == "complete" and scores(first) == {"qwen3-4b": 1.0, "llama3-8b": 0.0}
    runs = started(starts)
    assert [r["served"] for r in runs] == ["qwen3-4b", "llama3-8b"]
    # The plan for the detected H100: each model's native context fits, on GPU 0 in PCI order.
    assert runs[0]["argv"][:4] == ["serve", "Qwen/Qwen3-4B-Instruct-2507", "--max-model-len", "262144"]
    assert runs[1]["argv"][:4] == ["serve", "meta-llama/Meta-Llama-3-8B-Instruct", "--max-model-len", "8192"]
    assert all(r["gpus"] == "0" and r["order"] == "PCI_BUS_ID" for r in runs)
    # Each stop waited for the stand-in GPU to hand the memory back (0.5 s after SIGTERM);
    # llama3-8b could not have started before (vLLM wants 0.9 of the card free).
    released = [float(line.split(" in ")[1].split(" s")[0]) for line in said.lines if "GPU memory released in" in line]
    assert len(released) == 2 and all(s >= 0.3 for s in released)
    manifest = first["manifest"]["models"]["qwen3-4b"]
    assert manifest["server"] == "vLLM 0.10.1.1" and len(manifest["identity"]["chat_template_sha256"]) == 64
    assert manifest["command"][1:5] == ["serve", "Qwen/Qwen3-4B-Instruct-2507", "--max-model-len", "262144"]
    assert all(json.loads(c.read_text())["released_at"] for c in state.glob("claim-*.json"))

    again, said = evaluate(config, out)
    assert len(started(starts)) == 2  # nothing started: every answer was stored
    assert said.count("every answer is in the store; vLLM not started") == 2
    assert {m["name"]: m["tasks"]["arithmetic"]["requests"] for m in again["models"]} == {
        "qwen3-4b": {"sent": 0, "cached": 10}, "llama3-8b": {"sent": 0, "cached": 10}}  # fmt: skip
    assert (
        scores(again) == scores(first) and again["manifest"]["models"]["qwen3-4b"]["identity"] == manifest["identity"]
    )

    more, _ = evaluate(config, out, limit=12)
    assert [r["served"] for r in started(starts)[2:]] == ["qwen3-4b", "llama3-8b"]  # new samples: started again
    assert {m["name"]: m["tasks"]["arithmetic"]["requests"]["sent"] for m in more["models"]} == {
        "qwen3-4b": 2,
        "llama3-8b": 2,
    }


def test_memory_not_released_is_reported_and_the_next_model_fails_clearly(gpu_box, tmp_path):
    _, state, starts = gpu_box
    (state / "gpus.json").write_text(json.dumps({"gpus": [H100], "release_s": 600}))
    config = write_config(
        tmp_path / "two.toml",
        TWO.replace('backend = "vllm"\n', 'backend = "vllm"\nrelease_timeout_s = 1\n', 1),
        limit=2,
    )
    data, said = evaluate(config, tmp_path / "runs")
    assert data["status"] == "partial"
    assert said.count("qwen3-4b: GPU memory still held 1 s after vLLM stopped (GPU 0: 71.7 GiB in use (was 0.0 GiB "
                      "before it started)); a leftover process may hold it (see nvidia-smi)") == 1  # fmt: skip
    failed = {m["name"]: m["error"] for m in data["models"]}
    assert failed["qwen3-4b"] is None
    assert failed["llama3-8b"].startswith(
        "llama3-8b: GPU 0 has 8.0 of 79.6 GiB free, but vLLM needs gpu_memory_utilization 0.9"
    )
    assert "set gpu_memory_utilization = 0.08 for this model" in failed["llama3-8b"]
    assert [r["served"] for r in started(starts)] == ["qwen3-4b"]  # the second was never launched


def test_replicas_one_per_gpu_are_one_model_balanced(gpu_box, tmp_path):
    _, state, starts = gpu_box
    (state / "gpus.json").write_text(json.dumps({"gpus": [H100, H100, H100], "release_s": 0.2}))
    models = '[[model]]\nname = "qwen3-4b"\nbackend = "vllm"\ngpus = [2, 0]\ncontext = 32768\nkv_dtype = "fp8"\n'
    data, said = evaluate(write_config(tmp_path / "r.toml", models, limit=40), tmp_path / "runs")
    assert data["status"] == "complete"
    runs = started(starts)
    assert [r["gpus"] for r in runs] == ["2", "0"]
    assert runs[0]["argv"][:8] == ["serve", "Qwen/Qwen3-4B-Instruct-2507", "--max-model-len", "32768",
                                   "--gpu-memory-utilization", "0.9", "--kv-cache-dtype", "fp8"]  # fmt: skip
    model = data["models"][0]
    assert (
        len(model["endpoint"]["replicas"]) == 2 and model["tasks"]["arithmetic"]["metrics"]["accuracy"]["value"] == 1.0
    )
    assert sorted(p.name for p in (tmp_path / "runs" / "latest" / "logs").iterdir()) == [
        "qwen3-4b.vllm.0.log",
        "qwen3-4b.vllm.1.log",
    ]
    assert said.count("vLLM ready on GPU 2 in") == 1 and said.count("vLLM ready on GPU 0 in") == 1
    # what vLLM logged it allocated, beside the plan (the stand-in prints the recorded log's figures)
    assert (
        said.count(
            "vLLM KV cache: 88,112 tokens, 1.34x concurrency at 65,536 tokens (plan: 262,144 tokens for one sequence)"
        )
        == 2
    )
    assert said.count("GPU memory released in") == 1


def test_tp_and_dp_become_vllm_flags_and_gpus_per_server(gpu_box, tmp_path):
    _, state, starts = gpu_box
    (state / "gpus.json").write_text(json.dumps({"gpus": [H100] * 4, "release_s": 0.0}))
    models = ('[[model]]\nname = "llama3-8b"\nbackend = "vllm"\ntp = 2\ndp = 2\ncontext = 8192\n'
              'extra_args = ["--enforce-eager"]\n')  # fmt: skip
    data, _ = evaluate(write_config(tmp_path / "tp.toml", models, limit=4), tmp_path / "runs")
    assert data["status"] == "complete"
    (one,) = started(starts)
    argv = one["argv"]
    assert argv[argv.index("--tensor-parallel-size") + 1] == "2" and argv[argv.index("--data-parallel-size") + 1] == "2"
    assert argv[-1] == "--enforce-eager" and one["gpus"] == "0,1,2,3"


def test_ray_backend_is_passed_and_more_gpus_than_here_need_it(gpu_box, tmp_path):
    _, _, starts = gpu_box
    models = '[[model]]\nname = "qwen3-4b"\nbackend = "vllm"\ntp = 2\ncontext = 8192\n'
    local, _ = evaluate(write_config(tmp_path / "one.toml", models, limit=2), tmp_path / "a")
    error = local["models"][0]["error"]
    assert local["status"] == "partial" and "tp x dp = 2 GPUs, but 1 visible here" in error
    assert "distributed_executor_backend = 'ray'" in error and not started(starts)
    ray, _ = evaluate(
        write_config(tmp_path / "ray.toml", models + 'distributed_executor_backend = "ray"\n', limit=2), tmp_path / "b"
    )
    assert ray["status"] == "complete"
    (one,) = started(starts)
    assert one["argv"][one["argv"].index("--distributed-executor-backend") + 1] == "ray"
    assert one["gpus"] is None  # Ray places the workers; the head node's memory is still watched


def test_a_start_that_fails_is_diagnosed_and_the_next_model_runs(gpu_box, tmp_path, monkeypatch):
    _, _, starts = gpu_box
    monkeypatch.setenv("FAKE_VLLM_FAIL", "qwen3-4b=kv_cache_too_small")
    data, said = evaluate(write_config(tmp_path / "two.toml", TWO, limit=2), tmp_path / "runs")
    assert data["status"] == "partial"
    error = data["models"][0]["error"]
    assert error.startswith("vLLM could not start: the KV cache for one 262,144-token sequence needs 36.00 GiB")
    assert "pass --context 88064" in error and "qwen3-4b.vllm.log" in error
    assert data["models"][1]["tasks"]["arithmetic"]["metrics"]["accuracy"]["value"] == 1.0
    assert [r["served"] for r in started(starts)] == ["qwen3-4b", "llama3-8b"]
    assert said.count("GPU memory released in") == 2  # the failed start held nothing, llama3-8b released


def test_vllm_flag_and_bad_vllm_config_fail_before_anything_starts(gpu_box, tmp_path, monkeypatch):
    env, _, starts = gpu_box
    ok = run_cli("eval", "--vllm", "Qwen/Qwen3-4B-Instruct-2507", "--task", "arithmetic", "--limit", "3", "--out",
                 str(tmp_path / "runs"), env=env, timeout=300)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert results(tmp_path / "runs")["models"][0]["name"] == "qwen3-4b"
    for args, message in [
        (("--vllm", "qwen9-1b"), "error: unknown model 'qwen9-1b'; did you mean qwen3-4b?"),
        (("-c", str(write_config(tmp_path / "r.toml", '[[model]]\nname = "q"\nbackend = "vllm"\nhf = "qwen3-4b"\nreplicas = ["http://h:1/v1"]'))),
         "error: config file"),
    ]:  # fmt: skip
        result = run_cli("eval", *args, "--task", "arithmetic", "--out", str(tmp_path / "runs"), env=env)
        assert result.returncode == 1 and result.stderr.count("\n") == 1 and result.stderr.startswith(message), (
            result.stderr
        )
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = run_cli("eval", "--vllm", "qwen3-4b", "--task", "arithmetic", "--out", str(tmp_path / "runs"),
                      env={**env, "SLMBENCH_VLLM": "", "PATH": str(empty)})  # fmt: skip
    assert missing.returncode == 1 and "vLLM is not installed" in missing.stderr
    assert len(started(starts)) == 1

    from slmbench.config import load_config
    from slmbench.errors import SlmbenchError
    from slmbench.serving import preflight

    monkeypatch.setenv("SLMBENCH_VLLM", env["SLMBENCH_VLLM"])
    bad = {
        'replicas = ["http://127.0.0.1:8001/v1"]': "a vllm model's replicas is a number of servers",
        "replicas = 0": "a vllm model's replicas is a number of servers",
        "tp = 2\ngpus = [0, 1, 2]": "a multiple of tp x dp = 2 of them",
        "gpus = [1, 1]": "distinct GPU indices",
        "replicas = 3\ngpus = [0, 1]": "replicas = 3 x tp x dp = 3 GPUs, but gpus lists 2",
        'kv_dtype = "q4_0"': "model qwen3-4b: --kv-dtype q4_0 is not a vllm KV cache type",
        "context = 300000": "model qwen3-4b: --context 300,000 is beyond qwen3-4b's native context of 262,144 tokens",
        "tp = 3": "--tp 3 does not divide qwen3-4b's 32 attention heads",
        'gguf = "x.gguf"': "gguf is for backend = 'llamacpp'",
        'url = "http://h:1/v1"': "url is for backend = 'attach'",
    }
    for line, message in bad.items():
        config = write_config(tmp_path / "bad.toml", f'[[model]]\nname = "qwen3-4b"\nbackend = "vllm"\n{line}\n')
        with pytest.raises(SlmbenchError, match=None) as caught:
            preflight(load_config(config).models[0])
        assert message in str(caught.value), (line, str(caught.value))


def test_detect_gpu_and_the_plan_come_from_nvidia_smi(gpu_box, tmp_path):
    env, state, _ = gpu_box
    dry = run_cli("serve", "qwen3-4b", "--backend", "vllm", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "vllm serve Qwen/Qwen3-4B-Instruct-2507 --max-model-len 262144" in dry.stdout
    (state / "gpus.json").write_text(json.dumps({"gpus": [{"name": "NVIDIA GeForce RTX 4090", "total_mib": 24564}]}))
    dry = run_cli("serve", "qwen3-4b", "--backend", "vllm", "--dry-run", env=env)
    assert (
        "native 262,144 tokens do not fit NVIDIA GeForce RTX 4090 (24 GiB); --max-model-len 89088 (plan)" in dry.stdout
    )

    code = ("from slmbench.serving.vllm import detect_gpu; d, n = detect_gpu(); "
            "print(d.name, d.memory, float(d.bandwidth_gbs), n)")  # fmt: skip
    import subprocess

    (state / "gpus.json").write_text(json.dumps({"gpus": [{"name": "NVIDIA A100-SXM4-80GB", "total_mib": 81920}] * 2}))
    shown = subprocess.run(
        [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    assert shown.stdout.split() == ["NVIDIA", "A100-SXM4-80GB", "(80", "GiB)", str(81920 * 1024**2), "2039.0", "2"]
    visible = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env, "CUDA_VISIBLE_DEVICES": "1"},
                             capture_output=True, text=True, check=True)  # fmt: skip
    assert visible.stdout.split()[-1] == "1"


def test_the_example_config_end_to_end_with_a_failing_start_then_a_resume(gpu_box, tmp_path):
    """examples/reference-comparison.toml: four models in turn, one fails to start (CUDA out of
    memory), the others are evaluated; the re-run starts only that one."""
    env, _, starts = gpu_box
    out = tmp_path / "runs"
    args = ("eval", "-c", str(ROOT / "examples" / "reference-comparison.toml"), "--limit", "1", "--out", str(out),
            "--data", f"multilingual={FIXTURES / 'flores200'}",)  # fmt: skip
    t0 = time.monotonic()
    first = run_cli(*args, env={**env, "FAKE_VLLM_FAIL": "mistral-7b=cuda_oom"}, timeout=600)
    assert first.returncode == 1 and "Traceback" not in first.stderr, first.stderr
    data = results(out)
    assert data["status"] == "partial"
    errors = {m["name"]: m["error"] for m in data["models"]}
    assert list(errors) == ["qwen3-4b", "llama3-8b", "mistral-7b", "phi3-mini"]
    assert errors["mistral-7b"].startswith("vLLM could not start: CUDA ran out of memory while loading the model")
    assert [e for n, e in errors.items() if n != "mistral-7b"] == [None, None, None]
    tasks = {"instruction", "reasoning", "understanding", "coding", "multilingual", "longcontext-32k", "structured"}
    assert all(set(m["tasks"]) == tasks for m in data["models"] if m["name"] != "mistral-7b")
    assert [r["served"] for r in started(starts)] == ["qwen3-4b", "llama3-8b", "mistral-7b", "phi3-mini"]
    report = (out / "latest" / "report.html").read_text()
    assert f"report: {out / data['run_id'] / 'report.html'}" in first.stdout
    assert all(name in report for name in errors)

    second = run_cli(*args, env=env, timeout=600)
    assert second.returncode == 0, second.stderr
    assert results(out)["status"] == "complete"
    assert [r["served"] for r in started(starts)[4:]] == ["mistral-7b"]
    assert second.stderr.count("every answer is in the store; vLLM not started") == 3
    print(f"example sequence, two runs: {time.monotonic() - t0:.1f} s")


def test_another_vllm_executable_is_started_to_read_its_identity(gpu_box, tmp_path):
    """The launch record is keyed by the vLLM executable too: after an upgrade the server starts
    to tell its version and template; unchanged, the stored answers still count."""
    env, _, starts = gpu_box
    config, out = (
        write_config(tmp_path / "one.toml", '[[model]]\nname = "qwen3-4b"\nbackend = "vllm"\n', limit=3),
        tmp_path / "runs",
    )
    evaluate(config, out)
    evaluate(config, out)
    assert len(started(starts)) == 1
    exe = Path(env["SLMBENCH_VLLM"])
    exe.write_text(exe.read_text() + "# upgraded\n")
    data, said = evaluate(config, out)
    assert len(started(starts)) == 2 and said.count("vLLM not started") == 0
    assert data["models"][0]["tasks"]["arithmetic"]["requests"] == {"sent": 0, "cached": 3}
