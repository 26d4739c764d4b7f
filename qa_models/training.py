"""What every adapter's training shares: Trainer arguments, per-epoch validation,
loss history, throughput, memory and parameter counts.

The loop itself is the transformers ``Trainer`` (and through it ``accelerate``, so the
same code runs under ``torchrun`` or ``accelerate launch``); this module only configures it
and measures what it did.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import torch
from transformers import TrainerCallback, TrainingArguments

from .adapters.base import TrainResult
from .config import ConfigError, ModelSpec, TrainSpec
from .device import detect, has_cuda
from .files import atomic_write_text
from .formatting import is_number


def use_bf16(spec: ModelSpec, train_spec: TrainSpec) -> bool:
    """bf16 mixed precision only on a GPU that supports it, and only on the fast path."""
    if spec.dtype == "float32":
        return False
    return train_spec.fast and has_cuda() and torch.cuda.is_bf16_supported()


def torch_dtype(spec: ModelSpec) -> torch.dtype:
    """Weights dtype for loading. "auto" keeps fp32 on CPU, where bf16 matmuls are slow."""
    if spec.dtype == "auto":
        return torch.bfloat16 if has_cuda() and torch.cuda.is_bf16_supported() else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[spec.dtype]


REPORT_TO = ("tensorboard", "wandb", "none")
"""Where the Trainer's ``report_to`` sends training logs (``--qa-report-to`` / ``--report-to``)."""

def default_report_to() -> str:
    """"tensorboard" when the tensorboard package is importable, else "none"."""
    return "tensorboard" if importlib.util.find_spec("tensorboard") is not None else "none"


def check_report_to(report_to: str) -> str:
    """``report_to`` itself when it can work here; else a ConfigError naming the choices or the
    install command (checked before any model loads, not when the Trainer starts)."""
    if report_to not in REPORT_TO:
        raise ConfigError(f"report_to must be one of {', '.join(repr(c) for c in REPORT_TO)}, got {report_to!r}")
    package = None if report_to == "none" else report_to  # each logger's package has its own name
    if package and importlib.util.find_spec(package) is None:
        raise ConfigError(
            f"report_to {report_to!r} needs the {package} package, which is not installed: pip install {package} "
            f"(or choose {' or '.join(repr(c) for c in REPORT_TO if c != report_to)})"
        )
    return report_to


def training_arguments(
    spec: ModelSpec,
    train_spec: TrainSpec,
    output_dir: str | Path,
    *,
    has_validation_loss: bool,
    report_to: str = "none",
    **overrides: Any,
) -> TrainingArguments:
    """TrainingArguments for one fine-tune.

    Checkpoints are saved every epoch (so a killed run resumes with
    ``resume_from_checkpoint``); only the last two are kept to bound disk use.
    ``report_to`` (one of ``REPORT_TO``) goes to the Trainer as is; the TensorBoard folder is
    not an argument in transformers 5 (``logging_dir`` is gone), ``run_trainer`` sets it.
    """
    on_gpu = has_cuda()
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        num_train_epochs=train_spec.epochs,
        learning_rate=train_spec.learning_rate,
        per_device_train_batch_size=train_spec.batch_size,
        per_device_eval_batch_size=train_spec.eval_batch_size,
        gradient_accumulation_steps=train_spec.gradient_accumulation_steps,
        weight_decay=train_spec.weight_decay,
        warmup_steps=train_spec.warmup_ratio,  # a float in [0, 1) is a ratio in transformers 5
        logging_steps=train_spec.logging_steps,
        logging_first_step=True,
        eval_strategy="epoch" if (train_spec.eval_every_epoch and has_validation_loss) else "no",
        # The Trainer's evaluation only has to give the validation loss (EM/F1 come from the
        # adapter's own predict). Otherwise its loop keeps every batch's logits until the end:
        # for a causal LM that is [questions, tokens, vocabulary] floats, 300 prompts x 256 x
        # 49,152 x 4 bytes = 15 GB for SmolLM2, inside trainer.train().
        prediction_loss_only=True,
        save_strategy="epoch",
        save_total_limit=2,
        seed=train_spec.seed,
        data_seed=train_spec.seed,
        report_to=check_report_to(report_to),
        run_name=spec.name,  # the run's name in W&B
        bf16=use_bf16(spec, train_spec),
        # Fused AdamW runs on CUDA; on CPU the plain implementation is the one that exists.
        optim="adamw_torch_fused" if (on_gpu and train_spec.fast) else "adamw_torch",
        train_sampling_strategy="group_by_length" if train_spec.fast else "random",
        gradient_checkpointing=spec.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if spec.gradient_checkpointing else None,
        use_cpu=not on_gpu,
        disable_tqdm=not sys.stderr.isatty() and os.environ.get("QABENCH_PROGRESS") != "1",
        dataloader_num_workers=0,
        save_only_model=False,
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


