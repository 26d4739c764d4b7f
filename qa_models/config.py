"""Typed configuration for every choice a reader might wonder about.

Three dataclasses describe a run: ``ModelSpec`` (which model, which method, and every
per-model behaviour that must be set explicitly rather than inferred), ``DataSpec`` (which
files or hub ids) and ``TrainSpec`` (hyper-parameters). A ``Profile`` bundles them under a
name. Defaults follow the founding experiment; YAML files and pytest options only
override fields, and ``__post_init__`` rejects values that cannot work before any model
is loaded.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .families import FAMILIES
from .tracks import DEFAULT_TRACK, TRACKS

Method = Literal["span", "generative"]
Family = Literal[tuple(FAMILIES)]  # type: ignore[valid-type]  # the family table's names, so dacite checks them
LossMask = Literal["answer", "prompt_and_answer"]
TrackName = Literal[tuple(TRACKS)]  # type: ignore[valid-type]  # the registry's names, so dacite checks them

DEFAULT_NO_ANSWER_TEXT = "unanswerable"
"""What a generative model answers when the context does not hold the answer (default).

One lower-case English word, chosen because (1) it is SQuAD v2's own name for such questions,
so an instruct model understands it zero-shot; (2) it is never an answer span in SQuAD and
rare inside contexts; (3) it has no brackets or punctuation that tokenisers split
unpredictably. ``ModelSpec.no_answer_text`` overrides it per row (issue 11 tried others)."""

DEFAULT_SYSTEM_PROMPT = (
    "Answer the question with a short span copied verbatim from the context. If the context "
    "does not contain the answer, reply exactly: {no_answer}"
)
"""Task instructions sent as the system message of every generative prompt (default); the
``{no_answer}`` placeholder becomes ``ModelSpec.no_answer_text``. Kept short: it is repeated
in every training sequence and every prompt."""


class ConfigError(ValueError):
    """A configuration value that cannot work; the message names the field and the fix."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass(frozen=True)
class LoraSpec:
    """LoRA settings (peft). Defaults: r 16, alpha 32, dropout 0.05 on every linear projection."""

    r: int = 16
    """Rank of the low-rank update matrices."""
    alpha: int = 32
    """Scaling numerator: the update is multiplied by alpha / r."""
    dropout: float = 0.05
    """Dropout on the LoRA input."""
    target_modules: tuple[str, ...] | str = "all-linear"
    """Modules that get adapters; peft's "all-linear" means every linear layer except the output head."""

    def __post_init__(self) -> None:
        _require(self.r > 0, f"lora.r must be positive, got {self.r}")
        _require(self.alpha > 0, f"lora.alpha must be positive, got {self.alpha}")
        _require(0.0 <= self.dropout < 1.0, f"lora.dropout must be in [0, 1), got {self.dropout}")


def _check_system_prompt(model: str, system_prompt: str) -> None:
    """A system prompt must name the no-answer reply through ``{no_answer}`` and hold no other
    placeholder (``str.format`` would fail on it at the first prompt, long after loading)."""
    _require(
        "{no_answer}" in system_prompt,
        f"model {model}: system_prompt must contain the placeholder {{no_answer}} so the model is told "
        f"what to reply when the context lacks the answer; got {system_prompt!r}",
    )
    try:
        system_prompt.format(no_answer="")
    except (KeyError, IndexError, ValueError) as error:
        raise ConfigError(
            f"model {model}: system_prompt has a placeholder other than {{no_answer}} ({error!r}); "
            "write literal braces as {{ and }}"
        ) from None


