"""Examples in the shapes other code expects: gold answers by id, and a hub-layout dataset."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .records import Example

if TYPE_CHECKING:  # datasets takes seconds to import; only the functions that need it do.
    import datasets


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
