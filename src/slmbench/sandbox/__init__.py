"""Run untrusted Python in a separate process, isolated with bubblewrap and bounded as a whole.

Isolation (bubblewrap): every namespace unshared (the network namespace has only its own
loopback, so nothing outside can be reached, the host's 127.0.0.1 included; no nested user
namespaces); a read-only root holding read-only /usr and the interpreter; a minimal read-only
/dev; one writable mount, a private size-capped tmpfs /tmp; no /home, /root, /etc, run store
or the harness's files; an empty environment; a new session; the sandbox dies with its
parent. A seccomp filter (seccomp.py) denies ptrace, mounts, namespaces and other calls no
solution needs. When the harness runs as root the sandbox runs as nobody.

Bounds on the whole sample (all its processes, its /tmp and its output together):
- with a cgroup per sample (cgroups.py: v2, or v1 memory + pids (+ cpuacct)): memory, process
  count and CPU time are the group's; the sandbox joins its group before any of its code runs
  (bubblewrap waits on --block-fd until the harness has placed its pid 1 there);
- without one: a single process (no new process or thread: RLIMIT_NPROC), whose address space
  plus the /tmp cap and the output files fit the memory budget.
Always: per-process rlimits set by the driver before untrusted code runs (CPU, address
space, file size, open files), the wall time, and a result of at most RESULT_MAX bytes,
parsed as JSON. At the end the sandbox's pid 1 is killed (which takes every process of its
pid namespace, daemons included) and reaped, also where slmbench is itself PID 1.

Without bubblewrap the caller must opt in (`unsafe=True`): the same driver, limits and cgroup
in a plain child process, which neither hides the file system nor the network.
"""

from __future__ import annotations

import json
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
from typing import Any, Self

from ..errors import SlmbenchError
from . import cgroups, seccomp

DRIVER = (Path(__file__).parent / "driver.py").read_text(encoding="utf-8")
# The driver arrives on stdin compiled (compiling its source costs ~7 ms a run), then the job.
BOOT = "import marshal, sys; exec(marshal.load(sys.stdin.buffer))"
# Unsafe mode: wait for one byte on the fd in argv[1] (sent once the process is in its cgroup).
BOOT_GATED = "import os, sys; os.read(int(sys.argv[1]), 1); os.close(int(sys.argv[1])); " + BOOT
NOBODY = 65534
# Python without site-packages, environment variables or the current folder on sys.path.
PY_FLAGS = ["-I", "-S", "-X", "utf8", "-B"]
RESULT_MAX = 1 << 20  # bytes on the result channel; more is an output_limit failure
POLL_S = 0.1  # how often a running sandbox's CPU time and a stop request are checked
OUTSIDE_MB = 16  # of the memory budget, kept for bubblewrap's launcher (~0.3 MB), which stays outside the group


@dataclass(frozen=True, slots=True)
class Limits:
    cpu_s: int = 10  # CPU seconds: the whole sample's with a cgroup (and each process's)
    wall_s: float = 20.0
    memory_mb: int = 1024  # the whole sample: its processes, its /tmp and its output files
    processes: int = 32  # with a cgroup; without one the sample is a single process
    output_mb: int = 8  # per file the code writes (what it prints, its result)
    tmp_mb: int = 64

    def rlimits(self, grouped: bool) -> dict[str, int | tuple[int, int]]:
        limits: dict[str, int | tuple[int, int]] = {
            # SIGXCPU at the soft limit (reported as a timeout); SIGKILL a second later.
            "RLIMIT_CPU": (self.cpu_s, self.cpu_s + 1),
            "RLIMIT_FSIZE": self.output_mb << 20,
            "RLIMIT_CORE": 0,
            "RLIMIT_NOFILE": 256,  # also bounds what pipes and sockets can hold in the kernel
            "RLIMIT_MSGQUEUE": 0,
        }
        if grouped:  # the group bounds the sum; this turns one huge allocation into a MemoryError
            return limits | {"RLIMIT_AS": self.memory_mb << 20}
        return limits | {"RLIMIT_AS": self.single_process_mb() << 20, "RLIMIT_NPROC": 1}

    def single_process_mb(self) -> int:
        """Without a cgroup: the address space left to the one process once /tmp and the two
        output files (stdout, stderr) are counted at their caps."""
        return self.memory_mb - self.tmp_mb - 2 * self.output_mb


