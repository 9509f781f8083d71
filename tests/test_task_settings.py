"""Per-task sample counts and answer caps: `--limit TASK=N`, `--max-tokens TASK=N`."""

import json
from collections import Counter

import pytest
from helpers import gold_arithmetic, run_cli

from slmbench.config import EvalSettings, parse_per_task_flag
from slmbench.errors import SlmbenchError
from slmbench.testing.scripted import ScriptedServer


def test_per_task_values_override_the_common_one_and_the_task_default(tmp_path):
    caps: Counter[tuple[str, int]] = Counter()

    def answer(body):
        prompt = body["messages"][-1]["content"]
        task = "arithmetic" if "Expression: " in prompt else "other"
        caps[task, body["max_tokens"]] += 1
        return gold_arithmetic(body) if task == "arithmetic" else "Answer: 1"

    with ScriptedServer(answer) as server:
        result = run_cli("eval", "-m", f"scripted={server.url}", "--task", "arithmetic", "--task", "reasoning",
                         "--limit", "3", "--limit", "arithmetic=5", "--max-tokens", "40", "--max-tokens", "arithmetic=20",
                         "--out", str(tmp_path), "-q", timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "latest" / "results.json").read_text())
    tasks = data["models"][0]["tasks"]
    assert sum(tasks["arithmetic"]["counts"].values()) == 5 and sum(tasks["reasoning"]["counts"].values()) == 3
    assert tasks["arithmetic"]["metrics"]["accuracy"]["value"] == 1.0
    assert caps == {("arithmetic", 20): 5, ("other", 40): 3}
    manifest = data["manifest"]["tasks"]
    assert manifest["arithmetic"]["max_tokens"] == 20 and manifest["reasoning"]["max_tokens"] == 40


def test_limit_for_and_max_tokens_for_fall_back_in_order():
    class Task:
        name, default_limit, max_tokens = "coding", 211, 768

    assert EvalSettings().limit_for(Task) == 211 and EvalSettings().max_tokens_for(Task) == 768
    assert EvalSettings(limit=9, max_tokens=99).limit_for(Task) == 9
    settings = EvalSettings(limit=9, max_tokens=99, task_limits={"coding": 4}, task_max_tokens={"coding": 256})
    assert settings.limit_for(Task) == 4 and settings.max_tokens_for(Task) == 256
    # aliases name the task they stand for
    assert EvalSettings(task_limits={"longctx": 6}).task_limits == {"longcontext": 6}


@pytest.mark.parametrize(
    ("values", "expected"),
    [(["20"], (20, {})), (["20", "coding=8"], (20, {"coding": 8})), (["longctx=6"], (None, {"longcontext": 6}))],
)
def test_parse_per_task_flag(values, expected):
    assert parse_per_task_flag("--limit", values) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limit", "abc"], "--limit 'abc' is not N or TASK=N; write it like --limit 20 or --limit coding=8"),
        (["--limit", "=3"], "--limit '=3' names no task"),
        (["--max-tokens", "coding=x"], "--max-tokens 'coding=x' is not N or TASK=N"),
        (
            ["--task", "arithmetic", "--limit", "coding=3"],
            "--limit coding=3: task 'coding' is not selected; add --task coding",
        ),
        (["--task", "arithmetic", "--max-tokens", "arithmetic=0"], "--max-tokens arithmetic=0 must be at least 1"),
    ],
)
def test_bad_per_task_values_are_one_line(tmp_path, args, message):
    with ScriptedServer() as server:
        result = run_cli("eval", "-m", f"scripted={server.url}", *args, "--out", str(tmp_path), timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and message in result.stderr, (
        result.stderr
    )
    with pytest.raises(SlmbenchError):
        parse_per_task_flag("--limit", ["x=y"])
