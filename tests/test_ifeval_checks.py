"""IFEval's 25 instruction checkers: IFEval semantics on hand-written responses, offline."""

import random
import re

import pytest

from slmbench.tasks.ifeval_checks import (
    CHECKERS,
    CONFLICTS,
    capital_words,
    check_loose,
    check_strict,
    count_words,
    loose_variants,
    split_sentences,
    word_tokens,
)

IDS = [
    "keywords:existence",
    "keywords:frequency",
    "keywords:forbidden_words",
    "keywords:letter_frequency",
    "language:response_language",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:number_words",
    "length_constraints:nth_paragraph_first_word",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:number_bullet_lists",
    "detectable_format:constrained_response",
    "detectable_format:number_highlighted_sections",
    "detectable_format:multiple_sections",
    "detectable_format:json_format",
    "detectable_format:title",
    "combination:two_responses",
    "combination:repeat_prompt",
    "startend:end_checker",
    "startend:quotation",
    "change_case:capital_word_frequency",
    "change_case:english_capital",
    "change_case:english_lowercase",
    "punctuation:no_comma",
]

ENGLISH = "The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden barn."
FRENCH = "Le renard brun rapide saute par-dessus le chien paresseux pendant que le fermier regarde depuis la grange."
GERMAN = "Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer aus der alten Scheune zuschaut."
JAPANESE = "今日はとても良い天気ですね。公園を散歩して、友達と一緒にお茶を飲みました。"


def strict(cid: str, response: str, **kwargs) -> bool:
    return check_strict(cid, response, kwargs, "a prompt")


def loose(cid: str, response: str, **kwargs) -> bool:
    return check_loose(cid, response, kwargs, "a prompt")


# --------------------------------------------------------------------------- registry


def test_registry_has_exactly_ifevals_25_ids():
    assert sorted(CHECKERS) == sorted(IDS)
    assert all(CHECKERS[cid].id == cid for cid in IDS)


def test_conflicts_are_symmetric_reflexive_and_cover_every_id():
    assert set(CONFLICTS) == set(IDS)
    for cid, others in CONFLICTS.items():
        assert cid in others
        assert others <= set(IDS)
        for other in others:
            assert cid in CONFLICTS[other], (cid, other)


def test_conflicts_follow_ifeval_rules():
    assert CONFLICTS["detectable_format:constrained_response"] == set(IDS)
    assert CONFLICTS["detectable_format:json_format"] == set(IDS) - {"keywords:forbidden_words", "keywords:existence"}
    assert "combination:repeat_prompt" not in CONFLICTS["punctuation:no_comma"]
    assert "language:response_language" in CONFLICTS["keywords:existence"]
    assert "startend:quotation" in CONFLICTS["detectable_format:title"]
    assert "length_constraints:number_sentences" in CONFLICTS["length_constraints:number_paragraphs"]
    assert "keywords:letter_frequency" not in CONFLICTS["punctuation:no_comma"]


@pytest.mark.parametrize("cid", IDS)
def test_describe_of_sampled_kwargs_is_a_sentence_and_sampling_is_seeded(cid):
    checker = CHECKERS[cid]
    for seed in range(20):
        kwargs = checker.sample_kwargs(random.Random(seed))
        assert kwargs == checker.sample_kwargs(random.Random(seed))
        assert all(v is not None for v in kwargs.values())
        text = checker.describe(kwargs)
        assert isinstance(text, str) and text.strip() == text and text[0].isupper() and len(text.split()) >= 4
        assert "{" not in text
        for name, value in kwargs.items():
            if isinstance(value, (int, str)) and name != "language":  # the language is named, not coded
                assert str(value).lower() in text.lower(), (value, text)
    if "language" in kwargs:
        assert "language" in text
    draws = [checker.sample_kwargs(random.Random(seed)) for seed in range(20)]
    if draws[0]:
        assert len({repr(d) for d in draws}) > 1


