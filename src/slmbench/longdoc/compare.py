"""Whole context vs anchored vs map-reduce, on generated documents whose answers are known.

The documents are the long-context suite's needle haystacks (sized with the endpoint's
tokenizer), so each strategy's answer is scored by the same exact match; tokens and latency
come from the server's usage and the wall clock. The evidence behind "split, summarise,
anchor": where whole-context answers fail, do the other two hold, and at what cost?

A run folder holds `longdoc-run.json` (the settings, the endpoint, the status), `trials.jsonl`
(each trial as it finishes, so a killed run loses at most the trial in flight) and, once the run
stops, `longdoc-compare.json` / `.md`. Re-running the same command into the same --out continues
an unfinished run whose process is gone.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import orjson

from ..markdown import table as md_table
from ..metrics.stats import bootstrap_mean, wilson
from ..runs import manifest_header, new_run_dir, point_latest, prepare_out
from ..serving.base import Endpoint
from ..serving.tokens import Budget
from ..store import process_start
from ..tasks.base import Sample
from ..tasks.longcontext import DEFAULT_LENGTHS, NEEDLE_KINDS, LongContext, build, score_answer
from .toolkit import Settings, ask, ask_map_reduce, ask_whole

STRATEGIES = ("whole", "anchored", "map_reduce")


@dataclass
class Trial:
    sample: str
    kind: str
    length: int
    strategy: str
    verdict: str  # as in eval results; "skipped" when the whole document does not fit
    score: float
    prompt_tokens: int
    completion_tokens: int
    requests: int
    seconds: float
    answer: str | None


def documents(
    budget: Budget, lengths: Sequence[int] = DEFAULT_LENGTHS, limit: int = 12, seed: int = 0, max_tokens: int = 64
) -> list[Sample]:
    """Needle samples of the long-context suite, sized for this endpoint."""
    task = LongContext(lengths=lengths)
    plans = [p for p in task.plans(limit * len(NEEDLE_KINDS) * 2, seed) if p.kind in NEEDLE_KINDS][:limit]
    return [build(p, budget.counter, max_tokens) for p in plans]


def split(sample: Sample) -> tuple[str, str]:
    """(document, question) of a needle prompt: intro line, haystack, question line."""
    content = sample.messages[-1]["content"]
    _, _, rest = content.partition("\n")
    document, _, question = rest.rpartition("\n")
    return document, question


async def compare(
    samples: Sequence[Sample],
    ep: Endpoint,
    budget: Budget,
    *,
    settings: Settings | None = None,
    on_trial: Callable[[Trial], None] | None = None,
    done: Mapping[tuple[str, str], Trial] | None = None,
) -> list[Trial]:
    """Every sample through every strategy, one at a time (so latencies do not compete).
    Trials in `done`, keyed (sample id, strategy), are taken as they are, not asked again."""
    settings = settings or Settings(summary_tokens=64, final_tokens=64)
    done = done or {}
    trials: list[Trial] = []
    for s in samples:
        document, question = split(s)
        for strategy in STRATEGIES:
            if (s.id, strategy) in done:
                trials.append(done[s.id, strategy])
                continue
            if strategy == "whole":
                answer = await ask_whole(s.messages, ep, budget, settings=settings)
            elif strategy == "anchored":
                answer = await ask(document, question, ep, budget, settings=settings)
            else:
                answer = await ask_map_reduce(document, question, ep, budget, settings=settings)
            if answer is None:
                trials.append(
                    Trial(s.id, s.meta["kind"], s.meta["length"], strategy, "skipped", 0.0, 0, 0, 0, 0.0, None)
                )
            else:
                v = score_answer(s.meta["kind"], s.target, answer.text, answer.usage.last_cut)
                u = answer.usage
                trials.append(Trial(s.id, s.meta["kind"], s.meta["length"], strategy, v.verdict, v.score, u.prompt_tokens,
                                    u.completion_tokens, u.requests, round(answer.seconds, 3), answer.text))  # fmt: skip
            if on_trial is not None:
                on_trial(trials[-1])
    return trials


def summary(trials: Sequence[Trial]) -> dict[str, Any]:
    """Per strategy (and per strategy x length): mean recall and share ok with 95% CIs, mean
    tokens and seconds."""

    def group(ts: list[Trial]) -> dict[str, Any]:
        run = [t for t in ts if t.verdict != "skipped"]
        n = len(run)
        recall, ok = bootstrap_mean([t.score for t in run]), wilson(sum(t.verdict == "ok" for t in run), n)
        return {"n": n, "skipped": len(ts) - n,
                "recall": recall.value, "recall_ci": [recall.ci_low, recall.ci_high],
                "ok": sum(t.verdict == "ok" for t in run), "ok_share_ci": [ok.ci_low, ok.ci_high],
                "prompt_tokens": sum(t.prompt_tokens for t in run) / n if n else None,
                "completion_tokens": sum(t.completion_tokens for t in run) / n if n else None,
                "seconds": sum(t.seconds for t in run) / n if n else None}  # fmt: skip

    lengths = sorted({t.length for t in trials})
    return {
        "strategies": {s: group([t for t in trials if t.strategy == s]) for s in STRATEGIES},
        "by_length": {
            s: {n: group([t for t in trials if t.strategy == s and t.length == n]) for n in lengths} for s in STRATEGIES
        },
        "trials": [asdict(t) for t in trials],
    }


RESULT_FILE = "longdoc-compare.json"


STRATEGY_HEADER = ("strategy", "recall [95% CI]", "ok / n", "skipped (did not fit)", "prompt tokens", "seconds")


def strategy_rows(result: dict[str, Any]) -> list[list[str]]:
    """One row of STRATEGY_HEADER cells per strategy: what the CLI, the Markdown and reports show."""
    rows = []
    for name, g in result["strategies"].items():
        lo, hi = g.get("recall_ci") or (None, None)
        recall = "—" if g["recall"] is None else f"{g['recall']:.2f}" + ("" if lo is None else f" [{lo:.2f}, {hi:.2f}]")
        tokens = "—" if g["prompt_tokens"] is None else f"{g['prompt_tokens']:,.0f}"
        seconds = "—" if g["seconds"] is None else f"{g['seconds']:.1f}"
        rows.append([name, recall, f"{g['ok']} / {g['n']}", str(g["skipped"]), tokens, seconds])
    return rows


def markdown(result: dict[str, Any]) -> str:
    """The comparison as a Markdown table (also what reports show)."""
    lines = [f"### Long inputs: whole context vs anchored vs map-reduce ({result['model']})", "",
             f"Needle documents of {', '.join(str(n) for n in result['lengths'])} tokens "
             f"(tokens counted by {result['tokens']['tokenizer']}); recall of the needle values, 95% CI.", ""]  # fmt: skip
    lines += md_table(STRATEGY_HEADER, strategy_rows(result))
    if result.get("status") == "interrupted":
        lines += ["", f"Interrupted after {len(result['trials'])} of {result['trials_planned']} trials; re-running the "
                  "same command continues it."]  # fmt: skip
    return "\n".join(lines) + "\n"


RUN_FILE = "longdoc-run.json"
TRIALS_FILE = "trials.jsonl"


def open_run(out: Path, settings: dict[str, Any]) -> tuple[Path, dict[tuple[str, str], Trial]]:
    """The run folder to write into and the trials it already holds: the newest unfinished run
    under `out` with the same settings whose process is gone, else a new folder."""
    for run_dir in sorted((p for p in out.iterdir() if p.is_dir() and not p.is_symlink()), reverse=True):
        state = _read_state(run_dir)
        if state and state.get("settings") == settings and state.get("status") != "complete":
            if not _owned_by_a_live_process(state):
                update_state(run_dir, status="running")  # claimed: records this process
                return run_dir, read_trials(run_dir)
    run_dir = new_run_dir(out)
    write_state(run_dir, {**manifest_header(), "settings": settings, "status": "running"})
    return run_dir, {}


def write_state(run_dir: Path, state: dict[str, Any]) -> None:
    """longdoc-run.json, replaced whole (a kill never leaves half of it); records this process as
    the store records a run's (host, pid, the pid's start)."""
    owner = {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": process_start(os.getpid())}
    staged = run_dir / f".{RUN_FILE}.{os.getpid()}"
    staged.write_bytes(orjson.dumps(state | owner, option=orjson.OPT_INDENT_2))
    os.replace(staged, run_dir / RUN_FILE)


def update_state(run_dir: Path, **changes: Any) -> None:
    write_state(run_dir, (_read_state(run_dir) or {}) | changes)


def append_trial(run_dir: Path, trial: Trial) -> None:
    with open(run_dir / TRIALS_FILE, "ab") as f:
        f.write(orjson.dumps(asdict(trial)) + b"\n")


def read_trials(run_dir: Path) -> dict[tuple[str, str], Trial]:
    """The trials a run has written, keyed (sample id, strategy); a line cut short by a kill is dropped."""
    names = {f.name for f in fields(Trial)}
    trials: dict[tuple[str, str], Trial] = {}
    try:
        lines = (run_dir / TRIALS_FILE).read_bytes().splitlines()
    except FileNotFoundError:
        return trials
    for line in lines:
        try:
            row = orjson.loads(line)
            trial = Trial(**{k: v for k, v in row.items() if k in names})
        except (orjson.JSONDecodeError, TypeError):
            continue
        trials[trial.sample, trial.strategy] = trial
    return trials


def write_run(result: dict[str, Any], out: Path, run_dir: Path | None = None) -> Path:
    """The comparison as JSON and Markdown in its run folder (a new one under `out` unless given),
    and out/latest pointing at it; `slmbench report` reads it beside eval and perf runs."""
    run_dir = run_dir or new_run_dir(prepare_out(out))
    run_id = run_dir.name
    (run_dir / RESULT_FILE).write_bytes(
        orjson.dumps(result | {"run_id": run_id}, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    )
    (run_dir / "longdoc-compare.md").write_text(markdown(result))
    point_latest(out, run_id)
    return run_dir


def _read_state(run_dir: Path) -> dict[str, Any] | None:
    try:
        state = orjson.loads((run_dir / RUN_FILE).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return state if isinstance(state, dict) else None


def _owned_by_a_live_process(state: dict[str, Any]) -> bool:
    """As the store tells a dead run: gone only when written on this host by a pid that is no
    longer the process that wrote it (a reused pid is not mistaken for it)."""
    pid = state.get("pid")
    if pid == os.getpid():
        return False
    if not isinstance(pid, int) or state.get("host") != socket.gethostname():
        return True
    return process_start(pid) == state.get("pid_start")
