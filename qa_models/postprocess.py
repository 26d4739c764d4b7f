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

    Considers the ``n_best_size`` highest start and end logits among each window's
    *context* tokens, keeps pairs with ``start <= end < start + max_answer_length``, and
    returns per window the best pair's start token, end token and score (start + end
    logit; -1e9 when no pair is valid).

    utils_qa takes the n best over the whole window, padding and question included, and
    drops the invalid ones afterwards. A weakly trained model can put its 20 highest logits
    on padding, and how much padding a window has depends on the batch it was predicted in,
    so the same question got an answer alone and none in a batch. Ranking context tokens
    only makes the answer independent of batching and padding.

    Shapes: logits [F, L], offsets [F, L, 2] with -1 outside the context.
    """
    n_windows, length = start_logits.shape
    k = min(n_best_size, length)
    in_context = offsets[..., 0] >= 0  # [F, L]
    start_logits = np.where(in_context, start_logits, NEG_INF)
    end_logits = np.where(in_context, end_logits, NEG_INF)
    # argpartition then sort only the k kept: O(L) per window instead of a full sort.
    top_start = np.argpartition(-start_logits, k - 1, axis=1)[:, :k]
    top_end = np.argpartition(-end_logits, k - 1, axis=1)[:, :k]
    rows = np.arange(n_windows)[:, None]
    s_score = start_logits[rows, top_start]  # [F, k]
    e_score = end_logits[rows, top_end]
    # Windows with fewer than k context tokens still pick k positions; these flags drop the rest.
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


# ---------------------------------------------------------------------------------------
# Generative answers: snap free text back onto the context
# ---------------------------------------------------------------------------------------

import re as _re  # noqa: E402  (this section is appended; the top half belongs to span decoding)
import unicodedata as _unicodedata  # noqa: E402

# One "word" is a run of non-space characters, except that every CJK ideograph, kana,
# hangul syllable and CJK/full-width punctuation mark is a word of its own (Chinese has no
# spaces; CMRC scores it character by character).
_CJK = "\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_WORD = _re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")
_OPENERS = "\"'([{<“‘«「『（【"
_CLOSERS = "\"',;:!?)]}>”’»」』）】。，、；：！？"
_SNAP_EXTRA_WORDS = 5
"""Candidate spans are up to (answer words + 5) words long."""
_SNAP_BLOCK = 1 << 21
"""Cap on start x length x vocabulary cells scored at once (bounds memory on long contexts)."""


def _strip_unicode_punctuation(text: str) -> str:
    return "".join(ch for ch in text if not _unicodedata.category(ch).startswith("P"))


def _word_tokens(word: str) -> list[str]:
    """SQuAD-normalised tokens of one word (any Unicode punctuation dropped as well)."""
    from .metrics import normalize_answer

    return normalize_answer(_strip_unicode_punctuation(word)).split()


def _trim_span(context: str, start: int, end: int) -> tuple[int, int]:
    """Drop quotes, brackets and trailing punctuation at the edges of a word-boundary span
    ("Paris," -> "Paris"); a final full stop stays on abbreviations such as "U.S."."""
    s, e = start, end
    while s < e - 1 and context[s] in _OPENERS:
        s += 1
    while e - 1 > s:
        last = context[e - 1]
        if last in _CLOSERS:
            e -= 1
        elif last == "." and "." not in context[s : e - 1].split()[-1]:
            e -= 1
        else:
            break
    return s, e


def _cumulative_word_counts(matches: list[_re.Match[str]], vocab: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """Prefix sums over the context's words: ``[n_words + 1, n_vocab]`` counts of each gold
    token and ``[n_words + 1]`` numbers of tokens, so any span of words ``[a, b)`` costs one
    subtraction (``cum[b] - cum[a]``)."""
    n_words, n_vocab = len(matches), len(vocab)
    counts = np.zeros((n_words, n_vocab), dtype=np.int32)
    lengths = np.zeros(n_words, dtype=np.int32)
    for w, match in enumerate(matches):
        tokens = _word_tokens(match.group())
        lengths[w] = len(tokens)
        for token in tokens:
            if token in vocab:
                counts[w, vocab[token]] += 1
    cum_counts = np.vstack([np.zeros((1, n_vocab), dtype=np.int32), np.cumsum(counts, axis=0, dtype=np.int32)])
    cum_lengths = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
    return cum_counts, cum_lengths


def _best_f1_span(
    cum_counts: np.ndarray, cum_lengths: np.ndarray, gold_counts: np.ndarray, n_gold: int, max_words: int
) -> tuple[int, int]:
    """``(first word, number of words)`` of the span with the best token F1 against the gold
    counts (then fewest words, then earliest start), or ``(-1, -1)`` when no span shares a
    token with it. Scores all spans of 1..``max_words`` words at once, ``_SNAP_BLOCK``
    elements of work per block of start words."""
    n_words, n_vocab = len(cum_lengths) - 1, len(gold_counts)
    span_words = np.arange(1, max_words + 1)  # [L]
    best = (-1.0, 0, 0)  # (f1, -words, -start), maximised lexicographically
    best_start = best_words = -1
    block = max(1, _SNAP_BLOCK // max(1, max_words * n_vocab))
    for first in range(0, n_words, block):
        starts = np.arange(first, min(n_words, first + block))[:, None]  # [B, 1]
        ends = starts + span_words[None, :]  # [B, L], exclusive word index
        valid = ends <= n_words
        ends_c = np.minimum(ends, n_words)
        span_counts = cum_counts[ends_c] - cum_counts[starts]  # [B, L, V]
        common = np.minimum(span_counts, gold_counts).sum(axis=-1)  # [B, L]
        pred_len = cum_lengths[ends_c] - cum_lengths[starts]
        f1 = np.where(valid & (common > 0), 2.0 * common / np.maximum(pred_len + n_gold, 1), -1.0)
        top = f1.max()
        if top <= 0:
            continue
        # Among the top-F1 spans of this block: fewest words, then earliest start.
        rows, cols = np.nonzero(f1 == top)
        pick = np.lexsort((rows, cols))[0]  # primary key cols (words - 1), then rows (start)
        r, c = int(rows[pick]), int(cols[pick])
        candidate = (float(top), -(c + 1), -int(starts[r, 0]))
        if candidate > best:
            best, best_start, best_words = candidate, int(starts[r, 0]), c + 1
    return best_start, best_words


def snap_to_context(answer: str, context: str) -> tuple[str, int, bool]:
    """The context span that best matches a free-text ``answer``, cut from the context.

    Returns ``(span, start, changed)``: ``span == context[start:start + len(span)]``, and
    ``changed`` tells whether it differs from ``answer.strip()``. An answer found verbatim
    in the context is returned unchanged (first occurrence). Otherwise every span of whole
    words up to ``len(answer words) + 5`` words long is scored by SQuAD token F1 against
    the answer (normalised as the official script does, Unicode punctuation dropped as
    well; CJK characters are single words), and the best one wins: highest F1, then fewest
    words, then earliest start. Quotes, brackets and trailing punctuation at its edges are
    trimmed. When no span shares a token with the answer (or the answer is empty) the
    result is ``("", -1, answer != "")``: there is nothing in the context to snap to.

    Vectorised with numpy over all (start, length) pairs through cumulative token counts.
    """
    target = answer.strip()
    if not target:
        return "", -1, False
    found = context.find(target)
    if found >= 0:
        return target, found, False

    gold = [token for word in _WORD.findall(target) for token in _word_tokens(word)]
    matches = list(_WORD.finditer(context))
    if not gold or not matches:
        return "", -1, True
    vocab = {token: i for i, token in enumerate(dict.fromkeys(gold))}
    gold_counts = np.bincount([vocab[t] for t in gold], minlength=len(vocab)).astype(np.int32)
    cum_counts, cum_lengths = _cumulative_word_counts(matches, vocab)
    max_words = min(len(matches), len(_WORD.findall(target)) + _SNAP_EXTRA_WORDS)
    best_start, best_words = _best_f1_span(cum_counts, cum_lengths, gold_counts, len(gold), max_words)
    if best_start < 0:
        return "", -1, True
    start, end = _trim_span(context, matches[best_start].start(), matches[best_start + best_words - 1].end())
    span = context[start:end]
    return span, start, span != target
