"""Training memory per row: as the profile configures it, and without its memory settings.

For every trained row, ``qa_models.memory`` trains two steps at the profile's batch size with
every window or prompt padded to ``max_seq_length``, each time in a fresh child process, and
records the resident-set (or CUDA) peak sampled during ``trainer.train()``. A row whose
settings include memory-only ones (``attention_dropout``, ``gradient_checkpointing``) is also
measured with them switched back to the checkpoint's defaults, so the table shows what they
save. The table goes to ``<run_dir>/training_memory.csv`` and ``training_memory.md``.

``pytest bench -m benchmark --qa-profile small`` measures MiniLM and SmolLM2; the tiny profile
runs it in CI. The figures are measurements to read, not asserted limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qa_models.files import write_table_files

pytestmark = pytest.mark.benchmark

TEXT_COLUMNS = ("model", "settings", "memory_kind", "device")


@pytest.fixture(scope="session")
def memory_rows() -> list[dict[str, Any]]:
    return []


def _write_table(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows)
    shown = frame.assign(peak_gib=frame["peak_memory_bytes"] / 2**30)[
        ["model", "settings", "attention_dropout", "gradient_checkpointing", "batch_size", "max_seq_length",
         "peak_gib", "memory_kind", "train_seconds", "device"]
    ]
    note = ("Each row: two optimiser steps at the profile's batch size, every window or prompt padded to "
            "max_seq_length, in a fresh process (python -m qa_models.memory). Peak: the process's RSS sampled "
            "during trainer.train() (cpu_rss_train; the loaded model and data included) or the CUDA allocator's "
            "peak (cuda). \"without memory settings\" is the same row with attention dropout and gradient "
            "checkpointing at the checkpoint's defaults.")
    write_table_files(run_dir, "training_memory", frame, shown, "Training memory", [note], TEXT_COLUMNS)


def test_training_memory(model_name, profile, run_dir, memory_rows, benchmark):
    from qa_models.memory import measure_in_child, without_memory_settings

    spec = next(m for m in profile.models if m.name == model_name)
    if spec.zero_shot:
        pytest.skip(f"{model_name} is a zero-shot row: nothing is trained")
    variants = {"as configured": spec}
    plain = without_memory_settings(spec)
    if plain is not spec:
        variants["without memory settings"] = plain

    measured = {}
    for label, variant in variants.items():
        if label == "as configured":
            benchmark.group = "training memory (two steps, fresh process)"
            benchmark.extra_info.update(model=model_name)
            measured[label] = benchmark.pedantic(
                lambda: measure_in_child(variant, profile.data.train, profile.train.batch_size), rounds=1, iterations=1)
            benchmark.extra_info.update(peak_memory_bytes=measured[label]["peak_memory_bytes"])
        else:
            measured[label] = measure_in_child(variant, profile.data.train, profile.train.batch_size)
    for label, row in measured.items():
        assert row["model"] == model_name and row["questions"] > 0
        assert row["peak_memory_bytes"] > 0 and row["memory_kind"] in ("cpu_rss_train", "cuda")
        memory_rows.append({"settings": label, **row})
    _write_table(run_dir, memory_rows)
    assert (run_dir / "training_memory.csv").is_file()
