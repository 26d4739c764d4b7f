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
from .files import atomic_write_json
from .options import add_train_arguments, profile_from
from .profiles import ProfileError, check_needs
from .results import ModelResult
from .run_metadata import git_commit, now_utc
from .runner import RunData, load_run_data, run_row, write_run_results
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
    started, commit = now_utc(), git_commit()  # the code that ran, read before a long run
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
    write_run_results(out, profile, data, [row], started, commit)


if __name__ == "__main__":
    sys.exit(main())
