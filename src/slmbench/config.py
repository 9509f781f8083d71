"""What to evaluate: models, tasks and settings, from `slmbench.toml` and/or flags.

Every key of the file is also a CLI flag; flags win. Validation happens here, before any
server starts, so that bad input costs nothing.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import SlmbenchError

EMBEDDED_NAME = "gemma-3-270m"


class ModelSpec(BaseModel):
    """One model to evaluate: a GGUF served by llama.cpp, or an endpoint already running."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    backend: Literal["llamacpp", "attach"]
    # llamacpp: the GGUF to serve; None means the embedded default model.
    gguf: Path | None = None
    parallel: int = Field(default=4, ge=1, le=256)
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
    # with the fewest in flight.
    replicas: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _backend_fields(self) -> ModelSpec:
        if self.backend == "attach" and not self.url:
            raise ValueError("an attached model needs url")
        if self.backend == "llamacpp" and (self.url or self.replicas):
            raise ValueError("url and replicas are for backend = 'attach'; a llamacpp model takes gguf")
        return self

    @property
    def is_embedded(self) -> bool:
        return self.backend == "llamacpp" and self.gguf is None


OFFLINE_SUITES = ("arithmetic", "instruction", "reasoning", "structured", "understanding", "multilingual", "coding", "longcontext")
# Other names users type for a task.
TASK_ALIASES = {"longctx": "longcontext", "longctx-32k": "longcontext-32k", "longctx-128k": "longcontext-128k",
                "longctx-256k": "longcontext-256k"}  # fmt: skip


class EvalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The built-in offline suites; the public data sets (ifeval, zebralogic, aime2025, math500,
    # mbpp, livecodebench) need --data, so they are opt-in.
    tasks: list[str] = Field(default_factory=lambda: list(OFFLINE_SUITES))
    limit: int | None = None
    seed: int = 0
    concurrency: int = Field(default=8, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int | None = Field(default=None, ge=1)
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
        return [TASK_ALIASES.get(t, t) for t in tasks]


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ModelSpec] = Field(default_factory=list, alias="model")
    eval: EvalSettings = Field(default_factory=EvalSettings)


def embedded_model() -> ModelSpec:
    return ModelSpec(name=EMBEDDED_NAME, backend="llamacpp", chat_template="gemma")


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


def parse_model_flag(value: str) -> ModelSpec:
    """`NAME=URL` attaches to a running endpoint whose served model id is NAME."""
    name, sep, url = value.partition("=")
    if not sep or not name or not url.startswith(("http://", "https://")):
        raise SlmbenchError(
            f"--model {value!r} is not NAME=URL; write it like "
            "--model Qwen/Qwen3-4B-Instruct-2507=http://127.0.0.1:8000/v1"
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
        raise SlmbenchError(f"--config {path} is a folder; pass the file in it, e.g. --config {path / 'slmbench.toml'}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SlmbenchError(f"cannot read config file {path} ({getattr(exc, 'strerror', None) or exc}); pass a readable TOML file to --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise SlmbenchError(f"config file {path} is not valid TOML ({exc}); fix the file") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SlmbenchError(f"config file {path}: {where}: {first['msg']}; fix that key") from None


def parse_data_flag(value: str) -> tuple[str, str]:
    """`TASK=PATH` or `TASK=hub`."""
    task, sep, source = value.partition("=")
    if not sep or not task or not source:
        raise SlmbenchError(f"--data {value!r} is not TASK=PATH; write it like --data ifeval=ifeval_input_data.jsonl")
    return task, source


def parse_lengths_flag(value: str) -> list[int]:
    """`1k,2k,4k` -> [1024, 2048, 4096]."""
    from .tasks.longcontext import parse_lengths

    try:
        return parse_lengths(value)
    except ValueError as exc:
        raise SlmbenchError(f"--lengths {value!r}: {exc}; write it like --lengths 1k,2k,4k") from None


def check_settings(settings: EvalSettings, known_tasks: list[str], data_tasks: list[str]) -> None:
    """Reject bad settings with one clear sentence each."""
    if settings.limit is not None and settings.limit < 1:
        raise SlmbenchError(f"--limit must be at least 1 (got {settings.limit}); pass a positive number")
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
            raise SlmbenchError(f"--data {task}=...: task {task!r} reads no data; tasks that do: {', '.join(data_tasks)}")
        if task not in settings.tasks:
            raise SlmbenchError(f"--data names task {task!r}, which is not selected; add --task {task}")
