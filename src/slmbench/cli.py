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


@contextmanager
def user_errors() -> Iterator[None]:
    """Problems the user can fix become one line on stderr and a non-zero exit, never a traceback."""
    from .errors import SlmbenchError
    from .serving.process import raise_on_sigterm

    raise_on_sigterm()
    try:
        yield
    except SlmbenchError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: answers received so far are stored; re-run the same command to resume\n")
        raise typer.Exit(130) from None


@app.command("eval")
def eval_command(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Attach to a running endpoint: SERVED_ID=URL (repeatable).")] = None,
    gguf: Annotated[list[Path] | None, typer.Option(help="Serve a local GGUF with llama.cpp (repeatable).")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="Task to run (repeatable); see `slmbench tasks`.")] = None,
    data: Annotated[list[str] | None, typer.Option(help="Data for a task: TASK=PATH or TASK=hub (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option(help="Samples per task (default: each task's own).")] = None,
    target_ci_width: Annotated[float | None, typer.Option(help="Add samples until each headline 95% CI is at most this many points wide.")] = None,
    max_samples: Annotated[int | None, typer.Option(help="Cap per task for --target-ci-width (default 1000).")] = None,
    lengths: Annotated[str | None, typer.Option(help="Long-context lengths in tokens, e.g. 1k,2k,4k (default: the task's grid).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for generated samples and sampling.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight per model.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (default 0).")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling top_p (default 1).")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Answer length cap (default: each task's own).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds to wait for one answer (default: 300, longer for long answers: 60 + 0.25 per max token).")] = None,
    retries: Annotated[int | None, typer.Option(help="Retries on connection errors, 429 and 5xx.")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for the store and run folders.")] = None,
    config: Annotated[Path | None, typer.Option(help="Config file (default: ./slmbench.toml if present).")] = None,
    parallel: Annotated[int | None, typer.Option(help="llama.cpp parallel slots.")] = None,
    ctx_per_slot: Annotated[int | None, typer.Option(help="llama.cpp context tokens per slot.")] = None,
    threads: Annotated[int | None, typer.Option(help="llama.cpp threads (default: all cores).")] = None,
    port: Annotated[int | None, typer.Option(help="llama.cpp port (default: a free one).")] = None,
    llama_server: Annotated[Path | None, typer.Option(help="llama-server binary to use.", envvar="SLMBENCH_LLAMA_SERVER")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Evaluate models on tasks; by default the embedded Gemma 3 270M on llama.cpp."""
    with user_errors():
        from pydantic import ValidationError
        from rich.console import Console

        from . import config as cfg
        from .errors import SlmbenchError
        from .progress import Quiet, RichProgress
        from .runner import run

        conf = cfg.load_config(config)
        server_opts: dict[str, Any] = {
            k: v
            for k, v in {"parallel": parallel, "ctx_per_slot": ctx_per_slot, "threads": threads, "port": port, "llama_server": llama_server}.items()
            if v is not None
        }
        models = [cfg.parse_model_flag(m) for m in model or []]
        models += [cfg.gguf_model(p) for p in gguf or []]
        if not models and not conf.models:
            models = [cfg.embedded_model()]
        if models:
            conf.models = models
        conf.models = [m.model_copy(update=server_opts) if m.backend == "llamacpp" else m for m in conf.models]
        flags = {
            "tasks": task, "limit": limit, "seed": seed, "concurrency": concurrency, "temperature": temperature,
            "top_p": top_p, "max_tokens": max_tokens, "timeout_s": timeout, "retries": retries, "out": out,
            "target_ci_width": target_ci_width, "max_samples": max_samples,
            "data": dict(cfg.parse_data_flag(d) for d in data) if data else None,
            "lengths": cfg.parse_lengths_flag(lengths) if lengths else None,
        }  # fmt: skip
        try:
            conf.eval = cfg.EvalSettings.model_validate(conf.eval.model_dump() | {k: v for k, v in flags.items() if v is not None})
        except ValidationError as exc:
            first = exc.errors()[0]
            raise SlmbenchError(f"--{str(first['loc'][0]).replace('_', '-')}: {first['msg']}") from None

        err = Console(stderr=True)
        results = run(conf, Quiet() if quiet else RichProgress(err))
        _print_results(results)
        from .report import load, write

        html = write(load([results.run_dir]), results.run_dir, ("html",))["html"]
        print(f"report: {html}")
        if results.status != "complete":
            raise typer.Exit(1)


longdoc_app = typer.Typer(help="Long documents: map-reduce summaries and anchored answers within the model's context.", no_args_is_help=True)
app.add_typer(longdoc_app, name="longdoc")

_ModelOpt = Annotated[str | None, typer.Option("--model", "-m", help="Attach to a running endpoint: SERVED_ID=URL (default: the embedded model).")]
_GgufOpt = Annotated[Path | None, typer.Option(help="Serve a local GGUF with llama.cpp.")]
_CtxOpt = Annotated[int, typer.Option(help="llama.cpp context tokens per slot (started servers only).")]
_ParallelOpt = Annotated[int, typer.Option(help="llama.cpp parallel slots = requests in flight.")]
_ChunkOpt = Annotated[int | None, typer.Option(help="Chunk size in tokens (default: as large as the context allows).")]
_QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _longdoc_model(model: str | None, gguf: Path | None, parallel: int) -> Any:
    from . import config as cfg

    if model and gguf:
        from .errors import SlmbenchError

        raise SlmbenchError("pass --model or --gguf, not both")
    spec = cfg.parse_model_flag(model) if model else cfg.gguf_model(gguf) if gguf else cfg.embedded_model()
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
    ctx_per_slot: _CtxOpt = 4096,
    parallel: _ParallelOpt = 4,
    quiet: _QuietOpt = False,
) -> None:
    """Summarise a long document: chunk, summarise each chunk, reduce (hierarchically if needed)."""
    with user_errors():
        from . import longdoc

        settings = longdoc.Settings(chunk_tokens=chunk_tokens, overlap_tokens=overlap, summary_tokens=summary_tokens,
                                    final_tokens=final_tokens, concurrency=parallel)  # fmt: skip
        text, result, budget, err = _run_longdoc(
            file, _longdoc_model(model, gguf, parallel), ctx_per_slot, quiet,
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
    ctx_per_slot: _CtxOpt = 4096,
    quiet: _QuietOpt = False,
) -> None:
    """Answer a question about a long document from its most relevant passages (BM25), best first."""
    with user_errors():
        from . import longdoc

        settings = longdoc.Settings(chunk_tokens=chunk_tokens, top_passages=passages, final_tokens=final_tokens, concurrency=1)
        _, result, _, err = _run_longdoc(
            file, _longdoc_model(model, gguf, 1), ctx_per_slot, quiet,
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
    parallel: _ParallelOpt = 2,
    out: Annotated[Path, typer.Option(help="Where to write the comparison (JSON).")] = Path("longdoc-compare.json"),
) -> None:
    """Compare whole-context, anchored and map-reduce answers on generated needle documents."""
    with user_errors():
        import orjson
        from rich.console import Console
        from rich.table import Table

        from . import config as cfg
        from . import longdoc
        from .longdoc import compare as cmp

        grid = cfg.parse_lengths_flag(lengths)
        err = Console(stderr=True)
        settings = longdoc.Settings(chunk_tokens=chunk_tokens, summary_tokens=max_tokens, final_tokens=max_tokens, concurrency=parallel)
        ctx = max(4096, 1 << (grid[-1] - 1).bit_length())
        with longdoc.served(_longdoc_model(model, gguf, parallel), ctx_per_slot=ctx, say=err.print) as (ep, budget):
            samples = cmp.documents(budget, grid, limit, max_tokens=max_tokens)
            trials = longdoc.run(cmp.compare(samples, ep, budget, settings=settings, on_trial=lambda t: err.print(
                f"{t.sample} {t.strategy}: {t.verdict} ({t.prompt_tokens} prompt tokens, {t.seconds:.1f} s)", highlight=False, soft_wrap=True)))  # fmt: skip
        result = cmp.summary(trials) | {"model": ep.name, "tokens": budget.describe(), "lengths": grid}
        out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        table = Table("strategy", "recall", "ok / n", "skipped", "prompt tokens", "seconds", title=f"{ep.name}: strategies on {len(samples)} needle documents")
        for name, g in result["strategies"].items():
            fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
            table.add_row(name, fmt(g["recall"], ".2f"), f"{g['ok']} / {g['n']}", str(g["skipped"]), fmt(g["prompt_tokens"], ".0f"), fmt(g["seconds"], ".1f"))
        Console().print(table)
        print(f"comparison: {out}")


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
        for path in write(data, folder, tuple(format or FORMATS)).values():
            print(f"report: {path}")


@app.command()
def chat(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Chat with a running endpoint: SERVED_ID=URL (repeatable; one chat profile each).")] = None,
    gguf: Annotated[list[Path] | None, typer.Option(help="Serve a local GGUF with llama.cpp for the chat (repeatable).")] = None,
    host: Annotated[str, typer.Option(help="Interface the chat listens on; anything but loopback needs --password-auth.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Chat port (default: a free one).", min=1, max=65535)] = None,
    password_auth: Annotated[bool, typer.Option("--password-auth", help="Require a login; slmbench generates and prints the password.")] = False,
    ctx_per_slot: Annotated[int, typer.Option(help="llama.cpp context tokens per slot for models started here.", min=256)] = 8192,
    parallel: Annotated[int, typer.Option(help="llama.cpp parallel slots (concurrent chats) for models started here.", min=1)] = 2,
    llama_server: Annotated[Path | None, typer.Option(help="llama-server binary to use.", envvar="SLMBENCH_LLAMA_SERVER")] = None,
) -> None:
    """Chat in the browser (Chainlit) with the embedded model or any endpoint; Ctrl-C stops it."""
    with user_errors():
        from contextlib import ExitStack

        from . import config as cfg
        from .chat.launcher import check_host, serve_chat
        from .paths import cache_dir
        from .serving import open_endpoint, preflight

        check_host(host, password_auth)  # before minutes of model start-up
        specs = [cfg.parse_model_flag(m) for m in model or []] + [cfg.gguf_model(p) for p in gguf or []]
        specs = [s.model_copy(update={"parallel": parallel, "llama_server": llama_server}) if s.backend == "llamacpp" else s
                 for s in specs or [cfg.embedded_model()]]  # fmt: skip
        for spec in specs:
            preflight(spec)
        try:
            with ExitStack() as stack:
                log_dir = cache_dir() / "chat-logs"  # kept: a start-up error points into it
                endpoints = [stack.enter_context(open_endpoint(s, log_dir=log_dir, ctx_per_slot=ctx_per_slot)) for s in specs]
                server = stack.enter_context(serve_chat(endpoints, host=host, port=port, password_auth=password_auth))
                raise server.wait()
        except KeyboardInterrupt:
            sys.stderr.write("chat stopped\n")


@app.command()
def tasks() -> None:
    """List the available tasks."""
    from rich.console import Console
    from rich.table import Table

    from .tasks import TASKS

    table = Table("task", "version", "samples", "max tokens", "what")
    for name, t in sorted(TASKS.items()):
        table.add_row(name, t.version, str(t.default_limit), str(t.max_tokens), t.description)
    Console().print(table)


@app.command()
def setup(
    llama_server: Annotated[Path | None, typer.Option(help="Use this llama-server instead of building one.", envvar="SLMBENCH_LLAMA_SERVER")] = None,
) -> None:
    """Prepare the embedded default: build llama-server once, assemble the GGUF once."""
    with user_errors():
        from .serving.build import find_llama_server
        from .serving.models import embedded_gguf, gguf_sha256

        binary = find_llama_server(llama_server)
        gguf = embedded_gguf()
        print(f"llama-server: {binary}")
        print(f"embedded model: {gguf} (sha256 {gguf_sha256(gguf)[:12]}...)")


def _print_results(results: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from .results import TABLE_HEADER, table_rows

    table = Table(*TABLE_HEADER, title=f"slmbench run {results.run_id} ({results.status})")
    for row in table_rows(results):
        table.add_row(*row)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a log file should not wrap the table at 80 columns
    console.print(table)
    for m in results.models:
        for t in m.tasks.values():
            if "effective_context" in t.extra:
                console.print(f"{m.name} / {t.task}: effective context {t.extra['effective_context'] or 'n/a'} tokens ({t.extra['effective_context_why']})", highlight=False)
    console.print(f"results: {results.run_dir / 'results.json'}  {results.run_dir / 'results.md'}", highlight=False, soft_wrap=True)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
