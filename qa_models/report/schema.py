"""The report's view of ``results.json``: validated through :mod:`qa_models.results`, then
handled as the plain JSON object that module writes (every key present, ``null`` where a
measurement was not taken), so a report built from a just-written file and one rebuilt
later from that file see exactly the same data.

The few facts more than one section needs (zero-shot-ness, device kind, a number or NaN)
are read here, once, from the fields that record them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from .. import results as schema
from ..formatting import is_finite
from ..results import Results, ResultsError


class ReportError(ValueError):
    """A results file or directory that cannot be reported on; the message names the file and the problem."""


def validate_results(obj: Any, source: str = "<results>") -> Results:
    """Typed results from a parsed results.json (schema version 3; 2 is read too), or :class:`ReportError`
    naming ``source`` and the field that does not fit."""
    try:
        return schema.results_from_json(obj, source)
    except ResultsError as error:
        raise ReportError(str(error)) from None


def load_results(path: str | os.PathLike[str]) -> dict:
    """Read and validate ``results.json`` from a run directory (or the file itself) and
    return it as its plain JSON object; :class:`ReportError` names the file when it is
    missing, not JSON or not a schema version it reads."""
    try:
        return schema.to_json_dict(schema.read_results(path))
    except ResultsError as error:
        raise ReportError(str(error)) from None


def as_results(results: Results | Mapping[str, Any], source: str = "<results>") -> Results:
    """Typed results from a :class:`Results` or a plain dict (numpy values and NaN allowed:
    they are converted to JSON first)."""
    if isinstance(results, Results):
        return results
    return validate_results(plain_json(results), source)


def as_dict(results: Results | Mapping[str, Any]) -> dict:
    """The plain JSON object every report function works on, from either form."""
    return schema.to_json_dict(as_results(results))


def plain_json(value: Any) -> Any:
    """JSON types from what a producer collected; :class:`ReportError` for anything else."""
    try:
        return schema.to_plain(value)
    except ResultsError as error:
        raise ReportError(str(error)) from None


# -- facts several sections read -----------------------------------------------------------


def is_zero_shot(model: Mapping[str, Any]) -> bool:
    """Whether the row evaluates a model without fine-tuning it, as the runner recorded it."""
    return bool(model["zero_shot"])


def train_of(model: Mapping[str, Any]) -> dict:
    """The training record, or an empty one for a row that trained nothing."""
    return model["train"] or {}


def section(model: Mapping[str, Any], name: str) -> dict:
    """A measurement section of a model row (``schema.SECTIONS``), empty when it was not taken."""
    return model[name] or {}


def num(record: Mapping[str, Any] | None, key: str) -> float:
    """``record[key]`` as a float, NaN when absent, null or not finite."""
    value = (record or {}).get(key)
    return float(value) if is_finite(value) else math.nan


def device_kind(train: Mapping[str, Any]) -> str | None:
    """'GPU' for cuda or mps training, 'CPU' for cpu, None when training recorded no kind."""
    kind = train.get("device_kind")
    if kind in ("cuda", "mps"):
        return "GPU"
    if kind == "cpu":
        return "CPU"
    return None
