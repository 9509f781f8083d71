"""ZebraLogic, AIME 2025 and MATH-500 from files in their published formats, scored end to end."""

import json
import sqlite3
from pathlib import Path

import pytest
from helpers import run_cli

import slmbench
from slmbench.client import Completion
from slmbench.config import ModelSpec
from slmbench.errors import SlmbenchError
from slmbench.store import Store
from slmbench.tasks import TASKS
from slmbench.tasks.math_equiv import equivalent, plain_value
from slmbench.testing.scripted import ScriptedServer

FIXTURES = Path(__file__).parent / "fixtures"
ZEBRA, AIME, MATH = FIXTURES / "zebralogic_grid_mode.jsonl", FIXTURES / "aime2025.jsonl", FIXTURES / "math500.jsonl"


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def evaluate(server, out, task, data, limit=50):
    model = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
    result = slmbench.evaluate([model], [task], limit=limit, out=out, data={task: str(data)})
    return result.models[0].tasks[task]


def zebra_gold(row):
    header, cells = row["solution"]["header"], row["solution"]["rows"]
    return json.dumps({f"House {r[0]}": dict(zip(header[1:], r[1:])) for r in cells})


def by_prompt(samples, answer):
    table = {s.messages[0]["content"]: answer(s) for s in samples}
    return lambda body: table[body["messages"][0]["content"]]


# -- loaders -----------------------------------------------------------------------------------


def test_zebralogic_rows_become_puzzles_with_their_solution_and_size_bucket():
    samples = TASKS["zebralogic"].samples(10, seed=0, data=str(ZEBRA))
    assert [s.id for s in samples] == [r["id"] for r in rows(ZEBRA)]
    first = samples[0]
    assert first.target.houses == 2 and first.meta["group"] == "puzzle-small" and first.meta["size"] == "2*2"
    assert first.messages[0]["content"].startswith(rows(ZEBRA)[0]["puzzle"])
    assert '"House 1": {"Name": "...", "Car": "..."}' in first.messages[0]["content"]
    assert samples[2].meta["group"] == "puzzle-medium"  # 4 houses x 3: (4!)^3 = 13,824


def test_zebralogic_copy_with_blanked_solutions_is_refused(tmp_path):
    row = rows(ZEBRA)[0]
    row["solution"]["rows"][0][1] = "___"
    bad = tmp_path / "hidden.jsonl"
    bad.write_text(json.dumps(row) + "\n")
    with pytest.raises(SlmbenchError, match="row 1 .*blanked out"):
        TASKS["zebralogic"].samples(10, seed=0, data=str(bad))


def test_aime_answers_must_be_integers_0_to_999(tmp_path):
    samples = TASKS["aime2025"].samples(30, seed=0, data=str(AIME))
    assert [(s.id, s.target) for s in samples] == [("1", "70"), ("3", "16")]
    assert samples[0].messages[0]["content"].endswith("within \\boxed{}.")
    bad = tmp_path / "aime.json"
    bad.write_text(json.dumps([{"question": "Q?", "answer": "1/2"}]))
    with pytest.raises(SlmbenchError, match=r"row 1 is not a AIME 2025 row \(answer '1/2' is not an integer"):
        TASKS["aime2025"].samples(30, seed=0, data=str(bad))


def test_missing_data_and_unreadable_files_are_one_line_errors(tmp_path):
    with pytest.raises(SlmbenchError, match="--data math500=PATH"):
        TASKS["math500"].samples(5, seed=0)
    with pytest.raises(SlmbenchError, match="cannot read MATH-500 data"):
        TASKS["math500"].samples(5, seed=0, data=str(tmp_path / "nope.jsonl"))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"problem": "x", "answer": "1"}\n{not json\n')
    with pytest.raises(SlmbenchError, match="line 2 is not JSON"):
        TASKS["math500"].samples(5, seed=0, data=str(broken))
    result = run_cli(
        "eval", "--task", "aime2025", "--data", f"aime2025={tmp_path / 'nope.jsonl'}", "--out", str(tmp_path)
    )
    assert result.returncode == 1 and result.stderr.startswith("error: cannot read AIME 2025 data")
    assert "Traceback" not in result.stderr


# -- equivalence ---------------------------------------------------------------------------------


def test_plain_numbers_compare_exactly():
    assert plain_value("1,234") == 1234 and plain_value("\\frac{3}{4}") == plain_value("0.75")
    assert plain_value("x = 12") == 12 and plain_value("12 \\text{ cm}") == 12
    assert plain_value("12x") is None and plain_value("\\sqrt{2}") is None and plain_value("12 - 5") is None
    assert equivalent("3/4", "\\dfrac{3}{4}") == (True, "exact")
    assert equivalent("10", "11") == (False, "exact")


def test_symbolic_equivalence_through_math_verify():
    assert equivalent("\\frac{\\sqrt{3}}{2}", "\\frac{\\sqrt3}{2}")[0]
    assert equivalent("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)")[0]
    assert equivalent("2\\sqrt{2}", "\\sqrt{8}")[0]
    assert equivalent("(-1, 5)", "(-1,5)")[0]
    assert not equivalent("(-1, 5)", "[-1, 5]")[0]
    assert not equivalent("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}")[0]


def test_a_hanging_symbolic_check_times_out_and_the_worker_recovers():
    same, how = equivalent("(10^{10^{10}})!", "1", timeout_s=1.0)  # sympy evaluates this forever
    assert (same, how) == (False, "symbolic check exceeded 1 s")
    assert equivalent("\\sqrt{4}", "2")[0]  # a fresh worker took over


def test_symbolic_checks_work_off_the_main_thread():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda k: equivalent(f"\\sqrt{{{k * k}}}", str(k))[0], range(2, 10)))
    assert found == [True] * 8


