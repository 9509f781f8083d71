"""The CLI as a new user meets it: help that shows values only where a flag takes one, --version,
one name and one default per flag across commands, perf over several models, plan that picks a
context that fits, tasks with their aliases, a README whose tables render."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import run_cli

from slmbench import __version__
from slmbench.testing.scripted import ScriptedServer

COMMANDS = ["eval", "perf", "chat", "serve", "plan", "report", "tasks", "setup", "ps", "stop",
            "longdoc summarize", "longdoc ask", "longdoc compare"]  # fmt: skip


def help_text(command: str) -> str:
    result = run_cli(*command.split(), "--help", env={"COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    return {c: help_text(c) for c in COMMANDS}


def test_help_shows_no_value_for_flags_and_no_python_list_types(helps):
    for command, text in helps.items():
        assert "<bool>" not in text and "<list[" not in text, command
    assert re.search(r"--quiet\s+-q\s+No progress bar", helps["eval"])  # a flag: no <type> column
    assert re.search(r"--task\s+-t\s+<str>", helps["eval"])  # repeatable: one value each time


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"slmbench {__version__}"


def test_one_name_and_one_default_for_context_and_parallel(helps):
    for command in ("eval", "chat", "serve", "longdoc summarize", "longdoc ask"):
        assert "--context" in helps[command], command
    for command, text in helps.items():
        assert "--ctx-per-slot" not in text, command  # the old name is a hidden alias
        for line in text.splitlines():
            if "--parallel" in line:
                defaults = re.findall(r"default:? (\d+)", line)
                assert defaults and set(defaults) == {"4"}, (command, line)


def test_the_old_context_name_still_works_and_both_are_checked(tmp_path):
    for flag in ("--context", "--ctx-per-slot"):
        result = run_cli("eval", flag, "100", "--out", str(tmp_path))
        assert (
            result.returncode == 1
            and result.stderr.strip()
            == "error: --context must be at least 256 tokens (got 100); pass e.g. --context 4096"
        )


def test_the_old_context_name_wins_over_a_default_context():
    """longdoc and chat give --context a default; a typed --ctx-per-slot must still count."""
    from slmbench.resolve import parse_context as _context

    assert _context("4096", "1024") == 1024 and _context("4096", None) == 4096 and _context(None, None, 512) == 512


def test_plan_without_context_picks_the_largest_that_fits_like_serve():
    result = run_cli("plan", "qwen3-4b", "--gpu", "rtx4090")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert (
        first
        == "qwen3-4b's native 262,144 tokens do not fit RTX 4090 24 GB; planning for 89,088, the largest that fits (pass --context to choose)"
    )
    assert (
        "--max-model-len 89088" in result.stdout
        and "verdict   fits" in result.stdout.lower()
        or "FITS" in result.stdout
    )
    explicit = run_cli("plan", "qwen3-4b", "--gpu", "rtx4090", "--context", "256K")
    assert explicit.returncode == 1 and "does not fit" in explicit.stderr  # asked for: refused, not changed


def test_tasks_lists_the_aliases():
    result = run_cli("tasks", env={"COLUMNS": "200"})
    row = next(line for line in result.stdout.splitlines() if re.search(r"\blongcontext\s", line))
    assert "longctx" in row


def test_perf_takes_several_models_one_run_each(tmp_path):
    out = tmp_path / "runs"
    with (
        ScriptedServer(lambda b: "one two three", models=("a",)) as a,
        ScriptedServer(lambda b: "one two", models=("b",)) as b,
    ):
        result = run_cli("perf", "-m", f"a={a.url}", "-m", f"b={b.url}", "--concurrency", "1", "--requests", "3",
                         "--input-len", "16", "--output-len", "4", "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    runs = [json.loads(p.read_text()) for p in out.glob("*/perf.json") if p.parent.name != "latest"]
    assert sorted(r["manifest"]["model"]["model"] for r in runs) == ["a", "b"]
    assert all(r["points"][0]["pooled"]["requests"]["completed"] == 3 for r in runs)


def test_readme_task_table_is_one_table_and_make_bench_is_listed_once():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    start = readme.index("| task | what it measures | headline |")
    table = readme[start:].split("\n\n", 1)[0].splitlines()
    assert any(line.startswith("| `longcontext`") for line in table)  # no blank line cuts it short
    assert readme.count("- `make bench`") == 1
