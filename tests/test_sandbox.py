"""Security: model-written code that attacks the host must be contained, and be judged a failure.

Most tests run their attack through the coding task's scorer (extraction, sandbox, judge), so
they check both the containment and the verdict that would be recorded; the escape corpus at
the end runs attacks in the sandbox directly and measures, from outside, the host memory they
take. The only network address used is the host's 127.0.0.1.
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
    plan = {
        "kind": "compare",
        "entry": "solve",
        "prefix": "",
        "inputs": [encode(tuple(args))],
        "expected": [encode(expected)],
    }
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
        out = box.run(
            {"job": "call", "code": "def f(x):\n    return x * 2", "entry": "f", "inputs": [encode((21,))]}, FAST
        )
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


# -- the escape corpus: a sample is bounded as a whole -------------------------------------------
# Each attack was measured taking host memory (or the harness, or a slot) beyond its budget
# before the sandbox bounded whole samples; the budget is the default's 1024 MB.

BUDGET = Limits(cpu_s=5, wall_s=10.0, memory_mb=1024, processes=32, output_mb=8, tmp_mb=64)


class HostMemory:
    """The most host memory the harness's sandboxed descendants held at once, measured from
    outside: the PSS of the processes inside a sandbox (another mount namespace) plus what their
    tmpfs mounts hold, polled every 20 ms."""

    def __init__(self):
        self.peak_mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()

    def _poll(self):
        own_ns = os.readlink("/proc/self/ns/mnt")
        while not self._done.wait(0.02):
            total, namespaces = 0, {}
            for pid in _descendants(os.getpid()):
                try:
                    ns = os.readlink(f"/proc/{pid}/ns/mnt")
                except OSError:
                    continue
                # Only the sandboxes' own processes: other children of the test process (a
                # math-verify worker left by an earlier test, say) are not the sample's.
                if ns != own_ns:
                    total += _pss_kb(pid) << 10
                    namespaces.setdefault(ns, pid)
            for pid in namespaces.values():
                total += _tmpfs_bytes(pid)
            self.peak_mb = max(self.peak_mb, total / (1 << 20))


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _tmpfs_bytes(pid: int) -> int:
    used = 0
    try:
        mounts = Path(f"/proc/{pid}/mountinfo").read_text().splitlines()
    except OSError:
        return 0
    for line in mounts:
        left, _, right = line.partition(" - ")
        if right.split()[:1] == ["tmpfs"]:
            try:
                st = os.statvfs(f"/proc/{pid}/root{left.split()[4]}")
            except OSError:
                continue
            used += (st.f_blocks - st.f_bfree) * st.f_frsize
    return used


def attack(box, code, limits=BUDGET):
    """Run `solve()` of code in the sandbox; (outcome, the host memory it took in MB, seconds)."""
    with HostMemory() as memory:
        start = time.monotonic()
        outcome = box.run({"job": "call", "code": code, "entry": "solve", "inputs": [encode(())]}, limits)
        seconds = time.monotonic() - start
    return outcome, memory.peak_mb, seconds


def within_budget(outcome, host_mb, limits=BUDGET):
    assert host_mb <= limits.memory_mb, (
        f"the sample took {host_mb:.0f} MB of host memory ({outcome.status}: {outcome.error})"
    )
    if getattr(outcome, "peak_mb", None) is not None:  # the cgroup's own count
        assert outcome.peak_mb <= limits.memory_mb, outcome.peak_mb


ROOTFS_FILL = """
import os, time
def solve():
    written = {}
    for folder in ("/", "/dev", "/dev/shm", "/tmp", "/proc"):
        total = 0
        for i in range(200):  # files of 8 MB at most: the file-size limit
            try:
                fd = os.open(f"{folder.rstrip('/')}/fill{i}", os.O_WRONLY | os.O_CREAT, 0o600)
            except OSError:
                break
            try:
                while total < 1200 << 20:
                    total += os.write(fd, b"\\x01" * (1 << 20))
            except OSError:
                pass
            finally:
                os.close(fd)
            if total >= 1200 << 20:
                break
        written[folder] = total >> 20
    time.sleep(1)  # hold it while it is measured
    return written
