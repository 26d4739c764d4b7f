"""The top of the report: the Answer paragraph (at most three sentences), the Diagnostics
table under it and the at-a-glance decision table, all in the order of test F1."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..formatting import DASH, format_duration, is_finite
from ..results import Results
from . import cells
from .frame import ModelStats, all_stats, metric, pairs, ranked, test_f1
from .plots import time_unit
from .schema import as_dict, device_kind, is_zero_shot, num, section, train_of
from .stats import DEFAULT_RESAMPLES, DEFAULT_SEED, gain_over_abstaining

ABSTAIN_ALMOST_ALWAYS = 0.95
"""Share of test questions answered "" from which the Answer warns that a model's F1 is
mostly the unanswerable share rather than answers found."""

GLANCE_TEXT_COLUMNS = frozenset({"model", "method", "quantisation"})


def _score_text(m: dict, st: ModelStats) -> str:
    """Test F1 with its bootstrap CI, e.g. "85.0 (95% CI 80.1–89.9, 200 questions)"."""
    ci = st.ci.get("all", {}).get("f1")
    text = cells.fixed(test_f1(m, st), 1)
    if ci and is_finite(ci[1]):
        text += f" (95% CI {ci[1]:.1f}–{ci[2]:.1f}, {st.n['all']} questions)"
    return text


def train_time_text(m: dict, scale: float = math.nan) -> str:
    """Training wall time with its device kind; ``scale`` (the longest time compared) picks a shared unit."""
    if is_zero_shot(m):
        return "no training (zero-shot)"
    tr = train_of(m)
    wall = num(tr, "wall_time_s")
    if not is_finite(wall):
        return "training time not recorded"
    per_unit, name = time_unit(max(wall, scale) if is_finite(scale) else wall)
    kind = device_kind(tr)
    unit = f"{kind}-{name}" if kind else f"{name} on {tr.get('device') or 'an unnamed device'}"
    return f"{wall / per_unit:.2f} {unit}" if name == "hours" else f"{wall / per_unit:.1f} {unit}"


def _memory_text(m: dict) -> tuple[float, str]:
    tr = train_of(m)
    peak = num(tr, "peak_memory_bytes")
    kind = cells.MEMORY_KINDS.get(tr.get("memory_kind"), tr.get("memory_kind") or "")
    return peak, (f"{peak / cells.GIB:.1f} GiB {kind}".strip() if is_finite(peak) else "not recorded")


def _paired_clause(pairs_frame: pd.DataFrame, a: str, b: str) -> str:
    """The paired bootstrap of ``a`` against ``b`` as a clause of the winner sentence."""
    row = pairs_frame[(pairs_frame["model_a"] == a) & (pairs_frame["model_b"] == b)]
    if row.empty or not is_finite(row.iloc[0]["ci_low"]):
        return "no paired CI: the two share no per-question test rows"
    r = row.iloc[0]
    verdict = "which excludes zero" if r["excludes_zero"] else "which includes zero, so this test set cannot separate them"
    # A bound of +0.02 printed as "+0.0" beside "excludes zero" reads as a contradiction.
    digits = 2 if r["excludes_zero"] and min(abs(r["ci_low"]), abs(r["ci_high"])) < 0.05 else 1
    return (f"paired bootstrap 95% CI of the difference {cells.signed(r['ci_low'], digits)} to "
            f"{cells.signed(r['ci_high'], digits)} over {r['n_shared']} questions, {verdict}")


def _winner_sentence(order: list[dict], stats: dict[str, ModelStats], pairs_frame: pd.DataFrame) -> str:
    """Sentence one: the winner, its margin over the runner-up and the paired CI of that margin."""
    top, second = order[0], order[1]
    f_a, f_b = test_f1(top, stats[top["name"]]), test_f1(second, stats[second["name"]])
    paired = _paired_clause(pairs_frame, top["name"], second["name"])
    if f_a > f_b:
        return (f"**{top['name']}** wins on test F1 with {_score_text(top, stats[top['name']])}, {f_a - f_b:.1f} points "
                f"ahead of the runner-up **{second['name']}** ({cells.fixed(f_b, 1)}); {paired}.")
    # Only the runner-up is named; without the count a three-way tie would read as a two-way one.
    more = sum(test_f1(m, stats[m["name"]]) == f_a for m in order[2:])
    others = f" and {more} more model{'s' if more > 1 else ''}" if more else ""
    return (f"**{top['name']}** ties on test F1 with the runner-up **{second['name']}**{others} at "
            f"{_score_text(top, stats[top['name']])}; {paired}.")


def _memory_clause(top: dict, second: dict) -> str:
    (ma, sa), (mb, sb) = _memory_text(top), _memory_text(second)
    text = f"peak memory {sa} vs {sb}"
    if train_of(top).get("memory_kind") != train_of(second).get("memory_kind"):
        # A GPU allocator peak and a process RSS measure different things: no ratio.
        return text + (" (different kinds)" if is_finite(ma) and is_finite(mb) else "")
    r = cells.ratio(ma, mb)
    return text + (f" ({r})" if r else "")


def _throughput_clause(top: dict, second: dict) -> str:
    qa, qb = num(top["inference"], "questions_per_s"), num(second["inference"], "questions_per_s")
    text = f"{cells.rate(qa)} vs {cells.rate(qb)} questions/s"
    if is_finite(qa) and is_finite(qb) and qa > 0 and qb > 0:
        # "31× lower throughput" reads better than "0.032× the throughput".
        text += f" ({cells.ratio(qa, qb)} the throughput)" if qa >= qb else f" ({cells.ratio(qb, qa)} lower throughput)"
    return text


def _cost_sentence(top: dict, second: dict) -> str:
    """Sentence two: what the winner costs relative to the runner-up, as ratios."""
    wa, wb = num(top["train"], "wall_time_s"), num(second["train"], "wall_time_s")
    scale = max((w for w in (wa, wb) if is_finite(w)), default=math.nan)
    r = cells.ratio(wa, wb)
    costs = [f"training {train_time_text(top, scale)} vs {train_time_text(second, scale)}" + (f" ({r})" if r else "")]
    pa, pb = top["parameters"], second["parameters"]
    r = cells.ratio(pa["total"], pb["total"])
    costs.append(f"{cells.count(pa['total'])} vs {cells.count(pb['total'])} parameters" + (f" ({r})" if r else ""))
    costs += [_memory_clause(top, second), _throughput_clause(top, second)]
    return f"Cost of **{top['name']}** relative to **{second['name']}**: " + "; ".join(costs) + "."


def _single_model(models: list[dict], top: dict, st: ModelStats) -> str:
    lead = (f"Only one model was run (**{top['name']}**), so there is no comparison." if len(models) == 1
            else f"Only **{top['name']}** has a test F1 ({len(models) - 1} other model(s) have none), so there is no comparison.")
    params = top["parameters"]
    cost = (f"It reaches test F1 {_score_text(top, st)} at a cost of {train_time_text(top)}, "
            f"{cells.count(params['total'])} parameters ({cells.count(params['trainable'])} trainable), "
            f"peak memory {_memory_text(top)[1]} and {cells.rate(num(top['inference'], 'questions_per_s'))} questions/s.")
    return " ".join(filter(None, (lead, cost, _abstention_caveat([top]))))


def headline(results: Results | Mapping[str, Any], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
             _stats: dict[str, ModelStats] | None = None, _pairs_frame: pd.DataFrame | None = None) -> str:
    """The Answer paragraph: at most three sentences, from the numbers alone.

    One: the model with the highest test F1, its lead over the runner-up and the paired
    bootstrap CI of that lead. Two: what it costs relative to the runner-up (training time,
    parameters, peak memory, questions/s). Three, when needed: one caveat. Per-model detail
    (abstention, AUROC, span quality) is the Diagnostics table under it (:func:`diagnostics`),
    so the paragraph does not grow with the number of models. ``results``: a
    :class:`qa_models.results.Results` or its JSON object.
    """
    models = as_dict(results)["models"] if _stats is None else results["models"]
    stats = _stats or all_stats(models, n_resamples, seed)
    if not models:
        return "This run has no models, so there is nothing to report."
    order = [m for m in ranked(models, stats) if is_finite(test_f1(m, stats[m["name"]]))]
    if not order:
        return "No model has a test F1, so no winner can be named."
    if len(order) == 1:
        return _single_model(models, order[0], stats[order[0]["name"]])
    pairs_frame = _pairs_frame if _pairs_frame is not None else pairs(models, stats, n_resamples, seed)
    return " ".join(filter(None, (_winner_sentence(order, stats, pairs_frame), _cost_sentence(order[0], order[1]),
                                  _abstention_caveat(order))))


def _abstention(m: dict) -> tuple[float, float, float]:
    """(share abstained at the tuned threshold, no-answer AUROC, never-abstain HasAns F1) of one model."""
    record = section(m, "abstention")
    return (num(record, "share_abstained"), num(record, "no_answer_auroc"), num(record, "never_abstain_HasAns_f1"))


def _abstention_caveat(models: list[dict]) -> str:
    """One sentence (or "") for the models that abstain on almost every test question."""
    shares = {m["name"]: _abstention(m)[0] for m in models}
    flagged = [name for name, share in shares.items() if is_finite(share) and share >= ABSTAIN_ALMOST_ALWAYS]
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


def _gain_over_abstaining(st: ModelStats) -> tuple[float, float, float]:
    """``stats.gain_over_abstaining`` on one model's test rows; NaN without both kinds of question."""
    frame = st.frame
    if frame.empty or frame["has_answer"].nunique() < 2:
        return (math.nan, math.nan, math.nan)
    return gain_over_abstaining(frame["f1"].to_numpy(), frame["has_answer"].to_numpy())


