"""examples/: the reference-comparison config is valid and the README's plan table is what
`slmbench plan` says today."""

import runpy
from pathlib import Path

from slmbench.config import check_settings
from slmbench.metrics.stats import wilson
from slmbench.tasks import TASKS, known_tasks

ROOT = Path(__file__).parent.parent
SCRIPT = runpy.run_path(str(ROOT / "examples" / "reference_plan.py"))


def test_the_example_config_is_the_reference_comparison():
    conf = SCRIPT["config"]()
    check_settings(conf.eval, known_tasks(), [n for n, t in TASKS.items() if t.takes_data])
    assert [m.hf for m in conf.models] == ["Qwen/Qwen3-4B-Instruct-2507", "meta-llama/Meta-Llama-3-8B-Instruct",
                                           "mistralai/Mistral-7B-Instruct-v0.3", "microsoft/Phi-3-mini-4k-instruct"]  # fmt: skip
    assert {m.backend for m in conf.models} == {"vllm"}
    dimensions = {"instruction", "reasoning", "understanding", "coding", "multilingual", "structured"}
    assert dimensions <= set(conf.eval.tasks) and any(t.startswith("longcontext") for t in conf.eval.tasks)
    # +/-5 points at the worst case (p = 0.5) is what the limit buys; one fewer sample still
    # does with Wilson, the normal approximation's 384.2 is where the README's 385 comes from.
    e = wilson(conf.eval.limit // 2, conf.eval.limit)
    assert conf.eval.limit == 385 and (e.ci_high - e.ci_low) / 2 < 0.05


def test_the_readme_plan_table_is_current():
    readme = (ROOT / "README.md").read_text()
    assert SCRIPT["plan_table"]() in readme
    # one cell checked against the planner directly: Qwen3-4B on a 24 GB card
    from slmbench import plan as P
    from slmbench.profiles import get_profile

    pl = P.plan(P.make_request(get_profile("qwen3-4b"), P.GPUS["rtx4090"]))
    assert not pl.fits and f"--max-model-len {P.round_context(pl.max_context):,} of 262,144" in readme
