"""perf.json and perf.md, the curves a report draws, and comparing two runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ..errors import SlmbenchError
from ..markdown import table as md_table
from ..metrics.stats import bootstrap

TABLE_HEADER = (
    "point", "ok/err", "req/s", "out tok/s", "TTFT p50/p99 ms", "TPOT p50/p99 ms", "ITL p50 ms", "E2E p50 ms",
    "goodput", "% of limit",
)  # fmt: skip


def _ms(d: dict[str, Any], key: str) -> str:
    return "-" if d.get(key) is None else f"{d[key]:.1f}"


def table_row(point: dict[str, Any]) -> tuple[str, ...]:
    p = point["pooled"]
    limit = point.get("limit")
    pct = (
        "-"
        if not limit
        else f"{limit['output_throughput_pct']:.0f}% (decode {limit['decode_pct']:.0f}%)"
        if limit.get("decode_pct")
        else f"{limit['output_throughput_pct']:.0f}%"
    )
    tp = point["throughput_ci"]["output_throughput"]
    out_tps = f"{p['output_throughput']:.1f}" + (
        f" [{tp['ci_low']:.1f}, {tp['ci_high']:.1f}]" if tp["ci_low"] is not None else ""
    )
    return (
        point["key"], f"{p['requests']['completed']}/{p['requests']['failed']}", f"{p['request_throughput']:.2f}", out_tps,
        f"{_ms(p['ttft_ms'], 'p50')} / {_ms(p['ttft_ms'], 'p99')}", f"{_ms(p['tpot_ms'], 'p50')} / {_ms(p['tpot_ms'], 'p99')}",
        _ms(p["itl_ms"], "p50"), _ms(p["e2e_ms"], "p50"), "-" if p["goodput"] is None else f"{p['goodput']:.2f}/s", pct,
    )  # fmt: skip


def curves(points: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The series a report draws: throughput vs concurrency, latency vs load, TTFT vs prompt length."""
    pct = ("p50", "p90", "p99")
    through, latency, ttft = [], [], []
    for pt in points:
        p = pt["pooled"]
        load = pt["concurrency"] if pt["mode"] == "closed" else pt["rate"]
        if pt["mode"] == "closed":
            through.append({
                "concurrency": load, "input_len": pt["input_len"], "request_throughput": p["request_throughput"],
                "output_throughput": p["output_throughput"], "ci": pt["throughput_ci"]["output_throughput"],
                "limit_tokens_per_s": (pt.get("limit") or {}).get("decode_tokens_per_s"),
            })  # fmt: skip
        latency.append({"mode": pt["mode"], "load": load, "input_len": pt["input_len"]}
                       | {m: {k: p[m].get(k) for k in pct} for m in ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms")})  # fmt: skip
        if p["requests"]["completed"]:
            ttft.append({
                "prompt_tokens": p["input_tokens"] / p["requests"]["completed"], "input_len": pt["input_len"],
                "mode": pt["mode"], "load": load, "ttft_ms": {k: p["ttft_ms"].get(k) for k in pct},
                "ttft_floor_ms": (pt.get("limit") or {}).get("ttft_floor_ms"),
            })  # fmt: skip
    ttft.sort(key=lambda r: (r["load"], r["prompt_tokens"]))
    return {"throughput_vs_concurrency": through, "latency_vs_load": latency, "ttft_vs_prompt_length": ttft}


def write_files(run_dir: Path, data: dict[str, Any]) -> None:
    """perf.json and perf.md of a run (data: PerfResults.to_dict())."""
    (run_dir / "perf.json").write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    (run_dir / "perf.md").write_text(markdown(data))


def markdown(data: dict[str, Any]) -> str:
    m = data["manifest"]
    model = m.get("model") or {}
    lines = [
        f"# slmbench perf {data['run_id']} ({data['status']})", "",
        f"Model **{model.get('model', '?')}** on {model.get('server', '?')}"
        + (f", {model['quantisation']}" if model.get("quantisation") else "")
        + f"; host {m.get('hardware', {}).get('cpu', '?')} ({m.get('hardware', {}).get('cores', '?')} cores).", "",
    ]  # fmt: skip
    lines += md_table(TABLE_HEADER, [table_row(p) for p in data["points"]])
    hw = (m.get("hardware") or {}).get("measured")
    geo = m.get("geometry")
    if hw and geo:
        lines += [
            "", "## Physical limit", "",
            f"Weights {geo['weight_bytes'] / 1e6:.0f} MB, {geo['params'] / 1e6:.0f} M parameters, "
            f"KV {geo['kv_bytes_per_token'] / 1024:.1f} KiB/token ({geo['source']}). Bandwidth "
            f"{hw['bandwidth_bytes_s'] / 1e9:.2f} GB/s for a weights-sized working set "
            f"({(hw['dram_bandwidth_bytes_s'] or 0) / 1e9:.2f} GB/s beyond the caches), "
            f"{(hw['peak_flops'] or 0) / 1e9:.1f} GFLOP/s; {hw['source']}.",
            "% of limit = output tokens/s over the decode ceiling (bandwidth / bytes per step, times concurrency); "
            "decode % uses the decode rate alone (concurrency / TPOT).", "",
        ]  # fmt: skip
    rec = [
        (p["key"], p["repeats"][-1]["server"])
        for p in data["points"]
        if p["repeats"] and p["repeats"][-1]["server"].get("requests_with_timings")
    ]
    if rec:
        lines += ["", "## Client vs server (medians, ms)", ""]
        lines += md_table(["point", "client TTFT", "server prompt", "gap (queue + transport)", "client TPOT", "server per-token", "gap"],
                          [[key, *(_ms(s, f) for f in ("client_ttft_ms", "server_prompt_ms", "ttft_gap_ms", "client_tpot_ms",
                                                        "server_tpot_ms", "tpot_gap_ms"))] for key, s in rec])  # fmt: skip
    if data["notes"]:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in data["notes"]]
    return "\n".join(lines) + "\n"


# -- comparing two runs -----------------------------------------------------------------


def load_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "perf.json" if run_dir.is_dir() else run_dir
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SlmbenchError(
            f"--compare {run_dir}: no readable perf.json there ({exc}); pass a perf run folder"
        ) from None
    if data.get("kind") != "perf":
        raise SlmbenchError(f"--compare {run_dir}: not a perf run (results of `slmbench perf`)")
    return data


def bootstrap_diff(
    a: list[float], b: list[float], stat: str = "median", resamples: int = 2000, seed: int = 0
) -> dict[str, Any]:
    """b - a of a statistic, with a percentile-bootstrap 95% interval (resampling each side)."""
    if not a or not b:
        return {"a": None, "b": None, "diff": None, "ci_low": None, "ci_high": None, "n_a": len(a), "n_b": len(b)}
    f = np.median if stat == "median" else np.mean
    rng = np.random.default_rng(seed)
    x, y = np.asarray(a, float), np.asarray(b, float)
    diffs = (bootstrap(lambda idx: f(y[idx], axis=1), y.size, resamples=resamples, rng=rng)
             - bootstrap(lambda idx: f(x[idx], axis=1), x.size, resamples=resamples, rng=rng))  # fmt: skip
    single = x.size < 2 or y.size < 2
    lo, hi = (None, None) if single else (float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5)))
    return {"a": float(f(x)), "b": float(f(y)), "diff": float(f(y) - f(x)), "ci_low": lo, "ci_high": hi,
            "n_a": int(x.size), "n_b": int(y.size),
            "significant": None if lo is None else bool(lo > 0 or hi < 0)}  # fmt: skip


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Per point present in both runs: latency medians (bootstrap over requests) and throughput
    means (bootstrap over repeats; a single repeat gives no interval)."""
    by_key = {p["key"]: p for p in a["points"]}
    rows = []
    for pb in b["points"]:
        pa = by_key.get(pb["key"])
        if pa is None:
            continue
        for metric, field in (("TTFT ms", "ttft_s"), ("TPOT ms", "tpot_s"), ("E2E ms", "e2e_s")):
            va, vb = (_per_request(p, field) for p in (pa, pb))
            rows.append({"point": pb["key"], "metric": metric + " (median)"} | bootstrap_diff(va, vb))
        for metric, field in (("output tok/s", "output_throughput"), ("requests/s", "request_throughput")):
            va, vb = ([r[field] for r in p["repeats"]] for p in (pa, pb))
            rows.append({"point": pb["key"], "metric": metric + " (mean of repeats)"} | bootstrap_diff(va, vb, "mean"))
    if not rows:
        raise SlmbenchError(
            "the two perf runs share no point (same concurrency/rate and input length); nothing to compare"
        )
    return rows


def _per_request(point: dict[str, Any], field: str) -> list[float]:
    return [
        1000 * r[field]
        for rep in point["repeats"]
        for r in rep["records"]
        if r["error_kind"] is None and r[field] is not None
    ]
