"""Model servers: start one (llama.cpp) or attach to one; either way get a ready Endpoint."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from .base import Endpoint

if TYPE_CHECKING:
    from ..config import ModelSpec
    from .llamacpp import LlamaCppServer

# The servers are imported where they are used: `make setup` builds llama-server through
# `serving.build` while pip is still installing aiohttp and the rest, so this package's import
# must need nothing beyond the standard library and pydantic.

__all__ = ["Endpoint", "open_endpoint", "preflight"]


def preflight(spec: ModelSpec) -> None:
    """Cheap checks before any work: files exist, ports are free, endpoints answer."""
    from .attach import attach
    from .build import find_llama_server
    from .llamacpp import ensure_port_free
    from .models import check_gguf

    if spec.backend == "attach":
        attach(spec)
        return
    if spec.backend == "vllm":
        from .vllm_eval import preflight_vllm

        preflight_vllm(spec)
    if spec.gguf is not None:
        check_gguf(spec.gguf)
    if spec.llama_server is not None:
        find_llama_server(spec.llama_server, build=False)
    if spec.port is not None:
        ensure_port_free(spec.port)


@contextmanager
def open_endpoint(
    spec: ModelSpec,
    *,
    log_dir: Path,
    ctx_per_slot: int,
    say: Callable[[str], None] = print,
    db: sqlite3.Connection | None = None,
    all_cached: Callable[[Endpoint], bool] | None = None,
    started: list[LlamaCppServer] | None = None,
) -> Iterator[Endpoint]:
    """A ready endpoint for the model; a server started here is stopped on every exit path
    (and appended to `started`, for a caller that supervises it).

    vLLM: `db` (the run store) keeps each launch's identity and token counts, and a model for
    which `all_cached(endpoint)` holds is not started at all."""
    from .attach import attach
    from .build import find_llama_server
    from .llamacpp import LlamaCppServer
    from .models import gguf_sha256

    if spec.backend == "attach":
        yield attach(spec)
        return
    if spec.backend == "vllm":
        from .vllm_eval import vllm_endpoint

        with vllm_endpoint(spec, log_dir=log_dir, say=say, db=db, all_cached=all_cached) as endpoint:
            yield endpoint
        return
    gguf = spec.model_file()
    server = LlamaCppServer(
        name=spec.name,
        binary=find_llama_server(spec.llama_server, say=say),
        gguf=gguf,
        gguf_sha256=gguf_sha256(gguf),
        log_path=log_dir / f"{spec.name.replace('/', '_')}.llama-server.log",
        parallel=spec.parallel,
        ctx_per_slot=spec.ctx_per_slot or ctx_per_slot,
        threads=spec.threads,
        port=spec.port,
        chat_template=spec.chat_template,
    )
    with server as endpoint:
        if started is not None:
            started.append(server)
        yield endpoint