def test_sampled_kwargs_use_ifeval_names_and_satisfiable_values():
    rng = random.Random(7)
    for _ in range(200):
        kw = CHECKERS["length_constraints:nth_paragraph_first_word"].sample_kwargs(rng)
        assert set(kw) == {"num_paragraphs", "nth_paragraph", "first_word"}
        assert 1 <= kw["nth_paragraph"] <= kw["num_paragraphs"] <= 5
        kw = CHECKERS["length_constraints:number_sentences"].sample_kwargs(rng)
        assert set(kw) == {"num_sentences", "relation"} and not (
            kw["relation"] == "less than" and kw["num_sentences"] < 2
        )
        kw = CHECKERS["keywords:letter_frequency"].sample_kwargs(rng)
        assert set(kw) == {"letter", "let_frequency", "let_relation"} and re.fullmatch("[a-z]", kw["letter"])
    assert CHECKERS["combination:repeat_prompt"].sample_kwargs(rng) == {}  # the caller fills prompt_to_repeat


def test_describe_phrases_as_ifeval():
    assert CHECKERS["keywords:existence"].describe({"keywords": ["river", "garden"]}) == (
        "Include keywords ['garden', 'river'] in the response."
    )
    assert CHECKERS["language:response_language"].describe({"language": "fr"}) == (
        "Your ENTIRE response should be in French language, no other language is allowed."
    )
    assert CHECKERS["length_constraints:number_words"].describe({"num_words": 300, "relation": "at least"}) == (
        "Answer with at least 300 words."
    )
    assert CHECKERS["detectable_format:constrained_response"].describe({}) == (
        "Answer with one of the following options: ('My answer is yes.', 'My answer is no.', 'My answer is maybe.')"
    )


def test_unknown_id_and_missing_kwargs_raise():
    with pytest.raises(ValueError, match="unknown"):
        strict("keywords:nope", "text")
    with pytest.raises(ValueError, match="keyword"):
        strict("keywords:frequency", "text", keyword=None, frequency=2, relation="at least")
    with pytest.raises(ValueError, match="prompt_to_repeat"):
        strict("combination:repeat_prompt", "text")
    with pytest.raises(ValueError, match="relation"):
        strict("length_constraints:number_words", "text", num_words=3, relation="at most")


def test_none_valued_kwargs_like_ifeval_jsonl_are_ignored():
    kwargs = {name: None for name in ("num_highlights", "relation", "language", "keywords", "prompt_to_repeat")}
    assert check_strict("punctuation:no_comma", "No commas here.", kwargs, "p")
    assert check_strict(
        "detectable_format:number_highlighted_sections", "*one* and *two*", {**kwargs, "num_highlights": 2}, "p"
    )


# --------------------------------------------------------------------------- empty answers and loose scoring


@pytest.mark.parametrize("cid", IDS)
def test_empty_or_blank_answer_never_follows(cid):
    kwargs = CHECKERS[cid].sample_kwargs(random.Random(0))
    if cid == "combination:repeat_prompt":
        kwargs["prompt_to_repeat"] = "Write a poem."
    for response in ("", "   \n\t "):
        assert not check_strict(cid, response, kwargs, "p")
        assert not check_loose(cid, response, kwargs, "p")


def test_loose_variants_match_evaluation_lib():
    assert loose_variants("first\n*mid*\nlast") == [
        "first\n*mid*\nlast",
        "first\nmid\nlast",
        "*mid*\nlast",
        "first\n*mid*",
        "*mid*",
        "mid\nlast",
        "first\nmid",
        "mid",
    ]


def test_loose_forgives_a_preamble_line():
    response = 'Sure, here it is:\n"A wrapped answer without any preamble."'
    assert not strict("startend:quotation", response)
    assert loose("startend:quotation", response)
    assert not strict("punctuation:no_comma", response)
    assert loose("punctuation:no_comma", response)
    json_answer = 'Sure, here it is:\n{"a": 1}'
    assert not strict("detectable_format:json_format", json_answer)
    assert loose("detectable_format:json_format", json_answer)


