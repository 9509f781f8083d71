"""tasks x models -> requests -> store -> scores -> results.

Every answer is committed to the store as it arrives, in group commits: a commit starts once
the oldest waiting answer is COMMIT_EVERY_S / 2 (50 ms) old. Measured (benchmarks/commit_window.py,
3 loads x 3 runs, twice, on a shared and overloaded 2-core machine): the longest wait from
arrival to committed was 52-160 ms, once 315 ms when the machine starved the process of CPU
(nothing commits then); a kill -9 loses only the answers inside that window, and a re-run
sends only what the store lacks.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from .client import TIMED_OUT, Completion, ReplicaClient, RetryPolicy
from .config import Config, EvalSettings, ModelSpec, check_settings, embedded_models, merge_replicas, slot_context
from .errors import SlmbenchError
from .metrics.stats import Estimate, wilson
from .progress import Observer, Quiet
from .results import ModelResult, Results, SampleRecord, TaskResult, failure_kinds
from .runs import RunFolder, endpoint_manifest, machine, manifest_header, open_run, prepare_out, run_async
from .serving import Endpoint, open_endpoint, preflight, tokens
from .store import Store, StoreError
from .tasks import Sample, Task, registry
from .tasks.base import ANSWERED, ERROR, OK, SKIPPED, TIMEOUT, VERDICTS, Verdict, draws

COMMIT_EVERY_S = 0.1


@dataclass(slots=True)
class Request:
    key: str
    body: bytes
    task: Task
    sample: Sample


def run(config: Config, observer: Observer | None = None) -> Results:
    """Evaluate every configured model on every configured task; write results.json/.md."""
    observer = observer or Quiet()
    settings = config.eval
    check_settings(settings, registry.names(), registry.data_tasks())
    # Fresh tasks: nothing another run set on them is seen here.
    tasks = _configure([registry.create(name) for name in settings.tasks], settings)
    models = merge_replicas(config.models or embedded_models())
    _check_unique_names(models)
    out = prepare_out(settings.out)
    for spec in models:
        preflight(spec)
    samples = {t.name: _samples(t, settings.limit_for(t), settings) for t in tasks}
    # Task set-up that can fail (e.g. the code sandbox) fails here, before any server starts.
    prepared = {t.name: t.prepare(settings) for t in tasks}

    folder = open_run(out, observer.message)
    store, run_id = folder.store, folder.run_id
    results = Results(run_id, folder.run_dir, "running", _manifest(settings, tasks, samples))
    for name, info in prepared.items():
        results.manifest["tasks"][name] |= info
    folder.start(results.manifest)
    ctx_per_slot = _ctx_per_slot(tasks, settings)
    try:
        for spec in models:
            try:
                with open_endpoint(spec, log_dir=folder.log_dir, ctx_per_slot=ctx_per_slot, say=observer.message,
                                   db=store.db, all_cached=lambda ep: _all_cached(ep, tasks, samples, settings, store)) as ep:  # fmt: skip
                    budget = ep.budget if ep.budget is not None else tokens.probe_budget(ep)
                    results.manifest["models"][spec.name] = endpoint_manifest(spec, ep) | {"tokens": budget.describe()}
                    model_result = ModelResult(spec.name, results.manifest["models"][spec.name])
                    results.models.append(model_result)
                    mine = dict(samples)  # --target-ci-width may grow this model's samples

                    def evaluate(these: list[Task]) -> None:
                        # Long-context tasks re-size their prompts with this endpoint's tokenizer.
                        fitted = _fit(these, mine, budget, settings)  # noqa: B023
                        _evaluate_model(ep, budget, these, fitted, settings, store, run_id, observer, model_result)  # noqa: B023

                    evaluate(tasks)
                    if settings.target_ci_width is not None:
                        _narrow(tasks, mine, settings, model_result, evaluate, observer)
                    model_result.error = all_failed(model_result)
            except StoreError:
                raise  # the disk, not the model: the run stops
            except SlmbenchError as exc:
                # One model failing must not cost the others their results (nor its own so far).
                started = next((m for m in results.models if m.name == spec.name), None)
                if started is None:
                    results.models.append(ModelResult(spec.name, {"backend": spec.backend}, error=str(exc)))
                else:
                    started.error = str(exc)
                observer.message(f"[red]{spec.name}: {exc}[/red]")
        results.status = "partial" if any(m.error for m in results.models) else "complete"
    except BaseException:
        results.status = "interrupted"
        raise
    finally:
        observer.finish()
        _finish(results, folder)
    return results


def _finish(results: Results, folder: RunFolder) -> None:
    # `latest`: a run that reached a model (finished or not), never one whose every model failed to start.
    reached = any(m.tasks or m.error is None for m in results.models)
    folder.close(results.write, results.status, results.manifest, latest=reached)


def all_failed(model: ModelResult) -> str | None:
    """Why a model counts as failed when not one request it sent got an answer, else None."""
    counts = Counter()
    for t in model.tasks.values():
        counts.update({k: v for k, v in t.counts.items()})
    failed = counts[ERROR] + counts[TIMEOUT]
    answered = sum(counts[v] for v in ANSWERED)
    if failed == 0 or answered:
        return None
    kinds = failure_kinds([s for t in model.tasks.values() for s in t.samples])
    first = next(iter(kinds.values()))
    listed = ", ".join(f"{kind} {n}" for kind, (n, _) in kinds.items())
    return f"every request failed ({listed}); e.g. {first[1]}"


def _evaluate_model(
    ep: Endpoint,
    budget: tokens.Budget,
    tasks: list[Task],
    samples: dict[str, list[Sample]],
    settings: EvalSettings,
    store: Store,
    run_id: str,
    observer: Observer,
    into: ModelResult,
) -> None:
    identity = orjson.dumps(ep.identity, option=orjson.OPT_SORT_KEYS)
    # Pre-flight: a request that cannot fit the endpoint's context is recorded, never sent.
    skipped: dict[str, list[SampleRecord]] = {task.name: [] for task in tasks}
    requests = []
    for task in tasks:
        for sample in samples[task.name]:
            counted, reason = _over_context(budget, task, sample, settings)
            if reason:
                skipped[task.name].append(_skipped_record(sample, counted, reason))
            else:
                requests.append(_request(ep, identity, task, sample, settings))
    if n_skipped := sum(map(len, skipped.values())):
        observer.message(
            f"{ep.name}: {n_skipped} samples skipped, over the endpoint's context ({budget.max_context} tokens)"
        )
    answers = store.cached([r.key for r in requests])
    cached_keys = set(answers)
    todo = list({r.key: r for r in requests if r.key not in answers}.values())
    unique = {r.key for r in requests}  # identical requests are sent once
    observer.start(ep.name, len(unique), len(unique) - len(todo))
    if todo:
        run_async(_send(ep, todo, settings, store, run_id, answers, observer))
    observer.finish()

    rows = []
    for task in tasks:
        task_requests = [r for r in requests if r.task is task]
        verdicts = _verdicts(task, [(r.sample, answers[r.key]) for r in task_requests])
        records = [
            _record(r, answers[r.key], r.key in cached_keys, v) for r, v in zip(task_requests, verdicts, strict=True)
        ]
        rows += [
            (run_id, ep.name, task.name, s.id, r.key, s.verdict, s.score, s.why) for r, s in zip(task_requests, records)
        ]
        records += skipped[task.name]
        rows += [
            (run_id, ep.name, task.name, rec.id, "", rec.verdict, rec.score, rec.why) for rec in skipped[task.name]
        ]
        sent = len({r.key for r in task_requests if r.key not in cached_keys})  # identical requests go once
        cached = sum(r.key in cached_keys for r in task_requests)
        into.tasks[task.name] = _aggregate(task, records, sent, cached)
    store.save_sample_results(rows)


def _all_cached(
    ep: Endpoint, tasks: list[Task], samples: dict[str, list[Sample]], settings: EvalSettings, store: Store
) -> bool:
    """Whether the store holds every answer this endpoint would be asked for (then a server
    that is not running yet need not start)."""
    if settings.target_ci_width is not None:
        return False  # more samples may be drawn once these are scored
    identity = orjson.dumps(ep.identity, option=orjson.OPT_SORT_KEYS)
    fitted = _fit(tasks, samples, ep.budget, settings)
    keys = {_request(ep, identity, t, s, settings).key for t in tasks for s in fitted[t.name]
            if _over_context(ep.budget, t, s, settings)[1] is None}  # fmt: skip
    return len(store.cached(list(keys))) == len(keys)


def _samples(task: Task, limit: int, settings: EvalSettings) -> list[Sample]:
    data = settings.data.get(task.name)
    samples = task.samples(limit, settings.seed, data) if data else distinct_samples(task, limit, settings.seed)
    if task.repeatable:  # pass@k tasks: --samples draws per problem
        samples = draws(samples, settings.samples, settings.seed)
    return samples


def distinct_samples(task: Task, limit: int, seed: int) -> list[Sample]:
    """The samples of `task.samples(limit)`, no prompt twice: a repeat is dropped and the generator
    asked for more (sample i depends only on seed and i, so more samples extend the same
    sequence). A number the generator cannot reach with distinct prompts is refused, naming the
    most it made."""
    samples = task.samples(limit, seed)
    want, asked = len(samples), limit  # a task may make several samples per unit of --limit
    for _ in range(4):
        seen: set[bytes] = set()
        unique = []
        for sample in samples:
            # The same request scored another way (structured: prompt and repair modes) is not a repeat.
            key = orjson.dumps([sample.messages, sample.params, sample.meta], option=orjson.OPT_SORT_KEYS, default=str)
            if key not in seen:
                seen.add(key)
                unique.append(sample)
        if len(unique) >= want:
            return unique[:want]
        asked += 2 * (want - len(unique)) * max(1, limit // max(1, want)) + 16
        samples = task.samples(asked, seed)
    raise SlmbenchError(
        f"{task.name} makes only {len(unique):,} distinct samples of the {want:,} asked; pass a smaller --limit "
        "(no prompt is counted twice)"
    )


def _narrow(
    tasks: list[Task],
    samples: dict[str, list[Sample]],
    settings: EvalSettings,
    into: ModelResult,
    evaluate: Callable[[list[Task]], None],
    observer: Observer,
) -> None:
    """--target-ci-width: double the samples of tasks whose headline interval is still too wide
    (generated samples extend the same sequence, so earlier answers are reused from the store)."""
    target = (settings.target_ci_width or 100.0) / 100
    limits = {t.name: settings.limit_for(t) for t in tasks}
    while True:
        wide = []
        for task in tasks:
            e = into.tasks[task.name].metrics[task.headline]
            if e.ci_low is None or e.ci_high is None or e.ci_high - e.ci_low <= target:
                continue
            limits[task.name] = min(settings.max_samples, 2 * limits[task.name], task.max_distinct)
            try:
                more = _samples(task, limits[task.name], settings)
            except SlmbenchError:  # no more distinct samples: the interval stays as wide as it is
                continue
            if len(more) > len(samples[task.name]):  # at the cap, or a data set with no more rows
                samples[task.name] = more
                wide.append(task)
        if not wide:
            return
        observer.message(f"{into.name}: intervals wider than {target * 100:g} points for "
                         f"{', '.join(f'{t.name} (now n={len(samples[t.name])})' for t in wide)}")  # fmt: skip
        evaluate(wide)


def _request(ep: Endpoint, identity: bytes, task: Task, sample: Sample, settings: EvalSettings) -> Request:
    body = orjson.dumps(
        {
            "model": ep.model,
            "messages": sample.messages,
            "max_tokens": settings.max_tokens_for(task),
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "seed": settings.seed,
            **sample.params,
        },
        option=orjson.OPT_SORT_KEYS,
    )
    # The key covers endpoint and model identity, messages and sampling: the whole body.
    key = hashlib.sha256(identity + b"\n" + body).hexdigest()
    return Request(key, body, task, sample)


async def _send(
    ep: Endpoint,
    todo: list[Request],
    settings: EvalSettings,
    store: Store,
    run_id: str,
    answers: dict[str, Completion],
    observer: Observer,
) -> None:
    """Send todo; a managed server that dies is restarted (same arguments) and what it had not
    answered is sent again, up to its restart limit."""
    remaining = todo
    while True:
        died = await _send_round(ep, remaining, settings, store, run_id, answers, observer)
        if not died:
            return
        server = ep.supervisor
        observer.message(f"[yellow]{ep.name}: {server.death()}; restarting it "
                         f"({server.restarts + 1} of at most {server.max_restarts})[/yellow]")  # fmt: skip
        await asyncio.to_thread(server.restart)  # past the limit: a SlmbenchError, the model fails
        remaining = [r for r in remaining if r.key not in answers]
        if not remaining:
            return


async def _send_round(
    ep: Endpoint,
    todo: list[Request],
    settings: EvalSettings,
    store: Store,
    run_id: str,
    answers: dict[str, Completion],
    observer: Observer,
) -> bool:
    """One pass over todo; True when the managed server died during it (its process exited)."""
    pending = iter(todo)
    server = ep.supervisor
    retry = RetryPolicy(retries=settings.retries)
    timeout_s = request_timeout(settings, {r.task for r in todo})
    # One endpoint is a single replica: the same client either way.
    async with ReplicaClient(
        [ep.base_url, *ep.replica_urls],
        concurrency=settings.concurrency,
        timeout_s=timeout_s,
        retry=retry,
        api_key=ep.api_key,
    ) as client:

        async def worker() -> None:
            for r in pending:
                c = await client.complete(r.body)
                if not c.ok and server is not None and not server.alive():
                    return  # not the request's failure: it is sent again once the server is back
                answers[r.key] = c
                store.add_response(r.key, run_id, ep.name, r.body, c)
                observer.done(c)
                if store.pending_age() >= COMMIT_EVERY_S / 2:
                    store.flush()

        async def commit_regularly() -> None:
            while True:
                await asyncio.sleep(COMMIT_EVERY_S / 4)
                if store.pending_age() >= COMMIT_EVERY_S / 4:
                    store.flush()

        async def watch() -> None:
            # The process's exit, not failed requests, says the server died: noticed within 50 ms.
            while server.alive():
                await asyncio.sleep(0.05)

        workers = {asyncio.create_task(worker()) for _ in range(min(settings.concurrency, len(todo)))}
        committer = asyncio.create_task(commit_regularly())
        watcher = asyncio.create_task(watch()) if server is not None else None
        everything = [*workers, committer, *([watcher] if watcher else [])]
        try:
            while workers:
                done, _ = await asyncio.wait(
                    {*workers, committer, *([watcher] if watcher else [])}, return_when=asyncio.FIRST_COMPLETED
                )
                if watcher in done:
                    return True  # the server died: the rest is sent once it is back
                for task in done:
                    task.result()  # a worker's or the committer's failure (a full disk) stops the run
                workers -= done
            return False
        finally:
            for task in everything:
                task.cancel()
            await asyncio.gather(*everything, return_exceptions=True)  # every task ended, every error read
            store.flush()


def _verdicts(task: Task, pairs: list[tuple[Sample, Completion]]) -> list[Verdict]:
    """Score the answers, all at once (task.score_many; coding runs its sandboxes in parallel)."""
    answered = [(s, c) for s, c in pairs if c.ok]
    scored = iter(task.score_many(answered))
    return [
        next(scored)
        if c.ok
        else Verdict(TIMEOUT if c.error_kind == TIMED_OUT else ERROR, 0.0, f"{c.error_kind}: {c.error}")
        for _, c in pairs
    ]


def _record(r: Request, c: Completion, cached: bool, verdict: Verdict) -> SampleRecord:
    return SampleRecord(
        id=r.sample.id,
        prompt=r.sample.messages[-1]["content"],
        answer=c.text,
        target=r.sample.target,
        verdict=verdict.verdict,
        score=verdict.score,
        why=verdict.why,
        finish_reason=c.finish_reason,
        latency_s=c.latency_s,
        prompt_tokens=c.prompt_tokens,
        completion_tokens=c.completion_tokens,
        cached=cached,
        meta=r.sample.meta,
        parts=verdict.parts,
        reasoning=c.reasoning,
    )


def _over_context(
    budget: tokens.Budget, task: Task, sample: Sample, settings: EvalSettings
) -> tuple[int | None, str | None]:
    if sample.meta.get("skip_reason"):
        return None, sample.meta["skip_reason"]
    try:
        return budget.check(sample.messages, settings.max_tokens_for(task))
    except tokens.TokenizerError as exc:
        raise SlmbenchError(f"cannot count tokens for a long request: {exc}") from None


def _skipped_record(sample: Sample, counted: int | None, reason: str) -> SampleRecord:
    return SampleRecord(
        id=sample.id, prompt=sample.messages[-1]["content"], answer=None, target=sample.target, verdict=SKIPPED,
        score=0.0, why=reason, finish_reason=None, latency_s=None, prompt_tokens=counted, completion_tokens=None,
        cached=False, meta=sample.meta,
    )  # fmt: skip


def _fit(
    tasks: list[Task], samples: dict[str, list[Sample]], budget: tokens.Budget, settings: EvalSettings
) -> dict[str, list[Sample]]:
    """Tasks that size prompts in tokens (long context) re-size them with this endpoint's tokenizer."""
    return {t.name: t.fit(samples[t.name], budget, settings.max_tokens_for(t)) for t in tasks}


