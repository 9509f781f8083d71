"""NVIDIA GPUs as nvidia-smi reports them: what there is, how much memory is in use, and
waiting for a stopped server's memory to come back before the next one starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import SlmbenchError

MiB = 1024**2
# What a stopped server may leave behind and still count as gone (driver bookkeeping, other
# small processes that started meanwhile); a vLLM server holds most of the card.
RELEASE_SLACK_MIB = 1024


@dataclass(frozen=True)
class Gpu:
    index: int
    name: str
    total_mib: int
    used_mib: int | None  # None where nvidia-smi says [N/A] (MIG, some virtual GPUs)

    @property
    def free_mib(self) -> int | None:
        return None if self.used_mib is None else self.total_mib - self.used_mib


def gpus() -> list[Gpu] | None:
    """Every GPU nvidia-smi lists, in its (PCI bus) order; None without nvidia-smi or a GPU."""
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=index,name,memory.total,memory.used", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout  # fmt: skip
    except (subprocess.SubprocessError, OSError):
        return None
    found = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 4 or not parts[0].isdigit() or not parts[-2].isdigit():
            continue
        used = int(parts[-1]) if parts[-1].isdigit() else None
        found.append(Gpu(int(parts[0]), ", ".join(parts[1:-2]), int(parts[-2]), used))
    return found or None


def visible(all_gpus: list[Gpu]) -> list[Gpu]:
    """The GPUs CUDA_VISIBLE_DEVICES leaves (indices only; UUIDs and MIG names leave all)."""
    setting = os.environ.get("CUDA_VISIBLE_DEVICES")
    if setting is None or not all(p.strip().isdigit() for p in setting.split(",") if p.strip()):
        return all_gpus
    by_index = {g.index: g for g in all_gpus}
    return [by_index[int(p)] for p in setting.split(",") if p.strip() and int(p) in by_index]


def used(indices: list[int]) -> dict[int, int] | None:
    """Memory in use (MiB) on these GPUs now; None when it cannot be read."""
    now = gpus()
    if now is None:
        return None
    by_index = {g.index: g.used_mib for g in now}
    if any(by_index.get(i) is None for i in indices):
        return None
    return {i: by_index[i] for i in indices}  # type: ignore[misc]


def check_free(indices: list[int], utilization: float, what: str) -> None:
    """vLLM refuses to start unless utilization x total is free on each GPU; say so before it tries."""
    now = {g.index: g for g in gpus() or []}
    for i in indices:
        g = now.get(i)
        if g is None:
            raise SlmbenchError(
                f"{what}: GPU {i} is not in nvidia-smi's list ({', '.join(map(str, sorted(now))) or 'none'}); fix gpus"
            )
        if g.free_mib is None:
            continue
        need = utilization * g.total_mib
        if g.free_mib < need:
            share = max(0.05, int((g.free_mib / g.total_mib - 0.02) * 100) / 100)
            raise SlmbenchError(
                f"{what}: GPU {i} has {g.free_mib / 1024:.1f} of {g.total_mib / 1024:.1f} GiB free, but vLLM needs "
                f"gpu_memory_utilization {utilization:g} x {g.total_mib / 1024:.1f} = {need / 1024:.1f} GiB; stop what holds "
                f"it (see nvidia-smi) or set gpu_memory_utilization = {share:g} for this model"
            )


def wait_released(
    baseline: dict[int, int], *, timeout_s: float, what: str, say: Callable[[str], None], poll_s: float = 0.5
) -> bool:
    """Wait until each GPU's memory in use is back to what it was before the server started
    (plus RELEASE_SLACK_MIB); say how long it took or, after timeout_s, what still holds it."""
    started = time.monotonic()
    while True:
        now = used(list(baseline))
        if now is None:
            say(f"{what}: cannot read GPU memory from nvidia-smi; not waiting for it to be released")
            return False
        held = {i: mib for i, mib in now.items() if mib > baseline[i] + RELEASE_SLACK_MIB}
        if not held:
            say(f"{what}: GPU memory released in {time.monotonic() - started:.1f} s")
            return True
        if time.monotonic() - started > timeout_s:
            detail = "; ".join(f"GPU {i}: {mib / 1024:.1f} GiB in use (was {baseline[i] / 1024:.1f} GiB before it started)"
                               for i, mib in held.items())  # fmt: skip
            say(
                f"{what}: GPU memory still held {timeout_s:g} s after vLLM stopped ({detail}); a leftover process may "
                "hold it (see nvidia-smi), and the next model may not start; release_timeout_s sets this wait"
            )
            return False
        time.sleep(poll_s)
