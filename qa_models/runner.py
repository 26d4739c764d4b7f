"""One comparison row, start to finish: data -> train (or cached) -> threshold -> scores -> files.

``run_row`` is the recipe, read top to bottom; the bench fixtures and ``python -m
qa_models.train`` both call it and get the typed row of results.json (``qa_models.results``)
back. Each other function here does one step of the founding notebook (load and split,
train, validate, save, score test into CSV, answer probes) over any adapter; the
measurements after scoring live in ``qa_models.measure``, the checkpoint cache and the
measured-throughput store in ``qa_models.checkpoints``, and the run's environment, commit
and timestamps in ``qa_models.run_metadata``. ``write_run_results`` turns the rows of a run
into results.json and the report.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from . import cost, device, gguf, measure, metrics
from .adapters import Predictions, QAAdapter, create_adapter
from .checkpoints import TrainedModel, entry_dir, load_entry, measured_throughput, record_throughput, save_entry
from .config import DataSpec, ModelSpec, Profile, TrainSpec, to_dict
from .data import (
    Example, Probe, balance_answer_kinds_by_article, gold_answers, load_examples, load_probes, sample_examples, sample_examples_stratified,
    split_by_article,
)
from .errors import explain_out_of_memory
from .files import atomic_write_json, atomic_write_text
from .formatting import is_finite
from .results import (RESULTS_JSON, CrossLingualRecord, ModelResult, Parameters, ProbeAnswer, QuestionRow, Results,
                      TrainRecord)
from .run_metadata import now_utc, run_metadata
from .tracks import get_track

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "fixtures"

# -- data -----------------------------------------------------------------------------


@dataclass
class RunData:
    """The examples every model of a run sees, and where they came from."""

    train: list[Example]
    validation: list[Example]
    test: list[Example]
    probes: list[Probe]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    skipped_records: dict[str, int] = field(default_factory=dict)
    repaired_offsets: int = 0
    dropped_answers: int = 0
    """Answers removed under ``drop_answers_not_in_context`` from questions that were kept."""


def load_run_data(data: DataSpec, seed: int) -> RunData:
    """Load, validate and split the data of a run (validation split by article if not given)."""
    options = dict(
        skip_bad_records=data.skip_bad_records,
        repair_offsets=data.repair_offsets,
        drop_answers_not_in_context=data.drop_answers_not_in_context,
    )
    loaded = {"train": load_examples(data.train, split="train", **options)}
    loaded["test"] = load_examples(data.test, split="validation", **options)
    train = loaded["train"].examples
    if data.validation:
        loaded["validation"] = load_examples(data.validation, split="validation", **options)
        validation = loaded["validation"].examples
    else:
        train, validation = split_by_article(train, data.validation_fraction, seed)
    test = loaded["test"].examples
    if data.train_balance_articles:
        train = balance_answer_kinds_by_article(train, seed)
    if data.train_unanswerable_share is None:
        train = sample_examples(train, data.max_train_samples, seed)
    else:
        train = sample_examples_stratified(train, data.max_train_samples, seed, data.train_unanswerable_share)
    validation = sample_examples(validation, data.max_eval_samples, seed)
    test = sample_examples(test, data.max_eval_samples, seed)
    skipped: dict[str, int] = {}
    for result in loaded.values():
        for reason, count in result.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    sizes = {"train": len(train), "validation": len(validation), "test": len(test)}
    files = {
        name: {"source": str(result.source), "sha256": result.sha256, "n_examples": sizes[name]}
        for name, result in loaded.items()
    }
    if data.train_unanswerable_share is not None:
        # Part of the checkpoint cache key: the same file and size drawn another way is other data.
        files["train"]["unanswerable_share"] = data.train_unanswerable_share
    if data.train_balance_articles:
        files["train"]["balanced_articles"] = True
    if "validation" not in files:
        files["validation"] = {**files["train"], "n_examples": len(validation), "split_from": "train"}
    probes = load_probes(data.probes or FIXTURES / "probes.json")
    return RunData(
        train, validation, test, probes, files, skipped,
        repaired_offsets=sum(r.repaired for r in loaded.values()),
        dropped_answers=sum(len(r.dropped_answers) for r in loaded.values()),
    )


def score(track: str, examples: Sequence[Example], answers: dict[str, str], na_probs: dict[str, float] | None = None) -> dict[str, float]:
    """The track's official metric on final answers (after any threshold)."""
    return get_track(track).score(gold_answers(examples), answers, na_probs)


