"""Serving load benchmark: streaming load generator, vLLM-style latency metrics, the physical limit.
The package is also callable, as the perf command's library twin (`run.perf`):

    import slmbench
    runs = slmbench.perf(["smollm2-135m"], concurrency=[1, 2])
"""

from __future__ import annotations

import sys
import types
from typing import Any

from .limit import Hardware, ModelGeometry, ceilings, gguf_geometry, host_hardware
from .run import PerfResults, PerfSettings, perf, run_perf
from .stats import SLO, RequestRecord, summarize

__all__ = [
    "SLO", "Hardware", "ModelGeometry", "PerfResults", "PerfSettings", "RequestRecord", "ceilings", "gguf_geometry",
    "host_hardware", "perf", "run_perf", "summarize",
]  # fmt: skip


class _Callable(types.ModuleType):
    """`slmbench.perf(...)` is the perf command's library twin (`run.perf`, also `slmbench.api.perf`),
    though the name is also this package's: Python sets a package's attribute to its subpackage."""

    def __call__(self, *args: Any, **kwargs: Any) -> list[PerfResults]:
        return perf(*args, **kwargs)


sys.modules[__name__].__class__ = _Callable
