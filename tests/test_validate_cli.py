"""python -m qa_models.validate: a checkpoint judged on validation alone gives the run's own
validation numbers (threshold, scores, abstention diagnostics) and never reads test."""

from __future__ import annotations

import json

import pytest

from qa_models.run_config import CONFIG_DIR

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def test_validate_reproduces_the_runs_validation_numbers_without_test(tmp_path, monkeypatch):
    from qa_models import runner
    from qa_models.train import main as train
    from qa_models.validate import main as validate

    config = CONFIG_DIR / "bert/tiny_span.yaml"
    out = tmp_path / "run"
    assert train(["--config", str(config), "--out", str(out), "--epochs", "1", "--cache-dir", str(tmp_path / "cache")]) == 0
    summary = json.loads((out / "summary.json").read_text())
    row = json.loads((out / "results.json").read_text())["models"][0]

    loaded = runner.load_run_data

    def without_test(data, seed):
        run_data = loaded(data, seed)
        run_data.test = []  # validate must not need test: an empty one would fail any scoring of it
        return run_data

    monkeypatch.setattr("qa_models.validate.load_run_data", without_test)
    judged = tmp_path / "validation.json"
    assert validate([summary["checkpoint"], "--config", str(config), "--out", str(judged)]) == 0
    numbers = json.loads(judged.read_text())
    assert numbers["model"] == "bert-span"
    assert numbers["threshold"] == pytest.approx(summary["threshold"])
    assert numbers["validation"] == pytest.approx(summary["validation"])
    assert numbers["validation_abstention"] == pytest.approx(row["validation_abstention"])
    assert numbers["validation_questions"] == summary["validation"]["total"]
    versus = numbers["f1_minus_abstaining_everywhere"]
    abstaining_f1 = 100 * numbers["validation_unanswerable"] / numbers["validation_questions"]
    assert versus["diff"] == pytest.approx(summary["validation"]["f1"] - abstaining_f1)
    assert versus["low"] <= versus["diff"] <= versus["high"]


def test_validate_names_a_folder_that_is_not_a_checkpoint(tmp_path, capsys):
    from qa_models.validate import main as validate

    assert validate([str(tmp_path), "--config", str(CONFIG_DIR / "bert/tiny_span.yaml")]) == 2
    assert "is not a qabench checkpoint" in capsys.readouterr().err
