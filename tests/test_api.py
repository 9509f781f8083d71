"""The Python API is the CLI's twin: `slmbench.evaluate(...)` and `slmbench.perf(...)` with the
settings of a CLI run write the same files with the same numbers; bad values are the CLI's one
line, raised before anything starts. Against scripted endpoints on loopback (the harness's logic)."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest
from helpers import gold_arithmetic, run_cli, wrong_arithmetic

import slmbench
from slmbench.errors import SlmbenchError
from slmbench.testing.scripted import ScriptedServer


def sometimes_right(body):
    """Right on about two prompts in three, decided by the prompt alone (both runs see the same)."""
    prompt = body["messages"][-1]["content"]
    return gold_arithmetic(body) if zlib.crc32(prompt.encode()) % 3 else wrong_arithmetic(body)


def files(run_dir: Path) -> set[str]:
    return {str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file()}


def scores(results: dict) -> dict:
    return {(m["name"], t): (r["metrics"], r["counts"]) for m in results["models"] for t, r in m["tasks"].items()}


def test_evaluate_writes_what_eval_writes_with_the_same_scores(tmp_path):
    with ScriptedServer(sometimes_right, models=("a",)) as a, ScriptedServer(gold_arithmetic, models=("b",)) as b:
        cli = run_cli("eval", "-m", f"a={a.url}", "-m", f"b={b.url}", "-t", "arithmetic", "--limit", "12", "--seed", "3",
                      "--concurrency", "2", "--max-tokens", "48", "--timeout", "30", "--retries", "1", "--top-p", "0.9",
                      "--out", str(tmp_path / "cli"), "-q")  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        api = slmbench.evaluate([f"a={a.url}", f"b={b.url}"], ["arithmetic"], limit=12, seed=3, concurrency=2,
                                max_tokens=48, timeout_s=30, retries=1, top_p=0.9, out=tmp_path / "api")  # fmt: skip
    cli_dir = (tmp_path / "cli" / "latest").resolve()
    assert f"report: {cli_dir / 'report.html'}" in cli.stdout
    assert files(api.run_dir) == files(cli_dir) == {"results.json", "results.md", "report.html"}
    ours, theirs = (json.loads((d / "results.json").read_text()) for d in (api.run_dir, cli_dir))
    assert scores(ours) == scores(theirs)
    a_score = api.score("a", "arithmetic")
    assert a_score.n == 12 and 0 < a_score.value < 1  # both answers kinds were scored
    assert api.score("b", "arithmetic").value == 1.0
    for key in ("sampling", "client", "tasks", "seed"):
        assert ours["manifest"][key] == theirs["manifest"][key], key
    assert ours["manifest"]["client"] == {"concurrency": 2, "timeout_s": 30.0, "retries": 1}


def test_evaluate_takes_a_config_and_the_arguments_win(tmp_path, oracle):
    conf = tmp_path / "slmbench.toml"
    conf.write_text(f'[[model]]\nname = "scripted"\nbackend = "attach"\nurl = "{oracle.url}"\n\n'
                    f'[eval]\ntasks = ["arithmetic"]\nlimit = 6\nseed = 5\nout = "{tmp_path / "runs"}"\n')  # fmt: skip
    results = slmbench.evaluate(config=conf, limit=4, report=False)
    manifest = json.loads((results.run_dir / "results.json").read_text())["manifest"]
    assert (
        manifest["tasks"]["arithmetic"]["samples"] == 4 and manifest["seed"] == 5
    )  # the argument wins, the file fills in
    assert files(results.run_dir) == {"results.json", "results.md"}  # report=False: no report


def test_a_bad_setting_is_the_cli_line_before_anything_starts(tmp_path, oracle):
    cases = [
        (lambda: slmbench.evaluate([f"s={oracle.url}"], ["arithmetic"], timeout_s=0, out=tmp_path), "--timeout:"),
        (lambda: slmbench.evaluate(["just-a-name"], out=tmp_path), "NAME=URL"),
        (lambda: slmbench.evaluate([f"s={oracle.url}"], context="100", out=tmp_path), "--context must be at least 256"),
        (lambda: slmbench.perf([f"s={oracle.url}"], concurrency=[0], out=tmp_path), "--concurrency must be at least 1 (got 0)"),
        (lambda: slmbench.perf([f"s={oracle.url}"], rates=[-1], out=tmp_path), "--rate must be above 0"),
        (lambda: slmbench.perf([f"s={oracle.url}"], gguf=["x.gguf"], out=tmp_path), "--model or --gguf, not both"),
        (lambda: slmbench.perf([f"s={oracle.url}"], prompts_file="p.jsonl", task="arithmetic", out=tmp_path),
         "pass --prompts or --task, not both"),
    ]  # fmt: skip
    for call, words in cases:
        with pytest.raises(SlmbenchError) as err:
            call()
        assert words in str(err.value) and "\n" not in str(err.value)
    assert oracle.chat_requests == 0 and not any(tmp_path.iterdir())


def test_perf_writes_what_the_perf_command_writes(tmp_path):
    args = {"concurrency": [2], "requests": 4, "input_lens": [16], "output_len": 4, "seed": 1}
    with ScriptedServer(lambda body: "one two three four", models=("a",)) as a:
        cli = run_cli("perf", "-m", f"a={a.url}", "--concurrency", "2", "--requests", "4", "--input-len", "16",
                      "--output-len", "4", "--seed", "1", "--out", str(tmp_path / "cli"))  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        seen = []
        runs = slmbench.perf([f"a={a.url}"], **args, out=tmp_path / "api", say=lambda line: None, on_result=seen.append)
        again = slmbench.perf(
            [f"a={a.url}"], **args, out=tmp_path / "api", compare=runs[0].run_dir, say=lambda line: None
        )
    assert seen == runs and len(runs) == 1 and runs[0].status == "complete"
    cli_dir = (tmp_path / "cli" / "latest").resolve()
    assert files(runs[0].run_dir) == files(cli_dir) == {"perf.json", "perf.md"}
    ours, theirs = (json.loads((d / "perf.json").read_text()) for d in (runs[0].run_dir, cli_dir))
    assert ours["manifest"]["settings"] == theirs["manifest"]["settings"]
    assert [(p["key"], p["pooled"]["requests"]["completed"], p["pooled"]["output_tokens"]) for p in ours["points"]] == \
        [(p["key"], p["pooled"]["requests"]["completed"], p["pooled"]["output_tokens"]) for p in theirs["points"]] == \
        [("c=2 in=16", 4, 16)]  # fmt: skip
    assert runs[0].comparison is None
    assert {r["point"] for r in again[0].comparison} == {"c=2 in=16"}  # --compare: the last run against the folder


def test_slmbench_perf_is_callable_after_its_package_is_imported():
    import slmbench.perf.run  # Python sets slmbench.perf to the subpackage on this import

    assert callable(slmbench.perf) and slmbench.perf.PerfSettings is slmbench.perf.run.PerfSettings


def test_the_commands_default_slots_are_the_librarys():
    from slmbench import cli_support, config

    assert (
        cli_support.PARALLEL
        == config.PARALLEL
        == config.ModelSpec(name="m", backend="attach", url="http://x/v1").parallel
    )