def test_loose_forgives_star_markup_and_a_trailing_line():
    ending = "Body text. **Any other questions?**"
    assert not strict("startend:end_checker", ending, end_phrase="Any other questions?")
    assert loose("startend:end_checker", ending, end_phrase="Any other questions?")
    quoted = '"**Bold quote**"\nHope this helps'
    assert not strict("startend:quotation", quoted)
    assert loose("startend:quotation", quoted)
    assert not strict("length_constraints:number_words", "Sure!\none two three", num_words=4, relation="less than")
    assert loose("length_constraints:number_words", "Sure!\none two three", num_words=4, relation="less than")


def test_loose_still_fails_a_real_miss():
    assert not loose("keywords:existence", "Sure:\nNothing relevant here.\nBye", keywords=["garden"])
    assert not loose("punctuation:no_comma", "a, b\nc, d\ne, f")


# --------------------------------------------------------------------------- keywords


def test_keywords_existence():
    cid = "keywords:existence"
    assert strict(cid, "The Garden by the RIVER.", keywords=["river", "garden"])
    assert strict(cid, "gardening near rivers", keywords=["river", "garden"])  # substring match, as in IFEval
    assert not strict(cid, "A garden only.", keywords=["river", "garden"])
    assert strict(cid, "Ünïcödé café ☕ and river", keywords=["café", "river"])
    assert strict(cid, "costs $5 (approx)", keywords=["$5 (approx"])  # not a valid regex: matched literally


def test_keywords_frequency():
    cid = "keywords:frequency"
    text = "River, river and RIVER again."
    assert strict(cid, text, keyword="river", frequency=3, relation="at least")
    assert not strict(cid, text, keyword="river", frequency=4, relation="at least")
    assert strict(cid, text, keyword="river", frequency=4, relation="less than")
    assert not strict(cid, text, keyword="river", frequency=3, relation="less than")
    assert strict(cid, "no match here", keyword=" river ", frequency=1, relation="less than")


def test_keywords_forbidden_words():
    cid = "keywords:forbidden_words"
    assert strict(cid, "Gardening is fun.", forbidden_words=["garden"])  # whole words only
    assert not strict(cid, "My Garden, my rules.", forbidden_words=["river", "garden"])
    assert strict(cid, "Nothing to see.\n", forbidden_words=["river"])


def test_keywords_letter_frequency():
    cid = "keywords:letter_frequency"
    assert strict(cid, "Zebra zigzag", letter="z", let_frequency=3, let_relation="at least")
    assert not strict(cid, "Zebra zigzag", letter="z", let_frequency=4, let_relation="at least")
    assert strict(cid, "Zebra zigzag", letter="Z", let_frequency=4, let_relation="less than")
    assert not strict(cid, "Zebra zigzag", letter="z", let_frequency=3, let_relation="less than")


# --------------------------------------------------------------------------- language


def test_response_language():
    cid = "language:response_language"
    assert strict(cid, ENGLISH, language="en")
    assert strict(cid, FRENCH, language="fr")
    assert strict(cid, GERMAN + "  \n", language="de")
    assert strict(cid, JAPANESE, language="ja")
    assert not strict(cid, ENGLISH, language="fr")
    assert not strict(cid, FRENCH, language="en")


def test_undetectable_language_counts_as_followed_like_ifeval():
    assert strict("language:response_language", "12345 !!! ---", language="fr")


def test_language_detection_is_deterministic():
    text = "ok si"
    first = [strict("language:response_language", text, language=code) for code in ("en", "es", "it", "sw")]
    for _ in range(5):
        assert [strict("language:response_language", text, language=c) for c in ("en", "es", "it", "sw")] == first


# --------------------------------------------------------------------------- length


