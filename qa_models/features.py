"""Span features: question + context windows with character offsets and start/end labels.

Every span model (BERT, and Llama/Qwen with a QA head) goes through this module. A long
context is cut into overlapping windows of ``max_seq_length`` tokens, ``doc_stride``
tokens apart; each window keeps, for every token, the character span it covers in the
original context, so answers can always be cut back from the context itself.

Order and truncation are explicit in ``ModelSpec``: ``question_first`` decides which text
is the first sequence; the context is always the side that is truncated and windowed.
Unanswerable questions, and windows that do not hold the whole answer, are labelled with
the window's no-answer position (``ModelSpec.no_answer_position``).
"""

from __future__ import annotations

from dataclasses import dataclass
import unicodedata
from typing import Any, Sequence

import numpy as np
from datasets import Dataset

from .config import ModelSpec
from .data import Example

NOT_CONTEXT = -1
"""Offset value marking a token that is not part of the context (question, specials, padding)."""


@dataclass
class EvalWindows:
    """Everything post-processing needs about the windows of a set of examples, as arrays.

    ``offsets[f, t]`` is the (start, end) character span of token ``t`` of window ``f`` in
    its context, or ``NOT_CONTEXT`` for tokens outside the context. Windows of one example
    are contiguous and in order, so per-example reductions can use ``np.*.reduceat``.
    """

    dataset: Dataset
    """Model inputs (input_ids, attention_mask, token_type_ids where the model has them)."""
    example_index: np.ndarray
    """[n_windows] index into the examples list of each window's example."""
    offsets: np.ndarray
    """[n_windows, max_seq_length, 2] int32 character offsets; NOT_CONTEXT outside the context."""
    null_index: np.ndarray
    """[n_windows] token position that scores "no answer" in each window."""


def _encode(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec, pad_to_max: bool) -> Any:
    """Tokenize examples into overflowing windows with offsets, in the spec's order."""
    questions = [e.question.lstrip() for e in examples]  # leading spaces waste window tokens
    contexts = [e.context for e in examples]
    first, second = (questions, contexts) if spec.question_first else (contexts, questions)
    return tokenizer(
        first,
        second,
        truncation="only_second" if spec.question_first else "only_first",
        max_length=spec.max_seq_length,
        stride=spec.doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length" if pad_to_max else False,
    )


def _context_sequence_id(spec: ModelSpec) -> int:
    return 1 if spec.question_first else 0


def _null_positions(encoding: Any, spec: ModelSpec) -> np.ndarray:
    """The no-answer token of every window: 0 ([CLS]) or the last real (non-pad) token."""
    if spec.no_answer_position == "first":
        return np.zeros(len(encoding["input_ids"]), dtype=np.int64)
    return np.asarray([int(np.sum(mask)) - 1 for mask in encoding["attention_mask"]], dtype=np.int64)


def _end_after_combining_marks(context: str) -> np.ndarray | None:
    """``table[c]``: the first position at or after ``c`` that is not a combining mark.

    ``None`` when the context has no combining marks (nearly always), so callers skip it.
    """
    marks = np.fromiter((unicodedata.combining(ch) != 0 for ch in context), dtype=bool, count=len(context))
    if not marks.any():
        return None
    positions = np.arange(len(context) + 1)
    not_mark = np.append(~marks, True)
    # Running minimum from the right of "position if not a mark else +inf".
    candidates = np.where(not_mark, positions, len(context))
    return np.minimum.accumulate(candidates[::-1])[::-1]


def _context_offsets(encoding: Any, spec: ModelSpec, width: int, examples: Sequence[Example]) -> np.ndarray:
    """[n_windows, width, 2] offsets with NOT_CONTEXT for every non-context token.

    A token's end is extended over the combining marks (e.g. U+0301) that follow it. Normalizers
    delete them (BERT's strip_accents) or fold them into the previous letter (Qwen's NFC), so
    no token's offsets cover them; without the extension an answer ending in "e" + U+0301 could
    only be labelled, and cut, as "e" without its accent or with the next word attached.
    """
    context_id = _context_sequence_id(spec)
    out = np.full((len(encoding["input_ids"]), width, 2), NOT_CONTEXT, dtype=np.int32)
    extend_tables: dict[int, np.ndarray | None] = {}
    for f, pairs in enumerate(encoding["offset_mapping"]):
        sequence_ids = np.asarray([-1 if s is None else s for s in encoding.sequence_ids(f)])
        in_context = sequence_ids == context_id
        pairs = np.asarray(pairs, dtype=np.int32).reshape(-1, 2)
        example = int(encoding["overflow_to_sample_mapping"][f])
        if example not in extend_tables:
            extend_tables[example] = _end_after_combining_marks(examples[example].context)
        table = extend_tables[example]
        if table is not None:
            ends = pairs[:, 1]
            pairs[:, 1] = np.where(in_context, table[np.clip(ends, 0, len(table) - 1)], ends)
        out[f, : len(pairs)][in_context] = pairs[in_context]
    return out


