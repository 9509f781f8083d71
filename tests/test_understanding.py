"""Text understanding: generated documents, scoring, oracle runs and the summarisation loaders."""

import json
from pathlib import Path

import pytest
from helpers import eval_error

import slmbench
from slmbench.client import Completion
from slmbench.config import ModelSpec
from slmbench.errors import SlmbenchError
from slmbench.metrics.text import contains_phrase
from slmbench.tasks import datafiles as hub
from slmbench.tasks.understanding import CHARS_PER_TOKEN, SUBTASKS, Understanding, load_summaries
from slmbench.testing.scripted import ScriptedServer

FIXTURES = Path(__file__).parent / "fixtures"
task = Understanding()


def answer(text, finish="stop"):
    return Completion(text, finish, 5, 5, 0.1, 1)


def pick(samples, subtask, kind=None):
    return next(s for s in samples if s.meta["subtask"] == subtask and kind in (None, s.meta["kind"]))


def gold(sample):
    if sample.meta["subtask"] == "extract":
        return json.dumps(sample.target)
    if sample.meta["subtask"] == "qa":
        return sample.target
    return sample.target["summary"]


def test_every_document_is_asked_three_ways_seeded_and_states_its_facts():
    samples = task.samples(8, seed=0)
    assert len(samples) == 24 and {s.meta["subtask"] for s in samples} == set(SUBTASKS)
    assert {s.meta["kind"] for s in samples} == {"report", "minutes", "notice", "incident"}
    assert task.samples(8, seed=0) == samples and task.samples(8, seed=1) != samples
    for s in samples:
        doc = s.messages[0]["content"]
        if s.meta["subtask"] == "qa":
            assert s.target in doc  # span answers
        if s.meta["subtask"] == "summarise":
            assert all(contains_phrase(doc, f) for f in s.target["key_facts"])
            assert all(contains_phrase(s.target["summary"], f) for f in s.target["key_facts"])
    # About 1K-3K tokens by default, and the context the runner asks for fits the longest.
    sizes = [len(s.messages[0]["content"]) / CHARS_PER_TOKEN for s in samples]
    assert 1000 <= min(sizes) and max(sizes) < 3600 and task.context_tokens >= max(sizes)


def test_long_documents_are_opt_in():
    samples = task.samples(1, seed=0, data="tokens:20000")
    assert len(samples[0].messages[0]["content"]) / CHARS_PER_TOKEN >= 20000
    assert task.context_tokens > 20000
    task.samples(1, seed=0)
    assert task.context_tokens < 4000
    for bad in ("tokens:lots", "tokens:10"):
        with pytest.raises(SlmbenchError, match="tokens:N"):
            task.samples(1, seed=0, data=bad)


def test_scoring_each_subtask():
    samples = task.samples(4, seed=0)
    extract, qa, summary = (pick(samples, s, "report") for s in SUBTASKS)
    v = task.score(extract, answer(f"```json\n{json.dumps(extract.target)}\n```"))
    assert v.verdict == "ok" and v.parts == {"f1": 1.0, "precision": 1.0, "recall": 1.0}
    half = {k: v for i, (k, v) in enumerate(extract.target.items()) if i < 3}
    v = task.score(extract, answer(json.dumps(half)))
    assert v.verdict == "wrong" and v.parts["precision"] == 1.0 and v.parts["recall"] == 0.5
    assert task.score(extract, answer("The company is doing well.")).verdict == "extraction_failed"
    assert task.score(extract, answer('{"company": "Nor', "length")).verdict == "truncated"

    v = task.score(qa, answer(f"{qa.target}."))
    assert v.verdict == "ok" and v.parts == {"f1": 1.0, "em": 1.0}
    v = task.score(qa, answer(f"It is {qa.target}"))
    assert v.verdict == "wrong" and 0 < v.parts["f1"] < 1 and v.parts["em"] == 0.0

    v = task.score(summary, answer(summary.target["summary"]))
    assert v.verdict == "ok" and v.parts["rougeL"] == 1.0 and v.parts["fact_recall"] == 1.0
    partial = summary.target["summary"].split(". ")[0]  # the first sentence only
    v = task.score(summary, answer(partial))
    assert v.verdict == "wrong" and 0 < v.parts["fact_recall"] < 1 and 0 < v.parts["rougeL"] < 1
    assert task.score(summary, answer("")).verdict == "extraction_failed"
    assert task.score(summary, answer("", "length")).verdict == "truncated"