def test_split_sentences_is_punkt_english():
    # IFEval's counts (nltk Punkt, English model); tests/test_ifeval_reference.py checks them
    # against IFEval's own count_sentences.
    assert split_sentences("One. Two? Three! Four") == ["One.", "Two?", "Three!", "Four"]
    assert split_sentences('He said "stop." Then left.') == ['He said "stop."', "Then left."]
    assert split_sentences("Pi is 3.14 and e is 2.71. Done.") == ["Pi is 3.14 and e is 2.71.", "Done."]
    assert split_sentences("Line one\nline two.\n\nNext one.") == ["Line one\nline two.", "Next one."]
    assert split_sentences("") == [] and split_sentences(" \n ") == []
    # Known abbreviations and initials do not end a sentence; an ellipsis before lowercase does not.
    assert split_sentences("The U.S. Army arrived. It left.") == ["The U.S. Army arrived.", "It left."]
    assert split_sentences("We met at 5 p.m. yesterday. It was fun.") == ["We met at 5 p.m. yesterday.", "It was fun."]
    assert split_sentences("Really?! Yes... ok.") == ["Really?!", "Yes... ok."]
    # ... while punkt does split after "e.g." and "Fig.", where IFEval counts one more sentence.
    assert len(split_sentences("Mr. Smith met Dr. Jones, e.g. at noon. Fine.")) == 3
    assert len(split_sentences("See Fig. 2 for details. It shows the trend.")) == 3


def test_split_sentences_unicode():
    assert split_sentences("Ça va? Très bien! Merci.") == ["Ça va?", "Très bien!", "Merci."]
    assert split_sentences("Привет. Как дела?") == ["Привет.", "Как дела?"]
    # Punkt knows no CJK full stops: IFEval counts a Chinese paragraph as one sentence.
    assert split_sentences("你好。我很好！真的吗？") == ["你好。我很好！真的吗？"]
    assert split_sentences("“Quoted.” Next… Done") == ["“Quoted.”", "Next… Done"]


def test_word_tokens_are_nltk_word_tokenize():
    assert word_tokens("I DON'T know.") == ["I", "DO", "N'T", "know", "."]
    assert word_tokens("NASA's rover") == ["NASA", "'s", "rover"]
    assert word_tokens("AI/ML and R&D") == ["AI/ML", "and", "R", "&", "D"]
    assert capital_words("GONNA WANNA GOTTA") == ["GON", "NA", "WAN", "NA", "GOT", "TA"]


def test_count_words_matches_ifeval_regexp_tokenizer():
    assert count_words("Hello, world! It's 2024.") == 5  # Hello world It s 2024
    assert count_words("naïve café — 東京") == 3
    assert count_words("") == 0 and count_words("--- ***") == 0
    # nltk's RegexpTokenizer keeps combining marks inside a word (stdlib re would split these).
    assert count_words("नमस्ते दुनिया") == 2
    assert count_words("e\u0301te\u0301") == 1


def test_number_sentences():
    cid = "length_constraints:number_sentences"
    text = "One. Two. Three."
    assert strict(cid, text, num_sentences=3, relation="at least")
    assert not strict(cid, text, num_sentences=4, relation="at least")
    assert strict(cid, text, num_sentences=4, relation="less than")
    assert not strict(cid, text, num_sentences=3, relation="less than")


def test_number_paragraphs():
    cid = "length_constraints:number_paragraphs"
    assert strict(cid, "First.\n***\nSecond.\n***\nThird.", num_paragraphs=3)
    assert strict(cid, "***\nFirst.\n***\nSecond.\n***\n", num_paragraphs=2)  # empty ends are dropped
    assert not strict(cid, "First.\n***\n***\nSecond.", num_paragraphs=2)  # empty middle paragraph
    assert not strict(cid, "First.\n\nSecond.", num_paragraphs=2)  # blank lines are no divider here
    assert strict(cid, "Just one paragraph.   ", num_paragraphs=1)


