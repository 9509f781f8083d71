"""Run untrusted Python in a separate process, isolated with bubblewrap.

Isolation (bubblewrap): every namespace unshared (the network namespace has only its own
loopback, so nothing outside can be reached, the host's 127.0.0.1 included; no nested user
namespaces); read-only /usr and the
interpreter; a private size-capped tmpfs /tmp; no /home, /root, /etc, run store or the
harness's files; an empty environment; a new session; the sandbox dies with its parent.
When the harness runs as root the sandbox runs as nobody: the kernel never applies
RLIMIT_NPROC to uid 0. Limits (set by the driver, as hard rlimits, before untrusted code
runs): CPU seconds, address space, processes, file size (which also caps the output: stdout
is a file). Wall time: the harness kills the sandbox's process group; bubblewrap's pid 1 then
takes every process in the pid namespace with it, daemons included.

Without bubblewrap the caller must opt in (`unsafe=True`): the same driver and limits in a
plain child process, which neither hides the file system nor the network.
"""

from __future__ import annotations

import ast
import marshal
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import SlmbenchError

_PARSE_LOCK = threading.Lock()

DRIVER = (Path(__file__).parent / "driver.py").read_text(encoding="utf-8")
# The driver arrives on stdin compiled (compiling its source costs ~7 ms a run), then the job.
BOOT = "import marshal, sys; exec(marshal.load(sys.stdin.buffer))"
NOBODY = 65534
# Python without site-packages, environment variables or the current folder on sys.path.
PY_FLAGS = ["-I", "-S", "-X", "utf8", "-B"]


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_s: int = 10
    wall_s: float = 20.0
    memory_mb: int = 1024
    processes: int = 32
    output_mb: int = 16
    tmp_mb: int = 64

    def rlimits(self) -> dict[str, int | tuple[int, int]]:
        return {
            # SIGXCPU at the soft limit (reported as a timeout); SIGKILL a second later.
            "RLIMIT_CPU": (self.cpu_s, self.cpu_s + 1),
            "RLIMIT_AS": self.memory_mb << 20,
            "RLIMIT_NPROC": self.processes,
            "RLIMIT_FSIZE": self.output_mb << 20,
            "RLIMIT_CORE": 0,
        }


@dataclass(slots=True)
class Outcome:
    """What one sandboxed job returned, or how it ended."""

    status: str  # the driver's status, or: timeout | output_limit | killed | no_result
    result: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""
    returncode: int | None = None
    wall_s: float = 0.0

    @property
    def error(self) -> str:
        return str(self.result.get("error") or self.stderr.strip().splitlines()[-1:] or self.status)


@dataclass(frozen=True, slots=True)
class Sandbox:
    """How code is run: `bwrap` (isolated) or `unsafe` (rlimits in a child process only)."""

    mode: str
    python: str
    bwrap: str | None = None

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"mode": self.mode, "python": self.python}
        if self.mode == "unsafe":
            info["warning"] = "model code ran WITHOUT a sandbox (--unsafe-no-sandbox): rlimits in a child process only"
        return info

    def command(self, tmp_mb: int) -> list[str]:
        argv = [self.python, *PY_FLAGS, "-c", BOOT]
        if self.mode == "unsafe":
            return argv
        assert self.bwrap is not None
        binds: list[str] = []
        for top in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
            path = Path(top)
            if path.is_symlink():  # merged /usr: /lib -> usr/lib
                binds += ["--symlink", os.readlink(path), top]
            elif path.is_dir():
                binds += ["--ro-bind", top, top]
        prefix = _prefix(self.python)
        if prefix and prefix != "/usr" and not prefix.startswith("/usr/"):
            binds += ["--ro-bind", prefix, prefix]
        return [
            # --disable-userns: no nested user namespaces, a common kernel attack surface
            self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8",
            *binds, "--proc", "/proc", "--dev", "/dev", "--size", str(tmp_mb << 20), "--tmpfs", "/tmp",
            "--chdir", "/tmp", "--hostname", "sandbox", *argv,
        ]  # fmt: skip

    def run(self, job: dict[str, Any], limits: Limits = Limits()) -> Outcome:
        """Run one driver job; never raises for anything the code under test does."""
        payload = _compiled_driver(self.python) + marshal.dumps({**job, "limits": limits.rlimits()})
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        drop = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
        with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            stdin.write(payload)
            stdin.seek(0)
            # No preexec_fn (unsafe with the scoring threads): limits are set by the driver.
            start = time.perf_counter()
            try:
                proc = subprocess.Popen(
                    self.command(limits.tmp_mb), stdin=stdin, stdout=out, stderr=err, env=env,
                    cwd=tempfile.gettempdir() if self.mode == "unsafe" else "/", start_new_session=True, **drop,
                )  # fmt: skip
            except OSError as exc:
                return Outcome("no_result", {"error": f"cannot start the sandbox: {exc}"}, str(exc))
            try:
                timed_out = not _wait(proc, limits.wall_s)
            finally:
                _kill_group(proc)
            wall = time.perf_counter() - start
            out.seek(0)
            raw = out.read(limits.output_mb << 20)
            err.seek(0)
            stderr = err.read(64 << 10).decode("utf-8", "replace")
        return _outcome(proc.returncode, raw, stderr, timed_out, wall)


