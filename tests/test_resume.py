"""A killed training run resumes from its last complete Trainer checkpoint and ends with the
same scores as a run that was never interrupted; half-written cache entries and half-written
checkpoints are never loaded.

Exactness: on CPU the resumed run is bit-identical to the uninterrupted one (metrics.json,
predictions.json and na_probs.json compared byte for byte). Checkpoints are saved at epoch
ends with the optimizer, scheduler and every RNG state (python, numpy, torch), and the
Trainer restores the RNG state before the next epoch, so data order and dropout masks are
those of the uninterrupted run; CPU kernels are deterministic for a fixed thread count.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUTS = ("metrics.json", "predictions.json", "na_probs.json")
EPOCHS = "3"  # killed after epoch 1, the rerun trains epochs 2 and 3


def _command(out: Path, cache: Path) -> list[str]:
    return [
        sys.executable, "-m", "qa_models.train", "--profile", "tiny", "--model", "bert-span",
        "--epochs", EPOCHS, "--out", str(out), "--cache-dir", str(cache),
    ]


def _env() -> dict[str, str]:
    # One thread per process: the same kernels (and results) in every run, and faster on busy cores.
    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _run(out: Path, cache: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(_command(out, cache), cwd=REPO_ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _checkpoints(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.work/trainer/checkpoint-*"))


def _start_and_kill(out: Path, cache: Path, complete: bool) -> list[Path]:
    """Start a run and SIGKILL it as soon as a checkpoint folder appears (``complete``: once
    one holds trainer_state.json, the file the Trainer writes last). Returns the checkpoints."""
    log = (cache.parent / f"{cache.name}.killed.log").open("w")
    process = subprocess.Popen(_command(out, cache), cwd=REPO_ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    try:
        while process.poll() is None and time.monotonic() < deadline:
            found = _checkpoints(cache)
            if found and (not complete or any((c / "trainer_state.json").is_file() for c in found)):
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.02)
    finally:
        if process.poll() is None and time.monotonic() >= deadline:
            process.kill()
        process.wait()
        log.close()
    assert process.returncode == -signal.SIGKILL, f"the run ended before a checkpoint appeared (rc {process.returncode})"
    assert not list(cache.glob("*/train_result.json")), "a killed run must not leave a finished cache entry"
    assert not (out / "metrics.json").exists()
    return _checkpoints(cache)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("uninterrupted")
    _run(root / "out", root / "cache")
    return root


def _assert_same_outputs(run: Path, reference: Path, resumed_at: int | None = None) -> None:
    for name in OUTPUTS:
        assert (run / "out" / name).read_bytes() == (reference / "out" / name).read_bytes(), f"{name} differs"
    ours = json.loads(next((run / "cache").glob("*/train_result.json")).read_text())["history"]
    theirs = json.loads(next((reference / "cache").glob("*/train_result.json")).read_text())["history"]
    assert ours["eval"] == theirs["eval"], "per-epoch validation scores differ"
    assert [p["step"] for p in ours["loss"]] == [p["step"] for p in theirs["loss"]]
    # A logged loss is the mean since the previous log, and the Trainer does not checkpoint that
    # running sum: the first point logged after the resume step covers only the steps run after
    # it (step 6 = step 6 alone instead of steps 5-6 with logging_steps 2). Every other point,
    # i.e. every step the model takes, is identical.
    straddling = min((p["step"] for p in theirs["loss"] if resumed_at is not None and p["step"] > resumed_at), default=None)
    for a, b in zip(ours["loss"], theirs["loss"]):
        if a["step"] != straddling:
            assert a == b, f"loss differs at step {a['step']}"


@pytest.mark.slow
def test_killed_after_a_checkpoint_resumes_to_identical_scores(uninterrupted, tmp_path):
    checkpoints = _start_and_kill(tmp_path / "out", tmp_path / "cache", complete=True)
    assert checkpoints, "nothing to resume from"
    rerun = _run(tmp_path / "out", tmp_path / "cache")
    resumed = [line for line in rerun.stderr.splitlines() if "resuming training from" in line]
    assert resumed, "the rerun did not resume"
    step = int(resumed[0].rsplit("checkpoint-", 1)[1])
    assert step > 0
    _assert_same_outputs(tmp_path, uninterrupted, resumed_at=step)
    assert not list((tmp_path / "cache").glob("*.work")), "the Trainer folder goes once the entry is complete"


@pytest.mark.slow
def test_killed_the_moment_a_checkpoint_folder_appears(uninterrupted, tmp_path):
    """Usually mid-save: the folder exists but trainer_state.json is not written yet. The
    rerun must neither crash on it nor trust it."""
    checkpoints = _start_and_kill(tmp_path / "out", tmp_path / "cache", complete=False)
    print(f"\nkilled with {[(c.name, sorted(p.name for p in c.iterdir())) for c in checkpoints]}")
    rerun = _run(tmp_path / "out", tmp_path / "cache")
    resumed = [line for line in rerun.stderr.splitlines() if "resuming training from" in line]
    step = int(resumed[0].rsplit("checkpoint-", 1)[1]) if resumed else None
    print(f"rerun resumed from step {step}" if resumed else "rerun trained from scratch")
    _assert_same_outputs(tmp_path, uninterrupted, resumed_at=step)


# -- half-written checkpoints and cache entries, in process ---------------------------------


class _FakeTrainer:
    """Just what ``run_trainer`` touches: records the checkpoint it is asked to resume from."""

    def __init__(self, output_dir: Path) -> None:
        from types import SimpleNamespace

        self.args = SimpleNamespace(output_dir=str(output_dir))
        self.state = SimpleNamespace(log_history=[{"step": 1, "epoch": 0.5, "loss": 1.0}])
        self.accelerator = SimpleNamespace(wait_for_everyone=lambda: None)
        self.resumed_from = "never called"

    def train(self, resume_from_checkpoint=None):
        self.resumed_from = resume_from_checkpoint


def test_resume_skips_and_removes_half_written_checkpoints(tmp_path):
    from qa_models.training import run_trainer

    complete = tmp_path / "checkpoint-5"
    complete.mkdir()
    (complete / "trainer_state.json").write_text(json.dumps({"global_step": 5}))
    no_state = tmp_path / "checkpoint-10"  # killed after the weights, before trainer_state.json
    no_state.mkdir()
    (no_state / "model.safetensors").write_bytes(b"\0" * 16)
    torn_state = tmp_path / "checkpoint-15"  # killed while trainer_state.json was written
    torn_state.mkdir()
    (torn_state / "trainer_state.json").write_text('{"global_step": 1')
    (tmp_path / "checkpoint-20.txt").write_text("not a checkpoint folder")

    trainer = _FakeTrainer(tmp_path)
    run_trainer(trainer, n_examples=1, n_tokens=1, epochs=1.0, validation=None)
    assert trainer.resumed_from == str(complete)
    assert complete.is_dir() and not no_state.exists() and not torn_state.exists()

    empty = tmp_path / "empty"
    empty.mkdir()
    trainer = _FakeTrainer(empty)
    run_trainer(trainer, n_examples=1, n_tokens=1, epochs=1.0, validation=None)
    assert trainer.resumed_from is None


@pytest.fixture(scope="module")
def one_epoch_run():
    from qa_models import runner
    from qa_models.config import override
    from qa_models.profiles import get_profile

    profile = get_profile("tiny").select(["bert-span"])
    train_spec = override(profile.train, epochs=1.0)
    data = runner.load_run_data(profile.data, train_spec.seed)
    return profile, train_spec, data


def test_half_written_cache_entries_are_never_loaded(one_epoch_run, tmp_path, torch_single_thread):
    """A staging folder of a killed run (``<entry>.tmpNNN``, complete-looking) and an entry
    folder without train_result.json are both ignored: the model is trained afresh, and the
    next call loads the finished entry."""
    from qa_models import checkpoints, runner

    profile, train_spec, data = one_epoch_run
    spec = profile.models[0]
    entry = tmp_path / f"{spec.name}-{checkpoints.cache_key(spec, train_spec, data)}"
    staging = entry.with_name(entry.name + ".tmp424242")
    (staging / "checkpoint").mkdir(parents=True)
    (staging / "checkpoint" / "config.json").write_text("{ torn")
    (staging / "train_result.json").write_text(json.dumps({"history": {}, "epochs": 1}))
    (entry / "checkpoint").mkdir(parents=True)
    (entry / "checkpoint" / "config.json").write_text("{ torn")  # no train_result.json: never finished

    trained = runner.train_or_load(spec, train_spec, data, tmp_path, profile.data.track)
    assert not trained.cached, "a half-written entry was loaded instead of retrained"
    assert (entry / "train_result.json").is_file()
    assert json.loads((entry / "checkpoint" / "config.json").read_text())["model_type"] == "bert"

    again = runner.train_or_load(spec, train_spec, data, tmp_path, profile.data.track)
    assert again.cached and again.checkpoint == entry / "checkpoint"
    fresh = trained.adapter.predict(data.test[:8], batch_size=8)
    loaded = again.adapter.predict(data.test[:8], batch_size=8)
    assert fresh.answers == loaded.answers
    assert fresh.na_probs == pytest.approx(loaded.na_probs, abs=1e-6)
