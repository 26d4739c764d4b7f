"""A profile that cannot run stops the bench session with one line, not a traceback per module."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_missing_data_file_is_reported_once(tmp_path):
    missing = tmp_path / "no-such-train.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--qa-profile", "minilm", "--qa-train-file", str(missing)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 4, output[-2000:]
    assert output.count(str(missing)) == 1, output[-2000:]
    assert "Traceback" not in output and "UsageError" not in output, output[-2000:]
