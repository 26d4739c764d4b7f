"""``pytest -m smoke`` is the quick check: unit tests not marked slow, and the bench suites
only under the tiny profile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa_models.profiles import shared_data_dir

ROOT = Path(__file__).resolve().parents[1]


def _smoke_ids(*args: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-m", "smoke", "-p", "no:cacheprovider", *args],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return {line for line in out.stdout.splitlines() if "::" in line}


def test_smoke_is_the_fast_tests_and_the_tiny_bench():
    ids = _smoke_ids("tests/test_resume.py", "bench/test_squad.py")
    assert "tests/test_resume.py::test_half_written_cache_entries_are_never_loaded" in ids
    # Marked slow: minutes of SIGKILL and restart, not smoke.
    assert not any("test_killed" in i for i in ids)
    assert any(i.startswith("bench/test_squad.py::") for i in ids)


def test_bench_is_not_smoke_under_a_real_profile():
    if not (shared_data_dir() / "squad_v2" / "train-v2.0-first10.json").is_file():
        pytest.skip("the minilm profile needs the shared SQuAD slices")
    ids = _smoke_ids("--qa-profile", "minilm", "tests/test_resume.py", "bench/test_squad.py")
    assert ids and not any(i.startswith("bench/") for i in ids)
