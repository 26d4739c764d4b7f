"""Training rows of real SQuAD v2 sequence lengths for ``bench/gpu_check.py``.

The first lent GPU should time the seed rows at the lengths they will really train at, not at
a guess. Two sources, best first:

1. **Real rows**: a seeded sample of the shared training file, encoded by the row's real
   tokenizer (``qa_models.tokenizer_check.load_tokenizer``) through the harness's own
   ``features.build_train_features`` (span windows, question-first or context-first as the row
   reads) or ``prompts.encode_for_training`` (chat prompt + answer + end-of-turn). Real ids,
   real lengths, real labels. Needs the shared data folder ($QABENCH_DATA_DIR) on the device.
2. **Measured lengths**: lengths drawn from the row's percentiles in the committed
   ``docs/seed_token_stats.json`` (measured by ``python -m qa_models.tokenizer_check``), with
   random ids. Used when the tokenizers or the data are not on the device, and by ``--tiny``.

Every plan says which source it used (``RowPlan.source``), so a result never passes off drawn
lengths as real ones.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any, Sequence

from qa_models.prompts import IGNORE_INDEX

SEED_ROW = {("bert", "span"): "bert-base-span", ("llama3", "span"): "llama3-8b-span",
            ("llama3", "generative"): "llama3-8b-generative", ("qwen", "span"): "qwen1.5-7b-span",
            ("qwen", "generative"): "qwen1.5-7b-generative"}
"""The seed profile's row behind each (family, method) the check trains."""

ANSWER_TOKENS = 8
"""Drawn rows: the loss covers the last 8 tokens (an answer and its end-of-turn token)."""


@dataclasses.dataclass
class RowPlan:
    rows: list[dict[str, Any]]
    source: str
    """"real: ..." or "measured lengths: ..." (what the lengths and ids come from)."""
    lengths: list[int]
    tokenizer: Any = None
    """The real tokenizer (padding), or None for drawn rows."""

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.lengths)
        return {"lengths_from": self.source, "rows": len(self.lengths), "length_min": ordered[0],
                "length_median": ordered[len(ordered) // 2], "length_max": ordered[-1],
                "length_mean": round(sum(ordered) / len(ordered), 1)}


def seed_spec(family: str, method: str) -> Any:
    from qa_models.profiles import seed_profile

    name = SEED_ROW[(family, method)]
    return next(m for m in seed_profile().models if m.name == name)


def draw_lengths(quantiles: Sequence[float], n: int, seed: int = 0, cap: int | None = None) -> list[int]:
    """``n`` lengths drawn from a distribution given by its percentiles 0, 5, ..., 100 (inverse
    CDF, linear between percentiles), optionally capped (``--tiny`` shapes)."""
    if len(quantiles) < 2:
        raise ValueError("need at least the 0th and 100th percentiles")
    rng = random.Random(seed)
    step = 1.0 / (len(quantiles) - 1)
    out = []
    for _ in range(n):
        u = rng.random() / step
        i = min(int(u), len(quantiles) - 2)
        value = quantiles[i] + (u - i) * (quantiles[i + 1] - quantiles[i])
        length = max(2, int(round(value)))
        out.append(min(length, cap) if cap else length)
    return out


def measured_quantiles(family: str, method: str, stats: dict[str, Any] | None = None) -> list[float]:
    from qa_models import tokenizer_check

    stats = stats or tokenizer_check.read_stats()
    for entry in stats["full"]["tokenizers"].values():
        row = entry["rows"].get(SEED_ROW[(family, method)])
        if row is not None:
            return row["sequence_length_quantiles"]
    raise KeyError(f"no measured lengths for {SEED_ROW[(family, method)]}; regenerate: {tokenizer_check.STATS_COMMAND}")


def real_plan(family: str, method: str, n: int, seed: int = 0) -> RowPlan:
    """``n`` training rows of the seed row, as the harness builds them from real questions."""
    from qa_models import tokenizer_check
    from qa_models.data import sample_examples

    spec = seed_spec(family, method)
    tokenizer = tokenizer_check.load_tokenizer(tokenizer_check.tokenizer_source(family), spec)
    examples, path = tokenizer_check.load_file(tokenizer_check.TRAIN_FILE)
    sample = sample_examples(examples, n, seed=seed)
    label = f"real: {n} seeded questions of {path.name}, {tokenizer_check.TOKENIZER_LABELS[family]} tokenizer"
    if method == "span":
        from qa_models.features import build_train_features

        dataset = build_train_features(tokenizer, sample, spec)
        rows = [dict(r) for r in dataset][:n]
        return RowPlan(rows, label + f", {spec.max_seq_length}/{spec.doc_stride} windows", [len(r["input_ids"]) for r in rows], tokenizer)
    from qa_models.prompts import encode_for_training

    encoded = encode_for_training(tokenizer, sample, spec)
    rows = [{"input_ids": ids, "labels": labels} for ids, labels in zip(encoded.input_ids, encoded.labels)]
    return RowPlan(rows, label + f", chat prompts cut at {spec.max_seq_length}", [len(r["input_ids"]) for r in rows], tokenizer)


def drawn_plan(family: str, method: str, n: int, vocab: int, seed: int = 0, cap: int | None = None,
               why: str = "") -> RowPlan:
    """``n`` rows of random ids whose lengths follow the row's measured distribution."""
    lengths = draw_lengths(measured_quantiles(family, method), n, seed, cap)
    rng = random.Random(seed + 1)
    low = 1000 if vocab > 2000 else 5
    rows = []
    for length in lengths:
        ids = [rng.randrange(low, min(vocab, 100_000)) for _ in range(length)]
        if method == "span":
            start = rng.randrange(length // 2, max(length // 2 + 1, length - 4))
            rows.append({"input_ids": ids, "attention_mask": [1] * length,
                         **({"token_type_ids": [int(i >= length // 6) for i in range(length)]} if family == "bert" else {}),
                         "start_positions": start, "end_positions": min(start + 3, length - 1)})
        else:
            answer = min(ANSWER_TOKENS, length // 2)
            rows.append({"input_ids": ids, "labels": [IGNORE_INDEX] * (length - answer) + ids[-answer:]})
    source = f"measured lengths (docs/seed_token_stats.json{', capped at %d' % cap if cap else ''}), random ids"
    return RowPlan(rows, source + (f"; {why}" if why else ""), lengths)


def plan_rows(family: str, method: str, n: int, vocab: int, tiny: bool, cap: int | None = None, seed: int = 0) -> RowPlan:
    """Real rows for full-size shapes when the tokenizer and data are here; else (and for
    ``--tiny``, whose vocabulary real ids overflow) rows drawn at the measured lengths."""
    if tiny:
        return drawn_plan(family, method, n, vocab, seed, cap, "tiny shapes")
    from qa_models.tokenizer_check import TokenizerCheckError

    try:
        return real_plan(family, method, n, seed)
    except TokenizerCheckError as error:
        return drawn_plan(family, method, n, vocab, seed, cap, f"real rows unavailable: {error}")
