from pathlib import Path

from slmbench.markdown import cell, table
from slmbench.metrics.stats import wilson
from slmbench.results import ModelResult, Results, TaskResult, to_markdown


def test_a_table_is_header_separator_rows():
    assert table(["a", "b"], [["1", 2], ["x", None]]) == ["| a | b |", "|---|---|", "| 1 | 2 |", "| x | None |"]


def test_a_bar_or_line_break_in_a_cell_stays_in_its_cell():
    assert cell("p|q") == "p\\|q" and cell("one\ntwo\r\nthree") == "one<br>two<br>three"
    lines = table(["model", "score"], [["gguf|q4", "line\nbreak"]])
    assert lines[2] == "| gguf\\|q4 | line<br>break |"
    # every row still has as many unescaped bars as the header
    assert {line.replace("\\|", "").count("|") for line in lines} == {3}


def test_results_md_keeps_a_bar_in_a_name_inside_its_cell(tmp_path: Path):
    # Before the one table helper, only the main table escaped `|`; a breakdown group with one split its row.
    metrics = {"accuracy": wilson(3, 4), "accuracy_strict": wilson(2, 4)}
    breakdown = {"kind": {"a|b": wilson(1, 2)}}
    task = TaskResult("arithmetic", "1", "accuracy", metrics, {"ok": 3, "wrong": 1}, breakdown, [], 4, 0, 40)
    results = Results("r1", tmp_path, "complete", {"seed": 0}, [ModelResult("gguf|q4", {}, {"arithmetic": task})])
    md = to_markdown(results)
    assert "## gguf|q4 / arithmetic metrics" in md  # a heading, not a cell: left as it is
    assert "| gguf\\|q4 | arithmetic | accuracy | 75.0 [" in md
    assert "| accuracy_strict | 50.0 [" in md
    assert "| a\\|b | 50.0 [" in md
