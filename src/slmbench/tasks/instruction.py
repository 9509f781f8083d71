"""Instruction following: IFEval's verifiable instructions, single- and multi-turn.

- `instruction`: generated offline and seeded. Single-turn samples are a writing task plus
  1-3 compatible instructions. Multi-turn samples are conversations whose later turns add,
  change or revoke constraints, including a conditional one resolved by the text at hand
  ("if the notes mention a date, answer in JSON, else as N bullets"). Earlier assistant
  turns are fixed texts, so every model is judged on the same conversation; only the final
  answer is generated and it is checked against the constraints in force.
- `ifeval`: google/IFEval itself, from a local JSONL file (key, prompt, instruction_id_list,
  kwargs) or from the hub when asked (`--data ifeval=hub`), scored by the same checkers.

Metrics (IFEval's): prompt-level and instruction-level accuracy, strict and loose; for
multi-turn, accuracy (all constraints met) and completeness (share met); per type. Each
instruction counts by its position, so a row that repeats an id counts every copy.
`ifeval` keeps IFEval's accounting (a prompt without an answer fails and stays in n, as in
IFEval and lm-eval); the generated `instruction` suite leaves such samples out of n (they are
counted beside it), like every other slmbench suite.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..client import Completion
from ..errors import SlmbenchError
from ..metrics.stats import Estimate, bootstrap_mean, wilson
from .base import ANSWERED, DEFAULT_SUITE, OK, TRUNCATED, WRONG, Column, Dimension, Sample, Task, Verdict
from .datafiles import hub_file
from .ifeval_checks import CHECKERS, CONFLICTS, check_loose, check_strict
from .registry import register

BASE_TASKS = [
    "Write a short blog post about a weekend trip to Lisbon.",
    "Write a product description for a solar-powered camping lamp.",
    "Write an email to your team announcing that the office moves to a new building.",
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Explain to a teenager why the sky is blue.",
    "Write a cover letter for a junior data analyst position.",
    "Write a review of a neighbourhood bakery.",
    "Give advice to someone starting to learn the guitar.",
    "Describe the water cycle for a school newsletter.",
    "Write a speech for the opening of a community garden.",
    "Summarise the benefits of cycling to work.",
    "Write a letter to a friend recommending a book you enjoyed.",
    "Write a short guide to preparing for a job interview.",
    "Describe a typical day of a beekeeper.",
    "Write a pitch for a mobile app that helps people share leftover food.",
    "Explain how a bill becomes law, in plain language.",
]

# Instructions that do not fit a generated writing task, or that the multi-turn flow sets itself.
NOT_GENERATED = {"combination:two_responses", "detectable_format:constrained_response"}

FILLER_REPLY = (
    "Here is a first version.\n\nThe idea is simple and the details follow from it. I have kept it "
    "short so that you can tell me what to change."
)
DATED_NOTES = ["Notes: the supplier meeting moved to 14 March 2026.", "Notes: the launch is planned for 2 June 2025."]
# (applies when the notes mention a date, applies otherwise); IFEval's json_format conflicts
# with nearly every other type, so pairs that leave room for other constraints come first.
CONDITIONAL_PAIRS = [
    ("detectable_format:json_format", "detectable_format:number_bullet_lists"),
    ("detectable_content:postscript", "detectable_format:number_bullet_lists"),
    ("detectable_format:title", "startend:quotation"),
    ("punctuation:no_comma", "length_constraints:number_words"),
]
UNDATED_NOTES = ["Notes: the supplier meeting moved to the large room.", "Notes: the launch needs two more designers."]


# The report column both tasks fill; IFEval's own prompts first.
INSTRUCTION = Dimension("instruction", "Instruction following", "Instruction", position=10, radar=True)


@register
class Instruction(Task):
    name = "instruction"
    version = "1"
    description = "IFEval-style verifiable instructions, single- and multi-turn (add/change/revoke/conditional)"
    default_limit = 60
    max_tokens = 512
    context_tokens = 1024
    breakdown = "turns"
    headline = "prompt_strict"
    takes_data = False
    suites, suite_order = (DEFAULT_SUITE,), 20
    columns = (Column(INSTRUCTION, "prompt_strict", rank=1),)

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        samples = []
        for index in range(limit):
            rng = random.Random(f"{self.name}:{self.version}:{seed}:{index}")
            # Two in three samples single-turn, one in three multi-turn.
            make = _multi_turn if index % 3 == 2 else _single_turn
            samples.append(make(rng, f"{seed}-{index}"))
        return samples

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        return score_instructions(sample, completion)

    def metrics(self, records: Sequence[Any]) -> dict[str, Estimate]:
        return instruction_metrics(records)


@register
class IFEval(Task):
    name = "ifeval"
    version = "2"  # 2: as instruction v2; samples without an answer count as failed (IFEval's accounting)
    description = "google/IFEval prompts (local JSONL via --data ifeval=PATH, or --data ifeval=hub)"
    default_limit = 541
    max_tokens = 1024
    context_tokens = 1024
    breakdown = None
    headline = "prompt_strict"
    takes_data = True
    columns = (Column(INSTRUCTION, "prompt_strict", rank=0),)
    results_note = (
        "`ifeval` keeps IFEval's own accounting: a prompt without an answer (error, timeout, skipped) "
        "fails every instruction and is in n (`incl. K unanswered`); `*_answered` metrics leave them out."
    )

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        if data is None:
            raise SlmbenchError(
                "task ifeval needs its data: pass --data ifeval=PATH (google/IFEval JSONL) or --data ifeval=hub"
            )
        return load_ifeval(data)[:limit]

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        return score_instructions(sample, completion)

    def metrics(self, records: Sequence[Any]) -> dict[str, Estimate]:
        """IFEval's accounting: a prompt without an answer (error, timeout, skipped) fails all its
        instructions and stays in n. The shares over answered prompts only are kept beside them."""
        out = instruction_metrics(records, unanswered_fail=True)
        answered = instruction_metrics(records)
        levels = ("prompt_strict", "prompt_loose", "instruction_strict", "instruction_loose")
        return {
            **{name: out[name] for name in levels},
            "prompt_strict_answered": answered["prompt_strict"],
            "prompt_loose_answered": answered["prompt_loose"],
            **{name: e for name, e in out.items() if name not in levels},
        }

    def summary(self, records: Sequence[Any]) -> dict[str, Any]:
        return {"accounting": "ifeval", "unanswered_failed": sum(r.verdict not in ANSWERED for r in records)}

    def n_note(self, extra: dict[str, Any]) -> str:
        return f" (incl. {extra['unanswered_failed']} unanswered)"  # IFEval's n: prompts without an answer failed, in n


# -- generation -----------------------------------------------------------------------------


def _compatible(rng: random.Random, count: int, exclude: set[str], alongside: Sequence[str] = ()) -> list[str]:
    """Up to `count` instruction ids that conflict neither with each other nor with `alongside`."""
    chosen: list[str] = []
    candidates = sorted(set(CHECKERS) - NOT_GENERATED - exclude - set(alongside))
    rng.shuffle(candidates)
    for cid in candidates:
        if len(chosen) == count:
            break
        if all(cid not in CONFLICTS[other] and other not in CONFLICTS[cid] for other in [*alongside, *chosen]):
            chosen.append(cid)
    return chosen


def _kwargs(rng: random.Random, cid: str, task: str) -> dict[str, Any]:
    kwargs = CHECKERS[cid].sample_kwargs(rng)
    if cid == "combination:repeat_prompt":
        kwargs["prompt_to_repeat"] = task
    return kwargs


def _single_turn(rng: random.Random, sid: str) -> Sample:
    task = rng.choice(BASE_TASKS)
    ids = _compatible(rng, rng.randint(1, 3), set())
    instructions = [{"id": cid, "kwargs": _kwargs(rng, cid, task)} for cid in ids]
    prompt = " ".join([task, *(CHECKERS[i["id"]].describe(i["kwargs"]) for i in instructions)])
    return Sample(
        id=sid,
        messages=[{"role": "user", "content": prompt}],
        target={"instructions": instructions, "prompt": prompt},
        meta={"turns": 1, "types": ids},
    )


def _multi_turn(rng: random.Random, sid: str) -> Sample:
    """Turn 1 sets constraints; turn 2 changes, revokes or adds one, and adds a conditional one."""
    task = rng.choice(BASE_TASKS)
    # The conditional resolves to one of a pair: keep the other constraints compatible with both.
    if_dated, if_not = rng.choice(CONDITIONAL_PAIRS)
    blocked = CONFLICTS[if_dated] | CONFLICTS[if_not] | {if_dated, if_not, "combination:repeat_prompt"}
    ids = _compatible(rng, 2, blocked)
    first = {cid: _kwargs(rng, cid, task) for cid in ids}
    turn1 = " ".join([task, *(CHECKERS[cid].describe(kw) for cid, kw in first.items())])

    in_force = dict(first)
    target_id = rng.choice(ids)
    new_kwargs = CHECKERS[target_id].sample_kwargs(rng)
    operation = rng.choice(["change", "revoke", "add"])
    added = _compatible(rng, 1, blocked, alongside=ids) if operation == "add" else []
    if operation == "change" and new_kwargs != first[target_id]:
        in_force[target_id] = new_kwargs
        change = f"Change of plan for one rule: {CHECKERS[target_id].describe(new_kwargs)} This replaces what I said before about it."
    elif added:
        in_force[added[0]] = _kwargs(rng, added[0], task)
        change = f"One more rule: {CHECKERS[added[0]].describe(in_force[added[0]])}"
    else:
        operation = "revoke"
        del in_force[target_id]
        change = f'You can ignore this earlier instruction now: "{CHECKERS[target_id].describe(first[target_id])}"'

    dated = rng.random() < 0.5
    notes = rng.choice(DATED_NOTES if dated else UNDATED_NOTES)
    branches = {cid: _kwargs(rng, cid, task) for cid in (if_dated, if_not)}
    conditional = (
        f"{notes} If these notes mention a date: {CHECKERS[if_dated].describe(branches[if_dated])} "
        f"If they do not: {CHECKERS[if_not].describe(branches[if_not])}"
    )
    applied = if_dated if dated else if_not
    in_force[applied] = branches[applied]
    turn2 = f"Thanks. Please rewrite your answer. {change} {conditional}"

    instructions = [{"id": cid, "kwargs": kw} for cid, kw in in_force.items()]
    return Sample(
        id=sid,
        messages=[
            {"role": "user", "content": turn1},
            {"role": "assistant", "content": FILLER_REPLY},
            {"role": "user", "content": turn2},
        ],
        target={"instructions": instructions, "prompt": turn1},
        meta={"turns": 2, "types": list(in_force), "operation": operation, "dated": dated, "conditional": applied},
    )


# -- scoring --------------------------------------------------------------------------------


def score_instructions(sample: Sample, completion: Completion) -> Verdict:
    """Checks each instruction by its position in the list, as IFEval does: a row that repeats an
    id (google/IFEval 3407: capital words "at least 1" and "less than 5") counts each one.
    Parts: `strict:I:ID` and `loose:I:ID` per instruction (I its 0-based position), and the
    prompt-level `strict`, `loose` (every instruction followed) and `completeness`."""
    text = completion.text or ""
    prompt = sample.target["prompt"]
    instructions = sample.target["instructions"]
    parts: dict[str, float] = {}
    failed = []
    loose_all = True
    for index, ins in enumerate(instructions):
        kwargs = {k: v for k, v in (ins["kwargs"] or {}).items() if v is not None}
        strict = check_strict(ins["id"], text, kwargs, prompt)
        loose = strict or check_loose(ins["id"], text, kwargs, prompt)
        parts[f"strict:{index}:{ins['id']}"] = float(strict)
        parts[f"loose:{index}:{ins['id']}"] = float(loose)
        loose_all = loose_all and loose
        if not strict:
            failed.append(ins["id"])
    total = len(instructions)
    parts["strict"] = float(not failed)
    parts["loose"] = float(loose_all)
    parts["completeness"] = (total - len(failed)) / total if total else 1.0
    if completion.finish_reason == "length":
        return Verdict(TRUNCATED, parts["strict"], f"hit max_tokens; {total - len(failed)}/{total} followed", parts)
    if not failed:
        return Verdict(OK, 1.0, f"all {total} instructions followed", parts)
    return Verdict(WRONG, 0.0, f"not followed: {', '.join(failed)}", parts)


def instruction_results(record: Any) -> list[tuple[str, bool, bool]]:
    """(id, strict, loose) for each instruction of a sample, in order; a sample without an answer
    (error, timeout, skipped) follows none of them."""
    instructions = record.target["instructions"]
    if record.verdict not in ANSWERED:
        return [(ins["id"], False, False) for ins in instructions]
    return [
        (ins["id"], record.parts[f"strict:{i}:{ins['id']}"] == 1.0, record.parts[f"loose:{i}:{ins['id']}"] == 1.0)
        for i, ins in enumerate(instructions)
    ]


def instruction_metrics(records: Sequence[Any], *, unanswered_fail: bool = False) -> dict[str, Estimate]:
    """IFEval's accuracies. Truncated answers are checked as they are. Samples without an answer
    (error, timeout, skipped) are left out, or, with `unanswered_fail` (IFEval's and lm-eval's
    accounting), count as failing every instruction and stay in n."""
    scored = [r for r in records if unanswered_fail or r.verdict in ANSWERED]
    results = [instruction_results(r) for r in scored]
    out = {
        "prompt_strict": wilson(sum(all(s for _, s, _ in rs) for rs in results), len(results)),
        "prompt_loose": wilson(sum(all(lo for _, _, lo in rs) for rs in results), len(results)),
        "instruction_strict": wilson(sum(s for rs in results for _, s, _ in rs), sum(map(len, results))),
        "instruction_loose": wilson(sum(lo for rs in results for _, _, lo in rs), sum(map(len, results))),
    }
    multi = [r for r in scored if r.meta.get("turns", 1) > 1 and r.verdict in ANSWERED]
    if multi:
        out["multiturn_accuracy"] = wilson(sum(r.parts["strict"] == 1.0 for r in multi), len(multi))
        out["multiturn_completeness"] = bootstrap_mean([r.parts["completeness"] for r in multi])
    per_type: dict[str, list[bool]] = {}
    for rs in results:
        for cid, strict, _ in rs:
            per_type.setdefault(cid, []).append(strict)
    for cid in sorted(per_type):
        values = per_type[cid]
        out[f"type:{cid}"] = wilson(sum(values), len(values))
    return out


# -- google/IFEval ----------------------------------------------------------------------------

IFEVAL_HUB_URL = "https://huggingface.co/datasets/google/IFEval/resolve/main/ifeval_input_data.jsonl"


def load_ifeval(source: str) -> list[Sample]:
    """Rows of google/IFEval's JSONL (key, prompt, instruction_id_list, kwargs) as samples."""
    if source == "hub":
        lines = hub_file(IFEVAL_HUB_URL, "google/IFEval").splitlines()
    else:
        try:
            lines = Path(source).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SlmbenchError(f"cannot read IFEval data {source} ({exc.strerror}); pass a JSONL file path") from None
    samples = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            ids, kwargs = row["instruction_id_list"], row["kwargs"]
            unknown = [i for i in ids if i not in CHECKERS]
            if unknown:
                raise ValueError(f"unknown instruction {unknown[0]}")
            instructions = [{"id": i, "kwargs": k} for i, k in zip(ids, kwargs, strict=True)]
            for ins in instructions:  # unusable kwargs fail here, not halfway through scoring
                CHECKERS[ins["id"]].check(
                    "probe", {k: v for k, v in (ins["kwargs"] or {}).items() if v is not None}, row["prompt"]
                )
            samples.append(
                Sample(
                    id=str(row["key"]),
                    messages=[{"role": "user", "content": row["prompt"]}],
                    target={"instructions": instructions, "prompt": row["prompt"]},
                    meta={"turns": 1, "types": ids},
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise SlmbenchError(f"{source} line {number} is not an IFEval row ({exc}); fix or remove it") from None
    return samples
