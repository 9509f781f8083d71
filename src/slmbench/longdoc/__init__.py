"""The long-document toolkit: load, chunk (token-aware), summarise (map-reduce), ask (anchored),
and remember (bounded conversation memory). `slmbench longdoc summarize|ask FILE` drives it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..config import ModelSpec
from ..paths import cache_dir
from ..serving import Endpoint, open_endpoint, preflight
from ..serving.tokens import Budget, probe_budget
from .chunking import Chunk, chunk_text
from .loaders import SUFFIXES, load_text
from .memory import ConversationMemory
from .toolkit import Answer, Settings, Summary, ask, passages_text, rank_chunks, run, summarize

DEFAULT_CTX_PER_SLOT = 4096


@contextmanager
def served(spec: ModelSpec, *, ctx_per_slot: int = DEFAULT_CTX_PER_SLOT, say: Callable[[str], None] = print) -> Iterator[tuple[Endpoint, Budget]]:
    """A ready endpoint (started here for llama.cpp, as `slmbench eval` does) and its token budget."""
    preflight(spec)
    with open_endpoint(spec, log_dir=cache_dir() / "logs", ctx_per_slot=ctx_per_slot, say=say) as ep:
        yield ep, probe_budget(ep)


__all__ = ["SUFFIXES", "Answer", "Chunk", "ConversationMemory", "Settings", "Summary", "ask", "chunk_text",
           "load_text", "passages_text", "rank_chunks", "run", "served", "summarize"]  # fmt: skip