# -- training, or the cached checkpoint --------------------------------------


def validation_scorer(track: str, validation: Sequence[Example]):
    """Per-epoch validation EM/F1 at the best no-answer threshold for that epoch."""

    def scorer(predictions: Predictions) -> dict[str, float]:
        if not get_track(track).has_threshold:
            return score(track, validation, predictions.answers)
        scores = score(track, validation, predictions.answers, predictions.na_probs)
        return {"exact": scores["best_exact"], "f1": scores["best_f1"]}

    return scorer


def estimate_training_cost(
    adapter: QAAdapter, spec: ModelSpec, train_spec: TrainSpec, train: Sequence[Example], cache_dir: Path
) -> cost.CostEstimate:
    """Expected time and memory of this fine-tune on this machine, printed before it starts.

    Tokens are counted on up to 2,000 training questions with the adapter's own features and
    scaled to the whole set. Time comes from the tokens/s an earlier run of the same setup
    measured on this device where there is one, else from the assumed MFU (GPUs only: a
    CPU has no tabulated FLOP/s). On a GPU a run that will not fit raises ``cost.CostError``
    (with the options that help) before any training; on a CPU the estimate is printed
    only, since host memory is shared with everything else on the machine.
    """
    device = cost.this_machine().key
    n_tokens = cost.count_training_tokens(adapter.tokenizer, train, spec, max_examples=2000)
    estimate = cost.estimate_for_profile_model(
        spec,
        train_spec,
        n_tokens,
        adapter.parameter_counts(),
        model_config=getattr(adapter.model, "config", None),
        measured_tokens_per_s=measured_throughput(cache_dir, device, spec, train_spec),
    )
    print(f"\n[qabench] cost estimate: {cost.format_estimate(estimate, spec.name)}", flush=True)
    if device != "cpu":
        cost.check_fits(estimate)
    return estimate


def train_or_load(spec: ModelSpec, train_spec: TrainSpec, data: RunData, cache_dir: str | Path, track: str, *,
                  report_to: str = "none", log_dir: str | Path | None = None) -> TrainedModel:
    """Train ``spec`` or load the cached checkpoint whose key matches.

    ``report_to`` ("tensorboard", "wandb" or "none", ``training.REPORT_TO``) is where the
    Trainer logs the loss and the per-epoch validation EM/F1; TensorBoard writes into
    ``log_dir`` (the bench writes ``reports/<run-id>/<model>/tb/``). Neither is part of the
    cache key, and a cached checkpoint trains nothing, so it logs nothing.

    Training is seeded (``train_spec.seed``) before the model is built, so a new head's random
    init is the same in every run. A cache entry is written to a temporary folder and renamed
    into place only when complete, so a half-written entry (a killed run) is never loaded;
    the Trainer's own checkpoints in ``<entry>.work`` let an interrupted run resume
    mid-training. Under a multi-process launcher every rank trains, and only the main
    process writes the entry, after a barrier, so the entry is complete when any rank reads it.
    """
    from transformers import set_seed

    from .training import check_report_to

    check_report_to(report_to)
    if report_to == "tensorboard" and log_dir is None:
        raise ValueError("report_to='tensorboard' needs log_dir (the Trainer's own default is inside its work folder, deleted after training)")
    if spec.zero_shot:
        return TrainedModel(create_adapter(spec), None, False, None)
    cache_dir = Path(cache_dir)
    entry = entry_dir(cache_dir, spec, train_spec, data)
    cached = load_entry(entry)
    if cached is not None:
        return cached
    work = entry.with_name(entry.name + ".work")
    set_seed(train_spec.seed)
    adapter = create_adapter(spec)
    estimate = estimate_training_cost(adapter, spec, train_spec, data.train, cache_dir).to_dict()
    # Per-epoch EM/F1 is the main process's job; the other ranks go on to the next epoch.
    scorer = validation_scorer(track, data.validation) if is_main_process() else None
    with explain_out_of_memory("training", spec.name):
        result = adapter.train(data.train, data.validation, train_spec, work / "trainer", scorer,
                               report_to=report_to, log_dir=log_dir)
    if is_main_process():
        save_entry(entry, adapter, result, estimate)
        shutil.rmtree(work, ignore_errors=True)
        record_throughput(cache_dir, estimate["device"], spec, train_spec, result.tokens_per_s)
    _wait_for_every_process()
    return TrainedModel(adapter, result, False, entry / "checkpoint", estimate)


