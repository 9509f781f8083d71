"""Attach to an OpenAI-compatible endpoint that is already running (vLLM, llama.cpp, Ollama,
LM Studio, a remote service)."""

from __future__ import annotations

import os
from dataclasses import replace

from ..config import ModelSpec
from ..errors import SlmbenchError
from .base import Endpoint
from .http import get_json


def attach(spec: ModelSpec) -> Endpoint:
    """Check the endpoint (and each replica) answers and serves the model; return it as an Endpoint."""
    assert spec.url is not None
    first = _attach_one(spec, spec.url)
    if not spec.replicas:
        return first
    others = [_attach_one(spec, url) for url in spec.replicas]
    # The smallest context any replica reports: a request must fit whichever one it lands on.
    known = [e.max_context for e in [first, *others] if e.max_context is not None]
    return replace(first, replica_urls=tuple(e.base_url for e in others), max_context=min(known, default=None))


def resolve_api_key(spec: ModelSpec) -> str | None:
    """The bearer key: from the variable api_key_env names (--api-key-env), else from
    OPENAI_API_KEY as OpenAI clients do. Never printed or stored."""
    if spec.api_key_env:
        key = os.environ.get(spec.api_key_env)
        if not key:
            raise SlmbenchError(
                f"${spec.api_key_env} (named by --api-key-env / api_key_env) is not set or empty; export the API key in it"
            )
        return key
    return os.environ.get("OPENAI_API_KEY") or None


def _attach_one(spec: ModelSpec, url: str) -> Endpoint:
    api_key = resolve_api_key(spec)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    base = url.rstrip("/")
    status, body = get_json(f"{base}/models", timeout_s=10, headers=headers)
    if status == 404 and not base.endswith("/v1"):
        # A server root was given; OpenAI-compatible servers live under /v1.
        status, body = get_json(f"{base}/v1/models", timeout_s=10, headers=headers)
        if status == 200:
            base += "/v1"
    if status == 0:
        raise SlmbenchError(f"cannot reach {url}: nothing answered; start the server there or fix the URL")
    if status in (401, 403):
        if spec.api_key_env:
            hint = f"check the key in ${spec.api_key_env}"
        elif api_key:
            hint = "check the key in $OPENAI_API_KEY, or put the right one in a variable and pass --api-key-env NAME"
        else:
            hint = "it needs an API key: export it and pass --api-key-env NAME (the variable's name), or set OPENAI_API_KEY"
        raise SlmbenchError(f"{url} refused the request (HTTP {status}); {hint}")
    if status != 200 or not isinstance(body, dict):
        raise SlmbenchError(_models_refused(url, base, status))
    models = [m for m in body.get("data") or [] if isinstance(m, dict) and "id" in m]
    served = [m["id"] for m in models]
    wanted = spec.served or spec.name
    if served and wanted not in served:
        raise SlmbenchError(
            f"model {wanted!r} is not served at {url}; it serves: {', '.join(served)}. Use --model {served[0]}={url}"
        )
    info = next((m for m in models if m["id"] == wanted), {})
    max_context = info.get("max_model_len")
    if max_context is None:
        # llama.cpp reports its per-slot context in /props (its /v1/models has the trained one)
        status, props = get_json(f"{base.removesuffix('/v1')}/props", timeout_s=10, headers=headers)
        if status == 200 and isinstance(props, dict):
            max_context = (props.get("default_generation_settings") or {}).get("n_ctx")
    return Endpoint(
        name=spec.name,
        base_url=base,
        model=wanted,
        server="attached",
        identity={"server": "attached", "url": base, "model": wanted},
        max_context=max_context if isinstance(max_context, int) and max_context > 0 else None,
        api_key=api_key,
    )


def _models_refused(url: str, base: str, status: int) -> str:
    """Why GET /models failed, with the fix that applies: a wrong path is not a failing server."""
    if status == 200:
        return f"{url} answered GET /models with something other than a JSON model list; is it an OpenAI-compatible server?"
    if status >= 500:
        return f"{url} answered HTTP {status} to GET /models (a server error); check the server's log, or wait until it is ready"
    if base.endswith("/v1"):
        return f"{url} answered HTTP {status} to GET /models at {base}/models; is this an OpenAI-compatible server, and is the path right?"
    return f"{url} answered HTTP {status} to GET /models; give the OpenAI-compatible base URL (ending in /v1)"
