"""A wheel built from the tracked files installs and runs every command's ``--help`` outside
the repository: no module, package or command is missing from the distribution."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Walks the installed parser: every command and nested sub-command prints its help.
HELP_EVERYTHING = r"""
import argparse, contextlib, io, json, sys
import circlearn
from circlearn import cli

def sub_names(path):
    parser = cli.build_parser(path + ["--help"])
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return list(subs[0].choices) if subs else []

done, todo = [], [[name] for name in cli.COMMANDS]
while todo:
    path = todo.pop(0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            cli.main(path + ["--help"])
            code = "no exit"
        except SystemExit as exc:
            code = exc.code
    if code not in (0, None) or "usage: circlearn " + " ".join(path) not in out.getvalue():
        sys.exit(f"circlearn {' '.join(path)} --help failed ({code}): {out.getvalue()[-500:]}")
    done.append(" ".join(path))
    todo += [path + [name] for name in sub_names(path)]
print(json.dumps({"file": circlearn.__file__, "helps": done}))
"""


def _tracked_copy(dst: Path) -> None:
    """The tracked files of the checkout (their working-tree contents), as a clean checkout."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        src = ROOT / name
        if src.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(),
                    reason="needs a git checkout to take the tracked files from")
def test_wheel_runs_every_help_outside_the_repository(tmp_path):
    src, wheels, site, elsewhere = (tmp_path / d for d in ("src", "wheels", "site", "elsewhere"))
    for d in (src, elsewhere):
        d.mkdir()
    _tracked_copy(src)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                          str(src)], check=True, capture_output=True)
    (wheel,) = wheels.glob("circlearn-*.whl")
    subprocess.run(pip + ["install", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site), "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", HELP_EVERYTHING], cwd=elsewhere, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(report["file"]).resolve().is_relative_to(site.resolve())
    assert {"train", "eval", "predict", "export", "experiment", "bench", "data"} <= \
        set(report["helps"])
    assert any(" " in h for h in report["helps"]), "no nested sub-command was found"
    script = subprocess.run([str(site / "bin" / "circlearn"), "--help"], cwd=elsewhere, env=env,
                            capture_output=True, text=True, timeout=120)
    assert script.returncode == 0 and "usage: circlearn" in script.stdout
