"""A track is one object (``qa_models.tracks``): the runner, ``measure``, the run metadata and
the config ask it, and none compares its name, so a third track is one new ``Track``."""

from __future__ import annotations

import math

import pytest

from qa_models import measure, metrics, runner, tracks
from qa_models.adapters import Predictions
from qa_models.config import DataSpec, ModelSpec, Profile, TrainSpec
from qa_models.data import Answer, Example


def _example(qid: str, context: str, answer: str | None) -> Example:
    answers = (Answer(answer, context.index(answer)),) if answer else ()
    return Example(qid, "t", context, "q?", answers, is_impossible=answer is None)


EXAMPLES = [_example("a", "Paris is in France.", "Paris"), _example("b", "Rome is in Italy.", "Italy"),
            _example("c", "Nothing here.", None)]


def _first_letter(gold, answers, allow_missing=False):
    """A made-up metric no built-in track has: the first letters match."""
    exact = {q: int(bool(g) and answers[q][:1] == g[0][:1]) for q, g in gold.items()}
    return {"exact": 100.0 * sum(exact.values()) / len(gold), "f1": 50.0, "total": len(gold)}


def _first_letter_per_question(gold, answers):
    return {q: 1 for q in gold}, {q: 0.25 for q in gold}


@pytest.fixture
def third_track(monkeypatch):
    track = tracks.Track(name="letters", title="Letters", question="Which model knows its letters?",
                         metric="first-letter match", scorer=_first_letter,
                         per_question=_first_letter_per_question, has_threshold=False)
    monkeypatch.setitem(tracks.TRACKS, track.name, track)
    return track


def test_a_third_track_is_one_object(third_track, monkeypatch):
    answers = {"a": "Pa", "b": "Rome", "c": ""}
    predictions = Predictions(answers=answers, na_probs={"a": 0.9, "b": 0.9, "c": 0.9})
    assert runner.score("letters", EXAMPLES, answers) == _first_letter({e.id: e.gold_texts for e in EXAMPLES}, answers)
    assert math.isinf(runner.tune_threshold("letters", EXAMPLES, predictions)), "no threshold: always answer"
    table = runner.per_question_table("letters", EXAMPLES, answers)
    assert list(table["exact"]) == [1, 1, 1] and list(table["f1"]) == [0.25, 0.25, 0.25]
    assert runner.validation_scorer("letters", EXAMPLES)(predictions)["exact"] == pytest.approx(100 / 3)
    assert measure.abstention_record("letters", EXAMPLES, predictions, answers) is None
    # The run's record carries the track's own question (the report prints it).
    from qa_models import run_metadata

    monkeypatch.setattr(run_metadata, "environment", lambda: {})
    profile = Profile(name="p", models=(ModelSpec(name="m", model_id="x"),), data=DataSpec(train="t.json", test="t.json", track="letters"), train=TrainSpec())
    data = runner.RunData(train=[], validation=[], test=[], probes=[])
    assert run_metadata.run_metadata(profile, data, "r", "s", "f", "abc").question == third_track.question


def test_the_built_in_tracks_score_with_their_official_metrics():
    answers = {"a": "Paris", "b": "Rome", "c": ""}
    gold = {e.id: e.gold_texts for e in EXAMPLES}
    na_probs = {"a": 0.1, "b": 0.2, "c": 0.9}
    squad = runner.score("squad_v2", EXAMPLES, answers, na_probs)
    assert squad == metrics.squad_v2_scores(gold, answers, na_probs=na_probs) and "best_f1" in squad
    predictions = Predictions(answers=answers, na_probs=na_probs)
    assert runner.tune_threshold("squad_v2", EXAMPLES, predictions) == metrics.transfer_na_threshold(gold, answers, na_probs)
    assert measure.abstention_record("squad_v2", EXAMPLES, predictions, answers) is not None
    chinese = [_example("z", "北京是中国的首都。", "北京")]
    assert runner.score("cmrc2018", chinese, {"z": "北京"}, {"z": 0.99}) == {"exact": 100.0, "f1": 100.0, "total": 1}
    # The unanswerable question's gold is [""] for the official SQuAD per-question scores.
    table = runner.per_question_table("squad_v2", EXAMPLES, answers)
    assert list(table["exact"]) == [1, 0, 1]


def test_config_and_profiles_take_their_track_names_from_the_registry():
    from qa_models.profiles import TRACKS

    assert TRACKS == tuple(tracks.TRACKS)
    with pytest.raises(ValueError, match="track must be one of 'squad_v2' or 'cmrc2018', got 'letters'"):
        DataSpec(train="t.json", test="t.json", track="letters")


def test_the_cross_lingual_set_is_part_of_the_data_not_looked_up_by_profile_name():
    """A profile of any name (a config file's, say) scores its rows on ``cross_lingual_test``
    with the metric of ``cross_lingual_track``; the named profiles fill it from their other track."""
    from qa_models.profiles import FIXTURES, get_profile
    from qa_models.run_config import CONFIG_DIR, profile_from_configs

    tiny = get_profile("tiny")
    assert (tiny.data.cross_lingual_test, tiny.data.cross_lingual_track) == (str(FIXTURES / "cmrc_tiny_dev.json"), "cmrc2018")
    assert get_profile("tiny", "cmrc2018").data.cross_lingual_test is None  # CMRC has no partner track
    from_file = profile_from_configs([CONFIG_DIR / "bert/tiny_span.yaml"])
    assert from_file.data == tiny.data and measure.cross_lingual_applies(from_file, from_file.models[0])

    data = DataSpec(train="t.json", test="t.json", max_eval_samples=5,
                    cross_lingual_test=str(FIXTURES / "cmrc_tiny_dev.json"), cross_lingual_track="cmrc2018")
    loaded = measure.load_cross_lingual(data, 0)
    assert loaded is not None and loaded.track == "cmrc2018" and len(loaded.examples) == 5
    with pytest.raises(ValueError, match="given together"):
        DataSpec(train="t.json", test="t.json", cross_lingual_test="c.json")
    with pytest.raises(ValueError, match="the run's own track"):
        DataSpec(train="t.json", test="t.json", cross_lingual_test="c.json", cross_lingual_track="squad_v2")
