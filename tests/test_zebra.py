import dataclasses
import itertools
import json
import time

import pytest

from slmbench.tasks import zebra
from slmbench.tasks.zebra import Puzzle, count_solutions, difficulty_bucket, generate, holds, prompt, score

SIZES = [(2, 2), (2, 6), (3, 3), (4, 4), (5, 3), (6, 2), (6, 6)]


def grid_json(solution, **dump):
    return json.dumps({f"House {h}": house for h, house in enumerate(solution, 1)}, **dump)


def test_same_seed_same_puzzle():
    for n, m in [(3, 3), (6, 6)]:
        a, b = generate(n, m, seed=7), generate(n, m, seed=7)
        assert a.clues == b.clues and a.solution == b.solution and a.constraints == b.constraints
        assert a == b
    assert generate(5, 5, seed=1).clues != generate(5, 5, seed=2).clues


def test_shape():
    p = generate(4, 5, seed=0)
    assert p.houses == 4 and len(p.attributes) == 5 and len(p.solution) == 4
    assert "name" in p.attributes
    for attribute, values in p.attributes.items():
        assert len(values) == 4 and len(set(values)) == 4
        assert sorted(h[attribute] for h in p.solution) == sorted(values)
    assert len(p.clues) == len(p.constraints)


@pytest.mark.parametrize("n,m", SIZES)
def test_generated_puzzles_have_exactly_one_solution_satisfying_every_clue(n, m):
    for seed in range(4):
        p = generate(n, m, seed)
        assert count_solutions(p, limit=5) == 1
        assert all(holds(c, p.solution) for c in p.constraints)
        assert all(text.endswith(".") and text[0].isupper() for text in p.clues)


def test_every_kept_clue_is_critical_and_removing_one_is_detected():
    p = generate(4, 4, seed=3)
    critical = None
    for i in range(len(p.constraints)):
        rest = p.constraints[:i] + p.constraints[i + 1 :]
        if count_solutions(rest, attributes=p.attributes) >= 2:
            critical = i
            break
    assert critical is not None
    weaker = dataclasses.replace(p, constraints=p.constraints[:critical] + p.constraints[critical + 1 :])
    assert count_solutions(weaker) == 2  # counting stops at the limit
    assert count_solutions(weaker, limit=10) >= 2
    # The reduction leaves a minimal set: every clue is critical.
    for i in range(len(p.constraints)):
        assert count_solutions(p.constraints[:i] + p.constraints[i + 1 :], attributes=p.attributes) >= 2


def test_count_solutions_unconstrained_and_needs_attributes():
    attrs = {"name": ["A", "B"], "color": ["red", "blue"]}
    assert count_solutions([], attributes=attrs, limit=100) == 4  # (2!)^2
    assert count_solutions([("found_at", ("name", "A"), 1)], attributes=attrs, limit=100) == 2
    assert (
        count_solutions(
            [("found_at", ("name", "A"), 1), ("same_house", ("color", "red"), ("name", "B"))], attributes=attrs
        )
        == 1
    )
    with pytest.raises(ValueError):
        count_solutions([])


def test_clue_semantics():
    sol = [{"name": "A", "c": "x"}, {"name": "B", "c": "y"}, {"name": "C", "c": "z"}, {"name": "D", "c": "w"}]
    A, B, C, D = (("name", v) for v in "ABCD")
    assert holds(("found_at", B, 2), sol) and not holds(("found_at", B, 1), sol)
    assert holds(("not_at", B, 1), sol)
    assert holds(("same_house", A, ("c", "x")), sol)
    assert holds(("left_of", A, B), sol) and not holds(("left_of", B, A), sol) and not holds(("left_of", A, C), sol)
    assert holds(("right_of", B, A), sol)
    assert holds(("next_to", C, B), sol) and not holds(("next_to", A, C), sol)
    assert holds(("somewhere_left", A, D), sol) and holds(("somewhere_right", D, B), sol)
    assert holds(("one_between", C, A), sol) and holds(("two_between", A, D), sol)
    # SAT encoding agrees with holds(): each clue type alone on a 4x2 grid.
    attrs = {"name": list("ABCD"), "c": list("xyzw")}
    for clue in [("left_of", A, B), ("one_between", C, A), ("two_between", A, D), ("somewhere_left", A, D)]:
        cnf_sols = count_solutions([clue], attributes=attrs, limit=10**6)
        brute = (
            sum(holds(clue, [{"name": p[i], "c": "xyzw"[i]} for i in range(4)]) for p in itertools.permutations("ABCD"))
            * 24
        )
        assert cnf_sols == brute


