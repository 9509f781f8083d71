"""The `slmbench` command: parses flags, calls the library, prints with Rich. No logic lives here."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from . import cli_longdoc
from .cli_support import (
    PARALLEL,
    ApiKeyEnvOpt,
    ContextOpt,
    CtxAliasOpt,
    LlamaServerOpt,
    ParallelOpt,
    ThreadsOpt,
    user_errors,
)

app = typer.Typer(
    help="Deploy, evaluate and compare small language models, on your own machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        print(f"slmbench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:  # fmt: skip
    """Deploy, evaluate and compare small language models, on your own machine."""


@app.command("eval")
def eval_command(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Attach to a running endpoint: SERVED_ID=URL, or an embedded model's name (repeatable; one id at several URLs = replicas of one model).")] = None,
    gguf: Annotated[list[Path] | None, typer.Option(help="Serve a local GGUF with llama.cpp (repeatable).")] = None,
    vllm: Annotated[list[str] | None, typer.Option("--vllm", help="Start this model with vLLM on the GPU, flags from the plan (profile name or HF id; repeatable: one after another).")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", "-t", help="Task to run (repeatable); see `slmbench tasks`.")] = None,
    data: Annotated[list[str] | None, typer.Option(help="Data for a task: TASK=PATH or TASK=hub (repeatable).")] = None,
    limit: Annotated[list[str] | None, typer.Option(help="Samples per task: N for every task, TASK=N for one (repeatable; default: each task's own).")] = None,
    target_ci_width: Annotated[float | None, typer.Option(help="Add samples until each headline 95% CI is at most this many points wide.")] = None,
    max_samples: Annotated[int | None, typer.Option(help="Cap per task for --target-ci-width (default 1000).")] = None,
    lengths: Annotated[str | None, typer.Option(help="Long-context lengths in tokens, e.g. 1k,2k,4k (default: the task's grid).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for generated samples and sampling.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Requests in flight per model.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature (default 0).")] = None,
    top_p: Annotated[float | None, typer.Option(help="Nucleus sampling top_p (default 1).")] = None,
    max_tokens: Annotated[list[str] | None, typer.Option(help="Answer length cap: N for every task, TASK=N for one (repeatable; default: each task's own).")] = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds to wait for one answer (default: 300, longer for long answers: 60 + 0.25 per max token).")] = None,
    retries: Annotated[int | None, typer.Option(help="Retries on connection errors, 429 and 5xx.")] = None,
    samples: Annotated[int | None, typer.Option(help="Answers per problem for pass@k (coding tasks); needs --temperature > 0.")] = None,
    unsafe_no_sandbox: Annotated[bool, typer.Option("--unsafe-no-sandbox", help="Run model-written code without bubblewrap (rlimits only).")] = False,
    out: Annotated[Path | None, typer.Option(help="Folder for the store and run folders.")] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="Config file (default: ./slmbench.toml if present).")] = None,
    parallel: Annotated[int | None, typer.Option(help=f"llama.cpp parallel slots = requests in flight (default {PARALLEL}).", min=1)] = None,
    context: ContextOpt = None,
    ctx_per_slot: CtxAliasOpt = None,
    threads: ThreadsOpt = None,
    port: Annotated[int | None, typer.Option(help="llama.cpp port (default: a free one).")] = None,
    llama_server: LlamaServerOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:  # fmt: skip
    """Evaluate models on tasks; by default the two embedded models (SmolLM2-135M-Instruct, Gemma 3 270M) on llama.cpp."""
    with user_errors():
        from rich.console import Console

        from . import config as cfg
        from . import show
        from .api import evaluate
        from .progress import Notes, RichProgress
        from .resolve import parse_context

        limit_all, task_limits = cfg.parse_per_task_flag("--limit", limit or [])
        max_tokens_all, task_max_tokens = cfg.parse_per_task_flag("--max-tokens", max_tokens or [])
        err = Console(stderr=True)
        results = evaluate(
            model, task, gguf=gguf, vllm=vllm, limit=limit_all, task_limits=task_limits or None, seed=seed,
            concurrency=concurrency, temperature=temperature, top_p=top_p, max_tokens=max_tokens_all,
            task_max_tokens=task_max_tokens or None, timeout_s=timeout, retries=retries, out=out,
            data=dict(cfg.parse_data_flag(d) for d in data) if data else None, target_ci_width=target_ci_width,
            max_samples=max_samples, samples=samples, unsafe_no_sandbox=unsafe_no_sandbox or None,
            lengths=cfg.parse_lengths_flag(lengths) if lengths else None, parallel=parallel,
            context=parse_context(context, ctx_per_slot), threads=threads, port=port, llama_server=llama_server,
            api_key_env=api_key_env, config=cfg.load_config(config), observer=Notes(err) if quiet else RichProgress(err),
        )  # fmt: skip
        show.eval_results(show.stdout(), results)
        print(f"report: {results.run_dir / 'report.html'}")
        if results.status != "complete":
            raise typer.Exit(1)


@app.command("perf")
def perf_command(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Attach to a running endpoint: SERVED_ID=URL, or an embedded model's name (default: smollm2-135m); repeatable: one run per model.")] = None,
    gguf: Annotated[list[Path] | None, typer.Option(help="Serve a local GGUF with llama.cpp (repeatable: one run per model).")] = None,
    concurrency: Annotated[str | None, typer.Option(help="Closed-loop points: requests in flight, e.g. 1,2,4 (default 1,2,4 unless --rate).")] = None,
    rate: Annotated[str | None, typer.Option(help="Open-loop points: requests/s, e.g. 0.5,1.")] = None,
    burstiness: Annotated[float, typer.Option(help="Open loop: gamma shape of arrivals (1 = Poisson, <1 burstier).")] = 1.0,
    requests: Annotated[int | None, typer.Option(help="Measured requests per point (default 4 x concurrency, at least 8).")] = None,
    duration: Annotated[float | None, typer.Option(help="Seconds per point (stop sending after this).")] = None,
    warmup: Annotated[int | None, typer.Option(help="Warm-up requests per point, not measured (default: the concurrency).")] = None,
    input_len: Annotated[str, typer.Option(help="Synthetic prompt tokens (chat template included), e.g. 128,512.")] = "128",
    output_len: Annotated[int, typer.Option(help="Tokens to generate per request.")] = 64,
    prompts: Annotated[Path | None, typer.Option(help='Prompts from a JSONL file ({"prompt": ...} or {"messages": [...]}).')] = None,
    task: Annotated[str | None, typer.Option(help="Prompts from an eval task (e.g. arithmetic).")] = None,
    slo: Annotated[list[str] | None, typer.Option(help="Goodput objectives in ms, e.g. --slo 'ttft:500 tpot:50'.")] = None,
    repeats: Annotated[int, typer.Option(help="Runs of each point (confidence intervals over repeats).")] = 1,
    compare: Annotated[list[Path] | None, typer.Option(help="A perf run folder to compare with; twice: compare two runs, run nothing.")] = None,
    ignore_eos: Annotated[bool, typer.Option(help="Synthetic prompts: generate exactly --output-len tokens.")] = True,
    bandwidth: Annotated[float | None, typer.Option(help="Memory bandwidth GB/s for the limit (default: measured here).")] = None,
    peak_tflops: Annotated[float | None, typer.Option(help="Peak TFLOP/s for the prefill limit (default: measured here).")] = None,
    seed: Annotated[int, typer.Option(help="Seed for prompts and arrivals.")] = 0,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for one streamed answer.")] = 300.0,
    out: Annotated[Path, typer.Option(help="Folder for the store and run folders.")] = Path("slmbench-runs"),
    parallel: Annotated[int | None, typer.Option(help=f"llama.cpp parallel slots (default {PARALLEL}, or the largest concurrency if more).", min=1)] = None,
    threads: ThreadsOpt = None,
    port: Annotated[int | None, typer.Option(help="llama.cpp port (default: a free one).")] = None,
    llama_server: LlamaServerOpt = None,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:  # fmt: skip
    """Load-test a model: TTFT, TPOT, ITL, throughput and % of the physical limit per load point."""
    with user_errors():
        from rich.console import Console

        from . import show
        from .api import perf
        from .errors import SlmbenchError
        from .perf import report
        from .perf.stats import parse_list, parse_slo

        console, err = show.stdout(), Console(stderr=True)
        if compare and len(compare) > 2:
            raise SlmbenchError("--compare takes one run folder (compare with a new run) or two (compare those)")
        if compare and len(compare) == 2:
            a, b = report.load_run(compare[0]), report.load_run(compare[1])
            show.perf_comparison(console, report.compare(a, b), compare)
            return
        runs = perf(
            model, gguf=gguf, concurrency=parse_list(concurrency, int, "--concurrency"), rates=parse_list(rate, float, "--rate"),
            burstiness=burstiness, requests=requests, duration_s=duration, warmup=warmup,
            input_lens=parse_list(input_len, int, "--input-len"), output_len=output_len, prompts_file=prompts, task=task,
            slo=parse_slo(slo or []), repeats=repeats, seed=seed, timeout_s=timeout, ignore_eos=ignore_eos, out=out,
            bandwidth_gbs=bandwidth, peak_tflops=peak_tflops, compare=compare[0] if compare else None, parallel=parallel,
            threads=threads, port=port, llama_server=llama_server, api_key_env=api_key_env,
            say=lambda m: err.print(m, highlight=False, soft_wrap=True), on_result=lambda r: show.perf_results(console, r),
        )  # fmt: skip
        if runs[-1].comparison is not None:
            show.perf_comparison(console, runs[-1].comparison, [compare[0], runs[-1].run_dir])
        if runs[-1].status == "interrupted":
            from .serving.process import interrupted_by, interrupted_exit_code

            err.print(f"{interrupted_by()}: kept {runs[-1].completed} completed requests in {runs[-1].run_dir / 'perf.json'}",
                      highlight=False, soft_wrap=True)  # fmt: skip
            raise typer.Exit(interrupted_exit_code())


app.add_typer(cli_longdoc.app, name="longdoc")


@app.command()
def report(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (or an --out folder, for its latest run) to compare.")],
    format: Annotated[list[str] | None, typer.Option("--format", "-f", help="html, md or json (repeatable; default: all).")] = None,
    out: Annotated[Path | None, typer.Option(help="Folder for report.* (default: the run's folder; for several runs ./slmbench-report).")] = None,
) -> None:  # fmt: skip
    """Rebuild the report from stored runs, merging runs of different models into one comparison."""
    with user_errors():
        from .report import FORMATS, load, write

        data = load(list(runs))
        folder = out or (Path(data.runs[0]["dir"]) if len(data.runs) == 1 else Path("slmbench-report"))
        written = write(data, folder, tuple(format or FORMATS))
        for fmt in sorted(written, key=lambda f: f == "html"):  # the HTML last: the line to open
            print(f"report: {written[fmt]}")


@app.command()
def chat(
    model: Annotated[list[str] | None, typer.Option("--model", "-m", help="Chat with a running endpoint: SERVED_ID=URL (repeatable; one chat profile each).")] = None,
    gguf: Annotated[list[Path] | None, typer.Option(help="Serve a local GGUF with llama.cpp for the chat (repeatable).")] = None,
    host: Annotated[str, typer.Option(help="Interface the chat listens on; anything but loopback needs --password-auth.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Chat port (default: a free one).", min=1, max=65535)] = None,
    password_auth: Annotated[bool, typer.Option("--password-auth", help="Require a login; slmbench generates and prints the password.")] = False,
    context: ContextOpt = "8192",
    ctx_per_slot: CtxAliasOpt = None,
    parallel: ParallelOpt = PARALLEL,
    llama_server: LlamaServerOpt = None,
    chat_template: Annotated[str | None, typer.Option(help="llama.cpp built-in chat template for --gguf models (e.g. chatml, llama3, gemma); needed when the GGUF has none.")] = None,
    config: Annotated[Path | None, typer.Option(help="Config file whose models become chat profiles (default: ./slmbench.toml if present).")] = None,
    api_key_env: ApiKeyEnvOpt = None,
) -> None:  # fmt: skip
    """Chat in the browser (Chainlit) with the embedded models or any endpoint; Ctrl-C stops it."""
    with user_errors():
        from .chat.launcher import run_chat
        from .resolve import parse_context

        try:
            run_chat(model, gguf, config=config, chat_template=chat_template, api_key_env=api_key_env, parallel=parallel,
                     llama_server=llama_server, context=parse_context(context, ctx_per_slot), host=host, port=port,
                     password_auth=password_auth, say=lambda line: print(line, flush=True))  # fmt: skip
        except KeyboardInterrupt:
            sys.stderr.write("chat stopped\n")


@app.command()
def tasks() -> None:
    """List the available tasks."""
    from rich.console import Console
    from rich.table import Table

    from .tasks import registry

    table = Table("task", "also", "version", "samples", "max tokens", "what")
    with user_errors():  # a task module from SLMBENCH_TASK_MODULES that fails to load
        for name in registry.names():
            t = registry.create(name)
            table.add_row(name, ", ".join(t.aliases), t.version, str(t.default_limit), str(t.max_tokens), t.description)
    Console().print(table)


@app.command()
def setup(
    llama_server: Annotated[Path | None, typer.Option(help="Use this llama-server instead of building one.", envvar="SLMBENCH_LLAMA_SERVER")] = None,
) -> None:  # fmt: skip
    """Prepare the embedded default: build llama-server, find the embedded GGUFs, install the UDHR texts (each once)."""
    with user_errors():
        from .api import setup as prepare

        prepare(llama_server, say=print)


@app.command()
def plan(
    model: Annotated[str, typer.Argument(help="Profile name, HF id, or a config.json (file or folder).")] = "qwen3-4b",
    gpu: Annotated[str | None, typer.Option(help="GPU from the catalogue (e.g. rtx4090, a100-80g, h200), or 'all'.")] = None,
    cpu_ram: Annotated[float | None, typer.Option(help="Plan for a CPU with this many GB of RAM (llama.cpp).")] = None,
    weights: Annotated[str | None, typer.Option(help="bf16, fp8, int8, awq, gptq, int4, q8_0, q6_k, q5_k_m, q4_k_m.")] = None,
    kv_dtype: Annotated[str | None, typer.Option(help="KV cache type: auto|fp8 (vLLM), f16|q8_0|q4_0 (llama.cpp).")] = None,
    context: Annotated[str | None, typer.Option(help="Tokens per sequence, e.g. 32768 or 32K (default: native).")] = None,
    concurrency: Annotated[int, typer.Option(help="Sequences of that length at once.")] = 1,
    gpu_memory_utilization: Annotated[float, typer.Option(help="vLLM's share of GPU memory.")] = 0.9,
    tp: Annotated[int, typer.Option(help="vLLM tensor-parallel GPUs.")] = 1,
    dp: Annotated[int, typer.Option(help="vLLM data-parallel replicas.")] = 1,
    hub: Annotated[bool, typer.Option("--hub", help="Read MODEL's config.json from the Hugging Face hub.")] = False,
    table: Annotated[bool, typer.Option("--table", help="Check the reference hardware table for Qwen3-4B.")] = False,
) -> None:  # fmt: skip
    """Will the model fit this GPU or CPU, at which context, with which serve command?"""
    with user_errors():
        from .plan import advise

        advise(model, gpu=gpu, cpu_ram=cpu_ram, weights=weights, kv_dtype=kv_dtype, context=context, concurrency=concurrency,
               gpu_memory_utilization=gpu_memory_utilization, tp=tp, dp=dp, hub=hub, table=table)  # fmt: skip


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="Profile name or HF id (default: the embedded SmolLM2-135M-Instruct).")] = "smollm2-135m",
    backend: Annotated[str, typer.Option(help="llamacpp (CPU, GGUF), vllm (NVIDIA GPU) or attach (a running endpoint).")] = "llamacpp",
    gguf: Annotated[Path | None, typer.Option(help="llama.cpp: a local GGUF to serve.")] = None,
    url: Annotated[str | None, typer.Option(help="attach: the endpoint's base URL (.../v1).")] = None,
    name: Annotated[str | None, typer.Option(help="Served model name (and the name `ps`/`stop` use).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default: a free one).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    context: Annotated[str | None, typer.Option(help="llama.cpp: tokens per slot; vLLM: --max-model-len (default: largest that fits).")] = None,
    ctx_per_slot: CtxAliasOpt = None,
    parallel: ParallelOpt = PARALLEL,
    threads: ThreadsOpt = None,
    llama_server: LlamaServerOpt = None,
    gpu: Annotated[str | None, typer.Option(help="vLLM: plan for this GPU (default: detected with nvidia-smi).")] = None,
    weights: Annotated[str | None, typer.Option(help="vLLM weights: bf16, fp8, awq, gptq, int8.")] = None,
    kv_dtype: Annotated[str | None, typer.Option(help="vLLM KV cache: auto or fp8.")] = None,
    gpu_memory_utilization: Annotated[float, typer.Option(help="vLLM's share of GPU memory.")] = 0.9,
    tp: Annotated[int, typer.Option(help="vLLM tensor-parallel GPUs.")] = 1,
    dp: Annotated[int, typer.Option(help="vLLM data-parallel replicas.")] = 1,
    api_key_env: Annotated[str | None, typer.Option(help="attach: environment variable holding the API key.")] = None,
    hub: Annotated[bool, typer.Option("--hub", help="Read MODEL's config.json from the Hugging Face hub.")] = False,
    detach: Annotated[bool, typer.Option("--detach", help="Leave the server running in the background.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the server command and exit.")] = False,
    ready_timeout: Annotated[float | None, typer.Option(help="Seconds to wait for readiness.")] = None,
) -> None:  # fmt: skip
    """Start a model server and say when it is ready; Ctrl-C stops it."""
    with user_errors():
        from .resolve import parse_context
        from .serving.launch import ServeOptions
        from .serving.launch import serve as run_serve

        opts = ServeOptions(
            model=model, backend=backend, name=name, gguf=gguf, url=url, api_key_env=api_key_env, port=port,
            host=host, context=parse_context(context, ctx_per_slot), parallel=parallel, threads=threads,
            llama_server=llama_server, gpu=gpu, weights=weights, kv_dtype=kv_dtype,
            gpu_memory_utilization=gpu_memory_utilization, tp=tp, dp=dp, hub=hub, detach=detach, dry_run=dry_run,
            ready_timeout_s=ready_timeout,
        )  # fmt: skip
        try:
            run_serve(opts, say=lambda line: print(line, flush=True))
        except KeyboardInterrupt:
            from .serving.process import interrupted_exit_code, terminated

            print("stopped" + (" (SIGTERM)" if terminated else ""), flush=True)
            if terminated:
                raise typer.Exit(interrupted_exit_code()) from None


@app.command()
def ps() -> None:
    """List servers started with `serve --detach`."""
    with user_errors():
        from . import show
        from .serving.launch import ps_rows

        show.servers(ps_rows())


@app.command()
def stop(
    names: Annotated[list[str] | None, typer.Argument(help="Names from `slmbench ps`.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Stop every detached server.")] = False,
) -> None:  # fmt: skip
    """Stop servers started with `serve --detach`."""
    with user_errors():
        from .errors import SlmbenchError
        from .serving.launch import stop_servers

        if not names and not every:
            raise SlmbenchError("name the server to stop (see `slmbench ps`), or pass --all")
        stop_servers(names or [], every=every)


def main(argv: list[str] | None = None) -> None:
    """The console script: usage errors become one line on stderr (exit 2), never a box."""
    from .cli_support import run

    run(app, argv)


if __name__ == "__main__":
    main()
