"""The Chinese track (CMRC 2018, GitHub issue "Chinese track: CMRC 2018").

Three pieces, each measured by ``runner.run_row`` and asserted here from the model's row:

* ``coverage``: for every model, in both tracks, the share of "unknown" tokens its
  tokenizer makes of the track's test contexts (``qa_models.coverage``): ``[UNK]`` for
  WordPiece, byte-fallback pieces for byte-level BPE.
* ``cross_lingual`` (squad_v2 track): every SQuAD-trained checkpoint scored on Chinese, with
  the CMRC metric, on the profile's ``DataSpec.cross_lingual_test`` (the test set of the same
  profile's cmrc2018 track), so that the row sits next to the CMRC-trained one. It never abstains (CMRC has no unanswerable
  questions), whatever threshold SQuAD tuned.
* the Chinese probes (cmrc2018 track): a real checkpoint trained on Chinese must cut
  "2000年1月1日" and "Google" from their contexts, where the founding bert-base-uncased gave
  the rebuilt "2000 年 1 月 1 日" and "bert".
"""

from __future__ import annotations

import json

import pytest

from qa_models.config import Profile
from qa_models.coverage import distinct_contexts

pytestmark = pytest.mark.train

REAL_QUALITY_F1 = 50.0
"""Validation F1 from which a CMRC-trained model counts as really fine-tuned (as in test_squad)."""


def _spec(profile: Profile, model_name: str):
    return next(m for m in profile.models if m.name == model_name)


def test_tokenizer_coverage_of_test_contexts(model_name, profile, run_data, row):
    """Every model, both tracks: how much of the test contexts its vocabulary covers."""
    coverage = row.coverage
    assert coverage is not None, f"{model_name}: the run measured no tokenizer coverage"
    print(f"\n{model_name} on {profile.data.track} test contexts: {coverage.kind} share {coverage.share:.4f} "
          f"({coverage.n_unknown}/{coverage.n_tokens} tokens, {coverage.n_contexts} contexts)")
    assert coverage.n_contexts == len(distinct_contexts(run_data.test))
    assert 0 <= coverage.n_unknown <= coverage.n_tokens and coverage.n_tokens > 0


def test_cross_lingual_cmrc_score(model_name, profile, run_dir, row):
    """A SQuAD-trained checkpoint answers Chinese questions, scored with the CMRC metric."""
    from qa_models.measure import CROSS_LINGUAL_PREDICTIONS, cross_lingual_applies, load_cross_lingual

    if not cross_lingual_applies(profile, _spec(profile, model_name)):
        assert row.cross_lingual is None
        pytest.skip("the cross-lingual row scores SQuAD-trained checkpoints (not zero-shot rows, not a CMRC run)")
    data = load_cross_lingual(profile.data, profile.train.seed)
    if data is None:
        assert row.cross_lingual is None
        pytest.skip("no CMRC data for the cross-lingual row")
    scores = row.cross_lingual
    assert scores is not None, f"{model_name}: CMRC data was there, but the run recorded no cross-lingual score"
    assert scores.total == len(data.examples)
    assert 0.0 <= scores.exact <= scores.f1 <= 100.0
    answers = json.loads((run_dir / model_name / CROSS_LINGUAL_PREDICTIONS).read_text(encoding="utf-8"))
    for example in data.examples:
        answer = answers[example.id]
        assert answer in example.context, f"{example.id}: {answer!r} is not a span of its context"


def test_chinese_probes_of_cmrc_models(model_name, profile, request):
    """Answers cut from the context, not rebuilt from word pieces (the founding faults)."""
    if profile.data.track != "cmrc2018":
        pytest.skip("the Chinese probes are asserted for checkpoints trained on the cmrc2018 track")
    if profile.name == "tiny":
        pytest.skip("tiny random models are not expected to know the answers")
    if _spec(profile, model_name).zero_shot:
        pytest.skip(f"{model_name} is a zero-shot row: not trained on the Chinese track")
    row = request.getfixturevalue("row")  # only now: skipped rows train nothing here
    if row.validation["f1"] < REAL_QUALITY_F1:
        pytest.skip(f"validation F1 {row.validation['f1']:.1f} < {REAL_QUALITY_F1}: not a real-quality checkpoint")
    probes = {p.id: p.answer for p in row.probes}
    assert "2000年1月1日" in probes["zh-birthday"], probes["zh-birthday"]
    assert "Google" in probes["zh-bert-origin"], probes["zh-bert-origin"]  # cut from the context, case kept
