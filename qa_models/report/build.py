"""Writing a run directory: ``results.json`` (through :func:`qa_models.results.write_results`,
its only producer), then ``results.csv``, ``report.md``, ``report.html`` and the plots, all
rebuilt from that file alone.

Rebuilding from the same ``results.json`` gives byte-identical outputs: nothing here reads
the clock, the bootstrap is seeded, and PNG metadata is stripped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import results as schema
from ..files import atomic_write_bytes, atomic_write_json, atomic_write_text
from ..results import RESULTS_JSON, Results
from .frame import all_stats, csv_bytes, pairs, results_frame
from .plots import PLOT_FILES, render_plots
from .render import render_html, render_md
from .schema import ReportError, as_results, load_results, plain_json
from .sections import report_blocks
from .stats import DEFAULT_RESAMPLES, DEFAULT_SEED

RESULTS_CSV = "results.csv"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
INVALID_JSON = "results.invalid.json"


@dataclass(frozen=True)
class Paths:
    """Everything :func:`write_run` / :func:`build_report` wrote into a run directory."""

    run_dir: Path
    results_json: Path
    results_csv: Path
    report_md: Path
    report_html: Path
    plots: dict[str, Path] = field(default_factory=dict)
    """Plot key (see ``PLOT_FILES``) -> PNG path, for the plots that had data."""
    skipped_plots: dict[str, str] = field(default_factory=dict)
    """Plot key -> why it was skipped (also noted in the report)."""


def _write_plots(run_path: Path, plots: dict[str, bytes], skipped: dict[str, str]) -> dict[str, Path]:
    written: dict[str, Path] = {}
    for key, png in plots.items():
        written[key] = run_path / PLOT_FILES[key]
        atomic_write_bytes(written[key], png)
    # A stale PNG from an earlier build would no longer match the report.
    for key in skipped:
        (run_path / PLOT_FILES[key]).unlink(missing_ok=True)
    return written


def _tensorboard(run_path: Path, models: list[dict]) -> tuple[str, list[str]]:
    """The run folder as ``tensorboard --logdir`` takes it from the reports' parent, and the
    models trained in this run with a ``tb/`` folder (runner.train_or_load, report_to tensorboard)."""
    logdir = f"{run_path.resolve().parent.name}/{run_path.name}"
    return logdir, [m["name"] for m in models if (run_path / m["name"] / "tb").is_dir()]


def build_report(run_dir: str | os.PathLike[str], *, n_resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED) -> Paths:
    """Rebuild results.csv, report.md, report.html and the plots from ``run_dir/results.json``.

    Deterministic: the same results.json (and matplotlib version) gives the same bytes.
    Plots whose data is missing are skipped with a note in the report, and a stale PNG of
    that name from an earlier build is removed so the directory matches the report.
    """
    run_path = Path(run_dir)
    if run_path.suffix == ".json" and run_path.is_file():
        run_path = run_path.parent
    results = load_results(run_path)
    models = results["models"]
    stats = all_stats(models, n_resamples, seed)
    pairs_frame = pairs(models, stats, n_resamples, seed)
    plots, skipped = render_plots(results, stats)
    written = _write_plots(run_path, plots, skipped)
    atomic_write_bytes(run_path / RESULTS_CSV, csv_bytes(results_frame(results, stats)))
    blocks = report_blocks(results, stats, pairs_frame, plots, skipped, n_resamples, seed,
                           _tensorboard(run_path, models))
    atomic_write_text(run_path / REPORT_MD, render_md(blocks))
    atomic_write_text(run_path / REPORT_HTML, render_html(blocks, f"qabench report: {results['run']['run_id'] or 'unnamed run'}"))
    return Paths(run_path, run_path / RESULTS_JSON, run_path / RESULTS_CSV, run_path / REPORT_MD,
                 run_path / REPORT_HTML, written, skipped)


def write_run(run_dir: str | os.PathLike[str], results: Results | Mapping[str, Any], *,
              n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Paths:
    """Write ``results.json`` (schema version 3) and build every report file from it.

    ``results`` is a :class:`qa_models.results.Results` or its JSON object as a plain dict;
    a dict may hold numpy scalars and arrays, tuples and NaN (converted to JSON, NaN to
    null) and is validated first. The report is built from the file just written, not from
    ``results``, so ``python -m qa_models.report run_dir`` later gives the same bytes.

    Invalid input raises :class:`ReportError` and writes neither results.json nor a report;
    the data is saved to ``results.invalid.json`` instead, so that hours of training are
    not lost to a schema slip.
    """
    run_path = Path(run_dir)
    source = str(run_path / RESULTS_JSON)
    if isinstance(results, Results):
        typed = results
    else:
        plain = plain_json(results)
        try:
            typed = as_results(plain, source)
        except ReportError as error:
            rescue = run_path / INVALID_JSON
            atomic_write_json(rescue, plain)
            raise ReportError(f"{error} (the data was saved to {rescue} for inspection)") from None
    schema.write_results(run_path, typed)
    return build_report(run_path, n_resamples=n_resamples, seed=seed)
