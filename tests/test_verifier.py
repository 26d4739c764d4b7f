"""The answerability head (Retro-Reader's internal front verifier) beside span models.

Pure parts first (how window logits become one score per question, how that score joins
the span head's), then tiny models: the head trains with the span head, is saved and read
back, and works under LoRA on a decoder, whose null token is the last real one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qa_models.adapters import create_adapter, load_adapter
from qa_models.config import ConfigError, LoraSpec, ModelSpec, TrainSpec
from qa_models.measure import abstention_record
from qa_models.metrics import no_answer_auroc
from qa_models.verifier import VERIFIER_FILE, combine_no_answer_scores, example_verifier_scores

pytestmark = pytest.mark.usefixtures("torch_single_thread")

TRAINING = TrainSpec(epochs=3, learning_rate=5e-3, batch_size=8, logging_steps=1, warmup_ratio=0.0, eval_every_epoch=False)


def test_the_most_answerable_window_decides_each_question():
    logits = np.array([3.0, -1.0, 2.0, 0.5, 4.0, -2.0], dtype=np.float32)
    example_index = np.array([0, 0, 0, 1, 2, 2])
    assert example_verifier_scores(logits, example_index).tolist() == [-1.0, 0.5, -2.0]


def test_scores_are_mixed_by_the_weight_and_a_question_without_any_span_stays_unanswered():
    span = np.array([2.0, -4.0, np.inf])
    verifier = np.array([-2.0, 4.0, -10.0])
    assert combine_no_answer_scores(span, verifier, 0.5).tolist() == [0.0, 0.0, np.inf]
    assert combine_no_answer_scores(span, verifier, 0.0).tolist() == [2.0, -4.0, np.inf]
    assert combine_no_answer_scores(span, verifier, 1.0).tolist() == [-2.0, 4.0, np.inf]


def test_the_head_is_refused_where_it_cannot_work():
    with pytest.raises(ConfigError, match="span models only"):
        ModelSpec(name="g", model_id="m", method="generative", end_of_turn_token="<|eot_id|>", answerability_head=True)
    with pytest.raises(ConfigError, match="verifier_weight"):
        ModelSpec(name="s", model_id="m", answerability_head=True, verifier_weight=1.5)


def _spec(paths, kind: str) -> ModelSpec:
    windows = dict(max_seq_length=128, doc_stride=48, answerability_head=True)
    if kind == "bert":
        return ModelSpec(name="tiny-bert-verifier", model_id=str(paths["bert"]), **windows)
    return ModelSpec(name=f"tiny-{kind}-verifier", model_id=str(paths[kind]), family=kind, question_first=False,
                     no_answer_position="last", lora=LoraSpec(r=4, alpha=8, dropout=0.0), **windows)


@pytest.mark.parametrize("kind", ["bert", "llama3"])
def test_the_head_trains_with_the_span_head_and_round_trips(tiny_model_paths, tiny_squad_examples, tmp_path, kind):
    adapter = create_adapter(_spec(tiny_model_paths, kind))
    head_before = adapter.model.verifier.weight.detach().clone()
    qa_before = {n: p.detach().clone() for n, p in adapter.model.named_parameters() if "qa_outputs" in n and p.requires_grad}
    result = adapter.train(tiny_squad_examples[:32], [], TRAINING, tmp_path / "trainer")

    losses = [point["loss"] for point in result.history["loss"]]
    assert losses[-1] < losses[0]
    assert not torch.equal(adapter.model.verifier.weight, head_before), "the answerability head was not trained"
    assert any(not torch.equal(p, qa_before[n]) for n, p in adapter.model.named_parameters() if n in qa_before)
    assert adapter.parameter_counts().trainable >= adapter.model.config.hidden_size + 1

    examples = tiny_squad_examples[32:44]
    predictions = adapter.predict(examples)
    assert all(predictions.answers[e.id] in e.context for e in examples)
    span, verifier = predictions.extra["span_na_scores"], predictions.extra["verifier_na_scores"]
    assert set(span) == set(verifier) == {e.id for e in examples}
    # The probability reported is the logistic of the equal-weight mix of both parts.
    for e in examples:
        mixed = 0.5 * span[e.id] + 0.5 * verifier[e.id]
        assert predictions.na_probs[e.id] == pytest.approx(1 / (1 + np.exp(-mixed)), abs=1e-6)

    # Diagnostics rank the questions by each part alone as well (tiny_squad_examples has both kinds).
    record = abstention_record("squad_v2", examples, predictions, predictions.answers)
    has_answer = {e.id: bool(e.gold_texts) for e in examples}
    assert record.verifier_auroc == no_answer_auroc(has_answer, verifier)
    assert record.span_head_auroc == no_answer_auroc(has_answer, span)

    saved = adapter.save(tmp_path / "checkpoint")
    assert (saved / VERIFIER_FILE).is_file()
    again = load_adapter(saved).predict(examples)
    assert again.answers == predictions.answers
    for qid, p in predictions.na_probs.items():
        assert again.na_probs[qid] == pytest.approx(p, abs=1e-5)


def test_a_checkpoint_missing_its_head_is_refused_with_the_fix(tiny_model_paths, tmp_path):
    saved = create_adapter(_spec(tiny_model_paths, "bert")).save(tmp_path / "checkpoint")
    (saved / VERIFIER_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="incomplete; train it again"):
        load_adapter(saved)
