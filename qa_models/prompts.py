"""Chat-template rendering shared by every generative model, and the no-answer string.

A generative row reads one chat prompt per question: a system message with the task, then a
user message holding the context and the question, rendered with the model's *own* chat
template (``tokenizer.apply_chat_template``), so Llama 3 and Qwen differ only in their
templates and special tokens, never in code. The assistant turn it learns to write is the
answer copied from the context, or exactly the row's no-answer reply
(``ModelSpec.no_answer_text``, default ``NO_ANSWER``), closed by the model's end-of-turn
token (``ModelSpec.end_of_turn_token``). The system message is ``ModelSpec.system_prompt``.

Training sequences are ``prompt ids + target ids``, tokenised separately, so the boundary
between the two is exact and identical to what generation sees (generation continues the
prompt ids). By default (``ModelSpec.loss_mask == "answer"``) labels are -100 on every prompt
token (and on padding, added by the collator): the loss covers only the answer tokens and
the end-of-turn token.

Prompts longer than ``ModelSpec.max_seq_length`` tokens are shortened by cutting the *end of
the context* only; the template, the system prompt and the question stay intact. When the
cut removes a gold answer, the training target becomes the no-answer reply (as a span window that
does not hold the answer is labelled "no answer"), and the number of such examples is
reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Sequence

from .config import DEFAULT_NO_ANSWER_TEXT, DEFAULT_SYSTEM_PROMPT, ModelSpec
from .data import Example

if TYPE_CHECKING:
    import datasets

NO_ANSWER = DEFAULT_NO_ANSWER_TEXT
"""The default no-answer reply (``config.DEFAULT_NO_ANSWER_TEXT``); a row sets its own with
``ModelSpec.no_answer_text``."""

SYSTEM_PROMPT = DEFAULT_SYSTEM_PROMPT.format(no_answer=NO_ANSWER)
"""The default system message with the default no-answer reply filled in."""


def system_prompt_of(spec: ModelSpec) -> str:
    """The system message of ``spec``'s prompts: its template with its no-answer reply."""
    return spec.system_prompt.format(no_answer=spec.no_answer_text)


USER_TEMPLATE = "Context: {context}\n\nQuestion: {question}"
"""The user message. The context comes first and the question last, next to where the
answer is written, so that a long context never separates the question from the answer."""

IGNORE_INDEX = -100
"""Label value the loss ignores (PyTorch cross-entropy's default ``ignore_index``)."""

PAD_TOKEN_CANDIDATES = ("<|end_of_text|>", "<|endoftext|>", "<|finetune_right_pad_id|>", "<unk>")
"""Existing tokens used as the pad token by models that ship none (Llama 3: ``<|end_of_text|>``).
Never the end-of-turn token: that one is supervised. Labels never depend on the pad id."""


# ---------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------


def messages(question: str, context: str, system_prompt: str = SYSTEM_PROMPT) -> list[dict[str, str]]:
    """The chat messages of one question: system, then user (context, then question)."""
    return [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": USER_TEMPLATE.format(context=context, question=question.strip())},
    ]


def render_prompt(tokenizer: Any, question: str, context: str, system_prompt: str = SYSTEM_PROMPT) -> str:
    """The prompt text of one question through the tokenizer's chat template, ending with
    the opening of the assistant turn (``add_generation_prompt=True``).

    Encode it with ``add_special_tokens=False``: templates write their own BOS.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"tokenizer of {getattr(tokenizer, 'name_or_path', '?')!r} has no chat_template; "
            "generative rows need an instruct/chat model (or a tokenizer folder that carries its template)"
        )
    return tokenizer.apply_chat_template(
        messages(question, context, system_prompt), add_generation_prompt=True, tokenize=False
    )


def target_text(answer_text: str | None, no_answer: str = NO_ANSWER) -> str:
    """The assistant's reply without the end-of-turn token: the answer, or ``no_answer``."""
    answer = (answer_text or "").strip()
    return answer if answer else no_answer


def render_target(answer_text: str | None, spec: ModelSpec) -> str:
    """What the assistant turn should say: the answer (or ``spec.no_answer_text`` for "" /
    None) followed by ``spec.end_of_turn_token``."""
    if not spec.end_of_turn_token:
        raise ValueError(f"model {spec.name}: end_of_turn_token is not set")
    return target_text(answer_text, spec.no_answer_text) + spec.end_of_turn_token