def test_difficulty_buckets():
    assert difficulty_bucket(999) == "small" and difficulty_bucket(10**3) == "medium"
    assert difficulty_bucket(10**6 - 1) == "medium" and difficulty_bucket(10**6) == "large"
    assert difficulty_bucket(10**10 - 1) == "large" and difficulty_bucket(10**10) == "x-large"
    assert generate(2, 2, 0).difficulty() == "small"  # 4
    assert generate(3, 3, 0).difficulty() == "small"  # 216
    assert generate(3, 4, 0).difficulty() == "medium"  # 1296
    assert generate(5, 3, 0).difficulty() == "large"  # 1.7e6
    assert generate(4, 6, 0).difficulty() == "large"  # 1.9e8
    assert generate(5, 5, 0).difficulty() == "x-large"  # 2.5e10
    p = generate(6, 6, 0)
    assert p.log10_search_space() == pytest.approx(6 * 2.857332496431268)


def test_generate_rejects_bad_sizes():
    for n, m in [(1, 3), (7, 3), (3, 1), (3, 7)]:
        with pytest.raises(ValueError):
            generate(n, m, 0)


def test_6x6_generation_is_fast():
    start = time.perf_counter()
    for seed in range(3):
        generate(6, 6, seed)
    assert (time.perf_counter() - start) / 3 < 2.0


def test_prompt_lists_attributes_clues_and_format():
    p = generate(3, 3, 1)
    text = prompt(p)
    for attribute, values in p.attributes.items():
        assert attribute in text and all(v in text for v in values)
    assert all(c in text for c in p.clues)
    assert '"House 1"' in text and "JSON" in text


# --- scoring ---

P = generate(4, 3, 5)
CELLS = 12


def test_score_correct():
    assert score(P, grid_json(P.solution)) == ("ok", 1.0, 1.0, "all cells correct")


def test_score_partially_correct():
    sol = [dict(h) for h in P.solution]
    sol[0]["name"], sol[1]["name"] = sol[1]["name"], sol[0]["name"]
    verdict, correct, acc, why = score(P, grid_json(sol))
    assert (verdict, correct) == ("wrong", 0.0) and acc == pytest.approx(10 / CELLS)
    assert "10/12" in why


def test_score_fenced_and_prose():
    fenced = f"Let me think... {{not json}}.\n```json\n{grid_json(P.solution, indent=2)}\n```\nDone."
    assert score(P, fenced)[:3] == ("ok", 1.0, 1.0)
    plain_fence = f"```\n{grid_json(P.solution)}\n```"
    assert score(P, plain_fence)[0] == "ok"
    prose = f"So the answer is {grid_json(P.solution)} and that's final."
    assert score(P, prose)[0] == "ok"
    # The last {...} block wins over an earlier draft.
    draft = [dict(h) for h in P.solution]
    draft[0], draft[1] = draft[1], draft[0]
    assert score(P, f"Draft: {grid_json(draft)}\nFinal: {grid_json(P.solution)}")[0] == "ok"
    assert score(P, f"Draft: {grid_json(P.solution)}\nFinal: {grid_json(draft)}")[0] == "wrong"


def test_score_malformed():
    for text in ["", "I don't know", "{House 1: broken", '{"answer": 3}', "[1, 2, 3]", None]:
        verdict, correct, acc, _ = score(P, text)
        assert (verdict, correct, acc) == ("extraction_failed", 0.0, 0.0)


def test_score_wrong_house_count_and_missing_keys():
    short = {f"House {h}": house for h, house in enumerate(P.solution[:3], 1)}
    verdict, correct, acc, _ = score(P, json.dumps(short))
    assert (verdict, correct) == ("wrong", 0.0) and acc == pytest.approx(9 / CELLS)
    missing = {f"House {h}": {k: v for k, v in house.items() if k != "name"} for h, house in enumerate(P.solution, 1)}
    assert score(P, json.dumps(missing))[2] == pytest.approx(8 / CELLS)
    odd = {"House 1": "not a dict", "House 2": dict(P.solution[1]), "House 9": {"x": 1}}
    verdict, _, acc, _ = score(P, json.dumps(odd))
    assert verdict == "wrong" and acc == pytest.approx(3 / CELLS)
    nulls = {f"House {h}": {a: None for a in P.attributes} for h in range(1, 5)}
    assert score(P, json.dumps(nulls))[:3] == ("wrong", 0.0, 0.0)


def test_score_case_and_whitespace_insensitive():
    shouty = {
        f"house {h}": {f" {a.upper()} ": f"  {v.upper()} " for a, v in house.items()}
        for h, house in enumerate(P.solution, 1)
    }
    assert score(P, json.dumps(shouty))[:3] == ("ok", 1.0, 1.0)


def test_score_other_grid_shapes():
    assert score(P, json.dumps({"solution": {str(h): d for h, d in enumerate(P.solution, 1)}}))[0] == "ok"
    assert score(P, json.dumps(P.solution))[0] == "ok"  # a list of houses, in order


def test_puzzle_is_a_frozen_dataclass():
    with pytest.raises(dataclasses.FrozenInstanceError):
        P.houses = 3  # type: ignore[misc]
    assert isinstance(P, Puzzle) and zebra.ORDINALS[0] == "first"
