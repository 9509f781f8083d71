"""Reports: merging runs, significance marks, and the HTML checked in a real headless Chromium."""

import json
import re
import shutil

import pytest
from helpers import gold_arithmetic, run_cli, wrong_arithmetic

import slmbench
from slmbench.config import ModelSpec
from slmbench.errors import SlmbenchError
from slmbench.report import load, mean_quality, score_bars, speed_figures, write
from slmbench.report.data import Cell
from slmbench.testing.scripted import ScriptedServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def arithmetic_only(answer):
    """Answers arithmetic prompts with `answer`; anything else (structured) with no JSON."""
    return lambda body: answer(body) if "Expression:" in body["messages"][-1]["content"] else "I cannot."


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two separate runs, one model each, on the same 40 arithmetic samples."""
    out = tmp_path_factory.mktemp("runs")
    dirs = []
    for name, answer in (("strong", gold_arithmetic), ("weak", wrong_arithmetic)):
        with ScriptedServer(arithmetic_only(answer)) as server:
            model = ModelSpec(name=name, backend="attach", url=server.url, served="scripted")
            dirs.append(slmbench.evaluate([model], ["arithmetic", "structured"], limit=40, out=out / name).run_dir)
    return dirs


def test_merged_runs_compare_models_on_the_same_samples(two_runs):
    report = load(two_runs)
    assert [m.name for m in report.models] == ["strong", "weak"]
    arithmetic = next(c for c in report.comparisons if c["task"] == "arithmetic")
    assert (arithmetic["a"], arithmetic["b"], arithmetic["n"]) == ("strong", "weak", 40)
    assert arithmetic["diff"] == 1.0 and arithmetic["test"] == "mcnemar-exact"
    assert arithmetic["p_value"] == pytest.approx(2 / 2**40) and arithmetic["significant"]
    # arithmetic feeds no dimension; structured output does, and the scripted answers are not JSON
    assert set(report.table["strong"]) == {"structured"}
    # both score 0 there: a tie has no leader to mark, not even "≈"
    assert report.table["strong"]["structured"].value == report.table["weak"]["structured"].value == 0.0
    assert report.table["strong"]["structured"].mark == report.table["weak"]["structured"].mark == ""


def test_markdown_and_json_reports(two_runs, tmp_path):
    paths = write(load(two_runs), tmp_path, ("md", "json"))
    md = paths["md"].read_text()
    assert "| model | Structured output |" in md
    assert re.search(
        r"\| arithmetic \| accuracy \| strong \| weak \| \+100\.0 \| \[\+100\.0, \+100\.0\] \| 1\.82e-12 \| mcnemar-exact \| 40 \| yes \|",
        md,
    )
    data = json.loads(paths["json"].read_text())
    assert data["runs"][0]["manifest"]["machine"]["cpus"] >= 1
    assert "samples" not in data["models"][0]["tasks"]["arithmetic"]


def test_significance_marks_in_the_table(tmp_path):
    def structured_oracle(body, good):
        from slmbench.tasks import TASKS

        prompt = body["messages"][-1]["content"]
        sample = next(s for s in TASKS["structured"].samples(30, 0) if s.messages[-1]["content"] == prompt)
        return json.dumps(sample.target if good else {"nothing": True})

    dirs = []
    for name, good in (("a", True), ("b", False)):
        with ScriptedServer(lambda body, g=good: structured_oracle(body, g)) as server:
            model = ModelSpec(name=name, backend="attach", url=server.url, served="scripted")
            dirs.append(slmbench.evaluate([model], ["structured"], limit=30, out=tmp_path / name).run_dir)
    report = load(dirs)
    assert report.table["a"]["structured"].value == 1.0 and report.table["a"]["structured"].mark == "▲"
    assert report.table["b"]["structured"].mark == ""


def understanding_oracle(strength):
    """Answers the understanding task well on one subtask family and badly on the other:
    "summaries" writes the reference summary and no JSON; "facts" extracts and answers exactly
    and summarises in two words."""
    from slmbench.tasks import TASKS

    samples = {s.messages[-1]["content"]: s for s in TASKS["understanding"].samples(6, 0)}

    def answer(body):
        s = samples[body["messages"][-1]["content"]]
        kind = s.meta["subtask"]
        if kind == "summarise":
            return s.target["summary"] if strength == "summaries" else "A document."
        if strength == "summaries":
            return "I cannot tell."
        return json.dumps(s.target) if kind == "extract" else s.target

    return answer


@pytest.fixture(scope="module")
def understanding_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("understanding")
    dirs = []
    for name in ("summaries", "facts"):
        with ScriptedServer(understanding_oracle(name)) as server:
            model = ModelSpec(name=name, backend="attach", url=server.url, served="scripted")
            dirs.append(slmbench.evaluate([model], ["understanding"], limit=6, out=out / name).run_dir)
    return dirs


def test_each_column_is_marked_by_a_paired_test_of_its_own_metric(understanding_runs, tmp_path):
    from slmbench.metrics.compare import sign_flip_exact

    report = load(understanding_runs)
    rouge, f1 = (next(c for c in report.comparisons if c["metric"] == m) for m in ("rougeL", "extraction_f1"))
    # each test runs on the samples of its own metric (6 summaries, 6 extractions), not on all 18
    assert (rouge["task"], rouge["n"], rouge["test"]) == ("understanding", 6, "sign-flip-exact")
    assert (f1["n"], f1["diff"], f1["test"], f1["p_value"]) == (6, -1.0, "mcnemar-exact", 2 / 64)
    summaries = report.models[0].tasks["understanding"]["samples"]
    facts = {s["id"]: s for s in report.models[1].tasks["understanding"]["samples"]}
    diffs = [
        s["parts"]["rougeL"] - facts[s["id"]]["parts"]["rougeL"]
        for s in summaries
        if s["meta"]["subtask"] == "summarise"
    ]
    assert (
        rouge["p_value"] == pytest.approx(sign_flip_exact(diffs)) == pytest.approx(2 / 64)
    )  # all six favour "summaries"
    # the marks follow those two tests: each model leads its own column, significantly
    assert report.table["summaries"]["understanding"].mark == "▲" and report.table["facts"]["understanding"].mark == ""
    assert (
        report.table["facts"]["understanding_f1"].mark == "▲"
        and report.table["summaries"]["understanding_f1"].mark == ""
    )
    # the 2-model table has a paired-difference row naming the metric, p and CI per column
    assert [(p["a"], p["b"]) for p in report.pairs] == [("summaries", "facts")]
    assert report.pairs[0]["cells"]["understanding"] is rouge and report.pairs[0]["cells"]["understanding_f1"] is f1
    paths = write(report, tmp_path, ("md", "html"))
    md = paths["md"].read_text()
    # what `make demo` prints: the "## Comparison" section, the table with its paired row and legend
    section = md.split("## Comparison\n", 1)[1].split("\n## ", 1)[0]
    assert (
        "| summaries |" in section
        and "| summaries − facts (paired) |" in section
        and "▲: the column's leader" in section
    )
    row = next(line for line in md.splitlines() if line.startswith("| summaries − facts (paired) |"))
    assert "p=0.031 significant (rougeL, sign-flip exact, n=6)" in row
    assert "-100.0 [-100.0, -100.0] p=0.031 significant (extraction_f1, McNemar exact, n=6)" in row
    assert (
        "| understanding | rougeL | summaries | facts |" in md
        and "| understanding | extraction_f1 | summaries | facts |" in md
    )
    html = paths["html"].read_text()
    assert "rougeL · sign-flip exact · n=6" in html and "extraction_f1 · McNemar exact · n=6" in html


def test_bleu_column_is_tested_on_corpus_bleu_by_approximate_randomization(tmp_path):
    from pathlib import Path

    from slmbench.tasks import TASKS

    data = f"{Path(__file__).parent / 'fixtures' / 'tico19' / 'test.en-ar.tsv'}@en-ar,ar-en"  # two directions
    samples = {s.messages[-1]["content"]: s for s in TASKS["multilingual"].samples(6, 0, data)}
    order = list(samples.values())

    def translator(body):
        return samples[body["messages"][-1]["content"]].target

    def parrot(body):  # the reference of another sentence: right language, wrong words
        return order[(order.index(samples[body["messages"][-1]["content"]]) + 1) % len(order)].target

    dirs = []
    for name, answer in (("translator", translator), ("parrot", parrot)):
        with ScriptedServer(answer) as server:
            model = ModelSpec(name=name, backend="attach", url=server.url, served="scripted")
            dirs.append(
                slmbench.evaluate(
                    [model], ["multilingual"], limit=6, out=tmp_path / name, data={"multilingual": data}
                ).run_dir
            )
    report = load(dirs)
    bleu = next(c for c in report.comparisons if c["metric"] == "bleu")
    good, bad = report.table["translator"]["multilingual"], report.table["parrot"]["multilingual"]
    assert bleu["test"] == "approximate-randomization" and bleu["n"] == good.n == len(samples)
    # the tested difference is the column's own number: mean over directions of corpus BLEU
    assert bleu["diff"] == pytest.approx(good.value - bad.value) and bleu["ci_low"] < bleu["diff"] <= bleu["ci_high"]
    assert bleu["significant"] and 1 / 1001 <= bleu["p_value"] < 0.05 and 0 < bleu["mc_error"] < 0.01
    assert good.mark == "▲" and bad.mark == ""


def test_a_two_model_eval_prints_and_writes_its_paired_tests(tmp_path):
    with (
        ScriptedServer(gold_arithmetic, models=("strong",)) as strong,
        ScriptedServer(wrong_arithmetic, models=("weak",)) as weak,
    ):
        result = run_cli("eval", "--model", f"strong={strong.url}", "--model", f"weak={weak.url}", "-t", "arithmetic",
                         "--limit", "12", "--out", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    # p = 2 / 2^12: McNemar exact on 12 discordant pairs, all won by "strong"
    row = next(
        line for line in result.stdout.splitlines() if "accuracy" in line and "strong" in line and "weak" in line
    )
    assert [c.strip() for c in row.strip("│ ").split("│")][2:] == ["strong", "weak", "+100.0 [+100.0, +100.0]", "0.000488",
                                                                  "McNemar exact", "12", "yes"], result.stdout  # fmt: skip
    md = (tmp_path / "latest" / "results.md").read_text()
    assert "## Paired comparisons (same samples)" in md
    assert (
        "| arithmetic | accuracy | strong | weak | +100.0 | [+100.0, +100.0] | 0.000488 | mcnemar-exact | 12 | yes |"
        in md
    )


def test_bad_report_input_is_one_line(tmp_path):
    with pytest.raises(SlmbenchError, match="holds no results.json"):
        load([tmp_path])
    result = run_cli("report", str(tmp_path / "missing"))
    assert result.returncode == 1 and result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    result = run_cli("report", str(tmp_path), "--format", "pdf")
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_cli_report_writes_all_formats(two_runs, tmp_path):
    result = run_cli("report", *map(str, two_runs), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.json", "report.md"]
    assert result.stdout.strip().splitlines()[-1] == f"report: {tmp_path / 'report.html'}"  # make demo's last line


def test_html_is_self_contained(two_runs, tmp_path):
    html = write(load(two_runs), tmp_path, ("html",))["html"].read_text()
    # no external resource of any kind: only SVG/XML namespace URIs may mention http
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "<svg" in html and "Content-Security-Policy" in html
    assert html.count("<script") == 2  # the sample data and the inline filter code


def test_html_in_headless_chromium_renders_offline_and_filters_work(two_runs, tmp_path, artifacts):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is missing: run scripts/bootstrap.sh test (apt-get install chromium)"
    path = write(load(two_runs), two_runs[0], ("html",))["html"]
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.as_uri())
        page.wait_for_load_state("networkidle")
        assert errors == []
        assert page.locator("#comparison tr").count() == 4  # header + two models + their paired difference
        assert "p=" in page.locator("#comparison tr.pair").inner_text()
        assert page.locator("svg").count() >= 2
        assert (
            page.locator("#samples-table tr.sample").count() == 320
        )  # 2 models x (40 arithmetic + 40 documents x 3 structured modes)
        page.select_option("#f-model", "weak")
        page.select_option("#f-task", "arithmetic")
        assert page.locator("#samples-table tr.sample").count() == 40
        page.select_option("#f-verdict", "ok")
        assert page.locator("#samples-table tr.sample").count() == 0
        page.select_option("#f-model", "strong")
        assert page.locator("#samples-table tr.sample").count() == 40
        page.locator("#samples-table tr.sample").first.click()
        assert "Answer:" in page.locator("#samples-table tr.detail").first.inner_text()
        page.fill("#f-text", "no such text anywhere")
        assert page.locator("#f-count").inner_text().startswith("0 of 320")
        page.screenshot(path=str(path.with_name("report.png")), full_page=True)
        browser.close()
    assert all(u.startswith(("file://", "data:")) for u in requests), requests
    assert path.with_name("report.png").stat().st_size > 10_000
    shutil.copy(path.with_name("report.png"), artifacts / "report.png")


def test_perf_runs_join_the_report_with_curves_and_a_table(two_runs, tmp_path):
    with ScriptedServer(models=("strong",)) as server:
        result = run_cli("perf", "-m", f"strong={server.url}", "--concurrency", "1,2", "--requests", "4",
                         "--input-len", "32,64", "--output-len", "8", "--out", str(tmp_path / "perf"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = load([two_runs[0], tmp_path / "perf"])
    assert list(report.perf) == ["strong"] and [m.name for m in report.models] == ["strong"]
    html = write(report, tmp_path / "out", ("html",))["html"].read_text()
    for title in ("Serving performance (slmbench perf)", "Output throughput vs concurrency", "TTFT vs load",
                  "TTFT vs prompt length"):  # fmt: skip
        assert title in html, title
    assert html.count("<td>strong</td>") >= 4  # one table row per load point (2 concurrencies x 2 lengths)


def test_long_context_column_is_the_measured_effective_context(tmp_path):
    from test_longcontext import gold

    from slmbench.config import Config, EvalSettings

    dirs = []
    for name, answer in (("reader", gold), ("blind", lambda body: "I do not know.")):
        with ScriptedServer(answer, max_model_len=8192, tokenize=True) as server:
            model = ModelSpec(name=name, backend="attach", url=server.url, served="scripted")
            config = Config(eval=EvalSettings(lengths=[1024, 2048]))
            dirs.append(
                slmbench.evaluate([model], ["longcontext"], limit=12, out=tmp_path / name, config=config).run_dir
            )
    report = load(dirs)
    reader, blind = report.table["reader"]["longcontext"], report.table["blind"]["longcontext"]
    assert (reader.value, reader.n, reader.note) == (2048, 12, "")
    assert blind.value is None and "shortest length" in blind.note
    paths = write(report, tmp_path / "out", ("md", "html"))
    md = paths["md"].read_text()
    assert "2,048 tokens n=12" in md and "| none n=12 |" in md and "Long context, blind: none, scores 0.00" in md
    # Effective context is no per-sample score: the paired row tests the needle accuracy, and says so.
    row = next(line for line in md.splitlines() if line.startswith("| reader − blind (paired)"))
    assert "accuracy, McNemar exact, n=12" in row and "+100.0" in row and " significant (" in row
    html = paths["html"].read_text()
    assert "Needle retrieval: reader / longcontext" in html and "Needle retrieval: blind / longcontext" in html
    # the table says "none" for blind: no bar elsewhere shows its long-context recall as a share
    assert score_bars(report) == ([], {"reader": [], "blind": []}) and "Scores with 95% CI" not in html
    assert "n=12: scores 0.00" in html  # the reason is on the page, not only in a tooltip


def perf_run(tmp_path, name, concurrencies):
    with ScriptedServer(models=(name,)) as server:
        result = run_cli("perf", "-m", f"{name}={server.url}", "--concurrency", concurrencies, "--requests", "4",
                         "--input-len", "32", "--output-len", "8", "--out", str(tmp_path / f"perf-{name}"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return tmp_path / f"perf-{name}"


def test_quality_vs_speed_compares_like_with_like(two_runs, tmp_path):
    # perf for one model only: its perf figure is not set beside the other's eval speed
    one = load([*two_runs, perf_run(tmp_path, "strong", "1,2")])
    label, speed = speed_figures(one)
    level = one.models[0].manifest["client"]["concurrency"]
    assert label == f"output tokens/s per answer (eval, concurrency {level})" and set(speed) == {"strong", "weak"}
    assert speed["strong"] != one.perf["strong"]["curves"]["throughput_vs_concurrency"][0]["output_throughput"]
    # perf for both, at different concurrencies: the lowest one they share
    both = load([*two_runs, tmp_path / "perf-strong", perf_run(tmp_path, "weak", "2,4")])
    label, speed = speed_figures(both)
    assert label == "output tokens/s (slmbench perf, concurrency 2)"
    for model in ("strong", "weak"):
        point = next(c for c in both.perf[model]["curves"]["throughput_vs_concurrency"] if c["concurrency"] == 2)
        assert speed[model] == point["output_throughput"]
    html = write(both, tmp_path / "out", ("html",))["html"].read_text()
    assert "Quality vs speed (mean over the same 1 column for every model: Structured)" in html
    assert "slmbench perf, concurrency 2" in html


def test_mean_score_is_over_the_same_columns_for_every_model(two_runs):
    report = load(two_runs)
    report.table["strong"]["coding"] = Cell(0.5, 0.3, 0.7, 20, "coding", "pass@1")
    report.table["strong"]["instruction"] = Cell(0.9, 0.8, 1.0, 20, "instruction", "prompt_strict")
    report.table["weak"]["instruction"] = Cell(0.1, 0.0, 0.2, 20, "instruction", "prompt_strict")
    columns, quality, left_out = mean_quality(report)
    assert [d.key for d in columns] == ["instruction", "structured"]
    structured = {m: report.table[m]["structured"].value for m in ("strong", "weak")}
    assert quality == {
        "strong": pytest.approx((0.9 + structured["strong"]) / 2),
        "weak": pytest.approx((0.1 + structured["weak"]) / 2),
    }
    assert left_out == "Coding (no score for weak)"


def test_the_page_does_not_call_every_score_a_share(two_runs, tmp_path):
    html = write(load(two_runs), tmp_path, ("html",))["html"].read_text()
    assert "Every score is a share" not in html
    assert "multilingual BLEU: 0–100 points; long-context support: tokens" in html


PHONE = 390  # CSS px: an iPhone 12-15 held upright


def phone_layout(html_path, screenshot=None):
    """Open the report at phone width in headless Chromium: the page's scroll width, the tables
    wider than the screen and whether each scrolls inside its own box, and visible text."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is missing: run scripts/bootstrap.sh test (apt-get install chromium)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(
            viewport={"width": PHONE, "height": 844}, device_scale_factor=1, is_mobile=True, has_touch=True
        )
        page.goto(html_path.as_uri())
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.scrollingElement.scrollWidth")
        tables = page.evaluate("""() => [...document.querySelectorAll('table')].filter(t => t.scrollWidth > innerWidth)
            .map(t => { const box = t.parentElement; return { id: t.id, own_scroll: getComputedStyle(box).overflowX === 'auto'
                         && box.clientWidth <= innerWidth && box.scrollWidth > box.clientWidth }; })""")
        text = page.locator("#comparison").inner_text()
        legend_visible = page.get_by_text("▲: the column's leader").is_visible()
        if screenshot:
            # the top of the page: table, paired rows and charts (the sample list below runs for metres)
            page.screenshot(path=str(screenshot), full_page=True, clip={"x": 0, "y": 0, "width": PHONE, "height": 2600})
        browser.close()
    return width, tables, text, legend_visible


