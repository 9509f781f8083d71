"""vLLM as a supervised child process, its command built from the plan.

vLLM needs an NVIDIA GPU (or a platform build of its own); on a CPU use llama.cpp. Start-up
failures are recognised from its log and answered with the fix, usually a plan-computed
--max-model-len or an fp8 KV cache.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

from .. import plan as planner
from ..errors import PortInUse, ServerStartError, SlmbenchError
from . import process
from .base import Endpoint
from .http import get_json, post_json
from .llamacpp import HOST, PROBE_CONVERSATION, ensure_port_free, free_port
from .ready import wait_ready

INSTALL_HINT = (
    "vLLM is not installed; on a machine with an NVIDIA GPU install it with `pip install vllm` "
    "(https://docs.vllm.ai/en/latest/getting_started/installation/), or point SLMBENCH_VLLM at its `vllm` "
    "executable. On a CPU use --backend llamacpp with a GGUF"
)


def find_vllm() -> Path:
    explicit = os.environ.get("SLMBENCH_VLLM")
    if explicit:
        path = Path(explicit).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise SlmbenchError(f"SLMBENCH_VLLM={explicit} is not an executable file; fix it or unset it")
        return path
    found = shutil.which("vllm")
    if found is None:
        raise SlmbenchError(INSTALL_HINT)
    return Path(found)


def detect_gpu() -> tuple[planner.Device, int] | None:
    """The first visible NVIDIA GPU and how many are visible, from nvidia-smi; None without one."""
    from . import gpu

    found = gpu.gpus()
    shown = gpu.visible(found) if found else []
    if not shown:
        return None
    first = shown[0]
    device = planner.Device("detected", f"{first.name} ({first.total_mib / 1024:.0f} GiB)", first.total_mib * planner.MiB,
                            catalogue_bandwidth(first.name, first.total_mib * planner.MiB))  # fmt: skip
    return device, len(shown)


def catalogue_bandwidth(name: str, memory: int) -> float:
    """Memory bandwidth of the catalogue GPU this nvidia-smi name is ("NVIDIA H100 80GB HBM3" is
    the h100); of two of a family (A100 40/80 GB), the one closest in memory. 0 when unknown."""
    key = planner._norm(name)
    family = [d for k, d in planner.GPUS.items() if planner._norm(k.split("-")[0]) in key]
    if not family:
        return 0.0
    return min(family, key=lambda d: abs(d.memory - memory)).bandwidth_gbs


def vllm_argv(binary: Path | str, pl: planner.Plan, *, port: int, host: str, served_name: str) -> list[str]:
    """The plan's `vllm serve` command with this binary, host, port and served name."""
    argv = list(pl.command)
    argv[0] = str(binary)
    argv[argv.index("--served-model-name") + 1] = served_name
    argv[argv.index("--port") + 1] = str(port)
    return [*argv, "--host", host]


@dataclass
class Diagnosis:
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.problem}; {self.fix}"


_KV_V1 = re.compile(
    r"max seq len \((\d+)\), \(([\d.]+) GiB KV cache is needed, which is larger than the available KV cache "
    r"memory \(([\d.]+) GiB\)\. Based on the available memory, the estimated maximum model length is (\d+)"
)
_KV_V0 = re.compile(
    r"max seq len \((\d+)\) is larger than the maximum number of tokens that can be stored in KV cache \((\d+)\)"
)
_FREE = re.compile(
    r"Free memory on device \(([\d.]+)/([\d.]+) GiB\) on startup is less than desired GPU memory utilization \(([\d.]+)"
)
_ARCH = re.compile(r"Model architectures \[([^\]]*)\] (?:are not supported|failed to be inspected)")


def diagnose(log: str, *, kv_dtype: str = "auto", port: int | None = None) -> Diagnosis | None:
    """The known start-up failure in a vLLM log, with its fix; None when unrecognised."""
    if m := _KV_V1.search(log):
        max_len, need, have, fits = int(m[1]), m[2], m[3], int(m[4])
        return _kv_fix(f"the KV cache for one {max_len:,}-token sequence needs {need} GiB but only {have} GiB is left "
                       f"after the weights", fits, kv_dtype)  # fmt: skip
    if m := _KV_V0.search(log):
        return _kv_fix(
            f"max-model-len {int(m[1]):,} is more than the KV cache holds ({int(m[2]):,} tokens)", int(m[2]), kv_dtype
        )
    if m := _FREE.search(log):
        free, total = float(m[1]), float(m[2])
        share = max(0.05, int((free / total - 0.02) * 100) / 100)
        return Diagnosis(
            f"only {free:g} of {total:g} GiB of GPU memory is free (another process holds the rest)",
            f"stop that process (see nvidia-smi) or pass --gpu-memory-utilization {share:g}",
        )
    if "CUDA out of memory" in log or "OutOfMemoryError" in log:
        return Diagnosis(
            "CUDA ran out of memory while loading the model",
            "the weights do not fit this GPU: pass smaller --weights (fp8, awq) or --tp 2, or lower "
            "--gpu-memory-utilization if other processes share the GPU; `slmbench plan MODEL --gpu NAME` shows the sums",
        )
    if m := _ARCH.search(log):
        return Diagnosis(
            f"this vLLM does not support the model architecture {m[1]}",
            "upgrade vLLM (`pip install -U vllm`) or serve a GGUF of the model with --backend llamacpp",
        )
    if "Address already in use" in log or "address already in use" in log:
        where = f"port {port}" if port else "the port"
        return Diagnosis(f"{where} is in use", "pass another --port, or omit --port to use a free one")
    if "Failed to infer device type" in log or "No CUDA GPUs are available" in log:
        return Diagnosis("vLLM found no GPU on this machine", "on a CPU use --backend llamacpp with a GGUF")
    if "GatedRepoError" in log or "Cannot access gated repo" in log:
        return Diagnosis("the model is gated on the Hugging Face hub", "accept its licence on the hub and set HF_TOKEN")
    return None


