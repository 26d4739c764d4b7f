"""Flatten validated records into ``Example``s: the official article/paragraph/question tree
of a file, or the flat rows of a hub dataset.

Under ``skip_bad_records`` a bad record is dropped and counted once, under its first
problem; otherwise every problem of the source is raised together at the end.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .check import _Checker, _not_a
from .errors import DataError, DataProblem
from .records import Example, LoadResult

# Named after the package, not this module, so that log filters set up for the single
# qa_models.data module before it became a package still match.
logger = logging.getLogger(__package__)


@dataclass
class _Tally:
    """What a walk over one source has kept and what it has dropped so far."""

    examples: list[Example] = field(default_factory=list)
    problems: list[DataProblem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    def drop(self, found: list[DataProblem]) -> None:
        """Record a dropped record: all its problems, but one count, under the first."""
        self.problems.extend(found)
        self.skipped[found[0].reason] += 1


def _from_official(obj: Any, label: str, skip: bool, repair: bool, drop: bool = False) -> LoadResult:
    """Flatten and validate the official article/paragraph/question tree."""
    data, empty_means_impossible = _top_level(obj, label)
    checker = _Checker(label, repair, drop)
    tally = _Tally()
    n_articles = 0
    for i, article in enumerate(data):
        found = _article_problem(checker, article, f"data[{i}]")
        if found is not None:
            tally.drop([found])
            continue
        kept_before = len(tally.examples)
        for j, paragraph in enumerate(article["paragraphs"]):
            path = f"data[{i}].paragraphs[{j}]"
            _walk_paragraph(checker, tally, paragraph, path, article.get("title", ""), empty_means_impossible)
        if len(tally.examples) > kept_before:
            n_articles += 1
    return _finish(
        label, tally.examples, tally.problems, tally.skipped, checker.repaired, n_articles, skip, checker.dropped
    )


def _top_level(obj: Any, label: str) -> tuple[list[Any], bool]:
    """The ``data`` list of a file, and whether its version makes empty answers unanswerable."""
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
    return data, isinstance(version, str) and version.lower().startswith("v2")


def _article_problem(checker: _Checker, article: Any, path: str) -> DataProblem | None:
    """What makes an article unusable as a whole (its questions then go unchecked), if anything."""
    if not isinstance(article, Mapping):
        return checker.problem(path, None, "wrong_type", _not_a("an article", article, "an object"))
    title = article.get("title", "")
    if not isinstance(title, str):
        return checker.problem(path, "title", "wrong_type", _not_a("title", title, "a string"))
    if "paragraphs" not in article:
        return checker.problem(path, "paragraphs", "missing_field", f"article {title!r} has no 'paragraphs' field")
    paragraphs = article["paragraphs"]
    if not isinstance(paragraphs, list):
        return checker.problem(path, "paragraphs", "wrong_type", _not_a("'paragraphs'", paragraphs, "a list"))
    return None


def _walk_paragraph(
    checker: _Checker, tally: _Tally, paragraph: Any, path: str, title: str, empty_means_impossible: bool
) -> None:
    """Check one paragraph and its questions, keeping the good ones in ``tally``."""
    if not isinstance(paragraph, Mapping):
        tally.drop([checker.problem(path, None, "wrong_type", _not_a("a paragraph", paragraph, "an object"))])
        return
    para_problems: list[DataProblem] = []
    context = checker.text_field(paragraph, "context", path, para_problems)
    qas = paragraph.get("qas")
    if "qas" not in paragraph:
        para_problems.append(checker.problem(path, "qas", "missing_field", "no 'qas' field"))
        qas = []
    elif not isinstance(qas, list):
        para_problems.append(checker.problem(path, "qas", "wrong_type", _not_a("'qas'", qas, "a list")))
        qas = []
    # Questions are checked even under a broken paragraph, so that one error lists
    # everything; their offsets wait for a usable context.
    checked = [
        checker.question(qa, f"{path}.qas[{k}]", title, context, empty_means_impossible)
        for k, qa in enumerate(qas)
    ]
    if para_problems:
        tally.drop(para_problems)
        tally.problems.extend(p for _, found in checked for p in found)
        return
    for example, found in checked:
        if found:
            tally.drop(found)
        elif example is not None:
            tally.examples.append(example)


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


def _from_rows(
    rows: Iterable[Mapping[str, Any]], label: str, skip: bool, repair: bool, drop: bool = False
) -> LoadResult:
    """Validate flat hub rows (one question each, answers as parallel lists)."""
    checker = _Checker(label, repair, drop)
    tally = _Tally()
    titles: set[str] = set()
    for i, row in enumerate(rows):
        path = f"row {i}"
        found: list[DataProblem] = []
        context = checker.text_field(row, "context", str(row.get("id", path)), found)
        qa = _row_as_question(checker, row, path, found)
        # Hub rows have no version field; squad_v2 marks unanswerable rows by empty answers.
        example, q_found = checker.question(qa, path, str(row.get("title") or ""), context, empty_means_impossible=True)
        found += q_found
        if found:
            tally.drop(found)
        elif example is not None:
            tally.examples.append(example)
            titles.add(example.title)
    return _finish(
        label, tally.examples, tally.problems, tally.skipped, checker.repaired, len(titles), skip, checker.dropped
    )


def _row_as_question(checker: _Checker, row: Mapping[str, Any], path: str, found: list[DataProblem]) -> dict[str, Any]:
    """A hub row rewritten as an official-format question, so one checker serves both."""
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
    return qa
