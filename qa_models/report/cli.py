"""The command line: ``python -m qa_models.report RUN_DIR`` rebuilds one run's report from
its results.json; ``--compare A B [...]`` puts runs side by side. It lives here rather than
in ``__main__`` so the package can re-export :func:`main` without importing ``__main__``
twice (runpy warns when ``-m`` finds the module already imported)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .build import build_report
from .compare import write_compare
from .plots import PLOT_FILES
from .schema import ReportError
from .stats import DEFAULT_RESAMPLES, DEFAULT_SEED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m qa_models.report",
        description="Rebuild a qabench run's report (results.csv, report.md, report.html, plots) from its results.json, "
                    "or compare several runs side by side.",
    )
    parser.add_argument("run_dir", nargs="?", help="run directory holding results.json (e.g. reports/<run-id>), or the results.json file itself")
    parser.add_argument("--compare", nargs="+", metavar="RUN_DIR",
                        help="compare two or more run directories: align models by name, write compare.md and print it")
    parser.add_argument("--out", metavar="DIR",
                        help="with --compare: folder for compare.md (default: a 'compare' folder beside the first run directory)")
    parser.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES,
                        help=f"bootstrap resamples for confidence intervals (default {DEFAULT_RESAMPLES}; changing it changes the report)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"bootstrap seed (default {DEFAULT_SEED}; fixed so rebuilds are byte-identical)")
    return parser


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.compare and args.run_dir:
        parser.error("give either RUN_DIR or --compare, not both")
    if not args.compare and not args.run_dir:
        parser.error("give a run directory, or --compare RUN_DIR RUN_DIR [...]")
    if args.out and not args.compare:
        parser.error("--out only applies to --compare (a run's report is written into its own directory)")
    if args.resamples < 1:
        parser.error("--resamples must be positive")
    if args.compare and len(args.compare) < 2:
        parser.error("--compare needs at least two run directories")


def _compare(args: argparse.Namespace) -> None:
    out = Path(args.out) if args.out else Path(args.compare[0]).resolve().parent / "compare"
    path, comparison = write_compare(args.compare, out, n_resamples=args.resamples, seed=args.seed)
    sys.stdout.write(comparison.markdown)
    print(f"\nwrote {path}", file=sys.stderr)


def _rebuild(args: argparse.Namespace) -> None:
    paths = build_report(args.run_dir, n_resamples=args.resamples, seed=args.seed)
    for p in (paths.results_csv, paths.report_md, paths.report_html, *paths.plots.values()):
        print(p)
    for key, why in paths.skipped_plots.items():
        print(f"skipped {PLOT_FILES[key]}: {why}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit status (1 on a :class:`ReportError`)."""
    parser = _parser()
    args = parser.parse_args(argv)
    _check(parser, args)
    try:
        _compare(args) if args.compare else _rebuild(args)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
