"""The founding experiment's three full-size models, as configurations and ``meta`` models.

When the hub is out of reach, the models can still be *built* (random weights on a GPU for
speed and memory benchmarks) or *counted* (on the ``meta`` device, which allocates no
memory). The shapes are the family table's (``qa_models.families``), the values of the
published ``config.json`` files as listed in ``../shared/data/model_shapes/README.md``; the
parameter counts there check the builders:

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

import copy
from typing import Any

import torch

from .adapters.base import count_parameters
from .config import LoraSpec, ModelSpec
from .families import FAMILIES, Family, full_size_families

BERT_BASE = FAMILIES["bert"].full_size.name
LLAMA3_8B = FAMILIES["llama3"].full_size.name
QWEN15_7B = FAMILIES["qwen"].full_size.name
_BY_NAME: dict[str, Family] = {f.full_size.name: f for f in full_size_families()}
NAMES: tuple[str, ...] = tuple(_BY_NAME)

EXPECTED_PARAMETERS = {name: f.full_size.parameters for name, f in _BY_NAME.items()}
"""Parameters of each model's native class (``full_size_config(name)`` built with ``native_method``)."""

_ALIASES = {alias.lower(): name for name, f in _BY_NAME.items()
            for alias in (name, f.full_size.hub_id, *f.full_size.aliases)}


def canonical_name(name: str) -> str:
    """The shape name for a hub id or shape name (case-insensitive)."""
    try:
        return _ALIASES[name.lower()]
    except KeyError:
        raise ValueError(f"no full-size shape for {name!r}; known: {list(NAMES)}") from None


def family_of(name: str) -> Family:
    """The family of a full-size shape name or hub id."""
    return _BY_NAME[canonical_name(name)]


def native_method(name: str) -> str:
    """"span" for BERT (its class has the QA head), "generative" for the chat decoders."""
    return "generative" if family_of(name).decoder else "span"


def full_size_config(name: str) -> Any:
    """The published configuration of ``name`` as a transformers config object."""
    import transformers

    family = family_of(name)
    # A copy: a config object may keep (and change) the nested dicts it is given.
    values = copy.deepcopy(family.full_size.config)
    return getattr(transformers, f"{family.architecture}Config")(**values, architectures=[model_class(name).__name__])


def model_class(name: str, method: str | None = None) -> type:
    """The transformers class a row of ``method`` builds for ``name``: the QA-head class for
    "span" (``BertForQuestionAnswering``, ``LlamaForQuestionAnswering``,
    ``Qwen2ForQuestionAnswering``), the causal LM for "generative"."""
    family = family_of(name)
    method = method or native_method(name)
    import transformers

    prefix = family.architecture
    if method == "span":
        return getattr(transformers, f"{prefix}ForQuestionAnswering")
    if method == "generative":
        if not family.decoder:
            raise ValueError(f"{canonical_name(name)} is an encoder: it has no generative (causal LM) row")
        return getattr(transformers, f"{prefix}ForCausalLM")
    raise ValueError(f"unknown method {method!r}: use 'span' or 'generative'")


def build_on_meta(name: str, method: str | None = None) -> torch.nn.Module:
    """The full-size model on the ``meta`` device: every shape, no memory, no weights."""
    cls = model_class(name, method)
    config = full_size_config(name)
    with torch.device("meta"):
        return cls(config)


def _spec(name: str, method: str, lora: LoraSpec | None) -> ModelSpec:
    family = family_of(name)
    name = canonical_name(name)
    return ModelSpec(
        name=name.replace("/", "_"),
        model_id=name,
        method=method,  # type: ignore[arg-type]
        family=family.name,  # type: ignore[arg-type]
        lora=lora,
        end_of_turn_token=family.end_of_turn if method == "generative" else None,
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
    "family_of",
    "full_size_config",
    "model_class",
    "native_method",
    "parameter_counts_on_meta",
]