def diagnostics(results: Results | Mapping[str, Any], *, _stats: dict[str, ModelStats] | None = None) -> pd.DataFrame:
    """The per-model detail behind the Answer's caveat, in the Answer's order: share of test
    questions abstained at the tuned threshold, test F1 minus that of abstaining everywhere
    (``stats.gain_over_abstaining``), how well the no-answer probability separates unanswerable from
    answerable questions (AUROC, 0.5 is chance) and the HasAns F1 the model would reach if it
    never abstained (its span quality alone). Empty when no model has them.
    ``results``: a :class:`qa_models.results.Results` or its JSON object."""
    models = as_dict(results)["models"] if _stats is None else results["models"]
    stats = _stats or all_stats(models)
    rows = []
    for m in ranked(models, stats):
        share, auroc, never = _abstention(m)
        if not any(is_finite(v) for v in (share, auroc, never)):
            continue
        gain, low, high = _gain_over_abstaining(stats[m["name"]])
        rows.append([m["name"], cells.fixed(test_f1(m, stats[m["name"]]), 1),
                     f"{100 * share:.0f}%" if is_finite(share) else DASH,
                     f"{cells.signed(gain, 1)} {cells.interval(low, high, 1)}" if is_finite(gain) else DASH,
                     f"{auroc:.2f}" if is_finite(auroc) else DASH, cells.fixed(never, 1)])
    return pd.DataFrame(rows, columns=["model", "test F1", "abstained (tuned threshold)",
                                       "F1 − abstaining everywhere [95% paired CI]", "no-answer AUROC",
                                       "HasAns F1 never abstaining"])


