"""The cost estimate: FLOPs and memory formulas by hand, the device table, and the refusal
of a run that cannot fit (full-size parameter counts from ``qa_models.shapes``, on ``meta``)."""

from __future__ import annotations

import math

import pytest

from qa_models import cost
from qa_models.config import LoraSpec

BERT_BASE_PARAMS = 108_893_186


@pytest.fixture(scope="module")
def llama3():
    """Llama-3-8B-Instruct as the seed profile trains it: parameter counts with and without
    LoRA r=16 (all linear layers), and its dimensions for the activation and 4-bit terms."""
    from qa_models import shapes

    full = shapes.parameter_counts_on_meta(shapes.LLAMA3_8B)
    lora = shapes.parameter_counts_on_meta(shapes.LLAMA3_8B, LoraSpec())
    dims = cost.ModelDims.from_config(shapes.full_size_config(shapes.LLAMA3_8B), "generative")
    return full, lora, dims


# -- FLOPs -------------------------------------------------------------------------------------


def test_full_fine_tuning_flops_by_hand_bert_base():
    estimate = cost.estimate_run(BERT_BASE_PARAMS, BERT_BASE_PARAMS, 1_000_000, 3, "full", "H100-SXM")
    # 6 · N · T · epochs = 6 × 108,893,186 × 1,000,000 × 3
    assert estimate.flops == pytest.approx(1_960_077_348_000_000, rel=1e-12)
    # time = FLOPs / (dense bf16 peak × assumed MFU): 989.5e12 FLOP/s × 0.4
    assert estimate.seconds == pytest.approx(1_960_077_348_000_000 / (989.5e12 * 0.4))
    assert estimate.hours == pytest.approx(estimate.seconds / 3600)
    assert estimate.basis == "assumed MFU" and estimate.mfu == cost.DEFAULT_MFU == 0.4


def test_lora_flops_are_four_n_t_plus_weight_grads_of_the_adapters():
    # (4·N + 2·N_t) · T · epochs with N = 1,000, N_t = 10, T = 100, 2 epochs
    assert cost.training_flops(1_000, 10, 100, 2) == (4_000 + 20) * 200
    lora = cost.training_flops(8_000_000_000, 40_000_000, 1e6)
    assert lora == pytest.approx(4 * 8e9 * 1e6, rel=0.01)  # ≈ 4·N·T
    assert cost.training_flops(1_000, 1_000, 100) == 6 * 1_000 * 100  # full = 6·N·T


def test_gradient_checkpointing_adds_one_forward():
    plain = cost.training_flops(1_000, 10, 100)
    assert cost.training_flops(1_000, 10, 100, gradient_checkpointing=True) == plain + 2 * 1_000 * 100


def test_qlora_has_lora_flops_and_more_time():
    args = (8_000_000_000, 40_000_000, 1_000_000, 1)
    lora = cost.estimate_run(*args, "lora", "A100-80GB")
    qlora = cost.estimate_run(*args, "qlora", "A100-80GB")
    assert qlora.flops == lora.flops
    assert qlora.seconds == pytest.approx(lora.seconds * cost.QLORA_DEQUANT_TIME_FACTOR)


def test_prediction_is_two_n_per_token():
    assert cost.prediction_flops(BERT_BASE_PARAMS, 1_000) == 2 * BERT_BASE_PARAMS * 1_000


# -- memory --------------------------------------------------------------------------------------


def test_full_fine_tuning_memory_by_hand():
    memory = cost.memory_breakdown(BERT_BASE_PARAMS, BERT_BASE_PARAMS, "full", precision="bf16")
    # bf16 weights 2, bf16 gradients 2, AdamW m and v 2 + 2 bytes per parameter; no fp32 master copy
    assert memory["weights"] == 2 * BERT_BASE_PARAMS
    assert memory["gradients"] == 2 * BERT_BASE_PARAMS
    assert memory["optimizer"] == 4 * BERT_BASE_PARAMS
    assert memory["activations"] == 0  # no model dimensions given
    fp32 = cost.memory_breakdown(BERT_BASE_PARAMS, BERT_BASE_PARAMS, "full", precision="fp32")
    assert fp32["weights"] + fp32["gradients"] + fp32["optimizer"] == 16 * BERT_BASE_PARAMS


