"""Load SQuAD-format question answering data into validated ``Example`` records.

Data flows one way through qabench: records -> features -> model -> raw scores ->
answers -> metrics -> report. This module is the first step: it reads the official
SQuAD JSON (plain, ``.gz`` or ``.zip``) or a hub dataset, checks every record before any
training starts, and hands out immutable ``Example`` records.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import os
import random
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # datasets takes seconds to import; only the functions that need it do.
    import datasets

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """One gold answer: its text and the character offset where it starts in the context."""

    text: str
    answer_start: int


@dataclass(frozen=True)
class Example:
    """One question about one context, flattened from the SQuAD article/paragraph tree."""

    id: str
    title: str
    context: str
    question: str
    answers: tuple[Answer, ...]
    is_impossible: bool

    @property
    def gold_texts(self) -> list[str]:
        """Gold answer texts; empty for an unanswerable question."""
        return [a.text for a in self.answers]


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------

#: How to fix each kind of problem, keyed by ``DataError.reason``. One sentence each, so
#: that the message of an error listing many problems still reads as a to-do list.
FIXES: dict[str, str] = {
    "bad_json": "Repair the JSON syntax at the line and column shown (a missing comma, "
    "bracket or quote is the usual cause), e.g. by opening the file in an editor that "
    "validates JSON.",
    "not_utf8": "Re-save the file as UTF-8 (for example `iconv -f latin1 -t utf-8 in.json "
    "> out.json`); SQuAD-format files must be UTF-8.",
    "bad_archive": "Re-create the archive (`gzip file.json` or `zip data.zip file.json`) "
    "or pass the plain .json file instead.",
    "zip_without_json": "Put the SQuAD-format .json file into the zip archive, or pass the "
    ".json file itself.",
    "not_found": "Pass the path of an existing SQuAD-format file (.json, .json.gz or "
    ".zip) or a hub dataset id such as rajpurkar/squad_v2.",
    "hub_unavailable": "Pass local official-format files instead, e.g. --qa-train-file "
    "../shared/data/squad_v2/train-v2.0-first10.json, or check the network and the "
    "dataset id.",
    "wrong_type": "Give the field the type the SQuAD format uses: objects for "
    "articles/paragraphs/questions/answers, lists for data/paragraphs/qas/answers, "
    "strings for texts and ids, an integer answer_start, a boolean is_impossible.",
    "missing_field": "Add the missing field; the SQuAD format needs data[].paragraphs[]"
    ".context and .qas[] with id, question and answers (each answer with text and "
    "answer_start).",
    "empty_text": "Fill in the empty text or remove the record; a context, question, id or "
    "answer text must not be empty.",
    "duplicate_id": "Give every question a unique id, or delete the repeated question "
    "(ids are how predictions are matched to gold answers).",
    "answer_offset": "Set answer_start to the character offset where the answer text "
    "starts, so that context[answer_start:answer_start+len(text)] == text, or load with "
    "repair_offsets=True to move it to the nearest occurrence of the text.",
    "answer_not_in_context": "Correct the answer text so that it is cut verbatim from its "
    "context, or delete that answer; an extractive answer must occur in the context.",
    "impossible_with_answers": "Either set is_impossible to false or empty the answers "
    "list (SQuAD v2 keeps an unanswerable question's spans in plausible_answers).",
    "missing_answer": "Add at least one answer, or mark the question unanswerable with "
    '"is_impossible": true (or use "version": "v2.0", where empty answers mean '
    "unanswerable).",
    "no_examples": "Check that the file holds questions and that they are not all bad; "
    "the error listing above (without skip_bad_records) names each bad record.",
}

#: How many problems a message shows one by one; the rest are counted, and all of them
#: stay on ``DataError.problems``.
_SHOWN_PROBLEMS = 10


@dataclass(frozen=True)
class DataProblem:
    """One thing wrong with one record of a data file.

    Attributes:
        file: the file (or hub dataset id) the record comes from.
        record: the question id, or a JSON path such as ``data[3].paragraphs[0].qas[5]``
            when the record has no usable id; ``line L column C`` / ``byte N`` for
            problems in the bytes themselves; ``None`` for the file as a whole.
        field: the offending field inside the record (``answers[1].answer_start``), or
            ``None`` when the record as a whole is at fault.
        reason: a short machine key, one of ``FIXES``.
        detail: what exactly is wrong, for people.
        fix: one sentence saying how to fix it.
    """

    file: str
    record: str | None
    field: str | None
    reason: str
    detail: str
    fix: str

    def describe(self) -> str:
        """One line naming the record, the field, the reason and what is wrong."""
        where = f"record {self.record}" if self.record is not None else "whole file"
        if self.field is not None:
            where += f", field {self.field}"
        return f"{where} [{self.reason}]: {self.detail}"


def _problem(
    file: str, record: str | None, field: str | None, reason: str, detail: str, fix: str | None = None
) -> DataProblem:
    """A ``DataProblem`` whose fix defaults to the standard sentence for its reason."""
    return DataProblem(file, record, field, reason, detail, fix if fix is not None else FIXES[reason])


class DataError(ValueError):
    """A data file (or hub dataset) that cannot be loaded as it is.

    One error carries *every* problem found in the file, so that a user fixes the file in
    one pass. ``file``, ``record``, ``field`` and ``reason`` are those of the first
    problem (in file order); ``fix`` is the fix of every distinct reason, in order of first
    appearance; ``counts`` counts the problems by reason; ``problems`` lists them all.
    ``str()`` names file, record, field, reason and fix, and shows up to ten problems.
    """

    def __init__(self, problems: Sequence[DataProblem]) -> None:
        if not problems:
            raise ValueError("DataError needs at least one problem")
        self.problems: tuple[DataProblem, ...] = tuple(problems)
        first = self.problems[0]
        self.file: str = first.file
        self.record: str | None = first.record
        self.field: str | None = first.field
        self.reason: str = first.reason
        self.counts: dict[str, int] = dict(Counter(p.reason for p in self.problems))
        fixes: dict[str, str] = {}
        for p in self.problems:
            fixes.setdefault(p.reason, p.fix)
        self._fixes = fixes
        if len(fixes) == 1:
            self.fix: str = first.fix
        else:
            self.fix = " ".join(f"{reason}: {fix}" for reason, fix in fixes.items())
        super().__init__(self._message())

    @classmethod
    def one(
        cls,
        file: str,
        record: str | None,
        field: str | None,
        reason: str,
        detail: str,
        fix: str | None = None,
    ) -> DataError:
        """An error with a single problem (file-level errors, such as bad JSON)."""
        return cls([_problem(file, record, field, reason, detail, fix)])

    def _message(self) -> str:
        if len(self.problems) == 1:
            p = self.problems[0]
            return f"{p.file}: {p.describe()}. Fix: {p.fix}"
        by_reason = ", ".join(f"{reason}: {n}" for reason, n in self.counts.items())
        shown = self.problems[:_SHOWN_PROBLEMS]
        lines = [
            f"{self.file}: {len(self.problems)} problems ({by_reason}); "
            f"the first {len(shown)} in file order:"
        ]
        lines += [f"  - {p.describe()}" for p in shown]
        if len(self.problems) > len(shown):
            lines.append(
                f"  ... and {len(self.problems) - len(shown)} more (all listed in DataError.problems)"
            )
        lines.append("Fix:")
        lines += [f"  - {reason}: {fix}" for reason, fix in self._fixes.items()]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What ``load_examples`` returns: the examples and an account of how they were read.

    Attributes:
        examples: the validated examples, in file order.
        source: the path (as given) or hub dataset id they were read from.
        sha256: hex digest of the file's bytes (the .gz/.zip itself for archives), so a
            report can name exactly which data it used; ``None`` for hub datasets.
        skipped: records dropped under ``skip_bad_records``, by reason. Each dropped
            question counts once, under its first problem; a paragraph or article dropped
            because it is itself broken counts once (its questions are not counted).
        repaired: answers whose ``answer_start`` ``repair_offsets`` moved.
        n_articles: articles that gave at least one example (distinct titles for hub
            datasets).
        problems: every problem behind ``skipped`` (empty unless records were skipped),
            so that nothing dropped goes unrecorded.
        dropped_answers: the answers ``drop_answers_not_in_context`` removed from
            questions that were kept (one ``answer_not_in_context`` problem each; their
            questions are not in ``skipped``).
    """

    examples: list[Example]
    source: str
    sha256: str | None
    skipped: dict[str, int]
    repaired: int
    n_articles: int
    problems: tuple[DataProblem, ...] = ()
    dropped_answers: tuple[DataProblem, ...] = ()


