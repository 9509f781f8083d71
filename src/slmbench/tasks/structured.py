"""Structured JSON output: extract facts from a short text into JSON that matches a schema.

Each generated document is asked in three modes:
- prompt:      the schema in a system prompt, nothing else (the usual system-prompt approach);
- json_schema: the same plus `response_format` json_schema (guided decoding on vLLM and
               llama.cpp; an endpoint that refuses it shows up as errors, not as wrong answers);
- repair:      the prompt-mode answer passed through json-repair before validation (the same
               request as prompt mode, so the store answers it without a second call).
Scored by jsonschema validation and field accuracy against the facts the text was built from.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from typing import Any

import json_repair
from jsonschema import Draft202012Validator

from ..client import Completion
from ..metrics.stats import Estimate, bootstrap_mean, wilson
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
from .registry import register

MODES = ("prompt", "json_schema", "repair")

SYSTEM = (
    "Extract the information in the user's text as JSON. Reply with one JSON object and nothing "
    "else. It must match this JSON Schema:\n{schema}"
)

FIRST = ["Amara", "Lukas", "Sofia", "Kenji", "Fatima", "Mateo", "Ingrid", "Tariq", "Chloe", "Dmitri", "Aisha", "Pablo"]
LAST = ["Okafor", "Schmidt", "Rossi", "Tanaka", "Haddad", "Garcia", "Larsen", "Nasser", "Dubois", "Volkov", "Bello"]
CITIES = ["Lisbon", "Nairobi", "Osaka", "Montreal", "Tunis", "Krakow", "Lima", "Hanoi", "Tallinn", "Accra"]
PRODUCTS = {
    "KB-204": "mechanical keyboard", "MS-118": "wireless mouse", "HD-330": "USB-C hub",
    "MN-270": "27-inch monitor", "CB-015": "braided cable", "WC-090": "webcam",
}  # fmt: skip
STATUSES = ["pending", "shipped", "delivered", "cancelled"]
STATUS_TEXT = {"pending": "is still pending", "shipped": "has been shipped", "delivered": "was delivered",
               "cancelled": "was cancelled by the customer"}  # fmt: skip
TOPICS = ["Open Data Summit", "Edge AI Workshop", "Rust Meetup", "Climate Tech Forum", "Accessibility Day"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]  # fmt: skip
SERVICES = ["payments-api", "search-indexer", "auth-gateway", "billing-worker", "media-cdn"]
SEVERITIES = ["low", "medium", "high", "critical"]
ACTIONS = {"rollback": "rolled back the last deploy", "restart": "restarted the pods", "scale_up": "added capacity",
           "hotfix": "shipped a hotfix", "failover": "failed over to the standby region"}  # fmt: skip


def _obj(required: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": list(required), "properties": required}


SCHEMAS: dict[str, dict[str, Any]] = {
    "order": _obj({
        "order_id": {"type": "string", "pattern": "^ORD-[0-9]{5}$"},
        "customer": _obj({"name": {"type": "string"}, "email": {"type": "string"}}),
        "items": {"type": "array", "minItems": 1, "maxItems": 6, "items": _obj({
            "sku": {"type": "string", "enum": sorted(PRODUCTS)},
            "quantity": {"type": "integer", "minimum": 1, "maximum": 50},
        })},
        "status": {"type": "string", "enum": STATUSES},
        "total_eur": {"type": "number", "minimum": 0, "maximum": 10000},
    }),
    "event": _obj({
        "title": {"type": "string"},
        "date": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "city": {"type": "string"},
        "attendees": {"type": "integer", "minimum": 1, "maximum": 5000},
        "online": {"type": "boolean"},
        "speakers": {"type": "array", "minItems": 1, "maxItems": 5, "items": {"type": "string"}},
    }),
    "incident": _obj({
        "id": {"type": "string", "pattern": "^INC-[0-9]{4}$"},
        "service": {"type": "string", "enum": SERVICES},
        "severity": {"type": "string", "enum": SEVERITIES},
        "duration_minutes": {"type": "integer", "minimum": 0, "maximum": 1440},
        "customer_impact": {"type": "boolean"},
        "actions": {"type": "array", "maxItems": 5, "items": {"type": "string", "enum": sorted(ACTIONS)}},
    }),
}  # fmt: skip
VALIDATORS = {kind: Draft202012Validator(schema) for kind, schema in SCHEMAS.items()}


def _person(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first} {last}", f"{first.lower()}.{last.lower()}@example.com"


def _order(rng: random.Random) -> tuple[str, dict[str, Any]]:
    name, email = _person(rng)
    skus = rng.sample(sorted(PRODUCTS), rng.randint(1, 3))
    items = [{"sku": sku, "quantity": rng.randint(1, 12)} for sku in skus]
    total = round(rng.uniform(15, 2500), 2)
    status = rng.choice(STATUSES)
    order_id = f"ORD-{rng.randint(10000, 99999)}"
    bought = " and ".join(f"{i['quantity']} x {i['sku']} ({PRODUCTS[i['sku']]})" for i in items)
    text = (
        f"Order {order_id} was placed by {name} ({email}), who bought {bought}. "
        f"The order total is {total:.2f} EUR and the order {STATUS_TEXT[status]}."
    )
    return text, {"order_id": order_id, "customer": {"name": name, "email": email}, "items": items,
                  "status": status, "total_eur": total}  # fmt: skip


def _event(rng: random.Random) -> tuple[str, dict[str, Any]]:
    title, city = rng.choice(TOPICS), rng.choice(CITIES)
    year, month, day = rng.randint(2025, 2027), rng.randint(1, 12), rng.randint(1, 28)
    attendees, online = rng.randint(20, 1500), rng.random() < 0.5
    speakers = sorted({_person(rng)[0] for _ in range(rng.randint(1, 3))})
    text = (
        f"The {title} takes place in {city} on {MONTHS[month - 1]} {day}, {year}. {attendees} people have "
        f"registered, and the talks {'will also be streamed online' if online else 'will not be streamed'}. "
        f"Speakers: {', '.join(speakers)}."
    )
    return text, {"title": title, "date": f"{year:04d}-{month:02d}-{day:02d}", "city": city,
                  "attendees": attendees, "online": online, "speakers": speakers}  # fmt: skip


def _incident(rng: random.Random) -> tuple[str, dict[str, Any]]:
    service, severity = rng.choice(SERVICES), rng.choice(SEVERITIES)
    hours, minutes = rng.randint(0, 5), rng.randint(1, 59)
    impact = rng.random() < 0.5
    actions = rng.sample(sorted(ACTIONS), rng.randint(1, 2))
    incident_id = f"INC-{rng.randint(0, 9999):04d}"
    took = f"{hours} hour{'s' * (hours != 1)} and {minutes} minutes" if hours else f"{minutes} minutes"
    text = (
        f"Incident {incident_id} (severity {severity}) affected the {service} service for {took}. "
        f"{'Customers noticed failed requests.' if impact else 'No customer saw an error.'} "
        f"The on-call engineer {' and then '.join(ACTIONS[a] for a in actions)}."
    )
    return text, {"id": incident_id, "service": service, "severity": severity,
                  "duration_minutes": hours * 60 + minutes, "customer_impact": impact, "actions": actions}  # fmt: skip


GENERATORS = {"order": _order, "event": _event, "incident": _incident}


STRUCTURED = Dimension("structured", "Structured output", "Structured", position=80)


@register
class Structured(Task):
    name = "structured"
    version = "1"
    description = "JSON Schema extraction in 3 modes (prompt, response_format, repair); validity + field accuracy"
    default_limit = 30  # documents; each is asked in every mode
    max_tokens = 384
    context_tokens = 1024
    breakdown = "mode"
    headline = "valid_prompt"
    takes_data = False
    suites, suite_order = (DEFAULT_SUITE,), 40
    columns = (Column(STRUCTURED, "valid_prompt"), Column(STRUCTURED, "valid_json_schema", rank=1))

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        samples = []
        for index in range(limit):
            rng = random.Random(f"{self.name}:{self.version}:{seed}:{index}")
            kind = list(GENERATORS)[index % len(GENERATORS)]
            text, expected = GENERATORS[kind](rng)
            schema = SCHEMAS[kind]
            messages = [
                {"role": "system", "content": SYSTEM.format(schema=json.dumps(schema))},
                {"role": "user", "content": text},
            ]
            guided = {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": kind, "schema": schema, "strict": True},
                }
            }
            for mode in MODES:
                samples.append(
                    Sample(
                        id=f"{seed}-{index}-{mode}",
                        messages=messages,
                        target=expected,
                        meta={"mode": mode, "kind": kind},
                        params=guided if mode == "json_schema" else {},
                    )
                )
        return samples

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        text = completion.text or ""
        data = parse_json(text, repair=sample.meta["mode"] == "repair")
        if not isinstance(data, dict):
            if completion.finish_reason == "length":
                return Verdict(
                    TRUNCATED, 0.0, "hit max_tokens before the JSON was complete", {"valid": 0.0, "field_accuracy": 0.0}
                )
            return Verdict(
                EXTRACTION_FAILED, 0.0, "no JSON object in the answer", {"valid": 0.0, "field_accuracy": 0.0}
            )
        errors = sorted(VALIDATORS[sample.meta["kind"]].iter_errors(data), key=lambda e: list(e.path))
        right, total, misses = field_accuracy(data, sample.target)
        parts = {"valid": float(not errors), "field_accuracy": right / total}
        if not errors and right == total:
            return Verdict(OK, 1.0, f"valid; all {total} fields right", parts)
        why = []
        if errors:
            where = "/".join(str(p) for p in errors[0].path) or "(root)"
            why.append(f"schema: {where}: {errors[0].message[:120]}")
        if misses:
            why.append(f"{len(misses)}/{total} fields wrong: {', '.join(misses[:4])}")
        return Verdict(WRONG, 0.0, "; ".join(why), parts)

    def metrics(self, records: Sequence[Any]) -> dict[str, Estimate]:
        out: dict[str, Estimate] = {}
        for mode in MODES:
            answered = [r for r in records if r.meta["mode"] == mode and r.verdict in ANSWERED]
            out[f"valid_{mode}"] = wilson(sum(r.parts.get("valid", 0.0) == 1.0 for r in answered), len(answered))
            out[f"field_accuracy_{mode}"] = bootstrap_mean([r.parts.get("field_accuracy", 0.0) for r in answered])
        return out


_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n(.*?)\n?```$", re.DOTALL)


def parse_json(text: str, *, repair: bool) -> Any:
    """The answer as JSON: as is or inside one Markdown fence; with repair, whatever json-repair recovers."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    try:
        return json.loads(stripped)
    except ValueError:
        if not repair:
            return None
    repaired = json_repair.loads(text)
    return repaired if repaired != "" else None


