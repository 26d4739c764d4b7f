"""Out-of-memory errors: one QABenchOutOfMemory that says what ran out and what helps, with
the original chained; and a training killed by one keeps its Trainer folder (logs,
checkpoints) so the rerun resumes."""

from __future__ import annotations

import dataclasses
import functools
import json

import pytest
import torch

from qa_models.errors import QABenchOutOfMemory, explain_out_of_memory, is_out_of_memory

CUDA_OOM = "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB of which 1.06 GiB is free."


def _raise(error: BaseException):
    def fail(*args, **kwargs):
        raise error

    return fail


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError(CUDA_OOM),
        RuntimeError("CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported"),
        RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate 68719476736 bytes."),
        RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
    ],
    ids=["torch-oom", "cuda-runtime", "cpu-allocator", "cublas"],
)
def test_out_of_memory_errors_are_recognised(error):
    assert is_out_of_memory(error)


@pytest.mark.parametrize("error", [RuntimeError("shape mismatch"), ValueError("out of memory"), KeyError("x")])
def test_other_errors_pass_through_untouched(error):
    with pytest.raises(type(error)) as caught:
        with explain_out_of_memory("training", "bert-span"):
            raise error
    assert caught.value is error


def test_training_oom_names_stage_model_and_options(tiny_span_adapter, monkeypatch):
    original = torch.OutOfMemoryError(CUDA_OOM)
    monkeypatch.setattr(tiny_span_adapter, "train", _raise(original))
    with pytest.raises(QABenchOutOfMemory) as caught:
        with explain_out_of_memory("training", "bert-span"):
            tiny_span_adapter.train([], [], None, "unused")
    error = caught.value
    message = str(error)
    print(message)
    assert isinstance(error, RuntimeError)
    assert error.__cause__ is original, "the original error must be chained"
    assert (error.stage, error.model_name) == ("training", "bert-span")
    assert message.startswith("bert-span: out of memory during training")
    assert "Tried to allocate 2.00 GiB" in message  # what the allocator said
    for option in ("--qa-batch-size", "gradient_accumulation_steps", "gradient_checkpointing", "--qa-quantize 4bit"):
        assert option in message


def test_prediction_oom_from_inside_the_model(tiny_span_adapter, tiny_examples, monkeypatch):
    """The OOM comes from deep inside ``predict`` (the model's forward), as a real one would."""
    monkeypatch.setattr(tiny_span_adapter.model, "forward", _raise(RuntimeError("CUDA error: out of memory")))
    with pytest.raises(QABenchOutOfMemory) as caught:
        with explain_out_of_memory("prediction", "bert-span"):
            tiny_span_adapter.predict(tiny_examples[:3], batch_size=2)
    message = str(caught.value)
    assert message.startswith("bert-span: out of memory during prediction")
    assert "eval_batch_size" in message and "--qa-max-seq-length" in message
    assert isinstance(caught.value.__cause__, RuntimeError)
    # The chained traceback still reaches the line that failed.
    import traceback

    frames = traceback.extract_tb(caught.value.__cause__.__traceback__)
    assert any(frame.name == "window_logits" for frame in frames)


def test_nested_blocks_do_not_wrap_twice():
    with pytest.raises(QABenchOutOfMemory) as caught:
        with explain_out_of_memory("prediction", "outer"):
            with explain_out_of_memory("training", "inner"):
                raise torch.OutOfMemoryError(CUDA_OOM)
    assert caught.value.model_name == "inner" and caught.value.stage == "training"
    assert isinstance(caught.value.__cause__, torch.OutOfMemoryError)


def test_cuda_device_memory_is_reported(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index=0: (1 * 2**30, 80 * 2**30))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda index=0: 77 * 2**30)
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda index=0: 78 * 2**30)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    with pytest.raises(QABenchOutOfMemory) as caught:
        with explain_out_of_memory("training", "llama3-8b-span"):
            raise torch.OutOfMemoryError(CUDA_OOM)
    message = str(caught.value)
    assert "cuda:0 (NVIDIA H100 80GB HBM3)" in message
    assert "80.0 GiB total, 1.0 GiB free" in message and "peak allocated 77.0 GiB" in message


