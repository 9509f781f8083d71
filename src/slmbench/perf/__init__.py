"""Serving load benchmark: streaming load generator, vLLM-style latency metrics, the physical limit.

    from slmbench.perf import PerfSettings, run_perf
"""

from __future__ import annotations

from .limit import Hardware, ModelGeometry, ceilings, gguf_geometry, host_hardware
from .run import PerfResults, PerfSettings, run_perf
from .stats import SLO, RequestRecord, summarize

__all__ = [
    "SLO", "Hardware", "ModelGeometry", "PerfResults", "PerfSettings", "RequestRecord", "ceilings", "gguf_geometry",
    "host_hardware", "run_perf", "summarize",
]  # fmt: skip