class EpochValidation(TrainerCallback):
    """After every evaluation (once per epoch), score EM/F1 on validation and keep it.

    The Trainer computes the validation *loss*; EM/F1 need the full post-processing, so
    this callback calls the adapter's own ``predict`` and the runner's scorer.
    """

    def __init__(self, predict_and_score: Callable[[], dict[str, float]], output_dir: str | Path) -> None:
        self.predict_and_score = predict_and_score
        self.log: Callable[[dict[str, float]], None] | None = None
        """``trainer.log`` (set by ``run_trainer``): sends each epoch's scores, as eval_exact and
        eval_f1, to the Trainer's ``report_to`` (TensorBoard tags eval/exact, eval/f1)."""
        # Kept on disk beside the Trainer's checkpoints so a resumed run keeps earlier epochs.
        self.path = Path(output_dir) / "epoch_validation.json"
        self.records: list[dict[str, Any]] = json.loads(self.path.read_text()) if self.path.is_file() else []

    def _score(self, state: Any, eval_loss: float | None, model: Any) -> None:
        was_training = model.training if model is not None else False
        scores = self.predict_and_score()
        if was_training:
            model.train()
        epoch = round(float(state.epoch or 0.0), 4)
        self.records = [r for r in self.records if r["epoch"] < epoch] + [{"epoch": epoch, "eval_loss": eval_loss, **scores}]
        # Read back on resume: a run killed mid-write must not leave a torn file.
        atomic_write_text(self.path, json.dumps(self.records))
        if self.log is not None:
            numbers = {f"eval_{k}": float(v) for k, v in scores.items() if is_number(v)}
            if numbers:
                self.log(numbers)

    def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):  # noqa: D102
        self._score(state, (metrics or {}).get("eval_loss"), model)

    def on_epoch_end(self, args, state, control, model=None, **kwargs):  # noqa: D102
        # With no labelled validation set the Trainer never evaluates; score here instead.
        if args.eval_strategy == "no" or str(args.eval_strategy) == "IntervalStrategy.NO":
            self._score(state, None, model)


