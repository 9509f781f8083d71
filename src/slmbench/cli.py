"""The `slmbench` command: parses flags, calls the library, prints with Rich. No logic lives here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Deploy, evaluate and compare small language models, on your own machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"slmbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """Deploy, evaluate and compare small language models, on your own machine."""


RESUME = "answers received so far are stored; re-run the same command to resume"


# One name and one default per flag across commands.
PARALLEL = 4  # llama.cpp slots = requests in flight (ModelSpec's default too)
_ContextOpt = Annotated[str | None, typer.Option("--context", help="llama.cpp: context tokens per slot, e.g. 4096 or 8K.")]
_CtxAliasOpt = Annotated[str | None, typer.Option("--ctx-per-slot", hidden=True)]  # the old name, still accepted
_ParallelOpt = Annotated[int, typer.Option(help="llama.cpp parallel slots = requests in flight.", min=1)]


def _context(context: str | None, old_name: str | None, default: int | None = None) -> int | None:
    """--context (or its old name --ctx-per-slot) in tokens: 4096, 8K, 32k."""
    from .errors import SlmbenchError
    from .plan import parse_tokens

    # The old name is None unless typed; --context may hold its default, so the old name goes first.
    given = old_name if old_name is not None else context
    if given is None:
        return default
    try:
        tokens = parse_tokens(given)
    except SlmbenchError as exc:
        raise SlmbenchError(f"--context: {exc}") from None
    if tokens < 256:
        raise SlmbenchError(f"--context must be at least 256 tokens (got {tokens}); pass e.g. --context 4096")
    return tokens


@contextmanager
def user_errors(kept: str = RESUME) -> Iterator[None]:
    """Problems the user can fix become one line on stderr and a non-zero exit, never a traceback.
    Ctrl-C and SIGTERM say what was kept (`kept`) and exit 130 / 143."""
    from .errors import SlmbenchError
    from .serving.process import interrupted_by, interrupted_exit_code, raise_on_sigterm

    raise_on_sigterm()
    try:
        yield
    except SlmbenchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        sys.stderr.write(f"{interrupted_by()}: {kept}\n")
        raise typer.Exit(interrupted_exit_code()) from None


_ApiKeyEnvOpt = Annotated[str | None, typer.Option(help="Environment variable holding the bearer API key of attached endpoints (default: $OPENAI_API_KEY when set).")]


@app.command("eval")
def eval_command(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Attach to a running endpoint: SERVED_ID=URL, or an embedded model's name (repeatable; one id at several URLs = replicas of one model).")] = None,
    gguf: Annotated[list[Path] | None, typer.Option(help="Serve a local GGUF with llama.cpp (repeatable).")] = None,
    vllm: Annotated[list[str] | None, typer.Option("--vllm", help="Start this model with vLLM on the GPU, flags from the plan (profile name or HF id; repeatable: one after another).")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="Task to run (repeatable); see `slmbench tasks`.")] = None,
    data: Annotated[list[str] | None, typer.Option(help="Data for a task: TASK=PATH or TASK=hub (repeatable).")] = None,
    limit: Annotated[list[str] | None, typer.Option(help="Samples per task: N for every task, TASK=N for one (repeatable; default: each task's own).")] = None,
    target_ci_width: Annotated[float | None, typer.Option(help="Add samples until each headline 95% CI is at most this many points wide.")] = None,
    max_samples: Annotated[int | None, typer.Option(help="Cap per task for --target-ci-width (default 1000).")] = None,
    lengths: Annotated[str | None, typer.Option(help="Long-context lengths in tokens, e.g. 1k,2k,4k (default: the task's grid).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for generated samples and sampling.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight per model.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (default 0).")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling top_p (default 1).")] = None,
    max_tokens: Annotated[list[str] | None, typer.Option(help="Answer length cap: N for every task, TASK=N for one (repeatable; default: each task's own).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds to wait for one answer (default: 300, longer for long answers: 60 + 0.25 per max token).")] = None,
    retries: Annotated[int | None, typer.Option(help="Retries on connection errors, 429 and 5xx.")] = None,
    samples: Annotated[int | None, typer.Option(help="Answers per problem for pass@k (coding tasks); needs --temperature > 0.")] = None,
    unsafe_no_sandbox: Annotated[bool, typer.Option("--unsafe-no-sandbox", help="Run model-written code without bubblewrap (rlimits only).")] = False,
    out: Annotated[Path | None, typer.Option(help="Folder for the store and run folders.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config file (default: ./slmbench.toml if present).")] = None,
    parallel: Annotated[int | None, typer.Option(help=f"llama.cpp parallel slots = requests in flight (default {PARALLEL}).", min=1)] = None,
    context: _ContextOpt = None,
    ctx_per_slot: _CtxAliasOpt = None,
    threads: Annotated[int | None, typer.Option(help="llama.cpp threads (default: all cores).")] = None,
    port: Annotated[int | None, typer.Option(help="llama.cpp port (default: a free one).")] = None,
    llama_server: Annotated[Path | None, typer.Option(help="llama-server binary to use.", envvar="SLMBENCH_LLAMA_SERVER")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    api_key_env: _ApiKeyEnvOpt = None,
) -> None:
    """Evaluate models on tasks; by default the two embedded models (SmolLM2-135M-Instruct, Gemma 3 270M) on llama.cpp."""
    with user_errors():
        from pydantic import ValidationError
        from rich.console import Console

        from . import config as cfg
        from .errors import SlmbenchError
        from .progress import RichProgress
        from .runner import run

        conf = cfg.load_config(config)
        server_opts: dict[str, Any] = {
            k: v
            for k, v in {"parallel": parallel, "ctx_per_slot": _context(context, ctx_per_slot), "threads": threads, "port": port, "llama_server": llama_server}.items()
            if v is not None
        }
        models = [cfg.parse_model_flag(m) for m in model or []]
        models += [cfg.gguf_model(p) for p in gguf or []]
        models += [cfg.vllm_model(v) for v in vllm or []]
        if not models and not conf.models:
            models = cfg.embedded_models()
        if models:
            conf.models = models
        conf.models = [m.model_copy(update=server_opts) if m.backend == "llamacpp" else m for m in conf.models]
        conf.models = cfg.with_api_key_env(conf.models, api_key_env)
        limit_all, task_limits = cfg.parse_per_task_flag("--limit", limit or [])
        max_tokens_all, task_max_tokens = cfg.parse_per_task_flag("--max-tokens", max_tokens or [])
        flags = {
            "tasks": task, "limit": limit_all, "task_limits": task_limits or None, "seed": seed,
            "concurrency": concurrency, "temperature": temperature, "top_p": top_p, "max_tokens": max_tokens_all,
            "task_max_tokens": task_max_tokens or None, "timeout_s": timeout, "retries": retries, "out": out,
            "target_ci_width": target_ci_width, "max_samples": max_samples,
            "data": dict(cfg.parse_data_flag(d) for d in data) if data else None, "samples": samples,
            "unsafe_no_sandbox": unsafe_no_sandbox or None,
            "lengths": cfg.parse_lengths_flag(lengths) if lengths else None,
        }  # fmt: skip
        try:
            conf.eval = cfg.EvalSettings.model_validate(conf.eval.model_dump() | {k: v for k, v in flags.items() if v is not None})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise SlmbenchError(f"{_flag_name(str(first['loc'][0]))}: {first['msg']}") from None

        err = Console(stderr=True)
        results = run(conf, _notes_only(err) if quiet else RichProgress(err))
        _print_results(results)
        from .report import load, write

        html = write(load([results.run_dir]), results.run_dir, ("html",))["html"]
        print(f"report: {html}")
        if results.status != "complete":
            raise typer.Exit(1)


def _notes_only(console: Any) -> Any:
    """--quiet: no progress bar, but what the run has to say (a model failed, a server restarted) is said."""
    from .progress import Quiet

    class Notes(Quiet):
        def message(self, text: str) -> None:
            console.print(text, highlight=False, soft_wrap=True)

    return Notes()


# Settings whose flag is not the setting's name.
_FLAGS = {"timeout_s": "--timeout", "tasks": "--task", "lengths": "--lengths", "data": "--data"}


def _flag_name(setting: str) -> str:
    return _FLAGS.get(setting, "--" + setting.replace("_", "-"))


@app.command("perf")
def perf_command(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Attach to a running endpoint: SERVED_ID=URL, or an embedded model's name (default: smollm2-135m); repeatable: one run per model.")] = None,
    gguf: Annotated[list[Path] | None, typer.Option(help="Serve a local GGUF with llama.cpp (repeatable: one run per model).")] = None,
    concurrency: Annotated[str | None, typer.Option(help="Closed-loop points: requests in flight, e.g. 1,2,4 (default 1,2,4 unless --rate).")] = None,
    rate: Annotated[str | None, typer.Option(help="Open-loop points: requests/s, e.g. 0.5,1.")] = None,
    burstiness: Annotated[float, typer.Option(help="Open loop: gamma shape of arrivals (1 = Poisson, <1 burstier).")] = 1.0,
    requests: Annotated[int | None, typer.Option(help="Measured requests per point (default 4 x concurrency, at least 8).")] = None,
    duration: Annotated[float | None, typer.Option(help="Seconds per point (stop sending after this).")] = None,
    warmup: Annotated[int | None, typer.Option(help="Warm-up requests per point, not measured (default: the concurrency).")] = None,
    input_len: Annotated[str, typer.Option(help="Synthetic prompt tokens (chat template included), e.g. 128,512.")] = "128",
    output_len: Annotated[int, typer.Option(help="Tokens to generate per request.")] = 64,
    prompts: Annotated[Path | None, typer.Option(help='Prompts from a JSONL file ({"prompt": ...} or {"messages": [...]}).')] = None,
    task: Annotated[str | None, typer.Option(help="Prompts from an eval task (e.g. arithmetic).")] = None,
    slo: Annotated[list[str] | None, typer.Option(help="Goodput objectives in ms, e.g. --slo 'ttft:500 tpot:50'.")] = None,
    repeats: Annotated[int, typer.Option(help="Runs of each point (confidence intervals over repeats).")] = 1,
    compare: Annotated[list[Path] | None, typer.Option(help="A perf run folder to compare with; twice: compare two runs, run nothing.")] = None,
    ignore_eos: Annotated[bool, typer.Option(help="Synthetic prompts: generate exactly --output-len tokens.")] = True,
    bandwidth: Annotated[float | None, typer.Option(help="Memory bandwidth GB/s for the limit (default: measured here).")] = None,
    peak_tflops: Annotated[float | None, typer.Option(help="Peak TFLOP/s for the prefill limit (default: measured here).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for prompts and arrivals.")] = 0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for one streamed answer.")] = 300.0,
    out: Annotated[Path, typer.Option(help="Folder for the store and run folders.")] = Path("slmbench-runs"),
    parallel: Annotated[int | None, typer.Option(help=f"llama.cpp parallel slots (default {PARALLEL}, or the largest concurrency if more).", min=1)] = None,
    threads: Annotated[int | None, typer.Option(help="llama.cpp threads (default: all cores).")] = None,
    port: Annotated[int | None, typer.Option(help="llama.cpp port (default: a free one).")] = None,
    llama_server: Annotated[Path | None, typer.Option(help="llama-server binary to use.", envvar="SLMBENCH_LLAMA_SERVER")] = None,
    api_key_env: _ApiKeyEnvOpt = None,
) -> None:
    """Load-test a model: TTFT, TPOT, ITL, throughput and % of the physical limit per load point."""
    with user_errors():
        from rich.console import Console

        from . import config as cfg
        from .errors import SlmbenchError
        from .perf import report
        from .perf.run import PerfSettings, run_perf
        from .perf.stats import parse_list, parse_slo

        console, err = Console(width=None if Console().is_terminal else 160), Console(stderr=True)
        if compare and len(compare) > 2:
            raise SlmbenchError("--compare takes one run folder (compare with a new run) or two (compare those)")
        if compare and len(compare) == 2:
            _print_compare(console, report.compare(report.load_run(compare[0]), report.load_run(compare[1])), compare)
            return
        baseline = report.load_run(compare[0]) if compare else None
        if model and gguf:
            raise SlmbenchError("pass --model or --gguf, not both")
        specs = [cfg.parse_model_flag(m) for m in model or []] + [cfg.gguf_model(g) for g in gguf or []] or [cfg.embedded_model()]
        if len(specs) > 1 and (compare or port):
            raise SlmbenchError("--compare and --port apply to one model; pass one --model or --gguf with them")
        specs = cfg.with_api_key_env(specs, api_key_env)
        server_opts = {"parallel": parallel, "threads": threads, "port": port, "llama_server": llama_server}
        specs = [s.model_copy(update={k: v for k, v in server_opts.items() if v is not None}) if s.backend == "llamacpp" else s
                 for s in specs]  # fmt: skip
        settings = PerfSettings(
            concurrency=parse_list(concurrency, int, "--concurrency"), rates=parse_list(rate, float, "--rate"),
            burstiness=burstiness, requests=requests, duration_s=duration, warmup=warmup,
            input_lens=parse_list(input_len, int, "--input-len"), output_len=output_len, prompts_file=prompts, task=task,
            slo=parse_slo(slo or []), repeats=repeats, seed=seed, timeout_s=timeout, ignore_eos=ignore_eos, out=out,
            bandwidth_gbs=bandwidth, peak_tflops=peak_tflops,
        )  # fmt: skip
        for spec in specs:  # one run (and one perf.json) per model, in turn: they must not share the CPU or GPU
            results = run_perf(spec, settings, say=lambda m: err.print(m, highlight=False, soft_wrap=True))
            _print_perf(console, results)
            if results.status == "interrupted":
                break
        if baseline is not None and results.points:
            _print_compare(console, report.compare(baseline, results.to_dict()), [compare[0], results.run_dir])
        if results.status == "interrupted":
            from .serving.process import interrupted_by, interrupted_exit_code

            err.print(f"{interrupted_by()}: kept {results.completed} completed requests in {results.run_dir / 'perf.json'}", highlight=False, soft_wrap=True)
            raise typer.Exit(interrupted_exit_code())


def _print_perf(console: Any, results: Any) -> None:
    from rich.table import Table

    from .perf.report import TABLE_HEADER, table_row

    table = Table(*TABLE_HEADER, title=f"slmbench perf {results.run_id} ({results.status})")
    for point in results.points:
        table.add_row(*table_row(point))
    console.print(table)
    for note in results.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(f"results: {results.run_dir / 'perf.json'}  {results.run_dir / 'perf.md'}", highlight=False, soft_wrap=True)


def _print_compare(console: Any, rows: list[dict[str, Any]], runs: list[Path]) -> None:
    from rich.table import Table

    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    table = Table("point", "metric", "A", "B", "B - A", "95% CI", "significant", title=f"A = {runs[0]}  B = {runs[1]}")
    for r in rows:
        ci = "-" if r["ci_low"] is None else f"[{num(r['ci_low'])}, {num(r['ci_high'])}]"
        sig = {None: "n too small", True: "yes", False: "no"}[r.get("significant")]
        table.add_row(r["point"], r["metric"], num(r["a"]), num(r["b"]), num(r["diff"]), ci, sig)
    console.print(table)


longdoc_app = typer.Typer(help="Long documents: map-reduce summaries and anchored answers within the model's context.", no_args_is_help=True)
app.add_typer(longdoc_app, name="longdoc")

_ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Attach to a running endpoint: SERVED_ID=URL, or an embedded model's name (default: smollm2-135m).")]
_GgufOpt = Annotated[Path | None, typer.Option(help="Serve a local GGUF with llama.cpp.")]
_ChunkOpt = Annotated[int | None, typer.Option(help="Chunk size in tokens (default: as large as the context allows).")]
_QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _longdoc_model(model: str | None, gguf: Path | None, parallel: int, api_key_env: str | None = None) -> Any:
    from . import config as cfg

    if model and gguf:
        from .errors import SlmbenchError

        raise SlmbenchError("pass --model or --gguf, not both")
    spec = cfg.parse_model_flag(model) if model else cfg.gguf_model(gguf) if gguf else cfg.embedded_model()
    spec = cfg.with_api_key_env([spec], api_key_env)[0]
    return spec.model_copy(update={"parallel": parallel}) if spec.backend == "llamacpp" else spec


@longdoc_app.command("summarize")
def longdoc_summarize(
    file: Annotated[Path, typer.Argument(help="A .txt, .md, .pdf, .docx or .html document.")],
    model: _ModelOpt = None,
    gguf: _GgufOpt = None,
    chunk_tokens: _ChunkOpt = None,
    overlap: Annotated[int, typer.Option(help="Tokens of whole sentences repeated between chunks.")] = 64,
    summary_tokens: Annotated[int, typer.Option(help="Max tokens of each partial summary.")] = 256,
    final_tokens: Annotated[int, typer.Option(help="Max tokens of the final summary.")] = 512,
    context: _ContextOpt = "4096",
    ctx_per_slot: _CtxAliasOpt = None,
    parallel: _ParallelOpt = PARALLEL,
    quiet: _QuietOpt = False,
    api_key_env: _ApiKeyEnvOpt = None,
) -> None:
    """Summarise a long document: chunk, summarise each chunk, reduce (hierarchically if needed)."""
    with user_errors(kept="nothing written; the summary was not finished"):
        from . import longdoc

        settings = longdoc.Settings(chunk_tokens=chunk_tokens, overlap_tokens=overlap, summary_tokens=summary_tokens,
                                    final_tokens=final_tokens, concurrency=parallel)  # fmt: skip
        text, result, budget, err = _run_longdoc(
            file, _longdoc_model(model, gguf, parallel, api_key_env), _context(context, ctx_per_slot), quiet,
            lambda text, ep, budget, observer: longdoc.summarize(text, ep, budget, title=file.name, settings=settings, observer=observer),
        )  # fmt: skip
        print(result.text)
        u = result.usage
        err.print(f"{file.name}: {len(text):,} chars, {result.chunks} chunks, {result.levels} reduce levels, "
                  f"{u.requests} requests, {u.prompt_tokens:,} prompt + {u.completion_tokens:,} completion tokens "
                  f"({budget.counter.source}), {u.truncated} cut at max tokens, {result.seconds:.1f} s", highlight=False, soft_wrap=True)  # fmt: skip


@longdoc_app.command("ask")
def longdoc_ask(
    file: Annotated[Path, typer.Argument(help="A .txt, .md, .pdf, .docx or .html document.")],
    question: Annotated[str, typer.Argument(help="The question.")],
    model: _ModelOpt = None,
    gguf: _GgufOpt = None,
    chunk_tokens: _ChunkOpt = None,
    passages: Annotated[int, typer.Option(help="Most relevant passages to put in the prompt.")] = 4,
    final_tokens: Annotated[int, typer.Option(help="Max tokens of the answer.")] = 384,
    context: _ContextOpt = "4096",
    ctx_per_slot: _CtxAliasOpt = None,
    quiet: _QuietOpt = False,
    api_key_env: _ApiKeyEnvOpt = None,
) -> None:
    """Answer a question about a long document from its most relevant passages (BM25), best first."""
    with user_errors(kept="nothing written; the answer was not finished"):
        from . import longdoc

        settings = longdoc.Settings(chunk_tokens=chunk_tokens, top_passages=passages, final_tokens=final_tokens, concurrency=1)
        _, result, _, err = _run_longdoc(
            file, _longdoc_model(model, gguf, 1, api_key_env), _context(context, ctx_per_slot), quiet,
            lambda text, ep, budget, observer: longdoc.ask(text, question, ep, budget, settings=settings, observer=observer),
        )  # fmt: skip
        print(result.text)
        used = ", ".join(f"P{i + 1} ({result.chunks[i].start}-{result.chunks[i].end})" for i in result.passages)
        err.print(f"passages used, most relevant first: {used}; {result.usage.prompt_tokens:,} prompt tokens, {result.seconds:.1f} s", highlight=False, soft_wrap=True)


@longdoc_app.command("compare")
def longdoc_compare(
    model: _ModelOpt = None,
    gguf: _GgufOpt = None,
    lengths: Annotated[str, typer.Option(help="Document lengths in tokens.")] = "1k,2k,4k",
    limit: Annotated[int, typer.Option(help="Needle documents (spread over the lengths).")] = 6,
    max_tokens: Annotated[int, typer.Option(help="Max tokens of each answer.")] = 64,
    chunk_tokens: Annotated[int, typer.Option(help="Chunk size for the anchored and map-reduce strategies.")] = 512,
    parallel: _ParallelOpt = PARALLEL,
    out: Annotated[Path, typer.Option(help="Folder for the run folder (JSON + Markdown; `slmbench report` reads it).")] = Path("slmbench-runs/longdoc"),
    api_key_env: _ApiKeyEnvOpt = None,
) -> None:
    """Compare whole-context, anchored and map-reduce answers on generated needle documents."""
    with user_errors(kept="the trials printed above are all that finished; no comparison was written"):
        from rich.console import Console
        from rich.table import Table

        from . import config as cfg
        from . import longdoc
        from .longdoc import compare as cmp
        from .runs import prepare_out

        prepare_out(out)  # before the model starts: a bad --out must not cost the run

        grid = cfg.parse_lengths_flag(lengths)
        err = Console(stderr=True)
        settings = longdoc.Settings(chunk_tokens=chunk_tokens, summary_tokens=max_tokens, final_tokens=max_tokens, concurrency=parallel)
        ctx = max(4096, 1 << (grid[-1] - 1).bit_length())
        with longdoc.served(_longdoc_model(model, gguf, parallel, api_key_env), ctx_per_slot=ctx, say=err.print) as (ep, budget):
            samples = cmp.documents(budget, grid, limit, max_tokens=max_tokens)
            trials = longdoc.run(cmp.compare(samples, ep, budget, settings=settings, on_trial=lambda t: err.print(
                f"{t.sample} {t.strategy}: {t.verdict} ({t.prompt_tokens} prompt tokens, {t.seconds:.1f} s)", highlight=False, soft_wrap=True)))  # fmt: skip
        result = cmp.summary(trials) | {"model": ep.name, "tokens": budget.describe(), "lengths": grid}
        run_dir = cmp.write_run(result, out)
        table = Table(*cmp.STRATEGY_HEADER, title=f"{ep.name}: strategies on {len(samples)} needle documents")
        for row in cmp.strategy_rows(result):
            table.add_row(*row)
        Console().print(table)
        print(f"comparison: {run_dir / cmp.RESULT_FILE}  (slmbench report {out} adds it to a report)")


def _run_longdoc(file: Path, spec: Any, ctx_per_slot: int, quiet: bool, work: Any) -> tuple[str, Any, Any, Any]:
    """Load the document, serve the model, run `work(text, endpoint, budget, observer)` on it."""
    from rich.console import Console

    from . import longdoc
    from .progress import Quiet, RichProgress

    text = longdoc.load_text(file)
    err = Console(stderr=True)
    with longdoc.served(spec, ctx_per_slot=ctx_per_slot, say=err.print) as (ep, budget):
        result = longdoc.run(work(text, ep, budget, Quiet() if quiet else RichProgress(err)))
    return text, result, budget, err


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (or an --out folder, for its latest run) to compare.")],
    format: Annotated[list[str] | None, typer.Option("--format", "-f", help="html, md or json (repeatable; default: all).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for report.* (default: the run's folder; for several runs ./slmbench-report).")] = None,
) -> None:
    """Rebuild the report from stored runs, merging runs of different models into one comparison."""
    with user_errors():
        from .report import FORMATS, load, write

        data = load(list(runs))
        folder = out or (Path(data.runs[0]["dir"]) if len(data.runs) == 1 else Path("slmbench-report"))
        written = write(data, folder, tuple(format or FORMATS))
        for fmt in sorted(written, key=lambda f: f == "html"):  # the HTML last: the line to open
            print(f"report: {written[fmt]}")


@app.command()
def chat(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Chat with a running endpoint: SERVED_ID=URL (repeatable; one chat profile each).")] = None,
    gguf: Annotated[list[Path] | None, typer.Option(help="Serve a local GGUF with llama.cpp for the chat (repeatable).")] = None,
    host: Annotated[str, typer.Option(help="Interface the chat listens on; anything but loopback needs --password-auth.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Chat port (default: a free one).", min=1, max=65535)] = None,
    password_auth: Annotated[bool, typer.Option("--password-auth", help="Require a login; slmbench generates and prints the password.")] = False,
    context: _ContextOpt = "8192",
    ctx_per_slot: _CtxAliasOpt = None,
    parallel: _ParallelOpt = PARALLEL,
    llama_server: Annotated[Path | None, typer.Option(help="llama-server binary to use.", envvar="SLMBENCH_LLAMA_SERVER")] = None,
    chat_template: Annotated[str | None, typer.Option(help="llama.cpp built-in chat template for --gguf models (e.g. chatml, llama3, gemma); needed when the GGUF has none.")] = None,
    config: Annotated[Path | None, typer.Option(help="Config file whose models become chat profiles (default: ./slmbench.toml if present).")] = None,
    api_key_env: _ApiKeyEnvOpt = None,
) -> None:
    """Chat in the browser (Chainlit) with the embedded models or any endpoint; Ctrl-C stops it."""
    with user_errors():
        from contextlib import ExitStack

        from . import config as cfg
        from .chat.launcher import chat_models, check_host, pick_port, serve_chat
        from .paths import cache_dir
        from .serving import open_endpoint, preflight

        check_host(host, password_auth)  # before minutes of model start-up
        ctx = _context(context, ctx_per_slot)
        if port is not None:
            pick_port(host, port)  # a busy port is refused before the models load
        specs = cfg.with_api_key_env(chat_models(cfg.load_config(config), model, gguf, chat_template), api_key_env)
        specs = [s.model_copy(update={"parallel": parallel, "llama_server": llama_server}) if s.backend == "llamacpp" else s
                 for s in specs]  # fmt: skip
        for spec in specs:
            preflight(spec)
        try:
            with ExitStack() as stack:
                log_dir = cache_dir() / "chat-logs"  # kept: a start-up error points into it
                endpoints, supervise = [], []
                for s in specs:
                    started: list[Any] = []
                    endpoints.append(stack.enter_context(open_endpoint(s, log_dir=log_dir, ctx_per_slot=ctx, started=started)))
                    supervise += [(server, endpoints[-1]) for server in started]
                server = stack.enter_context(serve_chat(endpoints, host=host, port=port, password_auth=password_auth,
                                                        supervise=supervise, say=lambda line: print(line, flush=True)))  # fmt: skip
                raise server.wait()
        except KeyboardInterrupt:
            sys.stderr.write("chat stopped\n")


@app.command()
def tasks() -> None:
    """List the available tasks."""
    from rich.console import Console
    from rich.table import Table

    from .tasks import registry

    table = Table("task", "also", "version", "samples", "max tokens", "what")
    with user_errors():  # a task module from SLMBENCH_TASK_MODULES that fails to load
        for name in registry.names():
            t = registry.create(name)
            table.add_row(name, ", ".join(t.aliases), t.version, str(t.default_limit), str(t.max_tokens), t.description)
    Console().print(table)


@app.command()
def setup(
    llama_server: Annotated[Path | None, typer.Option(help="Use this llama-server instead of building one.", envvar="SLMBENCH_LLAMA_SERVER")] = None,
) -> None:
    """Prepare the embedded default: build llama-server, find the embedded GGUFs, install the UDHR texts (each once)."""
    with user_errors():
        from .serving.build import find_llama_server
        from .serving.models import EMBEDDED_MODELS, embedded_gguf, gguf_sha256
        from .tasks.multilingual import install_udhr

        binary = find_llama_server(llama_server)
        print(f"llama-server: {binary}")
        for name in EMBEDDED_MODELS:
            gguf = embedded_gguf(name)
            print(f"embedded model {name}: {gguf} (sha256 {gguf_sha256(gguf)[:12]}...)")
        print(f"UDHR translation smoke set: {install_udhr()}")


@app.command()
def plan(
    model: Annotated[str, typer.Argument(help="Profile name, HF id, or a config.json (file or folder).")] = "qwen3-4b",
    gpu: Annotated[str | None, typer.Option(help="GPU from the catalogue (e.g. rtx4090, a100-80g, h200), or 'all'.")] = None,
    cpu_ram: Annotated[float | None, typer.Option(help="Plan for a CPU with this many GB of RAM (llama.cpp).")] = None,
    weights: Annotated[str | None, typer.Option(help="bf16, fp8, int8, awq, gptq, int4, q8_0, q6_k, q5_k_m, q4_k_m.")] = None,
    kv_dtype: Annotated[str | None, typer.Option(help="KV cache type: auto|fp8 (vLLM), f16|q8_0|q4_0 (llama.cpp).")] = None,
    context: Annotated[str | None, typer.Option(help="Tokens per sequence, e.g. 32768 or 32K (default: native).")] = None,
    concurrency: Annotated[int, typer.Option(help="Sequences of that length at once.")] = 1,
    gpu_memory_utilization: Annotated[float, typer.Option(help="vLLM's share of GPU memory.")] = 0.9,
    tp: Annotated[int, typer.Option(help="vLLM tensor-parallel GPUs.")] = 1,
    dp: Annotated[int, typer.Option(help="vLLM data-parallel replicas.")] = 1,
    hub: Annotated[bool, typer.Option("--hub", help="Read MODEL's config.json from the Hugging Face hub.")] = False,
    table: Annotated[bool, typer.Option("--table", help="Check the reference hardware table for Qwen3-4B.")] = False,
) -> None:
    """Will the model fit this GPU or CPU, at which context, with which serve command?"""
    with user_errors():
        from . import plan as planner
        from .errors import SlmbenchError
        from .profiles import resolve

        profile = resolve(model, hub=hub)
        if table:
            for row in planner.reference_table(profile):
                print(f"{row.hardware}: claim \"{row.claim}\" -> {row.verdict}")
                for line in row.arithmetic:
                    print(f"    {line}")
            return
        if gpu is not None and cpu_ram is not None:
            raise SlmbenchError("pass --gpu or --cpu-ram, not both")
        ctx = planner.parse_tokens(context) if context else None
        options: dict[str, Any] = {"weights": weights, "kv": kv_dtype, "context": ctx, "concurrency": concurrency,
                                   "utilization": gpu_memory_utilization, "tp": tp, "dp": dp}  # fmt: skip
        if gpu == "all":
            print(f"{profile.hf}: largest context and sequences that fit, per GPU")
            for dev in planner.GPUS.values():
                pl = planner.plan(planner.make_request(profile, dev, **options))
                verdict = "fits" if pl.fits else "does not fit"
                print(f"  {dev.name:<16} {verdict:<13} largest context {pl.max_context:>9,}  "
                      f"sequences at {pl.request.context:,}: {pl.max_concurrency:,}")  # fmt: skip
            return
        device = planner.cpu(cpu_ram) if cpu_ram is not None else planner.find_gpu(gpu or "rtx4090")
        result = planner.plan(planner.make_request(profile, device, **options))
        if not result.fits and ctx is None and result.max_context >= 1024:
            # As `serve` does: without --context, the largest context that fits, said so.
            smaller = planner.round_context(result.max_context)
            print(f"{profile.name}'s native {profile.context:,} tokens do not fit {device.name}; "
                  f"planning for {smaller:,}, the largest that fits (pass --context to choose)")  # fmt: skip
            result = planner.plan(planner.make_request(profile, device, **(options | {"context": smaller})))
        print("\n".join(planner.describe(result)))
        if not result.fits:
            raise SlmbenchError(planner.miss_message(result))


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="Profile name or HF id (default: the embedded SmolLM2-135M-Instruct).")] = "smollm2-135m",
    backend: Annotated[str, typer.Option(help="llamacpp (CPU, GGUF), vllm (NVIDIA GPU) or attach (a running endpoint).")] = "llamacpp",
    gguf: Annotated[Path | None, typer.Option(help="llama.cpp: a local GGUF to serve.")] = None,
    url: Annotated[str | None, typer.Option(help="attach: the endpoint's base URL (.../v1).")] = None,
    name: Annotated[str | None, typer.Option(help="Served model name (and the name `ps`/`stop` use).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: a free one).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    context: Annotated[str | None, typer.Option(help="llama.cpp: tokens per slot; vLLM: --max-model-len (default: largest that fits).")] = None,
    ctx_per_slot: _CtxAliasOpt = None,
    parallel: _ParallelOpt = PARALLEL,
    threads: Annotated[int | None, typer.Option(help="llama.cpp threads (default: all cores).")] = None,
    llama_server: Annotated[Path | None, typer.Option(help="llama-server binary to use.", envvar="SLMBENCH_LLAMA_SERVER")] = None,
    gpu: Annotated[str | None, typer.Option(help="vLLM: plan for this GPU (default: detected with nvidia-smi).")] = None,
    weights: Annotated[str | None, typer.Option(help="vLLM weights: bf16, fp8, awq, gptq, int8.")] = None,
    kv_dtype: Annotated[str | None, typer.Option(help="vLLM KV cache: auto or fp8.")] = None,
    gpu_memory_utilization: Annotated[float, typer.Option(help="vLLM's share of GPU memory.")] = 0.9,
    tp: Annotated[int, typer.Option(help="vLLM tensor-parallel GPUs.")] = 1,
    dp: Annotated[int, typer.Option(help="vLLM data-parallel replicas.")] = 1,
    api_key_env: Annotated[str | None, typer.Option(help="attach: environment variable holding the API key.")] = None,
    hub: Annotated[bool, typer.Option("--hub", help="Read MODEL's config.json from the Hugging Face hub.")] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Leave the server running in the background.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the server command and exit.")] = False,
    ready_timeout: Annotated[float | None, typer.Option(help="Seconds to wait for readiness.")] = None,
) -> None:
    """Start a model server and say when it is ready; Ctrl-C stops it."""
    with user_errors():
        from .serving.launch import ServeOptions
        from .serving.launch import serve as run_serve

        opts = ServeOptions(
            model=model, backend=backend, name=name, gguf=gguf, url=url, api_key_env=api_key_env, port=port,
            host=host, context=_context(context, ctx_per_slot), parallel=parallel, threads=threads,
            llama_server=llama_server, gpu=gpu, weights=weights, kv_dtype=kv_dtype,
            gpu_memory_utilization=gpu_memory_utilization, tp=tp, dp=dp, hub=hub, detach=detach, dry_run=dry_run,
            ready_timeout_s=ready_timeout,
        )  # fmt: skip
        try:
            run_serve(opts, say=lambda line: print(line, flush=True))
        except KeyboardInterrupt:
            from .serving.process import interrupted_exit_code, terminated

            print("stopped" + (" (SIGTERM)" if terminated else ""), flush=True)
            if terminated:
                raise typer.Exit(interrupted_exit_code()) from None


@app.command()
def ps() -> None:
    """List servers started with `serve --detach`."""
    with user_errors():
        from rich.console import Console
        from rich.table import Table

        from .serving.launch import ps_rows

        rows = ps_rows()
        if not rows:
            print("no servers running")
            return
        table = Table("name", "backend", "pid", "url", "model", "up", "log")
        for row in rows:
            table.add_row(*row)
        Console(width=200).print(table)


@app.command()
def stop(
    names: Annotated[list[str] | None, typer.Argument(help="Names from `slmbench ps`.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Stop every detached server.")] = False,
) -> None:
    """Stop servers started with `serve --detach`."""
    with user_errors():
        from .errors import SlmbenchError
        from .serving.launch import stop_servers

        if not names and not every:
            raise SlmbenchError("name the server to stop (see `slmbench ps`), or pass --all")
        stop_servers(names or [], every=every)


def _print_results(results: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from .results import TABLE_HEADER, failure_lines, table_rows
    from .tasks import registry

    table = Table(*TABLE_HEADER, title=f"slmbench run {results.run_id} ({results.status})")
    for row in table_rows(results):
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a log file should not wrap the table at 80 columns
    console.print(table)
    _print_pairs(console, results)
    for m in results.models:
        for t in m.tasks.values():
            for line in registry.renderer(t.task).extra_lines(t.extra):  # e.g. long context's effective context
                console.print(f"{m.name} / {t.task}: {line}", highlight=False)
    for line in failure_lines(results):
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    console.print(f"results: {results.run_dir / 'results.json'}  {results.run_dir / 'results.md'}", highlight=False, soft_wrap=True)


def _print_pairs(console: Any, results: Any) -> None:
    """Paired tests between the run's models, one row per task and metric tested."""
    from rich.table import Table

    from .report import TEST_NAMES
    from .results import comparisons

    pairs = comparisons(results)
    if not pairs:
        return
    table = Table("task", "metric", "A", "B", "A − B [95% CI]", "p", "test", "n", "significant", title="paired comparisons")
    for c in pairs:
        diff = "—" if c["diff"] is None else f"{c['diff'] * 100:+.1f} [{c['ci_low'] * 100:+.1f}, {c['ci_high'] * 100:+.1f}]"
        p = "—" if c["p_value"] is None else f"{c['p_value']:.3g}"
        table.add_row(c["task"], c["metric"], c["a"], c["b"], diff, p, TEST_NAMES.get(c["test"], c["test"]), str(c["n"]),
                      "yes" if c["significant"] else "no")  # fmt: skip
    console.print(table)


