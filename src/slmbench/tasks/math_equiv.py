"""Is a model's math answer equal to the gold one?

Plain numbers (integers, decimals, a/b, \\frac{a}{b}, mixed numbers; math_answer.plain_value)
compare exactly as rationals. Digits with only a space between them ("12 5") are unequal to
anything: math-verify would read "12 5" as 17. Anything else (\\sqrt{3}/2, intervals, tuples,
expressions) goes to math-verify, HuggingFace's sympy grader, reading LaTeX only: its fallback
to the last number in plain text is how "10 (not 12)" once equalled 12. Its own timeouts use
SIGALRM, which fails off the main thread, and sympy can hang on hostile input; so the symbolic
check runs in one worker process with those timeouts off, and the caller enforces a deadline
by killing the worker (restarted on the next check).
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import threading

from ..errors import SlmbenchError
from .math_answer import plain_value, spaced_digits

__all__ = ["equivalent", "plain_value"]

STARTUP_S = 60.0  # importing sympy and math-verify in the worker


def equivalent(gold: str, answer: str, timeout_s: float = 5.0) -> tuple[bool, str]:
    """(equal?, how it was decided). A symbolic check that overruns `timeout_s` is unequal."""
    g, a = plain_value(gold), plain_value(answer)
    if g is not None and a is not None:
        return g == a, "exact"
    if spaced_digits(answer) and a is None and not spaced_digits(gold):
        return False, "digits separated by a space are not one number"
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
    from math_verify import LatexExtractionConfig, parse, verify

    latex = [LatexExtractionConfig()]  # no ExprExtractionConfig: it falls back to the last number in the text
    print("ready", flush=True)
    for line in sys.stdin:
        gold, answer = json.loads(line)
        try:
            g = parse(_boxed(gold), extraction_config=latex, parsing_timeout=None)  # type: ignore[arg-type]
            a = parse(_boxed(answer), extraction_config=latex, parsing_timeout=None)  # type: ignore[arg-type]
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
