"""Shared fixtures of the unit tests (keep it small: add fixtures, do not change these)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "fixtures"


@pytest.fixture(scope="session")
def tiny_model_paths(tmp_path_factory) -> dict[str, Path]:
    """The three tiny models ("bert", "llama3", "qwen"), built once per session into a temp folder."""
    from qa_models.tiny import KINDS, build_tiny_model

    root = tmp_path_factory.mktemp("tiny-models")
    return {kind: build_tiny_model(kind, root / f"tiny-{kind}") for kind in KINDS}


@pytest.fixture(scope="session")
def tiny_squad_examples():
    """Examples of fixtures/squad_v2_tiny.json (answerable and unanswerable)."""
    from qa_models.data import load_examples

    return list(load_examples(str(FIXTURES / "squad_v2_tiny.json")).examples)


@pytest.fixture(scope="session")
def generative_spec(tiny_model_paths):
    """Factory: ``generative_spec("llama3" | "qwen", **overrides)`` -> a generative ModelSpec of a
    tiny model (LoRA r=4 unless ``lora=None``), with the real end-of-turn token."""
    from qa_models.config import LoraSpec, ModelSpec
    from qa_models.families import end_of_turn

    def make(kind: str, **overrides):
        fields = dict(
            name=f"tiny-{kind}-generative",
            model_id=str(tiny_model_paths[kind]),
            method="generative",
            family=kind,
            end_of_turn_token=end_of_turn(kind),
            lora=LoraSpec(r=4, alpha=8, dropout=0.0),
            max_seq_length=192,
            max_new_tokens=6,
        )
        fields.update(overrides)
        return ModelSpec(**fields)

    return make


@pytest.fixture
def torch_single_thread():
    """One intra-op torch thread for the test: tiny models gain nothing from more, and on a busy
    2-core machine OpenMP threads waiting on each other made them about 5x slower."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.fixture(scope="session")
def modules_after_import():
    """Factory: ``modules_after_import("qa_models.metrics")`` -> the names in ``sys.modules``
    after importing that module alone in a fresh interpreter (this one has torch loaded by
    other tests, so only a new process shows what a module drags in)."""
    import subprocess
    import sys

    def loaded(module: str) -> set[str]:
        code = f"import sys, {module}; print(' '.join(sys.modules))"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
        assert done.returncode == 0, done.stderr
        return set(done.stdout.split())

    return loaded


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One report (qa_models.report.Paths) written from the default 3-model synthetic results of
    tests/report_fixtures.py, once per test module that asks for it (test_report*.py)."""
    from qa_models.report import write_run
    from report_fixtures import make_results

    return write_run(tmp_path_factory.mktemp("run") / "synthetic-run", make_results())
