"""The chat's logic without Chainlit: history trimming, answer cap, documents, JSON checks, errors."""

from __future__ import annotations

import openai
import pytest

from slmbench.chat.engine import (
    AnswerStats,
    ChatOptions,
    check_json,
    document_limit,
    document_text,
    explain_error,
    fit_history,
    long_document_chunks,
    passages,
    turns_of,
)
from slmbench.errors import SlmbenchError


class Words:
    """One token per word, 8 per message (no server)."""

    source = "words"
    exact = True

    def count(self, text: str) -> int:
        return len(text.split())

    def count_messages(self, messages):
        return sum(self.count(m["content"]) + 8 for m in messages)


def fit(history, current, max_context, max_tokens, conclusions=()):
    return fit_history("be brief", history, current, Words(), max_context, max_tokens, conclusions)


def turn(i):
    return [{"role": "user", "content": f"question {i} " * 5}, {"role": "assistant", "content": f"answer {i} " * 5}]


def test_history_keeps_the_newest_turns_that_fit_through_the_conversation_memory():
    history = turn(1) + turn(2) + turn(3)  # 18 tokens each message with the template's 8
    current = [{"role": "user", "content": "now"}]
    fitted = fit(history, current, max_context=200, max_tokens=100)
    # 100 for the answer; system 10 + current 9 + 2 turns x 36 = 91 <= 100: the two newest turns
    assert fitted.messages[1:] == turn(2) + turn(3) + current and fitted.dropped == 1
    assert fitted.messages[0] == {"role": "system", "content": "be brief"} and fitted.max_tokens == 100
    fitted = fit(history, current, max_context=180, max_tokens=90)  # room for one turn only
    assert fitted.messages[1:] == turn(3) + current and fitted.dropped == 2
    assert fit(history, current, max_context=None, max_tokens=10**6).messages[1:] == history + current


def test_document_summaries_are_conclusions_kept_longer_than_turns():
    history = turn(1) + turn(2)
    fitted = fit(history, [{"role": "user", "content": "now"}], max_context=200, max_tokens=100,
                 conclusions=["Summary of the document d.txt: it rains."])  # fmt: skip
    assert "Key conclusions so far:\n- Summary of the document d.txt: it rains." in fitted.messages[0]["content"]
    assert fitted.messages[1:3] == turn(2) and fitted.dropped == 1


def test_turns_join_user_messages_before_one_answer():
    history = [{"role": "user", "content": "doc"}, {"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
               {"role": "user", "content": "failed"}, {"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]  # fmt: skip
    assert turns_of(history) == [("doc\n\nq1", "a1"), ("failed\n\nq2", "a2")]


def test_answer_cap_is_lowered_to_the_context_and_overflow_is_a_sentence():
    current = [{"role": "user", "content": "word " * 50}]
    fitted = fit([], current, max_context=200, max_tokens=10_000)  # room kept: half the context
    assert fitted.max_tokens == 200 - fitted.prompt_tokens
    with pytest.raises(SlmbenchError, match="exceeds the model's context of 100 tokens"):
        fit([], current, max_context=100, max_tokens=40)


def test_passages_most_relevant_first_within_budget():
    text = "\n\n".join(
        f"Paragraph {i} is about {'lighthouses' if i == 7 else 'farming'} and more words here." for i in range(40)
    )
    chunks = long_document_chunks(text, Words(), 256)
    assert len(chunks) > 2
    chosen = passages(chunks, "where are the lighthouses?", 1000)
    assert "lighthouses" in chosen[0].text and all(c.tokens <= 64 for c in chunks)
    assert passages(chunks, "where are the lighthouses?", 1) == []


def test_settings_request_params_and_bad_schema():
    assert ChatOptions(json_mode=True).request_params()["response_format"] == {"type": "json_object"}
    assert "response_format" not in ChatOptions().request_params()
    with pytest.raises(SlmbenchError, match="not JSON"):
        ChatOptions(json_mode=True, json_schema="{nope").request_params()
    with pytest.raises(SlmbenchError, match="not a valid schema"):
        ChatOptions(json_mode=True, json_schema='{"type": "nonsense"}').request_params()


def test_check_json_shows_parsed_json_or_the_error():
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    assert check_json('{"age": 3}', schema) == (
        True,
        'Valid JSON, matches the schema:\n\n```json\n{\n  "age": 3\n}\n```',
    )
    ok, shown = check_json('{"age": "three"}', schema)
    assert not ok and "at age: 'three' is not of type 'integer'" in shown
    ok, shown = check_json("not json", None)
    assert not ok and shown.startswith("The answer is not valid JSON")


def test_documents_txt_pdf_docx_and_bad_files(tmp_path):
    import docx
    from pypdf import PdfWriter

    (tmp_path / "upload-1234").write_text("# Title\nbody")  # Chainlit's own name for the upload
    assert document_text(tmp_path / "upload-1234", "a.md") == "# Title\nbody"
    d = docx.Document()
    d.add_paragraph("Paragraph one.")
    d.save(tmp_path / "b.docx")
    assert document_text(tmp_path / "b.docx", "b.docx") == "Paragraph one."
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    with open(tmp_path / "c.pdf", "wb") as f:
        writer.write(f)
    with pytest.raises(SlmbenchError, match="c.pdf has no extractable text"):
        document_text(tmp_path / "c.pdf", "c.pdf")
    (tmp_path / "bad.pdf").write_text("not a pdf")
    with pytest.raises(SlmbenchError, match="bad.pdf"):
        document_text(tmp_path / "bad.pdf", "bad.pdf")
    assert document_limit(8192, 512) == int((8192 - 512) * 0.6) and document_limit(None, 512) is None


def test_errors_read_as_sentences():
    import httpx

    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    down = explain_error(openai.APIConnectionError(request=request), "m", "http://127.0.0.1:9/v1")
    assert down.startswith("Cannot reach the model server for m at http://127.0.0.1:9/v1")
    response = httpx.Response(
        400, request=request, json={"error": {"message": "the request exceeds the available context size"}}
    )
    overflow = openai.BadRequestError(
        "bad", response=response, body={"error": {"message": "the request exceeds the available context size"}}
    )
    assert explain_error(overflow, "m", "u").startswith("The conversation does not fit the model's context")


def test_stats_line():
    stats = AnswerStats(prompt_tokens=12, completion_tokens=11, ttft_s=0.25, generation_s=2.0, dropped=2)
    assert (
        stats.line()
        == "12 prompt tokens · 11 answer tokens · TTFT 0.25 s · 5.0 tokens/s · 2 earlier turns left out to fit the context"
    )
