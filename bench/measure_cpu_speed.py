"""Measure the span fast path against the plain baseline on a CPU with the real MiniLM encoder.

One run = a fresh MiniLM (``profiles.minilm_profile``) trained for a fixed budget on the first
N questions of the shared SQuAD v2 train slice, then scored on the first M questions of
``dev-v2.0-val.json``. "plain" pads every window to max_seq_length and samples at random;
"fast" pads each batch to its longest window and groups windows of similar length
(``TrainSpec.fast``). Runs alternate (plain, fast, plain, fast by default) because other
processes share the cores; every run is its own subprocess, so the peak RSS of one run is
not the high-water mark of an earlier one. Each run also times plain and fast *prediction*
on the same trained weights and checks that both give the same answers.

Example (what produced docs/BENCHMARKS.md)::

    python bench/measure_cpu_speed.py --train-samples 800 --eval-samples 300 --order plain,fast,plain,fast \
        --output-dir reports/cpu-speed

Writes ``measurements.json``, ``measurements.csv`` and ``summary.md`` to ``--output-dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time MiniLM span training and prediction, fast path vs plain (pad to max length), on this CPU.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--train-samples", type=int, default=800,
                        help="train on the first N questions of the shared train slice (train-v2.0-first10.json)")
    parser.add_argument("--eval-samples", type=int, default=300,
                        help="score and time prediction on the first N questions of dev-v2.0-val.json")
    parser.add_argument("--epochs", type=float, default=1.0, help="training epochs per run")
    parser.add_argument("--batch-size", type=int, default=32, help="training windows per step (the minilm profile's)")
    parser.add_argument("--eval-batch-size", type=int, default=64, help="windows per forward pass at prediction time")
    parser.add_argument("--lr", type=float, default=5e-5, help="peak learning rate (the minilm profile's)")
    parser.add_argument("--max-seq-length", type=int, default=384, help="tokens per window; plain pads every window to it")
    parser.add_argument("--seed", type=int, default=42, help="seed for the QA head's initialisation and the data order")
    parser.add_argument("--order", default="plain,fast,plain,fast",
                        help="comma-separated configurations to run, in order (each 'plain' or 'fast'); alternate them "
                             "so background load falls on both")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads per run (default: torch's own choice, one per core)")
    parser.add_argument("--data-dir", default=None,
                        help="folder holding squad_v2/ (default: $QABENCH_DATA_DIR or ../shared/data beside the repo)")
    parser.add_argument("--output-dir", default=str(REPO_ROOT / "reports" / "cpu-speed"),
                        help="where measurements.json, measurements.csv and summary.md are written")
    parser.add_argument("--single", choices=["plain", "fast"], default=None,
                        help="internal: run one configuration in this process and "
                             "write its JSON to --json-out (the parent uses it; you rarely need it)")
    parser.add_argument("--json-out", default=None, help="internal: where --single writes its result")
    args = parser.parse_args(argv)
    configs = [c.strip() for c in args.order.split(",") if c.strip()]
    bad = [c for c in configs if c not in ("plain", "fast")]
    if bad or not configs:
        parser.error(f"--order takes a comma-separated list of 'plain' and 'fast', got {args.order!r}")
    args.configs = configs
    return args


def _data_files(args: argparse.Namespace) -> tuple[Path, Path]:
    from qa_models.profiles import shared_data_dir

    root = Path(args.data_dir) if args.data_dir else shared_data_dir()
    train, val = root / "squad_v2" / "train-v2.0-first10.json", root / "squad_v2" / "dev-v2.0-val.json"
    for path in (train, val):
        if not path.is_file():
            sys.exit(f"{path} is missing: pass --data-dir (the shared data folder) or set QABENCH_DATA_DIR")
    return train, val


def run_single(args: argparse.Namespace) -> dict:
    """Train one fresh MiniLM with one configuration; time prediction both ways on its weights."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    train, val = _slices(args)
    adapter, train_spec = _fresh_adapter(args)
    load_before = os.getloadavg()
    cpu_before = time.process_time()  # CPU seconds of this process, all threads: less sensitive to other load
    with tempfile.TemporaryDirectory(prefix="qabench-cpu-speed-") as tmp:
        result = adapter.train(train, [], train_spec, tmp)
    cpu_seconds = time.process_time() - cpu_before
    load_after = os.getloadavg()
    return {
        "config": args.single,
        **_training_row(result, len(train), cpu_seconds),
        **_prediction_row(adapter, val, args.eval_batch_size),
        "load_avg_1min_before": load_before[0],
        "load_avg_1min_after": load_after[0],
        "torch_threads": torch.get_num_threads(),
        "device": result.device,
    }