@dataclass(slots=True)
class Outcome:
    """What one sandboxed job returned, or how it ended."""

    status: str  # the driver's status, or: timeout | output_limit | memory | killed | no_result | cancelled
    result: dict[str, Any] = field(default_factory=dict)
    stderr: str = ""
    returncode: int | None = None
    wall_s: float = 0.0
    peak_mb: float | None = None  # the most memory the sample held at once (cgroup only)
    cpu_s: float | None = None  # CPU seconds of all its processes (cgroup only)

    @property
    def error(self) -> str:
        return str(self.result.get("error") or self.stderr.strip().splitlines()[-1:] or self.status)


@dataclass(frozen=True, slots=True)
class Sandbox:
    """How code is run: `bwrap` (isolated) or `unsafe` (rlimits and cgroup, in a child process only)."""

    mode: str
    python: str
    bwrap: str | None = None
    groups: cgroups.Cgroups | None = None
    no_group: str = ""  # why there is no cgroup
    syscall_filter: bytes | None = None  # the seccomp program (bwrap mode)

    def describe(self, limits: Limits | None = None) -> dict[str, Any]:
        limits = limits or Limits()
        info: dict[str, Any] = {"mode": self.mode, "python": self.python}
        if self.groups is not None:
            cpu = f"{limits.cpu_s} CPU s" + ("" if self.groups.counts_cpu else " per process")
            info["bounds"] = (f"{self.groups.describe()}: the whole sample at most {limits.memory_mb} MB "
                              f"(processes, /tmp, output), {limits.processes} processes, {cpu}")  # fmt: skip
        else:
            info["bounds"] = (f"rlimits, single process (no cgroup: {self.no_group}): "
                              f"{limits.single_process_mb()} MB address space + {limits.tmp_mb} MB /tmp "
                              f"+ 2 x {limits.output_mb} MB output <= {limits.memory_mb} MB, {limits.cpu_s} CPU s")  # fmt: skip
        if self.mode == "bwrap":
            info["seccomp"] = seccomp.describe()
        if self.mode == "unsafe":
            info["warning"] = (
                "model code ran WITHOUT a sandbox (--unsafe-no-sandbox): no namespaces or seccomp, "
                "only the bounds above, in a child process"
            )
        return info

    def command(self, tmp_mb: int, fds: dict[str, int] | None = None) -> list[str]:
        """The command line; fds: the descriptors bubblewrap reads (info, block, seccomp)."""
        if self.mode == "unsafe":
            return [self.python, *PY_FLAGS, "-c", BOOT_GATED, str((fds or {}).get("block", -1))]
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
        control: list[str] = []
        for flag, name in (("--info-fd", "info"), ("--block-fd", "block"), ("--seccomp", "seccomp")):
            if fds and name in fds:
                control += [flag, str(fds[name])]
        return [
            # --disable-userns: no nested user namespaces, a common kernel attack surface
            self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp", "--setenv", "LANG", "C.UTF-8",
            *binds, "--proc", "/proc", "--dev", "/dev", "--size", str(tmp_mb << 20), "--tmpfs", "/tmp",
            # bubblewrap's root and /dev are tmpfs without a size cap: make them read-only
            "--remount-ro", "/dev", "--remount-ro", "/",
            "--chdir", "/tmp", "--hostname", "sandbox", *control, self.python, *PY_FLAGS, "-c", BOOT,
        ]  # fmt: skip

    def run(self, job: dict[str, Any], limits: Limits = Limits(), stop: threading.Event | None = None) -> Outcome:
        """Run one driver job; never raises for anything the code under test does. Setting `stop`
        kills the sandbox at once (status cancelled)."""
        group = None
        if self.groups is not None:
            try:
                group = self.groups.make(
                    limits.memory_mb - OUTSIDE_MB, limits.processes + (1 if self.mode == "bwrap" else 0)
                )
            except OSError as exc:  # fail closed: never run a sample without the bound the manifest promises
                return Outcome("no_result", {"error": f"cannot make the sample's cgroup: {exc}"}, str(exc))
        try:
            return self._run(job, limits, group, stop)
        finally:
            if group is not None:
                group.remove()

    def _run(
        self, job: dict[str, Any], limits: Limits, group: cgroups.Group | None, stop: threading.Event | None
    ) -> Outcome:
        payload = _compiled_driver(self.python) + marshal.dumps(
            {**job, "limits": limits.rlimits(group is not None), "result_max": RESULT_MAX}
        )
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        drop = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if _drops_to_nobody() else {}
        pipes = _Pipes(self.mode == "bwrap", self.syscall_filter)
        with pipes, tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            stdin.write(payload)
            stdin.seek(0)
            # No preexec_fn (unsafe with the scoring threads): limits are set by the driver.
            start = time.perf_counter()
            try:
                proc = subprocess.Popen(
                    self.command(limits.tmp_mb, pipes.child_fds), stdin=stdin, stdout=out, stderr=err, env=env,
                    cwd=tempfile.gettempdir() if self.mode == "unsafe" else "/", start_new_session=True,
                    pass_fds=tuple(pipes.child_fds.values()), **drop,
                )  # fmt: skip
            except OSError as exc:
                return Outcome("no_result", {"error": f"cannot start the sandbox: {exc}"}, str(exc))
            pipes.close_child_ends()
            init = _Process(proc.pid) if self.mode == "unsafe" else pipes.sandbox_init(start + limits.wall_s)
            why = None
            try:
                if init is None:
                    why = "the sandbox did not start (bubblewrap reported no pid 1)"
                else:
                    if group is not None:
                        group.add(init.pid)  # before it runs anything: its children are born in the group
                    pipes.release()
                    why = _supervise(proc, group, limits, stop, start)
            except OSError as exc:
                why = f"cannot place the sample in its cgroup: {exc}"
            finally:
                _end(proc, init, group, whole_group=self.mode == "unsafe" or init is None)
            wall = time.perf_counter() - start
            out.seek(0)
            raw = out.read(RESULT_MAX + 1)
            err.seek(0)
            stderr = err.read(64 << 10).decode("utf-8", "replace")
        outcome = _outcome(proc.returncode, raw, stderr, why, wall)
        if group is not None:
            outcome.peak_mb, outcome.cpu_s = group.peak_mb(), group.cpu_s()
            if group.oom_kills() and outcome.status not in ("timeout", "cancelled"):
                budget = f"the sample's memory ({limits.memory_mb} MB for all its processes and files) ran out"
                outcome.status, outcome.result = "memory", {"error": f"MemoryError: {budget}"}
        return outcome


