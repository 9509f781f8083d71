"""Math answer checking, table-driven: (gold, reply) -> verdict, one rule per row (tasks/math_answer.py).

`ok` rows must be accepted, every other row rejected with the verdict shown. The rows that
issue 17 found wrong are marked "issue 17". Symbolic rows go through the math-verify worker.
"""

from fractions import Fraction

import pytest

from slmbench.tasks.math_answer import extract, plain_value
from slmbench.tasks.math_equiv import equivalent
from slmbench.tasks.reasoning import score_math

OK, WRONG, FAILED, CUT = "ok", "wrong", "extraction_failed", "truncated"

TABLE = [
    # -- \boxed{}: the last complete one ------------------------------------------------------
    ("42", "so the total is \\boxed{42}.", OK, "boxed"),
    ("3/4", "first \\boxed{1} then \\boxed{\\frac{3}{4}}", OK, "several boxes joined by words: the last"),
    ("10/3", "nested \\boxed{\\dfrac{10}{3}} done", OK, "braces inside the box; \\dfrac"),
    ("5", "So \\boxed{4}.\nWait, I miscounted one pair.\nSo \\boxed{5}.", OK, "a later box wins"),
    ("3", "\\fbox{3}", OK, "\\fbox is a box"),
    ("4", "\\boxed{x = 4}", OK, "a variable label is not part of the value"),
    ("12", "\\boxed{12 \\text{ cm}}", OK, "a unit is not part of the value"),
    ("-4", "\\boxed{\u22124}", OK, "Unicode minus U+2212"),
    ("7/2", "\\boxed{3\\frac{1}{2}}", OK, "LaTeX mixed number"),
    ("2", "\\boxed{2.0}", OK, "2.0 is 2"),
    ("12", "\\boxed{999999}", WRONG, "a different number"),
    ("12", "\\boxed{banana}", FAILED, "no number where a number is due"),
    ("3", "\\boxed{2} or \\boxed{3}", WRONG, "hedge: 'or' between boxes"),
    ("3", "The answer is \\boxed{2 \\text{ or } 3}.", WRONG, "hedge: \\text{ or } inside the box"),
    ("2, 3", "The solutions are \\boxed{2} and \\boxed{3}.", OK, "boxes joined by 'and': one list answer"),
    ("3", "The solutions are \\boxed{2} and \\boxed{3}.", WRONG, "a list answer is not one of its items"),
    ("12", "cut off \\boxed{12", FAILED, "a reply stopping inside its box has no answer"),
    ("37", "To put this into \\boxed{}, we add 9 + 28 = 37.\n\nThe final answer is 37.", OK,
     "an empty box (the prompt's words echoed, seen from SmolLM2) is no answer"),
    ("\\frac{\\sqrt{3}}{2}", "\\boxed{\\frac{\\sqrt3}{2}}", OK, "symbolic: math-verify"),
    ("2\\sqrt{2}", "\\boxed{\\sqrt{8}}", OK, "symbolic: math-verify"),
    ("(-1, 5)", "\\boxed{[-1, 5]}", WRONG, "symbolic: an open interval is not a closed one"),
    ("\\frac{\\sqrt{3}}{2}", "\\boxed{\\frac{1}{2}}", WRONG, "symbolic: a different value"),
    # -- Minerva's answer line -----------------------------------------------------------------
    ("3/4", "Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", OK, "Minerva form (issue 17)"),
    ("-4", "Final Answer: The final answer is $\u22124$. I hope it is correct.", OK, "Minerva form, Unicode minus"),
    ("5", "Final Answer: The final answer is $4$. I hope it is correct.", WRONG, "Minerva form, wrong value"),
    ("\\frac{\\pi}{2}", "Final Answer: The final answer is $\\frac{\\pi}{2}$. I hope it is correct.", OK,
     "Minerva form, symbolic"),
    ("(3, \\frac{\\pi}{2})", "The final answer is $\\left( 3, \\frac{\\pi}{2} \\right)$.", OK, "a tuple in $...$"),
    # -- answer phrases ------------------------------------------------------------------------
    ("7/8", "Work...\nFinal answer: 7/8", OK, "'Final answer:' line"),
    ("1234", "The answer is **1,234**", OK, "bold marks go; 1,234 is a digit group"),
    ("12", "**Final Answer:** 12", OK, "bold phrase"),
    ("12", "**Answer**: $12$", OK, "bold phrase, math"),
    ("12", "Answer: 12 (not 10).", OK, "a parenthetical comment is not the answer (issue 17)"),
    ("12", "The answer is 10 (not 12).", WRONG, "the number inside a comment is not the answer (issue 17)"),
    ("20", "The final answer is 20 (rounded to the nearest whole number).", OK, "a comment in words goes"),
    ("3", "The answer is 2 or 3.", WRONG, "hedge: two candidates (issue 17)"),
    ("2", "The answer is 2 or 3.", WRONG, "hedge: wrong even when the first is right"),
    ("5", "So the answer is x=4 or x=5.", WRONG, "hedge with labels (issue 17)"),
    ("4", "The answer is $4$ or $5$.", WRONG, "hedge between math spans"),
    ("10", "The answer is 10 (or 12).", WRONG, "an 'or' in parentheses is a hedge, not a comment"),
    ("5", "The answer is 5 or more.", WRONG, "'5 or more' is not 5"),
    ("4", "The answer is 4 or, equivalently, 4.0.", OK, "candidates with one value are one answer"),
    ("-4", "The answer is \u22124.", OK, "Unicode minus U+2212 (issue 17)"),
    ("-4", "The answer is \uff0d\uff14.", OK, "fullwidth minus and digit"),
    ("12", "The answer is 12, which is divisible by 3.", OK, "a trailing clause goes"),
    ("12", "The answer is 12 because 3 \u00d7 4 = 12.", OK, "a 'because' clause goes"),
    ("5", "The answer is: she has 5 apples left.", OK, "prose around one number"),
    ("5", "The answer is that 3 apples and 5 pears remain.", FAILED, "prose with two numbers is no answer"),
    ("12", "The answer is 12 dollars.", OK, "a unit word goes"),
    ("0.75", "The answer is 3/4.", OK, "exact rationals: 3/4 = 0.75"),
    ("3.5", "The answer is 3.5.", OK, "a decimal point is not a sentence end"),
    ("1/3", "The answer is 0.33.", WRONG, "no rounding tolerance"),
    ("7/2", "The answer is 3 1/2.", OK, "a mixed number"),
    ("31/2", "The answer is 3 1/2.", WRONG, "no joining of digit groups: 3 1/2 is not 31/2 (issue 17)"),
    ("125", "The answer is 12 5.", WRONG, "no joining of digit groups: 12 5 is not 125 (issue 17)"),
    ("12", "The answer is 1 2.", WRONG, "no joining of digit groups"),
    ("1000", "The answer is $1\\,000$.", OK, "LaTeX thin space between digit groups"),
    ("1000000", "The answer is 1,000,000.", OK, "digit groups with commas"),
    ("2", "The answer is $x = 2$, so $y = 4$.", OK, "the math right after the phrase"),
    ("2", "So, the final answer is $\\frac{1}{2} + 1 = 2$.", OK, "an equation chain's last value, for a numeric gold"),
    ("5/6", "So, the final answer is $\\frac{1}{2} + 1 = 2$.", WRONG, "an equation chain's last value is 2, not 5/6"),
    ("12", "答案是12。", OK, "Chinese answer phrase"),
    ("12", "The answer is 12.\n\nLet me double-check: 3 \u00d7 4 = 12, and 12 + 0 = 12.", OK,
     "text after the answer line is not read"),
    ("5", "To answer this we add 2 and 3.\nThe answer is 5.", OK, "the last answer phrase wins"),
    ("3", "The answer is 3.\n\nI hope this helps!", OK, "a closing remark is not read"),
    ("\\text{Monday}", "The answer is Monday.", OK, "a word answer after an answer phrase (symbolic)"),
    ("\\text{Tuesday}", "The answer is Monday.", WRONG, "a different word answer"),
    # -- no marked answer: the last sentence -----------------------------------------------------
    ("13", "She pays 37 dollars and gets change.\nSo she gets 13 dollars of change.", OK, "last sentence, one number"),
    ("12", "Thus 5 + 7 = 12.", OK, "last sentence: the number after the last '='"),
    ("42", "42", OK, "a bare number"),
    ("3/4", "$\\frac{3}{4}$", OK, "a bare math span"),
    ("5", "we get 3 and then 5", FAILED, "last sentence with two numbers: no guess"),
    ("3", "It is 2 or 3.", WRONG, "hedge in the last sentence"),
    ("12", "no idea", FAILED, "no number at all"),
    ("\\frac{\\sqrt{3}}{2}", "I cannot say.", FAILED, "a last sentence without a number is no answer, whatever the gold"),
    ("12", "I think the total is 12. I hope this helps!", FAILED, "the last sentence holds no number"),
    ("5", "The number of ways is 10 when order matters, else 5.", FAILED, "two numbers: no guess"),
]  # fmt: skip

