"""What to evaluate: models, tasks and settings, from `slmbench.toml` and/or flags.

Every key of the file is also a CLI flag; flags win. Validation happens here, before any
server starts, so that bad input costs nothing.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import SlmbenchError

if TYPE_CHECKING:
    from .profiles import Profile


class TaskLike(Protocol):
    name: str
    default_limit: int
    max_tokens: int


# The embedded models (GGUFs shipped by PyPI packages), the instruct model first: eval compares
# both by default, and the chat talks to the first.
EMBEDDED_NAMES = ("smollm2-135m", "gemma-3-270m")
PARALLEL = 4  # llama.cpp slots = requests in flight, unless a command or the config says otherwise


def slot_context(tokens: int, floor: int = 1024) -> int:
    """Context per llama.cpp slot for requests of up to `tokens` (prompt + answer): the next power
    of two, at least `floor`. Eval, perf and longdoc size their servers with it."""
    return max(floor, 1 << (tokens - 1).bit_length())


class ModelSpec(BaseModel):
    """One model to evaluate: a GGUF served by llama.cpp, a model vLLM starts on the GPU, or an
    endpoint already running."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    backend: Literal["llamacpp", "attach", "vllm"]
    # llamacpp: the GGUF to serve; None means the embedded default model.
    gguf: Path | None = None
    parallel: int = Field(default=PARALLEL, ge=1, le=256)
    ctx_per_slot: int | None = Field(default=None, ge=256)
    threads: int | None = Field(default=None, ge=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    chat_template: str | None = None
    llama_server: Path | None = None
    # attach: an OpenAI-compatible base URL (".../v1") and the served model id.
    url: str | None = None
    served: str | None = None
    api_key_env: str | None = None
    # attach: more base URLs serving the same model (replicas); requests go to the replica
    # with the fewest in flight. vllm: how many servers of the model to start, one per
    # tp x dp GPUs, balanced the same way.
    replicas: list[str] | int = Field(default_factory=list)
    # vllm: a profile name, HF id or local model folder (default: name); the flags come from the
    # plan for the detected GPU, these override it.
    hf: str | None = None
    hub: bool = False  # read hf's config.json from the hub (a model without a built-in profile)
    context: int | None = Field(default=None, ge=256)  # --max-model-len; None: the largest that fits
    weights: str | None = None  # bf16 (default), fp8, awq, gptq, int8
    kv_dtype: str | None = None  # auto or fp8
    gpu_memory_utilization: float = Field(default=0.9, ge=0.05, le=1.0)
    tp: int = Field(default=1, ge=1)  # --tensor-parallel-size
    dp: int = Field(default=1, ge=1)  # --data-parallel-size
    gpus: list[int] | None = None  # GPU indices (nvidia-smi) to use; one replica per tp x dp of them
    gpu: str | None = None  # plan for this catalogue GPU instead of the detected one
    distributed_executor_backend: Literal["mp", "ray"] | None = None  # "ray": multi-node (ray start first)
    extra_args: list[str] = Field(default_factory=list)  # appended to `vllm serve`
    ready_timeout_s: float = Field(default=1800.0, gt=0)  # the first start downloads weights and compiles
    release_timeout_s: float = Field(default=180.0, gt=0)  # for the GPU memory after stopping

    @model_validator(mode="after")
    def _backend_fields(self) -> ModelSpec:
        if self.backend == "attach" and not self.url:
            raise ValueError("an attached model needs url")
        if self.backend != "attach" and self.url:
            raise ValueError("url is for backend = 'attach'")
        if self.backend == "llamacpp" and self.replicas:
            raise ValueError("replicas are for backend = 'attach' or 'vllm'; a llamacpp model takes gguf")
        if self.backend == "attach" and isinstance(self.replicas, int):
            raise ValueError("an attached model's replicas are URLs: replicas = ['http://host:8001/v1']")
        if self.backend == "vllm":
            if (isinstance(self.replicas, list) and self.replicas) or (
                isinstance(self.replicas, int) and self.replicas < 1
            ):
                raise ValueError("a vllm model's replicas is a number of servers (replicas = 2), or list gpus")
            if self.gguf is not None:
                raise ValueError("gguf is for backend = 'llamacpp'; vLLM serves hf (a hub id or a model folder)")
            per = self.tp * self.dp
            if self.gpus is not None and (
                not self.gpus or len(self.gpus) % per or len(set(self.gpus)) < len(self.gpus)
            ):
                raise ValueError(f"gpus must list distinct GPU indices, a multiple of tp x dp = {per} of them")
            if self.gpus is not None and isinstance(self.replicas, int) and self.replicas * per != len(self.gpus):
                raise ValueError(
                    f"replicas = {self.replicas} x tp x dp = {self.replicas * per} GPUs, but gpus lists {len(self.gpus)}"
                )
        if self.backend == "llamacpp" and self.gguf is None:
            profile = embedded_profile(self.name)
            if profile is None:
                raise ValueError(
                    f"a llamacpp model needs gguf, unless its name is an embedded model ({', '.join(EMBEDDED_NAMES)})"
                )
            if self.chat_template is None:
                self.chat_template = profile.chat_template
        return self

    @property
    def vllm_gpu_groups(self) -> list[list[int]] | None:
        """GPU indices of each vLLM replica; None: one server on the visible GPUs."""
        per = self.tp * self.dp
        if self.gpus is not None:
            return [self.gpus[i : i + per] for i in range(0, len(self.gpus), per)]
        if isinstance(self.replicas, int) and self.replicas > 1:
            return [list(range(i * per, (i + 1) * per)) for i in range(self.replicas)]
        return None

    @property
    def is_embedded(self) -> bool:
        return self.backend == "llamacpp" and self.gguf is None

    def model_file(self) -> Path:
        """The GGUF to serve: the given file, or the embedded model this spec names."""
        if self.gguf is not None:
            return self.gguf
        from .serving.models import embedded_gguf

        return embedded_gguf(self.name)


def task_name(name: str) -> str:
    """The task an alias stands for (`longctx` -> `longcontext`); tasks declare their aliases."""
    from .tasks import registry

    return registry.resolve(name)


def default_tasks() -> list[str]:
    """The built-in offline suites: the tasks that declare the default suite."""
    from .tasks import registry

    return registry.suite()


class EvalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The built-in offline suites; the public data sets (ifeval, zebralogic, aime2025, math500,
    # mbpp, livecodebench) need --data, so they are opt-in.
    tasks: list[str] = Field(default_factory=default_tasks)
    limit: int | None = None
    # Per-task overrides of limit and max_tokens (`--limit TASK=N`, `--max-tokens TASK=N`).
    task_limits: dict[str, int] = Field(default_factory=dict)
    seed: int = 0
    concurrency: int = Field(default=8, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
    task_max_tokens: dict[str, int] = Field(default_factory=dict)
    # Seconds to wait for one answer; None: scaled to the longest answer allowed (see runner).
    timeout_s: float | None = Field(default=None, gt=0)
    retries: int = Field(default=3, ge=0, le=20)
    out: Path = Path("slmbench-runs")
    # task -> a local data file, or "hub" to download it (tasks with takes_data only)
    data: dict[str, str] = Field(default_factory=dict)
    # Keep adding samples (doubling) until every headline 95% CI is at most this many
    # percentage points wide, or a task has max_samples.
    target_ci_width: float | None = Field(default=None, gt=0, le=100)
    max_samples: int = Field(default=1000, ge=1)
    # answers drawn per problem by tasks that report pass@k (coding); needs temperature > 0
    samples: int = Field(default=1, ge=1, le=200)
    # run model-written code without bubblewrap (rlimits in a child process only)
    unsafe_no_sandbox: bool = False
    # Context lengths (tokens) for the long-context tasks; None: each task's own grid.
    lengths: list[int] | None = None

    @field_validator("tasks")
    @classmethod
    def _resolve_aliases(cls, tasks: list[str]) -> list[str]:
        return [task_name(t) for t in tasks]

    @field_validator("task_limits", "task_max_tokens")
    @classmethod
    def _per_task(cls, values: dict[str, int]) -> dict[str, int]:
        return {task_name(t): n for t, n in values.items()}

    def limit_for(self, task: TaskLike) -> int:
        """Samples to draw for a task: its own --limit TASK=N, else --limit, else the task's default."""
        return self.task_limits.get(task.name) or self.limit or task.default_limit

    def max_tokens_for(self, task: TaskLike) -> int:
        """The answer cap for a task: --max-tokens TASK=N, else --max-tokens, else the task's own."""
        return self.task_max_tokens.get(task.name) or self.max_tokens or task.max_tokens


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ModelSpec] = Field(default_factory=list, alias="model")
    eval: EvalSettings = Field(default_factory=EvalSettings)


def embedded_profile(name: str) -> Profile | None:
    """The profile of an embedded model by name or alias, else None."""
    from .profiles import get_profile

    try:
        profile = get_profile(name)
    except SlmbenchError:
        return None
    return profile if profile.embedded else None


def embedded_model(name: str = EMBEDDED_NAMES[0]) -> ModelSpec:
    profile = embedded_profile(name)
    if profile is None:
        raise SlmbenchError(f"{name!r} is not an embedded model; the embedded models are {', '.join(EMBEDDED_NAMES)}")
    return ModelSpec(name=profile.name, backend="llamacpp")


def embedded_models() -> list[ModelSpec]:
    """Both embedded models, the instruct one first: what eval compares when given no model."""
    return [embedded_model(name) for name in EMBEDDED_NAMES]


def gguf_model(path: Path) -> ModelSpec:
    return ModelSpec(name=path.stem, backend="llamacpp", gguf=path)


def merge_replicas(models: list[ModelSpec]) -> list[ModelSpec]:
    """Attached models given twice under one name with different URLs are one model served
    by replicas (e.g. two vLLM servers of one checkpoint)."""
    out: list[ModelSpec] = []
    for m in models:
        i = next((i for i, o in enumerate(out) if o.name == m.name and o.backend == m.backend == "attach"), None)
        if i is None:
            out.append(m)
        elif m.url != out[i].url and m.url not in out[i].replicas:
            out[i] = out[i].model_copy(update={"replicas": [*out[i].replicas, m.url, *m.replicas]})
    return out


def with_api_key_env(models: list[ModelSpec], name: str | None) -> list[ModelSpec]:
    """--api-key-env NAME: the variable holding the bearer key of every attached model (the
    flag wins over api_key_env in the file). Without either, attach reads OPENAI_API_KEY."""
    if not name:
        return models
    return [m.model_copy(update={"api_key_env": name}) if m.backend == "attach" else m for m in models]


def vllm_model(value: str) -> ModelSpec:
    """`--vllm qwen3-4b` or `--vllm Qwen/Qwen3-4B-Instruct-2507`: a model vLLM starts; named by
    its profile when there is one."""
    from .profiles import get_profile

    try:
        name = get_profile(value).name
    except SlmbenchError:
        name = value
    return ModelSpec(name=name, backend="vllm", hf=value)


def parse_model_flag(value: str) -> ModelSpec:
    """`NAME=URL` attaches to a running endpoint whose served model id is NAME; an embedded
    model's name (`smollm2-135m`, `gemma-3-270m`) serves that model with llama.cpp."""
    name, sep, url = value.partition("=")
    if not sep and embedded_profile(value) is not None:
        return embedded_model(value)
    if not sep or not name or not url.startswith(("http://", "https://")):
        raise SlmbenchError(
            f"--model {value!r} is neither NAME=URL nor an embedded model ({', '.join(EMBEDDED_NAMES)}); write it "
            "like --model Qwen/Qwen3-4B-Instruct-2507=http://127.0.0.1:8000/v1 or --model smollm2-135m"
        )
    return ModelSpec(name=name, backend="attach", url=url, served=name)


def load_config(path: Path | None) -> Config:
    """Read `slmbench.toml` (or the given file); an absent default file means defaults."""
    if path is None:
        default = Path("slmbench.toml")
        if not default.exists():
            return Config()
        path = default
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SlmbenchError(f"config file {path} not found; pass an existing file to --config") from None
    except IsADirectoryError:
        raise SlmbenchError(
            f"--config {path} is a folder; pass the file in it, e.g. --config {path / 'slmbench.toml'}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SlmbenchError(
            f"cannot read config file {path} ({getattr(exc, 'strerror', None) or exc}); pass a readable TOML file to --config"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SlmbenchError(f"config file {path} is not valid TOML ({exc}); fix the file") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SlmbenchError(f"config file {path}: {where}: {first['msg']}; fix that key") from None


def parse_per_task_flag(flag: str, values: list[str]) -> tuple[int | None, dict[str, int]]:
    """`--limit 20 --limit multilingual=2`: a number for every task, and numbers for named tasks."""
    every: int | None = None
    per_task: dict[str, int] = {}
    for value in values:
        task, sep, number = value.rpartition("=")
        try:
            n = int(number)
        except ValueError:
            raise SlmbenchError(
                f"{flag} {value!r} is not N or TASK=N; write it like {flag} 20 or {flag} coding=8"
            ) from None
        if sep and not task:
            raise SlmbenchError(f"{flag} {value!r} names no task; write it like {flag} coding={n}")
        if sep:
            per_task[task_name(task)] = n
        else:
            every = n
    return every, per_task


def parse_data_flag(value: str) -> tuple[str, str]:
    """`TASK=PATH` or `TASK=hub`."""
    task, sep, source = value.partition("=")
    if not sep or not task or not source:
        raise SlmbenchError(f"--data {value!r} is not TASK=PATH; write it like --data ifeval=ifeval_input_data.jsonl")
    return task, source


def parse_lengths(text: str) -> list[int]:
    """`1k,2k,4k` or `1024,32768` -> sorted token counts (k = 1024)."""
    out = set()
    for part in text.replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)([kK]?)", part)
        if not match or int(match.group(1)) == 0:
            raise ValueError(f"{part!r} is not a length like 4k or 4096")
        out.add(int(match.group(1)) * (1024 if match.group(2) else 1))
    if min(out) < 256:
        raise ValueError("lengths start at 256 tokens; the prompt alone needs about 100")
    return sorted(out)


def parse_lengths_flag(value: str) -> list[int]:
    """`1k,2k,4k` -> [1024, 2048, 4096]."""
    try:
        return parse_lengths(value)
    except ValueError as exc:
        raise SlmbenchError(f"--lengths {value!r}: {exc}; write it like --lengths 1k,2k,4k") from None


def check_settings(settings: EvalSettings, known_tasks: list[str], data_tasks: list[str]) -> None:
    """Reject bad settings with one clear sentence each."""
    if settings.limit is not None and settings.limit < 1:
        raise SlmbenchError(f"--limit must be at least 1 (got {settings.limit}); pass a positive number")
    for flag, per_task in (("--limit", settings.task_limits), ("--max-tokens", settings.task_max_tokens)):
        for task, n in per_task.items():
            if task not in settings.tasks:
                raise SlmbenchError(f"{flag} {task}={n}: task {task!r} is not selected; add --task {task} or drop it")
            if n < 1:
                raise SlmbenchError(f"{flag} {task}={n} must be at least 1; pass a positive number")
    if not settings.tasks:
        raise SlmbenchError(f"no task selected; pass --task with one of: {', '.join(known_tasks)}")
    for task in settings.tasks:
        if task not in known_tasks:
            raise SlmbenchError(f"unknown task {task!r}; known tasks: {', '.join(known_tasks)}")
    if settings.samples > 1 and settings.temperature == 0:
        raise SlmbenchError(
            f"--samples {settings.samples} draws several answers per problem, but at temperature 0 they are all "
            "the same; pass --temperature (e.g. 0.8)"
        )
    for task in settings.data:
        if task not in data_tasks:
            raise SlmbenchError(
                f"--data {task}=...: task {task!r} reads no data; tasks that do: {', '.join(data_tasks)}"
            )
        if task not in settings.tasks:
            raise SlmbenchError(f"--data names task {task!r}, which is not selected; add --task {task}")
