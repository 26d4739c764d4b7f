"""Shared constants and builders of the metrics tests (test_metrics*.py). Not a test module."""

from __future__ import annotations

import os
from pathlib import Path

from qa_models import metrics as M


REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("QABENCH_DATA_DIR", REPO.parent / "shared" / "data"))
SQUAD_TEST = DATA_DIR / "squad_v2" / "dev-v2.0-test.json"

OFFICIAL_KEYS = list(M.SQUAD_V2_KEYS)
BEST_KEYS = list(M.SQUAD_V2_BEST_KEYS)


def _tree(questions):
    """Build an official-format tree from (id, [answer texts]) pairs."""
    qas = [
        {"id": qid, "question": "?", "is_impossible": not answers,
         "answers": [{"text": t, "answer_start": 0} for t in answers]}
        for qid, answers in questions
    ]
    return {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": "c", "qas": qas}]}]}
