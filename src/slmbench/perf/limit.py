"""The physical limit: how fast this model could go on this hardware, at best.

Decode is memory-bound: every step reads all weights once plus each sequence's KV cache,
so tokens/s <= concurrency x bandwidth / (weight bytes + concurrency x context x KV bytes
per token). Prefill is compute-bound: tokens/s <= peak FLOP/s / (2 x parameters).

Model geometry comes from the GGUF header through a small reader here rather than the
`gguf` package: its GGUFReader decodes every tokenizer array into numpy fields and took
47 s (17 s CPU) on the 250 MB embedded model on this machine, for a dozen numbers.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import SlmbenchError

# llama.cpp `general.file_type` values (enum llama_ftype) -> the usual quantisation names.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ModelGeometry:
    """What the ceilings need to know about a model; a model profile can fill this too."""

    name: str
    params: int  # all parameters
    weight_bytes: int  # bytes read per decode step (the whole file for a GGUF)
    layers: int
    kv_heads: int
    head_dim: int
    kv_bytes_per_element: float = 2.0  # f16 KV cache (llama.cpp's and vLLM's default)
    quantisation: str | None = None
    source: str = ""

    @property
    def kv_bytes_per_token(self) -> float:
        return 2 * self.layers * self.kv_heads * self.head_dim * self.kv_bytes_per_element  # K and V

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"kv_bytes_per_token": self.kv_bytes_per_token}


@dataclass(frozen=True, slots=True)
class Hardware:
    bandwidth_bytes_s: float  # for a working set the size of the weights
    dram_bandwidth_bytes_s: float | None  # for a working set well beyond the caches
    peak_flops: float | None
    threads: int
    source: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ceilings(
    geometry: ModelGeometry, hw: Hardware, concurrency: int, context: float, prompt_tokens: int
) -> dict[str, Any]:
    """Decode tokens/s and prefill tokens/s ceilings (and the TTFT floor) for one load point."""
    step_bytes = geometry.weight_bytes + concurrency * context * geometry.kv_bytes_per_token
    decode = concurrency * hw.bandwidth_bytes_s / step_bytes
    prefill = hw.peak_flops / (2 * geometry.params) if hw.peak_flops else None
    return {
        "decode_tokens_per_s": decode,
        "per_request_decode_tokens_per_s": decode / concurrency,
        "prefill_tokens_per_s": prefill,
        "ttft_floor_ms": 1000 * prompt_tokens / prefill if prefill else None,
        "bytes_per_step": step_bytes,
        "context_tokens": context,
    }


# -- GGUF header ------------------------------------------------------------------------

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def gguf_geometry(path: Path, name: str | None = None) -> ModelGeometry:
    """Read layers, KV heads, head size and parameter count from a GGUF file's header."""
    try:
        with open(path, "rb") as f:
            meta, params = _read_header(f)
    except (OSError, struct.error, UnicodeDecodeError, KeyError, ValueError) as exc:
        raise SlmbenchError(f"cannot read the model geometry from {path} ({exc}); pass a complete GGUF file") from None
    arch = meta.get("general.architecture")
    get = lambda key: meta.get(f"{arch}.{key}")  # noqa: E731
    layers, heads = get("block_count"), get("attention.head_count")
    if not arch or not layers or not heads:
        raise SlmbenchError(f"{path} lacks the architecture fields (block_count, head_count) the ceilings need")
    head_dim = get("attention.key_length") or get("embedding_length") // heads
    return ModelGeometry(
        name=name or str(meta.get("general.name") or path.stem),
        params=params,
        weight_bytes=path.stat().st_size,
        layers=int(layers),
        kv_heads=int(get("attention.head_count_kv") or heads),
        head_dim=int(head_dim),
        quantisation=FILE_TYPES.get(meta.get("general.file_type", -1)),
        source=f"GGUF header of {path.name}",
    )


