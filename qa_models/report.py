"""Turn one bench run's ``results.json`` into a report a reader can act on.

Data flows one way through qabench: records -> features -> model -> raw scores ->
answers -> metrics -> **report**. The bench run collects one dict per model and calls
:func:`write_run` at the end; everything here is rebuilt from that JSON alone, so a report
can be regenerated (or restyled) without re-running any model::

    python -m qa_models.report reports/<run-id>                  # rebuild one run
    python -m qa_models.report --compare reports/A reports/B     # runs side by side

What a run directory holds after :func:`write_run`:

* ``results.json`` - the contract (schema version 1, see :func:`validate_results`);
* ``results.csv``  - one row per model, scalar columns flattened, with bootstrap CIs;
* ``report.md``    - headline question and answer, an at-a-glance table (one row per model,
  best test F1 first), detail tables, plots by relative path;
* ``report.html``  - the same content, self-contained (plots inlined as data URIs);
* ``plot_*.png``   - training loss, validation curves, F1 against cost, F1 by bucket.

Rebuilding from the same ``results.json`` gives byte-identical outputs: nothing here
reads the clock, the bootstrap is seeded, and PNG metadata is stripped.

Confidence intervals are percentile bootstraps over test questions (not over training
seeds): they say how much the score would move on another test set of the same size,
not how much it would move if the model were trained again.

This module imports neither torch nor transformers; it needs numpy, pandas and matplotlib.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import itertools
import json
import math
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import matplotlib

# Agg is a file-only backend: the report must render on headless GPU boxes and in CI.
# Figures are built with the object API below (never pyplot), so this module leaves the
# caller's global pyplot state alone even when imported inside a notebook.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
import matplotlib.style
import matplotlib.ticker

SCHEMA_VERSION = 1
"""The only ``results.json`` schema version this module reads and writes."""

DEFAULT_RESAMPLES = 1000
"""Bootstrap resamples; 1000 keeps percentile bounds stable to about 0.1 F1 point."""

DEFAULT_SEED = 0
"""Bootstrap seed; fixed so a rebuilt report is byte-identical."""

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
COMPARE_MD = "compare.md"

# Plot file names, in report order. Fixed names (no run id, no timestamp) so a rebuild
# overwrites instead of accumulating, and report.md can reference them relatively.
PLOT_FILES = {
    "train_loss": "plot_train_loss.png",
    "validation": "plot_validation.png",
    "f1_vs_cost": "plot_f1_vs_cost.png",
    "f1_by_answer_length": "plot_f1_by_answer_length.png",
    "f1_by_question_type": "plot_f1_by_question_type.png",
}

ANSWER_LENGTH_BUCKETS = ("1", "2", "3", "4-5", "6-10", ">10", "unanswerable")
"""Gold-answer length buckets in words, in plot order."""

QUESTION_TYPES = ("what", "who", "when", "where", "which", "how many", "how much", "how", "why", "other")
"""Question types recognised by :func:`question_type`, in plot order."""

_GIB = 2**30
_DASH = "—"


class ReportError(ValueError):
    """A results file or directory that cannot be reported on; the message names the file and the problem."""


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


# --------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------

# Cap on the size of one resample-index matrix (elements). Full SQuAD v2 dev has ~12k
# questions; 1000 x 12k int64 indices would be ~100 MB at once, so resamples are drawn in
# chunks. The chunking depends only on n, so results stay deterministic.
_MAX_INDEX_ELEMENTS = 2_000_000


def _resample_means(columns: Sequence[np.ndarray], n_resamples: int, seed: int) -> list[np.ndarray]:
    """Means of each column over the same ``n_resamples`` bootstrap resamples of row indices.

    All columns share one index matrix per chunk; that is what makes a paired bootstrap
    paired (both models see the same questions in every resample).
    """
    n = len(columns[0])
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_INDEX_ELEMENTS // max(n, 1))
    out: list[list[np.ndarray]] = [[] for _ in columns]
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        idx = rng.integers(0, n, size=(size, n))
        for k, col in enumerate(columns):
            out[k].append(col[idx].mean(axis=1))
    return [np.concatenate(parts) for parts in out]


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    alpha: float = 0.05,
) -> tuple[float, float, float]:
    """Percentile bootstrap CI of the mean of per-question scores.

    Args:
        values: one score per question, in whatever unit the caller wants back (the report
            passes EM and F1 scaled to 0-100 so the CI reads like the official metric).
        n_resamples: number of resamples with replacement.
        seed: seed of the numpy Generator; same inputs and seed give the same interval.
        alpha: 1 - confidence level (0.05 gives a 95% interval).

    Returns:
        ``(mean, low, high)``; all NaN for an empty input. A constant input gives
        ``low == high == mean`` exactly (every resample has the same mean).
    """
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"bootstrap_ci expects a 1-D sequence, got shape {arr.shape}")
    if arr.size == 0:
        return (math.nan, math.nan, math.nan)
    _check_bootstrap_args(n_resamples, alpha)
    (means,) = _resample_means([arr], n_resamples, seed)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return (float(arr.mean()), float(low), float(high))


def paired_bootstrap(
    a: Sequence[float] | np.ndarray | Mapping[str, float],
    b: Sequence[float] | np.ndarray | Mapping[str, float],
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    alpha: float = 0.05,
) -> tuple[float, float, float, bool]:
    """Paired percentile bootstrap of ``mean(a) - mean(b)`` over the same questions.

    Pairing matters: two models' scores on one question are correlated (hard questions are
    hard for both), so resampling the same question indices for both gives a much tighter
    and more honest interval than comparing two independent CIs.

    Args:
        a, b: per-question scores. Either two equally long sequences already aligned
            question by question, or two mappings ``question id -> score``; mappings are
            aligned on the ids they share (in sorted id order, for determinism).
        n_resamples, seed, alpha: as in :func:`bootstrap_ci`.

    Returns:
        ``(diff, low, high, excludes_zero)`` where ``excludes_zero`` is True when the whole
        interval lies on one side of 0. All NaN / False when no question is shared.
    """
    if isinstance(a, Mapping) != isinstance(b, Mapping):
        raise ValueError("paired_bootstrap needs two sequences or two id->score mappings, not one of each")
    if isinstance(a, Mapping):
        ids = sorted(set(a) & set(b))
        xa = np.array([a[i] for i in ids], dtype=float)
        xb = np.array([b[i] for i in ids], dtype=float)
    else:
        xa = np.asarray(a, dtype=float)
        xb = np.asarray(b, dtype=float)
        if xa.shape != xb.shape or xa.ndim != 1:
            raise ValueError(f"paired_bootstrap needs two aligned 1-D sequences, got shapes {xa.shape} and {xb.shape}")
    if xa.size == 0:
        return (math.nan, math.nan, math.nan, False)
    _check_bootstrap_args(n_resamples, alpha)
    # Resampling the per-question difference is the same as resampling both columns with
    # one index matrix, and needs half the memory.
    (means,) = _resample_means([xa - xb], n_resamples, seed)
    low, high = (float(q) for q in np.quantile(means, [alpha / 2, 1 - alpha / 2]))
    return (float(xa.mean() - xb.mean()), low, high, bool(low > 0 or high < 0))


def _check_bootstrap_args(n_resamples: int, alpha: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive, got {n_resamples}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool | None:
    """Whether two closed intervals overlap; None when either bound is missing (NaN)."""
    if any(not _finite(x) for x in (*a, *b)):
        return None
    return a[0] <= b[1] and b[0] <= a[1]


# --------------------------------------------------------------------------------------
# Question and answer buckets
# --------------------------------------------------------------------------------------

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_WORD_RE = re.compile(f"[{_CJK}]|[^\\s{_CJK}]+")

# English wh-words -> type. "whom"/"whose" ask about a person like "who".
_EN_WH = {"what": "what", "who": "who", "whom": "who", "whose": "who", "when": "when",
          "where": "where", "which": "which", "how": "how", "why": "why"}

# Chinese interrogatives (CMRC 2018), checked in this order because the longer forms
# contain the shorter ones: 为什么 (why) and 什么时候 (when) both contain 什么 (what),
# 哪里 (where) and 哪一年 (when) contain 哪 (which).
_ZH_RULES = (
    ("why", re.compile("为什么|为何")),
    ("when", re.compile("什么时候|何时|哪一年|哪年|哪一天|哪天|几月|几号|几点|哪个时期|什么时期|什么年代|哪个朝代")),
    ("where", re.compile("哪里|哪儿|何处|何地|在哪|什么地方|哪个地方")),
    ("who", re.compile("谁|哪位|什么人")),
    ("how much", re.compile("多少钱")),
    ("how many", re.compile("多少|几个|几位|几次|几种|几年|几名|几天|几岁|几部|几座|几家")),
    ("which", re.compile("哪")),
    ("how", re.compile("怎么|怎样|如何|多久|多长|多大|多高|多远|多重")),
    ("what", re.compile("什么|何")),
)


def question_type(question: str) -> str:
    """Classify a question by its wording into one of ``QUESTION_TYPES``.

    English: the first wh-word in the question decides, so "In what year ..." is "what"
    and "The Normans came from which country?" is "which"; "how many" / "how much" are
    split from the other "how" questions because counting answers behave differently.
    A question with no wh-word ("Name the ...", "Is it ...") is "other".
    Chinese (any CJK character present): the interrogative words of ``_ZH_RULES``.
    """
    text = question or ""
    if _CJK_RE.search(text):
        for label, pattern in _ZH_RULES:
            if pattern.search(text):
                return label
        return "other"
    tokens = re.findall(r"[a-z]+", text.lower())
    for i, tok in enumerate(tokens):
        label = _EN_WH.get(tok)
        if label is None:
            continue
        if label == "how" and i + 1 < len(tokens) and tokens[i + 1] in ("many", "much"):
            return f"how {tokens[i + 1]}"
        return label
    return "other"


def count_words(text: str) -> int:
    """Words in an answer: whitespace tokens with a letter or digit; each CJK character counts as one."""
    return sum(1 for tok in _WORD_RE.findall(text or "") if any(ch.isalnum() for ch in tok))


def answer_length_bucket(gold: Sequence[str] | None, has_answer: bool = True) -> str | None:
    """Bucket a question by the length of its first gold answer (see ``ANSWER_LENGTH_BUCKETS``).

    The first gold answer is used because SQuAD's extra dev answers are alternative
    annotations of the same span; the first is the one training data uses. Returns None
    for an answerable question with no usable gold text (it is left out of the plot).
    """
    if not has_answer:
        return "unanswerable"
    texts = [g for g in (gold or []) if isinstance(g, str) and g.strip()]
    if not texts:
        return None
    n = count_words(texts[0])
    if n <= 1:
        return "1"
    if n <= 3:
        return str(n)
    if n <= 5:
        return "4-5"
    if n <= 10:
        return "6-10"
    return ">10"


# --------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------


def _fail(source: str, problem: str) -> ReportError:
    return ReportError(f"{source}: {problem}")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _finite(x: Any) -> bool:
    return _is_number(x) and math.isfinite(x)


def validate_results(results: Any, source: str = "<results>") -> None:
    """Check that ``results`` follows schema version 1 closely enough to report on.

    Structural problems raise :class:`ReportError` naming ``source`` and the JSON path:
    not an object, missing or wrong ``schema_version``, ``run`` not an object, ``models``
    not a list of objects, a model without a unique non-empty ``name``, or per-question
    rows that cannot be scored (no id, duplicate id, non-numeric ``exact`` / ``f1``).
    Optional parts may be absent or null (zero-shot rows have no ``train``; CMRC metrics
    have no HasAns / NoAns keys): the report shows them as missing instead of failing.
    """
    if not isinstance(results, dict):
        raise _fail(source, f"top level must be a JSON object, got {type(results).__name__}")
    for key in ("schema_version", "run", "models"):
        if key not in results:
            raise _fail(source, f"missing top-level key '{key}'")
    version = results["schema_version"]
    if version != SCHEMA_VERSION:
        raise _fail(source, f"schema_version is {version!r}; this report writer reads version {SCHEMA_VERSION}")
    if not isinstance(results["run"], dict):
        raise _fail(source, f"'run' must be an object, got {type(results['run']).__name__}")
    models = results["models"]
    if not isinstance(models, list):
        raise _fail(source, f"'models' must be a list, got {type(models).__name__}")
    seen: set[str] = set()
    for i, model in enumerate(models):
        where = f"models[{i}]"
        if not isinstance(model, dict):
            raise _fail(source, f"{where} must be an object, got {type(model).__name__}")
        name = model.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(source, f"{where} has no non-empty string 'name'")
        if name in seen:
            # Names key every table, plot legend and --compare alignment.
            raise _fail(source, f"{where}: duplicate model name {name!r}")
        seen.add(name)
        where = f"models[{i}] ({name})"
        for key in ("parameters", "train", "validation", "test", "inference", "extra"):
            if model.get(key) is not None and not isinstance(model[key], dict):
                raise _fail(source, f"{where}.{key} must be an object or null, got {type(model[key]).__name__}")
        for key in ("test_per_question", "probes"):
            if model.get(key) is not None and not isinstance(model[key], list):
                raise _fail(source, f"{where}.{key} must be a list or null, got {type(model[key]).__name__}")
        history = (model.get("train") or {}).get("history")
        if history is not None and not isinstance(history, dict):
            raise _fail(source, f"{where}.train.history must be an object or null")
        ids: set[str] = set()
        for j, row in enumerate(model.get("test_per_question") or []):
            rw = f"{where}.test_per_question[{j}]"
            if not isinstance(row, dict):
                raise _fail(source, f"{rw} must be an object")
            qid = row.get("id")
            if not isinstance(qid, str) or not qid:
                raise _fail(source, f"{rw} has no string 'id'")
            if qid in ids:
                raise _fail(source, f"{rw}: duplicate question id {qid!r}")
            ids.add(qid)
            for key in ("exact", "f1"):
                if not _finite(row.get(key)):
                    raise _fail(source, f"{rw} ({qid}): '{key}' must be a number, got {row.get(key)!r}")
            if not 0 <= row["f1"] <= 1 or row["exact"] not in (0, 1):
                raise _fail(source, f"{rw} ({qid}): per-question exact must be 0|1 and f1 in [0, 1], got exact={row['exact']!r} f1={row['f1']!r}")
        for j, probe in enumerate(model.get("probes") or []):
            if not isinstance(probe, dict) or not isinstance(probe.get("id"), str):
                raise _fail(source, f"{where}.probes[{j}] must be an object with a string 'id'")


def _resolve_results_path(path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    return p / RESULTS_JSON if p.is_dir() or p.suffix != ".json" else p


def load_results(path: str | os.PathLike[str]) -> dict:
    """Read and validate ``results.json`` from a run directory (or the file itself).

    Raises :class:`ReportError` naming the file when it is missing, not JSON, or fails
    :func:`validate_results`.
    """
    file = _resolve_results_path(path)
    if not file.is_file():
        raise ReportError(f"{file}: not found (expected a run directory containing {RESULTS_JSON})")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{file}: cannot read: {exc}") from exc
    try:
        results = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{file}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    validate_results(results, source=str(file))
    return results


def _to_jsonable(obj: Any) -> Any:
    """Plain JSON types from whatever the bench collected.

    numpy scalars/arrays become Python numbers/lists and tuples become lists, so callers
    need not convert; non-finite floats become null because NaN/Infinity are not JSON and
    strict readers (browsers, jq) reject them.
    """
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return _to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise ReportError(f"<results>: value of type {type(obj).__name__} is not JSON-serialisable: {obj!r:.80}")


def _dump_json(results: Any) -> bytes:
    # Insertion order is kept (not sort_keys): the producer's order reads best, and the
    # same dict always dumps the same bytes. ensure_ascii=False keeps CMRC text readable.
    return (json.dumps(results, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


# --------------------------------------------------------------------------------------
# File writing
# --------------------------------------------------------------------------------------


def _current_umask() -> int:
    # os.umask can only be read by setting it; done once at import, before any threads write.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_current_umask()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via a temp file in the same directory + os.replace.

    A reader (or a crash) never sees a half-written file, and os.replace is atomic only
    within one filesystem, hence the same directory.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes the file private (0600); reports are shared, so use the normal mode.
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


# --------------------------------------------------------------------------------------
# Per-model numbers
# --------------------------------------------------------------------------------------

_SUBSETS = ("all", "HasAns", "NoAns")


def _subset_prefix(subset: str) -> str:
    return "" if subset == "all" else f"{subset}_"


def _per_question_frame(model: dict) -> pd.DataFrame:
    """Per-question rows as a frame: id, question, has_answer, gold, prediction, exact, f1 (0-100)."""
    rows = model.get("test_per_question") or []
    frame = pd.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "question": [r.get("question") or "" for r in rows],
            # has_answer may be absent (older producers): fall back to "has a gold text".
            "has_answer": [bool(r["has_answer"]) if r.get("has_answer") is not None else bool(r.get("gold")) for r in rows],
            "gold": [list(r.get("gold") or []) for r in rows],
            "exact": [100.0 * float(r["exact"]) for r in rows],
            "f1": [100.0 * float(r["f1"]) for r in rows],
        }
    )
    return frame


@dataclass
class _ModelStats:
    """Bootstrap results for one model; ``ci[subset][metric] = (mean, low, high)``."""

    name: str
    frame: pd.DataFrame
    ci: dict[str, dict[str, tuple[float, float, float]]]
    n: dict[str, int]


def _model_stats(model: dict, n_resamples: int, seed: int) -> _ModelStats:
    frame = _per_question_frame(model)
    test = model.get("test") or {}
    has_split_keys = any(k.startswith(("HasAns_", "NoAns_")) for k in test)
    mixed = frame["has_answer"].nunique() > 1
    ci: dict[str, dict[str, tuple[float, float, float]]] = {}
    n: dict[str, int] = {}
    for subset in _SUBSETS:
        if subset == "all":
            part = frame
        elif has_split_keys or mixed:
            # CMRC has no unanswerable questions: HasAns would just repeat "all".
            part = frame[frame["has_answer"] == (subset == "HasAns")]
        else:
            continue
        if part.empty:
            continue
        n[subset] = len(part)
        ci[subset] = {m: bootstrap_ci(part[m].to_numpy(), n_resamples, seed) for m in ("exact", "f1")}
    return _ModelStats(model["name"], frame, ci, n)


def _metric(model: dict, stats: _ModelStats, subset: str, metric: str) -> float:
    """Official test metric when recorded, else the per-question mean (same 0-100 scale)."""
    value = (model.get("test") or {}).get(f"{_subset_prefix(subset)}{metric}")
    if _finite(value):
        return float(value)
    return stats.ci.get(subset, {}).get(metric, (math.nan,))[0]


def _test_f1(model: dict, stats: _ModelStats) -> float:
    return _metric(model, stats, "all", "f1")


def _train(model: dict) -> dict:
    return model.get("train") or {}


def _num(d: Mapping | None, key: str) -> float:
    value = (d or {}).get(key)
    return float(value) if _finite(value) else math.nan


def _device_kind(train: dict) -> str | None:
    """'GPU' for cuda or mps training, 'CPU' for cpu, None when unknown.

    Reads ``device_kind``, recorded as data by training; the display name ``device`` is
    parsed only for results written before that field existed (a real GPU records its
    product name, e.g. "NVIDIA H100 80GB HBM3", which no prefix test recognises)."""
    kind = train.get("device_kind")
    if kind in ("cuda", "mps"):
        return "GPU"
    if kind == "cpu":
        return "CPU"
    device = train.get("device")
    if not isinstance(device, str):
        return None
    d = device.lower()
    if d.startswith("cuda") or d == "gpu":
        return "GPU"
    if d.startswith("cpu"):
        return "CPU"
    return None


def _pairs(models: list[dict], stats: dict[str, _ModelStats], n_resamples: int, seed: int) -> pd.DataFrame:
    """Paired bootstrap on F1 for every pair, ordered so model A has the higher test F1."""
    ranked = _ranked(models, stats)
    rows = []
    for a, b in itertools.combinations(ranked, 2):
        fa = dict(zip(stats[a["name"]].frame["id"], stats[a["name"]].frame["f1"]))
        fb = dict(zip(stats[b["name"]].frame["id"], stats[b["name"]].frame["f1"]))
        shared = sorted(set(fa) & set(fb))
        diff, low, high, excl = paired_bootstrap(fa, fb, n_resamples, seed)
        rows.append(
            {
                "model_a": a["name"],
                "model_b": b["name"],
                "n_shared": len(shared),
                "f1_a": float(np.mean([fa[i] for i in shared])) if shared else math.nan,
                "f1_b": float(np.mean([fb[i] for i in shared])) if shared else math.nan,
                "diff": diff,
                "ci_low": low,
                "ci_high": high,
                "excludes_zero": excl,
            }
        )
    return pd.DataFrame(rows, columns=["model_a", "model_b", "n_shared", "f1_a", "f1_b", "diff", "ci_low", "ci_high", "excludes_zero"])


def _ranked(models: list[dict], stats: dict[str, _ModelStats]) -> list[dict]:
    """Models by test F1, best first; models without F1 last; ties keep input order."""

    def key(item: tuple[int, dict]) -> tuple[int, float, int]:
        i, m = item
        f1 = _test_f1(m, stats[m["name"]])
        return (0, -f1, i) if _finite(f1) else (1, 0.0, i)

    return [m for _, m in sorted(enumerate(models), key=key)]


# --------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------


def results_frame(results: dict, stats: dict[str, _ModelStats] | None = None, *,
                  n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """One row per model with every scalar flattened (the content of ``results.csv``).

    Columns: identity (name, model_id, family, method, quantize, zero_shot), size
    (params_*), training cost (epochs ... peak_memory_gib), threshold, test metrics with
    ``*_ci_low`` / ``*_ci_high`` bootstrap bounds beside EM and F1 (overall, HasAns,
    NoAns), the remaining official test keys, validation metrics, inference speed and
    ``extra_*``. A value the run did not record is an empty cell.
    """
    models = results["models"]
    if stats is None:
        stats = {m["name"]: _model_stats(m, n_resamples, seed) for m in models}
    # Metric columns are the union over models, in a fixed order, so every row lines up
    # even when a zero-shot or CMRC row lacks some keys. HasAns / NoAns appear only when
    # some model has them (CMRC has no unanswerable questions).
    subsets = ["all"] + [s for s in ("HasAns", "NoAns")
                         if any(s in st.ci for st in stats.values())
                         or any(k.startswith(f"{s}_") for m in models for k in (m.get("test") or {}))]
    # canonical column -> (subset, metric); metric "total" is a count, the others get CIs.
    canonical: dict[str, tuple[str, str]] = {}
    test_cols: list[str] = []
    for s in subsets:
        p = _subset_prefix(s)
        for metric in ("exact", "f1"):
            canonical[f"{p}{metric}"] = (s, metric)
            test_cols += [f"{p}{metric}", f"{p}{metric}_ci_low", f"{p}{metric}_ci_high"]
        canonical[f"{p}total"] = (s, "total")
        test_cols.append(f"{p}total")
    for m in models:
        for k, v in (m.get("test") or {}).items():
            if k not in test_cols and (_is_number(v) or v is None):
                test_cols.append(k)
    val_cols: list[str] = []
    for m in models:
        for k, v in (m.get("validation") or {}).items():
            if k not in val_cols and (_is_number(v) or v is None):
                val_cols.append(k)
    extra_cols: list[str] = []
    for m in models:
        for k, v in (m.get("extra") or {}).items():
            if k not in extra_cols and not isinstance(v, (dict, list)):
                extra_cols.append(k)

    records = []
    for m in models:
        st = stats[m["name"]]
        tr = _train(m)
        inf = m.get("inference") or {}
        test = m.get("test") or {}
        params = m.get("parameters") or {}
        peak = tr.get("peak_memory_bytes")
        rec: dict[str, Any] = {
            "name": m["name"],
            "model_id": m.get("model_id"),
            "family": m.get("family"),
            "method": m.get("method"),
            "quantize": m.get("quantize"),
            "zero_shot": m.get("zero_shot"),
            "params_total": params.get("total"),
            "params_trainable": params.get("trainable"),
            "epochs": tr.get("epochs"),
            "learning_rate": tr.get("learning_rate"),
            "batch_size": tr.get("batch_size"),
            "train_wall_time_s": tr.get("wall_time_s"),
            "examples_per_s": tr.get("examples_per_s"),
            "tokens_per_s": tr.get("tokens_per_s"),
            "peak_memory_gib": peak / _GIB if _finite(peak) else None,
            "memory_kind": tr.get("memory_kind"),
            "train_device": tr.get("device"),
            "train_cached": tr.get("cached"),
            "threshold": m.get("threshold"),
        }
        for col in test_cols:
            base = col.removesuffix("_ci_low").removesuffix("_ci_high")
            if base != col:
                subset, metric = canonical[base]
                bounds = st.ci.get(subset, {}).get(metric)
                rec[f"test_{col}"] = (bounds[1] if col.endswith("_low") else bounds[2]) if bounds else None
            elif col in test:
                rec[f"test_{col}"] = test[col]
            elif col in canonical:
                # Official key not recorded: fall back to the per-question numbers.
                subset, metric = canonical[col]
                if metric == "total":
                    rec[f"test_{col}"] = st.n.get(subset)
                else:
                    mean = st.ci.get(subset, {}).get(metric)
                    rec[f"test_{col}"] = mean[0] if mean else None
            else:
                rec[f"test_{col}"] = None
        rec["test_n_per_question"] = len(st.frame)
        for col in val_cols:
            rec[f"validation_{col}"] = (m.get("validation") or {}).get(col)
        rec["latency_p50_s"] = inf.get("latency_p50_s")
        rec["latency_p95_s"] = inf.get("latency_p95_s")
        rec["questions_per_s"] = inf.get("questions_per_s")
        rec["inference_batch_size"] = inf.get("batch_size")
        rec["inference_device"] = inf.get("device")
        for col in extra_cols:
            rec[f"extra_{col}"] = (m.get("extra") or {}).get(col)
        records.append(rec)
    frame = pd.DataFrame.from_records(records)
    # A missing value (zero-shot row) would turn an integer column into floats ("16.0");
    # nullable Int64 keeps counts looking like counts.
    for col in frame.columns:
        raw = [rec.get(col) for rec in records]  # before pandas coerced None to NaN
        present = [v for v in raw if v is not None]
        if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            frame[col] = pd.array(raw, dtype="Int64")
    return frame


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    # "\n" line ends and repr-precision floats: same frame, same bytes, on every platform.
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


# --------------------------------------------------------------------------------------
# Formatting helpers
# --------------------------------------------------------------------------------------


def _f(x: Any, nd: int = 2) -> str:
    return f"{x:.{nd}f}" if _finite(x) else _DASH


def _prob(x: Any, nd: int) -> str:
    """A probability or threshold with ``nd`` decimals, but never a small positive value shown
    as 0.00: a p_na of 3e-5 beside a threshold of 0 must not read as "0.00 is above 0.000"."""
    if not _finite(x):
        return _DASH
    if x == 0:
        return "0"
    if abs(x) < 10 ** -nd:
        return f"{x:.1e}"
    return f"{x:.{nd}f}"


def _ci(low: float, high: float, nd: int = 2) -> str:
    return f"[{low:.{nd}f}, {high:.{nd}f}]" if _finite(low) and _finite(high) else _DASH


def _signed(x: float, nd: int = 2) -> str:
    return f"{x:+.{nd}f}" if _finite(x) else _DASH


def _count(n: Any) -> str:
    """Parameter counts the way papers write them: 110M, 7.62B."""
    if not _finite(n):
        return _DASH
    n = float(n)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.0f}"


def _gib(b: Any) -> str:
    return f"{b / _GIB:.2f} GiB" if _finite(b) else _DASH


def _duration(seconds: Any) -> str:
    if not _finite(seconds):
        return _DASH
    s = float(seconds)
    if s < 90:
        return f"{s:.1f} s"
    if s < 90 * 60:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def _rate(x: Any) -> str:
    if not _finite(x):
        return _DASH
    return f"{x:.3g}" if x < 100 else f"{x:,.0f}"


def _ratio(a: float, b: float) -> str | None:
    """``a / b`` as "4.0×" / "73×" / "0.25×"; None when either side is missing or b is 0."""
    if not (_finite(a) and _finite(b)) or b == 0:
        return None
    r = a / b
    if r >= 10:
        return f"{r:.0f}×"
    return f"{r:.1f}×" if r >= 1 else f"{r:.2g}×"


def _text(x: Any) -> str:
    if x is None:
        return _DASH
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


# --------------------------------------------------------------------------------------
# Document model: one list of blocks rendered to both Markdown and HTML
# --------------------------------------------------------------------------------------


@dataclass
class _Heading:
    level: int
    text: str


@dataclass
class _Para:
    text: str  # may use **bold** and `code`; rendered for md as-is, converted for html


@dataclass
class _Note:
    text: str


@dataclass
class _Table:
    frame: pd.DataFrame  # cells already formatted as strings
    right: frozenset[str] = frozenset()  # columns to right-align (numbers)


@dataclass
class _List:
    items: list[str]  # each may use **bold** and `code`, like _Para


@dataclass
class _Image:
    file: str
    alt: str
    png: bytes


def _md_cell(s: Any) -> str:
    # Pipes would end the cell; newlines would end the row.
    return str(s).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _render_md(blocks: list) -> str:
    out: list[str] = []
    for b in blocks:
        if isinstance(b, _Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, _Para):
            out.append(b.text)
        elif isinstance(b, _Note):
            out.append(f"> {b.text}")
        elif isinstance(b, _Table):
            cols = list(b.frame.columns)
            lines = ["| " + " | ".join(_md_cell(c) for c in cols) + " |",
                     "| " + " | ".join("---:" if c in b.right else "---" for c in cols) + " |"]
            for row in b.frame.itertuples(index=False):
                lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
            out.append("\n".join(lines))
        elif isinstance(b, _List):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, _Image):
            out.append(f"![{b.alt}]({b.file})")
    return "\n\n".join(out) + "\n"


def _inline_html(text: str) -> str:
    s = html.escape(text, quote=False)
    s = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", s)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", s)


def _header_html(name: Any) -> str:
    # Key names such as cross_lingual_repaired_offsets are one unbreakable word; a break
    # opportunity after each underscore lets the header wrap instead of widening its column.
    return html.escape(str(name)).replace("_", "_<wbr>")


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, "Noto Sans CJK SC", "Noto Sans SC", "PingFang SC",
       "Microsoft YaHei", "Source Han Sans SC", sans-serif; max-width: 1200px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
p, blockquote, ul { max-width: 60em; }
h1 { border-bottom: 2px solid #ddd; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #eee; padding-bottom: .15em; margin-top: 1.8em; }
.table-wrap { overflow-x: auto; max-width: 100%; margin: .8em 0; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: .3em .5em; vertical-align: top; }
th { background: #f3f4f6; text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.num, td:first-child { white-space: nowrap; }
blockquote { color: #555; border-left: 4px solid #ddd; margin: .8em 0; padding: .1em 1em; }
code { background: #f3f4f6; padding: 0 .25em; border-radius: 3px; overflow-wrap: anywhere; }
ul.long-values li { overflow-wrap: anywhere; }
figure { margin: 1em 0; }
img { max-width: 100%; height: auto; border: 1px solid #eee; }
""".strip()