"""


def test_filling_the_root_and_dev_is_refused_and_tmp_is_capped(task):
    outcome, host_mb, _ = attack(task.sandbox, ROOTFS_FILL)
    assert outcome.status == "ok", outcome
    written = _decoded_outputs(outcome)[0]
    assert written["/"] == written["/dev"] == written["/dev/shm"] == written["/proc"] == 0, written
    assert written["/tmp"] <= BUDGET.tmp_mb, written
    within_budget(outcome, host_mb)


FORK_MEMORY = """
import os, time
def solve():
    children = []
    for _ in range(6):
        pid = os.fork()
        if pid == 0:
            try:
                block = b"\\x01" * (900 << 20)  # written, so really held
                time.sleep(1)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return 42
"""


def test_six_children_of_900_mb_stay_within_the_samples_memory(task):
    outcome, host_mb, _ = attack(task.sandbox, FORK_MEMORY)
    within_budget(outcome, host_mb)
    if task.sandbox.groups is not None:  # the group's OOM kill makes it a memory failure, not a pass
        assert outcome.status == "memory" and "ran out" in outcome.error, outcome
        scorer = Coding()
        scorer.limits, scorer.sandbox = BUDGET, task.sandbox
        assert failed_as(judge(scorer, FORK_MEMORY, 42), "memory").startswith(
            "memory: MemoryError: the sample's memory"
        )


def test_without_a_cgroup_the_sample_is_one_process_and_still_within_budget():
    box = open_sandbox()
    single = Sandbox(box.mode, box.python, box.bwrap, None, "none made in this test", box.syscall_filter)
    assert single.describe(BUDGET)["bounds"].startswith("rlimits, single process")
    outcome, host_mb, _ = attack(single, FORK_MEMORY)
    assert outcome.status == "runtime" and "BlockingIOError" in outcome.error, outcome  # fork refused
    within_budget(outcome, host_mb)
    threads = "import threading\ndef solve():\n    t = threading.Thread(target=print)\n    t.start()\n    return 42"
    assert (
        single.run({"job": "call", "code": threads, "entry": "solve", "inputs": [encode(())]}, BUDGET).status
        == "runtime"
    )
    allocate = "def solve():\n    block = b'1' * (1200 << 20)\n    return 42"
    outcome, host_mb, _ = attack(single, allocate)
    assert outcome.status == "memory", outcome
    within_budget(outcome, host_mb)


def test_the_mechanism_in_force_is_what_the_machine_offers():
    from slmbench.sandbox import cgroups

    box = open_sandbox()
    groups, why = cgroups.detect()
    bounds = box.describe(BUDGET)["bounds"]
    if groups is None:
        assert bounds.startswith("rlimits, single process") and why in bounds
    else:
        assert bounds.startswith(groups.describe()) and "1024 MB" in bounds
    on_v1 = Path("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists() and Path("/sys/fs/cgroup/pids").is_dir()
    if os.geteuid() == 0 and on_v1 and not Path("/sys/fs/cgroup/cgroup.controllers").exists():
        assert bounds.startswith("cgroup v1"), bounds  # a root harness on a v1 machine: always the cgroup


RESULT_BOMB = """
import os, sys
from io import UnsupportedOperation
def bomb():
    for fd in range(1, 40):  # the result channel is one of them
        try:
            os.write(fd, PAYLOAD)
        except OSError:
            pass
    os._exit(0)
def solve():
    bomb()
