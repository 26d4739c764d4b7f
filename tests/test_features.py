"""Span features: windows, offsets and start/end labels cut back to the answer text."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from qa_models.config import ModelSpec
from qa_models.data import Answer, Example, load_examples
from qa_models.features import NOT_CONTEXT, build_eval_windows, build_train_features

DATA = Path(os.environ.get("QABENCH_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
SQUAD_TRAIN = DATA / "squad_v2" / "train-v2.0-first10.json"


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    from qa_models.profiles import ProfileError, minilm_model_path

    try:
        return AutoTokenizer.from_pretrained(minilm_model_path())
    except ProfileError as error:
        pytest.skip(str(error))


def _labelled_text(dataset, windows_offsets, example_index, examples):
    """Cut every labelled (non-null) window span back out of its context."""
    starts = np.asarray(dataset["start_positions"])
    ends = np.asarray(dataset["end_positions"])
    out = []
    for f, (s, e) in enumerate(zip(starts, ends)):
        if windows_offsets[f, s, 0] == NOT_CONTEXT:
            out.append(None)  # the no-answer position
            continue
        context = examples[example_index[f]].context
        out.append(context[windows_offsets[f, s, 0] : windows_offsets[f, e, 1]])
    return out


def _check_labels(tokenizer, examples, spec):
    dataset = build_train_features(tokenizer, examples, spec)
    windows = build_eval_windows(tokenizer, examples, spec)
    assert len(dataset) == len(windows.example_index)
    cut = _labelled_text(dataset, windows.offsets, windows.example_index, examples)
    contains = equals = labelled = 0
    for f, text in enumerate(cut):
        example = examples[windows.example_index[f]]
        if text is None:
            continue
        labelled += 1
        gold = example.answers[0].text
        contains += gold in text
        equals += gold == text
    return labelled, contains, equals, windows


@pytest.mark.skipif(not SQUAD_TRAIN.is_file(), reason=f"shared data not found at {SQUAD_TRAIN} (set QABENCH_DATA_DIR)")
@pytest.mark.parametrize("question_first", [True, False], ids=["question-first", "context-first"])
def test_labels_cut_back_to_the_answer_on_real_squad(minilm_tokenizer, question_first):
    examples = [e for e in load_examples(SQUAD_TRAIN).examples if not e.is_impossible]
    spec = ModelSpec(name="probe", model_id="unused", question_first=question_first,
                     no_answer_position="first" if question_first else "last")
    labelled, contains, equals, windows = _check_labels(minilm_tokenizer, examples, spec)
    print(f"\n{len(examples)} answerable questions, {labelled} windows hold their answer: "
          f"span contains answer {contains} ({contains / labelled:.2%}), equals it {equals} ({equals / labelled:.2%})")
    assert labelled >= len(examples)  # every answer lies in at least one window
    assert contains == labelled
    assert equals / labelled >= 0.99


def test_long_context_answers_in_later_windows_and_across_edges():
    from qa_models.tiny import build_tiny_model, tiny_model_dir
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model("bert", tiny_model_dir("bert")))
    filler = " ".join(f"word{i}" for i in range(300))
    examples = []
    for k, position in enumerate([10, 200, 600, 1500, len(filler) - 30]):
        start = filler.index(" ", position) + 1
        end = filler.index(" ", start + 12)
        text = filler[start:end]
        examples.append(Example(f"q{k}", "t", filler, "which words?", (Answer(text, start),), False))
    spec = ModelSpec(name="probe", model_id="unused", max_seq_length=64, doc_stride=24)
    labelled, contains, equals, windows = _check_labels(tokenizer, examples, spec)
    assert len(windows.example_index) > len(examples)  # the context really overflows
    assert contains == labelled == equals
    # Every example, including the one near the end, is labelled in at least one window.
    dataset = build_train_features(tokenizer, examples, spec)
    labelled_examples = {windows.example_index[f] for f, s in enumerate(dataset["start_positions"]) if s != 0}
    assert labelled_examples == set(range(len(examples)))


def test_unanswerable_and_outside_windows_point_at_the_null_position():
    from qa_models.tiny import build_tiny_model, tiny_model_dir
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model("llama3", tiny_model_dir("llama3")))
    tokenizer.pad_token = tokenizer.eos_token
    context = " ".join(f"item{i}" for i in range(200))
    start = context.index("item150")
    examples = [
        Example("a", "t", context, "where?", (Answer("item150", start),), False),
        Example("b", "t", context, "nothing?", (), True),
    ]
    spec = ModelSpec(name="probe", model_id="unused", question_first=False, no_answer_position="last", max_seq_length=64, doc_stride=16)
    dataset = build_train_features(tokenizer, examples, spec)
    windows = build_eval_windows(tokenizer, examples, spec)
    starts = np.asarray(dataset["start_positions"])
    null = windows.null_index
    # All windows of the unanswerable question, and all but the answer's windows, label the null token.
    b = windows.example_index == 1
    assert np.all(starts[b] == null[b])
    a = windows.example_index == 0
    assert 1 <= np.sum(starts[a] != null[a]) < np.sum(a)
    # The null token of a decoder window is its last real token, a question token, never context.
    for f in range(len(null)):
        assert windows.offsets[f, null[f], 0] == NOT_CONTEXT
