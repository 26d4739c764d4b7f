"""bench/gpu_check.py's sequence-length planning (``bench/gpu_lengths.py``), on a CPU: the GPU
check trains full-size random models on rows at the seed rows' real SQuAD v2 lengths, built by
the harness's own feature and prompt code with the real tokenizers, or drawn from the committed
measured lengths when those are not on the device."""

from __future__ import annotations

import statistics

import pytest

from bench import gpu_lengths
from qa_models import shapes, tokenizer_check
from qa_models.prompts import IGNORE_INDEX

FULL_VOCAB = {"bert": 30522, "llama3": 128256, "qwen": 151936}
"""Vocabulary of each full-size shape (``shapes.full_size_config``): real ids must fit it."""


def test_full_size_vocabularies_hold_the_real_tokenizers_ids():
    for family, name in (("bert", shapes.BERT_BASE), ("llama3", shapes.LLAMA3_8B), ("qwen", shapes.QWEN15_7B)):
        assert shapes.full_size_config(name).vocab_size == FULL_VOCAB[family]


def test_drawn_lengths_follow_the_percentiles():
    quantiles = [float(q) for q in range(100, 521, 21)]  # 21 percentiles, uniform on [100, 520]
    lengths = gpu_lengths.draw_lengths(quantiles, 4000, seed=3)
    assert min(lengths) >= 100 and max(lengths) <= 520
    assert abs(statistics.median(lengths) - 310) < 15
    assert gpu_lengths.draw_lengths(quantiles, 50, seed=3) == lengths[:50]  # seeded
    assert max(gpu_lengths.draw_lengths(quantiles, 200, seed=3, cap=64)) == 64


def test_drawn_plan_uses_the_committed_measured_lengths():
    stats = tokenizer_check.read_stats()
    row = stats["full"]["tokenizers"]["llama3-instruct"]["rows"]["llama3-8b-generative"]
    plan = gpu_lengths.drawn_plan("llama3", "generative", 300, vocab=FULL_VOCAB["llama3"], seed=0)
    assert "measured lengths" in plan.source
    low, high = row["sequence_length_quantiles"][0], row["sequence_length_quantiles"][-1]
    assert low <= min(plan.lengths) and max(plan.lengths) <= high
    assert abs(statistics.mean(plan.lengths) / row["sequence_length"]["mean"] - 1) < 0.1
    for r in plan.rows:
        answer = [x for x in r["labels"] if x != IGNORE_INDEX]
        assert answer and answer == r["input_ids"][-len(answer):]
    tiny = gpu_lengths.plan_rows("bert", "span", 20, vocab=4096, tiny=True, cap=64)
    assert max(tiny.lengths) <= 64 and all(max(r["input_ids"]) < 4096 for r in tiny.rows)
    assert all(0 <= r["start_positions"] <= r["end_positions"] < len(r["input_ids"]) for r in tiny.rows)


@pytest.mark.parametrize("family,method", [("bert", "span"), ("llama3", "generative"), ("qwen", "generative")])
def test_real_plan_is_the_harness_encoding_of_real_questions(family, method):
    try:
        plan = gpu_lengths.plan_rows(family, method, 24, vocab=FULL_VOCAB[family], tiny=False)
    except tokenizer_check.TokenizerCheckError as error:  # pragma: no cover - depends on the machine
        pytest.skip(str(error))
    if not plan.source.startswith("real"):
        pytest.skip(f"real tokenizers or shared data absent here: {plan.source}")
    spec = gpu_lengths.seed_spec(family, method)
    assert len(plan.rows) == 24 and plan.lengths == [len(r["input_ids"]) for r in plan.rows]
    assert all(max(r["input_ids"]) < FULL_VOCAB[family] for r in plan.rows)
    if method == "span":
        assert max(plan.lengths) <= spec.max_seq_length
        assert {"start_positions", "end_positions", "token_type_ids"} <= set(plan.rows[0])
    else:
        eot = plan.tokenizer.convert_tokens_to_ids(spec.end_of_turn_token)
        assert all(r["input_ids"][-1] == eot and r["labels"][-1] == eot for r in plan.rows)
    # Real SQuAD rows differ in length: the check no longer times one fixed guess.
    assert len(set(plan.lengths)) > 5
    summary = plan.summary()
    assert summary["length_min"] <= summary["length_median"] <= summary["length_max"]
