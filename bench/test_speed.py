"""Speed and memory: the fast path against the plain baseline, per model, in one run.

For every trained row of the profile, on the same data and machine: train a short fixed
budget (the first SPEED_TRAIN_QUESTIONS training questions, one epoch) twice, each time from
a fresh ``create_adapter(spec)``, with ``TrainSpec(fast=False)`` (pad to max length, random
order) and ``TrainSpec(fast=True)`` (dynamic padding, length-grouped batches; bf16 and fused
AdamW where a GPU has them); then time prediction of the same questions plain vs fast on
the *same* weights and check that both give the same answers. The comparison goes to
``<run_dir>/speed.csv`` and ``speed.md`` and, through ``run_results.attach_speed``, into the
``speed`` section of the model's row of results.json (``null`` there when this suite did not run).

``pytest bench -m benchmark --qa-profile tiny`` runs it on a CPU in well under a minute.
On a CPU, peak memory is the process's resident set sampled while each configuration trains
(``cpu_rss_train``), so it includes what the process already held; ``bench/test_memory.py``
measures each row alone in a fresh process.
"""

from __future__ import annotations

import dataclasses
import inspect
import statistics
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qa_models.files import write_table_files
from qa_models.results import SpeedRecord

pytestmark = pytest.mark.benchmark

SPEED_TRAIN_QUESTIONS = 32
"""Training budget per configuration: the first N training questions, one epoch."""
SPEED_PREDICT_QUESTIONS = 24
"""Questions predicted plain and fast on the same weights."""
ONE_PATH_PREDICT_QUESTIONS = 8
"""Questions for an adapter with a single prediction path (generative decoding is the slow part
of this suite on a CPU, and there is no plain path to compare it with)."""
PREDICT_ROUNDS = 2
"""Timed prediction rounds per mode (one for a single-path adapter); the median is reported."""
NA_PROB_TOLERANCE = 1e-4
"""Plain and fast prediction of one model may differ by float rounding only."""

CONFIGS = ("plain", "fast")
TEXT_COLUMNS = ("model", "config", "memory_kind")
"""Left-aligned columns of speed.md; the others are numbers."""


@pytest.fixture(scope="session")
def speed_rows() -> list[dict[str, Any]]:
    return []


def _write_table(run_dir: Path, rows: list[dict[str, Any]], device: str) -> None:
    frame = pd.DataFrame(rows)
    shown = frame.assign(peak_memory_mib=frame["peak_memory_bytes"] / 2**20).drop(columns=["peak_memory_bytes"])
    shown = shown[[
        "model", "config", "train_examples_per_s", "train_tokens_per_s", "peak_memory_mib", "memory_kind",
        "predict_questions_per_s", "train_ratio_fast_over_plain", "predict_ratio_fast_over_plain",
    ]]
    notes = [
        f"Device: {device}. Training: the first {SPEED_TRAIN_QUESTIONS} training questions (or fewer), 1 epoch, each "
        "configuration from a fresh model. Prediction: the same questions, plain and fast, on the same weights "
        f"(median of {PREDICT_ROUNDS} rounds); an adapter with one prediction path (no ``fast`` argument) predicts "
        f"{ONE_PATH_PREDICT_QUESTIONS} questions once and has its questions/s on the fast row only. Ratios are "
        "fast / plain throughput.",
        "On a CPU, peak memory is the process's resident set sampled while the configuration trained "
        "(cpu_rss_train: it includes what the process already held; training_memory.md measures each row alone); "
        "on a GPU it is torch.cuda.max_memory_allocated.",
    ]
    write_table_files(run_dir, "speed", frame, shown, "Speed: fast path vs plain baseline", notes, TEXT_COLUMNS)


def _predict(adapter, questions, batch_size: int, fast: bool | None):
    """Predict with the adapter's plain or fast path; ``fast=None`` for an adapter with one path."""
    if fast is None:
        return adapter.predict(questions, batch_size=batch_size)
    return adapter.predict(questions, batch_size=batch_size, fast=fast)


