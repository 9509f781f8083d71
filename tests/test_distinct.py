"""Generated tasks never put the same prompt in twice: n counts distinct prompts only."""

import orjson
import pytest

from slmbench.errors import SlmbenchError
from slmbench.runner import distinct_samples
from slmbench.tasks import TASKS
from slmbench.tasks.arithmetic import LEVEL_1_EXPRESSIONS, Arithmetic


def keys(samples):
    return [orjson.dumps([s.messages, s.params, s.meta], option=orjson.OPT_SORT_KEYS, default=str) for s in samples]


def prompts(samples):
    return [orjson.dumps([s.messages, s.params], option=orjson.OPT_SORT_KEYS) for s in samples]


def test_arithmetic_makes_its_maximum_all_distinct_and_refuses_one_more():
    task = Arithmetic()
    assert LEVEL_1_EXPRESSIONS == 1240  # (20 x 20) sums + (20 x 20) differences + 20 x 11 x 2 products
    samples = task.samples(task.max_distinct, 0)
    assert len(set(keys(samples))) == len(samples) == 4960
    with pytest.raises(SlmbenchError, match=r"at most 4,960 distinct samples.*--limit 4960 or less"):
        task.samples(4961, 0)


def test_arithmetic_keeps_extending_the_same_sequence():
    task = Arithmetic()
    small, large = task.samples(40, 3), task.samples(2000, 3)
    assert keys(small) == keys(large)[:40]


@pytest.mark.parametrize("name", ["instruction", "reasoning", "structured", "understanding", "longcontext"])
def test_other_generators_give_distinct_prompts(name):
    limit = {"instruction": 600, "reasoning": 120, "structured": 200, "understanding": 40, "longcontext": 60}[name]
    samples = distinct_samples(TASKS[name], limit, 0)
    assert len(samples) == len(TASKS[name].samples(limit, 0))  # as many as the task makes for this limit
    assert len(set(keys(samples))) == len(samples)
    if name == "structured":  # one request asked in prompt mode and scored again in repair mode
        assert len(set(prompts(samples))) == len(samples) * 2 // 3
    else:
        assert len(set(prompts(samples))) == len(samples)


def test_a_generator_with_repeats_has_them_replaced_not_counted():
    raw = TASKS["instruction"].samples(600, 0)
    assert len(set(keys(raw))) < len(raw)  # the generator alone repeats prompts
    fixed = distinct_samples(TASKS["instruction"], 600, 0)
    assert len(fixed) == 600 and len(set(keys(fixed))) == 600
    first = next(i for i, k in enumerate(keys(raw)) if keys(raw).index(k) != i)
    assert keys(fixed)[:first] == keys(raw)[:first]  # up to the first repeat: the same samples


class _Few:
    """A generator that can only make 5 distinct prompts."""

    name = "few"

    def samples(self, limit, seed, data=None):
        from slmbench.tasks import Sample

        return [
            Sample(id=str(i), messages=[{"role": "user", "content": f"q{i % 5}"}], target=None) for i in range(limit)
        ]


def test_a_limit_beyond_the_distinct_prompts_is_refused_naming_the_most():
    assert len(distinct_samples(_Few(), 5, 0)) == 5
    with pytest.raises(SlmbenchError, match="only 5 distinct samples of the 8 asked"):
        distinct_samples(_Few(), 8, 0)
