"""Tests for qa_models.metrics: SQuAD v2.0 normalisation, EM/F1, scoring and the best-threshold sweep.

Expected numbers are worked out by hand in the comments next to them; none is copied from our
own output. Agreement with independent references is in test_metrics_reference.py, CMRC 2018
and the no-answer AUROC in test_metrics_cmrc.py.
"""

from __future__ import annotations

import random

import pytest

from qa_models import metrics as M

from metrics_fixtures import OFFICIAL_KEYS, BEST_KEYS, _tree


# ---------------------------------------------------------------------------
# normalisation, EM, F1
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "raw, expected",
    [
        ("The Broncos", "broncos"),  # article + case
        ("  Denver\tBroncos\n", "denver broncos"),  # whitespace collapsed
        ("a an the", ""),  # only articles
        ("theory of an apple", "theory of apple"),  # "the" inside a word survives
        ("Anne's car", "annes car"),  # apostrophe removed, no gap left
        ("the-end", "theend"),  # punctuation goes first, so no article remains
        ("U.S.A.", "usa"),
        ("A.", ""),  # "a." -> "a" -> article -> ""
        ("$1,000.50", "100050"),
        ("Ça «va»", "ça «va»"),  # non-ASCII punctuation is not in string.punctuation
        ("", ""),
    ],
)
def test_normalize_answer(raw, expected):
    assert M.normalize_answer(raw) == expected


def test_exact_match_cases():
    assert M.exact_match("Denver Broncos", "the denver broncos!") == 1
    assert M.exact_match("Denver Broncos", "Broncos") == 0
    assert M.exact_match("", "") == 1
    assert M.exact_match("", "the") == 1  # "the" normalises to nothing
    assert M.exact_match("", "Paris") == 0


def test_token_f1_hand_worked():
    # gold {saint, bernadette, soubirous}, pred {bernadette}: P=1, R=1/3,
    # F1 = 2*(1/3)/(4/3) = 0.5
    assert M.token_f1("Saint Bernadette Soubirous", "Bernadette") == pytest.approx(0.5)
    # gold {1, 000}? no: "1,000" -> "1000" (one token). pred "1000 people":
    # P=1/2, R=1 -> F1 = 2/3
    assert M.token_f1("1,000", "1000 people") == pytest.approx(2 / 3)
    # Multiset intersection: gold "new york new jersey" (new x2, york, jersey),
    # pred "new new new" (new x3): common = 2 -> P=2/3, R=2/4 -> F1 = 4/7
    assert M.token_f1("new york new jersey", "new new new") == pytest.approx(4 / 7)
    # No overlap
    assert M.token_f1("Paris", "London") == 0
    # Either side empty: 1 only if both are
    assert M.token_f1("", "") == 1
    assert M.token_f1("", "an") == 1  # "an" normalises to no tokens
    assert M.token_f1("", "London") == 0
    assert M.token_f1("Paris", "") == 0


# ---------------------------------------------------------------------------
# a small synthetic data set, worked by hand
# ---------------------------------------------------------------------------

SMALL = _tree([
    ("q1", ["Denver Broncos", "Broncos"]),
    ("q2", ["Saint Bernadette Soubirous"]),
    ("q3", []),
    ("q4", []),
    ("q5", []),
])
SMALL_PREDS = {
    "q1": "the Broncos",  # EM 1, F1 1 (matches "Broncos")
    "q2": "Bernadette",  # EM 0, F1 0.5
    "q3": "",  # unanswerable, abstained: 1, 1
    "q4": "Paris",  # unanswerable, answered: 0, 0
    "q5": ".",  # unanswerable, normalises to "": 1, 1
}


