"""Tests for ``qa_models.data``: loading and validation of local files (bad records, offset repair,
answerability rules, json/gz/zip) and the project's own fixtures.

Hub ids, conversion, the real shared data and dropped answers are in test_data_sources.py;
splitting, sampling and probes in test_data_sampling.py. Shared helpers: data_fixtures.py.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import zipfile
from pathlib import Path

import datasets
import pytest

from qa_models.data import (
    FIXES,
    Answer,
    DataError,
    LoadResult,
    load_examples,
)

from data_fixtures import (
    FIXTURES,
    BAD,
    TINY,
    TINY_DEV,
    CMRC_TINY,
    BASE_QUESTIONS,
    write_json,
    one_paragraph,
    assert_offsets_valid,
)

pytestmark = pytest.mark.smoke


# --------------------------------------------------------------------------- bad files

# (file, record, field, reason, questions kept under skip_bad_records or None if it still raises)
BAD_CASES = [
    ("bad_json.json", "line 34 column 15", None, "bad_json", None),
    ("not_utf8.json", "line 41, byte 1178", None, "not_utf8", None),
    ("missing_data.json", None, "data", "missing_field", None),
    ("zip_without_json.zip", None, None, "zip_without_json", None),
    ("missing_paragraphs.json", "data[1]", "paragraphs", "missing_field", 6),
    ("missing_qas.json", "data[0].paragraphs[1]", "qas", "missing_field", 5),
    ("missing_context.json", "data[0].paragraphs[0]", "context", "missing_field", 5),
    ("missing_question.json", "bad-q1", "question", "missing_field", 7),
    ("missing_id.json", "data[0].paragraphs[1].qas[0]", "id", "missing_field", 7),
    ("missing_answers.json", "bad-q4", "answers", "missing_field", 7),
    ("missing_answer_v1.json", "bad-q3", "answers", "missing_answer", 7),
    ("bad_offset.json", "bad-q5", "answers[0].answer_start", "answer_offset", 7),
    ("answer_not_in_context.json", "bad-q3", "answers[0].answer_start", "answer_not_in_context", 7),
    ("empty_context.json", "data[0].paragraphs[0]", "context", "empty_text", 5),
    ("empty_question.json", "bad-q2", "question", "empty_text", 7),
    ("duplicate_id.json", "bad-q1", "id", "duplicate_id", 7),
    ("impossible_with_answers.json", "bad-q1", "answers", "impossible_with_answers", 7),
]


BAD_IDS = [case[0] for case in BAD_CASES]


@pytest.mark.parametrize(("name", "record", "field", "reason", "_kept"), BAD_CASES, ids=BAD_IDS)
def test_bad_file_gives_its_own_clear_error(
    name: str, record: str | None, field: str | None, reason: str, _kept: int | None
) -> None:
    path = BAD / name
    with pytest.raises(DataError) as info:
        load_examples(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.file, err.record, err.field, err.reason) == (str(path), record, field, reason)
    assert len(err.problems) == 1
    assert err.fix == FIXES[reason]
    message = str(err)
    for part in (str(path), reason, err.fix, record, field):
        if part is not None:
            assert part in message


@pytest.mark.parametrize(("name", "record", "field", "reason", "kept"), BAD_CASES, ids=BAD_IDS)
def test_skip_bad_records_drops_only_the_bad_record(
    name: str, record: str | None, field: str | None, reason: str, kept: int | None
) -> None:
    path = BAD / name
    if kept is None:  # a problem with the file as a whole cannot be skipped
        with pytest.raises(DataError) as info:
            load_examples(path, skip_bad_records=True)
        assert info.value.reason == reason
        return
    result = load_examples(path, skip_bad_records=True)
    assert result.skipped == {reason: 1}
    assert len(result.examples) == kept
    assert [(p.record, p.reason) for p in result.problems] == [(record, reason)]
    if reason == "duplicate_id":  # the first occurrence is the one kept
        dup = [e for e in result.examples if e.id == record]
        assert len(dup) == 1 and dup[0].question == "How far away could its lamp be seen?"
    assert_offsets_valid(result.examples)


SEVERAL_PROBLEMS = [
    ("bad-q0", "answers[0].answer_start", "answer_offset"),
    ("bad-q2", "question", "empty_text"),
    ("bad-q1", "id", "duplicate_id"),
    ("bad-q5", "answers", "missing_field"),
    ("bad-q8", "answers", "impossible_with_answers"),
    ("data[1].paragraphs[1]", "context", "missing_field"),
]


def test_several_bad_records_give_one_error_listing_all() -> None:
    path = BAD / "several_bad.json"
    with pytest.raises(DataError) as info:
        load_examples(path)
    err = info.value
    assert [(p.record, p.field, p.reason) for p in err.problems] == SEVERAL_PROBLEMS
    assert err.counts == {
        "answer_offset": 1,
        "empty_text": 1,
        "duplicate_id": 1,
        "missing_field": 2,
        "impossible_with_answers": 1,
    }
    assert (err.record, err.reason) == ("bad-q0", "answer_offset")  # the first, in file order
    message = str(err)
    assert "6 problems" in message
    for record, _, reason in SEVERAL_PROBLEMS:
        assert record in message
        assert FIXES[reason] in message
        assert FIXES[reason] in err.fix


def test_several_bad_records_skipped_by_reason_and_good_ones_kept() -> None:
    result = load_examples(BAD / "several_bad.json", skip_bad_records=True)
    assert result.skipped == {
        "answer_offset": 1,
        "empty_text": 1,
        "duplicate_id": 1,
        "missing_field": 2,  # bad-q5, and the context-less paragraph (counted once, not per question)
        "impossible_with_answers": 1,
    }
    assert [e.id for e in result.examples] == ["bad-q1", "bad-q3", "bad-q6", "bad-q7"]
    assert result.n_articles == 2
    assert len(result.problems) == 6

    repaired = load_examples(BAD / "several_bad.json", skip_bad_records=True, repair_offsets=True)
    assert repaired.repaired == 1
    assert "answer_offset" not in repaired.skipped
    q0 = next(e for e in repaired.examples if e.id == "bad-q0")
    assert q0.answers == (Answer("1856", 55),)


def test_record_with_two_problems_is_reported_twice_but_skipped_once(tmp_path: Path) -> None:
    qas = [
        {"id": "q1", "question": " ", "answers": [{"text": "beta", "answer_start": 0}]},
        {"id": "q2", "question": "Which?", "answers": [{"text": "beta", "answer_start": 6}]},
    ]
    path = write_json(tmp_path / "two.json", one_paragraph("alpha beta gamma", qas))
    with pytest.raises(DataError) as info:
        load_examples(path)
    assert [(p.record, p.reason) for p in info.value.problems] == [("q1", "empty_text"), ("q1", "answer_offset")]
    result = load_examples(path, skip_bad_records=True)
    assert result.skipped == {"empty_text": 1}  # counted once, under its first problem
    assert [e.id for e in result.examples] == ["q2"]
    assert len(result.problems) == 2


def test_long_error_lists_ten_and_counts_the_rest(tmp_path: Path) -> None:
    context = "alpha beta gamma"
    qas = [
        {"id": f"q{i}", "question": "Which?", "answers": [{"text": "beta", "answer_start": 0}]}
        for i in range(25)
    ]
    path = write_json(tmp_path / "many.json", one_paragraph(context, qas))
    with pytest.raises(DataError) as info:
        load_examples(path)
    err = info.value
    assert len(err.problems) == 25 and err.counts == {"answer_offset": 25}
    message = str(err)
    assert "25 problems (answer_offset: 25)" in message
    assert "record q9," in message and "record q10," not in message
    assert "15 more" in message


# --------------------------------------------------------------------------- repair

def test_repair_moves_offset_to_nearest_occurrence() -> None:
    result = load_examples(BAD / "bad_offset.json", repair_offsets=True)
    assert result.repaired == 1 and result.skipped == {}
    q5 = next(e for e in result.examples if e.id == "bad-q5")
    first = q5.context.find("the harbour board")
    second = q5.context.find("the harbour board", first + 1)
    # The file says 115: three before the second occurrence, far from the first one.
    assert q5.answers == (Answer("the harbour board", second),)
    assert first != second
    assert len(result.examples) == BASE_QUESTIONS


def test_repair_prefers_earlier_occurrence_on_a_tie(tmp_path: Path) -> None:
    qas = [{"id": "q", "question": "Which?", "answers": [{"text": "ab", "answer_start": 1}]}]
    path = write_json(tmp_path / "tie.json", one_paragraph("abab", qas, version="v1.0"))
    assert load_examples(path, repair_offsets=True).examples[0].answers == (Answer("ab", 0),)


def test_repair_cannot_invent_text_missing_from_context() -> None:
    path = BAD / "answer_not_in_context.json"
    with pytest.raises(DataError) as info:
        load_examples(path, repair_offsets=True)
    assert info.value.reason == "answer_not_in_context"
    assert "'Nora Peake' does not occur" in str(info.value)
    result = load_examples(path, repair_offsets=True, skip_bad_records=True)
    assert result.skipped == {"answer_not_in_context": 1} and result.repaired == 0


def test_good_files_need_no_repair() -> None:
    for path in (TINY, TINY_DEV, CMRC_TINY):
        assert load_examples(path, repair_offsets=True).repaired == 0


# --------------------------------------------------------------------------- answerability rules

def test_empty_answers_mean_unanswerable_only_in_v2(tmp_path: Path) -> None:
    no_answers = [{"id": "q", "question": "Q?", "answers": []}]
    v2 = write_json(tmp_path / "v2.json", one_paragraph("some text", no_answers))
    (example,) = load_examples(v2).examples
    assert example.is_impossible and example.answers == ()

    v1 = write_json(tmp_path / "v1.json", one_paragraph("some text", no_answers, version="v1.1"))
    with pytest.raises(DataError) as info:
        load_examples(v1)
    assert info.value.reason == "missing_answer"

    # An explicit is_impossible: false contradicts an empty list even in v2.
    explicit = write_json(
        tmp_path / "explicit.json",
        one_paragraph("some text", [{"id": "q", "question": "Q?", "answers": [], "is_impossible": False}]),
    )
    with pytest.raises(DataError) as info:
        load_examples(explicit)
    assert info.value.reason == "missing_answer"
    assert "is_impossible is false" in str(info.value)


def test_wrong_types_are_reported(tmp_path: Path) -> None:
    qas = [{"id": "q", "question": "Q?", "answers": [{"text": "some", "answer_start": "0"}]}]
    path = write_json(tmp_path / "types.json", one_paragraph("some text", qas))
    with pytest.raises(DataError) as info:
        load_examples(path)
    err = info.value
    assert (err.record, err.field, err.reason) == ("q", "answers[0].answer_start", "wrong_type")


# --------------------------------------------------------------------------- formats

def test_gz_and_zip_load_the_same_examples_as_plain_json(tmp_path: Path) -> None:
    plain = load_examples(TINY)
    gz = tmp_path / "tiny.json.gz"
    gz.write_bytes(gzip.compress(TINY.read_bytes()))
    zipped = tmp_path / "tiny.zip"
    with zipfile.ZipFile(zipped, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(TINY, "squad_v2_tiny.json")
    for path in (gz, zipped):
        result = load_examples(path)
        assert result.examples == plain.examples
        assert result.n_articles == plain.n_articles
        assert result.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert plain.sha256 == hashlib.sha256(TINY.read_bytes()).hexdigest()
    assert plain.source == str(TINY)


def test_zip_with_several_json_reads_first_by_name(tmp_path: Path) -> None:
    zipped = tmp_path / "two.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.write(TINY_DEV, "b_dev.json")
        archive.write(TINY, "a_train.json")
    assert load_examples(zipped).examples == load_examples(TINY).examples


def test_zip_ignores_macos_metadata(tmp_path: Path) -> None:
    zipped = tmp_path / "mac.zip"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("__MACOSX/._tiny.json", b"\x00\x05\x16\x07 Finder metadata")
        archive.write(TINY, "tiny.json")
    assert load_examples(zipped).examples == load_examples(TINY).examples


def test_corrupt_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json.gz"
    shutil.copy(TINY, path)  # plain JSON under a .gz name
    with pytest.raises(DataError) as info:
        load_examples(path)
    assert info.value.reason == "bad_archive"


def test_missing_file_is_not_sent_to_the_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_hub(*args: object, **kwargs: object) -> None:
        raise AssertionError("a missing file must not be looked up on the hub")

    monkeypatch.setattr(datasets, "load_dataset", no_hub)
    for source in ("data/train.json", str(FIXTURES / "nope.json")):
        with pytest.raises(DataError) as info:
            load_examples(source)
        assert (info.value.reason, info.value.file) == ("not_found", source)


# --------------------------------------------------------------------------- own fixtures

def test_tiny_fixtures_have_the_documented_shape() -> None:
    train, dev, cmrc = load_examples(TINY), load_examples(TINY_DEV), load_examples(CMRC_TINY)
    def shape(result: LoadResult) -> tuple[int, int, int]:
        return len(result.examples), sum(e.is_impossible for e in result.examples), result.n_articles

    assert shape(train) == (60, 11, 6)
    assert shape(dev) == (29, 7, 3)
    assert shape(cmrc) == (16, 0, 3)
    # dev-style: most answerable dev questions carry 2-3 gold answers.
    assert sum(len(e.answers) >= 2 for e in dev.examples) >= 15
    assert max(len(e.answers) for e in dev.examples) == 3
    assert {e.title for e in train.examples}.isdisjoint({e.title for e in dev.examples})
    assert {e.id for e in train.examples}.isdisjoint({e.id for e in dev.examples})
    for result in (train, dev, cmrc):
        assert_offsets_valid(result.examples)
        assert all(e.is_impossible == (not e.answers) for e in result.examples)
