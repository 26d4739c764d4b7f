"""Per-model numbers: per-question frames with their bootstrap intervals, the ranking by
test F1, the paired bootstrap of every pair, and the one-row-per-model ``results.csv``."""

from __future__ import annotations

import dataclasses
import itertools
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..formatting import is_finite
from ..results import SECTIONS
from .schema import section, train_of
from .stats import DEFAULT_RESAMPLES, DEFAULT_SEED, bootstrap_ci, paired_bootstrap

GIB = 2**30
SUBSETS = ("all", "HasAns", "NoAns")

MEASUREMENTS = ("abstention", "validation_abstention", "cross_lingual", "speed", "coverage")
"""The optional measurement sections (``results.SECTIONS``) tabulated per field, in report order;
``inference`` has its own columns and tables."""


def subset_prefix(subset: str) -> str:
    """Key prefix of a subset in the official scorer's output ("" for all questions)."""
    return "" if subset == "all" else f"{subset}_"


@dataclass
class ModelStats:
    """Bootstrap results for one model; ``ci[subset][metric] = (mean, low, high)``."""

    name: str
    frame: pd.DataFrame
    ci: dict[str, dict[str, tuple[float, float, float]]]
    n: dict[str, int]


def per_question_frame(model: dict) -> pd.DataFrame:
    """Per-question rows as a frame: id, question, has_answer, gold, exact and f1 (0-100)."""
    rows = model["test_per_question"]
    return pd.DataFrame({
        "id": [r["id"] for r in rows],
        "question": [r["question"] for r in rows],
        "has_answer": [bool(r["has_answer"]) for r in rows],
        "gold": [list(r["gold"]) for r in rows],
        "exact": [100.0 * float(r["exact"]) for r in rows],
        "f1": [100.0 * float(r["f1"]) for r in rows],
    })


