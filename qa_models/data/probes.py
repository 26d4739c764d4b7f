"""The probe questions of the project's founding experiment, read and validated.

Probe files give answer texts, not offsets, so they are checked by their own loader
rather than forced through the SQuAD-format one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .check import _Checker, _clip
from .errors import DataError, DataProblem
from .read import _decode_file, _parse_json
from .records import Example


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
