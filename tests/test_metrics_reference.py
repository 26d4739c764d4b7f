"""Tests for qa_models.metrics against references: an independent reimplementation
(``_Reference`` below), TF Model Garden's port of the official scorer, and Hugging Face
``evaluate``'s squad_v2. None of their numbers is copied from our own output.
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

from metrics_fixtures import SQUAD_TEST, OFFICIAL_KEYS, BEST_KEYS, _tree


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