def is_no_answer(text: str, no_answer: str = NO_ANSWER) -> bool:
    """True when a generated reply means ``no_answer`` (case, quotes and a final full stop ignored)."""
    return text.strip().strip("\"'`.!").strip().lower() == no_answer.lower()


def encode(tokenizer: Any, text: str) -> list[int]:
    """Token ids of text that already carries its special tokens (no BOS/EOS added)."""
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def no_answer_token_id(tokenizer: Any, no_answer: str = NO_ANSWER) -> int:
    """Id of the first token of ``no_answer`` as the assistant turn starts with it (how it is
    tokenised in training targets); its probability at the first generated position is
    the generative ``na_prob``."""
    ids = encode(tokenizer, no_answer)
    if not ids:
        raise ValueError(f"no-answer reply {no_answer!r} encodes to no tokens")
    return ids[0]


def end_of_turn_id(tokenizer: Any, spec: ModelSpec) -> int:
    """Id of ``spec.end_of_turn_token``; it must be a single token of the vocabulary."""
    ids = encode(tokenizer, spec.end_of_turn_token or "")
    if len(ids) != 1:
        raise ValueError(
            f"model {spec.name}: end_of_turn_token {spec.end_of_turn_token!r} is not one token of this "
            f"tokenizer (it encodes to {ids}); use the chat template's turn terminator, e.g. "
            "'<|eot_id|>' (Llama 3) or '<|im_end|>' (Qwen)"
        )
    return ids[0]


def ensure_pad_token(tokenizer: Any, spec: ModelSpec | None = None) -> Any:
    """Give a tokenizer without a usable pad token one from ``PAD_TOKEN_CANDIDATES``.

    "Usable" means set and different from the end-of-turn token. Only existing tokens are
    used (no embedding resize). Returns the tokenizer.
    """
    eot = spec.end_of_turn_token if spec is not None else None
    if tokenizer.pad_token is not None and tokenizer.pad_token != eot:
        return tokenizer
    vocab = tokenizer.get_vocab()
    candidates = list(PAD_TOKEN_CANDIDATES)
    if tokenizer.eos_token is not None:
        candidates.append(tokenizer.eos_token)
    for token in candidates:
        if token in vocab and token != eot:
            tokenizer.pad_token = token
            return tokenizer
    raise ValueError(
        f"tokenizer {getattr(tokenizer, 'name_or_path', '?')!r} has no pad token and none of "
        f"{candidates} to use as one; set tokenizer.pad_token to an existing token other than {eot!r}"
    )


# ---------------------------------------------------------------------------------------
# Encoding with context truncation
# ---------------------------------------------------------------------------------------


@dataclass
class FittedPrompt:
    """A prompt shortened to the token budget."""

    input_ids: list[int]
    kept_context_chars: int
    """Characters of the context kept (``len(context)`` when nothing was cut)."""
    over_budget: bool = False
    """True when even an empty context leaves the prompt over the budget (a very long question)."""

    def truncated(self, context: str) -> bool:
        return self.kept_context_chars < len(context)


def fit_prompt(tokenizer: Any, question: str, context: str, max_tokens: int, system_prompt: str = SYSTEM_PROMPT) -> FittedPrompt:
    """Render and encode a prompt of at most ``max_tokens`` tokens by cutting the end of the
    context; the template and the question are never cut.

    The cut falls on a context token boundary (from the tokenizer's offsets); a second
    pass fixes the rare off-by-a-few that re-tokenisation at the cut causes.
    """
    ids = encode(tokenizer, render_prompt(tokenizer, question, context, system_prompt))
    if len(ids) <= max_tokens:
        return FittedPrompt(ids, len(context))
    enc = tokenizer(context, add_special_tokens=False, return_offsets_mapping=True)
    offsets = enc["offset_mapping"]
    budget = max_tokens - (len(ids) - len(offsets))
    while True:
        budget = max(0, min(budget, len(offsets)))
        kept = int(offsets[budget - 1][1]) if budget > 0 else 0
        ids = encode(tokenizer, render_prompt(tokenizer, question, context[:kept], system_prompt))
        if len(ids) <= max_tokens:
            return FittedPrompt(ids, kept)
        if budget == 0:
            return FittedPrompt(ids, 0, over_budget=True)
        budget -= len(ids) - max_tokens


