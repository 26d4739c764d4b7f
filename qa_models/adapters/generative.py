"""Generative extractive QA: a causal LM (Llama 3, Qwen) writes the answer after a chat prompt.

* Model: ``AutoModelForCausalLM`` with SDPA attention; optionally NF4 4-bit (QLoRA) and LoRA
  adapters (peft) on ``spec.lora.target_modules``. Zero-shot rows load the instruct model
  as is and are never trained.
* Training: the transformers ``Trainer`` on ``prompt + answer`` sequences whose labels are
  -100 everywhere except the answer tokens and the end-of-turn token (``prompts``; the
  default ``spec.loss_mask == "answer"``).
* Prediction: batched greedy decoding with left padding and a KV cache, stopping at the
  end-of-turn token (or EOS). ``na_prob`` is the probability of the first token of the
  row's no-answer reply (``spec.no_answer_text``) at the first generated position; a reply
  equal to it becomes "" and
  any other reply is snapped onto the context (``postprocess.snap_to_context``), so answers
  are always verbatim context substrings or "".
* Saving: the LoRA adapter only (not merged) plus the tokenizer; without LoRA the full model.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from ..config import ModelSpec, TrainSpec
from ..data import Example
from ..device import has_cuda
from ..prompts import (
    IGNORE_INDEX,
    NO_ANSWER,
    encode_for_training,
    encode_prompts,
    end_of_turn_id,
    ensure_pad_token,
    is_no_answer,
    no_answer_token_id,
)
from ..training import (
    EpochValidation,
    apply_lora,
    quantization_kwargs,
    run_trainer,
    torch_dtype,
    training_arguments,
)
from .base import Predictions, QAAdapter, TrainResult, ValidationScorer

logger = logging.getLogger(__name__)

PACKING_ATTENTION = ("flash_attention_2", "flash_attention_3", "flex_attention")
"""Attention kernels that take sequence boundaries (``cu_seqlens`` / block masks) and so do no
work across the sequences of a packed row. Other kernels (SDPA, eager) are *correct* on packed
rows in this transformers version (the mask is rebuilt from ``position_ids``) but attend over
the whole packed row as one dense T x T masked matrix, which costs more than the padding it
saves; with them the fast path uses dynamic padding of length-grouped batches instead."""

PROGRESS_MIN_BATCHES = 8
"""Prediction shows a progress bar from this many batches on."""


# ---------------------------------------------------------------------------------------
def use_fused_linear_cross_entropy(train_spec: TrainSpec) -> bool:
    """liger-kernel's fused linear cross-entropy (through the Trainer's ``use_liger_kernel``) on the
    fast path on a GPU where the package is installed.

    It computes the loss chunk by chunk from the last hidden states, so the [tokens, 128K-152K]
    logits of Llama 3 and Qwen are never materialised in full. liger's kernels are Triton, so
    CUDA only; without the package (this CPU machine) the Trainer's plain loss runs.
    """
    import importlib.util

    return bool(train_spec.fast and has_cuda() and importlib.util.find_spec("liger_kernel"))


# Collators
# ---------------------------------------------------------------------------------------


@dataclass
class AnswerOnlyCollator:
    """Pads a batch of ``input_ids``/``labels`` lists: pad id and attention 0 on inputs,
    -100 on labels, on ``padding_side``; adds ``position_ids`` counted over real tokens only,
    so left and right padding give the same positions.

    ``pad_to_length`` pads every batch to one fixed length (the plain baseline);
    ``pad_to_multiple_of`` rounds dynamic lengths up (tensor-core friendly on GPUs).

    ``answer_logits_only`` (see ``answer_logits_plan``) also passes the model a boolean
    ``logits_to_keep`` mask of the positions whose next token is supervised, and those next
    tokens as ``shift_labels``: transformers then projects only those hidden states onto the
    vocabulary, and its causal-LM loss uses the labels as given. The loss is the same (same
    tokens, same mean); the [batch, tokens, vocabulary] logits are never built.
    """

    pad_token_id: int
    padding_side: str = "right"
    pad_to_length: int | None = None
    pad_to_multiple_of: int | None = None
    answer_logits_only: bool = False

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        if self.padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {self.padding_side!r}")
        length = max(len(f["input_ids"]) for f in features)
        if self.pad_to_length is not None:
            length = max(length, self.pad_to_length)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch = len(features)
        input_ids = torch.full((batch, length), self.pad_token_id, dtype=torch.long)
        labels = torch.full((batch, length), IGNORE_INDEX, dtype=torch.long)
        attention = torch.zeros((batch, length), dtype=torch.long)
        for row, feature in enumerate(features):
            ids = torch.as_tensor(feature["input_ids"], dtype=torch.long)
            n = len(ids)
            cols = slice(0, n) if self.padding_side == "right" else slice(length - n, length)
            input_ids[row, cols] = ids
            labels[row, cols] = torch.as_tensor(feature["labels"], dtype=torch.long)
            attention[row, cols] = 1
        position_ids = (attention.cumsum(-1) - 1).clamp(min=0)
        batch = {"input_ids": input_ids, "attention_mask": attention, "labels": labels, "position_ids": position_ids}
        if self.answer_logits_only:
            next_tokens = torch.nn.functional.pad(labels[:, 1:], (0, 1), value=IGNORE_INDEX)
            supervised = next_tokens != IGNORE_INDEX
            batch["logits_to_keep"] = supervised
            batch["shift_labels"] = next_tokens[supervised]
        return batch


def packing_plan(model: Any, train_spec: TrainSpec) -> tuple[bool, str]:
    """Whether to train padding-free (``DataCollatorWithFlattening``), and why (for the log)."""
    if not train_spec.fast:
        return False, "plain baseline: every sequence padded to one fixed length"
    implementation = getattr(model.config, "_attn_implementation", None)
    if implementation in PACKING_ATTENTION:
        return True, f"padding-free packing ({implementation} takes sequence boundaries)"
    return False, (
        f"dynamic padding of length-grouped batches: attention {implementation!r} would compute a "
        "packed row as one dense masked matrix (see PACKING_ATTENTION)"
    )


def answer_logits_plan(model: Any, fused_loss: bool = False) -> tuple[bool, str]:
    """Whether training and the validation-loss pass ask the model for logits at supervised
    positions only (``AnswerOnlyCollator.answer_logits_only``), and why (for the log).

    The Trainer's plain path builds logits over the whole vocabulary at every position, though
    only the answer tokens carry a label: for SmolLM2 at an evaluation batch of 32 x 256 tokens
    that is 1.6 GB of float32 before the loss (docs/BENCHMARKS.md, "Training memory"). Models
    whose ``forward`` takes ``logits_to_keep`` slice their hidden states before the LM head.
    With ``fused_loss`` (liger's fused linear cross-entropy, ``use_fused_linear_cross_entropy``)
    the logits are never built whole anyway, and liger's forward replaces the model's.
    """
    if fused_loss:
        return False, "fused linear cross-entropy computes the loss chunk by chunk"
    forward = type(_causal_lm(model)).forward
    if "logits_to_keep" in inspect.signature(forward).parameters:
        return True, "logits at the supervised positions only (logits_to_keep mask + shift_labels)"
    return False, f"{type(_causal_lm(model)).__name__}.forward takes no logits_to_keep: logits at every position"


def answer_from_reply(reply: str, context: str, no_answer: str = NO_ANSWER) -> tuple[str, str]:
    """The answer a generated reply gives, and how it was obtained.

    ``("", "no_answer")`` for an empty reply or ``no_answer``; the reply itself when it is
    verbatim in the context (``"verbatim"``); else the context span with the best token F1
    (``"snapped"``), or ``("", "unsnappable")`` when no context word matches it.
    """
    from ..postprocess import snap_to_context

    text = reply.strip()
    if not text or is_no_answer(text, no_answer):
        return "", "no_answer"
    span, _, changed = snap_to_context(text, context)
    if not span:
        return "", "unsnappable"
    return span, "snapped" if changed else "verbatim"


def _left_padded(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` with every prompt padded on the left, so that every
    row ends where generation starts."""
    width = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        input_ids[row, width - len(prompt) :] = torch.as_tensor(prompt)
        attention[row, width - len(prompt) :] = 1
    return input_ids, attention


def _chosen_token_logprobs(logits: Sequence[torch.Tensor], generated: torch.Tensor) -> torch.Tensor:
    """[batch, steps] log-probabilities of the generated tokens under the raw per-step logits,
    computed one step at a time (never a [B, T, V] stack)."""
    return torch.stack(
        [
            torch.log_softmax(step.float(), dim=-1).gather(1, generated[:, t : t + 1].to(step.device)).squeeze(1).cpu()
            for t, step in enumerate(logits)
        ],
        dim=1,
    )


def _predictions_from_replies(
    examples: Sequence[Example], replies: Sequence[tuple[str, float, float]], truncated: int, no_answer: str
) -> Predictions:
    """``Predictions`` from one ``(reply, na_prob, score)`` per example: replies become context
    answers (``answer_from_reply``) and the outcomes are counted into ``extra``."""
    answers: dict[str, str] = {}
    outcomes = {"verbatim": 0, "snapped": 0, "unsnappable": 0, "no_answer": 0}
    for example, (reply, _, _) in zip(examples, replies):
        answers[example.id], outcome = answer_from_reply(reply, example.context, no_answer)
        outcomes[outcome] += 1
    return Predictions(
        answers=answers,
        na_probs={e.id: na_prob for e, (_, na_prob, _) in zip(examples, replies)},
        scores={e.id: score for e, (_, _, score) in zip(examples, replies)},
        extra={
            "snapped_answers": outcomes["snapped"],
            "unsnappable_answers": outcomes["unsnappable"],
            "no_answer_replies": outcomes["no_answer"],
            "truncated_prompts": truncated,
            "raw_answers": {e.id: reply for e, (reply, _, _) in zip(examples, replies)},
        },
    )


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


def _load_tokenizer(source: str | Path, spec: ModelSpec) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(source))
    ensure_pad_token(tokenizer, spec)
    # Training pads on spec.padding_side; prediction pads left by hand (never inferred).
    tokenizer.padding_side = spec.padding_side
    end_of_turn_id(tokenizer, spec)  # fail now, not mid-training, if the token is wrong
    return tokenizer


