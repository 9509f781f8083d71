from fractions import Fraction

import pytest

from slmbench.tasks.math_problems import _divisor_count, extract_answer, generate, to_fraction


def test_generation_is_seeded_levelled_and_exact():
    problems = [generate(i, seed=0) for i in range(80)]
    assert problems == [generate(i, seed=0) for i in range(80)]
    assert [p.level for p in problems[:8]] == [1, 2, 3, 4, 1, 2, 3, 4]
    assert len({p.kind for p in problems}) >= 10
    assert all(isinstance(p.answer, Fraction) for p in problems)
    assert any(p.answer.denominator > 1 for p in problems)  # some answers are true fractions
    assert all("\\boxed{}" in p.question for p in problems)
    assert generate(0, seed=1) != generate(0, seed=0)


def test_divisor_count_matches_brute_force():
    for n in (1, 2, 12, 36, 97, 360, 1001, 2**4 * 3**3):
        assert _divisor_count(n) == sum(1 for d in range(1, n + 1) if n % d == 0)


@pytest.mark.parametrize(
    ("text", "raw", "how"),
    [
        ("so the total is \\boxed{42}.", "42", "boxed"),
        ("first \\boxed{1} then \\boxed{\\frac{3}{4}}", "\\frac{3}{4}", "boxed"),
        ("nested \\boxed{\\dfrac{10}{3}} done", "\\dfrac{10}{3}", "boxed"),
        ("Work...\nFinal answer: 7/8", "7/8", "answer line"),
        ("The answer is **1,234**", "1,234**", "answer line"),
        ("we get 3 and then 5", "5", "last number"),
        ("no idea", None, "none"),
        ("cut off \\boxed{12", "12", "last number"),
    ],
)
def test_extract_answer(text, raw, how):
    assert extract_answer(text) == (raw, how)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("42", Fraction(42)), ("-7", Fraction(-7)), ("1,234", Fraction(1234)), ("0.75", Fraction(3, 4)),
        ("3/4", Fraction(3, 4)), ("6 / 8", Fraction(3, 4)), ("\\frac{3}{4}", Fraction(3, 4)),
        ("\\dfrac{10}{3}", Fraction(10, 3)), ("-\\frac{1}{2}", Fraction(-1, 2)), ("\\frac34", Fraction(3, 4)),
        ("$12$", Fraction(12)), ("12 dollars", Fraction(12)), ("12\\text{ hours}", Fraction(12)),
        ("x", None), ("", None), ("1/0", None),
    ],
)  # fmt: skip
def test_to_fraction(raw, value):
    assert to_fraction(raw) == value
