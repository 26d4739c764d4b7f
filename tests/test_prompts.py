"""Chat prompts, answer-only labels and context truncation for generative models."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from qa_models import prompts
from qa_models.data import Answer, Example
from qa_models.prompts import IGNORE_INDEX, NO_ANSWER, SYSTEM_PROMPT

CONTEXT = "Lake Orrin is fed by three rivers. The largest is the Tamsin, which enters from the north."
QUESTION = "What is the largest river that feeds Lake Orrin?"

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def _tokenizer(paths, kind):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(paths[kind])


def _example(answer: str | None = "the Tamsin", context: str = CONTEXT, qid: str = "q1") -> Example:
    answers = () if answer is None else (Answer(answer, context.index(answer)),)
    return Example(qid, "Lake_Orrin", context, QUESTION, answers, answer is None)


def test_llama3_prompt_has_the_instruct_turn_structure(tiny_model_paths):
    tokenizer = _tokenizer(tiny_model_paths, "llama3")
    text = prompts.render_prompt(tokenizer, QUESTION, CONTEXT)
    assert text == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        f"{SYSTEM_PROMPT}<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n"
        f"Context: {CONTEXT}\n\nQuestion: {QUESTION}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    ids = prompts.encode(tokenizer, text)
    assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1  # the template's BOS only
    # Control tokens are single ids (three turns opened, two closed), not text.
    header, eot = tokenizer.convert_tokens_to_ids(["<|start_header_id|>", "<|eot_id|>"])
    assert ids.count(header) == 3 and ids.count(eot) == 2


def test_qwen_prompt_is_chatml_with_our_system_prompt(tiny_model_paths):
    tokenizer = _tokenizer(tiny_model_paths, "qwen")
    text = prompts.render_prompt(tokenizer, QUESTION, CONTEXT)
    assert text == (
        f"<|im_start|>system\n{SYSTEM_PROMPT}<|im_end|>\n"
        f"<|im_start|>user\nContext: {CONTEXT}\n\nQuestion: {QUESTION}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    # Qwen1.5-Chat's template inserts its default system prompt when none is given.
    plain = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert plain == "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_render_target_and_no_answer(generative_spec):
    llama, qwen = generative_spec("llama3"), generative_spec("qwen")
    assert prompts.render_target("  the Tamsin ", llama) == "the Tamsin<|eot_id|>"
    assert prompts.render_target("", qwen) == f"{NO_ANSWER}<|im_end|>"
    assert prompts.render_target(None, qwen) == f"{NO_ANSWER}<|im_end|>"
    for reply in (NO_ANSWER, " Unanswerable.", '"unanswerable"', "UNANSWERABLE!"):
        assert prompts.is_no_answer(reply)
    assert not prompts.is_no_answer("the Tamsin")


@pytest.mark.parametrize("kind", ["llama3", "qwen"])
def test_labels_supervise_only_the_answer_and_end_of_turn(tiny_model_paths, generative_spec, kind):
    tokenizer = _tokenizer(tiny_model_paths, kind)
    spec = generative_spec(kind)
    encoded = prompts.encode_for_training(tokenizer, [_example("the Tamsin"), _example(None, qid="q2")], spec)
    for ids, labels, expected in zip(encoded.input_ids, encoded.labels, ["the Tamsin", NO_ANSWER]):
        prompt_ids = prompts.encode(tokenizer, prompts.render_prompt(tokenizer, QUESTION, CONTEXT))
        assert len(ids) == len(labels)
        assert ids[: len(prompt_ids)] == prompt_ids
        assert labels[: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)
        supervised = [label for label in labels if label != IGNORE_INDEX]
        assert supervised == ids[len(prompt_ids) :]
        assert tokenizer.decode(supervised) == expected + spec.end_of_turn_token
        assert supervised[-1] == prompts.end_of_turn_id(tokenizer, spec)
    assert encoded.truncated_contexts == encoded.truncated_answers == 0


def test_collator_pads_labels_with_ignore_index_on_either_side(tiny_model_paths, generative_spec):
    from qa_models.adapters.generative import AnswerOnlyCollator

    tokenizer = _tokenizer(tiny_model_paths, "qwen")
    encoded = prompts.encode_for_training(tokenizer, [_example("the Tamsin"), _example(None, "Short context.", "q2")], generative_spec("qwen"))
    features = [{"input_ids": i, "labels": label} for i, label in zip(encoded.input_ids, encoded.labels)]
    short = min(len(i) for i in encoded.input_ids)
    for side in ("right", "left"):
        batch = AnswerOnlyCollator(tokenizer.pad_token_id, side)(features)
        row = int(torch.argmin(batch["attention_mask"].sum(-1)))
        mask = batch["attention_mask"][row].bool()
        assert int(mask.sum()) == short
        assert (batch["labels"][row][~mask] == IGNORE_INDEX).all()
        assert (batch["input_ids"][row][~mask] == tokenizer.pad_token_id).all()
        assert bool(mask[-1]) == (side == "left")
        assert batch["position_ids"][row][mask].tolist() == list(range(short))  # positions count real tokens only
    fixed = AnswerOnlyCollator(tokenizer.pad_token_id, pad_to_length=300)(features)
    assert fixed["input_ids"].shape[1] == 300


def test_truncation_cuts_only_the_context_and_counts_lost_answers(tiny_model_paths, generative_spec):
    tokenizer = _tokenizer(tiny_model_paths, "llama3")
    filler = " ".join(["The shore is lined with reeds and old boathouses."] * 20)
    context = f"The lake is fed by the Tamsin. {filler} Its deepest point is 118 metres."
    early = Example("early", "t", context, "What feeds the lake?", (Answer("the Tamsin", context.index("the Tamsin")),), False)
    late = Example("late", "t", context, "How deep is the lake?", (Answer("118 metres", context.index("118 metres")),), False)
    spec = generative_spec("llama3", max_seq_length=96, doc_stride=32)
    encoded = prompts.encode_for_training(tokenizer, [early, late], spec)
    assert encoded.truncated_contexts == 2 and encoded.truncated_answers == 1 and encoded.dropped == 0
    for ids, labels, question in zip(encoded.input_ids, encoded.labels, [early.question, late.question]):
        n_prompt = labels.count(IGNORE_INDEX)
        assert n_prompt <= spec.max_seq_length
        prompt = tokenizer.decode(ids[:n_prompt])
        assert prompt.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n" + SYSTEM_PROMPT)
        assert prompt.endswith(f"\n\nQuestion: {question}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    answers = [tokenizer.decode([t for t in labels if t != IGNORE_INDEX]) for labels in encoded.labels]
    assert answers == ["the Tamsin<|eot_id|>", f"{NO_ANSWER}<|eot_id|>"]  # the cut answer is trained as no answer

    dropped = prompts.encode_for_training(tokenizer, [early, late], spec, on_truncated_answer="drop")
    assert dropped.example_ids == ["early"] and dropped.dropped == 1
    ids, n_cut = prompts.encode_prompts(tokenizer, [early, late], spec)
    assert n_cut == 2 and all(len(i) <= spec.max_seq_length for i in ids)
    assert ids[0] == encoded.input_ids[0][: len(ids[0])]  # prediction sees the training prompt


def test_ensure_pad_token_never_picks_the_end_of_turn_token(tiny_model_paths, generative_spec):
    tokenizer = _tokenizer(tiny_model_paths, "llama3")
    tokenizer.pad_token = "<|eot_id|>"  # a common mistake: padding with the supervised token
    prompts.ensure_pad_token(tokenizer, generative_spec("llama3"))
    assert tokenizer.pad_token == "<|end_of_text|>"


def test_no_answer_first_token_is_how_targets_start(tiny_model_paths, generative_spec):
    for kind in ("llama3", "qwen"):
        tokenizer = _tokenizer(tiny_model_paths, kind)
        spec = generative_spec(kind)
        encoded = prompts.encode_for_training(tokenizer, [_example(None)], spec)
        first_target = next(t for t in encoded.labels[0] if t != IGNORE_INDEX)
        assert prompts.no_answer_token_id(tokenizer) == first_target
        with pytest.raises(ValueError, match="not one token"):
            prompts.end_of_turn_id(tokenizer, dataclasses.replace(spec, end_of_turn_token="</s>"))


def test_a_rows_own_no_answer_reply_and_system_prompt_reach_targets_prompts_and_na_token(tiny_model_paths, generative_spec):
    tokenizer = _tokenizer(tiny_model_paths, "qwen")
    spec = dataclasses.replace(
        generative_spec("qwen"), no_answer_text="none", system_prompt="Copy the answer from the context, or say {no_answer}."
    )
    assert prompts.system_prompt_of(spec) == "Copy the answer from the context, or say none."
    assert prompts.render_target(None, spec) == "none<|im_end|>"
    assert prompts.is_no_answer(" None.", spec.no_answer_text) and not prompts.is_no_answer(NO_ANSWER, spec.no_answer_text)
    encoded = prompts.encode_for_training(tokenizer, [_example(None)], spec)
    supervised = [t for t in encoded.labels[0] if t != IGNORE_INDEX]
    assert tokenizer.decode(supervised) == "none<|im_end|>"
    assert prompts.no_answer_token_id(tokenizer, spec.no_answer_text) == supervised[0]
    (prompt_ids,), _ = prompts.encode_prompts(tokenizer, [_example(None)], spec)
    assert "Copy the answer from the context, or say none." in tokenizer.decode(prompt_ids)
    assert SYSTEM_PROMPT not in tokenizer.decode(prompt_ids)
    assert encoded.input_ids[0][: len(prompt_ids)] == prompt_ids


def test_prompt_and_answer_loss_mask_supervises_every_token(tiny_model_paths, generative_spec):
    tokenizer = _tokenizer(tiny_model_paths, "llama3")
    spec = dataclasses.replace(generative_spec("llama3"), loss_mask="prompt_and_answer")
    encoded = prompts.encode_for_training(tokenizer, [_example("the Tamsin"), _example(None, qid="q2")], spec)
    assert encoded.labels == encoded.input_ids
    answer_only = prompts.encode_for_training(tokenizer, [_example("the Tamsin")], generative_spec("llama3"))
    assert answer_only.input_ids[0] == encoded.input_ids[0] and answer_only.labels[0] != encoded.labels[0]


@pytest.mark.parametrize(
    "change,message",
    [
        (dict(system_prompt="Answer from the context."), "must contain the placeholder {no_answer}"),
        (dict(system_prompt="Say {no_answer} or {answer}."), "placeholder other than {no_answer}"),
        (dict(no_answer_text=" none"), "no_answer_text must be non-empty"),
        (dict(no_answer_text=""), "no_answer_text must be non-empty"),
        (dict(loss_mask="everything"), "loss_mask must be 'answer' or 'prompt_and_answer'"),
    ],
)
def test_bad_generative_prompt_settings_fail_at_config_time(generative_spec, change, message):
    from qa_models.config import ConfigError

    with pytest.raises(ConfigError, match=message.replace("{", r"\{").replace("}", r"\}")):
        dataclasses.replace(generative_spec("qwen"), **change)
