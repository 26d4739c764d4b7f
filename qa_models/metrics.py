"""Scoring for extractive QA: the official SQuAD v2.0 metric and the CMRC 2018 metric.

Everything here is pure Python plus numpy on purpose: scores must be computable
(and testable) on a machine that has no torch, no transformers and no network,
and a metric module that pulls in a model stack is a metric nobody re-runs.

SQuAD v2.0
    Reimplements the semantics of the official ``evaluate-v2.0.py`` (Rajpurkar
    et al., 2018): answer normalisation, exact match, bag-of-tokens F1, the
    HasAns/NoAns breakdown, the ``--na-prob-thresh`` rule and the
    ``best_exact``/``best_f1`` threshold sweep, including its quirks (see
    :func:`find_best_threshold`). Scores are percentages, as there.

CMRC 2018
    Chinese span extraction (Cui et al., 2019). SQuAD's F1 splits on whitespace,
    which makes F1 collapse to EM on Chinese; CMRC instead scores on a mixed
    segmentation (one token per CJK character, Latin/digit runs whole) and takes
    F1 from the longest common *substring* of the two token sequences.
"""

from __future__ import annotations

import collections
import math
import re
import string
from collections.abc import Callable, Iterable, Iterator, Mapping

import numpy as np

__all__ = [
    "normalize_answer",
    "get_tokens",
    "exact_match",
    "token_f1",
    "gold_answers_from_squad_json",
    "has_answer_from_squad_json",
    "per_question_scores",
    "squad_v2_scores",
    "find_best_threshold",
    "best_na_threshold",
    "transfer_na_threshold",
    "apply_na_threshold",
    "SQUAD_V2_KEYS",
    "SQUAD_V2_BEST_KEYS",
    "CMRC_PUNCTUATION",
    "cmrc_remove_punctuation",
    "cmrc_segment",
    "cmrc_exact_match",
    "cmrc_f1",
    "cmrc2018_per_question",
    "cmrc2018_scores",
]

# ---------------------------------------------------------------------------
# SQuAD v2.0
# ---------------------------------------------------------------------------

#: Keys of the official report, in the official order. The HasAns_* / NoAns_*
#: groups are only present when the data has such questions (as officially).
SQUAD_V2_KEYS = (
    "exact", "f1", "total",
    "HasAns_exact", "HasAns_f1", "HasAns_total",
    "NoAns_exact", "NoAns_f1", "NoAns_total",
)
#: Keys appended (in this order) when no-answer probabilities are supplied.
SQUAD_V2_BEST_KEYS = ("best_exact", "best_exact_thresh", "best_f1", "best_f1_thresh")

_PUNCT = frozenset(string.punctuation)
# \b with re.UNICODE: "a" inside "ab" or "the" inside "theory" must survive;
# only whole-word articles go.
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)


def normalize_answer(s: str) -> str:
    """Normalise an answer the way the official SQuAD script does.

    Steps, in the official order: lower-case, drop every character of
    ``string.punctuation`` (ASCII only), replace whole-word articles
    ``a``/``an``/``the`` by a space, collapse runs of whitespace to one space
    and strip the ends.

    The order matters: punctuation goes *before* articles, so ``"the-end"``
    becomes ``"theend"`` (no article left), and ``"a.b"`` becomes ``"ab"``.
    """
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def get_tokens(s: str) -> list[str]:
    """Whitespace tokens of the normalised answer (``[]`` for an empty answer)."""
    if not s:
        return []
    return normalize_answer(s).split()


def exact_match(gold: str, pred: str) -> int:
    """1 if the normalised strings are identical, else 0."""
    return int(normalize_answer(gold) == normalize_answer(pred))


def token_f1(gold: str, pred: str) -> float:
    """Bag-of-tokens F1 between one gold answer and a prediction.

    Tokens are counted with multiplicity (a multiset intersection), so a
    prediction that repeats a gold word twice only gets credit once per gold
    occurrence. If either side normalises to no tokens the answer is a
    no-answer, and F1 is 1 exactly when both are empty, 0 otherwise.
    """
    gold_toks = get_tokens(gold)
    pred_toks = get_tokens(pred)
    if not gold_toks or not pred_toks:
        return int(gold_toks == pred_toks)
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    # Same operation order as the official script so results are bit-identical,
    # not merely close.
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


