"""A task is one file: written outside the package, loaded through SLMBENCH_TASK_MODULES, it
shows in `slmbench tasks`, runs in an eval, renders its own extra in results.md and the CLI's
print, and fills its own report column; no file of slmbench is touched."""

from __future__ import annotations

import json
import pkgutil
import sys
import textwrap

from helpers import run_cli

from slmbench.testing.scripted import ScriptedServer

CAPITALS = {
    "France": "Paris",
    "Kenya": "Nairobi",
    "Peru": "Lima",
    "Japan": "Tokyo",
    "Canada": "Ottawa",
    "Egypt": "Cairo",
}

TASK_FILE = textwrap.dedent("""
    from slmbench.tasks import Column, Dimension, Task, register
    from slmbench.tasks.base import OK, WRONG, Sample, Verdict

    CAPITALS = {capitals!r}
    COLUMN = Dimension("capitals", "Capital cities", "Capitals", position=90)


    @register
    class Capitals(Task):
        name = "capitals"
        aliases = ("caps",)
        suites = ("geography",)
        description = "the capital of a country, exact match"
        default_limit = len(CAPITALS)
        max_tokens = 16
        columns = (Column(COLUMN, "accuracy"),)
        results_note = "`capitals` compares names case-insensitively."

        def samples(self, limit, seed, data=None):
            return [Sample(id=country, messages=[{{"role": "user", "content": f"Capital of: {{country}}"}}], target=city)
                    for country, city in list(CAPITALS.items())[:limit]]

        def score(self, sample, completion):
            said = (completion.text or "").strip()
            right = said.lower() == sample.target.lower()
            return Verdict(OK if right else WRONG, float(right), f"said {{said!r}}")

        def summary(self, records):
            return {{"longest_answer": max(len(r.answer or "") for r in records)}}

        def n_note(self, extra):
            return f" (longest {{extra['longest_answer']}} chars)"

        def extra_markdown(self, model, extra):
            return ["", f"## {{model}} / capitals: the longest answer has {{extra['longest_answer']}} characters"]

        def extra_lines(self, extra):
            return [f"longest answer {{extra['longest_answer']}} characters"]
""").format(capitals=CAPITALS)


def gold(body):
    return CAPITALS[body["messages"][-1]["content"].removeprefix("Capital of: ")]


def wrong(body):
    return "Atlantis"


