"""A vLLM model in `slmbench eval`: planned for the detected GPU, started (one server, or one
replica per group of GPUs), evaluated, stopped, and its GPU memory waited for before the
next model starts.

A re-run whose answers are all stored starts nothing. The cache key includes the endpoint's
identity (vLLM version, chat template), which only a running server can tell, and the long
prompts are sized with its tokenizer. So each launch leaves a record in the store, under a key
made of the `vllm serve` flags and the vLLM executable: the identity the server had and every
token count asked of it. Asked for the same model with the same flags, the record answers
both, and the runner checks whether every request is stored before anything starts.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from .. import plan as planner
from ..config import ModelSpec
from ..errors import SlmbenchError
from ..profiles import resolve
from . import gpu
from .base import Endpoint

Say = Callable[[str], None]

TABLE = "CREATE TABLE IF NOT EXISTS vllm_launches (key TEXT PRIMARY KEY, record TEXT NOT NULL, updated REAL NOT NULL)"


class ReplayMiss(Exception):
    """A token count the record lacks: the server must start after all."""


def _key(kind: str, value: Any) -> str:
    return kind + hashlib.sha256(orjson.dumps(value)).hexdigest()


class RecordingCounter:
    """The server's token counter, remembering every answer for the launch record."""

    def __init__(self, inner: Any, counts: dict[str, int]) -> None:
        self.inner, self.counts = inner, counts
        self.source, self.exact = inner.source, inner.exact

    def count(self, text: str) -> int:
        key = _key("t", text)
        if key not in self.counts:
            self.counts[key] = self.inner.count(text)
        return self.counts[key]

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        key = _key("m", messages)
        if key not in self.counts:
            self.counts[key] = self.inner.count_messages(messages)
        return self.counts[key]


class ReplayCounter:
    """Token counts a server gave on an earlier launch, without the server."""

    def __init__(self, counts: dict[str, int], source: str, exact: bool) -> None:
        self.counts, self.source, self.exact = counts, source, exact

    def count(self, text: str) -> int:
        return self._get(_key("t", text))

    def count_messages(self, messages: list[dict[str, str]]) -> int:
        return self._get(_key("m", messages))

    def _get(self, key: str) -> int:
        if key not in self.counts:
            raise ReplayMiss(key)
        return self.counts[key]