def _iter_qas(dataset: Mapping | list) -> Iterator[dict]:
    """Yield the question dicts of an official SQuAD-format tree.

    Accepts the whole JSON object (with a ``data`` list) or the ``data`` list
    itself, since callers have both at hand.
    """
    if isinstance(dataset, Mapping):
        if "data" not in dataset:
            raise ValueError("not a SQuAD-format dataset: top-level object has no 'data' key")
        articles = dataset["data"]
    else:
        articles = dataset
    if not isinstance(articles, list):
        raise ValueError("not a SQuAD-format dataset: 'data' is not a list")
    for article in articles:
        for paragraph in article["paragraphs"]:
            yield from paragraph["qas"]


def gold_answers_from_squad_json(dataset: Mapping | list) -> dict[str, list[str]]:
    """Map each question id to its gold answer texts.

    Answers whose normalised text is empty are dropped (they could never be
    matched by a real span), and a question left with none gets ``[""]``:
    the only right answer to an unanswerable question is the empty string.
    Offsets are not looked at; scoring needs texts only.
    """
    gold: dict[str, list[str]] = {}
    for qa in _iter_qas(dataset):
        texts = [a["text"] for a in qa.get("answers", []) if normalize_answer(a["text"])]
        gold[qa["id"]] = texts or [""]
    return gold


def has_answer_from_squad_json(dataset: Mapping | list) -> dict[str, bool]:
    """Map each question id to whether its ``answers`` list is non-empty.

    This is the official definition of HasAns. It differs from "gold != ['']"
    only for a question whose every answer normalises to nothing (e.g. the
    answer text is just "the"); pass the result to :func:`squad_v2_scores`
    as ``has_ans`` to be exact in that corner too.
    """
    return {qa["id"]: bool(qa.get("answers")) for qa in _iter_qas(dataset)}


def _resolve_has_ans(
    gold: Mapping[str, list[str]], has_ans: Mapping[str, bool] | None
) -> dict[str, bool]:
    """HasAns for exactly the questions in ``gold``.

    Restricted to gold's ids because the threshold sweep starts from the
    number of unanswerable questions, which extra entries would inflate.
    """
    if has_ans is None:
        return {qid: any(normalize_answer(g) for g in answers) for qid, answers in gold.items()}
    unknown = [qid for qid in gold if qid not in has_ans]
    if unknown:
        raise _missing_error("has_ans entry", unknown, len(gold))
    return {qid: bool(has_ans[qid]) for qid in gold}


def _missing_error(kind: str, missing: list[str], total: int) -> ValueError:
    shown = ", ".join(repr(m) for m in missing[:5])
    more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
    return ValueError(f"missing {kind} for {len(missing)} of {total} questions: {shown}{more}")


def per_question_scores(
    gold: Mapping[str, list[str]],
    preds: Mapping[str, str],
    allow_missing: bool = False,
) -> tuple[dict[str, int], dict[str, float]]:
    """Exact-match and F1 of every question, each the max over its gold answers.

    Predictions for ids not in ``gold`` are ignored (as officially). A question
    with no prediction is an error by default, because the official script's
    "Missing prediction for ..." line scrolls past unnoticed and the run then
    reports a score over a different question set. With ``allow_missing=True``
    such questions are skipped the way the official script skips them: they
    are absent from both returned dicts.
    """
    return _max_over_gold(gold, preds, exact_match, token_f1, allow_missing)


def _max_over_gold(
    gold: Mapping[str, list[str]],
    preds: Mapping[str, str],
    exact_fn: Callable[[str, str], int],
    f1_fn: Callable[[str, str], float],
    allow_missing: bool,
) -> tuple[dict[str, int], dict[str, float]]:
    """EM and F1 of every question, max over its gold answers, for either metric."""
    missing = [qid for qid in gold if qid not in preds]
    if missing and not allow_missing:
        raise _missing_error("prediction", missing, len(gold))
    exact_scores: dict[str, int] = {}
    f1_scores: dict[str, float] = {}
    for qid, answers in gold.items():
        if qid not in preds:
            continue
        pred = preds[qid]
        if not isinstance(pred, str):
            raise TypeError(f"prediction for {qid!r} is {type(pred).__name__}, expected str")
        answers = answers or [""]
        exact_scores[qid] = max(exact_fn(a, pred) for a in answers)
        f1_scores[qid] = max(f1_fn(a, pred) for a in answers)
    return exact_scores, f1_scores