def _render_html(blocks: list, title: str) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{html.escape(title)}</title>", f"<style>\n{_CSS}\n</style>", "</head>", "<body>"]
    for b in blocks:
        if isinstance(b, _Heading):
            out.append(f"<h{b.level}>{_inline_html(b.text)}</h{b.level}>")
        elif isinstance(b, _Para):
            out.append(f"<p>{_inline_html(b.text)}</p>")
        elif isinstance(b, _Note):
            out.append(f"<blockquote>{_inline_html(b.text)}</blockquote>")
        elif isinstance(b, _Table):
            cols = list(b.frame.columns)
            cls = [' class="num"' if c in b.right else "" for c in cols]
            # The wrapper scrolls a wide table inside the page instead of widening the page.
            out.append('<div class="table-wrap"><table>')
            out.append("<thead><tr>" + "".join(f"<th{k}>{_header_html(c)}</th>" for c, k in zip(cols, cls)) + "</tr></thead>")
            out.append("<tbody>")
            for row in b.frame.itertuples(index=False):
                out.append("<tr>" + "".join(f"<td{k}>{html.escape(str(v))}</td>" for v, k in zip(row, cls)) + "</tr>")
            out.append("</tbody></table></div>")
        elif isinstance(b, _List):
            out.append('<ul class="long-values">' + "".join(f"<li>{_inline_html(item)}</li>" for item in b.items) + "</ul>")
        elif isinstance(b, _Image):
            # Inlined so the HTML is one self-contained file (mail it, attach it to a PR).
            data = base64.b64encode(b.png).decode("ascii")
            out.append(f'<figure><img alt="{html.escape(b.alt)}" src="data:image/png;base64,{data}"></figure>')
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------


