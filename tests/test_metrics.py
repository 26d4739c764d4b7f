"""Tests for qa_models.metrics: SQuAD v2.0 and CMRC 2018 scoring.

Expected numbers are worked out by hand in the comments next to them, or come
from an independent reference implementation (``_Reference`` below) or a
third-party copy of the official scorer; none is copied from our own output.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import string
import sys
import types
import zipfile
from pathlib import Path

import pytest

from qa_models import metrics as M

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("QABENCH_DATA_DIR", REPO.parent / "shared" / "data"))
SQUAD_TEST = DATA_DIR / "squad_v2" / "dev-v2.0-test.json"

OFFICIAL_KEYS = list(M.SQUAD_V2_KEYS)
BEST_KEYS = list(M.SQUAD_V2_BEST_KEYS)


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

def _tree(questions):
    """Build an official-format tree from (id, [answer texts]) pairs."""
    qas = [
        {"id": qid, "question": "?", "is_impossible": not answers,
         "answers": [{"text": t, "answer_start": 0} for t in answers]}
        for qid, answers in questions
    ]
    return {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": "c", "qas": qas}]}]}


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


# ---------------------------------------------------------------------------
# independent reference, written plainly from the published algorithm
# ---------------------------------------------------------------------------

class _Reference:
    """SQuAD v2.0 scoring as a literal loop over the JSON tree.

    Deliberately shares no code with qa_models.metrics and uses different
    mechanics (str.translate, dict counting, a plain sorted() loop) so that a
    bug in one is unlikely to be mirrored in the other.
    """

    _drop = str.maketrans("", "", string.punctuation)
    _art = re.compile(r"\b(a|an|the)\b")

    @classmethod
    def norm(cls, s):
        s = s.lower().translate(cls._drop)
        s = cls._art.sub(" ", s)
        return " ".join(s.split())

    @classmethod
    def f1(cls, g, p):
        gt = cls.norm(g).split() if g else []
        pt = cls.norm(p).split() if p else []
        if len(gt) == 0 or len(pt) == 0:
            return int(gt == pt)
        counts = {}
        for t in gt:
            counts[t] = counts.get(t, 0) + 1
        same = 0
        for t in pt:
            if counts.get(t, 0) > 0:
                counts[t] -= 1
                same += 1
        if same == 0:
            return 0
        prec = 1.0 * same / len(pt)
        rec = 1.0 * same / len(gt)
        return (2 * prec * rec) / (prec + rec)

    @classmethod
    def score(cls, tree, preds, na_probs=None, thresh=1.0):
        has_ans, em, f1 = {}, {}, {}
        for art in tree["data"]:
            for par in art["paragraphs"]:
                for qa in par["qas"]:
                    qid = qa["id"]
                    has_ans[qid] = len(qa["answers"]) > 0
                    golds = [a["text"] for a in qa["answers"] if cls.norm(a["text"]) != ""]
                    if len(golds) == 0:
                        golds = [""]
                    p = preds[qid]
                    best_e, best_f = 0, 0
                    for g in golds:
                        best_e = max(best_e, int(cls.norm(g) == cls.norm(p)))
                        best_f = max(best_f, cls.f1(g, p))
                    em[qid], f1[qid] = best_e, best_f
        probs = na_probs if na_probs is not None else {k: 0.0 for k in preds}
        em_t, f1_t = {}, {}
        for qid in em:
            if probs[qid] > thresh:
                em_t[qid] = f1_t[qid] = float(not has_ans[qid])
            else:
                em_t[qid], f1_t[qid] = em[qid], f1[qid]

        def block(ids):
            e = 0
            f = 0
            for q in ids:
                e += em_t[q]
                f += f1_t[q]
            return [100.0 * e / len(ids), 100.0 * f / len(ids), len(ids)]

        out = dict(zip(["exact", "f1", "total"], block(list(em))))
        pos = [q for q in has_ans if has_ans[q]]
        neg = [q for q in has_ans if not has_ans[q]]
        if pos:
            out.update(zip(["HasAns_exact", "HasAns_f1", "HasAns_total"], block(pos)))
        if neg:
            out.update(zip(["NoAns_exact", "NoAns_f1", "NoAns_total"], block(neg)))
        if na_probs is not None:
            for name, raw in (("exact", em), ("f1", f1)):
                cur = len(neg)
                best, best_t = cur, 0.0
                for qid in sorted(na_probs, key=lambda k: na_probs[k]):
                    if qid not in raw:
                        continue
                    if has_ans[qid]:
                        cur += raw[qid]
                    elif preds[qid]:
                        cur += -1
                    if cur > best:
                        best, best_t = cur, na_probs[qid]
                out["best_" + name] = 100.0 * best / len(raw)
                out["best_" + name + "_thresh"] = best_t
        return out


def _load_real():
    if not SQUAD_TEST.is_file():
        pytest.skip(f"real SQuAD data not found at {SQUAD_TEST} (set QABENCH_DATA_DIR)")
    return json.loads(SQUAD_TEST.read_text(encoding="utf-8"))


def _random_run(tree, seed):
    """Random predictions and na_probs built from the gold answers.

    Mixes exact golds, case/punctuation/article variants, truncated and padded
    spans, answers of other questions, "" and punctuation-only strings; na_probs
    come from a coarse grid (many ties) or are continuous, and lean towards the
    truth so the sweep finds thresholds other than 0.0. The na_probs key order
    is shuffled because the official sweep breaks ties by it.
    """
    rng = random.Random(seed)
    qas = [qa for a in tree["data"] for p in a["paragraphs"] for qa in p["qas"]]
    pool = [ans["text"] for qa in qas for ans in qa["answers"]] or ["filler"]
    noise = ["the", "a", "of", "in", "and", "1990", "river", "new", ",", "!"]
    preds, na = {}, {}
    for qa in qas:
        answers = [x["text"] for x in qa["answers"]]
        r = rng.random()
        if r < 0.2:
            pred = ""
        elif r < 0.25:
            pred = rng.choice([".", " ", "The", "a!", "--"])
        elif answers and r < 0.5:
            pred = rng.choice(answers)
        elif answers and r < 0.6:
            pred = "The " + rng.choice(answers).upper() + "."
        elif answers and r < 0.85:
            toks = rng.choice(answers).split()
            i = rng.randrange(len(toks) + 1)
            j = rng.randrange(i, len(toks) + 1)
            pred = " ".join(rng.sample(noise, rng.randrange(2)) + toks[i:j] + rng.sample(noise, rng.randrange(3)))
        else:
            pred = rng.choice(pool)
        preds[qa["id"]] = pred
        lean = 0.35 if (not answers) != (pred.strip() == "") else -0.35
        if rng.random() < 0.5:
            na[qa["id"]] = rng.choice([0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0])
        else:
            na[qa["id"]] = min(1.0, max(0.0, rng.random() * 0.7 + 0.15 + lean))
    # ids the data does not have: ignored by scoring and skipped by the sweep
    preds["not-in-data"] = "x"
    na["not-in-data"] = 0.3
    keys = list(na)
    rng.shuffle(keys)
    na = {k: na[k] for k in keys}
    return preds, na


def _assert_same_report(ours, ref, keys=None):
    keys = list(ref) if keys is None else keys
    assert [k for k in ours if k in keys] == keys
    for k in keys:
        assert ours[k] == pytest.approx(ref[k], abs=1e-9, rel=0), k


def test_reference_agreement_on_real_data():
    tree = _load_real()
    gold = M.gold_answers_from_squad_json(tree)
    thresholds_seen = set()
    for seed in range(6):
        preds, na = _random_run(tree, seed)
        thresh = [1.0, 0.5, 0.4, 0.0, 0.73, -1.0][seed]
        for probs in (na, None):
            ref = _Reference.score(tree, preds, probs, thresh)
            ours = M.squad_v2_scores(gold, preds, na_probs=probs, na_prob_thresh=thresh)
            assert list(ours) == OFFICIAL_KEYS + (BEST_KEYS if probs is not None else [])
            assert list(ours) == list(ref)
            _assert_same_report(ours, ref)
            if probs is not None:
                best_t = M.best_na_threshold(gold, preds, na)
                assert best_t == ref["best_f1_thresh"]
                thresholds_seen.add(best_t)
    # The data must exercise the sweep, not just its 0.0 fallback.
    assert thresholds_seen - {0.0}


def test_reference_agreement_small_trees_many_ties():
    # Tiny trees where almost everything ties make tie handling decisive.
    for seed in range(300):
        rng = random.Random(seed)
        qs = []
        for i in range(rng.randrange(1, 9)):
            qs.append((f"q{i}", rng.choice([[], ["cat"], ["big dog", "dog"], ["the"]])))
        tree = _tree(qs)
        preds = {qid: rng.choice(["", "cat", "dog", "big dog house", ".", "the"]) for qid, _ in qs}
        na = {qid: rng.choice([0.0, 0.5, 1.0]) for qid, _ in qs}
        keys = list(na)
        rng.shuffle(keys)
        na = {k: na[k] for k in keys}
        thresh = rng.choice([1.0, 0.5, 0.0])
        ref = _Reference.score(tree, preds, na, thresh)
        ours = M.squad_v2_scores(
            M.gold_answers_from_squad_json(tree), preds, na_probs=na, na_prob_thresh=thresh,
            has_ans=M.has_answer_from_squad_json(tree),
        )
        _assert_same_report(ours, ref)
        assert list(ours) == list(ref)


# ---------------------------------------------------------------------------
# a real third-party copy of the official scorer (TensorFlow Model Garden)
# ---------------------------------------------------------------------------

_TFM_MODULE = "official/nlp/tools/squad_evaluate_v2_0.py"


def _load_tfm_reference(monkeypatch):
    """Load TF Model Garden's port of evaluate-v2.0.py without installing it.

    ``QABENCH_SQUAD_REF`` may point at the ``tf-models-official`` wheel
    (``pip download --no-deps tf-models-official``) or at the extracted
    ``squad_evaluate_v2_0.py``; otherwise an installed ``official`` package is
    tried. Its only non-stdlib import is ``absl.logging``, stubbed if absent.
    """
    src = None
    ref = os.environ.get("QABENCH_SQUAD_REF")
    if ref:
        path = Path(ref)
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as zf:
                src = zf.read(_TFM_MODULE).decode("utf-8")
        else:
            src = path.read_text(encoding="utf-8")
    else:
        try:
            import importlib.util

            spec = importlib.util.find_spec("official.nlp.tools.squad_evaluate_v2_0")
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin:
            pytest.skip(
                "no third-party SQuAD v2 scorer: set QABENCH_SQUAD_REF to the "
                "tf-models-official wheel (pip download --no-deps tf-models-official)"
            )
        src = Path(spec.origin).read_text(encoding="utf-8")
    try:
        import absl.logging  # noqa: F401
    except ImportError:
        absl = types.ModuleType("absl")
        absl.logging = types.SimpleNamespace(error=lambda *a, **k: None)
        monkeypatch.setitem(sys.modules, "absl", absl)
        monkeypatch.setitem(sys.modules, "absl.logging", absl.logging)
    mod = types.ModuleType("tfm_squad_evaluate_v2_0")
    exec(compile(src, _TFM_MODULE, "exec"), mod.__dict__)
    return mod


def test_agrees_with_tf_model_garden_port(monkeypatch):
    tree = _load_real()
    tfm = _load_tfm_reference(monkeypatch)
    gold = M.gold_answers_from_squad_json(tree)
    # The port names the sweep results final_*, and always uses threshold 1.0.
    rename = {"final_exact": "best_exact", "final_exact_thresh": "best_exact_thresh",
              "final_f1": "best_f1", "final_f1_thresh": "best_f1_thresh"}
    for seed in range(4):
        preds, na = _random_run(tree, 100 + seed)
        # The port's precision-recall extra looks up every na_probs id in the
        # data, so the deliberately foreign id must go.
        del preds["not-in-data"], na["not-in-data"]
        theirs = tfm.evaluate(tree["data"], preds, na_probs=na)
        theirs = {rename.get(k, k): v for k, v in theirs.items()}
        ours = M.squad_v2_scores(gold, preds, na_probs=na)
        _assert_same_report(ours, theirs, OFFICIAL_KEYS + BEST_KEYS)


# ---------------------------------------------------------------------------
# Hugging Face `evaluate`'s squad_v2 (needs the Hub)
# ---------------------------------------------------------------------------

def test_agrees_with_hf_evaluate_squad_v2():
    if os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_EVALUATE_OFFLINE") == "1":
        pytest.skip("HF hub disabled by HF_HUB_OFFLINE/HF_EVALUATE_OFFLINE")
    # Importing `evaluate` costs seconds; do not pay it when the Hub is unreachable.
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
    except OSError as e:
        pytest.skip(f"Hugging Face Hub unreachable ({e}); evaluate.load('squad_v2') needs it")
    try:
        import evaluate

        squad_v2 = evaluate.load("squad_v2")
    except Exception as e:  # any failure to fetch the metric script is a skip
        pytest.skip(f"evaluate.load('squad_v2') failed: {type(e).__name__}: {e}")
    gold_tree = _tree([
        ("q1", ["Denver Broncos", "Broncos"]), ("q2", ["Saint Bernadette Soubirous"]),
        ("q3", []), ("q4", []), ("q5", ["cat"]),
    ])
    preds = {"q1": "the Broncos", "q2": "Bernadette", "q3": "", "q4": "Paris", "q5": "cat"}
    na = {"q1": 0.1, "q2": 0.5, "q3": 0.5, "q4": 0.9, "q5": 0.3}
    refs = [
        {"id": qa["id"], "answers": {"text": [a["text"] for a in qa["answers"]],
                                     "answer_start": [a["answer_start"] for a in qa["answers"]]}}
        for qa in gold_tree["data"][0]["paragraphs"][0]["qas"]
    ]
    hf = squad_v2.compute(
        predictions=[{"id": q, "prediction_text": preds[q], "no_answer_probability": na[q]} for q in preds],
        references=refs,
    )
    ours = M.squad_v2_scores(M.gold_answers_from_squad_json(gold_tree), preds, na_probs=na)
    _assert_same_report(ours, hf, [k for k in OFFICIAL_KEYS + BEST_KEYS if k in hf])


# ---------------------------------------------------------------------------
# CMRC 2018
# ---------------------------------------------------------------------------

def test_cmrc_segmentation():
    # "光荣和ω-force": "-" is punctuation and is removed without leaving a gap,
    # so the non-CJK run is "ωforce"; each CJK character is its own token:
    #   ["光", "荣", "和", "ωforce"]
    assert M.cmrc_segment("光荣和ω-force") == ["光", "荣", "和", "ωforce"]
    # Latin/digit runs stay whole and are lower-cased; spaces split runs.
    assert M.cmrc_segment("2000年1月1日") == ["2000", "年", "1", "月", "1", "日"]
    assert M.cmrc_segment("2000 年 1 月 1 日") == ["2000", "年", "1", "月", "1", "日"]
    assert M.cmrc_segment("iPhone X发布") == ["iphone", "x", "发", "布"]
    # full-width and ASCII punctuation both go
    assert M.cmrc_segment("《红楼梦》，（清）曹雪芹！") == ["红", "楼", "梦", "清", "曹", "雪", "芹"]
    assert M.cmrc_segment("“你好”……“再见”") == ["你", "好", "再", "见"]
    assert M.cmrc_segment("") == []
    assert M.cmrc_segment("。，！") == []


def test_cmrc_em():
    # The seed probe's word-piece rebuild "2000 年 1 月 1 日" vs the span
    # "2000年1月1日": SQuAD EM says 0 (spaces), CMRC segmentation says 1.
    assert M.exact_match("2000年1月1日", "2000 年 1 月 1 日") == 0
    assert M.cmrc_exact_match("2000年1月1日", "2000 年 1 月 1 日") == 1
    assert M.cmrc_exact_match("《红楼梦》", "红楼梦") == 1
    assert M.cmrc_exact_match("IPHONE", "iphone") == 1
    assert M.cmrc_exact_match("红楼梦", "红楼") == 0


def test_cmrc_f1_hand_worked():
    gold = "光荣和ω-force"  # 4 tokens: 光 荣 和 ωforce
    # pred "光荣" -> [光, 荣]: LCS 2, P = 2/2, R = 2/4 -> F1 = 2*(1*.5)/1.5 = 2/3
    assert M.cmrc_f1(gold, "光荣") == pytest.approx(2 / 3)
    # pred "ω-Force" -> [ωforce]: LCS 1, P = 1, R = 1/4 -> F1 = 0.5/1.25 = 0.4
    assert M.cmrc_f1(gold, "ω-Force") == pytest.approx(0.4)
    # pred "光荣和 ω force" -> [光, 荣, 和, ω, force]: the space splits the run,
    # so "ω" and "force" match nothing; LCS = 3 (光荣和), P = 3/5, R = 3/4
    # -> F1 = 2*0.45/1.35 = 2/3
    assert M.cmrc_f1(gold, "光荣和 ω force") == pytest.approx(2 / 3)
    # exact
    assert M.cmrc_f1(gold, "光荣和ω－force") == pytest.approx(1.0)  # full-width hyphen
    # Longest common *substring*, not a bag of characters: "北京大学" vs
    # "大学北京" share every character but the longest run is 2 -> P = R = 1/2.
    assert M.cmrc_f1("北京大学", "大学北京") == pytest.approx(0.5)
    # ... and not a subsequence: "中华人民共和国" vs "中国" has subsequence 2 but
    # contiguous run 1 -> P = 1/2, R = 1/7 -> F1 = 2*(1/14)/(9/14) = 2/9
    assert M.cmrc_f1("中华人民共和国", "中国") == pytest.approx(2 / 9)
    # "1月1日" vs "2000年1月1日": LCS 4, P = 1, R = 4/6 -> F1 = (4/3)/(5/3) = 0.8
    assert M.cmrc_f1("2000年1月1日", "1月1日") == pytest.approx(0.8)
    assert M.cmrc_f1("红楼梦", "") == 0.0
    assert M.cmrc_f1("红楼梦", "水浒传") == 0.0


def test_cmrc2018_scores():
    gold = {
        "a": ["光荣和ω-force", "光荣"],  # pred "光荣": EM 1 via the second gold
        "b": ["2000年1月1日"],  # pred "1月1日": EM 0, F1 0.8
        "c": ["北京大学"],  # pred "大学北京": EM 0, F1 0.5
    }
    preds = {"a": "光荣", "b": "1月1日", "c": "大学北京", "extra": "ignored"}
    out = M.cmrc2018_scores(gold, preds)
    assert list(out) == ["exact", "f1", "total"]
    assert out["total"] == 3
    assert out["exact"] == pytest.approx(100 / 3)
    assert out["f1"] == pytest.approx(100 * (1 + 0.8 + 0.5) / 3)
    em, f1 = M.cmrc2018_per_question(gold, preds)
    assert em == {"a": 1, "b": 0, "c": 0}
    assert f1 == pytest.approx({"a": 1.0, "b": 0.8, "c": 0.5})
    with pytest.raises(ValueError, match="missing prediction"):
        M.cmrc2018_scores(gold, {"a": "光荣"})
    # allow_missing: the official CMRC script counts a missing answer as 0
    out = M.cmrc2018_scores(gold, {"a": "光荣"}, allow_missing=True)
    assert out["total"] == 3 and out["exact"] == pytest.approx(100 / 3)


def test_metrics_module_has_no_heavy_imports(modules_after_import):
    # The house rule: metrics must not drag in torch/transformers.
    bad = {"torch", "transformers"} & modules_after_import("qa_models.metrics")
    assert not bad, f"metrics imported {sorted(bad)}"


# --------------------------------------------------------------------------- no-answer AUROC

def test_no_answer_auroc_perfect_chance_and_inverted():
    from qa_models.metrics import no_answer_auroc

    has_ans = {"a": True, "b": True, "c": False, "d": False}
    assert no_answer_auroc(has_ans, {"a": 0.1, "b": 0.2, "c": 0.8, "d": 0.9}) == 1.0
    assert no_answer_auroc(has_ans, {"a": 0.8, "b": 0.9, "c": 0.1, "d": 0.2}) == 0.0
    # All tied: every pair counts one half.
    assert no_answer_auroc(has_ans, dict.fromkeys(has_ans, 0.5)) == 0.5
    # c above a counts 1, d tied with a counts one half, both below b count 0: 1.5 / 4.
    assert no_answer_auroc(has_ans, {"a": 0.3, "b": 0.6, "c": 0.4, "d": 0.3}) == pytest.approx(0.375)
    assert no_answer_auroc({"a": True, "b": True}, {"a": 0.1, "b": 0.9}) is None


def test_no_answer_auroc_matches_pairwise_count_on_random_data():
    import numpy as np

    from qa_models.metrics import no_answer_auroc

    rng = np.random.default_rng(3)
    probs = np.round(rng.random(300), 2)  # rounding makes ties
    unanswerable = rng.random(300) < 0.4
    has_ans = {str(i): not u for i, u in enumerate(unanswerable)}
    na = {str(i): float(p) for i, p in enumerate(probs)}
    pos, neg = probs[unanswerable], probs[~unanswerable]
    pairwise = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    assert no_answer_auroc(has_ans, na) == pytest.approx(pairwise, abs=1e-12)


def test_no_answer_auroc_names_a_missing_probability():
    from qa_models.metrics import no_answer_auroc

    with pytest.raises(ValueError, match="no-answer probability"):
        no_answer_auroc({"a": True, "b": False}, {"a": 0.1})
