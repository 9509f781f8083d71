"""`slmbench perf`: start or attach to a model, run the load points, store and write the results."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config import PARALLEL, ModelSpec, slot_context
from ..errors import SlmbenchError
from ..runs import cpu_model, endpoint_manifest, manifest_header, open_run, prepare_out, run_async
from ..serving import Endpoint, open_endpoint, preflight
from ..serving.http import fetch
from ..sse import SSEParser
from ..store import Store
from . import prompts as P
from .limit import Hardware, ModelGeometry, ceilings, gguf_geometry, host_hardware
from .load import PointRun, closed_loop, open_loop, warm_up
from .report import write_files
from .server import metrics_delta, reconcile, scrape
from .stats import SLO, summarize
from .stream import StreamClient

SCHEMA_VERSION = 1


class PerfSettings(BaseModel):
    """What `slmbench perf` measures; every bad value is one line naming the flag and the fix."""

    model_config = ConfigDict(extra="forbid")

    concurrency: list[Annotated[int, Field(ge=1)]] = Field(default_factory=list)  # closed-loop points
    rates: list[Annotated[float, Field(gt=0)]] = Field(default_factory=list)  # open-loop points (requests/s)
    burstiness: float = Field(default=1.0, gt=0)
    requests: int | None = Field(default=None, ge=1)  # per point; default 4 x concurrency, at least 8
    duration_s: float | None = Field(default=None, gt=0)
    warmup: int | None = Field(default=None, ge=0)  # per point; default: the point's concurrency (open loop: 2)
    input_lens: list[Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: [128])
    output_len: int = Field(default=64, ge=1)
    prompts_file: Path | None = None
    task: str | None = None
    slo: SLO | None = None
    repeats: int = Field(default=1, ge=1)
    seed: int = 0
    timeout_s: float = Field(default=300.0, gt=0)
    ignore_eos: bool = True
    out: Path = Path("slmbench-runs")
    bandwidth_gbs: float | None = None  # override the measured bandwidth (e.g. a GPU's)
    peak_tflops: float | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _one_line(cls, data: Any, handler: Any) -> PerfSettings:
        try:
            return handler(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else ""
            if name in _MESSAGES and first["type"] in _RANGE_ERRORS:
                raise SlmbenchError(_MESSAGES[name].format(got=first.get("input"))) from None
            raise SlmbenchError(f"{_FLAGS.get(name, '--' + name.replace('_', '-'))}: {first['msg']}") from None

    @model_validator(mode="after")
    def _defaults(self) -> PerfSettings:
        if self.prompts_file is not None and self.task is not None:
            raise SlmbenchError("pass --prompts or --task, not both")
        if not self.concurrency and not self.rates:
            self.concurrency = [1, 2, 4]
        if self.requests is None and self.duration_s is not None:
            self.requests = 100_000  # the duration bounds the point
        return self

    def requests_for(self, load: float) -> int:
        return self.requests or max(8, 4 * int(load))


_FLAGS = {"rates": "--rate", "duration_s": "--duration", "input_lens": "--input-len", "prompts_file": "--prompts",
          "timeout_s": "--timeout", "bandwidth_gbs": "--bandwidth"}  # fmt: skip
_RANGE_ERRORS = {"greater_than", "greater_than_equal"}
_MESSAGES = {
    "concurrency": "--concurrency must be at least 1 (got {got}); pass e.g. --concurrency 1,2,4",
    "rates": "--rate must be above 0 requests/s; pass e.g. --rate 2",
    "burstiness": "--burstiness must be above 0 (1 is Poisson)",
    "requests": "--requests must be at least 1",
    "duration_s": "--duration must be above 0 seconds",
    "warmup": "--warmup cannot be negative",
    "input_lens": "--input-len must be at least 1 token",
    "output_len": "--output-len must be at least 1 token",
    "repeats": "--repeats must be at least 1",
    "timeout_s": "--timeout must be above 0 seconds",
}


@dataclass(slots=True)
class Point:
    mode: str  # "closed" (fixed concurrency) or "open" (request rate)
    load: float  # concurrency or rate
    input_len: int | None

    @property
    def key(self) -> str:
        load = f"c={int(self.load)}" if self.mode == "closed" else f"rate={self.load:g}"
        return load + (f" in={self.input_len}" if self.input_len else "")


@dataclass(slots=True)
class PerfResults:
    run_id: str
    run_dir: Path
    status: str
    manifest: dict[str, Any]
    points: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    comparison: list[dict[str, Any]] | None = None  # with the baseline run (`perf --compare`)

    @property
    def completed(self) -> int:
        return sum(p["pooled"]["requests"]["completed"] for p in self.points)

    def to_dict(self) -> dict[str, Any]:
        from .report import curves

        return {
            "schema_version": SCHEMA_VERSION, "kind": "perf", "run_id": self.run_id, "status": self.status,
            "manifest": self.manifest, "points": self.points, "curves": curves(self.points), "notes": self.notes,
        }  # fmt: skip


Say = Callable[[str], None]


def run_perf(
    spec: ModelSpec, settings: PerfSettings, say: Say = print, on_point: Callable[[dict[str, Any]], None] | None = None
) -> PerfResults:
    """Measure every point against the model; a Ctrl-C keeps (and writes) what completed."""
    if settings.prompts_file:
        P.from_jsonl(settings.prompts_file, settings.output_len)  # a bad file fails before any server starts
    if settings.task:
        P.from_task(settings.task, 1, settings.output_len, settings.seed)
    out = prepare_out(settings.out)
    if spec.backend == "llamacpp" and "parallel" not in spec.model_fields_set:
        # one slot per concurrent request, or the server queues and the point measures the queue
        spec = spec.model_copy(update={"parallel": max([*settings.concurrency, PARALLEL])})
    preflight(spec)
    folder = open_run(out, say)
    store, run_id = folder.store, folder.run_id
    results = PerfResults(run_id, folder.run_dir, "running", _manifest(settings))
    folder.start(results.manifest)
    longest = max(settings.input_lens) + settings.output_len + 64
    try:
        with open_endpoint(spec, log_dir=folder.log_dir, ctx_per_slot=slot_context(longest), say=say) as ep:
            results.manifest["model"] = endpoint_manifest(spec, ep) | {
                "command": list(ep.command) if ep.command else None
            }
            geometry, hw = _limits(spec, settings, say)
            results.manifest["geometry"] = geometry.as_dict() if geometry else None
            results.manifest["hardware"] = _hardware_manifest(hw)
            if geometry and geometry.quantisation:
                results.manifest["model"]["quantisation"] = geometry.quantisation
            for number, point in enumerate(_points(settings)):
                summary = _measure(ep, point, number, settings, geometry, hw, store, run_id, say)
                results.points.append(summary)
                if on_point:
                    on_point(summary)
        results.status = "complete"
    except KeyboardInterrupt as exc:
        if isinstance(exc, _Interrupted):
            results.points.append(exc.point)
        results.status = "interrupted"
        results.notes.append("interrupted by the user: the points and requests that completed are kept")
    except BaseException:
        results.status = "failed"
        raise
    finally:
        results.notes += [n for p in results.points for n in p.get("notes", [])]
        # `latest` only for a run that measured something
        folder.close(
            lambda: write_files(results.run_dir, results.to_dict()),
            results.status,
            results.manifest,
            latest=bool(results.points),
        )
    return results


def perf(
    models: Sequence[ModelSpec | str] | None = None,
    *,
    gguf: Sequence[str | Path] | None = None,
    concurrency: Sequence[int] | None = None,
    rates: Sequence[float] | None = None,
    burstiness: float | None = None,
    requests: int | None = None,
    duration_s: float | None = None,
    warmup: int | None = None,
    input_lens: Sequence[int] | None = None,
    output_len: int | None = None,
    prompts_file: str | Path | None = None,
    task: str | None = None,
    slo: SLO | str | None = None,
    repeats: int | None = None,
    seed: int | None = None,
    timeout_s: float | None = None,
    ignore_eos: bool | None = None,
    out: str | Path | None = None,
    bandwidth_gbs: float | None = None,
    peak_tflops: float | None = None,
    compare: str | Path | None = None,
    parallel: int | None = None,
    threads: int | None = None,
    port: int | None = None,
    llama_server: str | Path | None = None,
    api_key_env: str | None = None,
    say: Callable[[str], None] = print,
    on_result: Callable[[PerfResults], None] | None = None,
) -> list[PerfResults]:
    """Load-test models, as `slmbench perf` does: one run (out/<run id>/perf.json, perf.md) per
    model, in turn; the default model is the embedded SmolLM2. `slo`: an SLO or 'ttft:500 tpot:50'.
    `compare`: a perf run folder; the last run's `comparison` holds the differences with it.
    `on_result` sees each run as it ends. A Ctrl-C ends the current run (status 'interrupted',
    kept) and runs no further model."""
    from ..config import embedded_model
    from ..resolve import resolve_models, validated
    from . import report as perf_report
    from .stats import parse_slo

    given = {
        "concurrency": concurrency, "rates": rates, "burstiness": burstiness, "requests": requests,
        "duration_s": duration_s, "warmup": warmup, "input_lens": input_lens, "output_len": output_len,
        "prompts_file": prompts_file, "task": task, "slo": parse_slo([slo]) if isinstance(slo, str) else slo,
        "repeats": repeats, "seed": seed, "timeout_s": timeout_s, "ignore_eos": ignore_eos, "out": out,
        "bandwidth_gbs": bandwidth_gbs, "peak_tflops": peak_tflops,
    }  # fmt: skip
    settings = validated(PerfSettings, {k: v for k, v in given.items() if v is not None})
    baseline = perf_report.load_run(Path(compare)) if compare else None
    specs = resolve_models(models, gguf, default=[embedded_model()], exclusive=True, api_key_env=api_key_env,
                           parallel=parallel, threads=threads, port=port, llama_server=llama_server)  # fmt: skip
    if len(specs) > 1 and (compare or port):
        raise SlmbenchError("--compare and --port apply to one model; pass one --model or --gguf with them")
    done: list[PerfResults] = []
    for spec in specs:  # one run (and one perf.json) per model, in turn: they must not share the CPU or GPU
        done.append(run_perf(spec, settings, say=say))
        if on_result:
            on_result(done[-1])
        if done[-1].status == "interrupted":
            break
    if baseline is not None and done[-1].points:
        done[-1].comparison = perf_report.compare(baseline, done[-1].to_dict())
    return done


def _points(settings: PerfSettings) -> list[Point]:
    lens: list[int | None] = list(settings.input_lens) if not (settings.prompts_file or settings.task) else [None]
    return [Point("closed", c, n) for n in lens for c in settings.concurrency] + [
        Point("open", r, n) for n in lens for r in settings.rates
    ]


def _measure(
    ep: Endpoint, point: Point, number: int, settings: PerfSettings, geometry: ModelGeometry | None,
    hw: Hardware | None, store: Store, run_id: str, say: Say,
) -> dict[str, Any]:  # fmt: skip
    """All repeats of one point; each repeat's requests are stored as soon as it ends."""
    root = ep.base_url.removesuffix("/v1")
    n = settings.requests_for(point.load)
    warm = settings.warmup if settings.warmup is not None else (int(point.load) if point.mode == "closed" else 2)
    repeats: list[dict[str, Any]] = []
    runs: list[PointRun] = []
    notes: list[str] = []
    say(f"[bold]{point.key}[/bold]: {settings.repeats} x {n if not settings.duration_s else 'up to ' + str(n)} requests"
        + (f", {settings.duration_s:g} s" if settings.duration_s else "") + f" after {warm} warm-up")  # fmt: skip
    interrupted = False
    for rep in range(settings.repeats):
        seed = settings.seed * 100_000 + number * 100 + rep  # fresh prompts per point and repeat
        bodies = _bodies(ep, root, point, settings, n + warm, seed)
        before = scrape(root)
        run = PointRun()
        try:
            run_async(_drive(ep, point, settings, bodies[:warm], bodies[warm:], seed, run))
        except KeyboardInterrupt:
            interrupted = True
        delta = metrics_delta(before, scrape(root)) if not interrupted else {}
        summary = summarize(run.records, run.duration_s, settings.slo)
        summary["server"] = reconcile(run.records, delta)
        summary["warmup"] = {"requests": warm, "failed": run.warmup_failed}
        if point.mode == "open":
            summary["rate"] = _rate_check(run, summary, notes, point)
        records = [r.to_dict() for r in run.records]
        store.save_perf_point(run_id, ep.name, point.key, rep, summary, records)
        repeats.append(summary | {"records": records})
        runs.append(run)
        if interrupted:
            break
    pooled = summarize([r for run in runs for r in run.records], sum(run.duration_s for run in runs), settings.slo)
    failed = pooled["requests"]["failed"]
    if failed:
        kinds = ", ".join(f"{k} {v}" for k, v in pooled["requests"]["errors"].items())
        notes.append(f"{point.key}: {failed} of {failed + pooled['requests']['completed']} requests failed ({kinds})")
    summary = {
        "key": point.key, "mode": point.mode, "concurrency": int(point.load) if point.mode == "closed" else None,
        "rate": point.load if point.mode == "open" else None, "burstiness": settings.burstiness if point.mode == "open" else None,
        "input_len": point.input_len, "output_len": settings.output_len, "pooled": pooled,
        "throughput_ci": _throughput_ci(repeats), "repeats": repeats, "notes": notes,
    }  # fmt: skip
    summary["limit"] = _limit(point, summary, geometry, hw)
    if interrupted:
        notes.append(f"{point.key}: interrupted; {pooled['requests']['completed']} requests had completed")
        raise _Interrupted(summary)  # run_perf keeps this partial point
    return summary


