"""Hardware planner: will this model, quantisation and context fit this GPU or CPU, and with
which serve flags? Pure arithmetic over the model profile; every figure can be shown.

Memory = weights + runtime overhead + KV cache, against a budget (vLLM: total x
gpu-memory-utilization; llama.cpp on a CPU: 90% of RAM). KV bytes per token =
2 (K and V) x layers x kv_heads x head_dim x bytes per element.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import SlmbenchError
from .profiles import Profile

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class WeightFormat:
    name: str
    bits: float  # per weight of the transformer layers
    embedding_bits: float  # per weight of the embedding / lm_head (kept at 16 bits by vLLM's quantisers)
    backend: str  # "vllm" or "llamacpp"
    vllm_flag: str | None = None  # --quantization value
    why: str = ""
    # Needs a checkpoint quantised ahead of time (AWQ, GPTQ, W8A8): the released bf16 weights
    # cannot be served in this format, unlike fp8, which vLLM quantises while loading.
    checkpoint: bool = False


# GGUF figures are the block formats' real sizes: Q8_0 stores 32 weights in 34 bytes (8.5 bits),
# Q6_K 256 in 210 (6.5625); the _M mixes keep some tensors at Q6_K, averaging ~5.69 and ~4.89
# (what llama-quantize reports for Llama-class models). AWQ/GPTQ: 4 bits + fp16 scale and zero
# per group of 128 weights (~0.25 bits).
WEIGHTS: dict[str, WeightFormat] = {
    "bf16": WeightFormat("bf16", 16, 16, "vllm", None, "as released"),
    "fp16": WeightFormat("fp16", 16, 16, "vllm", None, "as released, cast to fp16"),
    "fp8": WeightFormat("fp8", 8, 16, "vllm", "fp8", "fp8 (Ada/Hopper; weight-only on Ampere); embeddings stay bf16"),
    "int8": WeightFormat("int8", 8, 16, "vllm", None, "a W8A8 int8 checkpoint; embeddings stay bf16", checkpoint=True),
    "awq": WeightFormat("awq", 4.25, 16, "vllm", "awq", "an AWQ 4-bit checkpoint, group 128", checkpoint=True),
    "gptq": WeightFormat("gptq", 4.25, 16, "vllm", "gptq", "a GPTQ 4-bit checkpoint, group 128", checkpoint=True),
    "int4": WeightFormat("int4", 4.25, 16, "vllm", "awq", "4-bit AWQ/GPTQ, group 128", checkpoint=True),
    "f16-gguf": WeightFormat("F16 GGUF", 16, 16, "llamacpp", None, "GGUF, unquantised"),
    "q8_0": WeightFormat("Q8_0", 8.5, 8.5, "llamacpp", None, "GGUF: 32 weights in 34 bytes"),
    "q6_k": WeightFormat("Q6_K", 6.5625, 6.5625, "llamacpp", None, "GGUF: 256 weights in 210 bytes"),
    "q5_k_m": WeightFormat("Q5_K_M", 5.69, 5.69, "llamacpp", None, "GGUF: Q5_K mixed with Q6_K"),
    "q4_k_m": WeightFormat("Q4_K_M", 4.89, 4.89, "llamacpp", None, "GGUF: Q4_K mixed with Q6_K"),
}

# KV cache element sizes. vLLM: auto = the model dtype; llama.cpp -ctk/-ctv block formats.
KV_BITS: dict[str, float] = {"auto": 16, "fp16": 16, "bf16": 16, "f16": 16, "fp8": 8, "q8_0": 8.5, "q4_0": 4.5}
VLLM_KV = ("auto", "fp16", "bf16", "fp8")
LLAMACPP_KV = ("f16", "q8_0", "q4_0")


@dataclass(frozen=True)
class Device:
    key: str
    name: str
    memory: int  # bytes the driver reports (nvidia-smi "Total"), or RAM
    bandwidth_gbs: float  # memory bandwidth, GB/s: decode speed's upper bound
    gpu: bool = True


# Totals as nvidia-smi reports them (a "24 GB" card reports 24564 MiB, an A10G 23028 MiB).
GPUS: dict[str, Device] = {
    d.key: d
    for d in [
        Device("rtx3060", "RTX 3060 12 GB", 12288 * MiB, 360),
        Device("rtx3090", "RTX 3090 24 GB", 24576 * MiB, 936),
        Device("rtx4090", "RTX 4090 24 GB", 24564 * MiB, 1008),
        Device("a10g", "A10G 24 GB", 23028 * MiB, 600),
        Device("l4", "L4 24 GB", 23034 * MiB, 300),
        Device("a100-40g", "A100 40 GB", 40960 * MiB, 1555),
        Device("l40s", "L40S 48 GB", 46068 * MiB, 864),
        Device("a100-80g", "A100 80 GB", 81920 * MiB, 2039),
        Device("h100", "H100 80 GB", 81559 * MiB, 3350),
        Device("h200", "H200 141 GB", 143771 * MiB, 4800),
    ]
}
GPU_ALIASES = {
    "a100": "a100-80g",
    "a100-40": "a100-40g",
    "a100-80": "a100-80g",
    "h100-80g": "h100",
    "h200-141g": "h200",
}
CPU_BANDWIDTH_GBS = 50.0  # dual-channel DDR4-3200 / DDR5-class desktop; servers have more
CPU_RAM_USABLE = 0.9  # leave the OS and other processes a tenth

# Runtime overhead. vLLM: CUDA context, cuBLAS/NCCL workspaces and CUDA graphs (~1 GiB, seen
# as non-torch memory in its profiling pass) plus the activation peak of that pass.
VLLM_RUNTIME = 1.0 * GiB
VLLM_BATCHED_TOKENS = 8192  # default max_num_batched_tokens for online serving (chunked prefill)
VLLM_MAX_SEQS = 256  # default max_num_seqs: the sampler's dummy run holds fp32 logits for each
LLAMACPP_RUNTIME_CPU = 0.5 * GiB  # compute buffers
LLAMACPP_RUNTIME_GPU = 1.0 * GiB  # compute buffers + CUDA context


def find_gpu(name: str) -> Device:
    key = _norm(name)
    for k, d in GPUS.items():
        if _norm(k) == key:
            return d
    for alias, k in GPU_ALIASES.items():
        if _norm(alias) == key:
            return GPUS[k]
    names = {_norm(k): k for k in [*GPUS, *GPU_ALIASES]}
    close = difflib.get_close_matches(key, list(names), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(names[c] for c in close)}? " if close else ""
    raise SlmbenchError(f"unknown GPU {name!r}; {hint}known: {', '.join(GPUS)} (or plan for a CPU with --cpu-ram GB)")


def _norm(name: str) -> str:
    name = name.lower().replace("nvidia", "").replace("geforce", "").replace("tesla", "")
    name = re.sub(r"(\d+)\s*gb\b", r"\1g", name)
    return re.sub(r"[^a-z0-9]", "", name)


def cpu(ram_gib: float) -> Device:
    if ram_gib <= 0:
        raise SlmbenchError(f"--cpu-ram must be a positive number of GB (got {ram_gib:g})")
    return Device("cpu", f"CPU {ram_gib:g} GB RAM", int(ram_gib * GiB), CPU_BANDWIDTH_GBS, gpu=False)


def weight_format(name: str) -> WeightFormat:
    key = name.lower().replace("-", "_") if name.lower().startswith("q") else name.lower()
    if key in ("f16", "bf16_gguf", "f16_gguf"):
        key = "f16-gguf"
    found = WEIGHTS.get(key)
    if found is None:
        close = difflib.get_close_matches(key, list(WEIGHTS), n=2, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        raise SlmbenchError(f"unknown weights format {name!r}; {hint}known: {', '.join(WEIGHTS)}")
    return found


@dataclass(frozen=True)
class PlanRequest:
    """What the planner is asked: this model, weights format, KV cache and load on this device."""

    profile: Profile
    device: Device
    weights: WeightFormat
    kv: str  # a KV_BITS key
    context: int  # tokens per sequence
    concurrency: int = 1
    utilization: float = 0.9  # vLLM --gpu-memory-utilization
    tp: int = 1
    dp: int = 1


@dataclass
class Plan:
    request: PlanRequest
    weights_bytes: float  # per GPU (split by tensor parallelism)
    kv_per_token: float  # bytes per token per GPU, all layers at full attention
    kv_request: float  # bytes for concurrency x context (sliding layers capped), per GPU
    budget: float
    overhead: dict[str, float]
    kv_capacity: float  # budget - weights - overhead (may be negative)
    max_context: int  # one sequence, capped at the model's native context
    max_concurrency: int  # sequences of `context` tokens at once (x dp)
    fits: bool
    decode_tokens_s: float  # upper bound for one sequence at `context` tokens
    command: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def needed(self) -> float:
        return self.weights_bytes + sum(self.overhead.values()) + self.kv_request

    @property
    def backend(self) -> str:
        return self.request.weights.backend


def default_kv(backend: str) -> str:
    return "auto" if backend == "vllm" else "f16"


def make_request(
    profile: Profile,
    device: Device,
    *,
    weights: str | None = None,
    kv: str | None = None,
    context: int | None = None,
    concurrency: int = 1,
    utilization: float = 0.9,
    tp: int = 1,
    dp: int = 1,
) -> PlanRequest:
    """Validate the combination and fill defaults (GPU: bf16 on vLLM; CPU: Q4_K_M on llama.cpp)."""
    fmt = weight_format(weights or ("bf16" if device.gpu else "q4_k_m"))
    if not device.gpu and fmt.backend == "vllm":
        if fmt.name not in ("bf16", "fp16"):
            raise SlmbenchError(
                f"--weights {fmt.name} is a vLLM GPU format; on a CPU use a GGUF quant with llama.cpp: q4_k_m, q5_k_m, q6_k, q8_0"
            )
        fmt = WEIGHTS["f16-gguf"]
    kv = (kv or default_kv(fmt.backend)).lower()
    allowed = VLLM_KV if fmt.backend == "vllm" else LLAMACPP_KV
    if kv not in allowed:
        raise SlmbenchError(f"--kv-dtype {kv} is not a {fmt.backend} KV cache type; use one of: {', '.join(allowed)}")
    context = profile.context if context is None else context
    for flag, value, low in (
        ("--context", context, 1),
        ("--concurrency", concurrency, 1),
        ("--tp", tp, 1),
        ("--dp", dp, 1),
    ):
        if value < low:
            raise SlmbenchError(f"{flag} must be at least {low} (got {value})")
    if context > profile.context:
        raise SlmbenchError(
            f"--context {context:,} is beyond {profile.name}'s native context of {profile.context:,} tokens; "
            f"use --context {profile.context} or less"
        )
    if not 0.05 <= utilization <= 1.0:
        raise SlmbenchError(f"--gpu-memory-utilization must be between 0.05 and 1 (got {utilization:g})")
    if (tp > 1 or dp > 1) and fmt.backend != "vllm":
        raise SlmbenchError("--tp/--dp are vLLM options; llama.cpp plans are for one device")
    if tp > 1 and profile.heads % tp:
        raise SlmbenchError(
            f"--tp {tp} does not divide {profile.name}'s {profile.heads} attention heads; use a divisor"
        )
    return PlanRequest(profile, device, fmt, kv, context, concurrency, utilization, tp, dp)


def weights_bytes(profile: Profile, fmt: WeightFormat) -> float:
    body = profile.params - profile.embedding_params
    return (body * fmt.bits + profile.embedding_params * fmt.embedding_bits) / 8


def kv_bytes_per_token(profile: Profile, kv: str) -> float:
    """2 x layers x kv_heads x head_dim x bytes per element (every layer at full attention)."""
    return 2 * profile.layers * profile.kv_heads * profile.head_dim * KV_BITS[kv] / 8


def kv_bytes(profile: Profile, kv: str, tokens: int) -> float:
    """KV bytes for one sequence of `tokens`; sliding-window layers keep at most the window."""
    per_layer_token = 2 * profile.kv_heads * profile.head_dim * KV_BITS[kv] / 8
    window = min(tokens, profile.sliding_window or tokens)
    return per_layer_token * (profile.full_layers * tokens + profile.sliding_layers * window)


def overhead(req: PlanRequest) -> dict[str, float]:
    p = req.profile
    if req.weights.backend == "llamacpp":
        return {"runtime": LLAMACPP_RUNTIME_GPU if req.device.gpu else LLAMACPP_RUNTIME_CPU}
    act_bits = 16
    tokens = min(VLLM_BATCHED_TOKENS, max(req.context, 2048))
    activations = tokens * (2 * p.intermediate + 4 * p.hidden) * act_bits / 8 / req.tp
    logits = VLLM_MAX_SEQS * p.vocab * 4 * 2  # fp32 logits and one working copy
    return {"CUDA context + graphs": VLLM_RUNTIME, "activations": activations, "sampler logits": logits}


def plan(req: PlanRequest) -> Plan:
    p, dev = req.profile, req.device
    if req.weights.backend == "vllm":
        budget = dev.memory * req.utilization
    else:
        budget = dev.memory * (1.0 if dev.gpu else CPU_RAM_USABLE)
    # Tensor parallelism splits the weights and the KV heads across GPUs (KV replicates when
    # there are more GPUs than KV heads).
    kv_split = min(req.tp, p.kv_heads)
    w = weights_bytes(p, req.weights) / req.tp
    per_token = kv_bytes_per_token(p, req.kv) / kv_split
    per_seq = kv_bytes(p, req.kv, req.context) / kv_split
    over = overhead(req)
    capacity = budget - w - sum(over.values())
    max_ctx = _largest_context(p, req.kv, capacity * kv_split)
    max_conc = int(capacity // per_seq) * req.dp if capacity > 0 else 0
    request_kv = per_seq * req.concurrency / req.dp
    fits = capacity >= request_kv
    total_w = weights_bytes(p, req.weights)
    decode = dev.bandwidth_gbs * 1e9 / (total_w / req.tp + per_seq) if dev.bandwidth_gbs else 0.0
    result = Plan(req, w, per_token, request_kv, budget, over, capacity, max_ctx, max_conc, fits, decode)
    result.command = serve_command(result)
    if (missing := checkpoint(result)[1]) is not None:
        result.notes.append(missing)
    if p.sliding_layers:
        result.notes.append(
            f"{p.sliding_layers} of {p.layers} layers use a {p.sliding_window}-token sliding window; "
            "their KV is capped there"
        )
    if p.params_estimated:
        result.notes.append("parameter count estimated from config.json shapes (biases and extra norms left out)")
    return result


def _largest_context(p: Profile, kv: str, capacity: float) -> int:
    if capacity <= 0:
        return 0
    lo, hi = 0, p.context
    while lo < hi:  # kv_bytes is monotonic in tokens
        mid = (lo + hi + 1) // 2
        if kv_bytes(p, kv, mid) <= capacity:
            lo = mid
        else:
            hi = mid - 1
    return lo


def parse_tokens(value: str) -> int:
    """'32K', '256k', '262144' -> tokens (K = 1024, as context lengths are quoted)."""
    m = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)\s*", value)
    if not m:
        raise SlmbenchError(f"{value!r} is not a token count; write it like 32768, 32K or 256K")
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]


def round_context(tokens: int) -> int:
    """A --max-model-len to recommend: a multiple of 1024 when there is room for one."""
    return tokens - tokens % 1024 if tokens >= 1024 else tokens


def serve_command(pl: Plan) -> list[str]:
    req, p = pl.request, pl.request.profile
    if req.weights.backend == "llamacpp":
        quant = req.weights.name.upper().replace(" GGUF", "")
        gguf = p.gguf.files.get(quant, f"{p.hf.split('/')[-1]}-{quant}.gguf")
        argv = ["llama-server", "-m", gguf, "-c", str(req.context * req.concurrency), "-np", str(req.concurrency)]
        if req.kv != "f16":
            # llama.cpp needs flash attention for a quantised V cache.
            argv += ["-ctk", req.kv, "-ctv", req.kv, "-fa", "on"]
        if req.device.gpu:
            argv += ["-ngl", "999"]
        return [*argv, "--jinja", "--alias", p.name, "--port", "8080"]
    argv = ["vllm", "serve", checkpoint(pl)[0], "--max-model-len", str(req.context)]
    argv += ["--gpu-memory-utilization", f"{req.utilization:g}"]
    if req.kv == "fp8":
        argv += ["--kv-cache-dtype", "fp8"]
    # A pre-quantised checkpoint says its method in its config.json; forcing --quantization awq
    # there would keep vLLM from its faster awq_marlin kernels.
    if req.weights.vllm_flag and not req.weights.checkpoint:
        argv += ["--quantization", req.weights.vllm_flag]
    if req.tp > 1:
        argv += ["--tensor-parallel-size", str(req.tp)]
    if req.dp > 1:
        argv += ["--data-parallel-size", str(req.dp)]
    if req.concurrency > 1:
        argv += ["--max-num-seqs", str(max(req.concurrency, 1))]
    argv += ["--served-model-name", p.name]
    if p.tool_call_parser:
        argv += ["--enable-auto-tool-choice", "--tool-call-parser", p.tool_call_parser]
    return [*argv, "--port", "8000"]


def checkpoint(pl: Plan) -> tuple[str, str | None]:
    """The model vLLM should load, and a note when it is a placeholder: formats quantised ahead
    of time need their own checkpoint, which the profile names when a well-known one exists."""
    req, p = pl.request, pl.request.profile
    if req.weights.backend != "vllm" or not req.weights.checkpoint:
        return p.hf, None
    keys = ("awq", "gptq") if req.weights.name == "int4" else (req.weights.name,)
    for key in keys:
        if key in p.checkpoints:
            return p.checkpoints[key], None
    kind = "AWQ or GPTQ" if req.weights.name == "int4" else req.weights.name.upper()
    placeholder = f"<{kind} checkpoint of {p.hf}>"
    return placeholder, (f"{p.hf} holds {p.dtype} weights and slmbench knows no {kind} checkpoint of it: "
                         f"put one's HF id or local folder in place of {placeholder} in the command")  # fmt: skip


def alternatives(pl: Plan) -> list[str]:
    """For a plan that does not fit: what would, cheapest change first."""
    req = pl.request
    out: list[str] = []
    if pl.max_context >= 1024:
        out.append(f"--context {round_context(pl.max_context)} (largest that fits with these settings)")
    small_kv = "fp8" if req.weights.backend == "vllm" else "q8_0"
    kvs = [req.kv] + ([small_kv] if KV_BITS[req.kv] > KV_BITS[small_kv] else [])
    order = ["fp8", "awq"] if req.weights.backend == "vllm" else ["q8_0", "q6_k", "q5_k_m", "q4_k_m"]
    smaller = [req.weights] + [WEIGHTS[n] for n in order if WEIGHTS[n].bits < req.weights.bits]
    # Least precision lost first: a smaller KV type, then fp8 weights (with either KV), then 4-bit.
    for fmt, kv in ((f, k) for f in smaller for k in kvs):
        if (fmt, kv) != (req.weights, req.kv) and plan(replace(req, weights=fmt, kv=kv)).fits:
            flags = ([f"--weights {fmt.name.lower()}"] if fmt != req.weights else []) + (
                [f"--kv-dtype {kv}"] if kv != req.kv else []
            )
            out.append(" ".join(flags))
            break
    if req.device.gpu:
        for dev in sorted(GPUS.values(), key=lambda d: d.memory):
            if dev.memory > req.device.memory and plan(replace(req, device=dev)).fits:
                out.append(f"--gpu {dev.key}")
                break
        if req.weights.backend == "vllm" and plan(replace(req, tp=2)).fits and req.profile.heads % 2 == 0:
            out.append("--tp 2 (two GPUs)")
    return out


def gib(n: float) -> str:
    return f"{n / GiB:,.2f} GiB"


def describe(pl: Plan) -> list[str]:
    """The plan as lines of text, arithmetic included."""
    req, p, dev = pl.request, pl.request.profile, pl.request.device
    gpus = f" x{req.tp * req.dp}" if req.tp * req.dp > 1 else ""
    lines = [f"{p.hf} on {dev.name}{gpus} with {'vLLM' if pl.backend == 'vllm' else 'llama.cpp'}"]
    body = p.params - p.embedding_params
    split = f" / tp {req.tp}" if req.tp > 1 else ""
    lines.append(
        f"  weights   {req.weights.name}: {body:,} x {req.weights.bits:g} bits + {p.embedding_params:,} embedding x "
        f"{req.weights.embedding_bits:g} bits{split} = {gib(pl.weights_bytes)}  ({req.weights.why})"
    )
    per_token_full = kv_bytes_per_token(p, req.kv)
    kv_name = f"auto = {p.dtype}" if req.kv == "auto" else req.kv
    lines.append(
        f"  KV cache  {kv_name}: 2 x {p.layers} layers x {p.kv_heads} KV heads x {p.head_dim} head_dim x "
        f"{KV_BITS[req.kv] / 8:g} B = {per_token_full:,.0f} B/token ({per_token_full / 1024:,.1f} KiB)"
    )
    per_seq = pl.kv_request / req.concurrency * req.dp
    lines.append(
        f"            {req.context:,} tokens x {req.concurrency} sequence{'s' if req.concurrency > 1 else ''}"
        f"{split} = {gib(pl.kv_request)}" + (f" ({gib(per_seq)} each)" if req.concurrency > 1 else "")
    )
    share = f"{gib(dev.memory)} x {req.utilization:g} gpu-memory-utilization" if pl.backend == "vllm" else (
        f"{gib(dev.memory)}" if dev.gpu else f"{gib(dev.memory)} x {CPU_RAM_USABLE:g} (the OS keeps the rest)"
    )  # fmt: skip
    lines.append(f"  budget    {share} = {gib(pl.budget)}")
    lines.append(
        "  overhead  "
        + " + ".join(f"{k} {gib(v)}" for k, v in pl.overhead.items())
        + f" = {gib(sum(pl.overhead.values()))}"
    )
    lines.append(
        f"  KV room   {gib(pl.budget)} - {gib(pl.weights_bytes)} - {gib(sum(pl.overhead.values()))} = {gib(pl.kv_capacity)}"
    )
    if pl.fits:
        lines.append(
            f"  verdict   FITS: needs {gib(pl.needed)} of {gib(pl.budget)} ({gib(pl.budget - pl.needed)} spare)"
        )
    else:
        lines.append(
            f"  verdict   DOES NOT FIT: needs {gib(pl.needed)}, has {gib(pl.budget)} (misses by {gib(pl.needed - pl.budget)})"
        )
    lines.append(f"  largest context, 1 sequence: {pl.max_context:,} tokens (native {p.context:,})")
    lines.append(f"  concurrent sequences of {req.context:,} tokens: {pl.max_concurrency:,}")
    lines.append(
        f"  decode    <= {pl.decode_tokens_s:,.1f} tokens/s per sequence at {req.context:,} tokens "
        f"({dev.bandwidth_gbs:g} GB/s / (weights + KV read per token))"
    )
    for note in pl.notes:
        lines.append(f"  note      {note}")
    lines.append("  command   " + " ".join(pl.command))
    return lines


def miss_message(pl: Plan) -> str:
    req = pl.request
    alt = alternatives(pl)
    fix = f"would fit: {'; or '.join(alt)}" if alt else "nothing in the catalogue fits; use a smaller model"
    return (
        f"{req.profile.name} ({req.weights.name}, {req.kv} KV) at {req.context:,} tokens x {req.concurrency} does not fit "
        f"{req.device.name}: needs {gib(pl.needed)}, has {gib(pl.budget)} (misses by {gib(pl.needed - pl.budget)}); {fix}"
    )


# The reference write-up's hardware table for Qwen3-4B-Instruct-2507, claim by claim.
@dataclass(frozen=True)
class Claim:
    hardware: str
    claim: str
    device: Device
    context: int
    weights: str
    candidates: tuple[tuple[str, str, float], ...]  # (weights, kv, utilization) tried in order


CLAIMS = (
    Claim("RTX 4090 24 GB", "256K supported", GPUS["rtx4090"], 262144, "bf16",
          (("bf16", "auto", 0.9), ("bf16", "fp8", 0.9), ("fp8", "fp8", 0.9), ("awq", "fp8", 0.9), ("awq", "fp8", 0.95))),
    Claim("RTX 3060 12 GB", "cap at 32K", GPUS["rtx3060"], 32768, "bf16",
          (("bf16", "auto", 0.9), ("bf16", "fp8", 0.9), ("fp8", "auto", 0.9), ("fp8", "fp8", 0.9), ("awq", "auto", 0.9))),
    Claim("CPU 32 GB + 4-bit", "supported, slow", cpu(32), 262144, "q4_k_m",
          (("q4_k_m", "f16", 0.9), ("q4_k_m", "q8_0", 0.9), ("q4_k_m", "q4_0", 0.9))),
)  # fmt: skip


@dataclass
class TableRow:
    hardware: str
    claim: str
    verdict: str
    arithmetic: list[str]


def reference_table(profile: Profile) -> list[TableRow]:
    rows = []
    for c in CLAIMS:
        base = plan(make_request(profile, c.device, weights=c.weights, context=c.context))
        arithmetic = [
            (
                f"{c.context // 1024}K x {base.kv_per_token / 1024:,.0f} KiB/token = {gib(base.kv_request)} KV "
                f"+ {gib(base.weights_bytes)} {base.request.weights.name} weights "
                f"+ {gib(sum(base.overhead.values()))} overhead = {gib(base.needed)} vs {gib(base.budget)} budget"
            ),
            (
                f"as claimed ({base.request.weights.name}, {base.request.kv} KV): "
                + ("fits" if base.fits else f"largest context {base.max_context:,} tokens")
            ),
        ]
        first = None
        for weights, kv, util in c.candidates:
            pl = plan(make_request(profile, c.device, weights=weights, kv=kv, context=c.context, utilization=util))
            if pl.fits:
                first = pl
                break
        if first is not None and first is not base and not base.fits:
            r = first.request
            arithmetic.append(
                f"fits with {r.weights.name} weights + {r.kv} KV"
                + (f" at utilization {r.utilization:g}" if r.utilization != 0.9 else "")
                + f": needs {gib(first.needed)} of {gib(first.budget)}"
            )
            arithmetic.append("command: " + " ".join(first.command))
        verdict = _verdict(c, base, first)
        if not c.device.gpu:
            short = plan(make_request(profile, c.device, weights=c.weights, context=4096))
            pl = first or base
            arithmetic.append(
                f"decode <= {short.decode_tokens_s:,.1f} tokens/s at 4K, <= {pl.decode_tokens_s:,.1f} at "
                f"{pl.request.context // 1024}K ({c.device.bandwidth_gbs:g} GB/s memory bandwidth)"
            )
        rows.append(TableRow(c.hardware, c.claim, verdict, arithmetic))
    return rows


def _verdict(c: Claim, base: Plan, first: Plan | None) -> str:
    if base.fits:
        return "TRUE as stated"
    if first is None:
        return f"FALSE: largest context {base.max_context:,} tokens"
    r = first.request
    how = f"{r.weights.name} weights + {r.kv} KV" + (f", utilization {r.utilization:g}" if r.utilization != 0.9 else "")
    if c.device.gpu and c.context <= 32768:
        return f"32K needs {how}; {base.request.weights.name} fits {base.max_context:,} tokens"
    if c.device.gpu:
        return f"only with {how} (fp16 KV alone is {gib(kv_bytes(base.request.profile, 'auto', c.context))})"
    return f"supported with {how}; f16 KV stops at {base.max_context:,} tokens; slow"


def advise(
    model: str, *, gpu: str | None = None, cpu_ram: float | None = None, weights: str | None = None,
    kv_dtype: str | None = None, context: str | int | None = None, concurrency: int = 1,
    gpu_memory_utilization: float = 0.9, tp: int = 1, dp: int = 1, hub: bool = False, table: bool = False,
    say: Callable[[str], None] = print,
) -> Plan | None:  # fmt: skip
    """`slmbench plan`: says the plan (every GPU with gpu='all'; the reference table with `table`)
    and returns it; a plan that does not fit raises, after saying why."""
    from .profiles import resolve

    profile = resolve(model, hub=hub)
    if table:
        for row in reference_table(profile):
            say(f'{row.hardware}: claim "{row.claim}" -> {row.verdict}')
            for line in row.arithmetic:
                say(f"    {line}")
        return None
    if gpu is not None and cpu_ram is not None:
        raise SlmbenchError("pass --gpu or --cpu-ram, not both")
    ctx = parse_tokens(context) if isinstance(context, str) and context else (context or None)
    options: dict[str, Any] = {"weights": weights, "kv": kv_dtype, "context": ctx, "concurrency": concurrency,
                               "utilization": gpu_memory_utilization, "tp": tp, "dp": dp}  # fmt: skip
    if gpu == "all":
        say(f"{profile.hf}: largest context and sequences that fit, per GPU")
        for dev in GPUS.values():
            pl = plan(make_request(profile, dev, **options))
            verdict = "fits" if pl.fits else "does not fit"
            say(f"  {dev.name:<16} {verdict:<13} largest context {pl.max_context:>9,}  "
                f"sequences at {pl.request.context:,}: {pl.max_concurrency:,}")  # fmt: skip
        return None
    device = cpu(cpu_ram) if cpu_ram is not None else find_gpu(gpu or "rtx4090")
    result = plan(make_request(profile, device, **options))
    if not result.fits and ctx is None and result.max_context >= 1024:
        # As `serve` does: without --context, the largest context that fits, said so.
        smaller = round_context(result.max_context)
        say(f"{profile.name}'s native {profile.context:,} tokens do not fit {device.name}; "
            f"planning for {smaller:,}, the largest that fits (pass --context to choose)")  # fmt: skip
        result = plan(make_request(profile, device, **(options | {"context": smaller})))
    say("\n".join(describe(result)))
    if not result.fits:
        raise SlmbenchError(miss_message(result))
    return result
