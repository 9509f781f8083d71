from fractions import Fraction

from slmbench.tasks.math_problems import _divisor_count, generate


def test_generation_is_seeded_levelled_and_exact():
    problems = [generate(i, seed=0) for i in range(80)]
    assert problems == [generate(i, seed=0) for i in range(80)]
    assert [p.level for p in problems[:8]] == [1, 2, 3, 4, 1, 2, 3, 4]
    assert len({p.kind for p in problems}) >= 10
    assert all(isinstance(p.answer, Fraction) for p in problems)
    assert any(p.answer.denominator > 1 for p in problems)  # some answers are true fractions
    assert all("\\boxed{}" in p.question for p in problems)
    assert generate(0, seed=1) != generate(0, seed=0)


def test_every_generated_answer_written_as_a_reply_is_read_back_exactly():
    # The reader and the generator agree on every form the answers take (integers and fractions).
    from slmbench.tasks.math_answer import extract, plain_value

    for p in (generate(i, seed=3) for i in range(200)):
        for written in (str(p.answer), f"\\frac{{{p.answer.numerator}}}{{{p.answer.denominator}}}"):
            found = extract(f"Step by step... so the result is \\boxed{{{written}}}.")
            assert found.how == "boxed" and plain_value(found.text) == p.answer, written


def test_divisor_count_matches_brute_force():
    for n in (1, 2, 12, 36, 97, 360, 1001, 2**4 * 3**3):
        assert _divisor_count(n) == sum(1 for d in range(1, n + 1) if n % d == 0)
