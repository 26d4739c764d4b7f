"""The records every later step reads: ``Answer``, ``Example`` and a load's ``LoadResult``.

``Answer`` and ``Example`` are frozen because every later step (features, prompts, metrics)
reads the same records, and none may change what another one sees.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DataProblem


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
