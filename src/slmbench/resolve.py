"""From what a user gave (flags, a config file, keyword arguments) to what runs: the models and
the validated settings. The CLI and the Python API (`slmbench.evaluate`, `slmbench.perf`) both
come through here, so a setting means the same and fails with the same one line in each."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .config import (
    Config,
    EvalSettings,
    ModelSpec,
    embedded_models,
    gguf_model,
    load_config,
    parse_model_flag,
    vllm_model,
    with_api_key_env,
)
from .errors import SlmbenchError

# Settings whose flag is not the setting's name.
FLAGS = {
    "timeout_s": "--timeout",
    "tasks": "--task",
    "lengths": "--lengths",
    "data": "--data",
    "ctx_per_slot": "--context",
}

M = TypeVar("M", bound=BaseModel)


def flag_name(setting: str) -> str:
    return FLAGS.get(setting, "--" + setting.replace("_", "-"))


def validated(cls: type[M], data: dict[str, Any]) -> M:
    """`cls` from `data`; a bad value is one line naming its flag (`--timeout: Input should be ...`)."""
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"{flag_name(str(first['loc'][0]))}: " if first["loc"] else ""
        raise SlmbenchError(where + str(first["msg"]).removeprefix("Value error, ")) from None


def parse_context(given: str | int | None, old_name: str | None = None, default: int | None = None) -> int | None:
    """--context (or its old name --ctx-per-slot) in tokens: 4096, 8K, 32k."""
    from .plan import parse_tokens

    # The old name is None unless typed; --context may hold its default, so the old name goes first.
    given = old_name if old_name is not None else given
    if given is None:
        return default
    try:
        tokens = given if isinstance(given, int) else parse_tokens(given)
    except SlmbenchError as exc:
        raise SlmbenchError(f"--context: {exc}") from None
    if tokens < 256:
        raise SlmbenchError(f"--context must be at least 256 tokens (got {tokens}); pass e.g. --context 4096")
    return tokens


def resolve_models(
    models: Sequence[ModelSpec | str] | None = None,
    gguf: Sequence[str | Path] | None = None,
    vllm: Sequence[str] | None = None,
    *,
    default: Sequence[ModelSpec] = (),
    exclusive: bool = False,
    api_key_env: str | None = None,
    **server: Any,
) -> list[ModelSpec]:
    """The models to run: `models` (ModelSpec, `NAME=URL` or an embedded model's name), `gguf`
    files and `vllm` models, else `default`. `server` (parallel, ctx_per_slot, threads, port,
    llama_server; None = not given) applies to every llama.cpp model, `api_key_env` to every
    attached one. `exclusive`: --model and --gguf together are refused (perf, longdoc)."""
    if exclusive and models and gguf:
        raise SlmbenchError("pass --model or --gguf, not both")
    specs = [m if isinstance(m, ModelSpec) else parse_model_flag(m) for m in models or []]
    specs += [gguf_model(Path(g)) for g in gguf or []]
    specs += [vllm_model(v) for v in vllm or []]
    options = {k: v for k, v in server.items() if v is not None}
    specs = [
        validated(ModelSpec, s.model_dump(exclude_unset=True) | options) if options and s.backend == "llamacpp" else s
        for s in specs or default
    ]
    return with_api_key_env(specs, api_key_env)


def eval_config(
    config: Config | str | Path | None = None,
    models: Sequence[ModelSpec | str] | None = None,
    gguf: Sequence[str | Path] | None = None,
    vllm: Sequence[str] | None = None,
    *,
    api_key_env: str | None = None,
    server: dict[str, Any] | None = None,
    **settings: Any,
) -> Config:
    """What an eval runs: the models given, else the config's, else both embedded models; the
    settings given (None = not given) over the config's [eval], validated."""
    if not isinstance(config, Config):
        config = load_config(Path(config)) if config is not None else Config()
    specs = resolve_models(models, gguf, vllm, default=config.models or embedded_models(), api_key_env=api_key_env,
                           **server or {})  # fmt: skip
    given = {k: v for k, v in settings.items() if v is not None}
    return Config(model=specs, eval=validated(EvalSettings, config.eval.model_dump() | given))