def _command_words(argv: list[str]) -> list[str]:
    """The leading command names of argv (`longdoc ask`), as far as they name real commands."""
    import typer.main

    words: list[str] = []
    group: Any = typer.main.get_command(app)
    for word in argv:
        sub = getattr(group, "commands", {}).get(word)
        if sub is None:
            break
        words.append(word)
        group = sub
    return words


def _usage_line(exc: Any, argv: list[str] | None = None) -> str:
    """Click's usage error as one line that names the flag and where the fix is."""
    ctx = getattr(exc, "ctx", None)
    path = ctx.command_path if ctx is not None else "slmbench"
    path = "slmbench" + path[path.index(" "):] if " " in path else "slmbench"
    if path == "slmbench":  # an option's missing value is raised before the command's context exists
        words = _command_words(argv if argv is not None else sys.argv[1:])
        path = " ".join(["slmbench", *words])
    message = " ".join(exc.format_message().split())  # "Did you mean" hints arrive on a second line
    return f"error: {path}: {message.rstrip('.')}; see `{path} --help`"


def main(argv: list[str] | None = None) -> None:
    """The console script: usage errors become one line on stderr (exit 2), never a box."""
    from typer._click.exceptions import NoArgsIsHelpError, UsageError  # the Click Typer vendors

    _plain_flag_help()
    try:
        code = app(args=argv, prog_name="slmbench", standalone_mode=False)
    except NoArgsIsHelpError:
        code = 0  # Typer has printed the help
    except UsageError as exc:
        sys.stderr.write(_usage_line(exc, argv) + "\n")
        code = 2
    except typer.Abort:
        sys.stderr.write("interrupted\n")
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


def _plain_flag_help() -> None:
    """Help shows a value type only where a flag takes a value: `--quiet` is not `--quiet <bool>`,
    and a repeatable `--task` takes one `<str>` each time, not a `<list[str]>`."""
    from typer.core import TyperArgument, TyperOption

    if getattr(TyperOption, "_slmbench_help", False):
        return

    def element(label: str | None) -> str | None:
        if label and label.startswith("<list[") and "]>" in label:
            inner = label[6 : label.index("]>")]
            return "<" + ("path" if inner == "Path" else inner) + ">" + label[label.index("]>") + 2 :]
        return label

    for cls in (TyperOption, TyperArgument):
        shown = cls.display_type_rich

        def display_type_rich(self: Any, ctx: Any, shown: Any = shown) -> str | None:
            if getattr(self, "is_flag", False):
                return None
            return element(shown(self, ctx))

        cls.display_type_rich = display_type_rich  # type: ignore[method-assign]
    TyperOption._slmbench_help = True  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
