"""Tests for qa_models.report: report files and their rebuild, the results schema, --compare, CLI.

Everything runs on synthetic results (tests/report_fixtures.py, seeded), so no model, GPU or data
set is needed. The Answer paragraph and its tables are in test_report_answer.py; bootstrap CIs,
question buckets and the other report sections in test_report_sections.py.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qa_models import report
from qa_models.report import (
    ReportError,
    build_report,
    compare_runs,
    headline,
    load_results,
    write_run,
)

from report_fixtures import REPO, make_results, make_typed_results


# ---------------------------------------------------------------------------- report files


def test_write_run_writes_every_file(written):
    for path in (written.results_json, written.results_csv, written.report_md, written.report_html):
        assert path.is_file() and path.stat().st_size > 0
    assert set(written.plots) == set(report.PLOT_FILES) and not written.skipped_plots
    for png in written.plots.values():
        data = png.read_bytes()
        assert data.startswith(b"\x89PNG") and b"Software" not in data
        assert png.stat().st_mode & 0o044, "report files must not be private to the writer"
    # No temp files left behind by the atomic writes.
    assert not [p for p in written.run_dir.iterdir() if p.name.endswith(".tmp")]


def test_report_rebuilds_byte_identically_from_json(written, tmp_path):
    before = {p.name: p.read_bytes() for p in written.run_dir.iterdir()}
    build_report(written.run_dir)
    after = {p.name: p.read_bytes() for p in written.run_dir.iterdir()}
    assert before == after
    # And from a copy of the JSON alone, in another directory.
    other = tmp_path / "copy"
    other.mkdir()
    (other / "results.json").write_bytes(before["results.json"])
    build_report(other)
    for name in ("report.md", "report.html", "results.csv", *report.PLOT_FILES.values()):
        assert (other / name).read_bytes() == before[name], name


def test_typed_results_give_the_report_rebuilt_from_their_json(tmp_path):
    # write_run takes the producer's Results as they are; the report it writes must be the one
    # build_report rebuilds later from the results.json it wrote, byte for byte.
    typed = make_typed_results(models=(("bert-span", 0.7), ("qwen-zero-shot", 0.4)))
    paths = write_run(tmp_path / "typed", typed)
    written_files = {p.name: p.read_bytes() for p in paths.run_dir.iterdir()}
    rebuilt = tmp_path / "rebuilt"
    rebuilt.mkdir()
    (rebuilt / "results.json").write_bytes(written_files["results.json"])
    build_report(rebuilt)
    assert {p.name: p.read_bytes() for p in rebuilt.iterdir()} == written_files
    # The same data as a plain dict writes the same report (results.json itself may differ in
    # int-vs-float spelling of counts: validating a dict casts them to float).
    from_dict = write_run(tmp_path / "dict", make_results(models=(("bert-span", 0.7), ("qwen-zero-shot", 0.4))))
    reports = {p.name: p.read_bytes() for p in from_dict.run_dir.iterdir() if p.name != "results.json"}
    assert reports == {k: v for k, v in written_files.items() if k != "results.json"}
    assert json.loads(written_files["results.json"])["schema_version"] == 3


def test_csv_has_one_row_per_model(written):
    frame = pd.read_csv(written.results_csv)
    assert list(frame["name"]) == ["bert-span", "llama3-lora", "qwen-zero-shot"]
    for col in ("params_total", "train_wall_time_s", "peak_memory_gib", "test_f1", "test_f1_ci_low", "test_f1_ci_high",
                "test_HasAns_f1", "test_NoAns_exact_ci_high", "threshold", "latency_p50_s", "questions_per_s",
                "prediction_snapped_answers", "validation_f1"):
        assert col in frame.columns, col
    row = frame.set_index("name").loc["bert-span"]
    assert row.test_f1_ci_low < row.test_f1 < row.test_f1_ci_high
    assert row.peak_memory_gib == pytest.approx(6.0)
    assert pd.isna(frame.set_index("name").loc["qwen-zero-shot", "train_wall_time_s"])


def test_report_markdown_content(written):
    md = written.report_md.read_text(encoding="utf-8")
    assert "For extractive QA on SQuAD v2.0, which model wins on F1, and at what cost?" in md
    # The winner and the paired CI are in the answer paragraph.
    answer = next(line for line in md.splitlines() if line.startswith("**Answer.**"))
    assert "**llama3-lora** wins on test F1" in answer and "runner-up **bert-span**" in answer
    assert "paired bootstrap 95% CI" in answer and "GPU-hours" in answer and "questions/s" in answer
    # Every pair of models appears in the paired table.
    assert md.count("| llama3-lora | bert-span |") == 1
    assert "| bert-span | qwen-zero-shot |" in md and "| llama3-lora | qwen-zero-shot |" in md
    # Pipes inside answers are escaped; the documented answer is beside them.
    assert "Norse \\| Frankish people" in md and "[UNK] people" in md
    for file in report.PLOT_FILES.values():
        assert f"]({file})" in md
    for item in ("NVIDIA H100 80GB HBM3", "550.54", "abc1234", "a" * 64, "answer_not_in_context"):
        assert item in md
    assert "---:" in md  # numeric columns right-aligned


def test_html_is_self_contained(written):
    text = written.report_html.read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == len(report.PLOT_FILES)
    assert 'src="plot_' not in text and "<style>" in text and 'class="num"' in text
    assert "&lt;" not in text.split("<body>")[0]  # head not mangled


def test_headline_single_model_says_so():
    results = make_results(models=(("bert-span", 0.7),))
    text = headline(results)
    assert text.startswith("Only one model was run (**bert-span**)")
    assert "test F1" in text and "GPU-hours" in text


def test_report_survives_missing_optional_data(tmp_path):
    # CMRC-like: no HasAns/NoAns keys, no history, no inference, no probes, zero-shot row.
    results = make_results(models=(("bert-span", 0.7), ("qwen-zero-shot", 0.5)))
    results["run"]["track"] = "cmrc2018"
    for m in results["models"]:
        m["test"] = {k: v for k, v in m["test"].items() if k in ("exact", "f1", "total")}
        for row in m["test_per_question"]:
            row["has_answer"] = True
            row["gold"] = row["gold"] or ["答案"]
        m["inference"] = None
        m["probes"] = []
        m["prediction"] = {}
        if m["train"]:
            m["train"]["history"] = {}
    paths = write_run(tmp_path / "cmrc", results)
    assert {"train_loss", "validation"} <= set(paths.skipped_plots)
    md = paths.report_md.read_text(encoding="utf-8")
    assert "Plot skipped: no model has a training-loss history" in md
    assert "| HasAns |" not in md and "No probes recorded." in md
    frame = pd.read_csv(paths.results_csv)
    assert len(frame) == 2 and "test_HasAns_f1" not in frame.columns
    # A stale plot from an earlier build of the same directory is removed.
    (tmp_path / "cmrc" / "plot_train_loss.png").write_bytes(b"stale")
    build_report(tmp_path / "cmrc")
    assert not (tmp_path / "cmrc" / "plot_train_loss.png").exists()


def test_write_run_accepts_numpy_and_nan(tmp_path):
    results = make_results(models=(("bert-span", 0.7),))
    results["models"][0]["threshold"] = np.float32(0.25)
    results["models"][0]["train"]["history"]["eval"][0]["eval_loss"] = float("nan")
    paths = write_run(tmp_path / "np", results)
    saved = json.loads(paths.results_json.read_text())
    assert saved["models"][0]["threshold"] == 0.25
    assert saved["models"][0]["train"]["history"]["eval"][0]["eval_loss"] is None


# ---------------------------------------------------------------------------- errors


def test_missing_results_is_a_clear_error(tmp_path):
    with pytest.raises(ReportError, match=r"results\.json: not found"):
        load_results(tmp_path / "nope")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "top level must be a JSON object"),
        ('{"run": {}, "models": []}', "schema_version is None"),
        ('{"schema_version": 2, "models": []}', 'missing value for field "run"'),
        ('{"schema_version": 1, "run": {}, "models": []}', "schema_version is 1; this harness reads version 2 or 3"),
    ],
)
def test_broken_json_is_a_clear_error(tmp_path, content, message):
    (tmp_path / "results.json").write_text(content)
    with pytest.raises(ReportError, match=message) as info:
        build_report(tmp_path)
    assert str(tmp_path / "results.json") in str(info.value)


def _no_models_dict(r):
    r["models"] = {}


def _duplicate_model(r):
    r["models"].append(copy.deepcopy(r["models"][0]))


def _row_without_f1(r):
    del r["models"][0]["test_per_question"][0]["f1"]


def _version_1_extra(r):
    r["models"][0]["extra"] = {"abstention_share_abstained": 0.5}


@pytest.mark.parametrize(
    ("breaks", "message"),
    [
        (_no_models_dict, 'wrong value type for field "models"'),
        (_duplicate_model, r"models\[1\] \(bert-span\): model name is empty or used twice"),
        (_row_without_f1, 'missing value for field "models.test_per_question.f1"'),
        (_version_1_extra, 'can not match "extra"'),  # schema 1's flat keys are not read back
    ],
)
def test_invalid_field_is_named(tmp_path, breaks, message):
    results = make_results(models=(("bert-span", 0.7),), n=5)
    breaks(results)
    (tmp_path / "results.json").write_text(json.dumps(results))
    with pytest.raises(ReportError, match=message) as info:
        build_report(tmp_path)
    assert str(tmp_path / "results.json") in str(info.value)


def test_write_run_rejects_invalid_but_keeps_the_data(tmp_path):
    results = make_results(models=(("bert-span", 0.7),))
    results["schema_version"] = 7
    with pytest.raises(ReportError, match="schema_version is 7"):
        write_run(tmp_path, results)
    assert json.loads((tmp_path / "results.invalid.json").read_text())["schema_version"] == 7
    assert not (tmp_path / "results.json").exists()


# ---------------------------------------------------------------------------- compare


def test_compare_flags_only_non_overlapping_differences(tmp_path):
    # bert-span jumps from 40% to 90% accuracy (CIs cannot overlap); llama3-lora is the
    # same model redrawn with another seed (CIs overlap).
    a = make_results(models=(("bert-span", 0.40), ("llama3-lora", 0.80)), seed=1, run_id="run-a")
    b = make_results(models=(("bert-span", 0.90), ("llama3-lora", 0.80)), seed=2, run_id="run-b")
    write_run(tmp_path / "a", a)
    write_run(tmp_path / "b", b)
    comparison = compare_runs([tmp_path / "a", tmp_path / "b"])
    flagged = {(model, metric) for model, metric, _, _ in comparison.flagged}
    assert ("bert-span", "test F1") in flagged and ("bert-span", "test EM") in flagged
    assert not any(model == "llama3-lora" for model, _ in flagged)
    table = comparison.table.set_index(["model", "metric"])
    assert table.loc[("llama3-lora", "test F1"), "CIs"] == "overlap"
    assert table.loc[("bert-span", "test F1"), "CIs"].startswith("**differ**")
    assert {"run-a", "run-b"} <= set(comparison.table.columns)
    assert "| bert-span | train time |" in comparison.markdown


def test_compare_needs_two_runs(tmp_path):
    with pytest.raises(ReportError, match="at least two"):
        compare_runs([tmp_path])


# ---------------------------------------------------------------------------- CLI


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # Keep the caller's environment (HOME holds matplotlib's font cache; without it every
    # subprocess rebuilds the cache) and make the package importable from any cwd.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "qa_models.report", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env=env)


def test_cli_rebuild_compare_and_errors(tmp_path):
    run_a, run_b = tmp_path / "reports" / "a", tmp_path / "reports" / "b"
    write_run(run_a, make_results(models=(("bert-span", 0.4),), run_id="a"))
    write_run(run_b, make_results(models=(("bert-span", 0.9),), run_id="b"))
    md_before = (run_a / "report.md").read_bytes()
    (run_a / "report.md").unlink()

    done = _cli(str(run_a), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (run_a / "report.md").read_bytes() == md_before
    assert "report.html" in done.stdout

    done = _cli("--compare", str(run_a), str(run_b), "--out", str(tmp_path / "cmp"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "qabench comparison: a vs b" in done.stdout and "**differ**" in done.stdout
    assert (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8") == done.stdout

    done = _cli("--compare", str(run_a), str(run_b), cwd=tmp_path)  # default --out
    assert done.returncode == 0 and (tmp_path / "reports" / "compare" / "compare.md").is_file()

    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text('{"schema_version": 2}')
    done = _cli(str(tmp_path / "broken"), cwd=tmp_path)
    assert done.returncode == 1
    assert "error:" in done.stderr and 'missing value for field "run"' in done.stderr and "broken" in done.stderr


def test_cli_usage_in_process(tmp_path, capsys):
    # Same parser as the subprocess runs above, without paying a fresh interpreter per case.
    assert report.main([str(tmp_path / "missing")]) == 1
    assert "not found" in capsys.readouterr().err
    for argv in ([], [str(tmp_path), "--compare", "a", "b"], [str(tmp_path), "--out", "x"], ["--compare", "a"]):
        with pytest.raises(SystemExit) as info:
            report.main(argv)
        assert info.value.code == 2, argv
    capsys.readouterr()
    with pytest.raises(SystemExit):
        report.main(["--help"])
    help_text = capsys.readouterr().out
    for option in ("--compare", "--out", "--resamples", "--seed"):
        assert option in help_text
    # Every option documents itself.
    assert all(action.help for action in report._parser()._actions)


def test_module_does_not_import_torch_or_pyplot():
    code = "import sys, qa_models.report; print(sorted(m for m in ('torch', 'transformers', 'matplotlib.pyplot') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_results_dict_is_not_mutated(tmp_path):
    results = make_results(models=(("bert-span", 0.7),))
    snapshot = copy.deepcopy(results)
    write_run(tmp_path, results)
    assert results == snapshot
