"""Peak memory of training a row, measured alone in a child process.

A run's ``train.peak_memory_bytes`` is sampled while its Trainer trains, but in the same
process as everything before it (other rows, data loading, freed tensors the allocator
kept). To compare memory settings fairly, each measurement here starts a fresh Python
process that loads the model, trains ``steps`` optimiser steps at the row's batch size with
every window or prompt padded to ``max_seq_length`` (the worst case a run meets), and reports
the resident-set peak that ``training.PeakRSS`` sampled during ``trainer.train()``.

``without_memory_settings`` gives the same row with the settings that only trade memory for
speed switched back to the checkpoint's defaults (attention dropout, gradient checkpointing),
so a benchmark can show what each row's settings save: ``bench/test_memory.py``.

    python -m qa_models.memory --spec-json ROW.json --train-file TRAIN.json --batch-size 32
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from .config import ModelSpec, TrainSpec, model_spec_from_dict, to_dict

STEPS = 2
"""Optimiser steps per measurement: the first step allocates the optimiser state, the second
runs with it in place, so the peak of a longer run is already reached."""


def without_memory_settings(spec: ModelSpec) -> ModelSpec:
    """``spec`` with the memory-only settings at their defaults: attention dropout as the
    checkpoint ships it, no gradient checkpointing. Returns ``spec`` itself when it has none."""
    plain = dataclasses.replace(spec, attention_dropout=None, gradient_checkpointing=False)
    return spec if plain == spec else plain


def training_peak(spec: ModelSpec, train_file: str, batch_size: int, steps: int = STEPS, seed: int = 42) -> dict[str, Any]:
    """Train ``spec`` for ``steps`` steps on the first ``batch_size * steps`` questions of
    ``train_file`` in this process; the sampled peak and what it includes."""
    from .adapters import create_adapter
    from .data import load_examples

    examples = load_examples(train_file, split="train").examples[: batch_size * steps]
    # fast=False pads every window and prompt to max_seq_length: the largest batch a run makes.
    recipe = TrainSpec(epochs=1.0, learning_rate=1e-5, batch_size=batch_size, logging_steps=1, warmup_ratio=0.0,
                       eval_every_epoch=False, fast=False, seed=seed)
    adapter = create_adapter(spec)
    with tempfile.TemporaryDirectory(prefix="qabench-memory-") as scratch:
        result = adapter.train(examples, [], recipe, Path(scratch) / "trainer")
    return {
        "model": spec.name,
        "attention_dropout": spec.attention_dropout,
        "gradient_checkpointing": spec.gradient_checkpointing,
        "batch_size": batch_size,
        "max_seq_length": spec.max_seq_length,
        "questions": len(examples),
        "peak_memory_bytes": result.peak_memory_bytes,
        "memory_kind": result.memory_kind,
        "train_seconds": result.wall_time_s,
        "device": result.device,
    }


def measure_in_child(spec: ModelSpec, train_file: str, batch_size: int, steps: int = STEPS, timeout_s: float = 1800) -> dict[str, Any]:
    """``training_peak`` in a fresh Python process, so nothing this process holds is counted."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(to_dict(spec), handle)
        spec_path = handle.name
    try:
        done = subprocess.run(
            [sys.executable, "-m", "qa_models.memory", "--spec-json", spec_path, "--train-file", str(train_file),
             "--batch-size", str(batch_size), "--steps", str(steps)],
            capture_output=True, text=True, timeout=timeout_s, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"},
        )
    finally:
        os.unlink(spec_path)
    if done.returncode != 0:
        raise RuntimeError(f"memory measurement of {spec.name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa_models.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec-json", required=True, help="a JSON file of one ModelSpec (the row to train), as config.to_dict writes it")
    parser.add_argument("--train-file", required=True, help="SQuAD-format training file (or hub id); its first questions are used")
    parser.add_argument("--batch-size", type=int, required=True, help="training batch size, as the row's profile sets it")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"optimiser steps to train (default {STEPS})")
    args = parser.parse_args(argv)
    spec = model_spec_from_dict(json.loads(Path(args.spec_json).read_text()))
    print(json.dumps(training_peak(spec, args.train_file, args.batch_size, args.steps)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