# A hub id is owner/name; a path that merely does not exist (a typo in data/train.json)
# must not be sent to the hub, hence the extension check.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# owner/name:split names the split in the id itself, for a spec that needs two splits of
# one dataset (hfl/cmrc2018:test as validation, hfl/cmrc2018:validation as test).
_HUB_ID_WITH_SPLIT = re.compile(r"^(?P<id>[A-Za-z0-9][\w.-]*/[\w.-]+):(?P<split>\w+)$")
_FILE_SUFFIXES = (".json", ".gz", ".zip", ".jsonl")


def _looks_like_hub_id(source: str) -> bool:
    return bool(_HUB_ID.match(source)) and not source.lower().endswith(_FILE_SUFFIXES)


def load_examples(
    source: str | os.PathLike[str],
    *,
    split: str = "train",
    skip_bad_records: bool = False,
    repair_offsets: bool = False,
    drop_answers_not_in_context: bool = False,
) -> LoadResult:
    """Read and validate SQuAD-format QA data from a file or a hub dataset.

    ``source`` is either

    * a path to an official-format JSON file
      (``{"version", "data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}``):
      ``.json``; ``.json.gz`` (any ``.gz``); or ``.zip`` holding the JSON. In a zip, the
      members ending in ``.json`` are candidates; if there are several, the first by name
      is read (and a warning names the ones ignored). ``split`` is ignored for files.
    * or, when it is not an existing path and looks like ``owner/name`` (for example
      ``rajpurkar/squad_v2`` or ``hfl/cmrc2018``), a hub dataset loaded with
      ``datasets.load_dataset(source, split=split)``. Its rows (``id, title, context,
      question, answers{text, answer_start}``, optionally ``is_impossible``) are checked
      like file records; a row with no answers is unanswerable, a missing ``title``
      becomes ``""``. If the hub cannot be reached, ``DataError`` (reason
      ``hub_unavailable``) names the id and the local-file alternative.
      ``owner/name:split`` (e.g. ``hfl/cmrc2018:test``) loads that split whatever
      ``split`` says, so one spec can use two splits of one dataset; the split stays
      in ``LoadResult.source``.

    Every record is validated before anything is returned: JSON syntax (with line and
    column), UTF-8, the required fields (``data``, ``paragraphs``, ``qas``, ``context``,
    ``question``, ``id``, ``answers`` and each answer's ``text``/``answer_start``) and
    their types, empty contexts/questions/ids/answer texts, ids repeated anywhere in the
    file (the later occurrence is the bad one), ``answer_start`` values that do not point
    at their text (``context[start:start+len(text)] != text``: reason ``answer_offset``
    when the text occurs elsewhere in the context, ``answer_not_in_context`` when it does
    not occur at all, so that no offset can fix it), and questions marked
    ``is_impossible: true`` that carry answers.

    Answerability: a missing ``is_impossible`` means false (SQuAD v1 and CMRC files have
    none). A question with an empty ``answers`` list is unanswerable when the file's
    ``version`` starts with ``v2`` and ``is_impossible`` is absent or true; otherwise
    (SQuAD v1 / CMRC ``v1.0`` files, or an explicit ``is_impossible: false``) it is an
    error with reason ``missing_answer``, because those formats have no unanswerable
    questions and an empty list there means a lost label.

    Args:
        source: file path or hub dataset id.
        split: the hub split to load (hub ids only).
        skip_bad_records: drop bad questions (or the whole paragraph/article when that
            container is itself broken) instead of raising, counting them by reason in
            ``LoadResult.skipped``. Problems with the file as a whole (bad JSON, not
            UTF-8, no ``data``, a zip without JSON) still raise, as does a load that
            keeps no example at all.
        repair_offsets: move an answer whose ``answer_start`` misses its text to the
            occurrence of the text nearest the given offset (the earlier one on a tie),
            counting it in ``LoadResult.repaired``. An answer whose text does not occur in
            its context at all stays an error (``answer_not_in_context``); its question is
            dropped whole under ``skip_bad_records``, even if its other answers are fine,
            unless ``drop_answers_not_in_context`` is set.
        drop_answers_not_in_context: drop only an answer whose text does not occur in its
            context and keep its question, when the question keeps at least one valid
            answer (after any repair) and has no other problem. Each dropped answer is
            listed in ``LoadResult.dropped_answers`` (and logged), never silently lost. A
            question left with no valid answer is still an ``answer_not_in_context``
            error (skipped under ``skip_bad_records``), never turned unanswerable. Meant
            for multi-answer test sets such as the CMRC 2018 dev file, where a free-text
            answer that no span can match would otherwise cost its question.

    Returns:
        A ``LoadResult``; ``examples`` keep file order.

    Raises:
        DataError: listing every problem found (one error, not one per problem).
    """
    text_source = os.fspath(source)
    path = Path(text_source)
    if path.is_file():
        raw = path.read_bytes()
        obj = _parse_json(_decode_file(raw, path, text_source), text_source)
        result = _from_official(obj, text_source, skip_bad_records, repair_offsets, drop_answers_not_in_context)
        result.sha256 = hashlib.sha256(raw).hexdigest()
        return result
    if not path.exists() and _looks_like_hub_id(text_source):
        return _from_hub(text_source, split, skip_bad_records, repair_offsets, drop_answers_not_in_context)
    with_split = _HUB_ID_WITH_SPLIT.match(text_source)
    if not path.exists() and with_split and _looks_like_hub_id(with_split["id"]):
        return _from_hub(
            with_split["id"], with_split["split"], skip_bad_records, repair_offsets, drop_answers_not_in_context,
            label=text_source,
        )
    what = "is a directory" if path.is_dir() else "does not exist"
    raise DataError.one(text_source, None, None, "not_found", f"{text_source!r} {what}")


