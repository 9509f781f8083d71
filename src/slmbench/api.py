"""The Python API: `evaluate` and `perf` take every setting `slmbench eval` and `slmbench perf`
take (a flag's name with `_` for `-`; list flags as lists) and write the same files. The CLI
parses its flags and calls these; anything the user can fix raises `SlmbenchError` (one line)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .perf.run import perf
from .resolve import eval_config, parse_context

__all__ = ["evaluate", "perf", "setup"]

if TYPE_CHECKING:
    from .config import Config, ModelSpec
    from .progress import Observer
    from .results import Results


def evaluate(
    models: Sequence[ModelSpec | str] | None = None,
    tasks: Sequence[str] | None = None,
    *,
    gguf: Sequence[str | Path] | None = None,
    vllm: Sequence[str] | None = None,
    limit: int | None = None,
    task_limits: dict[str, int] | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    task_max_tokens: dict[str, int] | None = None,
    timeout_s: float | None = None,
    retries: int | None = None,
    out: str | Path | None = None,
    data: dict[str, str] | None = None,
    target_ci_width: float | None = None,
    max_samples: int | None = None,
    samples: int | None = None,
    unsafe_no_sandbox: bool | None = None,
    lengths: Sequence[int] | None = None,
    parallel: int | None = None,
    context: int | str | None = None,
    threads: int | None = None,
    port: int | None = None,
    llama_server: str | Path | None = None,
    api_key_env: str | None = None,
    config: Config | str | Path | None = None,
    observer: Observer | None = None,
    report: bool = True,
) -> Results:
    """Evaluate models on tasks, as `slmbench eval` does; returns the results, written to
    `out/<run id>/` (results.json, results.md and, with `report`, report.html).

    `models`: ModelSpec, `NAME=URL` (a running endpoint) or an embedded model's name; with no
    models here or in `config`, both embedded models. `config`: a Config or a slmbench.toml path;
    the arguments given (not None) override its [eval]. `parallel`, `context`, `threads`, `port`
    and `llama_server` apply to llama.cpp models; `api_key_env` to attached ones.
    """
    from .runner import run

    server = {"parallel": parallel, "ctx_per_slot": parse_context(context), "threads": threads, "port": port,
              "llama_server": llama_server}  # fmt: skip
    conf = eval_config(
        config, models, gguf, vllm, api_key_env=api_key_env, server=server,
        tasks=tasks, limit=limit, task_limits=task_limits, seed=seed, concurrency=concurrency, temperature=temperature,
        top_p=top_p, max_tokens=max_tokens, task_max_tokens=task_max_tokens, timeout_s=timeout_s, retries=retries,
        out=out, data=data, target_ci_width=target_ci_width, max_samples=max_samples, samples=samples,
        unsafe_no_sandbox=unsafe_no_sandbox, lengths=lengths,
    )  # fmt: skip
    results = run(conf, observer)
    if report:
        from .report import load, write

        write(load([results.run_dir]), results.run_dir, ("html",))
    return results


def setup(llama_server: str | Path | None = None, say: Callable[[str], None] = print, *, server: bool = True) -> None:
    """`slmbench setup`: build (or find) llama-server, find the embedded GGUFs, install the UDHR
    texts; each once, then cached. `server=False` leaves llama-server out (the set-up builds it
    beside this)."""
    from .serving.build import find_llama_server
    from .serving.models import EMBEDDED_MODELS, embedded_gguf, gguf_sha256
    from .tasks.multilingual import install_udhr

    if server:
        say(f"llama-server: {find_llama_server(Path(llama_server) if llama_server else None)}")
    for name in EMBEDDED_MODELS:
        gguf = embedded_gguf(name)
        say(f"embedded model {name}: {gguf} (sha256 {gguf_sha256(gguf)[:12]}...)")
    say(f"UDHR translation smoke set: {install_udhr()}")
