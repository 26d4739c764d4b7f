"""The cache of trained checkpoints and the store of measured training throughput, both in
the run's cache folder.

A cache entry is ``<cache_dir>/<model>-<key>/`` holding ``checkpoint/``, ``train_result.json``
and ``cost_estimate.json``; its key is everything the trained weights depend on, so a changed
row, hyper-parameter, data file or adapter trains again and an unchanged one never does.
``runner.train_or_load`` decides when to train; this module only names, reads and writes
entries. The throughput store turns the next cost estimate on the same device into a
measured one.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .adapters import QAAdapter, TrainResult, load_adapter
from .config import ModelSpec, TrainSpec, fingerprint, to_dict
from .files import atomic_write_json

if TYPE_CHECKING:  # runner imports this module; RunData is only a type here
    from .runner import RunData

ADAPTER_CODE_VERSION = {"span": 3, "generative": 1}
"""Bumped when an adapter's training changes meaning, so cached checkpoints are retrained."""

THROUGHPUT_FILE = "measured_throughput.json"
"""In the cache folder: training tokens/s measured by earlier runs, per device and model setup."""


# -- the checkpoint cache ------------------------------------------------------------------


def cache_key(spec: ModelSpec, train_spec: TrainSpec, data: RunData) -> str:
    """What a trained checkpoint depends on: model, hyper-parameters, data, adapter code."""
    data_id = {k: (v.get("sha256") or v["source"], v["n_examples"],
                   *(item for name in ("unanswerable_share", "balanced_articles") if name in v for item in (name, v[name])))
               for k, v in data.files.items() if k != "test"}
    return fingerprint(to_dict(spec), to_dict(train_spec), data_id, ADAPTER_CODE_VERSION[spec.method])


def entry_dir(cache_dir: Path, spec: ModelSpec, train_spec: TrainSpec, data: RunData) -> Path:
    """The cache entry of this row trained on this data (it may not exist yet)."""
    return Path(cache_dir) / f"{spec.name}-{cache_key(spec, train_spec, data)}"


@dataclass
class TrainedModel:
    adapter: QAAdapter
    train_result: TrainResult | None
    cached: bool
    checkpoint: Path | None
    cost_estimate: dict[str, Any] | None = None
    """``cost.CostEstimate.to_dict()`` printed before training (kept with the cache entry)."""


def load_entry(entry: Path) -> TrainedModel | None:
    """The complete cache entry at ``entry``, loaded; ``None`` when there is none.

    ``train_result.json`` is what marks an entry complete: ``save_entry`` renames a finished
    folder into place, so a killed run never leaves a half-written entry under this name."""
    if not (entry / "train_result.json").is_file():
        return None
    adapter = load_adapter(entry / "checkpoint")
    result = TrainResult(**json.loads((entry / "train_result.json").read_text()))
    estimate_file = entry / "cost_estimate.json"
    estimate = json.loads(estimate_file.read_text()) if estimate_file.is_file() else None
    return TrainedModel(adapter, result, True, entry / "checkpoint", estimate)


def save_entry(entry: Path, adapter: QAAdapter, result: TrainResult, estimate: dict[str, Any]) -> None:
    """Write the entry into a staging folder and rename it into place when complete."""
    staging = entry.with_name(entry.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    adapter.save(staging / "checkpoint")
    (staging / "train_result.json").write_text(json.dumps(asdict(result), indent=2))
    (staging / "cost_estimate.json").write_text(json.dumps(estimate, indent=2))
    shutil.rmtree(entry, ignore_errors=True)
    os.replace(staging, entry)


# -- measured training throughput --------------------------------------------------------------


def _throughput_key(spec: ModelSpec, train_spec: TrainSpec) -> str:
    return f"{spec.model_id}|{spec.method}|{spec.quantize}|seq{spec.max_seq_length}|batch{train_spec.batch_size}|fast={train_spec.fast}"


def measured_throughput(cache_dir: Path, device: str, spec: ModelSpec, train_spec: TrainSpec) -> float | None:
    """Real training tokens/s of an earlier run of the same setup on the same device, if any."""
    path = cache_dir / THROUGHPUT_FILE
    if not path.is_file():
        return None
    return json.loads(path.read_text()).get(device, {}).get(_throughput_key(spec, train_spec))


def record_throughput(cache_dir: Path, device: str, spec: ModelSpec, train_spec: TrainSpec, tokens_per_s: float) -> None:
    """Keep this run's tokens/s so the next estimate on this device is measured, not assumed."""
    path = cache_dir / THROUGHPUT_FILE
    table = json.loads(path.read_text()) if path.is_file() else {}
    table.setdefault(device, {})[_throughput_key(spec, train_spec)] = tokens_per_s
    atomic_write_json(path, table, sort_keys=True)