def _glance_row(m: dict, st: ModelStats, subsets: list[str]) -> dict[str, str]:
    tr, inf, params = train_of(m), section(m, "inference"), m["parameters"]
    ci = st.ci.get("all", {}).get("f1")
    f1 = cells.fixed(test_f1(m, st))
    if ci and is_finite(ci[1]):
        f1 += f" {cells.interval(ci[1], ci[2])}"
    peak = tr.get("peak_memory_bytes")
    memory = cells.gib(peak)
    if is_finite(peak) and tr.get("memory_kind"):
        memory += f" {cells.MEMORY_KINDS.get(tr['memory_kind'], tr['memory_kind'])}"
    row = {"model": m["name"], "method": cells.text(m["method"]), "quantisation": cells.text(m["quantize"]),
           "test F1 [95% CI]": f1, "test EM": cells.fixed(metric(m, st, "all", "exact"))}
    for s in subsets:
        row[f"{s} F1"] = cells.fixed(metric(m, st, s, "f1"))
    row["params (total / trainable)"] = f"{cells.count(params['total'])} / {cells.count(params['trainable'])}"
    row["train time"] = ("zero-shot" if is_zero_shot(m) and not is_finite(tr.get("wall_time_s"))
                         else format_duration(tr.get("wall_time_s")))
    row["peak memory (train)"] = memory
    row["questions/s"] = cells.rate(inf.get("questions_per_s"))
    row["latency p50 (s)"] = cells.fixed(num(inf, "latency_p50_s"), 3)
    return row


def at_a_glance(results: Results | Mapping[str, Any], *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                _stats: dict[str, ModelStats] | None = None) -> pd.DataFrame:
    """The decision table: one row per model, best test F1 first, cells formatted as strings.

    Columns: model, method, quantisation, test F1 [95% CI], test EM, HasAns F1, NoAns F1
    (both only when some model has them; CMRC has no unanswerable questions), parameters
    (total / trainable), train time, peak memory, questions/s and latency p50. Order is
    that of :func:`headline` (ties keep input order; models without a test F1 last).
    ``results``: a :class:`qa_models.results.Results` or its JSON object.
    """
    models = as_dict(results)["models"] if _stats is None else results["models"]
    stats = _stats or all_stats(models, n_resamples, seed)
    subsets = [s for s in ("HasAns", "NoAns") if any(is_finite(metric(m, stats[m["name"]], s, "f1")) for m in models)]
    return pd.DataFrame([_glance_row(m, stats[m["name"]], subsets) for m in ranked(models, stats)])
