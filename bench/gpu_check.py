#!/usr/bin/env python
"""One prepared GPU check (issue 13): every GPU path of the harness, measured once, in minutes.

    python bench/gpu_check.py --out DIR [--budget-s 450] [--tiny] [--only REGEX]

Full-size architectures with **random weights** built from config (``qa_models.shapes``:
bert-base-uncased, Llama-3-8B, Qwen1.5-7B), so nothing is downloaded; the tokenizers are the
harness's tiny ones (``qa_models.tiny``), whose ids are valid for every full-size vocabulary.
What it measures, through the harness's own code (``training.training_arguments``,
``training.apply_lora``, ``training.quantization_kwargs`` via ``generative._load_causal_lm``,
``generative.AnswerOnlyCollator`` / ``DataCollatorWithFlattening``, ``GenerativeAdapter.predict``,
``cost.training_flops`` and ``cost.this_machine`` for MFU):

1. ``bert/*``: bert-base span training at seq 384, batch 16 (the seed profile's), full windows:
   tokens/s and MFU (model FLOPs (4N + 2N_t)·T over the device's dense bf16 peak), the fast
   path (bf16 autocast, SDPA, fused AdamW) vs the plain one (as the harness loads it) vs plain
   with fp32 weights.
2. ``llama3-8b/*``, ``qwen1.5-7b/*``: LoRA r16 all-linear training steps, seq <= 512, batch 4
   (prompt lengths drawn between 128 and 512, loss on the last 8 tokens): peak CUDA memory and
   real tokens/s; gradient checkpointing off/on; padding-free packing (flattened rows with
   ``position_ids``, on flash_attention_2 when installed, else flex_attention: the kernels the
   harness's ``packing_plan`` packs on); liger-kernel's fused linear cross-entropy; QLoRA
   (NF4 + double quantisation, loaded with ``from_pretrained`` from a saved random model)
   with checkpointing on (the seed profile's setting) and off.
3. ``llama3-8b/generate/*``: ``GenerativeAdapter.predict`` (batched greedy decoding, KV cache)
   at batch 1 vs the harness's eval batch (``TrainSpec.eval_batch_size``): questions/s.
4. ``report/device_row``: the harness's tiny profile (bert-span) trained on this device by
   ``pytest bench/test_squad.py``, the report rebuilt by ``python -m qa_models.report``, and
   what its text says about the device (the GPU-hours wording, the train-device cells).

Every measurement is guarded: a failure is recorded with its error and the rest still run;
CUDA memory is freed between groups. ``--budget-s`` stops cleanly: an item whose estimated
duration no longer fits is recorded as "skipped: time budget", and a training item stops
early at its own deadline. Without CUDA every GPU-only item is "skipped: no CUDA device".
``--tiny`` swaps in tiny shapes (2 layers, hidden 64) so the whole check runs on a CPU in
seconds (CI). Output: ``gpu_check.json`` and ``gpu_check.md`` in ``--out`` (plus the
harness report's ``harness_report.md``).

This script parses the arguments, runs the items within the budget and writes the result; the
items themselves are in ``bench/gpu_items.py``, model building and step timing in
``bench/gpu_steps.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import os
import platform
import shutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# After the path insert: run as a script, this file must import the checkout's qa_models
# (and its bench/ siblings, as the package ``bench``).
from bench.gpu_items import NO_CUDA, GpuCheck, Item, Skip  # noqa: E402
from bench.gpu_steps import free_memory, gib  # noqa: E402
from qa_models.device import detect  # noqa: E402
from qa_models.formatting import markdown_table  # noqa: E402

SCHEMA_VERSION = 1
SKIPPED_BUDGET = "skipped: time budget"
VERSION_PACKAGES = (
    "torch", "transformers", "peft", "accelerate", "bitsandbytes", "liger-kernel", "datasets",
    "pyarrow", "fsspec", "triton", "flash-attn", "numpy",
)


# ---------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def commit() -> tuple[str | None, str]:
    """The checkout's commit (``run_metadata.git_commit``), else $QABENCH_COMMIT (a copy of the tree
    without its .git folder), else None."""
    try:
        from qa_models.run_metadata import git_commit

        found = git_commit()
    except Exception:  # noqa: BLE001
        found = None
    if found:
        return found, "git"
    if os.environ.get("QABENCH_COMMIT"):
        return os.environ["QABENCH_COMMIT"], "QABENCH_COMMIT"
    return None, "unknown (no git checkout, QABENCH_COMMIT unset)"


def device_info() -> dict[str, Any]:
    import torch

    from qa_models import cost

    machine = cost.this_machine()
    found = detect()
    info: dict[str, Any] = {
        "name": found.name,
        "cuda": found.kind == "cuda",
        "cost_table_key": machine.key,
        "bf16_peak_flops": machine.bf16_flops,
        "peak_source": machine.source,
    }
    if found.kind == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(
            memory_gib=gib(props.total_memory),
            multiprocessors=props.multi_processor_count,
            capability=f"{props.major}.{props.minor}",
            torch_cuda=torch.version.cuda,
            bf16_supported=torch.cuda.is_bf16_supported(),
        )
    return info


# ---------------------------------------------------------------------------------------
# Running the items within the budget
# ---------------------------------------------------------------------------------------


def run_items(check: GpuCheck) -> dict[str, Any]:
    """Run every item in order within ``check``'s time budget and return their records; an
    item that no longer fits, is not selected, or needs CUDA here is recorded as skipped."""
    records = []
    for item in check.items():
        record: dict[str, Any] = {"name": item.name, "what": item.what, "gpu_only": item.gpu_only}
        if check.only and not check.only.search(item.name):
            record.update(status="skipped", reason="skipped: not selected by --only")
        elif item.gpu_only and not check.cuda:
            record.update(status="skipped", reason=NO_CUDA)
        elif check.remaining() < item.estimate_s:
            record.update(status="skipped", reason=SKIPPED_BUDGET,
                          detail=f"{check.remaining():.0f} s left of {check.budget_s:.0f} s, item needs ~{item.estimate_s:.0f} s")
        else:
            _run_item(check, item, record)
        records.append(record)
    check.release()
    shutil.rmtree(check.work, ignore_errors=True)
    return {"measurements": records, "elapsed_s": round(check.elapsed(), 1)}


def _run_item(check: GpuCheck, item: Item, record: dict[str, Any]) -> None:
    """Run one item under its own deadline and record its result, skip or failure in ``record``.

    Models are shared within a group and freed when the group changes; an out-of-memory
    failure frees them at once so that the next item starts clean."""
    if check.group != item.group:
        check.release()
        check.group = item.group
    check.item_deadline = time.perf_counter() + min(check.s.item_limit_s, max(5.0, check.remaining()))
    started = time.perf_counter()
    print(f"gpu_check: {item.name} ({check.elapsed():.0f} s in)", file=sys.stderr, flush=True)
    try:
        record.update(status="ok", result=item.run())
    except Skip as why:
        record.update(status="skipped", reason=str(why))
    except Exception as error:  # noqa: BLE001 - every failure is a finding
        record.update(status="failed", error=f"{type(error).__name__}: {error}"[:2000],
                      traceback=traceback.format_exc()[-3000:])
        if "out of memory" in str(error).lower():
            check.release()
            check.group = None
    record["seconds"] = round(time.perf_counter() - started, 2)
    free_memory()


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    d, v = report["device"], report["versions"]
    lines = [
        f"# GPU check ({'tiny shapes' if report['tiny'] else 'full-size shapes, random weights'})",
        "",
        f"- device: **{d.get('name')}** (cost table: {d.get('cost_table_key')}, bf16 peak "
        f"{_fmt((d.get('bf16_peak_flops') or 0) / 1e12 or None, 0)} TFLOP/s), commit `{report['commit']}`",
        "- versions: " + ", ".join(f"{k} {v[k] or 'missing'}" for k in v),
        f"- budget {report['budget_s']:.0f} s, elapsed {report['elapsed_s']:.0f} s; started {report['started']}",
        "",
    ]
    rows = []
    for m in report["measurements"]:
        r = m.get("result") or {}
        notes = m.get("reason") or (m.get("error") or "")[:160]
        if r:
            bits = []
            if "weights_dtype" in r:
                bits.append(f"{r['weights_dtype']}, bf16 autocast {r['bf16_autocast']}, {r['optimizer']}")
            if "attention" in r:
                bits.append(f"attn {r['attention']}")
            if r.get("loss_finite") is False:
                bits.append("NON-FINITE LOSS")
            if r.get("stopped_early_at_item_deadline"):
                bits.append("stopped at item deadline")
            if "answer_cost_phrase" in r:
                bits.append(f"cost phrase '{r['answer_cost_phrase']}'; GPU-hours wording present: {r['gpu_hours_wording_present']}")
            if "batch_size" in r and "questions_per_s" in r:
                bits.append(f"batch {r['batch_size']}, {r['questions']} questions")
            notes = "; ".join(bits)
        mfu = r.get("mfu")
        rows.append([
            m["name"], m["status"], _fmt(r.get("tokens_per_s"), 0),
            _fmt(None if mfu is None else 100 * mfu) + ("%" if mfu is not None else ""),
            _fmt(r.get("peak_memory_gib"), 2), _fmt(r.get("questions_per_s"), 2), notes,
        ])
    numbers = ["tokens/s", "MFU", "peak GiB", "q/s"]
    table = markdown_table(["measurement", "status", *numbers, "notes"], rows, right_aligned=numbers)
    return "\n".join(lines) + "\n" + table + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for gpu_check.json and gpu_check.md")
    parser.add_argument("--budget-s", type=float, default=450.0, help="stop starting items after this many seconds (default 450)")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes (2 layers, hidden 64): runs on a CPU in seconds")
    parser.add_argument("--only", default=None, help="run only measurements whose name matches this regex (others: skipped)")
    parser.add_argument("--work-dir", default=None, help="scratch folder for saved random models (default: the system temp dir)")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    found, source = commit()
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": "bench/gpu_check.py",
        "started": started,
        "tiny": args.tiny,
        "budget_s": args.budget_s,
        "commit": found,
        "commit_source": source,
        "versions": versions(),
        "platform": platform.platform(),
    }
    try:
        report["device"] = device_info()
    except Exception as error:  # noqa: BLE001
        report["device"] = {"name": None, "error": f"{type(error).__name__}: {error}"}
    check = GpuCheck(out, args.budget_s, args.tiny, args.only, args.work_dir)
    report["settings"] = dataclasses.asdict(check.s)
    report.update(run_items(check))
    counts: dict[str, int] = {}
    for m in report["measurements"]:
        counts[m["status"]] = counts.get(m["status"], 0) + 1
    report["summary"] = counts
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "gpu_check.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