def _check_na_probs(na_probs: Mapping[str, float], needed: Iterable[str]) -> None:
    needed = list(needed)
    missing = [qid for qid in needed if qid not in na_probs]
    if missing:
        raise _missing_error("no-answer probability", missing, len(needed))
    for qid, p in na_probs.items():
        # bool is an int subclass; a True/False "probability" is a bug upstream.
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
            raise TypeError(f"no-answer probability for {qid!r} is {p!r}, expected a number")
        # NaN breaks the sort the sweep relies on (every comparison is False).
        if math.isnan(p):
            raise ValueError(f"no-answer probability for {qid!r} is NaN")


def _threshold_scores(
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_ans: Mapping[str, bool],
    thresh: float,
) -> dict[str, float]:
    # A question whose na_prob exceeds the threshold counts as answered "":
    # right (1.0) if it is unanswerable, wrong otherwise, whatever was predicted.
    return {
        qid: (float(not has_ans[qid]) if na_probs[qid] > thresh else s)
        for qid, s in scores.items()
    }


def _eval_block(exact: Mapping[str, float], f1: Mapping[str, float], qids: list[str]) -> list:
    total = len(qids)
    # Python's left-to-right sum (not numpy's pairwise one) keeps us bit-equal
    # with the official script.
    return [
        100.0 * sum(exact[k] for k in qids) / total,
        100.0 * sum(f1[k] for k in qids) / total,
        total,
    ]


def find_best_threshold(
    preds: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_ans: Mapping[str, bool],
) -> tuple[float, float]:
    """The official best-threshold sweep, vectorised; returns ``(best_score_pct, thresh)``.

    Start with every question answered "" (score = number of unanswerable
    questions), then walk the questions in ascending na_prob and "switch on"
    each one's prediction: an answerable question gains its score, an
    unanswerable one loses 1 if its raw prediction is a non-empty string.
    The best running total and the na_prob at which it was first reached win.

    Kept deliberately identical to the official loop, quirks included:

    * ties in na_prob are visited in ``na_probs``' key order (a stable sort),
      and the threshold may be taken *inside* a tie group, so the reported
      best can be a score no single threshold achieves;
    * only a strict improvement moves the threshold, so the earliest (lowest)
      na_prob reaching the maximum wins, and 0.0 is returned if nothing beats
      "all empty";
    * the start counts unanswerable questions in ``has_ans`` (all of them),
      while the percentage divides by ``len(scores)`` (scored ones);
    * "predicted non-empty" looks at the raw string, so a prediction of "."
      on an unanswerable question costs 1 here although it scores EM 1;
    * ids in ``na_probs`` that have no score are passed over.
    """
    sorted_probs, running = _sweep(preds, scores, na_probs, has_ans)
    # The official loop updates only on strict improvement, so its final state
    # is the *first* position holding the maximum; argmax returns exactly that.
    best_pos = int(np.argmax(running))
    best_score = float(running[best_pos])
    best_thresh = 0.0 if best_pos == 0 else float(sorted_probs[best_pos - 1])
    return 100.0 * best_score / len(scores), best_thresh


