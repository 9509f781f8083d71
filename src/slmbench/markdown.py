"""Markdown tables: the one place they are joined, so every cell is escaped the same way."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def cell(value: object) -> str:
    """A table cell's text: `|` escaped, line breaks as <br> (a raw one would end the row)."""
    return str(value).replace("|", "\\|").replace("\r\n", "<br>").replace("\n", "<br>")


def table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> list[str]:
    """The table's lines: header, separator, one line per row."""
    lines = [_row(header), "|" + "---|" * len(header)]
    lines += [_row(r) for r in rows]
    return lines


def _row(cells: Sequence[object]) -> str:
    return "| " + " | ".join(cell(c) for c in cells) + " |"