def test_adapter_and_quantised_memory_by_hand():
    dims = cost.ModelDims(hidden=8, layers=1, heads=1, n_params_unquantized=100)
    lora = cost.memory_breakdown(1_100, 10, "lora", dims=dims)
    assert lora["weights"] == 1_090 * 2 + 10 * 4  # bf16 base, fp32 adapters
    assert lora["gradients"] == 10 * 4 and lora["optimizer"] == 10 * 8
    qlora = cost.memory_breakdown(1_100, 10, "qlora", dims=dims)
    assert qlora["weights"] == int(990 * cost.NF4_BYTES_PER_PARAM + 100 * 2 + 10 * 4)
    assert cost.NF4_BYTES_PER_PARAM == pytest.approx(0.5 + 1 / 64 + 4 / (64 * 256))


def test_activation_formula_by_hand():
    dims = cost.ModelDims(hidden=10, layers=2, heads=2)
    common = dict(precision="bf16", batch_size=3, seq_len=4, dims=dims)
    per_layer = 34 * 3 * 4 * 10  # 34 bytes · batch · seq · hidden
    assert cost.memory_breakdown(100, 100, "full", **common)["activations"] == 2 * per_layer
    # checkpointing: each layer's input (2 bytes) plus one layer in full
    assert cost.memory_breakdown(100, 100, "full", gradient_checkpointing=True, **common)["activations"] == 2 * (3 * 4 * 10 * 2) + per_layer
    scores = 5 * 2 * 4 * 4 * 3  # 5 · heads · seq² · batch, where attention scores are materialised
    assert cost.memory_breakdown(100, 100, "full", materialized_attention=True, **common)["activations"] == 2 * (per_layer + scores)
    causal = cost.ModelDims(hidden=10, layers=2, heads=2, vocab=7)
    logits = 3 * 4 * 7 * (2 + cost.LOGIT_EXTRA_BYTES)
    assert cost.memory_breakdown(100, 100, "full", **{**common, "dims": causal})["activations"] == 2 * per_layer + logits


# -- full-size models on an L4 ----------------------------------------------------------------------


def test_llama3_8b_full_fine_tuning_does_not_fit_an_l4_but_qlora_does(llama3):
    full, lora, dims = llama3
    assert full.total == 8_030_261_248  # ../shared/data/model_shapes/README.md
    seed = dict(batch_size=16, seq_len=384 + 32, dims=dims)
    whole = cost.estimate_run(full.total, full.trainable, 10_000_000, 3, "full", "L4", **seed)
    assert not whole.fits
    assert whole.peak_memory_bytes > 8 * full.total  # bf16 weights + gradients + AdamW alone
    qlora = cost.estimate_run(lora.total, lora.trainable, 10_000_000, 3, "qlora", "L4", gradient_checkpointing=True, **seed)
    assert qlora.fits, cost.format_estimate(qlora)
    assert cost.check_fits(qlora) is qlora
    assert 41_000_000 < lora.trainable < 43_000_000  # LoRA r=16 on all seven projections: ~41.9M


def test_refusal_names_the_fix(llama3):
    full, _, dims = llama3
    estimate = cost.estimate_run(full.total, full.trainable, 10_000_000, 3, "full", "L4", batch_size=16, seq_len=416, dims=dims)
    with pytest.raises(cost.CostError) as error:
        cost.check_fits(estimate)
    message = str(error.value)
    needed = estimate.peak_memory_bytes / cost.GiB
    assert f"needs ~{needed:.1f} GiB" in message
    assert f"the L4 has {24e9 / cost.GiB:.1f} GiB" in message
    for fix in ("--qa-quantize 4bit", "--qa-batch-size", "gradient checkpointing"):
        assert fix in message, message


