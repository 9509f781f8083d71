"""ZebraLogic-style logic grid puzzles: a seeded generator, a SAT uniqueness check and a scorer.

A puzzle has N houses in a row (numbered 1..N from left to right) and M attributes; every house
holds exactly one value of every attribute and every value sits in exactly one house. The clues
follow ZebraLogic's clue types. Generation draws a random solution, samples a pool of clues that are
true of it until the SAT solver proves the solution unique, then drops clues one at a time (seeded
order) while the solution stays unique, leaving a minimal clue set with exactly one solution.

Library only: no task integration yet.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pycosat

from .base import EXTRACTION_FAILED, OK, WRONG

# attribute -> (values, phrase for "the person who ..." with {v} for the value). Values are unique
# across all attributes, so a clue's wording never names two things the same way.
ATTRIBUTES: dict[str, tuple[tuple[str, ...], str]] = {
    "name": (("Alice", "Bob", "Carol", "Eric", "Peter", "Arnold"), "{v}"),
    "nationality": (("Norwegian", "Dane", "Brit", "Swede", "German", "Chinese"), "the {v}"),
    "color": (("red", "green", "blue", "yellow", "white", "purple"), "the person whose favorite color is {v}"),
    "pet": (("dog", "cat", "bird", "fish", "horse", "rabbit"), "the person who keeps a {v}"),
    "drink": (("tea", "coffee", "milk", "water", "juice", "root beer"), "the person who drinks {v}"),
    "food": (("pizza", "sushi", "pasta", "tacos", "curry", "salad"), "the person who loves {v}"),
    "music": (("jazz", "rock", "pop", "classical", "hip hop", "country"), "the person who loves {v} music"),
    "sport": (("tennis", "soccer", "basketball", "golf", "swimming", "cricket"), "the person who plays {v}"),
    "car": (("Ford", "Toyota", "BMW", "Tesla", "Honda", "Audi"), "the person who drives a {v}"),
    "flower": (("roses", "tulips", "lilies", "daisies", "orchids", "carnations"), "the person who loves {v}"),
    "occupation": (
        ("doctor", "teacher", "engineer", "artist", "lawyer", "nurse"),
        "the person who works as a {v}",
    ),
    "book genre": (
        ("mystery", "fantasy", "romance", "science fiction", "biography", "history"),
        "the person who reads {v} books",
    ),
}

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth")

# Clue kinds. Entities are (attribute, value); houses are 1-based.
FOUND_AT = "found_at"  # (kind, X, k)
NOT_AT = "not_at"  # (kind, X, k)
SAME_HOUSE = "same_house"  # (kind, X, Y)
LEFT_OF = "left_of"  # X directly left of Y: pos(X) + 1 == pos(Y)
RIGHT_OF = "right_of"  # X directly right of Y: pos(X) == pos(Y) + 1
NEXT_TO = "next_to"  # |pos(X) - pos(Y)| == 1
SOMEWHERE_LEFT = "somewhere_left"  # pos(X) < pos(Y)
SOMEWHERE_RIGHT = "somewhere_right"  # pos(X) > pos(Y)
ONE_BETWEEN = "one_between"  # |pos(X) - pos(Y)| == 2
TWO_BETWEEN = "two_between"  # |pos(X) - pos(Y)| == 3

# Sampling weights for the clue pool (few found_at clues, so puzzles need reasoning).
KIND_WEIGHTS = {
    FOUND_AT: 1,
    NOT_AT: 2,
    SAME_HOUSE: 4,
    LEFT_OF: 2,
    RIGHT_OF: 2,
    NEXT_TO: 2,
    SOMEWHERE_LEFT: 2,
    SOMEWHERE_RIGHT: 2,
    ONE_BETWEEN: 1,
    TWO_BETWEEN: 1,
}

Entity = tuple[str, str]
Clue = tuple[Any, ...]


BUCKETS = ("small", "medium", "large", "x-large")


def difficulty_bucket(search_space: int | float) -> str:
    """ZebraLogic's size buckets on the search space (N!)^M."""
    if search_space < 10**3:
        return "small"
    if search_space < 10**6:
        return "medium"
    if search_space < 10**10:
        return "large"
    return "x-large"


