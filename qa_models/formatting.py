"""The one implementation of the small text formats every report and command line shares:
finite-number checks, durations and Markdown pipe tables."""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

DASH = "—"
"""Printed where a number was not measured or is not finite."""


def is_number(x: Any) -> bool:
    """True for an int or float that is not a bool (JSON readers give both)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def is_finite(x: Any) -> bool:
    """True for a number that is neither NaN nor infinite."""
    return is_number(x) and math.isfinite(x)


def format_duration(seconds: Any) -> str:
    """Seconds under 90 s, minutes under 90 min, hours above; the dash when not finite."""
    if not is_finite(seconds):
        return DASH
    s = float(seconds)
    if s < 90:
        return f"{s:.1f} s"
    if s < 90 * 60:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.2f} h"


def markdown_cell(value: Any) -> str:
    """A cell's text: pipes would end the cell and newlines the row, so both are escaped."""
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def markdown_table(columns: Sequence[Any], rows: Iterable[Sequence[Any]], right_aligned: Iterable[Any] = ()) -> str:
    """A pipe table; ``right_aligned`` names the columns whose rule is ``---:`` (numbers).

    Written here because pandas' ``to_markdown`` needs tabulate, which is not a dependency.
    """
    right = set(right_aligned)
    lines = [
        "| " + " | ".join(markdown_cell(c) for c in columns) + " |",
        "| " + " | ".join("---:" if c in right else "---" for c in columns) + " |",
    ]
    lines += ["| " + " | ".join(markdown_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown_frame(frame: Any, right_aligned: Iterable[Any] = (), number_format: str | None = None) -> str:
    """``markdown_table`` of a pandas DataFrame; missing values print empty, floats through
    ``number_format`` (for example ``".4g"``) when given."""

    def cell(value: Any) -> Any:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if number_format and isinstance(value, float):
            return format(value, number_format)
        return value

    rows = ([cell(v) for v in row] for row in frame.itertuples(index=False))
    return markdown_table(list(frame.columns), rows, right_aligned)
