"""Text understanding: long documents built from known facts, and real summarisation sets.

Generated (the default; seeded): reports, meeting minutes, product notices and incident logs.
A handful of facts (names, dates, amounts, decisions) are scattered through pages of
fact-free filler, so the answers are known exactly. Each document is asked three ways:
- extract:   the facts as a JSON object of a given shape (field-level precision/recall/F1);
- qa:        one question whose answer is a span of the document (SQuAD token F1 and EM);
- summarise: ROUGE-1/2/L against a reference summary written from the same facts, and
             fact recall: the share of key facts the summary states (content, not wording).
Documents are about 1K-3K tokens by default; `--data understanding=tokens:N` makes them about
N tokens each (up to tens of thousands: size the model's context for it).

`--data understanding=PATH` (CNN/DailyMail CSV or JSONL with article/highlights, GovReport
JSONL with report/summary) or `=hub` (CNN/DailyMail 3.0.0 test) / `=hub:govreport` asks for
summaries of real articles, scored by ROUGE only.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..client import Completion
from ..errors import SlmbenchError
from ..metrics.stats import Estimate, bootstrap_mean
from ..metrics.text import contains_phrase, exact_match, field_prf, rouge, token_f1
from .base import (
    ANSWERED,
    DEFAULT_SUITE,
    EXTRACTION_FAILED,
    OK,
    TRUNCATED,
    WRONG,
    Column,
    Dimension,
    Sample,
    Task,
    Verdict,
)
from .datafiles import hub_rows as fetch_rows
from .datafiles import parse_jsonl, read_text
from .registry import register
from .structured import FIRST, LAST, MONTHS, SERVICES, parse_json

SUBTASKS = ("extract", "qa", "summarise")
DEFAULT_TOKENS = (1000, 2000, 3000)
CHARS_PER_TOKEN = 4  # English prose in common tokenizers; sizes documents and the context
PROMPT_TOKENS = 400  # instructions and the JSON shape around the document
MAX_TOKENS = 192  # a 2-3 sentence summary or a 7-field JSON object fits with room to spare

SUMMARY_SETS = {  # hub name -> (dataset, config, split)
    "cnn_dailymail": ("abisee/cnn_dailymail", "3.0.0", "test"),
    "govreport": ("ccdv/govreport-summarization", "document", "test"),
}
DOC_FIELDS = ("article", "report", "document", "text")
SUMMARY_FIELDS = ("highlights", "summary", "abstract")

COMPANIES = ["Northwind Analytics", "Bluefin Logistics", "Corvid Robotics", "Helios Foods", "Larchmont Textiles",
             "Quillon Health", "Tessera Mobility", "Vantor Energy"]  # fmt: skip
DECISIONS = ["open a new office in Nairobi", "pause hiring until the autumn", "move the data centre to Lisbon",
             "replace the ticketing system", "double the training budget", "close the Osaka warehouse",
             "switch all laptops to Linux", "launch a four-day work week pilot"]  # fmt: skip
PRODUCTS = ["AquaPure water filter", "Sprout baby monitor", "TrailMate e-bike battery", "Lumo desk lamp",
            "Kinetic smart thermostat", "Breeze air purifier"]  # fmt: skip
ISSUES = ["a faulty charging circuit", "a loose mounting bracket", "a firmware bug that disables alarms",
          "a cracked seal that can leak", "a mislabelled power rating"]  # fmt: skip
CAUSES = ["an expired TLS certificate", "a full disk on the primary database", "a bad configuration push",
          "a memory leak in the cache layer", "a network partition between zones"]  # fmt: skip
SEVERITIES = ["low", "medium", "high", "critical"]
FILLER = [
    "The team reviewed the open items and agreed to revisit the remaining questions at a later stage.",
    "Several participants noted that the documentation could be clearer in places.",
    "Feedback from the regional offices was broadly positive, with a few requests for more detail.",
    "The working group compared the current process with the approach used in previous years.",
    "It was pointed out that the supplier market remains volatile and that forecasts are uncertain.",
    "A short discussion followed on how to communicate the changes to the wider organisation.",
    "Members stressed the importance of keeping customers informed throughout the transition.",
    "The risk register was updated to reflect the latest assessment of the programme.",
    "Some of the background material had been circulated in advance and was taken as read.",
    "The facilities team reported that routine maintenance had been completed as planned.",
    "Questions were raised about the reporting format, which several readers found hard to follow.",
    "The group agreed that the training material should be refreshed before the next cycle.",
    "A review of customer correspondence showed the usual mix of praise and complaints.",
    "The legal department confirmed that no further approvals were needed at this point.",
    "Internal surveys suggest that staff would welcome more flexibility in scheduling.",
    "The quality team continued its audit of the older processes and found no new concerns.",
    "Attention was drawn to the growing number of requests handled by the support desk.",
    "The finance office reminded everyone that expense reports are due at the end of each month.",
    "Progress on the accessibility improvements was described as steady but slower than hoped.",
    "It was agreed to keep the current structure for now and to review it again later.",
]
TOPICS = ["Background", "Operations", "Customers", "Staff", "Suppliers", "Quality", "Outlook", "Other business"]


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def _date(rng: random.Random) -> tuple[str, str]:
    """(text form, ISO form) of a date."""
    year, month, day = rng.randint(2024, 2027), rng.randint(1, 12), rng.randint(1, 28)
    return f"{day} {MONTHS[month - 1]} {year}", f"{year:04d}-{month:02d}-{day:02d}"


def _report(rng: random.Random) -> dict[str, Any]:
    company, ceo, decision = rng.choice(COMPANIES), _person(rng), rng.choice(DECISIONS)
    quarter, year = rng.randint(1, 4), rng.randint(2024, 2027)
    revenue, headcount = rng.randint(20, 900) * 10_000, rng.randint(40, 4000)
    period = f"Q{quarter} {year}"
    return {
        "title": f"{company}: quarterly report for {period}",
        "facts": {"company": company, "period": period, "revenue_eur": revenue, "headcount": headcount,
                  "ceo": ceo, "decision": decision},
        "shape": {"company": "string", "period": "string, e.g. Q1 2025", "revenue_eur": "integer",
                  "headcount": "integer", "ceo": "string (full name)", "decision": "string"},
        "sentences": [
            f"This report covers the results of {company} for {period}.",
            f"Revenue for the quarter came to {revenue:,} EUR.",
            f"At the end of the quarter the company employed {headcount:,} people.",
            f"The chief executive, {ceo}, presented the figures to the board.",
            f"The board approved the proposal to {decision}.",
        ],
        "questions": [("Who is the chief executive?", ceo), ("What did the board approve?", decision),
                      ("How much revenue did the company make in the quarter, in EUR?", f"{revenue:,} EUR")],
        "key_facts": [company, period, f"{revenue:,}", f"{headcount:,}", ceo, decision],
        "summary": (f"{company} reported revenue of {revenue:,} EUR for {period}, with {headcount:,} employees. "
                    f"Chief executive {ceo} presented the results, and the board approved the proposal to {decision}."),
    }  # fmt: skip


def _minutes(rng: random.Random) -> dict[str, Any]:
    chair, decision = _person(rng), rng.choice(DECISIONS)
    (day, iso), (next_day, next_iso) = _date(rng), _date(rng)
    attendees, budget = rng.randint(4, 40), rng.randint(5, 500) * 1_000
    return {
        "title": f"Minutes of the steering committee meeting of {day}",
        "facts": {"date": iso, "chair": chair, "attendees": attendees, "decision": decision, "budget_eur": budget,
                  "next_meeting": next_iso},
        "shape": {"date": "string, YYYY-MM-DD", "chair": "string (full name)", "attendees": "integer",
                  "decision": "string", "budget_eur": "integer", "next_meeting": "string, YYYY-MM-DD"},
        "sentences": [
            f"The steering committee met on {day}, chaired by {chair}.",
            f"{attendees} members were present.",
            f"After a vote, the committee decided to {decision}.",
            f"A budget of {budget:,} EUR was approved for this work.",
            f"The next meeting will take place on {next_day}.",
        ],
        "questions": [("Who chaired the meeting?", chair), ("What did the committee decide?", decision),
                      ("When will the next meeting take place?", next_day)],
        "key_facts": [day, chair, str(attendees), decision, f"{budget:,}", next_day],
        "summary": (f"At the steering committee meeting of {day}, chaired by {chair} with {attendees} members present, "
                    f"the committee decided to {decision} and approved a budget of {budget:,} EUR. "
                    f"The next meeting is on {next_day}."),
    }  # fmt: skip


def _notice(rng: random.Random) -> dict[str, Any]:
    product, issue = rng.choice(PRODUCTS), rng.choice(ISSUES)
    model, units = (
        f"{rng.choice('ABCDKLMPRTX')}{rng.choice('ABCDKLMPRTX')}-{rng.randint(100, 999)}",
        rng.randint(200, 90_000),
    )
    (day, iso), contact = _date(rng), _person(rng)
    email = f"{contact.split()[0].lower()}.{contact.split()[1].lower()}@example.com"
    return {
        "title": f"Product safety notice: {product}",
        "facts": {"product": product, "model": model, "issue": issue, "affected_units": units, "effective_date": iso,
                  "contact_email": email},
        "shape": {"product": "string", "model": "string", "issue": "string", "affected_units": "integer",
                  "effective_date": "string, YYYY-MM-DD", "contact_email": "string"},
        "sentences": [
            f"This notice concerns the {product}, model {model}.",
            f"Some units have {issue}.",
            f"In total {units:,} units are affected.",
            f"The recall takes effect on {day}.",
            f"Customers with questions should write to {email}.",
        ],
        "questions": [("Which model is affected?", model), ("What problem do some units have?", issue),
                      ("Which email address should customers write to?", email)],
        "key_facts": [product, model, issue, f"{units:,}", day, email],
        "summary": (f"The {product}, model {model}, is being recalled from {day} because some units have {issue}. "
                    f"{units:,} units are affected; customers should write to {email}."),
    }  # fmt: skip


def _incident(rng: random.Random) -> dict[str, Any]:
    service, severity, cause, owner = rng.choice(SERVICES), rng.choice(SEVERITIES), rng.choice(CAUSES), _person(rng)
    incident_id, minutes = f"INC-{rng.randint(1000, 9999)}", rng.randint(5, 600)
    day, iso = _date(rng)
    return {
        "title": f"Incident log {incident_id}",
        "facts": {"id": incident_id, "service": service, "severity": severity, "date": iso,
                  "duration_minutes": minutes, "root_cause": cause, "owner": owner},
        "shape": {"id": "string", "service": "string", "severity": "string", "date": "string, YYYY-MM-DD",
                  "duration_minutes": "integer", "root_cause": "string", "owner": "string (full name)"},
        "sentences": [
            f"Incident {incident_id} affected the {service} service on {day}.",
            f"It was classified as {severity} severity.",
            f"The outage lasted {minutes} minutes in total.",
            f"The root cause was {cause}.",
            f"{owner} owns the follow-up actions.",
        ],
        "questions": [("What was the root cause?", cause), ("Who owns the follow-up actions?", owner),
                      ("Which service was affected?", service)],
        "key_facts": [incident_id, service, severity, day, f"{minutes} minutes", cause, owner],
        "summary": (f"Incident {incident_id} hit the {service} service on {day} for {minutes} minutes and was rated "
                    f"{severity} severity. The root cause was {cause}; {owner} owns the follow-up."),
    }  # fmt: skip


KINDS = {"report": _report, "minutes": _minutes, "notice": _notice, "incident": _incident}


def document(rng: random.Random, spec: dict[str, Any], tokens: int) -> str:
    """The title, then about `tokens` tokens of sections with the fact sentences scattered among them."""
    paragraphs = []
    size = len(spec["title"])
    while size < tokens * CHARS_PER_TOKEN:
        paragraph = " ".join(rng.sample(FILLER, rng.randint(3, 6)))
        paragraphs.append(paragraph)
        size += len(paragraph) + 2
    for sentence in spec["sentences"]:
        at = rng.randrange(len(paragraphs))
        paragraphs[at] = f"{paragraphs[at]} {sentence}"
    sections = [f"## {rng.choice(TOPICS)}\n\n{p}" for p in paragraphs]
    return f"# {spec['title']}\n\n" + "\n\n".join(sections)


PROMPTS = {
    "extract": ("Extract the following fields from the document above. Reply with one JSON object with exactly "
                "these keys and nothing else:\n{shape}"),
    "qa": "Answer the question with the exact words from the document above, as briefly as possible.\nQuestion: {question}",
    "summarise": ("Summarise the document above in two or three sentences. State the key facts: names, dates, "
                  "amounts and decisions."),
}  # fmt: skip


UNDERSTANDING = Dimension("understanding", "Text understanding ROUGE-L", "Understanding", position=60, radar=True)
UNDERSTANDING_F1 = Dimension("understanding_f1", "Text understanding F1", "Understanding F1", position=70)


@register
class Understanding(Task):
    name = "understanding"
    version = "1"
    description = (
        "generated long documents: extract to JSON (field F1), span QA (F1/EM), summarise (ROUGE, fact recall)"
    )
    default_limit = 8  # documents, each asked extract, qa and summarise: 24 requests
    max_tokens = MAX_TOKENS
    context_tokens = max(DEFAULT_TOKENS) + PROMPT_TOKENS  # reset by samples() to fit the documents made
    breakdown = "subtask"
    headline = "rougeL"
    takes_data = True  # optional: generated documents unless --data names a length or a set
    suites, suite_order = (DEFAULT_SUITE,), 50
    columns = (Column(UNDERSTANDING, "rougeL"), Column(UNDERSTANDING_F1, "extraction_f1"),
               Column(UNDERSTANDING_F1, "qa_f1", rank=1))  # fmt: skip

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        if data and data.startswith("tokens:"):
            samples = self._generated(limit, seed, [_tokens(data)])
        elif data:
            samples = load_summaries(data, limit)
        else:
            samples = self._generated(limit, seed, list(DEFAULT_TOKENS))
        # The runner sizes llama.cpp slots from this after asking for samples.
        longest = max((len(s.messages[-1]["content"]) for s in samples), default=0)
        self.context_tokens = longest // CHARS_PER_TOKEN + PROMPT_TOKENS
        return samples

    def _generated(self, limit: int, seed: int, lengths: list[int]) -> list[Sample]:
        samples = []
        for index in range(limit):
            rng = random.Random(f"{self.name}:{self.version}:{seed}:{index}")
            kind = list(KINDS)[index % len(KINDS)]
            spec = KINDS[kind](rng)
            tokens = lengths[index % len(lengths)]
            text = document(rng, spec, tokens)
            question, answer = rng.choice(spec["questions"])
            shape = json.dumps(spec["shape"], indent=1)
            targets = {
                "extract": spec["facts"],
                "qa": answer,
                "summarise": {"summary": spec["summary"], "key_facts": spec["key_facts"]},
            }
            asks = {"extract": PROMPTS["extract"].format(shape=shape), "qa": PROMPTS["qa"].format(question=question),
                    "summarise": PROMPTS["summarise"]}  # fmt: skip
            for subtask in SUBTASKS:
                samples.append(
                    Sample(
                        id=f"{seed}-{index}-{subtask}",
                        # The document first: llama.cpp reuses the cached prefix across the three asks.
                        messages=[{"role": "user", "content": f"{text}\n\n---\n\n{asks[subtask]}"}],
                        target=targets[subtask],
                        meta={"subtask": subtask, "kind": kind, "tokens": tokens},
                    )
                )
        return samples

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        text = (completion.text or "").strip()
        cut = completion.finish_reason == "length"
        subtask = sample.meta["subtask"]
        if subtask == "extract":
            return _score_extract(sample, text, cut)
        if not text:
            return Verdict(TRUNCATED if cut else EXTRACTION_FAILED, 0.0, "empty answer", _zero(subtask, sample))
        if subtask == "qa":
            f1, em = token_f1(text, sample.target), exact_match(text, sample.target)
            parts = {"f1": f1, "em": em}
            if cut:
                return Verdict(TRUNCATED, f1, f"hit max_tokens; F1 {f1:.2f}", parts)
            return Verdict(OK if em else WRONG, f1, f"F1 {f1:.2f}, EM {em:.0f} against {sample.target!r}", parts)
        scores = rouge(text, sample.target["summary"])
        parts = dict(scores)
        why = f"ROUGE-L {scores['rougeL']:.2f}"
        facts = sample.target.get("key_facts")
        if facts:
            found = [f for f in facts if contains_phrase(text, f)]
            parts["fact_recall"] = len(found) / len(facts)
            why += f"; {len(found)}/{len(facts)} key facts"
        if cut:
            return Verdict(TRUNCATED, scores["rougeL"], f"hit max_tokens; {why}", parts)
        # ok: a summary that shares words with the reference and states every known key fact.
        ok = scores["rougeL"] > 0 and parts.get("fact_recall", 1.0) == 1.0
        return Verdict(OK if ok else WRONG, scores["rougeL"], why, parts)

    def metrics(self, records: Sequence[Any]) -> dict[str, Estimate]:
        answered = [r for r in records if r.verdict in ANSWERED]
        by = {s: [r for r in answered if r.meta["subtask"] == s] for s in SUBTASKS}
        out = {
            name: bootstrap_mean([r.parts[name] for r in by["summarise"]]) for name in ("rougeL", "rouge1", "rouge2")
        }
        recall = [r.parts["fact_recall"] for r in by["summarise"] if "fact_recall" in r.parts]
        if recall:
            out["fact_recall"] = bootstrap_mean(recall)
        if by["extract"]:
            for name in ("f1", "precision", "recall"):
                out[f"extraction_{name}"] = bootstrap_mean([r.parts[name] for r in by["extract"]])
        if by["qa"]:
            out["qa_f1"] = bootstrap_mean([r.parts["f1"] for r in by["qa"]])
            out["qa_em"] = bootstrap_mean([r.parts["em"] for r in by["qa"]])
        return out


def _zero(subtask: str, sample: Sample) -> dict[str, float]:
    if subtask == "extract":
        return {"f1": 0.0, "precision": 0.0, "recall": 0.0}
    if subtask == "qa":
        return {"f1": 0.0, "em": 0.0}
    parts = {"rougeL": 0.0, "rouge1": 0.0, "rouge2": 0.0}
    return parts | ({"fact_recall": 0.0} if sample.target.get("key_facts") else {})


def _score_extract(sample: Sample, text: str, cut: bool) -> Verdict:
    data = parse_json(text, repair=False)
    if not isinstance(data, dict):
        if cut:
            return Verdict(TRUNCATED, 0.0, "hit max_tokens before the JSON was complete", _zero("extract", sample))
        return Verdict(EXTRACTION_FAILED, 0.0, "no JSON object in the answer", _zero("extract", sample))
    precision, recall, f1 = field_prf(data, sample.target)
    parts = {"f1": f1, "precision": precision, "recall": recall}
    why = f"field P {precision:.2f} R {recall:.2f} F1 {f1:.2f}"
    return Verdict(OK if f1 == 1.0 else WRONG, f1, why, parts)


def _tokens(data: str) -> int:
    try:
        tokens = int(data.removeprefix("tokens:"))
    except ValueError:
        tokens = 0
    if tokens < 200:
        raise SlmbenchError(f"--data understanding={data}: write tokens:N with N at least 200 (e.g. tokens:16000)")
    return tokens


# -- real summarisation sets ---------------------------------------------------------------------


def load_summaries(source: str, limit: int) -> list[Sample]:
    """Summarisation rows (CNN/DailyMail, GovReport) from a local CSV/JSONL file or the hub."""
    if source == "hub" or source.startswith("hub:"):
        name = source.partition(":")[2] or "cnn_dailymail"
        if name not in SUMMARY_SETS:
            raise SlmbenchError(
                f"--data understanding={source}: unknown set {name!r}; use one of: {', '.join(SUMMARY_SETS)}"
            )
        rows = fetch_rows(*SUMMARY_SETS[name], limit)
    else:
        rows, name = _read_rows(source), Path(source).name
    samples = []
    for number, row in enumerate(rows[:limit], 1):
        doc = next((row[f] for f in DOC_FIELDS if isinstance(row.get(f), str)), None)
        summary = next((row[f] for f in SUMMARY_FIELDS if row.get(f)), None)
        if isinstance(summary, list):  # GovReport's original files keep the summary as paragraphs
            summary = "\n".join(summary)
        if not doc or not isinstance(summary, str):
            raise SlmbenchError(
                f"{source} row {number} has no document ({'/'.join(DOC_FIELDS)}) and summary "
                f"({'/'.join(SUMMARY_FIELDS)}); pass CNN/DailyMail or GovReport rows"
            )
        samples.append(
            Sample(
                id=str(row.get("id", number)),
                messages=[{"role": "user", "content": f"{doc}\n\n---\n\n{PROMPTS['summarise']}"}],
                target={"summary": summary},
                meta={"subtask": "summarise", "kind": name},
            )
        )
    if not samples:
        raise SlmbenchError(f"{source} holds no rows; pass a CNN/DailyMail or GovReport file")
    return samples


def _read_rows(path: str) -> list[dict[str, Any]]:
    text = read_text(path, "summarisation")
    if path.endswith(".csv"):
        csv.field_size_limit(1 << 30)  # articles are longer than the csv module's 128 KB default
        return list(csv.DictReader(text.splitlines(keepends=True)))
    return parse_jsonl(text, path, "summarisation")