def model_stats(model: dict, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> ModelStats:
    """Bootstrap CIs of EM and F1 for all questions and, where the data has both kinds, HasAns and NoAns."""
    frame = per_question_frame(model)
    has_split_keys = any(k.startswith(("HasAns_", "NoAns_")) for k in model["test"])
    mixed = frame["has_answer"].nunique() > 1
    ci: dict[str, dict[str, tuple[float, float, float]]] = {}
    n: dict[str, int] = {}
    for subset in SUBSETS:
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
    return ModelStats(model["name"], frame, ci, n)


def all_stats(models: Sequence[dict], n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> dict[str, ModelStats]:
    """:func:`model_stats` of every model, by name."""
    return {m["name"]: model_stats(m, n_resamples, seed) for m in models}


def metric(model: dict, stats: ModelStats, subset: str, name: str) -> float:
    """Official test metric when recorded, else the per-question mean (same 0-100 scale)."""
    value = model["test"].get(f"{subset_prefix(subset)}{name}")
    if is_finite(value):
        return float(value)
    return stats.ci.get(subset, {}).get(name, (math.nan,))[0]


def test_f1(model: dict, stats: ModelStats) -> float:
    """Test F1 over all questions."""
    return metric(model, stats, "all", "f1")


def ranked(models: Sequence[dict], stats: dict[str, ModelStats]) -> list[dict]:
    """Models by test F1, best first; models without F1 last; ties keep input order."""

    def key(item: tuple[int, dict]) -> tuple[int, float, int]:
        i, m = item
        f1 = test_f1(m, stats[m["name"]])
        return (0, -f1, i) if is_finite(f1) else (1, 0.0, i)

    return [m for _, m in sorted(enumerate(models), key=key)]


_PAIR_COLUMNS = ["model_a", "model_b", "n_shared", "f1_a", "f1_b", "diff", "ci_low", "ci_high", "excludes_zero"]


def pairs(models: Sequence[dict], stats: dict[str, ModelStats], n_resamples: int = DEFAULT_RESAMPLES,
          seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Paired bootstrap on F1 for every pair, ordered so model A has the higher test F1."""
    rows = []
    for a, b in itertools.combinations(ranked(models, stats), 2):
        fa = dict(zip(stats[a["name"]].frame["id"], stats[a["name"]].frame["f1"]))
        fb = dict(zip(stats[b["name"]].frame["id"], stats[b["name"]].frame["f1"]))
        shared = sorted(set(fa) & set(fb))
        diff, low, high, excl = paired_bootstrap(fa, fb, n_resamples, seed)
        mean_a = float(np.mean([fa[i] for i in shared])) if shared else math.nan
        mean_b = float(np.mean([fb[i] for i in shared])) if shared else math.nan
        rows.append([a["name"], b["name"], len(shared), mean_a, mean_b, diff, low, high, excl])
    return pd.DataFrame(rows, columns=_PAIR_COLUMNS)


# -- results.csv ---------------------------------------------------------------------------


def _present_subsets(models: Sequence[dict], stats: dict[str, ModelStats]) -> list[str]:
    # HasAns / NoAns only when some model has them (CMRC has no unanswerable questions).
    return ["all"] + [s for s in ("HasAns", "NoAns")
                      if any(s in st.ci for st in stats.values())
                      or any(k.startswith(f"{s}_") for m in models for k in m["test"])]


def _test_columns(models: Sequence[dict], stats: dict[str, ModelStats]) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Test columns in a fixed order (the union over models, so every row lines up) and
    canonical column -> (subset, metric); metric "total" is a count, the others get CIs."""
    canonical: dict[str, tuple[str, str]] = {}
    columns: list[str] = []
    for s in _present_subsets(models, stats):
        p = subset_prefix(s)
        for name in ("exact", "f1"):
            canonical[f"{p}{name}"] = (s, name)
            columns += [f"{p}{name}", f"{p}{name}_ci_low", f"{p}{name}_ci_high"]
        canonical[f"{p}total"] = (s, "total")
        columns.append(f"{p}total")
    return columns + [k for k in _scalar_keys(models, "test") if k not in columns], canonical


def _scalar_keys(models: Sequence[dict], field: str) -> list[str]:
    """Keys of the dict ``field`` over all models, first seen first, whose values are scalars."""
    keys: list[str] = []
    for m in models:
        keys += [k for k, v in m[field].items() if k not in keys and not isinstance(v, (dict, list))]
    return keys


def _test_cell(col: str, test: dict, st: ModelStats, canonical: dict[str, tuple[str, str]]) -> Any:
    base = col.removesuffix("_ci_low").removesuffix("_ci_high")
    if base != col:
        bounds = st.ci.get(canonical[base][0], {}).get(canonical[base][1])
        return (bounds[1] if col.endswith("_low") else bounds[2]) if bounds else None
    if col in test:
        return test[col]
    if col not in canonical:
        return None
    # Official key not recorded: fall back to the per-question numbers.
    subset, name = canonical[col]
    if name == "total":
        return st.n.get(subset)
    mean = st.ci.get(subset, {}).get(name)
    return mean[0] if mean else None


def _identity_and_cost(m: dict) -> dict[str, Any]:
    tr, params = train_of(m), m["parameters"]
    peak = tr.get("peak_memory_bytes")
    return {
        "name": m["name"], "model_id": m["model_id"], "family": m["family"], "method": m["method"],
        "quantize": m["quantize"], "zero_shot": m["zero_shot"],
        "params_total": params["total"], "params_trainable": params["trainable"],
        "epochs": tr.get("epochs"), "learning_rate": tr.get("learning_rate"), "batch_size": tr.get("batch_size"),
        "train_wall_time_s": tr.get("wall_time_s"), "examples_per_s": tr.get("examples_per_s"),
        "tokens_per_s": tr.get("tokens_per_s"), "peak_memory_gib": peak / GIB if is_finite(peak) else None,
        "memory_kind": tr.get("memory_kind"), "train_device": tr.get("device"), "train_cached": tr.get("cached"),
        "threshold": m["threshold"],
    }


def _inference_columns(m: dict) -> dict[str, Any]:
    inf = section(m, "inference")
    return {"latency_p50_s": inf.get("latency_p50_s"), "latency_p95_s": inf.get("latency_p95_s"),
            "questions_per_s": inf.get("questions_per_s"), "inference_batch_size": inf.get("batch_size"),
            "inference_device": inf.get("device"), "inference_test_questions": inf.get("test_questions"),
            "inference_latency_rounds": inf.get("latency_rounds")}


def scalar_fields(name: str) -> list[str]:
    """Fields of a measurement section's record whose values are scalars (dicts are per-configuration detail)."""
    hints = typing.get_type_hints(SECTIONS[name])
    return [f.name for f in dataclasses.fields(SECTIONS[name]) if typing.get_origin(hints[f.name]) is not dict]


def _measurement_columns(models: Sequence[dict]) -> list[tuple[str, str]]:
    """(section, field) of every scalar field of the sections some model measured."""
    return [(name, f) for name in MEASUREMENTS if any(m[name] is not None for m in models) for f in scalar_fields(name)]


def _int_columns(frame: pd.DataFrame, records: list[dict]) -> pd.DataFrame:
    # A missing value (zero-shot row) would turn an integer column into floats ("16.0");
    # nullable Int64 keeps counts looking like counts.
    for col in frame.columns:
        raw = [rec.get(col) for rec in records]  # before pandas coerced None to NaN
        present = [v for v in raw if v is not None]
        if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
            frame[col] = pd.array(raw, dtype="Int64")
    return frame


def results_frame(results: dict, stats: dict[str, ModelStats] | None = None, *,
                  n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """One row per model with every scalar flattened (the content of ``results.csv``).

    Columns: identity (name, model_id, family, method, quantize, zero_shot), size
    (params_*), training cost (epochs ... peak_memory_gib), threshold, test metrics with
    ``*_ci_low`` / ``*_ci_high`` bootstrap bounds beside EM and F1 (overall, HasAns,
    NoAns), the remaining official test keys, validation metrics, inference speed, the
    adapter's prediction counters as ``prediction_<key>`` and each measured section's
    scalar fields as ``<section>_<field>`` (e.g. ``abstention_no_answer_auroc``). A value
    the run did not record is an empty cell.
    """
    models = results["models"]
    stats = stats or all_stats(models, n_resamples, seed)
    test_cols, canonical = _test_columns(models, stats)
    val_cols = _scalar_keys(models, "validation")
    pred_cols = _scalar_keys(models, "prediction")
    measured = _measurement_columns(models)
    records = []
    for m in models:
        st = stats[m["name"]]
        rec = _identity_and_cost(m)
        rec.update({f"test_{c}": _test_cell(c, m["test"], st, canonical) for c in test_cols})
        rec["test_n_per_question"] = len(st.frame)
        rec.update({f"validation_{c}": m["validation"].get(c) for c in val_cols})
        rec.update(_inference_columns(m))
        rec.update({f"prediction_{c}": m["prediction"].get(c) for c in pred_cols})
        rec.update({f"{s}_{f}": section(m, s).get(f) for s, f in measured})
        records.append(rec)
    return _int_columns(pd.DataFrame.from_records(records), records)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """results.csv's bytes: "\\n" line ends and repr-precision floats, the same on every platform."""
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