def _configure(tasks: list[Task], settings: EvalSettings) -> list[Task]:
    """Apply --lengths to the tasks that take a length grid."""
    if settings.lengths is None:
        return tasks
    if not any(t.takes_lengths for t in tasks):
        raise SlmbenchError("--lengths applies to the long-context tasks; add --task longcontext")
    return [t.with_lengths(settings.lengths) for t in tasks]


def _aggregate(task: Task, records: list[SampleRecord], sent: int, cached: int) -> TaskResult:
    counts = Counter(r.verdict for r in records)
    answered = [r for r in records if r.verdict in ANSWERED]
    breakdown: dict[str, dict[str, Estimate]] = {}
    if task.breakdown:
        groups: dict[str, list[SampleRecord]] = defaultdict(list)
        for r in answered:
            groups[str(r.meta.get(task.breakdown))].append(r)
        breakdown[task.breakdown] = {
            g: wilson(sum(r.verdict == OK for r in rs), len(rs)) for g, rs in sorted(groups.items())
        }
    return TaskResult(
        task=task.name,
        version=task.version,
        headline=task.headline,
        metrics=task.metrics(records),
        counts={v: counts.get(v, 0) for v in VERDICTS},
        breakdown=breakdown,
        samples=records,
        requests_sent=sent,
        requests_cached=cached,
        completion_tokens=sum(r.completion_tokens or 0 for r in records),
        extra=task.summary(records),
    )


