"""Load SQuAD-format question answering data into validated ``Example`` records.

Data flows one way through qabench: records -> features -> model -> raw scores ->
answers -> metrics -> report. This package is the first step: it reads the official
SQuAD JSON (plain, ``.gz`` or ``.zip``) or a hub dataset, checks every record before any
training starts, and hands out immutable ``Example`` records.

One job a module, in the order data flows through them: ``errors`` (``DataProblem``,
``DataError`` and the ``FIXES`` they quote), ``records`` (``Answer``, ``Example``,
``LoadResult``), ``read`` (bytes, archives and JSON; hub rows), ``check`` (one record at a
time: offsets, repair, dropped answers), ``flatten`` (a file's tree or a hub's rows into
examples, skipping bad records), ``load`` (``load_examples``, which ties them together),
``split`` (seeded samples, split by article), ``convert`` (gold answers, a hub-layout
dataset) and ``probes``.
"""

from __future__ import annotations

# The private names are re-exported too, so that code written against the single
# qa_models/data.py module keeps importing them from here.
from .check import _Checker, _clip, _nearest_occurrence, _not_a
from .convert import examples_to_dataset, gold_answers
from .errors import _SHOWN_PROBLEMS, FIXES, DataError, DataProblem, _problem
from .flatten import _finish, _from_official, _from_rows
from .load import _from_hub, load_examples
from .probes import _PROBE_FIELDS, Probe, load_probes
from .read import (
    _FILE_SUFFIXES,
    _HUB_ID,
    _HUB_ID_WITH_SPLIT,
    _decode_file,
    _looks_like_hub_id,
    _parse_json,
    _read_zip_member,
    logger,
)
from .records import Answer, Example, LoadResult
from .split import balance_answer_kinds_by_article, sample_examples, sample_examples_stratified, split_by_article

__all__ = [
    "FIXES",
    "Answer",
    "DataError",
    "DataProblem",
    "Example",
    "LoadResult",
    "Probe",
    "balance_answer_kinds_by_article",
    "examples_to_dataset",
    "gold_answers",
    "load_examples",
    "load_probes",
    "split_by_article",
]