def test_gold_answers_from_squad_json():
    tree = _tree([("a", ["x", "  ", "The", "y"]), ("b", []), ("c", ["!"])])
    gold = M.gold_answers_from_squad_json(tree)
    # "  ", "The" and "!" normalise to nothing and are dropped; none left -> [""]
    assert gold == {"a": ["x", "y"], "b": [""], "c": [""]}
    # official HasAns: answers list non-empty, even if it normalises away
    assert M.has_answer_from_squad_json(tree) == {"a": True, "b": False, "c": True}
    with pytest.raises(ValueError, match="data"):
        M.gold_answers_from_squad_json({"version": "v2.0"})


def test_breakdown_without_na_probs():
    gold = M.gold_answers_from_squad_json(SMALL)
    out = M.squad_v2_scores(gold, SMALL_PREDS)
    assert list(out) == OFFICIAL_KEYS  # no best_* keys without na_probs
    # exact: 1+0+1+0+1 = 3/5; f1: 1+0.5+1+0+1 = 3.5/5
    assert out["exact"] == pytest.approx(60.0)
    assert out["f1"] == pytest.approx(70.0)
    assert out["total"] == 5
    assert (out["HasAns_exact"], out["HasAns_f1"], out["HasAns_total"]) == pytest.approx((50.0, 75.0, 2))
    assert (out["NoAns_exact"], out["NoAns_f1"], out["NoAns_total"]) == pytest.approx((200 / 3, 200 / 3, 3))


def test_na_prob_thresh_is_applied_strictly():
    gold = M.gold_answers_from_squad_json(SMALL)
    na = {"q1": 0.9, "q2": 0.5, "q3": 0.8, "q4": 0.7, "q5": 0.1}
    out = M.squad_v2_scores(gold, SMALL_PREDS, na_probs=na, na_prob_thresh=0.5)
    # > 0.5 become "": q1 (answerable -> 0), q3 (1), q4 (now right -> 1).
    # q2 has exactly 0.5 and keeps its answer (strictly greater only).
    # exact: 0+0+1+1+1 = 3/5; f1: 0+0.5+1+1+1 = 3.5/5
    assert out["exact"] == pytest.approx(60.0)
    assert out["f1"] == pytest.approx(70.0)
    assert out["HasAns_exact"] == pytest.approx(0.0)
    assert out["HasAns_f1"] == pytest.approx(25.0)
    assert out["NoAns_exact"] == pytest.approx(100.0)
    assert list(out) == OFFICIAL_KEYS + BEST_KEYS
    # Sweep (raw scores): start = 3 unanswerable. Ascending na_prob:
    # q5 0.1 ("." is a non-empty string: -1) -> 2; q2 0.5 (+0 / +0.5) -> 2 / 2.5;
    # q4 0.7 (-1) -> 1 / 1.5; q3 0.8 (+0) ; q1 0.9 (+1) -> 2 / 2.5.
    # Nothing beats the start: best = 3/5, thresh 0.0 for both.
    assert out["best_exact"] == pytest.approx(60.0) and out["best_exact_thresh"] == 0.0
    assert out["best_f1"] == pytest.approx(60.0) and out["best_f1_thresh"] == 0.0


def test_group_keys_omitted_when_group_empty():
    gold = {"a": ["x"], "b": ["y"]}
    out = M.squad_v2_scores(gold, {"a": "x", "b": "z"})
    assert list(out) == ["exact", "f1", "total", "HasAns_exact", "HasAns_f1", "HasAns_total"]
    out = M.squad_v2_scores({"a": [""]}, {"a": ""})
    assert list(out) == ["exact", "f1", "total", "NoAns_exact", "NoAns_f1", "NoAns_total"]
    assert out["exact"] == 100.0
    # an empty gold list means unanswerable too (callers holding raw answer lists)
    out = M.squad_v2_scores({"a": [], "b": ["y"]}, {"a": "", "b": "y"})
    assert out["NoAns_total"] == 1 and out["NoAns_exact"] == 100.0 and out["exact"] == 100.0


