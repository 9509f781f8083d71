"""The results model every run produces, and its two files: results.json and results.md.

The schema is documented in docs/results.md; `schema_version` changes when it does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .markdown import table as md_table
from .metrics.stats import Estimate
from .tasks.base import SampleRecord
from .verdicts import ERROR, LABELS, SKIPPED, TIMEOUT, VERDICTS

if TYPE_CHECKING:
    from .tasks.base import Task

SCHEMA_VERSION = 3  # 2: samples carry `reasoning`; 3: `skipped` verdict, task `extra`


@dataclass(slots=True)
class TaskResult:
    task: str
    version: str
    headline: str  # the metric named in the table
    metrics: dict[str, Estimate]
    counts: dict[str, int]
    breakdown: dict[str, dict[str, Estimate]]  # meta key -> group -> estimate
    samples: list[SampleRecord]
    requests_sent: int
    requests_cached: int
    completion_tokens: int
    # Task-specific aggregates beyond metrics (long context: heatmap and effective context).
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "version": self.version,
            "headline": self.headline,
            "metrics": {k: v.as_dict() for k, v in self.metrics.items()},
            "counts": self.counts,
            "breakdown": {k: {g: e.as_dict() for g, e in groups.items()} for k, groups in self.breakdown.items()},
            "requests": {"sent": self.requests_sent, "cached": self.requests_cached},
            "completion_tokens": self.completion_tokens,
            "extra": self.extra,
            "samples": [asdict(s) for s in self.samples],
        }


@dataclass(slots=True)
class ModelResult:
    name: str
    endpoint: dict[str, Any]
    tasks: dict[str, TaskResult] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "error": self.error,
            "tasks": {name: t.to_dict() for name, t in self.tasks.items()},
        }


@dataclass(slots=True)
class Results:
    run_id: str
    run_dir: Path
    status: str  # running | complete | partial | interrupted
    manifest: dict[str, Any]
    models: list[ModelResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "status": self.status,
            "manifest": self.manifest,
            "models": [m.to_dict() for m in self.models],
        }

    def score(self, model: str, task: str) -> Estimate:
        """The headline estimate of one model on one task."""
        for m in self.models:
            if m.name == model:
                t = m.tasks[task]
                return t.metrics[t.headline]
        raise KeyError(model)

    def write(self) -> tuple[Path, Path]:
        json_path = self.run_dir / "results.json"
        md_path = self.run_dir / "results.md"
        _write_atomic(json_path, orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
        _write_atomic(md_path, to_markdown(self).encode())
        return json_path, md_path


def format_estimate(e: Estimate) -> str:
    """A share as percent with its interval: `12.5 [4.1, 30.2]`."""
    if e.value is None:
        return "n/a (n=0)"
    if e.unit != "share":
        return f"{e.value:.2f} [{e.ci_low:.2f}, {e.ci_high:.2f}] {e.unit}"
    return f"{e.value * 100:.1f} [{e.ci_low * 100:.1f}, {e.ci_high * 100:.1f}]"  # type: ignore[operator]


ERROR_SHARE_SHOWN = 0.05  # a task where more of the requests failed gets a line after the table


def failure_kinds(records: Any) -> dict[str, tuple[int, str]]:
    """Failure kind -> (count, one example message), most frequent first."""
    found: dict[str, list[Any]] = {}
    for r in records:
        if r.verdict in (ERROR, TIMEOUT):
            kind, _, message = r.why.partition(": ")
            found.setdefault(kind, [0, message[:160]])[0] += 1
    return {k: (n, m) for k, (n, m) in sorted(found.items(), key=lambda kv: -kv[1][0])}


def failure_lines(results: Results, threshold: float = ERROR_SHARE_SHOWN) -> list[str]:
    """Per model and task whose share of failed requests is above threshold: the failure kinds
    with counts and one example message each."""
    lines = []
    for m in results.models:
        for t in m.tasks.values():
            sent = [s for s in t.samples if s.verdict != SKIPPED]
            kinds = failure_kinds(sent)
            failed = sum(n for n, _ in kinds.values())
            if not sent or failed / len(sent) <= threshold:
                continue
            listed = "; ".join(f"{kind} {n}, e.g. {example}" for kind, (n, example) in kinds.items())
            lines.append(
                f"{m.name} / {t.task}: {failed} of {len(sent)} requests failed ({100 * failed / len(sent):.0f}%): {listed}"
            )
    return lines


def table_rows(results: Results) -> list[list[str]]:
    """One row per model x task: the cells the Markdown and terminal tables share."""
    rows = []
    for m in results.models:
        if m.error is not None:
            rows.append([m.name, "-", "-", f"failed: {m.error}", "", *([""] * len(VERDICTS))])
            continue
        for t in m.tasks.values():
            e = t.metrics[t.headline]
            n = str(e.n) + _task(t.task).n_note(t.extra)
            rows.append(
                [m.name, t.task, t.headline, format_estimate(e), n, *(str(t.counts.get(c, 0)) for c in VERDICTS)]
            )
    return rows


# The counts under their short labels (verdicts.LABELS), so the table fits a terminal.
TABLE_HEADER = ["model", "task", "metric", "% [95% CI]", "n", *(LABELS[c] for c in VERDICTS)]


def to_markdown(results: Results) -> str:
    lines = [f"# slmbench run {results.run_id} ({results.status})", ""]
    lines += md_table(TABLE_HEADER, table_rows(results))
    lines += [
        "",
        "n counts the samples that got an answer; `error` and `timeout` samples got none and are "
        "left out of n. `trunc`: the answer hit max_tokens before giving a result; `unparsed`: "
        "no answer could be extracted; `skipped`: not sent, the request could not fit the endpoint's context.",
    ]
    if failed := failure_lines(results):
        lines += ["", "## Failed requests", "", *(f"- {line}" for line in failed)]
    # Notes the run's tasks declare (IFEval's accounting), each once.
    for note in dict.fromkeys(_task(t.task).results_note for m in results.models for t in m.tasks.values()):
        if note:
            lines += ["", note]
    for m in results.models:
        for t in m.tasks.values():
            if len(t.metrics) > 1:
                lines += ["", f"## {m.name} / {t.task} metrics", ""]
                lines += md_table(
                    ["metric", "% [95% CI]", "n"], [[name, format_estimate(e), e.n] for name, e in t.metrics.items()]
                )
            for key, groups in t.breakdown.items():
                lines += ["", f"## {m.name} / {t.task}: share ok by {key}", ""]
                lines += md_table([key, "% [95% CI]", "n"], [[g, format_estimate(e), e.n] for g, e in groups.items()])
            lines += _task(t.task).extra_markdown(m.name, t.extra)  # e.g. long context's heatmap
    lines += paired_markdown(results)
    man = results.manifest
    lines += ["", "## Manifest", ""]
    for name, info in man.get("models", {}).items():
        lines.append(
            f"- **{name}**: {info.get('server', '?')} at {info.get('base_url', '?')}, model `{info.get('model', '?')}`"
        )
    sampling = man.get("sampling", {})
    lines.append(f"- sampling: {', '.join(f'{k}={v}' for k, v in sampling.items())}")
    for name, info in man.get("tasks", {}).items():
        if "sandbox" in info:
            box = info["sandbox"]
            lines.append(f"- {name}: " + box.get("warning", f"code ran in a {box['mode']} sandbox ({box['python']})"))
    lines.append(
        f"- seed {man.get('seed')}; tasks: "
        + ", ".join(f"{k} v{v['version']} (n={v['samples']})" for k, v in man.get("tasks", {}).items())
    )
    for name, info in man.get("tasks", {}).items():
        notes = info.get("notes", {})
        if notes.get("set"):
            lines.append(f"- {name} set: {notes['set']}")
        for direction, sigs in notes.get("signatures", {}).items():
            named = {"bleu": "BLEU", "chrf": "chrF++"}  # and e.g. bleu_intl: "BLEU intl"
            lines.append(
                f"- {name} {direction} signatures: "
                + ", ".join(f"{named.get(k, k.replace('bleu_', 'BLEU '))} `{v}`" for k, v in sigs.items())
            )
    lines.append(f"- slmbench {man.get('slmbench')}")
    return "\n".join(lines) + "\n"


def comparisons(results: Results) -> list[dict[str, Any]]:
    """Paired tests between the run's models (report.data.compare_models), empty for one model."""
    from .report.data import compare_models

    models = [m for m in results.models if m.error is None]
    return compare_models([m.to_dict() for m in models]) if len(models) > 1 else []


def paired_markdown(results: Results) -> list[str]:
    pairs = comparisons(results)
    if not pairs:
        return []
    from .report import PAIRS_NOTE, pairs_markdown

    return ["", "## Paired comparisons (same samples)", "", *pairs_markdown(pairs), "", PAIRS_NOTE]


def _task(name: str) -> Task:
    """The task that renders its own `extra` (the registry's)."""
    from .tasks import registry

    return registry.renderer(name)


def _write_atomic(path: Path, data: bytes) -> None:
    staged = path.with_suffix(path.suffix + ".tmp")
    staged.write_bytes(data)
    staged.replace(path)
