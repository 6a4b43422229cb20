"""The README is a front page: short, its links lead into the book, its example runs as written,
and its results table says what the stored results say."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
RESULTS = ROOT / "data_samples" / "results"
#: the data column of the results table → the stored fig-embeddings folder it reads
SOURCES = {"**synthetic**, medium (3 seeds)": RESULTS / "medium" / "fig-embeddings",
           "**real**: spoken digits (5 seeds)": RESULTS / "real" / "spoken-digits" / "fig-embeddings",
           "**real**: JapaneseVowels (5 seeds)": RESULTS / "real" / "japanese-vowels" / "fig-embeddings"}


def test_readme_is_a_front_page():
    assert len(README.splitlines()) <= 150
    for words in ("make test", "make demo", "make docs", "docs/_build/html/index.html"):
        assert words in README, words
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^DOCS_OUT := docs/_build/html$", make, re.M), "the README names this folder"


def test_readme_links_resolve_to_book_pages():
    links = re.findall(r"\]\((?!https?:|#)([^)#\s]+)", README)
    pages = [link for link in links if link.startswith("docs/")]
    assert {"docs/experiments.md", "docs/your_data.md", "docs/deploy.md", "docs/benchmarks.md",
            "docs/cli.md", "docs/api/index.md"} <= set(pages)
    for link in links:
        assert (ROOT / link).is_file(), f"README links to a missing file: {link}"
    for page in pages:
        assert page.endswith(".md") and "_build" not in page and "/_" not in page, page


def test_readme_example_runs_as_written():
    snippet = re.search(r"## A first example\s*```python\n(.*?)```", README, re.S).group(1)
    assert len(snippet.strip().splitlines()) <= 10
    tree = ast.parse(snippet)
    *body, last = tree.body
    scope: dict = {}
    exec(compile(ast.Module(body=body, type_ignores=[]), "README", "exec"), scope)
    # the numbers its comments quote
    assert scope["ref"].circulant_matvec([1., 2., 3.], [1., 0., 0.]).tolist() == [1., 2., 3.]
    assert scope["count_parameters"](scope["layer"]) == 16_384 and scope["y"].shape == (32, 512)
    assert eval(compile(ast.Expression(last.value), "README", "eval"), scope) == 59_494_504
    assert scope["count_parameters"](scope["from_preset"]("dbof")) == 65_761_384


def _results_rows(text: str) -> list[list[str]]:
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| **synthetic**") or line.startswith("| **real**")]
    assert rows, "no results table"
    return rows


def _stored_row(table: str, start: str) -> list[str]:
    line = next(x for x in table.splitlines() if x.startswith(f"| {start} |"))
    return [c.strip() for c in line.strip("|").split("|")]


@pytest.mark.parametrize("page", ["README.md", "docs/experiments.md"])
def test_results_table_is_the_stored_results(page):
    rows = _results_rows((ROOT / page).read_text())
    assert len(rows) == 9 and {r[0] for r in rows} == set(SOURCES)
    for data, pooling, dense, compact, diff, verdict, _paper in rows:
        table = (SOURCES[data] / "table.md").read_text()
        validate = table.split("Comparisons on validate", 1)[1].split("\n\n", 2)[1]
        gap = _stored_row(table, "variant").index("validate GAP")
        assert _stored_row(table, f"{pooling} dense")[gap] == dense, (data, pooling)
        assert _stored_row(table, f"{pooling} compact")[gap] == compact, (data, pooling)
        claim = _stored_row(validate, f"{pooling} compact vs {pooling} dense")
        mean, interval = diff.replace("−", "-").split(" ", 1)
        assert claim[2:4] == [mean, interval], (data, pooling)
        assert claim[6] == claim[7] == f"**{verdict}**", (data, pooling)


def _stored_numbers() -> set[str]:
    """Every three-decimal number the experiments printed into their stored ``table.md``."""
    found = set()
    for table in RESULTS.rglob("table.md"):
        found |= set(re.findall(r"\d+\.\d{3}", table.read_text()))
    return found


def test_stored_results_prose_quotes_stored_numbers():
    """The prose of the book's "Stored results" quotes GAPs, differences and intervals: each is
    a number some stored ``table.md`` prints (a mistyped or stale number fails)."""
    page = (ROOT / "docs" / "experiments.md").read_text()
    prose = page.split("## Stored results", 1)[1].split("### At a glance", 1)[0]
    quoted = re.findall(r"\d+\.\d{3}", prose)
    assert len(quoted) >= 20, "the section quotes the stored numbers"
    missing = sorted(set(quoted) - _stored_numbers())
    assert not missing, f"numbers no stored table prints: {missing}"


BENCH = ROOT / "benchmarks" / "results"
DEPLOY_JSON = BENCH / "deploy-amd-epyc-2cores.json"
DEPLOY_PAGE = ROOT / "docs" / "deploy.md"


def _deploy_sections() -> str:
    """The Deploy page's measured sections: the deploy table and the ONNX lowering."""
    page = DEPLOY_PAGE.read_text()
    return page.split("## Deploy table", 1)[1].split("## ExecuTorch", 1)[0]


def test_deploy_page_table_is_the_stored_benchmark():
    """The book's paper-size deploy table is the stored benchmark's, rendered by
    ``paper_table`` (a hand edit, or a rerun whose page was not updated, fails)."""
    import json

    from circlearn.bench.deploy.report import paper_table

    page = DEPLOY_PAGE.read_text()
    table = page.split("<!-- deploy-table -->\n", 1)[1].split("<!-- /deploy-table -->", 1)[0]
    assert table.strip() == paper_table(json.loads(DEPLOY_JSON.read_text())).strip()


def _matches(quoted: str, stored: set[str]) -> bool:
    """``quoted`` is a stored number, or one rounded to ``quoted``'s decimals."""
    decimals = len(quoted.split(".")[1])
    return quoted in stored or any(len(s.split(".")[1]) > decimals and
                                   f"{float(s):.{decimals}f}" == quoted for s in stored)


def test_deploy_page_prose_quotes_stored_numbers():
    """Every latency (ms), ratio (×) and file size (MB) in the Deploy page's measured sections
    is one that a stored deploy or crossover table prints (or its rounding)."""
    text = "\n".join(p.read_text() for p in (DEPLOY_JSON.with_suffix(".md"),
                                             *BENCH.glob("onnx_crossover-*.md")))
    stored = set(re.findall(r"\d+\.\d+", text))
    prose = re.sub(r"<!-- deploy-table -->.*?<!-- /deploy-table -->", "", _deploy_sections(),
                   flags=re.S)
    quoted = re.findall(r"(\d+\.\d+) ?(?:ms|×|MB)", prose)
    assert len(quoted) >= 10, "the sections quote the measurements"
    missing = sorted({q for q in quoted if not _matches(q, stored)})
    assert not missing, f"numbers no stored deploy or crossover table prints: {missing}"