@dataclass(frozen=True)
class Puzzle:
    houses: int
    attributes: dict[str, list[str]]  # attribute -> its N values (sorted, so the order reveals nothing)
    clues: list[str]  # natural-language clues
    solution: list[dict[str, str]]  # per house, in order: attribute -> value
    constraints: list[Clue] = field(default_factory=list)  # structured clues, aligned with `clues`

    def search_space(self) -> int:
        return math.factorial(self.houses) ** len(self.attributes)

    def log10_search_space(self) -> float:
        return len(self.attributes) * math.log10(math.factorial(self.houses))

    def difficulty(self) -> str:
        return difficulty_bucket(self.search_space())


# --- SAT encoding -----------------------------------------------------------------------------


class _Encoder:
    def __init__(self, attributes: dict[str, list[str]]):
        self.attributes = attributes
        self.names = list(attributes)
        self.n = len(next(iter(attributes.values()))) if attributes else 0
        self.index = {(a, v): (ai, vi) for ai, a in enumerate(self.names) for vi, v in enumerate(attributes[a])}

    def var(self, entity: Entity, house: int) -> int:
        """Boolean var for 'entity is in house' (house 1-based)."""
        ai, vi = self.index[entity]
        return ai * self.n * self.n + vi * self.n + (house - 1) + 1

    def base(self) -> list[list[int]]:
        """Exactly one house per value, exactly one value per (attribute, house)."""
        n, cnf = self.n, []
        for ai in range(len(self.names)):
            groups = [[ai * n * n + vi * n + h + 1 for h in range(n)] for vi in range(n)]
            groups += [[ai * n * n + vi * n + h + 1 for vi in range(n)] for h in range(n)]
            for g in groups:
                cnf.append(list(g))
                cnf += [[-g[i], -g[j]] for i in range(n) for j in range(i + 1, n)]
        return cnf

    def clue(self, c: Clue) -> list[list[int]]:
        kind, n = c[0], self.n
        houses = range(1, n + 1)
        if kind == FOUND_AT:
            return [[self.var(c[1], c[2])]]
        if kind == NOT_AT:
            return [[-self.var(c[1], c[2])]]
        x, y = c[1], c[2]
        if kind == SAME_HOUSE:
            return [[-self.var(x, h), self.var(y, h)] for h in houses] + [
                [-self.var(y, h), self.var(x, h)] for h in houses
            ]
        if kind in (LEFT_OF, RIGHT_OF, NEXT_TO, ONE_BETWEEN, TWO_BETWEEN, SOMEWHERE_LEFT, SOMEWHERE_RIGHT):
            ok = _relation(kind)
            cnf = []
            # For each house of X, Y must be in an allowed house, and vice versa.
            for h in houses:
                cnf.append([-self.var(x, h)] + [self.var(y, j) for j in houses if ok(h, j)])
                cnf.append([-self.var(y, h)] + [self.var(x, j) for j in houses if ok(j, h)])
            return cnf
        raise ValueError(f"unknown clue kind {kind!r}")

    def cnf(self, clues: Sequence[Clue]) -> list[list[int]]:
        cnf = self.base()
        for c in clues:
            cnf += self.clue(c)
        return cnf


def _relation(kind: str):
    """pos(X), pos(Y) -> whether the relational clue holds."""
    return {
        LEFT_OF: lambda a, b: a + 1 == b,
        RIGHT_OF: lambda a, b: a == b + 1,
        NEXT_TO: lambda a, b: abs(a - b) == 1,
        SOMEWHERE_LEFT: lambda a, b: a < b,
        SOMEWHERE_RIGHT: lambda a, b: a > b,
        ONE_BETWEEN: lambda a, b: abs(a - b) == 2,
        TWO_BETWEEN: lambda a, b: abs(a - b) == 3,
    }[kind]


