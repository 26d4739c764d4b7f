"""Tests for ``qa_models.data``: conversion to the Hub layout, Hub ids (``owner/name:split``), the
real shared SQuAD v2 / CMRC 2018 files, and dropping answers that are not in their context.

The real files are read from ``$QABENCH_DATA_DIR``; tests that need them skip when absent.
"""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from qa_models.data import (
    Answer,
    DataError,
    Example,
    examples_to_dataset,
    gold_answers,
    load_examples,
)

from data_fixtures import TINY, TINY_DEV, shared, write_json, assert_offsets_valid

pytestmark = pytest.mark.smoke


# --------------------------------------------------------------------------- conversion

def test_gold_answers_maps_ids_to_texts() -> None:
    examples = load_examples(TINY_DEV).examples
    gold = gold_answers(examples)
    assert len(gold) == len(examples)
    assert gold["dev-01-1-2"] == ["2.4-metre", "a 2.4-metre mirror", "2.4-metre mirror"]
    assert gold["dev-01-1-5"] == []


def test_examples_to_dataset_has_hub_layout() -> None:
    examples = load_examples(TINY_DEV).examples
    ds = examples_to_dataset(examples)
    assert ds.column_names == ["id", "title", "context", "question", "answers", "is_impossible"]
    assert len(ds) == len(examples)
    row = ds[1]
    assert row["id"] == "dev-01-1-2"
    mirror = row["context"].index("a 2.4-metre mirror")
    assert row["answers"] == {
        "text": ["2.4-metre", "a 2.4-metre mirror", "2.4-metre mirror"],
        "answer_start": [mirror + 2, mirror, mirror + 2],
    }
    assert (row["title"], row["is_impossible"]) == ("Tidewater_Observatory", False)
    assert ds[4]["answers"] == {"text": [], "answer_start": []} and ds[4]["is_impossible"] is True
    # All-unanswerable input still gets typed answer columns.
    empty = examples_to_dataset([e for e in examples if e.is_impossible])
    assert empty.features["answers"]["text"].feature.dtype == "string"


# --------------------------------------------------------------------------- hub

def test_hub_id_is_loaded_and_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    rows = datasets.Dataset.from_dict(
        {
            "id": ["h1", "h2", "h3"],
            "title": ["Alpha", "Alpha", "Beta"],
            "context": ["Cats sleep 16 hours a day.", "Cats sleep 16 hours a day.", "Dogs bark."],
            "question": ["How long do cats sleep?", "What colour are cats?", "What do dogs do?"],
            "answers": [
                {"text": ["16 hours", "16 hours a day"], "answer_start": [11, 11]},
                {"text": [], "answer_start": []},
                {"text": ["bark"], "answer_start": [5]},
            ],
        }
    )

    def fake_load_dataset(name: str, split: str) -> datasets.Dataset:
        calls.append((name, split))
        return rows

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    result = load_examples("rajpurkar/squad_v2", split="validation")
    assert calls == [("rajpurkar/squad_v2", "validation")]
    assert result.examples == [
        Example("h1", "Alpha", "Cats sleep 16 hours a day.", "How long do cats sleep?",
                (Answer("16 hours", 11), Answer("16 hours a day", 11)), False),
        Example("h2", "Alpha", "Cats sleep 16 hours a day.", "What colour are cats?", (), True),
        Example("h3", "Beta", "Dogs bark.", "What do dogs do?", (Answer("bark", 5),), False),
    ]
    assert (result.source, result.sha256, result.n_articles) == ("rajpurkar/squad_v2", None, 2)
    assert result.repaired == 0

    # Round trip: examples -> Dataset -> hub loader gives the same examples back.
    tiny = load_examples(TINY).examples
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: examples_to_dataset(tiny))
    assert load_examples("someone/tiny").examples == tiny


def test_hub_rows_are_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = datasets.Dataset.from_dict(
        {
            "id": ["c1", "c2"],
            "context": ["青石镇图书馆位于柳树街。", "白鹭湖修建于1975年。"],
            "question": ["位于哪条街？", "修建于哪一年？"],
            "answers": [
                {"text": ["柳树街"], "answer_start": [8]},
                {"text": ["1975年"], "answer_start": [0]},  # really at 6
            ],
        }
    )
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: rows)
    with pytest.raises(DataError) as info:
        load_examples("hfl/cmrc2018")
    assert (info.value.file, info.value.record, info.value.reason) == ("hfl/cmrc2018", "c2", "answer_offset")
    result = load_examples("hfl/cmrc2018", repair_offsets=True)
    assert result.repaired == 1 and result.examples[1].answers == (Answer("1975年", 6),)
    assert result.examples[0].title == ""  # no title column: empty title, not an error


