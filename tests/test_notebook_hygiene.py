"""Notebook hygiene (style.md §4.5): restart-and-run-all counts, one literal parameters cell,
no path tricks, PNG only, imports from the allowed set, size cap, Summary / Exercises last,
and no rounding-level digits in stored outputs (they differ between CPUs).

The outputs themselves are compared by nbval (``make notebooks``); these checks make sure that
comparison means something and that the stored notebooks stay portable.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SERIES = ["00_setup_and_map", "01_circulant_matrices", "02_fft_diagonalisation",
          "03_diagonal_circulant_products", "04_torch_circulant_layers", "05_speed_and_memory",
          "06_youtube8m_features", "07_aggregation_dbof_netvlad_netfv",
          "08_training_compact_models", "09_reproducing_paper_figures", "10_real_sequences"]
MAX_BYTES = 1_000_000
THIRD_PARTY = {"numpy", "scipy", "torch", "matplotlib"}
# Paths that only exist on one machine: home folders, this checkout, temp dirs, Windows drives.
ABSOLUTE_PATH = re.compile(r"(/home/|/Users/|/work/|/tmp/|/root/|site-packages|[A-Z]:\\\\)")
FORBIDDEN_SOURCE = re.compile(r"(sys\.path|os\.chdir|%run\b|%cd\b|tqdm)")

ids = [p.stem for p in NOTEBOOKS]

# Rounding-level digits. A stored output must read the same on every CPU, BLAS kernel
# set, memory alignment and thread count; the last digits of a float error do not (02 printed
# 4.2e-16 or 4.4e-16 depending only on the OpenBLAS kernels). Bounds ("< 1e-15", "<= 20 eps")
# and verdicts are fine; each pattern below is a value printed beyond what every CPU reproduces.
ROUNDING_LEVEL = {
    # float64 rounding level, 1e-13 and below (the pattern the project's before-stop hook runs)
    "float64 error": re.compile(r"(?<![\d.])\d(?:\.\d+)?e-(?:1[3-9]|[2-9]\d)\b"),
    # float32 rounding level with a mantissa, 1e-5 .. 1e-12 (e.g. 1.2e-07, 4.0e-07)
    "float32 error": re.compile(r"(?<![\d.])\d\.\d+e-0?(?:[5-9]|1[0-2])\b"),
    # a tiny value in fixed notation (0.0000012)
    "tiny fixed-point value": re.compile(r"(?<![\d.])0\.0{5,}[1-9]\d*"),
    # a raw float repr: nine or more decimals (0.30000000000000004, 1.1920929e-07's digits)
    "raw float repr": re.compile(r"(?<![\d.])\d+\.\d{9,}"),
}
BOUND_BEFORE = re.compile(r"(<|≤|<=|>|≥|>=)\s*$")


def rounding_level_digits(text: str) -> list[str]:
    """The rounding-level numbers in ``text`` (a stored output), each named by its kind.

    A number right after a comparison (``< 1e-15``, ``<= 2e-07``) is a bound and allowed.
    """
    hits = []
    for kind, pattern in ROUNDING_LEVEL.items():
        for m in pattern.finditer(text):
            if not BOUND_BEFORE.search(text[max(0, m.start() - 4):m.start()]):
                hits.append(f"{kind}: {m.group(0)}")
    return hits


def _output_text(out) -> str:
    text = out.get("text", "")
    data = out.get("data", {})
    for key in ("text/plain", "text/html", "text/markdown", "text/latex"):
        text += "".join(data.get(key, ""))
    return text


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _python_source(cell) -> str:
    """Cell source with IPython magics (``%...``, ``!...``) blanked so ``ast`` can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in cell.source.splitlines())


@pytest.fixture(params=NOTEBOOKS, ids=ids)
def nb(request):
    return nbformat.read(request.param, as_version=4)


@pytest.mark.parametrize("name", SERIES)
def test_series_notebook_exists(name):
    assert (ROOT / "notebooks" / f"{name}.ipynb").is_file(), f"missing notebooks/{name}.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_name_and_size(path):
    assert re.fullmatch(r"\d\d[a-z]?_[a-z0-9_]+\.ipynb", path.name), path.name
    assert path.stat().st_size < MAX_BYTES, f"{path.name}: {path.stat().st_size} bytes"