def _median_seconds(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _train_both(spec, profile, train, tmp_path: Path) -> tuple[dict[str, Any], Any]:
    """Train the same budget plain and fast, each from a fresh model; the fast-trained adapter
    is returned for the prediction comparison."""
    import torch

    from qa_models.adapters import create_adapter

    results, adapter = {}, None
    for config in CONFIGS:
        train_spec = dataclasses.replace(profile.train, epochs=1.0, fast=config == "fast", eval_every_epoch=False)
        torch.manual_seed(profile.train.seed)  # same initialisation of any new head in both runs
        adapter = create_adapter(spec)
        results[config] = adapter.train(train, [], train_spec, tmp_path / config)
        assert results[config].wall_time_s > 0 and results[config].tokens_per_s > 0, f"{spec.name} {config}: nothing trained"
    return results, adapter


def _time_plain(adapter, questions, batch_size: int, rounds: int):
    """Median seconds of the plain path over ``rounds``, and the first round's predictions."""
    times, first = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = _predict(adapter, questions, batch_size, False)
        times.append(time.perf_counter() - start)
        if first is None:
            first = result
    return statistics.median(times), first


def _speed_record(results: dict[str, Any], n_train: int, n_questions: int, predict_qps: dict[str, float | None],
                  has_modes: bool) -> SpeedRecord:
    fast, plain = results["fast"], results["plain"]
    return SpeedRecord(
        train_questions=n_train,
        predict_questions=n_questions,
        device=fast.device,
        memory_kind=fast.memory_kind,
        train_examples_per_s={c: results[c].examples_per_s for c in CONFIGS},
        train_tokens_per_s={c: results[c].tokens_per_s for c in CONFIGS},
        peak_memory_bytes={c: results[c].peak_memory_bytes for c in CONFIGS},
        predict_questions_per_s=predict_qps,
        train_ratio_fast_over_plain=fast.examples_per_s / plain.examples_per_s,
        predict_ratio_fast_over_plain=predict_qps["fast"] / predict_qps["plain"] if has_modes else None,
        predict_modes="plain and fast" if has_modes else "one path (the adapter has no plain prediction)",
    )


def _table_rows(model_name: str, record: SpeedRecord) -> list[dict[str, Any]]:
    """speed.csv rows of one model: one per configuration, the ratios on the fast row."""
    return [
        {
            "model": model_name,
            "config": config,
            "train_examples_per_s": record.train_examples_per_s[config],
            "train_tokens_per_s": record.train_tokens_per_s[config],
            "peak_memory_bytes": record.peak_memory_bytes[config],
            "memory_kind": record.memory_kind,
            "predict_questions_per_s": record.predict_questions_per_s[config],
            "train_ratio_fast_over_plain": record.train_ratio_fast_over_plain if config == "fast" else None,
            "predict_ratio_fast_over_plain": record.predict_ratio_fast_over_plain if config == "fast" else None,
        }
        for config in CONFIGS
    ]


def test_fast_path_against_plain(model_name, profile, run_data, run_dir, run_results, speed_rows, benchmark, tmp_path):
    from qa_models.adapters import adapter_class

    spec = next(m for m in profile.models if m.name == model_name)
    if spec.zero_shot:
        pytest.skip(f"{model_name} is a zero-shot row: nothing is trained")
    has_modes = "fast" in inspect.signature(adapter_class(spec.method).predict).parameters
    train = run_data.train[:SPEED_TRAIN_QUESTIONS]
    questions = run_data.test[: SPEED_PREDICT_QUESTIONS if has_modes else ONE_PATH_PREDICT_QUESTIONS]
    rounds = PREDICT_ROUNDS if has_modes else 1
    batch_size = profile.train.eval_batch_size

    results, adapter = _train_both(spec, profile, train, tmp_path)
    # Windows (span) or prompts (generative) and real tokens are the same in both configurations.
    plain, fast = results["plain"], results["fast"]
    assert plain.examples_per_s * plain.wall_time_s == pytest.approx(fast.examples_per_s * fast.wall_time_s, rel=1e-6)
    assert plain.tokens_per_s * plain.wall_time_s == pytest.approx(fast.tokens_per_s * fast.wall_time_s, rel=1e-6)

    # Prediction, plain vs fast, on the same (fast-trained) weights. The fast path is timed by
    # pytest-benchmark; the plain path by the same number of rounds, the first of which also
    # gives the answers to compare.
    fast_mode = True if has_modes else None
    benchmark.group = f"predict {len(questions)} questions, fast path"
    benchmark.extra_info.update(model=model_name, questions=len(questions))
    fast_predictions = benchmark.pedantic(
        lambda: _predict(adapter, questions, batch_size, fast_mode), rounds=rounds, iterations=1
    )
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        fast_seconds = float(stats.stats.median)
    else:  # --benchmark-disable: the function ran once, untimed
        fast_seconds = _median_seconds(lambda: _predict(adapter, questions, batch_size, fast_mode), rounds)
    assert set(fast_predictions.answers) == {q.id for q in questions}
    plain_seconds = None  # one path: nothing to compare it with
    if has_modes:
        plain_seconds, plain_predictions = _time_plain(adapter, questions, batch_size, rounds)
        assert plain_predictions.answers == fast_predictions.answers, f"{model_name}: fast prediction changed answers"
        for qid, p in plain_predictions.na_probs.items():
            assert abs(p - fast_predictions.na_probs[qid]) <= NA_PROB_TOLERANCE, f"{model_name} {qid}: na_prob differs"
    predict_qps = {"plain": len(questions) / plain_seconds if plain_seconds else None, "fast": len(questions) / fast_seconds}

    record = _speed_record(results, len(train), len(questions), predict_qps, has_modes)
    speed_rows.extend(_table_rows(model_name, record))
    _write_table(run_dir, speed_rows, fast.device)
    run_results.attach_speed(model_name, record)
    assert (run_dir / "speed.csv").is_file() and (run_dir / "speed.md").is_file()
