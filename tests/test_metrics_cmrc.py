"""Tests for qa_models.metrics: CMRC 2018 scoring (numbers worked by hand), the no-answer AUROC,
and the module's light imports.
"""

from __future__ import annotations

import pytest

from qa_models import metrics as M


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
