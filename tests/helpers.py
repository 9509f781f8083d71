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


def db_path(out: Path) -> Path:
    return out / "slmbench.sqlite"
