"""The long-document toolkit: load, chunk (token-aware), summarise (map-reduce), ask (anchored),
and remember (bounded conversation memory). `slmbench longdoc summarize|ask FILE` drives it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..config import PARALLEL, ModelSpec
from ..errors import SlmbenchError
from ..paths import cache_dir
from ..serving import Endpoint, open_endpoint, preflight
from ..serving.tokens import Budget, probe_budget
from .chunking import Chunk, chunk_text
from .loaders import SUFFIXES, load_text
from .memory import ConversationMemory
from .toolkit import Answer, Settings, Summary, ask, passages_text, rank_chunks, run, summarize

DEFAULT_CTX_PER_SLOT = 4096


@contextmanager
def served(
    spec: ModelSpec, *, ctx_per_slot: int = DEFAULT_CTX_PER_SLOT, say: Callable[[str], None] = print
) -> Iterator[tuple[Endpoint, Budget]]:
    """A ready endpoint (started here for llama.cpp, as `slmbench eval` does) and its token budget."""
    preflight(spec)
    with open_endpoint(spec, log_dir=cache_dir() / "logs", ctx_per_slot=ctx_per_slot, say=say) as ep:
        yield ep, probe_budget(ep)


def summarize_file(path: Path, spec: ModelSpec, *, ctx_per_slot: int = DEFAULT_CTX_PER_SLOT, settings: Settings | None = None,
                   observer: Any = None, say: Callable[[str], None] = print) -> tuple[Summary, str, Budget]:  # fmt: skip
    """`slmbench longdoc summarize`: the document's summary, its text and the model's token budget."""
    text = load_text(path)
    with served(spec, ctx_per_slot=ctx_per_slot, say=say) as (ep, budget):
        result = run(summarize(text, ep, budget, title=path.name, settings=settings or Settings(), observer=observer))
    return result, text, budget


def ask_file(path: Path, question: str, spec: ModelSpec, *, ctx_per_slot: int = DEFAULT_CTX_PER_SLOT,
             settings: Settings | None = None, observer: Any = None, say: Callable[[str], None] = print) -> Answer:  # fmt: skip
    """`slmbench longdoc ask`: the answer from the document's most relevant passages."""
    text = load_text(path)
    with served(spec, ctx_per_slot=ctx_per_slot, say=say) as (ep, budget):
        return run(ask(text, question, ep, budget, settings=settings or Settings(), observer=observer))


def compare_strategies(spec: ModelSpec, lengths: Sequence[int], *, limit: int = 6, max_tokens: int = 64,
                       chunk_tokens: int = 512, parallel: int = PARALLEL, out: Path = Path("slmbench-runs/longdoc"),
                       say: Callable[[str], None] = print, on_trial: Callable[[Any], None] | None = None,
                       ) -> tuple[dict[str, Any], Path]:  # fmt: skip
    """`slmbench longdoc compare`: whole-context, anchored and map-reduce answers on generated needle
    documents; the summary and the run folder it was written to."""
    from ..config import slot_context
    from ..runs import endpoint_manifest, finish_steps, prepare_out
    from . import compare as cmp

    for flag, value in (("--limit", limit), ("--max-tokens", max_tokens)):
        if value < 1:
            raise SlmbenchError(f"{flag} must be at least 1 (got {value}); pass a positive number")
    prepare_out(out)  # before the model starts: a bad --out must not cost the run
    settings = Settings(
        chunk_tokens=chunk_tokens, summary_tokens=max_tokens, final_tokens=max_tokens, concurrency=parallel
    )
    # what makes the trials the same ones (parallel only changes how fast map-reduce goes)
    record = {"model": spec.name, "backend": spec.backend, "source": spec.url or (str(spec.gguf) if spec.gguf else None),
              "lengths": list(lengths), "limit": limit, "max_tokens": max_tokens, "chunk_tokens": chunk_tokens}  # fmt: skip
    run_dir, kept = cmp.open_run(out, record)
    if kept:
        say(f"continuing the unfinished comparison {run_dir}: {len(kept)} trials kept")
    finished = list(kept.values())

    def record_trial(trial: cmp.Trial) -> None:
        cmp.append_trial(run_dir, trial)
        finished.append(trial)
        if on_trial is not None:
            on_trial(trial)

    result: dict[str, Any] = {}
    status, name, tokens, trials, ids = "interrupted", None, None, None, None
    try:
        with served(spec, ctx_per_slot=slot_context(lengths[-1], floor=4096), say=say) as (ep, budget):
            name, tokens = ep.name, budget.describe()
            cmp.update_state(run_dir, endpoint=endpoint_manifest(spec, ep))
            samples = cmp.documents(budget, lengths, limit, max_tokens=max_tokens)
            ids = {s.id for s in samples}
            trials = run(cmp.compare(samples, ep, budget, settings=settings, on_trial=record_trial, done=kept))
        status = "complete"
    finally:

        def write() -> None:
            nonlocal result
            done = trials if trials is not None else [t for t in finished if ids is not None and t.sample in ids]
            if name is not None and done:
                result = cmp.summary(done) | {"model": name, "tokens": tokens, "lengths": list(lengths),
                                              "status": status, "trials_planned": len(ids or ()) * len(cmp.STRATEGIES)}  # fmt: skip
                cmp.write_run(result, out, run_dir)

        # the files first, then the status: a run is never `complete` without them
        finish_steps([write, lambda: cmp.update_state(run_dir, status=status)])
    return result, run_dir


__all__ = ["SUFFIXES", "Answer", "Chunk", "ConversationMemory", "Settings", "Summary", "ask", "ask_file", "chunk_text",
           "compare_strategies", "load_text", "passages_text", "rank_chunks", "run", "served", "summarize",
           "summarize_file"]  # fmt: skip