def _read_header(f: BinaryIO) -> tuple[dict[str, Any], int]:
    if f.read(4) != b"GGUF":
        raise ValueError("bad magic")
    version, n_tensors, n_kv = struct.unpack("<IQQ", f.read(20))
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old")
    meta = {}
    for _ in range(n_kv):
        key = _string(f)
        meta[key] = _value(f, struct.unpack("<I", f.read(4))[0])
    params = 0
    for _ in range(n_tensors):
        _string(f)
        (n_dims,) = struct.unpack("<I", f.read(4))
        dims = struct.unpack(f"<{n_dims}Q", f.read(8 * n_dims))
        f.read(12)  # type (u32), offset (u64)
        params += int(np.prod(dims))
    return meta, params


def _string(f: BinaryIO) -> str:
    (n,) = struct.unpack("<Q", f.read(8))
    return f.read(n).decode("utf-8", "replace")


def _value(f: BinaryIO, kind: int) -> Any:
    if kind == 8:
        return _string(f)
    if kind == 9:
        item, count = struct.unpack("<IQ", f.read(12))
        if item in _SCALARS:  # skip the bytes: arrays are tokenizer tables we do not need
            f.seek(count * struct.calcsize(_SCALARS[item]), os.SEEK_CUR)
        else:
            for _ in range(count):
                _value(f, item)
        return None
    fmt = _SCALARS[kind]
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


# -- hardware ---------------------------------------------------------------------------


def measure_bandwidth(working_set: int, threads: int | None = None, seconds: float = 0.3) -> float:
    """Read bandwidth (bytes/s) streaming `working_set` bytes through numpy copies, one slice per thread.

    Each thread copies its slice in 1 MiB blocks into a small buffer that stays in cache, so
    what is measured is reading the working set, as a decode step reads the weights. numpy
    releases the GIL while copying, so the threads run in parallel. Best of a few passes.
    """
    threads = threads or os.cpu_count() or 1
    block = 1 << 20
    blocks = max(threads, working_set // block)
    src = np.ones(blocks * block, dtype=np.uint8)
    slices = np.array_split(np.arange(blocks), threads)
    sinks = [np.empty(block, dtype=np.uint8) for _ in range(threads)]

    def read(i: int) -> None:
        for b in slices[i]:
            np.copyto(sinks[i], src[b * block : (b + 1) * block])

    best = 0.0
    deadline = time.perf_counter() + seconds
    while True:
        workers = [threading.Thread(target=read, args=(i,)) for i in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        best = max(best, src.nbytes / (time.perf_counter() - start))
        if time.perf_counter() > deadline:
            return best


def measure_flops(seconds: float = 0.3) -> float:
    """Dense float32 matmul FLOP/s through numpy's BLAS: a measured stand-in for peak compute."""
    n = 512
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    best, deadline = 0.0, time.perf_counter() + seconds
    while True:
        start = time.perf_counter()
        a @ a
        best = max(best, 2 * n**3 / (time.perf_counter() - start))
        if time.perf_counter() > deadline:
            return best


def host_hardware(weight_bytes: int, threads: int | None = None) -> Hardware:
    """Measure this host: bandwidth for the weights' working set and beyond the caches, and FLOP/s."""
    threads = threads or os.cpu_count() or 1
    weights = measure_bandwidth(max(weight_bytes, 16 << 20), threads)
    dram = measure_bandwidth(1 << 30, threads, seconds=0.5)
    source = f"measured on this host with numpy ({threads} threads)"
    if weights < dram:
        # The weights' working set fits the caches better than 1 GiB or, beyond them, reads at the
        # same DRAM speed: slower means a neighbour took the memory bus during that probe, and a
        # too-low ceiling would overstate % of limit.
        source += (
            f"; the weights-sized probe read {weights / 1e9:.1f} GB/s, below the 1 GiB probe: the 1 GiB figure is used"
        )
    return Hardware(
        bandwidth_bytes_s=max(weights, dram),
        dram_bandwidth_bytes_s=dram,
        peak_flops=measure_flops(),
        threads=threads,
        source=source,
    )
