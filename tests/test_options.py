"""The one options table (qa_models/options.py, issue 12): both front ends are generated
from it, under one name each, and give the same Profile from the same values."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from qa_models.options import (
    OPTIONS,
    PYTEST_ONLY,
    TRAIN_ONLY,
    add_pytest_options,
    options_for_pytest,
    options_for_train,
    overrides_from,
    profile_from,
    values_from_pytest,
)
from qa_models.profiles import get_profile, with_overrides
from qa_models.train import build_parser, main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"

PUBLIC_PYTEST_OPTIONS = (
    "--qa-profile --qa-config --qa-models --qa-track --qa-train-file --qa-validation-file --qa-test-file "
    "--qa-epochs --qa-lr --qa-batch-size --qa-max-seq-length --qa-max-train-samples --qa-max-eval-samples "
    "--qa-quantize --qa-plain --qa-skip-bad-records --qa-repair-offsets --qa-drop-answers-not-in-context "
    "--qa-seed --qa-report-dir --qa-cache-dir --qa-run-id --qa-report-to"
).split()
"""In the README and scripts; renaming one breaks users' commands."""

PUBLIC_TRAIN_FLAGS = (
    "--profile --config --model --out --cache-dir --report-to --epochs --lr --batch-size --seed --train-file "
    "--validation-file --test-file --max-train-samples --quantize --plain --skip-bad-records --repair-offsets "
    "--drop-answers-not-in-context"
).split()
"""train.py's flags before the table, all still accepted."""

SAMPLE_VALUES = {
    "models": ["qwen-span"],
    "track": "cmrc2018",
    "train_file": str(FIXTURES / "cmrc_tiny.json"),
    "validation_file": str(FIXTURES / "cmrc_tiny_dev.json"),
    "test_file": str(FIXTURES / "cmrc_tiny_dev.json"),
    "epochs": 1.5,
    "lr": 5e-5,
    "batch_size": 3,
    "max_seq_length": 96,
    "max_train_samples": 7,
    "max_eval_samples": 5,
    "train_unanswerable_share": 0.25,
    "train_balance_articles": True,
    "quantize": "4bit",
    "plain": True,
    "skip_bad_records": True,
    "repair_offsets": True,
    "drop_answers_not_in_context": True,
    "seed": 11,
}
"""A value other than the tiny profile's for every option that overrides it."""

NEEDS_ALSO = {"train_unanswerable_share": {"max_train_samples": 7}}
"""Options that are only valid together with another (a share of a sample needs the sample cap)."""


def _as_flags(values: dict, prefix: str) -> list[str]:
    by_dest = {o.dest: o for o in OPTIONS}
    argv: list[str] = []
    for dest, value in values.items():
        flag = prefix + by_dest[dest].name
        if value is True:
            argv.append(flag)
        else:
            argv += [flag, ",".join(value) if isinstance(value, list) else str(value)]
    return argv


class _ParsedConfig:
    """What ``values_from_pytest`` reads of a pytest Config: ``getoption`` by flag."""

    def __init__(self, namespace: argparse.Namespace) -> None:
        self.namespace = namespace

    def getoption(self, flag: str):
        return getattr(self.namespace, flag.lstrip("-").replace("-", "_"))


def _pytest_values(argv: list[str]) -> dict:
    # pytest's own option parser (as the root conftest fills it), without starting a session.
    from _pytest.config.argparsing import Parser

    parser = Parser(_ispytest=True)
    add_pytest_options(parser.getgroup("qabench").addoption)
    return values_from_pytest(_ParsedConfig(parser.parse(argv)))


def _train_values(argv: list[str]) -> dict:
    return vars(build_parser().parse_args(["--out", "unused", *argv]))


def test_table_names_and_override_fields_are_unique():
    names = [o.name for o in OPTIONS]
    assert len(names) == len(set(names))
    fields = [o.sets for o in OPTIONS if o.sets]
    assert len(fields) == len(set(fields))
    assert all(o.help.strip() for o in OPTIONS)


def test_every_public_pytest_option_is_registered_under_its_dest(pytestconfig):
    registered = {o.pytest_flag for o in options_for_pytest()}
    assert set(PUBLIC_PYTEST_OPTIONS) <= registered
    parsed = vars(pytestconfig.option)
    for option in options_for_pytest():
        assert "qa_" + option.dest in parsed, option.pytest_flag
        pytestconfig.getoption(option.pytest_flag)  # raises for an unknown option


def test_pytest_help_lists_every_option_with_its_help():
    done = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for option in options_for_pytest():
        assert option.pytest_flag in done.stdout
    assert "qabench" in done.stdout


def test_train_parser_has_every_shared_option_under_the_same_dest():
    parser = build_parser()
    dests = {action.dest: action for action in parser._actions}
    for option in options_for_train():
        assert option.dest in dests, option.train_flag
        assert option.train_flag in dests[option.dest].option_strings
        assert dests[option.dest].help == option.help
    shared = {o.dest for o in OPTIONS if o.where not in (PYTEST_ONLY, TRAIN_ONLY)}
    assert shared == {o.dest for o in options_for_pytest()} & {o.dest for o in options_for_train()}
    help_text = parser.format_help()
    for flag in PUBLIC_TRAIN_FLAGS + ["--track", "--max-eval-samples", "--max-seq-length"]:
        assert flag in help_text


def test_sample_values_cover_every_override():
    assert set(SAMPLE_VALUES) == {o.dest for o in OPTIONS if o.sets}


def test_every_override_changes_the_profile():
    """Each option's keyword is one that with_overrides reads (a misspelt one would be ignored)."""
    base = get_profile("tiny")
    for dest, value in SAMPLE_VALUES.items():
        changed = with_overrides(base, **overrides_from({**NEEDS_ALSO.get(dest, {}), dest: value}))
        assert changed != base, dest


def test_unset_values_keep_the_profile():
    assert all(value is None for value in overrides_from({}).values())
    assert profile_from(_train_values(["--model", "bert-span"])) == get_profile("tiny").select(["bert-span"])
    assert overrides_from({"plain": False})["fast"] is None  # no --plain: the profile decides


def test_both_front_ends_give_the_same_profile():
    from_pytest = _pytest_values(["--qa-profile", "tiny", *_as_flags(SAMPLE_VALUES, "--qa-")])
    from_train = _train_values(["--profile", "tiny", *_as_flags(SAMPLE_VALUES, "--")])
    assert overrides_from(from_pytest) == overrides_from(from_train)
    profile = profile_from(from_train)
    assert profile_from(from_pytest) == profile
    assert profile.train.learning_rate == 5e-5 and profile.train.fast is False


def test_train_accepts_the_options_it_lacked_and_they_reach_the_profile():
    values = _train_values(["--model", "bert-span", "--track", "cmrc2018", "--max-eval-samples", "5",
                            "--max-seq-length", "96"])
    profile = profile_from(values)
    assert profile.data.track == "cmrc2018" and profile.data.test.endswith("cmrc_tiny_dev.json")
    assert profile.data.max_eval_samples == 5
    assert [m.max_seq_length for m in profile.models] == [96]


def test_model_is_an_alias_of_models():
    assert _train_values(["--model", "bert-span"])["models"] == ["bert-span"]
    assert _train_values(["--models", "bert-span"])["models"] == ["bert-span"]


def test_train_runs_one_model_only(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["--profile", "tiny", "--models", "bert-span,qwen-span", "--out", str(out)]) == 2
    assert "pick one with --model NAME" in capsys.readouterr().err
    assert main(["--profile", "tiny", "--out", str(out)]) == 2  # neither --model nor --config
    assert not out.exists()