class _SkipPlot(Exception):
    """Raised by a plot builder when the run lacks the data; the message goes into the report."""


_PLOT_DPI = 110


def _png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes, deterministically.

    Metadata "Software" (the matplotlib version string) is dropped so that the bytes
    depend only on the data; Agg writes no timestamp of its own.
    """
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=_PLOT_DPI, metadata={"Software": None})
    return buf.getvalue()


def _colors(models: list[dict]) -> dict[str, Any]:
    # One colour per model across every plot, by input order.
    cmap = matplotlib.colormaps["tab10"]
    return {m["name"]: cmap(i % 10) for i, m in enumerate(models)}


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _markers(models: list[dict]) -> dict[str, str]:
    # Shapes as well as colours: two models with the same curve (or a colour-blind reader)
    # can still tell the lines apart.
    return {m["name"]: _MARKERS[i % len(_MARKERS)] for i, m in enumerate(models)}


def _integer_epochs(ax, epochs: list[float]) -> None:
    # Whole-epoch evaluations should not get ticks at 1.2, 1.4, ...
    if epochs and all(float(e).is_integer() for e in epochs):
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))


def _plot_train_loss(models: list[dict], colors: dict, markers: dict) -> bytes:
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    drawn = 0
    lows, highs = [], []
    for m in models:
        points = [p for p in ((_train(m).get("history") or {}).get("loss") or [])
                  if isinstance(p, dict) and _finite(p.get("step")) and _finite(p.get("loss"))]
        if not points:
            continue
        steps = [p["step"] for p in points]
        loss = [p["loss"] for p in points]
        ax.plot(steps, loss, label=m["name"], color=colors[m["name"]], marker=markers[m["name"]] if len(points) <= 30 else None, markersize=3, linewidth=1.4)
        lows.append(min(loss))
        highs.append(max(loss))
        drawn += 1
    if not drawn:
        raise _SkipPlot("no model has a training-loss history (zero-shot rows, or history not recorded)")
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


def _plot_validation(models: list[dict], colors: dict, markers: dict) -> bytes:
    series = []
    for m in models:
        evals = [e for e in ((_train(m).get("history") or {}).get("eval") or []) if isinstance(e, dict) and _finite(e.get("epoch"))]
        if evals:
            series.append((m["name"], evals))
    if not series:
        raise _SkipPlot("no model has per-epoch validation history")
    has_loss = any(_finite(e.get("eval_loss")) for _, evals in series for e in evals)
    fig = Figure(figsize=(11 if has_loss else 7, 4.2))
    axes = fig.subplots(1, 2 if has_loss else 1, squeeze=False)[0]
    for name, evals in series:
        pts = [(e["epoch"], e["f1"]) for e in evals if _finite(e.get("f1"))]
        # Hollow markers: models with the same value at an epoch (common when a tiny run
        # abstains everywhere) stay visible as nested shapes instead of one covering the rest.
        style = dict(marker=markers[name], markerfacecolor="none", markeredgewidth=1.5, markersize=8, label=name, color=colors[name])
        if pts:
            axes[0].plot(*zip(*pts), **style)
        if has_loss:
            lpts = [(e["epoch"], e["eval_loss"]) for e in evals if _finite(e.get("eval_loss"))]
            if lpts:
                axes[1].plot(*zip(*lpts), **style)
    axes[0].set_title("Validation F1 per epoch")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("F1")
    if has_loss:
        axes[1].set_title("Validation loss per epoch")
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("eval loss")
    epochs = [e["epoch"] for _, evals in series for e in evals]
    for ax in axes:
        _integer_epochs(ax, epochs)
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return _png(fig)


def _time_unit(max_seconds: float) -> tuple[float, str]:
    """Seconds per unit and the unit's name for training times up to ``max_seconds``.

    Hours (GPU-hours) are the usual unit of training cost, but a tiny CPU run would read
    "0.00 CPU-hours"; short runs get minutes or seconds so their numbers stay readable.
    """
    if _finite(max_seconds) and max_seconds < 90:
        return 1.0, "seconds"
    if _finite(max_seconds) and max_seconds < 360:
        return 60.0, "minutes"
    return 3600.0, "hours"


def _dodge(xs: Sequence[float], step: float) -> list[float]:
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
    kinds = {_device_kind(_train(m)) for m in models if _finite(_train(m).get("wall_time_s"))}
    if kinds == {"GPU"}:
        gpu = env.get("gpu_name")
        return (f"GPU-{unit} ({gpu}, wall clock)" if gpu else f"GPU-{unit} (wall clock)"), False
    if kinds == {"CPU"}:
        cpu = env.get("cpu")
        return (f"CPU-{unit} ({cpu}, wall clock)" if cpu else f"CPU-{unit} (wall clock)"), False
    return f"training {unit} on each model's device (wall clock)", True


def _plot_f1_vs_cost(models: list[dict], stats: dict[str, _ModelStats], colors: dict, markers: dict, env: dict) -> bytes:
    walls = [_train(m).get("wall_time_s") for m in models if _finite(_train(m).get("wall_time_s"))]
    if not walls:
        raise _SkipPlot("no model records a training wall time")
    per_unit, unit = _time_unit(max(walls))
    xlabel, mixed = _cost_axis_label(models, env, unit)
    points = []
    for m in models:
        st = stats[m["name"]]
        f1 = _test_f1(m, st)
        wall = _train(m).get("wall_time_s")
        zero = bool(m.get("zero_shot")) or m.get("train") is None
        if not _finite(f1) or not (_finite(wall) or zero):
            continue
        x = wall / per_unit if _finite(wall) else 0.0
        ci = st.ci.get("all", {}).get("f1")
        yerr = None
        if ci and _finite(ci[1]):
            yerr = [[max(f1 - ci[1], 0)], [max(ci[2] - f1, 0)]]
        label = m["name"] + (" (zero-shot)" if zero else "")
        if mixed and not zero:
            label += f" [{_train(m).get('device') or 'device not recorded'}]"
        points.append((m["name"], x, f1, yerr, label))
    if not points:
        raise _SkipPlot("no model has both a test F1 and a training cost")
    span = max(x for _, x, _, _, _ in points) or 1.0
    offsets = _dodge([x for _, x, _, _, _ in points], 0.025 * span)
    fig = Figure(figsize=(9.5, 4.8))
    ax = fig.add_subplot()
    for (name, x, f1, yerr, label), dx in zip(points, offsets):
        # A legend with one marker shape per model instead of text beside each point: points
        # at almost the same cost would otherwise print their labels on top of each other.
        # Hollow markers keep a point visible when another one sits close to it.
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


def _bucket_table(stats: dict[str, _ModelStats], bucket_of, order: Sequence[str]) -> tuple[list[str], pd.DataFrame, dict[str, int]]:
    """Mean F1 per (bucket, model) and the number of distinct questions per bucket.

    Buckets depend only on the question and its gold answers, so counts are taken over the
    union of question ids (models may have scored slightly different subsets).
    """
    rows = []
    for name, st in stats.items():
        if st.frame.empty:
            continue
        buckets = [bucket_of(r) for r in st.frame.itertuples(index=False)]
        part = pd.DataFrame({"id": st.frame["id"], "bucket": buckets, "f1": st.frame["f1"], "model": name})
        rows.append(part.dropna(subset=["bucket"]))
    if not rows:
        return [], pd.DataFrame(), {}
    long = pd.concat(rows, ignore_index=True)
    counts = long.drop_duplicates("id").groupby("bucket").size().to_dict()
    present = [b for b in order if counts.get(b)]
    table = long.pivot_table(index="bucket", columns="model", values="f1", aggfunc="mean", sort=False)
    table = table.reindex(index=present, columns=[n for n in stats if n in table.columns])
    return present, table, {b: int(counts[b]) for b in present}


def _plot_grouped(stats: dict[str, _ModelStats], colors: dict, bucket_of, order, title: str, xlabel: str, what: str) -> bytes:
    present, table, counts = _bucket_table(stats, bucket_of, order)
    if not present:
        raise _SkipPlot(f"no per-question test rows to bucket by {what}")
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


def _length_bucket_of(row) -> str | None:
    return answer_length_bucket(row.gold, row.has_answer)


def _qtype_of(row) -> str:
    return question_type(row.question)


# --------------------------------------------------------------------------------------
# Report content
# --------------------------------------------------------------------------------------


def _score_text(m: dict, st: _ModelStats) -> str:
    """Test F1 with its bootstrap CI, e.g. "85.0 (95% CI 80.1–89.9, 200 questions)"."""
    ci = st.ci.get("all", {}).get("f1")
    text = _f(_test_f1(m, st), 1)
    if ci and _finite(ci[1]):
        text += f" (95% CI {ci[1]:.1f}–{ci[2]:.1f}, {st.n['all']} questions)"
    return text


def _train_time_text(m: dict, scale: float = math.nan) -> str:
    """Training wall time with its device kind; ``scale`` (the longest time compared) picks a shared unit."""
    tr = m.get("train")
    if tr is None or m.get("zero_shot"):
        return "no training (zero-shot)"
    wall = _num(tr, "wall_time_s")
    if not _finite(wall):
        return "training time not recorded"
    per_unit, name = _time_unit(max(wall, scale) if _finite(scale) else wall)
    kind = _device_kind(tr)
    unit = f"{kind}-{name}" if kind else f"{name} on {tr.get('device') or 'an unnamed device'}"
    return f"{wall / per_unit:.2f} {unit}" if name == "hours" else f"{wall / per_unit:.1f} {unit}"


def _memory_text(m: dict) -> tuple[float, str]:
    tr = _train(m)
    peak = _num(tr, "peak_memory_bytes")
    kind = _MEMORY_KINDS.get(tr.get("memory_kind"), tr.get("memory_kind") or "")
    return peak, (f"{peak / _GIB:.1f} GiB {kind}".strip() if _finite(peak) else "not recorded")


def _winner_sentence(ranked: list[dict], stats: dict[str, _ModelStats], pairs: pd.DataFrame) -> str:
    """Sentence one: the winner, its margin over the runner-up and the paired CI of that margin."""
    top, second = ranked[0], ranked[1]
    f_a, f_b = _test_f1(top, stats[top["name"]]), _test_f1(second, stats[second["name"]])
    row = pairs[(pairs["model_a"] == top["name"]) & (pairs["model_b"] == second["name"])]
    if row.empty or not _finite(row.iloc[0]["ci_low"]):
        paired = "no paired CI: the two share no per-question test rows"
    else:
        r = row.iloc[0]
        verdict = "which excludes zero" if r["excludes_zero"] else "which includes zero, so this test set cannot separate them"
        # A bound of +0.02 printed as "+0.0" beside "excludes zero" reads as a contradiction.
        digits = 2 if r["excludes_zero"] and min(abs(r["ci_low"]), abs(r["ci_high"])) < 0.05 else 1
        paired = (f"paired bootstrap 95% CI of the difference {_signed(r['ci_low'], digits)} to {_signed(r['ci_high'], digits)} "
                  f"over {r['n_shared']} questions, {verdict}")
    if f_a > f_b:
        return (f"**{top['name']}** wins on test F1 with {_score_text(top, stats[top['name']])}, {f_a - f_b:.1f} points "
                f"ahead of the runner-up **{second['name']}** ({_f(f_b, 1)}); {paired}.")
    # Only the runner-up is named; without the count a three-way tie would read as a two-way one.
    more = sum(_test_f1(m, stats[m["name"]]) == f_a for m in ranked[2:])
    others = f" and {more} more model{'s' if more > 1 else ''}" if more else ""
    return (f"**{top['name']}** ties on test F1 with the runner-up **{second['name']}**{others} at "
            f"{_score_text(top, stats[top['name']])}; {paired}.")


def _cost_sentence(top: dict, second: dict) -> str:
    """Sentence two: what the winner costs relative to the runner-up, as ratios."""
    wa, wb = _num(top.get("train"), "wall_time_s"), _num(second.get("train"), "wall_time_s")
    scale = max((w for w in (wa, wb) if _finite(w)), default=math.nan)
    r = _ratio(wa, wb)
    costs = [f"training {_train_time_text(top, scale)} vs {_train_time_text(second, scale)}" + (f" ({r})" if r else "")]
    pa, pb = top.get("parameters") or {}, second.get("parameters") or {}
    r = _ratio(_num(pa, "total"), _num(pb, "total"))
    costs.append(f"{_count(pa.get('total'))} vs {_count(pb.get('total'))} parameters" + (f" ({r})" if r else ""))
    (ma, sa), (mb, sb) = _memory_text(top), _memory_text(second)
    mem_text = f"peak memory {sa} vs {sb}"
    if _train(top).get("memory_kind") != _train(second).get("memory_kind"):
        # A GPU allocator peak and a process RSS measure different things: no ratio.
        mem_text += " (different kinds)" if _finite(ma) and _finite(mb) else ""
    elif r := _ratio(ma, mb):
        mem_text += f" ({r})"
    costs.append(mem_text)
    qa, qb = _num(top.get("inference"), "questions_per_s"), _num(second.get("inference"), "questions_per_s")
    q_text = f"{_rate(qa)} vs {_rate(qb)} questions/s"
    if _finite(qa) and _finite(qb) and qa > 0 and qb > 0:
        # "31× lower throughput" reads better than "0.032× the throughput".
        q_text += f" ({_ratio(qa, qb)} the throughput)" if qa >= qb else f" ({_ratio(qb, qa)} lower throughput)"
    costs.append(q_text)
    return f"Cost of **{top['name']}** relative to **{second['name']}**: " + "; ".join(costs) + "."


def headline(results: dict, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
             _stats: dict[str, _ModelStats] | None = None, _pairs_frame: pd.DataFrame | None = None) -> str:
    """The Answer paragraph: at most three sentences, from the numbers alone.

    One: the model with the highest test F1, its lead over the runner-up and the paired
    bootstrap CI of that lead. Two: what it costs relative to the runner-up (training time,
    parameters, peak memory, questions/s). Three, when needed: one caveat. Per-model detail
    (abstention, AUROC, span quality) is the Diagnostics table under it (``diagnostics``),
    so the paragraph does not grow with the number of models.
    """
    models = results["models"]
    stats = _stats or {m["name"]: _model_stats(m, n_resamples, seed) for m in models}
    if not models:
        return "This run has no models, so there is nothing to report."
    ranked = [m for m in _ranked(models, stats) if _finite(_test_f1(m, stats[m["name"]]))]
    if not ranked:
        return "No model has a test F1, so no winner can be named."
    top = ranked[0]
    if len(ranked) == 1:
        lead = (f"Only one model was run (**{top['name']}**), so there is no comparison." if len(models) == 1
                else f"Only **{top['name']}** has a test F1 ({len(models) - 1} other model(s) have none), so there is no comparison.")
        params = top.get("parameters") or {}
        qps = _num(top.get("inference"), "questions_per_s")
        cost = (f"It reaches test F1 {_score_text(top, stats[top['name']])} at a cost of {_train_time_text(top)}, "
                f"{_count(params.get('total'))} parameters ({_count(params.get('trainable'))} trainable), "
                f"peak memory {_memory_text(top)[1]} and {_rate(qps)} questions/s.")
        return " ".join(filter(None, (lead, cost, _abstention_caveat(ranked))))
    pairs = _pairs_frame if _pairs_frame is not None else _pairs(models, stats, n_resamples, seed)
    second = ranked[1]
    return " ".join(filter(None, (_winner_sentence(ranked, stats, pairs), _cost_sentence(top, second),
                                  _abstention_caveat(ranked))))


ABSTAIN_ALMOST_ALWAYS = 0.95
"""Share of test questions answered "" from which the Answer warns that a model's F1 is
mostly the unanswerable share rather than answers found."""


def _abstention(m: dict) -> tuple[float, float, float]:
    """(share abstained at the tuned threshold, no-answer AUROC, never-abstain HasAns F1) of one model."""
    extra = m.get("extra") or {}
    return (_num(extra, "abstention_share_abstained"), _num(extra, "abstention_no_answer_auroc"),
            _num(extra, "abstention_never_abstain_HasAns_f1"))


def _abstention_caveat(models: list[dict]) -> str:
    """One sentence (or "") for the models that abstain on almost every test question."""
    shares = {m["name"]: _abstention(m)[0] for m in models}
    flagged = [name for name, share in shares.items() if _finite(share) and share >= ABSTAIN_ALMOST_ALWAYS]
    if not flagged:
        return ""
    if len(flagged) == 1:
        who = f"**{flagged[0]}** answers \"no answer\" to {100 * shares[flagged[0]]:.0f}% of test questions"
        whose = "its"
    else:
        who = f"{len(flagged)} of {len(models)} models answer \"no answer\" to almost every test question"
        whose = "their"
    return (f"Caveat: {who} at the threshold tuned on validation, so {whose} F1 is mostly the share of "
            f"unanswerable questions (see Diagnostics).")


def diagnostics(results: dict, *, _stats: dict[str, _ModelStats] | None = None) -> pd.DataFrame:
    """The per-model detail behind the Answer's caveat, in the Answer's order: share of test
    questions abstained at the tuned threshold, how well the no-answer probability separates
    unanswerable from answerable questions (AUROC, 0.5 is chance) and the HasAns F1 the model
    would reach if it never abstained (its span quality alone). Empty when no model has them."""
    models = results["models"]
    stats = _stats or {m["name"]: _model_stats(m, DEFAULT_RESAMPLES, DEFAULT_SEED) for m in models}
    rows = []
    for m in _ranked(models, stats):
        share, auroc, never = _abstention(m)
        if not any(_finite(v) for v in (share, auroc, never)):
            continue
        rows.append([m["name"], _f(_test_f1(m, stats[m["name"]]), 1),
                     f"{100 * share:.0f}%" if _finite(share) else _DASH,
                     f"{auroc:.2f}" if _finite(auroc) else _DASH, _f(never, 1)])
    return pd.DataFrame(rows, columns=["model", "test F1", "abstained (tuned threshold)", "no-answer AUROC",
                                       "HasAns F1 never abstaining"])


_GLANCE_TEXT_COLUMNS = frozenset({"model", "method", "quantisation"})
_MEMORY_KINDS = {"cuda": "GPU", "cpu_rss": "CPU RSS"}


def at_a_glance(results: dict, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                _stats: dict[str, _ModelStats] | None = None) -> pd.DataFrame:
    """The decision table: one row per model, best test F1 first, cells formatted as strings.

    Columns: model, method, quantisation, test F1 [95% CI], test EM, HasAns F1, NoAns F1
    (both only when some model has them; CMRC has no unanswerable questions), parameters
    (total / trainable), train time, peak memory, questions/s and latency p50. Order is
    that of :func:`headline` (ties keep input order; models without a test F1 last).
    """
    models = results["models"]
    stats = _stats or {m["name"]: _model_stats(m, n_resamples, seed) for m in models}
    subsets = [s for s in ("HasAns", "NoAns") if any(_finite(_metric(m, stats[m["name"]], s, "f1")) for m in models)]
    rows = []
    for m in _ranked(models, stats):
        st = stats[m["name"]]
        tr, inf, params = _train(m), m.get("inference") or {}, m.get("parameters") or {}
        ci = st.ci.get("all", {}).get("f1")
        f1 = _f(_test_f1(m, st))
        if ci and _finite(ci[1]):
            f1 += f" {_ci(ci[1], ci[2])}"
        zero = bool(m.get("zero_shot")) or m.get("train") is None
        peak = tr.get("peak_memory_bytes")
        memory = _gib(peak)
        if _finite(peak) and tr.get("memory_kind"):
            memory += f" {_MEMORY_KINDS.get(tr['memory_kind'], tr['memory_kind'])}"
        row = {"model": m["name"], "method": _text(m.get("method")), "quantisation": _text(m.get("quantize")),
               "test F1 [95% CI]": f1, "test EM": _f(_metric(m, st, "all", "exact"))}
        for s in subsets:
            row[f"{s} F1"] = _f(_metric(m, st, s, "f1"))
        row["params (total / trainable)"] = f"{_count(params.get('total'))} / {_count(params.get('trainable'))}"
        row["train time"] = "zero-shot" if zero and not _finite(tr.get("wall_time_s")) else _duration(tr.get("wall_time_s"))
        row["peak memory (train)"] = memory
        row["questions/s"] = _rate(inf.get("questions_per_s"))
        row["latency p50 (s)"] = _f(_num(inf, "latency_p50_s"), 3)
        rows.append(row)
    return pd.DataFrame(rows)


# Keys other suites write into a model's "extra" (bench/conftest.py flattens their pieces
# as <suite>_<key>): prefix -> (heading, note). Each group gets its own small table.
_EXTRA_GROUPS = {
    "abstention_": ("Span quality apart from the no-answer decision",
                    "On test. share_abstained: questions answered \"\" at the tuned threshold. never_abstain_HasAns_*: "
                    "answerable questions scored as if the model never abstained (span quality alone). "
                    "no_answer_auroc: how well the no-answer probability ranks unanswerable above answerable "
                    "questions (0.5 = chance; then the best-F1 threshold can only abstain everywhere or nowhere)."),
    "cross_lingual_": ("Cross-lingual: CMRC 2018 scores of SQuAD-trained models",
                       "Each SQuAD-trained checkpoint answers the CMRC 2018 test questions, scored with the CMRC metric "
                       "(EM and F1 on a 0-100 scale). unk_share is the tokenizer's unknown-token share of those contexts; "
                       "unk_kind says what counts as unknown ([UNK] tokens, or byte-fallback pieces)."),
    "speed_": ("Speed: fast vs plain path",
               "From the speed suite: the same short training budget run plain and fast, and the same questions "
               "predicted both ways on the same weights. Ratios are fast / plain throughput (above 1: the fast path "
               "is faster). Per-configuration numbers are in speed.md in the run directory."),
    "coverage_": ("Tokenizer coverage",
                  "Share of the distinct test contexts' tokens that the tokenizer cannot represent as whole characters: "
                  "[UNK] tokens (kind unk, the text is lost) or byte pieces (kind byte_fallback, nothing is lost). "
                  "Compare shares within one kind only."),
}
_GROUP_ORDER = ("abstention_", "cross_lingual_", "speed_", "coverage_")

_LONG_TEXT = 30
"""Text values longer than this go to a list below a diagnostics table, not into a cell."""


def _extra_table(models: list[dict], keys: list[str], strip: str) -> list:
    """Blocks for one group of ``extra`` keys: a table of short values, then a list of long ones.

    A key whose values are all numbers, booleans, missing or short text gets a column; a
    key with any text longer than ``_LONG_TEXT`` (a file path, a sentence) is listed below
    the table instead, once when every model records the same value.
    """
    def label(key: str) -> str:
        return key[len(strip):] if strip else key

    def values(k: str) -> list[Any]:
        return [(m.get("extra") or {}).get(k) for m in models]

    long_keys = [k for k in keys if any(isinstance(v, str) and len(v) > _LONG_TEXT for v in values(k))]
    cols = [k for k in keys if k not in long_keys]
    blocks: list = []
    rows = [m for m in models if any((m.get("extra") or {}).get(k) is not None for k in cols)]
    if cols and rows:
        frame = pd.DataFrame([[m["name"]] + [_text((m.get("extra") or {}).get(k)) for k in cols] for m in rows],
                             columns=["model", *(label(k) for k in cols)])
        numeric = frozenset(label(k) for k in cols if all(_is_number(v) for v in values(k) if v is not None))
        blocks.append(_Table(frame, numeric))
    items = []
    for k in long_keys:
        # One item per distinct value, naming the models that recorded it (in input order).
        by_value: dict[str, list[str]] = {}
        for m in models:
            v = (m.get("extra") or {}).get(k)
            if v is not None:
                by_value.setdefault(_text(v), []).append(m["name"])
        if len(by_value) == 1 and len(next(iter(by_value.values()))) > 1:
            value, names = next(iter(by_value.items()))
            items.append(f"`{label(k)}` (same for {len(names)} models): {value}")
        else:
            items += [f"`{label(k)}` ({', '.join(names)}): {value}" for value, names in by_value.items()]
    if items:
        blocks.append(_List(items))
    return blocks


def _extra_blocks(models: list[dict]) -> list:
    """The "Model-specific diagnostics" section: ungrouped ``extra`` keys, then one table per suite group."""
    scalar: list[str] = []
    structured: list[str] = []
    for m in models:
        for k, v in (m.get("extra") or {}).items():
            target = structured if isinstance(v, (dict, list)) else scalar
            if k not in scalar and k not in structured:
                target.append(k)
    if not scalar and not structured:
        return []
    grouped = {prefix: [k for k in scalar if k.startswith(prefix)] for prefix in _GROUP_ORDER}
    rest = [k for k in scalar if not any(k in keys for keys in grouped.values())]
    B: list = [_Heading(2, "Model-specific diagnostics")]
    if rest:
        B += _extra_table(models, rest, "")
    if structured:
        B.append(_Note("Structured values are not tabulated; read them in results.json: "
                       + ", ".join(f"`{k}`" for k in structured) + "."))
    for prefix in _GROUP_ORDER:
        if grouped[prefix]:
            heading, note = _EXTRA_GROUPS[prefix]
            B.append(_Heading(3, heading))
            B += _extra_table(models, grouped[prefix], prefix)
            B.append(_Note(f"{note} Keys `{prefix}*` of each model's `extra` (results.csv: `extra_{prefix}*`)."))
    return B


def _cost_estimate_blocks(models: list[dict]) -> list:
    """The estimate printed before training (``qa_models.cost``) beside what the run measured."""
    rows = []
    for m in models:
        est, train = m.get("cost_estimate"), m.get("train") or {}
        if not est:
            continue
        if est.get("basis") == "measured":
            basis = "measured tokens/s of an earlier run"
        elif est.get("basis") == "assumed MFU" and _finite(est.get("mfu")):
            basis = f"assumed {est['mfu']:.0%} MFU"
        else:
            basis = "no FLOP/s for this device"
        rows.append([
            m["name"], _text(est.get("device")), _text(est.get("method")), _count(est.get("n_tokens")),
            f"{est['flops']:.3g}" if _finite(est.get("flops")) else _DASH,
            _duration(est.get("seconds")) if _finite(est.get("seconds")) else _DASH, basis,
            _duration(train.get("wall_time_s")) if _finite(train.get("wall_time_s")) else _DASH,
            _gib(est.get("peak_memory_bytes")), _gib(train.get("peak_memory_bytes")) if _finite(train.get("peak_memory_bytes")) else _DASH,
        ])
    if not rows:
        return []
    columns = ["model", "device", "method", "tokens / epoch", "FLOPs", "estimated time", "time basis",
               "measured time", "estimated peak memory", "measured peak memory"]
    return [
        _Heading(2, "Cost: estimated before training vs measured"),
        _Table(pd.DataFrame(rows, columns=columns)),
        _Note("The estimate is printed before training starts (FLOPs = 6·N·T full, 4·N·T + adapter weight "
              "gradients for LoRA, + 2·N·T with gradient checkpointing). A CPU has no tabulated FLOP/s, so its "
              "time is estimated only once a run of the same setup has measured tokens/s on it."),
    ]


def _blocks(results: dict, stats: dict[str, _ModelStats], pairs: pd.DataFrame, plots: dict[str, bytes],
            skipped: dict[str, str], n_resamples: int, seed: int, tensorboard: tuple[str, list[str]] | None = None) -> list:
    """The whole report as a list of blocks; Markdown and HTML are two renderings of it.
    ``tensorboard``: (the run folder as ``tensorboard --logdir`` takes it, models with a ``tb/`` folder)."""
    run = results["run"]
    models = results["models"]
    env = run.get("environment") or {}
    B: list = []
    B.append(_Heading(1, f"qabench report: {run.get('run_id') or 'unnamed run'}"))
    B.append(_Para(f"**Question.** {run.get('question') or 'No question recorded for this run.'}"))
    B.append(_Para(f"**Answer.** {headline(results, n_resamples=n_resamples, seed=seed, _stats=stats, _pairs_frame=pairs)}"))
    detail = diagnostics(results, _stats=stats)
    if not detail.empty:
        B.append(_Heading(3, "Diagnostics"))
        B.append(_Table(detail, frozenset(detail.columns) - {"model"}))
        B.append(_Note("Abstained: test questions answered \"no answer\" at the threshold tuned on validation. "
                       "No-answer AUROC: how well the no-answer probability ranks unanswerable above answerable "
                       "questions (0.5 is chance). HasAns F1 never abstaining: answerable questions scored as if the "
                       "model always answered, its span quality alone."))
    glance = at_a_glance(results, _stats=stats)
    if not glance.empty:
        B.append(_Heading(2, "At a glance"))
        B.append(_Table(glance, frozenset(glance.columns) - _GLANCE_TEXT_COLUMNS))
        B.append(_Note(f"Sorted by test F1, best first. Test F1 carries a 95% bootstrap CI over test questions "
                       f"({n_resamples} resamples); overlapping CIs do not separate two models, see the paired "
                       f"bootstrap below. Train time and peak memory are those of training (zero-shot rows train "
                       f"nothing); a CUDA peak and a CPU RSS are not comparable. Questions/s is throughput over the "
                       f"test set; latency p50 is the median time to answer one question asked alone."))
    B.append(_Heading(2, "Run"))
    B.append(_Table(pd.DataFrame(
        [["run id", _text(run.get("run_id"))], ["profile", _text(run.get("profile"))], ["track", _text(run.get("track"))],
         ["started", _text(run.get("started"))], ["finished", _text(run.get("finished"))], ["seed", _text(run.get("seed"))],
         ["git commit", _text(run.get("git_commit"))], ["models", ", ".join(m["name"] for m in models) or _DASH]],
        columns=["run", "value"])))
    if tensorboard and tensorboard[1]:
        B.append(_Para("**TensorBoard logs** (loss per logging step, validation EM/F1 per epoch): "
                       + ", ".join(f"`{name}/tb/`" for name in tensorboard[1])
                       + f"; view them with `tensorboard --logdir {tensorboard[0]}`."))

    # --- test metrics ---
    B.append(_Heading(2, "Test metrics with 95% bootstrap CIs"))
    rows = []
    for m in models:
        st = stats[m["name"]]
        for subset in _SUBSETS:
            if subset not in st.ci and not any(k.startswith(_subset_prefix(subset)) and k.endswith("f1") for k in (m.get("test") or {})):
                continue
            ci = st.ci.get(subset, {})
            em, f1 = ci.get("exact", (math.nan,) * 3), ci.get("f1", (math.nan,) * 3)
            rows.append([m["name"], subset, str(st.n.get(subset, _DASH)),
                         _f(_metric(m, st, subset, "exact")), _ci(em[1], em[2]),
                         _f(_metric(m, st, subset, "f1")), _ci(f1[1], f1[2])])
    if rows:
        B.append(_Table(pd.DataFrame(rows, columns=["model", "subset", "n", "EM", "EM 95% CI", "F1", "F1 95% CI"]),
                        frozenset({"n", "EM", "EM 95% CI", "F1", "F1 95% CI"})))
    else:
        B.append(_Note("No test metrics recorded."))
    B.append(_Note(f"Point estimates are the official SQuAD-script numbers where recorded; CIs are percentile bootstraps "
                   f"over the per-question rows ({n_resamples} resamples, seed {seed}). HasAns / NoAns are the answerable "
                   f"and unanswerable questions; CMRC has no unanswerable questions and shows only the overall row."))
    for m in models:
        total = (m.get("test") or {}).get("total")
        n = len(stats[m["name"]].frame)
        if _finite(total) and n and n != total:
            B.append(_Note(f"{m['name']}: {n} per-question rows but the official test total is {total}; its CIs cover the recorded rows only."))

    vrows = [[m["name"], _prob(m.get("threshold"), 3), _f(_num(m.get("validation"), "exact")), _f(_num(m.get("validation"), "f1")),
              _text((m.get("validation") or {}).get("total"))] for m in models]
    if any(_finite(m.get("threshold")) for m in models):
        B.append(_Heading(3, "Validation (threshold tuned here)"))
        B.append(_Table(pd.DataFrame(vrows, columns=["model", "no-answer threshold", "EM", "F1", "n"]),
                        frozenset({"no-answer threshold", "EM", "F1", "n"})))
    else:
        # CMRC 2018 has no unanswerable questions, so no threshold is tuned: models always answer.
        B.append(_Heading(3, "Validation"))
        B.append(_Table(pd.DataFrame([[r[0], *r[2:]] for r in vrows], columns=["model", "EM", "F1", "n"]),
                        frozenset({"EM", "F1", "n"})))
        B.append(_Note("No no-answer threshold: this data has no unanswerable questions, so span models always answer."))

    # --- paired bootstrap ---
    B.append(_Heading(2, "Paired bootstrap on test F1"))
    if pairs.empty:
        B.append(_Note("Needs at least two models."))
    else:
        prow = [[r.model_a, r.model_b, str(r.n_shared), _f(r.f1_a), _f(r.f1_b), _signed(r.diff), _ci(r.ci_low, r.ci_high),
                 ("yes" if r.excludes_zero else "no") if _finite(r.ci_low) else _DASH] for r in pairs.itertuples(index=False)]
        B.append(_Table(pd.DataFrame(prow, columns=["model A", "model B", "shared questions", "F1 A", "F1 B", "A − B", "95% CI", "CI excludes 0"]),
                        frozenset({"shared questions", "F1 A", "F1 B", "A − B", "95% CI"})))
        B.append(_Note("Both models are resampled on the same question indices (aligned by question id), so the interval "
                       "accounts for questions that are hard for every model. A is the model with the higher test F1."))

    # --- cost ---
    B.append(_Heading(2, "Cost"))
    # Two tables, not one: seventeen columns side by side ran past a laptop screen.
    train_rows, infer_rows = [], []
    for m in models:
        tr, inf, params = _train(m), m.get("inference") or {}, m.get("parameters") or {}
        if m.get("zero_shot"):
            train_time = "zero-shot: nothing trained"
        else:
            train_time = _duration(tr.get("wall_time_s")) + (" (cached)" if tr.get("cached") else "")
        train_rows.append([m["name"], _text(m.get("method")), _text(m.get("quantize")),
                           _count(params.get("total")), _count(params.get("trainable")), _text(tr.get("epochs")),
                           train_time, _text(tr.get("device")), _rate(tr.get("examples_per_s")),
                           _rate(tr.get("tokens_per_s")),
                           _gib(tr.get("peak_memory_bytes")) + (f" ({tr['memory_kind']})" if tr.get("memory_kind") else "")])
        infer_rows.append([m["name"], _f(_num(inf, "latency_p50_s"), 3), _f(_num(inf, "latency_p95_s"), 3),
                           _rate(inf.get("questions_per_s")), _text(inf.get("batch_size")), _text(inf.get("device"))])
    B.append(_Heading(3, "Training"))
    B.append(_Table(pd.DataFrame(train_rows, columns=["model", "method", "quantize", "params", "trainable", "epochs",
                                                      "train time", "train device", "examples/s", "tokens/s",
                                                      "peak memory"]),
                    frozenset({"params", "trainable", "epochs", "train time", "examples/s", "tokens/s", "peak memory"})))
    B.append(_Note("\"(cached)\" = the checkpoint was loaded from the cache, so train time and memory are those of the run "
                   "that trained it. Peak memory is CUDA allocator peak (cuda) or process RSS (cpu_rss); the two are not "
                   "comparable."))
    # Rows whose weights came from a GGUF file (qa_models.gguf): say they are dequantised, not the originals.
    from .gguf import quantisation_note
    weight_notes = [f"{m['name']}: {note}" for m in models if (note := quantisation_note(m.get("model_id") or ""))]
    if weight_notes:
        B.append(_Note("Weights from GGUF files: " + "; ".join(weight_notes) + "."))
    B.append(_Heading(3, "Inference"))
    B.append(_Table(pd.DataFrame(infer_rows, columns=["model", "latency p50 (s)", "latency p95 (s)", "questions/s",
                                                      "batch size", "inference device"]),
                    frozenset({"latency p50 (s)", "latency p95 (s)", "questions/s", "batch size"})))
    B.append(_Note("Latency is one question asked alone (pytest-benchmark); questions/s is throughput over the whole "
                   "test set at the batch size shown."))

    # --- plots ---
    B.append(_Heading(2, "Plots"))
    captions = {
        "train_loss": "Training loss per logging step",
        "validation": "Validation F1 and loss per epoch",
        "f1_vs_cost": "Test F1 against training cost",
        "f1_by_answer_length": "Test F1 by gold-answer length (words; CJK characters count one each)",
        "f1_by_question_type": "Test F1 by question type (from the question's wording)",
    }
    for key, file in PLOT_FILES.items():
        B.append(_Heading(3, captions[key]))
        if key in plots:
            B.append(_Image(file, captions[key], plots[key]))
            if key == "f1_vs_cost":
                B.append(_Note("One marker shape per model; bars are 95% bootstrap CIs. Zero-shot rows sit at 0 cost. "
                               "Points at almost the same cost are spread sideways a little so none hides another."))
        else:
            B.append(_Note(f"Plot skipped: {skipped.get(key, 'no data')}."))

    B += _cost_estimate_blocks(models)

    # --- probes ---
    B.append(_Heading(2, "Probe questions"))
    probe_ids: list[str] = []
    probes: dict[str, dict] = {}
    answers: dict[tuple[str, str], str] = {}
    for m in models:
        for p in m.get("probes") or []:
            pid = p["id"]
            if pid not in probes:
                probe_ids.append(pid)
                probes[pid] = dict(p)
            elif not probes[pid].get("documented_bert_answer") and p.get("documented_bert_answer"):
                probes[pid]["documented_bert_answer"] = p["documented_bert_answer"]
            ans = p.get("answer")
            span = p.get("span_if_answering")
            if isinstance(ans, str) and ans.strip():
                cell = ans
            elif isinstance(span, str) and span.strip():
                # Abstained at the tuned threshold: show what it would have answered, so a low
                # p_na beside "no answer" does not read as a contradiction.
                cell = f"(no answer; span: {span})"
            else:
                cell = "(no answer)"
            if _finite(p.get("na_prob")):
                cell += f" (p_na {_prob(p['na_prob'], 2)})"
            answers[(pid, m["name"])] = cell
    if probe_ids:
        names = [m["name"] for m in models]
        prow = [[pid, _text(probes[pid].get("lang")), _text(probes[pid].get("question"))]
                + [answers.get((pid, n), _DASH) for n in names]
                + [_text(probes[pid].get("documented_bert_answer") or None)] for pid in probe_ids]
        B.append(_Table(pd.DataFrame(prow, columns=["probe", "lang", "question", *names, "documented BERT answer (founding experiment)"])))
        thresholds = ", ".join(f"{m['name']} {_prob(m['threshold'], 3)}" for m in models if _finite(m.get("threshold")))
        B.append(_Note("p_na is the model's no-answer probability; above the no-answer threshold tuned on validation"
                       + (f" ({thresholds})" if thresholds else "")
                       + " the model abstains, and \"span\" is the answer it would have given."))
    else:
        B.append(_Note("No probes recorded."))

    B += _extra_blocks(models)

    # --- environment ---
    B.append(_Heading(2, "Environment"))
    gpu = env.get("gpu_name")
    if gpu and _finite(env.get("gpu_memory_bytes")):
        gpu = f"{gpu} ({_gib(env['gpu_memory_bytes'])})"
    cpu = env.get("cpu")
    if cpu and env.get("cpu_count") is not None:
        cpu = f"{cpu} ({env['cpu_count']} cores)"
    erows = [["GPU", _text(gpu)], ["CUDA", _text(env.get("cuda"))], ["driver", _text(env.get("driver"))],
             ["torch", _text(env.get("torch"))], ["transformers", _text(env.get("transformers"))], ["peft", _text(env.get("peft"))],
             ["bitsandbytes", _text(env.get("bitsandbytes"))], ["datasets", _text(env.get("datasets"))],
             ["python", _text(env.get("python"))], ["CPU", _text(cpu)], ["platform", _text(env.get("platform"))],
             ["seed", _text(run.get("seed"))], ["git commit", _text(run.get("git_commit"))]]
    B.append(_Table(pd.DataFrame(erows, columns=["component", "version / value"])))
    data_files = run.get("data_files") or {}
    if data_files:
        B.append(_Heading(3, "Data files"))
        drow = [[split, _text((info or {}).get("source")), _text((info or {}).get("sha256")), _text((info or {}).get("n_examples"))]
                for split, info in data_files.items()]
        B.append(_Table(pd.DataFrame(drow, columns=["split", "source", "sha256", "examples"]), frozenset({"examples"})))
    B.append(_Heading(3, "Data quality"))
    skipped_records = run.get("skipped_records") or {}
    if skipped_records:
        B.append(_Table(pd.DataFrame([[k, _text(v)] for k, v in skipped_records.items()], columns=["skipped because", "records"]),
                        frozenset({"records"})))
    else:
        B.append(_Para("No records were skipped."))
    B.append(_Para(f"Answer offsets repaired while loading: {_text(run.get('repaired_offsets'))}."))
    if run.get("dropped_answers"):
        B.append(_Para(f"Answers dropped because their text is nowhere in the context (their questions kept, "
                       f"with their other answers): {_text(run['dropped_answers'])}."))
    return B


# --------------------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------------------


def build_report(run_dir: str | os.PathLike[str], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Paths:
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
    stats = {m["name"]: _model_stats(m, n_resamples, seed) for m in models}
    pairs = _pairs(models, stats, n_resamples, seed)
    env = results["run"].get("environment") or {}
    colors = _colors(models)
    markers = _markers(models)

    builders = {
        "train_loss": lambda: _plot_train_loss(models, colors, markers),
        "validation": lambda: _plot_validation(models, colors, markers),
        "f1_vs_cost": lambda: _plot_f1_vs_cost(models, stats, colors, markers, env),
        "f1_by_answer_length": lambda: _plot_grouped(stats, colors, _length_bucket_of, ANSWER_LENGTH_BUCKETS,
                                                     "Test F1 by gold-answer length", "gold answer length (words)", "answer length"),
        "f1_by_question_type": lambda: _plot_grouped(stats, colors, _qtype_of, QUESTION_TYPES,
                                                     "Test F1 by question type", "question type", "question type"),
    }
    # Plots render inside the library's default style so a user's matplotlibrc cannot
    # change the bytes of a rebuilt report.
    plots: dict[str, bytes] = {}
    skipped: dict[str, str] = {}
    with matplotlib.style.context("default"), matplotlib.rc_context({"figure.max_open_warning": 0}):
        for key, build in builders.items():
            try:
                plots[key] = build()
            except _SkipPlot as exc:
                skipped[key] = str(exc)

    written: dict[str, Path] = {}
    for key, png in plots.items():
        path = run_path / PLOT_FILES[key]
        _atomic_write(path, png)
        written[key] = path
    for key in skipped:
        (run_path / PLOT_FILES[key]).unlink(missing_ok=True)

    _atomic_write(run_path / RESULTS_CSV, _csv_bytes(results_frame(results, stats)))
    # Training logs of the models trained in this run (runner.train_or_load, report_to tensorboard).
    tb_models = [m["name"] for m in models if (run_path / m["name"] / "tb").is_dir()]
    logdir = f"{run_path.resolve().parent.name}/{run_path.name}"
    blocks = _blocks(results, stats, pairs, plots, skipped, n_resamples, seed, (logdir, tb_models))
    _atomic_write(run_path / REPORT_MD, _render_md(blocks).encode("utf-8"))
    title = f"qabench report: {results['run'].get('run_id') or 'unnamed run'}"
    _atomic_write(run_path / REPORT_HTML, _render_html(blocks, title).encode("utf-8"))
    return Paths(run_path, run_path / RESULTS_JSON, run_path / RESULTS_CSV, run_path / REPORT_MD,
                 run_path / REPORT_HTML, written, skipped)


def write_run(run_dir: str | os.PathLike[str], results: dict, *, n_resamples: int = DEFAULT_RESAMPLES,
              seed: int = DEFAULT_SEED) -> Paths:
    """Validate ``results``, write ``results.json`` and build every report file from it.

    ``results`` may hold numpy scalars/arrays and tuples; they are converted to plain
    JSON (non-finite floats become null). The report is then built from the file just
    written, not from the dict, so ``python -m qa_models.report run_dir`` later produces
    exactly the same bytes.

    If validation fails, the data is still saved to ``results.invalid.json`` (hours of
    training should not be lost to a schema slip) and :class:`ReportError` is raised.
    """
    run_path = Path(run_dir)
    run_path.mkdir(parents=True, exist_ok=True)
    plain = _to_jsonable(results)
    try:
        validate_results(plain, source=str(run_path / RESULTS_JSON))
    except ReportError as exc:
        rescue = run_path / "results.invalid.json"
        _atomic_write(rescue, _dump_json(plain))
        raise ReportError(f"{exc} (the data was saved to {rescue} for inspection)") from exc
    _atomic_write(run_path / RESULTS_JSON, _dump_json(plain))
    return build_report(run_path, n_resamples=n_resamples, seed=seed)


# --------------------------------------------------------------------------------------
# Comparing runs
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Runs side by side. ``table`` is long-format: one row per (model, metric)."""

    markdown: str
    table: pd.DataFrame
    flagged: list[tuple[str, str, str, str]]
    """(model, metric, run label, run label) for every pair of runs whose 95% CIs do not overlap."""


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
    labels: list[str] = []
    for d, r in zip(run_dirs, runs):
        label = str(r["run"].get("run_id") or Path(d).name)
        if label in labels:  # two runs with one id: fall back to the folder to tell them apart
            label = f"{label} ({d})"
        labels.append(label)
    stats = [{m["name"]: _model_stats(m, n_resamples, seed) for m in r["models"]} for r in runs]
    names: list[str] = []
    for r in runs:
        names += [m["name"] for m in r["models"] if m["name"] not in names]

    rows: list[dict[str, Any]] = []
    flagged: list[tuple[str, str, str, str]] = []
    for name in names:
        entries = [(label, next((m for m in r["models"] if m["name"] == name), None), st.get(name))
                   for label, r, st in zip(labels, runs, stats)]
        for metric, key in (("test F1", "f1"), ("test EM", "exact")):
            row: dict[str, Any] = {"model": name, "metric": metric}
            bounds = {}
            for label, m, st in entries:
                if m is None:
                    row[label] = _DASH
                    continue
                value = _metric(m, st, "all", key)
                ci = st.ci.get("all", {}).get(key)
                row[label] = _f(value) + (f" {_ci(ci[1], ci[2])}" if ci else "")
                if ci:
                    bounds[label] = (ci[1], ci[2])
            pair_flags = [(a, b) for a, b in itertools.combinations(list(bounds), 2) if intervals_overlap(bounds[a], bounds[b]) is False]
            flagged += [(name, metric, a, b) for a, b in pair_flags]
            row["CIs"] = ("**differ**: " + "; ".join(f"{a} vs {b}" for a, b in pair_flags)) if pair_flags else ("overlap" if len(bounds) > 1 else _DASH)
            rows.append(row)
        for metric, get in (("train time", lambda m: _duration(_train(m).get("wall_time_s")) if m.get("train") else "zero-shot"),
                            ("questions/s", lambda m: _rate((m.get("inference") or {}).get("questions_per_s"))),
                            ("peak memory", lambda m: _gib(_train(m).get("peak_memory_bytes")))):
            row = {"model": name, "metric": metric}
            for label, m, _ in entries:
                row[label] = get(m) if m is not None else _DASH
            row["CIs"] = ""
            rows.append(row)
    table = pd.DataFrame(rows, columns=["model", "metric", *labels, "CIs"])

    run_rows = [[label, _text(r["run"].get("profile")), _text(r["run"].get("track")), _text(r["run"].get("git_commit")),
                 _text(r["run"].get("finished")), _text((r["run"].get("environment") or {}).get("gpu_name")),
                 _text(r["run"].get("seed")), str(d)] for label, r, d in zip(labels, runs, run_dirs)]
    blocks: list = [_Heading(1, "qabench comparison: " + " vs ".join(labels)),
                    _Table(pd.DataFrame(run_rows, columns=["run", "profile", "track", "git commit", "finished", "GPU", "seed", "directory"]))]
    tracks = {r["run"].get("track") for r in runs}
    if len(tracks) > 1:
        blocks.append(_Note(f"These runs use different tracks ({', '.join(sorted(map(str, tracks)))}); their scores are not comparable."))
    blocks.append(_Heading(2, "Models aligned by name"))
    blocks.append(_Table(table, frozenset(labels)))
    blocks.append(_Note(f"Values: point estimate [95% percentile bootstrap CI over test questions, {n_resamples} resamples, seed {seed}]. "
                        "**differ** marks runs whose CIs do not overlap, a conservative test: overlap does not prove equality. "
                        "A dash means the model is not in that run."))
    if flagged:
        blocks.append(_Para("**Differences with non-overlapping CIs:** "
                            + "; ".join(f"{n} {mt} ({a} vs {b})" for n, mt, a, b in flagged) + "."))
    else:
        blocks.append(_Para("**No differences with non-overlapping CIs.**"))
    return Comparison(_render_md(blocks), table, flagged)


