"""Helpers the tests share: oracle answers and running the real CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

_EXPRESSION = re.compile(r"Expression: (.+)$", re.MULTILINE)


def gold_arithmetic(body: dict[str, Any]) -> str:
    """An oracle: reads the expression from the prompt and answers it correctly."""
    expression = _EXPRESSION.search(body["messages"][-1]["content"]).group(1).replace("×", "*")
    return f"Let me compute.\nAnswer: {eval(expression)}"


def wrong_arithmetic(body: dict[str, Any]) -> str:
    expression = _EXPRESSION.search(body["messages"][-1]["content"]).group(1).replace("×", "*")
    return f"Answer: {eval(expression) + 1}"


def run_cli(*args: str, timeout: float = 600, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `slmbench ARGS` as a user would, in a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "slmbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def eval_error(out: Path, task: str, data: str) -> str:
    """`slmbench eval --task TASK --data TASK=DATA` against a scripted endpoint, expected to fail on
    the data: its one-line error message (asserted: exit 1, no traceback)."""
    from slmbench.testing.scripted import ScriptedServer

    with ScriptedServer() as server:
        result = run_cli("eval", "--model", f"scripted={server.url}", "--task", task, "--data", f"{task}={data}",
                         "--out", str(out), timeout=60)  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr.strip()


def db_path(out: Path) -> Path:
    return out / "slmbench.sqlite"


def children_named(pid: int, name: str) -> list[int]:
    """Pids of the live child processes of pid whose executable is called name."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            argv0 = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        ppid = int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])
        state = next(line for line in status.splitlines() if line.startswith("State:")).split()[1]
        if ppid == pid and Path(argv0).name == name and state != "Z":
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("State:"))
    except (OSError, StopIteration):
        return False
    return state.split()[1] != "Z"


def start_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """`slmbench ARGS` in the background, as a terminal would run it (SIGINT not ignored)."""
    return subprocess.Popen(
        [sys.executable, "-m", "slmbench.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def read_until(proc: subprocess.Popen[str], prefix: str, timeout: float = 300) -> str:
    """The first stdout line starting with prefix; fails with stderr if the process ends first."""
    import queue
    import threading

    if not hasattr(proc, "lines"):
        proc.lines = queue.Queue()  # type: ignore[attr-defined]

        def pump() -> None:
            for line in proc.stdout:  # type: ignore[union-attr]
                proc.lines.put(line)  # type: ignore[attr-defined]
            proc.lines.put(None)  # type: ignore[attr-defined]

        threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = proc.lines.get(timeout=timeout)  # type: ignore[attr-defined]
        except queue.Empty:
            raise AssertionError(f"no {prefix!r} line within {timeout} s") from None
        if line is None:
            proc.wait(10)
            raise AssertionError(f"no {prefix!r} line; exit {proc.returncode}; stderr: {proc.stderr.read()}")  # type: ignore[union-attr]
        if line.startswith(prefix):
            return line


class stopped_after:
    """`with stopped_after(start_cli(...)) as proc:` SIGTERMs proc if a failed assertion leaves it running."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def __enter__(self) -> subprocess.Popen[str]:
        return self.proc

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(60)


def stop_detached(state_dir: Path) -> None:
    """Test teardown: stop whatever detached servers a failed test left under state_dir."""
    import json
    import signal

    for record in (state_dir / "servers").glob("*.json"):
        pid = json.loads(record.read_text())["pid"]
        if alive(pid):
            os.kill(pid, signal.SIGTERM)