class _Interrupted(KeyboardInterrupt):
    def __init__(self, point: dict[str, Any]) -> None:
        super().__init__()
        self.point = point


async def _drive(
    ep: Endpoint, point: Point, settings: PerfSettings, warm: list[bytes], bodies: list[bytes], seed: int, run: PointRun
) -> None:
    connections = int(point.load) if point.mode == "closed" else 1024
    async with StreamClient(
        ep.base_url, connections=max(connections, 1), timeout_s=settings.timeout_s, api_key=ep.api_key
    ) as client:
        if warm:
            run.warmup_failed = await warm_up(client, warm, max(1, int(point.load)) if point.mode == "closed" else 2)
        if point.mode == "closed":
            await closed_loop(client, bodies, int(point.load), settings.duration_s, run)
        else:
            await open_loop(client, bodies, point.load, settings.burstiness, settings.duration_s, seed, run)


UNIQUE_PROMPTS = 256  # more than any server's prompt cache holds; a long point cycles them


def _bodies(ep: Endpoint, root: str, point: Point, settings: PerfSettings, count: int, seed: int) -> list[bytes]:
    bodies = _unique_bodies(ep, root, point, settings, min(count, UNIQUE_PROMPTS), seed)
    return [bodies[i % len(bodies)] for i in range(count)]


