"""Recipe: fine-tune one model of a profile and score it, top to bottom.

    python -m qa_models.train --profile tiny --model bert-span --out runs/bert
    python -m qa_models.train --config configs/bert/tiny_span.yaml --out runs/bert
    torchrun --nproc_per_node 2 -m qa_models.train --profile tiny --model bert-span --out runs/ddp
    accelerate launch --config_file configs/accelerate/ddp.yaml -m qa_models.train ...

setup (profile, data) -> estimate cost -> train (or load the cached checkpoint; a killed
run resumes from its last Trainer checkpoint) -> save -> tune the no-answer threshold on
validation -> score test -> write predictions and metrics. The bench suites run the same
steps through ``qa_models.runner``; this file is the same path for one model from a shell,
and the entry point for ``torchrun``/``accelerate launch`` (the Trainer handles DDP).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .config import ConfigError
from .cost import CostError
from .data import DataError
from .errors import QABenchOutOfMemory
from .options import add_train_arguments, profile_from
from .profiles import ProfileError, check_needs
from .runner import evaluate, is_main_process, load_run_data, train_or_load, write_model_files
from .training import check_report_to, default_report_to


def build_parser() -> argparse.ArgumentParser:
    """The flags of qa_models/options.py's table, the same options as pytest's --qa-* ones."""
    parser = argparse.ArgumentParser(prog="python -m qa_models.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not args.config and not args.models:
            parser.error("give --model NAME (a row of --profile) or --config FILE")
    except SystemExit as stop:
        # A bad value (e.g. --report-to wandb without its package) is rejected while parsing;
        # main still returns the status, so in-process callers get 2 as from any setup error.
        return stop.code

    # -- setup ------------------------------------------------------------------------
    try:
        profile = profile_from(vars(args))
        if len(profile.models) != 1:
            raise ConfigError(f"train.py trains one model; pick one with --model NAME, one of {[m.name for m in profile.models]}")
        check_needs(profile)
        report_to = check_report_to(args.report_to or default_report_to())
        data = load_run_data(profile.data, profile.train.seed)
    except (ProfileError, ConfigError, DataError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    spec = profile.models[0]

    # -- train (or load the cached checkpoint) ------------------------------------------
    # train_or_load seeds before building the model. Under DDP every rank trains; only the
    # main process writes the cache entry, scores and writes the results.
    try:
        trained = train_or_load(spec, profile.train, data, args.cache_dir, profile.data.track,
                                report_to=report_to, log_dir=Path(args.out) / "tb")
    except (QABenchOutOfMemory, CostError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    if not is_main_process():
        return 0

    # -- score: threshold tuned on validation, applied to test ---------------------------
    evaluation = evaluate(trained.adapter, data, profile.data.track, profile.train.eval_batch_size)
    out = write_model_files(args.out, evaluation)
    summary = {
        "model": spec.name,
        "cached": trained.cached,
        "checkpoint": str(trained.checkpoint) if trained.checkpoint else None,
        "threshold": evaluation.threshold,
        "validation": evaluation.validation,
        "test": evaluation.test,
        "train_wall_time_s": trained.train_result.wall_time_s if trained.train_result else None,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
