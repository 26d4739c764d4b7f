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


@dataclass
class _EdgeTables:
    """Per-character tables of one context for ``_answer_edges`` (each of length len + 1)."""

    next_visible: np.ndarray
    """First position at or after c that is not whitespace (len when none)."""
    visible_end: np.ndarray
    """``visible_end[e]``: one past the last non-whitespace character before e (0 when none)."""
    punct: np.ndarray
    """True on Unicode punctuation (categories P*)."""
    run_end: np.ndarray
    """One past the end of the punctuation run that holds c (c itself outside a run)."""
    run_start: np.ndarray
    """First position of the punctuation run that holds c (c itself outside a run)."""
    joiner: np.ndarray
    """True on hyphens, dashes and slashes (marks that join two words: "Sino-Tibetan")."""
    closers_end: np.ndarray
    """First position at or after c that is not a closing quote."""


JOINERS = "-\u2010\u2011\u2012\u2013\u2014/"
CLOSERS = "\"'\u201d\u2019\u00bb"


def _edge_tables(context: str) -> _EdgeTables:
    n = len(context)
    space = np.fromiter((ch.isspace() for ch in context), dtype=bool, count=n)
    # Unicode punctuation only: an emoji and its skin-tone modifier are symbols, one answer.
    punct = np.fromiter((unicodedata.category(ch).startswith("P") for ch in context), dtype=bool, count=n)
    positions = np.arange(n + 1)
    visible = np.append(~space, True)
    next_visible = np.minimum.accumulate(np.where(visible, positions, n)[::-1])[::-1]
    last_visible = np.maximum.accumulate(np.where(np.append(~space, False), positions, -1))  # at or before c
    visible_end = np.concatenate([[0], last_visible[:-1] + 1])
    not_punct = np.append(~punct, True)
    last_other = np.maximum.accumulate(np.where(not_punct, positions, -1))  # last non-mark at or before c
    run_start = np.where(not_punct, positions, last_other + 1)
    after = np.where(not_punct, positions, n)
    run_end = np.where(not_punct, positions, np.minimum.accumulate(after[::-1])[::-1])
    joiner = np.fromiter((ch in JOINERS for ch in context), dtype=bool, count=n)
    closer = np.fromiter((ch in CLOSERS for ch in context), dtype=bool, count=n)
    closers_end = np.minimum.accumulate(np.where(np.append(~closer, True), positions, n)[::-1])[::-1]
    return _EdgeTables(next_visible, visible_end, np.append(punct, False), run_end, run_start,
                       np.append(joiner, False), closers_end)


def _answer_edges(pairs: np.ndarray, tables: _EdgeTables) -> np.ndarray:
    """Move every token's start to where an answer can start in it, and its end to where an
    answer can end in it: offsets of byte-level BPE tokens (Llama 3, Qwen) include the leading
    space (" Moon" is characters 3-8 of "The Moon"), and their pre-tokeniser keeps runs of
    punctuation in one token ("),", ".\"", "..."). WordPiece splits every punctuation mark, so
    a BERT answer can end at ")" of "),"; these tokens could not. The label of an answer ending
    at ")" now decodes to ")" rather than ")," (and " Moon" to "Moon"): a start skips leading
    whitespace, and an end drops trailing whitespace, plus the marks below. A token that is only
    whitespace keeps its offsets. Measured on the shared SQuAD files by
    ``python -m qa_models.tokenizer_check`` (docs/BENCHMARKS.md)."""
    starts, ends = pairs[:, 0].copy(), pairs[:, 1].copy()
    real = ends > starts
    s = np.where(real, tables.next_visible[np.clip(starts, 0, len(tables.next_visible) - 1)], starts)
    visible = real & (s < ends)
    s = np.where(visible, s, starts)
    e = np.where(visible, tables.visible_end[np.clip(ends, 0, len(tables.visible_end) - 1)], ends)
    e = np.maximum(e, s + visible)
    # Leading run of two or more marks: an answer starts at its last mark; a lone hyphen, dash or
    # slash before a word ("-Tibet" of "Sino-Tibetan") is skipped. Trailing run: an answer ends
    # after its first mark and the closing quotes right after it (")" of "),", "%" of "%)", but
    # ".\"" of a quoted sentence). Start and end are read independently (a start offset only
    # ever starts an answer), so a token of marks alone, such as " \"'" or "),", gets both.
    run_to = np.minimum(tables.run_end[s], e)
    lead = visible & tables.punct[s] & (run_to - s >= 2)
    joined = visible & tables.joiner[s] & (run_to - s == 1) & (run_to < e)
    last = np.clip(e - 1, 0, len(tables.punct) - 1)
    run_from = np.maximum(tables.run_start[last], s)
    trail = visible & tables.punct[last] & (e - run_from >= 2)
    kept_end = np.minimum(tables.closers_end[np.clip(run_from + 1, 0, len(tables.closers_end) - 1)], e)
    s = np.where(lead, run_to - 1, np.where(joined, run_to, s))
    e = np.where(trail, kept_end, e)
    return np.stack([s, e], axis=1).astype(np.int32)


