"""Text metrics that work beyond ASCII: ROUGE, SQuAD F1/EM, field P/R/F1, corpus BLEU and chrF++.

- ROUGE is rouge-score's, with a Unicode tokenizer: its default one keeps only [a-z0-9], so
  Chinese or Arabic would score 0. Han/kana characters are tokens of their own (no word
  spaces to split on); other scripts split on anything that is not a letter, mark or digit.
  No stemming: the Porter stemmer is English-only.
- BLEU-4 and chrF++ are sacrebleu's, corpus-level. BLEU's tokenizer is sacrebleu's own default
  for the target language (`zh`, `ja-mecab`, `ko-mecab`, else `13a`), read from sacrebleu, so
  figures compare with published ones. For Arabic, where 13a leaves `،` `؟` glued to words,
  `intl` (which splits them) is reported beside it. `flores200` is not used: it downloads a
  SentencePiece model. Every score carries sacrebleu's signature. Intervals resample sentences
  and recompute the corpus score.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import regex
from sacrebleu.metrics import BLEU, CHRF

from ..errors import SlmbenchError
from .stats import Estimate, percentile_interval

_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}"
_TOKEN = regex.compile(rf"[{_CJK}]|[^\s\p{{P}}\p{{S}}{_CJK}]+")
_PUNCT = regex.compile(r"[\p{P}\p{S}]")
_ARTICLES = regex.compile(r"\b(a|an|the)\b")


def tokens(text: str) -> list[str]:
    """NFKC-normalised, casefolded word tokens; each Han/kana character is a token."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


class _UnicodeTokenizer:
    """The object rouge-score calls `.tokenize()` on."""

    def tokenize(self, text: str) -> list[str]:
        return tokens(text)


@functools.cache
def _rouge_scorer() -> Any:
    # Imported on first use: rouge-score imports nltk, which imports scipy (~3 s), and every
    # command that lists the tasks imports this module.
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False, tokenizer=_UnicodeTokenizer())


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1/2/L F-measures of one prediction against one reference."""
    scores = _rouge_scorer().score(reference, prediction)  # rouge-score takes (target, prediction)
    return {name: s.fmeasure for name, s in scores.items()}


# -- SQuAD-style answers ----------------------------------------------------------------------


def answer_tokens(text: str) -> list[str]:
    """SQuAD's normalisation made Unicode-aware: casefold, drop punctuation/symbols and English articles."""
    text = unicodedata.normalize("NFKC", text).casefold()
    # Digit groups ("12,400") must survive as one number, so punctuation goes before tokenising.
    return tokens(_ARTICLES.sub(" ", _PUNCT.sub("", text)))


def exact_match(prediction: str, gold: str) -> float:
    return float(answer_tokens(prediction) == answer_tokens(gold))


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = answer_tokens(prediction), answer_tokens(gold)
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains_phrase(text: str, phrase: str) -> bool:
    """Whether the phrase's normalised tokens occur, in order and adjacent, in the text's."""
    hay, needle = answer_tokens(text), answer_tokens(phrase)
    k = len(needle)
    return k > 0 and any(hay[i : i + k] == needle for i in range(len(hay) - k + 1))


# -- extraction fields ------------------------------------------------------------------------