def _sweep(
    preds: Mapping[str, str],
    scores: Mapping[str, float],
    na_probs: Mapping[str, float],
    has_ans: Mapping[str, bool],
) -> tuple[np.ndarray, np.ndarray]:
    """The official sweep's running totals: ``(na_probs in visiting order, totals)``.

    ``totals[0]`` is "every question empty"; ``totals[i]`` the total once the first ``i``
    questions (lowest na_prob first) are answered with their predictions.
    """
    if not scores:
        raise ValueError("no scored questions: cannot sweep a threshold")
    num_no_ans = sum(1 for v in has_ans.values() if not v)

    qids = [qid for qid in na_probs if qid in scores]
    probs = np.array([na_probs[q] for q in qids], dtype=np.float64)
    # Stable sort == Python's sorted(): equal na_probs keep na_probs' key order.
    order = np.argsort(probs, kind="stable")
    diffs = np.empty(len(qids) + 1, dtype=np.float64)
    diffs[0] = num_no_ans
    for out_i, src_i in enumerate(order, start=1):
        qid = qids[src_i]
        if has_ans[qid]:
            diffs[out_i] = scores[qid]
        else:
            diffs[out_i] = -1.0 if preds[qid] else 0.0
    # np.cumsum accumulates strictly left to right, the same float operations
    # as the official `cur_score += diff`, so the running totals are identical.
    return probs[order], np.cumsum(diffs)


def squad_v2_scores(
    gold: Mapping[str, list[str]],
    preds: Mapping[str, str],
    na_probs: Mapping[str, float] | None = None,
    na_prob_thresh: float = 1.0,
    *,
    allow_missing: bool = False,
    has_ans: Mapping[str, bool] | None = None,
) -> dict:
    """The official SQuAD v2.0 report, as a dict with the official keys in order.

    ``exact, f1, total``, then ``HasAns_*`` if any question is answerable and
    ``NoAns_*`` if any is unanswerable (the official script omits an empty
    group rather than divide by zero), then, only when ``na_probs`` is given,
    ``best_exact, best_exact_thresh, best_f1, best_f1_thresh``.

    A question counts as answered "" when its na_prob is *strictly* greater
    than ``na_prob_thresh``; without ``na_probs`` every na_prob is 0.0, so the
    default threshold 1.0 leaves predictions as they are.

    ``has_ans`` overrides which questions are answerable; by default a
    question is answerable when one of its gold answers normalises to
    something (see :func:`has_answer_from_squad_json` for the one corner where
    the two definitions differ). With ``allow_missing=True`` questions without
    a prediction are left out of every count, the sweep included, so the
    report is that of the predicted subset (the official script would skip
    them in the totals and then crash on the HasAns/NoAns breakdown).
    """
    has_ans = _resolve_has_ans(gold, has_ans)
    exact_raw, f1_raw = per_question_scores(gold, preds, allow_missing=allow_missing)
    if not exact_raw:
        raise ValueError("no question has a prediction: nothing to score")

    given_na_probs = na_probs is not None
    if na_probs is None:
        na_probs = {qid: 0.0 for qid in preds}
    _check_na_probs(na_probs, exact_raw)

    exact_thr = _threshold_scores(exact_raw, na_probs, has_ans, na_prob_thresh)
    f1_thr = _threshold_scores(f1_raw, na_probs, has_ans, na_prob_thresh)

    scored = list(exact_raw)
    values = _eval_block(exact_thr, f1_thr, scored)
    has_qids = [q for q in scored if has_ans[q]]
    no_qids = [q for q in scored if not has_ans[q]]
    keys = list(SQUAD_V2_KEYS[:3])
    if has_qids:
        keys += SQUAD_V2_KEYS[3:6]
        values += _eval_block(exact_thr, f1_thr, has_qids)
    if no_qids:
        keys += SQUAD_V2_KEYS[6:9]
        values += _eval_block(exact_thr, f1_thr, no_qids)
    out = dict(zip(keys, values))

    if given_na_probs:
        # The sweep uses the *raw* scores: it asks what the best threshold
        # would have been, independent of the one applied above.
        # With skipped questions, sweep over the scored ones only: the official
        # start value counts every unanswerable question in the data, which
        # together with a denominator of scored questions can exceed 100%.
        sweep_has_ans = {q: has_ans[q] for q in scored}
        best_exact, exact_t = find_best_threshold(preds, exact_raw, na_probs, sweep_has_ans)
        best_f1, f1_t = find_best_threshold(preds, f1_raw, na_probs, sweep_has_ans)
        out.update(zip(SQUAD_V2_BEST_KEYS, (best_exact, exact_t, best_f1, f1_t)))
    return out


