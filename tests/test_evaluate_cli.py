"""Tests for ``python -m qa_models.evaluate``, run as a real subprocess."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

OFFICIAL_KEYS = [
    "exact", "f1", "total",
    "HasAns_exact", "HasAns_f1", "HasAns_total",
    "NoAns_exact", "NoAns_f1", "NoAns_total",
]
BEST_KEYS = ["best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh"]

DATA = {
    "version": "v2.0",
    "data": [{
        "title": "Fixture",
        "paragraphs": [{
            "context": "The Denver Broncos beat the Carolina Panthers. Saint Bernadette Soubirous.",
            "qas": [
                {"id": "q1", "question": "Who won?", "is_impossible": False,
                 "answers": [{"text": "Denver Broncos", "answer_start": 4},
                             {"text": "Broncos", "answer_start": 11}]},
                {"id": "q2", "question": "Who?", "is_impossible": False,
                 "answers": [{"text": "Saint Bernadette Soubirous", "answer_start": 47}]},
                {"id": "q3", "question": "Why?", "is_impossible": True, "answers": []},
                {"id": "q4", "question": "When?", "is_impossible": True, "answers": []},
            ],
        }],
    }],
}
# q1: EM 1 F1 1; q2: EM 0, F1 = 2*(1*(1/3))/(4/3) = 0.5; q3: 1 1; q4: 0 0
PREDS = {"q1": "the Broncos", "q2": "Bernadette", "q3": "", "q4": "Paris"}
NA = {"q1": 0.2, "q2": 0.6, "q3": 0.9, "q4": 0.7}


def _run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "qa_models.evaluate", *map(str, args)],
        capture_output=True, text=True, cwd=cwd or REPO, timeout=60,
    )


def _write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    return (_write(tmp_path / "data.json", DATA), _write(tmp_path / "preds.json", PREDS),
            _write(tmp_path / "na.json", NA))


def test_prints_official_report(files):
    data, preds, _ = files
    res = _run(data, preds)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert list(out) == OFFICIAL_KEYS
    assert res.stdout.startswith('{\n  "exact"')  # indent=2, like the official script
    # exact (1+0+1+0)/4, f1 (1+.5+1+0)/4
    assert out["exact"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx(62.5)
    assert out["total"] == 4
    assert out["HasAns_exact"] == pytest.approx(50.0) and out["HasAns_f1"] == pytest.approx(75.0)
    assert out["NoAns_exact"] == pytest.approx(50.0) and out["NoAns_total"] == 2


def test_na_probs_threshold_and_out_file(files, tmp_path):
    data, preds, na = files
    out_path = tmp_path / "eval.json"
    res = _run(data, preds, "--na-prob-file", na, "--na-prob-thresh", "0.65", "--out-file", out_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout == ""  # official: the report goes to the file instead
    out = json.loads(out_path.read_text())
    assert list(out) == OFFICIAL_KEYS + BEST_KEYS
    # > 0.65 -> "": q3 (0.9, right), q4 (0.7, now right). q1/q2 keep answers.
    # exact (1+0+1+1)/4 = 75, f1 (1+.5+1+1)/4 = 87.5
    assert out["exact"] == pytest.approx(75.0)
    assert out["f1"] == pytest.approx(87.5)
    # sweep, start 2 (q3, q4): q1 0.2 +1 -> 3 (t .2); q2 0.6 EM +0 / F1 +.5 -> 3.5 (t .6);
    # q4 0.7 "Paris" -1; q3 0.9 +0.  best_exact 3/4 @ .2, best_f1 3.5/4 @ .6
    assert out["best_exact"] == pytest.approx(75.0) and out["best_exact_thresh"] == 0.2
    assert out["best_f1"] == pytest.approx(87.5) and out["best_f1_thresh"] == 0.6


def test_gzipped_data(files, tmp_path):
    _, preds, _ = files
    gz = tmp_path / "data.json.gz"
    gz.write_bytes(gzip.compress(json.dumps(DATA).encode()))
    res = _run(gz, preds)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["f1"] == pytest.approx(62.5)


def test_cmrc_metric(tmp_path):
    data = {"version": "v1.0", "data": [{"paragraphs": [{"context": "…", "qas": [
        {"id": "c1", "question": "?", "answers": [{"text": "2000年1月1日", "answer_start": 0}]},
        {"id": "c2", "question": "?", "answers": [{"text": "北京大学", "answer_start": 0}]},
    ]}]}]}
    d = _write(tmp_path / "cmrc.json", data)
    p = _write(tmp_path / "p.json", {"c1": "2000 年 1 月 1 日", "c2": "大学北京"})
    res = _run(d, p, "--metric", "cmrc2018")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert list(out) == ["exact", "f1", "total"]
    # c1 segments identically (EM 1, F1 1); c2 LCS 2 of 4 -> EM 0, F1 0.5
    assert out["exact"] == pytest.approx(50.0)
    assert out["f1"] == pytest.approx(75.0)
    # squad_v2 on the same files: the spaces make c1 wrong, and F1 cannot
    # split Chinese either, so both are 0
    res = _run(d, p)
    assert json.loads(res.stdout)["f1"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "preds_text, needle",
    [
        ('["q1", "q2"]', "JSON object"),  # a list, not id -> text
        ('{"q1": 3, "q2": "", "q3": "", "q4": ""}', "string"),  # non-string answer
        ('{"q1": "x", ', "not valid JSON"),  # garbled
        ('{"q1": "x"}', "missing prediction for 3 of 4"),  # missing ids
    ],
)
def test_bad_predictions_exit_nonzero(files, tmp_path, preds_text, needle):
    data, _, _ = files
    bad = tmp_path / "bad.json"
    bad.write_text(preds_text)
    res = _run(data, bad)
    assert res.returncode == 1
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stdout == ""


def test_missing_files_and_bad_data(files, tmp_path):
    data, preds, _ = files
    res = _run(tmp_path / "nope.json", preds)
    assert res.returncode == 1 and "cannot read" in res.stderr and "Traceback" not in res.stderr
    res = _run(data, preds, "--na-prob-file", tmp_path / "nope.json")
    assert res.returncode == 1 and "nope.json" in res.stderr
    not_squad = _write(tmp_path / "x.json", {"questions": []})
    res = _run(not_squad, preds)
    assert res.returncode == 1 and "SQuAD-format" in res.stderr
    bad_na = _write(tmp_path / "na_bad.json", {"q1": "high"})
    res = _run(data, preds, "--na-prob-file", bad_na)
    assert res.returncode == 1 and "not a number" in res.stderr


def test_allow_missing_skips(files, tmp_path):
    data, _, _ = files
    p = _write(tmp_path / "p.json", {"q1": "Broncos", "q3": ""})
    res = _run(data, p, "--allow-missing")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["total"] == 2 and out["exact"] == pytest.approx(100.0)


def test_usage_errors():
    res = _run()
    assert res.returncode == 2 and "usage" in res.stderr
    res = _run("--help")
    assert res.returncode == 0
    for opt in ("--na-prob-file", "--na-prob-thresh", "--out-file", "--metric", "--allow-missing"):
        assert opt in res.stdout
    res = _run("a.json", "b.json", "--metric", "cmrc2018", "--na-prob-thresh", "0.5")
    assert res.returncode == 2 and "squad_v2" in res.stderr
