"""The seed profile offline from a filled Hugging Face cache (issue 24, parts 1 and 2).

* ``check_needs`` under ``HF_HUB_OFFLINE=1`` checks the cache instead of refusing: what is
  missing stops the run at once, in one message naming each model id or dataset, the command
  that fetches it and the cache folder it looked in; a filled cache passes, and the run reads
  the data from it.
* ``python -m qa_models.prefetch``: what it plans to fetch, and what it says offline (its
  download needs the hub, which no test here reaches).
* The CPU smoke run: the issue's command on a temporary ``HF_HOME`` holding the three seed
  ids as tiny-depth random models of their real architectures with the real tokenizers
  (``tiny.build_seed_hub_cache``), seven rows in the report.

The real tokenizers come from ``<shared data>/tokenizers``; tests that need them skip when
it is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa_models import hub_cache, prefetch
from qa_models.device import has_cuda
from qa_models.profiles import ProfileError, check_needs, get_profile, shared_data_dir, with_overrides

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "fixtures"
SEED_IDS = ("bert-base-uncased", "meta-llama/Meta-Llama-3-8B-Instruct", "Qwen/Qwen1.5-7B-Chat")
SEED_ROWS = ("bert-base-span", "llama3-8b-generative", "llama3-8b-span", "llama3-8b-zero-shot",
             "qwen1.5-7b-generative", "qwen1.5-7b-span", "qwen1.5-7b-zero-shot")


def _tokenizers() -> Path:
    folder = shared_data_dir() / "tokenizers"
    if not (folder / "llama3-instruct" / "tokenizer.json").is_file() or not (folder / "qwen-chatml" / "tokenizer.json").is_file():
        pytest.skip(f"the real Llama 3 and Qwen tokenizers are not in {folder} (set QABENCH_DATA_DIR to the shared data)")
    return folder


@pytest.fixture
def offline_home(tmp_path, monkeypatch) -> Path:
    """An empty HF_HOME, offline, with no other cache variable pointing elsewhere."""
    home = tmp_path / "hf"
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


@pytest.fixture(scope="module")
def seed_hub(tmp_path_factory) -> Path:
    """A hub cache folder holding the three seed ids (tiny depth, real tokenizers)."""
    from qa_models.tiny import build_seed_hub_cache

    tokenizers = _tokenizers()
    hub = tmp_path_factory.mktemp("seed-hf") / "hub"
    build_seed_hub_cache(hub, tokenizers=tokenizers)
    return hub


def _hub_rows(path: Path) -> list[dict]:
    """The fixture's questions as rows of the hub's rajpurkar/squad_v2 (answers as parallel lists)."""
    from qa_models.data import load_examples

    return [{"id": e.id, "title": e.title, "context": e.context, "question": e.question,
             "answers": {"text": [a.text for a in e.answers], "answer_start": [a.answer_start for a in e.answers]}}
            for e in load_examples(str(path)).examples]


def _fill_squad_v2(datasets_cache: Path, work: Path) -> None:
    """Prepare rajpurkar/squad_v2 (train, validation: the project's fixtures) in the datasets
    cache as a hub load leaves it: ``rajpurkar___squad_v2/squad_v2/0.0.0/<hash>/``, written by
    datasets' own JSON builder, whose folder is then named after the hub id's owner."""
    from datasets.packaged_modules.json.json import Json

    files = {}
    for split, fixture in (("train", "squad_v2_tiny.json"), ("validation", "squad_v2_tiny_dev.json")):
        files[split] = str(work / f"{split}.jsonl")
        Path(files[split]).write_text("".join(json.dumps(r) + "\n" for r in _hub_rows(FIXTURES / fixture)))
    builder = Json(cache_dir=str(datasets_cache), dataset_name="squad_v2", config_name="squad_v2", config_id="squad_v2",
                   hash="0" * 40, data_files=files)
    builder.download_and_prepare()
    os.rename(datasets_cache / "squad_v2", datasets_cache / "rajpurkar___squad_v2")


# -- the offline check -----------------------------------------------------------------------


def test_offline_with_an_empty_cache_stops_with_one_message_naming_each_id_its_fetch_command_and_folder(offline_home):
    profile = with_overrides(get_profile("seed"), quantize="none")
    with pytest.raises(ProfileError) as info:
        check_needs(profile)
    message = str(info.value)
    for repo_id in SEED_IDS:
        assert f"model {repo_id} " in message and f"python -m qa_models.prefetch --model {repo_id}" in message
    assert "dataset rajpurkar/squad_v2 (split 'train'" in message and "(split 'validation', the test data)" in message
    assert "python -m qa_models.prefetch --dataset rajpurkar/squad_v2" in message
    assert f"looked in {offline_home / 'hub'}" in message and f"looked in {offline_home / 'datasets'}" in message
    assert "python -m qa_models.prefetch --profile seed." in message
    assert "hfl/cmrc2018" not in message, "the optional cross-lingual data never stops a run"
    assert len(message.splitlines()) == 1 + len(SEED_IDS) + 2 + 1


def test_offline_cmrc_track_names_its_three_splits_and_the_track_in_the_fetch_command(offline_home):
    profile = with_overrides(get_profile("seed", "cmrc2018"), quantize="none", models=["bert-base-span"])
    with pytest.raises(ProfileError) as info:
        check_needs(profile)
    message = str(info.value)
    for split, use in (("train", "train"), ("test", "validation"), ("validation", "test")):
        assert f"dataset hfl/cmrc2018 (split {split!r}, the {use} data)" in message
    assert "model bert-base-uncased " in message and "Meta-Llama" not in message
    assert "python -m qa_models.prefetch --profile seed --track cmrc2018." in message


def test_local_data_files_leave_only_the_models_to_check(offline_home):
    files = {"train_file": str(FIXTURES / "squad_v2_tiny.json"), "test_file": str(FIXTURES / "squad_v2_tiny_dev.json")}
    profile = with_overrides(get_profile("seed"), quantize="none", models=["qwen1.5-7b-span"], **files)
    with pytest.raises(ProfileError) as info:
        check_needs(profile)
    message = str(info.value)
    assert "model Qwen/Qwen1.5-7B-Chat (rows qwen1.5-7b-span)" in message and "dataset" not in message


@pytest.mark.skipif(has_cuda(), reason="on a GPU the 4-bit rows may run")
def test_without_a_gpu_the_4bit_rows_stop_at_once_and_quantize_none_lifts_it(offline_home, seed_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(seed_hub))
    files = {"train_file": str(FIXTURES / "squad_v2_tiny.json"), "test_file": str(FIXTURES / "squad_v2_tiny_dev.json")}
    with pytest.raises(ProfileError, match=r"^profile 'seed' needs a CUDA GPU \(8B models with QLoRA\) and none is visible"):
        check_needs(with_overrides(get_profile("seed"), **files))
    check_needs(with_overrides(get_profile("seed"), quantize="none", **files))
    # bert-base-span never quantises, so on its own it needs no GPU either.
    check_needs(with_overrides(get_profile("seed"), models=["bert-base-span"], **files))


def test_a_filled_cache_passes_and_the_run_reads_squad_v2_from_it_offline(offline_home, seed_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(seed_hub))
    _fill_squad_v2(offline_home / "datasets", tmp_path)
    check_needs(with_overrides(get_profile("seed"), quantize="none"))
    # The run's own loader, in a fresh process (datasets reads HF_HUB_OFFLINE when imported).
    code = ("from qa_models.data import load_examples; r = load_examples('rajpurkar/squad_v2', split='validation'); "
            "print(len(r.examples), sum(e.is_impossible for e in r.examples))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    dev = _hub_rows(FIXTURES / "squad_v2_tiny_dev.json")
    assert done.stdout.split() == [str(len(dev)), str(sum(not r["answers"]["text"] for r in dev))]


def test_a_model_missing_its_weights_or_a_shard_is_named_with_the_file(seed_hub, tmp_path):
    hub = tmp_path / "hub"
    shutil.copytree(seed_hub / "models--bert-base-uncased", hub / "models--bert-base-uncased")
    assert hub_cache.model_problem("bert-base-uncased", hub) is None
    snapshot = next((hub / "models--bert-base-uncased" / "snapshots").iterdir())
    (snapshot / "model.safetensors").unlink()
    assert "lacks model.safetensors" in hub_cache.model_problem("bert-base-uncased", hub)
    index = {"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (snapshot / "model.safetensors.index.json").write_text(json.dumps(index))
    (snapshot / "model-00001-of-00002.safetensors").write_bytes(b"")
    problem = hub_cache.model_problem("bert-base-uncased", hub)
    assert problem.endswith("lacks model-00002-of-00002.safetensors")
    (snapshot / "tokenizer.json").unlink()
    (snapshot / "tokenizer_config.json").unlink()
    assert "tokenizer.json" in hub_cache.model_problem("bert-base-uncased", hub)


def test_hub_splits_per_role_are_the_ones_the_runner_loads(monkeypatch):
    from qa_models import runner
    from qa_models.config import DataSpec
    from qa_models.data import load_examples

    asked = {}

    def record(source, split="train", **_):
        asked[source] = split
        return load_examples(str(FIXTURES / "squad_v2_tiny.json"))

    monkeypatch.setattr(runner, "load_examples", record)
    runner.load_run_data(DataSpec(train="o/train", validation="o/validation", test="o/test"), 0)
    assert asked == {f"o/{role}": split for role, split in hub_cache.ROLE_SPLITS.items()}


# -- prefetch ------------------------------------------------------------------------------


def test_prefetch_plans_every_seed_model_and_dataset_split():
    plan = prefetch.plan_for("seed")
    assert [n.repo_id for n in plan.models] == list(SEED_IDS)
    assert [n.rows for n in plan.models][1] == ("llama3-8b-generative", "llama3-8b-span", "llama3-8b-zero-shot")
    assert [(n.dataset_id, n.split, n.required) for n in plan.datasets] == [
        ("rajpurkar/squad_v2", "train", True), ("rajpurkar/squad_v2", "validation", True),
        ("hfl/cmrc2018", "validation", False),  # the cross-lingual row
    ]
    cmrc = prefetch.plan_for("seed", "cmrc2018")
    assert [(n.dataset_id, n.split) for n in cmrc.datasets] == [
        ("hfl/cmrc2018", "train"), ("hfl/cmrc2018", "test"), ("hfl/cmrc2018", "validation")]
    assert cmrc.dataset_ids() == ["hfl/cmrc2018"]
    assert prefetch.plan_for("tiny") == prefetch.Plan((), ())
    assert [n.repo_id for n in prefetch.plan_for(None, models=("gpt2",)).models] == ["gpt2"]


def test_prefetch_offline_says_it_cannot_download_and_lists_what_the_cache_lacks(offline_home, capsys):
    assert prefetch.main(["--profile", "seed"]) == 1
    out, err = capsys.readouterr()
    assert f"hub cache (models): {offline_home / 'hub'}" in out
    lines = out.splitlines()
    for repo_id in SEED_IDS:
        assert any(line.startswith(f"model   {repo_id}  for ") and line.endswith(": to fetch (no snapshot of it is cached)")
                   for line in lines)
    # squad_v2 train and validation, CMRC dev
    assert sum(line.startswith("dataset ") and line.endswith(": to fetch") for line in lines) == 3
    assert err.startswith("error: HF_HUB_OFFLINE=1, so nothing can be downloaded")
    assert f"HF_HOME={offline_home}" in err and "machine that reaches the hub" in err
    assert "bert-base-uncased, meta-llama/Meta-Llama-3-8B-Instruct, Qwen/Qwen1.5-7B-Chat, rajpurkar/squad_v2, hfl/cmrc2018" in err


def test_prefetch_offline_with_the_models_cached_asks_only_for_the_data(offline_home, seed_hub, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_CACHE", str(seed_hub))
    assert prefetch.main(["--profile", "seed", "--plan"]) == 0
    out, _ = capsys.readouterr()
    assert out.count(": cached") == 3 and "to fetch" in out
    assert prefetch.main(["--profile", "seed"]) == 1
    assert capsys.readouterr().err.split("lacks ")[1].startswith("rajpurkar/squad_v2, hfl/cmrc2018.")


# -- the CPU smoke run ---------------------------------------------------------------------


def _split_by_article(source: Path, folder: Path) -> tuple[Path, Path]:
    """The dev fixture's first article as validation, the others as test: the threshold is
    tuned on other questions than the ones it is scored on."""
    data = json.loads(source.read_text())
    validation, test = folder / "validation.json", folder / "test.json"
    validation.write_text(json.dumps({**data, "data": data["data"][:1]}))
    test.write_text(json.dumps({**data, "data": data["data"][1:]}))
    return validation, test


@pytest.mark.slow
def test_seed_smoke_run_on_cpu_through_the_real_ids_writes_seven_rows(seed_hub, tmp_path):
    validation, test = _split_by_article(FIXTURES / "squad_v2_tiny_dev.json", tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE")}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(seed_hub.parent), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    command = [sys.executable, "-m", "pytest", "bench", "-m", "train", "--qa-profile", "seed", "--qa-quantize", "none",
               "--qa-train-file", str(FIXTURES / "squad_v2_tiny.json"), "--qa-validation-file", str(validation),
               "--qa-test-file", str(test), "--qa-max-train-samples", "32", "--qa-max-eval-samples", "16", "--qa-epochs", "1",
               # where it writes, so the test leaves nothing behind and trains from scratch
               "--qa-cache-dir", str(tmp_path / "checkpoints"), "--qa-report-dir", str(tmp_path / "reports"),
               "--qa-run-id", "seed-smoke", "-p", "no:cacheprovider", "-q"]
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    results = json.loads((tmp_path / "reports" / "seed-smoke" / "results.json").read_text())
    rows = {m["name"]: m for m in results["models"]}
    assert tuple(rows) == SEED_ROWS
    assert {m["model_id"] for m in rows.values()} == set(SEED_IDS), "every row loads its real hub id"
    assert all(m["quantize"] == "none" for m in rows.values())
    # The real vocabularies came through: 128,256 and 151,936 embedding rows at hidden size 32.
    llama_total = rows["llama3-8b-zero-shot"]["parameters"]["total"]
    qwen_total = rows["qwen1.5-7b-zero-shot"]["parameters"]["total"]
    assert 2 * 128256 * 32 < llama_total < 2 * 128256 * 32 * 1.1 and 2 * 151936 * 32 < qwen_total < 2 * 151936 * 32 * 1.1
    report = (tmp_path / "reports" / "seed-smoke" / "report.md").read_text()
    assert all(name in report for name in SEED_ROWS)
