"""Security: model-written code that attacks the host must be contained, and be judged a failure.

Every test runs its attack through the coding task's scorer (extraction, sandbox, judge), so
it checks both the containment and the verdict that would be recorded. The only network
address used is the host's 127.0.0.1.
"""

import os
import shutil
import signal
import socket
import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from slmbench.client import Completion
from slmbench.errors import SlmbenchError
from slmbench.sandbox import Limits, Sandbox, open_sandbox
from slmbench.sandbox.driver import encode
from slmbench.tasks.base import Sample
from slmbench.tasks.code_data import humaneval
from slmbench.tasks.coding import Coding

FAST = Limits(cpu_s=3, wall_s=4.0, memory_mb=512, processes=32, output_mb=4)


@pytest.fixture(scope="module")
def task():
    coding = Coding()
    coding.limits = FAST
    coding.sandbox = open_sandbox()
    assert coding.sandbox.mode == "bwrap"  # CI installs bubblewrap; these tests are about it
    return coding


def judge(task, code, expected=42, args=()):
    """The verdict for code whose `solve(*args)` should return `expected`."""
    plan = {"kind": "compare", "entry": "solve", "prefix": "", "inputs": [encode(tuple(args))], "expected": [encode(expected)]}
    sample = Sample(id="attack", messages=[{"role": "user", "content": "x"}], target=plan, meta={"problem": "attack"})
    return task.score(sample, Completion(f"```python\n{code}\n```", "stop", 1, 1, 0.1, 1))


def failed_as(verdict, kind):
    assert verdict.verdict == "wrong", verdict
    assert verdict.parts.get(f"fail_{kind}") == 1.0, verdict
    return verdict.why


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            pass
    return found


def test_cannot_connect_to_a_server_on_the_hosts_loopback(task):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted, judged = [], threading.Event()

    def accept():
        while not judged.is_set():
            try:
                accepted.append(server.accept())
            except TimeoutError:
                pass

    thread = threading.Thread(target=accept)
    thread.start()
    code = f"""
import socket
def solve():
    s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
    s.sendall(b"leak")
    return 42
"""
    why = failed_as(judge(task, code), "runtime_error")
    judged.set()
    thread.join()
    server.close()
    assert "ConnectionRefusedError" in why
    assert accepted == []
    # Only a loopback of its own: no interface leads anywhere.
    interfaces = judge(task, "import socket\ndef solve():\n    return [n for _, n in socket.if_nameindex()]", ["lo"])
    assert interfaces.verdict == "ok"
    # Nor can it make itself a namespace with more rights.
    code = ("import ctypes, os\ndef solve():\n    libc = ctypes.CDLL(None, use_errno=True)\n"
            "    if libc.unshare(0x10000000 | 0x40000000) != 0:  # CLONE_NEWUSER | CLONE_NEWNET\n"
            "        raise OSError(ctypes.get_errno(), 'unshare refused')\n    return 42")  # fmt: skip
    assert "unshare refused" in failed_as(judge(task, code), "runtime_error")


def test_cannot_write_outside_its_temp_dir(task, tmp_path):
    target = tmp_path / "escaped.txt"
    marker = f"/tmp/slmbench-marker-{uuid.uuid4().hex}"
    code = f"""
def solve():
    open({str(marker)!r}, "w").write("inside")  # its own /tmp: allowed, and private
    for path in ({str(target)!r}, "/usr/escaped.txt", "/etc/escaped.txt", "/root/escaped.txt"):
        try:
            open(path, "w").write("escaped")
            return 42
        except OSError:
            pass
    raise PermissionError("every write outside /tmp failed")
"""
    why = failed_as(judge(task, code), "runtime_error")
    assert "every write outside /tmp failed" in why
    assert not target.exists() and not Path("/usr/escaped.txt").exists() and not Path(marker).exists()


