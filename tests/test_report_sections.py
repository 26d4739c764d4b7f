"""Tests for qa_models.report: bootstrap CIs, question buckets and the report's sections below the
Answer (HTML tables, model-specific diagnostics, speed/coverage, cost, probes, validation).

Synthetic results only (tests/report_fixtures.py); no model, GPU or data set is needed.
"""

from __future__ import annotations

import re
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from qa_models import report
from qa_models.report import (
    answer_length_bucket,
    bootstrap_ci,
    paired_bootstrap,
    question_type,
    write_run,
)
from qa_models.results import CoverageRecord, CrossLingualRecord, SpeedRecord

from report_fixtures import make_results, _md_section, _table_rows


# ---------------------------------------------------------------------------- bootstrap


def test_bootstrap_all_correct_is_exactly_100():
    assert bootstrap_ci(np.full(200, 100.0)) == (100.0, 100.0, 100.0)


def test_bootstrap_half_correct_contains_50_with_plausible_width():
    values = np.random.default_rng(1).permutation(np.repeat([100.0, 0.0], 100))
    mean, low, high = bootstrap_ci(values)
    assert mean == 50.0
    assert low < 50 < high
    # Standard error is 50 / sqrt(200) ~ 3.5, so a 95% CI is about +-7 points.
    assert 5.5 < 50 - low < 8.5 and 5.5 < high - 50 < 8.5


def test_bootstrap_is_seeded_and_handles_edge_cases():
    values = np.random.default_rng(2).uniform(0, 100, size=150)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)
    assert all(np.isnan(bootstrap_ci([])))
    with pytest.raises(ValueError):
        bootstrap_ci(values, alpha=1.5)


def test_bootstrap_chunking_matches_for_large_inputs():
    # ~12k questions (full SQuAD v2 dev) forces several index chunks; result must stay sane.
    values = np.random.default_rng(5).integers(0, 2, size=12_000) * 100.0
    mean, low, high = bootstrap_ci(values)
    assert low < mean < high and high - low < 2.5


def test_paired_bootstrap_all_vs_half_correct_excludes_zero():
    half = np.random.default_rng(1).permutation(np.repeat([100.0, 0.0], 100))
    diff, low, high, excludes = paired_bootstrap(np.full(200, 100.0), half)
    assert diff == 50.0 and low > 0 and excludes
    assert low < 50 < high


def test_paired_bootstrap_aligns_mappings_by_question_id():
    rng = np.random.default_rng(7)
    ids = [f"q{i}" for i in range(200)]
    a = dict(zip(ids, rng.uniform(0, 100, 200)))
    b = dict(zip(ids, rng.uniform(0, 100, 200)))
    shuffled_b = {i: b[i] for i in rng.permutation(ids)}  # order must not matter
    assert paired_bootstrap(a, b) == paired_bootstrap(a, shuffled_b)
    # Ids only one model scored are left out.
    assert paired_bootstrap({**a, "extra": 0.0}, b) == paired_bootstrap(a, b)
    same = paired_bootstrap(a, a)
    assert same == (0.0, 0.0, 0.0, False)
    with pytest.raises(ValueError):
        paired_bootstrap([1.0, 2.0], [1.0])


# ---------------------------------------------------------------------------- buckets


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What is the capital of France?", "what"),
        ("In what year did the Normans arrive?", "what"),
        ("what's the name of the river?", "what"),
        ("Who ruled Normandy in the 10th century?", "who"),
        ("To whom did Rollo swear fealty?", "who"),
        ("Whose army won the battle?", "who"),
        ("When was the treaty signed?", "when"),
        ("Where is the Seine?", "where"),
        ("Which country did the Normans come from?", "which"),
        ("The Normans came from which country?", "which"),
        ("How many people live in Paris?", "how many"),
        ("HOW MUCH did it cost?", "how much"),
        ("How long is the river?", "how"),
        ("How did the war end?", "how"),
        ("Why did the king abdicate?", "why"),
        ("What is the reason why the king left?", "what"),  # first wh-word wins
        ("Name the poet of the Roman de Rou.", "other"),
        ("Is Paris in France?", "other"),
        ("", "other"),
        ("诺曼人来自哪个国家？", "which"),
        ("为什么国王退位了？", "why"),
        ("这座桥是什么时候建成的？", "when"),
        ("长江在哪里入海？", "where"),
        ("谁建立了诺曼底公国？", "who"),
        ("这个城市有多少人口？", "how many"),
        ("这座桥花了多少钱？", "how much"),
        ("他们是如何渡过海峡的？", "how"),
        ("诺曼底的首府是什么？", "what"),
        ("请介绍诺曼底。", "other"),
    ],
)
def test_question_type(question, expected):
    assert question_type(question) == expected
    assert expected in report.QUESTION_TYPES


