"""GGUF weights as an ordinary model folder: dequantise once, then load by path.

A GGUF file (llama.cpp's format) holds a quantised model, its config and its tokenizer,
chat template included. transformers reads it with ``from_pretrained(folder,
gguf_file=name)`` (through the ``gguf`` package) and dequantises every tensor to float.
That costs seconds to minutes, so ``converted_folder`` does it once and saves model and
tokenizer with ``save_pretrained`` into a cache folder keyed by the file's sha256:

    .cache/gguf/<stem>-<sha256[:16]>/
        config.json, model.safetensors, tokenizer.json, tokenizer_config.json, chat_template.jinja
        gguf_source.json    source file, sha256, quantisation type, tensor counts per type

Every later step (training, prediction, the checkpoint cache key) sees a plain local
folder, so the span and generative adapters load it like any hub id. The quantisation is
recorded because the weights are not the original ones: a Q4_1 file dequantised to float
is the Q4_1 model, not the bf16 model it was made from, and the report says so
(``quantisation_note``).

Architectures transformers can read from GGUF: ``GGUF_SUPPORTED_ARCHITECTURES`` in
``transformers.modeling_gguf_pytorch_utils`` (5.x: llama, mistral, qwen2, qwen3, gemma2,
gemma3, phi3, ... ); anything else fails with transformers' own error, unchanged.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

METADATA_FILE = "gguf_source.json"
"""The JSON file in a converted folder that records where its weights came from."""

CACHE_ENV = "QABENCH_GGUF_CACHE"
"""Environment variable that moves the conversion cache (default ``<repo>/.cache/gguf``)."""

# Tensor types that are not quantisation: a file whose weights are all of these is float.
_FLOAT_TYPES = {"F32", "F16", "BF16", "F64"}


def cache_root() -> Path:
    """Where converted folders live: $QABENCH_GGUF_CACHE, else ``<repo>/.cache/gguf``."""
    return Path(os.environ.get(CACHE_ENV, REPO_ROOT / ".cache" / "gguf"))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def quantisation_of(path: Path) -> dict:
    """The quantisation of a GGUF file: its declared file type and the count of tensors per type.

    ``type`` is the type of most weight tensors other than float ones (e.g. "Q4_1"); a file
    may mix types (Q4_K_M files hold Q4_K, Q6_K and F32 tensors), so ``tensor_types`` counts
    them all. ``general.file_type`` is llama.cpp's name for the whole file where present.
    """
    from gguf import GGUFReader, LlamaFileType

    reader = GGUFReader(str(path))
    counts = Counter(tensor.tensor_type.name for tensor in reader.tensors)
    quantised = Counter({name: n for name, n in counts.items() if name not in _FLOAT_TYPES})
    main_type = quantised.most_common(1)[0][0] if quantised else (counts.most_common(1)[0][0] if counts else "unknown")
    file_type = None
    field = reader.fields.get("general.file_type")
    if field is not None:
        value = int(field.parts[field.data[0]][0])
        try:
            file_type = LlamaFileType(value).name.removeprefix("MOSTLY_")
        except ValueError:
            file_type = str(value)
    architecture = None
    field = reader.fields.get("general.architecture")
    if field is not None:
        architecture = bytes(field.parts[field.data[0]]).decode("utf-8")
    return {
        "type": main_type,
        "file_type": file_type,
        "architecture": architecture,
        "tensor_types": dict(sorted(counts.items())),
        "dequantised": bool(quantised),
    }


def converted_folder(path: Path, cache_dir: Path | None = None) -> Path:
    """A folder that ``from_pretrained`` loads, holding the dequantised weights of GGUF ``path``.

    Converts on the first call and reuses the folder on every later one (same sha256, same
    folder). The conversion writes into a temporary folder beside the cache and renames it
    into place, so an interrupted conversion never leaves a half-written folder that a
    later run would trust.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"GGUF file {path} does not exist")
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    sha = file_sha256(path)
    target = root / f"{path.stem}-{sha[:16]}"
    if (target / METADATA_FILE).is_file():
        return target

    from transformers import AutoModelForCausalLM, AutoTokenizer

    root.mkdir(parents=True, exist_ok=True)
    quant = quantisation_of(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
    try:
        folder, name = str(path.parent), path.name
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = _dequantised_model(folder, name)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        metadata = {
            "source_file": str(path),
            "source_name": path.name,
            "sha256": sha,
            "quantisation": quant["file_type"] or quant["type"],
            "file_type": quant["file_type"],
            "architecture": quant["architecture"],
            "tensor_types": quant["tensor_types"],
            "dequantised_to": "float32",
            "chat_template": bool(getattr(tokenizer, "chat_template", None)),
            "note": (
                quantisation_note_text(quant["file_type"] or quant["type"]) if quant["dequantised"] else "float weights, not quantised"
            ),
        }
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
        try:
            os.replace(tmp, target)
        except OSError:
            # Another process finished the same conversion first; its folder is as good as ours.
            if not (target / METADATA_FILE).is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _dequantised_model(folder: str, name: str):
    """The GGUF model with every weight unpacked to float32, detached from the GGUF quantiser.

    transformers 5 may keep GGUF blocks packed (``GgufConfig``, when the ``kernels`` package
    has a matmul kernel); ``dequantize=True`` asks for a plain dense model instead, which is
    what LoRA training needs and what ``save_pretrained`` can write. The quantiser object is
    then dropped so the saved folder is an ordinary float checkpoint.
    """
    import torch
    from transformers import AutoModelForCausalLM

    try:
        from transformers import GgufConfig
    except ImportError:  # transformers without the GGUF quantiser: from_pretrained always dequantises
        GgufConfig = None
    options = {"quantization_config": GgufConfig(dequantize=True)} if GgufConfig is not None else {}
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32, **options)
    packed = [n for n, p in model.named_parameters() if not p.dtype.is_floating_point]
    if packed:
        raise RuntimeError(f"GGUF {name}: {len(packed)} weights stayed packed after dequantising, e.g. {packed[0]}")
    model.hf_quantizer = None
    for attribute in ("quantization_config",):
        if hasattr(model.config, attribute):
            delattr(model.config, attribute)
    model.is_quantized = False
    return model


def quantisation_note_text(quant_type: str) -> str:
    return f"{quant_type} weights dequantised: not the original bf16 weights"


def source_metadata(model_path: str | Path) -> dict | None:
    """The recorded GGUF source of a converted folder, or None for any other model id."""
    if not model_path:
        return None
    try:
        file = Path(model_path) / METADATA_FILE
        if file.is_file():
            return json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    return None


def quantisation_note(model_path: str | Path) -> str | None:
    """"Q4_1 weights dequantised: not the original bf16 weights" for a converted folder, else None."""
    metadata = source_metadata(model_path)
    if not metadata:
        return None
    return metadata.get("note") or quantisation_note_text(metadata.get("quantisation", "?"))