def recall(db: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    db.execute(TABLE)
    row = db.execute("SELECT record FROM vllm_launches WHERE key = ?", (key,)).fetchone()
    return orjson.loads(row[0]) if row else None


def remember(db: sqlite3.Connection, key: str, record: dict[str, Any]) -> None:
    db.execute(TABLE)
    with db:
        db.execute("BEGIN")
        db.execute("INSERT OR REPLACE INTO vllm_launches (key, record, updated) VALUES (?, ?, ?)",
                   (key, orjson.dumps(record).decode(), time.time()))  # fmt: skip


def launch_key(argv: list[str], binary: Path) -> str:
    """The `vllm serve` flags without port and host, and which vLLM executable (an upgrade
    rewrites it): the same key means the same server answering the same way."""
    flags = list(argv[1:])
    for flag in ("--port", "--host"):
        while flag in flags:
            i = flags.index(flag)
            del flags[i : i + 2]
    try:
        st = binary.resolve().stat()
        exe = [str(binary.resolve()), st.st_size, st.st_mtime_ns]
    except OSError:
        exe = [str(binary)]
    return hashlib.sha256(orjson.dumps({"flags": flags, "vllm": exe})).hexdigest()


def preflight_vllm(spec: ModelSpec) -> None:
    """Before any model starts: vLLM is there, the model is known, a GPU is there, and the
    values make sense (whether the model fits is that model's own outcome, on its turn)."""
    from .vllm import find_vllm

    find_vllm()
    profile = resolve(spec.hf or spec.name, hub=spec.hub)
    if spec.gpu is None and gpu.gpus() is None:
        raise SlmbenchError(
            f"model {spec.name}: no NVIDIA GPU found (nvidia-smi), and vLLM needs one; evaluate a GGUF with "
            "llama.cpp here (--gguf), or set gpu = NAME in the model's entry to plan for a card anyway"
        )
    device = planner.find_gpu(spec.gpu) if spec.gpu else planner.GPUS["h200"]  # any card checks the values
    try:
        planner.make_request(profile, device, weights=spec.weights, kv=spec.kv_dtype, context=spec.context,
                             utilization=spec.gpu_memory_utilization, tp=spec.tp, dp=spec.dp)  # fmt: skip
    except SlmbenchError as exc:
        raise SlmbenchError(f"model {spec.name}: {exc}") from None


def eval_plan(spec: ModelSpec, say: Say) -> planner.Plan:
    """The plan `slmbench serve --backend vllm` would make for this model on this GPU."""
    from .launch import ServeOptions, vllm_plan

    profile = resolve(spec.hf or spec.name, hub=spec.hub)
    opts = ServeOptions(model=spec.hf or spec.name, backend="vllm", gpu=spec.gpu, weights=spec.weights,
                        kv_dtype=spec.kv_dtype, gpu_memory_utilization=spec.gpu_memory_utilization, tp=spec.tp,
                        dp=spec.dp, context=spec.context)  # fmt: skip
    return vllm_plan(opts, profile, lambda line: say(f"{spec.name}: {line}"))


def gpu_groups(spec: ModelSpec, found: list[gpu.Gpu] | None) -> tuple[list[list[int]] | None, list[int]]:
    """(GPU indices per server, for CUDA_VISIBLE_DEVICES; local GPUs whose memory to watch).
    No groups when nvidia-smi is not there to say, or when Ray places the workers."""
    groups = spec.vllm_gpu_groups
    if groups is not None:
        return groups, sorted({i for group in groups for i in group})
    if found is None:
        return None, []
    shown = gpu.visible(found)
    if spec.distributed_executor_backend == "ray":
        return None, [g.index for g in shown]
    need = spec.tp * spec.dp
    if len(shown) < need:
        raise SlmbenchError(
            f"{spec.name}: tp x dp = {need} GPUs, but {len(shown)} visible here; lower tp/dp, or for several "
            "machines set distributed_executor_backend = 'ray' after `ray start` (see the README)"
        )
    group = [g.index for g in shown[:need]]
    return [group], group


def extra_args(spec: ModelSpec) -> list[str]:
    args = list(spec.extra_args)
    if spec.distributed_executor_backend:
        args = ["--distributed-executor-backend", spec.distributed_executor_backend, *args]
    return args


@contextmanager
def vllm_endpoint(
    spec: ModelSpec,
    *,
    log_dir: Path,
    say: Say = print,
    db: sqlite3.Connection | None = None,
    all_cached: Callable[[Endpoint], bool] | None = None,
) -> Iterator[Endpoint]:
    """A ready endpoint for a vLLM model (replicas balanced as one); every server started here is
    stopped on every exit path, and the GPU memory waited for."""
    from . import process
    from .vllm import VllmServer, find_vllm, kv_report, vllm_argv

    binary = find_vllm()
    found = gpu.gpus()
    pl = eval_plan(spec, say)
    groups, indices = gpu_groups(spec, found)
    args = extra_args(spec)
    key = launch_key([*vllm_argv("vllm", pl, port=0, host="-", served_name=spec.name), *args], binary)

    record = recall(db, key) if db is not None else None
    if record is not None and all_cached is not None:
        ep = stored_endpoint(spec, record)
        try:
            cached = all_cached(ep)
        except ReplayMiss:
            cached = False
        if cached:
            say(f"{spec.name}: every answer is in the store; vLLM not started")
            yield ep
            return

    if found is not None and indices:
        gpu.check_free(indices, spec.gpu_memory_utilization, spec.name)
    baseline = gpu.used(indices) if indices else None
    counts: dict[str, int] = {}
    ready: Endpoint | None = None
    interrupted = False
    try:
        with ExitStack() as stack:
            endpoints = []
            for n, group in enumerate(groups or [None]):  # type: ignore[list-item]
                env = (
                    {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": ",".join(map(str, group))}
                    if group
                    else None
                )
                suffix = f".{n}" if groups and len(groups) > 1 else ""
                server = VllmServer(
                    plan=pl, binary=binary, log_path=log_dir / f"{spec.name.replace('/', '_')}.vllm{suffix}.log",
                    served_name=spec.name, port=None if spec.port is None else spec.port + n,
                    ready_timeout_s=spec.ready_timeout_s, extra_args=args, env=env,
                )  # fmt: skip
                started = time.monotonic()
                endpoints.append(stack.enter_context(server))
                where = f" on GPU {','.join(map(str, group))}" if group else ""
                allocated = kv_report(process.tail(server.log_path, 400))
                kv = f"; {allocated} (plan: {pl.max_context:,} tokens for one sequence)" if allocated else ""
                say(
                    f"{spec.name}: vLLM ready{where} in {time.monotonic() - started:.1f} s ({endpoints[-1].base_url}){kv}"
                )
            ready = _one_model(spec, endpoints)
            from . import tokens

            budget = tokens.probe_budget(ready)
            ready = replace(ready, budget=tokens.Budget(RecordingCounter(budget.counter, counts), budget.max_context))
            yield ready
    except (KeyboardInterrupt, SystemExit):
        interrupted = True  # stopped all the same; the user is not kept waiting for the memory
        raise
    finally:
        if db is not None and ready is not None and ready.budget is not None:
            _save(db, key, ready, record, counts)
        if baseline is not None and not interrupted:
            gpu.wait_released(baseline, timeout_s=spec.release_timeout_s, what=spec.name, say=say)


def _one_model(spec: ModelSpec, endpoints: list[Endpoint]) -> Endpoint:
    """Replicas of one model must answer alike: same vLLM, same template."""
    first = endpoints[0]
    for other in endpoints[1:]:
        if other.identity != first.identity:
            raise SlmbenchError(
                f"{spec.name}: replicas differ ({first.identity} vs {other.identity}); check their logs"
            )
    return replace(first, replica_urls=tuple(e.base_url for e in endpoints[1:]))


def stored_endpoint(spec: ModelSpec, record: dict[str, Any]) -> Endpoint:
    from . import tokens

    counter = ReplayCounter(dict(record["counts"]), record["tokenizer"], record["exact"])
    return Endpoint(
        name=spec.name, base_url="", model=spec.name,
        server=f"vLLM {record['identity'].get('version', 'unknown')} (not started: every answer was stored)",
        identity=record["identity"], max_context=record["max_context"], command=tuple(record.get("command") or ()),
        budget=tokens.Budget(counter, record["max_context"]),
    )  # fmt: skip


def _save(db: sqlite3.Connection, key: str, ep: Endpoint, old: dict[str, Any] | None, counts: dict[str, int]) -> None:
    budget = ep.budget
    kept = dict(old["counts"]) if old is not None and old["identity"] == ep.identity else {}
    remember(db, key, {
        "identity": ep.identity, "max_context": budget.max_context, "tokenizer": budget.counter.source,
        "exact": budget.counter.exact, "counts": kept | counts, "command": list(ep.command or ()),
    })  # fmt: skip