@pytest.mark.parametrize(
    ("gold", "has_answer", "expected"),
    [
        (["Paris"], True, "1"),
        (["the Seine"], True, "2"),
        (["in 1066 ,"], True, "2"),  # a lone punctuation token is not a word
        (["William the Conqueror"], True, "3"),
        (["about 7,000 men"], True, "3"),
        (["two million British pounds"], True, "4-5"),
        (["one two three four five six"], True, "6-10"),
        (["a b c d e f g h i j k"], True, ">10"),
        (["Paris", "the city of Paris"], True, "1"),  # the first gold answer decides
        ([], False, "unanswerable"),
        ([], True, None),
        (["诺曼底"], True, "3"),  # each CJK character is one word
    ],
)
def test_answer_length_bucket(gold, has_answer, expected):
    assert answer_length_bucket(gold, has_answer) == expected


# ---------------------------------------------------------------------------- reader-facing layout


def test_every_html_table_is_wrapped_and_css_has_a_cjk_font(written):
    text = written.report_html.read_text(encoding="utf-8")
    n_tables = text.count("<table")
    assert n_tables > 5
    assert text.count('<div class="table-wrap"><table>') == n_tables
    assert text.count("</table></div>") == n_tables
    head = text.split("<body>")[0]
    assert re.search(r"\.table-wrap\s*\{[^}]*overflow-x:\s*auto", head)
    fonts = re.search(r"body\s*\{[^}]*font-family:([^;]*);", head).group(1)
    assert "Noto Sans CJK SC" in fonts and "Microsoft YaHei" in fonts
    assert fonts.index("Arial") < fonts.index("Noto Sans CJK SC") < fonts.index("sans-serif")
    assert "谁建立了诺曼底公国" in text  # Chinese probe text is kept as text, not escaped away


def test_long_strings_stay_out_of_the_diagnostics_table(tmp_path):
    long_path = "/data/shared/qabench/checkpoints/llama3-lora/adapter_model.safetensors"
    results = make_results(models=(("bert-span", 0.7), ("llama3-lora", 0.85)))
    results["models"][0]["prediction"].update(checkpoint=long_path, kind="short label")
    results["models"][1]["prediction"].update(checkpoint=long_path + ".bak", kind="other")
    paths = write_run(tmp_path / "run", results)
    md = paths.report_md.read_text(encoding="utf-8")
    section = _md_section(md, "## Model-specific diagnostics")
    table = [line for line in section.splitlines() if line.startswith("| ")]
    assert table and table[0].startswith("| model | snapped_answers | no_answer_replies |")
    assert "| kind |" in table[0] or table[0].endswith("| kind |")  # short text stays a column
    assert not any(long_path in line or "checkpoint" in line for line in table)
    # The long values are listed below the table, one item per model since they differ.
    assert f"- `checkpoint` (bert-span): {long_path}" in section
    assert f"- `checkpoint` (llama3-lora): {long_path}.bak" in section
    # Numbers are right-aligned, text is not.
    separator = table[1]
    assert separator.count("---:") == 2 and separator.count("| --- |") >= 1
    html_text = paths.report_html.read_text(encoding="utf-8")
    assert not re.search(r"<td[^>]*>[^<]*adapter_model", html_text)
    assert f'<ul class="long-values"><li><code>checkpoint</code> (bert-span): {long_path}</li>' in html_text
    # And the CSV still has everything.
    frame = pd.read_csv(paths.results_csv)
    assert frame.set_index("name").loc["bert-span", "prediction_checkpoint"] == long_path