def best_na_threshold(
    gold: Mapping[str, list[str]],
    preds: Mapping[str, str],
    na_probs: Mapping[str, float],
    metric: str = "f1",
    *,
    has_ans: Mapping[str, bool] | None = None,
) -> float:
    """The no-answer threshold the official sweep picks for ``metric`` ("f1" or "exact"):
    the low edge of the best-scoring range, as ``best_f1_thresh`` reports it. A run carries
    :func:`transfer_na_threshold` (the middle of that range) to test instead.
    """
    scores, has_ans = _sweep_inputs(gold, preds, na_probs, metric, has_ans)
    return find_best_threshold(preds, scores, na_probs, has_ans)[1]


def _sweep_inputs(
    gold: Mapping[str, list[str]],
    preds: Mapping[str, str],
    na_probs: Mapping[str, float],
    metric: str,
    has_ans: Mapping[str, bool] | None,
) -> tuple[dict[str, float], Mapping[str, bool]]:
    """The per-question raw scores of ``metric`` and the answerable flags a threshold sweep needs."""
    if metric not in ("f1", "exact"):
        raise ValueError(f"metric must be 'f1' or 'exact', not {metric!r}")
    has_ans = _resolve_has_ans(gold, has_ans)
    exact_raw, f1_raw = per_question_scores(gold, preds)
    _check_na_probs(na_probs, exact_raw)
    return (f1_raw if metric == "f1" else exact_raw), has_ans


def transfer_na_threshold(
    gold: Mapping[str, list[str]],
    preds: Mapping[str, str],
    na_probs: Mapping[str, float],
    metric: str = "f1",
    *,
    has_ans: Mapping[str, bool] | None = None,
) -> float:
    """The no-answer threshold to tune on validation and carry to test: the middle of the
    best-scoring range of thresholds, where the official sweep takes its low edge.

    Every threshold from the official one (the na_prob of the first question at which the
    running total peaks) up to the na_prob of the first question after the peak that
    lowers the total scores the same on validation. The official edge sits right on a kept
    answerable question, and the peak often runs on over answerable questions whose spans
    are wrong (abstaining on them costs nothing), so on test that edge abstains on right
    answers whose na_prob is a little higher. The middle is as good on validation and leaves
    room on both sides.

    The middle is taken on the log-odds scale (the odds are the geometric mean of the two
    ends' odds): a span model's na_prob is the logistic of a score difference
    (``postprocess.na_probability``), so log-odds is the scale its scores live on, and a
    range from 0.5 to 1 - 1e-12 is cut near 1 - 1e-6, not at 0.75. Measured on
    ``tests/test_abstain_signal.py``'s tiny BERT (2026-12-07, 2-core CPU; each process builds
    its own tiny vocabulary, see ``tiny._bert_tokenizer``): the official edge kept fewer than
    90% of test's right answers in 3 of 18 runs (0.87 to 0.90); the middle on the probability
    scale kept at least 93% in 8 runs, the middle in log-odds at least 96.6% in 9 runs (8 of
    them 100%), abstaining on every unanswerable question throughout.

    Falls back to the official value when validation peaks at "every question empty";
    when the peak lasts to the highest na_prob, the range's top is that na_prob. Needs
    na_probs in [0, 1] (what every adapter here writes); strictly greater ones abstain, as
    in :func:`apply_na_threshold`.
    """
    scores, has_ans = _sweep_inputs(gold, preds, na_probs, metric, has_ans)
    outside = [qid for qid, p in na_probs.items() if not 0.0 <= p <= 1.0]
    if outside:
        raise ValueError(f"transfer_na_threshold needs no-answer probabilities in [0, 1]; {outside[0]!r} has "
                         f"{na_probs[outside[0]]!r} ({len(outside)} such). Map raw score differences with "
                         "postprocess.na_probability first.")
    sorted_probs, running = _sweep(preds, scores, na_probs, has_ans)
    first = int(np.argmax(running))
    if first == 0:
        return 0.0  # the official fallback: nothing beats abstaining everywhere
    # The peak's last position: just before the first later total that differs from it.
    leaves = np.flatnonzero(running[first:] != running[first])
    last = first + int(leaves[0]) - 1 if leaves.size else len(running) - 1
    low = float(sorted_probs[first - 1])
    high = float(sorted_probs[last]) if last < len(sorted_probs) else float(sorted_probs[-1])
    if high <= low:
        return low
    middle = _expit((_logit(low) + _logit(high)) / 2)
    # Rounding can push the middle of a range only a few ulps wide onto an edge; stay inside.
    return float(min(max(middle, low), np.nextafter(high, low)))