def loss_history(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Training-loss points from ``trainer.state.log_history``."""
    return [
        {"step": int(entry["step"]), "epoch": float(entry.get("epoch", 0.0)), "loss": float(entry["loss"])}
        for entry in log_history
        if "loss" in entry
    ]


class PeakRSS:
    """The highest resident set size of this process while a block runs, sampled by a thread.

    ``ru_maxrss`` is the process's lifetime high-water mark and cannot be reset, so in a
    pytest session it also holds whatever ran before the training (data loading, another
    model's run). Sampling every ``interval_s`` seconds measures the block alone; a spike
    shorter than the interval can be missed, which is why the interval is short.
    ``start_bytes`` is the RSS when the block began (the model and data already loaded).
    """

    def __init__(self, interval_s: float = 0.02) -> None:
        import psutil

        self._process = psutil.Process()
        self.interval_s = interval_s
        self.start_bytes = 0
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)

    def __enter__(self) -> PeakRSS:
        self.start_bytes = self.peak_bytes = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, name="qabench-peak-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._process.memory_info().rss)


def reset_peak_memory() -> None:
    """Start a fresh peak-memory measurement (CUDA only; on a CPU ``PeakRSS`` samples instead)."""
    if has_cuda():
        torch.cuda.reset_peak_memory_stats()


def peak_memory(sampled: PeakRSS) -> tuple[int, str]:
    """Peak memory in bytes and what was measured: the CUDA allocator's peak, else the RSS peak
    ``sampled`` during training (``cpu_rss_train``). Results written before the sampler say
    ``cpu_rss``, the process's lifetime high-water mark; nothing measures that any more."""
    if has_cuda():
        return int(torch.cuda.max_memory_allocated()), "cuda"
    return int(sampled.peak_bytes), "cpu_rss_train"


class Stopwatch:
    """Wall time of a block, synchronising CUDA so queued kernels are counted."""

    def __enter__(self) -> Stopwatch:
        if has_cuda():
            torch.cuda.synchronize()
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        if has_cuda():
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self.start


def run_trainer(
    trainer: Any,
    *,
    n_examples: int,
    n_tokens: int,
    epochs: float,
    validation: EpochValidation | None,
    resume: bool = True,
    log_dir: str | Path | None = None,
) -> TrainResult:
    """Train (resuming from the newest complete checkpoint in the output folder if there is
    one) and return what was measured.

    ``log_dir``: the folder of the TensorBoard event files when ``args.report_to`` has
    tensorboard (transformers 5 reads it from the callback, not from the arguments); the
    per-epoch EM/F1 of ``validation`` are logged through ``trainer.log`` beside the loss.

    The Trainer writes a checkpoint file by file into ``checkpoint-N`` and its
    ``trainer_state.json`` last, so a run killed while saving leaves a folder without it,
    which ``trainer.train`` cannot resume from. Such folders are skipped and removed.
    """
    if validation is not None:
        validation.log = trainer.log
    if log_dir is not None:
        _set_tensorboard_dir(trainer, Path(log_dir))
    last = _latest_complete_checkpoint(Path(trainer.args.output_dir)) if resume else None
    if last is not None:
        print(f"qabench: resuming training from {last}", file=sys.stderr)
    reset_peak_memory()
    with PeakRSS() as rss, Stopwatch() as clock:
        trainer.train(resume_from_checkpoint=last)
    # Under torchrun/accelerate every rank writes into the output folder (its RNG state in
    # each checkpoint); the caller deletes that folder once the model is saved, so no rank
    # may return before all are done with it. A no-op in a single process.
    trainer.accelerator.wait_for_everyone()
    memory, kind = peak_memory(rss)
    trained_on = detect()
    return TrainResult(
        history={
            "loss": loss_history(trainer.state.log_history),
            "eval": list(validation.records) if validation else [],
        },
        epochs=epochs,
        wall_time_s=clock.seconds,
        examples_per_s=n_examples * epochs / clock.seconds,
        tokens_per_s=n_tokens * epochs / clock.seconds,
        peak_memory_bytes=memory,
        memory_kind=kind,
        device=trained_on.name,
        device_kind=trained_on.kind,
    )


def _latest_complete_checkpoint(output_dir: Path) -> str | None:
    """The newest ``checkpoint-N`` folder of ``output_dir`` that has its ``trainer_state.json``
    (None when there is none); newer folders without one are removed on the way."""
    import shutil

    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

    if not output_dir.is_dir():
        return None
    steps = {}
    for folder in output_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*"):
        if folder.is_dir() and folder.name.split("-")[-1].isdigit():
            steps[folder] = int(folder.name.split("-")[-1])
    for folder in sorted(steps, key=steps.get, reverse=True):
        try:
            json.loads((folder / "trainer_state.json").read_text())
        except (OSError, ValueError):
            shutil.rmtree(folder, ignore_errors=True)  # half-written when the run was killed
            continue
        return str(folder)
    return None


def _set_tensorboard_dir(trainer: Any, log_dir: Path) -> None:
    """Point the Trainer's TensorBoardCallback at ``log_dir``. In transformers 5 the callback
    takes its folder from TENSORBOARD_LOGGING_DIR when it is built, else
    ``<output_dir>/runs/<time>``; it opens the writer at train begin, so setting it here works."""
    from transformers.integrations import TensorBoardCallback

    for callback in trainer.callback_handler.callbacks:
        if isinstance(callback, TensorBoardCallback):
            callback.logging_dir = str(log_dir)


ATTENTION_DROPOUT_KEYS = ("attention_probs_dropout_prob", "attention_dropout")
"""What model configs call the attention-probability dropout: BERT's name, then Llama's and Qwen2's."""


def set_attention_dropout(config: Any, spec: ModelSpec) -> Any:
    """``config`` with ``spec.attention_dropout`` applied (unchanged when it is None). A config
    that has no such setting is an error rather than a silent no-op, so the row never claims a
    recipe it did not run."""
    if spec.attention_dropout is None:
        return config
    keys = [key for key in ATTENTION_DROPOUT_KEYS if hasattr(config, key)]
    if not keys:
        raise ConfigError(
            f"model {spec.name}: its config ({type(config).__name__}) has none of {list(ATTENTION_DROPOUT_KEYS)}; "
            "remove attention_dropout from the row"
        )
    for key in keys:
        setattr(config, key, spec.attention_dropout)
    return config


def quantization_kwargs(spec: ModelSpec) -> dict[str, Any]:
    """``from_pretrained`` kwargs for the spec's quantisation: NF4 + double quantisation (QLoRA)."""
    if spec.quantize != "4bit":
        return {}
    if not has_cuda():
        raise RuntimeError(
            f"model {spec.name}: quantize='4bit' (QLoRA) needs a CUDA GPU and bitsandbytes; "
            "this machine has no GPU. Use --qa-quantize none, or run on a GPU."
        )
    from transformers import BitsAndBytesConfig

    return {
        "quantization_config": BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        ),
        "device_map": {"": torch.cuda.current_device()},
    }


def apply_lora(model: Any, spec: ModelSpec, task_type: str, modules_to_save: list[str] | None = None) -> Any:
    """Wrap ``model`` with LoRA adapters (peft) per ``spec.lora``; a no-op without LoRA.

    A 4-bit base is first prepared for k-bit training (norms in fp32, input grads on),
    as QLoRA requires. Modules in ``modules_to_save`` are trained in full and excluded
    from LoRA (a QA head gets no low-rank copy of itself).
    """
    if spec.lora is None:
        return model
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if spec.quantize == "4bit":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=spec.gradient_checkpointing)
    config = LoraConfig(
        task_type=task_type,
        r=spec.lora.r,
        lora_alpha=spec.lora.alpha,
        lora_dropout=spec.lora.dropout,
        target_modules=list(spec.lora.target_modules) if not isinstance(spec.lora.target_modules, str) else spec.lora.target_modules,
        modules_to_save=modules_to_save,
        exclude_modules=modules_to_save,
    )
    return get_peft_model(model, config)