def _decode_file(raw: bytes, path: Path, label: str) -> str:
    """The JSON text of a plain, gzip or zip file, decoded from UTF-8."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError.one(label, None, None, "bad_archive", f"not a valid gzip file ({exc})") from exc
    elif suffix == ".zip":
        raw = _read_zip_member(raw, label)
    try:
        # utf-8-sig: a byte-order mark is harmless and some Windows editors add one.
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        detail = f"byte 0x{raw[exc.start]:02x} at offset {exc.start} (line {line}) is not valid UTF-8"
        raise DataError.one(label, f"line {line}, byte {exc.start}", None, "not_utf8", detail) from exc


def _read_zip_member(raw: bytes, label: str) -> bytes:
    """The bytes of the first ``.json`` member (by name) of a zip archive."""
    import io

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            # __MACOSX/ holds Finder metadata that also ends in .json; never data.
            names = sorted(
                n
                for n in archive.namelist()
                if n.lower().endswith(".json") and not n.endswith("/") and not n.startswith("__MACOSX/")
            )
            if not names:
                listing = ", ".join(archive.namelist()) or "nothing"
                raise DataError.one(
                    label, None, None, "zip_without_json",
                    f"the zip holds no .json file (it holds {listing})",
                )
            if len(names) > 1:
                logger.warning(
                    "%s holds %d JSON files; reading %s, ignoring %s", label, len(names), names[0], names[1:]
                )
            return archive.read(names[0])
    except zipfile.BadZipFile as exc:
        raise DataError.one(label, None, None, "bad_archive", f"not a valid zip file ({exc})") from exc


def _parse_json(text: str, label: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError.one(
            label, f"line {exc.lineno} column {exc.colno}", None, "bad_json", f"invalid JSON: {exc.msg}"
        ) from exc


def _not_a(what: str, value: Any, expected: str) -> str:
    """``"<what> is <type>, not <expected>"``: the detail of every ``wrong_type`` problem."""
    return f"{what} is {type(value).__name__}, not {expected}"


def _clip(text: str, limit: int = 40) -> str:
    """``repr`` of a text cut to ``limit`` characters, so messages stay one line."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _nearest_occurrence(context: str, text: str, start: int) -> int | None:
    """The start of the occurrence of ``text`` in ``context`` nearest ``start``; earlier wins ties."""
    best: int | None = None
    pos = context.find(text)
    while pos != -1:
        if best is None or abs(pos - start) < abs(best - start):
            best = pos
        pos = context.find(text, pos + 1)
    return best


