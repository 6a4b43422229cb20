"""Open every page of a built HTML site in a real browser and fail on what a reader would meet.

Usage::

    python docs/check_site.py docs/_build/html [--chromium PATH] [--timeout 30] [--max-seconds 600]

The folder is served by a loopback HTTP server (127.0.0.1, an ephemeral port, in a thread), and
each ``*.html`` file in it (those under ``_static/``, the theme's and MathJax's own assets,
excepted) is opened in Chromium driven by Playwright, then probed in the page by
``check_site.js``. A page that sends the browser elsewhere (a meta refresh) is checked where it
lands. A page fails on:

- a request to any other origin: routing blocks it, so it is never sent, and reports it;
- a console error or uncaught exception, a failed request, or an HTTP status >= 400;
- an image whose ``naturalWidth`` is 0 once it has loaded or failed;
- math left untypeset: a ``.math`` element with no ``mjx-container`` once MathJax's
  ``startup.promise`` has settled (MathJax missing, broken or unfinished), a MathJax error
  (``mjx-merror``), or a raw ``$$``, ``\\(``, ``\\[`` or ``\\begin{`` in visible text outside code;
- an internal link (same origin) to a file that does not exist, or whose ``#fragment`` names
  no ``id`` (nor ``<a name>``) on the target page as the browser built it.

Exit status: 0 when every page is clean; 1 when problems were found, each printed as
``page: kind: detail``; 2 when the check cannot run (no such folder, no page in it, a browser
that fails to start, a check still running after ``--max-seconds``, or Chromium or Playwright
absent while ``CI=true``). Outside CI, with either absent, it says so and exits 0.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import os
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: --no-sandbox: CI containers run as root, where Chromium's sandbox refuses to start.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu"]
SKIPPED_DIRS = ("_static",)


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong on one page: ``page`` is the path relative to the site's root."""

    page: str
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.page}: {self.kind}: {self.detail}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without a line on stderr for each request."""

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    """No traceback when the browser drops a connection (a page left while its files still
    download): the browser itself reports the failures that matter."""

    def handle_error(self, request, client_address):
        pass


@contextlib.contextmanager
def serve(root: Path):
    """Serve ``root`` on 127.0.0.1 at an ephemeral port in a daemon thread; yield its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def html_pages(root: Path) -> list[str]:
    """The site's pages as sorted POSIX paths relative to ``root``, asset folders left out."""
    pages = (p.relative_to(root).as_posix() for p in root.rglob("*.html") if p.is_file())
    return sorted(p for p in pages if p.split("/", 1)[0] not in SKIPPED_DIRS)


def resolve_link(root: Path, base_url: str, href: str) -> tuple[str, str] | None:
    """Map an absolute same-origin ``href`` to ``(file relative to root, fragment)``.

    Returns None for other origins and other schemes (mailto:, javascript:, data:), which are
    not internal links. A path ending in ``/`` or naming a folder means its ``index.html``. The
    file part is returned whether or not it exists; the caller checks.
    """
    url, fragment = urldefrag(href)
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != base_url:
        return None
    rel = unquote(parts.path).lstrip("/")
    if rel == "" or rel.endswith("/") or (root / rel).is_dir():
        rel = (rel.rstrip("/") + "/index.html").lstrip("/")
    return rel, unquote(fragment)


#: The in-page probe (a JavaScript async function of one argument, the timeout in ms).
PROBE = Path(__file__).with_name("check_site.js").read_text()