def _unique_bodies(ep: Endpoint, root: str, point: Point, settings: PerfSettings, count: int, seed: int) -> list[bytes]:
    if settings.prompts_file:
        prompts = P.cycle(P.from_jsonl(settings.prompts_file, settings.output_len), count)
    elif settings.task:
        prompts = P.cycle(P.from_task(settings.task, count, settings.output_len, settings.seed), count)
    else:
        assert point.input_len is not None
        tok = P.Tokenizer(root, {"Authorization": f"Bearer {ep.api_key}"} if ep.api_key else None)
        overhead = _template_overhead(ep, tok)
        prompts = P.synthetic(tok, count, point.input_len, settings.output_len, overhead, seed)
    ignore = settings.ignore_eos and not (settings.prompts_file or settings.task)
    return [P.request_body(ep.model, p, ignore_eos=ignore, seed=settings.seed) for p in prompts]


_overheads: dict[str, int] = {}


def _template_overhead(ep: Endpoint, tok: P.Tokenizer) -> int:
    """Tokens the chat template adds around a user message, from the usage of one streamed
    1-token request (streamed as the load is: some servers count differently otherwise)."""
    if ep.base_url not in _overheads:
        text = "hello world"
        body = P.request_body(ep.model, P.Prompt([{"role": "user", "content": text}], 1), ignore_eos=False, seed=0)
        headers = {"Content-Type": "application/json"} | (
            {"Authorization": f"Bearer {ep.api_key}"} if ep.api_key else {}
        )
        usage = None
        try:
            for event in SSEParser().feed(
                fetch(f"{ep.base_url}/chat/completions", timeout_s=120, headers=headers, body=body) + b"\n\n"
            ):
                if event != b"[DONE]":
                    usage = orjson.loads(event).get("usage") or usage
            _overheads[ep.base_url] = int(usage["prompt_tokens"]) - len(tok.encode(text))
        except (OSError, ValueError, TypeError, KeyError, orjson.JSONDecodeError):
            raise SlmbenchError(
                f"{ep.base_url} did not answer a streamed probe with usage; it cannot size synthetic prompts: "
                "pass --prompts FILE.jsonl or --task NAME"
            ) from None
    return _overheads[ep.base_url]