"""


def test_a_result_bomb_costs_the_harness_neither_memory_nor_time():
    """The harness reads a bounded result; a heavy one is refused or parsed in bounded memory,
    while another sample's run goes on."""
    script = f"""
import json, resource, threading, time
from slmbench.sandbox import Limits, open_sandbox, RESULT_MAX
from slmbench.sandbox.driver import encode
box = open_sandbox()
limits = Limits(cpu_s=5, wall_s=20, output_mb=16)
bombs = {{"oversized": "PAYLOAD = b'[' + b'()' * (8 << 20) + b']'",
          "nested_json": "PAYLOAD = b'[' * 100000 + b']' * 100000",
          "wide_json": "PAYLOAD = b'{{\\"status\\": \\"ok\\", \\"outputs\\": [' + b'[],' * ((RESULT_MAX - 64) // 3) + b'[]]}}'"}}
report = {{}}
for name, payload in bombs.items():
    code = {RESULT_BOMB!r}.replace("def bomb", payload.replace("RESULT_MAX", str(RESULT_MAX)) + "\\ndef bomb")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    others = []
    def other():
        for _ in range(3):
            t = time.monotonic()
            box.run({{"job": "call", "code": "def f():\\n    return 1", "entry": "f", "inputs": [encode(())]}})
            others.append(time.monotonic() - t)
    thread = threading.Thread(target=other)
    start = time.monotonic()
    thread.start()
    out = box.run({{"job": "call", "code": code, "entry": "solve", "inputs": [encode(())]}}, limits)
    seconds = time.monotonic() - start
    thread.join()
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    report[name] = {{"status": out.status, "grown_mb": grown, "seconds": seconds, "other_max_s": max(others)}}
print(json.dumps(report))
"""
    report = fresh_python(script)
    # refused unread, refused by the parser, parsed (a claim the scorer then checks, like any other)
    assert [report[k]["status"] for k in ("oversized", "nested_json", "wide_json")] == [
        "output_limit",
        "no_result",
        "ok",
    ], report
    for name, measured in report.items():
        assert measured["grown_mb"] < 100, (name, measured)
        assert measured["seconds"] < 3 and measured["other_max_s"] < 2, (name, measured)


def test_no_zombies_when_slmbench_is_pid_1():
    """Under `unshare --pid --fork`, slmbench is PID 1 and inherits every orphan: after runs that
    end normally, time out, crash and leave daemons, none may be left unreaped."""
    script = """
import json, os
from slmbench.sandbox import Limits, open_sandbox
from slmbench.sandbox.driver import encode
assert os.getpid() == 1
box = open_sandbox()
limits = Limits(cpu_s=2, wall_s=1.5)
codes = ["def f():\\n    return 1", "import time\\ndef f():\\n    time.sleep(60)", "def f():\\n    return 1 / 0",
         "import os, time\\ndef f():\\n    if os.fork() == 0:\\n        os.setsid()\\n        time.sleep(60)\\n    return 1"]
statuses = [box.run({"job": "call", "code": code, "entry": "f", "inputs": [encode(())]}, limits).status for code in codes * 3]
zombies = [p for p in os.listdir("/proc") if p.isdigit() and open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"]
print(json.dumps({"statuses": statuses, "zombies": len(zombies), "runs": len(statuses) + 1}))
"""
    prefix = ["unshare", "--pid", "--fork", "--mount-proc"]
    if os.geteuid() != 0:
        prefix[1:1] = ["--user", "--map-root-user"]
    report = fresh_python(script, prefix)
    assert report["statuses"] == ["ok", "timeout", "runtime", "ok"] * 3, report
    assert report["zombies"] == 0, report


PTRACE_INIT = """
import ctypes, os, time
def solve():
    libc = ctypes.CDLL(None, use_errno=True)
    # pid 1 is bubblewrap's init: stopping it would hold the sandbox until the wall limit
    attached = libc.ptrace(16, 1, 0, 0)  # PTRACE_ATTACH
    return [attached, ctypes.get_errno()]
"""


def test_ptrace_of_the_sandboxs_init_is_refused_and_holds_no_slot(task):
    outcome, _, seconds = attack(task.sandbox, PTRACE_INIT)
    assert outcome.status == "ok" and _decoded_outputs(outcome) == [[-1, 1]], outcome  # EPERM
    assert seconds < 2, seconds