class _Checker:
    """Validates records of one source, collecting problems rather than stopping at one."""

    def __init__(self, label: str, repair_offsets: bool, drop_answers_not_in_context: bool = False) -> None:
        self.label = label
        self.repair_offsets = repair_offsets
        self.repaired = 0
        self.drop_answers_not_in_context = drop_answers_not_in_context
        # answer_not_in_context problems of the question being checked (drop mode), and
        # those of kept questions whose answer was dropped.
        self._pending_drops: list[DataProblem] = []
        self.dropped: list[DataProblem] = []
        # id -> where it was first seen, so a duplicate's message names both places.
        self.seen_ids: dict[str, str] = {}

    def problem(self, record: str | None, field_: str | None, reason: str, detail: str) -> DataProblem:
        """A problem in this checker's source, with the standard fix for its reason."""
        return _problem(self.label, record, field_, reason, detail)

    def text_field(
        self, obj: Mapping[str, Any], key: str, record: str, problems: list[DataProblem], prefix: str = ""
    ) -> str | None:
        """The non-empty string ``obj[key]``, or ``None`` after recording why not."""
        name = prefix + key
        if key not in obj:
            problems.append(self.problem(record, name, "missing_field", f"no {key!r} field"))
            return None
        value = obj[key]
        if not isinstance(value, str):
            problems.append(self.problem(record, name, "wrong_type", _not_a(repr(key), value, "a string")))
            return None
        if not value.strip():
            problems.append(self.problem(record, name, "empty_text", f"{key!r} is empty"))
            return None
        return value

    def question(
        self,
        qa: Any,
        path: str,
        title: str,
        context: str | None,
        empty_means_impossible: bool,
    ) -> tuple[Example | None, list[DataProblem]]:
        """Check one question; ``context`` is ``None`` when its paragraph's context is unusable.

        Returns the example (``None`` if anything is wrong) and the problems found.
        """
        problems: list[DataProblem] = []
        if not isinstance(qa, Mapping):
            return None, [self.problem(path, None, "wrong_type", _not_a("a question", qa, "an object"))]

        qid = self.text_field(qa, "id", path, problems)
        record = qid if qid is not None else path
        if qid is not None:
            if qid in self.seen_ids:
                problems.append(
                    self.problem(
                        record, "id", "duplicate_id", f"id {qid!r} is also used at {self.seen_ids[qid]}"
                    )
                )
            else:
                self.seen_ids[qid] = path
        question = self.text_field(qa, "question", record, problems)

        flag = qa.get("is_impossible")
        if flag is not None and not isinstance(flag, bool):
            problems.append(
                self.problem(
                    record, "is_impossible", "wrong_type", f"is_impossible is {flag!r}, not true/false"
                )
            )
            flag = None

        answers: list[Answer] = []
        raw_answers = qa.get("answers")
        if "answers" not in qa:
            problems.append(self.problem(record, "answers", "missing_field", "no 'answers' field"))
        elif not isinstance(raw_answers, list):
            problems.append(
                self.problem(record, "answers", "wrong_type", _not_a("'answers'", raw_answers, "a list"))
            )
        else:
            for k, raw in enumerate(raw_answers):
                answer = self.answer(raw, record, f"answers[{k}]", context, problems)
                if answer is not None:
                    answers.append(answer)
            if flag is True and raw_answers:
                problems.append(
                    self.problem(
                        record,
                        "answers",
                        "impossible_with_answers",
                        f"is_impossible is true but it has {len(raw_answers)} answer(s)",
                    )
                )
            if not raw_answers and not (flag is True or (flag is None and empty_means_impossible)):
                why = (
                    "is_impossible is false"
                    if flag is False
                    else "the file is not SQuAD v2 (its version does not start with v2), "
                    "so every question needs one"
                )
                problems.append(self.problem(record, "answers", "missing_answer", f"no answers, and {why}"))

        drops, self._pending_drops = self._pending_drops, []
        # A drop keeps its question only if the question is otherwise sound and still has
        # an answer; else the drops are ordinary problems of that question.
        keep = bool(answers) and not problems and qid is not None and question is not None and context is not None
        (self.dropped if keep else problems).extend(drops)
        if problems or qid is None or question is None or context is None:
            return None, problems
        impossible = not answers
        return Example(qid, title, context, question, tuple(answers), impossible), problems

    def answer(
        self, raw: Any, record: str, name: str, context: str | None, problems: list[DataProblem]
    ) -> Answer | None:
        """Check one answer (offset included when the context is known); repair if asked."""
        if not isinstance(raw, Mapping):
            problems.append(self.problem(record, name, "wrong_type", _not_a("an answer", raw, "an object")))
            return None
        text = self.text_field(raw, "text", record, problems, prefix=name + ".")
        start_field = name + ".answer_start"
        if "answer_start" not in raw:
            problems.append(self.problem(record, start_field, "missing_field", "no 'answer_start' field"))
            return None
        start = raw["answer_start"]
        # bool is an int subclass, but true/false as an offset is surely a mistake.
        if not isinstance(start, int) or isinstance(start, bool):
            problems.append(
                self.problem(record, start_field, "wrong_type", f"answer_start is {start!r}, not an integer")
            )
            return None
        if text is None or context is None:
            return None
        if start >= 0 and context[start : start + len(text)] == text:
            return Answer(text, start)

        # The offset misses: say where the text really is, so the fix is obvious.
        nearest = _nearest_occurrence(context, text, start)
        found = context[max(start, 0) : max(start, 0) + len(text)] if start >= 0 else ""
        if nearest is None:
            # A reason of its own, because no offset (and so no repair) can fix it.
            (self._pending_drops if self.drop_answers_not_in_context else problems).append(
                self.problem(
                    record,
                    start_field,
                    "answer_not_in_context",
                    f"answer_start {start} points at {_clip(found)} but the answer text "
                    f"{_clip(text)} does not occur in the context at all",
                )
            )
            return None
        if self.repair_offsets:
            self.repaired += 1
            return Answer(text, nearest)
        problems.append(
            self.problem(
                record,
                start_field,
                "answer_offset",
                f"answer_start {start} points at {_clip(found)}, not at the answer text {_clip(text)}, "
                f"which occurs at offset {nearest} (repair_offsets=True would move it there)",
            )
        )
        return None


