"""Numbers as the report's cells print them; every one prints the dash when the value was
not measured or is not finite, so a missing number never reads as zero."""

from __future__ import annotations

from typing import Any

from ..formatting import DASH, is_finite

GIB = 2**30
MEMORY_KINDS = {"cuda": "GPU", "cpu_rss_train": "CPU RSS during training", "cpu_rss": "CPU RSS (process lifetime)"}
"""Reader-facing names of ``train.memory_kind``."""


def fixed(x: Any, nd: int = 2) -> str:
    """``x`` with ``nd`` decimals."""
    return f"{x:.{nd}f}" if is_finite(x) else DASH


def prob(x: Any, nd: int) -> str:
    """A probability or threshold with ``nd`` decimals, but never a small positive value shown
    as 0.00: a p_na of 3e-5 beside a threshold of 0 must not read as "0.00 is above 0.000".
    Likewise never a value just below 1 shown as 1.000: thresholds tuned in log-odds can sit at
    1 - 1e-8, below a saturated p_na of 1 - 1e-12."""
    if not is_finite(x):
        return DASH
    if x == 0:
        return "0"
    if abs(x) < 10 ** -nd:
        return f"{x:.1e}"
    if 0 < 1 - x < 0.5 * 10 ** -nd:
        return f"1 - {1 - x:.1e}"
    return f"{x:.{nd}f}"


def interval(low: Any, high: Any, nd: int = 2) -> str:
    """A confidence interval as "[low, high]"."""
    return f"[{low:.{nd}f}, {high:.{nd}f}]" if is_finite(low) and is_finite(high) else DASH


def signed(x: Any, nd: int = 2) -> str:
    """A difference, with its sign always printed."""
    return f"{x:+.{nd}f}" if is_finite(x) else DASH


def count(n: Any) -> str:
    """Parameter counts the way papers write them: 110M, 7.62B."""
    if not is_finite(n):
        return DASH
    n = float(n)
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.0f}"


def gib(b: Any) -> str:
    """Bytes in GiB."""
    return f"{b / GIB:.2f} GiB" if is_finite(b) else DASH


def rate(x: Any) -> str:
    """A throughput: three significant digits, or thousands separators from 100 up."""
    if not is_finite(x):
        return DASH
    return f"{x:.3g}" if x < 100 else f"{x:,.0f}"


def ratio(a: Any, b: Any) -> str | None:
    """``a / b`` as "4.0×" / "73×" / "0.25×"; None when either side is missing or b is 0."""
    if not (is_finite(a) and is_finite(b)) or b == 0:
        return None
    r = a / b
    if r >= 10:
        return f"{r:.0f}×"
    return f"{r:.1f}×" if r >= 1 else f"{r:.2g}×"


def text(x: Any) -> str:
    """Any recorded value: yes/no for booleans, four significant digits for floats."""
    if x is None:
        return DASH
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)
