"""Odd and long contexts through span features and span decoding, for the three kinds of
tokenizer the harness meets: WordPiece (tiny BERT: unknown characters become [UNK]),
byte-level BPE (tiny Llama 3: a Chinese character or an emoji is several byte tokens) and
byte-level BPE behind an NFC normalizer (tiny Qwen: "e" + U+0301 becomes one character
before tokenizing, so offsets must map back through the normalization).

Two properties, for Chinese, emoji (including ZWJ sequences and skin-tone modifiers),
combining characters, and contexts many windows long with answers in later windows and
across window edges:

* the labelled span of every window that holds the answer, cut from the context with the
  window's offsets, contains the answer (a token may be wider than the answer: a WordPiece
  [UNK] covers its whole word, a byte-level token its leading space);
* ``decode_spans`` fed logits that peak on the labelled tokens returns exactly that
  context substring: answers are sliced from the context, never rebuilt from tokens, so
  "[UNK]" or a broken UTF-8 byte can never appear in one.
"""

from __future__ import annotations

import numpy as np
import pytest

from qa_models.config import ModelSpec
from qa_models.data import Answer, Example
from qa_models.features import NOT_CONTEXT, build_eval_windows, build_train_features
from qa_models.postprocess import decode_spans

# (kind, question_first, no_answer_position): the orders the tiny profile uses for each.
TOKENIZERS = {
    "bert-wordpiece": ("bert", True, "first"),
    "llama3-byte-bpe": ("llama3", False, "last"),
    "qwen-byte-bpe-nfc": ("qwen", False, "last"),
}
WINDOW = dict(max_seq_length=64, doc_stride=24)


@pytest.fixture(scope="module", params=list(TOKENIZERS), ids=list(TOKENIZERS))
def setup(request):
    from transformers import AutoTokenizer

    from qa_models.tiny import build_tiny_model, tiny_model_dir

    kind, question_first, null = TOKENIZERS[request.param]
    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model(kind, tiny_model_dir(kind)))
    tokenizer.padding_side = "right"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    spec = ModelSpec(name=f"probe-{kind}", model_id="unused", question_first=question_first, no_answer_position=null, **WINDOW)
    return tokenizer, spec


def _example(qid: str, context: str, answer: str, occurrence: int = 0, question: str = "What is it?") -> Example:
    start = -1
    for _ in range(occurrence + 1):
        start = context.index(answer, start + 1)
    return Example(qid, "odd", context, question, (Answer(answer, start),), False)


def _labelled_spans(tokenizer, examples, spec):
    """Per window: (example index, start token, end token, cut text or None for null)."""
    dataset = build_train_features(tokenizer, examples, spec)
    windows = build_eval_windows(tokenizer, examples, spec)
    assert len(dataset) == len(windows.example_index)
    out = []
    for f, (s, e) in enumerate(zip(dataset["start_positions"], dataset["end_positions"])):
        ex = int(windows.example_index[f])
        if s == windows.null_index[f]:
            assert e == s
            out.append((ex, s, e, None))
            continue
        assert windows.offsets[f, s, 0] != NOT_CONTEXT and windows.offsets[f, e, 0] != NOT_CONTEXT
        context = examples[ex].context
        out.append((ex, s, e, context[windows.offsets[f, s, 0] : windows.offsets[f, e, 1]]))
    return out, windows, dataset


