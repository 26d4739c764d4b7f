"""What a profile needs from the Hugging Face hub, and whether a filled cache already holds it.

A GPU node often has no internet: its ``HF_HOME`` is filled beforehand on a machine that
has (``python -m qa_models.prefetch``), copied over, and the run goes with
``HF_HUB_OFFLINE=1``. Then transformers and datasets read only the cache, and a missing
file surfaces deep inside a load, after other rows may have trained for hours.
``missing_message`` checks everything first and names, per missing item, the model id or
dataset, the command that fetches it and the cache folder it looked in.

Needs come from the profile itself, never from a list kept beside it: every model id that
is not a local folder, and every data source that is a hub dataset id, with the split
``runner.load_run_data`` loads for its role. The cross-lingual CMRC row (``measure``) is
listed as optional: without it a run only loses that score, so it is fetched but never
required.

The cache folders are read from the environment when asked (``HF_HUB_CACHE``,
``HF_DATASETS_CACHE``, ``HF_HOME``, with the libraries' own precedence), not from the
libraries' module constants, which are frozen when they are first imported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .config import DataSpec, Profile
from .tracks import DEFAULT_TRACK

MODEL_PATTERNS = ("*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken")
"""The files of a model repo that a run reads: config, weights, tokenizer and generation config."""

MODEL_IGNORE = ("original/*", "onnx/*", "coreml/*", "openvino/*", "*.bin", "*.pth", "*.h5", "*.msgpack", "*.ot", "*.onnx")
"""Copies a run never reads: Meta's original checkpoint (16 GB beside the safetensors of
Llama 3), other frameworks' weights and pickled duplicates of the safetensors."""

ROLE_SPLITS = {"train": "train", "validation": "validation", "test": "validation"}
"""The split ``runner.load_run_data`` asks a hub id for, per role; ``owner/name:split`` overrides it."""

