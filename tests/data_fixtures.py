"""Shared paths and builders of the data tests (test_data*.py). Not a test module.

Fixtures under ``fixtures/`` are the project's own (made-up text). The real SQuAD v2 and
CMRC 2018 files are read from ``$QABENCH_DATA_DIR`` (default ``<repo>/../shared/data``);
tests that need them skip when they are absent (:func:`shared`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qa_models.data import Example


REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
BAD = FIXTURES / "bad"
TINY = FIXTURES / "squad_v2_tiny.json"
TINY_DEV = FIXTURES / "squad_v2_tiny_dev.json"
CMRC_TINY = FIXTURES / "cmrc_tiny.json"
DATA_DIR = Path(os.environ.get("QABENCH_DATA_DIR", REPO.parent / "shared" / "data"))

# Every bad fixture is a one-problem mutation of the same 8-question base file, so the
# number of questions left after skipping tells whether the right record was dropped.
BASE_QUESTIONS = 8


def shared(relative: str) -> Path:
    """A file of the shared data directory, or skip the test when it is not there."""
    path = DATA_DIR / relative
    if not path.is_file():
        pytest.skip(f"shared data not available: {path} (set QABENCH_DATA_DIR)")
    return path


def write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def one_paragraph(context: str, qas: list[dict], version: str = "v2.0") -> dict:
    return {"version": version, "data": [{"title": "T", "paragraphs": [{"context": context, "qas": qas}]}]}


def assert_offsets_valid(examples: list[Example]) -> None:
    for e in examples:
        for a in e.answers:
            assert e.context[a.answer_start : a.answer_start + len(a.text)] == a.text, e.id
