"""The one device detection: kind as data, a display name, and memory."""

from __future__ import annotations

import os

import torch

from qa_models import cost, device


def test_detect_on_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: f"NVIDIA H100 80GB HBM3 #{index}")
    found = device.detect(1)
    assert found == device.Device("cuda", "NVIDIA H100 80GB HBM3 #1", 1)
    assert device.has_cuda() and device.torch_device() == "cuda"


def test_detect_on_mps(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert device.detect() == device.Device("mps", device.MPS_NAME)
    assert device.torch_device() == "cpu"  # recorded, not computed on (the Trainer gets use_cpu)


def test_detect_on_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    found = device.detect()
    assert found.kind == "cpu" and found.index is None
    assert found.name == f"cpu ({os.cpu_count()} cores)" == device.cpu().name
    assert device.memory_bytes(found) == device.host_memory_bytes() > 0


def test_cuda_memory_is_the_gpus_total(monkeypatch):
    class Properties:
        total_memory = 80 * 10**9

    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: Properties())
    assert device.memory_bytes(device.Device("cuda", "NVIDIA H100 80GB HBM3", 0)) == 80 * 10**9


def test_cost_table_entry_of_this_machine_comes_from_detect(monkeypatch):
    class Properties:
        total_memory = 24 * 10**9

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA L4")
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: Properties())
    assert cost.this_machine().key == "L4"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert cost.this_machine().key == "cpu"  # an Apple GPU is costed as the CPU (shared RAM, no peak)
