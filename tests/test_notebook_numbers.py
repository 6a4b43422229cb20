"""Every number a markdown cell quotes is shown by its own notebook (every notebook).

The rule of style.md §4.3 ("every number in markdown is printed by a cell beside it or
asserted"), checked mechanically. A number quoted in a markdown cell passes when a number of
the same notebook matches it at the precision it is quoted with ("0.97" matches a printed
0.9712, "38×" a printed 37.9, "8.4 M" a printed 8,388,608, "97 %" a printed 0.97, "35.65 M" a
printed "35.65M", "4,096" a printed 4096):

* in the stored output of a code cell (what the notebook printed), or
* in the source of a code cell: an input the reader sees (the parameters cell, a literal
  argument) or a value that an ``assert`` checks.

Exempt, by design (:func:`quoted_numbers` implements each rule):

1. what is not prose: LaTeX math, link targets, HTML comments, the generated navigation
   footer and a "References" section;
2. integers 0 to 10, which count things in prose ("two blocks", ``k = 3``, "notebook 05",
   "Exercise 4");
3. digits inside a word: "YouTube-8M", "float32", "ReLU6", "fp16";
4. years, 1990 to 2029 (citations, dataset versions);
5. inline code that is code or a formula rather than a quoted result: a span with a letter in
   it, or one that parses as Python other than a bare number (`N = 7`,
   `nn.Linear(512, 512)`, `2.5 n log₂ n`); a span such as `1024 → 8192` or `0.90` is checked;
6. labelled values from outside the notebook: a number in a sentence that names its source with
   "paper", "authors" or "YouTube-8M" (the paper's figures and sizes, the real dataset's).

Timings are described in words, never quoted as numbers, so no rule exempts them.

Scope: every notebook of the series.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ["00_setup_and_map", "01_circulant_matrices", "02_fft_diagonalisation",
           "03_diagonal_circulant_products", "04_torch_circulant_layers", "05_speed_and_memory",
           "06_youtube8m_features", "07_aggregation_dbof_netvlad_netfv",
           "08_training_compact_models", "09_reproducing_paper_figures", "10_real_sequences"]
FOOTER = "<!-- navigation:"

_NUM = r"\d{1,3}(?:,\d{3})+(?![\d,])|\d+(?:_\d{3})+|\d+(?:\.\d+)?(?:e[-+]?\d+)?"
# a quoted number: not glued to a word before it ("YouTube-8M", "float32"), nor to a letter
# after it ("2n", "3rd"), with an optional suffix; a range "41–58 %" passes its suffix back
QUOTED = re.compile(rf"(?<![\w.])(?<![A-Za-z]-)({_NUM})(?:\s?[–-]\s?({_NUM}))?"
                    rf"(\s?%|\s?×|\s[kMG]\b)?(?![A-Za-z\d])")
SHOWN = re.compile(rf"(?<![\w.])({_NUM})(\s?%|\s?[kMG]\b)?")
LABELS = re.compile(r"paper|authors|YouTube-8M", re.IGNORECASE)
SCALE = {"k": 1e3, "M": 1e6, "G": 1e9}


def _value(text: str) -> float:
    return float(text.replace(",", "").replace("_", ""))


def shown_numbers(text: str) -> set[float]:
    """Every number in ``text`` (an output or a cell's source), also scaled by its suffix."""
    values = set()
    for m in SHOWN.finditer(text):
        v = _value(m.group(1))
        values.add(v)
        suffix = (m.group(2) or "").strip()
        if suffix == "%":
            values.add(v / 100)
        elif suffix in SCALE:
            values.add(v * SCALE[suffix])
    return values


def _is_code(span: str) -> bool:
    """Rule 5: inline code that is code or a formula (an input or a definition)."""
    if re.search(r"[A-Za-z_]", re.sub(_NUM, "", span)):
        return True
    try:
        tree = ast.parse(span.strip(), mode="eval")
    except SyntaxError:
        return False
    body = tree.body.operand if isinstance(tree.body, ast.UnaryOp) else tree.body
    return not isinstance(body, ast.Constant)


def _prose(markdown: str) -> str:
    """Rule 1 and 5: the markdown with math, links, comments, references and code blanked."""
    text = re.sub(r"<!--.*?-->", " ", markdown, flags=re.S)
    text = re.sub(r"^#+\s*References\b.*?(?=^#|\Z)", " ", text, flags=re.S | re.M)
    text = re.sub(r"\$\$.*?\$\$|\$[^$\n]+\$", " ", text, flags=re.S)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    return re.sub(r"`([^`]+)`", lambda m: " " if _is_code(m.group(1)) else m.group(1), text)


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+(?=[A-Z*(`])|\n\s*\n|\n\s*(?:[*-]|\d+\.)\s", text)


def quoted_numbers(markdown: str) -> list[tuple[str, float, float]]:
    """The numbers a markdown cell quotes: ``(as written, value, tolerance)`` per candidate
    reading (a percentage gives two: ``97 %`` may be printed as 97 or as 0.97)."""
    found = []
    for sentence in _sentences(_prose(markdown)):
        if LABELS.search(sentence):  # rule 6
            continue
        for m in QUOTED.finditer(sentence):
            suffix = (m.group(3) or "").strip()
            for raw in filter(None, (m.group(1), m.group(2))):
                value = _value(raw)
                mantissa, _, exponent = raw.lower().partition("e")
                decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
                tol = 0.5 * 10.0 ** (int(exponent or 0) - decimals)
                if "." not in raw and "e" not in raw.lower() and not suffix and (
                        value <= 10 or 1990 <= value <= 2029):  # rules 2 and 4
                    continue
                scale = SCALE.get(suffix, 1.0)
                readings = [(raw + suffix, value * scale, tol * scale)]
                if suffix == "%":
                    readings.append((raw + suffix, value / 100, tol / 100))
                found.append(readings)
    return found


def unshown(markdown: str, shown: set[float]) -> list[str]:
    """The numbers of ``markdown`` that no value of ``shown`` matches."""
    return [readings[0][0] for readings in quoted_numbers(markdown)
            if not any(abs(v - value) <= tol * (1 + 1e-9) + 1e-12
                       for _, value, tol in readings for v in shown)]


def _shown_in(nb) -> set[float]:
    shown = set()
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        shown |= shown_numbers(c.source)
        for out in c.get("outputs", []):
            data = out.get("data", {})
            shown |= shown_numbers(out.get("text", "") + "".join(data.get("text/plain", "")))
    return shown


@pytest.mark.parametrize("text, shown, missing", [
    ("the error is 0.97 of the norm", {0.9712}, []),
    ("saves about 38× forward", {37.9}, []),
    ("8.4 M weights, 131 k after", {8_388_608, 131_072}, []),
    ("keeps 97 % of it", {0.97}, []),
    ("41–58 % of the model", {0.41, 0.58}, []),
    ("faster at 2048, about 20 times", {2048, 28.8}, ["20"]),
    ("byte 0 maps to −1.992157", {1.992188}, ["1.992157"]),
    ("a `1024 → 8192` map", {1024}, ["8192"]),
    ("run `nn.Linear(512, 512)` with `N = 7`", set(), []),
    ("two blocks, notebook 05, Exercise 4, in 2018", set(), []),
    ("YouTube-8M in float32", set(), []),
    ("the paper reports 0.861", set(), []),
    ("$2^{52}$ and [a link](https://arxiv.org/abs/1810.01140)", set(), []),
])
def test_quoted_number_detector(text, shown, missing):
    # The detector must flag a quoted number that nothing shows, and only that.
    assert unshown(text, shown) == missing


def test_shown_numbers_reads_outputs():
    assert {35.65e6, 0.41, 8192.0, 100952.0} <= shown_numbers(
        "fc 35.65M saves 41% rgb 8,192 -> 512, assert n == 100_952")


@pytest.mark.parametrize("stem", CHECKED)
def test_every_quoted_number_is_shown(stem):
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    shown = _shown_in(nb)
    problems = [f"markdown cell {i}: {', '.join(missing)}"
                for i, c in enumerate(nb.cells)
                if c.cell_type == "markdown" and not c.source.startswith(FOOTER)
                for missing in [unshown(c.source, shown)] if missing]
    assert not problems, (f"{stem}: numbers quoted in markdown that no cell prints or "
                          f"asserts:\n" + "\n".join(problems))
