"""The pure cost formulas: importable without torch or transformers, and arithmetic that a
reader can check by hand."""

from __future__ import annotations

import pytest

from qa_models import cost, cost_model


def test_imports_neither_torch_nor_transformers(modules_after_import):
    assert not {"torch", "transformers", "numpy", "pandas"} & modules_after_import("qa_models.cost_model")


def test_estimate_on_a_tabulated_gpu_is_flops_over_peak_times_mfu():
    l4 = cost_model.gpu_from_key("l4")
    estimate = cost_model.estimate_run(1_000, 1_000, 500, 2, "full", l4, mfu=0.5)
    assert estimate.flops == 6 * 1_000 * 500 * 2
    assert estimate.seconds == pytest.approx(estimate.flops / (121e12 * 0.5))
    assert estimate.basis == "assumed MFU" and estimate.device == "L4"
    assert estimate.peak_memory_bytes == sum(estimate.memory.values())


def test_cpu_pseudo_device_has_no_time_without_a_measurement():
    cpu = cost_model.cpu_pseudo_device("cpu (2 cores)", 8 * cost_model.GiB)
    estimate = cost_model.estimate_run(1_000, 10, 500, 1, "qlora", cpu)
    assert estimate.seconds is None and estimate.basis == "unknown"
    assert estimate.notes[0].startswith("QLoRA needs CUDA")
    assert "cpu (2 cores): FLOP/s not tabulated" in estimate.notes[1]
    measured = cost_model.estimate_run(1_000, 10, 500, 2, "lora", cpu, measured_tokens_per_s=100.0)
    assert measured.seconds == pytest.approx(10.0) and measured.basis == "measured"


def test_gpu_keys_and_the_harness_agree():
    assert cost_model.gpu_from_key("A100") is cost_model.GPUS["A100-80GB"]
    with pytest.raises(cost_model.CostError, match="unknown device 'cpu'"):
        cost_model.gpu_from_key("cpu")  # the CPU's memory is the machine's: only cost.get_device reads it
    assert cost.get_device("cpu").key == "cpu" and cost.get_device("cpu").memory_bytes > 0
    # cost re-exports the formulas themselves, not copies
    assert cost.training_flops is cost_model.training_flops and cost.Device is cost_model.Device
