"""The one sentence splitter (slmbench.sentences): Latin, CJK and Arabic ends, abbreviations, clauses."""

import pytest

from slmbench.sentences import clause_spans, last_sentence, sentence_spans, split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        # issue 17's cases (the counts IFEval's punkt gives)
        ("The U.S. Army arrived. It left.", ["The U.S. Army arrived.", "It left."]),
        ("We met at 5 p.m. yesterday. It was fun.", ["We met at 5 p.m. yesterday.", "It was fun."]),
        ("I like apples, e.g. Granny Smith. They are tart.", ["I like apples, e.g. Granny Smith.", "They are tart."]),
        ("我们今天去公园。天气很好！你去吗？", ["我们今天去公园。", "天气很好！", "你去吗？"]),
        # abbreviations, decimals, quotes, ellipses
        ("Mr. Smith paid 3.5 dollars. Dr. Lee paid 4.", ["Mr. Smith paid 3.5 dollars.", "Dr. Lee paid 4."]),
        ('He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
        ("Wait... what? Yes!", ["Wait... what?", "Yes!"]),
        ("他说：“好的。”然后走了。", ["他说：“好的。”", "然后走了。"]),
        # Arabic question mark and Urdu full stop; Devanagari danda
        ("هل عاد؟ نعم، عاد إلى البيت۔ شكرا", ["هل عاد؟", "نعم، عاد إلى البيت۔", "شكرا"]),
        ("वह घर गया। फिर सो गया।", ["वह घर गया।", "फिर सो गया।"]),
        # mixed scripts in one paragraph
        (
            "Hello world. 我们今天去公园。天气很好！ Then home.",
            ["Hello world.", "我们今天去公园。", "天气很好！", "Then home."],
        ),
        ("", []),
        ("   ", []),
    ],
)
def test_sentences(text, sentences):
    assert split_sentences(text) == sentences


def test_spans_are_offsets_into_the_text_whitespace_trimmed():
    text = "  前言。 First one.  Second one!\n"
    spans = list(sentence_spans(text))
    assert [text[s:e] for s, e in spans] == ["前言。", "First one.", "Second one!"]
    inner = list(sentence_spans(text, 5, 17))  # a window: offsets still index the whole text
    assert [text[s:e] for s, e in inner] == ["First one."]
    assert last_sentence("So 5 + 7 = 12. Done") == "Done" and last_sentence("") == ""


def test_clauses_cut_at_latin_and_cjk_commas_but_not_inside_numbers():
    text = "一二三，四五六；七八九：十、十一。Yes, no; maybe: 1,234 at 10:30\nnext line"
    assert [text[s:e] for s, e in clause_spans(text)] == [
        "一二三，", "四五六；", "七八九：", "十、", "十一。Yes,", "no;", "maybe:", "1,234 at 10:30", "next line"
    ]  # fmt: skip
