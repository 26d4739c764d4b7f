"""The answerability head: Retro-Reader's internal front verifier beside a span model.

Zhang et al. (2021, "Retrospective Reader for Machine Reading Comprehension") train, jointly
with the start/end head, a binary classifier on the hidden state of the first token that says
whether the window holds an answer, and decide "no answer" on a weighted sum of its logit and
the span head's null-minus-best-span score (weights 0.5 and 0.5). Here the classifier reads
the hidden state at the row's own null position (``ModelSpec.no_answer_position``: BERT's
[CLS], or a decoder's last real token, the only one that has seen the whole window), its
label is "this window lacks the answer" (the same windows whose start/end labels point at
the null position), and the two losses are summed.

transformers has no such head, so this module is ours: a ``torch.nn.Module`` around any
``AutoModelForQuestionAnswering`` (LoRA-wrapped or not) that reads the hidden states its
``qa_outputs`` head receives through a forward pre-hook, so no architecture is special-cased.
The Trainer trains it as it trains the plain span model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers.utils import ModelOutput

VERIFIER_FILE = "answerability_head.safetensors"
"""Beside the span model's weights in a checkpoint: the verifier's weight and bias."""

LABEL_COLUMN = "window_lacks_answer_labels"
"""Training column: 1.0 where the window lacks the answer. "labels" in the name makes the
Trainer treat it as a label (``find_labels``) and never hand it to a model that lacks it."""

NULL_INDEX_COLUMN = "null_index"
"""Training and prediction column: the position of each window's null token."""


@dataclass
class SpanVerifierOutput(ModelOutput):
    """The span model's output plus the verifier's logit of "this window lacks the answer"."""

    loss: torch.Tensor | None = None
    start_logits: torch.Tensor | None = None
    end_logits: torch.Tensor | None = None
    no_answer_logits: torch.Tensor | None = None


def _head_module(span_model: nn.Module, head_name: str) -> nn.Module:
    """The outermost module called ``head_name`` (with LoRA it is peft's ModulesToSaveWrapper,
    whose input is the backbone's last hidden state as well)."""
    named = [(name, module) for name, module in span_model.named_modules() if name.split(".")[-1] == head_name]
    if not named:
        raise ValueError(f"the span model has no module named {head_name!r}; the answerability head reads its input")
    return min(named, key=lambda item: item[0].count("."))[1]


class SpanModelWithVerifier(nn.Module):
    """A span QA model and a linear answerability classifier trained with it (the sum of both losses)."""

    def __init__(self, span_model: nn.Module, head_name: str = "qa_outputs") -> None:
        super().__init__()
        self.span_model = span_model
        self.config = span_model.config  # the Trainer and the cost model read model.config
        self.verifier = nn.Linear(span_model.config.hidden_size, 1)
        # In a tuple so it is not registered a second time as a submodule of this module.
        self._head = (_head_module(span_model, head_name),)

    def gradient_checkpointing_enable(self, **kwargs) -> None:  # the Trainer calls it on its model
        self.span_model.gradient_checkpointing_enable(**kwargs)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, start_positions=None, end_positions=None,
                null_index=None, window_lacks_answer_labels=None) -> SpanVerifierOutput:
        captured: dict[str, torch.Tensor] = {}

        def keep_hidden_states(module, args):
            captured["hidden"] = args[0]

        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        handle = self._head[0].register_forward_pre_hook(keep_hidden_states)
        try:
            output = self.span_model(**inputs, start_positions=start_positions, end_positions=end_positions)
        finally:
            handle.remove()
        hidden = captured["hidden"]
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        at_null = hidden[rows, null_index.to(hidden.device)]
        no_answer_logits = self.verifier(at_null.to(self.verifier.weight.dtype)).squeeze(-1)
        loss = output.loss
        if loss is not None and window_lacks_answer_labels is not None:
            verifier_loss = nn.functional.binary_cross_entropy_with_logits(
                no_answer_logits.float(), window_lacks_answer_labels.to(no_answer_logits.device).float()
            )
            loss = loss + verifier_loss
        return SpanVerifierOutput(loss=loss, start_logits=output.start_logits, end_logits=output.end_logits,
                                  no_answer_logits=no_answer_logits)

    def save_pretrained(self, directory: str | Path, **kwargs) -> None:
        """The span model as it saves itself, and the verifier in ``VERIFIER_FILE`` beside it."""
        from safetensors.torch import save_file

        self.span_model.save_pretrained(directory, **kwargs)
        save_file({k: v.detach().cpu().contiguous() for k, v in self.verifier.state_dict().items()},
                  str(Path(directory) / VERIFIER_FILE))

    def load_verifier(self, directory: str | Path) -> None:
        """Read the verifier saved by ``save_pretrained`` from ``directory``."""
        from safetensors.torch import load_file

        path = Path(directory) / VERIFIER_FILE
        if not path.is_file():
            raise FileNotFoundError(
                f"{directory} holds no {VERIFIER_FILE}, but its qabench.json says the model has an answerability "
                "head: the checkpoint is incomplete; train it again or copy the whole folder"
            )
        self.verifier.load_state_dict(load_file(str(path)))
        self.verifier.to(next(self.span_model.parameters()).device)


def example_verifier_scores(window_logits: np.ndarray, example_index: np.ndarray) -> np.ndarray:
    """Per example, the lowest "window lacks the answer" logit over its windows.

    An example has an answer when any of its windows holds it, so the window that most
    believes it holds one decides: the same rule as the span head's lowest null score.
    ``example_index`` must be sorted (windows of one example contiguous)."""
    boundaries = np.flatnonzero(np.r_[True, np.diff(example_index) != 0])
    return np.minimum.reduceat(window_logits, boundaries).astype(np.float64)


def combine_no_answer_scores(span_na_scores: np.ndarray, verifier_scores: np.ndarray, verifier_weight: float) -> np.ndarray:
    """Retro-Reader's decision score: ``(1 - w) * (null - best span) + w * verifier logit``.

    Both are "higher means no answer"; a question with no valid span at all (span score
    +inf) keeps +inf, so it is always answered "". The threshold on the sum is tuned on
    validation like any other no-answer score."""
    no_span = np.isposinf(span_na_scores)
    combined = (1.0 - verifier_weight) * np.where(no_span, 0.0, span_na_scores) + verifier_weight * verifier_scores
    return np.where(no_span, np.inf, combined)