def _rate_check(run: PointRun, summary: dict[str, Any], notes: list[str], point: Point) -> dict[str, Any]:
    requested, scheduled = point.load, run.rate_scheduled or point.load
    achieved = summary["request_throughput"]
    sent = run.rate_sent or 0.0
    generator_ok = sent >= 0.9 * scheduled
    met = generator_ok and achieved >= 0.9 * sent
    info = {"requested": requested, "scheduled": scheduled, "sent": sent, "achieved": achieved, "met": met,
            "max_send_lag_s": run.max_send_lag_s}  # fmt: skip
    if not generator_ok:
        notes.append(
            f"{point.key}: the generator sent only {sent:.2f} of {scheduled:.2f} requests/s due (this host is too busy)"
        )
    elif not met:
        notes.append(
            f"{point.key}: rate not met: requested {requested:g} requests/s, the server completed {achieved:.2f}/s; "
            "requests queued, so latencies include waiting"
        )
    return info


def _throughput_ci(repeats: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over repeats with a bootstrap 95% interval (none from a single repeat)."""
    from ..metrics.stats import bootstrap_mean

    out = {}
    for name in ("request_throughput", "output_throughput", "goodput"):
        values = [r[name] for r in repeats if r[name] is not None]
        est = bootstrap_mean(values) if len(values) > 1 else None
        out[name] = (
            est.as_dict()
            if est
            else {"value": values[0] if values else None, "n": len(values), "ci_low": None, "ci_high": None}
        )
    return out


def _limit(
    point: Point, summary: dict[str, Any], geometry: ModelGeometry | None, hw: Hardware | None
) -> dict[str, Any] | None:
    pooled = summary["pooled"]
    if geometry is None or hw is None or not pooled["requests"]["completed"]:
        return None
    done = pooled["requests"]["completed"]
    prompt = pooled["input_tokens"] / done
    output = pooled["output_tokens"] / done
    # Concurrency a rate point actually ran at (Little's law: rate x latency).
    conc = (
        point.load
        if point.mode == "closed"
        else max(1.0, pooled["request_throughput"] * (pooled["e2e_ms"]["mean"] or 0) / 1000)
    )
    ceil = ceilings(geometry, hw, max(1, round(conc)), prompt + output / 2, round(prompt))
    tpot = pooled["tpot_ms"]["mean"]
    decode_rate = conc * 1000 / tpot if tpot else None  # tokens/s while decoding
    return ceil | {
        "output_throughput_pct": 100 * pooled["output_throughput"] / ceil["decode_tokens_per_s"],
        "decode_rate_tokens_per_s": decode_rate,
        "decode_pct": 100 * decode_rate / ceil["decode_tokens_per_s"] if decode_rate else None,
        "prefill_pct": (100 * ceil["ttft_floor_ms"] / pooled["ttft_ms"]["median"])
        if ceil["ttft_floor_ms"] and pooled["ttft_ms"]["median"] else None,
    }  # fmt: skip


def _limits(spec: ModelSpec, settings: PerfSettings, say: Say) -> tuple[ModelGeometry | None, Hardware | None]:
    """Geometry from the served GGUF; bandwidth and FLOP/s measured here (or given)."""
    if spec.backend != "llamacpp":
        return None, None  # an attached server's weights and hardware are not known here
    geometry = gguf_geometry(spec.model_file(), spec.name)
    say("measuring this host's memory bandwidth and FLOP/s for the physical limit ...")
    hw = host_hardware(geometry.weight_bytes, spec.threads)
    if settings.bandwidth_gbs or settings.peak_tflops:
        hw = Hardware(
            bandwidth_bytes_s=settings.bandwidth_gbs * 1e9 if settings.bandwidth_gbs else hw.bandwidth_bytes_s,
            dram_bandwidth_bytes_s=hw.dram_bandwidth_bytes_s,
            peak_flops=settings.peak_tflops * 1e12 if settings.peak_tflops else hw.peak_flops,
            threads=hw.threads,
            source=hw.source + "; overridden by --bandwidth/--peak-tflops",
        )
    return geometry, hw


def _hardware_manifest(hw: Hardware | None) -> dict[str, Any]:
    cpu = cpu_model() or "unknown"
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "gpu": None,
        "measured": hw.as_dict() if hw else None,
    }


def _manifest(settings: PerfSettings) -> dict[str, Any]:
    return {
        "kind": "perf",
        **manifest_header(),
        "settings": {
            "concurrency": settings.concurrency, "rates": settings.rates, "burstiness": settings.burstiness,
            "requests": settings.requests, "duration_s": settings.duration_s, "warmup": settings.warmup,
            "input_lens": settings.input_lens, "output_len": settings.output_len,
            "prompts": str(settings.prompts_file) if settings.prompts_file else ("task:" + settings.task if settings.task else "synthetic"),
            "slo": settings.slo.as_dict() if settings.slo else None, "repeats": settings.repeats, "seed": settings.seed,
            "timeout_s": settings.timeout_s, "ignore_eos": settings.ignore_eos,
        },
        "client": "aiohttp streaming, no retries",
    }  # fmt: skip