def is_main_process() -> bool:
    """Rank 0, read from the launcher's environment (torchrun and accelerate set RANK) because
    the process group does not exist until the Trainer creates it.

    Only rank 0 writes the cache entry: transformers 5 ``save_pretrained`` writes no weights on
    other ranks, so an entry saved by rank 1 would be a checkpoint without a model."""
    return int(os.environ.get("RANK", "0")) == 0


def _wait_for_every_process() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


# -- scoring ---------------------------------------------------------------------------


@dataclass
class Evaluation:
    """Validation and test scores of one model, with the threshold tuned on validation."""

    threshold: float
    validation: dict[str, float]
    test: dict[str, float]
    test_predictions: Predictions
    test_answers: dict[str, str]
    per_question: pd.DataFrame
    test_seconds: float
    """Wall time of predicting the whole test set at the evaluation batch size (the throughput figure)."""
    validation_predictions: Predictions | None = None
    validation_answers: dict[str, str] | None = None
    """The validation answers at the tuned threshold: what a fix is judged on, never test."""


def tune_threshold(track: str, validation: Sequence[Example], predictions: Predictions) -> float:
    """The no-answer threshold tuned on validation (the middle of its best-F1 range) to carry to
    test; a track without unanswerable questions never abstains."""
    if not get_track(track).has_threshold:
        return float("inf")
    return float(metrics.transfer_na_threshold(gold_answers(validation), predictions.answers, predictions.na_probs))


def judge_validation(adapter: QAAdapter, validation: Sequence[Example], track: str,
                     batch_size: int) -> tuple[Predictions, float, dict[str, str]]:
    """Predict ``validation``, tune the no-answer threshold on it and apply it: the predictions,
    the threshold and the answers every choice is judged by (a run's and ``qa_models.validate``'s)."""
    with explain_out_of_memory("prediction", adapter.spec.name):
        predictions = adapter.predict(validation, batch_size=batch_size)
    threshold = tune_threshold(track, validation, predictions)
    return predictions, threshold, metrics.apply_na_threshold(predictions.answers, predictions.na_probs, threshold)


def evaluate(adapter: QAAdapter, data: RunData, track: str, batch_size: int) -> Evaluation:
    """Tune the no-answer threshold on validation, then score test with it (never tuned on test)."""
    val_predictions, threshold, val_answers = judge_validation(adapter, data.validation, track, batch_size)
    start = time.perf_counter()
    with explain_out_of_memory("prediction", adapter.spec.name):
        test_predictions = adapter.predict(data.test, batch_size=batch_size)
    seconds = time.perf_counter() - start
    test_answers = metrics.apply_na_threshold(test_predictions.answers, test_predictions.na_probs, threshold)
    return Evaluation(
        threshold=threshold,
        validation=score(track, data.validation, val_answers),
        test=score(track, data.test, test_answers),
        test_predictions=test_predictions,
        test_answers=test_answers,
        per_question=per_question_table(track, data.test, test_answers),
        test_seconds=seconds,
        validation_predictions=val_predictions,
        validation_answers=val_answers,
    )