def _from_official(obj: Any, label: str, skip: bool, repair: bool, drop: bool = False) -> LoadResult:
    """Flatten and validate the official article/paragraph/question tree."""
    if not isinstance(obj, Mapping):
        raise DataError.one(
            label, None, None, "wrong_type", _not_a("the top level", obj, "an object with 'data'")
        )
    if "data" not in obj:
        keys = ", ".join(map(repr, obj)) or "none"
        raise DataError.one(
            label, None, "data", "missing_field", f"no top-level 'data' field (keys: {keys})"
        )
    data = obj["data"]
    if not isinstance(data, list):
        raise DataError.one(label, None, "data", "wrong_type", _not_a("'data'", data, "a list"))
    version = obj.get("version")
    empty_means_impossible = isinstance(version, str) and version.lower().startswith("v2")

    checker = _Checker(label, repair, drop)
    problems: list[DataProblem] = []
    skipped: Counter[str] = Counter()
    examples: list[Example] = []
    n_articles = 0

    def drop(found: list[DataProblem]) -> None:
        """Record a dropped record: all its problems, but one count, under the first."""
        problems.extend(found)
        skipped[found[0].reason] += 1

    for i, article in enumerate(data):
        apath = f"data[{i}]"
        if not isinstance(article, Mapping):
            drop([checker.problem(apath, None, "wrong_type", _not_a("an article", article, "an object"))])
            continue
        title = article.get("title", "")
        if not isinstance(title, str):
            drop([checker.problem(apath, "title", "wrong_type", _not_a("title", title, "a string"))])
            continue
        if "paragraphs" not in article:
            detail = f"article {title!r} has no 'paragraphs' field"
            drop([checker.problem(apath, "paragraphs", "missing_field", detail)])
            continue
        paragraphs = article["paragraphs"]
        if not isinstance(paragraphs, list):
            detail = _not_a("'paragraphs'", paragraphs, "a list")
            drop([checker.problem(apath, "paragraphs", "wrong_type", detail)])
            continue
        kept_before = len(examples)
        for j, paragraph in enumerate(paragraphs):
            ppath = f"{apath}.paragraphs[{j}]"
            if not isinstance(paragraph, Mapping):
                detail = _not_a("a paragraph", paragraph, "an object")
                drop([checker.problem(ppath, None, "wrong_type", detail)])
                continue
            para_problems: list[DataProblem] = []
            context = checker.text_field(paragraph, "context", ppath, para_problems)
            qas = paragraph.get("qas")
            if "qas" not in paragraph:
                para_problems.append(checker.problem(ppath, "qas", "missing_field", "no 'qas' field"))
                qas = []
            elif not isinstance(qas, list):
                para_problems.append(
                    checker.problem(ppath, "qas", "wrong_type", _not_a("'qas'", qas, "a list"))
                )
                qas = []
            # Questions are checked even under a broken paragraph, so that one error lists
            # everything; their offsets wait for a usable context.
            checked = [
                checker.question(qa, f"{ppath}.qas[{k}]", title, context, empty_means_impossible)
                for k, qa in enumerate(qas)
            ]
            if para_problems:
                drop(para_problems)
                problems.extend(p for _, found in checked for p in found)
                continue
            for example, found in checked:
                if found:
                    drop(found)
                elif example is not None:
                    examples.append(example)
        if len(examples) > kept_before:
            n_articles += 1

    return _finish(label, examples, problems, skipped, checker.repaired, n_articles, skip, checker.dropped)


