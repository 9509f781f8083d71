"""Readiness shared by every server slmbench starts: /health, then /v1/models, then 1 token."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen

from ..errors import ServerStartError
from .http import get_json, post_json


def wait_ready(
    proc: Popen[bytes],
    root: str,
    model: str,
    *,
    what: str,
    log_path: Path,
    timeout_s: float,
    diagnose: Callable[[int], Exception],
) -> None:
    """Return once the server answers a 1-token chat request; raise diagnose(exit code) if it dies.

    /health alone is not enough: vLLM answers it before the API router is mounted on some
    versions, and a broken chat template only shows on a real request.
    """
    deadline = time.monotonic() + timeout_s

    def alive_or_raise() -> None:
        if proc.poll() is not None:
            raise diagnose(proc.returncode)
        if time.monotonic() > deadline:
            raise ServerStartError(f"{what} did not become ready within {timeout_s:g} s; see its log {log_path}")

    while True:
        alive_or_raise()
        if get_json(f"{root}/health", timeout_s=2)[0] == 200:
            break
        time.sleep(0.1)
    while True:
        alive_or_raise()
        status, body = get_json(f"{root}/v1/models", timeout_s=5)
        served = (
            [m.get("id") for m in (body or {}).get("data") or [] if isinstance(m, dict)]
            if isinstance(body, dict)
            else []
        )
        if status == 200 and model in served:
            break
        if status == 200:
            raise ServerStartError(
                f"{what} is up but serves {served or 'no model'}, not {model!r}; see its log {log_path}"
            )
        time.sleep(0.2)
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    status, reply = post_json(f"{root}/v1/chat/completions", body, timeout_s=max(1.0, deadline - time.monotonic()))
    if status != 200:
        if proc.poll() is not None:
            raise diagnose(proc.returncode)
        raise ServerStartError(
            f"{what} is up but a 1-token completion failed (HTTP {status}: {str(reply)[:200]}); see its log {log_path}"
        )
