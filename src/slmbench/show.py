"""What the commands print, as Rich tables: eval results with paired comparisons, perf points,
perf comparisons, long-document strategies. Usable from Python too (Rich renders in notebooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def stdout() -> Console:
    """The console for tables: a log file gets 160 columns, not a table wrapped at 80."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def eval_results(console: Console, results: Any) -> None:
    from .results import TABLE_HEADER, failure_lines, table_rows
    from .tasks import registry

    table = Table(*TABLE_HEADER, title=f"slmbench run {results.run_id} ({results.status})")
    for row in table_rows(results):
        table.add_row(*row)
    console.print(table)
    _pairs(console, results)
    for m in results.models:
        for t in m.tasks.values():
            for line in registry.renderer(t.task).extra_lines(t.extra):  # e.g. long context's effective context
                console.print(f"{m.name} / {t.task}: {line}", highlight=False)
    for line in failure_lines(results):
        console.print(line, highlight=False, soft_wrap=True, markup=False)
    console.print(
        f"results: {results.run_dir / 'results.json'}  {results.run_dir / 'results.md'}",
        highlight=False,
        soft_wrap=True,
    )


def _pairs(console: Console, results: Any) -> None:
    """Paired tests between the run's models, one row per task and metric tested."""
    from .report import TEST_NAMES
    from .results import comparisons

    pairs = comparisons(results)
    if not pairs:
        return
    table = Table(
        "task", "metric", "A", "B", "A − B [95% CI]", "p", "test", "n", "significant", title="paired comparisons"
    )
    for c in pairs:
        diff = (
            "—"
            if c["diff"] is None
            else f"{c['diff'] * 100:+.1f} [{c['ci_low'] * 100:+.1f}, {c['ci_high'] * 100:+.1f}]"
        )
        p = "—" if c["p_value"] is None else f"{c['p_value']:.3g}"
        table.add_row(c["task"], c["metric"], c["a"], c["b"], diff, p, TEST_NAMES.get(c["test"], c["test"]), str(c["n"]),
                      "yes" if c["significant"] else "no")  # fmt: skip
    console.print(table)


def perf_results(console: Console, results: Any) -> None:
    from .perf.report import TABLE_HEADER, table_row

    table = Table(*TABLE_HEADER, title=f"slmbench perf {results.run_id} ({results.status})")
    for point in results.points:
        table.add_row(*table_row(point))
    console.print(table)
    for note in results.notes:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)
    console.print(
        f"results: {results.run_dir / 'perf.json'}  {results.run_dir / 'perf.md'}", highlight=False, soft_wrap=True
    )


def perf_comparison(console: Console, rows: list[dict[str, Any]], runs: list[Path]) -> None:
    def num(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    table = Table("point", "metric", "A", "B", "B - A", "95% CI", "significant", title=f"A = {runs[0]}  B = {runs[1]}")
    for r in rows:
        ci = "-" if r["ci_low"] is None else f"[{num(r['ci_low'])}, {num(r['ci_high'])}]"
        sig = {None: "n too small", True: "yes", False: "no"}[r.get("significant")]
        table.add_row(r["point"], r["metric"], num(r["a"]), num(r["b"]), num(r["diff"]), ci, sig)
    console.print(table)


def strategies(console: Console, result: dict[str, Any]) -> None:
    """`longdoc compare`'s summary: one row per strategy."""
    from .longdoc.compare import STRATEGY_HEADER, strategy_rows

    documents = len({t["sample"] for t in result["trials"]})
    table = Table(*STRATEGY_HEADER, title=f"{result['model']}: strategies on {documents} needle documents")
    for row in strategy_rows(result):
        table.add_row(*row)
    console.print(table)


def servers(rows: list[list[str]]) -> None:
    """`slmbench ps`: the detached servers, or a line saying there are none."""
    if not rows:
        print("no servers running")
        return
    table = Table("name", "backend", "pid", "url", "model", "up", "log")
    for row in rows:
        table.add_row(*row)
    Console(width=200).print(table)
