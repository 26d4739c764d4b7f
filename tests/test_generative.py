"""GenerativeAdapter on tiny Llama 3 / Qwen models: LoRA training, decoding, na_prob, save/load."""

from __future__ import annotations

import dataclasses
import types

import pytest
import torch

from qa_models import prompts
from qa_models.adapters import create_adapter, load_adapter
from qa_models.adapters.generative import GenerativeAdapter, answer_from_reply, packing_plan
from qa_models.config import TrainSpec

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def _is_substring_or_empty(answer: str, context: str) -> bool:
    return answer == "" or answer in context


@pytest.fixture(scope="module")
def examples(tiny_squad_examples):
    answerable = [e for e in tiny_squad_examples if not e.is_impossible][:4]
    unanswerable = [e for e in tiny_squad_examples if e.is_impossible][:2]
    return answerable + unanswerable


def test_lora_adapter_trains_only_lora_parameters(generative_spec):
    adapter = create_adapter(generative_spec("llama3"))
    assert isinstance(adapter, GenerativeAdapter)
    counts = adapter.parameter_counts()
    trainable = [name for name, p in adapter.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    assert 0 < counts.trainable < counts.total < 2_000_000
    assert adapter.tokenizer.padding_side == "right"  # spec.padding_side for training, set explicitly


def test_predict_is_greedy_batched_and_order_preserving(generative_spec, examples):
    adapter = create_adapter(generative_spec("qwen"))
    one = adapter.predict(examples, batch_size=1)
    many = adapter.predict(examples, batch_size=4)  # left-padded batches, longest prompts first
    assert list(many.answers) == [e.id for e in examples]
    assert one.answers == many.answers
    assert one.extra["raw_answers"] == many.extra["raw_answers"]
    for qid in one.na_probs:
        assert one.na_probs[qid] == pytest.approx(many.na_probs[qid], abs=1e-5)
        assert 0.0 <= many.na_probs[qid] <= 1.0
    for example in examples:
        assert _is_substring_or_empty(many.answers[example.id], example.context)
    # Greedy despite the checkpoint's sampling defaults (do_sample, repetition_penalty 1.05).
    assert adapter.model.generation_config.do_sample is True
    assert adapter.predict(examples, batch_size=4).extra["raw_answers"] == many.extra["raw_answers"]
    assert set(many.extra) >= {"snapped_answers", "unsnappable_answers", "no_answer_replies", "truncated_prompts"}


def test_na_prob_is_the_probability_of_the_first_no_answer_token(generative_spec, examples):
    adapter = create_adapter(generative_spec("llama3"))
    example = examples[0]
    predictions = adapter.predict([example], batch_size=1)
    ids = prompts.encode(adapter.tokenizer, prompts.render_prompt(adapter.tokenizer, example.question, example.context))
    with torch.no_grad():
        logits = adapter.model(input_ids=torch.tensor([ids])).logits[0, -1]
    expected = torch.softmax(logits.float(), -1)[prompts.no_answer_token_id(adapter.tokenizer)].item()
    assert predictions.na_probs[example.id] == pytest.approx(expected, rel=1e-4)


def test_replies_become_context_spans_or_empty():
    context = "The largest river is the Tamsin, which enters from the north."
    assert answer_from_reply("unanswerable", context) == ("", "no_answer")
    assert answer_from_reply(" Unanswerable. ", context) == ("", "no_answer")
    assert answer_from_reply("", context) == ("", "no_answer")
    assert answer_from_reply("the Tamsin", context) == ("the Tamsin", "verbatim")
    assert answer_from_reply("the tamsin river", context) == ("river is the Tamsin", "snapped")
    assert answer_from_reply("Tamsin", context) == ("Tamsin", "verbatim")
    assert answer_from_reply("zebra", context) == ("", "unsnappable")


def test_training_lowers_the_loss_and_changes_only_lora_weights(generative_spec, examples, tmp_path):
    adapter = create_adapter(generative_spec("qwen"))
    before = {name: tensor.detach().clone() for name, tensor in adapter.model.state_dict().items()}
    train_spec = TrainSpec(epochs=3, learning_rate=1e-2, batch_size=4, logging_steps=1, weight_decay=0.0, seed=0)
    result = adapter.train(examples[:4], [], train_spec, tmp_path / "trainer")
    losses = [point["loss"] for point in result.history["loss"]]
    assert len(losses) >= 3 and losses[-1] < losses[0]
    assert result.tokens_per_s > 0 and result.examples_per_s > 0
    after = adapter.model.state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all("lora_" in name for name in changed)
    assert {name for name in before if "lora_B" in name} <= changed  # B starts at zero; training moved it
    assert adapter.model.config.use_cache is True  # switched off for training only
    assert adapter.encoding_stats["examples"] == 4


def test_validation_is_scored_every_epoch(generative_spec, examples, tmp_path):
    adapter = create_adapter(generative_spec("llama3"))
    seen = []

    def scorer(predictions):
        seen.append(predictions)
        return {"exact": 0.0, "f1": float(len(predictions.answers))}

    train_spec = TrainSpec(epochs=2, learning_rate=1e-3, batch_size=4, logging_steps=1, eval_batch_size=4)
    result = adapter.train(examples[:4], examples[4:], train_spec, tmp_path / "trainer", scorer)
    assert [round(r["epoch"]) for r in result.history["eval"]] == [1, 2]
    assert all(r["f1"] == len(examples[4:]) and r["eval_loss"] is not None for r in result.history["eval"])
    assert len(seen) == 2


@pytest.mark.parametrize("kind", ["generative", "span"])
def test_eval_every_epoch_off_predicts_nothing_during_training(generative_spec, tiny_model_paths, examples, tmp_path, kind):
    """Off means off: no validation loss and no per-epoch prediction (the scorer is never
    called), for both adapters; a run still scores validation once, after training."""
    from qa_models.config import ModelSpec

    spec = (generative_spec("llama3") if kind == "generative"
            else ModelSpec(name="tiny-bert-span", model_id=str(tiny_model_paths["bert"]), max_seq_length=128, doc_stride=48))
    adapter = create_adapter(spec)
    seen = []
    train_spec = TrainSpec(epochs=2, learning_rate=1e-3, batch_size=4, logging_steps=1, eval_batch_size=4, eval_every_epoch=False)
    result = adapter.train(examples[:4], examples[4:], train_spec, tmp_path / "trainer", lambda p: seen.append(p) or {"f1": 0.0})
    assert result.history["eval"] == [] and seen == []
    assert result.history["loss"]


def test_save_then_load_adapter_gives_identical_predictions(generative_spec, examples, tmp_path):
    adapter = create_adapter(generative_spec("llama3"))
    train_spec = TrainSpec(epochs=1, learning_rate=1e-2, batch_size=4, logging_steps=1)
    adapter.train(examples[:4], [], train_spec, tmp_path / "trainer")
    expected = adapter.predict(examples, batch_size=3)
    saved = adapter.save(tmp_path / "checkpoint")
    assert (saved / "adapter_config.json").is_file() and (saved / "qabench.json").is_file()
    assert not (saved / "model.safetensors").exists()  # the LoRA adapter only, not merged
    loaded = load_adapter(saved)
    assert isinstance(loaded, GenerativeAdapter) and loaded.spec == adapter.spec
    got = loaded.predict(examples, batch_size=3)
    assert got.answers == expected.answers
    assert got.na_probs == expected.na_probs
    assert got.scores == expected.scores


def test_export_merged_writes_a_plain_model_with_the_same_outputs(generative_spec, examples, tmp_path):
    from transformers import AutoModelForCausalLM

    adapter = create_adapter(generative_spec("qwen"))
    for name, parameter in adapter.model.named_parameters():  # a non-zero LoRA update to merge
        if "lora_B" in name:
            torch.nn.init.normal_(parameter, std=0.02)
    merged_dir = adapter.export_merged(tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(merged_dir).eval()
    ids = torch.tensor([prompts.encode(adapter.tokenizer, prompts.render_prompt(adapter.tokenizer, "Q?", examples[0].context))])
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, adapter.model(input_ids=ids).logits, atol=1e-4)
    assert not any("lora" in name for name, _ in merged.named_parameters())


def test_zero_shot_row_has_no_lora_and_is_never_trained(generative_spec, examples, tmp_path):
    spec = generative_spec("qwen", zero_shot=True, lora=None)
    adapter = create_adapter(spec)
    counts = adapter.parameter_counts()
    assert not any("lora" in name for name, _ in adapter.model.named_parameters())
    with pytest.raises(ValueError, match="zero-shot"):
        adapter.train(examples, [], TrainSpec(), tmp_path / "trainer")
    expected = adapter.predict(examples[:3], batch_size=3)
    saved = adapter.save(tmp_path / "checkpoint")
    assert (saved / "model.safetensors").is_file()  # no adapter: the full model
    got = load_adapter(saved).predict(examples[:3], batch_size=3)
    assert got.answers == expected.answers and got.na_probs == expected.na_probs
    assert counts.total == load_adapter(saved).parameter_counts().total


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_qlora_without_cuda_fails_with_a_clear_message(generative_spec):
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        create_adapter(generative_spec("llama3", quantize="4bit"))


def test_packing_only_with_kernels_that_take_sequence_boundaries():
    sdpa = types.SimpleNamespace(config=types.SimpleNamespace(_attn_implementation="sdpa"))
    flash = types.SimpleNamespace(config=types.SimpleNamespace(_attn_implementation="flash_attention_2"))
    assert packing_plan(sdpa, TrainSpec())[0] is False
    assert packing_plan(flash, TrainSpec())[0] is True
    assert packing_plan(flash, dataclasses.replace(TrainSpec(), fast=False))[0] is False


def test_packed_rows_match_padded_batches_without_a_cache(tiny_model_paths, generative_spec, examples):
    """The padding-free path is exact when training runs without a KV cache (as ``train`` sets)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorWithFlattening

    from qa_models.adapters.generative import AnswerOnlyCollator

    path = tiny_model_paths["llama3"]
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, attn_implementation="sdpa", dtype=torch.float32)
    encoded = prompts.encode_for_training(tokenizer, examples, generative_spec("llama3"))
    features = [{"input_ids": i, "labels": label} for i, label in zip(encoded.input_ids, encoded.labels)]
    with torch.no_grad():
        padded = model(**AnswerOnlyCollator(tokenizer.pad_token_id, "right")(features), use_cache=False).loss
        left = model(**AnswerOnlyCollator(tokenizer.pad_token_id, "left")(features), use_cache=False).loss
        packed = model(**DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)(features), use_cache=False).loss
    assert left.item() == pytest.approx(padded.item(), abs=1e-5)
    assert packed.item() == pytest.approx(padded.item(), abs=1e-5)


@pytest.mark.parametrize("kind", ["llama3", "qwen"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_answer_only_logits_give_the_same_loss_and_gradients(generative_spec, examples, kind, side):
    """Logits at the supervised positions only: the LoRA model's loss and LoRA gradients are the
    plain path's, and the logits the model returns cover only the supervised tokens."""
    from qa_models.adapters.generative import AnswerOnlyCollator, answer_logits_plan

    adapter = create_adapter(generative_spec(kind))
    assert answer_logits_plan(adapter.model)[0]
    assert not answer_logits_plan(adapter.model, fused_loss=True)[0]
    encoded = prompts.encode_for_training(adapter.tokenizer, examples, adapter.spec)
    features = [{"input_ids": i, "labels": label} for i, label in zip(encoded.input_ids, encoded.labels)]
    n_supervised = sum(sum(1 for t in label if t != prompts.IGNORE_INDEX) for label in encoded.labels)
    results = {}
    for only in (False, True):
        adapter.model.zero_grad()
        out = adapter.model(**AnswerOnlyCollator(adapter.tokenizer.pad_token_id, side, answer_logits_only=only)(features),
                            use_cache=False)
        out.loss.backward()
        grads = {n: p.grad.clone() for n, p in adapter.model.named_parameters() if p.requires_grad}
        results[only] = (out.loss.item(), grads, out.logits.shape)
    assert results[True][0] == pytest.approx(results[False][0], rel=1e-5)
    for name, grad in results[False][1].items():
        torch.testing.assert_close(results[True][1][name], grad, rtol=1e-4, atol=1e-6)
    assert results[True][2][0] == n_supervised  # [supervised tokens, vocabulary]
    assert results[False][2][:2] == (len(features), max(len(i) for i in encoded.input_ids))


def test_fused_linear_cross_entropy_only_on_the_fast_path_on_a_gpu_with_liger(monkeypatch):
    import importlib.util

    import torch

    from qa_models.adapters.generative import use_fused_linear_cross_entropy
    from qa_models.config import TrainSpec

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not use_fused_linear_cross_entropy(TrainSpec())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "liger_kernel" else real_find_spec(name, *a))
    assert use_fused_linear_cross_entropy(TrainSpec())
    assert not use_fused_linear_cross_entropy(TrainSpec(fast=False))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "liger_kernel" else real_find_spec(name, *a))
    assert not use_fused_linear_cross_entropy(TrainSpec())


def test_a_custom_no_answer_reply_is_the_one_that_means_no_answer():
    context = "The Tamsin enters from the north."
    assert answer_from_reply("None.", context, "none") == ("", "no_answer")
    assert answer_from_reply("unanswerable", context, "none") == ("", "unsnappable")