def test_execution_counts_are_one_to_n(nb):
    counts = [c.execution_count for c in _code_cells(nb) if "nbval-skip" not in _tags(c)]
    assert counts == list(range(1, len(counts) + 1)), counts
    for c in _code_cells(nb):
        if "nbval-skip" in _tags(c):
            assert c.execution_count is None and not c.outputs, "skipped cells stay unexecuted"


def test_one_literal_parameters_cell(nb):
    cells = [c for c in _code_cells(nb) if "parameters" in _tags(c)]
    assert len(cells) == 1, f"{len(cells)} parameters cells"
    tree = ast.parse(cells[0].source)
    assert tree.body, "empty parameters cell"
    for stmt in tree.body:
        assert isinstance(stmt, ast.Assign), f"not an assignment: {ast.unparse(stmt)}"
        ast.literal_eval(stmt.value)  # raises ValueError on anything but a literal


def test_no_path_tricks_or_progress_bars(nb):
    for c in _code_cells(nb):
        assert not FORBIDDEN_SOURCE.search(c.source), c.source
        assert not ABSOLUTE_PATH.search(c.source), c.source


def test_outputs_png_only_no_paths_no_errors(nb):
    for c in _code_cells(nb):
        for out in c.outputs:
            assert out.output_type != "error" or "raises-exception" in _tags(c), c.source
            data = out.get("data", {})
            assert "image/svg+xml" not in data, "SVG output (PNG only)"
            text = out.get("text", "") + str(data.get("text/plain", ""))
            assert not ABSOLUTE_PATH.search(text), f"path in output of: {c.source[:60]}"
            assert not re.search(r"Line2D|<matplotlib\.|^Text\(", text, re.M), \
                f"matplotlib object repr in output (end plot cells with an assignment): {text[:80]}"


@pytest.mark.parametrize("text, expected", [
    ("max imaginary part left: 4.4e-16", ["float64 error: 4.4e-16"]),
    ("float64 FFT    2.3e-16  3.4e-16", ["float64 error: 2.3e-16", "float64 error: 3.4e-16"]),
    ("float32 FFT    1.2e-07  2.5e-07", ["float32 error: 1.2e-07", "float32 error: 2.5e-07"]),
    ("tensor(1.1921e-07)", ["float32 error: 1.1921e-07"]),
    ("err 0.0000012", ["tiny fixed-point value: 0.0000012"]),
    ("0.30000000000000004", ["raw float repr: 0.30000000000000004"]),
    ("max imaginary part < 1e-15: True", []),
    ("error <=2e-07 everywhere", []),
    ("GAP 0.4028 loss 7.022, lr 2e-4, step 4/255 = 0.0157", []),
    ("ratio 1.5e+03, 3 eps", []),
])
def test_rounding_level_detector(text, expected):
    # The detector must flag what varies between CPUs and let bounds and rounded values pass.
    assert rounding_level_digits(text) == expected


def test_no_rounding_level_digits_in_outputs(nb):
    # Stored outputs must not depend on the CPU, BLAS kernels or thread count.
    for i, c in enumerate(_code_cells(nb)):
        for out in c.outputs:
            hits = rounding_level_digits(_output_text(out))
            assert not hits, f"code cell {i} prints rounding-level digits {hits}: print a bound"