def request_timeout(settings: EvalSettings, tasks: Iterable[Task]) -> float:
    """--timeout, else 300 s or, for long answers, 60 s plus 0.25 s per allowed token: a CPU
    server sharing its cores among slots can decode as slowly as 4 tokens/s per request. Long
    prompts (over 2048 tokens) add 0.25 s per prompt token: a loaded 2-core CPU processed a 4K
    prompt at ~30 tokens/s, and a request may wait for another slot's prompt first."""
    if settings.timeout_s is not None:
        return settings.timeout_s
    longest = max((settings.max_tokens_for(t) for t in tasks), default=0)
    prompt = max((t.context_tokens for t in tasks), default=0)
    return max(300.0, 60.0 + 0.25 * longest + 0.25 * max(0, prompt - 2048))


def _ctx_per_slot(tasks: list[Task], settings: EvalSettings) -> int:
    return slot_context(max(t.context_tokens + settings.max_tokens_for(t) for t in tasks))


def _check_unique_names(models: list[ModelSpec]) -> None:
    seen = Counter(m.name for m in models)
    twice = [n for n, k in seen.items() if k > 1]
    if twice:
        raise SlmbenchError(f"model name {twice[0]!r} is used twice; give each model its own name")


def _manifest(settings: EvalSettings, tasks: list[Task], samples: dict[str, list[Sample]]) -> dict[str, Any]:
    return {
        **manifest_header(),
        "machine": machine(),
        "seed": settings.seed,
        "sampling": {
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "max_tokens": settings.max_tokens,
            "task_max_tokens": settings.task_max_tokens,
            "seed": settings.seed,
        },
        "client": {
            "concurrency": settings.concurrency,
            "timeout_s": request_timeout(settings, tasks),
            "retries": settings.retries,
        },
        "tasks": {
            t.name: {"version": t.version, "samples": len(samples[t.name]), "max_tokens": settings.max_tokens_for(t)}
            | ({"data": settings.data[t.name]} if t.name in settings.data else {})
            # Tasks may describe their samples (e.g. the set's label, sacrebleu signatures).
            | ({"notes": notes} if (notes := t.notes(samples[t.name])) is not None else {})
            | ({"samples_per_problem": settings.samples} if t.repeatable else {})
            for t in tasks
        },
        "models": {},
    }