def test_missing_prediction_raises_naming_ids():
    gold = {f"id{i}": ["x"] for i in range(8)}
    preds = {"id0": "x"}
    with pytest.raises(ValueError) as exc:
        M.per_question_scores(gold, preds)
    msg = str(exc.value)
    assert "7 of 8" in msg and "'id1'" in msg and "2 more" in msg
    with pytest.raises(ValueError, match="missing prediction"):
        M.squad_v2_scores(gold, preds)
    # allow_missing: skipped like the official script, totals over scored ones
    em, f1 = M.per_question_scores(gold, preds, allow_missing=True)
    assert em == {"id0": 1} and f1 == {"id0": 1}
    out = M.squad_v2_scores(gold, preds, allow_missing=True)
    assert out["total"] == 1 and out["exact"] == 100.0


def test_allow_missing_scores_the_predicted_subset():
    # c (unanswerable) has no prediction. Counting it in the sweep's start, as
    # the official loop would, gives start 2 (b, c), a -> 3, over 2 scored
    # questions = 150%. Skipping must instead give the subset's own report:
    # start 1 (b); a +1 -> 2 (t = 0.5); b +0 -> 2  => 100% @ 0.5.
    gold = {"a": ["x"], "b": [""], "c": [""]}
    preds = {"a": "x", "b": ""}
    na = {"a": 0.5, "b": 0.7}
    out = M.squad_v2_scores(gold, preds, na_probs=na, allow_missing=True)
    assert out["best_exact"] == pytest.approx(100.0) and out["best_exact_thresh"] == 0.5
    subset = M.squad_v2_scores({"a": ["x"], "b": [""]}, preds, na_probs=na)
    assert out == subset


def test_extra_predictions_are_ignored():
    out = M.squad_v2_scores({"a": ["x"]}, {"a": "x", "zzz": "junk"})
    assert out["total"] == 1 and out["exact"] == 100.0


def test_missing_na_prob_raises():
    with pytest.raises(ValueError, match="no-answer probability"):
        M.squad_v2_scores({"a": ["x"], "b": [""]}, {"a": "x", "b": ""}, na_probs={"a": 0.1})
    with pytest.raises(ValueError, match="NaN"):
        M.apply_na_threshold({"a": "x"}, {"a": float("nan")}, 0.5)


# ---------------------------------------------------------------------------
# best-threshold sweep, ties worked by hand
# ---------------------------------------------------------------------------

TIE_GOLD = {"q1": ["cat"], "q2": ["dog"], "q3": [""], "q4": [""]}
TIE_PREDS = {"q1": "cat", "q2": "dog house", "q3": "fish", "q4": ""}
# raw: q1 EM 1 F1 1; q2 EM 0, F1: gold {dog}, pred {dog, house}: P=1/2 R=1 -> 2/3


def test_best_thresh_tie_taken_inside_tie_group():
    # q2 and q3 tie at 0.5; q2 comes first in na_probs' key order.
    na = {"q1": 0.1, "q2": 0.5, "q3": 0.5, "q4": 0.9}
    out = M.squad_v2_scores(TIE_GOLD, TIE_PREDS, na_probs=na)
    # start 2 (q3, q4 unanswerable)
    # EM:  q1 +1 -> 3 (best, t=0.1); q2 +0 -> 3; q3 -1 -> 2; q4 +0 -> 2  => 3/4 @ 0.1
    # F1:  q1 +1 -> 3 (t=0.1); q2 +2/3 -> 11/3 (best, t=0.5); q3 -1 -> 8/3; q4 -> 8/3
    #      => 100*(11/3)/4 = 91.666.. @ 0.5
    assert out["best_exact"] == pytest.approx(75.0)
    assert out["best_exact_thresh"] == 0.1
    assert out["best_f1"] == pytest.approx(100 * (11 / 3) / 4)
    assert out["best_f1_thresh"] == 0.5
    # The official quirk: the best F1 was read mid-tie-group. Applying 0.5 keeps
    # q3's "fish" too, so the real F1 there is (1 + 2/3 + 0 + 1)/4, lower.
    applied = M.apply_na_threshold(TIE_PREDS, na, out["best_f1_thresh"])
    assert applied == {"q1": "cat", "q2": "dog house", "q3": "fish", "q4": ""}
    real = M.squad_v2_scores(TIE_GOLD, applied)["f1"]
    assert real == pytest.approx(100 * (8 / 3) / 4)
    assert real < out["best_f1"]


