from slmbench.client import Completion
from slmbench.tasks import TASKS
from slmbench.tasks.arithmetic import Arithmetic

task = Arithmetic()


def answer(text, finish="stop"):
    return Completion(text, finish, 5, 5, 0.1, 1)


def test_registered():
    assert TASKS["arithmetic"].name == "arithmetic"


def test_samples_are_seeded_and_a_larger_limit_extends_a_smaller_one():
    small, large = task.samples(10, seed=3), task.samples(30, seed=3)
    assert small == large[:10]
    assert task.samples(10, seed=3) == small
    assert [s.target for s in task.samples(10, seed=4)] != [s.target for s in small]


def test_samples_do_not_repeat():
    samples = task.samples(400, seed=0)
    assert len({s.meta["expression"] for s in samples}) == 400


def test_targets_are_the_value_of_the_shown_expression():
    for s in task.samples(40, seed=0):
        shown = s.messages[0]["content"].split("Expression: ")[1].replace("×", "*")
        assert eval(shown) == s.target
        assert s.meta["level"] in (1, 2, 3, 4)


def test_levels_are_balanced_and_harder_levels_have_more_operations():
    samples = task.samples(40, seed=0)
    levels = [s.meta["level"] for s in samples]
    assert all(levels.count(level) == 10 for level in (1, 2, 3, 4))
    ops = {
        lvl: max(sum(s.meta["expression"].count(o) for o in "+-*") for s in samples if s.meta["level"] == lvl)
        for lvl in (1, 2, 3, 4)
    }
    assert ops[1] < ops[2] < ops[3] < ops[4]


def test_scoring_reads_marked_boxed_and_last_numbers():
    s = task.samples(1, seed=0)[0]
    t = s.target
    assert task.score(s, answer(f"Answer: {t}")).verdict == "ok"
    assert task.score(s, answer(f"steps 1 2 3\n**Answer:** {t:,}")).verdict == "ok"
    assert task.score(s, answer(f"so $\\boxed{{{t}}}$")).verdict == "ok"
    assert task.score(s, answer(f"first 7, then {t}")).verdict == "ok"
    assert task.score(s, answer(f"Answer: {t + 1}")).verdict == "wrong"
    # The marked answer wins over a later stray number.
    assert task.score(s, answer(f"Answer: {t}\n(checked 3 times)")).verdict == "ok"


def test_truncated_and_unparsable_answers_are_not_counted_as_wrong():
    s = task.samples(1, seed=0)[0]
    cut = task.score(s, answer("Let me think about 12 and", finish="length"))
    assert cut.verdict == "truncated" and cut.score == 0
    assert task.score(s, answer("I cannot say.")).verdict == "extraction_failed"
    # A marked answer given before the cut still counts.
    assert task.score(s, answer(f"Answer: {s.target} and more", finish="length")).verdict == "ok"