def per_question_table(track: str, examples: Sequence[Example], answers: dict[str, str]) -> pd.DataFrame:
    """One row per question: id, question, gold answers, prediction, EM, F1 (F1 in [0, 1])."""
    exact, f1 = get_track(track).per_question(gold_answers(examples), answers)
    return pd.DataFrame(
        {
            "id": [e.id for e in examples],
            "question": [e.question for e in examples],
            "has_answer": [bool(e.gold_texts) for e in examples],
            "gold": [e.gold_texts for e in examples],
            "prediction": [answers[e.id] for e in examples],
            "exact": [int(exact[e.id]) for e in examples],
            "f1": [float(f1[e.id]) for e in examples],
        }
    )


def answer_probes(adapter: QAAdapter, probes: Sequence[Probe], threshold: float) -> list[ProbeAnswer]:
    """The founding experiment's probe questions, answered with the tuned threshold."""
    examples = [p.as_example() for p in probes]
    with explain_out_of_memory("prediction", adapter.spec.name):
        predictions = adapter.predict(examples, batch_size=16)
    answers = metrics.apply_na_threshold(predictions.answers, predictions.na_probs, threshold)
    return [
        ProbeAnswer(
            id=p.id,
            lang=p.lang,
            question=p.question,
            context=p.context,
            answer=answers[p.id],
            span_if_answering=predictions.answers[p.id],
            na_prob=float(predictions.na_probs[p.id]),
            documented_bert_answer=p.documented_bert_answer,
            expected_answer=p.expected_answer,
        )
        for p in probes
    ]


# -- per-model files and the results row -------------------------------------------------


def write_model_files(model_dir: str | Path, evaluation: Evaluation) -> Path:
    """predictions.json (official id -> answer), na_probs.json, metrics.json, predictions.csv."""
    model_dir = Path(model_dir)
    atomic_write_json(model_dir / "predictions.json", evaluation.test_answers, indent=1)
    atomic_write_json(model_dir / "na_probs.json", evaluation.test_predictions.na_probs, indent=1)
    # Not atomic_write_json: CMRC's threshold is infinite (never abstain), and ``qa_models.ask
    # --metrics`` reads Python's ``Infinity`` back as exactly that; null would mean its default.
    metrics_text = json.dumps({"threshold": evaluation.threshold, "validation": evaluation.validation,
                               "test": evaluation.test}, indent=2)
    atomic_write_text(model_dir / "metrics.json", metrics_text)
    table = evaluation.per_question.assign(gold=evaluation.per_question["gold"].map(lambda g: " || ".join(g)))
    atomic_write_text(model_dir / "predictions.csv", table.to_csv(index=False))
    return model_dir


def train_record(trained: TrainedModel, train_spec: TrainSpec) -> TrainRecord | None:
    """The ``train`` section: what the Trainer measured (or the cached checkpoint's record)."""
    r = trained.train_result
    if r is None:
        return None
    return TrainRecord(
        epochs=r.epochs, learning_rate=train_spec.learning_rate, batch_size=train_spec.batch_size,
        wall_time_s=r.wall_time_s, examples_per_s=r.examples_per_s, tokens_per_s=r.tokens_per_s,
        peak_memory_bytes=r.peak_memory_bytes, memory_kind=r.memory_kind, device=r.device,
        device_kind=r.device_kind, cached=trained.cached, history=r.history,
        checkpoint=str(trained.checkpoint) if trained.checkpoint else None,
    )


def model_result(spec: ModelSpec, trained: TrainedModel, evaluation: Evaluation, train_spec: TrainSpec,
                 probes: list[ProbeAnswer]) -> ModelResult:
    """One model's row of results.json, scores and probes only: ``run_row`` adds the measured sections."""
    counts = trained.adapter.parameter_counts()
    return ModelResult(
        name=spec.name,
        model_id=spec.model_id,
        family=spec.family,
        method=spec.method,
        quantize=spec.quantize,
        zero_shot=spec.zero_shot,
        lora=to_dict(spec.lora) if spec.lora else None,
        # A zero-shot row trains nothing, whatever requires_grad says on the loaded model.
        parameters=Parameters(total=counts.total, trainable=0 if spec.zero_shot else counts.trainable),
        train=train_record(trained, train_spec),
        cost_estimate=trained.cost_estimate,
        threshold=float(evaluation.threshold) if is_finite(evaluation.threshold) else None,
        validation=evaluation.validation,
        test=evaluation.test,
        test_per_question=[
            QuestionRow(id=row.id, question=row.question, has_answer=bool(row.has_answer), gold=list(row.gold),
                        prediction=row.prediction, exact=int(row.exact), f1=float(row.f1))
            for row in evaluation.per_question.itertuples(index=False)
        ],
        probes=probes,
        prediction=measure.prediction_counters(evaluation.test_predictions),
        # Read now, from the folder the weights were loaded from: the report is built from results.json alone.
        weights_note=gguf.quantisation_note(spec.model_id),
    )