# The largest log-odds float64 can tell from certainty: 1 - 2**-53 is the last probability below 1.
_LOGIT_LIMIT = math.log((1 - 2.0**-53) / 2.0**-53)


def _logit(p: float) -> float:
    """Log-odds of a probability in [0, 1], clipped where float64 stops telling p from 0 or 1."""
    if p <= 0.0 or p >= 1.0:
        return math.copysign(_LOGIT_LIMIT, p - 0.5)
    return max(-_LOGIT_LIMIT, min(_LOGIT_LIMIT, math.log(p) - math.log1p(-p)))


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def apply_na_threshold(
    preds: Mapping[str, str],
    na_probs: Mapping[str, float],
    thresh: float,
) -> dict[str, str]:
    """Predictions with "" wherever na_prob is strictly greater than ``thresh``.

    Strictly greater, as officially: the best threshold returned by the sweep
    is the na_prob of the last question it kept answered, which must stay
    answered when the threshold is applied.
    """
    _check_na_probs(na_probs, preds)
    return {qid: ("" if na_probs[qid] > thresh else p) for qid, p in preds.items()}


def no_answer_auroc(has_ans: Mapping[str, bool], na_probs: Mapping[str, float]) -> float | None:
    """How well ``na_probs`` rank unanswerable above answerable questions (area under the ROC curve).

    1.0: every unanswerable question has a higher no-answer probability than every
    answerable one, so some threshold separates them; 0.5: no better than chance, so the
    best-F1 sweep can only trade answerable questions for unanswerable ones. Ties count
    one half (average ranks: the Mann-Whitney U statistic over both counts). ``None``
    when either class is absent (CMRC has no unanswerable questions).

    Not part of the official script: a diagnostic that separates the no-answer decision
    from span quality, which the official HasAns/NoAns numbers mix through the threshold.
    """
    _check_na_probs(na_probs, has_ans)
    qids = list(has_ans)
    unanswerable = np.array([not has_ans[q] for q in qids], dtype=bool)
    n_pos, n_neg = int(unanswerable.sum()), int((~unanswerable).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    probs = np.array([na_probs[q] for q in qids], dtype=np.float64)
    _, inverse, counts = np.unique(probs, return_inverse=True, return_counts=True)
    # Average 1-based rank of each distinct value: first rank of its group plus (count - 1) / 2.
    first_rank = np.cumsum(counts) - counts + 1
    ranks = (first_rank + (counts - 1) / 2.0)[inverse]
    u = ranks[unanswerable].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


# ---------------------------------------------------------------------------
# CMRC 2018
# ---------------------------------------------------------------------------

#: Characters dropped before CMRC scoring. The official CMRC list (ASCII
#: - : _ * ^ / \ ~ ` + = and the common full-width marks) is a subset; the
#: rest of ASCII punctuation and the other full-width/CJK marks are added so
#: that a stray quote or bracket in a prediction does not cost a token.
#: "……" appears in the official list as a two-character string that a
#: per-character filter can never match, so the ellipsis is listed here as
#: its single characters instead.
CMRC_PUNCTUATION = frozenset(
    string.punctuation
    + "，。：？！；、·…‥—–－～"  # full-width sentence marks, ellipsis, dashes
    + "“”‘’「」『』《》〈〉【】〔〕〖〗（）［］｛｝＜＞"  # quotes and brackets
    + "＂＇＃＄％＆＊＋／＝＠＼＾＿｀｜￥〃〜・﹏"  # full-width ASCII look-alikes
    + "．，！？：；"  # full-width forms of . , ! ? : ;
)


def _is_cjk(ch: str) -> bool:
    """True for a CJK ideograph (one token each in CMRC segmentation)."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF  # CJK Unified Ideographs
        or 0x3400 <= cp <= 0x4DBF  # Extension A
        or 0xF900 <= cp <= 0xFAFF  # Compatibility Ideographs
        or 0x20000 <= cp <= 0x3FFFF  # Extensions B onwards (SIP, TIP)
    )


def cmrc_remove_punctuation(s: str) -> str:
    """Lower-case, strip, and drop every character in :data:`CMRC_PUNCTUATION`."""
    return "".join(ch for ch in s.lower().strip() if ch not in CMRC_PUNCTUATION)


def cmrc_segment(s: str) -> list[str]:
    """Mixed segmentation: one token per CJK character, other runs whole.

    Punctuation is removed first *without* leaving a gap (as the official
    script does), so "ω-force" becomes the single token "ωforce". Whitespace
    separates non-CJK runs and is otherwise dropped; a CJK character ends the
    run before it. Everything is lower-cased.
    """
    segs: list[str] = []
    run: list[str] = []
    for ch in cmrc_remove_punctuation(s):
        if _is_cjk(ch) or ch.isspace():
            if run:
                segs.append("".join(run))
                run = []
            if not ch.isspace():
                segs.append(ch)
        else:
            run.append(ch)
    if run:
        segs.append("".join(run))
    return segs


def _longest_common_substring_len(a: list[str], b: list[str]) -> int:
    """Length of the longest contiguous run of tokens shared by ``a`` and ``b``.

    Dynamic programming over one row at a time: ``row[j]`` is the length of
    the common run ending at ``a[i-1]`` and ``b[j-1]``; answers are a few
    dozen tokens, so O(len(a)*len(b)) is nothing.
    """
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, start=1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                if cur[j] > best:
                    best = cur[j]
        prev = cur
    return best


def cmrc_exact_match(gold: str, pred: str) -> int:
    """1 if both strings segment to the same token sequence."""
    return int(cmrc_segment(gold) == cmrc_segment(pred))


def cmrc_f1(gold: str, pred: str) -> float:
    """F1 from the longest common substring of the two segmentations.

    precision = lcs / len(pred tokens), recall = lcs / len(gold tokens).
    If either side has no tokens, F1 is 1 when both are empty, else 0 (the
    SQuAD convention; CMRC golds are never empty).
    """
    gold_segs = cmrc_segment(gold)
    pred_segs = cmrc_segment(pred)
    if not gold_segs or not pred_segs:
        return float(gold_segs == pred_segs)
    lcs = _longest_common_substring_len(gold_segs, pred_segs)
    if lcs == 0:
        return 0.0
    precision = 1.0 * lcs / len(pred_segs)
    recall = 1.0 * lcs / len(gold_segs)
    return (2 * precision * recall) / (precision + recall)


def cmrc2018_per_question(
    gold: Mapping[str, list[str]],
    preds: Mapping[str, str],
    allow_missing: bool = False,
) -> tuple[dict[str, int], dict[str, float]]:
    """CMRC EM and F1 (F1 in [0, 1]) of every question, max over its gold answers.

    The CMRC counterpart of :func:`per_question_scores`: a missing prediction
    is an error naming the ids unless ``allow_missing=True``, which leaves the
    question out of both dicts. Predictions for unknown ids are ignored.
    """
    return _max_over_gold(gold, preds, cmrc_exact_match, cmrc_f1, allow_missing)


def cmrc2018_scores(
    gold: Mapping[str, list[str]],
    preds: Mapping[str, str],
    allow_missing: bool = False,
) -> dict:
    """CMRC 2018 ``{"exact", "f1", "total"}``, percentages averaged over questions.

    Each question takes the max EM and max F1 over its gold answers. A missing
    prediction is an error unless ``allow_missing=True``, in which case it
    scores 0 and still counts in ``total`` (what the official CMRC script
    does, unlike SQuAD's, which drops it from the total).
    """
    if not gold:
        raise ValueError("no questions to score")
    exact, f1 = cmrc2018_per_question(gold, preds, allow_missing=allow_missing)
    total = len(gold)
    return {
        "exact": 100.0 * sum(exact.values()) / total,
        "f1": 100.0 * sum(f1.values()) / total,
        "total": total,
    }