class _Pipes:
    """The descriptors bubblewrap (or the gated unsafe boot) reads: info (its pid 1), block
    (wait until the harness has placed that pid in its cgroup), seccomp (the filter)."""

    def __init__(self, bwrap: bool, program: bytes | None) -> None:
        self.ours: dict[str, int] = {}
        self.child_fds: dict[str, int] = {}
        if bwrap:
            self.ours["info"], self.child_fds["info"] = os.pipe()
        self.child_fds["block"], self.ours["block"] = os.pipe()
        if bwrap and program:
            read, write = os.pipe()  # the filter (~500 bytes) fits in the pipe's buffer
            os.write(write, program)
            os.close(write)
            self.child_fds["seccomp"] = read

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_child_ends()
        for fd in self.ours.values():
            _close(fd)
        self.ours.clear()

    def close_child_ends(self) -> None:
        for fd in self.child_fds.values():
            _close(fd)
        self.child_fds = {}

    def sandbox_init(self, deadline: float) -> _Process | None:
        """bubblewrap's pid 1 (the sandbox's init), from what it writes on --info-fd."""
        fd, data = self.ours.pop("info"), b""
        try:
            while len(data) < 4096:
                ready = select.select([fd], [], [], max(0.0, deadline - time.perf_counter()))[0]
                chunk = os.read(fd, 4096) if ready else b""
                if not chunk:
                    break
                data += chunk
        finally:
            _close(fd)
        try:
            pid = json.loads(data)["child-pid"]
        except (ValueError, KeyError, TypeError):
            return None
        return _Process(pid) if isinstance(pid, int) and pid > 1 else None

    def release(self) -> None:
        fd = self.ours.pop("block", None)
        if fd is not None:
            try:
                os.write(fd, b"x")
            except OSError:  # it died already
                pass
            _close(fd)