def test_speed_and_coverage_get_their_own_tables(tmp_path):
    results = make_results(models=(("bert-span", 0.7), ("llama3-lora", 0.85)))
    for k, m in enumerate(results["models"]):
        m["speed"] = asdict(SpeedRecord(
            train_questions=32, predict_questions=24, device="cuda:0", memory_kind="cuda",
            train_examples_per_s={"plain": 10.0, "fast": 15.0 + 10 * k}, train_tokens_per_s={"plain": 1e4, "fast": 2e4},
            peak_memory_bytes={"plain": 2**30, "fast": 2**30}, predict_questions_per_s={"plain": 4.0, "fast": 9.0},
            train_ratio_fast_over_plain=1.5 + k, predict_ratio_fast_over_plain=None if k else 2.25,
            predict_modes="one path (the adapter has no plain prediction)" if k else "plain and fast"))
        m["coverage"] = asdict(CoverageRecord(kind="byte_fallback" if k else "unk", share=0.01 * k, n_unknown=10 * k,
                                              n_tokens=1000, n_contexts=48))
        m["cross_lingual"] = asdict(CrossLingualRecord(
            exact=10.0, f1=12.5, total=50, unk_share=0.0, unk_kind="unk", source="/data/cmrc2018/cmrc2018_dev_v2.json",
            repaired_offsets=0, skipped_records=0))
    paths = write_run(tmp_path / "run", results)
    md = paths.report_md.read_text(encoding="utf-8")
    speed = _md_section(md, "### Speed: fast vs plain path")
    coverage = _md_section(md, "### Tokenizer coverage")
    cross = _md_section(md, "### Cross-lingual: CMRC 2018 scores of SQuAD-trained models")
    speed_header = next(line for line in speed.splitlines() if line.startswith("| model"))
    # The record's scalar fields, in its order; per-configuration dicts are left to speed.md.
    assert speed_header == ("| model | train_questions | predict_questions | device | memory_kind "
                            "| train_ratio_fast_over_plain | predict_ratio_fast_over_plain |")
    assert _table_rows(speed) == [["bert-span", "32", "24", "cuda:0", "cuda", "1.5", "2.25"],
                                  ["llama3-lora", "32", "24", "cuda:0", "cuda", "2.5", "—"]]
    assert "- `predict_modes` (llama3-lora): one path (the adapter has no plain prediction)" in speed
    assert _table_rows(coverage) == [["bert-span", "unk", "0", "0", "1000", "48"],
                                     ["llama3-lora", "byte_fallback", "0.01", "10", "1000", "48"]]
    # A value shared by every model is listed once.
    assert "- `source` (same for 2 models): /data/cmrc2018/cmrc2018_dev_v2.json" in cross
    # The grouped keys are not repeated in the general diagnostics table.
    general = _md_section(md, "## Model-specific diagnostics").split("\n### ", 1)[0]
    assert "speed_" not in general and "coverage_" not in general and "cross_lingual_" not in general
    missing = [line for line in general.splitlines() if line.startswith("> Not measured in this run:")]
    # abstention, on test and on validation, is what is left unmeasured
    assert len(missing) == 2 and all("no-answer decision" in line for line in missing)
    frame = pd.read_csv(paths.results_csv)
    assert {"speed_train_ratio_fast_over_plain", "coverage_share", "cross_lingual_f1"} <= set(frame.columns)
    html_text = paths.report_html.read_text(encoding="utf-8")
    assert "<h3>Speed: fast vs plain path</h3>" in html_text and "<h3>Tokenizer coverage</h3>" in html_text


def test_no_speed_or_coverage_sections_without_their_keys(written):
    md = written.report_md.read_text(encoding="utf-8")
    assert "## Model-specific diagnostics" in md
    assert "Speed: fast vs plain path" not in md and "Tokenizer coverage" not in md and "Cross-lingual" not in md
    # Instead, one line per missing measurement names the command that takes it.
    section = _md_section(md, "## Model-specific diagnostics")
    notes = [line for line in section.splitlines() if line.startswith("> Not measured in this run:")]
    assert len(notes) == 5  # abstention on test and on validation, cross-lingual, speed, coverage
    assert any("`pytest bench -m benchmark`" in line for line in notes)
    assert any("CMRC data" in line for line in notes)
    frame = pd.read_csv(written.results_csv)
    assert not [c for c in frame.columns if c.startswith(("speed_", "coverage_", "cross_lingual_", "abstention_",
                                                                     "validation_abstention_", "extra_"))]


def test_dodge_separates_points_at_the_same_cost():
    offsets = report._dodge([0.0, 10.0, 0.0, 0.1, 5.0], step=1.0)
    assert offsets[1] == 0.0 and offsets[4] == 0.0  # lone points stay put
    positions = sorted(x + dx for x, dx in zip([0.0, 0.0, 0.1], [offsets[0], offsets[2], offsets[3]]))
    assert all(b - a >= 0.9 for a, b in zip(positions, positions[1:]))
    assert report._dodge([3.0, 3.0], step=1.0) == [-0.5, 0.5]  # deterministic, input order breaks ties


