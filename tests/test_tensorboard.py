"""Training logs through the Trainer's ``report_to`` (issue 14): a tiny model trained with
tensorboard writes event files with the loss at every logging step and validation EM/F1 at
every epoch; ``none`` writes no folder; the log choice never changes the checkpoint cache key;
wandb without its package is a clear error; the report links the folder only when it exists."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from qa_models.config import ConfigError, DataSpec, ModelSpec, TrainSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "fixtures"
HAS_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None
HAS_WANDB = importlib.util.find_spec("wandb") is not None
needs_tensorboard = pytest.mark.skipif(not HAS_TENSORBOARD, reason="tensorboard is not installed: pip install tensorboard")

EPOCHS = 2
LOGGING_STEPS = 2
TRAIN = TrainSpec(epochs=EPOCHS, learning_rate=5e-3, batch_size=8, eval_batch_size=16, logging_steps=LOGGING_STEPS)


@pytest.fixture(scope="module")
def run_data():
    from qa_models.runner import load_run_data

    spec = DataSpec(train=str(FIXTURES / "squad_v2_tiny.json"), test=str(FIXTURES / "squad_v2_tiny_dev.json"),
                    validation_fraction=0.3, max_train_samples=24, max_eval_samples=8)
    return load_run_data(spec, seed=42)


@pytest.fixture(scope="module")
def bert_spec(tiny_model_paths) -> ModelSpec:
    return ModelSpec(name="tiny-bert-span", model_id=str(tiny_model_paths["bert"]), max_seq_length=128, doc_stride=48)


def _train(spec, run_data, cache: Path, report_to: str, log_dir: Path | None):
    import torch

    from qa_models.runner import train_or_load

    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models gain nothing from more threads on a busy machine
    try:
        return train_or_load(spec, TRAIN, run_data, cache, "squad_v2", report_to=report_to, log_dir=log_dir)
    finally:
        torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def tensorboard_run(bert_spec, run_data, tmp_path_factory):
    if not HAS_TENSORBOARD:
        pytest.skip("tensorboard is not installed: pip install tensorboard")
    root = tmp_path_factory.mktemp("tb-run")
    log_dir = root / "reports" / "run-1" / bert_spec.name / "tb"
    trained = _train(bert_spec, run_data, root / "cache", "tensorboard", log_dir)
    return trained, log_dir, root / "cache"


def _scalars(log_dir: Path) -> dict[str, list]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})  # 0: keep every point
    events.Reload()
    return {tag: events.Scalars(tag) for tag in events.Tags()["scalars"]}


@needs_tensorboard
def test_event_file_has_the_loss_every_logging_step_and_em_f1_every_epoch(tensorboard_run):
    trained, log_dir, _ = tensorboard_run
    assert list(log_dir.glob("events.out.tfevents.*")), f"no event file in {log_dir}"
    scalars = _scalars(log_dir)

    f1, exact = scalars["eval/f1"], scalars["eval/exact"]
    assert len(f1) == len(exact) == EPOCHS  # one point per epoch
    final_step = f1[-1].step
    assert [p.step for p in f1] == [p.step for p in exact] == [final_step // EPOCHS * (i + 1) for i in range(EPOCHS)]
    # The same numbers as the harness's own per-epoch validation (best-threshold EM/F1).
    records = trained.train_result.history["eval"]
    assert [p.value for p in f1] == pytest.approx([r["f1"] for r in records], abs=1e-4)
    assert [p.value for p in exact] == pytest.approx([r["exact"] for r in records], abs=1e-4)
    assert len(scalars["eval/loss"]) == EPOCHS

    loss = scalars["train/loss"]
    # logging_first_step, then every logging_steps optimiser steps to the end.
    assert [p.step for p in loss] == [1, *range(LOGGING_STEPS, final_step + 1, LOGGING_STEPS)]
    assert [p.step for p in loss] == [p["step"] for p in trained.train_result.history["loss"]]
    assert [p.value for p in loss] == pytest.approx([p["loss"] for p in trained.train_result.history["loss"]], rel=1e-5)


@needs_tensorboard
def test_the_log_choice_is_not_part_of_the_cache_key(tensorboard_run, bert_spec, run_data, tmp_path):
    _, _, cache = tensorboard_run
    other = tmp_path / "tb"
    again = _train(bert_spec, run_data, cache, "none", other)
    assert again.cached  # same checkpoint: nothing retrained, so nothing logged
    assert not other.exists()


def test_none_writes_no_tensorboard_folder(bert_spec, run_data, tmp_path):
    log_dir = tmp_path / "reports" / "run" / bert_spec.name / "tb"
    trained = _train(bert_spec, run_data, tmp_path / "cache", "none", log_dir)
    assert not trained.cached and trained.train_result.history["loss"]
    assert not log_dir.exists()
    assert not list(tmp_path.rglob("events.out.tfevents.*"))


def test_default_is_tensorboard_when_installed():
    from qa_models.training import default_report_to, training_arguments

    assert default_report_to() == ("tensorboard" if HAS_TENSORBOARD else "none")
    spec = ModelSpec(name="m", model_id="unused")
    assert training_arguments(spec, TRAIN, "unused", has_validation_loss=False).report_to == []  # library default: none


def test_bad_or_missing_report_to_is_a_clear_error(bert_spec, run_data, tmp_path):
    from qa_models.runner import train_or_load
    from qa_models.training import check_report_to

    with pytest.raises(ConfigError, match="one of 'tensorboard', 'wandb', 'none'"):
        check_report_to("mlflow")
    with pytest.raises(ValueError, match="needs log_dir"):
        train_or_load(bert_spec, TRAIN, run_data, tmp_path, "squad_v2", report_to="tensorboard")
    if HAS_WANDB:
        pytest.skip("wandb is installed here")
    with pytest.raises(ConfigError, match="pip install wandb"):
        train_or_load(bert_spec, TRAIN, run_data, tmp_path, "squad_v2", report_to="wandb")
    assert not list(tmp_path.iterdir())  # stopped before anything was built


@pytest.mark.skipif(HAS_WANDB, reason="wandb is installed here")
def test_wandb_without_the_package_stops_both_commands(tmp_path):
    from qa_models.train import main

    pytest_run = subprocess.run(
        [sys.executable, "-m", "pytest", "--qa-report-to", "wandb", "--collect-only", "-q", "tests/test_tensorboard.py"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
    )
    assert pytest_run.returncode != 0
    assert "--qa-report-to" in pytest_run.stderr and "pip install wandb" in pytest_run.stderr
    assert main(["--profile", "tiny", "--model", "bert-span", "--out", str(tmp_path / "out"), "--report-to", "wandb"]) == 2
    assert not (tmp_path / "out").exists()


def test_report_links_the_tensorboard_folder_only_when_it_exists(tmp_path):
    from test_report import make_results

    from qa_models.report import build_report, write_run

    run = tmp_path / "reports" / "run-1"
    paths = write_run(run, make_results(models=(("bert-span", 0.7), ("qwen-zero-shot", 0.4)), run_id="run-1"))
    assert "TensorBoard" not in paths.report_md.read_text(encoding="utf-8")
    (run / "bert-span" / "tb").mkdir(parents=True)
    paths = build_report(run)
    md = paths.report_md.read_text(encoding="utf-8")
    line = next(line for line in md.splitlines() if "TensorBoard logs" in line)
    assert "`bert-span/tb/`" in line and "qwen-zero-shot" not in line
    assert "`tensorboard --logdir reports/run-1`" in line
    assert "<code>bert-span/tb/</code>" in paths.report_html.read_text(encoding="utf-8")
