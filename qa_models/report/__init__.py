"""Turn one bench run's ``results.json`` into a report a reader can act on.

Data flows one way through qabench: records -> features -> model -> raw scores ->
answers -> metrics -> **report**. The bench run builds one typed
:class:`qa_models.results.Results` and calls :func:`write_run` at the end; everything here
is rebuilt from the JSON file alone, so a report can be regenerated (or restyled) without
re-running any model::

    python -m qa_models.report reports/<run-id>                  # rebuild one run
    python -m qa_models.report --compare reports/A reports/B     # runs side by side

What a run directory holds after :func:`write_run`:

* ``results.json`` - the contract (schema version 3, :mod:`qa_models.results`);
* ``results.csv``  - one row per model, scalar columns flattened, with bootstrap CIs;
* ``report.md``    - headline question and answer, an at-a-glance table (one row per model,
  best test F1 first), detail tables, plots by relative path;
* ``report.html``  - the same content, self-contained (plots inlined as data URIs);
* ``plot_*.png``   - training loss, validation curves, F1 against cost, F1 by bucket.

One job a module: ``schema`` (reading results), ``stats`` (bootstrap, buckets), ``frame``
(per-model numbers, CSV), ``answer`` (the Answer and the decision tables), ``sections``
(one function per report section), ``render`` (blocks to Markdown and HTML), ``plots``,
``build`` (writing a run directory), ``compare`` and ``cli``.

The package imports neither torch nor transformers; it needs numpy, pandas and matplotlib.
"""

from __future__ import annotations

from ..formatting import DASH as _DASH
from ..formatting import format_duration as _duration
from ..results import RESULTS_JSON, SCHEMA_VERSION
from .answer import ABSTAIN_ALMOST_ALWAYS, at_a_glance, diagnostics, headline
from .build import REPORT_HTML, REPORT_MD, RESULTS_CSV, Paths, build_report, write_run
from .cells import prob as _prob
from .cli import _parser, main
from .compare import COMPARE_MD, Comparison, compare_runs, write_compare
from .frame import results_frame
from .plots import PLOT_FILES
from .plots import dodge as _dodge
from .plots import time_unit as _time_unit
from .schema import ReportError, load_results, validate_results
from .stats import (
    ANSWER_LENGTH_BUCKETS,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    QUESTION_TYPES,
    answer_length_bucket,
    bootstrap_ci,
    count_words,
    intervals_overlap,
    paired_bootstrap,
    question_type,
)

__all__ = [
    "ABSTAIN_ALMOST_ALWAYS", "ANSWER_LENGTH_BUCKETS", "COMPARE_MD", "DEFAULT_RESAMPLES", "DEFAULT_SEED", "PLOT_FILES",
    "QUESTION_TYPES", "REPORT_HTML", "REPORT_MD", "RESULTS_CSV", "RESULTS_JSON", "SCHEMA_VERSION", "Comparison",
    "Paths", "ReportError", "answer_length_bucket", "at_a_glance", "bootstrap_ci", "build_report", "compare_runs",
    "count_words", "diagnostics", "headline", "intervals_overlap", "load_results", "main", "paired_bootstrap",
    "question_type", "results_frame", "validate_results", "write_compare", "write_run",
]
