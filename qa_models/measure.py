"""The measurements a run makes of every model after scoring it, each a typed section of results.json.

``runner.run_row`` calls them in order; each returns its record of ``qa_models.results`` or
``None`` when it does not apply (a track without unanswerable questions, no CMRC data), so a
report section exists because the run measured it, not because some test happened to run.
"""

from __future__ import annotations

import functools
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import metrics
from .adapters import Predictions, QAAdapter
from .config import DataSpec, ModelSpec, Profile
from .coverage import distinct_contexts, unknown_token_share
from .data import Example
from .errors import explain_out_of_memory
from .files import atomic_write_json
from .results import AbstentionRecord, CoverageRecord, CrossLingualRecord, InferenceRecord
from .tracks import get_track

LATENCY_ROUNDS = 20
"""Batch-1 predictions timed for the latency percentiles (fewer when the test set is smaller)."""

CROSS_LINGUAL_PREDICTIONS = "cross_lingual_predictions.json"
"""In the model folder: id -> answer of the SQuAD-trained checkpoint on the CMRC questions."""


# -- inference speed -----------------------------------------------------------------------


def latency_seconds(adapter: QAAdapter, examples: Sequence[Example], rounds: int = LATENCY_ROUNDS) -> list[float]:
    """Wall time of ``rounds`` one-question predictions (batch 1), cycling through ``examples``.

    One untimed prediction goes first: the first call pays for lazy initialisation (kernels,
    tokenizer caches) that a user asking a loaded model many questions pays once.
    """
    pool = list(examples[: max(rounds, 1)])
    with explain_out_of_memory("prediction", adapter.spec.name):
        adapter.predict(pool[:1], batch_size=1)
        times = []
        for example in itertools.islice(itertools.cycle(pool), rounds):
            start = time.perf_counter()
            adapter.predict([example], batch_size=1)
            times.append(time.perf_counter() - start)
    return times


def inference_record(adapter: QAAdapter, test: Sequence[Example], test_seconds: float, batch_size: int,
                     device: str) -> InferenceRecord:
    """Throughput of the whole test set at ``batch_size`` (timed while scoring it) and batch-1
    latency percentiles, measured on every model so the report never depends on pytest-benchmark."""
    rounds = min(LATENCY_ROUNDS, len(test))
    times = latency_seconds(adapter, test, rounds) if rounds else []
    return InferenceRecord(
        questions_per_s=len(test) / test_seconds,
        test_questions=len(test),
        batch_size=batch_size,
        device=device,
        latency_p50_s=float(np.percentile(times, 50)) if times else None,
        latency_p95_s=float(np.percentile(times, 95)) if times else None,
        latency_rounds=len(times),
    )


# -- what the tuned threshold hides -----------------------------------------------------------


def abstention_record(track: str, examples: Sequence[Example], predictions: Predictions,
                      answers: dict[str, str]) -> AbstentionRecord | None:
    """Span quality if the model never abstained, and how well its no-answer probabilities
    separate the two kinds of question, on ``examples`` (test, and validation where fixes are judged).

    A model whose no-answer probabilities are no better than chance (AUROC near 0.5) gets
    its best validation F1 by abstaining on everything, and then shows HasAns F1 near 0
    although it may find most answers; these numbers tell the two failures apart.
    ``None`` on a track without unanswerable questions (its models never abstain).
    """
    if not get_track(track).has_threshold or not examples:
        return None
    gold = {e.id: e.gold_texts for e in examples}
    never_abstain = metrics.squad_v2_scores(gold, predictions.answers)
    has_answer = {e.id: bool(e.gold_texts) for e in examples}
    parts = {key: predictions.extra[key] for key in ("span_na_scores", "verifier_na_scores") if key in predictions.extra}
    return AbstentionRecord(
        share_abstained=sum(1 for e in examples if not answers[e.id]) / len(examples),
        never_abstain_HasAns_exact=never_abstain.get("HasAns_exact"),
        never_abstain_HasAns_f1=never_abstain.get("HasAns_f1"),
        no_answer_auroc=metrics.no_answer_auroc(has_answer, predictions.na_probs),
        span_head_auroc=metrics.no_answer_auroc(has_answer, parts["span_na_scores"]) if parts else None,
        verifier_auroc=metrics.no_answer_auroc(has_answer, parts["verifier_na_scores"]) if parts else None,
    )