def _model_columns(encoding: Any) -> dict[str, list]:
    keep = ("input_ids", "attention_mask", "token_type_ids")
    return {k: encoding[k] for k in keep if k in encoding}


def label_windows(
    offsets: np.ndarray,
    example_index: np.ndarray,
    null_index: np.ndarray,
    answer_char_spans: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Start/end token labels for every window, vectorised over windows.

    ``answer_char_spans[i]`` is (start, end) of example i's first answer in characters, or
    (-1, -1) when it has none. A window whose context tokens do not cover the whole answer
    is labelled (null, null). The start token is the last token starting at or before the
    answer's first character; the end token the first token ending at or after its last,
    so an answer that starts or ends inside a token is covered by the span (it contains
    the answer, e.g. "1990" inside "1990s").
    """
    spans = answer_char_spans[example_index]  # [F, 2]
    starts, ends = offsets[..., 0], offsets[..., 1]  # [F, L]
    valid = starts != NOT_CONTEXT
    big = np.iinfo(np.int32).max
    window_first = np.where(valid, starts, big).min(axis=1)
    window_last = np.where(valid, ends, -1).max(axis=1)
    has_answer = (spans[:, 0] >= 0) & (window_first <= spans[:, 0]) & (window_last >= spans[:, 1])

    # Last context token whose start <= answer start; first context token whose end >= answer end.
    start_ok = valid & (starts <= spans[:, :1])
    end_ok = valid & (ends >= spans[:, 1:])
    length = offsets.shape[1]
    start_token = length - 1 - np.argmax(start_ok[:, ::-1], axis=1)
    end_token = np.argmax(end_ok, axis=1)
    start_labels = np.where(has_answer, start_token, null_index)
    end_labels = np.where(has_answer, end_token, null_index)
    return start_labels.astype(np.int64), end_labels.astype(np.int64)


def answer_char_spans(examples: Sequence[Example]) -> np.ndarray:
    """[n_examples, 2] (start, end) of each example's first gold answer; (-1, -1) if none."""
    spans = np.full((len(examples), 2), -1, dtype=np.int64)
    for i, example in enumerate(examples):
        if example.answers and not example.is_impossible:
            first = example.answers[0]
            spans[i] = (first.answer_start, first.answer_start + len(first.text))
    return spans


def build_train_features(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec, pad_to_max: bool = False) -> Dataset:
    """Labelled windows for training (and for the validation loss).

    ``pad_to_max`` pads every window to ``max_seq_length`` (the plain baseline); otherwise
    windows keep their own length and the collator pads each batch dynamically.
    """
    encoding = _encode(tokenizer, examples, spec, pad_to_max)
    example_index = np.asarray(encoding["overflow_to_sample_mapping"], dtype=np.int64)
    width = max(len(ids) for ids in encoding["input_ids"]) if encoding["input_ids"] else 0
    offsets = _context_offsets(encoding, spec, width, examples)
    null_index = _null_positions(encoding, spec)
    starts, ends = label_windows(offsets, example_index, null_index, answer_char_spans(examples))
    columns = _model_columns(encoding)
    columns["start_positions"] = starts.tolist()
    columns["end_positions"] = ends.tolist()
    return Dataset.from_dict(columns)


def build_eval_windows(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec, pad_to_max: bool = False) -> EvalWindows:
    """Unlabelled windows for prediction, with offsets for post-processing."""
    encoding = _encode(tokenizer, examples, spec, pad_to_max)
    width = spec.max_seq_length
    return EvalWindows(
        dataset=Dataset.from_dict(_model_columns(encoding)),
        example_index=np.asarray(encoding["overflow_to_sample_mapping"], dtype=np.int64),
        offsets=_context_offsets(encoding, spec, width, examples),
        null_index=_null_positions(encoding, spec),
    )