class _PageWatch:
    """Collects a page's network and console events while it loads and settles."""

    def __init__(self, page, base_url: str):
        self.base_url = base_url
        self.blocked: list[str] = []
        self.events: list[tuple[str, str, str]] = []  # (kind, detail, url the event is about)
        self.pending: set = set()
        page.on("request", lambda request: self.pending.add(request))
        page.on("requestfinished", lambda request: self.pending.discard(request))
        page.on("requestfailed", lambda request: self.pending.discard(request))
        page.route("**/*", self._route)
        page.route_web_socket(re.compile(".*"), self._web_socket)
        page.on("response", self._response)
        page.on("requestfailed", self._request_failed)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.events.append(
            ("uncaught exception", str(exc).splitlines()[0] if str(exc) else repr(exc), "")))

    def _local(self, url: str) -> bool:
        return url == self.base_url or url.startswith(self.base_url + "/")

    def _short(self, url: str) -> str:
        """A local URL as its path from the site's root (the port changes from run to run)."""
        return url.removeprefix(self.base_url + "/") if self._local(url) else url

    def _route(self, route):
        url = route.request.url
        if self._local(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _web_socket(self, ws):
        if self._local("http" + ws.url.removeprefix("ws")):
            ws.connect_to_server()
        else:  # never connected: closed here, answered by nobody
            self.blocked.append(ws.url)
            ws.close()

    def _response(self, response):
        if response.status >= 400:
            self.events.append(("HTTP status", f"{response.status} for {self._short(response.url)}",
                                response.url))

    def _request_failed(self, request):
        # A request the route blocked, or one answered >= 400 (Chromium then aborts it), is
        # reported once, as such.
        answered = {url for kind, _, url in self.events if kind == "HTTP status"}
        if request.url not in self.blocked and request.url not in answered:
            self.events.append(("failed request",
                                f"{self._short(request.url)} ({request.failure})", request.url))

    def _console(self, msg):
        if msg.type == "error":
            self.events.append(("console error", msg.text, msg.location.get("url", "")))

    def reset(self) -> None:
        """Forget what earlier pages in the same tab did."""
        self.blocked.clear()
        self.events.clear()
        self.pending.clear()

    def settle(self, tab, limit_s: float, grace_s: float = 0.1) -> list[str]:
        """Wait until no request is in flight (after a grace for late starters), at most
        ``limit_s``: fonts and images that typesetting asks for arrive after "load". Returns
        the requests still in flight at the limit, as paths from the site's root."""
        deadline = time.monotonic() + limit_s
        tab.wait_for_timeout(grace_s * 1000)
        while self.pending and time.monotonic() < deadline:
            tab.wait_for_timeout(20)
        return sorted(self._short(request.url) for request in self.pending)

    def problems(self, page: str) -> list[Problem]:
        """External requests, then events; a console "Failed to load resource" line is dropped
        when the resource it names is already reported as blocked, failed or >= 400."""
        found = [Problem(page, "request to another host (blocked)", url)
                 for url in dict.fromkeys(self.blocked)]
        reported = set(self.blocked) | {url for kind, _, url in self.events
                                        if kind != "console error"}
        for kind, detail, url in self.events:
            if kind == "console error" and url in reported and "Failed to load" in detail:
                continue
            found.append(Problem(page, kind, detail))
        return found


def _probe_problems(page: str, seen: dict) -> list[Problem]:
    """Problems the in-page probe found: images, math and raw delimiters."""
    found = [Problem(page, "image with naturalWidth 0", src) for src in seen["brokenImages"]]
    if seen["untypeset"]:
        found.append(Problem(page, "math left untypeset",
                             f"{len(seen['untypeset'])} .math element(s) with no mjx-container "
                             f"(MathJax: {seen['mathjax']}), first: {seen['untypeset'][0]!r}"))
    found += [Problem(page, "MathJax error", err) for err in seen["mathErrors"]]
    found += [Problem(page, "raw math delimiter in visible text", repr(text))
              for text in seen["raw"]]
    return found


def _probe(tab, timeout_s: float, tries: int = 3) -> dict:
    """Run the probe in ``tab``. A page that navigates on its own (a meta refresh, a script
    setting ``location``) is probed where it lands."""
    for _ in range(tries - 1):
        try:
            return tab.evaluate(PROBE, timeout_s * 1000)
        except Exception as exc:
            if "context was destroyed" not in str(exc):
                raise
            tab.wait_for_load_state("load")
    return tab.evaluate(PROBE, timeout_s * 1000)


def _open(tab, watch: _PageWatch, page: str, timeout_s: float) -> tuple[dict | None, list]:
    """Open one page in ``tab``, let it settle, and return what the probe saw and the problems
    found. The probe's ``moved`` is true when the page sent the browser elsewhere."""
    seen, found = None, []
    url = f"{watch.base_url}/{page}"
    try:
        # Leave the last page first, so that loads our leaving cancels are not blamed on this one.
        tab.goto("about:blank")
        watch.reset()
        tab.goto(url, wait_until="load")
        seen = _probe(tab, timeout_s)
        seen["moved"] = urldefrag(tab.url)[0] != url
        limit_s = min(timeout_s, 5)
        found = [Problem(page, "request still pending", f"{path} after {limit_s:g} s")
                 for path in watch.settle(tab, limit_s)] + _probe_problems(page, seen)
    except Exception as exc:  # a page that cannot be opened or probed is itself the problem
        found = [Problem(page, "page did not load", str(exc).splitlines()[0])]
    return seen, watch.problems(page) + found


def check_links(root: Path, base_url: str, seen: dict[str, dict]) -> list[Problem]:
    """Internal links whose file is missing, or whose fragment is no id on the target page.

    ``seen`` maps each opened page to its probe result (its ``links`` and ``ids``). Fragments
    into files that were not opened (not HTML, or assets) or that send the browser elsewhere
    are not checked; an empty fragment and ``#top`` always resolve, as in browsers.
    """
    ids = {page: set(result["ids"]) for page, result in seen.items() if not result["moved"]}
    found = []
    for page, result in sorted(seen.items()):
        for href, absolute in dict.fromkeys(map(tuple, result["links"])):
            target = resolve_link(root, base_url, absolute)
            if target is None:
                continue
            rel, fragment = target
            if not (root / rel).is_file():
                found.append(Problem(page, "broken link", f"{href} -> missing {rel}"))
            elif fragment and fragment.lower() != "top" and rel in ids \
                    and fragment not in ids[rel]:
                found.append(Problem(page, "broken anchor", f"{href} -> no id {fragment!r} in {rel}"))
    return found


def _close(tab) -> None:
    """Close a tab without waiting for route handlers still in flight (they can hang it)."""
    tab.unroute_all(behavior="ignoreErrors")
    tab.close(run_before_unload=False)


def check_site(root: Path, browser, timeout_s: float = 30.0) -> tuple[list[str], list[Problem]]:
    """Open every page of the site in ``root`` with a Playwright ``browser``; return the pages
    opened and the problems found (sorted by page)."""
    root = Path(root).resolve()
    pages = html_pages(root)
    results: dict[str, dict] = {}
    problems: list[Problem] = []
    with serve(root) as base_url:
        context = browser.new_context(service_workers="block")
        context.set_default_timeout(timeout_s * 1000)
        tab = context.new_page()
        watch = _PageWatch(tab, base_url)
        try:
            for page in pages:
                seen, found = _open(tab, watch, page, timeout_s)
                problems += found
                if seen is None:  # a fresh tab, so that a stuck page cannot spoil the next
                    _close(tab)
                    tab = context.new_page()
                    watch = _PageWatch(tab, base_url)
                else:
                    results[page] = seen
        finally:
            _close(tab)
            context.close()
        problems += check_links(root, base_url, results)
    return pages, sorted(problems)


def find_browser(chromium: str) -> str | None:
    """Why the check cannot run here (Playwright or Chromium absent), or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install '.[docs]')"
    path = shutil.which(chromium) or chromium
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return f"no Chromium at {chromium} (Debian: apt-get install chromium)"
    return None


def _watchdog(seconds: float) -> threading.Timer:
    """Exit with status 2 once ``seconds`` have passed: a hung browser must not hang CI."""
    def expire():
        print(f"docs check FAILED: still running after {seconds:.0f} s", file=sys.stderr,
              flush=True)
        os._exit(2)
    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the built HTML folder, e.g. docs/_build/html")
    parser.add_argument("--chromium", default=DEFAULT_CHROMIUM,
                        help=f"the Chromium executable (default {DEFAULT_CHROMIUM})")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds allowed for each page to load and typeset (default 30)")
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="fail (status 2) if the whole check runs longer (default 600)")
    return parser.parse_args(argv)


class _LaunchError(RuntimeError):
    """Chromium is there but did not start."""


def _run(site: Path, chromium: str, timeout_s: float) -> tuple[list[str], list[Problem]]:
    """Launch Chromium with Playwright and check the site (see :func:`check_site`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=shutil.which(chromium) or chromium,
                                         args=CHROMIUM_ARGS)
        except Exception as exc:
            raise _LaunchError("\n".join(str(exc).splitlines()[:5])) from exc
        try:
            return check_site(site, browser, timeout_s)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    """Check the site named on the command line; print a report; return the exit status."""
    args = _parse(argv)
    if not args.site.is_dir() or not html_pages(args.site):
        print(f"docs check: no HTML pages in {args.site} (build the book first)", file=sys.stderr)
        return 2
    reason = find_browser(args.chromium)
    if reason is not None:
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            print(f"docs check FAILED: cannot run under CI=true: {reason}", file=sys.stderr)
            return 2
        print(f"docs check skipped: {reason}; outside CI this is not an error")
        return 0
    start = time.perf_counter()
    watchdog = _watchdog(args.max_seconds)
    try:
        pages, problems = _run(args.site, args.chromium, args.timeout)
    except _LaunchError as exc:
        print(f"docs check FAILED: Chromium did not start: {exc}", file=sys.stderr)
        return 2
    finally:
        watchdog.cancel()
    elapsed = time.perf_counter() - start
    for problem in problems:
        print(problem)
    bad = len({p.page for p in problems})
    verdict = "OK" if not problems else f"FAILED: {len(problems)} problem(s) on {bad} page(s)"
    print(f"docs check {verdict}: {len(pages)} page(s) of {args.site} in {elapsed:.1f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