def _context_offsets(encoding: Any, spec: ModelSpec, width: int, examples: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
    """Two [n_windows, width, 2] offset arrays with NOT_CONTEXT for every non-context token:
    the characters each token covers (what labels are found with, so a gold answer that ends
    with the "," of a ")," token is still inside its span), and where an answer can start and
    end inside each token (``_answer_edges``: no leading space, no run of marks beyond the one
    an answer keeps), which is what answers are cut with.

    A token's end is extended over the combining marks (e.g. U+0301) that follow it. Normalizers
    delete them (BERT's strip_accents) or fold them into the previous letter (Qwen's NFC), so
    no token's offsets cover them; without the extension an answer ending in "e" + U+0301 could
    only be labelled, and cut, as "e" without its accent or with the next word attached.
    """
    context_id = _context_sequence_id(spec)
    covering = np.full((len(encoding["input_ids"]), width, 2), NOT_CONTEXT, dtype=np.int32)
    edges = covering.copy()
    extend_tables: dict[int, np.ndarray | None] = {}
    edge_tables: dict[int, _EdgeTables] = {}
    for f, pairs in enumerate(encoding["offset_mapping"]):
        sequence_ids = np.asarray([-1 if s is None else s for s in encoding.sequence_ids(f)])
        in_context = sequence_ids == context_id
        pairs = np.asarray(pairs, dtype=np.int32).reshape(-1, 2)
        example = int(encoding["overflow_to_sample_mapping"][f])
        if example not in extend_tables:
            extend_tables[example] = _end_after_combining_marks(examples[example].context)
            edge_tables[example] = _edge_tables(examples[example].context)
        table = extend_tables[example]
        if table is not None:
            ends = pairs[:, 1]
            pairs[:, 1] = np.where(in_context, table[np.clip(ends, 0, len(table) - 1)], ends)
        covering[f, : len(pairs)][in_context] = pairs[in_context]
        edges[f, : len(pairs)][in_context] = _answer_edges(pairs[in_context], edge_tables[example])
    return covering, edges


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


@dataclass
class LabelledWindows:
    """The training windows of a set of examples with everything needed to read their labels
    back: model inputs, character offsets, null positions and start/end labels.

    ``build_train_features`` turns it into the Trainer's dataset; ``qa_models.tokenizer_check``
    decodes the labels through ``postprocess`` to prove they point at the gold answers.
    """

    columns: dict[str, list]
    """Model inputs (input_ids, attention_mask, token_type_ids where the model has them)."""
    example_index: np.ndarray
    """[n_windows] index into the examples list of each window's example."""
    offsets: np.ndarray
    """[n_windows, width, 2] int32 character offsets answers are cut with; NOT_CONTEXT outside the context."""
    null_index: np.ndarray
    """[n_windows] token position that scores "no answer" in each window."""
    start_positions: np.ndarray
    """[n_windows] start label (the null position when the window lacks the whole answer)."""
    end_positions: np.ndarray
    """[n_windows] end label."""


def label_train_windows(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec, pad_to_max: bool = False) -> LabelledWindows:
    """Tokenise ``examples`` into windows and label every window (see ``label_windows``)."""
    encoding = _encode(tokenizer, examples, spec, pad_to_max)
    example_index = np.asarray(encoding["overflow_to_sample_mapping"], dtype=np.int64)
    width = max(len(ids) for ids in encoding["input_ids"]) if encoding["input_ids"] else 0
    covering, offsets = _context_offsets(encoding, spec, width, examples)
    null_index = _null_positions(encoding, spec)
    starts, ends = label_windows(covering, example_index, null_index, answer_char_spans(examples))
    return LabelledWindows(_model_columns(encoding), example_index, offsets, null_index, starts, ends)


def build_train_features(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec, pad_to_max: bool = False) -> Dataset:
    """Labelled windows for training (and for the validation loss).

    ``pad_to_max`` pads every window to ``max_seq_length`` (the plain baseline); otherwise
    windows keep their own length and the collator pads each batch dynamically.
    """
    windows = label_train_windows(tokenizer, examples, spec, pad_to_max)
    columns = dict(windows.columns)
    columns["start_positions"] = windows.start_positions.tolist()
    columns["end_positions"] = windows.end_positions.tolist()
    if spec.answerability_head:
        from .verifier import LABEL_COLUMN, NULL_INDEX_COLUMN

        columns[NULL_INDEX_COLUMN] = windows.null_index.tolist()
        # The span labels already say it: a window lacks the answer when its start label is the null token.
        columns[LABEL_COLUMN] = (windows.start_positions == windows.null_index).astype(np.float32).tolist()
    return Dataset.from_dict(columns)


def build_eval_windows(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec, pad_to_max: bool = False) -> EvalWindows:
    """Unlabelled windows for prediction, with offsets for post-processing."""
    encoding = _encode(tokenizer, examples, spec, pad_to_max)
    width = spec.max_seq_length
    return EvalWindows(
        dataset=Dataset.from_dict(_model_columns(encoding)),
        example_index=np.asarray(encoding["overflow_to_sample_mapping"], dtype=np.int64),
        offsets=_context_offsets(encoding, spec, width, examples)[1],
        null_index=_null_positions(encoding, spec),
    )
