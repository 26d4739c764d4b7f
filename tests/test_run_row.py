"""The one recipe per model run (``runner.run_row``) and the results.json it leads to.

A real tiny run through the one-model command line, read back with the typed schema: the
sections the run measures (inference, abstention, coverage, cross-lingual) are there
although no bench test recorded them, and the speed suite's section is null because it
did not run. The report is not checked here; results.json is the run's record.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qa_models import results as results_module
from qa_models.adapters import Predictions

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run-row") / "out"
    command = [sys.executable, "-m", "qa_models.train", "--profile", "tiny", "--model", "bert-span", "--epochs", "1",
               "--max-train-samples", "16", "--report-to", "none", "--out", str(out),
               "--cache-dir", str(out.parent / "cache")]
    done = subprocess.run(command, cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_cli_run_writes_typed_results_with_every_measured_section(tiny_run):
    results = results_module.read_results(tiny_run)  # strict: unknown or missing keys fail
    assert results.schema_version == results_module.SCHEMA_VERSION
    assert results.run.profile == "tiny" and results.run.track == "squad_v2"
    (row,) = results.models
    assert row.name == "bert-span" and row.train is not None and not row.train.cached
    assert row.train.checkpoint is not None and Path(row.train.checkpoint).is_dir()

    n_test = results.run.data_files["test"]["n_examples"]
    assert row.inference is not None
    assert row.inference.test_questions == n_test and row.inference.questions_per_s > 0
    assert row.inference.latency_rounds == min(20, n_test)
    assert 0 < row.inference.latency_p50_s <= row.inference.latency_p95_s

    assert row.abstention is not None and 0.0 <= row.abstention.share_abstained <= 1.0
    # The same diagnostics on validation, where fixes are judged.
    assert row.validation_abstention is not None and 0.0 <= row.validation_abstention.share_abstained <= 1.0
    assert row.coverage is not None and row.coverage.kind == "unk" and row.coverage.n_tokens > 0
    assert row.cross_lingual is not None and row.cross_lingual.total > 0  # the tiny profile's CMRC fixtures
    assert row.speed is None  # the speed suite did not run
    assert row.prediction == {"windows": row.prediction["windows"]} and row.prediction["windows"] >= n_test

    assert len(row.test_per_question) == n_test and len(row.probes) == 8
    for name in ("predictions.json", "na_probs.json", "metrics.json", "predictions.csv", "summary.json"):
        assert (tiny_run / name).is_file(), name
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    assert metrics["test"] == row.test and metrics["threshold"] == pytest.approx(row.threshold)


def test_results_json_has_no_version_1_leftovers(tiny_run):
    raw = json.loads((tiny_run / results_module.RESULTS_JSON).read_text(encoding="utf-8"))
    assert list(raw)[0] == "schema_version" and raw["schema_version"] == 3
    model = raw["models"][0]
    assert "extra" not in model and "test_questions_per_s" not in json.dumps(raw)


def test_prediction_counters_keep_scalars_only():
    import numpy as np

    from qa_models.measure import prediction_counters

    predictions = Predictions(answers={}, na_probs={}, extra={
        "snapped_answers": np.int64(3), "truncated_prompts": 0, "mode": "greedy", "raw_answers": {"q1": "x"},
        "lengths": [1, 2],
    })
    counters = prediction_counters(predictions)
    assert counters == {"snapped_answers": 3, "truncated_prompts": 0, "mode": "greedy"}
    assert type(counters["snapped_answers"]) is int


def test_results_json_is_written_before_the_report_and_survives_its_failure(tmp_path, monkeypatch):
    """A report that raises must not cost the run its record: results.json is already there."""
    from qa_models import report, run_metadata, runner
    from qa_models.config import DataSpec, ModelSpec, Profile, TrainSpec
    from qa_models.results import ModelResult, Parameters

    def failing_report(run_dir, **options):
        raise RuntimeError("report broke")

    # write_run writes results.json, then builds the report from it: break the second step.
    monkeypatch.setattr(report.build, "build_report", failing_report)
    monkeypatch.setattr(run_metadata, "environment", lambda: {"python": "3"})
    profile = Profile(name="unit", models=(ModelSpec(name="m", model_id="x", method="span", family="bert"),), data=DataSpec(train="t.json", test="t.json"), train=TrainSpec())
    data = runner.RunData(train=[], validation=[], test=[], probes=[])
    row = ModelResult(name="m", model_id="x", family="bert", method="span", quantize="none", zero_shot=False, lora=None,
                      parameters=Parameters(10, 10), train=None, cost_estimate=None, threshold=0.5,
                      validation={"f1": 1.0}, test={"f1": 1.0}, test_per_question=[], probes=[])
    with pytest.raises(RuntimeError, match="report broke"):
        runner.write_run_results(tmp_path / "run", profile, data, [row], "2026-01-01T00:00:00+00:00", "abc")
    back = results_module.read_results(tmp_path / "run")
    assert back.models == [row] and back.run.git_commit == "abc" and back.run.run_id == "run"


def test_a_gpu_name_recorded_by_training_reaches_the_report_as_gpu_hours(tmp_path, monkeypatch):
    """The producer records the device kind as data: a real GPU's product name (which starts
    with neither "cuda" nor "cpu") still gives the Answer its GPU-hours wording (issue 12's bug)."""
    from qa_models import device, report, run_metadata, runner, training
    from qa_models.profiles import get_profile, with_overrides

    h100 = device.Device("cuda", "NVIDIA H100 80GB HBM3", 0)
    monkeypatch.setattr(training, "detect", lambda index=0: h100)  # what TrainResult records after training
    monkeypatch.setattr(run_metadata, "environment", lambda: {"python": "3"})
    profile = with_overrides(get_profile("tiny"), models=["bert-span", "llama3-span"], epochs=1.0, max_train_samples=16)
    data = runner.load_run_data(profile.data, profile.train.seed)
    rows = [runner.run_row(spec, profile, data, tmp_path / "run", cache_dir=tmp_path / "cache", report_to="none",
                           log_dir=tmp_path / "tb" / spec.name) for spec in profile.models]
    assert {row.train.device for row in rows} == {"NVIDIA H100 80GB HBM3"}
    assert {row.train.device_kind for row in rows} == {"cuda"}
    runner.write_run_results(tmp_path / "run", profile, data, rows, "2026-01-01T00:00:00+00:00", "abc")
    answer = next(line for line in (tmp_path / "run" / "report.md").read_text(encoding="utf-8").splitlines()
                  if line.startswith("**Answer.**"))
    # Seconds of tiny training print as GPU-seconds: the GPU-hours wording at the unit that fits.
    assert re.search(r"training [0-9.]+ GPU-(seconds|minutes|hours) vs", answer) and "CPU-" not in answer, answer
    # The report written at the end of the run is the one rebuilt from its results.json.
    before = (tmp_path / "run" / "report.md").read_bytes()
    report.build_report(tmp_path / "run")
    assert (tmp_path / "run" / "report.md").read_bytes() == before