def _load_causal_lm(source: str | Path, spec: ModelSpec) -> Any:
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch_dtype(spec), "attn_implementation": "sdpa"}
    kwargs.update(quantization_kwargs(spec))  # QLoRA: raises a clear error without CUDA
    model = AutoModelForCausalLM.from_pretrained(str(source), **kwargs)
    if "device_map" not in kwargs and has_cuda():
        model.to("cuda")
    return model


def _causal_lm(model: Any) -> Any:
    """The transformers model under a peft wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _is_peft(model: Any) -> bool:
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is a dependency
        return False
    return isinstance(model, PeftModel)


@contextlib.contextmanager
def _only_generation_config(model: Any, config: Any):
    """Generate with exactly ``config``: transformers fills every unset field from the
    model's own generation config (Qwen1.5-Chat's sets repetition_penalty 1.05, which would
    alter greedy decoding), so the model's config is swapped out for the call."""
    lm = _causal_lm(model)
    saved = lm.generation_config
    lm.generation_config = config
    try:
        yield
    finally:
        lm.generation_config = saved


@contextlib.contextmanager
def _restoring_use_cache(model: Any):
    """Puts the model config's ``use_cache`` back as it was after training.

    Training runs without a KV cache (``use_cache=False``, which the Trainer writes into the
    model config): it is useless there, and in this transformers version a cache also switches
    off the packed-sequence mask that SDPA/eager build from position_ids, so a packed row would
    attend across its sequences (tests/test_generative.py checks the packed path without a
    cache). The model's own setting must survive for prediction.
    """
    config = _causal_lm(model).config
    saved = config.use_cache
    try:
        yield
    finally:
        config.use_cache = saved