def test_number_words():
    cid = "length_constraints:number_words"
    assert strict(cid, "one two three four", num_words=4, relation="at least")
    assert not strict(cid, "one two three", num_words=4, relation="at least")
    assert strict(cid, "one two three", num_words=4, relation="less than")
    assert not strict(cid, "one two three four", num_words=4, relation="less than")


def test_nth_paragraph_first_word():
    cid = "length_constraints:nth_paragraph_first_word"
    text = 'Intro text.\n\n"Garden, they said.\n\nOutro.'
    assert strict(cid, text, num_paragraphs=3, nth_paragraph=2, first_word="Garden")
    assert not strict(cid, text, num_paragraphs=3, nth_paragraph=2, first_word="intro")
    assert not strict(cid, text, num_paragraphs=2, nth_paragraph=2, first_word="garden")
    assert not strict(cid, text, num_paragraphs=4, nth_paragraph=4, first_word="garden")
    assert strict(cid, "Garden's gate.\n\nMore.\n\n", num_paragraphs=2, nth_paragraph=1, first_word="garden")
    assert not strict(cid, "A.\n***\nGarden b.", num_paragraphs=2, nth_paragraph=2, first_word="garden")


# --------------------------------------------------------------------------- content


def test_number_placeholders():
    cid = "detectable_content:number_placeholders"
    assert strict(cid, "Dear [name], meet me at [address].", num_placeholders=2)
    assert not strict(cid, "Dear [name], meet me soon.", num_placeholders=2)
    assert strict(cid, "Empty [] counts too", num_placeholders=1)


def test_postscript():
    cid = "detectable_content:postscript"
    assert strict(cid, "Body.\n\nP.S. See you soon.", postscript_marker="P.S.")
    assert strict(cid, "Body.\np. s. lower case works", postscript_marker="P.S.")
    assert not strict(cid, "Body without a postscript.", postscript_marker="P.S.")
    assert strict(cid, "Body.\nP.P.S one more thing", postscript_marker="P.P.S")
    assert not strict(cid, "Body.\nP.S. only one", postscript_marker="P.P.S")
    assert strict(cid, "Body.\nNote: custom marker", postscript_marker="Note:")


# --------------------------------------------------------------------------- format


def test_number_bullet_lists():
    cid = "detectable_format:number_bullet_lists"
    assert strict(cid, "Intro:\n* one\n* two\n- three", num_bullets=3)
    assert strict(cid, "  * indented\n* plain  \n", num_bullets=2)
    assert not strict(cid, "* one\n* two", num_bullets=3)
    assert not strict(cid, "**bold line**\n* one", num_bullets=2)  # '**' does not start a bullet
    assert not strict(cid, "1. one\n2. two", num_bullets=2)


def test_constrained_response():
    cid = "detectable_format:constrained_response"
    assert strict(cid, "My answer is yes.")
    assert strict(cid, "  Thinking about it... My answer is maybe.  ")
    assert not strict(cid, "My answer is yes")
    assert not strict(cid, "Yes.")


def test_number_highlighted_sections():
    cid = "detectable_format:number_highlighted_sections"
    assert strict(cid, "*first* and *second* parts", num_highlights=2)
    assert strict(cid, "**bold** counts once", num_highlights=1)  # as a double highlight; '*' pairs are empty
    assert not strict(cid, "**bold** counts once", num_highlights=2)
    assert not strict(cid, "*first* only, and * * empty", num_highlights=2)
    assert not strict(cid, "*spans\nlines*", num_highlights=1)


def test_multiple_sections():
    cid = "detectable_format:multiple_sections"
    text = "SECTION 1\nIntro.\nSECTION 2\nBody."
    assert strict(cid, text, section_spliter="SECTION", num_sections=2)
    assert not strict(cid, text, section_spliter="SECTION", num_sections=3)
    assert not strict(cid, text, section_spliter="Section", num_sections=1)  # case-sensitive, as in IFEval