_TRUE = {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class ModelNeed:
    """A model repo (weights, config and tokenizer) that the rows ``rows`` load by hub id."""

    repo_id: str
    rows: tuple[str, ...]

    @property
    def fetch_command(self) -> str:
        return f"python -m qa_models.prefetch --model {self.repo_id}"


@dataclass(frozen=True)
class DatasetNeed:
    """One split of a hub dataset, and what the run uses it for."""

    dataset_id: str
    split: str
    use: str
    required: bool = True

    @property
    def fetch_command(self) -> str:
        return f"python -m qa_models.prefetch --dataset {self.dataset_id}"


def offline() -> bool:
    """``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) as huggingface_hub reads it, read now."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.upper() in _TRUE


def hf_home() -> Path:
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "huggingface"
    return Path(os.path.expandvars(os.path.expanduser(os.environ.get("HF_HOME", str(default)))))


def hub_cache_dir() -> Path:
    """Where transformers looks for ``models--ORG--NAME``: ``HF_HUB_CACHE``, else ``$HF_HOME/hub``."""
    legacy = os.environ.get("HUGGINGFACE_HUB_CACHE", str(hf_home() / "hub"))
    return Path(os.path.expandvars(os.path.expanduser(os.environ.get("HF_HUB_CACHE", legacy))))


def datasets_cache_dir() -> Path:
    """Where datasets keeps prepared datasets: ``HF_DATASETS_CACHE``, else ``$HF_HOME/datasets``."""
    return Path(os.path.expanduser(os.environ.get("HF_DATASETS_CACHE", str(hf_home() / "datasets"))))


# -- what a profile needs -----------------------------------------------------------------


def is_hub_model_id(model_id: str) -> bool:
    """True for text that ``from_pretrained`` would look up on the hub: not an existing path,
    and a valid repo id (``bert-base-uncased``, ``meta-llama/Meta-Llama-3-8B-Instruct``)."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if Path(model_id).exists():
        return False
    try:
        validate_repo_id(model_id)
    except HFValidationError:
        return False
    return True


def hub_dataset(source: str | None, role: str) -> tuple[str, str] | None:
    """``(dataset id, split)`` when ``source`` is a hub dataset that ``load_examples`` would
    load for ``role``; None for files."""
    from .data.read import _HUB_ID_WITH_SPLIT, _looks_like_hub_id

    if not source or Path(source).exists():
        return None
    if _looks_like_hub_id(source):
        return source, ROLE_SPLITS[role]
    with_split = _HUB_ID_WITH_SPLIT.match(source)
    if with_split and _looks_like_hub_id(with_split["id"]):
        return with_split["id"], with_split["split"]
    return None


def model_needs(profile: Profile) -> list[ModelNeed]:
    """Each hub model id of the profile once, with the rows that load it."""
    rows: dict[str, list[str]] = {}
    for spec in profile.models:
        if is_hub_model_id(spec.model_id):
            rows.setdefault(spec.model_id, []).append(spec.name)
    return [ModelNeed(repo_id, tuple(names)) for repo_id, names in rows.items()]


def dataset_needs(profile: Profile, cross_lingual: bool = True) -> list[DatasetNeed]:
    """The hub splits the profile's data loads, then (optional) the CMRC split of the
    cross-lingual row when its track is SQuAD and a row is fine-tuned."""
    needs = [_need(profile.data, role) for role in ("train", "validation", "test")]
    found = [n for n in needs if n is not None]
    if cross_lingual:
        extra = _cross_lingual_need(profile)
        if extra is not None and all((n.dataset_id, n.split) != (extra.dataset_id, extra.split) for n in found):
            found.append(extra)
    return found


def _need(data: DataSpec, role: str) -> DatasetNeed | None:
    hub = hub_dataset(getattr(data, role), role)
    if hub is None:
        return None
    return DatasetNeed(hub[0], hub[1], f"{role} data")


def _cross_lingual_need(profile: Profile) -> DatasetNeed | None:
    from .measure import cross_lingual_applies

    if not any(cross_lingual_applies(profile, m) for m in profile.models):
        return None
    hub = hub_dataset(profile.data.cross_lingual_test, "test")
    if hub is None:
        return None
    return DatasetNeed(hub[0], hub[1], "the cross-lingual CMRC row (optional: without it that score is left out)", required=False)


# -- what the cache holds -----------------------------------------------------------------


def model_problem(repo_id: str, cache_dir: Path | None = None) -> str | None:
    """Why the cache cannot serve ``repo_id`` to ``from_pretrained`` offline, or None.

    First what huggingface_hub itself knows (a snapshot for ``refs/main``, complete against
    the file listing a download leaves behind), then what a load reads, for caches filled by
    hand or by older tools that left no listing: ``config.json``, the weights (every shard an
    index names) and a tokenizer."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import IncompleteSnapshotError, LocalEntryNotFoundError

    cache_dir = cache_dir or hub_cache_dir()
    try:
        folder = Path(snapshot_download(
            repo_id, cache_dir=cache_dir, local_files_only=True,
            allow_patterns=list(MODEL_PATTERNS), ignore_patterns=list(MODEL_IGNORE),
        ))
    except IncompleteSnapshotError as error:
        return str(error).split(" Outgoing traffic")[0]
    except LocalEntryNotFoundError:
        return "no snapshot of it is cached"
    missing = [name for name in ("config.json",) if not (folder / name).is_file()]
    missing += _missing_weights(folder)
    if not ((folder / "tokenizer.json").is_file() or (folder / "tokenizer_config.json").is_file()):
        missing.append("tokenizer.json (or tokenizer_config.json and its vocabulary)")
    if missing:
        return f"its snapshot {folder} lacks {', '.join(missing)}"
    return None


def _missing_weights(folder: Path) -> list[str]:
    for single, index in (("model.safetensors", "model.safetensors.index.json"), ("pytorch_model.bin", "pytorch_model.bin.index.json")):
        if (folder / single).is_file():
            return []
        if (folder / index).is_file():
            try:
                shards = sorted(set(json.loads((folder / index).read_text())["weight_map"].values()))
            except (OSError, ValueError, KeyError):
                return [f"a readable {index}"]
            return [s for s in shards if not (folder / s).is_file()]
    return ["model.safetensors (or model.safetensors.index.json and its shards)"]


def dataset_problem(dataset_id: str, split: str, cache_dir: Path | None = None) -> str | None:
    """Why an offline ``datasets.load_dataset(dataset_id, split=split)`` cannot be served from
    the datasets cache, or None.

    It reads the split the way that load does offline (datasets' ``cache`` builder: the
    newest prepared copy of the dataset under ``OWNER___NAME/``, its Arrow files
    memory-mapped), and never asks the hub, even when the hub is reachable."""
    from datasets.packaged_modules.cache.cache import Cache
    from datasets.utils import logging as datasets_logging

    # The builder logs which cached copy it found; the run logs that again when it loads.
    verbosity = datasets_logging.get_verbosity()
    datasets_logging.set_verbosity_error()
    try:
        builder = Cache(cache_dir=str(cache_dir or datasets_cache_dir()), dataset_name=dataset_id.split("/")[-1],
                        repo_id=dataset_id, version="auto", hash="auto")
        builder.as_dataset(split=split)
    except Exception as error:  # noqa: BLE001 - not cached, split missing, unreadable: all mean "fetch it"
        text = str(error).strip()
        return f"it is not in the datasets cache ({type(error).__name__}: {text.splitlines()[0] if text else ''})"
    finally:
        datasets_logging.set_verbosity(verbosity)
    return None


def missing_message(profile: Profile, command: str | None = None) -> str | None:
    """One message listing everything required that the cache lacks, or None when all is there.

    ``command`` is the whole-profile fetch command to print (by default the prefetch
    command for a named profile)."""
    from .profiles import PROFILES

    hub, data_dir = hub_cache_dir(), datasets_cache_dir()
    lines = []
    for need in model_needs(profile):
        problem = model_problem(need.repo_id, hub)
        if problem:
            lines.append(
                f"  - model {need.repo_id} (rows {', '.join(need.rows)}): {problem}, looked in {hub}. "
                f"Fetch it: {need.fetch_command}"
            )
    for need in dataset_needs(profile, cross_lingual=False):
        problem = dataset_problem(need.dataset_id, need.split, data_dir)
        if problem:
            lines.append(
                f"  - dataset {need.dataset_id} (split {need.split!r}, the {need.use}): {problem}, looked in {data_dir}. "
                f"Fetch it: {need.fetch_command}"
            )
    if not lines:
        return None
    if command is None and profile.name in PROFILES:
        track = "" if profile.data.track == DEFAULT_TRACK else f" --track {profile.data.track}"
        command = f"python -m qa_models.prefetch --profile {profile.name}{track}"
    whole = f"Everything at once: {command}. " if command else ""
    return (
        f"HF_HUB_OFFLINE=1 and the Hugging Face cache (HF_HOME={hf_home()}) lacks what profile "
        f"'{profile.name}' needs; nothing was trained:\n" + "\n".join(lines) + "\n"
        f"{whole}Run the fetch on a machine with the network and the same HF_HOME layout, copy that "
        "HF_HOME folder here and point HF_HOME at it; or give local data files (--qa-train-file ...)."
    )
