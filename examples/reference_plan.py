"""The README's tables for examples/reference-comparison.toml, computed, never typed:

1. which card fits which model: `slmbench plan MODEL --gpu CARD` for each model of the config on
   a 24, a 48 and an 80 GB card (bf16 weights, vLLM's default KV cache, utilisation 0.9: what
   eval starts when the config sets nothing else);
2. what the run costs in GPU time on an H100 and an H200: an estimate from token counts and the
   planner's throughput ceilings (see `estimate`).

    python examples/reference_plan.py            # print both tables (Markdown)
    python examples/reference_plan.py --write README.md   # refresh them in the README
"""

from __future__ import annotations

import re
import sys
import tomllib
from functools import cache
from pathlib import Path

from typer.testing import CliRunner

from slmbench import plan as planner
from slmbench.cli import app
from slmbench.config import Config
from slmbench.perf.limit import Hardware, ModelGeometry, ceilings
from slmbench.profiles import resolve
from slmbench.serving.tokens import TokenEstimate
from slmbench.tasks import TASKS

HERE = Path(__file__).parent
CONFIG = HERE / "reference-comparison.toml"
CARDS = [("24 GB", "rtx4090"), ("48 GB", "l40s"), ("80 GB", "h100")]
# Dense bf16 tensor throughput (NVIDIA's datasheets, SXM parts): the prefill ceiling.
PEAK_BF16_FLOPS = {"h100": 989e12, "h200": 989e12}
# The recorded vLLM 0.10 start-up log (tests/fixtures/vllm/ready.log): 64 s from launch to ready.
START_S = 64
# Multilingual samples come from FLORES+ (the hub) in the config; its prompt lengths are taken
# from the FLORES-200 devtest lines kept for the tests.
FLORES = HERE.parent / "tests" / "fixtures" / "flores200"
START, END = "<!-- reference-plan:start -->", "<!-- reference-plan:end -->"


def config() -> Config:
    return Config.model_validate(tomllib.loads(CONFIG.read_text()))


def plan_cell(model: str, gpu: str) -> str:
    """One `slmbench plan` run: FITS at the native context, or the largest context that does."""
    result = CliRunner().invoke(app, ["plan", model, "--gpu", gpu])
    verdict = re.search(r"verdict\s+(FITS|DOES NOT FIT)", result.output)
    largest = re.search(r"largest context, 1 sequence: ([\d,]+) tokens \(native ([\d,]+)\)", result.output)
    if verdict is None or largest is None:
        raise RuntimeError(f"unexpected `slmbench plan` output:\n{result.output}")
    tokens, native = int(largest[1].replace(",", "")), int(largest[2].replace(",", ""))
    if verdict[1] == "FITS" and tokens >= native:  # plan picks a smaller context when the native one does not fit
        return f"fits: {native:,} (native)"
    if tokens >= 1024:
        return f"--max-model-len {planner.round_context(tokens):,} of {native:,}"
    needed = re.search(r"needs ([\d.,]+ GiB), has ([\d.,]+ GiB)", result.output)
    return f"does not fit (needs {needed[1]}, has {needed[2]})" if needed else "does not fit"


def plan_table() -> str:
    conf = config()
    head = "| model | " + " | ".join(f"{size} ({planner.GPUS[key].name})" for size, key in CARDS) + " |"
    lines = [head, "|---" * (len(CARDS) + 1) + "|"]
    for m in conf.models:
        profile = resolve(m.hf or m.name)
        lines.append(f"| {profile.hf} | " + " | ".join(plan_cell(m.name, key) for _, key in CARDS) + " |")
    return "\n".join(lines)


@cache
def prompts(name: str, limit: int) -> tuple[int, ...]:
    """Each request's prompt tokens (4 characters a token: slmbench's estimate without a tokenizer)."""
    task, count = TASKS[name], TokenEstimate()
    if name == "multilingual":
        from slmbench.tasks.multilingual import DIRECTIONS

        lines = [count.count_messages(s.messages) for s in task.samples(limit, 0, str(FLORES))]
        return tuple(lines[i % len(lines)] for i in range(limit * len(DIRECTIONS)))
    return tuple(count.count_messages(s.messages) for s in task.samples(limit, 0, None))


def estimate(gpu: str) -> list[tuple[str, int, int, int, float]]:
    """Per model: (HF id, requests, prompt tokens, answer tokens, seconds) on one `gpu`.

    Tokens: every sample of every task in the config that fits the model's context, prompts at 4
    characters a token, every answer at its max_tokens (an upper bound). Time: prefill at the
    card's dense bf16 peak, 2 x parameters FLOPs a token plus causal attention (2 x layers x
    heads x head_dim x prompt^2 per prompt); decode at the memory-bandwidth ceiling with the
    config's concurrency in flight, each step reading the bf16 weights once and every sequence's
    KV cache (perf.limit.ceilings); plus START_S to start each model. A roofline, not a
    measurement: vLLM reaches a fraction of it, so the real time is longer.
    """
    conf = config()
    device = planner.GPUS[gpu]
    hw = Hardware(device.bandwidth_gbs * 1e9, None, PEAK_BF16_FLOPS[gpu], 0, f"{device.name} datasheet")
    rows = []
    for m in conf.models:
        p = resolve(m.hf or m.name)
        geo = ModelGeometry(p.name, p.params, int(planner.weights_bytes(p, planner.WEIGHTS["bf16"])), p.layers,
                            p.kv_heads, p.head_dim)  # fmt: skip
        seconds, requests, prompt_total, output_total = float(START_S), 0, 0, 0
        for name in conf.eval.tasks:
            answer = TASKS[name].max_tokens
            sent = [n for n in prompts(name, conf.eval.limit or TASKS[name].default_limit) if n + answer <= p.context]
            if not sent:
                continue
            flops = sum(2 * p.params * n + 2 * p.layers * p.heads * p.head_dim * n * n for n in sent)
            context = sum(sent) / len(sent) + answer / 2
            decode = ceilings(geo, hw, min(conf.eval.concurrency, len(sent)), context, 0)["decode_tokens_per_s"]
            seconds += flops / PEAK_BF16_FLOPS[gpu] + len(sent) * answer / decode
            requests, prompt_total, output_total = (
                requests + len(sent),
                prompt_total + sum(sent),
                output_total + len(sent) * answer,
            )
        rows.append((p.hf, requests, prompt_total, output_total, seconds))
    return rows


def cost_table() -> str:
    lines = [
        "| model | requests | prompt tokens | answer tokens (at most) | H100 80 GB | H200 141 GB |",
        "|---|---|---|---|---|---|",
    ]
    h100, h200 = estimate("h100"), estimate("h200")
    for a, b in zip(h100, h200, strict=True):
        lines.append(f"| {a[0]} | {a[1]:,} | {a[2]:,} | {a[3]:,} | {a[4] / 60:.0f} min | {b[4] / 60:.0f} min |")
    lines.append(
        f"| all four | | | | {sum(r[4] for r in h100) / 60:.0f} min | {sum(r[4] for r in h200) / 60:.0f} min |"
    )
    return "\n".join(lines)


def markdown() -> str:
    return f"{START}\n{plan_table()}\n\nGPU time (estimate, see above for how it is computed):\n\n{cost_table()}\n{END}"


def main() -> None:
    text = markdown()
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        readme = Path(sys.argv[2])
        old = readme.read_text()
        start, end = old.index(START), old.index(END) + len(END)
        readme.write_text(old[:start] + text + old[end:])
    else:
        print(text)


if __name__ == "__main__":
    main()
