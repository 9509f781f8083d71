"""The run folder, one for eval, perf and longdoc compare.

    OUT/slmbench.sqlite   the store every run of OUT is recorded in (eval and perf)
    OUT/<run id>/         the run's files (results.json, perf.json, longdoc-compare.json, ...) and logs/
                          (longdoc compare keeps its own record there: longdoc-run.json, trials.jsonl)
    OUT/latest            a link to the last run that reached a model

A run that stops (a failure, Ctrl-C, a full disk) still writes its files and its status in
the store; a run whose process died is marked interrupted by the next run that opens the store.
"""

from __future__ import annotations

import asyncio
import os
import platform
import re
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._version import __version__
from .config import ModelSpec
from .errors import SlmbenchError
from .serving.base import Endpoint
from .store import Store

STORE_FILE = "slmbench.sqlite"


def prepare_out(out: Path) -> Path:
    """The output folder, created and known writable (before any server starts)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SlmbenchError(
            f"cannot write to the output folder {out} ({exc.strerror or exc}); pass a writable folder with --out"
        ) from None
    return out


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def new_run_dir(out: Path) -> Path:
    """OUT/<new run id>/, created; its name is the run id."""
    run_dir = out / new_run_id()
    run_dir.mkdir()
    return run_dir


def point_latest(out: Path, run_id: str) -> None:
    link = out / "latest"
    try:
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(run_id)
    except OSError:
        pass  # a convenience only; filesystems without symlinks still get the run folder


@dataclass(slots=True)
class RunFolder:
    """A run recorded in the store: its folder, opened by `open_run`, closed by `close`."""

    out: Path
    run_id: str
    run_dir: Path
    store: Store

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    def start(self, manifest: dict[str, Any]) -> None:
        self.store.start_run(self.run_id, manifest)

    def close(self, write: Callable[[], object], status: str, manifest: dict[str, Any], *, latest: bool) -> None:
        """Files first, then the store's status: a run is never `complete` without its files.
        `latest` moves to this run when it reached a model."""
        steps = [write, lambda: self.store.finish_run(self.run_id, status, manifest), self.store.close]
        if latest:
            steps.append(lambda: point_latest(self.out, self.run_id))
        finish_steps(steps)


def open_run(out: Path, say: Callable[[str], None]) -> RunFolder:
    """Open OUT's store (marking runs whose process is gone as interrupted) and a new run folder."""
    store = Store(out / STORE_FILE)
    for dead in store.mark_dead_runs():
        say(f"run {dead} stopped without finishing (its process is gone): marked interrupted")
    run_dir = new_run_dir(out)
    return RunFolder(out, run_dir.name, run_dir, store)


def finish_steps(steps: list[Callable[[], object]]) -> None:
    """A run's closing steps, in order (eval's and perf's). While an exception is on its way out
    (a full disk), a second failure here must not hide it."""
    failing = sys.exc_info()[1] is not None
    for step in steps:
        try:
            step()
        except (OSError, SlmbenchError):
            if not failing:
                raise


def run_async(coro: Any) -> Any:
    """Run a run's requests on uvloop when it is installed."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    else:
        return uvloop.run(coro)


def manifest_header() -> dict[str, Any]:
    """What every run manifest starts with: the slmbench version, when, on which Python and OS."""
    return {
        "slmbench": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def endpoint_manifest(spec: ModelSpec, ep: Endpoint) -> dict[str, Any]:
    """The endpoint record in a manifest: server, identity, context, and for llama.cpp the GGUF."""
    info: dict[str, Any] = {
        "backend": spec.backend,
        "server": ep.server,
        "base_url": ep.base_url,
        "model": ep.model,
        "identity": ep.identity,
        "max_context": ep.max_context,
        "chat_template_probe": ep.chat_template_probe,
    }
    if ep.replica_urls:
        info["replicas"] = [ep.base_url, *ep.replica_urls]
    if ep.command:
        info["command"] = list(ep.command)
    if spec.backend == "llamacpp":
        info |= {"gguf": str(spec.gguf) if spec.gguf else f"embedded ({spec.name})", "parallel": spec.parallel}
        gguf = spec.model_file()
        info["quantisation"] = _quantisation(gguf.name)
        info["model_bytes"] = gguf.stat().st_size
    return info


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux), else None."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """What the numbers were measured on: CPU model and count, memory."""
    cpu = cpu_model() or platform.processor() or platform.machine()
    try:
        memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        memory_gib = None
    return {"cpu": cpu, "cpus": os.cpu_count(), "memory_gib": memory_gib, "gpu": None}


def _quantisation(gguf_name: str) -> str | None:
    """The quantisation named in a GGUF file name (Q4_K_M, Q8_0, F16, ...), if any."""
    found = re.search(
        r"(?i)(?:^|[-_.])((?:I?Q\d(?:_[A-Z0-9]+)*)|F16|BF16|F32)(?=[-_.]|$)", gguf_name.removesuffix(".gguf")
    )
    return found.group(1).upper() if found else None
