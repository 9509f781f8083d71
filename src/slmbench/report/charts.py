"""Charts as inline SVG strings (matplotlib, Agg), so the report is one file that needs nothing."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after matplotlib.use: the backend must be chosen first

from .data import ANSWERED

plt.rcParams.update(
    {"svg.fonttype": "none", "font.size": 9, "figure.dpi": 96}
)  # text stays text: small, no fonts to embed
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog and DOCTYPE: the SVG sits inside HTML


def radar(labels: list[str], series: dict[str, list[float | None]]) -> str:
    """One polygon per model over the dimensions (0..1); a missing score is drawn at 0."""
    angles = [2 * math.pi * i / len(labels) for i in range(len(labels))]
    fig, ax = plt.subplots(figsize=(4.6, 4.2), subplot_kw={"polar": True})
    for i, (model, values) in enumerate(series.items()):
        vals = [v or 0.0 for v in values]
        ax.plot(angles + angles[:1], vals + vals[:1], color=COLORS[i % len(COLORS)], label=model)
        ax.fill(angles + angles[:1], vals + vals[:1], color=COLORS[i % len(COLORS)], alpha=0.12)
    ax.set_xticks(angles, labels)
    ax.set_ylim(0, 1)
    ax.set_yticks([0.25, 0.5, 0.75, 1.0], ["25", "50", "75", "100"])
    ax.legend(loc="upper right", bbox_to_anchor=(1.35, 1.12), fontsize=8)
    return _svg(fig)


def bars_with_ci(groups: list[str], series: dict[str, list[tuple[float | None, float | None, float | None]]]) -> str:
    """Grouped bars (value, low, high per group and model) with 95% CI whiskers, in percent."""
    fig, ax = plt.subplots(figsize=(max(4.5, 1.2 * len(groups) * max(1, len(series)) / 1.5), 3.2))
    width = 0.8 / max(1, len(series))
    for i, (model, points) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        vals = [(p[0] or 0.0) * 100 for p in points]
        lows = [max(0.0, v - (p[1] or 0.0) * 100) if p[0] is not None else 0 for v, p in zip(vals, points, strict=True)]
        highs = [
            max(0.0, (p[2] or 0.0) * 100 - v) if p[0] is not None else 0 for v, p in zip(vals, points, strict=True)
        ]
        ax.bar(xs, vals, width, color=COLORS[i % len(COLORS)], label=model, yerr=[lows, highs], capsize=3)
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    ax.set_ylabel("0–100: percent, BLEU points (95% CI)")
    ax.set_ylim(0, 105)
    ax.legend(fontsize=8)
    return _svg(fig)


def heatmap(title: str, lengths: list[int], depths: list[float], scores: dict[tuple[int, float], float]) -> str:
    """Needle retrieval score by context length (x) and depth (y)."""
    grid = [[scores.get((length, depth), math.nan) for length in lengths] for depth in depths]
    fig, ax = plt.subplots(figsize=(max(3.5, 0.7 * len(lengths) + 1.5), max(2.2, 0.35 * len(depths) + 1)))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(lengths)), [_tokens(n) for n in lengths])
    ax.set_yticks(range(len(depths)), [f"{d:.0%}" for d in depths])
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("needle depth")
    ax.set_title(title, fontsize=9)
    for y, row in enumerate(grid):
        for x, v in enumerate(row):
            if not math.isnan(v):
                ax.text(x, y, f"{v:.0%}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, fraction=0.05)
    return _svg(fig)


def curves(title: str, xlabel: str, ylabel: str, series: dict[str, list[tuple[float, float]]]) -> str:
    fig, ax = plt.subplots(figsize=(4.5, 3.0))
    for i, (name, points) in enumerate(series.items()):
        pts = sorted(points)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=COLORS[i % len(COLORS)], label=name)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _svg(fig)


def scatter(xlabel: str, ylabel: str, points: dict[str, tuple[float, float]]) -> str:
    """Quality (y) against speed or memory (x), one labelled point per model."""
    fig, ax = plt.subplots(figsize=(4.5, 3.0))
    for i, (name, (x, y)) in enumerate(points.items()):
        ax.scatter([x], [y * 100], color=COLORS[i % len(COLORS)], s=40)
        ax.annotate(name, (x, y * 100), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return _svg(fig)


def needle_scores(result: dict[str, Any]) -> tuple[list[int], list[float], dict[tuple[int, float], float]]:
    """Mean needle score per (length, depth): the long-context task's own heatmap (needle kinds
    only), else from samples whose meta has a length and a depth."""
    heat = (result.get("extra") or {}).get("heatmap")
    if heat:
        scores = {(int(length), float(depth)): cell["score"] for length, row in heat.items()
                  for depth, cell in row.items() if cell.get("score") is not None}  # fmt: skip
    else:
        acc: dict[tuple[int, float], list[float]] = defaultdict(list)
        for s in result.get("samples", []):
            meta = s.get("meta") or {}
            if meta.get("length") is not None and meta.get("depth") is not None and s["verdict"] in ANSWERED:
                acc[(int(meta["length"]), float(meta["depth"]))].append(float(s["score"]))
        scores = {k: sum(v) / len(v) for k, v in acc.items()}
    return sorted({k[0] for k in scores}), sorted({k[1] for k in scores}), scores


def _tokens(n: int) -> str:
    return f"{n // 1024}K" if n >= 1024 and n % 1024 == 0 else str(n)