def _finish(
    label: str,
    examples: list[Example],
    problems: list[DataProblem],
    skipped: Counter[str],
    repaired: int,
    n_articles: int,
    skip: bool,
    dropped: Sequence[DataProblem] = (),
) -> LoadResult:
    """Raise the collected problems, or return what survived skipping."""
    if problems and not skip:
        raise DataError(problems)
    if not examples:
        detail = "no question survived validation" if problems else "the data holds no questions"
        if skipped:
            detail += f" (skipped: {dict(skipped)})"
        raise DataError.one(label, None, None, "no_examples", detail)
    if skipped:
        logger.warning("%s: skipped %d bad record(s): %s", label, sum(skipped.values()), dict(skipped))
    if dropped:
        logger.warning(
            "%s: dropped %d answer(s) not in their context, keeping their questions", label, len(dropped)
        )
    return LoadResult(
        examples=examples,
        source=label,
        sha256=None,
        skipped=dict(skipped),
        repaired=repaired,
        n_articles=n_articles,
        problems=tuple(problems),
        dropped_answers=tuple(dropped),
    )


def _from_hub(
    dataset_id: str, split: str, skip: bool, repair: bool, drop: bool = False, label: str | None = None
) -> LoadResult:
    """Load a hub dataset and validate its rows like file records (``label`` names it in messages)."""
    import datasets

    try:
        rows = datasets.load_dataset(dataset_id, split=split)
    except Exception as exc:  # offline, unknown id, bad split: all mean "use local files"
        raise DataError.one(
            dataset_id,
            None,
            None,
            "hub_unavailable",
            f"could not load hub dataset {dataset_id!r} (split {split!r}): {type(exc).__name__}: {exc}",
        ) from exc
    return _from_rows(rows, label or dataset_id, skip, repair, drop)


