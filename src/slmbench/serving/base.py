"""What a running model looks like to the rest of slmbench."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    """A ready OpenAI-compatible endpoint serving one model."""

    name: str  # the label results use
    base_url: str  # ".../v1"
    model: str  # the id requests carry in "model"
    server: str  # e.g. "llama.cpp b6500" or "attached"
    # Stable across restarts (no port, no pid): part of every cache key.
    identity: dict[str, Any] = field(default_factory=dict)
    max_context: int | None = None
    api_key: str | None = None
    # How the server renders serving.llamacpp.PROBE_CONVERSATION, where it can tell.
    chat_template_probe: str | None = None
    # The command line of a server slmbench started (for run manifests).
    command: tuple[str, ...] | None = None
    # More base URLs serving the same model; the client balances over base_url and these.
    replica_urls: tuple[str, ...] = ()
    # The process.Supervised that started the server (None when attached): alive(), restart().
    supervisor: Any = field(default=None, compare=False, repr=False)
    # A tokens.Budget the server's lifecycle already holds (vLLM in eval: counts it records, or
    # replays on a re-run that starts no server); None: probe the endpoint.
    budget: Any = None