def test_cannot_read_ssh_keys_environment_or_the_run_store(task, tmp_path, monkeypatch):
    secret = uuid.uuid4().hex
    ssh = tmp_path / "home" / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "id_ed25519").write_text(secret)
    store = tmp_path / "slmbench.sqlite"
    with sqlite3.connect(store) as db:
        db.execute("CREATE TABLE responses (text TEXT)")
        db.execute("INSERT INTO responses VALUES (?)", (secret,))
    monkeypatch.setenv("SLMBENCH_TEST_SECRET", secret)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # Each attack returns the secret if it gets it: a pass would mean a leak.
    reads = {
        "ssh": f"import os\ndef solve():\n    return open(os.path.expanduser('~/.ssh/id_ed25519')).read() or open({str(ssh / 'id_ed25519')!r}).read()",
        "ssh_abs": f"def solve():\n    return open({str(ssh / 'id_ed25519')!r}).read()",
        "real_home": "import os\ndef solve():\n    return str(os.listdir('/root') + os.listdir('/home'))",
        "env": "import os\ndef solve():\n    return os.environ.get('SLMBENCH_TEST_SECRET') or str(dict(os.environ))",
        "store": f"import sqlite3\ndef solve():\n    return sqlite3.connect({str(store)!r}).execute('SELECT text FROM responses').fetchone()[0]",
        "proc": "def solve():\n    return open('/proc/1/environ').read() + open('/proc/self/environ').read()",
    }
    for name, code in reads.items():
        verdict = judge(task, code, secret)
        assert verdict.verdict == "wrong", (name, verdict)
        assert f"returned {secret}" not in verdict.why
    env = judge(task, "import os\ndef solve():\n    return sorted(os.environ)", ["HOME", "LANG", "PATH", "PWD"])
    assert env.verdict == "ok"  # what the sandbox sets, and nothing else


def test_fork_bomb_is_capped_and_leaves_nothing_behind(task):
    marker = f"forkbomb-{uuid.uuid4().hex}"
    code = f"""
import os, sys
sys.argv.append({marker!r})
def solve():
    while True:
        os.fork()
"""
    start = time.monotonic()
    verdict = judge(task, code)
    assert verdict.verdict == "wrong" and (verdict.parts.get("fail_runtime_error") or verdict.parts.get("fail_timeout"))
    assert time.monotonic() - start < FAST.wall_s + 5
    time.sleep(0.5)
    assert not [p for p in processes_with("The program that runs inside the sandbox") if _uid(p) == 65534]


def test_allocating_10_gb_is_a_memory_failure(task):
    why = failed_as(judge(task, "def solve():\n    block = bytearray(10 * 1024**3)\n    return 42"), "memory")
    assert "MemoryError" in why


def test_printing_1_gb_hits_the_output_limit(task):
    code = "import sys\ndef solve():\n    chunk = 'x' * (1 << 20)\n    for _ in range(1024):\n        sys.stdout.write(chunk)\n    return 42"
    start = time.monotonic()
    why = failed_as(judge(task, code), "runtime_error")
    assert "output-size limit" in why, why
    assert time.monotonic() - start < FAST.wall_s


def test_sleeping_forever_is_killed_at_the_wall_time_limit(task):
    start = time.monotonic()
    why = failed_as(judge(task, "import time\ndef solve():\n    time.sleep(10**6)"), "timeout")
    assert "wall-time" in why
    assert FAST.wall_s <= time.monotonic() - start < FAST.wall_s + 3


def test_busy_loop_hits_the_cpu_limit(task):
    why = failed_as(judge(task, "def solve():\n    while True:\n        pass"), "timeout")
    assert "limit exceeded" in why


def test_cannot_kill_its_parent_or_the_harness(task):
    sentinel = os.fork()
    if sentinel == 0:  # a process of the harness's user, outside the sandbox
        time.sleep(30)
        os._exit(0)
    try:
        code = f"""
import os, signal
def solve():
    hit = []
    for pid in ({os.getpid()}, {sentinel}, os.getppid()):
        try:
            os.kill(pid, signal.SIGKILL)
            hit.append(pid)
        except OSError:
            pass
    os.kill(-1, signal.SIGKILL)  # everything it may signal
    return 42
"""
        verdict = judge(task, code)
        assert verdict.verdict == "wrong" and verdict.parts.get("fail_runtime_error") == 1.0, verdict
        assert os.waitpid(sentinel, os.WNOHANG) == (0, 0)  # the sentinel lives
    finally:
        os.kill(sentinel, signal.SIGKILL)
        os.waitpid(sentinel, 0)


def test_a_daemon_does_not_outlive_the_run(task):
    marker = f"daemon-{uuid.uuid4().hex}"
    code = f"""
import os, sys
def solve():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", {marker!r}])
        os._exit(0)
    return 42
"""
    verdict = judge(task, code)
    assert verdict.verdict == "ok"  # the answer itself is right; the daemon must still die
    deadline = time.monotonic() + 3
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_with(marker) == []


