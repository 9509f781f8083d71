"""`slmbench longdoc`: summarize, ask and compare, each parse -> one library call -> print."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from .cli_support import PARALLEL, ApiKeyEnvOpt, ContextOpt, CtxAliasOpt, ParallelOpt, user_errors

app = typer.Typer(
    help="Long documents: map-reduce summaries and anchored answers within the model's context.", no_args_is_help=True
)

_ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Attach to a running endpoint: SERVED_ID=URL, or an embedded model's name (default: smollm2-135m).",
    ),
]
_GgufOpt = Annotated[Path | None, typer.Option(help="Serve a local GGUF with llama.cpp.")]
_ChunkOpt = Annotated[int | None, typer.Option(help="Chunk size in tokens (default: as large as the context allows).")]
_QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def _longdoc_model(model: str | None, gguf: Path | None, parallel: int, api_key_env: str | None = None) -> Any:
    from .config import embedded_model
    from .resolve import resolve_models

    return resolve_models([model] if model else None, [gguf] if gguf else None, default=[embedded_model()], exclusive=True,
                          api_key_env=api_key_env, parallel=parallel)[0]  # fmt: skip


@app.command("summarize")
def longdoc_summarize(
    file: Annotated[Path, typer.Argument(help="A .txt, .md, .pdf, .docx or .html document.")],
    model: _ModelOpt = None,
    gguf: _GgufOpt = None,
    chunk_tokens: _ChunkOpt = None,
    overlap: Annotated[int, typer.Option(help="Tokens of whole sentences repeated between chunks.")] = 64,
    summary_tokens: Annotated[int, typer.Option(help="Max tokens of each partial summary.")] = 256,
    final_tokens: Annotated[int, typer.Option(help="Max tokens of the final summary.")] = 512,
    context: ContextOpt = "4096",
    ctx_per_slot: CtxAliasOpt = None,
    parallel: ParallelOpt = PARALLEL,
    quiet: _QuietOpt = False,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:  # fmt: skip
    """Summarise a long document: chunk, summarise each chunk, reduce (hierarchically if needed)."""
    with user_errors(kept="nothing written; the summary was not finished"):
        from rich.console import Console

        from . import longdoc
        from .progress import Quiet, RichProgress
        from .resolve import parse_context

        settings = longdoc.Settings(chunk_tokens=chunk_tokens, overlap_tokens=overlap, summary_tokens=summary_tokens,
                                    final_tokens=final_tokens, concurrency=parallel)  # fmt: skip
        err = Console(stderr=True)
        result, text, budget = longdoc.summarize_file(
            file, _longdoc_model(model, gguf, parallel, api_key_env), ctx_per_slot=parse_context(context, ctx_per_slot),
            settings=settings, observer=Quiet() if quiet else RichProgress(err), say=err.print,
        )  # fmt: skip
        print(result.text)
        u = result.usage
        err.print(f"{file.name}: {len(text):,} chars, {result.chunks} chunks, {result.levels} reduce levels, "
                  f"{u.requests} requests, {u.prompt_tokens:,} prompt + {u.completion_tokens:,} completion tokens "
                  f"({budget.counter.source}), {u.truncated} cut at max tokens, {result.seconds:.1f} s", highlight=False, soft_wrap=True)  # fmt: skip


@app.command("ask")
def longdoc_ask(
    file: Annotated[Path, typer.Argument(help="A .txt, .md, .pdf, .docx or .html document.")],
    question: Annotated[str, typer.Argument(help="The question.")],
    model: _ModelOpt = None,
    gguf: _GgufOpt = None,
    chunk_tokens: _ChunkOpt = None,
    passages: Annotated[int, typer.Option(help="Most relevant passages to put in the prompt.")] = 4,
    final_tokens: Annotated[int, typer.Option(help="Max tokens of the answer.")] = 384,
    context: ContextOpt = "4096",
    ctx_per_slot: CtxAliasOpt = None,
    quiet: _QuietOpt = False,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:  # fmt: skip
    """Answer a question about a long document from its most relevant passages (BM25), best first."""
    with user_errors(kept="nothing written; the answer was not finished"):
        from rich.console import Console

        from . import longdoc
        from .progress import Quiet, RichProgress
        from .resolve import parse_context

        settings = longdoc.Settings(
            chunk_tokens=chunk_tokens, top_passages=passages, final_tokens=final_tokens, concurrency=1
        )
        err = Console(stderr=True)
        result = longdoc.ask_file(
            file, question, _longdoc_model(model, gguf, 1, api_key_env), ctx_per_slot=parse_context(context, ctx_per_slot),
            settings=settings, observer=Quiet() if quiet else RichProgress(err), say=err.print,
        )  # fmt: skip
        print(result.text)
        used = ", ".join(f"P{i + 1} ({result.chunks[i].start}-{result.chunks[i].end})" for i in result.passages)
        err.print(
            f"passages used, most relevant first: {used}; {result.usage.prompt_tokens:,} prompt tokens, {result.seconds:.1f} s",
            highlight=False,
            soft_wrap=True,
        )


@app.command("compare")
def longdoc_compare(
    model: _ModelOpt = None,
    gguf: _GgufOpt = None,
    lengths: Annotated[str, typer.Option(help="Document lengths in tokens.")] = "1k,2k,4k",
    limit: Annotated[int, typer.Option(help="Needle documents (spread over the lengths).")] = 6,
    max_tokens: Annotated[int, typer.Option(help="Max tokens of each answer.")] = 64,
    chunk_tokens: Annotated[int, typer.Option(help="Chunk size for the anchored and map-reduce strategies.")] = 512,
    parallel: ParallelOpt = PARALLEL,
    out: Annotated[Path, typer.Option(help="Folder for the run folder (JSON + Markdown; `slmbench report` reads it).")] = Path("slmbench-runs/longdoc"),
    api_key_env: ApiKeyEnvOpt = None,
) -> None:  # fmt: skip
    """Compare whole-context, anchored and map-reduce answers on generated needle documents."""
    with user_errors(kept="finished trials are kept in the run folder; re-run the same command to continue"):
        from rich.console import Console

        from . import config as cfg
        from . import longdoc, show

        err = Console(stderr=True)
        result, run_dir = longdoc.compare_strategies(
            _longdoc_model(model, gguf, parallel, api_key_env), cfg.parse_lengths_flag(lengths), limit=limit,
            max_tokens=max_tokens, chunk_tokens=chunk_tokens, parallel=parallel, out=out, say=err.print,
            on_trial=lambda t: err.print(f"{t.sample} {t.strategy}: {t.verdict} ({t.prompt_tokens} prompt tokens, {t.seconds:.1f} s)",
                                         highlight=False, soft_wrap=True),
        )  # fmt: skip
        show.strategies(Console(), result)
        print(f"comparison: {run_dir / longdoc.compare.RESULT_FILE}  (slmbench report {out} adds it to a report)")