def prediction_counters(predictions: Predictions) -> dict[str, int | float | str | None]:
    """The adapter's scalar counters (span windows, snapped answers, ...); per-question maps
    such as the generative adapter's ``raw_answers`` are not a per-model figure and stay out."""
    counters: dict[str, int | float | str | None] = {}
    for key, value in predictions.extra.items():
        if hasattr(value, "item") and hasattr(value, "dtype") and getattr(value, "ndim", 1) == 0:
            value = value.item()  # numpy scalar
        if value is None or isinstance(value, (bool, int, float, str)):
            counters[key] = value
    return counters


# -- tokenizer coverage ------------------------------------------------------------------------


def coverage_record(tokenizer: Any, examples: Sequence[Example]) -> CoverageRecord | None:
    """Share of "unknown" tokens (``[UNK]`` or byte fallback) the model's tokenizer makes of
    the distinct contexts of ``examples``; ``None`` when there are none."""
    contexts = distinct_contexts(examples)
    if not contexts:
        return None
    result = unknown_token_share(tokenizer, contexts)
    return CoverageRecord(kind=result.kind, share=result.share, n_unknown=result.n_unknown,
                          n_tokens=result.n_tokens, n_contexts=len(contexts))


# -- the cross-lingual row ----------------------------------------------------------------------


@dataclass(frozen=True)
class CrossLingualData:
    """Another track's test questions a checkpoint is also scored on, and how they were loaded."""

    track: str
    """Whose metric scores them (``DataSpec.cross_lingual_track``)."""
    examples: tuple[Example, ...]
    source: str
    repaired_offsets: int
    skipped_records: int


def cross_lingual_applies(profile: Profile, spec: ModelSpec) -> bool:
    """The profile's data names another track's test set, and the row was fine-tuned (a
    zero-shot row learnt nothing to carry over)."""
    return profile.data.cross_lingual_test is not None and not spec.zero_shot


@functools.lru_cache(maxsize=4)
def load_cross_lingual(data: DataSpec, seed: int) -> CrossLingualData | None:
    """``data.cross_lingual_test``, offsets repaired and unrepairable questions skipped
    (counted), a seeded sample of ``data.max_eval_samples`` as for the run's own test set;
    ``None`` when it cannot be had (shared data or hub missing). Loaded once per process:
    every row of a run is scored on the same questions."""
    from .data import DataError, load_examples, sample_examples

    if data.cross_lingual_test is None or data.cross_lingual_track is None:
        return None
    title = get_track(data.cross_lingual_track).title
    try:
        loaded = load_examples(data.cross_lingual_test, split="validation", repair_offsets=True, skip_bad_records=True)
    except DataError as error:
        print(f"[qabench] no cross-lingual {title} score: {str(error).splitlines()[0]}", flush=True)
        return None
    examples = sample_examples(loaded.examples, data.max_eval_samples, seed)
    return CrossLingualData(data.cross_lingual_track, tuple(examples), str(loaded.source), loaded.repaired,
                            sum(loaded.skipped.values()))


def cross_lingual_record(adapter: QAAdapter, data: CrossLingualData, batch_size: int,
                         model_dir: Path) -> CrossLingualRecord:
    """Score ``adapter`` on the other track's questions with that track's metric, and keep its
    answers in ``model_dir`` for inspection. It never abstains, whatever threshold its own
    track tuned (CMRC has no unanswerable questions)."""
    examples = list(data.examples)
    with explain_out_of_memory("prediction", adapter.spec.name):
        predictions = adapter.predict(examples, batch_size=batch_size)
    track = get_track(data.track)
    scores = track.score({e.id: e.gold_texts for e in examples}, predictions.answers)
    coverage = unknown_token_share(adapter.tokenizer, distinct_contexts(examples))
    atomic_write_json(model_dir / CROSS_LINGUAL_PREDICTIONS, predictions.answers, indent=1)
    print(f"\n[qabench] {adapter.spec.name} on {track.title} {data.source}: EM {scores['exact']:.2f} "
          f"F1 {scores['f1']:.2f} over {scores['total']} questions; {coverage.kind} share {coverage.share:.4f}", flush=True)
    return CrossLingualRecord(
        exact=scores["exact"], f1=scores["f1"], total=scores["total"], unk_share=coverage.share,
        unk_kind=coverage.kind, source=data.source, repaired_offsets=data.repaired_offsets,
        skipped_records=data.skipped_records,
    )