SYSCALLS = """
import ctypes, errno, os, threading, subprocess, sys
def solve():
    libc = ctypes.CDLL(None, use_errno=True)
    def err(result):
        return 0 if result == 0 else ctypes.get_errno()
    got = {
        "ptrace": err(libc.ptrace(0, 0, 0, 0)),  # PTRACE_TRACEME
        "unshare": err(libc.unshare(0x00020000)),  # CLONE_NEWNS
        "mount": err(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
        "umount2": err(libc.umount2(b"/tmp", 2)),
        "setns": err(libc.setns(0, 0)),
        "chroot": err(libc.chroot(b"/tmp")),
        "memfd_create": err(libc.memfd_create(b"x", 0) if libc.memfd_create(b"x", 0) < 0 else 0),
        "process_vm_readv": err(libc.process_vm_readv(1, None, 0, None, 0, 0)),
        "swapon": err(libc.swapon(b"/tmp/x", 0)),
        "keyctl": err(libc.syscall(KEYCTL, 0, 0, 0, 0, 0)),
        "bpf": err(libc.syscall(BPF, 0, 0, 0)),
    }
    if X32:
        got["x32 getpid"] = err(libc.syscall(0x40000000 | 39))
    # what a solution does need still works: threads, processes, files in /tmp
    threading.Thread(target=print).start()
    got["subprocess"] = subprocess.run([sys.executable, "-c", "print(6 * 7)"], capture_output=True, text=True).stdout.strip()
    with open("/tmp/ok.txt", "w") as f:
        got["tmp"] = f.write("ok")
    return got
"""


def test_seccomp_denies_what_no_solution_needs_and_allows_the_rest(task):
    import platform

    x86 = platform.machine() in ("x86_64", "AMD64")
    numbers = {"KEYCTL": 250 if x86 else 219, "BPF": 321 if x86 else 280, "X32": x86}
    code = "\n".join(f"{k} = {v!r}" for k, v in numbers.items()) + SYSCALLS
    outcome = task.sandbox.run({"job": "call", "code": code, "entry": "solve", "inputs": [encode(())]}, BUDGET)
    assert outcome.status == "ok", outcome
    got = _decoded_outputs(outcome)[0]
    assert task.sandbox.describe()["seccomp"].startswith("on ")
    denied = {k: v for k, v in got.items() if k not in ("subprocess", "tmp", "x32 getpid")}
    assert denied == dict.fromkeys(denied, 1), got  # EPERM, from the filter, for every one
    if x86:
        assert got["x32 getpid"] == 38, got  # ENOSYS: the x32 table is refused as a whole
    assert got["subprocess"] == "42" and got["tmp"] == 2


def test_the_sandbox_has_a_read_only_root_and_dev_and_one_capped_writable_mount(task):
    code = ("def solve():\n    found = []\n    for line in open('/proc/self/mountinfo'):\n        left, _, right = line.partition(' - ')\n"
            "        fields = left.split()\n        found.append([fields[4], fields[5].split(',')[0], right.split()[0], right.split()[2]])\n"
            "    return found")  # fmt: skip
    outcome = task.sandbox.run({"job": "call", "code": code, "entry": "solve", "inputs": [encode(())]}, BUDGET)
    mounts = {point: (mode, kind, options) for point, mode, kind, options in _decoded_outputs(outcome)[0]}
    nodes = {
        f"/dev/{n}" for n in ("null", "zero", "full", "random", "urandom", "tty")
    }  # device files, bound one by one
    assert {mounts[n][1] for n in nodes} == {"devtmpfs"}, mounts
    writable = {
        point: m
        for point, m in mounts.items()
        if m[0] == "rw" and m[1] not in ("proc", "devpts") and point not in nodes
    }
    assert mounts["/"][0] == "ro" and mounts["/dev"][0] == "ro", mounts
    assert list(writable) == ["/tmp"] and f"size={BUDGET.tmp_mb * 1024}k" in writable["/tmp"][2], writable


def _decoded_outputs(outcome):
    from slmbench.sandbox.driver import decode

    return [decode(v) for v in outcome.result["outputs"]]


