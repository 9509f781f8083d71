"""Child server processes that never outlive slmbench.

Normal exit, exceptions, Ctrl-C and SIGTERM go through `stop()`; `kill -9` of slmbench
itself is covered by PR_SET_PDEATHSIG, which has the kernel kill the child too.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..errors import ServerStartError

_PR_SET_PDEATHSIG = 1


class ServerDied(ServerStartError):
    """A supervised server died more often than it may be restarted."""


_live: set[subprocess.Popen[bytes]] = set()


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(
    argv: list[str],
    log_path: Path,
    *,
    die_with_parent: bool = True,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start argv in its own session (a terminal's Ctrl-C reaches us, not it) logging to a file.

    die_with_parent=False is for `serve --detach`: the server must outlive this process.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
            env=env,
            cwd=cwd,
        )
    _live.add(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after grace_s; always reaps."""
    _live.discard(proc)
    if proc.poll() is not None:
        return
    try:
        proc.terminate()
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except ProcessLookupError:
        pass


def release(proc: subprocess.Popen[bytes]) -> int:
    """Stop supervising proc (it keeps running); its pid."""
    _live.discard(proc)
    return proc.pid


def stop_pid(pid: int, grace_s: float = 10.0) -> bool:
    """SIGTERM a process that is not our child, SIGKILL after grace_s; False if it was gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def pid_alive(pid: int) -> bool:
    """Running and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True


def tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


class Supervised:
    """Lifecycle every server slmbench starts shares: stopped on leaving the `with` block,
    unless handed over with release() (serve --detach).

    Supervision, for whoever sends the traffic (the runner; the chat can do the same): poll
    alive() (a waitpid, cheap) while requests are in flight; when it turns False, say death()
    and call restart(): the same command again, ready when it returns; after max_restarts it
    raises ServerDied with the last lines of the server's log instead.
    """

    _proc: subprocess.Popen[bytes] | None = None
    stop_grace_s = 5.0
    max_restarts = 3
    restarts = 0
    what = "the server"
    log_path: Path | None = None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def death(self) -> str:
        """How the server ended, in words."""
        code = self._proc.poll() if self._proc is not None else None
        if code is None:
            return f"{self.what} is running"
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        return f"{self.what} {how}"

    def restart(self) -> None:
        """Start the server again with the same command; ServerDied past max_restarts."""
        self.restarts += 1
        if self.restarts > self.max_restarts:
            last = tail(self.log_path, 5).replace("\n", " | ") if self.log_path else ""
            raise ServerDied(
                f"{self.death()} {self.restarts} times; not restarted again. Last lines of its log ({self.log_path}): {last}"
            )
        if self._proc is not None:
            stop(self._proc)
        self._respawn()

    def _respawn(self) -> None:
        """Start the same command again and wait until ready (servers that can, override this)."""
        raise ServerDied(f"{self.death()}; slmbench cannot restart it. Log: {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._proc is not None:
            stop(self._proc, grace_s=self.stop_grace_s)
            self._proc = None

    def release(self) -> int:
        """Stop supervising the running server; its pid."""
        assert self._proc is not None
        pid = release(self._proc)
        self._proc = None
        return pid

    def wait(self) -> int:
        """Block until the server exits by itself; its exit code."""
        assert self._proc is not None
        return self._proc.wait()


@atexit.register
def _stop_all() -> None:
    for proc in list(_live):
        stop(proc, grace_s=2.0)


terminated = False  # set when SIGTERM arrived: the exit code is then 143, not 130


def raise_on_sigterm() -> None:
    """SIGTERM does what Ctrl-C does (finally blocks run, what was measured is kept) and is
    remembered, so the command exits 128 + 15 like a terminated process."""

    def handler(signum: int, frame: object) -> None:
        global terminated
        terminated = True
        on_interrupt = signal.getsignal(signal.SIGINT)
        if callable(on_interrupt) and on_interrupt is not signal.default_int_handler:
            # asyncio's runner: cancels the main task, then raises KeyboardInterrupt, as for Ctrl-C
            on_interrupt(signal.SIGINT, frame)
            return
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def interrupted_exit_code() -> int:
    """130 after Ctrl-C, 143 after SIGTERM."""
    return 128 + signal.SIGTERM if terminated else 130


def interrupted_by() -> str:
    return "terminated (SIGTERM)" if terminated else "interrupted"