def _slices(args: argparse.Namespace) -> tuple[list[Any], list[Any]]:
    """The first ``--train-samples`` training and ``--eval-samples`` validation questions."""
    from qa_models.data import load_examples

    train_file, val_file = _data_files(args)
    train = load_examples(str(train_file), split="train").examples[: args.train_samples]
    val = load_examples(str(val_file), split="validation").examples[: args.eval_samples]
    return train, val


def _fresh_adapter(args: argparse.Namespace) -> tuple[Any, Any]:
    """A fresh MiniLM span adapter at ``--max-seq-length`` and the TrainSpec of ``--single``."""
    import dataclasses

    import torch

    from qa_models.adapters import create_adapter
    from qa_models.config import TrainSpec
    from qa_models.profiles import minilm_profile

    spec = dataclasses.replace(minilm_profile().models[0], max_seq_length=args.max_seq_length)
    train_spec = TrainSpec(
        epochs=args.epochs, learning_rate=args.lr, batch_size=args.batch_size, eval_batch_size=args.eval_batch_size,
        logging_steps=10, seed=args.seed, eval_every_epoch=False, fast=args.single == "fast",
    )
    torch.manual_seed(args.seed)  # the same QA-head initialisation in every run
    return create_adapter(spec), train_spec


def _training_row(result: Any, n_questions: int, cpu_seconds: float) -> dict:
    """The training columns of a row, from the adapter's TrainResult."""
    losses = [p["loss"] for p in result.history["loss"]]
    return {
        "train_questions": n_questions,
        "train_windows": round(result.examples_per_s * result.wall_time_s / result.epochs),
        "epochs": result.epochs,
        "train_wall_s": result.wall_time_s,
        "train_cpu_s": cpu_seconds,
        "train_windows_per_s": result.examples_per_s,
        "train_real_tokens_per_s": result.tokens_per_s,
        "train_real_tokens": round(result.tokens_per_s * result.wall_time_s / result.epochs),
        "train_questions_per_s": n_questions * result.epochs / result.wall_time_s,
        "peak_rss_bytes": result.peak_memory_bytes,
        "memory_kind": result.memory_kind,
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
    }


def _prediction_row(adapter: Any, val: list[Any], batch_size: int) -> dict:
    """Prediction timed plain and fast on the same weights, whether they agree, and the
    validation scores of the fast one."""
    from qa_models.runner import score

    timings = {}
    predictions = {}
    for mode in ("plain", "fast"):
        start = time.perf_counter()
        predictions[mode] = adapter.predict(val, batch_size=batch_size, fast=mode == "fast")
        timings[mode] = time.perf_counter() - start
    plain, fast = predictions["plain"], predictions["fast"]
    scores = score("squad_v2", val, fast.answers, fast.na_probs)
    return {
        "eval_questions": len(val),
        "predict_plain_s": timings["plain"],
        "predict_fast_s": timings["fast"],
        "predict_plain_questions_per_s": len(val) / timings["plain"],
        "predict_fast_questions_per_s": len(val) / timings["fast"],
        "predict_same_answers": plain.answers == fast.answers,
        "predict_max_na_prob_diff": max(abs(plain.na_probs[q] - fast.na_probs[q]) for q in fast.na_probs),
        "val_best_f1": scores["best_f1"],
        "val_best_exact": scores["best_exact"],
        "val_f1_no_threshold": scores["f1"],
        "val_has_ans_f1_no_threshold": scores.get("HasAns_f1"),
        "val_no_answer_share": scores.get("NoAns_total", 0) / scores["total"],
    }


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return platform.processor() or platform.machine()