def _wait(proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    """Whether the process ended in time. A pidfd wakes at once (Popen.wait polls in 50 ms steps)."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        try:
            proc.wait(timeout_s)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        return bool(select.select([fd], [], [], timeout_s)[0])
    finally:
        os.close(fd)


@cache
def _compiled_driver(python: str) -> bytes:
    """The driver as a marshalled code object, compiled once by the interpreter that will run it
    (marshal's format is private to a Python version)."""
    compiler = "import marshal, sys; sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.read(), 'driver.py', 'exec')))"
    try:
        done = subprocess.run([python, *PY_FLAGS, "-c", compiler], input=DRIVER.encode(), capture_output=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SlmbenchError(f"the sandbox's Python {python} does not run ({exc}); set SLMBENCH_SANDBOX_PYTHON to a working python3") from None
    return done.stdout


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _outcome(code: int | None, raw: bytes, stderr: str, timed_out: bool, wall: float) -> Outcome:
    if timed_out:
        return Outcome("timeout", {"error": "wall-time limit exceeded"}, stderr, code, wall)
    # A signal shows as a negative status, or through bubblewrap's pid 1 as 128 + signal.
    sig = -code if code is not None and code < 0 else code - 128 if code is not None and code > 128 else 0
    if sig:
        if sig == signal.SIGXCPU:
            return Outcome("timeout", {"error": "CPU-time limit exceeded"}, stderr, code, wall)
        if sig == signal.SIGXFSZ:
            return Outcome("output_limit", {"error": "output-size limit exceeded"}, stderr, code, wall)
    try:
        with _PARSE_LOCK:  # CPython 3.11's parser miscounts recursion depth across threads
            result = ast.literal_eval(raw.decode("utf-8"))  # literals only: safe on untrusted text
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, UnicodeDecodeError):
        result = None
    if not isinstance(result, dict) or not isinstance(result.get("status"), str):
        if "MemoryError" in stderr:
            return Outcome("memory", {"error": "MemoryError"}, stderr, code, wall)
        why = f"the program ended without a result (exit status {code})"
        return Outcome("no_result", {"error": why}, stderr, code, wall)
    return Outcome(result["status"], result, stderr, code, wall)


def _prefix(python: str) -> str | None:
    """The installation folder of an interpreter outside /usr (e.g. pyenv), to bind read-only."""
    real = Path(python).resolve()
    return str(real.parent.parent) if real.parent.name == "bin" else None


def _readable_by_nobody(path: Path) -> bool:
    """Every folder above path is searchable, and the file readable, by 'other'."""
    real = path.resolve()
    try:
        return all(p.stat().st_mode & 0o001 for p in real.parents) and bool(real.stat().st_mode & 0o005)
    except OSError:
        return False


def _python() -> str:
    """The interpreter for sandboxed code: this one, unless the sandbox user cannot read it."""
    chosen = os.environ.get("SLMBENCH_SANDBOX_PYTHON")
    if chosen:
        return chosen
    if os.geteuid() != 0 or _readable_by_nobody(Path(sys.executable)):
        return str(Path(sys.executable).resolve())
    system = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if system and _readable_by_nobody(Path(system)):
        return system
    raise SlmbenchError(
        f"running as root, sandboxed code runs as nobody, who cannot read {sys.executable}; "
        "install python3 system-wide or set SLMBENCH_SANDBOX_PYTHON to an interpreter all users can read"
    )


@cache
def open_sandbox(unsafe: bool = False) -> Sandbox:
    """The sandbox to use, checked to work; refuses without bubblewrap unless unsafe=True."""
    python = _python()
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        if not unsafe:
            raise SlmbenchError(
                "running model-written code needs bubblewrap, which is not installed; install it "
                "(apt-get install bubblewrap) or pass --unsafe-no-sandbox to run it with rlimits only"
            )
        return _checked(Sandbox("unsafe", python))
    return _checked(Sandbox("bwrap", python, bwrap))


def _checked(box: Sandbox) -> Sandbox:
    outcome = box.run({"job": "call", "code": "def f():\n    return 1\n", "entry": "f", "inputs": [[]]})
    if outcome.status != "ok" or outcome.result.get("outputs") != [1]:
        hint = ""
        if "namespace" in outcome.stderr or "Operation not permitted" in outcome.stderr:
            hint = (" (bubblewrap needs unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1, "
                    "and on Ubuntu kernel.apparmor_restrict_unprivileged_userns=0)")  # fmt: skip
        last = outcome.stderr.strip().splitlines()[-1:] or [outcome.error]
        raise SlmbenchError(f"the code sandbox does not work here: {last[0][:200]}{hint}; pass --unsafe-no-sandbox to run without it")
    return box


__all__ = ["Limits", "Outcome", "Sandbox", "open_sandbox"]