def holds(clue: Clue, solution: Sequence[dict[str, str]]) -> bool:
    """Whether a structured clue is true of a solution grid."""
    pos = {(a, v): h for h, house in enumerate(solution, 1) for a, v in house.items()}
    kind = clue[0]
    if kind == FOUND_AT:
        return pos[clue[1]] == clue[2]
    if kind == NOT_AT:
        return pos[clue[1]] != clue[2]
    if kind == SAME_HOUSE:
        return pos[clue[1]] == pos[clue[2]]
    return _relation(kind)(pos[clue[1]], pos[clue[2]])


def count_solutions(
    puzzle_or_clues: Puzzle | Sequence[Clue], limit: int = 2, *, attributes: dict[str, list[str]] | None = None
) -> int:
    """Number of solutions (counting stops at `limit`). Pass a Puzzle, or structured clues plus `attributes`."""
    if isinstance(puzzle_or_clues, Puzzle):
        clues, attributes = puzzle_or_clues.constraints, puzzle_or_clues.attributes
    else:
        if attributes is None:
            raise ValueError("structured clues need attributes=")
        clues = puzzle_or_clues
    cnf = _Encoder(attributes).cnf(clues)
    count = 0
    for _ in pycosat.itersolve(cnf):
        count += 1
        if count >= limit:
            break
    return count


def _is_unique(enc: _Encoder, clues: Sequence[Clue], blocking: list[int], base: list[list[int]]) -> bool:
    """The known solution is the only one: the clues plus 'not that solution' are unsatisfiable."""
    cnf = list(base)
    for c in clues:
        cnf += enc.clue(c)
    cnf.append(blocking)
    return pycosat.solve(cnf) == "UNSAT"


# --- generation -------------------------------------------------------------------------------


def _random_clue(rng: random.Random, grid: list[dict[str, str]], names: list[str]) -> Clue | None:
    n = len(grid)
    kinds = [k for k in KIND_WEIGHTS if not (k == ONE_BETWEEN and n < 3) and not (k == TWO_BETWEEN and n < 4)]
    if len(names) < 2:
        kinds = [k for k in kinds if k != SAME_HOUSE]
    kind = rng.choices(kinds, weights=[KIND_WEIGHTS[k] for k in kinds])[0]

    def at(h: int, attribute: str | None = None) -> Entity:
        a = attribute or rng.choice(names)
        return (a, grid[h - 1][a])

    if kind == FOUND_AT:
        h = rng.randint(1, n)
        return (kind, at(h), h)
    if kind == NOT_AT:
        h, k = rng.sample(range(1, n + 1), 2)
        return (kind, at(h), k)
    if kind == SAME_HOUSE:
        h = rng.randint(1, n)
        a, b = rng.sample(names, 2)
        x, y = sorted([at(h, a), at(h, b)])
        return (kind, x, y)
    if kind in (LEFT_OF, RIGHT_OF, NEXT_TO, ONE_BETWEEN, TWO_BETWEEN):
        gap = {ONE_BETWEEN: 2, TWO_BETWEEN: 3}.get(kind, 1)
        h = rng.randint(1, n - gap)
        left, right = at(h), at(h + gap)
        if kind == LEFT_OF:
            return (kind, left, right)
        if kind == RIGHT_OF:
            return (kind, right, left)
        x, y = sorted([left, right])
        return (kind, x, y)
    h, k = sorted(rng.sample(range(1, n + 1), 2))
    left, right = at(h), at(k)
    return (kind, left, right) if kind == SOMEWHERE_LEFT else (kind, right, left)


