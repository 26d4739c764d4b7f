"""Span extraction: ``AutoModelForQuestionAnswering`` predicts start and end tokens.

One adapter for BERT (full fine-tuning) and for decoders with a QA head
(``LlamaForQuestionAnswering``, ``Qwen2ForQuestionAnswering``: LoRA on the backbone, the
``qa_outputs`` head trained in full). Pre-processing is ``features``, post-processing
``postprocess``; this file only runs the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModelForQuestionAnswering, AutoTokenizer, DataCollatorWithPadding, Trainer, default_data_collator

from .. import features, postprocess, training
from ..config import ModelSpec, TrainSpec
from ..data import Example
from ..device import has_cuda
from ..prompts import ensure_pad_token
from ..verifier import NULL_INDEX_COLUMN, SpanModelWithVerifier, combine_no_answer_scores, example_verifier_scores
from .base import Predictions, QAAdapter, TrainResult, ValidationScorer

QA_HEAD = "qa_outputs"


def _load_tokenizer(spec: ModelSpec, source: str | Path):
    tokenizer = AutoTokenizer.from_pretrained(source)
    # Set explicitly, never inherited from the checkpoint: window positions must not shift.
    tokenizer.padding_side = spec.padding_side
    # Decoders ship without a pad token; the same choice as generative rows (an existing token).
    return ensure_pad_token(tokenizer, spec)


def _load_qa_model(spec: ModelSpec, source: str | Path):
    """``AutoModelForQuestionAnswering`` with the pretrained backbone really loaded.

    transformers 5 keeps the backbone of ``LlamaForQuestionAnswering`` and
    ``Qwen2ForQuestionAnswering`` under ``transformer.``, while the causal-LM checkpoints
    on the hub store it under ``model.``; loaded plainly, every backbone weight is
    reported MISSING and initialised at random (seen on the tiny models: predictions of a
    reloaded checkpoint differed). The key mapping renames ``model.*`` to the QA class's
    own prefix; BERT checkpoints have no ``model.`` keys, so it changes nothing there.
    """
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_QUESTION_ANSWERING_MAPPING

    config = training.set_attention_dropout(AutoConfig.from_pretrained(source), spec)
    prefix = MODEL_FOR_QUESTION_ANSWERING_MAPPING[type(config)].base_model_prefix
    key_mapping = {r"^model\.": f"{prefix}."} if prefix != "model" else None
    return AutoModelForQuestionAnswering.from_pretrained(
        source, config=config, dtype=training.torch_dtype(spec), key_mapping=key_mapping, **training.quantization_kwargs(spec)
    )


class SpanAdapter(QAAdapter):
    """Start/end-logit extractive QA over overflowing windows."""

    method = "span"

    @classmethod
    def from_pretrained(cls, spec: ModelSpec) -> SpanAdapter:
        tokenizer = _load_tokenizer(spec, spec.model_id)
        model = _load_qa_model(spec, spec.model_id)
        if model.config.pad_token_id is None:
            model.config.pad_token_id = tokenizer.pad_token_id
        model = training.apply_lora(model, spec, task_type="QUESTION_ANS", modules_to_save=[QA_HEAD])
        if spec.answerability_head:
            # The new head's initialisation is the same for every run of this row, and the
            # caller's random state is left as it was.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)
                model = SpanModelWithVerifier(model, QA_HEAD)
        return cls(spec, model, tokenizer)

    # -- training -------------------------------------------------------------------

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
        pad_to_max = not train_spec.fast
        train_windows = features.build_train_features(self.tokenizer, train, self.spec, pad_to_max)
        validation_windows = features.build_train_features(self.tokenizer, validation, self.spec, pad_to_max) if validation else None
        if pad_to_max:
            collator = default_data_collator
        else:
            collator = DataCollatorWithPadding(self.tokenizer, pad_to_multiple_of=8 if has_cuda() else None)

        epoch_validation = None
        if score_validation is not None and validation and train_spec.eval_every_epoch:
            epoch_validation = training.EpochValidation(
                lambda: score_validation(self.predict(validation, batch_size=train_spec.eval_batch_size, fast=train_spec.fast)),
                output_dir,
            )
        args = training.training_arguments(
            self.spec, train_spec, output_dir, has_validation_loss=validation_windows is not None, report_to=report_to
        )
        trainer = Trainer(
            model=self.model,
            args=args,
            data_collator=collator,
            train_dataset=train_windows,
            eval_dataset=validation_windows,
            processing_class=self.tokenizer,
            callbacks=[epoch_validation] if epoch_validation else None,
        )
        real_tokens = int(sum(sum(mask) for mask in train_windows["attention_mask"]))
        return training.run_trainer(
            trainer,
            n_examples=len(train_windows),
            n_tokens=real_tokens,
            epochs=train_spec.epochs,
            validation=epoch_validation,
            log_dir=log_dir,
        )

    # -- prediction -----------------------------------------------------------------

    @torch.no_grad()
    def window_logits(
        self, windows: features.EvalWindows, batch_size: int, fast: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Start and end logits of every window, [n_windows, max_seq_length], -1e9 on padding,
        and the answerability head's "window lacks the answer" logit per window (None without one).

        A plain no-grad loop rather than ``Trainer.predict``: the Trainer pads logits across
        batches with -100, which is a plausible logit, and we need the offsets aligned.
        Windows run longest first (fast path) so each batch pads little.
        """
        model = self.model
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        n, width = len(windows.dataset), windows.offsets.shape[1]
        start = np.full((n, width), postprocess.NEG_INF, dtype=np.float32)
        end = np.full((n, width), postprocess.NEG_INF, dtype=np.float32)
        has_verifier = isinstance(model, SpanModelWithVerifier)
        lacks_answer = np.zeros(n, dtype=np.float32) if has_verifier else None
        columns = windows.dataset[:]  # one conversion to lists; per-row dataset access is slow
        lengths = np.asarray([len(ids) for ids in columns["input_ids"]])
        order = np.argsort(-lengths, kind="stable") if fast else np.arange(n)
        collator = DataCollatorWithPadding(self.tokenizer, padding="longest" if fast else "max_length", max_length=width)
        batches = range(0, n, batch_size)
        for first in tqdm(batches, desc=f"predict {self.spec.name}", unit="batch", disable=len(batches) < 20, leave=False):
            rows = order[first : first + batch_size]
            batch = collator([{k: v[r] for k, v in columns.items()} for r in rows])
            batch = {k: v.to(device) for k, v in batch.items()}
            if has_verifier:
                batch[NULL_INDEX_COLUMN] = torch.as_tensor(windows.null_index[rows], device=device)
            output = model(**batch)
            seq = output.start_logits.shape[1]
            start[rows, :seq] = output.start_logits.float().cpu().numpy()
            end[rows, :seq] = output.end_logits.float().cpu().numpy()
            if has_verifier:
                lacks_answer[rows] = output.no_answer_logits.float().cpu().numpy()
        if was_training:
            model.train()
        return start, end, lacks_answer

    def predict(self, examples: Sequence[Example], batch_size: int = 64, fast: bool = True) -> Predictions:
        examples = list(examples)
        if not examples:
            return Predictions(answers={}, na_probs={})
        windows = features.build_eval_windows(self.tokenizer, examples, self.spec)
        start, end, lacks_answer = self.window_logits(windows, batch_size, fast)
        answers, na_scores, scores = postprocess.decode_spans(
            start,
            end,
            windows.offsets,
            windows.example_index,
            windows.null_index,
            [e.context for e in examples],
            n_best_size=self.spec.n_best_size,
            max_answer_length=self.spec.max_answer_length,
        )
        ids = [e.id for e in examples]
        extra: dict = {"windows": len(windows.example_index)}
        if lacks_answer is not None:
            verifier_scores = example_verifier_scores(lacks_answer, windows.example_index)
            # Each part of the decision kept per question, so diagnostics can rank by either alone.
            extra["span_na_scores"] = dict(zip(ids, na_scores.tolist()))
            extra["verifier_na_scores"] = dict(zip(ids, verifier_scores.tolist()))
            na_scores = combine_no_answer_scores(na_scores, verifier_scores, self.spec.verifier_weight)
        na_probs = postprocess.na_probability(na_scores)
        return Predictions(
            answers=dict(zip(ids, answers)),
            na_probs={i: float(p) for i, p in zip(ids, na_probs)},
            scores={i: float(s) for i, s in zip(ids, scores)},
            extra=extra,
        )

    # -- persistence ----------------------------------------------------------------

    def _save_weights(self, directory: Path) -> None:
        # A PeftModel saves only its adapter and the fully trained QA head; an answerability
        # head (SpanModelWithVerifier) adds its own file beside them.
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)

    @classmethod
    def _load_weights(cls, spec: ModelSpec, directory: Path) -> SpanAdapter:
        tokenizer = _load_tokenizer(spec, directory)
        if (directory / "adapter_config.json").is_file():
            from peft import PeftModel

            base = _load_qa_model(spec, spec.model_id)
            if base.config.pad_token_id is None:
                base.config.pad_token_id = tokenizer.pad_token_id
            model = PeftModel.from_pretrained(base, directory, is_trainable=True)  # counts match training
        else:
            model = AutoModelForQuestionAnswering.from_pretrained(directory, dtype=training.torch_dtype(spec))
        if spec.answerability_head:
            model = SpanModelWithVerifier(model, QA_HEAD)
            model.load_verifier(directory)
        model.eval()
        return cls(spec, model, tokenizer)