def test_imports_from_allowed_set(nb):
    allowed = THIRD_PARTY | {"circlearn"} | set(sys.stdlib_module_names)
    for c in _code_cells(nb):
        for node in ast.walk(ast.parse(_python_source(c))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"import of {name}"


def _navigation():
    """notebooks/add_navigation.py, loaded by path (notebooks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("add_navigation", ROOT / "notebooks" / "add_navigation.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NAV = _navigation()


def test_title_first_summary_last(nb):
    # The "Summary / Exercises" section closes the lesson; only its exercise cells and the
    # generated navigation footer may follow it.
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    summaries = [i for i, c in enumerate(nb.cells)
                 if c.cell_type == "markdown" and "## Summary / Exercises" in c.source]
    assert len(summaries) == 1, f"{len(summaries)} '## Summary / Exercises' cells"
    after = nb.cells[summaries[0] + 1:]
    if after and after[-1].cell_type == "markdown" and after[-1].source.startswith(NAV.MARKER):
        after = after[:-1]
    assert all(c.cell_type == "code" or c.source.startswith("**Exercise") for c in after), \
        "only exercises may follow the summary"


@pytest.mark.parametrize("stem", NAV.MANAGED)
def test_navigation_footer_is_generated(stem):
    # Previous/next links and source links, written by notebooks/add_navigation.py
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    assert nb.cells[-1].source == NAV.footer(stem), \
        f"{stem}: stale or missing footer; run python notebooks/add_navigation.py"


@pytest.mark.parametrize("stem", NAV.MANAGED)
def test_exercises_have_checks_and_hidden_solutions(stem):
    # Each notebook ends with exercises; each self-checked one has a worked
    # solution in a collapsed cell (run by nbval like every cell) and an assert-based check.
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    start = next(i for i, c in enumerate(nb.cells) if "## Summary / Exercises" in c.source)
    tail = nb.cells[start + 1:]
    questions = [i for i, c in enumerate(tail) if c.cell_type == "markdown"
                 and c.source.startswith("**Exercise")]
    assert len(questions) >= 2, f"{stem}: {len(questions)} self-checked exercises"
    for i in questions:
        solution, check = tail[i + 1], tail[i + 2]
        assert solution.cell_type == "code" and \
            solution.metadata.get("jupyter", {}).get("source_hidden") is True, \
            f"{stem}: the solution after {tail[i].source[:30]!r} is not a collapsed code cell"
        assert check.cell_type == "code" and "assert " in check.source, \
            f"{stem}: no assert-based check after {tail[i].source[:30]!r}"
        assert "nbval-skip" not in _tags(solution) + _tags(check), "exercises run under nbval"


def test_cleaner_keeps_collapsed_solutions():
    # nbstripout must not strip cell.metadata.jupyter (the collapsed-solution flag)
    assert "cell.metadata.jupyter" not in (ROOT / "Makefile").read_text()


def test_relative_links_resolve(nb):
    # Links from concepts to source files, between notebooks and into the book must point at
    # real files: not folders, which the book cannot link to.
    for c in nb.cells:
        if c.cell_type != "markdown":
            continue
        for target in re.findall(r"\]\((?!https?:|#)([^)#\s]+)", c.source):
            assert (ROOT / "notebooks" / target).resolve().is_file(), f"broken link {target}"


def test_metadata_is_clean(nb):
    assert "papermill" not in nb.metadata and "widgets" not in nb.metadata
    for c in nb.cells:
        assert not {"execution", "papermill", "ExecuteTime"} & set(c.get("metadata", {}))


def test_makefile_cleaner_matches_pyproject():
    tomllib = pytest.importorskip("tomllib")
    keys = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["nbstripout"]
    make = (ROOT / "Makefile").read_text()
    flags = re.search(r'--extra-keys "([^"]+)"', make)
    assert flags, "Makefile: NBSTRIPOUT_FLAGS has no --extra-keys"
    assert flags.group(1).split() == keys["extra_keys"].split()
    assert keys["keep_output"] and "--keep-output" in make
    assert keys["keep_count"] and "--keep-count" in make


def exercise_numbers(nb) -> list[int]:
    """The numbers of a notebook's exercises, in order: the numbered open exercises after
    "More to try" (or "Open exercises"), then every "**Exercise N.**"."""
    start = next(i for i, c in enumerate(nb.cells) if "## Summary / Exercises" in c.source)
    numbers = []
    for c in nb.cells[start:]:
        if c.cell_type != "markdown":
            continue
        listing = re.split(r"More to try|Open exercises", c.source, maxsplit=1)
        if len(listing) == 2:
            numbers += [int(n) for n in re.findall(r"^(\d+)\. ", listing[1], re.M)]
        numbers += [int(n) for n in re.findall(r"^\*\*Exercise (\d+)\.\*\*", c.source, re.M)]
    return numbers


@pytest.mark.parametrize("stem", SERIES)
def test_exercise_numbers_do_not_clash(stem):
    # One numbering per notebook: open exercises 1..k, then self-checked k+1..n.
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    numbers = exercise_numbers(nb)
    assert numbers == list(range(1, len(numbers) + 1)), f"{stem}: exercises numbered {numbers}"