def fresh_python(script: str, prefix: list[str] | None = None) -> dict:
    """Run script in a new interpreter (with this checkout's slmbench); the JSON it prints last."""
    import json
    import subprocess
    import sys

    import slmbench

    env = {**os.environ, "PYTHONPATH": str(Path(slmbench.__file__).parent.parent)}
    done = subprocess.run(
        [*(prefix or []), sys.executable, "-c", script],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_seccomp_program_assembles_for_each_known_architecture():
    import struct

    from slmbench.sandbox import seccomp

    for arch, (audit_arch, table, _) in seccomp.ARCHES.items():
        code = seccomp.program(arch)
        ops = [struct.unpack("=HBBI", code[i : i + 8]) for i in range(0, len(code), 8)]
        assert ops[0] == (0x20, 0, 0, 4) and ops[1][3] == audit_arch  # the ABI is checked first
        assert ops[-3:] == [
            (0x06, 0, 0, 0x7FFF0000),
            (0x06, 0, 0, 0x50001),
            (0x06, 0, 0, 0x50026),
        ]  # allow, EPERM, ENOSYS
        denied = {k for c, _, _, k in ops if c == 0x15}
        assert {table[n] for n in seccomp.DENIED if n in table} <= denied, arch
        assert all(
            i + 1 + max(jt, jf) < len(ops) for i, (c, jt, jf, _) in enumerate(ops) if c != 0x06
        )  # jumps land inside
    assert seccomp.program("riscv64") is None and seccomp.describe("riscv64").startswith("off")


def test_groups_left_by_a_dead_slmbench_are_emptied_and_removed():
    import subprocess

    from slmbench.sandbox import cgroups

    groups, why = cgroups.detect()
    if groups is None:  # nothing to clean where no group can be made; the reason is given instead
        assert why and open_sandbox().describe()["bounds"].startswith("rlimits")
        return
    dead = subprocess.Popen(["true"])
    dead.wait()
    left = cgroups.Group(groups.version, {k: p / f"slmbench-{dead.pid}-0" for k, p in groups.parents.items()})
    for path in left.paths.values():
        path.mkdir()
    orphan = subprocess.Popen(["sleep", "60"])
    left.add(orphan.pid)
    cgroups.clean_stale(groups)
    assert orphan.wait(5) == -signal.SIGKILL
    assert not any(path.exists() for path in left.paths.values())


def test_cpu_time_is_bounded_for_all_processes_together(task):
    """Four processes of 2 CPU s each stay under a 3 s limit one by one, not together."""
    code = """
import os, time
def solve():
    children = []
    for _ in range(4):
        pid = os.fork()
        if pid == 0:
            end = time.process_time() + 2
            while time.process_time() < end:
                pass
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return 42
"""
    limits = Limits(cpu_s=3, wall_s=20.0, memory_mb=1024)
    outcome = task.sandbox.run({"job": "call", "code": code, "entry": "solve", "inputs": [encode(())]}, limits)
    if task.sandbox.groups is None or not task.sandbox.groups.counts_cpu:  # one process only, or per-process CPU
        assert outcome.status in ("runtime", "ok"), outcome
        return
    assert outcome.status == "timeout" and "all processes together" in outcome.error, outcome
    assert limits.cpu_s < outcome.cpu_s < limits.cpu_s + 1, outcome.cpu_s


def test_a_forged_stdio_result_is_a_failure_not_a_crash(task):
    """A program that writes its own 'result' (wrong shape) on the result channel and leaves."""
    plan = {"kind": "stdio", "entry": "", "prefix": "", "inputs": ["1\n", "2\n"], "expected": ["1", "2"]}
    for forged in ('{"status": "ok", "outputs": [1, 2]}', '{"status": "ok", "outputs": ["1"]}', '{"status": "ok"}'):
        code = f"import os\nfor fd in range(1, 40):\n    try:\n        os.write(fd, {forged.encode()!r})\n    except OSError:\n        pass\nos._exit(0)"
        assert task.run_tests(plan, code) == ("runtime_error", "the program did not print one output per test"), forged
    assert task.run_tests(plan, "print(input())") == (None, "all 2 tests passed")