def test_cost_estimate_sits_beside_the_measured_cost(tmp_path):
    results = make_results(models=(("bert-span", 0.7), ("llama3-lora", 0.8), ("qwen-zero-shot", 0.5)))
    by_name = {m["name"]: m for m in results["models"]}
    by_name["bert-span"]["cost_estimate"] = {
        "device": "H100-SXM", "method": "full", "n_tokens": 2_000_000, "flops": 1.3e15, "seconds": 3285.0,
        "basis": "assumed MFU", "mfu": 0.4, "peak_memory_bytes": 3 * 2**30,
    }
    by_name["llama3-lora"]["cost_estimate"] = {
        "device": "cpu", "method": "lora", "n_tokens": 5_000, "flops": 2.0e12, "seconds": None,
        "basis": "unknown", "mfu": None, "peak_memory_bytes": 2**30,
    }
    md = write_run(tmp_path / "run", results).report_md.read_text(encoding="utf-8")
    rows = {row[0]: row for row in _table_rows(_md_section(md, "## Cost: estimated before training vs measured"))}
    assert set(rows) == {"bert-span", "llama3-lora"}  # the zero-shot row trains nothing
    bert = rows["bert-span"]
    assert bert[1:6] == ["H100-SXM", "full", "2M", "1.3e+15", report._duration(3285.0)]
    assert bert[6] == "assumed 40% MFU" and bert[8] == "3.00 GiB"
    assert bert[7] == report._duration(by_name["bert-span"]["train"]["wall_time_s"])
    assert rows["llama3-lora"][5] == "—" and rows["llama3-lora"][6] == "no FLOP/s for this device"
    for m in results["models"]:
        m.pop("cost_estimate", None)
    md = write_run(tmp_path / "none", results).report_md.read_text(encoding="utf-8")
    assert "## Cost: estimated" not in md


def test_cost_is_two_tables_training_and_inference(written):
    md = written.report_md.read_text(encoding="utf-8")
    training = {r[0]: r for r in _table_rows(_md_section(md, "### Training"))}
    inference = {r[0]: r for r in _table_rows(_md_section(md, "### Inference"))}
    assert set(training) == set(inference) == {"bert-span", "llama3-lora", "qwen-zero-shot"}
    assert len(training["bert-span"]) == 11 and len(inference["bert-span"]) == 6
    assert training["qwen-zero-shot"][6] == "zero-shot: nothing trained"


def test_probe_table_shows_the_span_an_abstaining_model_would_have_given(written):
    md = written.report_md.read_text(encoding="utf-8")
    rows = {r[0]: r for r in _table_rows(_md_section(md, "## Probe questions"))}
    assert "(no answer; span: 罗洛) (p_na 0.90)" in rows["zh-1"]
    assert "(no answer) (p_na 1.00)" not in md
    assert rows["zh-1"].count("(no answer) (p_na 0.90)") == 2  # the other models found no span
    assert "the no-answer threshold tuned on validation (bert-span 0.500" in md


def test_dropped_answers_are_stated_only_when_there_are_some(tmp_path):
    results = make_results(models=(("bert-span", 0.7),))
    md = write_run(tmp_path / "none", results).report_md.read_text(encoding="utf-8")
    assert "Answers dropped" not in md
    results["run"]["dropped_answers"] = 7
    md = write_run(tmp_path / "some", results).report_md.read_text(encoding="utf-8")
    assert "Answers dropped because their text is nowhere in the context" in md and "kept, with their other answers): 7." in md


def test_small_probabilities_are_not_rounded_to_zero():
    assert report._prob(3e-5, 2) == "3.0e-05"
    assert report._prob(0.0, 3) == "0"
    assert report._prob(0.5184, 3) == "0.518"
    assert report._prob(1 - 1.05e-8, 3) == "1 - 1.0e-08"
    assert report._prob(0.9994, 3) == "0.999" and report._prob(1.0, 3) == "1.000"
    assert report._prob(float("nan"), 2) == report._DASH


def test_no_threshold_column_when_no_model_has_one(tmp_path):
    results = make_results(models=(("bert-span", 0.7), ("llama3-lora", 0.85)))
    for m in results["models"]:
        m["threshold"] = None
    md = write_run(tmp_path / "run", results).report_md.read_text(encoding="utf-8")
    assert "### Validation (threshold tuned here)" not in md
    rows = _table_rows(_md_section(md, "### Validation"))
    assert [len(r) for r in rows] == [4, 4]
    assert "no unanswerable questions" in _md_section(md, "### Validation")
