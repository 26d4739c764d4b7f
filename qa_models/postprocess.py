"""From raw model scores to answers: pure, documented, numpy-vectorised, no model inside.

Span models: n-best start/end pairs per window, null score against best span, answers cut
from the original context by character offsets (never rebuilt from tokens, so no
``[UNK]`` and no word-piece spacing). Generative models: snap a free-text answer back onto
the context. Both end with a no-answer probability that one threshold, tuned on
validation, turns into the final answer.

This module imports neither torch nor transformers.
"""

from __future__ import annotations

import numpy as np


NEG_INF = np.float32(-1e9)


def best_spans_per_window(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: np.ndarray,
    n_best_size: int = 20,
    max_answer_length: int = 30,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best valid (start, end) token pair of every window, vectorised over windows.

    Considers the ``n_best_size`` highest start and end logits of each window (the
    utils_qa recipe), keeps pairs whose tokens both lie in the context, with
    ``start <= end < start + max_answer_length``, and returns per window the best pair's
    start token, end token and score (start + end logit; -1e9 when no pair is valid).

    Shapes: logits [F, L], offsets [F, L, 2] with -1 outside the context.
    """
    n_windows, length = start_logits.shape
    k = min(n_best_size, length)
    # argpartition then sort only the k kept: O(L) per window instead of a full sort.
    top_start = np.argpartition(-start_logits, k - 1, axis=1)[:, :k]
    top_end = np.argpartition(-end_logits, k - 1, axis=1)[:, :k]
    rows = np.arange(n_windows)[:, None]
    s_score = start_logits[rows, top_start]  # [F, k]
    e_score = end_logits[rows, top_end]
    in_context = offsets[..., 0] >= 0  # [F, L]
    s_ok = in_context[rows, top_start]
    e_ok = in_context[rows, top_end]

    scores = s_score[:, :, None] + e_score[:, None, :]  # [F, k, k]
    span_len = top_end[:, None, :] - top_start[:, :, None]
    valid = s_ok[:, :, None] & e_ok[:, None, :] & (span_len >= 0) & (span_len < max_answer_length)
    scores = np.where(valid, scores, NEG_INF)
    flat = scores.reshape(n_windows, -1).argmax(axis=1)
    i, j = np.divmod(flat, k)
    best_score = scores.reshape(n_windows, -1)[np.arange(n_windows), flat]
    return top_start[np.arange(n_windows), i], top_end[np.arange(n_windows), j], best_score


def decode_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    offsets: np.ndarray,
    example_index: np.ndarray,
    null_index: np.ndarray,
    contexts: list[str],
    n_best_size: int = 20,
    max_answer_length: int = 30,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Answer text, no-answer score and answer score of every example from window logits.

    Per example: the best span over all its windows, and the *lowest* null score over its
    windows (the window that best sees the whole question decides, as in utils_qa). The
    returned no-answer score is ``null_score - best_span_score``: the higher, the more the
    model prefers "no answer". The answer is sliced from the original context with the
    token offsets, so it is always a verbatim substring of the context (never rebuilt from
    word pieces); it is "" when no window holds a valid span.

    ``example_index`` must be sorted (windows of one example contiguous), as the tokenizer
    emits them; returns lists/arrays over ``range(len(contexts))``.
    """
    n_examples = len(contexts)
    starts, ends, span_scores = best_spans_per_window(start_logits, end_logits, offsets, n_best_size, max_answer_length)
    windows = np.arange(len(example_index))
    null_scores = start_logits[windows, null_index] + end_logits[windows, null_index]

    if np.any(np.diff(example_index) < 0):
        raise ValueError("windows must be grouped by example in order (example_index sorted)")
    boundaries = np.flatnonzero(np.r_[True, np.diff(example_index) != 0])
    owners = example_index[boundaries]
    if len(owners) != n_examples:
        raise ValueError(f"{n_examples} examples but windows for {len(owners)}: every example needs a window")
    best_window_score = np.maximum.reduceat(span_scores, boundaries)
    min_null = np.minimum.reduceat(null_scores, boundaries)
    # Position of each example's best window: the first window reaching its maximum.
    is_best = span_scores == best_window_score[np.searchsorted(boundaries, windows, side="right") - 1]
    best_window = np.full(n_examples, len(windows), dtype=np.int64)
    np.minimum.at(best_window, example_index[is_best], windows[is_best])

    answers: list[str] = []
    for ex, window in enumerate(best_window):
        if best_window_score[ex] <= NEG_INF:
            answers.append("")
            continue
        char_start = offsets[window, starts[window], 0]
        char_end = offsets[window, ends[window], 1]
        answers.append(contexts[ex][char_start:char_end])
    no_valid = best_window_score <= NEG_INF
    na_scores = np.where(no_valid, np.inf, min_null - best_window_score)
    return answers, na_scores.astype(np.float64), np.where(no_valid, -np.inf, best_window_score).astype(np.float64)


def na_probability(na_scores: np.ndarray) -> np.ndarray:
    """Map null-minus-span score differences to (0, 1) with a logistic, for na_prob files.

    Monotone, so thresholds tuned on it order questions exactly as on the raw difference.
    """
    return 1.0 / (1.0 + np.exp(-np.clip(na_scores, -50, 50)))
