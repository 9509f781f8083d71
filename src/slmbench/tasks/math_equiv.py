"""Is a model's math answer equal to the gold one?

Plain numbers (integers, decimals, a/b, \\frac{a}{b}) compare exactly as rationals. Anything
else (\\sqrt{3}/2, intervals, tuples, expressions) goes to math-verify, HuggingFace's sympy
grader. Its own timeouts use SIGALRM, which fails off the main thread, and sympy can hang on
hostile input; so the symbolic check runs in one worker process with those timeouts off, and
the caller enforces a deadline by killing the worker (restarted on the next check).
"""

from __future__ import annotations

import json
import re
import select
import subprocess
import sys
import threading
from fractions import Fraction

from ..errors import SlmbenchError
from .math_problems import to_fraction

_PLAIN_NUMBER = re.compile(
    r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?"  # 12, 1,234, 0.75, 3/4
    r"|-?\\[dt]?frac\s*(?:\{\s*-?\d+\s*\}|\d)\s*(?:\{\s*\d+\s*\}|\d)"  # \frac{3}{4}, \frac34
)
# "x = 12", "12 dollars", "12 \\text{ cm}": the number is the answer
_LABEL = re.compile(r"^[A-Za-z]\s*=\s*")
_UNIT = re.compile(r"(?:\s*\\(?:text|mathrm|mbox)\{[^{}]*\}|\s+[A-Za-z]+)+$")
STARTUP_S = 60.0  # importing sympy and math-verify in the worker


def plain_value(raw: str) -> Fraction | None:
    """The exact value of a plain number, or None when `raw` is anything more."""
    s = raw.strip().rstrip(".").strip()
    s = re.sub(r"^\$+|\$+$", "", s).replace("\\!", "").replace("\\,", "")
    s = _UNIT.sub("", _LABEL.sub("", s)).replace(" ", "")
    if not _PLAIN_NUMBER.fullmatch(s):
        return None
    return to_fraction(s)


def equivalent(gold: str, answer: str, timeout_s: float = 5.0) -> tuple[bool, str]:
    """(equal?, how it was decided). A symbolic check that overruns `timeout_s` is unequal."""
    g, a = plain_value(gold), plain_value(answer)
    if g is not None and a is not None:
        return g == a, "exact"
    same = _VERIFIER.check(gold, answer, timeout_s)
    if same is None:
        return False, f"symbolic check exceeded {timeout_s:g} s"
    return same, "symbolic"


class _Verifier:
    """One math-verify worker process (`python -m slmbench.tasks.math_equiv`), JSON lines over
    pipes, shared by all threads (calls are serialised)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None

    def check(self, gold: str, answer: str, timeout_s: float) -> bool | None:
        with self._lock:
            proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps([gold, answer]) + "\n")
            proc.stdin.flush()
            line = _readline(proc, timeout_s)
            if line is None:
                self._stop()
                return None
            return bool(json.loads(line))

    def _start(self) -> subprocess.Popen[str]:
        self._stop()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        if _readline(self._proc, STARTUP_S) != "ready":
            self._stop()
            raise SlmbenchError("the math-verify worker did not start; reinstall slmbench (pip install -e .)")
        return self._proc

    def _stop(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe is not None:
                    pipe.close()
        self._proc = None


def _readline(proc: subprocess.Popen[str], timeout_s: float) -> str | None:
    """The worker's next line, or None if it sends none within the deadline (or died)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    if not ready:
        return None
    line = proc.stdout.readline()
    return line.strip() if line else None


def _serve() -> None:
    from math_verify import parse, verify

    print("ready", flush=True)
    for line in sys.stdin:
        gold, answer = json.loads(line)
        try:
            g = parse(_boxed(gold), parsing_timeout=None)  # type: ignore[arg-type]
            a = parse(_boxed(answer), parsing_timeout=None)  # type: ignore[arg-type]
            same = bool(g) and bool(a) and verify(g, a, timeout_seconds=None)
        except Exception:  # noqa: BLE001 - any failure to parse or compare means "not shown equal"
            same = False
        print(json.dumps(bool(same)), flush=True)


def _boxed(raw: str) -> str:
    raw = raw.strip()
    return raw if raw.startswith("\\boxed{") else f"\\boxed{{{raw}}}"


_VERIFIER = _Verifier()

if __name__ == "__main__":
    _serve()
