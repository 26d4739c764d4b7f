"""Tests for ``qa_models.data``: splitting by article, seeded and stratified sampling, probes, and
the profile/DataSpec checks of the sample options.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_models.data import (
    Answer,
    DataError,
    Example,
    Probe,
    load_examples,
    load_probes,
    split_by_article,
)

from data_fixtures import FIXTURES, TINY, shared, write_json

pytestmark = pytest.mark.smoke


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


def _article_questions(title: str, n_answerable: int, n_unanswerable: int) -> list[Example]:
    return [
        Example(id=f"{title}-{i}", title=title, context="the cat sat", question="who?",
                answers=(Answer(text="cat", answer_start=4),) if i < n_answerable else (),
                is_impossible=i >= n_answerable)
        for i in range(n_answerable + n_unanswerable)
    ]


def test_balanced_articles_hold_both_kinds_equally_and_drop_one_kind_articles():
    from collections import Counter

    from qa_models.data import balance_answer_kinds_by_article

    examples = _article_questions("a", 7, 3) + _article_questions("b", 2, 5) + _article_questions("c", 9, 0)
    kept = balance_answer_kinds_by_article(examples, seed=1)
    kinds = Counter((e.title, bool(e.gold_texts)) for e in kept)
    assert kinds == {("a", True): 3, ("a", False): 3, ("b", True): 2, ("b", False): 2}
    positions = [examples.index(e) for e in kept]
    assert positions == sorted(positions)  # input order kept
    assert kept == balance_answer_kinds_by_article(examples, seed=1)
    answerable_of_a = {frozenset(e.id for e in balance_answer_kinds_by_article(examples, seed=s) if e.title == "a" and e.gold_texts)
                       for s in range(10)}
    assert len(answerable_of_a) > 1  # the seed chooses which


def test_balanced_articles_reach_the_run_data_and_its_cache_key(tmp_path: Path) -> None:
    """--qa-train-balance-articles -> DataSpec -> load_run_data -> files (results.json) -> cache key."""
    from qa_models.checkpoints import cache_key
    from qa_models.profiles import get_profile, with_overrides
    from qa_models.runner import load_run_data

    path = tmp_path / "train.json"
    examples = _article_questions("a", 6, 2) + _article_questions("b", 4, 0)
    articles = {}
    for e in examples:
        articles.setdefault(e.title, []).append({"context": e.context, "qas": [
            {"id": e.id, "question": e.question, "is_impossible": e.is_impossible,
             "answers": [{"text": a.text, "answer_start": a.answer_start} for a in e.answers]}]})
    write_json(path, {"version": "v2.0", "data": [{"title": t, "paragraphs": p} for t, p in articles.items()]})
    files = dict(train_file=str(path), validation_file=str(path), test_file=str(path))
    plain_profile = with_overrides(get_profile("tiny"), **files)
    profile = with_overrides(plain_profile, train_balance_articles=True)
    plain, balanced = load_run_data(plain_profile.data, seed=0), load_run_data(profile.data, seed=0)
    assert len(plain.train) == 12 and len(balanced.train) == 4
    assert sorted(bool(e.gold_texts) for e in balanced.train) == [False, False, True, True]
    assert balanced.files["train"]["balanced_articles"] is True and "balanced_articles" not in plain.files["train"]
    spec, train_spec = profile.models[0], profile.train
    assert cache_key(spec, train_spec, plain) != cache_key(spec, train_spec, balanced)