# -- the whole path --------------------------------------------------------------------------------


def test_zebralogic_oracle_100_and_shifted_grids_0(tmp_path):
    samples = TASKS["zebralogic"].samples(10, seed=0, data=str(ZEBRA))
    golds = {r["id"]: zebra_gold(r) for r in rows(ZEBRA)}
    with ScriptedServer(by_prompt(samples, lambda s: "```json\n" + golds[s.id] + "\n```")) as server:
        result = evaluate(server, tmp_path / "gold", "zebralogic", ZEBRA)
    assert result.metrics["accuracy"].value == 1.0 and result.metrics["accuracy"].n == 3
    assert result.metrics["cell_accuracy"].value == 1.0
    assert set(result.breakdown["group"]) == {"puzzle-small", "puzzle-medium"}

    def shifted(s):
        sol = s.target.solution
        return json.dumps({f"House {i + 1}": h for i, h in enumerate(sol[1:] + sol[:1])})

    with ScriptedServer(by_prompt(samples, shifted)) as server:
        result = evaluate(server, tmp_path / "wrong", "zebralogic", ZEBRA)
    assert result.metrics["accuracy"].value == 0.0 and result.counts["wrong"] == 3
    assert result.metrics["cell_accuracy"].value == 0.0  # every cell is in the wrong house


def test_math500_oracle_100_wrong_0_and_failure_kinds(tmp_path):
    samples = TASKS["math500"].samples(10, seed=0, data=str(MATH))
    solutions = {r["unique_id"]: r["solution"] for r in rows(MATH)}
    with ScriptedServer(by_prompt(samples, lambda s: solutions[s.id])) as server:
        result = evaluate(server, tmp_path / "gold", "math500", MATH)
    assert result.metrics["accuracy"].value == 1.0 and result.metrics["accuracy"].n == 4
    assert set(result.breakdown["level"]) == {"1", "2"}

    kinds = iter(["\\boxed{7}", "I cannot say.", ("The answer is \\frac{", "length"), "\\boxed{\\frac{1}{6}}"])
    with ScriptedServer(lambda body: next(kinds)) as server:
        result = evaluate(server, tmp_path / "bad", "math500", MATH)
    assert result.metrics["accuracy"].value == 0.0
    assert (result.counts["wrong"], result.counts["extraction_failed"], result.counts["truncated"]) == (2, 1, 1)


def test_aime_reasoning_content_is_counted_and_kept(tmp_path):
    samples = TASKS["aime2025"].samples(30, seed=0, data=str(AIME))
    reply = by_prompt(samples, lambda s: (f"\\boxed{{{s.target}}}", "stop", "Let me think... bases b > 9."))
    with ScriptedServer(reply) as server:
        result = evaluate(server, tmp_path, "aime2025", AIME)
    assert result.metrics["accuracy"].value == 1.0
    assert all(r.parts["think_blocks"] == 1 and r.reasoning.startswith("Let me think") for r in result.samples)
    # the reasoning is stored with the answer, so a cached rerun keeps it
    with ScriptedServer(lambda body: "unused", port=server.port) as server:  # same URL, same cache identity
        again = evaluate(server, tmp_path, "aime2025", AIME)
        assert server.chat_requests == 0
    assert [r.reasoning for r in again.samples] == [r.reasoning for r in result.samples]


def test_stores_from_before_the_reasoning_column_are_upgraded(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE responses (key TEXT PRIMARY KEY, run_id TEXT NOT NULL, model TEXT NOT NULL, request TEXT NOT NULL,"
        " text TEXT NOT NULL, finish_reason TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,"
        " latency_s REAL NOT NULL, attempts INTEGER NOT NULL, created REAL NOT NULL)"
    )
    db.execute("INSERT INTO responses VALUES ('k', 'r', 'm', '{}', 'old answer', 'stop', 1, 1, 0.1, 1, 0)")
    db.commit()
    db.close()
    store = Store(path)
    assert store.cached(["k"])["k"].text == "old answer"
    store.add_response("k2", "r", "m", b"{}", Completion("new", "stop", 1, 1, 0.1, 1, reasoning="hmm"))
    store.flush()
    assert store.cached(["k2"])["k2"].reasoning == "hmm"
    store.close()


def test_hub_rows_pages_through_the_datasets_server_api(monkeypatch):
    import http.server
    import threading
    import urllib.parse

    seen = []

    class RowsAPI(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            seen.append((query, self.headers.get("Authorization")))
            offset, length = int(query["offset"]), int(query["length"])
            page = [
                {"row_idx": i, "row": {"i": i}, "truncated_cells": []} for i in range(offset, min(offset + length, 250))
            ]
            body = json.dumps({"rows": page, "num_rows_total": 250}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RowsAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from slmbench.tasks import datafiles

        monkeypatch.setattr(datafiles, "ROWS_API", f"http://127.0.0.1:{server.server_port}/rows")
        monkeypatch.setenv("HF_TOKEN", "hf_secret")
        assert [r["i"] for r in datafiles.hub_rows("org/set", "default", "test")] == list(range(250))
        assert [q["offset"] for q, _ in seen] == ["0", "100", "200"] and seen[0][1] == "Bearer hf_secret"
        assert seen[0][0] == {
            "dataset": "org/set",
            "config": "default",
            "split": "test",
            "offset": "0",
            "length": "100",
        }
        seen.clear()
        assert len(datafiles.hub_rows("org/set", "default", "test", limit=30)) == 30 and len(seen) == 1
    finally:
        server.shutdown()