def test_cpu_oom_says_host_memory():
    with pytest.raises(QABenchOutOfMemory) as caught:
        with explain_out_of_memory("training", "bert-span"):
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 68719476736 bytes.")
    assert "cpu (host RAM)" in str(caught.value)
    assert "Device memory" not in str(caught.value)


def test_unknown_stage_is_rejected():
    with pytest.raises(ValueError, match="stage"):
        with explain_out_of_memory("inference", "bert-span"):
            pass


def test_failed_training_keeps_its_trainer_folder_and_the_rerun_resumes(tmp_path, monkeypatch, capfd, torch_single_thread):
    """OOM in epoch 2 of 2: no cache entry appears, ``<entry>.work/trainer`` keeps the epoch-1
    checkpoint (with the loss log) and the per-epoch validation scores; the rerun resumes."""
    from qa_models import runner
    from qa_models.profiles import get_profile

    profile = get_profile("tiny").select(["bert-span"])
    spec = profile.models[0]
    train_spec = dataclasses.replace(profile.train, epochs=2)
    data = runner.load_run_data(profile.data, train_spec.seed)
    steps_per_epoch = -(-len(_windows(spec, data.train)) // train_spec.batch_size)

    real_create = runner.create_adapter

    def create_failing(spec_):
        adapter = real_create(spec_)
        model, calls = adapter.model, {"n": 0}
        real_forward = model.forward

        @functools.wraps(real_forward)  # the Trainer reads the signature to keep dataset columns
        def forward(*args, **kwargs):
            if model.training:
                calls["n"] += 1
                if calls["n"] > steps_per_epoch + 1:  # the second step of epoch 2
                    raise torch.OutOfMemoryError(CUDA_OOM)
            return real_forward(*args, **kwargs)

        model.forward = forward
        return adapter

    monkeypatch.setattr(runner, "create_adapter", create_failing)
    with pytest.raises(QABenchOutOfMemory) as caught:
        with explain_out_of_memory("training", spec.name):  # how runner.train_or_load will wrap adapter.train
            runner.train_or_load(spec, train_spec, data, tmp_path, profile.data.track)
    assert caught.value.stage == "training"

    entries = sorted(p.name for p in tmp_path.iterdir())
    assert len(entries) == 1 and entries[0].endswith(".work"), f"only the work folder may exist: {entries}"
    trainer_dir = tmp_path / entries[0] / "trainer"
    checkpoint = trainer_dir / f"checkpoint-{steps_per_epoch}"
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    assert any("loss" in entry for entry in state["log_history"]), "the loss log of epoch 1 is kept"
    scores = json.loads((trainer_dir / "epoch_validation.json").read_text())
    assert [round(s["epoch"]) for s in scores] == [1]

    monkeypatch.setattr(runner, "create_adapter", real_create)
    capfd.readouterr()
    trained = runner.train_or_load(spec, train_spec, data, tmp_path, profile.data.track)
    assert f"resuming training from {checkpoint}" in capfd.readouterr().err
    assert not trained.cached
    assert [round(e["epoch"]) for e in trained.train_result.history["eval"]] == [1, 2]
    assert not (tmp_path / entries[0]).exists(), "the work folder goes once the entry is complete"


# -- fixtures ------------------------------------------------------------------------------


def _windows(spec, examples):
    from transformers import AutoTokenizer

    from qa_models.features import build_train_features

    return build_train_features(AutoTokenizer.from_pretrained(spec.model_id), examples, spec)


@pytest.fixture
def tiny_span_adapter():
    from qa_models.adapters import create_adapter
    from qa_models.config import ModelSpec
    from qa_models.tiny import tiny_model_dir

    path = tiny_model_dir("bert", build=True)
    return create_adapter(ModelSpec(name="bert-span", model_id=str(path), max_seq_length=64, doc_stride=16))


@pytest.fixture
def tiny_examples(tiny_squad_examples):
    return tiny_squad_examples
