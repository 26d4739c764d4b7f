"""Session plumbing of the bench suites: the profile, its data, trained models and the report.

Tests in bench/ are parametrised over the profile's models (``model_name``). Each model is
trained (or loaded from the checkpoint cache) once per session; every test adds its piece
to the run's results, and the report is written when the session ends.
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
    """Pieces of results.json gathered by the tests; written once at session end."""

    def __init__(self) -> None:
        self.models: dict[str, dict[str, Any]] = {}
        self.started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        from qa_models.runner import git_commit

        self.git_commit = git_commit()

    def update(self, name: str, **pieces: Any) -> None:
        self.models.setdefault(name, {}).update(pieces)


@pytest.fixture(scope="session")
def run_results(profile: Profile, run_dir: Path, request: pytest.FixtureRequest):
    results = RunResults()
    yield results
    complete = [m for m in results.models.values() if "result" in m]
    if not complete:
        return
    from qa_models.report import write_run
    from qa_models.runner import run_metadata

    data = request.getfixturevalue("run_data")
    models = []
    for piece in complete:
        row = dict(piece["result"])
        row["inference"] = piece.get("inference")
        # Optional pieces from other suites (speed comparison, Chinese track, tokenizer
        # coverage) become scalar "extra" columns, which the report tabulates.
        extra = dict(row.get("extra") or {})
        for name in ("speed", "cross_lingual", "coverage"):
            for key, value in (piece.get(name) or {}).items():
                if isinstance(value, (int, float, str, bool)) or value is None:
                    extra[f"{name}_{key}"] = value
        row["extra"] = extra
        models.append(row)
    finished = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    payload = {
        "schema_version": 1,
        "run": run_metadata(profile, data, run_dir.name, results.started, finished, results.git_commit),
        "models": models,
    }
    write_run(run_dir, payload)
    print(f"\nqabench report: {run_dir / 'report.md'}")


@pytest.fixture(scope="session")
def model_cache() -> dict[str, Any]:
    return {}


@pytest.fixture
def trained(model_name: str, profile: Profile, run_data, model_cache, run_dir: Path, pytestconfig: pytest.Config):
    """The model of this test, trained once per session or loaded from the checkpoint cache.
    Training logs go to ``--qa-report-to`` (TensorBoard into ``<run_dir>/<model>/tb/`` by default)."""
    from qa_models.runner import train_or_load
    from qa_models.training import default_report_to

    key = ("trained", model_name)
    if key not in model_cache:
        spec = next(m for m in profile.models if m.name == model_name)
        model_cache[key] = train_or_load(spec, profile.train, run_data, pytestconfig.getoption("--qa-cache-dir"), profile.data.track,
                                         report_to=pytestconfig.getoption("--qa-report-to") or default_report_to(),
                                         log_dir=run_dir / model_name / "tb")
    return model_cache[key]


@pytest.fixture
def evaluation(model_name: str, trained, profile: Profile, run_data, model_cache, run_dir: Path, run_results: RunResults):
    """Threshold tuned on validation, test scored with it; per-model files written; row recorded."""
    from qa_models.runner import answer_probes, evaluate, model_result, write_model_files

    key = ("evaluation", model_name)
    if key not in model_cache:
        spec = next(m for m in profile.models if m.name == model_name)
        result = evaluate(trained.adapter, run_data, profile.data.track, profile.train.eval_batch_size)
        write_model_files(run_dir / model_name, result)
        probes = answer_probes(trained.adapter, run_data.probes, result.threshold)
        run_results.update(model_name, result=model_result(spec, trained, result, profile.train, probes, None))
        model_cache[key] = result
    return model_cache[key]
