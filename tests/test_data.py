"""Tests for ``qa_models.data``: loading, validation, repair, splitting, conversion, probes.

Fixtures under ``fixtures/`` are the project's own (made-up text). The real SQuAD v2 and
CMRC 2018 files are read from ``$QABENCH_DATA_DIR`` (default ``<repo>/../shared/data``);
tests that need them skip when they are absent.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import zipfile
from pathlib import Path

import datasets
import pytest

from qa_models.data import (
    FIXES,
    Answer,
    DataError,
    Example,
    LoadResult,
    Probe,
    examples_to_dataset,
    gold_answers,
    load_examples,
    load_probes,
    split_by_article,
)

pytestmark = pytest.mark.smoke

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
BAD = FIXTURES / "bad"
TINY = FIXTURES / "squad_v2_tiny.json"
TINY_DEV = FIXTURES / "squad_v2_tiny_dev.json"
CMRC_TINY = FIXTURES / "cmrc_tiny.json"
DATA_DIR = Path(os.environ.get("QABENCH_DATA_DIR", REPO.parent / "shared" / "data"))

# Every bad fixture is a one-problem mutation of the same 8-question base file, so the
# number of questions left after skipping tells whether the right record was dropped.
BASE_QUESTIONS = 8


def shared(relative: str) -> Path:
    """A file of the shared data directory, or skip the test when it is not there."""
    path = DATA_DIR / relative
    if not path.is_file():
        pytest.skip(f"shared data not available: {path} (set QABENCH_DATA_DIR)")
    return path


def write_json(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def one_paragraph(context: str, qas: list[dict], version: str = "v2.0") -> dict:
    return {"version": version, "data": [{"title": "T", "paragraphs": [{"context": context, "qas": qas}]}]}


def assert_offsets_valid(examples: list[Example]) -> None:
    for e in examples:
        for a in e.answers:
            assert e.context[a.answer_start : a.answer_start + len(a.text)] == a.text, e.id


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


# --------------------------------------------------------------------------- split

def test_split_by_article_is_deterministic_disjoint_and_seeded() -> None:
    examples = load_examples(TINY).examples
    train, val = split_by_article(examples, 0.34, seed=7)
    assert (train, val) == split_by_article(examples, 0.34, seed=7)
    assert split_by_article(list(reversed(examples)), 0.34, seed=7)[1] == list(reversed(val))
    train_titles, val_titles = {e.title for e in train}, {e.title for e in val}
    assert train_titles.isdisjoint(val_titles)
    assert len(val_titles) == 2  # round(0.34 * 6)
    assert len(train) + len(val) == len(examples)
    assert train == [e for e in examples if e.title in train_titles]  # input order kept
    by_seed = {frozenset(e.title for e in split_by_article(examples, 0.34, seed=s)[1]) for s in range(10)}
    assert len(by_seed) > 1


def test_split_by_article_sizes_and_errors() -> None:
    examples = load_examples(TINY).examples
    assert len({e.title for e in split_by_article(examples, 0.01, seed=0)[1]}) == 1  # at least one
    assert split_by_article(examples, 0.0, seed=0) == (list(examples), [])
    assert len({e.title for e in split_by_article(examples, 0.99, seed=0)[0]}) == 1  # train never empty
    one_article = [e for e in examples if e.title == examples[0].title]
    with pytest.raises(ValueError, match="at least 2 articles"):
        split_by_article(one_article, 0.5, seed=0)
    with pytest.raises(ValueError, match="validation_fraction"):
        split_by_article(examples, 1.0, seed=0)


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


# --------------------------------------------------------------------------- probes

def test_load_probes_fixture() -> None:
    probes = load_probes(FIXTURES / "probes.json")
    assert len(probes) == 8
    assert [p.lang for p in probes].count("zh") == 6 and [p.lang for p in probes].count("en") == 2
    by_id = {p.id: p for p in probes}
    birthday = by_id["zh-birthday"]
    assert birthday.expected_answer == "2000年1月1日"
    assert birthday.documented_bert_answer == "2000 年 1 月 1 日"  # the word-piece rebuild fault
    assert "[UNK]" in by_id["zh-instances"].documented_bert_answer
    example = birthday.as_example()
    assert (example.id, example.context, example.question, example.answers) == (
        "zh-birthday", birthday.context, birthday.question, ())
    assert not example.is_impossible
    assert by_id["zh-tv-care"].expected_answer is None and by_id["zh-tv-care"].as_example().is_impossible
    with pytest.raises(AttributeError):  # frozen
        birthday.id = "x"  # type: ignore[misc]


def test_bench_probe_expectations_name_real_probes() -> None:
    """The bench suite's real-model probe assertions only run with real checkpoints, so
    check here that their ids exist and that the fixture's expected answers satisfy them."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / "test_squad.py"
    spec = importlib.util.spec_from_file_location("bench_test_squad", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    by_id = {p.id: p for p in load_probes(FIXTURES / "probes.json")}
    assert module.REAL_MODEL_PROBES
    for probe_id, phrases in module.REAL_MODEL_PROBES.items():
        assert probe_id in by_id, f"bench asserts on unknown probe {probe_id!r}"
        assert module._contains(by_id[probe_id].expected_answer, *phrases)
        assert any(phrase.lower() in by_id[probe_id].context.lower() for phrase in phrases)


def test_probes_fixture_matches_shared_seed_probes() -> None:
    assert load_probes(FIXTURES / "probes.json") == load_probes(shared("probes/seed_probes.json"))


def test_bad_probe_file_lists_every_problem(tmp_path: Path) -> None:
    path = write_json(
        tmp_path / "probes.json",
        {"probes": [
            {"id": "a", "lang": "en", "context": "Cats purr.", "question": "What do cats do?",
             "documented_bert_answer": "purr", "expected_answer": "meow"},
            {"id": "b", "lang": "en", "context": "Dogs bark.", "documented_bert_answer": "bark"},
        ]},
    )
    with pytest.raises(DataError) as info:
        load_probes(path)
    assert [(p.record, p.field, p.reason) for p in info.value.problems] == [
        ("a", "expected_answer", "answer_not_in_context"),
        ("b", "question", "missing_field"),
    ]


def test_probe_as_example_type() -> None:
    probe = Probe("p", "en", "Sky is blue.", "What colour is the sky?", "blue", "blue")
    assert probe.as_example() == Example("p", "probe:p", "Sky is blue.", "What colour is the sky?", (), False)


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


def test_sample_examples_is_seeded_ordered_and_spans_articles():
    from qa_models.data import sample_examples

    examples = [Example(id=f"q{i}", title=f"t{i // 10}", context="c", question="q", answers=(), is_impossible=True) for i in range(100)]
    first = sample_examples(examples, 20, seed=1)
    assert first == sample_examples(examples, 20, seed=1)
    assert first != sample_examples(examples, 20, seed=2)
    positions = [examples.index(e) for e in first]
    assert positions == sorted(positions) and len(set(positions)) == 20
    assert len({e.title for e in first}) > 2  # not just the first two articles
    assert sample_examples(examples, None, seed=1) == examples
    assert sample_examples(examples, 500, seed=1) == examples


def test_a_profile_whose_data_file_is_missing_names_the_option_that_replaces_it(tmp_path: Path) -> None:
    from qa_models.profiles import ProfileError, check_needs, get_profile, with_overrides

    missing = str(tmp_path / "nowhere" / "train.json")
    profile = with_overrides(get_profile("minilm"), train_file=missing)
    with pytest.raises(ProfileError) as info:
        check_needs(profile)
    message = str(info.value)
    assert f"train file {missing} does not exist" in message
    assert "--qa-train-file" in message and "{role}" not in message
    assert "--qa-profile tiny" in message


def test_stratified_sample_has_the_asked_unanswerable_share_and_keeps_order():
    from qa_models.data import Answer, Example, sample_examples_stratified

    examples = [
        Example(id=f"q{i}", title="t", context="the cat sat", question="who?",
                answers=() if i % 10 == 0 else (Answer(text="cat", answer_start=4),), is_impossible=i % 10 == 0)
        for i in range(100)
    ]
    sample = sample_examples_stratified(examples, 30, seed=1, unanswerable_share=1 / 3)
    assert len(sample) == 30
    assert sum(1 for e in sample if not e.gold_texts) == 10
    positions = [examples.index(e) for e in sample]
    assert positions == sorted(positions)
    assert sample == sample_examples_stratified(examples, 30, seed=1, unanswerable_share=1 / 3)
    with pytest.raises(ValueError, match="needs 20 unanswerable"):
        sample_examples_stratified(examples, 40, seed=1, unanswerable_share=0.5)


def test_unanswerable_share_needs_a_sample_cap():
    from qa_models.config import ConfigError, DataSpec

    with pytest.raises(ConfigError, match="needs max_train_samples"):
        DataSpec(train="a.json", test="b.json", train_unanswerable_share=0.3)
    with pytest.raises(ConfigError, match=r"in \(0, 1\)"):
        DataSpec(train="a.json", test="b.json", max_train_samples=10, train_unanswerable_share=1.0)