@dataclass(frozen=True)
class ModelSpec:
    """One row of the comparison: a model, how it is fine-tuned, and how it reads its input."""

    name: str
    """Row name in reports and cache keys, e.g. "bert-span" or "llama3-generative"."""
    model_id: str
    """Hugging Face hub id (e.g. "bert-base-uncased") or a local folder saved with save_pretrained."""
    method: Method = "span"
    """"span": a start/end head over token positions (AutoModelForQuestionAnswering).
    "generative": a causal LM writes the answer after a chat prompt."""
    family: Family = "bert"
    """Model family, a name in ``qa_models.families.FAMILIES``: labels reports; profiles read the
    family's facts (end-of-turn token, hub id, shapes) from its entry there."""
    question_first: bool = True
    """Span models: True encodes "question, context" (BERT's pre-training order); the context is
    always the side that is truncated and windowed."""
    padding_side: Literal["right", "left"] = "right"
    """Which side padding goes on. Span models pad right so token positions of one window do not
    shift; generative prediction always pads left so every row ends where generation starts."""
    no_answer_position: Literal["first", "last"] = "first"
    """Span models: the token whose start/end logits score "no answer". "first" is BERT's [CLS].
    Decoders have no [CLS], and under causal attention the first token sees nothing of the
    question or context, so they use "last": the last real token of each window, which sees all."""
    zero_shot: bool = False
    """Generative only: score the untuned instruct model (same prompt and decoding) as a baseline."""
    lora: LoraSpec | None = None
    """LoRA settings, or None for full fine-tuning."""
    quantize: Literal["none", "4bit"] = "none"
    """"4bit" loads the frozen base in NF4 with double quantisation (QLoRA; needs bitsandbytes and CUDA)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Weights dtype; "auto" is bfloat16 on GPUs that support it, else float32."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass: slower, but needed for 8B models on 24 GB. On a
    CPU it took all-MiniLM-L6-v2's training peak at batch 32 x 384 from 3.64 to 2.53 GiB RSS, but
    cost 22% more time on real training; two micro-batches of 16 (``TrainSpec.gradient_accumulation_steps``)
    used less memory and ran faster there (2026-12-07, ``docs/BENCHMARKS.md``, "Training memory")."""
    attention_dropout: float | None = None
    """Dropout on the attention probabilities during training; None keeps the checkpoint's
    (BERT's 0.1; Llama and Qwen ship 0.0). 0.0 lets PyTorch's fused scaled-dot-product
    attention run on a CPU, which falls back to materialising every [batch, heads, seq, seq]
    attention matrix, and its dropout mask, whenever dropout is on: training all-MiniLM-L6-v2 at
    batch 32 x 384 tokens peaked at 7.56 GiB RSS with 0.1 and 3.59 GiB with 0.0 (2026-12-07,
    2-core CPU; ``docs/BENCHMARKS.md``, "Training memory")."""
    answerability_head: bool = False
    """Span models: train, jointly with the start/end head, a linear classifier on the hidden state
    at the null position that says whether a window lacks the answer (Retro-Reader's internal
    front verifier, Zhang et al. 2021; ``qa_models.verifier``). Its logit joins the span head's
    null-minus-best-span score in the no-answer decision (``verifier_weight``)."""
    verifier_weight: float = 0.5
    """Span models with an answerability head: the no-answer score is ``(1 - w) * (null - best
    span) + w * verifier logit``; 0.5 is Retro-Reader's. 0 ignores the head, 1 uses it alone."""
    max_seq_length: int = 384
    """Span models: tokens per window. Generative models: prompt tokens kept (context truncated)."""
    doc_stride: int = 128
    """Span models: tokens of overlap between consecutive windows of a long context."""
    n_best_size: int = 20
    """Span post-processing: top start and end logits considered per window."""
    max_answer_length: int = 30
    """Span post-processing: longest answer, in tokens."""
    max_new_tokens: int = 32
    """Generative decoding: answers are at most about 30 words."""
    end_of_turn_token: str | None = None
    """Generative: the token that closes the assistant turn ("<|eot_id|>" for Llama 3,
    "<|im_end|>" for Qwen ChatML). Decoding stops on it and training supervises it."""
    no_answer_text: str = DEFAULT_NO_ANSWER_TEXT
    """Generative: the exact reply that means "the context does not hold the answer". Training
    targets use it, a reply equal to it (case, quotes and a final full stop ignored) becomes "",
    and ``na_prob`` is the probability of its first token at the first generated position."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """Generative: the system message of every prompt; ``{no_answer}`` is replaced by
    ``no_answer_text`` and must appear, so the model is told what to write."""
    loss_mask: LossMask = "answer"
    """Generative training: which tokens the loss covers. "answer": only the reply and the
    end-of-turn token (prompt labels -100, the usual instruction-tuning choice). "prompt_and_answer":
    every token, so the model also learns to model the prompt (the classic ablation)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "model_id", str(self.model_id))  # a Path is welcome; store text
        _require(bool(self.name) and "/" not in self.name, f"model name must be non-empty without '/', got {self.name!r}")
        _require(bool(self.model_id), f"model {self.name}: model_id is empty; give a hub id or a local folder")
        _require(self.method in ("span", "generative"), f"model {self.name}: method must be 'span' or 'generative', got {self.method!r}")
        _require(self.quantize in ("none", "4bit"), f"model {self.name}: quantize must be 'none' or '4bit', got {self.quantize!r}")
        _require(
            self.quantize == "none" or self.lora is not None or self.zero_shot,
            f"model {self.name}: a 4-bit base cannot be fully fine-tuned; add LoRA settings (QLoRA)",
        )
        _require(not self.zero_shot or self.method == "generative", f"model {self.name}: zero_shot applies to generative models only")
        _require(self.max_seq_length >= 32, f"model {self.name}: max_seq_length {self.max_seq_length} is too short")
        _require(
            0 <= self.doc_stride < self.max_seq_length,
            f"model {self.name}: doc_stride ({self.doc_stride}) must be smaller than max_seq_length ({self.max_seq_length})",
        )
        _require(
            self.attention_dropout is None or 0.0 <= self.attention_dropout < 1.0,
            f"model {self.name}: attention_dropout must be in [0, 1) or None (keep the checkpoint's), got {self.attention_dropout}",
        )
        _require(
            not self.answerability_head or self.method == "span",
            f"model {self.name}: answerability_head applies to span models only (a generative row abstains "
            f"by replying {self.no_answer_text!r})",
        )
        _require(0.0 <= self.verifier_weight <= 1.0, f"model {self.name}: verifier_weight must be in [0, 1], got {self.verifier_weight}")
        _require(self.n_best_size > 0 and self.max_answer_length > 0, f"model {self.name}: n_best_size and max_answer_length must be positive")
        _require(
            self.method != "generative" or self.end_of_turn_token,
            f"model {self.name}: generative models need end_of_turn_token (e.g. '<|eot_id|>' or '<|im_end|>')",
        )
        _require(
            bool(self.no_answer_text) and self.no_answer_text == self.no_answer_text.strip(),
            f"model {self.name}: no_answer_text must be non-empty without surrounding spaces, got {self.no_answer_text!r}",
        )
        _require(self.loss_mask in ("answer", "prompt_and_answer"), f"model {self.name}: loss_mask must be 'answer' or 'prompt_and_answer', got {self.loss_mask!r}")
        _check_system_prompt(self.name, self.system_prompt)


