"""Reports: the comparison of one or more runs as self-contained HTML, Markdown and JSON.

from slmbench.report import load, write
write(load(["slmbench-runs/latest"]), Path("out"), formats=("html", "md", "json"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from ..errors import SlmbenchError
from ..markdown import table as md_table
from ..verdicts import VERDICTS
from .data import Report, dimensions, load

FORMATS = ("html", "md", "json")
PROMPT_CHARS = 6000  # per-sample text kept in the HTML; long-context prompts would bloat it


def write(report: Report, out: Path, formats: tuple[str, ...] = FORMATS) -> dict[str, Path]:
    """Write report.<format> files into `out`; returns format -> path."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise SlmbenchError(f"unknown report format {unknown[0]!r}; use one of: {', '.join(FORMATS)}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SlmbenchError(f"cannot write the report to {out} ({exc.strerror}); pass a writable --out") from None
    written = {}
    for fmt in formats:
        path = out / f"report.{fmt}"
        if fmt == "json":
            data = orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
        elif fmt == "md":
            data = to_markdown(report).encode()
        else:
            data = to_html(report).encode()
        staged = path.with_suffix(".tmp")
        staged.write_bytes(data)
        staged.replace(path)
        written[fmt] = path
    return written


def fmt(value: float | None, unit: str, with_unit: bool = True) -> str:
    if value is None:
        return "—"
    if unit == "tokens":
        return f"{value:,.0f}" + (" tokens" if with_unit else "")
    return f"{value * 100:.1f}"


TEST_NAMES = {"mcnemar-exact": "McNemar exact", "sign-flip-exact": "sign-flip exact",
              "sign-flip-monte-carlo": "sign-flip Monte-Carlo", "approximate-randomization": "approx. randomization"}  # fmt: skip


def pair_text(c: dict[str, Any]) -> tuple[str, str]:
    """A paired test as (difference with CI and p, what was tested), e.g.
    ('+6.5 [+1.2, +11.8] p=0.021 significant', 'rougeL, sign-flip exact, n=20')."""
    if c["diff"] is None:
        return "—", f"{c['metric']}, n=0"
    head = f"{c['diff'] * 100:+.1f} [{c['ci_low'] * 100:+.1f}, {c['ci_high'] * 100:+.1f}] p={c['p_value']:.2g}"
    head += " significant" if c["significant"] else " not significant"
    return head, f"{c['metric']}, {TEST_NAMES.get(c['test'], c['test'])}, n={c['n']}"


def pairs_markdown(comparisons: list[dict[str, Any]]) -> list[str]:
    """The paired-comparison table (Markdown lines), naming the metric each test tested."""
    rows = []
    for c in comparisons:
        diff = f"{c['diff'] * 100:+.1f}" if c["diff"] is not None else "—"
        ci = f"[{c['ci_low'] * 100:+.1f}, {c['ci_high'] * 100:+.1f}]" if c["ci_low"] is not None else "—"
        p = f"{c['p_value']:.3g}" if c["p_value"] is not None else "—"
        if c.get("mc_error"):
            p += f" ±{c['mc_error']:.1g}"
        rows.append(
            [
                c["task"],
                c["metric"],
                c["a"],
                c["b"],
                diff,
                ci,
                p,
                c["test"],
                c["n"],
                "yes" if c["significant"] else "no",
            ]
        )
    return md_table(["task", "metric", "A", "B", "A − B", "95% CI", "p", "test", "n", "significant"], rows)


PAIRS_NOTE = ("A − B in percentage points (BLEU points for BLEU) on the samples both models answered for that metric, "
              "with the paired bootstrap 95% CI. Tests: McNemar exact (pass/fail); sign-flip permutation of the "
              "mean difference, exact up to 20 pairs, Monte-Carlo (20,000 draws, ± its error) beyond; approximate "
              "randomization (1,000 draws) for corpus BLEU/chrF++. Significant: p < 0.05.")  # fmt: skip