def _who(entity: Entity) -> str:
    attribute, value = entity
    return ATTRIBUTES[attribute][1].format(v=value)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def clue_text(c: Clue) -> str:
    """ZebraLogic-style wording of a structured clue."""
    kind = c[0]
    if kind == FOUND_AT:
        return _cap(f"{_who(c[1])} is in the {ORDINALS[c[2] - 1]} house.")
    if kind == NOT_AT:
        return _cap(f"{_who(c[1])} is not in the {ORDINALS[c[2] - 1]} house.")
    x, y = _who(c[1]), _who(c[2])
    text = {
        SAME_HOUSE: f"{x} is {y}.",
        LEFT_OF: f"{x} is directly left of {y}.",
        RIGHT_OF: f"{x} is directly right of {y}.",
        NEXT_TO: f"{x} and {y} are next to each other.",
        SOMEWHERE_LEFT: f"{x} is somewhere to the left of {y}.",
        SOMEWHERE_RIGHT: f"{x} is somewhere to the right of {y}.",
        ONE_BETWEEN: f"there is one house between {x} and {y}.",
        TWO_BETWEEN: f"there are two houses between {x} and {y}.",
    }[kind]
    return _cap(text)


def generate(houses: int, attributes: int, seed: int) -> Puzzle:
    """A seeded puzzle with `houses` houses and `attributes` attributes (each 2..6), exactly one solution."""
    if not (2 <= houses <= 6 and 2 <= attributes <= 6):
        raise ValueError(f"houses and attributes must be in 2..6, got {houses}x{attributes}")
    rng = random.Random(f"zebra:{seed}:{houses}:{attributes}")
    names = ["name"] + rng.sample(sorted(set(ATTRIBUTES) - {"name"}), attributes - 1)
    values = {a: rng.sample(ATTRIBUTES[a][0], houses) for a in names}
    # values[a][h] is the value of attribute a in house h+1; the listing shown is sorted.
    grid = [{a: values[a][h] for a in names} for h in range(houses)]
    shown = {a: sorted(values[a], key=str.casefold) for a in names}

    enc = _Encoder(shown)
    base = enc.base()
    blocking = [-enc.var((a, grid[h - 1][a]), h) for h in range(1, houses + 1) for a in names]

    # Pool: sample true clues in batches until they pin the solution down.
    pool: list[Clue] = []
    seen: set[Clue] = set()
    batch = max(4, 2 * houses * attributes)
    while True:
        target = len(pool) + batch
        for _ in range(batch * 20):
            if len(pool) >= target:
                break
            c = _random_clue(rng, grid, names)
            if c not in seen:
                seen.add(c)
                pool.append(c)
        if _is_unique(enc, pool, blocking, base):
            break

    # Reduce: try dropping each clue, in a seeded shuffled order. Dropping only loosens the puzzle, so
    # one pass leaves a minimal set: every kept clue is needed for uniqueness.
    order = list(range(len(pool)))
    rng.shuffle(order)
    kept = set(range(len(pool)))
    for i in order:
        trial = kept - {i}
        if _is_unique(enc, [pool[j] for j in sorted(trial)], blocking, base):
            kept = trial
    clues = [pool[i] for i in sorted(kept)]
    rng.shuffle(clues)
    return Puzzle(
        houses=houses,
        attributes=shown,
        clues=[clue_text(c) for c in clues],
        solution=grid,
        constraints=clues,
    )


# --- prompt and scoring -----------------------------------------------------------------------


def prompt(p: Puzzle) -> str:
    return puzzle_text(p) + "\n\n" + answer_format(list(p.attributes))


def puzzle_text(p: Puzzle) -> str:
    """The puzzle as ZebraLogic words it: houses, characteristics and their values, clues."""
    n = p.houses
    lines = [
        f"There are {n} houses, numbered 1 to {n} from left to right, as seen from across the street. "
        "Each house is occupied by a different person. Each house has a unique attribute for each of the "
        "following characteristics:",
    ]
    for a, vals in p.attributes.items():
        lines.append(f" - {a}: {', '.join(vals)}")
    lines.append("")
    lines.append("## Clues:")
    lines += [f"{i}. {c}" for i, c in enumerate(p.clues, 1)]
    return "\n".join(lines)


