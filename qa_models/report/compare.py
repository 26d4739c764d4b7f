"""Runs side by side: models aligned by name, test F1 and EM with their bootstrap CIs, and
a flag wherever two runs' 95% CIs do not overlap."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..files import atomic_write_text
from ..formatting import DASH, format_duration
from . import cells
from .frame import ModelStats, all_stats, metric
from .render import Block, Heading, Note, Para, Table, render_md
from .schema import ReportError, is_zero_shot, load_results, section, train_of
from .stats import DEFAULT_RESAMPLES, DEFAULT_SEED, intervals_overlap

COMPARE_MD = "compare.md"

Entry = tuple[str, dict | None, ModelStats | None]
"""(run label, the model's row in that run or None, its statistics)."""


@dataclass(frozen=True)
class Comparison:
    """Runs side by side. ``table`` is long-format: one row per (model, metric)."""

    markdown: str
    table: pd.DataFrame
    flagged: list[tuple[str, str, str, str]]
    """(model, metric, run label, run label) for every pair of runs whose 95% CIs do not overlap."""


def _labels(run_dirs: Sequence[str | os.PathLike[str]], runs: list[dict]) -> list[str]:
    labels: list[str] = []
    for d, r in zip(run_dirs, runs):
        label = str(r["run"]["run_id"] or Path(d).name)
        if label in labels:  # two runs with one id: the folder tells them apart
            label = f"{label} ({d})"
        labels.append(label)
    return labels


def _scored_row(name: str, label_metric: str, key: str, entries: list[Entry]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """One metric with CIs across runs, and the pairs of runs whose CIs do not overlap."""
    row: dict[str, Any] = {"model": name, "metric": label_metric}
    bounds = {}
    for label, m, st in entries:
        if m is None:
            row[label] = DASH
            continue
        ci = st.ci.get("all", {}).get(key)
        row[label] = cells.fixed(metric(m, st, "all", key)) + (f" {cells.interval(ci[1], ci[2])}" if ci else "")
        if ci:
            bounds[label] = (ci[1], ci[2])
    differ = [(a, b) for a, b in itertools.combinations(list(bounds), 2) if intervals_overlap(bounds[a], bounds[b]) is False]
    if differ:
        row["CIs"] = "**differ**: " + "; ".join(f"{a} vs {b}" for a, b in differ)
    else:
        row["CIs"] = "overlap" if len(bounds) > 1 else DASH
    return row, differ


_COST_ROWS = (
    ("train time", lambda m: "zero-shot" if is_zero_shot(m) else format_duration(train_of(m).get("wall_time_s"))),
    ("questions/s", lambda m: cells.rate(section(m, "inference").get("questions_per_s"))),
    ("peak memory", lambda m: cells.gib(train_of(m).get("peak_memory_bytes"))),
)
"""Cost rows carry no CI and are never flagged."""


def _model_rows(name: str, entries: list[Entry]) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, str]]]:
    rows, flagged = [], []
    for label_metric, key in (("test F1", "f1"), ("test EM", "exact")):
        row, differ = _scored_row(name, label_metric, key, entries)
        rows.append(row)
        flagged += [(name, label_metric, a, b) for a, b in differ]
    for label_metric, get in _COST_ROWS:
        rows.append({"model": name, "metric": label_metric,
                     **{label: get(m) if m is not None else DASH for label, m, _ in entries}, "CIs": ""})
    return rows, flagged


def _blocks(labels: list[str], runs: list[dict], run_dirs: Sequence, table: pd.DataFrame,
            flagged: list[tuple[str, str, str, str]], n_resamples: int, seed: int) -> list[Block]:
    run_rows = [[label, *(cells.text(r["run"][k]) for k in ("profile", "track", "git_commit", "finished")),
                 cells.text((r["run"]["environment"] or {}).get("gpu_name")), cells.text(r["run"]["seed"]), str(d)]
                for label, r, d in zip(labels, runs, run_dirs)]
    B: list[Block] = [Heading(1, "qabench comparison: " + " vs ".join(labels)),
                      Table(pd.DataFrame(run_rows, columns=["run", "profile", "track", "git commit", "finished",
                                                            "GPU", "seed", "directory"]))]
    tracks = {r["run"]["track"] for r in runs}
    if len(tracks) > 1:
        B.append(Note(f"These runs use different tracks ({', '.join(sorted(map(str, tracks)))}); their scores are not comparable."))
    B += [Heading(2, "Models aligned by name"), Table(table, frozenset(labels)),
          Note(f"Values: point estimate [95% percentile bootstrap CI over test questions, {n_resamples} resamples, seed {seed}]. "
               "**differ** marks runs whose CIs do not overlap, a conservative test: overlap does not prove equality. "
               "A dash means the model is not in that run.")]
    if flagged:
        B.append(Para("**Differences with non-overlapping CIs:** "
                      + "; ".join(f"{n} {mt} ({a} vs {b})" for n, mt, a, b in flagged) + "."))
    else:
        B.append(Para("**No differences with non-overlapping CIs.**"))
    return B


def compare_runs(run_dirs: Sequence[str | os.PathLike[str]], *, n_resamples: int = DEFAULT_RESAMPLES,
                 seed: int = DEFAULT_SEED) -> Comparison:
    """Align the models of 2+ runs by name and put their numbers side by side.

    Test F1 and EM carry bootstrap CIs; a model/metric is flagged when any two runs' 95%
    CIs do not overlap. Non-overlap is a conservative test (two estimates can differ
    significantly while their CIs overlap a little), so a flag is a strong signal and
    no flag is not proof of equality. Cost rows (train time, questions/s, peak memory)
    carry no CI and are never flagged.
    """
    if len(run_dirs) < 2:
        raise ReportError("--compare needs at least two run directories")
    runs = [load_results(d) for d in run_dirs]
    labels = _labels(run_dirs, runs)
    stats = [all_stats(r["models"], n_resamples, seed) for r in runs]
    names: list[str] = []
    for r in runs:
        names += [m["name"] for m in r["models"] if m["name"] not in names]
    rows: list[dict[str, Any]] = []
    flagged: list[tuple[str, str, str, str]] = []
    for name in names:
        entries = [(label, next((m for m in r["models"] if m["name"] == name), None), st.get(name))
                   for label, r, st in zip(labels, runs, stats)]
        model_rows, model_flags = _model_rows(name, entries)
        rows += model_rows
        flagged += model_flags
    table = pd.DataFrame(rows, columns=["model", "metric", *labels, "CIs"])
    blocks = _blocks(labels, runs, run_dirs, table, flagged, n_resamples, seed)
    return Comparison(render_md(blocks), table, flagged)


def write_compare(run_dirs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], *,
                  n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> tuple[Path, Comparison]:
    """Run :func:`compare_runs` and write its Markdown to ``out_dir/compare.md`` (atomically)."""
    comparison = compare_runs(run_dirs, n_resamples=n_resamples, seed=seed)
    path = Path(out_dir) / COMPARE_MD
    atomic_write_text(path, comparison.markdown)
    return path, comparison
