"""The book (``make book``, docs/conf.py): its pages in the build, and in a real browser.

``make test`` builds the book first; these tests read ``docs/_build/html`` and fail when it is
missing. The notebooks are found by glob, as the book finds them, so a new notebook without a page
(a stale build, or a notebook the book does not pick up) fails here.

The browser test serves the build on a free localhost port and opens it in Debian's ``chromium``
(driven by ``playwright``, as in tests/test_browser.py; never ``playwright install``), with every
request that leaves the server reported as a failure: the landing page, every notebook page and
every API page load without console errors or failed requests, every image loads, math is
typeset, the navigation reaches every notebook and the API, the launch buttons and the folded
solutions are there. Screenshots go to ``tests/artifacts/book_*.png`` (not committed). Skipped
with a reason when Chromium or playwright is missing, unless ``CI=true``: then it fails.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import http.server
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

import bel

from support import launch, require_browser, scratch_env

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "docs" / "_build" / "html"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
SOLUTIONS = ROOT / "notebooks" / "solutions"
ARTIFACTS = ROOT / "tests" / "artifacts"
# the repository the launch links name (docs/conf.py: OWNER/REPO unless BEL_REPOSITORY is set)
REPOSITORY = os.environ.get("BEL_REPOSITORY", "").strip() or "OWNER/REPO"
BINDER = f"https://mybinder.org/v2/gh/{REPOSITORY}/HEAD"
COLAB = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _figures(nb: dict) -> int:
    """How many pictures the saved outputs hold (a widget's static picture counts)."""
    return sum(
        "image/png" in output.get("data", {})
        for cell in nb["cells"]
        for output in cell.get("outputs", [])
    )


def _has_widgets(nb: dict) -> bool:
    return any(
        WIDGET_VIEW in output.get("data", {})
        for cell in nb["cells"]
        for output in cell.get("outputs", [])
    )


def _solutions(path: Path) -> list[Path]:
    return sorted(SOLUTIONS.glob(f"{path.stem.split('_', 1)[0]}_*.py"))


def _page(path: Path) -> Path:
    return BOOK / "notebooks" / f"{path.stem}.html"


def _conf():
    """docs/conf.py as a module (importing it writes nothing: generation runs in its setup)."""
    spec = importlib.util.spec_from_file_location("bel_book_conf", ROOT / "docs" / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _md(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(outputs: list[dict]) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": "", "outputs": outputs}


def test_solutions_go_after_the_exercises_and_launch_note_after_the_title(tmp_path, monkeypatch):
    conf = _conf()
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    (solutions / "07_ex1_first.py").write_text("# Solution to exercise 1 of 07_demo: the sum.\n")
    (solutions / "07_ex2_second.py").write_text("x = 2\n")
    (solutions / "08_ex1_other.py").write_text("x = 3\n")
    monkeypatch.setattr(conf, "SOLUTIONS", solutions)
    widget = {"output_type": "display_data", "data": {WIDGET_VIEW: {}, "image/png": "AA=="}}
    progress = {"output_type": "display_data", "data": {WIDGET_VIEW: {}, "text/plain": "HBox()"}}
    cells = [
        _md("# 07 · Demo\n\n[![Binder](https://mybinder.org/badge_logo.svg)](x)"),
        _code([progress, widget]),
        _md("## Exercises\n\nDo them."),
        _md("### Exercise 1 · the sum"),
        _md("## What you have seen\n\nBack to the [index](../README.md#notebooks)."),
    ]
    notebook = tmp_path / "07_demo.ipynb"
    notebook.write_text(json.dumps({"cells": cells, "metadata": {"widgets": {"state": 1}}}))
    out = json.loads(conf._book_notebook(notebook))
    texts = ["".join(c["source"]) for c in out["cells"]]
    assert "widgets" not in out["metadata"]
    assert out["cells"][2]["outputs"] == [widget]  # the progress bar is left out, the picture kept
    assert conf.LOCAL_BINDER_BADGE in texts[0] and "badge_logo.svg" not in texts[0]
    assert "make explorer" in texts[1] and f"voila/render/{conf.APP}" in texts[1]
    solutions_at = next(i for i, t in enumerate(texts) if t.startswith("## Solutions"))
    assert texts[solutions_at - 1].startswith("### Exercise 1")
    assert texts[solutions_at + 1].startswith("## What you have seen")
    assert "[index](../index.md)" in texts[solutions_at + 1]  # the README is the landing page
    block = texts[solutions_at]
    assert block.count("{dropdown}") == 2 and "08_ex1_other.py" not in block
    assert "Exercise 1 · the sum (`07_ex1_first.py`)" in block
    assert "{literalinclude} ../../notebooks/solutions/07_ex2_second.py" in block
    # without an Exercises heading the solutions go last; without widgets there is no note
    notebook.write_text(json.dumps({"cells": cells[2:3] + cells[4:], "metadata": {}}))
    texts = ["".join(c["source"]) for c in json.loads(conf._book_notebook(notebook))["cells"]]
    assert texts[1].startswith("## Solutions") and "make explorer" not in "".join(texts)
    cells_without_exercises = [cells[0], cells[4]]
    notebook.write_text(json.dumps({"cells": cells_without_exercises, "metadata": {}}))
    texts = ["".join(c["source"]) for c in json.loads(conf._book_notebook(notebook))["cells"]]
    assert texts[-1].startswith("## Solutions")


def test_solution_titles_say_which_exercise_and_what(tmp_path):
    conf = _conf()
    first = tmp_path / "05_ex1_cost.py"
    first.write_text("# ruff: noqa: F821\n# Exercise 1: one more task adds r and s.\nx = 1\n")
    second = tmp_path / "05_ex2_new_task.py"
    second.write_text("x = 2\n")
    assert conf._solution_title(first) == "Exercise 1 · one more task adds r and s"
    assert conf._solution_title(second) == "Exercise 2 · new task"


def test_empty_outputs_leave_no_grey_box_and_next_links_show_titles():
    conf = _conf()
    assert conf._pictureless({"output_type": "display_data", "data": {"text/plain": ""}})
    assert conf._pictureless({"output_type": "stream", "name": "stdout", "text": ["", "\n"]})
    assert not conf._pictureless({"output_type": "stream", "name": "stdout", "text": "0.5\n"})
    assert not conf._pictureless({"output_type": "display_data", "data": {"text/plain": "1"}})
    titles = {"02_x.ipynb": "02 · The second"}
    text = "Read [`02_x`](02_x.ipynb) first.\n\n**Next:** [`02_x`](02_x.ipynb) trains it."
    assert conf._next_links(text, titles) == (
        "Read [`02_x`](02_x.ipynb) first.\n\n**Next:** [02 · The second](02_x.ipynb) trains it."
    )


def test_reexported_names_resolve_to_where_they_are_defined():
    conf = _conf()
    assert conf._canonical("bel.tile", bel.tile) == "bel.layers.tile"
    assert conf._canonical("bel.layers.tile", bel.tile) is None  # already canonical
    assert conf._object("bel.layers.BatchEnsembleLinear.effective_weights") is not conf._MISSING
    assert conf._object("bel.metrics.no_such_function") is conf._MISSING
    assert conf._object("bel.no_such_module.f") is conf._MISSING
    assert "bel.layers" in conf._bel_modules() and "bel.plots.style" in conf._bel_modules()


@pytest.fixture(scope="module")
def book() -> Path:
    if not (BOOK / "index.html").exists():
        pytest.fail(f"no book in {BOOK.relative_to(ROOT)}: run `make book` (`make test` does)")
    return BOOK


class _Page(HTMLParser):
    """Images and the text of output areas of one built page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.output_images = 0
        self.details = 0
        self._depth_in_output = 0
        self._stack: list[bool] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs.get("src", ""))
            if self._depth_in_output:
                self.output_images += 1
        if tag == "details":
            self.details += 1
        if tag == "div":
            is_output = "cell_output" in (attrs.get("class") or "").split()
            self._stack.append(is_output)
            self._depth_in_output += is_output

    def handle_endtag(self, tag):
        if tag == "div" and self._stack:
            self._depth_in_output -= self._stack.pop()


def _parse(path: Path) -> tuple[_Page, str]:
    text = path.read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(text)
    return parser, text


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 5, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_has_a_page_with_its_figures_and_solutions(book, notebook):
    page = _page(notebook)
    assert page.exists(), f"{notebook.name} has no page in the book: run `make book`"
    parsed, text = _parse(page)
    nb = _notebook(notebook)
    # a widget shows its saved picture; one without a picture (a progress bar) is not shown as
    # its repr, "HBox(children=...)"
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "text/plain" in data:
                repr_ = "".join(data["text/plain"]).strip()
                assert html.escape(repr_[:40], quote=False) not in text, repr_
    # every saved picture is on the page, inside the cell outputs (widgets: their static picture)
    assert parsed.output_images == _figures(nb), (parsed.output_images, _figures(nb))
    assert WIDGET_VIEW not in text and "widget-state+json" not in text
    # the book never executes: the page shows the notebook's saved outputs, not new ones
    assert "jupyter_execute" not in text
    # every solution, folded, with its code
    solutions = _solutions(notebook)
    assert parsed.details >= len(solutions)
    for solution in solutions:
        assert solution.name in text, f"{solution.name} is not on {page.name}"
        code = next(line for line in solution.read_text().splitlines() if line.strip())
        words = re.findall(r"\w+", code)[:4]
        assert all(word in text for word in words), f"{solution.name}'s code is not on the page"
    # launch buttons: Binder with the README's link pattern, Colab
    assert f"{BINDER}?labpath=notebooks/{notebook.name}" in text
    # Colab where it works: the first code cell installs bel when it is missing
    first_code = next("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    installs = 'find_spec("bel")' in first_code and "pip" in first_code
    assert (f"{COLAB}/notebooks/{notebook.name}" in text) == installs
    if _has_widgets(nb):
        assert f"{BINDER}?urlpath=voila/render/apps/explorer.ipynb" in text
        assert "make explorer" in re.sub(r"<[^>]+>", "", text)


def test_api_pages_cover_every_public_name(book):
    index = (book / "api" / "index.html").read_text(encoding="utf-8")
    for name in bel.__all__:
        target = getattr(bel, name)
        where = getattr(target, "__module__", None) or target.__name__
        qualified = (
            target.__name__
            if hasattr(target, "__path__") or type(target).__name__ == "module"
            else f"{where}.{target.__qualname__}"
        )
        assert f'title="{qualified}"' in index or f"#{qualified}" in index or qualified in index, (
            f"bel.{name} has no link on the API index"
        )
    layers = (book / "api" / "bel.layers.html").read_text(encoding="utf-8")
    assert 'id="bel.layers.BatchEnsembleLinear"' in layers
    assert "&gt;&gt;&gt;" in layers, "the docstrings' examples are not on the API page"


# -- in a browser ----------------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server(book):
    """The built book on a free localhost port (as a web host would serve it)."""
    handler = functools.partial(_Quiet, directory=str(book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """One Chromium context for this module's browser tests: its HTTP cache keeps the theme's
    scripts, fonts and MathJax, which every page of the book loads, as a reader's browser would."""
    sync_playwright = require_browser()
    with sync_playwright() as p:
        chromium = launch(p)
        try:
            yield chromium.new_context()
        finally:
            chromium.close()


class _Watch:
    """Console errors, page errors, failed requests and requests outside the book, of one page."""

    def __init__(self, page, base: str) -> None:
        self.problems: list[str] = []
        self.base = base
        page.on("console", self._console)
        page.on("pageerror", lambda err: self.problems.append(f"page error: {err}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        # watched, not intercepted: routing every request through playwright would turn off the
        # browser's cache, and each page would fetch the theme's scripts and fonts again
        page.on("request", self._request)

    def _console(self, message) -> None:
        if message.type == "error":
            self.problems.append(f"console error: {message.text}")

    def _failed(self, request) -> None:
        # ERR_ABORTED: the browser dropped it on leaving the page (e.g. the favicon); a missing
        # file is an HTTP 404 (below), a request elsewhere is reported by _request
        if "ERR_ABORTED" not in (request.failure or ""):
            self.problems.append(f"request failed: {request.url} ({request.failure})")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def _request(self, request) -> None:
        if not request.url.startswith((self.base, "data:", "blob:")):
            # the book must not need anything from elsewhere
            self.problems.append(f"request outside the book: {request.url}")

    def take(self) -> list[str]:
        problems, self.problems = self.problems, []
        return problems


def _open(page, watch: _Watch, url: str) -> None:
    page.goto(url, wait_until="load")
    _settle(page)


def _settle(page) -> None:
    """Wait until the page is complete: loaded, every image arrived, and math (if any) typeset by
    the book's own MathJax."""
    page.wait_for_load_state("load")
    page.wait_for_function("() => [...document.images].every(img => img.complete)")
    if page.locator("span.math, div.math").count():
        page.wait_for_function(
            "() => document.querySelectorAll('mjx-container').length >="
            " document.querySelectorAll('span.math, div.math').length",
            timeout=30_000,
        )


def _check_page(page, watch: _Watch, what: str) -> None:
    broken = page.evaluate(
        "() => [...document.images].filter(img => !(img.naturalWidth > 0)).map(img => img.src)"
    )
    assert not broken, f"{what}: images that did not load: {broken}"
    problems = watch.take()
    assert not problems, f"{what}: {problems}"


def test_book_in_a_browser(server, browser):
    with _browser_page(browser, server, 1280, "book") as (page, watch):
        # the landing page: the README's opening, the notebooks, the API in the navigation
        _open(page, watch, f"{server}/index.html")
        _check_page(page, watch, "landing page")
        assert "BatchEnsemble" in page.locator("h1").first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "book_index.png"))
        nav = page.locator("nav.bd-docs-nav")
        nav_links = nav.locator("a.reference.internal")
        hrefs = [nav_links.nth(i).get_attribute("href") for i in range(nav_links.count())]
        for notebook in NOTEBOOKS:
            assert f"notebooks/{notebook.stem}.html" in hrefs, (notebook.name, hrefs)
        assert "api/index.html" in hrefs, hrefs

        # every notebook page, reached by clicking its link in the navigation of the page
        # before (the landing page, then each notebook's)
        for notebook in NOTEBOOKS:
            page.locator(f'nav.bd-docs-nav a[href$="{notebook.stem}.html"]').click()
            page.wait_for_url(f"**/notebooks/{notebook.stem}.html")
            _settle(page)
            _check_page(page, watch, notebook.name)
            title = page.locator("h1").first.inner_text()
            assert notebook.stem.split("_", 1)[0] in title, title
            nb = _notebook(notebook)
            shown = page.locator(".cell_output img")
            assert shown.count() == _figures(nb)
            for i in range(shown.count()):
                assert shown.nth(i).evaluate("img => img.naturalWidth") > 100
            page.screenshot(path=str(ARTIFACTS / f"book_{notebook.stem}.png"))

            # the launch menu opens and offers Binder and Colab
            page.locator(".dropdown-launch-buttons button").first.click()
            menu = page.locator(".dropdown-launch-buttons .dropdown-menu")
            menu.wait_for(state="visible")
            labels = menu.inner_text()
            assert "Binder" in labels, labels
            colab = f"{COLAB}/notebooks/{notebook.name}"
            assert ("Colab" in labels) == (colab in page.content()), labels
            binder = menu.locator(f'a[href="{BINDER}?labpath=notebooks/{notebook.name}"]')
            assert binder.count() == 1
            page.screenshot(path=str(ARTIFACTS / f"book_{notebook.stem}_launch.png"))
            page.keyboard.press("Escape")

            # solutions: folded until clicked
            solutions = _solutions(notebook)
            dropdowns = page.locator("details.sd-dropdown")
            assert dropdowns.count() == len(solutions)
            if solutions:
                first = dropdowns.first
                code = first.locator("pre")
                assert not code.is_visible(), "a solution is open before it is clicked"
                first.locator("summary").click()
                code.wait_for(state="visible")
                first.scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / f"book_{notebook.stem}_solution.png"))
            if _has_widgets(nb):
                note = page.locator(".admonition", has_text="make explorer")
                assert note.count() == 1 and note.is_visible()
                note.scroll_into_view_if_needed()
                page.screenshot(path=str(ARTIFACTS / f"book_{notebook.stem}_interactive.png"))
            _check_page(page, watch, f"{notebook.name} after clicking")
        page.screenshot(path=str(ARTIFACTS / f"book_{NOTEBOOKS[-1].stem}_full.png"), full_page=True)

        # search, from the book's own index
        _open(page, watch, f"{server}/search.html?q=BatchEnsembleLinear")
        results = page.locator("#search-results li")
        results.first.wait_for(timeout=30_000)
        assert results.count() >= 1
        _check_page(page, watch, "search")

        # the API: from the navigation, and every module page it lists
        _open(page, watch, f"{server}/index.html")
        page.locator('nav.bd-docs-nav a[href="api/index.html"]').click()
        page.wait_for_url("**/api/index.html")
        _settle(page)
        _check_page(page, watch, "API index")
        page.screenshot(path=str(ARTIFACTS / "book_api.png"))
        modules = page.locator("article a.reference.internal[href^='bel.'][href$='.html']")
        pages = sorted({modules.nth(i).get_attribute("href") for i in range(modules.count())})
        assert "bel.layers.html" in pages, pages
        for href in pages:
            _open(page, watch, f"{server}/api/{href}")
            _check_page(page, watch, f"API page {href}")
        _open(page, watch, f"{server}/api/bel.layers.html")
        page.locator('[id="bel.layers.BatchEnsembleLinear"]').scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "book_api_layers.png"))


