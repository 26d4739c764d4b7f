"""The report's PNG plots: training loss, validation curves, test F1 against training cost
and test F1 by answer length and question type.

Agg is a file-only backend: the report must render on headless GPU boxes and in CI.
Figures are built with the object API (never pyplot), so importing this module leaves a
caller's global pyplot state alone, even inside a notebook.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib
import matplotlib.style
import matplotlib.ticker
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..formatting import is_finite
from .frame import ModelStats, test_f1
from .schema import device_kind, is_zero_shot, train_of
from .stats import ANSWER_LENGTH_BUCKETS, QUESTION_TYPES, answer_length_bucket, bucket_table, question_type

# Fixed names (no run id, no timestamp), in report order, so a rebuild overwrites instead
# of accumulating and report.md can reference them relatively.
PLOT_FILES = {
    "train_loss": "plot_train_loss.png",
    "validation": "plot_validation.png",
    "f1_vs_cost": "plot_f1_vs_cost.png",
    "f1_by_answer_length": "plot_f1_by_answer_length.png",
    "f1_by_question_type": "plot_f1_by_question_type.png",
}

_PLOT_DPI = 110
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


class SkipPlot(Exception):
    """Raised by a plot builder when the run lacks the data; the message goes into the report."""


def _png(fig: Figure) -> bytes:
    # The "Software" metadata (matplotlib's version) is dropped so the bytes depend only on
    # the data; Agg writes no timestamp of its own.
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_PLOT_DPI, metadata={"Software": None})
    return buf.getvalue()


def _styles(models: list[dict]) -> tuple[dict[str, Any], dict[str, str]]:
    """One colour and one marker shape per model across every plot, by input order: shapes
    as well as colours, so two models with the same curve (or a colour-blind reader) can
    still tell the lines apart."""
    cmap = matplotlib.colormaps["tab10"]
    colors = {m["name"]: cmap(i % 10) for i, m in enumerate(models)}
    markers = {m["name"]: _MARKERS[i % len(_MARKERS)] for i, m in enumerate(models)}
    return colors, markers


def _history(m: dict, key: str) -> list:
    return (train_of(m).get("history") or {}).get(key) or []


def _plot_train_loss(models: list[dict], colors: dict, markers: dict) -> bytes:
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    lows, highs = [], []
    for m in models:
        points = [p for p in _history(m, "loss")
                  if isinstance(p, dict) and is_finite(p.get("step")) and is_finite(p.get("loss"))]
        if not points:
            continue
        loss = [p["loss"] for p in points]
        ax.plot([p["step"] for p in points], loss, label=m["name"], color=colors[m["name"]],
                marker=markers[m["name"]] if len(points) <= 30 else None, markersize=3, linewidth=1.4)
        lows.append(min(loss))
        highs.append(max(loss))
    if not lows:
        raise SkipPlot("no model has a training-loss history (zero-shot rows, or history not recorded)")
    # Span models start near ln(seq_len) ~ 6 while LoRA LLMs start near 1-2; a log axis
    # keeps both readable when the ranges differ by an order of magnitude.
    if min(lows) > 0 and max(highs) / min(lows) > 20:
        ax.set_yscale("log")
    ax.set_xlabel("optimizer step (each model's own batch size)")
    ax.set_ylabel("training loss")
    ax.set_title("Training loss per logging step")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return _png(fig)


def _validation_axes(series: list, has_loss: bool, colors: dict, markers: dict) -> Figure:
    fig = Figure(figsize=(11 if has_loss else 7, 4.2))
    axes = fig.subplots(1, 2 if has_loss else 1, squeeze=False)[0]
    for name, evals in series:
        # Hollow markers: models with the same value at an epoch (common when a tiny run
        # abstains everywhere) stay visible as nested shapes instead of one covering the rest.
        style = dict(marker=markers[name], markerfacecolor="none", markeredgewidth=1.5, markersize=8,
                     label=name, color=colors[name])
        for ax, key in zip(axes, ("f1", "eval_loss")):
            pts = [(e["epoch"], e[key]) for e in evals if is_finite(e.get(key))]
            if pts:
                ax.plot(*zip(*pts), **style)
    labels = [("Validation F1 per epoch", "F1"), ("Validation loss per epoch", "eval loss")]
    # Whole-epoch evaluations should not get ticks at 1.2, 1.4, ...
    whole = all(float(e["epoch"]).is_integer() for _, evals in series for e in evals)
    for ax, (title, ylabel) in zip(axes, labels):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        if whole:
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
    return fig


def _plot_validation(models: list[dict], colors: dict, markers: dict) -> bytes:
    series = []
    for m in models:
        evals = [e for e in _history(m, "eval") if isinstance(e, dict) and is_finite(e.get("epoch"))]
        if evals:
            series.append((m["name"], evals))
    if not series:
        raise SkipPlot("no model has per-epoch validation history")
    has_loss = any(is_finite(e.get("eval_loss")) for _, evals in series for e in evals)
    fig = _validation_axes(series, has_loss, colors, markers)
    fig.tight_layout()
    return _png(fig)


def time_unit(max_seconds: float) -> tuple[float, str]:
    """Seconds per unit and the unit's name for training times up to ``max_seconds``.

    Hours (GPU-hours) are the usual unit of training cost, but a tiny CPU run would read
    "0.00 CPU-hours"; short runs get minutes or seconds so their numbers stay readable.
    """
    if is_finite(max_seconds) and max_seconds < 90:
        return 1.0, "seconds"
    if is_finite(max_seconds) and max_seconds < 360:
        return 60.0, "minutes"
    return 3600.0, "hours"


def dodge(xs: Sequence[float], step: float) -> list[float]:
    """Sideways offsets that keep points at (almost) the same x apart.

    Points closer than ``step`` are chained into one group, and a group of k points is
    spread over k slots ``step`` apart, centred on the points' own positions; a lone point
    is not moved. Depends only on the x values and their order, so plots stay deterministic.
    """
    order = sorted(range(len(xs)), key=lambda i: (xs[i], i))
    offsets = [0.0] * len(xs)
    group: list[int] = []
    for i in [*order, None]:
        if group and (i is None or xs[i] - xs[group[-1]] >= step):
            k = len(group)
            for j, g in enumerate(group):
                offsets[g] = (j - (k - 1) / 2) * step
            group = []
        if i is not None:
            group.append(i)
    return offsets


def _cost_axis_label(models: list[dict], env: dict, unit: str) -> tuple[str, bool]:
    """X label for F1-vs-cost and whether devices are mixed (then the legend names each device)."""
    kinds = {device_kind(train_of(m)) for m in models if is_finite(train_of(m).get("wall_time_s"))}
    if kinds == {"GPU"}:
        gpu = env.get("gpu_name")
        return (f"GPU-{unit} ({gpu}, wall clock)" if gpu else f"GPU-{unit} (wall clock)"), False
    if kinds == {"CPU"}:
        cpu = env.get("cpu")
        return (f"CPU-{unit} ({cpu}, wall clock)" if cpu else f"CPU-{unit} (wall clock)"), False
    return f"training {unit} on each model's device (wall clock)", True


def _cost_points(models: list[dict], stats: dict[str, ModelStats], per_unit: float, mixed: bool) -> list[tuple]:
    """(name, x, f1, yerr, legend label) of every model with a test F1 and a training cost."""
    points = []
    for m in models:
        st = stats[m["name"]]
        f1, wall, zero = test_f1(m, st), train_of(m).get("wall_time_s"), is_zero_shot(m)
        if not is_finite(f1) or not (is_finite(wall) or zero):
            continue
        ci = st.ci.get("all", {}).get("f1")
        yerr = [[max(f1 - ci[1], 0)], [max(ci[2] - f1, 0)]] if ci and is_finite(ci[1]) else None
        label = m["name"] + (" (zero-shot)" if zero else "")
        if mixed and not zero:
            label += f" [{train_of(m).get('device') or 'device not recorded'}]"
        points.append((m["name"], wall / per_unit if is_finite(wall) else 0.0, f1, yerr, label))
    return points


def _plot_f1_vs_cost(models: list[dict], stats: dict[str, ModelStats], colors: dict, markers: dict, env: dict) -> bytes:
    walls = [train_of(m)["wall_time_s"] for m in models if is_finite(train_of(m).get("wall_time_s"))]
    if not walls:
        raise SkipPlot("no model records a training wall time")
    per_unit, unit = time_unit(max(walls))
    xlabel, mixed = _cost_axis_label(models, env, unit)
    points = _cost_points(models, stats, per_unit, mixed)
    if not points:
        raise SkipPlot("no model has both a test F1 and a training cost")
    span = max(p[1] for p in points) or 1.0
    offsets = dodge([p[1] for p in points], 0.025 * span)
    fig = Figure(figsize=(9.5, 4.8))
    ax = fig.add_subplot()
    for (name, x, f1, yerr, label), dx in zip(points, offsets):
        # One marker shape per model in a legend instead of text beside each point: points at
        # almost the same cost would print their labels on top of each other. Hollow markers
        # keep a point visible when another one sits close to it.
        ax.errorbar([x + dx], [f1], yerr=yerr, fmt=markers[name], markersize=9, markerfacecolor="none",
                    markeredgewidth=1.8, capsize=4, elinewidth=1.0, color=colors[name], label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test F1 (95% bootstrap CI)")
    ax.set_title("Test F1 against training cost")
    # Room left of 0 so a zero-shot point (0 cost) is not cut in half by the axis.
    ax.set_xlim(min(-0.06 * span, min(offsets) - 0.03 * span), 1.08 * span + max(offsets))
    ax.margins(y=0.15)
    ax.axvline(0, color="0.6", linewidth=0.8, zorder=0)
    ax.grid(True, alpha=0.3)
    # Outside the axes, so the legend never hides a point.
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _plot_grouped(stats: dict[str, ModelStats], colors: dict, bucket_of, order, title: str, xlabel: str, what: str) -> bytes:
    present, table, counts = bucket_table({n: st.frame for n, st in stats.items()}, bucket_of, order)
    if not present:
        raise SkipPlot(f"no per-question test rows to bucket by {what}")
    names = list(table.columns)
    # Width grows with bars but stays readable on a laptop screen / in a PR comment.
    fig = Figure(figsize=(min(12.0, max(7.5, 0.38 * len(present) * max(1, len(names)) + 2)), 4.6))
    ax = fig.add_subplot()
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(present))
    for k, name in enumerate(names):
        ax.bar(x + (k - (len(names) - 1) / 2) * width, table[name].to_numpy(), width, label=name, color=colors[name])
    # Two-word buckets ("how many") break onto two lines so neighbouring labels do not overlap.
    ax.set_xticks(x, [f"{b}".replace(" ", "\n") + f"\n(n={counts[b]})" for b in present])
    ax.set_ylim(0, 105)
    ax.set_ylabel("test F1")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(True, axis="y", alpha=0.3)
    # Beside the axes, not below: multi-line bucket labels ("how\nmany\n(n=66)") ran into a legend underneath.
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    return _png(fig)


def render_plots(results: dict, stats: dict[str, ModelStats]) -> tuple[dict[str, bytes], dict[str, str]]:
    """PNG bytes of every plot the run has data for, and why each other one was skipped (by ``PLOT_FILES`` key)."""
    models = results["models"]
    env = results["run"]["environment"] or {}
    colors, markers = _styles(models)
    builders = {
        "train_loss": lambda: _plot_train_loss(models, colors, markers),
        "validation": lambda: _plot_validation(models, colors, markers),
        "f1_vs_cost": lambda: _plot_f1_vs_cost(models, stats, colors, markers, env),
        "f1_by_answer_length": lambda: _plot_grouped(
            stats, colors, lambda r: answer_length_bucket(r.gold, r.has_answer), ANSWER_LENGTH_BUCKETS,
            "Test F1 by gold-answer length", "gold answer length (words)", "answer length"),
        "f1_by_question_type": lambda: _plot_grouped(
            stats, colors, lambda r: question_type(r.question), QUESTION_TYPES,
            "Test F1 by question type", "question type", "question type"),
    }
    plots: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    # The library's default style, so a user's matplotlibrc cannot change the bytes of a rebuilt report.
    with matplotlib.style.context("default"), matplotlib.rc_context({"figure.max_open_warning": 0}):
        for key, build in builders.items():
            try:
                plots[key] = build()
            except SkipPlot as exc:
                skipped[key] = str(exc)
    return plots, skipped