def write_compare(run_dirs: Sequence[str | os.PathLike[str]], out_dir: str | os.PathLike[str], *,
                  n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> tuple[Path, Comparison]:
    """Run :func:`compare_runs` and write its Markdown to ``out_dir/compare.md`` (atomically)."""
    comparison = compare_runs(run_dirs, n_resamples=n_resamples, seed=seed)
    path = Path(out_dir) / COMPARE_MD
    _atomic_write(path, comparison.markdown.encode("utf-8"))
    return path, comparison


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


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


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit status (1 on a :class:`ReportError`)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.compare and args.run_dir:
        parser.error("give either RUN_DIR or --compare, not both")
    if not args.compare and not args.run_dir:
        parser.error("give a run directory, or --compare RUN_DIR RUN_DIR [...]")
    if args.out and not args.compare:
        parser.error("--out only applies to --compare (a run's report is written into its own directory)")
    if args.resamples < 1:
        parser.error("--resamples must be positive")
    try:
        if args.compare:
            if len(args.compare) < 2:
                parser.error("--compare needs at least two run directories")
            out = Path(args.out) if args.out else Path(args.compare[0]).resolve().parent / "compare"
            path, comparison = write_compare(args.compare, out, n_resamples=args.resamples, seed=args.seed)
            sys.stdout.write(comparison.markdown)
            print(f"\nwrote {path}", file=sys.stderr)
        else:
            paths = build_report(args.run_dir, n_resamples=args.resamples, seed=args.seed)
            for p in (paths.results_csv, paths.report_md, paths.report_html, *paths.plots.values()):
                print(p)
            for key, why in paths.skipped_plots.items():
                print(f"skipped {PLOT_FILES[key]}: {why}", file=sys.stderr)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