def test_estimate_for_seed_profile_rows(llama3):
    from qa_models import shapes
    from qa_models.profiles import seed_profile

    profile = seed_profile()
    _, lora, _ = llama3
    llama_row = next(m for m in profile.models if m.name == "llama3-8b-generative")
    estimate = cost.estimate_for_profile_model(
        llama_row, profile.train, 5_000_000, lora, "L4", model_config=shapes.full_size_config(shapes.LLAMA3_8B)
    )
    assert estimate.method == "qlora" and estimate.fits and estimate.gradient_checkpointing
    assert estimate.flops == pytest.approx(cost.training_flops(lora.total, lora.trainable, 5_000_000, 3, True))
    bert_row = next(m for m in profile.models if m.name == "bert-base-span")
    bert = cost.estimate_for_profile_model(
        bert_row, profile.train, 1_000_000, BERT_BASE_PARAMS, "H100", model_config=shapes.full_size_config(shapes.BERT_BASE)
    )
    assert bert.method == "full" and bert.device == "H100-SXM" and bert.fits
    assert bert.flops == pytest.approx(6 * BERT_BASE_PARAMS * 1_000_000 * 3)
    zero_shot = next(m for m in profile.models if m.zero_shot)
    with pytest.raises(cost.CostError, match="zero-shot"):
        cost.estimate_for_profile_model(zero_shot, profile.train, 1_000, 1_000, "L4")
    line = cost.format_estimate(bert, "bert-base-span")
    assert "\n" not in line and "bert-base-span (full) on H100-SXM" in line and "assumed 40% MFU" in line and "fits" in line


# -- basis, devices --------------------------------------------------------------------------------


def test_measured_throughput_replaces_the_assumed_mfu():
    estimate = cost.estimate_run(BERT_BASE_PARAMS, BERT_BASE_PARAMS, 1_000_000, 3, "full", "L4", measured_tokens_per_s=5_000.0)
    assert estimate.basis == "measured" and estimate.mfu is None
    assert estimate.seconds == pytest.approx(3_000_000 / 5_000.0)
    assert "measured" in cost.format_estimate(estimate)


def test_cpu_has_no_tabulated_flops():
    estimate = cost.estimate_run(1_000, 1_000, 100, 1, "full", "cpu")
    assert estimate.basis == "unknown" and estimate.seconds is None and estimate.hours is None
    assert estimate.device_memory_bytes > 0
    assert "time unknown" in cost.format_estimate(estimate)
    measured = cost.estimate_run(1_000, 1_000, 100, 2, "full", "cpu", measured_tokens_per_s=50.0)
    assert measured.seconds == pytest.approx(4.0) and measured.basis == "measured"


def test_device_table_and_names():
    assert cost.get_device("l4").bf16_flops == 121e12
    assert cost.get_device("H100").key == "H100-SXM"
    assert cost.GPUS["H200"].memory_bytes == 141 * 10**9
    assert all(d.bf16_flops and d.memory_bytes and d.source for d in cost.GPUS.values())
    assert cost.device_from_cuda_name("NVIDIA L4").key == "L4"
    assert cost.device_from_cuda_name("NVIDIA H100 80GB HBM3").key == "H100-SXM"
    assert cost.device_from_cuda_name("NVIDIA A100-SXM4-40GB").key == "A100-40GB"
    assert cost.device_from_cuda_name("NVIDIA A100-SXM4-80GB").key == "A100-80GB"
    assert cost.device_from_cuda_name("NVIDIA A10G").key == "A10G"
    unknown = cost.device_from_cuda_name("Some GPU", 12 * 10**9)
    assert unknown.bf16_flops is None and unknown.memory_bytes == 12 * 10**9
    with pytest.raises(cost.CostError, match="unknown device"):
        cost.get_device("TPU")


def test_rejects_impossible_inputs():
    with pytest.raises(cost.CostError):
        cost.estimate_run(100, 200, 10, 1, "lora", "L4")
    with pytest.raises(cost.CostError):
        cost.estimate_run(100, 10, 10, 1, "full", "L4")
    with pytest.raises(cost.CostError):
        cost.estimate_run(100, 100, 10, 1, "full", "L4", mfu=0.0)


# -- tokens ------------------------------------------------------------------------------------------


def test_count_training_tokens_span_is_the_real_tokens_of_the_windows(tiny_model_paths, tiny_squad_examples):
    from transformers import AutoTokenizer

    from qa_models.config import ModelSpec
    from qa_models.features import build_train_features

    spec = ModelSpec(name="tiny-bert", model_id=str(tiny_model_paths["bert"]), max_seq_length=64, doc_stride=16)
    tokenizer = AutoTokenizer.from_pretrained(spec.model_id)
    n = cost.count_training_tokens(tokenizer, tiny_squad_examples, spec)
    padded = build_train_features(tokenizer, tiny_squad_examples, spec, pad_to_max=True)
    assert n == sum(sum(mask) for mask in padded["attention_mask"])  # padding never counts
    assert 0 < n < len(padded) * spec.max_seq_length
    assert math.isfinite(cost.estimate_run(1_000, 1_000, n, 1, "full", "L4").flops)