def _kv_fix(problem: str, fits: int, kv_dtype: str) -> Diagnosis:
    options = []
    if fits >= 1024:
        options.append(f"--context {planner.round_context(fits)} (vLLM estimates {fits:,} tokens fit)")
    if kv_dtype != "fp8":
        options.append("--kv-dtype fp8 (halves the KV cache)")
    options.append("a higher --gpu-memory-utilization")
    return Diagnosis(problem, "pass " + ", or ".join(options))


_KV_TOKENS = re.compile(r"GPU KV cache size: ([\d,]+) tokens")
_CONCURRENCY = re.compile(r"Maximum concurrency for ([\d,]+) tokens per request: ([\d.]+)x")


def kv_report(log: str) -> str | None:
    """What vLLM says it allocated, to set beside the plan."""
    tokens = _KV_TOKENS.search(log)
    if tokens is None:
        return None
    text = f"vLLM KV cache: {tokens[1]} tokens"
    if conc := _CONCURRENCY.search(log):
        text += f", {conc[2]}x concurrency at {conc[1]} tokens"
    return text


class VllmServer(process.Supervised):
    """`with VllmServer(...) as endpoint:` starts `vllm serve`, waits for readiness, always stops."""

    stop_grace_s = 15.0  # vLLM tears down its engine processes on SIGTERM

    def __init__(
        self,
        *,
        plan: planner.Plan,
        binary: Path,
        log_path: Path,
        served_name: str,
        port: int | None = None,
        host: str = HOST,
        ready_timeout_s: float = 1200.0,  # first start downloads weights and compiles
        detach: bool = False,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,  # added to ours (CUDA_VISIBLE_DEVICES for a replica)
    ) -> None:
        self.plan = plan
        self.binary = binary
        self.log_path = log_path
        self.served_name = served_name
        self.port = port
        self.host = host
        self.ready_timeout_s = ready_timeout_s
        self.detach = detach
        self.extra_args = list(extra_args or [])
        self.env = env
        self._proc: Popen[bytes] | None = None

    def __enter__(self) -> Endpoint:
        port = self.port if self.port is not None else free_port()
        ensure_port_free(port)
        self.command = [
            *vllm_argv(self.binary, self.plan, port=port, host=self.host, served_name=self.served_name),
            *self.extra_args,
        ]
        env = {**os.environ, **self.env} if self.env else None
        self._proc = process.spawn(self.command, self.log_path, die_with_parent=not self.detach, env=env)
        local = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        root = f"http://{local}:{port}"
        try:
            wait_ready(self._proc, root, self.served_name, what="vLLM", log_path=self.log_path,
                       timeout_s=self.ready_timeout_s, diagnose=lambda code: self._diagnose(code, port))  # fmt: skip
            version, template = served_identity(root, self.served_name)
        except BaseException:
            self.stop()
            raise
        req = self.plan.request
        identity = {"server": "vllm", "version": version, "model": req.profile.hf, "weights": req.weights.name,
                    "kv": req.kv, "chat_template_sha256": template}  # fmt: skip
        return Endpoint(
            name=self.served_name,
            base_url=f"{root}/v1",
            model=self.served_name,
            server=f"vLLM {version}",
            identity=identity,
            max_context=req.context,
            command=tuple(self.command),
        )

    def stop(self) -> None:
        proc = self._proc
        super().stop()
        if proc is not None:
            kill_group(proc.pid)

    def _diagnose(self, code: int, port: int) -> ServerStartError:
        found = diagnose(process.tail(self.log_path, 200), kv_dtype=self.plan.request.kv, port=port)
        if found is not None and "port" in found.problem and "in use" in found.problem:
            return PortInUse(f"vLLM could not start: {found}")
        if found is not None:
            return ServerStartError(f"vLLM could not start: {found}. Log: {self.log_path}")
        last = [line for line in process.tail(self.log_path, 20).splitlines() if line.strip()]
        return ServerStartError(
            f"vLLM exited with code {code} while starting ({last[-1].strip() if last else 'no output'}); log: {self.log_path}"
        )


def served_identity(root: str, model: str) -> tuple[str, str | None]:
    """vLLM's version (GET /version) and a hash of how its chat template renders a fixed
    conversation (token ids from /tokenize): what must change the cache key when it changes."""
    status, body = get_json(f"{root}/version", timeout_s=10)
    version = (
        str(body.get("version")) if status == 200 and isinstance(body, dict) and body.get("version") else "unknown"
    )
    # Some templates refuse a system message; then the conversation without it.
    for messages in (PROBE_CONVERSATION, PROBE_CONVERSATION[1:]):
        payload = {"model": model, "messages": messages, "add_generation_prompt": True}
        status, body = post_json(f"{root}/tokenize", payload, timeout_s=30)
        if status == 200 and isinstance(body, dict) and isinstance(body.get("tokens"), list):
            return version, hashlib.sha256(repr(body["tokens"]).encode()).hexdigest()
    return version, None


def kill_group(pgid: int) -> None:
    """SIGKILL what is left of a server's process group (vLLM's engine-core and worker
    processes hold the GPU memory if they outlive the API server)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
