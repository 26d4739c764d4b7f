"""The one definition and the one producer of ``results.json``.

Every piece a run records about a model is a typed row here: the runner builds them, this
module alone writes the file, and the report reads it back through :func:`read_results`
and the same field names (``dataclasses.fields`` of each record), never by key prefix.

Schema version 2 nests each measurement in its own section of a model row (``inference``,
``abstention``, ``coverage``, ``cross_lingual``, ``speed``); a section that a run did not
measure is ``null``, and the report says "not measured" for it. Version 3 adds each row's
``weights_note``, recorded at run time, so the report is a function of results.json alone
(version 2 reports read it from the model folder); a version-2 file reads as version 3 with
no notes. Version 1 flattened the sections into ``extra`` as ``<section>_<key>`` and is not
read any more.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dacite

from .files import atomic_write_text

SCHEMA_VERSION = 3
READABLE_VERSIONS = (2, 3)
"""Versions :func:`read_results` accepts; each older one lacks only fields that have defaults."""
RESULTS_JSON = "results.json"

MemoryKind = Literal["cuda", "cpu_rss", "cpu_rss_train", "mps"]
DeviceKind = Literal["cuda", "cpu", "mps"]


class ResultsError(ValueError):
    """A results.json that does not follow this schema; the message names the file and the field."""


# -- the sections of a model row -------------------------------------------------------


@dataclass
class Parameters:
    total: int
    """Every parameter of the model as evaluated (LoRA adapters and new heads included)."""
    trainable: int
    """Parameters the fine-tune updated; 0 for a zero-shot row."""


@dataclass
class TrainRecord:
    """How the model was trained, measured by the Trainer run (or read from the cached checkpoint's record)."""

    epochs: float
    learning_rate: float
    batch_size: int
    wall_time_s: float
    examples_per_s: float
    """Training examples (span windows or prompts) per second."""
    tokens_per_s: float
    """Real (non-padding) tokens per second."""
    peak_memory_bytes: int | None
    memory_kind: str
    """``cuda`` (torch.cuda.max_memory_allocated), ``cpu_rss_train`` (the process's resident set
    sampled while ``trainer.train()`` ran) or ``cpu_rss`` (the process's lifetime resident-set
    high-water mark, what runs before that measurement recorded)."""
    device: str
    """Display name of the training device, e.g. ``NVIDIA H100 80GB HBM3`` or ``cpu (2 cores)``."""
    device_kind: str | None
    """``cuda``, ``mps`` or ``cpu``: recorded at the source, never parsed from ``device``."""
    cached: bool
    """True when this run loaded the checkpoint instead of training it (the numbers are the original run's)."""
    history: dict[str, Any]
    """``loss``: [{step, epoch, loss}], ``eval``: [{epoch, exact, f1, ...}] (validation after every epoch)."""
    checkpoint: str | None = None
    """The cache entry's checkpoint folder (``python -m qa_models.ask`` loads it); None when not saved."""


@dataclass
class InferenceRecord:
    """Prediction speed, measured by the runner on every model (not by whichever tests ran)."""

    questions_per_s: float
    """The whole test set predicted at ``batch_size``."""
    test_questions: int
    batch_size: int
    device: str
    """Where prediction ran now (a cached checkpoint may have been trained elsewhere)."""
    latency_p50_s: float | None = None
    """One question at a time (batch 1), median over ``latency_rounds``."""
    latency_p95_s: float | None = None
    latency_rounds: int = 0


@dataclass
class AbstentionRecord:
    """What the tuned threshold hides, on test: span quality apart from the no-answer decision."""

    share_abstained: float
    """Test questions answered "" at the threshold tuned on validation."""
    never_abstain_HasAns_exact: float | None
    never_abstain_HasAns_f1: float | None
    """Answerable questions scored as if the model never abstained (its span quality alone)."""
    no_answer_auroc: float | None
    """How well the no-answer probability ranks unanswerable above answerable questions (0.5 is chance)."""
    span_head_auroc: float | None = None
    verifier_auroc: float | None = None
    """Rows with an answerability head (``ModelSpec.answerability_head``): the same AUROC of each
    part of the decision alone, the span head's null score and the verifier's logit; None otherwise."""


@dataclass
class CoverageRecord:
    """Share of the distinct test contexts' tokens the tokenizer cannot represent as whole characters."""

    kind: str
    """``unk`` ([UNK] tokens: the text is lost) or ``byte_fallback`` (byte pieces: nothing is lost)."""
    share: float
    n_unknown: int
    n_tokens: int
    n_contexts: int


@dataclass
class CrossLingualRecord:
    """A SQuAD-trained checkpoint scored on CMRC 2018 (Chinese) with the CMRC metric."""

    exact: float
    f1: float
    total: int
    unk_share: float
    unk_kind: str
    source: str
    repaired_offsets: int
    skipped_records: int


@dataclass
class SpeedRecord:
    """The speed suite: the same short budget trained plain and fast, and predicted both ways."""

    train_questions: int
    predict_questions: int
    device: str
    memory_kind: str
    train_examples_per_s: dict[str, float]
    """Per configuration (``plain``, ``fast``)."""
    train_tokens_per_s: dict[str, float]
    peak_memory_bytes: dict[str, int | None]
    predict_questions_per_s: dict[str, float | None]
    train_ratio_fast_over_plain: float
    predict_ratio_fast_over_plain: float | None
    """None for an adapter with one prediction path."""
    predict_modes: str


@dataclass
class QuestionRow:
    """One test question as scored at the tuned threshold (exact 0|1, f1 in [0, 1])."""

    id: str
    question: str
    has_answer: bool
    gold: list[str]
    prediction: str
    exact: int
    f1: float


@dataclass
class ProbeAnswer:
    """One of the founding experiment's probe questions, answered with the tuned threshold."""

    id: str
    lang: str
    question: str
    context: str
    answer: str
    span_if_answering: str
    na_prob: float
    documented_bert_answer: str | None
    expected_answer: str | None


@dataclass
class ModelResult:
    """One model's row of results.json."""

    name: str
    model_id: str
    family: str
    method: str
    quantize: str
    zero_shot: bool
    lora: dict[str, Any] | None
    parameters: Parameters
    train: TrainRecord | None
    """None for a zero-shot row."""
    cost_estimate: dict[str, Any] | None
    """The estimate printed before training (``qa_models.cost``), None when none was made."""
    threshold: float | None
    """No-answer threshold tuned on validation; None means "never abstain" (CMRC)."""
    validation: dict[str, float | int | None]
    test: dict[str, float | int | None]
    """Official scorer output on test at ``threshold``."""
    test_per_question: list[QuestionRow]
    probes: list[ProbeAnswer]
    inference: InferenceRecord | None = None
    abstention: AbstentionRecord | None = None
    """On test; None for a track without unanswerable questions."""
    validation_abstention: AbstentionRecord | None = None
    """The same diagnostics on validation, where fixes for a model that abstains are judged
    (never on test)."""
    prediction: dict[str, int | float | str | None] = field(default_factory=dict)
    """The adapter's scalar counters of its test predictions (span windows, snapped answers, ...)."""
    coverage: CoverageRecord | None = None
    cross_lingual: CrossLingualRecord | None = None
    speed: SpeedRecord | None = None
    weights_note: str | None = None
    """What the report must say about where the weights came from, read when the run loaded
    them (``gguf.quantisation_note``: "Q4_1 weights dequantised: ..."); None for original weights."""


SECTIONS: dict[str, type] = {
    "inference": InferenceRecord,
    "abstention": AbstentionRecord,
    "validation_abstention": AbstentionRecord,
    "coverage": CoverageRecord,
    "cross_lingual": CrossLingualRecord,
    "speed": SpeedRecord,
}
"""Optional measurement sections of a model row, by field name: ``None`` means not measured."""


@dataclass
class RunMetadata:
    """The ``run`` object: what ran, on what, with which data and code."""

    run_id: str
    profile: str
    track: str
    question: str
    started: str
    finished: str
    seed: int
    git_commit: str | None
    """HEAD when the run started, with " (uncommitted changes)" when tracked files differed."""
    environment: dict[str, Any]
    data_files: dict[str, dict[str, Any]]
    skipped_records: dict[str, int]
    repaired_offsets: int
    dropped_answers: int
    train_spec: dict[str, Any]


@dataclass
class Results:
    run: RunMetadata
    models: list[ModelResult]
    schema_version: int = SCHEMA_VERSION

    def model(self, name: str) -> ModelResult:
        return next(m for m in self.models if m.name == name)


# -- reading and writing -----------------------------------------------------------------


def _plain(value: Any) -> Any:
    """JSON types from what the runner collected: numpy scalars and arrays become numbers and
    lists, tuples become lists, and non-finite floats become null (NaN is not JSON)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy scalar or array, without importing numpy
        return _plain(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise ResultsError(f"results: value of type {type(value).__name__} is not JSON-serialisable: {value!r:.80}")


def to_plain(value: Any) -> Any:
    """JSON types from a producer's plain dict (numpy values, tuples, NaN), for readers that
    validate such a dict with :func:`results_from_json`; :class:`ResultsError` for a value
    JSON cannot hold."""
    return _plain(value)


def to_json_dict(results: Results) -> dict[str, Any]:
    """The JSON object of ``results``, schema_version first (field order is the file's order)."""
    body = _plain(results)
    return {"schema_version": body.pop("schema_version"), **body}


def dumps(results: Results) -> str:
    # ensure_ascii=False keeps CMRC text readable; insertion order keeps the bytes stable.
    return json.dumps(to_json_dict(results), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


_DACITE = dacite.Config(strict=True, cast=[float])
"""Strict: an unknown key is an error, not silently dropped. ``float`` fields take JSON integers."""


def results_from_json(obj: Any, source: str = "<results>") -> Results:
    """Typed results from a parsed results.json; :class:`ResultsError` names ``source`` and the field."""
    if not isinstance(obj, dict):
        raise ResultsError(f"{source}: top level must be a JSON object, got {type(obj).__name__}")
    version = obj.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise ResultsError(f"{source}: schema_version is {version!r}; this harness reads version "
                           f"{' or '.join(map(str, READABLE_VERSIONS))} (rerun the bench suite to write {SCHEMA_VERSION})")
    try:
        results = dacite.from_dict(Results, obj, config=_DACITE)
    except dacite.DaciteError as error:
        raise ResultsError(f"{source}: {error}") from None
    results.schema_version = SCHEMA_VERSION  # read as the current version: the older lacks only defaults
    _check_models(results, source)
    return results


def _check_models(results: Results, source: str) -> None:
    """What types cannot say: unique names and question ids, per-question scores in range."""
    seen: set[str] = set()
    for i, model in enumerate(results.models):
        where = f"models[{i}] ({model.name})"
        if not model.name or model.name in seen:
            # Names key every table, plot legend and --compare alignment.
            raise ResultsError(f"{source}: {where}: model name is empty or used twice")
        seen.add(model.name)
        ids: set[str] = set()
        for j, row in enumerate(model.test_per_question):
            if not row.id or row.id in ids:
                raise ResultsError(f"{source}: {where}.test_per_question[{j}]: question id {row.id!r} is empty or used twice")
            ids.add(row.id)
            if row.exact not in (0, 1) or not (math.isfinite(row.f1) and 0 <= row.f1 <= 1):
                raise ResultsError(f"{source}: {where}.test_per_question[{j}] ({row.id}): exact must be 0|1 and f1 "
                                   f"in [0, 1], got exact={row.exact!r} f1={row.f1!r}")


def write_results(path: str | Path, results: Results) -> Path:
    """Write results.json atomically (``path`` is the file or its run directory)."""
    path = Path(path)
    if path.suffix != ".json":
        path = path / RESULTS_JSON
    atomic_write_text(path, dumps(results))
    return path


def read_results(path: str | Path) -> Results:
    """Read and validate results.json from a run directory or the file itself."""
    path = Path(path)
    file = path / RESULTS_JSON if path.is_dir() or path.suffix != ".json" else path
    if not file.is_file():
        raise ResultsError(f"{file}: not found (expected a run directory containing {RESULTS_JSON})")
    try:
        obj = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ResultsError(f"{file}: cannot read: {error}") from None
    except json.JSONDecodeError as error:
        raise ResultsError(f"{file}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    return results_from_json(obj, str(file))
