"""Random full-size models and timed training steps for ``bench/gpu_check.py``.

The measurement items (``bench/gpu_items.py``) build their models here and train them through
``run_steps``, which uses the harness's own ``training.training_arguments`` and the
transformers Trainer, and counts real and padded tokens per step for tokens/s and MFU.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from pathlib import Path
from typing import Any

from qa_models.device import has_cuda, torch_device

TINY_OVERRIDES = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}


@dataclasses.dataclass
class Settings:
    """Sizes of one check: the real ones, or ``--tiny`` for a CPU."""

    tiny: bool
    bert_seq: int
    bert_batch: int
    dec_seq: int
    dec_min_len: int
    dec_batch: int
    warmup_steps: int
    measured_steps: int
    gen_questions_batch1: int
    gen_questions_eval: int
    item_limit_s: float

    @classmethod
    def make(cls, tiny: bool) -> Settings:
        if tiny:
            return cls(True, 64, 4, 64, 16, 2, 1, 2, 2, 6, 60.0)
        return cls(False, 384, 16, 512, 128, 4, 3, 8, 8, 64, 120.0)


def _sync() -> None:
    import torch

    if has_cuda():
        torch.cuda.synchronize()


def free_memory() -> None:
    gc.collect()
    try:
        import torch

        if has_cuda():
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - freeing must never fail the check
        pass


def gib(n: float | None) -> float | None:
    """Bytes as GiB, rounded for the JSON (None stays None)."""
    return None if n is None else round(n / 1024**3, 3)


# ---------------------------------------------------------------------------------------
# Building models
# ---------------------------------------------------------------------------------------


def config_for(shape: str, tiny: bool, vocab: int | None = None) -> Any:
    from qa_models import shapes

    config = shapes.full_size_config(shape)
    if tiny:
        for key, value in TINY_OVERRIDES.items():
            setattr(config, key, value)
        if hasattr(config, "num_key_value_heads"):
            config.num_key_value_heads = 2 if shape == shapes.LLAMA3_8B else 4
        config.vocab_size = vocab or 4096
    return config


def build_random(shape: str, method: str, dtype: Any, tiny: bool, vocab: int | None = None) -> Any:
    """The model class a row of ``method`` uses, random weights, built on the accelerator
    directly (an 8B model initialised on the CPU would take minutes)."""
    import torch

    from qa_models import shapes

    cls = shapes.model_class(shape, method)
    config = config_for(shape, tiny, vocab)
    torch.manual_seed(0)
    with torch.device(torch_device()):
        model = cls._from_config(config, dtype=dtype, attn_implementation="sdpa")
    return model


def tiny_tokenizer(kind: str, spec: Any) -> Any:
    """The harness's tiny tokenizer of ``kind`` (built once under the cache), as the adapters load it."""
    from qa_models import tiny

    directory = tiny.tiny_model_dir(kind, build=True)
    if kind == "bert":
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(directory)), directory
    from qa_models.adapters.generative import _load_tokenizer

    return _load_tokenizer(directory, spec), directory


# ---------------------------------------------------------------------------------------
# Timing training steps
# ---------------------------------------------------------------------------------------


def step_clock(deadline: float):
    from transformers import TrainerCallback

    class StepClock(TrainerCallback):
        """Wall time at the end of every optimiser step; stops training at ``deadline``."""

        def __init__(self) -> None:
            self.ends: list[float] = []
            self.start: float | None = None
            self.stopped_early = False

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
            _sync()
            self.start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):  # noqa: D102
            _sync()
            self.ends.append(time.perf_counter())
            if self.ends[-1] > deadline and state.global_step < state.max_steps:
                self.stopped_early = True
                control.should_training_stop = True

    return StepClock()


class TokenCounter:
    """Real and padded tokens of every training forward (one per optimiser step here)."""

    def __init__(self, model: Any) -> None:
        self.records: list[tuple[int, int]] = []
        self.handle = model.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: tuple, kwargs: dict) -> None:
        if not module.training:
            return
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            return
        mask = kwargs.get("attention_mask")
        real = int(mask.sum()) if mask is not None else int(ids.numel())
        self.records.append((real, int(ids.numel())))

    def remove(self) -> None:
        self.handle.remove()