def test_hub_offline_names_the_id_and_the_local_alternative(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(name: str, split: str) -> None:
        raise ConnectionError("Couldn't reach 'rajpurkar/squad_v2' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DataError) as info:
        load_examples("rajpurkar/squad_v2")
    err = info.value
    assert (err.file, err.reason) == ("rajpurkar/squad_v2", "hub_unavailable")
    assert isinstance(err.__cause__, ConnectionError)
    message = str(err)
    assert "rajpurkar/squad_v2" in message and "ConnectionError" in message
    assert "--qa-train-file ../shared/data/squad_v2/train-v2.0-first10.json" in message


# --------------------------------------------------------------------------- real shared data

@pytest.mark.parametrize(
    ("name", "questions", "unanswerable", "articles"),
    [
        ("train-v2.0-first10.json", 4719, 348, 10),
        ("dev-v2.0-val.json", 1494, 769, 4),
        ("dev-v2.0-test.json", 1311, 758, 4),
    ],
)
def test_shared_squad_v2_counts(name: str, questions: int, unanswerable: int, articles: int) -> None:
    result = load_examples(shared(f"squad_v2/{name}"))
    assert len(result.examples) == questions
    assert sum(e.is_impossible for e in result.examples) == unanswerable
    assert result.n_articles == len({e.title for e in result.examples}) == articles
    assert result.skipped == {} and result.repaired == 0
    assert_offsets_valid(result.examples)


def test_shared_train_unanswerables_sit_in_two_articles() -> None:
    examples = load_examples(shared("squad_v2/train-v2.0-first10.json")).examples
    assert {e.title for e in examples if e.is_impossible} == {
        "The_Legend_of_Zelda:_Twilight_Princess",
        "Spectre_(2015_film)",
    }


def test_shared_cmrc_trial_misaligned_offsets() -> None:
    path = shared("cmrc2018/cmrc2018_trial.json")
    with pytest.raises(DataError) as info:
        load_examples(path)
    # README: 5 misaligned offsets. The file also has 2 questions with an empty question text.
    assert info.value.counts == {"answer_offset": 5, "empty_text": 2}
    result = load_examples(path, repair_offsets=True, skip_bad_records=True)
    assert (result.repaired, result.skipped, len(result.examples)) == (5, {"empty_text": 2}, 1000)
    assert_offsets_valid(result.examples)
    assert not any(e.is_impossible for e in result.examples)


def test_shared_cmrc_dev_misaligned_offsets() -> None:
    path = shared("cmrc2018/cmrc2018_dev.json")
    with pytest.raises(DataError) as info:
        load_examples(path)
    err = info.value
    # README: 200 of 9,657 answers miss their text. 7 are off by a character or two; in the
    # other 193 (answer_start -1) the text is not in the context at all.
    assert err.counts == {"answer_offset": 7, "answer_not_in_context": 193}
    assert len({p.record for p in err.problems}) == 176  # questions affected
    assert "200 problems" in str(err)

    with pytest.raises(DataError) as info:
        load_examples(path, repair_offsets=True)
    assert info.value.counts == {"answer_not_in_context": 193}

    result = load_examples(path, repair_offsets=True, skip_bad_records=True)
    assert result.repaired == 7
    assert result.skipped == {"answer_not_in_context": 174}
    assert len(result.examples) == 3219 - 174
    unrepairable = {p.record for p in err.problems if p.reason == "answer_not_in_context"}
    assert len(unrepairable) == 174
    assert unrepairable.isdisjoint(e.id for e in result.examples)
    assert_offsets_valid(result.examples)


# ------------------------------------------- drop_answers_not_in_context, owner/name:split

def _cmrc_with_free_text_answers(tmp_path: Path) -> Path:
    context = "白鹭湖修建于1975年，最初用于灌溉周边农田。"
    qas = [
        # one good answer and one free-text answer that is not in the context: kept, 1 drop
        {"id": "q1", "question": "修建于哪一年？",
         "answers": [{"text": "1975年", "answer_start": 6}, {"text": "它修建于1975年。", "answer_start": -1}]},
        # only free-text answers: nothing left to keep, so still an error
        {"id": "q2", "question": "为什么修建？", "answers": [{"text": "为了灌溉。", "answer_start": -1}]},
        # a free-text answer next to an unrepaired offset: the question fails on the offset
        {"id": "q3", "question": "最初用于什么？",
         "answers": [{"text": "灌溉周边农田", "answer_start": 3}, {"text": "灌溉。", "answer_start": -1}]},
        {"id": "q4", "question": "湖叫什么？", "answers": [{"text": "白鹭湖", "answer_start": 0}]},
    ]
    obj = {"version": "v1.0", "data": [{"title": "白鹭湖", "paragraphs": [{"context": context, "qas": qas}]}]}
    return write_json(tmp_path / "free_text.json", obj)


def test_drop_answers_not_in_context_keeps_questions_with_a_valid_answer(tmp_path: Path) -> None:
    path = _cmrc_with_free_text_answers(tmp_path)
    with pytest.raises(DataError) as info:
        load_examples(path, drop_answers_not_in_context=True)
    # q1's drop is not a problem; q2 has no answer left; q3's offset is still wrong, and its
    # free-text answer is listed with it.
    assert [(p.record, p.reason) for p in info.value.problems] == [
        ("q2", "answer_not_in_context"), ("q3", "answer_offset"), ("q3", "answer_not_in_context"),
    ]

    result = load_examples(path, drop_answers_not_in_context=True, repair_offsets=True, skip_bad_records=True)
    assert [e.id for e in result.examples] == ["q1", "q3", "q4"]
    by_id = {e.id: e for e in result.examples}
    assert by_id["q1"].answers == (Answer("1975年", 6),) and not by_id["q1"].is_impossible
    assert by_id["q3"].answers == (Answer("灌溉周边农田", 16),)
    assert (result.repaired, result.skipped) == (1, {"answer_not_in_context": 1})  # q2, skipped whole
    assert [(p.record, p.field, p.reason) for p in result.dropped_answers] == [
        ("q1", "answers[1].answer_start", "answer_not_in_context"),
        ("q3", "answers[1].answer_start", "answer_not_in_context"),
    ]
    assert [p.record for p in result.problems] == ["q2"]

    # Off by default: the same file loses q1 and q3 whole under skip_bad_records.
    default = load_examples(path, repair_offsets=True, skip_bad_records=True)
    assert [e.id for e in default.examples] == ["q4"] and default.dropped_answers == ()


def test_drop_answers_option_reaches_the_run_data_and_its_metadata(tmp_path: Path) -> None:
    """--qa-drop-answers-not-in-context -> DataSpec -> load_run_data -> results.json's run block."""
    from qa_models.profiles import get_profile, with_overrides
    from qa_models.runner import load_run_data

    path = str(_cmrc_with_free_text_answers(tmp_path))
    files = dict(train_file=path, validation_file=path, test_file=path, track="cmrc2018", repair_offsets=True,
                 skip_bad_records=True)
    profile = with_overrides(get_profile("tiny"), drop_answers_not_in_context=True, **files)
    assert profile.data.drop_answers_not_in_context
    data = load_run_data(profile.data, seed=0)
    assert [e.id for e in data.test] == ["q1", "q3", "q4"]
    assert data.dropped_answers == 3 * 2  # two answers in each of the three loads of the file
    # Without the option the same questions are lost whole, and nothing counts as dropped.
    plain = load_run_data(with_overrides(get_profile("tiny"), **files).data, seed=0)
    assert [e.id for e in plain.test] == ["q4"] and plain.dropped_answers == 0


def test_drop_answers_not_in_context_on_hub_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = datasets.Dataset.from_dict(
        {
            "id": ["c1"],
            "context": ["青石镇图书馆位于柳树街。"],
            "question": ["位于哪条街？"],
            "answers": [{"text": ["柳树街", "在柳树街上。"], "answer_start": [8, -1]}],
        }
    )
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: rows)
    result = load_examples("hfl/cmrc2018", drop_answers_not_in_context=True)
    assert result.examples[0].answers == (Answer("柳树街", 8),)
    assert len(result.dropped_answers) == 1 and result.skipped == {}


def test_hub_id_with_split_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, str]] = []
    rows = datasets.Dataset.from_dict(
        {"id": ["c1"], "context": ["白鹭湖修建于1975年。"], "question": ["哪一年？"],
         "answers": [{"text": ["1975年"], "answer_start": [6]}]}
    )

    def fake_load_dataset(name: str, split: str) -> datasets.Dataset:
        calls.append((name, split))
        return rows

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    result = load_examples("hfl/cmrc2018:test", split="validation")  # the suffix wins
    assert calls == [("hfl/cmrc2018", "test")]
    assert result.source == "hfl/cmrc2018:test"
    with pytest.raises(DataError) as info:
        load_examples("data/missing.json:test")
    assert info.value.reason == "not_found"


def test_shared_cmrc_dev_keeps_every_question_when_dropping_free_text_answers() -> None:
    """The 174 questions skip_bad_records would drop all keep 1-2 valid answers."""
    path = shared("cmrc2018/cmrc2018_dev.json")
    result = load_examples(path, repair_offsets=True, drop_answers_not_in_context=True)
    assert (len(result.examples), result.repaired, result.skipped) == (3219, 7, {})
    assert len(result.dropped_answers) == 193
    assert len({p.record for p in result.dropped_answers}) == 174
    assert sum(len(e.answers) for e in result.examples) == 9657 - 193
    assert_offsets_valid(result.examples)