def _check(tokenizer, spec, examples):
    """Both properties for ``examples``; returns the windows and the cut texts."""
    labels, windows, dataset = _labelled_spans(tokenizer, examples, spec)
    labelled = {ex for ex, _, _, text in labels if text is not None}
    assert labelled == set(range(len(examples))), f"examples without a labelled window: {set(range(len(examples))) - labelled}"
    for ex, _, _, text in labels:
        if text is not None:
            gold = examples[ex].answers[0].text
            assert gold in text, f"{examples[ex].id}: labelled {text!r} does not contain {gold!r}"
            assert len(text) <= len(gold) + 12, f"{examples[ex].id}: labelled {text!r} is far wider than {gold!r}"

    # Logits that peak on the labelled tokens (the first labelled window of each example wins).
    n, width = windows.offsets.shape[:2]
    start_logits = np.zeros((n, width), dtype=np.float32)
    end_logits = np.zeros((n, width), dtype=np.float32)
    for f, (_, s, e, text) in enumerate(labels):
        if text is not None:
            start_logits[f, s] = end_logits[f, e] = 10.0
    answers, na_scores, _ = decode_spans(
        start_logits, end_logits, windows.offsets, windows.example_index, windows.null_index,
        [e.context for e in examples], n_best_size=20, max_answer_length=30,
    )
    first_label = {}
    for ex, _, _, text in labels:
        if text is not None:
            first_label.setdefault(ex, text)
    for ex, (example, answer) in enumerate(zip(examples, answers)):
        assert answer == first_label[ex], f"{example.id}: decoded {answer!r}, labelled {first_label[ex]!r}"
        assert answer in example.context and example.answers[0].text in answer
        assert "[UNK]" not in answer and "\ufffd" not in answer
    assert np.all(na_scores < 0), "the labelled span must beat the no-answer score"
    return labels, windows, dataset, answers


# -- short odd contexts ------------------------------------------------------------------------


CHINESE = "北京是中华人民共和国的首都，位于华北平原的北部。长城全长两万一千多公里，是世界上最长的建筑。"
EMOJI = "The party 🎉 started at 9pm and the cake 🎂 was chocolate. Thumbs up 👍🏽 from the 👩‍💻 team in 🇫🇷 Paris!"
COMBINING = "The cafe\u0301 on Rue de l'E\u0301glise serves cre\u0300me bru\u0302le\u0301e to 12 people."


def test_chinese(setup):
    tokenizer, spec = setup
    examples = [
        _example("zh-1", CHINESE, "华北平原"),
        _example("zh-2", CHINESE, "两万一千多公里"),
        _example("zh-3", CHINESE, "北京"),  # the very first characters of the context
        _example("zh-4", CHINESE, "建筑"),  # the last word before the final full stop
    ]
    _check(tokenizer, spec, examples)


def test_emoji(setup):
    tokenizer, spec = setup
    examples = [
        _example("emoji-1", EMOJI, "cake 🎂"),
        _example("emoji-2", EMOJI, "🎉"),
        _example("emoji-3", EMOJI, "👍🏽"),  # thumbs up + skin-tone modifier: two code points
        _example("emoji-4", EMOJI, "👩‍💻 team"),  # woman, ZWJ, laptop: three code points
        _example("emoji-5", EMOJI, "🇫🇷 Paris"),  # two regional indicators
    ]
    labels, windows, dataset, answers = _check(tokenizer, spec, examples)
    if spec.name == "probe-bert":
        # WordPiece has never seen these characters: the labelled tokens include [UNK], yet
        # every decoded answer above is the emoji itself, cut from the context.
        f, s, e = next((f, s, e) for f, (ex, s, e, t) in enumerate(labels) if ex == 1 and t is not None)
        assert tokenizer.unk_token_id in dataset[f]["input_ids"][s : e + 1]


def test_combining_characters(setup):
    tokenizer, spec = setup
    examples = [
        _example("comb-1", COMBINING, "cafe\u0301"),
        _example("comb-2", COMBINING, "cre\u0300me bru\u0302le\u0301e"),
        _example("comb-3", COMBINING, "E\u0301glise"),
        _example("comb-4", COMBINING, "cafe"),  # an answer that stops before the combining accent
    ]
    _check(tokenizer, spec, examples)


