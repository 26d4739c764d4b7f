"""Tests for qa_models.report's reader-facing top: the Answer paragraph, its Diagnostics table,
At a glance, and the CPU/GPU wording of training cost.

Synthetic results only (tests/report_fixtures.py); no model, GPU or data set is needed.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import asdict

import pytest

from qa_models import report
from qa_models.report import headline, load_results, write_run
from qa_models.results import AbstentionRecord

from report_fixtures import make_results, _md_section, _table_rows


# ---------------------------------------------------------------------------- reader-facing layout


def test_at_a_glance_follows_the_answer_sorted_by_test_f1(written):
    md = written.report_md.read_text(encoding="utf-8")
    # Right after the answer paragraph, before the long per-subset CI table.
    after_answer = md.split("**Answer.**", 1)[1].split("\n\n", 1)[1]
    assert after_answer.startswith("## At a glance\n")
    assert md.index("## At a glance") < md.index("## Test metrics with 95% bootstrap CIs")
    rows = _table_rows(_md_section(md, "## At a glance"))
    # Input order is bert-span, llama3-lora, qwen-zero-shot; test F1 order is 0.85 > 0.70 > 0.40.
    assert [r[0] for r in rows] == ["llama3-lora", "bert-span", "qwen-zero-shot"]
    header = next(line for line in _md_section(md, "## At a glance").splitlines() if line.startswith("| model"))
    for col in ("method", "quantisation", "test F1 [95% CI]", "test EM", "HasAns F1", "NoAns F1",
                "params (total / trainable)", "train time", "peak memory (train)", "questions/s", "latency p50 (s)"):
        assert f"| {col} |" in header or header.endswith(f"| {col} |"), col
    llama, bert, zero = rows
    assert llama[1:3] == ["generative", "4bit"] and bert[1:3] == ["span", "none"]
    assert "[" in llama[3] and "]" in llama[3]  # CI beside the point estimate
    f1s = [float(r[3].split(" ")[0]) for r in rows]
    assert f1s == sorted(f1s, reverse=True)
    assert "8.03B / 42M" in llama and "2.00 h" in llama and "22.00 GiB GPU" in llama
    assert "zero-shot" in zero  # train time of a zero-shot row
    # The same order from the public helper, and in the HTML.
    frame = report.at_a_glance(load_results(written.run_dir))
    assert list(frame["model"]) == ["llama3-lora", "bert-span", "qwen-zero-shot"]
    html_text = written.report_html.read_text(encoding="utf-8")
    assert html_text.index("<h2>At a glance</h2>") < html_text.index("<h2>Test metrics with 95% bootstrap CIs</h2>")


def test_at_a_glance_ties_and_missing_f1_keep_input_order():
    results = make_results(models=(("bert-span", 0.7), ("llama3-lora", 0.7), ("qwen-zero-shot", 0.7)))
    same = results["models"][0]
    for m in results["models"][1:]:
        m["test_per_question"] = copy.deepcopy(same["test_per_question"])
        m["test"] = dict(same["test"])
    results["models"][0]["test"] = {}
    results["models"][0]["test_per_question"] = []  # no F1 at all: last
    frame = report.at_a_glance(results)
    assert list(frame["model"]) == ["llama3-lora", "qwen-zero-shot", "bert-span"]
    text = headline(results)
    assert "**llama3-lora** ties on test F1 with the runner-up **qwen-zero-shot**" in text
    assert "points ahead" not in text


def test_at_a_glance_drops_hasans_noans_columns_for_cmrc():
    results = make_results(models=(("bert-span", 0.7),))
    m = results["models"][0]
    m["test"] = {k: v for k, v in m["test"].items() if k in ("exact", "f1", "total")}
    for row in m["test_per_question"]:
        row["has_answer"] = True
    frame = report.at_a_glance(results)
    assert "HasAns F1" not in frame.columns and "NoAns F1" not in frame.columns
    assert "test F1 [95% CI]" in frame.columns


def test_short_training_times_are_not_zero_hours():
    results = make_results(models=(("bert-span", 0.7), ("llama3-lora", 0.85)))
    for m, wall in zip(results["models"], (14.7, 16.5)):
        m["train"].update(wall_time_s=wall, device="cpu", device_kind="cpu")
    text = headline(results)
    assert "training 16.5 CPU-seconds vs 14.7 CPU-seconds" in text and "0.00" not in text
    assert report._time_unit(14.7) == (1.0, "seconds") and report._time_unit(7200.0) == (3600.0, "hours")


def test_headline_warns_when_a_model_abstains_on_almost_everything(tmp_path):
    results = make_results(models=(("bert-span", 0.7), ("llama3-lora", 0.85)))
    abstains, answers = results["models"]
    abstains["abstention"] = _abstention(share_abstained=0.99, no_answer_auroc=0.52, never_abstain_HasAns_f1=44.06)
    answers["abstention"] = _abstention(share_abstained=0.40, no_answer_auroc=0.9, never_abstain_HasAns_f1=80.0)
    text = headline(results)
    assert text.count("Caveat") == 1
    assert "**bert-span** answers \"no answer\" to 99% of test questions" in text
    assert _sentences(text) <= 3
    md = write_run(tmp_path / "run", results).report_md.read_text(encoding="utf-8")
    # The per-model numbers live in the Diagnostics table under the Answer, not in it.
    assert "AUROC 0.52" not in text
    detail = {r[0]: r for r in _table_rows(_md_section(md, "### Diagnostics"))}
    assert [detail["bert-span"][2], *detail["bert-span"][4:]] == ["99%", "0.52", "44.1"]
    assert [detail["llama3-lora"][2], *detail["llama3-lora"][4:]] == ["40%", "0.90", "80.0"]
    for name, m in (("bert-span", abstains), ("llama3-lora", answers)):  # the gain column, from the per-question rows
        rows = m["test_per_question"]
        gain = sum(100 * r["f1"] - (0 if r["has_answer"] else 100) for r in rows) / len(rows)
        assert detail[name][3].startswith(f"{gain:+.1f} [")
    section = _md_section(md, "### Span quality apart from the no-answer decision")
    rows = {r[0]: r for r in _table_rows(section)}
    assert set(rows) == {"bert-span", "llama3-lora"}
    # Below the warning share, no caveat.
    abstains["abstention"]["share_abstained"] = 0.5
    assert "Caveat" not in headline(results)


def test_several_abstaining_models_share_one_caveat():
    results = make_results()
    for m, auroc in zip(results["models"], (0.64, 0.49, 0.51)):
        m["abstention"] = _abstention(share_abstained=1.0, no_answer_auroc=auroc, never_abstain_HasAns_f1=7.6)
    text = headline(results)
    assert text.count("Caveat") == 1 and "3 of 3 models answer" in text
    assert _sentences(text) <= 3
    assert "AUROC" not in text and "abstained" not in text  # no per-model list inside the paragraph
    frame = report.diagnostics(results)
    # In the Answer's order (test F1: llama3-lora 0.85 > bert-span 0.70 > qwen-zero-shot 0.40).
    assert list(frame["model"]) == ["llama3-lora", "bert-span", "qwen-zero-shot"]
    assert list(frame["no-answer AUROC"]) == ["0.49", "0.64", "0.51"]
    assert set(frame["abstained (tuned threshold)"]) == {"100%"} and set(frame["HasAns F1 never abstaining"]) == {"7.6"}


def _abstention(**fields) -> dict:
    """An abstention section as results.json holds it (``never_abstain_HasAns_exact`` left unmeasured)."""
    return asdict(AbstentionRecord(**{"never_abstain_HasAns_exact": None, **fields}))


def _sentences(text: str) -> int:
    """Sentences of a paragraph: full stops followed by a space or the end, outside numbers."""
    return len(re.findall(r"[.!?](?:\s|$)", text))


def test_answer_is_at_most_three_sentences_with_a_clear_winner():
    text = headline(make_results())
    assert _sentences(text) <= 3
    assert "**llama3-lora** wins on test F1" in text and "which excludes zero" in text
    assert "Caveat" not in text


def test_a_tie_of_more_than_two_says_how_many_share_the_top():
    results = make_results(models=(("bert-span", 0.7), ("llama3-lora", 0.7), ("qwen-zero-shot", 0.7), ("qwen-lora", 0.3)))
    same = results["models"][0]
    for m in results["models"][1:3]:
        m["test_per_question"] = copy.deepcopy(same["test_per_question"])
        m["test"] = dict(same["test"])
    text = headline(results)
    assert "**bert-span** ties on test F1 with the runner-up **llama3-lora** and 1 more model at" in text
    assert _sentences(text) <= 3
    results["models"][2]["test"] = {**same["test"], "f1": same["test"]["f1"] - 1}
    assert "**llama3-lora** at" in headline(results)  # two-way tie: no count


def test_diagnostics_table_in_markdown_and_html_agree(tmp_path):
    results = make_results(models=(("bert-span", 0.7), ("llama3-lora", 0.85)))
    for m, share in zip(results["models"], (1.0, 0.3)):
        m["abstention"] = _abstention(share_abstained=share, no_answer_auroc=0.55, never_abstain_HasAns_f1=12.0)
    paths = write_run(tmp_path / "run", results)
    md = paths.report_md.read_text(encoding="utf-8")
    after_answer = md.split("**Answer.**", 1)[1].split("\n\n", 1)[1]
    assert after_answer.startswith("### Diagnostics\n")
    rows = _table_rows(_md_section(md, "### Diagnostics"))
    assert [r[0] for r in rows] == ["llama3-lora", "bert-span"]
    assert [[r[2], *r[4:]] for r in rows] == [["30%", "0.55", "12.0"], ["100%", "0.55", "12.0"]]
    assert all(re.fullmatch(r"[+-]\d+\.\d \[-?\d+\.\d, -?\d+\.\d\]", r[3]) for r in rows)
    html_text = paths.report_html.read_text(encoding="utf-8")
    # Directly under the Answer paragraph in HTML too, and the same cells row for row.
    answer_end = html_text.index("</p>", html_text.index("<p><strong>Answer.</strong>"))
    assert html_text[answer_end:].startswith("</p>\n<h3>Diagnostics</h3>\n")
    table = html_text[answer_end:].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    html_rows = [re.findall(r"<td[^>]*>(.*?)</td>", tr) for tr in re.findall(r"<tr>(.*?)</tr>", table)]
    assert html_rows == rows
    # Without abstention data the table is left out.
    for m in results["models"]:
        m["abstention"] = None
    assert "### Diagnostics" not in write_run(tmp_path / "none", results).report_md.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- device kind


def _with_train_device(results: dict, device: str, device_kind: str | None) -> dict:
    results = copy.deepcopy(results)
    for model in results["models"]:
        if model["train"]:
            model["train"]["device"] = device
            if device_kind is None:
                model["train"].pop("device_kind", None)
            else:
                model["train"]["device_kind"] = device_kind
    return results


def _answer_line(paths) -> str:
    md = paths.report_md.read_text(encoding="utf-8")
    return next(line for line in md.splitlines() if line.startswith("**Answer.**"))


def test_real_gpu_name_recorded_by_training_gives_gpu_hours_wording(tmp_path):
    # Training records torch.cuda.get_device_name(0) as the display name and the kind as data.
    results = _with_train_device(make_results(), "NVIDIA H100 80GB HBM3", "cuda")
    answer = _answer_line(write_run(tmp_path / "gpu", results))
    assert "GPU-hours" in answer and "CPU-" not in answer


def test_cpu_device_kind_gives_cpu_wording(tmp_path):
    results = _with_train_device(make_results(), "cpu (2 cores)", "cpu")
    answer = _answer_line(write_run(tmp_path / "cpu", results))
    assert "CPU-hours" in answer and "GPU-hours" not in answer


def test_gain_over_abstaining_is_paired_on_the_same_questions():
    import pandas as pd

    from qa_models.report.answer import _gain_over_abstaining as gain_over_abstaining
    from qa_models.report.frame import ModelStats

    def stats(has_answer, f1):
        return ModelStats("m", pd.DataFrame({"has_answer": has_answer, "f1": f1}), {}, {})

    # Two unanswerable questions (one abstained, one answered wrongly), two answerable (100, 50):
    # F1 62.5 against 50 for "" everywhere.
    diff, low, high = gain_over_abstaining(stats([False, False, True, True], [100.0, 0.0, 100.0, 50.0]))
    assert diff == pytest.approx(12.5)
    assert low <= diff <= high and low < high
    # A model that abstains everywhere gains exactly nothing, with no spread.
    assert gain_over_abstaining(stats([False, True, False], [100.0, 0.0, 100.0])) == (0.0, 0.0, 0.0)
    # Without both kinds of question there is no bar to clear.
    assert all(math.isnan(x) for x in gain_over_abstaining(stats([True, True], [100.0, 0.0])))