def _from_rows(
    rows: Iterable[Mapping[str, Any]], label: str, skip: bool, repair: bool, drop: bool = False
) -> LoadResult:
    """Validate flat hub rows (one question each, answers as parallel lists)."""
    checker = _Checker(label, repair, drop)
    problems: list[DataProblem] = []
    skipped: Counter[str] = Counter()
    examples: list[Example] = []
    titles: set[str] = set()
    for i, row in enumerate(rows):
        path = f"row {i}"
        found: list[DataProblem] = []
        context = checker.text_field(row, "context", str(row.get("id", path)), found)
        title = row.get("title") or ""
        qa = {k: row[k] for k in ("id", "question", "is_impossible") if k in row and row[k] is not None}
        raw_answers = row.get("answers")
        if isinstance(raw_answers, Mapping):
            texts = list(raw_answers.get("text") or [])
            starts = list(raw_answers.get("answer_start") or [])
            if len(texts) != len(starts):
                found.append(
                    checker.problem(
                        str(row.get("id", path)),
                        "answers",
                        "wrong_type",
                        f"{len(texts)} answer texts but {len(starts)} answer_start values",
                    )
                )
            qa["answers"] = [{"text": t, "answer_start": s} for t, s in zip(texts, starts)]
        elif raw_answers is not None:
            qa["answers"] = raw_answers
        # Hub rows have no version field; squad_v2 marks unanswerable rows by empty answers.
        example, q_found = checker.question(qa, path, str(title), context, empty_means_impossible=True)
        found += q_found
        if found:
            problems.extend(found)
            skipped[found[0].reason] += 1
        elif example is not None:
            examples.append(example)
            titles.add(example.title)
    return _finish(label, examples, problems, skipped, checker.repaired, len(titles), skip, checker.dropped)


# ---------------------------------------------------------------------------------------
# Splitting and conversion
# ---------------------------------------------------------------------------------------


def sample_examples(examples: Sequence[Example], n: int | None, seed: int) -> list[Example]:
    """A seeded random subset of ``n`` examples, kept in input order (all of them if ``n`` is None
    or not smaller).

    Random rather than the first N: SQuAD files are ordered by article, and in the shared
    train slice every unanswerable question sits in two articles in the middle, so "the first
    1,500" would train a model that has never seen an unanswerable question.
    """
    if n is None or n >= len(examples):
        return list(examples)
    keep = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in keep]


def sample_examples_stratified(examples: Sequence[Example], n: int, seed: int, unanswerable_share: float) -> list[Example]:
    """A seeded subset of ``n`` examples of which ``round(n * unanswerable_share)`` are
    unanswerable, kept in input order.

    Raises ``ValueError`` naming both counts when the file holds too few questions of either
    kind: a silently smaller share would change the experiment behind the user's back.
    """
    unanswerable = [i for i, e in enumerate(examples) if not e.gold_texts]
    answerable = [i for i, e in enumerate(examples) if e.gold_texts]
    n = min(n, len(examples))
    n_unanswerable = round(n * unanswerable_share)
    if n_unanswerable > len(unanswerable) or n - n_unanswerable > len(answerable):
        raise ValueError(
            f"a training sample of {n} with unanswerable share {unanswerable_share} needs {n_unanswerable} "
            f"unanswerable and {n - n_unanswerable} answerable questions; the data has {len(unanswerable)} and "
            f"{len(answerable)}. Lower --qa-max-train-samples or the share."
        )
    rng = random.Random(seed)
    keep = sorted(rng.sample(unanswerable, n_unanswerable) + rng.sample(answerable, n - n_unanswerable))
    return [examples[i] for i in keep]


def split_by_article(
    examples: Sequence[Example], validation_fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """Split examples into (train, validation) by article title.

    All questions of one article land on the same side, because questions about the same
    paragraph share so much text that splitting them would leak answers into validation.
    Articles are the distinct titles, sorted and then shuffled with ``random.Random(seed)``,
    so the split depends only on the titles and the seed (not on input order). Validation
    gets ``round(validation_fraction * n_articles)`` articles (halves round up), at least
    one when the fraction is above 0 and at most ``n_articles - 1`` so that training is
    never empty. Both lists keep the input order.

    Raises:
        ValueError: if the fraction is outside [0, 1) or there are fewer than 2 articles.
    """
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    titles = sorted({e.title for e in examples})
    if len(titles) < 2:
        raise ValueError(
            f"split_by_article needs at least 2 articles (distinct titles), got {len(titles)}; "
            "pass a separate validation file instead"
        )
    n_val = math.floor(validation_fraction * len(titles) + 0.5)
    if validation_fraction > 0:
        n_val = min(max(n_val, 1), len(titles) - 1)
    random.Random(seed).shuffle(titles)
    val_titles = set(titles[:n_val])
    train = [e for e in examples if e.title not in val_titles]
    validation = [e for e in examples if e.title in val_titles]
    return train, validation


def gold_answers(examples: Iterable[Example]) -> dict[str, list[str]]:
    """Map each question id to its gold answer texts (an empty list when unanswerable)."""
    return {e.id: e.gold_texts for e in examples}


def examples_to_dataset(examples: Iterable[Example]) -> datasets.Dataset:
    """A ``datasets.Dataset`` in the hub's SQuAD layout.

    Columns: ``id, title, context, question, answers{text: list, answer_start: list},
    is_impossible``. The features are given explicitly so that an all-unanswerable list
    still gets typed (empty) answer columns.
    """
    import datasets

    examples = list(examples)
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "title": datasets.Value("string"),
            "context": datasets.Value("string"),
            "question": datasets.Value("string"),
            "answers": datasets.Sequence(
                {"text": datasets.Value("string"), "answer_start": datasets.Value("int32")}
            ),
            "is_impossible": datasets.Value("bool"),
        }
    )
    columns: dict[str, list[Any]] = {
        "id": [e.id for e in examples],
        "title": [e.title for e in examples],
        "context": [e.context for e in examples],
        "question": [e.question for e in examples],
        "answers": [
            {"text": [a.text for a in e.answers], "answer_start": [a.answer_start for a in e.answers]}
            for e in examples
        ],
        "is_impossible": [e.is_impossible for e in examples],
    }
    return datasets.Dataset.from_dict(columns, features=features)


