"""The program that runs inside the sandbox. Standard library only: a bare interpreter
receives it compiled on stdin (see sandbox/__init__.py), and the harness imports it for the
value codec.

It reads one job (marshal, from the harness) on stdin, sets its own rlimits before any
untrusted code runs (hard limits: the code cannot raise them again), and writes one result
to fd 1 as JSON of at most the job's result_max bytes (written by `dumps` below: importing
json costs ~8 ms of start-up, for `re`); anything the code under test prints goes to stderr. Jobs:

- call:   exec untrusted `code`, call `entry` on each argument tuple, report the return values.
- stdio:  exec untrusted `code` once per input with that input as stdin; report the stdouts.
- record: exec trusted `context` with `entry` wrapped, run trusted `tests`; report the
          top-level calls the tests made (the arguments later given to untrusted code).
- judge:  exec trusted `context` with `entry` replaced by a replay of untrusted return values,
          run trusted `tests`; report pass or the first failure.

Untrusted code can print anything it likes where the result goes; that only changes what it
claims to have returned. Whether those values pass is decided by the harness or by a judge
process in which no untrusted code ever ran, so no patching of this process forges a pass.
"""

# ruff: noqa: S102 - exec of the code under test (and of trusted test code) is this file's job
from __future__ import annotations

import io
import marshal
import math
import os
import sys

# -- value codec: plain data only, never pickle ----------------------------------------------


