"""Statistics of per-question scores: percentile bootstrap intervals, the paired bootstrap
of two models, and the question-type and answer-length buckets the plots group by.

Confidence intervals are bootstraps over test questions (not over training seeds): they
say how much a score would move on another test set of the same size, not how much it
would move if the model were trained again. numpy and pandas only; nothing here reads the clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

import pandas as pd

from ..formatting import is_finite

DEFAULT_RESAMPLES = 1000
"""Bootstrap resamples; 1000 keeps percentile bounds stable to about 0.1 F1 point."""

DEFAULT_SEED = 0
"""Bootstrap seed; fixed so a rebuilt report is byte-identical."""

ANSWER_LENGTH_BUCKETS = ("1", "2", "3", "4-5", "6-10", ">10", "unanswerable")
"""Gold-answer length buckets in words, in plot order."""

QUESTION_TYPES = ("what", "who", "when", "where", "which", "how many", "how much", "how", "why", "other")
"""Question types recognised by :func:`question_type`, in plot order."""

# Full SQuAD v2 dev has ~12k questions; 1000 x 12k int64 indices would be ~100 MB at once,
# so resamples are drawn in chunks. The chunking depends only on n: results stay deterministic.
_MAX_INDEX_ELEMENTS = 2_000_000


def _resample_means(values: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of ``values`` over ``n_resamples`` bootstrap resamples of its indices."""
    n = len(values)
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_INDEX_ELEMENTS // max(n, 1))
    parts = []
    for start in range(0, n_resamples, chunk):
        idx = rng.integers(0, n, size=(min(chunk, n_resamples - start), n))
        parts.append(values[idx].mean(axis=1))
    return np.concatenate(parts)