def run_steps(model: Any, spec: Any, train_spec: Any, dataset: Any, collator: Any, s: Settings, out_dir: Path,
              deadline: float, **overrides: Any) -> dict[str, Any]:
    """Train ``warmup + measured`` steps with the harness's TrainingArguments and the
    transformers Trainer; tokens/s over the measured steps, peak CUDA memory over all."""
    import torch
    from transformers import Trainer

    from qa_models import training
    from qa_models.adapters.base import count_parameters

    if has_cuda():
        torch.cuda.reset_peak_memory_stats()
    steps = s.warmup_steps + s.measured_steps
    args = training.training_arguments(
        spec, train_spec, out_dir, has_validation_loss=False, max_steps=steps, save_strategy="no",
        logging_steps=1, logging_first_step=True, warmup_steps=0, **overrides,
    )
    clock = step_clock(deadline)
    counter = TokenCounter(model)
    trainer = Trainer(model=model, args=args, data_collator=collator, train_dataset=dataset, callbacks=[clock])
    try:
        trainer.train()
    finally:
        counter.remove()
    result = _run_summary(model, args, trainer.state.log_history, len(clock.ends), s.warmup_steps, clock.stopped_early)
    counts = count_parameters(model)
    result["parameters"] = {"total": counts.total, "trainable": counts.trainable}
    result.update(_throughput(clock, counter.records, s.warmup_steps, counts))
    result.update(_peak_memory())
    del trainer
    model.zero_grad(set_to_none=True)
    return result


def _run_summary(model: Any, args: Any, log_history: list[dict[str, Any]], n_done: int, warmup_steps: int,
                 stopped_early: bool) -> dict[str, Any]:
    """How the steps ran: their number, the training setup as the arguments gave it, and the losses."""
    import math

    losses = [float(e["loss"]) for e in log_history if "loss" in e]
    return {
        "steps": n_done,
        "warmup_steps": warmup_steps,
        "stopped_early_at_item_deadline": stopped_early,
        "bf16_autocast": bool(args.bf16),
        "optimizer": str(args.optim),
        "gradient_checkpointing": bool(args.gradient_checkpointing),
        "weights_dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "loss_finite": bool(losses) and all(math.isfinite(x) for x in losses),
    }


def _throughput(clock: Any, records: list[tuple[int, int]], warmup_steps: int, counts: Any) -> dict[str, Any]:
    """Tokens/s and MFU over the steps after the warm-up (over all steps when no more than the
    warm-up ran), or a note when the clock and the token counter disagree."""
    from qa_models import cost

    n_done = len(clock.ends)
    if not (n_done and len(records) >= n_done):
        return {"tokens_per_s": None, "note": f"timing incomplete: {n_done} steps, {len(records)} forwards counted"}
    first = warmup_steps if n_done > warmup_steps else 0
    begin = clock.ends[first - 1] if first > 0 else clock.start
    seconds = clock.ends[-1] - begin
    real = sum(r for r, _ in records[first:n_done])
    padded = sum(p for _, p in records[first:n_done])
    peak = cost.this_machine().bf16_flops
    flops = cost.training_flops(counts.total, counts.trainable, real)  # model FLOPs: no recompute
    return {
        "measured_steps": n_done - first,
        "measured_s": round(seconds, 4),
        "step_s": round(seconds / max(1, n_done - first), 4),
        "real_tokens": real,
        "padded_tokens": padded,
        "tokens_per_s": round(real / seconds, 1) if seconds > 0 else None,
        "padded_tokens_per_s": round(padded / seconds, 1) if seconds > 0 else None,
        "model_flops_per_s": flops / seconds if seconds > 0 else None,
        "mfu": round(flops / seconds / peak, 4) if (peak and seconds > 0) else None,
        "mfu_basis": ("(4N + 2N_t)·T over the dense bf16 peak of " + cost.this_machine().key) if peak else "no bf16 peak for this device",
    }


def _peak_memory() -> dict[str, Any]:
    """Peak CUDA memory allocated and reserved since the last reset, in GiB (None on a CPU)."""
    import torch

    if has_cuda():
        return {"peak_memory_gib": gib(torch.cuda.max_memory_allocated()), "peak_reserved_gib": gib(torch.cuda.max_memory_reserved())}
    return {"peak_memory_gib": None, "peak_memory_note": "CUDA only (a CPU RSS peak cannot be reset per item)"}
