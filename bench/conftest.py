"""Session plumbing of the bench suites: the profile, its data, the rows of the run and the report.

Tests in bench/ are parametrised over the profile's models (``model_name``). Each model is
trained (or loaded from the checkpoint cache) and run through ``runner.run_row`` once per
session; tests read its typed row and assert, and results.json and the report are written
from the rows when the session ends.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest

from qa_models.config import ConfigError, Profile
from qa_models.options import profile_from, values_from_pytest
from qa_models.profiles import ProfileError, check_needs
from qa_models.results import ModelResult, SpeedRecord


def _options(config: pytest.Config) -> dict[str, Any]:
    """The --qa-* values keyed by option name (qa_models/options.py), as train.py reads its flags."""
    return values_from_pytest(config)


def resolve_profile(config: pytest.Config) -> Profile:
    """The profile with command-line overrides; a profile that cannot run here stops pytest
    with one message that names the alternative."""
    cached = getattr(config, "_qa_profile", None)
    if cached is not None:
        return cached
    values = _options(config)
    if values["profile"] != "seed" and not values["config"]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # offline profiles never wait on the network
    try:
        profile = profile_from(values)
        check_needs(profile)
    except (ProfileError, ConfigError) as error:
        raise pytest.UsageError(str(error)) from None
    config._qa_profile = profile
    return profile


def pytest_configure(config: pytest.Config) -> None:
    """Resolve the profile once, before collection. Raised while collecting, a UsageError is
    reported once per bench module, each with a traceback; raised here it is one line."""
    if config.getoption("help", False) or config.getoption("version", False):
        return
    resolve_profile(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "model_name" in metafunc.fixturenames:
        profile = resolve_profile(metafunc.config)
        metafunc.parametrize("model_name", [m.name for m in profile.models])


@pytest.fixture(scope="session")
def profile(pytestconfig: pytest.Config) -> Profile:
    return resolve_profile(pytestconfig)


@pytest.fixture(scope="session")
def run_dir(pytestconfig: pytest.Config, profile: Profile) -> Path:
    run_id = pytestconfig.getoption("--qa-run-id") or f"{profile.name}-{dt.datetime.now(dt.timezone.utc):%Y%m%d-%H%M%S}"
    path = Path(pytestconfig.getoption("--qa-report-dir")) / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def run_data(profile: Profile):
    """Loaded and validated before any model trains; bad data stops the session with the reason."""
    from qa_models.data import DataError
    from qa_models.runner import load_run_data

    try:
        return load_run_data(profile.data, profile.train.seed)
    except DataError as error:
        pytest.exit(f"bad input data, nothing was trained:\n{error}", returncode=3)


class RunResults:
    """The rows of this session's run, one ``runner.run_row`` per model, computed on first use
    and written once, as results.json and the report, when the session ends.

    Tests read the rows and assert; they record nothing the report needs. The one exception
    is :meth:`attach_speed`: the speed suite trains each model twice more, which is not part
    of a normal run, and attaches its comparison to the model's row when it ran.
    """

    def __init__(self, profile: Profile, run_data: Any, run_dir: Path, config: pytest.Config) -> None:
        from qa_models.run_metadata import git_commit, now_utc

        self.profile, self.data, self.run_dir, self.config = profile, run_data, run_dir, config
        self.started = now_utc()
        self.git_commit = git_commit()
        self._trained: dict[str, Any] = {}
        self.rows: dict[str, ModelResult] = {}
        self._speed: dict[str, SpeedRecord] = {}

    def _spec(self, name: str):
        return next(m for m in self.profile.models if m.name == name)

    def trained(self, name: str):
        """The model ``name``, trained once per session or loaded from the checkpoint cache.
        Training logs go to ``--qa-report-to`` (TensorBoard into ``<run_dir>/<model>/tb/`` by default)."""
        from qa_models.runner import train_or_load
        from qa_models.training import default_report_to

        if name not in self._trained:
            self._trained[name] = train_or_load(
                self._spec(name), self.profile.train, self.data, self.config.getoption("--qa-cache-dir"),
                self.profile.data.track, report_to=self.config.getoption("--qa-report-to") or default_report_to(),
                log_dir=self.run_dir / name / "tb")
        return self._trained[name]

    def row(self, name: str) -> ModelResult:
        """The model's row of results.json, from ``runner.run_row`` on the session's trained model."""
        from qa_models.runner import run_row

        if name not in self.rows:
            row = run_row(self._spec(name), self.profile, self.data, self.run_dir,
                          cache_dir=self.config.getoption("--qa-cache-dir"), trained=self.trained(name))
            assert row is not None, "the bench runs in one process, which is the main one"
            self.rows[name] = row
        return self.rows[name]

    def attach_speed(self, name: str, speed: SpeedRecord) -> None:
        """The speed suite's comparison for model ``name``; it lands in that model's row when the
        session ends, if the run has a row for it (a session of only ``-m benchmark`` writes no results)."""
        self._speed[name] = speed

    def write(self) -> Path | None:
        """results.json and the report of the rows computed in this session, in profile order."""
        from qa_models.runner import write_run_results

        rows = [self.rows[m.name] for m in self.profile.models if m.name in self.rows]
        if not rows:
            return None
        for row in rows:
            row.speed = self._speed.get(row.name)
        return write_run_results(self.run_dir, self.profile, self.data, rows, self.started, self.git_commit)


@pytest.fixture(scope="session")
def run_results(profile: Profile, run_data, run_dir: Path, pytestconfig: pytest.Config):
    results = RunResults(profile, run_data, run_dir, pytestconfig)
    yield results
    path = results.write()
    if path is not None:
        print(f"\nqabench results: {path}\nqabench report: {run_dir / 'report.md'}")


@pytest.fixture
def trained(model_name: str, run_results: RunResults):
    """The model of this test (adapter, training record), trained or loaded once per session."""
    return run_results.trained(model_name)


@pytest.fixture
def row(model_name: str, run_results: RunResults) -> ModelResult:
    """The model's typed row: scores at the threshold tuned on validation, per-model files
    written, probes answered, inference, abstention, coverage and cross-lingual measured."""
    return run_results.row(model_name)
