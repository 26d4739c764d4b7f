"""How much of a text a tokenizer's vocabulary covers: the share of "unknown" tokens.

The founding experiment's bert-base-uncased answered Chinese probes with ``[UNK]`` pieces;
this module puts a number on that before any model is trained. What "unknown" means
depends on the kind of vocabulary, so every result says which definition it used:

``kind == "unk"`` (WordPiece, SentencePiece/Unigram without byte fallback)
    A character the vocabulary lacks becomes ``unk_token`` and is *lost*: the text cannot be
    rebuilt from the tokens. A token is unknown when its id is ``tokenizer.unk_token_id``.

``kind == "byte_fallback"`` (byte-level BPE as in GPT-2, Llama 3 and Qwen; SentencePiece
with ``byte_fallback``)
    Nothing is lost: a character the vocabulary has no unit for is spelt with byte tokens.
    A token counts as a byte fallback when it carries *part* of a character:

    * byte-level BPE: the token's bytes (the token string mapped back through the
      byte-to-unicode table of byte-level BPE) are not valid UTF-8 on their own. A lone
      non-ASCII byte always is; a 3-byte CJK character split into 2 + 1 bytes gives two such
      tokens; a token holding whole characters (ASCII, or a merged "中") never is.
    * SentencePiece byte fallback: the token is ``<0xNN>`` with ``NN >= 0x80``. (ASCII bytes
      such as ``<0x0A>`` for a newline are how those vocabularies spell control characters
      by design, not a gap.)

    Tokens added to the vocabulary as whole strings (special tokens) never count.

In both cases ``share = n_unknown / n_tokens`` over the tokens of all texts, encoded without
special tokens and without truncation (a long context counts in full); it is 0.0 when
there are no tokens. The shares of the two kinds are not the same quantity: an ``[UNK]``
is one token per unknown word piece, a byte fallback one token per byte fragment. Compare
models within a kind, or read the kind next to the number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

CoverageKind = Literal["unk", "byte_fallback"]

_SENTENCEPIECE_BYTE = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


@dataclass(frozen=True)
class CoverageResult:
    """The share of unknown tokens in some texts, and how "unknown" was defined (``kind``)."""

    share: float
    """``n_unknown / n_tokens`` (0.0 when there are no tokens)."""
    n_tokens: int
    """Tokens of all texts, special tokens excluded."""
    n_unknown: int
    """``unk_token`` ids (kind "unk") or tokens carrying part of a character (kind "byte_fallback")."""
    kind: CoverageKind
    """Which definition of unknown applies; see the module docstring."""

    def as_dict(self) -> dict[str, Any]:
        return {"share": self.share, "n_tokens": self.n_tokens, "n_unknown": self.n_unknown, "kind": self.kind}


def _byte_level_alphabet() -> dict[str, int]:
    """Byte-level BPE's printable stand-in character for each byte, inverted (char -> byte).

    Bytes that are printable Latin-1 (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``) stand for
    themselves; the other 68 bytes, in increasing order, take the code points from 256 on.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table = {chr(b): b for b in printable}
    extra = 0
    for b in range(256):
        if b not in printable:
            table[chr(256 + extra)] = b
            extra += 1
    return table


_BYTE_LEVEL = _byte_level_alphabet()


def _backend_json(tokenizer: Any) -> dict[str, Any] | None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    return json.loads(backend.to_str())


def _components(node: Any) -> list[str]:
    """Types of a normaliser/pre-tokeniser/decoder node, Sequence members included."""
    if not isinstance(node, dict):
        return []
    types = [node.get("type", "")]
    for key in ("pretokenizers", "decoders", "normalizers"):
        for child in node.get(key) or []:
            types += _components(child)
    return types


