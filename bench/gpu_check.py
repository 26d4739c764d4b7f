#!/usr/bin/env python
"""One prepared GPU check (issue 13): every GPU path of the harness, measured once, in minutes.

    python bench/gpu_check.py --out DIR [--budget-s 450] [--tiny] [--only REGEX]

Full-size architectures with **random weights** built from config (``qa_models.shapes``:
bert-base-uncased, Llama-3-8B, Qwen1.5-7B), so nothing is downloaded; the tokenizers are the
harness's tiny ones (``qa_models.tiny``), whose ids are valid for every full-size vocabulary.
What it measures, through the harness's own code (``training.training_arguments``,
``training.apply_lora``, ``training.quantization_kwargs`` via ``generative._load_causal_lm``,
``generative.AnswerOnlyCollator`` / ``DataCollatorWithFlattening``, ``GenerativeAdapter.predict``,
``cost.training_flops`` and ``cost.this_machine`` for MFU):

1. ``bert/*``: bert-base span training at seq 384, batch 16 (the seed profile's), full windows:
   tokens/s and MFU (model FLOPs (4N + 2N_t)·T over the device's dense bf16 peak), the fast
   path (bf16 autocast, SDPA, fused AdamW) vs the plain one (as the harness loads it) vs plain
   with fp32 weights.
2. ``llama3-8b/*``, ``qwen1.5-7b/*``: LoRA r16 all-linear training steps, seq <= 512, batch 4
   (prompt lengths drawn between 128 and 512, loss on the last 8 tokens): peak CUDA memory and
   real tokens/s; gradient checkpointing off/on; padding-free packing (flattened rows with
   ``position_ids``, on flash_attention_2 when installed, else flex_attention: the kernels the
   harness's ``packing_plan`` packs on); liger-kernel's fused linear cross-entropy; QLoRA
   (NF4 + double quantisation, loaded with ``from_pretrained`` from a saved random model)
   with checkpointing on (the seed profile's setting) and off.
3. ``llama3-8b/generate/*``: ``GenerativeAdapter.predict`` (batched greedy decoding, KV cache)
   at batch 1 vs the harness's eval batch (``TrainSpec.eval_batch_size``): questions/s.
4. ``report/device_row``: the harness's tiny profile (bert-span) trained on this device by
   ``pytest bench/test_squad.py``, the report rebuilt by ``python -m qa_models.report``, and
   what its text says about the device (the GPU-hours wording, the train-device cells).

Every measurement is guarded: a failure is recorded with its error and the rest still run;
CUDA memory is freed between groups. ``--budget-s`` stops cleanly: an item whose estimated
duration no longer fits is recorded as "skipped: time budget", and a training item stops
early at its own deadline. Without CUDA every GPU-only item is "skipped: no CUDA device".
``--tiny`` swaps in tiny shapes (2 layers, hidden 64) so the whole check runs on a CPU in
seconds (CI). Output: ``gpu_check.json`` and ``gpu_check.md`` in ``--out`` (plus the
harness report's ``harness_report.md``).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.metadata
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# After the path insert: run as a script, this file must import the checkout's qa_models.
from qa_models.device import detect, has_cuda, torch_device  # noqa: E402
from qa_models.formatting import markdown_table  # noqa: E402

SCHEMA_VERSION = 1
SKIPPED_BUDGET = "skipped: time budget"
NO_CUDA = "no CUDA device"
VERSION_PACKAGES = (
    "torch", "transformers", "peft", "accelerate", "bitsandbytes", "liger-kernel", "datasets",
    "pyarrow", "fsspec", "triton", "flash-attn", "numpy",
)
DECODERS = {"llama3-8b": "Meta-Llama-3-8B-Instruct", "qwen1.5-7b": "Qwen1.5-7B-Chat"}
FAMILY = {"llama3-8b": ("llama3", "<|eot_id|>"), "qwen1.5-7b": ("qwen", "<|im_end|>")}
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


class Skip(Exception):
    """Raised by an item that cannot run here (its message is the reason)."""


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


def _gib(n: float | None) -> float | None:
    return None if n is None else round(n / 1024**3, 3)


# ---------------------------------------------------------------------------------------
# Environment
# ---------------------------------------------------------------------------------------


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def commit() -> tuple[str | None, str]:
    """The checkout's commit (``runner.git_commit``), else $QABENCH_COMMIT (a copy of the tree
    without its .git folder), else None."""
    try:
        from qa_models.runner import git_commit

        found = git_commit()
    except Exception:  # noqa: BLE001
        found = None
    if found:
        return found, "git"
    if os.environ.get("QABENCH_COMMIT"):
        return os.environ["QABENCH_COMMIT"], "QABENCH_COMMIT"
    return None, "unknown (no git checkout, QABENCH_COMMIT unset)"


def device_info() -> dict[str, Any]:
    import torch

    from qa_models import cost

    machine = cost.this_machine()
    found = detect()
    info: dict[str, Any] = {
        "name": found.name,
        "cuda": found.kind == "cuda",
        "cost_table_key": machine.key,
        "bf16_peak_flops": machine.bf16_flops,
        "peak_source": machine.source,
    }
    if found.kind == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(
            memory_gib=_gib(props.total_memory),
            multiprocessors=props.multi_processor_count,
            capability=f"{props.major}.{props.minor}",
            torch_cuda=torch.version.cuda,
            bf16_supported=torch.cuda.is_bf16_supported(),
        )
    return info


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
    import math

    import torch
    from transformers import Trainer

    from qa_models import cost, training
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
    losses = [float(e["loss"]) for e in trainer.state.log_history if "loss" in e]
    n_done = len(clock.ends)
    result: dict[str, Any] = {
        "steps": n_done,
        "warmup_steps": s.warmup_steps,
        "stopped_early_at_item_deadline": clock.stopped_early,
        "bf16_autocast": bool(args.bf16),
        "optimizer": str(args.optim),
        "gradient_checkpointing": bool(args.gradient_checkpointing),
        "weights_dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
        "first_loss": losses[0] if losses else None,
        "last_loss": losses[-1] if losses else None,
        "loss_finite": bool(losses) and all(math.isfinite(x) for x in losses),
    }
    counts = count_parameters(model)
    result["parameters"] = {"total": counts.total, "trainable": counts.trainable}
    first = s.warmup_steps if n_done > s.warmup_steps else 0
    if n_done and len(counter.records) >= n_done:
        begin = clock.ends[first - 1] if first > 0 else clock.start
        seconds = clock.ends[-1] - begin
        real = sum(r for r, _ in counter.records[first:n_done])
        padded = sum(p for _, p in counter.records[first:n_done])
        result.update(
            measured_steps=n_done - first,
            measured_s=round(seconds, 4),
            step_s=round(seconds / max(1, n_done - first), 4),
            real_tokens=real,
            padded_tokens=padded,
            tokens_per_s=round(real / seconds, 1) if seconds > 0 else None,
            padded_tokens_per_s=round(padded / seconds, 1) if seconds > 0 else None,
        )
        peak = cost.this_machine().bf16_flops
        flops = cost.training_flops(counts.total, counts.trainable, real)  # model FLOPs: no recompute
        result["model_flops_per_s"] = flops / seconds if seconds > 0 else None
        result["mfu"] = round(flops / seconds / peak, 4) if (peak and seconds > 0) else None
        result["mfu_basis"] = ("(4N + 2N_t)·T over the dense bf16 peak of " + cost.this_machine().key) if peak else "no bf16 peak for this device"
    else:
        result["tokens_per_s"] = None
        result["note"] = f"timing incomplete: {n_done} steps, {len(counter.records)} forwards counted"
    if has_cuda():
        result["peak_memory_gib"] = _gib(torch.cuda.max_memory_allocated())
        result["peak_reserved_gib"] = _gib(torch.cuda.max_memory_reserved())
    else:
        result["peak_memory_gib"] = None
        result["peak_memory_note"] = "CUDA only (a CPU RSS peak cannot be reset per item)"
    del trainer
    model.zero_grad(set_to_none=True)
    return result


# ---------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Item:
    name: str
    group: str
    gpu_only: bool
    estimate_s: float
    run: Callable[[], dict[str, Any]]
    what: str


class GpuCheck:
    def __init__(self, out: Path, budget_s: float, tiny: bool, only: str | None, work_dir: str | None) -> None:
        self.out = out
        self.budget_s = budget_s
        self.s = Settings.make(tiny)
        self.only = re.compile(only) if only else None
        self.cuda = has_cuda()
        self.t0 = time.perf_counter()
        if work_dir:
            Path(work_dir).mkdir(parents=True, exist_ok=True)
        self.work = Path(tempfile.mkdtemp(prefix="gpu_check-", dir=work_dir))
        self.state: dict[str, Any] = {}
        self.group: str | None = None
        self.item_deadline = 0.0

    # -- helpers -------------------------------------------------------------------

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def remaining(self) -> float:
        return self.budget_s - self.elapsed()

    def estimate(self, full_s: float) -> float:
        return 1.0 if self.s.tiny else full_s

    def release(self) -> None:
        for key in list(self.state):
            if key.startswith("_keep"):
                continue
            del self.state[key]
        free_memory()

    def cached(self, key: str, build: Callable[[], Any]) -> Any:
        """One model per group, built on first use; a build that failed fails its dependants."""
        if key not in self.state:
            try:
                started = time.perf_counter()
                self.state[key] = build()
                self.state[key + ":build_s"] = round(time.perf_counter() - started, 2)
            except Exception as error:  # noqa: BLE001
                self.state[key] = error
        value = self.state[key]
        if isinstance(value, Exception):
            raise RuntimeError(f"building {key} failed: {type(value).__name__}: {value}") from value
        return value

    # -- 1. bert-base span ---------------------------------------------------------

    def bert(self, variant: str) -> dict[str, Any]:
        import torch
        from transformers import default_data_collator

        from qa_models import shapes, training
        from qa_models.config import ModelSpec, TrainSpec

        fast = variant == "fast"
        spec = ModelSpec(name="bert-base-span", model_id="bert-base-uncased", family="bert",
                         dtype="float32" if variant == "plain_fp32" else "auto", max_seq_length=self.s.bert_seq,
                         doc_stride=min(128, self.s.bert_seq // 2))
        train_spec = TrainSpec(batch_size=self.s.bert_batch, fast=fast, eval_every_epoch=False)
        model = build_random(shapes.BERT_BASE, "span", training.torch_dtype(spec), self.s.tiny)
        gen = torch.Generator().manual_seed(0)
        n = self.s.bert_batch * (self.s.warmup_steps + self.s.measured_steps)
        seq, vocab = self.s.bert_seq, model.config.vocab_size
        rows = []
        for _ in range(n):
            ids = torch.randint(1000 if vocab > 2000 else 5, vocab, (seq,), generator=gen)
            start = int(torch.randint(seq // 4, seq - 10, (1,), generator=gen))
            rows.append({
                "input_ids": ids,
                "token_type_ids": (torch.arange(seq) >= seq // 6).long(),
                "attention_mask": torch.ones(seq, dtype=torch.long),
                "start_positions": torch.tensor(start),
                "end_positions": torch.tensor(start + 3),
            })
        result = run_steps(model, spec, train_spec, rows, default_data_collator, self.s, self.work / "bert", self.item_deadline)
        result.update(seq_len=seq, batch=self.s.bert_batch, attention=str(model.config._attn_implementation),
                      windows="every window full (no padding)")
        del model
        return result

    # -- 2. decoders ------------------------------------------------------------------

    def decoder_spec(self, key: str, **changes: Any) -> Any:
        from qa_models.config import LoraSpec, ModelSpec

        family, eot = FAMILY[key]
        base = dict(name=f"{key}-generative", model_id=DECODERS[key], method="generative", family=family,
                    lora=LoraSpec(), end_of_turn_token=eot, max_seq_length=self.s.dec_seq,
                    doc_stride=min(128, self.s.dec_seq // 2))
        base.update(changes)
        base["doc_stride"] = min(base["doc_stride"], base["max_seq_length"] // 2)
        return ModelSpec(**base)

    def decoder_lora_model(self, key: str) -> Any:
        def build() -> Any:
            from qa_models import training

            spec = self.decoder_spec(key)
            model = build_random(DECODERS[key], "generative", training.torch_dtype(spec), self.s.tiny)
            return training.apply_lora(model, spec, task_type="CAUSAL_LM")

        return self.cached(f"{key}:lora", build)

    def decoder_rows(self, vocab: int) -> list[dict[str, list[int]]]:
        from qa_models.prompts import IGNORE_INDEX

        rng = random.Random(0)
        n = self.s.dec_batch * (self.s.warmup_steps + self.s.measured_steps) * 2
        low = 1000 if vocab > 2000 else 5
        rows = []
        for _ in range(n):
            length = rng.randint(self.s.dec_min_len, self.s.dec_seq)
            ids = [rng.randrange(low, min(vocab, 100_000)) for _ in range(length)]
            answer = min(8, length // 2)
            rows.append({"input_ids": ids, "labels": [IGNORE_INDEX] * (length - answer) + ids[-answer:]})
        return rows

    def decoder_train(self, key: str, *, gc_on: bool = False, packing: bool = False, liger: bool = False,
                      quantized: bool = False) -> dict[str, Any]:
        from transformers import DataCollatorWithFlattening

        from qa_models.adapters.generative import AnswerOnlyCollator, _causal_lm, packing_plan, use_fused_linear_cross_entropy
        from qa_models.config import TrainSpec
        from qa_models.prompts import IGNORE_INDEX

        if liger:
            import importlib.util

            if importlib.util.find_spec("liger_kernel") is None:
                raise ModuleNotFoundError("liger_kernel is not installed (carry .whl/, see docs/BENCHMARKS.md)")
        model = self.qlora_model(key) if quantized else self.decoder_lora_model(key)
        spec = self.decoder_spec(key, gradient_checkpointing=gc_on, **({"quantize": "4bit"} if quantized else {}))
        train_spec = TrainSpec(batch_size=self.s.dec_batch, fast=True, eval_every_epoch=False)
        lm = _causal_lm(model)
        if not gc_on and getattr(lm, "is_gradient_checkpointing", False):
            lm.gradient_checkpointing_disable()
        extra: dict[str, Any] = {}
        saved_attention = lm.config._attn_implementation
        if packing:
            import importlib.util

            attention = "flash_attention_2" if importlib.util.find_spec("flash_attn") else "flex_attention"
            lm.set_attn_implementation(attention)
            flash = attention.startswith("flash")
            collator: Any = DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE_INDEX, return_flash_attn_kwargs=flash)
        else:
            collator = AnswerOnlyCollator(0, "right", pad_to_multiple_of=8 if self.cuda else None)
        harness_packs, why = packing_plan(lm, train_spec)
        extra.update(attention=str(lm.config._attn_implementation), harness_packing_plan=why,
                     harness_would_pack=harness_packs, harness_would_use_liger=use_fused_linear_cross_entropy(train_spec))
        config = lm.config
        saved_cache = config.use_cache
        try:
            result = run_steps(model, spec, train_spec, self.decoder_rows(config.vocab_size), collator, self.s,
                               self.work / key, self.item_deadline, label_names=["labels"], remove_unused_columns=False,
                               use_cache=False, use_liger_kernel=liger)
        finally:
            config.use_cache = saved_cache
            if packing:
                lm.set_attn_implementation(saved_attention)
        result.update(extra, seq_max=self.s.dec_seq, seq_min=self.s.dec_min_len, batch=self.s.dec_batch, packing=packing,
                      liger=liger, quantize="4bit" if quantized else "none", lora="r16 all-linear")
        for k in (f"{key}:lora:build_s", f"{key}:qlora:build_s"):
            if k in self.state and ((":qlora" in k) == quantized):
                result["model_build_s"] = self.state[k]
        if quantized and f"{key}:qlora:timings" in self.state:
            result.update(self.state[f"{key}:qlora:timings"])
        return result

    def qlora_model(self, key: str) -> Any:
        """A random full-size model saved to disk, loaded back in NF4 through the harness's
        ``_load_causal_lm`` (``quantization_kwargs``), LoRA by ``apply_lora``."""
        if not self.cuda:
            raise Skip(NO_CUDA)

        def build() -> Any:
            import torch

            from qa_models import training
            from qa_models.adapters.generative import _load_causal_lm

            folder = self.work / f"{key}-random"
            started = time.perf_counter()
            model = build_random(DECODERS[key], "generative", torch.bfloat16, self.s.tiny)
            built = time.perf_counter()
            model.save_pretrained(folder, max_shard_size="5GB")
            saved = time.perf_counter()
            del model
            free_memory()
            spec = self.decoder_spec(key, model_id=str(folder), quantize="4bit", gradient_checkpointing=True)
            torch.cuda.reset_peak_memory_stats()
            loaded = _load_causal_lm(folder, spec)
            weights = torch.cuda.memory_allocated()
            done_load = time.perf_counter()
            shutil.rmtree(folder, ignore_errors=True)
            self.state[f"{key}:qlora:timings"] = {
                "random_build_s": round(built - started, 2), "save_s": round(saved - built, 2),
                "load_4bit_s": round(done_load - saved, 2), "memory_after_4bit_load_gib": _gib(weights),
            }
            return training.apply_lora(loaded, spec, task_type="CAUSAL_LM")

        return self.cached(f"{key}:qlora", build)

    # -- 3. generation ------------------------------------------------------------------

    def generate(self, key: str, batch: str) -> dict[str, Any]:
        from qa_models.adapters.generative import GenerativeAdapter
        from qa_models.config import TrainSpec
        from qa_models.data import load_examples
        from qa_models.training import Stopwatch

        model = self.decoder_lora_model(key)
        lm = model.get_base_model() if hasattr(model, "get_base_model") else model
        if getattr(lm, "is_gradient_checkpointing", False):
            lm.gradient_checkpointing_disable()
        lm.config.use_cache = True
        spec = self.decoder_spec(key, max_seq_length=max(self.s.dec_seq, 384))
        tokenizer, _ = tiny_tokenizer(FAMILY[key][0], spec)
        base = load_examples(REPO / "fixtures" / "squad_v2_tiny_dev.json", split="validation").examples
        examples = []
        for i in range(max(self.s.gen_questions_eval, self.s.gen_questions_batch1)):
            e = base[i % len(base)]
            context = e.context
            while len(context) < (300 if self.s.tiny else 1200):  # SQuAD-length contexts; the original stays a prefix
                context = context + " " + e.context
            examples.append(dataclasses.replace(e, id=f"{e.id}-{i}", context=context))
        eval_batch = TrainSpec().eval_batch_size
        size = 1 if batch == "batch1" else eval_batch
        n = self.s.gen_questions_batch1 if batch == "batch1" else self.s.gen_questions_eval
        adapter = GenerativeAdapter(spec, model, tokenizer)
        adapter.predict(examples[:1], batch_size=1)  # warm-up: kernels, allocator
        with Stopwatch() as clock:
            predictions = adapter.predict(examples[:n], batch_size=size)
        prompt_tokens = [len(tokenizer.apply_chat_template([{"role": "user", "content": e.question + " " + e.context}], tokenize=True))
                         for e in examples[:2]]
        return {
            "questions": n,
            "batch_size": size,
            "harness_eval_batch_size": eval_batch,
            "seconds": round(clock.seconds, 3),
            "questions_per_s": round(n / clock.seconds, 3),
            "max_new_tokens": spec.max_new_tokens,
            "truncated_prompts": predictions.extra.get("truncated_prompts"),
            "approx_prompt_tokens": prompt_tokens,
            "note": "random weights rarely emit the end-of-turn token, so most answers run to max_new_tokens",
        }

    # -- 4. the report's device row -------------------------------------------------------

    def report(self) -> dict[str, Any]:
        run_id = "gpu-check-tiny"
        reports = self.work / "reports"
        env = dict(os.environ, PYTHONUNBUFFERED="1", QABENCH_CACHE_DIR=str(self.work / "cache"))
        timeout = max(30.0, min(300.0, self.remaining()))
        started = time.perf_counter()
        cmd = [sys.executable, "-m", "pytest", "bench/test_squad.py", "-m", "train", "--qa-profile", "tiny",
               "--qa-models", "bert-span", "--qa-run-id", run_id, "--qa-report-dir", str(reports),
               "--qa-cache-dir", str(self.work / "checkpoints"), "-q", "-p", "no:cacheprovider", "--benchmark-disable"]
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        train_s = time.perf_counter() - started
        run_dir = reports / run_id
        if not (run_dir / "results.json").is_file():
            raise RuntimeError(f"no results.json (pytest exit {proc.returncode}): {(proc.stdout + proc.stderr)[-1500:]}")
        rebuild = subprocess.run([sys.executable, "-m", "qa_models.report", str(run_dir)], cwd=REPO, env=env,
                                 capture_output=True, text=True, timeout=120)
        if rebuild.returncode != 0:
            raise RuntimeError(f"qa_models.report exit {rebuild.returncode}: {(rebuild.stdout + rebuild.stderr)[-1500:]}")
        results = json.loads((run_dir / "results.json").read_text())
        text = (run_dir / "report.md").read_text()
        shutil.copyfile(run_dir / "report.md", self.out / "harness_report.md")
        model = results["models"][0]
        device = (model.get("train") or {}).get("device")
        environment = (results.get("run") or {}).get("environment") or {}
        cost = re.search(r"cost: ([^,]+),", text)
        wording = re.findall(r"\b(?:GPU|CPU)-(?:hours|minutes|seconds)\b", text)
        rows = [line.strip() for line in text.splitlines() if device and device in line and line.lstrip().startswith("|")]
        gpu_row = [line.strip() for line in text.splitlines() if line.startswith("| GPU |")]
        return {
            "pytest_exit": proc.returncode,
            "pytest_s": round(train_s, 1),
            "results_train_device": device,
            "results_memory_kind": (model.get("train") or {}).get("memory_kind"),
            "results_gpu_name": environment.get("gpu_name"),
            "answer_cost_phrase": cost.group(1) if cost else None,
            "device_hours_wording": sorted(set(wording)),
            "gpu_hours_wording_present": any(w.startswith("GPU-") for w in wording),
            "report_device_rows": rows[:4],
            "report_environment_gpu_row": gpu_row[:1],
        }

    # -- the list ---------------------------------------------------------------------------

    def items(self) -> list[Item]:
        e = self.estimate
        out = [
            Item("bert/fast", "bert", False, e(20), lambda: self.bert("fast"), "bert-base span, seq 384 batch 16: fast path"),
            Item("bert/plain", "bert", False, e(20), lambda: self.bert("plain"), "plain path, weights as the harness loads them"),
            Item("bert/plain_fp32", "bert", False, e(25), lambda: self.bert("plain_fp32"), "plain path, fp32 weights"),
            Item("report/device_row", "report", False, e(60), self.report, "tiny harness run here; report's device wording"),
        ]
        for key in DECODERS:
            g = f"{key}:bf16"
            out += [
                Item(f"{key}/lora/gc_off", g, False, e(40), lambda k=key: self.decoder_train(k), "LoRA, seq<=512 batch 4"),
                Item(f"{key}/lora/gc_on", g, False, e(20), lambda k=key: self.decoder_train(k, gc_on=True), "LoRA + checkpointing"),
            ]
            if key == "llama3-8b":
                out += [
                    Item(f"{key}/generate/batch1", g, False, e(30), lambda k=key: self.generate(k, "batch1"), "predict, batch 1"),
                    Item(f"{key}/generate/eval_batch", g, False, e(20), lambda k=key: self.generate(k, "eval"), "predict, eval batch"),
                ]
            out += [
                Item(f"{key}/lora/liger", g, True, e(25), lambda k=key: self.decoder_train(k, liger=True), "LoRA + liger FLCE"),
            ]
        for key in DECODERS:
            g = f"{key}:qlora"
            out += [
                Item(f"{key}/qlora/gc_on", g, True, e(120), lambda k=key: self.decoder_train(k, gc_on=True, quantized=True),
                     "QLoRA NF4 + checkpointing (seed profile)"),
                Item(f"{key}/qlora/gc_off", g, True, e(20), lambda k=key: self.decoder_train(k, quantized=True), "QLoRA NF4"),
            ]
        for key in DECODERS:
            out.append(Item(f"{key}/lora/packing", f"{key}:bf16-pack", True, e(90), lambda k=key: self.decoder_train(k, packing=True),
                            "LoRA, padding-free packing (flash/flex attention)"))
        return out

    def run(self) -> dict[str, Any]:
        records = []
        for item in self.items():
            record: dict[str, Any] = {"name": item.name, "what": item.what, "gpu_only": item.gpu_only}
            if self.only and not self.only.search(item.name):
                record.update(status="skipped", reason="skipped: not selected by --only")
            elif item.gpu_only and not self.cuda:
                record.update(status="skipped", reason=NO_CUDA)
            elif self.remaining() < item.estimate_s:
                record.update(status="skipped", reason=SKIPPED_BUDGET,
                              detail=f"{self.remaining():.0f} s left of {self.budget_s:.0f} s, item needs ~{item.estimate_s:.0f} s")
            else:
                if self.group != item.group:
                    self.release()
                    self.group = item.group
                self.item_deadline = time.perf_counter() + min(self.s.item_limit_s, max(5.0, self.remaining()))
                started = time.perf_counter()
                print(f"gpu_check: {item.name} ({self.elapsed():.0f} s in)", file=sys.stderr, flush=True)
                try:
                    record.update(status="ok", result=item.run())
                except Skip as why:
                    record.update(status="skipped", reason=str(why))
                except Exception as error:  # noqa: BLE001 - every failure is a finding
                    record.update(status="failed", error=f"{type(error).__name__}: {error}"[:2000],
                                  traceback=traceback.format_exc()[-3000:])
                    if "out of memory" in str(error).lower():
                        self.release()
                        self.group = None
                record["seconds"] = round(time.perf_counter() - started, 2)
                free_memory()
            records.append(record)
        self.release()
        shutil.rmtree(self.work, ignore_errors=True)
        return {"measurements": records, "elapsed_s": round(self.elapsed(), 1)}


# ---------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown(report: dict[str, Any]) -> str:
    d, v = report["device"], report["versions"]
    lines = [
        f"# GPU check ({'tiny shapes' if report['tiny'] else 'full-size shapes, random weights'})",
        "",
        f"- device: **{d.get('name')}** (cost table: {d.get('cost_table_key')}, bf16 peak "
        f"{_fmt((d.get('bf16_peak_flops') or 0) / 1e12 or None, 0)} TFLOP/s), commit `{report['commit']}`",
        "- versions: " + ", ".join(f"{k} {v[k] or 'missing'}" for k in v),
        f"- budget {report['budget_s']:.0f} s, elapsed {report['elapsed_s']:.0f} s; started {report['started']}",
        "",
    ]
    rows = []
    for m in report["measurements"]:
        r = m.get("result") or {}
        notes = m.get("reason") or (m.get("error") or "")[:160]
        if r:
            bits = []
            if "weights_dtype" in r:
                bits.append(f"{r['weights_dtype']}, bf16 autocast {r['bf16_autocast']}, {r['optimizer']}")
            if "attention" in r:
                bits.append(f"attn {r['attention']}")
            if r.get("loss_finite") is False:
                bits.append("NON-FINITE LOSS")
            if r.get("stopped_early_at_item_deadline"):
                bits.append("stopped at item deadline")
            if "answer_cost_phrase" in r:
                bits.append(f"cost phrase '{r['answer_cost_phrase']}'; GPU-hours wording present: {r['gpu_hours_wording_present']}")
            if "batch_size" in r and "questions_per_s" in r:
                bits.append(f"batch {r['batch_size']}, {r['questions']} questions")
            notes = "; ".join(bits)
        mfu = r.get("mfu")
        rows.append([
            m["name"], m["status"], _fmt(r.get("tokens_per_s"), 0),
            _fmt(None if mfu is None else 100 * mfu) + ("%" if mfu is not None else ""),
            _fmt(r.get("peak_memory_gib"), 2), _fmt(r.get("questions_per_s"), 2), notes,
        ])
    numbers = ["tokens/s", "MFU", "peak GiB", "q/s"]
    table = markdown_table(["measurement", "status", *numbers, "notes"], rows, right_aligned=numbers)
    return "\n".join(lines) + "\n" + table + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="folder for gpu_check.json and gpu_check.md")
    parser.add_argument("--budget-s", type=float, default=450.0, help="stop starting items after this many seconds (default 450)")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes (2 layers, hidden 64): runs on a CPU in seconds")
    parser.add_argument("--only", default=None, help="run only measurements whose name matches this regex (others: skipped)")
    parser.add_argument("--work-dir", default=None, help="scratch folder for saved random models (default: the system temp dir)")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    found, source = commit()
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "tool": "bench/gpu_check.py",
        "started": started,
        "tiny": args.tiny,
        "budget_s": args.budget_s,
        "commit": found,
        "commit_source": source,
        "versions": versions(),
        "platform": platform.platform(),
    }
    try:
        report["device"] = device_info()
    except Exception as error:  # noqa: BLE001
        report["device"] = {"name": None, "error": f"{type(error).__name__}: {error}"}
    check = GpuCheck(out, args.budget_s, args.tiny, args.only, args.work_dir)
    report["settings"] = dataclasses.asdict(check.s)
    report.update(check.run())
    counts: dict[str, int] = {}
    for m in report["measurements"]:
        counts[m["status"]] = counts.get(m["status"], 0) + 1
    report["summary"] = counts
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "gpu_check.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