def test_best_thresh_tie_order_matters():
    # Same values, q3 before q2 in key order: F1 q1 -> 3; q3 -> 2; q2 -> 8/3 < 3,
    # so the best stays 3 @ 0.1 for both metrics.
    na = {"q1": 0.1, "q3": 0.5, "q2": 0.5, "q4": 0.9}
    out = M.squad_v2_scores(TIE_GOLD, TIE_PREDS, na_probs=na)
    assert out["best_f1"] == pytest.approx(75.0) and out["best_f1_thresh"] == 0.1
    assert out["best_exact"] == pytest.approx(75.0) and out["best_exact_thresh"] == 0.1


def test_best_thresh_equal_score_does_not_move_threshold():
    # Two answerable, both right, na 0.2 and 0.6, then an unanswerable abstaining
    # at 0.8 (+0 keeps the total equal): the first (lowest) na_prob reaching the
    # max wins, later equal totals do not move it.
    gold = {"a": ["x"], "b": ["y"], "c": [""]}
    preds = {"a": "x", "b": "y", "c": ""}
    na = {"c": 0.8, "b": 0.6, "a": 0.2}
    # start 1; a +1 -> 2 (t .2); b +1 -> 3 (t .6); c +0 -> 3 (no move)
    assert M.best_na_threshold(gold, preds, na) == 0.6
    assert M.best_na_threshold(gold, preds, na, metric="exact") == 0.6
    out = M.squad_v2_scores(gold, preds, na_probs=na)
    assert out["best_exact"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="metric"):
        M.best_na_threshold(gold, preds, na, metric="recall")


def test_best_thresh_zero_when_nothing_beats_all_empty():
    gold = {"a": ["x"], "b": [""], "c": [""]}
    preds = {"a": "wrong", "b": "junk", "c": "more junk"}
    na = {"a": 0.3, "b": 0.2, "c": 0.1}
    out = M.squad_v2_scores(gold, preds, na_probs=na)
    # start 2; every step is <= 0 -> best 2/3 at the initial threshold 0.0
    assert out["best_exact"] == pytest.approx(200 / 3)
    assert out["best_exact_thresh"] == 0.0


def test_transfer_threshold_takes_the_middle_of_the_best_range():
    # Visiting order by na: right answer (+1, total 1 -> 2), wrong span (+0, still 2),
    # unanswerable with a span (-1 -> 1). Every threshold in [0.1, 0.9) scores 2 of 3;
    # the official sweep takes the low edge, the transfer threshold the middle in log-odds:
    # odds 1/9 and 9, geometric mean 1, probability 0.5.
    gold = {"right": ["x"], "wrong": ["y"], "none": [""]}
    preds = {"right": "x", "wrong": "z", "none": "w"}
    na = {"right": 0.1, "wrong": 0.3, "none": 0.9}
    assert M.best_na_threshold(gold, preds, na) == 0.1
    assert M.transfer_na_threshold(gold, preds, na) == pytest.approx(0.5)
    assert M.transfer_na_threshold(gold, preds, na, metric="exact") == pytest.approx(0.5)
    # A test question answered right at na 0.4 keeps its answer only with the middle.
    assert M.apply_na_threshold({"t": "x"}, {"t": 0.4}, M.best_na_threshold(gold, preds, na)) == {"t": ""}
    assert M.apply_na_threshold({"t": "x"}, {"t": 0.4}, M.transfer_na_threshold(gold, preds, na)) == {"t": "x"}
    with pytest.raises(ValueError, match="metric"):
        M.transfer_na_threshold(gold, preds, na, metric="recall")


