"""Sphinx configuration of the circlearn book.

Built from the repository root so that the notebooks keep their own relative links
(``make docs`` runs ``sphinx-build -W -c docs . docs/_build/html``): ``include_patterns`` picks
the book's pages in ``docs/`` and the notebooks in ``notebooks/``. The notebooks are rendered
from their stored outputs, never executed. Nothing is fetched at reading time: MathJax comes
from the ``sphinx-mathjax-offline`` package, and the theme loads no web fonts.
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path[:0] = [str(ROOT), str(DOCS / "_ext")]

from book import outside_folders  # noqa: E402

project = "circlearn"
author = "the circlearn authors"
copyright = "the circlearn authors"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",
    "sphinxarg.ext",
]

root_doc = "docs/index"
include_patterns = ["docs/**", "notebooks/*.ipynb"]
exclude_patterns = [*outside_folders(ROOT, ("docs", "notebooks")), "docs/_build", "docs/_ext", "docs/_root",
                    "docs/_static",
                    "**/.ipynb_checkpoints"]

# Notebooks: stored outputs only.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]
# Anchors as Jupyter writes them ("#Contents"), so a notebook's links work in both places.
myst_heading_anchors = 3
myst_heading_slug_func = "book.heading_slug"
# "--train_dir" must stay two hyphens in the command-line reference.
smartquotes = False

# API reference: each module documents what it defines, so re-exports appear once.
autodoc_default_options = {"members": True, "ignore-module-all": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_class_signature = "separated"

html_theme = "sphinx_book_theme"
html_title = "circlearn"
html_static_path = ["_static"]
html_css_files = ["book.css"]  # result tables keep each number on one line
html_extra_path = ["_root"]  # index.html at the top of the site, pointing to docs/index.html
# Without a default mode the theme logs a console error on every page.
html_context = {"default_mode": "auto"}
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
    "home_page_in_toc": True,
}
html_last_updated_fmt = None
html_copy_source = False