def encode(value, depth=0):
    """Python data as JSON/literal-safe data; anything that is not plain data raises TypeError."""
    if depth > 100:
        raise TypeError("value nested too deeply")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if abs(value) < 2**53 else {"__int__": str(value)}
    if t is float:
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if t is list:
        return [encode(v, depth + 1) for v in value]
    if t is tuple:
        return {"__tuple__": [encode(v, depth + 1) for v in value]}
    if t is set or t is frozenset:
        return {"__set__": sorted((encode(v, depth + 1) for v in value), key=repr)}
    if t is dict:
        return {"__dict__": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if t is bytes:
        return {"__bytes__": value.hex()}
    if t is complex:
        return {"__complex__": [value.real, value.imag]}
    raise TypeError(f"cannot compare a value of type {t.__name__}")


def decode(data):
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        ((tag, v),) = data.items()
        if tag == "__tuple__":
            return tuple(decode(x) for x in v)
        if tag == "__set__":
            return {_hashable(decode(x)) for x in v}
        if tag == "__dict__":
            return {_hashable(decode(k)): decode(x) for k, x in v}
        if tag == "__int__":
            return int(v)
        if tag == "__float__":
            return float(v)
        if tag == "__bytes__":
            return bytes.fromhex(v)
        if tag == "__complex__":
            return complex(*v)
        raise ValueError(f"unknown tag {tag}")
    return data


def dumps(value):
    """JSON text of plain data (what encode returns, and status dicts); anything else raises TypeError."""
    parts = []
    _dump(value, parts, 0)
    return "".join(parts)


def _dump(value, parts, depth):
    if depth > 200:
        raise TypeError("result nested too deeply")
    t = type(value)
    if value is None:
        parts.append("null")
    elif t is bool:
        parts.append("true" if value else "false")
    elif t is int:
        parts.append(int.__repr__(value))
    elif t is float:
        if not math.isfinite(value):
            raise TypeError("a non-finite float")
        parts.append(float.__repr__(value))
    elif t is str:
        parts.append(_quote(value))
    elif t is list:
        parts.append("[")
        for i, item in enumerate(value):
            if i:
                parts.append(",")
            _dump(item, parts, depth + 1)
        parts.append("]")
    elif t is dict:
        parts.append("{")
        for i, (key, item) in enumerate(value.items()):
            if type(key) is not str:
                raise TypeError("a key that is not a string")
            parts.append(("," if i else "") + _quote(key) + ":")
            _dump(item, parts, depth + 1)
        parts.append("}")
    else:
        raise TypeError(f"cannot write a value of type {t.__name__}")


try:
    from _json import encode_basestring_ascii as _quote  # C, and without json's import of re
except ImportError:  # an interpreter built without it
    from json.encoder import encode_basestring_ascii as _quote


def _hashable(value):
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


# -- inside the sandbox ------------------------------------------------------------------------


def _limit(limits):
    import resource

    for name, value in limits.items():
        soft, hard = value if isinstance(value, (list, tuple)) else (value, value)
        resource.setrlimit(getattr(resource, name), (soft, hard))


def _error(exc):
    if isinstance(exc, OSError) and exc.errno == 27:  # EFBIG: RLIMIT_FSIZE (Python ignores SIGXFSZ)
        return {"status": "output_limit", "error": "output-size limit exceeded"}
    kind = "memory" if isinstance(exc, MemoryError) else "runtime"
    return {"status": kind, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}


def _exec_untrusted(code, scope):
    try:
        compiled = compile(code, "solution.py", "exec")
    except (SyntaxError, ValueError) as exc:
        return {"status": "syntax", "error": f"{type(exc).__name__}: {exc}"}
    try:
        exec(compiled, scope)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are failures too
        return _error(exc)
    return None


def _resolve(scope, entry):
    # "Solution.twoSum" means LeetCode style: a method of a fresh Solution instance.
    if "." in entry:
        cls, method = entry.split(".", 1)
        return getattr(scope[cls](), method)
    return scope[entry]


def _call(job):
    scope = {"__name__": "solution"}
    failed = _exec_untrusted(job["code"], scope)
    if failed:
        return failed
    try:
        function = _resolve(scope, job["entry"])
    except BaseException as exc:  # noqa: BLE001
        return {"status": "runtime", "error": f"no function {job['entry']}: {type(exc).__name__}: {exc}"}
    outputs = []
    for index, args in enumerate(job["inputs"]):
        try:
            value = function(*decode(args))
        except BaseException as exc:  # noqa: BLE001
            return {**_error(exc), "index": index, "outputs": outputs}
        try:
            outputs.append(encode(value))
        except TypeError as exc:  # e.g. an object whose __eq__ always says True
            return {"status": "wrong", "error": f"input {index}: {exc}", "outputs": outputs}
    return {"status": "ok", "outputs": outputs}


def _stdio(job):
    try:
        compiled = compile(job["code"], "solution.py", "exec")
    except (SyntaxError, ValueError) as exc:
        return {"status": "syntax", "error": f"{type(exc).__name__}: {exc}"}
    outputs = []
    real_in, real_out = sys.stdin, sys.stdout
    for index, text in enumerate(job["inputs"]):
        sys.stdin = io.TextIOWrapper(io.BytesIO(text.encode()))
        sys.stdout = io.StringIO()
        try:
            exec(compiled, {"__name__": "__main__"})
        except SystemExit as exc:
            if exc.code not in (None, 0):
                return {"status": "runtime", "error": f"exit status {exc.code}", "index": index, "outputs": outputs}
        except BaseException as exc:  # noqa: BLE001
            return {**_error(exc), "index": index, "outputs": outputs}
        finally:
            captured = sys.stdout.getvalue() if isinstance(sys.stdout, io.StringIO) else ""
            sys.stdin, sys.stdout = real_in, real_out
        outputs.append(captured)
    return {"status": "ok", "outputs": outputs}


def _run_tests(job, scope):
    import random

    random.seed(0)  # record and judge must see the same "random" test inputs
    exec(compile(job["tests"], "tests.py", "exec"), scope)
    if job.get("check_call"):
        exec(compile(job["check_call"], "check.py", "exec"), scope)


def _record(job):
    import copy

    scope = {"__name__": "__main__"}
    exec(compile(job["context"], "context.py", "exec"), scope)
    reference = scope[job["entry"]]
    calls, results, depth = [], [], [0]

    def recorder(*args):
        if depth[0]:  # a recursive call of the reference itself
            return reference(*args)
        calls.append(encode(copy.deepcopy(args)))
        depth[0] += 1
        try:
            result = reference(*args)
        finally:
            depth[0] -= 1
        results.append(encode(result))
        return result

    scope[job["entry"]] = recorder
    _run_tests(job, scope)
    return {"status": "ok", "calls": calls, "results": results}


class _Unrecorded(Exception):
    pass


def _judge(job):
    scope = {"__name__": "__main__"}
    exec(compile(job["context"], "context.py", "exec"), scope)
    calls, outputs, position = job["calls"], job["outputs"], [0]

    def replay(*args):
        i = position[0]
        if i >= len(outputs) or encode(args) != calls[i]:
            raise _Unrecorded(f"the tests made call {i} with arguments that were never run")
        position[0] += 1
        return decode(outputs[i])

    scope[job["entry"]] = replay
    try:
        _run_tests(job, scope)
    except AssertionError as exc:
        return {"status": "wrong", "error": f"test failed at call {position[0]}: {exc}"[:300]}
    except BaseException as exc:  # noqa: BLE001
        return {"status": "wrong", "error": f"test failed at call {position[0]}: {type(exc).__name__}: {exc}"[:300]}
    return {"status": "pass", "calls": position[0]}


JOBS = {"call": _call, "stdio": _stdio, "record": _record, "judge": _judge}


def main():
    job = marshal.loads(sys.stdin.buffer.read())
    sys.stdin = io.StringIO("")
    result_fd = os.dup(1)
    os.dup2(2, 1)  # what the code prints goes to stderr; fd 1 is kept for the result
    sys.setrecursionlimit(job.get("recursion", 10000))
    _limit(job["limits"])
    try:
        result = JOBS[job["job"]](job)
    except BaseException as exc:  # noqa: BLE001
        result = _error(exc)
    try:
        data = dumps(result).encode()
    except (TypeError, ValueError, RecursionError, MemoryError) as exc:
        data = dumps({"status": "runtime", "error": f"the result cannot be written: {exc}"}).encode()
    if len(data) > job["result_max"]:
        why = f"the returned values take {len(data)} bytes, more than the {job['result_max']} bytes a result may hold"
        data = dumps({"status": "output_limit", "error": why}).encode()
    with os.fdopen(result_fd, "wb") as out:
        out.write(data)


if __name__ == "__main__":
    main()
