"""Recipe: fine-tune one model of a profile and score it, top to bottom.

    python -m qa_models.train --profile tiny --model bert-span --out runs/bert
    python -m qa_models.train --config configs/bert/tiny_span.yaml --out runs/bert
    torchrun --nproc_per_node 2 -m qa_models.train --profile tiny --model bert-span --out runs/ddp
    accelerate launch --config_file configs/accelerate/ddp.yaml -m qa_models.train ...

setup (profile, data) -> estimate cost -> train (or load the cached checkpoint; a killed
run resumes from its last Trainer checkpoint) -> save -> tune the no-answer threshold on
validation -> score test -> write predictions and metrics -> probes, inference speed,
abstention, tokenizer coverage, cross-lingual score -> results.json and the report in
``--out``. The steps are ``runner.run_row``, the same recipe the bench suites run; this
file is that path for one model from a shell, and the entry point for
``torchrun``/``accelerate launch`` (the Trainer handles DDP).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import ConfigError, Profile
from .cost import CostError
from .data import DataError
from .errors import QABenchOutOfMemory
from .profiles import PROFILES, ProfileError, check_needs, get_profile, with_overrides
from .run_config import profile_from_configs
from .files import atomic_write_json
from .results import ModelResult
from .runner import RunData, git_commit, load_run_data, now_utc, run_row, write_run_results
from .training import REPORT_TO, check_report_to, default_report_to


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m qa_models.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="tiny", choices=sorted(PROFILES), help="profile that defines models, data and hyper-parameters")
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="YAML config of one row (configs/<family>/<size>_<method>.yaml) instead of --profile/--model; "
                             "the options below still override it")
    parser.add_argument("--model", default=None, help="name of one model of the profile, e.g. bert-span (required without --config)")
    parser.add_argument("--out", required=True, help="folder for predictions.json, na_probs.json, metrics.json, predictions.csv")
    parser.add_argument("--cache-dir", default=".cache/checkpoints", help="cache of trained checkpoints (and in-progress Trainer checkpoints)")
    parser.add_argument("--report-to", choices=REPORT_TO, default=None,
                        help="where the Trainer logs the loss and per-epoch validation EM/F1: tensorboard writes <out>/tb/ "
                             "(tensorboard --logdir <out>), wandb needs pip install wandb. Default: tensorboard when installed, else none")
    parser.add_argument("--epochs", type=float, default=None, help="override the profile's epochs")
    parser.add_argument("--lr", type=float, default=None, help="override the profile's learning rate")
    parser.add_argument("--batch-size", type=int, default=None, help="override the training batch size per device")
    parser.add_argument("--seed", type=int, default=None, help="override the seed")
    parser.add_argument("--train-file", default=None, help="training data file or hub id")
    parser.add_argument("--validation-file", default=None, help="validation data file or hub id")
    parser.add_argument("--test-file", default=None, help="test data file or hub id")
    parser.add_argument("--max-train-samples", type=int, default=None, help="use N training questions, a seeded random sample kept in file order (quick runs)")
    parser.add_argument("--quantize", choices=["none", "4bit"], default=None, help="4bit: QLoRA base (CUDA + bitsandbytes)")
    parser.add_argument("--plain", action="store_true", help="plain baseline: pad to max length, fp32, no length grouping")
    parser.add_argument("--skip-bad-records", action="store_true", default=None, help="skip invalid records instead of stopping")
    parser.add_argument("--repair-offsets", action="store_true", default=None, help="repair answer_start values that miss their text")
    parser.add_argument("--drop-answers-not-in-context", action="store_true", default=None,
                        help="drop only an answer whose text is nowhere in its context, keeping its question when another answer is valid")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.config and not args.model:
        parser.error("give --model NAME (a row of --profile) or --config FILE")

    # -- setup ------------------------------------------------------------------------
    started, commit = now_utc(), git_commit()  # the code that ran, read before a long run
    try:
        base = profile_from_configs([args.config]) if args.config else get_profile(args.profile)
        profile = with_overrides(
            base,
            models=[args.model] if args.model else None,
            epochs=args.epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
            train_file=args.train_file,
            validation_file=args.validation_file,
            test_file=args.test_file,
            max_train_samples=args.max_train_samples,
            quantize=args.quantize,
            fast=False if args.plain else None,
            skip_bad_records=args.skip_bad_records,
            repair_offsets=args.repair_offsets,
            drop_answers_not_in_context=args.drop_answers_not_in_context,
        )
        check_needs(profile)
        report_to = check_report_to(args.report_to or default_report_to())
        data = load_run_data(profile.data, profile.train.seed)
    except (ProfileError, ConfigError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    spec, out = profile.models[0], Path(args.out)

    # -- the row: train (or load the cached checkpoint) -> score -> files -> probes -> measure
    # run_row seeds before building the model. Under DDP every rank trains; only the main
    # process gets a row back, and it alone scores and writes the results.
    try:
        row = run_row(spec, profile, data, out, cache_dir=args.cache_dir, report_to=report_to,
                      log_dir=out / "tb", model_dir=out)
    except (QABenchOutOfMemory, CostError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    if row is None:
        return 0

    # -- results: summary.json for scripts, results.json and the report as the bench writes them
    write_outputs(out, profile, data, row, started, commit)
    return 0


def write_outputs(out: Path, profile: Profile, data: RunData, row: ModelResult, started: str, commit: str | None) -> None:
    """summary.json (the few numbers scripts read) and, through ``runner.write_run_results``,
    results.json and the report, as the bench writes them for a run of one model."""
    summary = {
        "model": row.name,
        "cached": bool(row.train and row.train.cached),
        "checkpoint": row.train.checkpoint if row.train else None,
        "threshold": row.threshold,
        "validation": row.validation,
        "test": row.test,
        "train_wall_time_s": row.train.wall_time_s if row.train else None,
    }
    atomic_write_json(out / "summary.json", summary)
    print(json.dumps(summary, indent=2))
    try:
        write_run_results(out, profile, data, [row], started, commit)
    except Exception as error:  # noqa: BLE001 - results.json is written first; the report rebuilds from it
        print(f"warning: results.json written to {out}, but the report failed: {error}\n"
              f"rebuild it with: python -m qa_models.report {out}", file=sys.stderr)

if __name__ == "__main__":
    sys.exit(main())