def test_report_reads_on_a_phone(two_runs, understanding_runs, tmp_path, artifacts):
    # four models, the perf table and the paired rows: the widest report these tests make
    report = load([*two_runs, *understanding_runs, perf_run(tmp_path, "strong", "1,2")])
    path = write(report, tmp_path / "out", ("html",))["html"]
    width, tables, text, legend_visible = phone_layout(path, artifacts / "report-phone.png")
    assert width <= PHONE + 1, f"the page scrolls sideways: {width} px wide at {PHONE} px"
    assert tables and all(t["own_scroll"] for t in tables), tables  # wide tables scroll in their own box
    assert {t["id"] for t in tables} >= {"comparison", "pairs"}
    # what a tooltip used to hold is on the page: the task and metric behind each score
    assert "understanding · rougeL" in text and "structured · valid_prompt" in text and legend_visible
    assert (artifacts / "report-phone.png").stat().st_size > 20_000


def test_per_sample_values_average_to_the_tasks_own_metric(two_runs, understanding_runs):
    """The paired test of a column tests that column's number: the mean of the per-sample
    values it pairs is the task's reported metric, for every metric a column shows."""
    from slmbench.report.data import PER_SAMPLE, metric_scores

    checked = set()
    for m in load([*two_runs, *understanding_runs]).models:
        for task, result in m.tasks.items():
            for metric, estimate in result["metrics"].items():
                if metric in PER_SAMPLE and estimate["n"]:
                    values = metric_scores(result, metric)
                    assert len(values) == estimate["n"], (task, metric)
                    assert sum(values.values()) / len(values) == pytest.approx(estimate["value"]), (task, metric)
                    checked.add(metric)
    assert checked >= {
        "accuracy",
        "valid_prompt",
        "valid_json_schema",
        "valid_repair",
        "rougeL",
        "extraction_f1",
        "qa_f1",
    }
