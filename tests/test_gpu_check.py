"""The prepared GPU check (bench/gpu_check.py) runs on a CPU with tiny shapes and a tiny budget.

It is the one script a session with a lent GPU runs first, so its JSON must be complete
and its failures guarded before any device second is spent on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "bench" / "gpu_check.py"
# A subset keeps CI fast; the rest must still be recorded (skipped by --only, with the reason).
ONLY = r"^(bert/plain|llama3-8b/lora/gc_off|llama3-8b/generate/batch1|qwen1\.5-7b/qlora/gc_on)$"


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("gpu_check")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--tiny", "--budget-s", "120", "--only", ONLY,
         "--work-dir", str(out / "work")],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    report["_markdown"] = (out / "gpu_check.md").read_text()
    return report


def by_name(report: dict) -> dict[str, dict]:
    return {m["name"]: m for m in report["measurements"]}


def test_header_names_device_versions_and_commit(dry_run):
    assert dry_run["tiny"] is True
    assert dry_run["device"]["name"]
    assert dry_run["versions"]["torch"] == torch.__version__
    assert "transformers" in dry_run["versions"]
    assert dry_run["commit"] and len(dry_run["commit"]) >= 7
    assert dry_run["device"]["name"] in dry_run["_markdown"]


def test_selected_cpu_items_train_and_measure(dry_run):
    items = by_name(dry_run)
    bert = items["bert/plain"]
    assert bert["status"] == "ok", bert
    assert bert["result"]["tokens_per_s"] > 0
    assert bert["result"]["loss_finite"] is True
    assert bert["result"]["parameters"]["trainable"] > 0
    lora = items["llama3-8b/lora/gc_off"]
    assert lora["status"] == "ok", lora
    # LoRA trains a small share of the weights.
    assert 0 < lora["result"]["parameters"]["trainable"] < lora["result"]["parameters"]["total"]
    assert items["llama3-8b/generate/batch1"]["result"]["questions_per_s"] > 0


def test_every_measurement_has_a_status_and_skips_give_reasons(dry_run):
    items = by_name(dry_run)
    for name in ("bert/fast", "llama3-8b/lora/gc_on", "llama3-8b/lora/liger", "qwen1.5-7b/lora/packing"):
        assert name in items
    for item in dry_run["measurements"]:
        assert item["status"] in {"ok", "failed", "skipped"}, item
        if item["status"] != "ok":
            assert item.get("reason") or item.get("error"), item
    assert sum(dry_run["summary"].values()) == len(dry_run["measurements"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_gpu_only_items_are_skipped_without_cuda(dry_run):
    gpu_only = [m for m in dry_run["measurements"] if m["gpu_only"]]
    assert gpu_only, "QLoRA, liger and packing are GPU-only"
    qlora = by_name(dry_run)["qwen1.5-7b/qlora/gc_on"]
    assert qlora["status"] == "skipped" and "CUDA" in qlora["reason"]
    for item in gpu_only:
        assert item["status"] == "skipped", item


def test_training_items_say_where_their_sequence_lengths_come_from(dry_run):
    # --tiny draws lengths from the committed measured distribution (real ids overflow the tiny
    # vocabulary); full-size shapes use the real tokenizers (tests/test_gpu_lengths.py).
    items = by_name(dry_run)
    for name in ("bert/plain", "llama3-8b/lora/gc_off"):
        result = items[name]["result"]
        assert result["lengths_from"].startswith("measured lengths"), result
        assert result["length_min"] <= result["length_median"] <= result["length_max"]
    assert items["llama3-8b/generate/batch1"]["result"]["questions_from"].startswith("tiny")