def answer_format(attributes: list[str]) -> str:
    """How to answer: reasoning allowed, then a JSON grid (what `score` reads)."""
    example = {f"House {h}": {a: "..." for a in attributes} for h in (1, 2)}
    example_text = json.dumps(example)[:-1] + ", ...}"
    return (
        "Work out which value of each characteristic belongs to each house. You may reason step by step, "
        "then give the final answer as a JSON object mapping each house to its values, in this form:\n"
        f"```json\n{example_text}\n```"
    )


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_HOUSE = re.compile(r"^\s*(?:house)?\s*[_#-]?\s*(\d+)\s*$", re.IGNORECASE)


def _norm(s: Any) -> str:
    return re.sub(r"[\s_]+", " ", str(s)).strip().casefold()


def _as_grid(obj: Any) -> dict[int, dict[str, str]] | None:
    """House number -> {normalized attribute: normalized value}, or None if obj is no grid."""
    if isinstance(obj, list):
        if obj and all(isinstance(x, dict) for x in obj):
            return {h: {_norm(k): _norm(v) for k, v in d.items()} for h, d in enumerate(obj, 1)}
        return None
    if not isinstance(obj, dict):
        return None
    grid: dict[int, dict[str, str]] = {}
    for k, v in obj.items():
        m = _HOUSE.match(str(k))
        if m and isinstance(v, dict):
            grid[int(m.group(1))] = {_norm(a): _norm(x) for a, x in v.items()}
    if grid:
        return grid
    # A wrapper such as {"solution": {...}}: look one level down.
    for v in obj.values():
        inner = _as_grid(v)
        if inner:
            return inner
    return None


def _candidates(text: str) -> list[Any]:
    """Parsed JSON values, in order of preference: bare text, fenced blocks (last first), last {...}."""
    out: list[Any] = []
    try:
        out.append(json.loads(text.strip()))
    except (json.JSONDecodeError, ValueError):
        pass
    for block in reversed(_FENCE.findall(text)):
        try:
            out.append(json.loads(block.strip()))
        except (json.JSONDecodeError, ValueError):
            pass
    decoder, blocks, i = json.JSONDecoder(), [], text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except (json.JSONDecodeError, ValueError):
            i = text.find("{", i + 1)
            continue
        blocks.append(obj)
        i = text.find("{", end)
    out += reversed(blocks)
    return out


def extract_grid(text: str) -> dict[int, dict[str, str]] | None:
    for obj in _candidates(text or ""):
        grid = _as_grid(obj)
        if grid:
            return grid
    return None


def score(p: Puzzle, answer_text: str) -> tuple[str, float, float, str]:
    """(verdict, puzzle_correct 0/1, cell_accuracy 0..1, why)."""
    grid = extract_grid(answer_text)
    if grid is None:
        return EXTRACTION_FAILED, 0.0, 0.0, "no JSON house grid found in the answer"
    total = p.houses * len(p.attributes)
    correct, wrong_cells = 0, []
    for h, house in enumerate(p.solution, 1):
        got = grid.get(h, {})
        for a, v in house.items():
            if got.get(_norm(a)) == _norm(v):
                correct += 1
            else:
                wrong_cells.append(f"House {h} {a}: expected {v!r}, got {got.get(_norm(a))!r}")
    acc = correct / total if total else 0.0
    extra = sorted(set(grid) - set(range(1, p.houses + 1)))
    if correct == total:
        why = "all cells correct" + (f" (ignored extra houses {extra})" if extra else "")
        return OK, 1.0, 1.0, why
    why = f"{correct}/{total} cells correct; " + "; ".join(wrong_cells[:5])
    if len(wrong_cells) > 5:
        why += f"; ... ({len(wrong_cells) - 5} more)"
    return WRONG, 0.0, acc, why