# Replies cut by max_tokens: an answer that may be unfinished is truncated, a finished one scored.
CUT_TABLE = [
    ("12", "The answer is 12", CUT, "an unclosed answer line at the cut may be partial: 12 of 120"),
    ("12", "The answer is 12.", OK, "a closed answer line before the cut counts"),
    ("12", "so the total is \\boxed{12", CUT, "cut inside the box"),
    ("12", "so the total is 12", CUT, "a last sentence at the cut is no answer"),
    ("12", "\\boxed{12} and then some checking that was cut", OK, "a closed box before the cut counts"),
    ("3", "The answer is 2 or 3. Let me", WRONG, "a hedge before the cut is still a hedge"),
]


def test_the_table_is_big_enough_and_has_both_kinds():
    assert len(TABLE) >= 60
    assert sum(v == OK for *_, v, _ in TABLE) >= 25 and sum(v != OK for *_, v, _ in TABLE) >= 25


@pytest.mark.parametrize(
    ("gold", "reply", "verdict", "rule"), TABLE + CUT_TABLE, ids=[r for *_, r in TABLE + CUT_TABLE]
)
def test_math_verdict(gold, reply, verdict, rule):
    got = score_math(gold, reply, cut=(gold, reply, verdict, rule) in CUT_TABLE, thinks=0)
    assert got.verdict == verdict, f"{rule}: {got.why}"
    assert got.score == (1.0 if verdict == OK else 0.0)