@dataclass(frozen=True)
class DataSpec:
    """Where the data comes from. Paths are official-format SQuAD JSON (.json, .gz, .zip) or hub ids."""

    train: str
    """Training data: a file or a hub id such as "rajpurkar/squad_v2" (its "train" split)."""
    test: str
    """Test data, scored once at the end (the official dev set, or a file of it)."""
    validation: str | None = None
    """Validation data (per-epoch scores and no-answer threshold tuning). None splits it from
    train by article, so no article is on both sides."""
    validation_fraction: float = 0.1
    """Share of training articles held out for validation when ``validation`` is None."""
    track: TrackName = DEFAULT_TRACK
    """Which benchmark and metric: SQuAD v2.0 (English, unanswerable questions) or CMRC 2018 (Chinese)."""
    max_train_samples: int | None = None
    """Keep N training questions, a seeded random sample in file order (quick runs); None keeps all."""
    max_eval_samples: int | None = None
    """Keep N validation and N test questions, seeded random samples; None keeps all."""
    train_unanswerable_share: float | None = None
    """Share of unanswerable questions in the ``max_train_samples`` training sample, drawn
    stratified (seeded) instead of at random; None keeps the file's share. The shared train
    slice is 7% unanswerable (all in two articles) against 51% in dev, so a plain sample
    teaches a model almost nothing about abstaining; full SQuAD v2 train is 33%. Set it
    from what you know of the task, never from test scores."""
    train_balance_articles: bool = False
    """Train only on articles with both kinds of question, each cut to as many answerable as
    unanswerable questions (seeded; before ``max_train_samples``), so the article's topic cannot
    predict whether a question has an answer (``data.split.balance_answer_kinds_by_article``).
    With ``train_unanswerable_share`` as well, the stratified sample is drawn from what is kept."""
    skip_bad_records: bool = False
    """Skip records that fail validation (counted by reason in the report) instead of stopping."""
    repair_offsets: bool = False
    """Move an answer_start that misses its text to the nearest occurrence of the text."""
    drop_answers_not_in_context: bool = False
    """Drop only an answer whose text is nowhere in its context, keeping its question when it
    has another valid answer (multi-answer test sets such as CMRC dev); each dropped answer is
    counted in the report. Off: such a question is an error (or skipped whole)."""
    probes: str | None = None
    """Probe questions file (the founding experiment's eight); None uses fixtures/probes.json."""
    cross_lingual_test: str | None = None
    """Test questions of another track (a file or hub id) that every checkpoint trained here is
    also scored on, with that track's metric: the ``cross_lingual`` section of results.json
    (offsets repaired, bad records skipped and counted, ``max_eval_samples`` as for test).
    None: no cross-lingual score. Part of the data, so a profile built from config files gets
    the same score as the named profile."""
    cross_lingual_track: TrackName | None = None
    """The track of ``cross_lingual_test``, whose metric scores it; given with it."""

    def __post_init__(self) -> None:
        _require(0.0 < self.validation_fraction < 1.0, f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        _require(self.track in TRACKS, f"track must be one of {' or '.join(map(repr, TRACKS))}, got {self.track!r}")
        _require((self.cross_lingual_test is None) == (self.cross_lingual_track is None),
                 "cross_lingual_test and cross_lingual_track are given together (the track's metric scores the file)")
        _require(self.cross_lingual_track is None or self.cross_lingual_track in TRACKS,
                 f"cross_lingual_track must be one of {' or '.join(map(repr, TRACKS))}, got {self.cross_lingual_track!r}")
        _require(self.cross_lingual_track != self.track,
                 f"cross_lingual_track {self.cross_lingual_track!r} is the run's own track; its test set is already scored")
        for name in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            _require(value is None or value > 0, f"{name} must be positive or None, got {value}")
        share = self.train_unanswerable_share
        _require(share is None or 0.0 < share < 1.0, f"train_unanswerable_share must be in (0, 1) or None, got {share}")
        _require(share is None or self.max_train_samples is not None,
                 "train_unanswerable_share needs max_train_samples: it sets the make-up of that sample")


@dataclass(frozen=True)
class TrainSpec:
    """Hyper-parameters of fine-tuning. Defaults are the founding experiment's."""

    epochs: float = 3.0
    """Passes over the training set."""
    learning_rate: float = 1e-4
    """Peak learning rate of AdamW."""
    batch_size: int = 16
    """Training windows (span) or prompts (generative) per device per step."""
    eval_batch_size: int = 64
    """Windows or prompts per forward pass at prediction time."""
    gradient_accumulation_steps: int = 1
    """Steps whose gradients are summed before one optimiser step."""
    logging_steps: int = 100
    """Log the training loss every N optimiser steps."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    warmup_ratio: float = 0.0
    """Share of steps with a linear learning-rate warm-up."""
    seed: int = 42
    """Seed for data order, sample caps, splits and initialisation of new heads. The report's
    bootstrap CIs use their own seed (``python -m qa_models.report --seed``, default 0)."""
    eval_every_epoch: bool = True
    """Score EM/F1 on validation after every epoch (the founding notebook did)."""
    fast: bool = True
    """Fast path: dynamic padding with length-grouped batches, bf16/SDPA/fused AdamW where a GPU
    has them. False pads every window to max_seq_length in fp32: the plain baseline."""

    def __post_init__(self) -> None:
        _require(self.epochs > 0, f"epochs must be positive, got {self.epochs}")
        _require(self.learning_rate > 0, f"learning_rate must be positive, got {self.learning_rate}")
        _require(self.batch_size > 0 and self.eval_batch_size > 0, "batch sizes must be positive")
        _require(self.gradient_accumulation_steps > 0, "gradient_accumulation_steps must be positive")
        _require(self.logging_steps > 0, f"logging_steps must be positive, got {self.logging_steps}")
        _require(0.0 <= self.warmup_ratio < 1.0, f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")


@dataclass(frozen=True)
class Profile:
    """A named bundle: the models to compare, the data and the hyper-parameters."""

    name: str
    """Profile name, e.g. "tiny", "minilm" or "seed"."""
    models: tuple[ModelSpec, ...]
    """The rows of the comparison."""
    data: DataSpec
    """The data every model sees."""
    train: TrainSpec = field(default_factory=TrainSpec)
    """Hyper-parameters shared by every model."""
    needs_gpu: bool = False
    """True when the profile cannot finish without a CUDA GPU (the 8B models)."""
    needs_network: bool = False
    """True when the profile loads models or data from the Hugging Face hub."""
    description: str = ""
    """One line shown in help and reports."""
    config_files: dict[str, str] = field(default_factory=dict, compare=False)
    """A named profile's rows' YAML files, relative to ``configs/``, by row name: the files
    ``python -m qa_models.run_config --write-configs`` generates from the profile."""

    def __post_init__(self) -> None:
        _require(len(self.models) > 0, f"profile {self.name}: no models")
        names = [m.name for m in self.models]
        _require(len(set(names)) == len(names), f"profile {self.name}: duplicate model names {names}")

    def select(self, names: list[str]) -> Profile:
        """Keep only the named models, in the given order."""
        by_name = {m.name: m for m in self.models}
        unknown = [n for n in names if n not in by_name]
        _require(not unknown, f"profile {self.name} has no model(s) {unknown}; it has {list(by_name)}")
        return dataclasses.replace(self, models=tuple(by_name[n] for n in names))


def override(spec: Any, **changes: Any) -> Any:
    """Return ``spec`` with the non-None ``changes`` applied (validation runs again)."""
    return dataclasses.replace(spec, **{k: v for k, v in changes.items() if v is not None})


def to_dict(spec: Any) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(spec), default=str))


def model_spec_from_dict(data: dict[str, Any]) -> ModelSpec:
    """Inverse of ``to_dict`` for ModelSpec (used when a saved checkpoint is loaded)."""
    data = dict(data)
    lora = data.pop("lora", None)
    if lora is not None:
        target = lora.get("target_modules", "all-linear")
        lora = LoraSpec(**{**lora, "target_modules": tuple(target) if isinstance(target, list) else target})
    return ModelSpec(**data, lora=lora)


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (cache keys)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_sha256(path: str | Path) -> str | None:
    """sha256 of a file's bytes, or None for a hub id."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
