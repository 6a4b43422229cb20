"""The browser check of the built book (docs/check_site.py), run on small sites built here.

A clean site must pass and each deliberately broken one must fail with the problem named:
a missing image, math with MathJax absent or its file missing, requests to other hosts, broken
links and anchors, console errors, a raw ``$$``. The browser tests skip, saying why, where
Chromium or Playwright is absent; the command-line tests of that case run everywhere.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "docs" / "check_site.py"


def _load_checker():
    spec = importlib.util.spec_from_file_location("check_site", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_site"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


check_site = _load_checker()
MISSING = check_site.find_browser(check_site.DEFAULT_CHROMIUM)


def _png(width: int = 2, height: int = 2) -> bytes:
    """A valid grey RGB PNG of the given size, written by hand (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
    rows = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def _page(body: str, head: str = "") -> str:
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title>{head}</head>'
            f"<body>{body}</body></html>")


#: Math marked up as Sphinx writes it, and the script tag that loads the offline MathJax.
MATH = ('<p>Inline <span class="math notranslate nohighlight">\\(x^2\\)</span>.</p>'
        '<div class="math notranslate nohighlight">\\[\\sum_i c_i\\]</div>')
MATHJAX_TAG = '<script defer src="_static/mathjax/tex-chtml.js"></script>'


def _site(root: Path, pages: dict[str, str], image: bool = True) -> Path:
    for name, html in pages.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html)
    if image:
        (root / "_images").mkdir(exist_ok=True)
        (root / "_images" / "dot.png").write_bytes(_png())
    return root


GOOD = {
    "index.html": _page(
        '<p id="intro">A figure: <img src="_images/dot.png" alt="dot"></p>'
        '<a href="page.html#part">part</a> <a href="sub/">sub</a> <a href="#intro">up</a>'
        ' <a href="#top">top</a> <a href="https://example.org/elsewhere">out</a>'
        ' <a href="mailto:someone@example.org">mail</a> <a href="_images/dot.png">png</a>'
        ' <a href="go.html#anywhere">on</a>'
        '<pre>echo $$ \\( kept in code</pre><p>prices in $5 and $6</p>'),
    "page.html": _page('<section id="part"><a href="index.html">home</a></section>'),
    "sub/index.html": _page('<a href="../index.html#intro">back</a>'),
    # A page that sends the reader on is checked where it lands; anchors into it are not.
    "go.html": _page('<a href="page.html">on</a>',
                     '<meta http-equiv="refresh" content="0; url=page.html">'),
    # Assets are not pages: a broken file under _static/ is not opened.
    "_static/demo.html": _page('<img src="nothing.png">'),
}

BROKEN = {
    "missing image": ({"index.html": _page('<img src="_images/gone.png">')},
                      "image with naturalWidth 0", "_images/gone.png"),
    "missing stylesheet": ({"index.html": _page("", '<link rel="stylesheet" href="gone.css">')},
                           "HTTP status", "404 for gone.css"),
    "math without MathJax": ({"index.html": _page(MATH)},
                             "math left untypeset", "MathJax: absent"),
    "MathJax file missing": ({"index.html": _page(MATH, MATHJAX_TAG)},
                             "math left untypeset", "2 .math element(s)"),
    "raw $$ in the text": ({"index.html": _page("<p>$$x^2$$ was never typeset</p>")},
                           "raw math delimiter in visible text", "$$x^2$$"),
    "script from another host": (
        {"index.html": _page('<script src="http://example.invalid/x.js"></script>')},
        "request to another host (blocked)", "http://example.invalid/x.js"),
    "image from another host": (
        {"index.html": _page('<img src="https://example.invalid/y.png">')},
        "request to another host (blocked)", "https://example.invalid/y.png"),
    "WebSocket to another host": (
        {"index.html": _page('<script>new WebSocket("ws://example.invalid/feed")</script>')},
        "request to another host (blocked)", "ws://example.invalid/feed"),
    "link to a missing page": ({"index.html": _page('<a href="nowhere.html">x</a>')},
                               "broken link", "missing nowhere.html"),
    "anchor missing on another page": (
        {"index.html": _page('<a href="page.html#nope">x</a>'), "page.html": _page("<p>p</p>")},
        "broken anchor", "no id 'nope' in page.html"),
    "anchor missing on the same page": ({"index.html": _page('<a href="#gone">x</a>')},
                                        "broken anchor", "no id 'gone' in index.html"),
    "console error": ({"index.html": _page('<script>console.error("boom")</script>')},
                      "console error", "boom"),
    "uncaught exception": ({"index.html": _page('<script>throw new Error("kaboom")</script>')},
                           "uncaught exception", "kaboom"),
}