def test_hedges_name_their_candidates():
    found = extract("So the answer is x=4 or x=5.")
    assert found.hedged and found.candidates == ("x=4", "x=5") and found.text is None
    assert "hedged between 'x=4' | 'x=5'" in score_math("5", "So the answer is x=4 or x=5.", False, 0).why
    assert (
        score_math("2 \\text{ or } 3", "\\boxed{2 \\text{ or } 3}", False, 0).verdict == OK
    )  # a gold that is itself "A or B"


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("42", Fraction(42)), ("-7", Fraction(-7)), ("\u22127", Fraction(-7)), ("1,234", Fraction(1234)),
        ("1\\,234", Fraction(1234)), ("0.75", Fraction(3, 4)), ("3/4", Fraction(3, 4)), ("6 / 8", Fraction(3, 4)),
        ("\\frac{3}{4}", Fraction(3, 4)), ("\\dfrac{10}{3}", Fraction(10, 3)), ("-\\frac{1}{2}", Fraction(-1, 2)),
        ("\\frac34", Fraction(3, 4)), ("$12$", Fraction(12)), ("12 dollars", Fraction(12)), ("x = 12", Fraction(12)),
        ("12\\text{ hours}", Fraction(12)), ("3 1/2", Fraction(7, 2)), ("-3 1/2", Fraction(-7, 2)),
        ("3\\frac{1}{2}", Fraction(7, 2)),
        # not plain numbers: left to math-verify, or to no reading at all
        ("12 5", None), ("3 5/2", None), ("1,23", None), ("12x", None), ("\\sqrt{2}", None), ("12 - 5", None),
        ("x", None), ("", None), ("1/0", None),
    ],
)  # fmt: skip
def test_plain_value(raw, value):
    assert plain_value(raw) == value


def test_equivalence_never_joins_digit_groups():
    assert equivalent("31/2", "3 1/2") == (False, "exact")  # issue 17: was true
    assert equivalent("125", "12 5") == (False, "digits separated by a space are not one number")  # issue 17
    assert equivalent("7/2", "3 1/2") == (True, "exact")
    assert equivalent("17", "12 5")[0] is False  # math-verify alone reads "12 5" as 17
