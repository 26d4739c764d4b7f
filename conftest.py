"""Harness options, generated from the table in qa_models/options.py: most override a field of
the chosen profile (see qa_models/config.py).

`pytest --help` lists them under "qabench". A value left out keeps the profile's.
"""

from __future__ import annotations


def pytest_addoption(parser):
    # Declared in qa_models/options.py, the one table that python -m qa_models.train also reads.
    from qa_models.options import add_pytest_options

    group = parser.getgroup("qabench", "qabench: fine-tune and compare extractive QA models")
    add_pytest_options(group.addoption)


def pytest_collection_modifyitems(config, items):
    """Mark ``smoke`` what runs offline on a CPU in seconds, so ``pytest -m smoke`` is the quick
    check: every test not marked ``slow`` or ``gpu``, and the bench suites only under the tiny
    profile (the other profiles train real models for minutes)."""
    import pytest

    tiny = config.getoption("--qa-profile") == "tiny"
    for item in items:
        if item.get_closest_marker("slow") or item.get_closest_marker("gpu"):
            continue
        in_bench = item.path.relative_to(config.rootpath).parts[0] == "bench"
        if tiny or not in_bench:
            item.add_marker(pytest.mark.smoke)
