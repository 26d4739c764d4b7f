"""``load_examples``: one call from a source to validated ``Example`` records.

Sources
    * A path to an official-format JSON file
      (``{"version", "data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}``):
      ``.json``; ``.json.gz`` (any ``.gz``); or ``.zip`` holding the JSON. In a zip, the
      members ending in ``.json`` are candidates; if there are several, the first by name
      is read (and a warning names the ones ignored). ``split`` is ignored for files.
    * Or, when it is not an existing path and looks like ``owner/name`` (for example
      ``rajpurkar/squad_v2`` or ``hfl/cmrc2018``), a hub dataset loaded with
      ``datasets.load_dataset(source, split=split)``. Its rows (``id, title, context,
      question, answers{text, answer_start}``, optionally ``is_impossible``) are checked
      like file records; a row with no answers is unanswerable, a missing ``title``
      becomes ``""``. If the hub cannot be reached, ``DataError`` (reason
      ``hub_unavailable``) names the id and the local-file alternative.
      ``owner/name:split`` (e.g. ``hfl/cmrc2018:test``) loads that split whatever
      ``split`` says, so one spec can use two splits of one dataset; the split stays
      in ``LoadResult.source``.

Validation
    Every record is validated before anything is returned: JSON syntax (with line and
    column), UTF-8, the required fields (``data``, ``paragraphs``, ``qas``, ``context``,
    ``question``, ``id``, ``answers`` and each answer's ``text``/``answer_start``) and
    their types, empty contexts/questions/ids/answer texts, ids repeated anywhere in the
    file (the later occurrence is the bad one), ``answer_start`` values that do not point
    at their text (``context[start:start+len(text)] != text``: reason ``answer_offset``
    when the text occurs elsewhere in the context, ``answer_not_in_context`` when it does
    not occur at all, so that no offset can fix it), and questions marked
    ``is_impossible: true`` that carry answers.

Answerability
    A missing ``is_impossible`` means false (SQuAD v1 and CMRC files have none). A
    question with an empty ``answers`` list is unanswerable when the file's ``version``
    starts with ``v2`` and ``is_impossible`` is absent or true; otherwise (SQuAD v1 / CMRC
    ``v1.0`` files, or an explicit ``is_impossible: false``) it is an error with reason
    ``missing_answer``, because those formats have no unanswerable questions and an empty
    list there means a lost label.

Skipping, repair and dropping
    ``skip_bad_records`` drops bad questions (or the whole paragraph/article when that
    container is itself broken) instead of raising, counting them by reason in
    ``LoadResult.skipped``. Problems with the file as a whole (bad JSON, not UTF-8, no
    ``data``, a zip without JSON) still raise, as does a load that keeps no example at all.

    ``repair_offsets`` moves an answer whose ``answer_start`` misses its text to the
    occurrence of the text nearest the given offset (the earlier one on a tie), counting
    it in ``LoadResult.repaired``. An answer whose text does not occur in its context at
    all stays an error (``answer_not_in_context``); its question is dropped whole under
    ``skip_bad_records``, even if its other answers are fine, unless
    ``drop_answers_not_in_context`` is set.

    ``drop_answers_not_in_context`` drops only an answer whose text does not occur in its
    context and keeps its question, when the question keeps at least one valid answer
    (after any repair) and has no other problem. Each dropped answer is listed in
    ``LoadResult.dropped_answers`` (and logged), never silently lost. A question left with
    no valid answer is still an ``answer_not_in_context`` error (skipped under
    ``skip_bad_records``), never turned unanswerable. Meant for multi-answer test sets
    such as the CMRC 2018 dev file, where a free-text answer that no span can match would
    otherwise cost its question.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .errors import DataError
from .flatten import _from_official, _from_rows
from .read import _HUB_ID_WITH_SPLIT, _decode_file, _hub_rows, _looks_like_hub_id, _parse_json
from .records import LoadResult


def load_examples(
    source: str | os.PathLike[str],
    *,
    split: str = "train",
    skip_bad_records: bool = False,
    repair_offsets: bool = False,
    drop_answers_not_in_context: bool = False,
) -> LoadResult:
    """Read and validate SQuAD-format QA data from a file or a hub dataset.

    Which sources are read, what is validated, when an empty ``answers`` list means
    unanswerable, and exactly what the three flags skip, repair or drop: see the
    docstring of :mod:`qa_models.data.load`.

    Args:
        source: file path (``.json``, ``.gz``, ``.zip``) or hub dataset id
            (``owner/name``, or ``owner/name:split``).
        split: the hub split to load (hub ids only).
        skip_bad_records: drop bad records, counting them in ``LoadResult.skipped``,
            instead of raising.
        repair_offsets: move an ``answer_start`` that misses its text to the nearest
            occurrence of the text, counting it in ``LoadResult.repaired``.
        drop_answers_not_in_context: drop an answer whose text is not in its context but
            keep its question, listing it in ``LoadResult.dropped_answers``.

    Returns:
        A ``LoadResult``; ``examples`` keep file order.

    Raises:
        DataError: listing every problem found (one error, not one per problem).
    """
    text_source = os.fspath(source)
    path = Path(text_source)
    flags = (skip_bad_records, repair_offsets, drop_answers_not_in_context)
    if path.is_file():
        raw = path.read_bytes()
        obj = _parse_json(_decode_file(raw, path, text_source), text_source)
        result = _from_official(obj, text_source, *flags)
        result.sha256 = hashlib.sha256(raw).hexdigest()
        return result
    if not path.exists() and _looks_like_hub_id(text_source):
        return _from_hub(text_source, split, *flags)
    with_split = _HUB_ID_WITH_SPLIT.match(text_source)
    if not path.exists() and with_split and _looks_like_hub_id(with_split["id"]):
        return _from_hub(with_split["id"], with_split["split"], *flags, label=text_source)
    what = "is a directory" if path.is_dir() else "does not exist"
    raise DataError.one(text_source, None, None, "not_found", f"{text_source!r} {what}")


def _from_hub(
    dataset_id: str, split: str, skip: bool, repair: bool, drop: bool = False, label: str | None = None
) -> LoadResult:
    """Load a hub dataset and validate its rows like file records (``label`` names it in messages)."""
    return _from_rows(_hub_rows(dataset_id, split), label or dataset_id, skip, repair, drop)
