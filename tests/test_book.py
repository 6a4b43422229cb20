"""The book (docs/, ``make docs``): every notebook, page and module is in the built site, and
the site is self-contained (no file from another host, every internal link resolves).

The site checked is ``$CIRCLEARN_BOOK`` when set (``make docs`` points it at the site it has
just built), else a fresh build into a temporary folder, with warnings as errors. The browser
check (``make docs-check``) opens the pages for real; these checks read the files.
"""

from __future__ import annotations

import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

import circlearn

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: ``<link rel=...>`` kinds that the browser fetches.
LOADED = {"stylesheet", "icon", "preload", "modulepreload", "manifest"}
PAGES = sorted(p for p in (ROOT / "docs").rglob("*.md") if "_build" not in p.parts)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if os.environ.get("CIRCLEARN_BOOK"):
        return Path(os.environ["CIRCLEARN_BOOK"]).resolve()
    pytest.importorskip("myst_nb", reason="needs the docs extra")
    out = (tmp_path_factory.mktemp("book") / "html").resolve()
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", "-c", "docs",
                           ".", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return out


class _Page(HTMLParser):
    """The ids, links and loaded resources of one HTML page."""

    def __init__(self, text: str):
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.loads: list[str] = []
        self.images = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag in ("script", "img", "iframe", "source") and a.get("src"):
            self.loads.append(a["src"])
        if tag == "link" and a.get("href") and set((a.get("rel") or "").split()) & LOADED:
            self.loads.append(a["href"])
        self.images += tag == "img"


@pytest.fixture(scope="module")
def pages(site) -> dict[Path, _Page]:
    found = {p: _Page(p.read_text()) for p in site.rglob("*.html") if "_static" not in p.parts}
    assert found, f"no HTML pages in {site}"
    return found


def _image_outputs(nb) -> int:
    return sum("image/png" in out.get("data", {}) for c in nb.cells if c.cell_type == "code"
               for out in c.outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_notebook_has_its_page(path, site, pages):
    # Its page exists, carries its title and shows every stored figure.
    page = site / "notebooks" / f"{path.stem}.html"
    assert page.is_file(), f"no page for {path.name}"
    nb = nbformat.read(path, as_version=4)
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
    assert title.split(" · ", 1)[-1] in page.read_text().replace("&#39;", "'")
    assert pages[page].images >= _image_outputs(nb), f"{path.stem}: stored figures missing"


def test_every_book_page_is_built(site):
    for md in PAGES:
        html = site / md.relative_to(ROOT).with_suffix(".html")
        assert html.is_file(), f"{md.relative_to(ROOT)} has no page"
    assert (site / "index.html").is_file() and (site / "docs" / "index.html").is_file()


def test_every_module_is_in_the_api_reference(site):
    api = "".join(p.read_text() for p in (site / "docs" / "api").glob("*.html"))
    modules = ["circlearn", *(m.name for m in pkgutil.walk_packages(circlearn.__path__, "circlearn."))]
    missing = [m for m in modules if f'id="module-{m}"' not in api]
    assert not missing, f"modules without an API entry: {missing}"


def _commands(parser, prefix="circlearn"):
    """``circlearn``, ``circlearn-train``, …, ``circlearn-data-synth``: every (sub-)command."""
    found = []
    for action in parser._actions:
        for name, sub in getattr(action, "choices", None).items() if action.nargs == "A..." else ():
            found += [f"{prefix}-{name}", *_commands(sub, f"{prefix}-{name}")]
    return found


def test_command_line_reference_has_every_command(site):
    from circlearn.cli import COMMANDS, full_parser

    text = (site / "docs" / "cli.html").read_text()
    names = _commands(full_parser())
    assert {f"circlearn-{c}" for c in COMMANDS} <= set(names) and "circlearn-data-synth" in names
    missing = [n for n in names if f'id="{n}"' not in text]
    assert not missing, f"commands without a section: {missing}"
    assert "--train_dir" in text and "–train_dir" not in text  # no smart dashes


def test_nothing_is_loaded_from_another_host(site, pages):
    assert (site / "_static" / "mathjax" / "tex-chtml.js").is_file()
    for path, page in pages.items():
        for url in page.loads:
            assert not re.match(r"([a-z]+:)?//", url), f"{path.name} loads {url}"
            file = (path.parent / url.split("?")[0].split("#")[0]).resolve()
            assert url.startswith("data:") or file.is_file(), f"{path.name}: missing {url}"


def test_internal_links_resolve(site, pages):
    for path, page in pages.items():
        for url in page.links:
            if re.match(r"[a-z]+:|//", url):
                continue
            target, _, anchor = url.partition("#")
            file = (path.parent / target).resolve() if target else path
            assert file.exists(), f"{path.relative_to(site)}: broken link {url}"
            if anchor and file.suffix == ".html" and file in pages:
                assert anchor in pages[file].ids, f"{path.relative_to(site)}: no #{anchor} in {url}"


def test_heading_anchors_keep_their_case():
    # The notebooks link to "00_setup_and_map.ipynb#Contents", as Jupyter names the anchor.
    spec = importlib.util.spec_from_file_location("book", ROOT / "docs" / "_ext" / "book.py")
    book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book)
    assert book.heading_slug("Contents") == "Contents"
    assert book.heading_slug(" Exercise 2: the FFT ") == "Exercise-2-the-FFT"
