"""Model adapters, one per method of extractive QA (not one per model: see ARCHITECTURE)."""

from __future__ import annotations

from pathlib import Path

from ..config import ModelSpec
from .base import ParameterCounts, Predictions, QAAdapter, TrainResult, count_parameters, read_saved_spec


def adapter_class(method: str) -> type[QAAdapter]:
    """The adapter class for a method name."""
    if method == "span":
        from .span import SpanAdapter

        return SpanAdapter
    if method == "generative":
        from .generative import GenerativeAdapter

        return GenerativeAdapter
    raise ValueError(f"unknown method {method!r}: use 'span' or 'generative'")


def create_adapter(spec: ModelSpec) -> QAAdapter:
    """Load the base model of ``spec`` ready for fine-tuning (or zero-shot prediction)."""
    return adapter_class(spec.method).from_pretrained(spec)


def load_adapter(directory: str | Path) -> QAAdapter:
    """Load any checkpoint saved by ``QAAdapter.save``, whatever its method."""
    method, spec = read_saved_spec(directory)
    return adapter_class(method)._load_weights(spec, Path(directory))


__all__ = [
    "ParameterCounts",
    "Predictions",
    "QAAdapter",
    "TrainResult",
    "adapter_class",
    "create_adapter",
    "count_parameters",
    "load_adapter",
]