def test_combining_accent_stays_with_its_letter(setup):
    """The labelled (and so the decoded) span of an answer that ends in "e" + U+0301 is the
    answer itself, give or take the leading space a byte-level token carries.

    Uncased WordPiece (BERT, strip_accents) deletes the combining mark and Qwen's NFC folds
    "e" + U+0301 into one character aligned to the "e" alone, so no token's offsets cover
    the mark; features._context_offsets extends each token's end over the marks after it.
    Without that, the label of "cafe\u0301" became "cafe\u0301 on" and a model predicting the
    token "cafe" answered "cafe". Byte-level BPE without a normalizer (Llama 3) needs no help.
    """
    tokenizer, spec = setup
    examples = [
        _example("comb-1", COMBINING, "cafe\u0301"),
        _example("comb-2", COMBINING, "cre\u0300me bru\u0302le\u0301e"),
        _example("comb-3", COMBINING, "E\u0301glise"),
    ]
    labels, *_ = _check(tokenizer, spec, examples)
    for ex, _, _, text in labels:
        if text is not None:
            assert text.strip() == examples[ex].answers[0].text, f"labelled {text!r} for {examples[ex].answers[0].text!r}"


# -- long contexts ---------------------------------------------------------------------------


def _filler(n: int) -> str:
    return " ".join(f"word{i}" for i in range(n))


def test_answers_in_later_windows(setup):
    tokenizer, spec = setup
    long_en = _filler(400)
    long_zh = "".join(f"第{i}段。" for i in range(200))
    examples = [
        _example("late-en", long_en, "word390 word391"),
        _example("last-en", long_en, "word399"),  # the last word of the context
        _example("late-zh", long_zh, "第190段"),
        _example("mixed", long_en + " 😀 " + long_zh, "第77段"),
    ]
    labels, windows, *_ = _check(tokenizer, spec, examples)
    for ex in range(len(examples)):
        n_windows = int(np.sum(windows.example_index == ex))
        assert n_windows >= 4, f"{examples[ex].id}: only {n_windows} windows; the test needs a long context"
        first_labelled = min(f for f, (e, _, _, t) in enumerate(labels) if e == ex and t is not None)
        assert first_labelled > np.flatnonzero(windows.example_index == ex)[0], f"{examples[ex].id}: answer is in the first window"


def _window_edges(tokenizer, spec, context):
    """(last character of window 0's context, first character of window 1's context)."""
    probe = Example("edge", "t", context, "What is it?", (), True)
    windows = build_eval_windows(tokenizer, [probe], spec)
    assert len(windows.example_index) >= 3
    inside = windows.offsets[0, :, 0] != NOT_CONTEXT
    return int(windows.offsets[0][inside][:, 1].max()), int(windows.offsets[1][windows.offsets[1, :, 0] != NOT_CONTEXT][:, 0].min())


@pytest.mark.parametrize("text", ["english", "chinese"])
def test_answer_across_a_window_edge(setup, text):
    """An answer that starts in window 0 and ends after it: window 0 must label "no answer"
    (it holds only part of the answer), window 1 holds all of it and labels it."""
    tokenizer, spec = setup
    context = _filler(200) if text == "english" else "".join(f"第{i}段。" for i in range(120))
    end_of_first, start_of_second = _window_edges(tokenizer, spec, context)
    assert start_of_second < end_of_first  # the windows overlap by doc_stride tokens
    # From a few characters before window 0's end to a few after it, cut at word boundaries.
    if text == "english":
        start = context.rindex(" ", 0, end_of_first - 3) + 1
        end = context.index(" ", end_of_first + 2)
    else:
        start = context.rindex("第", 0, end_of_first - 1)
        end = context.index("。", end_of_first + 1)
    answer = context[start:end]
    assert start < end_of_first < end, (start, end_of_first, end)
    labels, windows, *_ = _check(tokenizer, spec, [Example("edge", "t", context, "What is it?", (Answer(answer, start),), False)])
    assert labels[0][3] is None, "window 0 holds only part of the answer and must point at the null position"
    assert labels[1][3] is not None and answer in labels[1][3]
