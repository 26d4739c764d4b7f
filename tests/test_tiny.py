"""Tiny random models: built once, saved with save_pretrained, reloaded by path like hub ids."""

from __future__ import annotations

import json
import os

import pytest

from qa_models import tiny

MAX_PARAMETERS = 2_000_000

pytestmark = pytest.mark.usefixtures("torch_single_thread")


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_every_kind_reloads_by_path_as_its_real_class(tiny_model_paths):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForQuestionAnswering, AutoTokenizer

    expected = {"bert": "BertForMaskedLM", "llama3": "LlamaForCausalLM", "qwen": "Qwen2ForCausalLM"}
    for kind, path in tiny_model_paths.items():
        assert (path / tiny.MARKER_FILE).is_file()
        assert AutoConfig.from_pretrained(path).architectures == [expected[kind]]
        tokenizer = AutoTokenizer.from_pretrained(path)
        if kind == "bert":
            model = AutoModelForQuestionAnswering.from_pretrained(path)
            assert type(model).__name__ == "BertForQuestionAnswering"
            # The QA head is not in the checkpoint: initialised fresh, as with bert-base-uncased.
            from safetensors import safe_open

            with safe_open(str(path / "model.safetensors"), framework="pt") as handle:
                assert not any("qa_outputs" in key for key in handle.keys())
        else:
            model = AutoModelForCausalLM.from_pretrained(path)
            assert type(model).__name__ == expected[kind]
        assert _count(model) < MAX_PARAMETERS
        assert tokenizer.pad_token is not None
        assert model.get_input_embeddings().num_embeddings >= len(tokenizer)


def test_bert_tokenizer_is_lower_case_wordpiece_with_bert_specials(tiny_model_paths):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_paths["bert"])
    assert type(tokenizer).__name__ in ("BertTokenizer", "BertTokenizerFast")
    for token in ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"):
        assert token in tokenizer.get_vocab()
    assert tokenizer.pad_token == "[PAD]" and tokenizer.pad_token_id == 0
    ids = tokenizer("Who FOUNDED the University?", "It was founded in 1842.")["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert tokens[0] == "[CLS]" and tokens.count("[SEP]") == 2
    assert all(t == t.lower() for t in tokens if not t.startswith("["))


def test_llama3_tokenizer_and_config_match_the_real_layout(tiny_model_paths):
    from transformers import AutoConfig, AutoTokenizer

    path = tiny_model_paths["llama3"]
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = AutoConfig.from_pretrained(path)
    ids = tokenizer.convert_tokens_to_ids(
        ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    )
    base = ids[0]
    assert [i - base for i in ids] == [0, 1, 6, 7, 9]  # relative ids of 128000, 128001, 128006, 128007, 128009
    encoded = tokenizer("Hello world")["input_ids"]
    assert encoded[0] == tokenizer.bos_token_id == base  # BOS added like the real tokenizer
    assert tokenizer("Hello world", add_special_tokens=False)["input_ids"][0] != base
    assert tokenizer.pad_token == "<|end_of_text|>"  # documented choice: never the supervised <|eot_id|>
    assert config.num_key_value_heads < config.num_attention_heads  # GQA
    assert config.tie_word_embeddings is False
    assert config.rope_parameters["rope_theta"] == 500000.0


def test_qwen_tokenizer_and_config_match_the_real_layout(tiny_model_paths):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    path = tiny_model_paths["qwen"]
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = AutoConfig.from_pretrained(path)
    ids = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    assert ids == [ids[0], ids[0] + 1, ids[0] + 2]
    assert tokenizer.bos_token is None  # Qwen adds no BOS
    assert tokenizer("Hello world")["input_ids"] == tokenizer("Hello world", add_special_tokens=False)["input_ids"]
    assert tokenizer.pad_token == "<|endoftext|>" and tokenizer.eos_token == "<|im_end|>"
    assert config.tie_word_embeddings is False
    attention = AutoModelForCausalLM.from_pretrained(path).model.layers[0].self_attn
    assert attention.q_proj.bias is not None and attention.k_proj.bias is not None and attention.v_proj.bias is not None
    assert attention.o_proj.bias is None


@pytest.mark.parametrize("kind", ["llama3", "qwen"])
def test_byte_level_bpe_round_trips_chinese_and_accents(tiny_model_paths, kind):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_paths[kind])
    text = "青石镇图书馆位于镇中心的柳树街 — Graubünden, 1,230 km"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids) == text


def test_build_is_idempotent_and_replaces_stale_or_partial_folders(tmp_path):
    target = tmp_path / "tiny-qwen"
    tiny.build_tiny_model("qwen", target)
    marker = target / tiny.MARKER_FILE
    stamp = marker.stat().st_mtime_ns
    assert tiny.build_tiny_model("qwen", target) == target
    assert marker.stat().st_mtime_ns == stamp  # complete: returned as is

    marker.unlink()  # a half-written folder (no marker) ...
    (target / "junk.bin").write_bytes(b"x")
    tiny.build_tiny_model("qwen", target)
    assert marker.is_file() and not (target / "junk.bin").exists()  # ... is rebuilt from scratch

    payload = json.loads(marker.read_text())
    marker.write_text(json.dumps({**payload, "fingerprint": "stale"}))
    tiny.build_tiny_model("qwen", target)
    assert json.loads(marker.read_text())["fingerprint"] == payload["fingerprint"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny-qwen"]  # no temp folders left behind


def test_tiny_model_dir_default_root(monkeypatch, tmp_path):
    monkeypatch.setenv(tiny.CACHE_ENV, str(tmp_path))
    assert tiny.tiny_model_dir("llama3") == tmp_path / "tiny-models" / "tiny-llama3"
    monkeypatch.delenv(tiny.CACHE_ENV)
    assert tiny.tiny_model_dir("bert") == tiny.REPO_ROOT / ".cache" / "tiny-models" / "tiny-bert"
    assert tiny.tiny_model_dir("qwen", root=tmp_path) == tmp_path / "tiny-qwen"
    assert not (tmp_path / "tiny-qwen").exists()  # a path only, unless build=True
    with pytest.raises(ValueError, match="unknown tiny model kind"):
        tiny.tiny_model_dir("gpt2")


def test_marker_records_a_small_parameter_count(tiny_model_paths):
    for path in tiny_model_paths.values():
        payload = json.loads((path / tiny.MARKER_FILE).read_text())
        assert 0 < payload["parameters"] < MAX_PARAMETERS
    assert not [p for p in os.listdir(path.parent) if p.startswith(".")]  # no staging folders left
