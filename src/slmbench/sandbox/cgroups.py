"""One cgroup per sample: memory (every process and every tmpfs page it writes, together),
process count and CPU time bounded for the sample as a whole.

cgroup v2 where its memory and pids controllers can be delegated below this process's own
cgroup; else cgroup v1 where the machine mounts the memory and pids hierarchies (and cpuacct,
for CPU time, when mounted) and they are writable. `detect()` says which, or why neither.
Groups are made below this process's own cgroup (so every limit above still applies), named
slmbench-PID-N, and removed after the run; groups left by a dead slmbench are emptied and
removed by the next one.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

_PREFIX = "slmbench-"
_COUNTER = itertools.count()


@dataclass(frozen=True, slots=True)
class Cgroups:
    """Where per-sample groups are made: version 1 or 2, and the parent folder per controller
    (v2: one folder, under the key "")."""

    version: int
    parents: dict[str, Path]

    @property
    def counts_cpu(self) -> bool:
        return self.version == 2 or "cpuacct" in self.parents

    def describe(self) -> str:
        if self.version == 2:
            return "cgroup v2 (memory, pids, cpu.stat)"
        return f"cgroup v1 ({', '.join(sorted(self.parents))})"

    def make(self, memory_mb: int, pids: int) -> Group:
        """A new group for one sample, its limits set. Raises OSError if the kernel refuses."""
        name = f"{_PREFIX}{os.getpid()}-{next(_COUNTER)}"
        group = Group(self.version, {controller: parent / name for controller, parent in self.parents.items()})
        try:
            for path in group.paths.values():
                path.mkdir()
            limit = str(memory_mb << 20)
            memory, pid_dir = group.folder("memory"), group.folder("pids")
            if self.version == 2:
                (memory / "memory.max").write_text(limit)
                _write_if_present(memory / "memory.swap.max", "0")
                _write_if_present(memory / "memory.oom.group", "1")  # an OOM kill takes the whole sample
            else:
                (memory / "memory.limit_in_bytes").write_text(limit)
                _write_if_present(memory / "memory.memsw.limit_in_bytes", limit)  # no escape into swap
            (pid_dir / "pids.max").write_text(str(pids))
        except OSError:
            group.remove()
            raise
        return group


@dataclass(slots=True)
class Group:
    """One sample's group: its folder per controller (v2: one folder, under "")."""

    version: int
    paths: dict[str, Path]
    removed: bool = field(default=False)

    def folder(self, controller: str) -> Path:
        return self.paths[""] if self.version == 2 else self.paths[controller]

    def add(self, pid: int) -> None:
        for path in self.paths.values():
            (path / "cgroup.procs").write_text(str(pid))

    def cpu_s(self) -> float | None:
        """CPU seconds used by every process of the sample so far."""
        try:
            if self.version == 2:
                return _keyed(self.paths[""] / "cpu.stat")["usage_usec"] / 1e6
            return int((self.paths["cpuacct"] / "cpuacct.usage").read_text()) / 1e9 if "cpuacct" in self.paths else None
        except (OSError, ValueError, KeyError):
            return None

    def peak_mb(self) -> float | None:
        """The most memory the sample held at once (its processes, tmpfs pages and kernel memory)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"  # memory.peak: Linux 5.19+
        try:
            return int((self.folder("memory") / name).read_text()) / (1 << 20)
        except (OSError, ValueError):
            return None

    def oom_kills(self) -> int:
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            return _keyed(self.folder("memory") / name).get("oom_kill", 0)
        except (OSError, ValueError):
            return 0

    def kill(self) -> None:
        """SIGKILL every process in the group (the end of the pid namespace does it too; this is
        for the unsafe mode, which has none)."""
        if self.version == 2 and _write_if_present(self.paths[""] / "cgroup.kill", "1"):  # Linux 5.14+
            return
        for _ in range(100):  # a process may fork while the list is read: repeat until none is left
            pids = _procs(self.folder("pids"))
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.005)

    def remove(self, wait_s: float = 2.0) -> None:
        """Remove the group; its processes must be gone or dying (waits wait_s for them to leave)."""
        if self.removed:
            return
        deadline = time.monotonic() + wait_s
        for path in self.paths.values():
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # a killed process is still leaving the group
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.005)
        self.removed = True


def detect() -> tuple[Cgroups | None, str]:
    """The cgroups per-sample groups can be made in, or None and the reason."""
    mounts = _mounts()
    own = _own_cgroups()
    why = []
    v2 = next((m for m in mounts if m[2] == "cgroup2"), None)
    if v2 is not None and "" in own:
        parent = _inside(v2, own[""])
        found, reason = _probe_v2(parent) if parent else (None, "this process's cgroup v2 is not mounted here")
        if found:
            return found, "cgroup v2"
        why.append(reason)
    parents: dict[str, Path] = {}
    for controller in ("memory", "pids", "cpuacct"):
        mount = next((m for m in mounts if m[2] == "cgroup" and controller in m[3].split(",")), None)
        path = own.get(controller)
        if mount is not None and path is not None:
            folder = _inside(mount, path)
            if folder is not None:
                parents[controller] = folder
    if "memory" in parents and "pids" in parents:
        found, reason = _probe(Cgroups(1, parents))
        if found is None and "cpuacct" in parents:  # CPU time is then bounded per process only
            found, _ = _probe(Cgroups(1, {k: v for k, v in parents.items() if k != "cpuacct"}))
        if found:
            return found, "cgroup v1"
        why.append(reason)
    elif not why:
        why.append(
            "no cgroup v2 with memory and pids controllers, and no cgroup v1 memory and pids hierarchies mounted"
        )
    return None, "; ".join(why)


def clean_stale(groups: Cgroups) -> None:
    """Empty and remove the groups of slmbench processes that no longer run."""
    for parent in groups.parents.values():
        try:
            children = [p for p in parent.iterdir() if p.is_dir() and p.name.startswith(_PREFIX)]
        except OSError:
            continue
        for child in children:
            owner = child.name[len(_PREFIX) :].split("-")[0]
            if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                stale = Group(groups.version, {"pids" if groups.version == 1 else "": child})
                stale.kill()
                stale.remove(wait_s=0.2)  # still busy: processes of another pid namespace, not ours to end


def _probe_v2(parent: Path) -> tuple[Cgroups | None, str]:
    try:
        available = (parent / "cgroup.controllers").read_text().split()
    except OSError as exc:
        return None, f"cannot read {parent}/cgroup.controllers ({exc.strerror})"
    if not {"memory", "pids"} <= set(available):
        return None, f"cgroup v2 at {parent} does not offer the memory and pids controllers"
    try:
        enabled = (parent / "cgroup.subtree_control").read_text().split()
        missing = [c for c in ("memory", "pids") if c not in enabled]
        if missing:
            (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
    except OSError as exc:
        # e.g. EBUSY: processes live in this cgroup itself (the "no internal processes" rule)
        return None, f"cannot delegate memory and pids below {parent} ({exc.strerror})"
    return _probe(Cgroups(2, {"": parent}))


def _probe(groups: Cgroups) -> tuple[Cgroups | None, str]:
    try:
        groups.make(64, 8).remove()
    except OSError as exc:
        return None, f"cannot make a {groups.describe()} group ({exc.strerror or exc})"
    clean_stale(groups)
    return groups, ""


def _mounts() -> list[tuple[str, str, str, str]]:
    """(root inside the hierarchy, mount point, type, super options) of each cgroup mount."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((_unescape(fields[3]), _unescape(fields[4]), tail[0], tail[2]))
    return found


def _own_cgroups() -> dict[str, str]:
    """This process's cgroup path per v1 controller, and under "" its v2 path."""
    found: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            found[controller] = path
    return found


def _inside(mount: tuple[str, str, str, str], path: str) -> Path | None:
    root, point = mount[0], mount[1]
    if root != "/" and path != root and not path.startswith(root + "/"):
        return None
    relative = path[len(root) :] if root != "/" else path
    return Path(point) / relative.lstrip("/")


def _keyed(path: Path) -> dict[str, int]:
    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def _procs(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _write_if_present(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except FileNotFoundError:
        return False
    except OSError:
        return False


def _unescape(text: str) -> str:
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
