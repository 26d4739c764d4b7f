"""The comparison itself: train (or load), score validation and test, time inference,
and ask the founding experiment's probe questions, for every model of the profile."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qa_models.training import device_name

pytestmark = pytest.mark.train

REAL_QUALITY_F1 = 50.0
"""Validation F1 (overall and on answerable questions) from which a model counts as really
fine-tuned, and its probe answers are asserted. Overall F1 alone is not enough: a model
that abstains on every question scores the unanswerable share (51.5 on the shared
validation file) while answering nothing."""


def test_training_lowers_the_loss(model_name, trained):
    if trained.train_result is None:
        pytest.skip(f"{model_name} is a zero-shot row: nothing is trained")
    losses = [point["loss"] for point in trained.train_result.history["loss"]]
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


def test_scores_validation_and_test(model_name, evaluation, run_data, run_dir, profile):
    assert evaluation.test["total"] == len(run_data.test)
    assert evaluation.validation["total"] == len(run_data.validation)
    assert 0.0 <= evaluation.test["exact"] <= evaluation.test["f1"] <= 100.0
    if profile.data.track == "squad_v2":
        assert evaluation.test["HasAns_total"] + evaluation.test.get("NoAns_total", 0) == len(run_data.test)
        assert np.isfinite(evaluation.threshold), "the no-answer threshold must be tuned on validation"
    for name in ("predictions.json", "na_probs.json", "metrics.json", "predictions.csv"):
        assert (run_dir / model_name / name).is_file()


REAL_MODEL_PROBES = {"en-super-bowl": ("Denver Broncos",), "en-moon": ("Theia", "giant impact")}
"""Probe id -> phrases one of which a real-quality checkpoint's answer contains (case-insensitive)."""


def _contains(answer: str, *needles: str) -> bool:
    return any(n.lower() in answer.lower() for n in needles)


def test_probe_answers_are_cut_from_the_context(model_name, evaluation, model_cache, run_results):
    probes = run_results.models[model_name]["result"]["probes"]
    assert len(probes) == 8
    for probe in probes:
        assert probe["answer"] in probe["context"], f"{probe['id']}: {probe['answer']!r} is not a span of its context"
        assert "[UNK]" not in probe["answer"]


def test_probe_answers_of_real_models(model_name, evaluation, run_results, profile):
    if profile.name == "tiny":
        pytest.skip("tiny random models are not expected to know the answers")
    f1 = evaluation.validation["f1"]
    has_ans_f1 = evaluation.validation.get("HasAns_f1", f1)
    if min(f1, has_ans_f1) < REAL_QUALITY_F1:
        pytest.skip(
            f"validation F1 {f1:.1f}, HasAns F1 {has_ans_f1:.1f}: below {REAL_QUALITY_F1}, not a real-quality checkpoint"
        )
    probes = {p["id"]: p["answer"] for p in run_results.models[model_name]["result"]["probes"]}
    for probe_id, phrases in REAL_MODEL_PROBES.items():
        assert _contains(probes[probe_id], *phrases), f"{probe_id}: {probes[probe_id]!r} contains none of {phrases}"


def test_inference_latency(model_name, trained, evaluation, run_data, run_results, profile, benchmark):
    """One question at a time, as a user asking a saved model would (pytest-benchmark)."""
    examples = itertools.cycle(run_data.test[:64])
    adapter = trained.adapter
    rounds = 20 if len(run_data.test) >= 20 else len(run_data.test)
    benchmark.group = "predict one question"
    benchmark.pedantic(lambda e: adapter.predict([e], batch_size=1), setup=lambda: ((next(examples),), {}), rounds=rounds, iterations=1)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable
        return
    timings = np.asarray(stats.stats.data)
    run_results.update(
        model_name,
        inference={
            "latency_p50_s": float(np.percentile(timings, 50)),
            "latency_p95_s": float(np.percentile(timings, 95)),
            # Throughput is the whole test set at the evaluation batch size; latency is batch 1.
            "questions_per_s": float(len(run_data.test) / evaluation.test_seconds),
            "batch_size": profile.train.eval_batch_size,
            # Where prediction ran now: a cached checkpoint may have been trained elsewhere.
            "device": device_name(),
        },
    )
    assert np.all(timings > 0)


def test_parameter_counts_in_results(model_name, trained, evaluation, run_results):
    """The report's counts come from the adapter's own count; a zero-shot row trained nothing."""
    params = run_results.models[model_name]["result"]["parameters"]
    counts = trained.adapter.parameter_counts()
    assert params["total"] == counts.total > 0
    expected_trainable = 0 if trained.adapter.spec.zero_shot else counts.trainable
    assert params["trainable"] == expected_trainable
