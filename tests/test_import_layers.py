"""adapters/base.py (the interface and its data types) sits below training.py: training
imports it, never the other way round, and no import hides inside a function to dodge a cycle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "qa_models"


def _loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(m for m in sys.modules if m.startswith('qa_models')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def _imports_inside_functions(path: Path) -> list[str]:
    found = []
    for function in ast.walk(ast.parse(path.read_text())):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found += [f"{path.name}:{node.lineno}" for node in ast.walk(function) if isinstance(node, ast.ImportFrom) and node.level]
    return found


def test_base_does_not_load_training():
    assert "qa_models.training" not in _loaded_after_import("qa_models.adapters.base")
    assert "qa_models.adapters.base" in _loaded_after_import("qa_models.training")


def test_no_function_level_import_between_base_and_training():
    assert _imports_inside_functions(PACKAGE / "adapters" / "base.py") == []
    training_inner = _imports_inside_functions(PACKAGE / "training.py")
    assert training_inner == [], training_inner