# ---------------------------------------------------------------------------------------
# Probes
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One probe question of the project's founding experiment.

    Attributes:
        id: unique probe id, e.g. ``zh-birthday``.
        lang: language code of context and question (``zh``, ``en``).
        context: the passage.
        question: the question about it.
        documented_bert_answer: what the founding fine-tuned bert-base-uncased answered,
            faults (``[UNK]`` pieces, spaces between rebuilt word pieces) included.
        expected_answer: the span a correct extractive model should give, cut verbatim
            from the context; ``None`` where the context does not answer the question.
    """

    id: str
    lang: str
    context: str
    question: str
    documented_bert_answer: str
    expected_answer: str | None = None

    def as_example(self) -> Example:
        """The probe as an ``Example`` for prediction.

        It carries no answers (the probe file gives texts, not offsets; compare against
        ``expected_answer`` instead). ``is_impossible`` is true exactly when the probe has
        no ``expected_answer``: those probes ask what their context does not say. The
        title is ``probe:<id>`` so each probe counts as its own article.
        """
        return Example(
            id=self.id,
            title=f"probe:{self.id}",
            context=self.context,
            question=self.question,
            answers=(),
            is_impossible=self.expected_answer is None,
        )


_PROBE_FIELDS = ("id", "lang", "context", "question", "documented_bert_answer")


def load_probes(path: str | os.PathLike[str]) -> list[Probe]:
    """Read a probe file (``{"source": ..., "probes": [{id, lang, context, question,
    documented_bert_answer, expected_answer?}]}``), validating every probe.

    Raises:
        DataError: missing/empty fields, duplicate ids, an ``expected_answer`` that is not
            cut from its context, bad JSON or non-UTF-8 bytes; all problems at once.
    """
    label = os.fspath(path)
    file = Path(label)
    if not file.is_file():
        raise DataError.one(label, None, None, "not_found", f"{label!r} does not exist")
    obj = _parse_json(_decode_file(file.read_bytes(), file, label), label)
    if not isinstance(obj, Mapping) or "probes" not in obj:
        raise DataError.one(label, None, "probes", "missing_field", "no top-level 'probes' field")
    if not isinstance(obj["probes"], list):
        raise DataError.one(label, None, "probes", "wrong_type", "'probes' is not a list")

    checker = _Checker(label, repair_offsets=False)
    problems: list[DataProblem] = []
    probes: list[Probe] = []
    seen: set[str] = set()
    for i, raw in enumerate(obj["probes"]):
        path_i = f"probes[{i}]"
        if not isinstance(raw, Mapping):
            problems.append(checker.problem(path_i, None, "wrong_type", "a probe is not an object"))
            continue
        found: list[DataProblem] = []
        record = raw["id"] if isinstance(raw.get("id"), str) and raw["id"] else path_i
        values = {name: checker.text_field(raw, name, record, found) for name in _PROBE_FIELDS}
        if values["id"] is not None:
            if values["id"] in seen:
                detail = f"probe id {record!r} is used twice"
                found.append(checker.problem(record, "id", "duplicate_id", detail))
            seen.add(values["id"])
        expected = None
        if raw.get("expected_answer") is not None:
            expected = checker.text_field(raw, "expected_answer", record, found)
            if expected is not None and values["context"] is not None and expected not in values["context"]:
                found.append(
                    checker.problem(
                        record,
                        "expected_answer",
                        "answer_not_in_context",
                        f"expected_answer {_clip(expected)} does not occur in the context",
                    )
                )
        if found:
            problems.extend(found)
            continue
        probes.append(Probe(**values, expected_answer=expected))  # type: ignore[arg-type]
    if problems:
        raise DataError(problems)
    return probes


__all__ = [
    "FIXES",
    "Answer",
    "DataError",
    "DataProblem",
    "Example",
    "LoadResult",
    "Probe",
    "examples_to_dataset",
    "gold_answers",
    "load_examples",
    "load_probes",
    "split_by_article",
]
