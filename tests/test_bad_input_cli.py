"""Bad input data, end to end: the recipe CLI and the bench suite stop before any training
with a message naming file, record and field, and run to the end when told to skip bad
records, with the skipped counts in results.json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
BAD_OFFSET = "fixtures/bad/bad_offset.json"
SEVERAL_BAD = "fixtures/bad/several_bad.json"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=600)


def _train(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return _run(
        "-m", "qa_models.train", "--profile", "tiny", "--model", "bert-span", "--train-file", BAD_OFFSET,
        "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache"), *extra,
    )


def test_cli_stops_before_training_naming_file_record_and_field(tmp_path):
    done = _train(tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    message = done.stderr
    assert "bad_offset.json" in message
    assert "record bad-q5" in message and "field answers[0].answer_start" in message
    assert "Fix:" in message and "Traceback" not in message
    # Nothing was trained: no cache entry, no Trainer folder, no checkpoint, no outputs.
    assert not list(tmp_path.rglob("checkpoint*")), sorted(str(p) for p in tmp_path.rglob("*"))
    assert not (tmp_path / "cache").exists() and not (tmp_path / "out").exists()


def test_cli_with_skip_bad_records_runs_to_the_end(tmp_path):
    done = _train(tmp_path, "--skip-bad-records", "--epochs", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["cached"] is False and summary["test"]["total"] > 0
    assert (tmp_path / "out" / "metrics.json").is_file()


def _bench(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    return _run(
        "-m", "pytest", "bench", "-m", "train", "-q", "-p", "no:cacheprovider",
        "--qa-profile", "tiny", "--qa-models", "bert-span", "--qa-train-file", SEVERAL_BAD,
        "--qa-report-dir", str(tmp_path / "reports"), "--qa-run-id", "x", "--qa-cache-dir", str(tmp_path / "cache"), *extra,
    )


def test_bench_with_skip_bad_records_reports_the_skipped_counts(tmp_path):
    done = _bench(tmp_path, "--qa-skip-bad-records")
    assert done.returncode == 0, done.stdout[-4000:]
    results = json.loads((tmp_path / "reports" / "x" / "results.json").read_text())
    # several_bad.json: one question per kind of problem, and a paragraph without a context
    # (counted once; its two questions are not counted).
    assert results["run"]["skipped_records"] == {
        "answer_offset": 1,
        "empty_text": 1,
        "duplicate_id": 1,
        "missing_field": 2,
        "impossible_with_answers": 1,
    }
    assert [m["name"] for m in results["models"]] == ["bert-span"]
    train = results["run"]["data_files"]["train"]
    assert train["source"] == SEVERAL_BAD and train["n_examples"] >= 1


def test_bench_without_skipping_stops_before_training(tmp_path):
    done = _bench(tmp_path)
    assert done.returncode == 3, done.stdout[-4000:]
    output = done.stdout + done.stderr
    assert "bad input data, nothing was trained" in output and "several_bad.json" in output
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("checkpoint*"))
    assert not (tmp_path / "reports" / "x" / "results.json").exists()
