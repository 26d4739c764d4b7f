"""Errors that say what went wrong in the harness's words, and what to change.

``explain_out_of_memory`` wraps a training or prediction step: an out-of-memory error from
torch (``torch.OutOfMemoryError``, a CUDA "out of memory" ``RuntimeError``, or the CPU
allocator's "can't allocate memory") leaves it as one ``QABenchOutOfMemory`` whose message
names the stage, the model and the device's memory, and lists the settings that reduce
memory for that stage. The original error is chained (``raise ... from``), so its traceback
is still printed.

Where it is used: ``runner.train_or_load`` around ``adapter.train`` (stage "training") and
``runner.evaluate``/``runner.answer_probes`` around ``adapter.predict`` (stage "prediction").
"""

from __future__ import annotations

import traceback
from contextlib import contextmanager
from typing import Iterator

from .device import MPS_NAME, detect, has_cuda

STAGES = ("training", "prediction")

_OOM_MARKERS = (
    "out of memory",  # CUDA caching allocator, cuBLAS/cuDNN "CUDA error: out of memory", MPS, XPU
    "can't allocate memory",  # torch's CPU allocator (DefaultCPUAllocator)
    "cublas_status_alloc_failed",  # cuBLAS could not allocate its workspace
)

_SUGGESTIONS = {
    "training": (
        "a smaller per-device batch: --qa-batch-size N (pytest) or --batch-size N (python -m qa_models.train)",
        "gradient accumulation: raise TrainSpec.gradient_accumulation_steps by the factor you cut the batch by, "
        "so the effective batch (and the results) stay comparable",
        "gradient checkpointing: ModelSpec.gradient_checkpointing=True (recomputes activations; slower, much less memory)",
        "a 4-bit base: --qa-quantize 4bit (QLoRA; LoRA and zero-shot rows only, CUDA + bitsandbytes)",
        "shorter windows or prompts: --qa-max-seq-length N",
        "if the traceback shows the per-epoch validation (EpochValidation), a smaller TrainSpec.eval_batch_size",
    ),
    "prediction": (
        "a smaller prediction batch: TrainSpec.eval_batch_size (the profile's eval batch)",
        "shorter windows or prompts: --qa-max-seq-length N",
        "a 4-bit base: --qa-quantize 4bit (QLoRA; LoRA and zero-shot rows only, CUDA + bitsandbytes)",
    ),
}


class QABenchOutOfMemory(RuntimeError):
    """A training or prediction step ran out of memory; the message says where and what helps.

    Attributes:
        stage: "training" or "prediction".
        model_name: the ModelSpec name of the row that failed.
        device: what ran out, e.g. "cuda:0 (NVIDIA H100 80GB HBM3)" or "cpu (host RAM)".
    """

    def __init__(self, message: str, *, stage: str, model_name: str, device: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.model_name = model_name
        self.device = device


def is_out_of_memory(error: BaseException) -> bool:
    """True for torch's out-of-memory errors, on any device; False for everything else."""
    if isinstance(error, QABenchOutOfMemory):
        return False
    try:
        import torch

        if isinstance(error, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    if not isinstance(error, (RuntimeError, MemoryError)):
        return False
    if isinstance(error, MemoryError):
        return True
    text = str(error).lower()
    return any(marker in text for marker in _OOM_MARKERS)


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.1f} GiB"


def _device_memory(error: BaseException) -> tuple[str, str]:
    """(device label, memory line) for the message; the memory line is "" off CUDA."""
    text = str(error).lower()
    try:
        import torch

        if "mps" in text:
            return MPS_NAME, ""
        if not (isinstance(error, torch.OutOfMemoryError) or "cuda" in text or "cublas" in text):
            return "cpu (host RAM)", ""
        if not has_cuda():
            return "cuda", ""
        index = torch.cuda.current_device()
        label = f"cuda:{index} ({detect(index).name})"
        free, total = torch.cuda.mem_get_info(index)
        peak = torch.cuda.max_memory_allocated(index)
        reserved = torch.cuda.memory_reserved(index)
        line = (
            f"Device memory: {_gib(total)} total, {_gib(free)} free now; PyTorch peak allocated {_gib(peak)}, "
            f"reserved {_gib(reserved)}."
        )
        return label, line
    except Exception:  # noqa: BLE001 - a broken CUDA context must not hide the original error
        return "cuda", ""


def describe_out_of_memory(stage: str, model_name: str, error: BaseException) -> QABenchOutOfMemory:
    """The ``QABenchOutOfMemory`` for ``error`` (not raised, not chained: the caller does that)."""
    device, memory = _device_memory(error)
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if len(first_line) > 300:
        first_line = first_line[:299] + "…"
    lines = [
        f"{model_name}: out of memory during {stage} on {device}.",
        f"{type(error).__name__}: {first_line}",
    ]
    if memory:
        lines.append(memory)
    lines.append("Options that reduce memory (try one at a time):")
    lines += [f"  - {option}" for option in _SUGGESTIONS.get(stage, _SUGGESTIONS["training"])]
    return QABenchOutOfMemory("\n".join(lines), stage=stage, model_name=model_name, device=device)


@contextmanager
def explain_out_of_memory(stage: str, model_name: str) -> Iterator[None]:
    """Turn an out-of-memory error raised inside the block into one ``QABenchOutOfMemory``.

    ``stage`` is "training" or "prediction" (it picks the suggestions), ``model_name`` the
    row's name. Any other exception passes through untouched, as does a
    ``QABenchOutOfMemory`` from a nested block. The original error is chained as
    ``__cause__``. The frames between the block and the allocation that failed have
    finished; their local variables (activations, batches) are released before re-raising
    and the CUDA cache is emptied, so a session can go on with its next model. The
    traceback still shows every line.

        with explain_out_of_memory("training", spec.name):
            result = adapter.train(...)
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    try:
        yield
    except Exception as error:
        if not is_out_of_memory(error):
            raise
        explained = describe_out_of_memory(stage, model_name, error)
        traceback.clear_frames(error.__traceback__)  # frames still running (ours, the caller's) are skipped
        try:
            import torch

            if has_cuda():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001 - best effort only
            pass
        raise explained from error