def _check_bootstrap_args(n_resamples: int, alpha: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    alpha: float = 0.05,
) -> tuple[float, float, float]:
    """Percentile bootstrap CI of the mean of per-question scores.

    Args:
        values: one score per question, in whatever unit the caller wants back (the report
            passes EM and F1 scaled to 0-100 so the CI reads like the official metric).
        n_resamples: number of resamples with replacement.
        seed: seed of the numpy Generator; same inputs and seed give the same interval.
        alpha: 1 - confidence level (0.05 gives a 95% interval).

    Returns:
        ``(mean, low, high)``; all NaN for an empty input. A constant input gives
        ``low == high == mean`` exactly (every resample has the same mean).
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"bootstrap_ci expects a 1-D sequence, got shape {arr.shape}")
    if arr.size == 0:
        return (math.nan, math.nan, math.nan)
    _check_bootstrap_args(n_resamples, alpha)
    low, high = np.quantile(_resample_means(arr, n_resamples, seed), [alpha / 2, 1 - alpha / 2])
    return (float(arr.mean()), float(low), float(high))


def _aligned(a, b) -> tuple[np.ndarray, np.ndarray]:
    """Two equally long score arrays, question by question (mappings on their shared ids, sorted)."""
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise ValueError("paired_bootstrap needs two sequences or two id->score mappings, not one of each")
    if isinstance(a, Mapping):
        ids = sorted(set(a) & set(b))
        return np.array([a[i] for i in ids], dtype=float), np.array([b[i] for i in ids], dtype=float)
    xa, xb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if xa.shape != xb.shape or xa.ndim != 1:
        raise ValueError(f"paired_bootstrap needs two aligned 1-D sequences, got shapes {xa.shape} and {xb.shape}")
    return xa, xb


def paired_bootstrap(
    a: Sequence[float] | np.ndarray | Mapping[str, float],
    b: Sequence[float] | np.ndarray | Mapping[str, float],
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    alpha: float = 0.05,
) -> tuple[float, float, float, bool]:
    """Paired percentile bootstrap of ``mean(a) - mean(b)`` over the same questions.

    Pairing matters: two models' scores on one question are correlated (hard questions are
    hard for both), so resampling the same question indices for both gives a much tighter
    and more honest interval than comparing two independent CIs.

    Args:
        a, b: per-question scores. Either two equally long sequences already aligned
            question by question, or two mappings ``question id -> score``; mappings are
            aligned on the ids they share (in sorted id order, for determinism).
        n_resamples, seed, alpha: as in :func:`bootstrap_ci`.

    Returns:
        ``(diff, low, high, excludes_zero)`` where ``excludes_zero`` is True when the whole
        interval lies on one side of 0. All NaN / False when no question is shared.
    """
    xa, xb = _aligned(a, b)
    if xa.size == 0:
        return (math.nan, math.nan, math.nan, False)
    _check_bootstrap_args(n_resamples, alpha)
    # Resampling the per-question difference is the same as resampling both columns with
    # one index matrix, and needs half the memory.
    means = _resample_means(xa - xb, n_resamples, seed)
    low, high = (float(q) for q in np.quantile(means, [alpha / 2, 1 - alpha / 2]))
    return (float(xa.mean() - xb.mean()), low, high, bool(low > 0 or high < 0))


def gain_over_abstaining(
    f1: Sequence[float] | np.ndarray | Mapping[str, float],
    has_answer: Sequence[bool] | np.ndarray | Mapping[str, bool],
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float, float]:
    """F1 (0-100 per question) minus the F1 of answering "" to every question, with its 95%
    paired bootstrap interval: ``(diff, low, high)``. "" scores 100 on an unanswerable question
    and 0 on an answerable one. On a set that is half unanswerable, abstaining everywhere is the
    bar a model must clear, and pairing on the same questions gives the honest interval.
    ``f1`` and ``has_answer`` are aligned sequences or mappings keyed by question id."""
    if isinstance(has_answer, Mapping):
        abstaining: Any = {q: 0.0 if answerable else 100.0 for q, answerable in has_answer.items()}
    else:
        abstaining = np.where(np.asarray(has_answer, dtype=bool), 0.0, 100.0)
    diff, low, high, _ = paired_bootstrap(f1, abstaining, n_resamples, seed)
    return (diff, low, high)


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool | None:
    """Whether two closed intervals overlap; None when either bound is missing (NaN)."""
    if any(not is_finite(x) for x in (*a, *b)):
        return None
    return a[0] <= b[1] and b[0] <= a[1]


# -- question and answer buckets ---------------------------------------------------------

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_WORD_RE = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")

# "whom"/"whose" ask about a person like "who".
_EN_WH = {"what": "what", "who": "who", "whom": "who", "whose": "who", "when": "when",
          "where": "where", "which": "which", "how": "how", "why": "why"}

# Chinese interrogatives (CMRC 2018), checked in this order because the longer forms
# contain the shorter ones: 为什么 (why) and 什么时候 (when) both contain 什么 (what),
# 哪里 (where) and 哪一年 (when) contain 哪 (which).
_ZH_RULES = (
    ("why", re.compile("为什么|为何")),
    ("when", re.compile("什么时候|何时|哪一年|哪年|哪一天|哪天|几月|几号|几点|哪个时期|什么时期|什么年代|哪个朝代")),
    ("where", re.compile("哪里|哪儿|何处|何地|在哪|什么地方|哪个地方")),
    ("who", re.compile("谁|哪位|什么人")),
    ("how much", re.compile("多少钱")),
    ("how many", re.compile("多少|几个|几位|几次|几种|几年|几名|几天|几岁|几部|几座|几家")),
    ("which", re.compile("哪")),
    ("how", re.compile("怎么|怎样|如何|多久|多长|多大|多高|多远|多重")),
    ("what", re.compile("什么|何")),
)


def question_type(question: str) -> str:
    """Classify a question by its wording into one of ``QUESTION_TYPES``.

    English: the first wh-word in the question decides, so "In what year ..." is "what"
    and "The Normans came from which country?" is "which"; "how many" / "how much" are
    split from the other "how" questions because counting answers behave differently.
    A question with no wh-word ("Name the ...", "Is it ...") is "other".
    Chinese (any CJK character present): the interrogative words of ``_ZH_RULES``.
    """
    text = question or ""
    if _CJK_RE.search(text):
        return next((label for label, pattern in _ZH_RULES if pattern.search(text)), "other")
    tokens = re.findall(r"[a-z]+", text.lower())
    for i, tok in enumerate(tokens):
        label = _EN_WH.get(tok)
        if label is None:
            continue
        if label == "how" and i + 1 < len(tokens) and tokens[i + 1] in ("many", "much"):
            return f"how {tokens[i + 1]}"
        return label
    return "other"


def count_words(text: str) -> int:
    """Words in an answer: whitespace tokens with a letter or digit; each CJK character counts as one."""
    return sum(1 for tok in _WORD_RE.findall(text or "") if any(ch.isalnum() for ch in tok))


def answer_length_bucket(gold: Sequence[str] | None, has_answer: bool = True) -> str | None:
    """Bucket a question by the length of its first gold answer (see ``ANSWER_LENGTH_BUCKETS``).

    The first gold answer is used because SQuAD's extra dev answers are alternative
    annotations of the same span; the first is the one training data uses. Returns None
    for an answerable question with no usable gold text (it is left out of the plot).
    """
    if not has_answer:
        return "unanswerable"
    texts = [g for g in (gold or []) if isinstance(g, str) and g.strip()]
    if not texts:
        return None
    n = count_words(texts[0])
    if n <= 3:
        return str(max(n, 1))
    if n <= 5:
        return "4-5"
    return "6-10" if n <= 10 else ">10"


def bucket_table(frames: Mapping[str, pd.DataFrame], bucket_of, order: Sequence[str]) -> tuple[list[str], pd.DataFrame, dict[str, int]]:
    """Mean F1 per (bucket, model) and the number of distinct questions per bucket.

    ``frames``: model name -> per-question frame (id, question, has_answer, gold, f1).
    Buckets depend only on the question and its gold answers, so counts are taken over the
    union of question ids (models may have scored slightly different subsets).
    """
    parts = []
    for name, frame in frames.items():
        if frame.empty:
            continue
        buckets = [bucket_of(r) for r in frame.itertuples(index=False)]
        part = pd.DataFrame({"id": frame["id"], "bucket": buckets, "f1": frame["f1"], "model": name})
        parts.append(part.dropna(subset=["bucket"]))
    if not parts:
        return [], pd.DataFrame(), {}
    long = pd.concat(parts, ignore_index=True)
    counts = long.drop_duplicates("id").groupby("bucket").size().to_dict()
    present = [b for b in order if counts.get(b)]
    table = long.pivot_table(index="bucket", columns="model", values="f1", aggfunc="mean", sort=False)
    table = table.reindex(index=present, columns=[n for n in frames if n in table.columns])
    return present, table, {b: int(counts[b]) for b in present}