@dataclass
class EncodedPrompts:
    """Tokenised generative training (or validation-loss) examples and what truncation did."""

    input_ids: list[list[int]]
    labels: list[list[int]]
    example_ids: list[str]
    truncated_contexts: int = 0
    """Prompts whose context was cut to fit ``max_seq_length``."""
    truncated_answers: int = 0
    """Answerable examples whose gold answer was cut away with the context."""
    dropped: int = 0
    """Examples left out (``on_truncated_answer="drop"``)."""
    over_budget: int = 0
    """Prompts still over ``max_seq_length`` with the whole context cut (long questions)."""
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def n_tokens(self) -> int:
        """Real (non-padding) tokens: the sum of the attention masks once padded."""
        return sum(len(ids) for ids in self.input_ids)

    def to_dataset(self) -> datasets.Dataset:
        """A ``datasets.Dataset`` with ``input_ids``, ``attention_mask`` and ``labels`` (unpadded)."""
        import datasets

        return datasets.Dataset.from_dict(
            {
                "input_ids": self.input_ids,
                "attention_mask": [[1] * len(ids) for ids in self.input_ids],
                "labels": self.labels,
            }
        )

    def summary(self) -> dict[str, int]:
        return {
            "examples": len(self.input_ids),
            "tokens": self.n_tokens,
            "truncated_contexts": self.truncated_contexts,
            "truncated_answers": self.truncated_answers,
            "dropped": self.dropped,
            "over_budget": self.over_budget,
        }


def training_answer(example: Example) -> tuple[str, int] | None:
    """The (text, start) the model is trained to write: the first gold answer, None when
    the question is unanswerable."""
    if example.is_impossible or not example.answers:
        return None
    first = example.answers[0]
    return first.text, first.answer_start


def encode_for_training(
    tokenizer: Any,
    examples: Sequence[Example],
    spec: ModelSpec,
    *,
    on_truncated_answer: Literal["no_answer", "drop"] = "no_answer",
) -> EncodedPrompts:
    """Prompt + target token ids and labels for every example, prompts written with
    ``spec``'s system prompt.

    With ``spec.loss_mask == "answer"``, ``labels`` is -100 on every prompt token and equals
    ``input_ids`` on the target: the answer (or no-answer reply) tokens and the end-of-turn
    token; with ``"prompt_and_answer"`` it equals ``input_ids`` everywhere. A gold answer cut
    away by context truncation becomes the no-answer reply (``"no_answer"``) or drops the
    example (``"drop"``).
    """
    eot_id = end_of_turn_id(tokenizer, spec)
    system_prompt = system_prompt_of(spec)
    out = EncodedPrompts(input_ids=[], labels=[], example_ids=[])
    for example in examples:
        fitted = fit_prompt(tokenizer, example.question, example.context, spec.max_seq_length, system_prompt)
        answer = training_answer(example)
        if fitted.truncated(example.context):
            out.truncated_contexts += 1
        out.over_budget += int(fitted.over_budget)
        if answer is not None and answer[1] + len(answer[0]) > fitted.kept_context_chars:
            out.truncated_answers += 1
            if on_truncated_answer == "drop":
                out.dropped += 1
                continue
            answer = None
        target_ids = encode(tokenizer, render_target(answer[0] if answer else None, spec))
        if not target_ids or target_ids[-1] != eot_id:
            raise ValueError(f"model {spec.name}: target of {example.id!r} does not end with the end-of-turn token")
        out.input_ids.append(fitted.input_ids + target_ids)
        prompt_labels = fitted.input_ids if spec.loss_mask == "prompt_and_answer" else [IGNORE_INDEX] * len(fitted.input_ids)
        out.labels.append(prompt_labels + target_ids)
        out.example_ids.append(example.id)
    out.stats = out.summary()
    return out


def encode_prompts(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec) -> tuple[list[list[int]], int]:
    """Prompt ids for prediction (same prompt and truncation as training) and how many were cut."""
    system_prompt = system_prompt_of(spec)
    prompts, truncated = [], 0
    for example in examples:
        fitted = fit_prompt(tokenizer, example.question, example.context, spec.max_seq_length, system_prompt)
        truncated += int(fitted.truncated(example.context))
        prompts.append(fitted.input_ids)
    return prompts, truncated


__all__ = [
    "IGNORE_INDEX",
    "NO_ANSWER",
    "SYSTEM_PROMPT",
    "USER_TEMPLATE",
    "EncodedPrompts",
    "FittedPrompt",
    "encode",
    "encode_for_training",
    "encode_prompts",
    "end_of_turn_id",
    "ensure_pad_token",
    "fit_prompt",
    "is_no_answer",
    "messages",
    "no_answer_token_id",
    "render_prompt",
    "render_target",
    "system_prompt_of",
    "target_text",
]
