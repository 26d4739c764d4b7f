"""Snapping a generated answer onto its context (postprocess.snap_to_context)."""

from __future__ import annotations

import random

import pytest

from qa_models.postprocess import snap_to_context

CONTEXT = (
    'The Rhine begins in the Swiss canton of Graubünden and flows 1,230 km north, past "Basel", '
    "to the North Sea; its delta lies in the U.S. sense nowhere."
)


def _token_f1(gold: str, pred: str) -> float:
    try:
        from qa_models.metrics import token_f1
    except ImportError:  # pragma: no cover - metrics lands in parallel
        pytest.skip("qa_models.metrics is not available")
    return token_f1(gold, pred)


def _check(answer: str, context: str = CONTEXT) -> tuple[str, int, bool]:
    span, start, changed = snap_to_context(answer, context)
    if span:
        assert context[start : start + len(span)] == span
    else:
        assert start == -1
    assert changed == (span != answer.strip())
    return span, start, changed


def test_verbatim_answers_are_kept():
    assert _check("Graubünden") == ("Graubünden", CONTEXT.index("Graubünden"), False)
    assert _check("  the North Sea ") == ("the North Sea", CONTEXT.index("the North Sea"), False)


def test_free_text_snaps_to_the_best_f1_span():
    assert _check("the north sea")[0] == "North Sea"  # case fixed; the article adds no F1
    assert _check("Basel")[0] == "Basel"
    assert _check("basel city")[0] == "Basel"  # quotes and commas at the edges are trimmed
    assert _check("1230 km")[0] == "1,230 km"
    assert _check("US sense")[0] == "U.S. sense"
    assert _check("canton of graubunden swiss")[0] == "Swiss canton of"  # F1 on SQuAD tokens, accents count


def test_no_overlap_or_empty_gives_no_answer():
    assert _check("zebra crossing") == ("", -1, True)
    assert _check("") == ("", -1, False)
    assert _check("the") == ("the", CONTEXT.index("the"), False)  # verbatim still wins
    assert _check("an a") == ("", -1, True)  # only articles: nothing to match


def test_chinese_snaps_character_by_character():
    context = "青石镇图书馆位于镇中心的柳树街，于1998年10月建成开放。"
    assert _check("柳树街道", context)[0] == "柳树街"
    assert _check("1998年10月", context) == ("1998年10月", context.index("1998"), False)
    assert _check("图书馆在柳树街", context)[0] in context


def test_matches_a_brute_force_search_with_the_official_f1():
    rng = random.Random(0)
    words = "the a river lake north south sea 1990 Paris paris, (city) U.S. of in and".split()
    for _ in range(60):
        context = " ".join(rng.choice(words) for _ in range(rng.randint(1, 25)))
        answer = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
        span, _, _ = _check(answer, context)
        if answer.strip() in context:
            continue
        spans = context.split()
        limit = len(answer.split()) + 5
        best = max(
            (_token_f1(answer, " ".join(spans[i:j])) for i in range(len(spans)) for j in range(i + 1, min(len(spans), i + limit) + 1)),
            default=0.0,
        )
        if best == 0:
            assert span == ""
        else:
            assert _token_f1(answer, span) == pytest.approx(best)
