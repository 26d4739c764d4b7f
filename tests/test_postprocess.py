"""Span post-processing: pure numpy, checked on hand-built logits."""

from __future__ import annotations

import numpy as np
import pytest

from qa_models.postprocess import NEG_INF, best_spans_per_window, decode_spans, na_probability


def _offsets(n_windows, length, context_tokens):
    """Token t of the context covers characters [2t, 2t+1) (one letter and a space)."""
    offsets = np.full((n_windows, length, 2), -1, dtype=np.int32)
    for f, tokens in enumerate(context_tokens):
        for position, t in tokens:
            offsets[f, position] = (2 * t, 2 * t + 1)
    return offsets


CONTEXT = "a b c d e f g h"


def test_best_span_respects_context_order_and_length():
    length = 10
    offsets = _offsets(1, length, [[(p, p - 2) for p in range(2, 10)]])  # positions 2..9 are tokens 0..7
    start = np.full((1, length), -5.0, dtype=np.float32)
    end = np.full((1, length), -5.0, dtype=np.float32)
    start[0, 1] = 9.0  # a question token: must be ignored
    start[0, 6], end[0, 4] = 5.0, 5.0  # (6, 4): end before start, invalid
    start[0, 3], end[0, 5] = 3.0, 3.0
    s, e, score = best_spans_per_window(start, end, offsets, n_best_size=5, max_answer_length=30)
    assert (s[0], e[0]) == (3, 4)  # 3.0 + 5.0 beats (3, 5) at 6.0; (6, 4) would score 10
    assert score[0] == pytest.approx(8.0)
    # Answers of one token only, every logit considered: (6, 6) at 5 - 4 = 1 beats (4, 4) at 0.
    end[0, 6] = -4.0
    s, e, score = best_spans_per_window(start, end, offsets, n_best_size=length, max_answer_length=1)
    assert (s[0], e[0]) == (6, 6)
    assert score[0] == pytest.approx(1.0)


def test_decode_cuts_answers_from_the_context_and_aggregates_windows():
    length = 6
    # Example 0 has two windows (tokens 0-3 and 2-5), example 1 has one (tokens 0-3).
    offsets = _offsets(3, length, [[(p, p - 1) for p in range(1, 5)], [(p, p + 1) for p in range(1, 5)], [(p, p - 1) for p in range(1, 5)]])
    start = np.full((3, length), -4.0, dtype=np.float32)
    end = np.full((3, length), -4.0, dtype=np.float32)
    start[0, 0] = end[0, 0] = 1.0  # null scores: 2.0 in window 0
    start[1, 0] = end[1, 0] = -1.0  # -2.0 in window 1 -> the example's null is the minimum, -2.0
    start[1, 2], end[1, 3] = 4.0, 4.0  # best span of example 0: window 1, tokens 3..4 -> "d e"
    start[0, 1], end[0, 1] = 2.0, 2.0  # a weaker span in window 0
    start[2, 0] = end[2, 0] = 6.0  # example 1: null 12 beats its best span
    start[2, 2], end[2, 2] = 1.0, 1.0
    contexts = [CONTEXT, "p q r s"]
    answers, na_scores, scores = decode_spans(start, end, offsets, np.array([0, 0, 1]), np.array([0, 0, 0]), contexts)
    assert answers == ["d e", "q"]
    assert all(a in c for a, c in zip(answers, contexts))
    assert na_scores[0] == pytest.approx(-2.0 - 8.0)
    assert na_scores[1] == pytest.approx(12.0 - 2.0)
    assert scores[0] == pytest.approx(8.0)
    probs = na_probability(na_scores)
    assert probs[0] < 0.5 < probs[1]


def test_decode_with_no_valid_span_abstains():
    offsets = np.full((1, 4, 2), -1, dtype=np.int32)
    start = np.zeros((1, 4), dtype=np.float32)
    answers, na_scores, scores = decode_spans(start, start, offsets, np.array([0]), np.array([0]), ["x"])
    assert answers == [""]
    assert np.isinf(na_scores[0]) and na_scores[0] > 0
    assert scores[0] == -np.inf


def test_decode_rejects_unordered_windows():
    offsets = _offsets(2, 3, [[(1, 0)], [(1, 0)]])
    logits = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(ValueError, match="grouped"):
        decode_spans(logits, logits, offsets, np.array([1, 0]), np.array([0, 0]), ["a", "b"])


def test_vectorised_matches_a_plain_loop_on_random_logits():
    rng = np.random.default_rng(0)
    n, length = 40, 24
    offsets = np.full((n, length, 2), -1, dtype=np.int32)
    offsets[:, 5:] = np.stack([np.arange(19) * 2, np.arange(19) * 2 + 1], axis=1)
    start = rng.normal(size=(n, length)).astype(np.float32)
    end = rng.normal(size=(n, length)).astype(np.float32)
    s, e, score = best_spans_per_window(start, end, offsets, n_best_size=7, max_answer_length=4)
    for f in range(n):
        context = np.flatnonzero(offsets[f, :, 0] >= 0)
        top_s = context[np.argsort(-start[f, context])[:7]]
        top_e = context[np.argsort(-end[f, context])[:7]]
        best = NEG_INF
        for i in top_s:
            for j in top_e:
                if offsets[f, i, 0] >= 0 and offsets[f, j, 0] >= 0 and 0 <= j - i < 4:
                    best = max(best, start[f, i] + end[f, j])
        assert score[f] == pytest.approx(best)


def test_padding_and_question_logits_do_not_crowd_out_the_context():
    """The same window, alone and padded as in a batch: high logits on padding or question
    tokens must not push every context token out of the n best."""
    context_positions = [(p, p - 3) for p in range(3, 8)]  # positions 3..7 are tokens 0..4
    alone = _offsets(1, 9, [context_positions])
    start = np.full((1, 9), -1.0, dtype=np.float32)
    end = np.full((1, 9), -1.0, dtype=np.float32)
    start[0, 4], end[0, 6] = 0.5, 0.25  # the best context span: tokens 1..3
    s, e, score = best_spans_per_window(start, end, alone, n_best_size=3)
    assert (s[0], e[0], score[0]) == (4, 6, pytest.approx(0.75))

    padded = _offsets(1, 40, [context_positions])
    start_p = np.full((1, 40), 9.0, dtype=np.float32)  # padding (and question) scored highest
    end_p = np.full((1, 40), 9.0, dtype=np.float32)
    start_p[0, :9], end_p[0, :9] = start[0], end[0]
    start_p[0, 1] = end_p[0, 2] = 20.0  # question tokens
    s, e, score = best_spans_per_window(start_p, end_p, padded, n_best_size=3)
    assert (s[0], e[0], score[0]) == (4, 6, pytest.approx(0.75))
