"""Tests for qa_models.report: bootstrap CIs, question buckets, report files, --compare, CLI.

Everything runs on synthetic results built here (seeded), so no model, GPU or data set is
needed; the whole file takes a few seconds.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qa_models import report
from qa_models.report import (
    ReportError,
    answer_length_bucket,
    bootstrap_ci,
    build_report,
    compare_runs,
    headline,
    load_results,
    paired_bootstrap,
    question_type,
    write_run,
)
from qa_models.results import (
    AbstentionRecord,
    CoverageRecord,
    CrossLingualRecord,
    InferenceRecord,
    ModelResult,
    Parameters,
    ProbeAnswer,
    QuestionRow,
    Results,
    RunMetadata,
    SpeedRecord,
    TrainRecord,
    to_json_dict,
)

REPO = Path(__file__).resolve().parents[1]

# (question template, gold answer) pairs covering every question type and length bucket.
_QUESTIONS = [
    ("What is the capital of region {i}?", "Paris"),
    ("Who founded settlement {i}?", "William the Conqueror"),
    ("When was treaty {i} signed?", "in 1066"),
    ("Where did expedition {i} land?", "on the northern coast of Sicily"),
    ("Which river runs through town {i}?", "the Seine"),
    ("How many soldiers fought in battle {i}?", "about 7,000"),
    ("How much did bridge {i} cost?", "two million British pounds"),
    ("How did army {i} cross the channel?", "by ship across the narrow strait to the English coast at night"),
    ("Why did king {i} abdicate?", "because of a long dispute with the barons over taxes and the rights of the church"),
    ("Name the poet of anthology {i}.", "Wace"),
]


def make_typed_results(
    models: tuple[tuple[str, float], ...] = (("bert-span", 0.70), ("llama3-lora", 0.85), ("qwen-zero-shot", 0.40)),
    n: int = 200,
    seed: int = 0,
    run_id: str = "synthetic-run",
) -> Results:
    """Valid schema-2 results: per model, per-question rows drawn with accuracy ``p``.

    The official metrics are computed from the rows so they agree with the bootstrap means.
    A model whose name contains "zero-shot" gets no training record. The optional
    measurement sections (abstention, coverage, cross_lingual, speed) are left unmeasured.
    """
    rng = np.random.default_rng(seed)
    questions = []
    for i in range(n):
        template, gold = _QUESTIONS[i % len(_QUESTIONS)]
        has_answer = rng.random() < 2 / 3
        questions.append({"id": f"q{i:04d}", "question": template.format(i=i), "has_answer": bool(has_answer),
                          "gold": [gold] if has_answer else []})
    out_models = [_model_row(k, name, p, questions, seed) for k, (name, p) in enumerate(models)]
    run = RunMetadata(
        run_id=run_id, profile="synthetic", track="squad_v2",
        question="For extractive QA on SQuAD v2.0, which model wins on F1, and at what cost?",
        started="2025-01-01T00:00:00", finished="2025-01-01T03:00:00", seed=42, git_commit="abc1234",
        environment={"python": "3.11.7", "torch": "2.5.0", "transformers": "5.0.0", "peft": "0.17.0",
                     "bitsandbytes": "0.45.0", "datasets": "3.0.0", "cuda": "12.4", "gpu_name": "NVIDIA H100 80GB HBM3",
                     "gpu_memory_bytes": 80 * 2**30, "driver": "550.54", "cpu": "Intel Xeon", "cpu_count": 16,
                     "platform": "Linux-x86_64"},
        data_files={"train": {"source": "train-v2.0.json", "sha256": "a" * 64, "n_examples": 130319},
                    "test": {"source": "dev-v2.0.json", "sha256": None, "n_examples": n}},
        skipped_records={"answer_not_in_context": 2}, repaired_offsets=5, dropped_answers=0, train_spec={},
    )
    return Results(run=run, models=out_models)


def _model_row(k: int, name: str, p: float, questions: list[dict], seed: int) -> ModelResult:
    # [seed, k] with k=0 would seed the same stream as `seed` alone (numpy pads with
    # zeros), tying model 0's answers to the has_answer draws; 1 + k avoids that.
    mrng = np.random.default_rng([seed, 1 + k])
    rows = []
    for q in questions:
        correct = mrng.random() < p
        if q["has_answer"]:
            pred = q["gold"][0] if correct else "wrong | answer"
            f1 = 1.0 if correct else float(mrng.choice([0.0, mrng.uniform(0.1, 0.8)]))
        else:
            pred = "" if correct else "a spurious span"
            f1 = 1.0 if correct else 0.0
        rows.append({**q, "prediction": pred, "exact": int(correct), "f1": f1})
    frame = pd.DataFrame(rows)
    has, no = frame[frame.has_answer], frame[~frame.has_answer]
    test = {"exact": 100 * frame.exact.mean(), "f1": 100 * frame.f1.mean(), "total": len(frame),
            "HasAns_exact": 100 * has.exact.mean(), "HasAns_f1": 100 * has.f1.mean(), "HasAns_total": len(has),
            "NoAns_exact": 100 * no.exact.mean(), "NoAns_f1": 100 * no.f1.mean(), "NoAns_total": len(no)}
    zero_shot = "zero-shot" in name
    big = "bert" not in name
    train = None
    if not zero_shot:
        train = TrainRecord(
            epochs=2.0, learning_rate=2e-4 if big else 3e-5, batch_size=4 if big else 16,
            wall_time_s=7200.0 if big else 1800.0, examples_per_s=12.5 if big else 80.0,
            tokens_per_s=5000.0 if big else 30000.0, peak_memory_bytes=int((22 if big else 6) * 2**30),
            memory_kind="cuda", device="cuda:0", device_kind="cuda", cached=False,
            history={
                "loss": [{"step": s, "epoch": s / 50, "loss": (5.5 if not big else 1.6) * np.exp(-s / 40) + 0.3}
                         for s in range(10, 101, 10)],
                "eval": [{"epoch": e, "eval_loss": (1.2 / e) if big else None,
                          "exact": 100 * p - 12 / e, "f1": 100 * p - 8 / e} for e in (1.0, 2.0, 3.0)],
            },
        )
    return ModelResult(
        name=name, model_id=f"org/{name}", family="bert" if not big else "llama3",
        method="generative" if big else "span", quantize="4bit" if big else "none", zero_shot=zero_shot, lora=None,
        parameters=Parameters(total=8_030_000_000 if big else 110_000_000,
                              trainable=42_000_000 if big and not zero_shot else (0 if zero_shot else 110_000_000)),
        train=train, cost_estimate=None, threshold=0.5,
        validation={**test, "f1": test["f1"] + 1.0}, test=test,
        test_per_question=[QuestionRow(**r) for r in rows],
        inference=InferenceRecord(questions_per_s=8.0 if big else 250.0, test_questions=len(rows), batch_size=8,
                                  device="cuda:0", latency_p50_s=0.2 if big else 0.01,
                                  latency_p95_s=0.4 if big else 0.02, latency_rounds=20),
        probes=[
            ProbeAnswer(id="normans", lang="en", question="Who were the Normans?", context="The Normans were ...",
                        answer="Norse | Frankish people" if k == 0 else "descendants of Norse raiders",
                        span_if_answering="", na_prob=0.05 + 0.1 * k, documented_bert_answer="[UNK] people",
                        expected_answer=None),
            ProbeAnswer(id="zh-1", lang="zh", question="谁建立了诺曼底公国？", context="……", answer="",
                        span_if_answering="罗洛" if k == 0 else "", na_prob=0.9, documented_bert_answer="",
                        expected_answer=None),
        ],
        prediction={"snapped_answers": 3 * k, "no_answer_replies": 10 + k},
    )


def make_results(*args, **kwargs) -> dict:
    """:func:`make_typed_results` as its results.json object (the form tests edit in place)."""
    return to_json_dict(make_typed_results(*args, **kwargs))


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> report.Paths:
    """One report written from the default 3-model synthetic results."""
    return write_run(tmp_path_factory.mktemp("run") / "synthetic-run", make_results())


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
    assert json.loads(written_files["results.json"])["schema_version"] == 2


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
        ('{"schema_version": 1, "run": {}, "models": []}', "schema_version is 1; this harness reads version 2"),
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


# ---------------------------------------------------------------------------- reader-facing layout


def _md_section(md: str, heading: str) -> str:
    """The Markdown from ``heading`` up to the next heading of the same or a higher level."""
    level = heading.split(" ", 1)[0]
    start = md.index(heading + "\n")
    rest = md[start + len(heading) + 1:]
    ends = [i for i in (rest.find(f"\n{'#' * n} ") for n in range(1, len(level) + 1)) if i >= 0]
    return rest[: min(ends)] if ends else rest


def _table_rows(section: str) -> list[list[str]]:
    """Cells of the first pipe table in ``section`` (header and separator dropped)."""
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines[2:]]


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
    assert len(missing) == 1 and "no-answer decision" in missing[0]  # abstention is the one left unmeasured
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
    assert len(notes) == 4
    assert any("`pytest bench -m benchmark`" in line for line in notes)
    assert any("CMRC data" in line for line in notes)
    frame = pd.read_csv(written.results_csv)
    assert not [c for c in frame.columns if c.startswith(("speed_", "coverage_", "cross_lingual_", "abstention_", "extra_"))]


def test_dodge_separates_points_at_the_same_cost():
    offsets = report._dodge([0.0, 10.0, 0.0, 0.1, 5.0], step=1.0)
    assert offsets[1] == 0.0 and offsets[4] == 0.0  # lone points stay put
    positions = sorted(x + dx for x, dx in zip([0.0, 0.0, 0.1], [offsets[0], offsets[2], offsets[3]]))
    assert all(b - a >= 0.9 for a, b in zip(positions, positions[1:]))
    assert report._dodge([3.0, 3.0], step=1.0) == [-0.5, 0.5]  # deterministic, input order breaks ties


def test_short_training_times_are_not_zero_hours():
    results = make_results(models=(("bert-span", 0.7), ("llama3-lora", 0.85)))
    for m, wall in zip(results["models"], (14.7, 16.5)):
        m["train"].update(wall_time_s=wall, device="cpu", device_kind="cpu")
    text = headline(results)
    assert "training 16.5 CPU-seconds vs 14.7 CPU-seconds" in text and "0.00" not in text
    assert report._time_unit(14.7) == (1.0, "seconds") and report._time_unit(7200.0) == (3600.0, "hours")


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
    assert detail["bert-span"][2:] == ["99%", "0.52", "44.1"]
    assert detail["llama3-lora"][2:] == ["40%", "0.90", "80.0"]
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
    assert [r[2:] for r in rows] == [["30%", "0.55", "12.0"], ["100%", "0.55", "12.0"]]
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