def test_json_format():
    cid = "detectable_format:json_format"
    assert strict(cid, '{"a": [1, 2], "b": "ü"}')
    assert strict(cid, '```json\n{"a": 1}\n```')
    assert strict(cid, '```JSON\n{"a": 1}\n```  \n')
    assert strict(cid, "```\n[1, 2]\n```")
    assert not strict(cid, 'Here is the JSON:\n```json\n{"a": 1}\n```')
    assert not strict(cid, "{'a': 1}")
    assert not strict(cid, '```python\n{"a": 1}\n```')


def test_title():
    cid = "detectable_format:title"
    assert strict(cid, "<<Poem of Joy>>\nRoses are red.")
    assert strict(cid, "<<Ünïcode ☀>>")
    assert not strict(cid, "<<   >> no title")
    assert not strict(cid, "<<split\ntitle>>")
    assert not strict(cid, "Title: Poem of Joy")


# --------------------------------------------------------------------------- combination


def test_two_responses():
    cid = "combination:two_responses"
    assert strict(cid, "First answer.\n******\nSecond answer.")
    assert strict(cid, "******\nFirst.\n******\nSecond.\n******")
    assert not strict(cid, "Same.\n******\nSame.  ")
    assert not strict(cid, "One.\n******\n\n******\nTwo.")
    assert not strict(cid, "Only one answer.")
    assert not strict(cid, "A\n******\nB\n******\nC")


def test_repeat_prompt():
    cid = "combination:repeat_prompt"
    to_repeat = "Write a haiku about the sea."
    assert strict(cid, "write a haiku about the SEA. Waves fold into foam...", prompt_to_repeat=to_repeat)
    assert strict(cid, "  Write a haiku about the sea.\nWaves.", prompt_to_repeat=to_repeat + "  ")
    assert not strict(cid, "Sure! Write a haiku about the sea. Waves.", prompt_to_repeat=to_repeat)
    assert loose(cid, "Sure!\nWrite a haiku about the sea. Waves.", prompt_to_repeat=to_repeat)


# --------------------------------------------------------------------------- start/end


def test_end_checker():
    cid = "startend:end_checker"
    assert strict(cid, "Body text. Any other questions?", end_phrase="Any other questions?")
    assert strict(cid, '"Body text. any other QUESTIONS?"  \n', end_phrase="Any other questions?")
    assert not strict(cid, "Any other questions? Thanks.", end_phrase="Any other questions?")


def test_quotation():
    cid = "startend:quotation"
    assert strict(cid, '"Wrapped answer."')
    assert strict(cid, '  "Wrapped, with trailing space."   \n')
    assert not strict(cid, '"')
    assert not strict(cid, "“Curly quotes are not IFEval quotes.”")
    assert not strict(cid, '"Unclosed answer.')


# --------------------------------------------------------------------------- case and punctuation


def test_capital_word_frequency():
    cid = "change_case:capital_word_frequency"
    text = "This is VERY IMPORTANT, the U.S. team said. WELL-KNOWN facts."
    assert strict(cid, text, capital_frequency=4, capital_relation="at least")
    assert not strict(cid, text, capital_frequency=5, capital_relation="at least")
    assert strict(cid, text, capital_frequency=5, capital_relation="less than")
    assert not strict(cid, "ÉTÉ and NOËL", capital_frequency=2, capital_relation="less than")


def test_english_capital():
    cid = "change_case:english_capital"
    assert strict(cid, ENGLISH.upper())
    assert not strict(cid, ENGLISH)
    assert not strict(cid, FRENCH.upper())
    assert not strict(cid, "12345")  # not upper-case at all, so no language fallback


def test_english_lowercase():
    cid = "change_case:english_lowercase"
    assert strict(cid, ENGLISH.lower() + "\n")
    assert not strict(cid, ENGLISH)
    assert not strict(cid, FRENCH.lower())
    assert loose(cid, "Here you go:\n" + ENGLISH.lower())


def test_no_comma():
    cid = "punctuation:no_comma"
    assert strict(cid, "No commas at all. Ünïcode is fine、too")
    assert not strict(cid, "One, two.")