# ---------------------------------------------------------------------------------------
# The adapter
# ---------------------------------------------------------------------------------------


class GenerativeAdapter(QAAdapter):
    """A causal LM, with LoRA/QLoRA or without (zero-shot, or full fine-tuning), that
    answers extractive questions by writing the answer."""

    method = "generative"

    def __init__(self, spec: ModelSpec, model: Any, tokenizer: Any) -> None:
        super().__init__(spec, model, tokenizer)
        self.encoding_stats: dict[str, int] = {}
        """Training-set encoding counts of the last ``train`` (truncated contexts and answers)."""

    # -- construction ----------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, spec: ModelSpec) -> GenerativeAdapter:
        if spec.method != "generative":
            raise ValueError(f"model {spec.name}: GenerativeAdapter needs method='generative', got {spec.method!r}")
        tokenizer = _load_tokenizer(spec.model_id, spec)
        model = _load_causal_lm(spec.model_id, spec)
        if spec.lora is not None and not spec.zero_shot:
            model = apply_lora(model, spec, task_type="CAUSAL_LM")
        return cls(spec, model, tokenizer)

    # -- training --------------------------------------------------------------------

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
        """Fine-tune on answer-only loss with the transformers Trainer.

        Not TRL's SFTTrainer: we need our exact answer-only label mask (prompt tokens -100,
        answer + end-of-turn supervised) and our own chat rendering and context truncation;
        the plain Trainer with our collator does exactly that with less machinery.
        """
        from transformers import Trainer

        if self.spec.zero_shot:
            raise ValueError(f"model {self.spec.name} is a zero-shot row: it is scored as loaded, never trained")
        encoded = self._encode_training_set(train)
        train_dataset = encoded.to_dataset()
        eval_dataset = encode_for_training(self.tokenizer, validation, self.spec).to_dataset() if validation else None
        collator = self._training_collator(train_spec, encoded)
        callback = self._epoch_validation(validation, train_spec, output_dir, score_validation)

        args = training_arguments(
            self.spec,
            train_spec,
            output_dir,
            has_validation_loss=eval_dataset is not None,
            report_to=report_to,
            label_names=["labels"],
            remove_unused_columns=False,  # the collator reads exactly our columns
            use_cache=False,  # see _restoring_use_cache
            use_liger_kernel=use_fused_linear_cross_entropy(train_spec),
        )
        with _restoring_use_cache(self.model):
            trainer = Trainer(
                model=self.model,
                args=args,
                data_collator=collator,
                train_dataset=train_dataset,
                eval_dataset=eval_dataset,
                processing_class=self.tokenizer,
                callbacks=[callback] if callback else None,
            )
            result = run_trainer(
                trainer,
                n_examples=len(train_dataset),
                n_tokens=encoded.n_tokens,  # real tokens: the sum of the attention masks
                epochs=train_spec.epochs,
                validation=callback,
                log_dir=log_dir,
            )
        self.model = trainer.model
        self.model.eval()
        return result

    def _encode_training_set(self, train: Sequence[Example]) -> Any:
        """The training encoding of ``train`` (``spec.loss_mask``), its counts kept in ``encoding_stats``; warns
        about answers lost to context truncation and refuses an empty result."""
        encoded = encode_for_training(self.tokenizer, train, self.spec)
        self.encoding_stats = encoded.summary()
        if encoded.truncated_answers:
            logger.warning(
                "%s: %d of %d training answers were cut away with the context at max_seq_length=%d "
                "(trained as %r)", self.spec.name, encoded.truncated_answers, len(train), self.spec.max_seq_length, "no answer",
            )
        if not encoded.input_ids:
            raise ValueError(f"model {self.spec.name}: no training examples left after encoding")
        return encoded

    def _training_collator(self, train_spec: TrainSpec, encoded: Any) -> Any:
        """The collator ``packing_plan`` chooses: padding-free packing, dynamic padding (fast
        path), or every batch padded to the longest training sequence (plain baseline)."""
        from transformers import DataCollatorWithFlattening

        pack, why = packing_plan(self.model, train_spec)
        logger.info("%s: %s", self.spec.name, why)
        if pack:
            flash = str(getattr(self.model.config, "_attn_implementation", "")).startswith("flash")
            return DataCollatorWithFlattening(return_position_ids=True, separator_id=IGNORE_INDEX, return_flash_attn_kwargs=flash)
        answer_logits_only, why_logits = answer_logits_plan(self.model, use_fused_linear_cross_entropy(train_spec))
        logger.info("%s: %s", self.spec.name, why_logits)
        if train_spec.fast:
            return AnswerOnlyCollator(self.tokenizer.pad_token_id, self.spec.padding_side,
                                      pad_to_multiple_of=8 if has_cuda() else None, answer_logits_only=answer_logits_only)
        fixed = max(len(ids) for ids in encoded.input_ids)
        return AnswerOnlyCollator(self.tokenizer.pad_token_id, self.spec.padding_side, pad_to_length=fixed,
                                  answer_logits_only=answer_logits_only)

    def _epoch_validation(
        self,
        validation: Sequence[Example],
        train_spec: TrainSpec,
        output_dir: str | Path,
        score_validation: ValidationScorer | None,
    ) -> EpochValidation | None:
        """The end-of-epoch callback that predicts and scores ``validation`` (None without it,
        or when ``train_spec.eval_every_epoch`` is off)."""
        if not validation or not train_spec.eval_every_epoch:
            return None

        def predict_and_score() -> dict[str, float]:
            if score_validation is None:
                return {}
            return score_validation(self.predict(validation, batch_size=train_spec.eval_batch_size))

        return EpochValidation(predict_and_score, output_dir)

    # -- prediction ------------------------------------------------------------------

    def _generation_config(self, stop_ids: list[int]) -> Any:
        from transformers import GenerationConfig

        return GenerationConfig(
            max_new_tokens=self.spec.max_new_tokens,
            do_sample=False,
            num_beams=1,
            temperature=1.0,
            top_p=1.0,
            top_k=50,
            repetition_penalty=1.0,
            no_repeat_ngram_size=0,
            eos_token_id=stop_ids,
            pad_token_id=self.tokenizer.pad_token_id,
            bos_token_id=self.tokenizer.bos_token_id,
            use_cache=True,  # KV cache
            return_dict_in_generate=True,
            output_logits=True,  # raw logits: na_prob and answer log-probs, unaffected by processors
        )

    @torch.inference_mode()
    def predict(self, examples: Sequence[Example], batch_size: int = 64) -> Predictions:
        """Greedy answers, ``na_prob`` = P(first token of the no-answer reply) at the first step, and
        ``scores`` = mean log-probability of the generated tokens (stop token included)."""
        from tqdm.auto import tqdm

        examples = list(examples)
        prompts, truncated = encode_prompts(self.tokenizer, examples, self.spec)
        eot = end_of_turn_id(self.tokenizer, self.spec)
        stop_ids = [eot] + [i for i in (self.tokenizer.eos_token_id,) if i is not None and i != eot]
        config = self._generation_config(stop_ids)
        na_token = no_answer_token_id(self.tokenizer, self.spec.no_answer_text)  # once, not per batch

        # Longest prompts first: little padding per batch, and an out-of-memory shows at once.
        order = sorted(range(len(examples)), key=lambda i: -len(prompts[i]))
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        replies: dict[int, tuple[str, float, float]] = {}

        was_training = self.model.training
        self.model.eval()
        try:
            with _only_generation_config(self.model, config):
                for batch in tqdm(
                    batches, desc=f"{self.spec.name}: generating", unit="batch", disable=len(batches) < PROGRESS_MIN_BATCHES
                ):
                    replies.update(zip(batch, self._generate_batch([prompts[i] for i in batch], config, stop_ids, na_token)))
        finally:
            if was_training:
                self.model.train()
        return _predictions_from_replies(examples, [replies[i] for i in range(len(examples))], truncated, self.spec.no_answer_text)

    def _generate_batch(self, prompts: list[list[int]], config: Any, stop_ids: list[int],
                        na_token: int) -> list[tuple[str, float, float]]:
        """One ``generate`` call on left-padded ``prompts``: per prompt the decoded reply (up to
        its stop token), its ``na_prob`` and its mean token log-probability."""
        device = next(self.model.parameters()).device
        input_ids, attention = _left_padded(prompts, self.tokenizer.pad_token_id)
        width = input_ids.shape[1]
        out = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device), generation_config=config)
        generated = out.sequences[:, width:].cpu()
        first = torch.softmax(out.logits[0].float(), dim=-1)[:, na_token].cpu()
        token_logp = _chosen_token_logprobs(out.logits, generated)
        replies = []
        for row in range(len(prompts)):
            ids = generated[row].tolist()
            stop = next((k for k, token in enumerate(ids) if token in stop_ids), None)
            kept = ids if stop is None else ids[:stop]
            n_scored = len(ids) if stop is None else stop + 1
            text = self.tokenizer.decode(kept, skip_special_tokens=True, clean_up_tokenization_spaces=False).strip()
            score = float(token_logp[row, :n_scored].mean()) if n_scored else float("-inf")
            replies.append((text, float(first[row]), score))
        return replies

    # -- saving ----------------------------------------------------------------------

    def _save_weights(self, directory: Path) -> None:
        """LoRA: the adapter only (``adapter_config.json`` + weights, not merged); without
        LoRA (zero-shot or full fine-tuning): the full model. The tokenizer always."""
        self.model.save_pretrained(directory)  # a PeftModel writes only its adapter
        self.tokenizer.save_pretrained(directory)

    @classmethod
    def _load_weights(cls, spec: ModelSpec, directory: Path) -> GenerativeAdapter:
        tokenizer = _load_tokenizer(directory, spec)
        if (Path(directory) / "adapter_config.json").is_file():
            from peft import PeftModel

            base = _load_causal_lm(spec.model_id, spec)
            model = PeftModel.from_pretrained(base, str(directory), is_trainable=True)  # trainable as trained: parameter counts match, and training can go on
        else:
            model = _load_causal_lm(directory, spec)
        model.eval()
        return cls(spec, model, tokenizer)

    def export_merged(self, directory: str | Path) -> Path:
        """Write a plain transformers model folder with the LoRA update merged into the weights
        (``merge_and_unload``), usable as a ``model_id`` anywhere.

        The merge runs on a fresh copy of the base in ``torch_dtype`` (never into NF4 weights,
        which would round the update away), so it needs memory for a second base model;
        ``self.model`` is left untouched.
        """
        import dataclasses

        from peft import PeftModel

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if not _is_peft(self.model):
            self.model.save_pretrained(directory)
            self.tokenizer.save_pretrained(directory)
            return directory
        plain = dataclasses.replace(self.spec, quantize="none")
        base = _load_causal_lm(self.spec.model_id, plain)
        with tempfile.TemporaryDirectory(prefix="qabench-adapter-") as tmp:
            self.model.save_pretrained(tmp)
            merged = PeftModel.from_pretrained(base, tmp).merge_and_unload()
        merged.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        return directory


__all__ = ["AnswerOnlyCollator", "GenerativeAdapter", "PACKING_ATTENTION", "answer_from_reply", "answer_logits_plan", "packing_plan"]