def to_markdown(report: Report) -> str:
    dims = [d for d in dimensions() if any(d.key in cells for cells in report.table.values())]
    lines = ["# slmbench report", "", "Runs: " + ", ".join(f"`{r['run_id']}` ({r['status']})" for r in report.runs), ""]
    lines += ["## Comparison", ""]
    rows = []
    for model, cells in report.table.items():
        row = []
        for d in dims:
            c = cells.get(d.key)
            if c is None:
                row.append("—")
            elif c.value is None:
                row.append(f"none n={c.n}" if c.note else "—")
            elif d.unit == "%" and c.ci_low is not None:
                row.append(
                    f"{fmt(c.value, d.unit)}{c.mark} [{fmt(c.ci_low, d.unit)}, {fmt(c.ci_high, d.unit)}] n={c.n}"
                )
            else:
                row.append(f"{fmt(c.value, d.unit)}{c.mark} n={c.n}")
            if c is not None and c.data_set:
                row[-1] += f" ({c.data_set})"
        rows.append([model, *row])
    for pair in report.pairs:
        row = []
        for d in dims:
            c = pair["cells"].get(d.key)
            row.append("no paired test" if c is None else "{} ({})".format(*pair_text(c)))
        rows.append([f"{pair['a']} − {pair['b']} (paired)", *row])
    lines += md_table(["model", *(d.label for d in dims)], rows)
    lines += ["", "Percent (BLEU: 0–100; long context: tokens) with 95% CI and n (samples answered). — : not measured."]
    for model, cells in report.table.items():
        for d in dims:  # a column without a value says why (long context: no length kept its score)
            if (c := cells.get(d.key)) is not None and c.note:
                lines.append(f"{d.short}, {model}: none, {c.note}.")
    if len(report.table) > 1:
        lines.append("▲: the column's leader beats every other model significantly (paired test of that column's metric, "
                     "p < 0.05); ≈: it leads, not significantly. The (paired) rows give each test: " + PAIRS_NOTE)  # fmt: skip
    if report.comparisons:
        lines += ["", "## Paired comparisons", "", *pairs_markdown(report.comparisons)]
    if report.strategies:
        from ..longdoc.compare import markdown as strategies_markdown

        for result in report.strategies.values():
            lines += ["", strategies_markdown(result).rstrip("\n")]
    return "\n".join(lines) + "\n"


def to_html(report: Report) -> str:
    import jinja2

    from . import charts

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("slmbench.report", "."), autoescape=True, trim_blocks=True, lstrip_blocks=True
    )
    samples = _samples(report)
    return env.get_template("template.html.j2").render(
        title=", ".join(r["run_id"] for r in report.runs),
        runs=report.runs,
        dimensions=[d for d in dimensions() if any(d.key in cells for cells in report.table.values())]
        or dimensions()[:5],
        table=report.table,
        comparisons=report.comparisons,
        pairs=report.pairs,
        pair_text=pair_text,
        test_names=TEST_NAMES,
        pairs_note=PAIRS_NOTE,
        charts=_charts(report, charts),
        extra_tables=_perf_tables(report) + _strategy_tables(report),
        fmt=fmt,
        samples_json=orjson.dumps(samples).decode().replace("</", "<\\/"),
        sample_models=sorted({s["model"] for s in samples}),
        sample_tasks=sorted({s["task"] for s in samples}),
        verdicts=VERDICTS,
    )