def tokenizer_kind(tokenizer: Any) -> tuple[CoverageKind, str]:
    """(kind, detail): ``("byte_fallback", "byte_level")``, ``("byte_fallback", "sentencepiece")``
    or ``("unk", "unk_token")``.

    Byte-level BPE is recognised by a ``ByteLevel`` pre-tokeniser or decoder in the fast
    tokenizer (checked first: Qwen's tokenizer declares an ``unk_token`` that byte-level BPE
    never emits); SentencePiece byte fallback by the model's ``byte_fallback`` flag.

    Raises:
        ValueError: a tokenizer that is neither byte-level nor has an ``unk_token_id``.
    """
    spec = _backend_json(tokenizer)
    if spec is not None:
        if "ByteLevel" in _components(spec.get("pre_tokenizer")) + _components(spec.get("decoder")):
            return "byte_fallback", "byte_level"
        if (spec.get("model") or {}).get("byte_fallback"):
            return "byte_fallback", "sentencepiece"
    if getattr(tokenizer, "unk_token_id", None) is not None:
        return "unk", "unk_token"
    raise ValueError(
        f"{type(tokenizer).__name__}: cannot tell how it encodes unknown text (no byte-level "
        "BPE, no byte fallback, no unk_token)"
    )


def is_partial_byte_token(token: str) -> bool:
    """A byte-level BPE token whose bytes are not valid UTF-8 on their own (part of a character)."""
    try:
        raw = bytes(_BYTE_LEVEL[ch] for ch in token)
    except KeyError:
        return False  # a token added as a whole string (a special token), not byte-level
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _is_sentencepiece_high_byte(token: str) -> bool:
    match = _SENTENCEPIECE_BYTE.match(token)
    return bool(match) and int(match.group(1), 16) >= 0x80


def _plain_backend(tokenizer: Any) -> Any:
    """A private copy of the fast tokenizer's backend with truncation and padding off (some
    tokenizer.json files switch truncation on, e.g. at 128 tokens), or None for a slow one.
    A copy, so the caller's tokenizer is left as it was."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    from tokenizers import Tokenizer

    plain = Tokenizer.from_str(backend.to_str())
    plain.no_truncation()
    plain.no_padding()
    return plain


def _encode(tokenizer: Any, backend: Any, texts: list[str]) -> tuple[list[list[int]], list[list[str]]]:
    """Ids and token strings of each text, without special tokens, truncation or padding."""
    if backend is not None:
        encodings = backend.encode_batch(texts, add_special_tokens=False)
        return [e.ids for e in encodings], [e.tokens for e in encodings]
    ids = [tokenizer.encode(t, add_special_tokens=False, truncation=False) for t in texts]
    return ids, [tokenizer.convert_ids_to_tokens(i) for i in ids]


def unknown_token_share(tokenizer: Any, texts: Iterable[str], batch_size: int = 256) -> CoverageResult:
    """The share of unknown tokens when ``tokenizer`` encodes ``texts`` (see the module docstring).

    Args:
        tokenizer: a transformers tokenizer (fast tokenizers are encoded through their
            ``backend_tokenizer``, so long texts raise no length warning).
        texts: the texts, e.g. the distinct contexts of a data set; an empty iterable gives
            share 0.0 over 0 tokens.
        batch_size: texts encoded per call.
    """
    kind, detail = tokenizer_kind(tokenizer)
    unk_id = getattr(tokenizer, "unk_token_id", None)
    texts = list(texts)
    backend = _plain_backend(tokenizer)
    n_tokens = n_unknown = 0
    for start in range(0, len(texts), batch_size):
        ids, tokens = _encode(tokenizer, backend, texts[start : start + batch_size])
        for row_ids, row_tokens in zip(ids, tokens):
            n_tokens += len(row_ids)
            if kind == "unk":
                n_unknown += sum(1 for i in row_ids if i == unk_id)
            elif detail == "byte_level":
                n_unknown += sum(1 for t in row_tokens if is_partial_byte_token(t))
            else:
                n_unknown += sum(1 for t in row_tokens if _is_sentencepiece_high_byte(t))
    share = n_unknown / n_tokens if n_tokens else 0.0
    return CoverageResult(share=share, n_tokens=n_tokens, n_unknown=n_unknown, kind=kind)


def distinct_contexts(examples: Iterable[Any]) -> list[str]:
    """The contexts of ``examples`` (anything with ``.context``), each once, in first-seen order.

    Questions share contexts; counting a paragraph once per question would weight
    paragraphs by how many questions they have.
    """
    return list(dict.fromkeys(e.context for e in examples))


__all__ = [
    "CoverageKind",
    "CoverageResult",
    "distinct_contexts",
    "is_partial_byte_token",
    "tokenizer_kind",
    "unknown_token_share",
]