def _canon(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(float(value))
    if isinstance(value, str):
        text = " ".join(unicodedata.normalize("NFKC", value).split())
        try:  # "12400" and 12400 are the same amount
            return repr(float(text.replace(",", "")))
        except ValueError:
            return text.casefold()
    return repr(value)


def field_leaves(obj: Any, path: str = "") -> list[str]:
    """`path=value` leaves; a list of scalars gives one leaf per element (order-free)."""
    if isinstance(obj, dict):
        return [leaf for k, v in obj.items() for leaf in field_leaves(v, f"{path}.{k}" if path else str(k))]
    if isinstance(obj, list):
        if any(isinstance(v, (dict, list)) for v in obj):
            return [leaf for i, v in enumerate(obj) for leaf in field_leaves(v, f"{path}[{i}]")]
        return [f"{path}[]={_canon(v)}" for v in obj]
    return [f"{path}={_canon(obj)}"]


def field_prf(predicted: Any, expected: Any) -> tuple[float, float, float]:
    """Field-level (precision, recall, F1): predicted leaves that match expected leaves."""
    pred, gold = Counter(field_leaves(predicted)), Counter(field_leaves(expected))
    if not pred or not gold:
        same = float(not pred and not gold)
        return same, same, same
    right = sum((pred & gold).values())
    precision, recall = right / sum(pred.values()), right / sum(gold.values())
    f1 = 2 * precision * recall / (precision + recall) if right else 0.0
    return precision, recall, f1


# -- translation --------------------------------------------------------------------------------

# Targets whose 13a BLEU splits too little: a second BLEU with this tokenizer is shown beside it.
SECOND_TOKENIZER = {"ar": "intl"}


def base_language(lang: str) -> str:
    """ "zh-Hans", "ja_JP", "ar" -> "zh", "ja", "ar"."""
    return lang.split("-")[0].split("_")[0].lower()


def bleu_tokenizer(lang: str) -> str:
    """sacrebleu's own choice for a target language: what `BLEU(trg_lang=lang)` would use. Read from
    the map its __init__ consults (2.x), not copied: the tests compare with BLEU(trg_lang=...)."""
    return BLEU._TOKENIZER_MAP.get(base_language(lang), BLEU.TOKENIZER_DEFAULT)


@dataclass(frozen=True, slots=True)
class CorpusScore:
    estimate: Estimate  # value on a 0..1 scale (sacrebleu's score / 100)
    signature: str
    # Per-sentence sufficient statistics, for intervals over several corpora at once.
    stats: np.ndarray


def _metric(kind: str, lang: str) -> BLEU | CHRF:
    """`bleu` (sacrebleu's default tokenizer for lang), `bleu_<tokenizer>` (that one) or `chrf` (chrF++)."""
    if kind == "chrf":
        return CHRF(word_order=2)
    tokenizer = kind.partition("_")[2] or bleu_tokenizer(lang)
    try:
        return BLEU(tokenize=tokenizer)
    except (RuntimeError, ImportError) as exc:  # ja-mecab / ko-mecab without their dictionaries
        raise SlmbenchError(
            f"BLEU into {lang} needs sacrebleu's {tokenizer} tokenizer, which did not load ({str(exc).strip().splitlines()[0]}); "
            "reinstall slmbench (pip install -e .) to get sacrebleu[ja,ko]"
        ) from None


def bleu_kinds(lang: str) -> list[str]:
    """The BLEU figures for a target language: sacrebleu's default, and a second tokenizer where one is kept."""
    second = SECOND_TOKENIZER.get(base_language(lang))
    return ["bleu", f"bleu_{second}"] if second else ["bleu"]


def signature(kind: str, lang: str) -> str:
    """sacrebleu's signature of the metric used for `lang` (tokenizer, smoothing, version)."""
    metric = _metric(kind, lang)
    metric.corpus_score(["x"], [["x"]])  # sacrebleu knows the reference count only after a score
    return str(metric.get_signature())


def sentence_chrf(hyp: str, ref: str) -> float:
    """chrF++ of one sentence, 0..1: a per-sample score (the headline is the corpus score)."""
    return _metric("chrf", "").sentence_score(hyp, [ref]).score / 100


def corpus_score(kind: str, hyps: Sequence[str], refs: Sequence[str], lang: str, *, resamples: int = 1000,
                 seed: int = 0) -> CorpusScore:  # fmt: skip
    """Corpus BLEU-4 (`kind="bleu"`, or `"bleu_intl"` for that tokenizer) or chrF++ (`"chrf"`) into
    `lang`, with a bootstrap 95% interval."""
    metric = _metric(kind, lang)
    if not hyps:
        return CorpusScore(Estimate(None, 0, None, None), signature(kind, lang), np.zeros((0, 0)))
    value = metric.corpus_score(list(hyps), [list(refs)]).score / 100
    stats = np.array(metric._extract_corpus_statistics(list(hyps), [list(refs)]), dtype=np.int64)
    low, high = _interval([(metric, stats)], resamples, seed)
    return CorpusScore(Estimate(value, len(hyps), low, high), str(metric.get_signature()), stats)


def mean_of_corpora(kind: str, parts: Sequence[tuple[str, CorpusScore]], *, resamples: int = 1000,
                    seed: int = 0) -> Estimate:  # fmt: skip
    """The mean of several corpus scores (one per direction), resampling within each corpus."""
    parts = [(lang, p) for lang, p in parts if p.estimate.n]
    if not parts:
        return Estimate(None, 0, None, None)
    value = sum(p.estimate.value for _, p in parts) / len(parts)  # type: ignore[misc]
    low, high = _interval([(_metric(kind, lang), p.stats) for lang, p in parts], resamples, seed)
    return Estimate(value, sum(p.estimate.n for _, p in parts), low, high)


def _interval(corpora: list[tuple[BLEU | CHRF, np.ndarray]], resamples: int, seed: int) -> tuple[float, float]:
    # One resample per loop (sacrebleu scores each resample's summed statistics), each corpus
    # resampled in turn from one seeded stream.
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(resamples):
        total = 0.0
        for metric, stats in corpora:
            pick = rng.integers(0, len(stats), len(stats))
            total += metric._compute_score_from_stats(stats[pick].sum(axis=0).tolist()).score / 100
        values.append(total / len(corpora))
    return percentile_interval(values)