def _clip(text: Any) -> Any:
    if isinstance(text, str) and len(text) > PROMPT_CHARS:
        return (
            text[: PROMPT_CHARS // 2]
            + f"\n… [{len(text) - PROMPT_CHARS:,} characters left out] …\n"
            + text[-PROMPT_CHARS // 2 :]
        )
    return text


def _samples(report: Report) -> list[dict[str, Any]]:
    out = []
    for m in report.models:
        for task, result in m.tasks.items():
            for s in result.get("samples", []):
                target = s.get("target")
                out.append({
                    "model": m.name, "task": task, "id": s["id"], "verdict": s["verdict"], "score": s["score"],
                    "why": s["why"], "prompt": _clip(s.get("prompt")), "answer": _clip(s.get("answer")),
                    "reasoning": _clip(s.get("reasoning")),
                    "target": _clip(target if isinstance(target, str) else orjson.dumps(target).decode()),
                })  # fmt: skip
    return out


def _charts(report: Report, charts: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    ok_models = [m for m in report.models if m.error is None]
    five = [d for d in dimensions() if d.radar]
    measured = [d for d in five if any(_value(report, m.name, d.key) is not None for m in ok_models)]
    if len(measured) >= 3:  # a radar of fewer axes says nothing a bar chart does not
        series = {m.name: [_value(report, m.name, d.key) for d in measured] for m in ok_models}
        out.append(("Dimensions (0–100: percent; BLEU points)", charts.radar([d.short for d in measured], series)))
    groups, bars = score_bars(report)
    if groups:
        out.append(("Scores with 95% CI: the comparison table's columns, then other tasks' headline",
                    charts.bars_with_ci(groups, bars)))  # fmt: skip
    for m in ok_models:
        for task, result in m.tasks.items():
            lengths, depths, scores = charts.needle_scores(result)
            if scores:
                out.append(
                    (f"Needle retrieval: {m.name} / {task}", charts.heatmap(f"{m.name}", lengths, depths, scores))
                )
    columns, quality, left_out = mean_quality(report)
    ylabel = "mean score, 0–100"
    caption = f"mean over the same {len(columns)} column{'s' if len(columns) != 1 else ''} for every model: " + ", ".join(
        d.short for d in columns) + (f"; left out: {left_out}" if left_out else "")  # fmt: skip
    xlabel, speed = speed_figures(report)
    points = {n: (speed[n], quality[n]) for n in speed if n in quality}
    if points and xlabel:
        out.append((f"Quality vs speed ({caption})", charts.scatter(xlabel, ylabel, points)))
    sizes = {m.name: m.endpoint.get("model_bytes") for m in ok_models}
    points = {n: (sizes[n] / 1e9, quality[n]) for n in sizes if sizes[n] and n in quality}
    if points and len(points) == len(ok_models):
        out.append((f"Quality vs memory ({caption})", charts.scatter("model weights, GB", ylabel, points)))
    out += _perf_charts(report, charts) if report.perf else []
    return out


def score_bars(report: Report) -> tuple[list[str], dict[str, list[tuple[float | None, float | None, float | None]]]]:
    """Bars that say what the table says: each percent column (the same cell: value and CI),
    then the headline of tasks no column shows. Long context is left to its heatmaps and its
    column (an effective context is tokens, not a share)."""
    ok = [m for m in report.models if m.error is None]
    columns = [d for d in dimensions() if d.unit == "%" and any(_value(report, m.name, d.key) is not None for m in ok)]
    groups = [d.short for d in columns]
    series: dict[str, list[tuple[float | None, float | None, float | None]]] = {}
    for m in ok:
        cells = [report.table.get(m.name, {}).get(d.key) for d in columns]
        series[m.name] = [(c.value, c.ci_low, c.ci_high) if c else (None, None, None) for c in cells]
    shown = {(c.task, c.metric) for cells in report.table.values() for c in cells.values()}
    shown_tasks = {t for t, _ in shown} | {t for d in dimensions() for t, _ in d.sources}  # long context among them
    others = sorted({t for m in ok for t in m.tasks if t not in shown_tasks})
    for task in others:
        headline = next((m.tasks[task].get("headline") for m in ok if task in m.tasks), "")
        groups.append(f"{task} · {headline}")
        for m in ok:
            series[m.name].append(_headline(m.tasks.get(task)))
    return groups, series


def mean_quality(report: Report) -> tuple[list[Any], dict[str, float], str]:
    """Each model's mean over the percent columns that every model has a score in (so every
    model is averaged over the same task set), and what was left out for lack of a score."""
    ok = [m.name for m in report.models if m.error is None]
    columns = [d for d in dimensions() if d.unit == "%"]
    have = {m: {d.key for d in columns if _value(report, m, d.key) is not None} for m in ok}
    common = [d for d in columns if ok and all(d.key in have[m] for m in ok)]
    missing = [
        (d, [m for m in ok if d.key not in have[m]])
        for d in columns
        if d not in common and any(d.key in have[m] for m in ok)
    ]
    left_out = "; ".join(f"{d.short} (no score for {', '.join(ms)})" for d, ms in missing)
    if not common:
        return [], {}, left_out
    return common, {m: sum(_value(report, m, d.key) for d in common) / len(common) for m in ok}, left_out  # type: ignore[misc]


def speed_figures(report: Report) -> tuple[str | None, dict[str, float]]:
    """Output tokens/s measured the same way for every model: perf at the lowest concurrency
    every model's perf run has; else, when no such point exists, the eval answers' own speed if
    every model was evaluated at the same concurrency; else nothing (no mixing of the two)."""
    ok = [m for m in report.models if m.error is None]
    curves = {m.name: {c["concurrency"]: c["output_throughput"]
                       for c in report.perf.get(m.name, {}).get("curves", {}).get("throughput_vs_concurrency", [])
                       if c.get("concurrency") and c.get("output_throughput")} for m in ok}  # fmt: skip
    common = set.intersection(*(set(v) for v in curves.values())) if curves else set()
    if common:
        c = min(common)
        return f"output tokens/s (slmbench perf, concurrency {c})", {n: v[c] for n, v in curves.items()}
    levels = {(m.manifest.get("client") or {}).get("concurrency") for m in ok}
    speeds = {m.name: _tokens_per_s(m) for m in ok}
    if len(levels) == 1 and None not in levels and all(speeds.values()):
        return f"output tokens/s per answer (eval, concurrency {levels.pop()})", speeds  # type: ignore[return-value]
    return None, {}


def _value(report: Report, model: str, key: str) -> float | None:
    cell = report.table.get(model, {}).get(key)
    return cell.value if cell else None


def _headline(result: dict[str, Any] | None) -> tuple[float | None, float | None, float | None]:
    if not result:
        return (None, None, None)
    e = result["metrics"].get(result["headline"], {})
    return (e.get("value"), e.get("ci_low"), e.get("ci_high"))


def _tokens_per_s(m: Any) -> float | None:
    tokens = latency = 0.0
    for result in m.tasks.values():
        for s in result.get("samples", []):
            if not s.get("cached") and s.get("completion_tokens") and s.get("latency_s"):
                tokens += s["completion_tokens"]
                latency += s["latency_s"]
    return tokens / latency if latency else None


def _perf_charts(report: Report, charts: Any) -> list[tuple[str, str]]:
    """perf.json's curve series (docs/perf.md), one line per model."""
    out = []
    throughput = {m: [(c["concurrency"], c["output_throughput"]) for c in p["curves"]["throughput_vs_concurrency"]
                      if c.get("output_throughput") is not None] for m, p in report.perf.items()}  # fmt: skip
    if any(throughput.values()):
        out.append(("Output throughput vs concurrency",
                    charts.curves("Output throughput vs concurrency", "concurrency", "output tokens/s", throughput)))  # fmt: skip
    for metric, label in (("ttft_ms", "TTFT"), ("tpot_ms", "TPOT")):
        series = {f"{m} p{q}": [(c["load"], c[metric][f"p{q}"]) for c in p["curves"]["latency_vs_load"]
                               if c.get(metric) and c[metric].get(f"p{q}") is not None]
                  for m, p in report.perf.items() for q in (50, 99)}  # fmt: skip
        if any(series.values()):
            out.append(
                (f"{label} vs load", charts.curves(f"{label} percentiles vs load", "concurrency or rate", "ms", series))
            )
    by_length = {m: [(c["prompt_tokens"], c["ttft_ms"]["p50"]) for c in p["curves"]["ttft_vs_prompt_length"]
                     if c.get("prompt_tokens") and c["ttft_ms"].get("p50") is not None] for m, p in report.perf.items()}  # fmt: skip
    if sum(len({x for x, _ in v}) for v in by_length.values()) > 1:
        out.append(
            ("TTFT vs prompt length", charts.curves("TTFT p50 vs prompt length", "prompt tokens", "ms", by_length))
        )
    return out


def _perf_tables(report: Report) -> list[dict[str, Any]]:
    header = ["model", "point", "requests/s", "output tok/s", "TTFT p50 ms", "TPOT p50 ms", "ITL p50 ms",
              "errors", "decode ceiling tok/s", "% of limit"]  # fmt: skip
    rows = []
    for model, perf in report.perf.items():
        for point in perf["points"]:
            pooled, limit = point["pooled"], point.get("limit") or {}
            rows.append([
                model, point["key"], _num(pooled.get("request_throughput")), _num(pooled.get("output_throughput")),
                _num((pooled.get("ttft_ms") or {}).get("p50")), _num((pooled.get("tpot_ms") or {}).get("p50")),
                _num((pooled.get("itl_ms") or {}).get("p50")), str(pooled["requests"].get("failed", 0)),
                _num(limit.get("decode_tokens_per_s")), _num(limit.get("output_throughput_pct")),
            ])  # fmt: skip
    return [{"title": "Serving performance (slmbench perf)", "header": header, "rows": rows}] if rows else []


def _strategy_tables(report: Report) -> list[dict[str, Any]]:
    if not report.strategies:
        return []
    from ..longdoc.compare import STRATEGY_HEADER, strategy_rows

    rows = [[model, *row] for model, result in report.strategies.items() for row in strategy_rows(result)]
    title = "Long inputs: whole context vs anchored vs map-reduce (slmbench longdoc compare)"
    return [{"title": title, "header": ["model", *STRATEGY_HEADER], "rows": rows}]


def _num(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:,.1f}" if isinstance(v, float) else str(v)


__all__ = ["FORMATS", "Report", "load", "to_html", "to_markdown", "write"]
