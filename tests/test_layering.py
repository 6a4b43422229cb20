"""The import rule of the package: layers only look down; nothing imports the
command-line dispatcher back; no module edits ``sys.path``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import circlearn

ROOT = Path(circlearn.__file__).resolve().parent
DISPATCHER = "circlearn.cli"
ENTRY_POINTS = {"circlearn.__main__"}  # `python -m circlearn`; the console script is cli:main

#: Top-level unit → level. A module may import units of a lower level only (and its own
#: unit); siblings on one level stay apart (nn does not import metrics, nor metrics nn). A
#: new top-level module or package gets a line here.
LEVELS = {
    "reference": 0, "config": 0,
    "nn": 1, "metrics": 1,
    "data": 2,  # above nn: frame preparation (data.frames) normalizes with nn.blocks
    "models": 3,
    "training": 4, "plotting": 4,
    "deploy": 5,  # deployable files of a trained run: loads it through training
    "experiments": 6,
    "bench": 7,  # above experiments: the deploy suite measures the models of every SCALES entry
    "cli": 9, "__main__": 10,
}

#: The command-line layer: only the dispatcher imports these.
COMMAND_MODULES = {"circlearn.training.cli", "circlearn.data.cli", "circlearn.bench.cli",
                   "circlearn.deploy.cli", "circlearn.experiments.cli"}
COMMAND_LEVEL = 8  # between the library and the dispatcher


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        is_pkg = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_pkg else parts)
        yield name, (name if is_pkg else name.rsplit(".", 1)[0]), path


def _imports(name: str, package: str, path: Path | str) -> set[str]:
    """Every circlearn module that module ``name`` of ``package`` imports (absolute, relative,
    ``from pkg import mod``); ``path`` is its file or its source text."""
    found = set()
    source = path.read_text() if isinstance(path, Path) else path
    for node in ast.walk(ast.parse(source, name)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)
    return {m for m in found if m == "circlearn" or m.startswith("circlearn.")}


MODULES = list(_modules())


def _unit(module: str) -> str:
    return module.split(".")[1] if "." in module else "circlearn"


def test_every_module_is_found_and_has_a_level():
    names = {name for name, _, _ in MODULES}
    assert "circlearn.nn.functional" in names and DISPATCHER in names
    missing = sorted({_unit(n) for n in names} - set(LEVELS) - {"circlearn"})
    assert not missing, f"give these units a level in tests/test_layering.py LEVELS: {missing}"


def test_levels_are_whole_numbers_and_commands_sit_at_the_top():
    assert all(isinstance(level, int) for level in LEVELS.values()), LEVELS
    library = [level for unit, level in LEVELS.items() if unit not in ("cli", "__main__")]
    assert max(library) < COMMAND_LEVEL < LEVELS["cli"] < LEVELS["__main__"]


@pytest.mark.parametrize("name,package,path", MODULES, ids=[m[0] for m in MODULES])
def test_nothing_imports_the_dispatcher_or_a_command_module(name, package, path):
    imported = _imports(name, package, path)
    if name not in ENTRY_POINTS:
        assert DISPATCHER not in imported, f"{name} imports the dispatcher {DISPATCHER}"
        assert f'"{DISPATCHER}"' not in path.read_text(), f"{name} names {DISPATCHER}"
    if name != DISPATCHER:
        assert not imported & COMMAND_MODULES, f"{name} imports {imported & COMMAND_MODULES}"


@pytest.mark.parametrize("name,package,path", MODULES, ids=[m[0] for m in MODULES])
def test_layers_only_look_down(name, package, path):
    unit = _unit(name)
    if unit == "circlearn":
        return
    # a command's parser may live beside its library code, but it belongs to the
    # command-line layer: it may use any library unit below the dispatcher
    level = COMMAND_LEVEL if name in COMMAND_MODULES else LEVELS[unit]
    for target in _imports(name, package, path):
        other = _unit(target)
        if other in (unit, "circlearn") or other not in LEVELS:
            continue
        assert LEVELS[other] < level, (
            f"{name} (level {level}) imports {target} (level {LEVELS[other]})")


def test_no_module_edits_sys_path():
    offenders = [str(p) for _, _, p in MODULES if "sys.path" in p.read_text()]
    assert offenders == []


def test_the_rule_bites():
    """The checks above see relative imports and a sideways import (they can fail)."""
    src = ROOT / "data" / "cli.py"
    assert "circlearn.config" in _imports("circlearn.data.cli", "circlearn.data", src)
    probe = "from ..nn import functional\nfrom .. import cli\nimport circlearn.training\n"
    got = _imports("circlearn.data.probe", "circlearn.data", probe)
    assert {"circlearn.nn", "circlearn.nn.functional", "circlearn.cli",
            "circlearn.training"} <= got
    assert LEVELS[_unit("circlearn.training")] > LEVELS["data"]  # upwards: refused
    assert LEVELS[_unit("circlearn.nn.functional")] == LEVELS["metrics"]  # siblings: refused