def test_transfer_threshold_edges():
    # Nothing beats abstaining everywhere: the official fallback 0.0.
    gold = {"a": ["x"], "b": [""], "c": [""]}
    preds = {"a": "wrong", "b": "junk", "c": "more junk"}
    assert M.transfer_na_threshold(gold, preds, {"a": 0.3, "b": 0.2, "c": 0.1}) == 0.0
    # The best total lasts to the highest na_prob: the range's top is that na_prob.
    # Odds 1/4 and 9: geometric mean 3/2, probability 3/5.
    gold = {"a": ["x"], "b": ["y"]}
    assert M.transfer_na_threshold(gold, {"a": "x", "b": "wrong"}, {"a": 0.2, "b": 0.9}) == pytest.approx(0.6)
    # A one-question peak, then a question that lowers the total: odds 1/4 and 4 meet at 1.
    gold = {"a": ["x"], "b": [""]}
    assert M.transfer_na_threshold(gold, {"a": "x", "b": "junk"}, {"a": 0.2, "b": 0.8}) == pytest.approx(0.5)
    # A range up to certainty (a saturated logistic) is cut near certainty, not at the halfway
    # probability: log-odds 0 and float64's largest, 36.74, meet at 18.37.
    assert M.transfer_na_threshold(gold, {"a": "x", "b": "junk"}, {"a": 0.5, "b": 1.0}) == pytest.approx(1 - 1.05e-8, abs=1e-9)
    # Equal ends: nothing to split.
    assert M.transfer_na_threshold(gold, {"a": "x", "b": "junk"}, {"a": 0.3, "b": 0.3}) == 0.3
    with pytest.raises(ValueError, match=r"\[0, 1\].*'b' has 3.5"):
        M.transfer_na_threshold(gold, {"a": "x", "b": "junk"}, {"a": 0.2, "b": 3.5})


def test_transfer_threshold_scores_the_official_best_on_its_own_split():
    # Without ties, applying the middle threshold to the split it was tuned on reaches
    # the sweep's best F1, as the official edge does.
    for seed in range(20):
        rng = random.Random(seed)
        gold, preds, na = {}, {}, {}
        for i in range(40):
            qid = f"q{i}"
            if rng.random() < 0.5:
                gold[qid], preds[qid] = ["red fox"], rng.choice(["red fox", "fox", "blue whale"])
            else:
                gold[qid], preds[qid] = [""], rng.choice(["", "green frog"])
            na[qid] = rng.random()
        best = M.squad_v2_scores(gold, preds, na_probs=na)
        t = M.transfer_na_threshold(gold, preds, na)
        assert t >= best["best_f1_thresh"]
        applied = M.apply_na_threshold(preds, na, t)
        assert M.squad_v2_scores(gold, applied)["f1"] == pytest.approx(best["best_f1"], abs=1e-9)


def test_apply_na_threshold_then_score_matches_sweep_without_ties():
    # Without ties (and without "."-style predictions) the sweep's best is
    # achievable: applying the returned threshold reproduces best_f1.
    rng = random.Random(7)
    gold, preds, na = {}, {}, {}
    for i in range(60):
        qid = f"q{i}"
        if rng.random() < 0.5:
            gold[qid] = ["red fox"]
            preds[qid] = rng.choice(["red fox", "fox", "blue whale", ""])
        else:
            gold[qid] = [""]
            preds[qid] = rng.choice(["", "green frog"])
        na[qid] = rng.random()
    out = M.squad_v2_scores(gold, preds, na_probs=na)
    t = M.best_na_threshold(gold, preds, na)
    assert t == out["best_f1_thresh"]
    applied = M.apply_na_threshold(preds, na, t)
    assert sum(1 for q in preds if applied[q] != preds[q]) == sum(1 for q in na if na[q] > t)
    assert M.squad_v2_scores(gold, applied)["f1"] == pytest.approx(out["best_f1"], abs=1e-9)