# -- the recipe ----------------------------------------------------------------------------


def run_row(spec: ModelSpec, profile: Profile, data: RunData, run_dir: str | Path, *, cache_dir: str | Path,
            report_to: str = "none", log_dir: str | Path | None = None, model_dir: str | Path | None = None,
            trained: TrainedModel | None = None) -> ModelResult | None:
    """One model of a run, start to finish, as the typed row of results.json.

    Train ``spec`` or load its cached checkpoint (``trained``, when the caller already holds
    it) -> tune the no-answer threshold on validation and score test -> write the per-model
    files into ``model_dir`` (default ``<run_dir>/<model>``) -> answer the probes -> measure
    inference speed, abstention, tokenizer coverage and, for a SQuAD-trained checkpoint, the
    CMRC score. Every section is measured here, whichever tests or commands asked for the row.

    Under a multi-process launcher every rank trains and only the main process goes on:
    the others get ``None``.
    """
    track, batch_size = profile.data.track, profile.train.eval_batch_size
    model_dir = Path(model_dir) if model_dir is not None else Path(run_dir) / spec.name
    if trained is None:
        trained = train_or_load(spec, profile.train, data, cache_dir, track, report_to=report_to, log_dir=log_dir)
    if not is_main_process():
        return None
    adapter = trained.adapter
    evaluation = evaluate(adapter, data, track, batch_size)
    write_model_files(model_dir, evaluation)
    probes = answer_probes(adapter, data.probes, evaluation.threshold)
    row = model_result(spec, trained, evaluation, profile.train, probes)
    row.inference = measure.inference_record(adapter, data.test, evaluation.test_seconds, batch_size, device.detect().name)
    row.abstention = measure.abstention_record(track, data.test, evaluation.test_predictions, evaluation.test_answers)
    row.validation_abstention = measure.abstention_record(track, data.validation, evaluation.validation_predictions,
                                                          evaluation.validation_answers)
    row.coverage = measure.coverage_record(adapter.tokenizer, data.test)
    row.cross_lingual = cross_lingual(adapter, spec, profile, model_dir)
    return row


def cross_lingual(adapter: QAAdapter, spec: ModelSpec, profile: Profile, model_dir: Path) -> CrossLingualRecord | None:
    """The score on the profile's cross-lingual test set (``DataSpec.cross_lingual_test``: CMRC
    for a SQuAD run); ``None`` for zero-shot rows, without one, or when its data is missing."""
    if not measure.cross_lingual_applies(profile, spec):
        return None
    other = measure.load_cross_lingual(profile.data, profile.train.seed)
    if other is None:
        return None
    return measure.cross_lingual_record(adapter, other, profile.train.eval_batch_size, model_dir)


def write_run_results(run_dir: str | Path, profile: Profile, data: RunData, rows: Sequence[ModelResult],
                      started: str, commit: str | None) -> Path:
    """results.json of a run from its typed rows, then the report built from it.

    ``report.write_run`` writes results.json first (through ``results.write_results``), so a
    report that fails leaves the run's record intact, to rebuild the report from with
    ``python -m qa_models.report <run_dir>``; the report's error still propagates.
    """
    from . import report

    run_dir = Path(run_dir)
    results = Results(run=run_metadata(profile, data, run_dir.name, started, now_utc(), commit), models=list(rows))
    report.write_run(run_dir, results)
    return run_dir / RESULTS_JSON
