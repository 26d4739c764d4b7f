"""The Chinese track (CMRC 2018, GitHub issue "Chinese track: CMRC 2018").

Three pieces, each recorded for the report through ``run_results``:

* ``coverage``: for every model, in both tracks, the share of "unknown" tokens its
  tokenizer makes of the track's test contexts (``qa_models.coverage``): ``[UNK]`` for
  WordPiece, byte-fallback pieces for byte-level BPE.
* ``cross_lingual`` (squad_v2 track): every SQuAD-trained checkpoint scored on Chinese, with
  the CMRC metric, on the test set of the same profile's cmrc2018 track, so that the row
  sits next to the CMRC-trained one. It never abstains (CMRC has no unanswerable
  questions), whatever threshold SQuAD tuned.
* the Chinese probes (cmrc2018 track): a real checkpoint trained on Chinese must cut
  "2000年1月1日" and "Google" from their contexts, where the founding bert-base-uncased gave
  the rebuilt "2000 年 1 月 1 日" and "bert".
"""

from __future__ import annotations

from typing import Any

import pytest

from qa_models.config import Profile
from qa_models.coverage import distinct_contexts, unknown_token_share

pytestmark = pytest.mark.train

REAL_QUALITY_F1 = 50.0
"""Validation F1 from which a CMRC-trained model counts as really fine-tuned (as in test_squad)."""


def _spec(profile: Profile, model_name: str):
    return next(m for m in profile.models if m.name == model_name)


def test_tokenizer_coverage_of_test_contexts(model_name, profile, run_data, run_results):
    """Every model, both tracks: how much of the test contexts its vocabulary covers."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(_spec(profile, model_name).model_id)
    contexts = distinct_contexts(run_data.test)
    result = unknown_token_share(tokenizer, contexts)
    print(f"\n{model_name} on {profile.data.track} test contexts: {result.kind} share {result.share:.4f} "
          f"({result.n_unknown}/{result.n_tokens} tokens, {len(contexts)} contexts)")
    run_results.update(model_name, coverage={**result.as_dict(), "n_contexts": len(contexts)})
    assert 0 <= result.n_unknown <= result.n_tokens and result.n_tokens > 0


@pytest.fixture(scope="session")
def cross_lingual_data(profile: Profile) -> dict[str, Any]:
    """The CMRC test set of this profile's cmrc2018 track, loaded with offsets repaired and
    unrepairable questions skipped (counted), a seeded sample of ``max_eval_samples`` of them
    when that is set (as for the SQuAD validation and test files); the test
    skips when it cannot be had (shared data or hub missing)."""
    from qa_models.data import DataError, load_examples, sample_examples
    from qa_models.profiles import ProfileError, get_profile

    try:
        source = get_profile(profile.name, "cmrc2018").data.test
        loaded = load_examples(source, split="validation", repair_offsets=True, skip_bad_records=True)
    except (DataError, ProfileError) as error:
        pytest.skip(f"no CMRC data for the cross-lingual row: {str(error).splitlines()[0]}")
    examples = sample_examples(loaded.examples, profile.data.max_eval_samples, profile.train.seed)
    return {
        "examples": examples,
        "source": loaded.source,
        "repaired_offsets": loaded.repaired,
        "skipped_records": sum(loaded.skipped.values()),
    }


def test_cross_lingual_cmrc_score(model_name, profile, run_results, request):
    """A SQuAD-trained checkpoint answers Chinese questions, scored with the CMRC metric."""
    if profile.data.track != "squad_v2":
        pytest.skip("the cross-lingual row scores SQuAD-trained checkpoints; this run trains on CMRC")
    if not any(m.method == "span" for m in profile.models):
        pytest.skip("the profile has no span models")
    if _spec(profile, model_name).zero_shot:
        pytest.skip(f"{model_name} is a zero-shot row: no SQuAD-trained checkpoint")
    from qa_models.runner import score

    trained = request.getfixturevalue("trained")  # only now: skipped rows train nothing here
    data = request.getfixturevalue("cross_lingual_data")
    examples = data["examples"]
    predictions = trained.adapter.predict(examples, batch_size=profile.train.eval_batch_size)
    scores = score("cmrc2018", examples, predictions.answers)  # never abstains: CMRC has no null answers
    coverage = unknown_token_share(trained.adapter.tokenizer, distinct_contexts(examples))
    row = {
        "exact": scores["exact"],
        "f1": scores["f1"],
        "total": scores["total"],
        "unk_share": coverage.share,
        "unk_kind": coverage.kind,
        "source": data["source"],
        "repaired_offsets": data["repaired_offsets"],
        "skipped_records": data["skipped_records"],
    }
    print(f"\n{model_name} (trained on SQuAD v2) on CMRC {data['source']}: EM {row['exact']:.2f} F1 {row['f1']:.2f} "
          f"over {row['total']} questions; {coverage.kind} share {coverage.share:.4f}")
    run_results.update(model_name, cross_lingual=row)
    assert scores["total"] == len(examples)
    assert 0.0 <= scores["exact"] <= scores["f1"] <= 100.0
    for example in examples:
        answer = predictions.answers[example.id]
        assert answer in example.context, f"{example.id}: {answer!r} is not a span of its context"


def test_chinese_probes_of_cmrc_models(model_name, profile, run_results, request):
    """Answers cut from the context, not rebuilt from word pieces (the founding faults)."""
    if profile.data.track != "cmrc2018":
        pytest.skip("the Chinese probes are asserted for checkpoints trained on the cmrc2018 track")
    if profile.name == "tiny":
        pytest.skip("tiny random models are not expected to know the answers")
    if _spec(profile, model_name).zero_shot:
        pytest.skip(f"{model_name} is a zero-shot row: not trained on the Chinese track")
    evaluation = request.getfixturevalue("evaluation")
    if evaluation.validation["f1"] < REAL_QUALITY_F1:
        pytest.skip(f"validation F1 {evaluation.validation['f1']:.1f} < {REAL_QUALITY_F1}: not a real-quality checkpoint")
    probes = {p["id"]: p["answer"] for p in run_results.models[model_name]["result"]["probes"]}
    assert "2000年1月1日" in probes["zh-birthday"], probes["zh-birthday"]
    assert "Google" in probes["zh-bert-origin"], probes["zh-bert-origin"]  # cut from the context, case kept
