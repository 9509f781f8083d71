"""slmbench: deploy, evaluate and compare small language models, honestly.

    import slmbench
    results = slmbench.evaluate(["smollm2-135m"], ["arithmetic"], limit=20)   # an embedded model
    results.score("smollm2-135m", "arithmetic")   # Estimate(value, n, ci_low, ci_high)
    runs = slmbench.perf(["smollm2-135m"], concurrency=[1, 2], requests=8)

`evaluate` and `perf` (in `slmbench.api`) take every setting the `eval` and `perf` commands take.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from .api import evaluate, perf


def __getattr__(name: str) -> Any:
    # Imported on first use: `import slmbench` (and every CLI start) stays light.
    if name == "evaluate":
        from .api import evaluate

        return evaluate
    if name == "perf":  # the subpackage, callable: slmbench.perf(...) is slmbench.api.perf(...)
        import importlib

        return importlib.import_module(".perf", __name__)
    raise AttributeError(f"module 'slmbench' has no attribute {name!r}")


__all__ = ["__version__", "evaluate", "perf"]