def test_a_task_in_its_own_file_is_listed_run_rendered_and_reported(tmp_path):
    module = tmp_path / "capitals_task.py"
    module.write_text(TASK_FILE)
    env = {"SLMBENCH_TASK_MODULES": str(module), "COLUMNS": "200"}

    listed = run_cli("tasks", env=env)
    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if " capitals " in line)
    assert "caps" in row and "the capital of a country, exact match" in row and " 6 " in row and " 16 " in row
    assert " capitals " not in run_cli("tasks", env={"COLUMNS": "200"}).stdout  # the file, nothing else, adds it

    out = tmp_path / "runs"
    with ScriptedServer(gold, models=("gold",)) as right, ScriptedServer(wrong, models=("wrong",)) as bad:
        result = run_cli("eval", "-m", f"gold={right.url}", "-m", f"wrong={bad.url}", "--task", "caps", "--out", str(out),
                         env=env, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads((out / "latest" / "results.json").read_text())
    tasks = {m["name"]: m["tasks"] for m in data["models"]}
    assert list(tasks["gold"]) == ["capitals"]  # the alias named the task
    gold_acc, wrong_acc = (tasks[m]["capitals"]["metrics"]["accuracy"] for m in ("gold", "wrong"))
    assert (gold_acc["value"], gold_acc["n"]) == (1.0, 6) and tasks["gold"]["capitals"]["counts"]["ok"] == 6
    assert (wrong_acc["value"], wrong_acc["n"]) == (0.0, 6) and tasks["wrong"]["capitals"]["counts"]["wrong"] == 6
    assert tasks["gold"]["capitals"]["extra"] == {"longest_answer": len("Nairobi")}
    assert tasks["wrong"]["capitals"]["extra"] == {"longest_answer": len("Atlantis")}

    # results.md: Wilson 95% intervals of 6/6 and 0/6, the task's n note, its note and its section
    md = (out / "latest" / "results.md").read_text()
    assert "| gold | capitals | accuracy | 100.0 [61.0, 100.0] | 6 (longest 7 chars) | 6 | 0 |" in md
    assert "| wrong | capitals | accuracy | 0.0 [0.0, 39.0] | 6 (longest 8 chars) | 0 | 6 |" in md
    assert md.count("`capitals` compares names case-insensitively.") == 1
    assert "## gold / capitals: the longest answer has 7 characters" in md
    # the CLI's end-of-run print
    assert "gold / capitals: longest answer 7 characters" in result.stdout
    assert "wrong / capitals: longest answer 8 characters" in result.stdout

    # the report: its own column, with the paired test (McNemar exact, 6 discordant pairs: p = 2 / 2**6)
    report = run_cli("report", str(out / "latest"), "--out", str(tmp_path / "report"), env=env)
    assert report.returncode == 0, report.stderr
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| model | Capital cities |" in text
    assert "| gold | 100.0▲ [61.0, 100.0] n=6 |" in text and "| wrong | 0.0 [0.0, 39.0] n=6 |" in text
    assert (
        "| gold − wrong (paired) | +100.0 [+100.0, +100.0] p=0.031 significant (accuracy, McNemar exact, n=6) |" in text
    )
    dims = json.loads((tmp_path / "report" / "report.json").read_text())["dimensions"]
    assert {"key": "capitals", "label": "Capital cities", "unit": "%"} in dims
    assert "Capital cities" in (tmp_path / "report" / "report.html").read_text()


def test_task_modules_that_cannot_load_are_one_line_errors(tmp_path):
    clash = tmp_path / "clash.py"
    clash.write_text(TASK_FILE.replace('name = "capitals"', 'name = "arithmetic"'))
    broken = tmp_path / "broken.py"
    broken.write_text("from slmbench.tasks import Task\nclass Half(Task:\n")
    not_a_task = tmp_path / "plain.py"
    not_a_task.write_text("from slmbench.tasks import register\nregister(dict)\n")
    cases = [
        (tmp_path / "missing.py", "missing.py is not a .py file; fix SLMBENCH_TASK_MODULES"),
        (broken, "broken.py failed to load (SyntaxError"),
        (
            clash,
            "clash.py: task name 'arithmetic' is taken by slmbench.tasks.arithmetic (task arithmetic); rename the task",
        ),
        (not_a_task, "register() got dict, not a Task; subclass slmbench.tasks.Task"),
    ]
    for path, message in cases:
        result = run_cli("tasks", env={"SLMBENCH_TASK_MODULES": str(path)})
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
        assert message in result.stderr, result.stderr


def test_every_module_of_the_package_is_imported_and_each_run_gets_fresh_tasks():
    from slmbench import tasks
    from slmbench.tasks import TASKS, registry

    names = registry.names()
    for info in pkgutil.iter_modules(tasks.__path__):
        assert f"slmbench.tasks.{info.name}" in sys.modules, info.name
    # each built-in task comes from the module that registered it
    assert registry.entries()["mbpp"].module == "slmbench.tasks.coding"
    assert registry.entries()["longcontext-32k"].module == "slmbench.tasks.longcontext"
    assert len(names) >= 17 and registry.suite() == ["arithmetic", "instruction", "reasoning", "structured",
                                                      "understanding", "multilingual", "coding", "longcontext"]  # fmt: skip
    # a task is made anew: what one run sets on it (understanding sizes its context from its
    # samples; coding keeps its sandbox) is not seen by the next
    first = TASKS["understanding"]
    default = first.context_tokens
    first.samples(2, 0, "tokens:6000")
    assert first.context_tokens > default and TASKS["understanding"].context_tokens == default
    assert TASKS["coding"] is not TASKS["coding"]
