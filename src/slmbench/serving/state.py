"""Servers left running by `serve --detach`: one small JSON file each, for `ps` and `stop`."""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import SlmbenchError
from ..paths import state_dir
from . import process


@dataclass
class Record:
    name: str
    pid: int
    backend: str
    url: str  # ".../v1"
    model: str
    log: str
    argv: list[str]
    started: float  # time.time()


def servers_dir() -> Path:
    return state_dir() / "servers"


def log_path(name: str) -> Path:
    return state_dir() / "logs" / f"{name.replace('/', '_')}.log"


def save(record: Record) -> Path:
    path = servers_dir() / f"{record.name.replace('/', '_')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(asdict(record), indent=1))
    staged.replace(path)
    return path


def is_running(record: Record) -> bool:
    """The pid is alive and still runs the recorded program (pids get reused)."""
    if not process.pid_alive(record.pid):
        return False
    try:
        parts = Path(f"/proc/{record.pid}/cmdline").read_bytes().split(b"\0")[:2]
    except OSError:
        return True  # no /proc (not Linux): trust the pid
    # A console script such as `vllm` runs as [python, /path/to/vllm, ...].
    return Path(record.argv[0]).name in {Path(p.decode("utf-8", "replace")).name for p in parts}


def running() -> list[Record]:
    """Live records; files of servers that died are removed."""
    found = []
    for path in sorted(servers_dir().glob("*.json")):
        try:
            record = Record(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if is_running(record):
            found.append(record)
        else:
            path.unlink(missing_ok=True)
    return found


def find(name: str) -> Record:
    records = running()
    for record in records:
        if record.name == name:
            return record
    names = [r.name for r in records]
    if not names:
        raise SlmbenchError(f"no server named {name!r} is running; none is (start one with `slmbench serve --detach`)")
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]}? " if close else ""
    raise SlmbenchError(f"no server named {name!r} is running; {hint}running: {', '.join(names)}")


def stop(record: Record) -> None:
    if is_running(record):
        process.stop_pid(record.pid, grace_s=15.0)
    (servers_dir() / f"{record.name.replace('/', '_')}.json").unlink(missing_ok=True)


def uptime(record: Record) -> str:
    seconds = int(time.time() - record.started)
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