# -- the book's own extension (docs/_ext/bel_book.py) and the built pages --------------------------


def _bel_book():
    spec = importlib.util.spec_from_file_location("bel_book", ROOT / "docs/_ext/bel_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png(width: int, height: int, colour: str) -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")


def _figure(png: str, tags: list[str] | None = None) -> dict:
    cell = _code([{"output_type": "display_data", "data": {"image/png": png}}])
    cell["metadata"] = {"tags": tags} if tags else {}
    return cell


def test_a_card_is_read_from_the_notebook_itself():
    ext = _bel_book()
    first, key = _png(900, 300, "red"), _png(1200, 600, "blue")
    header = _md(
        "# 07 · What it buys\n\nIntro.\n\n**What you will learn**\n- one thing,\n  on two lines;\n"
        "- another.\n\n**Prerequisites**: notebook [`01_x`](01_x.ipynb) and $W$. **Run time**: "
        "about 12 seconds on a 2-core laptop CPU; more on a phone.\n"
    )
    nb = {"cells": [header, _figure(first), _figure(key, ["hide-input", "key-figure"])]}
    info = ext.header(nb)
    assert info["title"] == "07 · What it buys"
    assert info["learn"] == ["one thing, on two lines;", "another."]
    assert info["prerequisites"] == "notebook [`01_x`](01_x.ipynb) and $W$."
    assert ext._short_run_time(info["run_time"]) == "about 12 seconds on a 2-core laptop CPU"
    # the key figure is the tagged cell's, not the first PNG; shrunk to the card's width
    from PIL import Image

    thumb = Image.open(io.BytesIO(ext.thumbnail(ext.key_figure(nb))))
    assert thumb.size == (ext.THUMB_WIDTH, ext.THUMB_WIDTH // 2)
    assert thumb.getpixel((5, 5)) == (0, 0, 255)
    assert ext.key_figure({"cells": [header, _figure(first)]}) == base64.b64decode(first)
    text = ext.card(Path("07_what.ipynb"), nb, "thumbs/07.png", "BINDER", "COLAB")
    assert "[07 · What it buys](notebooks/07_what.ipynb)" in text
    assert "[`01_x`](notebooks/01_x.ipynb)" in text  # a link between notebooks, from the index
    assert ":img-top: thumbs/07.png" in text and "BINDER?labpath=notebooks/07_what.ipynb" in text
    assert "COLAB" not in text  # no install cell: no Colab button


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_landing_page_has_a_card_per_notebook(book, notebook):
    index = (book / "index.html").read_text(encoding="utf-8")
    info = _bel_book().header(_notebook(notebook))
    assert info["title"] and info["learn"] and info["run_time"], info
    card = index.split(f'href="notebooks/{notebook.stem}.html"', 1)
    assert len(card) == 2, f"no card links to {notebook.stem}"
    title = html.escape(info["title"], quote=False)
    assert title in index or title.replace("'", "\u2019") in index  # Sphinx's smart quotes
    assert f"_images/{notebook.stem}.png" in index, "no thumbnail"
    assert f"{BINDER}?labpath=notebooks/{notebook.name}" in index
    assert index.count("<title>") == 1 and "</title>" in index
    page_title = re.search(r"<title>(.*?)</title>", index).group(1)
    assert page_title.count("BatchEnsemble, learned interactively") == 1, page_title


def test_cell_tags_fold_or_remove_code_in_the_book(tmp_path):
    """myst-nb with the book's settings: ``remove-input`` leaves a cell's code out, ``hide-input``
    folds it under a button; the outputs stay. Built from a fixture notebook in a scratch book."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "conf.py").write_text(
        "import importlib.util\n"
        f"spec = importlib.util.spec_from_file_location('real', {str(ROOT / 'docs/conf.py')!r})\n"
        "real = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(real)\n"
        "extensions = ['myst_nb']\n"
        "for _name in dir(real):\n"
        "    if _name.startswith(('nb_', 'myst_')):\n"
        "        globals()[_name] = getattr(real, _name)\n"
    )
    cells = [
        _md("# Fixture"),
        {**_code([_stream("sentence built by code\n")]), "source": "print('REMOVED' + 'CODE')",
         "metadata": {"tags": ["remove-input"]}},
        {**_code([_stream("drawn\n")]), "source": "print('FOLDED' + 'CODE')",
         "metadata": {"tags": ["hide-input"]}},
        {**_code([_stream("plain\n")]), "source": "print('SHOWN' + 'CODE')"},
    ]  # fmt: skip
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (docs / "index.ipynb").write_text(json.dumps(nb))
    out = subprocess.run(
        [sys.executable, "-m", "sphinx", "-q", "-b", "html", str(docs), str(tmp_path / "html")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    page = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert "sentence built by code" in page and "REMOVED" not in page
    folded = re.search(r"<details class=\"[^\"]*hide[^\"]*\">(.*?)</details>", page, re.S)
    assert folded and "FOLDED" in folded.group(1), "the hide-input code is not folded"
    assert "Show the code" in folded.group(1)
    assert "drawn" in page and "SHOWN" in page.replace(folded.group(0), "")


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _squeezed(text: str) -> str:
    """Text without any whitespace (highlighted code on a page is split into tokens)."""
    return re.sub(r"\s+", "", text)


def _page_text(markup: str) -> str:
    return _squeezed(html.unescape(re.sub(r"<[^>]+>", "", markup)))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_tagged_cells_of_the_notebooks_are_folded_or_removed(book, notebook):
    """A cell tagged ``remove-input`` in the notebook has no code on its page; one tagged
    ``hide-input`` has its code inside a fold (``<details>``), not in the open."""
    page = _page(notebook).read_text(encoding="utf-8")
    folds = re.findall(r"<details class=\"[^\"]*hide above-input[^\"]*\">(.*?)</details>", page,
                       re.S)  # fmt: skip
    folded, everything = _page_text(" ".join(folds)), _page_text(page)
    for cell in _notebook(notebook)["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        code = _squeezed("".join(cell.get("source", "")))
        if cell["cell_type"] != "code" or not code:
            continue
        if "remove-input" in tags:
            assert code not in everything, f"remove-input, yet on the page: {code[:80]}"
        elif "hide-input" in tags:
            assert code in folded, f"hide-input, yet not folded: {code[:80]}"
        else:  # untagged code is on the page, in the open
            assert code in everything and code not in folded, f"not shown: {code[:80]}"


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}  # fmt: skip


class _Text(HTMLParser):
    """The text of a page outside code, scripts and typeset math."""

    def __init__(self) -> None:
        super().__init__()
        self._skip: list[bool] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _VOID:
            return
        classes = (dict(attrs).get("class") or "").split()
        skipped = tag in ("script", "style", "pre", "code", "textarea") or "math" in classes
        self._skip.append(skipped)

    def handle_endtag(self, tag):
        if tag not in _VOID and self._skip:
            self._skip.pop()

    def handle_data(self, data):
        if not any(self._skip):
            self.parts.append(data)


@pytest.mark.parametrize("notebook", [*NOTEBOOKS, None], ids=lambda p: p.stem if p else "index")
def test_no_raw_dollar_math_on_the_pages(book, notebook):
    """Every $...$ is typeset: in markdown cells, in prose built by code (text/markdown outputs)
    and on the landing page's cards."""
    parser = _Text()
    page = _page(notebook) if notebook else book / "index.html"
    parser.feed(page.read_text(encoding="utf-8"))
    text = " ".join(parser.parts)
    raw = [text[max(0, m.start() - 50) : m.end() + 10]
           for m in re.finditer(r"\$[^$\s][^$]*?\$", text)]  # fmt: skip
    assert not raw, f"unrendered $...$ on {page.name}: {raw}"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_empty_output_boxes(book, notebook):
    """An output with no text (what a closed progress bar leaves) is not drawn as a grey box."""
    page = _page(notebook).read_text(encoding="utf-8")
    boxes = re.findall(r'<div class="output (?:text_plain|stream)[^"]*">(.*?)</pre>', page, re.S)
    assert boxes, "no text outputs found: has the page's markup changed?"
    empty = [box for box in boxes if not _page_text(box)]
    assert not empty, f"{len(empty)} empty output box(es) on {notebook.stem}'s page"


def test_api_signatures_show_types_and_defaults_as_written(book):
    for page in (book / "api").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert "~typing." not in text and "~flax." not in text, page.name
        assert "&lt;class" not in text, page.name


def test_jupyterlab_lists_each_notebook_once():
    """`make lab`'s server, with the options `make -n lab` shows: the file browser lists each
    notebook's .ipynb and not its paired .py; the solutions stay listed."""
    command = subprocess.run(["make", "-n", "-o", ".venv/.installed", "lab"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    config = re.search(r"--config=(\S+)", command)
    assert config, command
    script = (
        "import asyncio, json, sys\n"
        "from jupyter_server.serverapp import ServerApp\n"
        "app = ServerApp()\n"
        "app.initialize([f'--config={sys.argv[1]}', f'--ServerApp.root_dir={sys.argv[2]}'],"
        " new_httpserver=False)\n"
        "def ls(path):\n"
        "    got = app.contents_manager.get(path)\n"
        "    got = asyncio.run(got) if asyncio.iscoroutine(got) else got\n"
        "    return sorted(item['name'] for item in got['content'])\n"
        "print(json.dumps([type(app.contents_manager).__name__, ls(''), ls('solutions')]))\n"
    )
    with tempfile.TemporaryDirectory() as scratch:
        env = scratch_env(Path(scratch))
        out = subprocess.run(
            [sys.executable, "-c", script, str(ROOT / config.group(1)), str(ROOT / "notebooks")],
            capture_output=True, text=True, env=env, cwd=scratch, timeout=120,
        )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    manager, listing, solutions = json.loads(out.stdout.strip().splitlines()[-1])
    assert "Jupytext" in manager  # jupytext's contents manager, which pairs the two files
    for notebook in NOTEBOOKS:
        assert notebook.name in listing and notebook.with_suffix(".py").name not in listing
    assert "solutions" in listing
    assert solutions == sorted(p.name for p in SOLUTIONS.glob("*.py")) and solutions
    # Binder: postBuild installs the same file
    assert "binder/jupyter_server_config.json" in (ROOT / "binder" / "postBuild").read_text()


# -- in a browser, at a phone's, a tablet's and a laptop's width -----------------------------------

WIDTHS = (390, 800, 1280)
REPLAY_PAGE = "notebooks/03_diversity_explorer.html"


@contextlib.contextmanager
def _browser_page(browser, server: str, width: int, name: str):
    """A page of the module's Chromium ``width`` px wide, watched for errors (``_Watch``); on a
    failure its screenshot goes to ``tests/artifacts/book_failure_NAME.png``. Always closed."""
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    try:
        yield page, _Watch(page, server)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"book_failure_{name}.png"))
        raise
    finally:
        page.close()


def _visible(page, selector: str) -> int:
    found = page.locator(selector)
    return sum(found.nth(i).is_visible() for i in range(found.count()))


@pytest.mark.parametrize("width", WIDTHS)
def test_navigation_opens_and_leads_to_pages_at_every_width(server, browser, width):
    """The ≡ menu and the page's contents open by clicking and their links lead somewhere; one
    search box; wide outputs scroll inside their own box; figures fit and open at full size."""
    first, last = NOTEBOOKS[0], NOTEBOOKS[-1]
    with _browser_page(browser, server, width, f"nav_{width}") as (page, watch):
        _open(page, watch, f"{server}/notebooks/{last.stem}.html")
        page.wait_for_timeout(300)  # the theme's scripts bind their buttons
        _check_page(page, watch, f"{last.name} at {width} px")
        searches = ".search-button, .search-button-field, input[name='q']"
        assert _visible(page, searches) == 1, f"search boxes at {width} px"

        # the menu: a dialog on narrow screens, the sidebar folding away on wide ones
        toggle = page.locator(".primary-toggle")
        assert _visible(page, ".primary-toggle") == 1
        sidebar = page.locator(".bd-sidebar-primary")
        link = f'a[href="{first.stem}.html"]'
        if sidebar.is_visible():  # wide: ≡ folds the sidebar away and brings it back
            toggle.first.click()
            sidebar.wait_for(state="hidden")
            toggle.first.click()
            sidebar.wait_for(state="visible")
            sidebar.locator(link).first.click()
        else:
            toggle.first.click()
            dialog = page.locator("#pst-primary-sidebar-modal")
            dialog.wait_for(state="visible")
            page.screenshot(path=str(ARTIFACTS / f"book_menu_{width}.png"))
            dialog.locator(link).first.click()
        page.wait_for_url(f"**/notebooks/{first.stem}.html")
        _settle(page)
        page.wait_for_timeout(300)
        assert first.stem.split("_", 1)[0] in page.locator("h1").first.inner_text()

        # the page's contents: beside the text on wide screens, a dialog on narrow ones
        wide = page.locator(".bd-sidebar-secondary")
        if wide.is_visible():
            entries = wide.locator("a.nav-link")
        else:
            assert _visible(page, ".secondary-toggle") == 1
            page.locator(".secondary-toggle").first.click()
            dialog = page.locator("#pst-secondary-sidebar-modal")
            dialog.wait_for(state="visible")
            entries = dialog.locator("a.nav-link")
        assert entries.count() >= 3, "no list of the page's sections"
        target = entries.nth(2).get_attribute("href")
        entries.nth(2).click()
        page.wait_for_function(f"() => location.hash === {json.dumps(target)}")
        heading = page.locator(f"[id={json.dumps(target[1:])}]")
        page.wait_for_function(
            "el => el.getBoundingClientRect().top < innerHeight", arg=heading.element_handle()
        )

        # figures fit the column and open at full size; wide outputs scroll in their box
        _open(page, watch, f"{server}/notebooks/{last.stem}.html")
        figures = page.locator(".cell_output img")
        assert figures.count() == _figures(_notebook(last))
        for i in range(figures.count()):
            img = figures.nth(i)
            fits = img.evaluate(
                "img => img.getBoundingClientRect().width <="
                " img.closest('article').getBoundingClientRect().width + 1"
            )
            assert fits, f"figure {i} is wider than the column at {width} px"
            parent = img.evaluate("img => img.parentElement.href")
            assert parent == img.evaluate("img => img.src"), "a figure without its link"
        clipped = page.evaluate(
            """() => [...document.querySelectorAll('.cell_output .output')]
              .filter(el => el.scrollWidth > el.clientWidth + 1)
              .filter(el => !['auto', 'scroll'].includes(getComputedStyle(el).overflowX))
              .map(el => el.textContent.slice(0, 60))"""
        )
        assert not clipped, f"outputs cut off at {width} px: {clipped}"
        page.screenshot(path=str(ARTIFACTS / f"book_{last.stem}_{width}.png"))
        _check_page(page, watch, f"navigation at {width} px")


def test_search_results_are_clean(server, browser):
    with _browser_page(browser, server, 1280, "search") as (page, watch):
        _open(page, watch, f"{server}/search.html?q=diversity")
        summaries = page.locator("#search-results li p.context")
        summaries.first.wait_for(timeout=30_000)
        texts = [summaries.nth(i).inner_text() for i in range(summaries.count())]
        assert texts and all(t.strip() for t in texts), texts
        assert not any("System Settings" in t or "Light Dark" in t for t in texts), texts
        _check_page(page, watch, "search")


def _picture(page, root) -> str:
    return root.locator("canvas").evaluate("canvas => canvas.toDataURL()")


@pytest.mark.parametrize("width", (1280, 390))
def test_the_explorer_replay_reacts_to_its_controls(server, browser, width):
    """On notebook 03's page and the landing page: the replay loads its grid, and moving each
    control repaints the picture (and the numbers, where they are shown); it fits the screen."""
    with _browser_page(browser, server, width, f"replay_{width}") as (page, watch):
        for where in (REPLAY_PAGE, "index.html"):
            _open(page, watch, f"{server}/{where}")
            root = page.locator(".bel-replay").first
            root.locator("canvas").wait_for(state="visible", timeout=30_000)
            root.scroll_into_view_if_needed()
            box = page.locator(".bel-replay-box").first
            assert "precomputed" in box.inner_text()
            assert "voila/render/apps/explorer.ipynb" in box.inner_html()
            assert "make explorer" in box.inner_text()
            right = box.evaluate("el => el.getBoundingClientRect().right")
            assert right <= width, f"the replay is wider than the screen on {where}"
            numbers = root.locator("table.bel-replay-numbers")
            shows_numbers = where == REPLAY_PAGE
            assert numbers.count() == int(shows_numbers)
            before = _picture(page, root)
            table = numbers.inner_text() if shows_numbers else ""
            root.locator("input[aria-label='members']").fill("7")
            after_members = _picture(page, root)
            assert after_members != before, f"members: the picture did not change ({where})"
            root.locator("input[aria-label='std of r and s']").fill("0")
            after_std = _picture(page, root)
            assert after_std != after_members, "std: the picture did not change"
            if shows_numbers:
                assert numbers.inner_text() != table, "the numbers did not change"
            root.locator("input[value='random_sign']").check()
            assert _picture(page, root) != after_std, "init: the picture did not change"
            assert root.locator("input[aria-label='std of r and s']").is_disabled()
            signs = _picture(page, root)
            root.locator("input[value='trained']").check()
            trained = _picture(page, root)
            assert trained != signs, "view: the picture did not change"
            root.locator("select").select_option("gap")
            assert _picture(page, root) != trained, "task: the picture did not change"
            page.screenshot(path=str(ARTIFACTS / f"book_replay_{where[:5]}_{width}.png"))
            _check_page(page, watch, f"replay on {where} at {width} px")
