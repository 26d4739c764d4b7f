"""The founding experiment's three full-size models, as configurations and ``meta`` models.

When the hub is out of reach, the models can still be *built* (random weights on a GPU for
speed and memory benchmarks) or *counted* (on the ``meta`` device, which allocates no
memory). The values are those of the published ``config.json`` files, as listed in
``../shared/data/model_shapes/README.md``; the parameter counts there check the builders:

=========================  ==========================  ==============
model                      class                       parameters
=========================  ==========================  ==============
bert-base-uncased          BertForQuestionAnswering       108,893,186
Meta-Llama-3-8B-Instruct   LlamaForCausalLM             8,030,261,248
Qwen1.5-7B-Chat            Qwen2ForCausalLM             7,721,324,544
=========================  ==========================  ==============

Counts go through ``adapters.base.count_parameters`` and LoRA through ``training.apply_lora``,
the same code a real run reports with.
"""

from __future__ import annotations

from typing import Any

import torch

from .adapters.base import count_parameters
from .config import LoraSpec, ModelSpec

BERT_BASE = "bert-base-uncased"
LLAMA3_8B = "Meta-Llama-3-8B-Instruct"
QWEN15_7B = "Qwen1.5-7B-Chat"
NAMES: tuple[str, ...] = (BERT_BASE, LLAMA3_8B, QWEN15_7B)

EXPECTED_PARAMETERS = {BERT_BASE: 108_893_186, LLAMA3_8B: 8_030_261_248, QWEN15_7B: 7_721_324_544}
"""Parameters of each model's native class (``full_size_config(name)`` built with ``native_method``)."""

_ALIASES = {
    "bert-base-uncased": BERT_BASE,
    "google-bert/bert-base-uncased": BERT_BASE,
    "meta-llama-3-8b-instruct": LLAMA3_8B,
    "meta-llama/meta-llama-3-8b-instruct": LLAMA3_8B,
    "qwen1.5-7b-chat": QWEN15_7B,
    "qwen/qwen1.5-7b-chat": QWEN15_7B,
}

_FAMILY = {BERT_BASE: "bert", LLAMA3_8B: "llama3", QWEN15_7B: "qwen"}
_END_OF_TURN = {LLAMA3_8B: "<|eot_id|>", QWEN15_7B: "<|im_end|>"}


def canonical_name(name: str) -> str:
    """The shape name for a hub id or shape name (case-insensitive)."""
    try:
        return _ALIASES[name.lower()]
    except KeyError:
        raise ValueError(f"no full-size shape for {name!r}; known: {list(NAMES)}") from None


def native_method(name: str) -> str:
    """"span" for BERT (its class has the QA head), "generative" for the chat decoders."""
    return "span" if canonical_name(name) == BERT_BASE else "generative"


def full_size_config(name: str) -> Any:
    """The published configuration of ``name`` as a transformers config object."""
    name = canonical_name(name)
    if name == BERT_BASE:
        from transformers import BertConfig

        return BertConfig(
            vocab_size=30522,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            hidden_act="gelu",
            hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1,
            max_position_embeddings=512,
            type_vocab_size=2,
            initializer_range=0.02,
            layer_norm_eps=1e-12,
            pad_token_id=0,
            architectures=["BertForQuestionAnswering"],
        )
    if name == LLAMA3_8B:
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=128256,
            hidden_size=4096,
            intermediate_size=14336,
            num_hidden_layers=32,
            num_attention_heads=32,
            num_key_value_heads=8,
            hidden_act="silu",
            max_position_embeddings=8192,
            rms_norm_eps=1e-5,
            rope_parameters={"rope_type": "default", "rope_theta": 500000.0},
            tie_word_embeddings=False,
            attention_bias=False,
            mlp_bias=False,
            bos_token_id=128000,
            eos_token_id=128009,
            architectures=["LlamaForCausalLM"],
        )
    from transformers import Qwen2Config

    return Qwen2Config(
        vocab_size=151936,
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        hidden_act="silu",
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0},
        tie_word_embeddings=False,
        use_sliding_window=False,
        sliding_window=32768,
        max_window_layers=28,
        bos_token_id=151643,
        eos_token_id=151645,
        architectures=["Qwen2ForCausalLM"],
    )


def model_class(name: str, method: str | None = None) -> type:
    """The transformers class a row of ``method`` builds for ``name``: the QA-head class for
    "span" (``BertForQuestionAnswering``, ``LlamaForQuestionAnswering``,
    ``Qwen2ForQuestionAnswering``), the causal LM for "generative"."""
    name = canonical_name(name)
    method = method or native_method(name)
    import transformers

    prefix = {BERT_BASE: "Bert", LLAMA3_8B: "Llama", QWEN15_7B: "Qwen2"}[name]
    if method == "span":
        return getattr(transformers, f"{prefix}ForQuestionAnswering")
    if method == "generative":
        if name == BERT_BASE:
            raise ValueError("bert-base-uncased is an encoder: it has no generative (causal LM) row")
        return getattr(transformers, f"{prefix}ForCausalLM")
    raise ValueError(f"unknown method {method!r}: use 'span' or 'generative'")


def build_on_meta(name: str, method: str | None = None) -> torch.nn.Module:
    """The full-size model on the ``meta`` device: every shape, no memory, no weights."""
    cls = model_class(name, method)
    config = full_size_config(name)
    with torch.device("meta"):
        return cls(config)


def _spec(name: str, method: str, lora: LoraSpec | None) -> ModelSpec:
    name = canonical_name(name)
    return ModelSpec(
        name=name.replace("/", "_"),
        model_id=name,
        method=method,  # type: ignore[arg-type]
        family=_FAMILY[name],  # type: ignore[arg-type]
        lora=lora,
        end_of_turn_token=_END_OF_TURN.get(name) if method == "generative" else None,
    )


def parameter_counts_on_meta(name: str, lora: LoraSpec | None = None, method: str | None = None):
    """Total and trainable parameters of ``name`` built for ``method`` (default: its native
    class), with LoRA applied as a run applies it (``training.apply_lora``; a span row's QA
    head is trained in full as a module to save). Without LoRA every parameter trains."""
    from .training import apply_lora  # training imports transformers, which this module loads only on demand

    method = method or native_method(name)
    model = build_on_meta(name, method)
    if lora is not None:
        if method == "span":
            model = apply_lora(model, _spec(name, method, lora), task_type="QUESTION_ANS", modules_to_save=["qa_outputs"])
        else:
            model = apply_lora(model, _spec(name, method, lora), task_type="CAUSAL_LM")
    return count_parameters(model)


__all__ = [
    "BERT_BASE",
    "EXPECTED_PARAMETERS",
    "LLAMA3_8B",
    "NAMES",
    "QWEN15_7B",
    "build_on_meta",
    "canonical_name",
    "full_size_config",
    "model_class",
    "native_method",
    "parameter_counts_on_meta",
]