def test_count_training_tokens_generative(tiny_model_paths, tiny_squad_examples, generative_spec):
    from transformers import AutoTokenizer

    from qa_models.prompts import encode_for_training, ensure_pad_token

    spec = generative_spec("qwen")
    tokenizer = AutoTokenizer.from_pretrained(spec.model_id)
    ensure_pad_token(tokenizer, spec)
    n = cost.count_training_tokens(tokenizer, tiny_squad_examples, spec)
    assert n == encode_for_training(tokenizer, tiny_squad_examples, spec).n_tokens > 0


def test_count_training_tokens_on_a_sample_scales_up(tiny_model_paths, tiny_squad_examples):
    from transformers import AutoTokenizer

    from qa_models.config import ModelSpec

    spec = ModelSpec(name="tiny-bert", model_id=str(tiny_model_paths["bert"]), max_seq_length=64, doc_stride=16)
    tokenizer = AutoTokenizer.from_pretrained(spec.model_id)
    examples = list(tiny_squad_examples)
    assert cost.count_training_tokens(tokenizer, examples, spec, max_examples=len(examples)) == cost.count_training_tokens(tokenizer, examples, spec)
    from qa_models.data import sample_examples

    sample3 = cost.count_training_tokens(tokenizer, sample_examples(examples, 3, seed=0), spec)
    assert cost.count_training_tokens(tokenizer, examples, spec, max_examples=3) == round(sample3 * len(examples) / 3)
    assert cost.count_training_tokens(tokenizer, [], spec) == 0


def test_training_is_refused_before_it_starts_when_the_gpu_is_too_small(tiny_model_paths, tiny_squad_examples, tmp_path, monkeypatch):
    """runner.train_or_load prints the estimate and, on a GPU, refuses a run that will not fit:
    the Trainer is never started and no cache entry is written."""
    from qa_models import runner
    from qa_models.adapters.span import SpanAdapter
    from qa_models.config import ModelSpec, TrainSpec

    small_gpu = cost.Device("test-gpu", "a 1 MB test GPU", 100e12, 10**6, "test")
    monkeypatch.setattr(cost, "this_machine", lambda: small_gpu)

    def never(*args, **kwargs):
        raise AssertionError("training started although the run does not fit")

    monkeypatch.setattr(SpanAdapter, "train", never)
    spec = ModelSpec(name="tiny-bert", model_id=str(tiny_model_paths["bert"]), max_seq_length=64, doc_stride=16)
    examples = list(tiny_squad_examples)
    data = runner.RunData(train=examples, validation=examples[:3], test=examples[:3], probes=[])
    with pytest.raises(cost.CostError, match="test-gpu has 0.0 GiB"):
        runner.train_or_load(spec, TrainSpec(epochs=1, batch_size=4), data, tmp_path / "cache", "squad_v2")
    assert not any((tmp_path / "cache").glob("*/train_result.json"))


def test_the_next_estimate_uses_the_throughput_an_earlier_run_measured(tiny_model_paths, tiny_squad_examples, tmp_path, capsys):
    from qa_models import checkpoints, runner
    from qa_models.adapters import create_adapter
    from qa_models.config import ModelSpec, TrainSpec

    spec = ModelSpec(name="tiny-bert", model_id=str(tiny_model_paths["bert"]), max_seq_length=64, doc_stride=16)
    train_spec = TrainSpec(epochs=2, batch_size=4)
    adapter = create_adapter(spec)
    examples = list(tiny_squad_examples)
    first = runner.estimate_training_cost(adapter, spec, train_spec, examples, tmp_path)
    assert first.basis == "unknown" and first.seconds is None  # a CPU has no tabulated FLOP/s
    assert "[qabench] cost estimate: tiny-bert (full) on cpu" in capsys.readouterr().out
    checkpoints.record_throughput(tmp_path, "cpu", spec, train_spec, 250.0)
    second = runner.estimate_training_cost(adapter, spec, train_spec, examples, tmp_path)
    assert second.basis == "measured"
    assert second.seconds == pytest.approx(second.n_tokens * 2 / 250.0)
    other_batch = runner.estimate_training_cost(adapter, spec, TrainSpec(epochs=2, batch_size=8), examples, tmp_path)
    assert other_batch.basis == "unknown"  # a different setup is not the measured one
