"""The package's shape rules: short modules, short functions, short module docstrings, and
code that speaks of the project rather than of its history (no tracker numbers)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import circlearn

ROOT = Path(circlearn.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_DOCSTRING_LINES = 40

MODULES = sorted(ROOT.rglob("*.py"))

#: "issue 12", "issues 3 and 4", "Issue #14", "round 2", "Round 1": tracker and history words.
HISTORY = re.compile(r"\bissues?\s+#?\d+|\bround\s+\d+\b|\b(first|second|third)\s+round\b",
                     re.IGNORECASE)


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT.parent))


def test_modules_are_found():
    names = {_name(p) for p in MODULES}
    assert "circlearn/cli.py" in names and len(names) > 20


@pytest.mark.parametrize("path", MODULES, ids=_name)
def test_module_fits_its_limits(path):
    source = path.read_text()
    lines = source.count("\n")
    assert lines <= MAX_MODULE_LINES, f"{_name(path)} has {lines} lines (> {MAX_MODULE_LINES})"
    tree = ast.parse(source, _name(path))
    doc = ast.get_docstring(tree, clean=False) or ""
    doc_lines = doc.count("\n") + 1 if doc else 0
    assert doc_lines <= MAX_DOCSTRING_LINES, (
        f"{_name(path)}: module docstring of {doc_lines} lines (> {MAX_DOCSTRING_LINES})")
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines, line {node.lineno})"
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{_name(path)}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def _history(path: Path) -> list[str]:
    return [f"{path.name}:{i}: {line.strip()}"
            for i, line in enumerate(path.read_text().splitlines(), 1) if HISTORY.search(line)]


def test_code_and_tests_speak_of_the_project_not_its_history():
    found = [hit for path in MODULES + sorted(TESTS.glob("*.py")) if path != Path(__file__)
             for hit in _history(path)]
    assert not found, "tracker numbers or round stories:\n" + "\n".join(found)


@pytest.mark.parametrize("text,flagged", [
    ("Statistics (issue 12).", True), ("see Issues #3", True), ("*Round 1* (training", True),
    ("the third round of issues", True), ("round(v, 4)", False), ("rounds of timing", False),
    ("round half to even", False),
])
def test_the_history_pattern(text, flagged):
    assert bool(HISTORY.search(text)) == flagged