def field_accuracy(answer: Any, expected: Any, path: str = "") -> tuple[int, int, list[str]]:
    """(right, total, wrong paths) over the expected leaves; a list of scalars is one leaf (order-free)."""
    if isinstance(expected, dict):
        right = total = 0
        misses: list[str] = []
        for key, value in expected.items():
            sub = answer.get(key) if isinstance(answer, dict) else None
            r, t, m = field_accuracy(sub, value, f"{path}.{key}" if path else key)
            right, total, misses = right + r, total + t, misses + m
        return right, total, misses
    if isinstance(expected, list) and expected and isinstance(expected[0], dict):
        right = total = 0
        misses = []
        for i, value in enumerate(expected):
            sub = answer[i] if isinstance(answer, list) and i < len(answer) else None
            r, t, m = field_accuracy(sub, value, f"{path}[{i}]")
            right, total, misses = right + r, total + t, misses + m
        return right, total, misses
    ok = _same(answer, expected)
    return int(ok), 1, [] if ok else [path]


def _same(answer: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(answer, bool):
        return answer is expected
    if isinstance(expected, (int, float)):
        return isinstance(answer, (int, float)) and abs(answer - expected) < 1e-6
    if isinstance(expected, str):
        return isinstance(answer, str) and answer.strip().casefold() == expected.casefold()
    if isinstance(expected, list):
        return isinstance(answer, list) and sorted(map(_norm, answer)) == sorted(map(_norm, expected))
    return answer == expected


def _norm(value: Any) -> str:
    return value.strip().casefold() if isinstance(value, str) else json.dumps(value)
