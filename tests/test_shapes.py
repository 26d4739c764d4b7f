"""Full-size shapes on the meta device: the parameter counts a report quotes, without memory."""

from __future__ import annotations

import pytest

from qa_models import shapes
from qa_models.config import LoraSpec


@pytest.mark.parametrize(
    "name, expected",
    [
        ("bert-base-uncased", 108_893_186),
        ("Meta-Llama-3-8B-Instruct", 8_030_261_248),
        ("Qwen1.5-7B-Chat", 7_721_324_544),
    ],
)
def test_full_size_parameter_counts(name, expected):
    counts = shapes.parameter_counts_on_meta(name)
    assert counts.total == expected == shapes.EXPECTED_PARAMETERS[name]
    assert counts.trainable == expected  # no LoRA: full fine-tuning trains everything


@pytest.mark.parametrize(
    "name, expected",
    [("Meta-Llama-3-8B-Instruct", 41_943_040), ("Qwen1.5-7B-Chat", 39_976_960)],
)
def test_lora_r16_all_linear_trainable_counts(name, expected):
    counts = shapes.parameter_counts_on_meta(name, LoraSpec(r=16, target_modules="all-linear"))
    assert counts.trainable == expected  # about 41.9M (Llama) and 40.0M (Qwen)
    assert round(counts.trainable / 1e6, 1) == {"Meta-Llama-3-8B-Instruct": 41.9, "Qwen1.5-7B-Chat": 40.0}[name]
    assert counts.total == shapes.EXPECTED_PARAMETERS[name] + expected


def test_meta_models_hold_no_memory_and_use_the_right_classes():
    llama = shapes.build_on_meta("meta-llama/Meta-Llama-3-8B-Instruct")  # hub ids are accepted
    assert type(llama).__name__ == "LlamaForCausalLM"
    assert all(p.device.type == "meta" for p in llama.parameters())
    assert llama.model.layers[0].self_attn.k_proj.out_features == 1024  # 8 kv heads of 128: GQA
    qwen = shapes.build_on_meta("Qwen1.5-7B-Chat")
    assert qwen.model.layers[0].self_attn.q_proj.bias is not None  # q/k/v bias
    assert qwen.lm_head.weight is not qwen.model.embed_tokens.weight  # untied
    expected = {"bert-base-uncased": "BertForQuestionAnswering", "Meta-Llama-3-8B-Instruct": "LlamaForQuestionAnswering",
                "Qwen1.5-7B-Chat": "Qwen2ForQuestionAnswering"}
    for name, cls in expected.items():
        model = shapes.build_on_meta(name, "span")
        assert type(model).__name__ == cls
        assert model.qa_outputs.out_features == 2
    with pytest.raises(ValueError, match="encoder"):
        shapes.build_on_meta("bert-base-uncased", "generative")
    with pytest.raises(ValueError, match="no full-size shape"):
        shapes.full_size_config("gpt2")


def test_span_rows_with_lora_train_the_qa_head_in_full():
    counts = shapes.parameter_counts_on_meta("Meta-Llama-3-8B-Instruct", LoraSpec(r=16), method="span")
    assert counts.trainable == 41_943_040 + 4096 * 2 + 2  # LoRA + the fresh qa_outputs head