class _Process:
    """A process held by a pidfd, so that a signal never reaches a reused pid."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        try:
            self.fd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.fd = None

    def kill(self) -> None:
        try:
            if self.fd is not None:
                signal.pidfd_send_signal(self.fd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def reap(self, timeout_s: float) -> None:
        """Wait until it has exited; reap it if it became our child (slmbench is PID 1 or a
        subreaper: bubblewrap's launcher exits without reaping its pid 1)."""
        if self.fd is None:
            return
        try:
            select.select([self.fd], [], [], timeout_s)
            os.waitid(os.P_PIDFD, self.fd, os.WEXITED | os.WNOHANG)
        except (ChildProcessError, OSError, AttributeError):
            pass  # not our child: its parent (init) reaps it
        finally:
            _close(self.fd)
            self.fd = None


def _supervise(proc: subprocess.Popen[bytes], group: cgroups.Group | None, limits: Limits, stop: threading.Event | None,
               start: float) -> str | None:  # fmt: skip
    """Wait for the sandbox to end; why it had to be stopped (wall, cpu, cancelled), or None."""
    deadline = start + limits.wall_s
    try:
        fd: int | None = os.pidfd_open(proc.pid)  # wakes at once (Popen.wait polls in 50 ms steps)
    except (AttributeError, OSError):
        fd = None
    try:
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return "wall"
            step = min(remaining, POLL_S)
            if fd is not None:
                if select.select([fd], [], [], step)[0]:
                    return None
            else:
                try:
                    proc.wait(step)
                    return None
                except subprocess.TimeoutExpired:
                    pass
            if stop is not None and stop.is_set():
                return "cancelled"
            used = group.cpu_s() if group is not None else None
            if used is not None and used > limits.cpu_s:
                return "cpu"
    finally:
        if fd is not None:
            os.close(fd)


def _end(proc: subprocess.Popen[bytes], init: _Process | None, group: cgroups.Group | None, whole_group: bool) -> None:
    """Kill whatever is left and reap every process: the sandbox's pid 1 first (its pid
    namespace dies with it), then bubblewrap's launcher, then pid 1 itself if it came to us.
    whole_group: also the launcher's process group (no pid namespace, or no pid 1 known)."""
    if init is not None:
        init.kill()
    if whole_group:
        if group is not None:  # daemons that left the process group
            group.kill()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    try:
        proc.wait(2.0)  # the launcher exits as soon as its pid 1 has
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    if init is not None:
        init.reap(2.0)


@cache
def _compiled_driver(python: str) -> bytes:
    """The driver as a marshalled code object, compiled once by the interpreter that will run it
    (marshal's format is private to a Python version)."""
    compiler = (
        "import marshal, sys; sys.stdout.buffer.write(marshal.dumps(compile(sys.stdin.read(), 'driver.py', 'exec')))"
    )
    try:
        done = subprocess.run(
            [python, *PY_FLAGS, "-c", compiler], input=DRIVER.encode(), capture_output=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise SlmbenchError(
            f"the sandbox's Python {python} does not run ({exc}); set SLMBENCH_SANDBOX_PYTHON to a working python3"
        ) from None
    return done.stdout


def _outcome(code: int | None, raw: bytes, stderr: str, stopped: str | None, wall: float) -> Outcome:
    if stopped == "wall":
        return Outcome("timeout", {"error": "wall-time limit exceeded"}, stderr, code, wall)
    if stopped == "cpu":
        return Outcome("timeout", {"error": "CPU-time limit exceeded (all processes together)"}, stderr, code, wall)
    if stopped == "cancelled":
        return Outcome("cancelled", {"error": "stopped: the run was interrupted"}, stderr, code, wall)
    if stopped:
        return Outcome("no_result", {"error": stopped}, stderr, code, wall)
    # A signal shows as a negative status, or through bubblewrap's pid 1 as 128 + signal.
    sig = -code if code is not None and code < 0 else code - 128 if code is not None and code > 128 else 0
    if sig:
        if sig == signal.SIGXCPU:
            return Outcome("timeout", {"error": "CPU-time limit exceeded"}, stderr, code, wall)
        if sig == signal.SIGXFSZ:
            return Outcome("output_limit", {"error": "output-size limit exceeded"}, stderr, code, wall)
    if len(raw) > RESULT_MAX:
        return Outcome(
            "output_limit", {"error": f"the result is larger than {RESULT_MAX >> 20} MiB"}, stderr, code, wall
        )
    try:
        result = json.loads(raw)  # at most RESULT_MAX bytes of JSON: bounded time and memory, no lock
    except (ValueError, RecursionError):
        result = None
    if not isinstance(result, dict) or not isinstance(result.get("status"), str):
        if "MemoryError" in stderr:
            return Outcome("memory", {"error": "MemoryError"}, stderr, code, wall)
        why = f"the program ended without a result (exit status {code})"
        return Outcome("no_result", {"error": why}, stderr, code, wall)
    return Outcome(result["status"], result, stderr, code, wall)


def _close(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


def _prefix(python: str) -> str | None:
    """The installation folder of an interpreter outside /usr (e.g. pyenv), to bind read-only."""
    real = Path(python).resolve()
    return str(real.parent.parent) if real.parent.name == "bin" else None


@cache
def _drops_to_nobody() -> bool:
    """Root runs sandboxed code as nobody (the kernel never applies RLIMIT_NPROC to uid 0), where
    nobody exists: root of a user namespace that maps only itself cannot switch to it."""
    if os.geteuid() != 0:
        return False
    try:
        ranges = [line.split() for line in Path("/proc/self/uid_map").read_text().splitlines()]
    except OSError:
        return True
    return any(int(inside) <= NOBODY < int(inside) + int(count) for inside, _, count in ranges)


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
    if not _drops_to_nobody() or _readable_by_nobody(Path(sys.executable)):
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
    groups, no_group = cgroups.detect()
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        if not unsafe:
            raise SlmbenchError(
                "running model-written code needs bubblewrap, which is not installed; install it "
                "(apt-get install bubblewrap) or pass --unsafe-no-sandbox to run it with rlimits only"
            )
        return _checked(Sandbox("unsafe", python, groups=groups, no_group=no_group))
    return _checked(Sandbox("bwrap", python, bwrap, groups, no_group, seccomp.program()))


def _checked(box: Sandbox) -> Sandbox:
    outcome = box.run({"job": "call", "code": "def f():\n    return 1\n", "entry": "f", "inputs": [[]]})
    if outcome.status != "ok" or outcome.result.get("outputs") != [1]:
        hint = ""
        if "namespace" in outcome.stderr or "Operation not permitted" in outcome.stderr:
            hint = (" (bubblewrap needs unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1, "
                    "and on Ubuntu kernel.apparmor_restrict_unprivileged_userns=0)")  # fmt: skip
        last = outcome.stderr.strip().splitlines()[-1:] or [outcome.error]
        raise SlmbenchError(
            f"the code sandbox does not work here: {last[0][:200]}{hint}; pass --unsafe-no-sandbox to run without it"
        )
    return box


__all__ = ["RESULT_MAX", "Limits", "Outcome", "Sandbox", "open_sandbox"]
