"""Validate one record at a time, and repair what the caller allowed to be repaired.

A ``_Checker`` serves one source. It collects problems instead of stopping at the first,
so that one ``DataError`` lists everything wrong with a file, and it remembers across
records what a single record cannot know: ids already seen, answers repaired or dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import DataProblem, _problem
from .records import Answer, Example


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
        # The order of the checks is the order problems are reported in: id, question,
        # is_impossible, answers.
        qid = self._question_id(qa, path, problems)
        record = qid if qid is not None else path
        question = self.text_field(qa, "question", record, problems)
        flag = self._impossible_flag(qa, record, problems)
        answers = self._answers(qa, record, context, flag, empty_means_impossible, problems)

        complete = qid is not None and question is not None and context is not None
        self._settle_drops(keep=bool(answers) and not problems and complete, problems=problems)
        if problems or not complete:
            return None, problems
        impossible = not answers
        return Example(qid, title, context, question, tuple(answers), impossible), problems  # type: ignore[arg-type]

    def _question_id(self, qa: Mapping[str, Any], path: str, problems: list[DataProblem]) -> str | None:
        """The question's id, after recording a repeat (the later occurrence is the bad one)."""
        qid = self.text_field(qa, "id", path, problems)
        if qid is None:
            return None
        if qid in self.seen_ids:
            problems.append(
                self.problem(qid, "id", "duplicate_id", f"id {qid!r} is also used at {self.seen_ids[qid]}")
            )
        else:
            self.seen_ids[qid] = path
        return qid

    def _impossible_flag(self, qa: Mapping[str, Any], record: str, problems: list[DataProblem]) -> bool | None:
        """``is_impossible`` as given, or ``None`` when absent or not a boolean."""
        flag = qa.get("is_impossible")
        if flag is not None and not isinstance(flag, bool):
            problems.append(
                self.problem(record, "is_impossible", "wrong_type", f"is_impossible is {flag!r}, not true/false")
            )
            return None
        return flag

    def _answers(
        self,
        qa: Mapping[str, Any],
        record: str,
        context: str | None,
        flag: bool | None,
        empty_means_impossible: bool,
        problems: list[DataProblem],
    ) -> list[Answer]:
        """The question's valid answers, after checking them against its answerability."""
        raw_answers = qa.get("answers")
        if "answers" not in qa:
            problems.append(self.problem(record, "answers", "missing_field", "no 'answers' field"))
            return []
        if not isinstance(raw_answers, list):
            problems.append(self.problem(record, "answers", "wrong_type", _not_a("'answers'", raw_answers, "a list")))
            return []
        answers: list[Answer] = []
        for k, raw in enumerate(raw_answers):
            answer = self.answer(raw, record, f"answers[{k}]", context, problems)
            if answer is not None:
                answers.append(answer)
        if flag is True and raw_answers:
            detail = f"is_impossible is true but it has {len(raw_answers)} answer(s)"
            problems.append(self.problem(record, "answers", "impossible_with_answers", detail))
        if not raw_answers and not (flag is True or (flag is None and empty_means_impossible)):
            why = (
                "is_impossible is false"
                if flag is False
                else "the file is not SQuAD v2 (its version does not start with v2), "
                "so every question needs one"
            )
            problems.append(self.problem(record, "answers", "missing_answer", f"no answers, and {why}"))
        return answers

    def _settle_drops(self, keep: bool, problems: list[DataProblem]) -> None:
        """File the answers dropped from the question just checked.

        A drop keeps its question only if the question is otherwise sound and still has an
        answer; else the drops are ordinary problems of that question.
        """
        drops, self._pending_drops = self._pending_drops, []
        (self.dropped if keep else problems).extend(drops)

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
        return self._missed_offset(text, start, context, record, start_field, problems)

    def _missed_offset(
        self, text: str, start: int, context: str, record: str, start_field: str, problems: list[DataProblem]
    ) -> Answer | None:
        """An answer whose offset misses its text: repaired, dropped, or a problem that says
        where the text really is, so the fix is obvious."""
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
