"""What can be wrong with a data file, and how to say so.

Every loader collects ``DataProblem`` records instead of stopping at the first one, and
raises them together as one ``DataError``, so that a user fixes a file in one pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

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
