"""The span adapter on tiny models: train a few steps, check what changed, save, reload, predict."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from qa_models.adapters import create_adapter, load_adapter
from qa_models.config import LoraSpec, ModelSpec, TrainSpec

pytestmark = pytest.mark.usefixtures("torch_single_thread")

FAST_TRAINING = TrainSpec(epochs=3, learning_rate=5e-3, batch_size=8, logging_steps=1, eval_batch_size=16, warmup_ratio=0.0)


def _bert_spec(paths) -> ModelSpec:
    return ModelSpec(name="tiny-bert-span", model_id=str(paths["bert"]), max_seq_length=128, doc_stride=48)


def _decoder_span_spec(paths, kind: str) -> ModelSpec:
    return ModelSpec(
        name=f"tiny-{kind}-span", model_id=str(paths[kind]), method="span", family=kind,
        question_first=False, no_answer_position="last", lora=LoraSpec(r=4, alpha=8, dropout=0.0),
        max_seq_length=128, doc_stride=48,
    )


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def _all_answers_are_spans(predictions, examples) -> bool:
    return all(predictions.answers[e.id] in e.context for e in examples)


def test_bert_span_full_fine_tune_lowers_loss_and_round_trips(tiny_model_paths, tiny_squad_examples, tmp_path):
    spec = _bert_spec(tiny_model_paths)
    adapter = create_adapter(spec)
    before = _snapshot(adapter.model)
    train, validation = tiny_squad_examples[:32], tiny_squad_examples[32:44]
    scored = []
    result = adapter.train(train, validation, FAST_TRAINING, tmp_path / "trainer", score_validation=lambda p: scored.append(p) or {"exact": 0.0, "f1": 0.0})
    losses = [point["loss"] for point in result.history["loss"]]
    assert losses[-1] < losses[0]
    assert len(result.history["eval"]) == 3 and len(scored) == 3  # once per epoch
    changed = [n for n, p in adapter.model.named_parameters() if not torch.equal(p, before[n])]
    assert any(n.startswith("qa_outputs") for n in changed) and any("encoder" in n for n in changed)
    assert result.tokens_per_s > 0 and result.peak_memory_bytes > 0

    predictions = adapter.predict(validation)
    assert _all_answers_are_spans(predictions, validation)
    reloaded = load_adapter(adapter.save(tmp_path / "checkpoint"))
    again = reloaded.predict(validation)
    assert again.answers == predictions.answers
    for qid, p in predictions.na_probs.items():
        assert again.na_probs[qid] == pytest.approx(p, abs=1e-6)


@pytest.mark.parametrize("kind", ["llama3", "qwen"])
def test_decoder_span_trains_only_lora_and_the_qa_head(tiny_model_paths, tiny_squad_examples, tmp_path, kind):
    spec = _decoder_span_spec(tiny_model_paths, kind)
    adapter = create_adapter(spec)
    counts = adapter.parameter_counts()
    assert 0 < counts.trainable < counts.total / 2
    before = _snapshot(adapter.model)
    result = adapter.train(tiny_squad_examples[:24], [], FAST_TRAINING, tmp_path / "trainer")
    losses = [point["loss"] for point in result.history["loss"]]
    assert losses[-1] < losses[0]
    changed = {n for n, p in adapter.model.named_parameters() if not torch.equal(p, before[n])}
    assert changed, "nothing was trained"
    assert all(("lora_" in n) or ("qa_outputs" in n) for n in changed), sorted(changed)[:5]
    assert any("qa_outputs" in n for n in changed)

    examples = tiny_squad_examples[40:50]
    predictions = adapter.predict(examples)
    assert _all_answers_are_spans(predictions, examples)
    checkpoint = adapter.save(tmp_path / "checkpoint")
    assert (checkpoint / "adapter_config.json").is_file()  # the adapter, not a merged copy
    reloaded = load_adapter(checkpoint)
    assert reloaded.parameter_counts() == counts
    assert reloaded.predict(examples).answers == predictions.answers


def test_plain_and_fast_prediction_agree(tiny_model_paths, tiny_squad_examples):
    adapter = create_adapter(_bert_spec(tiny_model_paths))
    fast = adapter.predict(tiny_squad_examples, batch_size=7, fast=True)
    plain = adapter.predict(tiny_squad_examples, batch_size=7, fast=False)
    assert fast.answers == plain.answers
    for qid in fast.na_probs:
        assert fast.na_probs[qid] == pytest.approx(plain.na_probs[qid], abs=1e-4)


@pytest.mark.parametrize("kind", ["bert", "llama3"])
def test_an_answer_does_not_depend_on_the_batch_it_is_predicted_in(tiny_model_paths, kind):
    """A short probe alone and padded beside long ones: the same span (random weights put
    high logits on padding, which used to crowd every context token out of the n best)."""
    from qa_models.data import load_probes
    from qa_models.runner import FIXTURES

    spec = _bert_spec(tiny_model_paths) if kind == "bert" else _decoder_span_spec(tiny_model_paths, kind)
    adapter = create_adapter(spec)
    examples = [p.as_example() for p in load_probes(FIXTURES / "probes.json")]
    together = adapter.predict(examples, batch_size=len(examples), fast=True)
    padded_to_max = adapter.predict(examples, batch_size=len(examples), fast=False)
    for example in examples:
        alone = adapter.predict([example], batch_size=1, fast=True)
        assert together.answers[example.id] == alone.answers[example.id] == padded_to_max.answers[example.id], example.id
        assert together.answers[example.id], f"{example.id}: no span found in a window that has context tokens"
        assert together.na_probs[example.id] == pytest.approx(alone.na_probs[example.id], abs=1e-4)


@pytest.mark.parametrize("kind", ["bert", "qwen-generative"])
def test_ask_answers_from_any_saved_checkpoint(tiny_model_paths, generative_spec, tmp_path, kind):
    spec = _bert_spec(tiny_model_paths) if kind == "bert" else generative_spec("qwen")
    checkpoint = create_adapter(spec).save(tmp_path / "checkpoint")
    context = "The lighthouse on Gull Rock was built in 1871 by Ada Brennan."
    out = subprocess.run(
        [sys.executable, "-m", "qa_models.ask", str(checkpoint), "--context", context, "--question", "Who built it?", "--json"],
        capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stderr
    record = json.loads(out.stdout.strip().splitlines()[-1])
    assert record["answer"] in context
    assert record["unanswerable"] == (record["answer"] == "")
    assert 0.0 <= record["na_prob"] <= 1.0


def test_ask_rejects_a_folder_that_is_not_a_checkpoint(tmp_path):
    out = subprocess.run([sys.executable, "-m", "qa_models.ask", str(tmp_path), "--context", "x", "--question", "y"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "not a qabench checkpoint" in out.stderr


@pytest.mark.parametrize("kind", ["llama3", "qwen"])
def test_decoder_qa_model_keeps_the_pretrained_backbone(tiny_model_paths, kind):
    """transformers names the QA backbone `transformer.` but causal-LM checkpoints `model.`:
    the adapter must map them, or the backbone would be random."""
    from transformers import AutoModelForCausalLM

    spec = ModelSpec(name="x", model_id=str(tiny_model_paths[kind]), method="span", family=kind,
                     question_first=False, no_answer_position="last", max_seq_length=128, doc_stride=48)
    qa = create_adapter(spec).model
    causal = AutoModelForCausalLM.from_pretrained(tiny_model_paths[kind])
    qa_backbone = dict(qa.base_model.named_parameters())
    for name, weight in causal.model.named_parameters():
        assert torch.equal(qa_backbone[name], weight), name