def _summary(rows: list[dict], meta: dict) -> str:
    import pandas as pd

    from qa_models.formatting import markdown_frame

    frame = pd.DataFrame(rows)
    mean = frame.groupby("config").mean(numeric_only=True)
    lines = [
        f"# MiniLM span training on CPU: fast vs plain ({meta['date']})",
        "",
        f"- machine: {meta['cpu_model']}, {meta['cpu_count']} cores; torch threads {rows[0]['torch_threads']}",
        f"- git commit: {meta['git_commit']}",
        f"- command: `{meta['command']}`",
        "",
        markdown_frame(frame[[
            "run", "config", "train_wall_s", "train_cpu_s", "train_windows_per_s", "train_real_tokens_per_s", "peak_rss_bytes",
            "predict_plain_questions_per_s", "predict_fast_questions_per_s", "predict_same_answers",
            "val_best_f1", "val_best_exact", "load_avg_1min_before", "load_avg_1min_after",
        ]], number_format=".4g"),
        "",
    ]
    if {"plain", "fast"} <= set(mean.index):
        ratio = mean.loc["plain", "train_wall_s"] / mean.loc["fast", "train_wall_s"]
        lines.append(f"Mean training-epoch speed-up, fast over plain (plain wall time / fast wall time): **{ratio:.2f}x**")
        cpu_ratio = mean.loc["plain", "train_cpu_s"] / mean.loc["fast", "train_cpu_s"]
        lines.append(f"Same ratio in CPU seconds of the training process: **{cpu_ratio:.2f}x**")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.single:
        payload = run_single(args)
        Path(args.json_out).write_text(json.dumps(payload, indent=2))
        return 0

    _data_files(args)  # fail before the first run, not in it
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    from qa_models.run_metadata import git_commit

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "git_commit": git_commit(),
        "command": " ".join(["python", "bench/measure_cpu_speed.py", *(argv if argv is not None else sys.argv[1:])]),
        "args": {k: v for k, v in vars(args).items() if k not in ("single", "json_out")},
    }
    rows: list[dict] = []
    passthrough = [
        "--train-samples", str(args.train_samples), "--eval-samples", str(args.eval_samples), "--epochs", str(args.epochs),
        "--batch-size", str(args.batch_size), "--eval-batch-size", str(args.eval_batch_size), "--lr", str(args.lr),
        "--max-seq-length", str(args.max_seq_length), "--seed", str(args.seed),
    ]
    if args.threads:
        passthrough += ["--threads", str(args.threads)]
    if args.data_dir:
        passthrough += ["--data-dir", args.data_dir]
    for run, config in enumerate(args.configs, start=1):
        target = out / f"run{run}-{config}.json"
        print(f"[{time.strftime('%H:%M:%S')}] run {run}/{len(args.configs)}: {config} (load {os.getloadavg()[0]:.2f})", flush=True)
        subprocess.run([sys.executable, __file__, *passthrough, "--single", config, "--json-out", str(target)], check=True)
        row = {"run": run, **json.loads(target.read_text())}
        rows.append(row)
        print(f"    train {row['train_wall_s']:.1f} s, {row['train_real_tokens_per_s']:.0f} real tokens/s, "
              f"val best F1 {row['val_best_f1']:.2f}", flush=True)
        (out / "measurements.json").write_text(json.dumps({"meta": meta, "runs": rows}, indent=2))

    import pandas as pd

    pd.DataFrame(rows).to_csv(out / "measurements.csv", index=False)
    summary = _summary(rows, meta)
    (out / "summary.md").write_text(summary)
    print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