def _offline_mathjax() -> Path | None:
    """The static MathJax folder shipped by sphinx-mathjax-offline, where it is installed."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    folder = Path(spec.origin).parent / "static" / "mathjax" if spec and spec.origin else None
    return folder if folder and (folder / "tex-chtml.js").is_file() else None


# ---- without a browser -------------------------------------------------------------------


def test_links_resolve_to_files_and_fragments(tmp_path):
    (tmp_path / "sub").mkdir()
    base = "http://127.0.0.1:8000"
    resolve = check_site.resolve_link
    assert resolve(tmp_path, base, f"{base}/a%20b.html#x%C3%A9") == ("a b.html", "x\u00e9")
    assert resolve(tmp_path, base, f"{base}/") == ("index.html", "")
    assert resolve(tmp_path, base, f"{base}/sub") == ("sub/index.html", "")
    assert resolve(tmp_path, base, f"{base}/sub/?q=1#top") == ("sub/index.html", "top")
    assert resolve(tmp_path, base, "http://127.0.0.1:9/page.html") is None
    assert resolve(tmp_path, base, "mailto:someone@example.org") is None


def test_pages_leave_assets_out(tmp_path):
    _site(tmp_path, GOOD)
    assert check_site.html_pages(tmp_path) == ["go.html", "index.html", "page.html",
                                               "sub/index.html"]


def _cli(*args: str, ci: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True,
                          text=True, timeout=120)


def test_without_chromium_it_says_so_and_fails_only_in_ci(tmp_path):
    site = str(_site(tmp_path, GOOD))
    outside = _cli(site, "--chromium", str(tmp_path / "no-chromium"))
    assert outside.returncode == 0 and "docs check skipped" in outside.stdout
    inside = _cli(site, "--chromium", str(tmp_path / "no-chromium"), ci="true")
    assert inside.returncode == 2 and "cannot run under CI=true" in inside.stderr


def test_a_folder_without_pages_is_an_error(tmp_path):
    result = _cli(str(tmp_path / "not-built"))
    assert result.returncode == 2 and "no HTML pages" in result.stderr


# ---- in Chromium -------------------------------------------------------------------------

needs_browser = pytest.mark.skipif(MISSING is not None, reason=f"browser check: {MISSING}")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=check_site.DEFAULT_CHROMIUM,
                                      args=check_site.CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@needs_browser
def test_a_clean_site_passes(tmp_path, browser):
    pages, problems = check_site.check_site(_site(tmp_path, GOOD), browser, timeout_s=20)
    assert pages == ["go.html", "index.html", "page.html", "sub/index.html"]
    assert problems == [], "\n".join(map(str, problems))


@needs_browser
@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_site_fails_naming_page_and_problem(tmp_path, browser, case):
    pages, expected_kind, expected_detail = BROKEN[case]
    _, problems = check_site.check_site(_site(tmp_path, pages), browser, timeout_s=20)
    assert any(p.page == "index.html" and p.kind == expected_kind and expected_detail in p.detail
               for p in problems), "\n".join(map(str, problems)) or "no problem found"


@needs_browser
@pytest.mark.skipif(_offline_mathjax() is None,
                    reason="sphinx-mathjax-offline is not installed: no real offline MathJax")
def test_math_typeset_by_the_offline_mathjax_passes_and_tex_errors_fail(tmp_path, browser):
    good = _site(tmp_path / "good", {"index.html": _page(MATH, MATHJAX_TAG)}, image=False)
    bad = _site(tmp_path / "bad", {"index.html": _page(
        '<span class="math notranslate nohighlight">\\(\\frac{1}\\)</span>', MATHJAX_TAG)},
        image=False)
    for site in (good, bad):
        (site / "_static").mkdir()
        (site / "_static" / "mathjax").symlink_to(_offline_mathjax(), target_is_directory=True)
    assert check_site.check_site(good, browser, timeout_s=20)[1] == []
    _, problems = check_site.check_site(bad, browser, timeout_s=20)
    assert [p.kind for p in problems] == ["MathJax error"], "\n".join(map(str, problems))


@needs_browser
def test_the_command_line_reports_a_deliberate_failure(tmp_path):
    _site(tmp_path / "good", GOOD)
    _site(tmp_path / "bad", {"index.html": _page('<img src="_images/gone.png">' + MATH)})
    passed = _cli(str(tmp_path / "good"))
    assert passed.returncode == 0 and "docs check OK: 4 page(s)" in passed.stdout, passed.stdout
    failed = _cli(str(tmp_path / "bad"))
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "index.html: image with naturalWidth 0: _images/gone.png" in failed.stdout
    assert "index.html: math left untypeset" in failed.stdout
    assert "FAILED" in failed.stdout


@needs_browser
def test_a_browser_that_does_not_start_is_an_error(tmp_path):
    result = _cli(str(_site(tmp_path, GOOD)), "--chromium", "/bin/false")
    assert result.returncode == 2 and "Chromium did not start" in result.stderr