FORGERIES = {
    # Write a passing-looking result on the result fd, then leave before the driver does.
    "forged_result": "import os\nos.write(os.dup(1) if False else 3, b'')\n"
    "def solve():\n    import os, sys\n    for fd in range(1, 20):\n        try:\n"
    "            os.write(fd, repr({'status': 'ok', 'outputs': [42], 'pass': True}).encode())\n"
    "        except OSError:\n            pass\n    os._exit(0)",
    # Frame walking: rewrite the driver's encoder and result in the caller's frames.
    "frames": "import sys\ndef solve():\n    f = sys._getframe(1)\n    while f:\n"
    "        f.f_globals['encode'] = lambda v, depth=0: 42\n        f.f_globals['decode'] = lambda v: 42\n        f = f.f_back\n"
    "    return 41",
    # sys.modules / builtins: replace what a checker would use to compare or report.
    "modules": "import sys, builtins\nsys.modules['json'] = None\nbuiltins.repr = lambda v: \"{'status': 'pass'}\"\n"
    "builtins.AssertionError = type('Never', (Exception,), {})\ndef solve():\n    return 41",
    # An answer equal to everything.
    "always_equal": "class Any(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
    "def solve():\n    return Any(41)",
    "exit_zero": "import sys\nsys.exit(0)",
}


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_patching_the_checker_cannot_report_success(task, name):
    # The right answer is a number the code never sees; only the harness holds it.
    secret = int.from_bytes(os.urandom(6), "big")
    verdict = judge(task, FORGERIES[name], secret)
    assert verdict.verdict == "wrong" and verdict.score == 0.0, verdict
    # ... whereas code that computes it passes, so a pass is possible at all.
    assert judge(task, "def solve(x):\n    return x + 1", secret, (secret - 1,)).verdict == "ok"


def test_forging_a_pass_against_the_data_sets_own_tests_fails(task):
    """HumanEval's check() runs in a judge process that never sees model code."""
    _, _, plan, _ = next(p for p in humaneval() if p[0] == "HumanEval/0")
    attacks = [
        # Break the assertion machinery, forge a judge-style "pass", exit early.
        (
            "import builtins, os\nbuiltins.AssertionError = type('Never', (Exception,), {})\n"
            "def has_close_elements(numbers, threshold):\n    os.write(1, repr({'status': 'pass'}).encode())\n    os._exit(0)"
        ),
        # Walk up to the caller and replace its check function.
        (
            "import sys\ndef has_close_elements(numbers, threshold):\n    f = sys._getframe(1)\n"
            "    f.f_globals['check'] = lambda candidate: None\n    f.f_globals['_judge'] = lambda job: {'status': 'pass'}\n    return None"
        ),
    ]
    for code in attacks:
        kind, why = task.run_tests(plan, code)
        assert kind is not None, why
    gold = plan["context"]
    assert task.run_tests(plan, gold) == (None, f"the data set's tests passed ({len(task._record(plan)[0])} calls)")


def test_without_bubblewrap_it_refuses_unless_told_to_run_unsafely(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    open_sandbox.cache_clear()
    try:
        with pytest.raises(SlmbenchError, match="needs bubblewrap.*--unsafe-no-sandbox"):
            open_sandbox()
        box = open_sandbox(unsafe=True)
        assert box.mode == "unsafe" and "WITHOUT a sandbox" in box.describe()["warning"]
        out = box.run({"job": "call", "code": "def f(x):\n    return x * 2", "entry": "f", "inputs": [encode((21,))]}, FAST)
        assert out.result["outputs"] == [42]
        # rlimits still apply in the unsafe mode
        assert box.run({"job": "call", "code": "def f():\n    return bytearray(10 * 1024**3)", "entry": "f",
                        "inputs": [encode(())]}, FAST).status == "memory"  # fmt: skip
    finally:
        open_sandbox.cache_clear()


def test_a_broken_bubblewrap_is_reported_in_one_line(monkeypatch):
    # A folder nobody can read (the sandbox starts as nobody when the tests run as root).
    folder = Path(tempfile.mkdtemp(prefix="slmbench-fake-bwrap-"))
    folder.chmod(0o755)
    fake = folder / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}:/usr/bin:/bin")
    open_sandbox.cache_clear()
    try:
        with pytest.raises(SlmbenchError) as err:
            open_sandbox()
        assert "unprivileged user namespaces" in str(err.value) and "\n" not in str(err.value)
    finally:
        open_sandbox.cache_clear()
        shutil.rmtree(folder)


def test_sandbox_command_hides_home_etc_and_the_network():
    box = Sandbox("bwrap", "/usr/bin/python3", "/usr/bin/bwrap")
    cmd = box.command(64)
    assert {"--unshare-all", "--disable-userns", "--die-with-parent", "--new-session", "--clearenv"} <= set(cmd)
    assert "--share-net" not in cmd
    bound = {cmd[i + 2] for i, a in enumerate(cmd) if a in ("--ro-bind", "--bind")}
    assert "--bind" not in cmd and not bound & {"/", "/home", "/root", "/etc", "/tmp", "/work"}


def _uid(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
