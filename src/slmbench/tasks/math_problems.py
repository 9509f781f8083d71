"""Generated math problems with exact integer or rational answers (math_answer reads the replies).

Four levels: 1 everyday arithmetic word problems, 2 rates and ratios with fractional
answers, 3 number theory, 4 counting and series. Answers are exact, so equivalence is exact
rational comparison (fractions.Fraction): no symbolic algebra, nothing that can hang.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from fractions import Fraction

PROMPT_SUFFIX = " Please reason step by step, and put your final answer within \\boxed{}."
NAMES = ["Maya", "Omar", "Lena", "Ravi", "Sofia", "Jonas", "Amina", "Hugo"]


@dataclass(frozen=True)
class MathProblem:
    question: str
    answer: Fraction
    level: int
    kind: str


def generate(index: int, seed: int) -> MathProblem:
    rng = random.Random(f"math:{seed}:{index}")
    level = index % 4 + 1
    maker = rng.choice(LEVELS[level])
    question, answer, kind = maker(rng)
    return MathProblem(question + PROMPT_SUFFIX, Fraction(answer), level, kind)


# level 1 ----------------------------------------------------------------------------------
def _change(rng: random.Random) -> tuple[str, Fraction, str]:
    name = rng.choice(NAMES)
    a, p, b, q = rng.randint(2, 9), rng.randint(2, 15), rng.randint(2, 9), rng.randint(1, 6)
    cost = a * p + b * q
    bill = next(x for x in (20, 50, 100, 200, 500) if x > cost)
    text = (f"{name} buys {a} notebooks at {p} dollars each and {b} pens at {q} dollars each, and pays "
            f"with a {bill}-dollar bill. How many dollars of change does {name} get?")  # fmt: skip
    return text, Fraction(bill - cost), "change"


def _saving(rng: random.Random) -> tuple[str, Fraction, str]:
    name = rng.choice(NAMES)
    start, weekly, weeks, spent = rng.randint(10, 90), rng.randint(5, 25), rng.randint(3, 12), rng.randint(5, 40)
    text = (f"{name} has {start} dollars, saves {weekly} dollars every week for {weeks} weeks, then spends "
            f"{spent} dollars on a gift. How many dollars does {name} have left?")  # fmt: skip
    return text, Fraction(start + weekly * weeks - spent), "saving"


# level 2 ----------------------------------------------------------------------------------
def _pipes(rng: random.Random) -> tuple[str, Fraction, str]:
    t1, t2 = rng.sample(range(2, 13), 2)
    text = (f"One pipe fills a tank in {t1} hours and another fills it in {t2} hours. Working together, "
            f"how many hours do they take to fill the tank? Give an exact fraction if needed.")  # fmt: skip
    return text, Fraction(t1 * t2, t1 + t2), "work_rate"


def _ratio(rng: random.Random) -> tuple[str, Fraction, str]:
    a, b = rng.sample(range(1, 10), 2)
    total = (a + b) * rng.randint(3, 12)
    text = (f"In a club the ratio of chess players to go players is {a}:{b}, and there are {total} members "
            "in all, each playing exactly one of the two games. How many play go?")  # fmt: skip
    return text, Fraction(total * b, a + b), "ratio"


def _average(rng: random.Random) -> tuple[str, Fraction, str]:
    scores = [rng.randint(50, 100) for _ in range(rng.randint(3, 6))]
    text = f"A student's test scores are {', '.join(map(str, scores))}. What is the mean score? Give an exact fraction if needed."
    return text, Fraction(sum(scores), len(scores)), "mean"


# level 3 ----------------------------------------------------------------------------------
def _power_mod(rng: random.Random) -> tuple[str, Fraction, str]:
    a, k, m = rng.randint(2, 19), rng.randint(10, 60), rng.randint(5, 23)
    return f"What is the remainder when {a}^{k} is divided by {m}?", Fraction(pow(a, k, m)), "power_mod"


def _divisors(rng: random.Random) -> tuple[str, Fraction, str]:
    n = rng.choice([2, 3, 5, 7]) ** rng.randint(1, 4) * rng.choice([3, 5, 11, 13]) ** rng.randint(1, 3)
    return f"How many positive divisors does {n} have?", Fraction(_divisor_count(n)), "divisors"


def _divisor_count(n: int) -> int:
    count, p = 1, 2
    while p * p <= n:
        exponent = 0
        while n % p == 0:
            n //= p
            exponent += 1
        count *= exponent + 1
        p += 1
    return count * (2 if n > 1 else 1)


def _gcd_lcm(rng: random.Random) -> tuple[str, Fraction, str]:
    a, b = rng.randint(12, 180), rng.randint(12, 180)
    return (f"What is the least common multiple of {a} and {b}, divided by their greatest common divisor?",
            Fraction(math.lcm(a, b), math.gcd(a, b)), "gcd_lcm")  # fmt: skip


# level 4 ----------------------------------------------------------------------------------
def _telescoping(rng: random.Random) -> tuple[str, Fraction, str]:
    n = rng.randint(5, 60)
    text = f"Compute 1/(1*2) + 1/(2*3) + ... + 1/({n}*{n + 1}). Give the answer as a fraction in lowest terms."
    return text, Fraction(n, n + 1), "telescoping"


def _divisible_sum(rng: random.Random) -> tuple[str, Fraction, str]:
    lo, d = rng.randint(1, 50), rng.randint(3, 9)
    hi = lo + rng.randint(40, 200)
    total = sum(x for x in range(lo, hi + 1) if x % d == 0)
    return (
        f"What is the sum of all integers from {lo} to {hi}, inclusive, that are divisible by {d}?",
        Fraction(total),
        "divisible_sum",
    )


def _pairs(rng: random.Random) -> tuple[str, Fraction, str]:
    n = rng.randint(10, 80)
    count = sum(1 for x in range(1, n) if x < n - x)
    text = f"How many ordered pairs (x, y) of positive integers satisfy x + y = {n} and x < y?"
    return text, Fraction(count), "pairs"


def _choose(rng: random.Random) -> tuple[str, Fraction, str]:
    n, k = rng.randint(6, 14), rng.randint(2, 4)
    text = f"In how many ways can a committee of {k} people be chosen from {n} people?"
    return text, Fraction(math.comb(n, k)), "combinations"


LEVELS = {
    1: [_change, _saving],
    2: [_pipes, _ratio, _average],
    3: [_power_mod, _divisors, _gcd_lcm],
    4: [_telescoping, _divisible_sum, _pairs, _choose],
}
