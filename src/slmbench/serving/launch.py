"""`slmbench serve`: start a model (llama.cpp or vLLM) in the foreground or detached, or
validate an attached endpoint. The CLI only parses flags into ServeOptions."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import plan as planner
from ..config import ModelSpec
from ..errors import ServerStartError, SlmbenchError
from ..profiles import Profile, resolve
from . import state
from .base import Endpoint

Say = Callable[[str], None]


@dataclass
class ServeOptions:
    model: str = "smollm2-135m"
    backend: str = "llamacpp"
    name: str | None = None
    gguf: Path | None = None
    url: str | None = None
    api_key_env: str | None = None
    port: int | None = None
    host: str = "127.0.0.1"
    context: int | None = None
    parallel: int = 4
    threads: int | None = None
    llama_server: Path | None = None
    gpu: str | None = None
    weights: str | None = None
    kv_dtype: str | None = None
    gpu_memory_utilization: float = 0.9
    tp: int = 1
    dp: int = 1
    hub: bool = False
    detach: bool = False
    dry_run: bool = False
    ready_timeout_s: float | None = None


def serve(opts: ServeOptions, say: Say = print) -> None:
    if opts.backend == "attach":
        attach_and_report(opts, say)
        return
    if opts.backend not in ("llamacpp", "vllm"):
        raise SlmbenchError(f"--backend {opts.backend!r} is not one of: llamacpp, vllm, attach")
    server, name, what = vllm_server(opts, say) if opts.backend == "vllm" else llamacpp_server(opts, say)
    if server is None:  # --dry-run
        return
    if opts.detach:
        existing = {r.name: r for r in state.running()}
        if name in existing:
            raise SlmbenchError(
                f"a server named {name!r} is already running (pid {existing[name].pid}); "
                f"`slmbench stop {name}` or pass another --name"
            )
    started = time.monotonic()
    with server as endpoint:
        took = time.monotonic() - started
        say(
            f"ready: {endpoint.model} at {endpoint.base_url} ({endpoint.server}, {took:.1f} s to start); log: {server.log_path}"
        )
        if opts.backend == "vllm":
            from .process import tail
            from .vllm import kv_report

            if report := kv_report(tail(server.log_path, 400)):
                say(f"  {report} (plan: {server.plan.max_context:,} tokens for one sequence)")
        if opts.detach:
            pid = server.release()
            state.save(state.Record(name, pid, opts.backend, endpoint.base_url, endpoint.model, str(server.log_path),
                                    server.command if opts.backend == "vllm" else server.argv(_port(endpoint)), time.time()))  # fmt: skip
            say(f"detached: pid {pid}; `slmbench ps` lists it, `slmbench stop {name}` stops it")
            return
        say("serving; Ctrl-C stops it")
        code = server.wait()
        raise ServerStartError(f"{what} exited by itself with code {code}; see its log {server.log_path}")


def _port(endpoint: Endpoint) -> int:
    return int(endpoint.base_url.rsplit(":", 1)[1].split("/", 1)[0])


def llamacpp_server(opts: ServeOptions, say: Say) -> tuple[Any, str, str]:
    from .build import find_llama_server
    from .llamacpp import LlamaCppServer, ensure_port_free
    from .models import check_gguf, embedded_gguf, gguf_sha256

    if opts.gguf is not None:
        check_gguf(opts.gguf)
        gguf, name, template = opts.gguf, opts.name or opts.gguf.stem, None
    else:
        profile = resolve(opts.model, hub=opts.hub)
        if not profile.embedded:
            repo = profile.gguf.repos[0] if profile.gguf.repos else "the hub"
            file = next(iter(profile.gguf.files.values()), "a .gguf file")
            raise SlmbenchError(
                f"{profile.name} has no local GGUF; download one (e.g. {file} from {repo}) and pass --gguf PATH, "
                "or use --backend vllm on a GPU"
            )
        gguf, name, template = embedded_gguf(profile.name), opts.name or profile.name, profile.chat_template
    if opts.port is not None:
        ensure_port_free(opts.port)
    server = LlamaCppServer(
        name=name,
        binary=find_llama_server(opts.llama_server, say=say),
        gguf=gguf,
        gguf_sha256=gguf_sha256(gguf),
        log_path=state.log_path(name),
        parallel=opts.parallel,
        ctx_per_slot=opts.context or 4096,
        threads=opts.threads,
        port=opts.port,
        chat_template=template,
        detach=opts.detach,
        **({"ready_timeout_s": opts.ready_timeout_s} if opts.ready_timeout_s else {}),
    )
    if opts.dry_run:
        say(" ".join(server.argv(opts.port or 8080)))
        return None, name, "llama-server"
    return server, name, "llama-server"


def vllm_plan(opts: ServeOptions, profile: Profile, say: Say) -> planner.Plan:
    """The plan the vLLM command comes from; without --context, the largest that fits."""
    from .vllm import detect_gpu

    if opts.gpu is not None:
        device = planner.find_gpu(opts.gpu)
    else:
        detected = detect_gpu()
        if detected is None:
            raise SlmbenchError(
                "no NVIDIA GPU found (nvidia-smi); pass --gpu NAME to plan for one, or use --backend llamacpp"
            )
        device = detected[0]
    options: dict[str, Any] = {"weights": opts.weights or "bf16", "kv": opts.kv_dtype, "concurrency": 1,
                               "utilization": opts.gpu_memory_utilization, "tp": opts.tp, "dp": opts.dp}  # fmt: skip
    pl = planner.plan(planner.make_request(profile, device, context=opts.context, **options))
    if pl.fits:
        return pl
    if opts.context is not None or pl.max_context < 1024:
        raise SlmbenchError(planner.miss_message(pl))
    smaller = planner.round_context(pl.max_context)
    say(
        f"{profile.name}'s native {profile.context:,} tokens do not fit {device.name}; --max-model-len {smaller} (plan)"
    )
    return planner.plan(planner.make_request(profile, device, context=smaller, **options))


def vllm_server(opts: ServeOptions, say: Say) -> tuple[Any, str, str]:
    from .vllm import VllmServer, find_vllm, vllm_argv

    if opts.gguf is not None:
        raise SlmbenchError("--gguf is for --backend llamacpp; vLLM serves a hub id or a local HF folder")
    profile = resolve(opts.model, hub=opts.hub)
    binary = None if opts.dry_run else find_vllm()  # before planning: no vLLM, nothing to plan for
    pl = vllm_plan(opts, profile, say)
    name = opts.name or profile.name
    if opts.dry_run:
        say(" ".join(vllm_argv("vllm", pl, port=opts.port or 8000, host=opts.host, served_name=name)))
        return None, name, "vLLM"
    server = VllmServer(
        plan=pl,
        binary=binary,
        log_path=state.log_path(name),
        served_name=name,
        port=opts.port,
        host=opts.host,
        detach=opts.detach,
        **({"ready_timeout_s": opts.ready_timeout_s} if opts.ready_timeout_s else {}),
    )
    return server, name, "vLLM"


def attach_and_report(opts: ServeOptions, say: Say) -> None:
    from .attach import attach
    from .probe import describe, probe_capabilities

    if not opts.url:
        raise SlmbenchError("--backend attach needs --url, the endpoint's OpenAI-compatible base URL (.../v1)")
    if not opts.url.startswith(("http://", "https://")):
        raise SlmbenchError(f"--url {opts.url!r} is not an http(s) URL; write it like http://127.0.0.1:8000/v1")
    spec = ModelSpec(name=opts.name or opts.model, backend="attach", url=opts.url, served=opts.name,
                     api_key_env=opts.api_key_env)  # fmt: skip
    if opts.name is None:
        # No name given: take the one model the endpoint serves.
        from .http import get_json

        base = opts.url.rstrip("/")
        status, body = get_json(f"{base}/models", timeout_s=10)
        served = [m.get("id") for m in body.get("data") or []] if status == 200 and isinstance(body, dict) else []
        if len(served) == 1:
            spec = spec.model_copy(update={"name": served[0], "served": served[0]})
    endpoint = attach(spec)
    caps = probe_capabilities(endpoint.base_url, endpoint.model, api_key=endpoint.api_key)
    if not caps.answers:
        raise SlmbenchError(
            f"{opts.url} lists {endpoint.model} but a 1-token chat request failed ({'; '.join(caps.problems)}); "
            "check the server's log"
        )
    say(f"attached: {endpoint.model} at {endpoint.base_url}")
    for line in describe(caps):
        say(line)
    if not caps.streams:
        say("  note: streaming did not work; perf timings (TTFT, ITL) need it")


def ps_rows() -> list[list[str]]:
    return [[r.name, r.backend, str(r.pid), r.url, r.model, state.uptime(r), r.log] for r in state.running()]


def stop_servers(names: list[str], *, every: bool, say: Say = print) -> None:
    records = state.running() if every else [state.find(n) for n in names]
    if not records and every:
        say("no servers running")
    for record in records:
        state.stop(record)
        say(f"stopped {record.name} (pid {record.pid})")
