"""slmbench: deploy, evaluate and compare small language models, honestly.

    import slmbench
    results = slmbench.evaluate(tasks=["arithmetic"], limit=20)   # the embedded model
    results.score("gemma-3-270m", "arithmetic")   # Estimate(value, n, ci_low, ci_high)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._version import __version__

if TYPE_CHECKING:
    from .config import Config, ModelSpec
    from .progress import Observer
    from .results import Results


def evaluate(
    models: list[ModelSpec] | None = None,
    tasks: list[str] | None = None,
    *,
    limit: int | None = None,
    seed: int | None = None,
    concurrency: int | None = None,
    out: str | Path | None = None,
    data: dict[str, str] | None = None,
    config: Config | None = None,
    observer: Observer | None = None,
) -> Results:
    """Evaluate models (default: the embedded llama.cpp model) on tasks; same as `slmbench eval`.

    `config` supplies everything at once (e.g. from `load_config`); the keyword arguments
    override its evaluation settings. `data` maps a task to its data file or "hub".
    """
    from .config import Config, EvalSettings
    from .runner import run

    config = config or Config()
    given = {"tasks": tasks, "limit": limit, "seed": seed, "concurrency": concurrency, "out": out, "data": data}
    updates = {k: v for k, v in given.items() if v is not None}
    settings = EvalSettings.model_validate(config.eval.model_dump() | updates)
    return run(Config(model=models or config.models, eval=settings), observer)


__all__ = ["__version__", "evaluate"]
