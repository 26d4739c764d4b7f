"""The one interface every model adapter implements.

An adapter owns a model and its tokenizer and knows one *method* of extractive QA
("span" or "generative"). The bench suites and the runner talk only to this interface, so
BERT, Llama 3 and Qwen rows go through the same code from records to report.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

from ..config import ModelSpec, TrainSpec, model_spec_from_dict, to_dict
from ..data import Example

CONFIG_FILE = "qabench.json"
"""Written beside the weights of every saved checkpoint: the ModelSpec and the adapter's method."""


@dataclass(frozen=True)
class ParameterCounts:
    """Parameters of a model as built (4-bit packed weights counted as their unpacked numbers)."""

    total: int
    trainable: int


def count_parameters(model: Any) -> ParameterCounts:
    """Total and trainable parameters of a torch module; 4-bit packed weights count as their
    unpacked size.

    bitsandbytes stores two 4-bit values per uint8 element, so ``numel`` halves them. Kept
    beside ParameterCounts, not in training.py, so this interface never imports the
    training machinery (training imports this module, never the other way round).
    """
    total = trainable = 0
    for parameter in model.parameters():
        n = parameter.numel()
        if parameter.__class__.__name__ == "Params4bit":
            n *= 2
        total += n
        if parameter.requires_grad:
            trainable += n
    return ParameterCounts(total=total, trainable=trainable)


@dataclass
class Predictions:
    """What a model says about a batch of questions, before the no-answer threshold.

    ``answers[id]`` is the model's best non-empty answer, always a verbatim span of the
    context, or "" when the model can offer none. ``na_probs[id]`` is its probability (or
    any score monotone in it) that the question has no answer; a threshold tuned on
    validation turns the pair into the final answer (``metrics.apply_na_threshold``).
    """

    answers: dict[str, str]
    na_probs: dict[str, float]
    scores: dict[str, float] = field(default_factory=dict)
    """Score of the chosen answer (span: start+end logit; generative: mean token log-prob)."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Method-specific counts for the report, e.g. {"snapped_answers": 3}."""


@dataclass
class TrainResult:
    """What training measured: loss curves, wall time, throughput and memory."""

    history: dict[str, list[dict[str, Any]]]
    """{"loss": [{"step", "epoch", "loss"}], "eval": [{"epoch", "eval_loss", "exact", "f1"}]}"""
    epochs: float
    wall_time_s: float
    examples_per_s: float
    """Training windows (span) or prompts (generative) per second, all epochs."""
    tokens_per_s: float
    """Real (non-padding) tokens per second."""
    peak_memory_bytes: int
    memory_kind: str
    """"cuda" (torch.cuda.max_memory_allocated), "cpu_rss_train" (peak resident set size sampled
    while the Trainer trained) or "cpu_rss" (the process's lifetime peak)."""
    device: str
    """Display name of the training device, e.g. "NVIDIA H100 80GB HBM3" or "cpu (2 cores)"."""
    device_kind: str | None = None
    """"cuda", "mps" or "cpu", recorded as data so no reader parses the display name (None in
    train_result.json files written before it existed)."""


ValidationScorer = Callable[[Predictions], dict[str, float]]
"""Turns validation predictions into {"exact", "f1", ...}; the runner provides it."""


class QAAdapter(ABC):
    """Fine-tune, save, load and predict with one model for extractive QA."""

    method: ClassVar[str]

    def __init__(self, spec: ModelSpec, model: Any, tokenizer: Any) -> None:
        self.spec = spec
        self.model = model
        self.tokenizer = tokenizer

    @classmethod
    @abstractmethod
    def from_pretrained(cls, spec: ModelSpec) -> QAAdapter:
        """Load the base model named by ``spec.model_id`` (hub id or folder) ready to fine-tune."""

    @abstractmethod
    def train(
        self,
        train: Sequence[Example],
        validation: Sequence[Example],
        train_spec: TrainSpec,
        output_dir: str | Path,
        score_validation: ValidationScorer | None = None,
        *,
        report_to: str = "none",
        log_dir: str | Path | None = None,
    ) -> TrainResult:
        """Fine-tune with the transformers Trainer; score validation after every epoch.

        ``report_to`` ("tensorboard", "wandb" or "none") is the Trainer's; TensorBoard event
        files go to ``log_dir`` (the loss every logging step, validation EM/F1 every epoch)."""

    @abstractmethod
    def predict(self, examples: Sequence[Example], batch_size: int = 64) -> Predictions:
        """Answer every example; answers are cut from the original context."""

    @abstractmethod
    def _save_weights(self, directory: Path) -> None:
        """Write the weights (or the LoRA adapter) and the tokenizer."""

    @classmethod
    @abstractmethod
    def _load_weights(cls, spec: ModelSpec, directory: Path) -> QAAdapter:
        """Inverse of ``_save_weights``."""

    def save(self, directory: str | Path) -> Path:
        """Save weights, tokenizer and the harness config; ``load_adapter`` reads them back."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_weights(directory)
        payload = {"method": self.method, "spec": to_dict(self.spec)}
        (directory / CONFIG_FILE).write_text(json.dumps(payload, indent=2))
        return directory

    def parameter_counts(self) -> ParameterCounts:
        """Total and trainable parameters of the model as it is now."""
        return count_parameters(self.model)


def read_saved_spec(directory: str | Path) -> tuple[str, ModelSpec]:
    """The method and ModelSpec a checkpoint was saved with."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory} is not a qabench checkpoint: {CONFIG_FILE} is missing. "
            "Pass a folder written by a bench run (reports/<run>/checkpoints/<model>) or by adapter.save()."
        )
    payload = json.loads(path.read_text())
    return payload["method"], model_spec_from_dict(payload["spec"])
