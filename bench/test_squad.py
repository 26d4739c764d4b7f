"""The comparison itself: train (or load), score validation and test, time inference,
and ask the founding experiment's probe questions, for every model of the profile.

Every test reads the model's row (``runner.run_row``, once per session) and asserts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest


pytestmark = pytest.mark.train

REAL_QUALITY_F1 = 50.0
"""Validation F1 (overall and on answerable questions) from which a model counts as really
fine-tuned, and its probe answers are asserted. Overall F1 alone is not enough: a model
that abstains on every question scores the unanswerable share (51.5 on the shared
validation file) while answering nothing."""


def test_training_lowers_the_loss(model_name, trained, profile):
    if trained.train_result is None:
        pytest.skip(f"{model_name} is a zero-shot row: nothing is trained")
    losses = [point["loss"] for point in trained.train_result.history["loss"]]
    cap, train = profile.data.max_train_samples, profile.train
    if len(losses) < 2 and cap is not None and cap < 2 * train.logging_steps * train.batch_size:
        # A smoke run (the seed profile's 32 questions at batch 16, logging every 100 steps)
        # ends before a second loss is logged; its profile's own runs are long enough.
        pytest.skip(f"{model_name}: {cap} training questions at batch {train.batch_size} end before a second "
                    f"loss is logged (every {train.logging_steps} steps): too short a run for a loss curve")
    assert len(losses) >= 2, "logging_steps too large to see a loss curve"
    assert np.mean(losses[-2:]) < losses[0], f"{model_name}: training loss did not fall: {losses}"
    counts = trained.adapter.parameter_counts()
    assert 0 < counts.trainable <= counts.total
    if trained.adapter.spec.lora is not None:
        assert counts.trainable < counts.total / 2, "LoRA should train a small share of the parameters"


def test_validation_after_every_epoch(model_name, trained, profile):
    if trained.train_result is None:
        pytest.skip(f"{model_name} is a zero-shot row")
    evals = trained.train_result.history["eval"]
    assert len(evals) == int(np.ceil(profile.train.epochs)), f"expected one validation score per epoch, got {evals}"
    assert all(0.0 <= e["f1"] <= 100.0 for e in evals)


def test_scores_validation_and_test(model_name, row, run_data, run_dir, profile):
    assert row.test["total"] == len(run_data.test)
    assert row.validation["total"] == len(run_data.validation)
    assert 0.0 <= row.test["exact"] <= row.test["f1"] <= 100.0
    if profile.data.track == "squad_v2":
        assert row.test["HasAns_total"] + row.test.get("NoAns_total", 0) == len(run_data.test)
        assert row.threshold is not None and np.isfinite(row.threshold), "the no-answer threshold must be tuned on validation"
    for name in ("predictions.json", "na_probs.json", "metrics.json", "predictions.csv"):
        assert (run_dir / model_name / name).is_file()


def test_measured_sections_of_every_row(model_name, row, run_data, profile):
    """Inference, abstention and coverage are measured by the run itself, whichever tests ran."""
    assert row.inference is not None and row.inference.questions_per_s > 0
    assert row.inference.test_questions == len(run_data.test)
    assert row.inference.latency_rounds > 0 and 0 < row.inference.latency_p50_s <= row.inference.latency_p95_s
    assert row.coverage is not None and 0 <= row.coverage.n_unknown <= row.coverage.n_tokens
    if profile.data.track == "squad_v2":
        assert row.abstention is not None and 0.0 <= row.abstention.share_abstained <= 1.0
        assert row.validation_abstention is not None and 0.0 <= row.validation_abstention.share_abstained <= 1.0
    else:
        assert row.abstention is None, "CMRC has no unanswerable questions: nothing to abstain on"
        assert row.validation_abstention is None


REAL_MODEL_PROBES = {"en-super-bowl": ("Denver Broncos",), "en-moon": ("Theia", "giant impact")}
"""Probe id -> phrases one of which a real-quality checkpoint's answer contains (case-insensitive)."""


def _contains(answer: str, *needles: str) -> bool:
    return any(n.lower() in answer.lower() for n in needles)


def test_probe_answers_are_cut_from_the_context(model_name, row):
    assert len(row.probes) == 8
    for probe in row.probes:
        assert probe.answer in probe.context, f"{probe.id}: {probe.answer!r} is not a span of its context"
        assert "[UNK]" not in probe.answer


def test_probe_answers_of_real_models(model_name, row, profile):
    if profile.name == "tiny":
        pytest.skip("tiny random models are not expected to know the answers")
    f1 = row.validation["f1"]
    has_ans_f1 = row.validation.get("HasAns_f1", f1)
    if min(f1, has_ans_f1) < REAL_QUALITY_F1:
        pytest.skip(
            f"validation F1 {f1:.1f}, HasAns F1 {has_ans_f1:.1f}: below {REAL_QUALITY_F1}, not a real-quality checkpoint"
        )
    probes = {p.id: p.answer for p in row.probes}
    for probe_id, phrases in REAL_MODEL_PROBES.items():
        assert _contains(probes[probe_id], *phrases), f"{probe_id}: {probes[probe_id]!r} contains none of {phrases}"


def test_inference_latency(model_name, trained, run_data, benchmark):
    """One question at a time, as a user asking a saved model would (pytest-benchmark).

    The report's latency comes from ``runner.run_row``; this timing is for pytest-benchmark's
    own comparison across runs (``--benchmark-autosave``) and is not recorded in results.json."""
    examples = itertools.cycle(run_data.test[:64])
    adapter = trained.adapter
    rounds = 20 if len(run_data.test) >= 20 else len(run_data.test)
    benchmark.group = "predict one question"
    benchmark.pedantic(lambda e: adapter.predict([e], batch_size=1), setup=lambda: ((next(examples),), {}), rounds=rounds, iterations=1)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable
        return
    assert np.all(np.asarray(stats.stats.data) > 0)


def test_parameter_counts_in_results(model_name, trained, row):
    """The report's counts come from the adapter's own count; a zero-shot row trained nothing."""
    counts = trained.adapter.parameter_counts()
    assert row.parameters.total == counts.total > 0
    expected_trainable = 0 if trained.adapter.spec.zero_shot else counts.trainable
    assert row.parameters.trainable == expected_trainable