def run_understanding(server, out, limit=4, data=None):
    model = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
    config = slmbench.config.Config(eval={"data": {"understanding": data}} if data else {})
    results = slmbench.evaluate([model], ["understanding"], limit=limit, out=out, config=config)
    return results.models[0].tasks["understanding"]


def gold_server(samples):
    by_prompt = {s.messages[0]["content"]: gold(s) for s in samples}
    return lambda body: by_prompt[body["messages"][-1]["content"]]


def test_oracle_scores_100_on_every_metric(tmp_path):
    with ScriptedServer(gold_server(task.samples(4, seed=0))) as server:
        result = run_understanding(server, tmp_path)
    assert result.counts["ok"] == 12 and result.headline == "rougeL"
    for name in ("rougeL", "rouge1", "rouge2", "fact_recall", "extraction_f1", "extraction_precision",
                 "extraction_recall", "qa_f1", "qa_em"):  # fmt: skip
        assert result.metrics[name].value == 1.0 and result.metrics[name].n == 4, name
    assert set(result.breakdown["subtask"]) == set(SUBTASKS)


def test_wrong_and_malformed_answers_score_zero_with_the_right_kinds(tmp_path):
    with ScriptedServer(lambda body: '{"unrelated": "zzz"}') as server:
        wrong = run_understanding(server, tmp_path / "a")
    # JSON is a wrong extraction; as a QA answer or summary it shares nothing with the gold.
    assert wrong.counts["wrong"] == 12
    for name in ("rougeL", "fact_recall", "extraction_f1", "qa_f1", "qa_em"):
        assert wrong.metrics[name].value == 0.0, name
    with ScriptedServer(lambda body: "") as server:
        empty = run_understanding(server, tmp_path / "b")
    assert empty.counts["extraction_failed"] == 12 and empty.metrics["rougeL"].value == 0.0


def test_summaries_from_cnn_dailymail_csv_and_govreport_jsonl():
    cnn = load_summaries(str(FIXTURES / "cnn_dailymail_sample.csv"), 10)
    assert len(cnn) == 2 and cnn[0].id == "0001d1afc246a7964130f43ae940af6bc6c57f01"
    assert "custard tarts" in cnn[0].messages[0]["content"] and cnn[0].target["summary"].startswith("Lisbon bakery")
    gov = load_summaries(str(FIXTURES / "govreport_sample.jsonl"), 1)
    assert len(gov) == 1 and "40 percent" in gov[0].target["summary"]
    listed = load_summaries(str(FIXTURES / "govreport_sample.jsonl"), 2)[1]
    assert listed.target["summary"] == "The rural broadband program was created in 2010.\nIt now serves 12 states."
    v = task.score(cnn[0], answer(cnn[0].target["summary"]))
    assert v.verdict == "ok" and v.parts["rougeL"] == 1.0 and "fact_recall" not in v.parts


def test_hub_rows_come_through_the_dataset_viewer_api(monkeypatch):
    import http.server
    import threading

    seen = []

    class RowsAPI(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # the stdlib's name
            seen.append(self.path)
            rows = [{"row_idx": 0, "row": {"id": "abc", "article": "A long article.", "highlights": "Short."}}]
            body = json.dumps({"rows": rows}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RowsAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(hub, "ROWS_API", f"http://127.0.0.1:{server.server_port}/rows")
    try:
        samples = task.samples(3, seed=0, data="hub")
    finally:
        server.shutdown()
    assert len(samples) == 1 and samples[0].target == {"summary": "Short."}
    assert "dataset=abisee%2Fcnn_dailymail" in seen[0] and "config=3.0.0" in seen[0] and "split=test" in seen[0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("/nonexistent/cnn.csv", "cannot read summarisation data /nonexistent/cnn.csv"),
        ("hub:wikipedia", "unknown set 'wikipedia'"),
        (str(FIXTURES / "ifeval_sample.jsonl"), "has no document"),
    ],
)
def test_bad_data_is_one_line_error(data, message):
    with pytest.raises(SlmbenchError, match=message):
        task.samples(2, seed=0, data=data)


def test_cli_bad_data_path_is_one_line_no_traceback(tmp_path):
    assert eval_error(tmp_path, "understanding", "/nonexistent.jsonl").startswith(
        "error: cannot read summarisation data /nonexistent.jsonl"
    )
