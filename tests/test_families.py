"""The family table (qa_models.families) is where profiles, shapes and the tiny models read a
family's facts: a row's end-of-turn token, hub id and the tiny model's tokens all agree with it."""

from __future__ import annotations

import typing

import pytest

from qa_models import config, families, shapes
from qa_models.families import FAMILIES
from qa_models.profiles import seed_profile, tiny_profile


def test_config_family_names_are_the_tables():
    assert typing.get_args(config.Family) == tuple(FAMILIES)


@pytest.mark.parametrize("make", [seed_profile, tiny_profile], ids=["seed", "tiny"])
def test_profile_rows_take_their_family_facts_from_the_table(make):
    for row in make().models:
        family = FAMILIES[row.family]
        assert family.decoder == (row.no_answer_position == "last" or row.method == "generative"), row.name
        if row.method == "generative":
            assert row.end_of_turn_token == family.end_of_turn, row.name


def test_seed_rows_are_the_full_size_checkpoints_of_their_families():
    for row in seed_profile().models:
        family = FAMILIES[row.family]
        assert row.model_id == family.full_size.hub_id and family.matches(row.model_id)
        assert row.name.startswith(family.full_size.row_prefix + "-")
        assert shapes.family_of(row.model_id) is family
    assert not FAMILIES["llama3"].matches("Qwen/Qwen1.5-7B-Chat")


def test_unknown_family_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown model family 'mistral'; known: .*'llama3'"):
        families.family("mistral")
    with pytest.raises(ValueError, match="not a chat decoder"):
        families.end_of_turn("bert")


@pytest.mark.parametrize("kind", ["llama3", "qwen"])
def test_tiny_decoders_carry_the_tables_tokens_and_template(tiny_model_paths, kind):
    from transformers import AutoConfig, AutoTokenizer, GenerationConfig

    family = FAMILIES[kind]
    folder = tiny_model_paths[kind]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.eos_token == family.end_of_turn
    assert tokenizer.pad_token == family.pad_token
    assert tokenizer.chat_template == family.chat_template
    model_config = AutoConfig.from_pretrained(folder)
    assert model_config.architectures == [f"{family.architecture}ForCausalLM"]
    assert model_config.num_key_value_heads == family.tiny["num_key_value_heads"]
    assert model_config.rms_norm_eps == family.full_size.config["rms_norm_eps"]
    generation = GenerationConfig.from_pretrained(folder)
    assert generation.eos_token_id == tokenizer.convert_tokens_to_ids(list(family.generation.stop))
    assert generation.temperature == family.generation.sampling["temperature"]
