"""adapters/base.py (the interface and its data types) sits below training.py: training
imports it, never the other way round, and no import hides inside a function to dodge a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "qa_models"


def _imports_inside_functions(path: Path) -> list[str]:
    found = []
    for function in ast.walk(ast.parse(path.read_text())):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [f"{path.name}:{node.lineno}" for node in ast.walk(function) if isinstance(node, ast.ImportFrom) and node.level]
    return found


def test_base_does_not_load_training(modules_after_import):
    assert "qa_models.training" not in modules_after_import("qa_models.adapters.base")
    assert "qa_models.adapters.base" in modules_after_import("qa_models.training")


def test_no_function_level_import_between_base_and_training():
    assert _imports_inside_functions(PACKAGE / "adapters" / "base.py") == []
    training_inner = _imports_inside_functions(PACKAGE / "training.py")
    assert training_inner == [], training_inner
