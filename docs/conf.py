"""Sphinx configuration of the bel book: the executed notebooks and the API as a static site.

``make book`` runs ``sphinx-build -W --keep-going -n`` on this folder. Nothing is executed: the
pages show the outputs saved in ``notebooks/*.ipynb`` (myst-nb with ``nb_execution_mode = "off"``)
and the API pages come from bel's docstrings (autodoc). Every package used here works offline:
MathJax is served from the book itself (``sphinx-mathjax-offline``), the launch badges are local
files, and no widget JavaScript is loaded from a CDN (the widget outputs show their static picture).

Generated at every build by ``setup`` below, before Sphinx looks for sources (both folders are
git-ignored; a file is only rewritten when its content changes):

- ``docs/notebooks/NAME.ipynb``: a copy of every ``notebooks/*.ipynb`` (found by glob, so a new
  notebook gets its page without any edit here) with the exercises' solutions
  (``notebooks/solutions/NN_*.py``) appended in collapsed dropdowns, the Binder badge served
  locally, links to the README led to the landing page and, for notebooks with widget outputs,
  a note on how to launch them to interact (widget outputs show their picture; one without a
  picture, such as a progress bar, is left out rather than shown as its repr);
- ``docs/api/``: one page per bel module (found with ``pkgutil``).

The repository in the Binder and Colab links is ``OWNER/REPO`` (the README's placeholder) unless
``BEL_REPOSITORY=owner/name`` is set (e.g. from ``GITHUB_REPOSITORY`` in CI).
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from sphinx.util import logging
from sphinx.util.inspect import stringify_signature

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))  # the book's own extension, bel_book

import bel  # noqa: E402  (after the path: the book documents this checkout)

NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = NOTEBOOKS / "solutions"
BOOK_NOTEBOOKS = DOCS / "notebooks"
BOOK_API = DOCS / "api"

REPOSITORY = os.environ.get("BEL_REPOSITORY", "").strip() or "OWNER/REPO"
BINDER = f"https://mybinder.org/v2/gh/{REPOSITORY}/HEAD"
APP = "apps/explorer.ipynb"  # the explorer as a Voila app: `make explorer`, the Binder urlpath
BINDER_BADGE = "https://mybinder.org/badge_logo.svg"
LOCAL_BINDER_BADGE = "/_static/binder-badge.svg"  # "/": relative to this folder
COLAB = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
#: Pages that carry the explorer replay (``{explorer-replay}``, docs/_ext/bel_book.py), right
#: after the first cell that shows the live panel.
REPLAY_PAGES = ("03_diversity_explorer",)

LOGGER = logging.getLogger("bel.book")

# -- Project ---------------------------------------------------------------------------------------

project = "bel"
author = "the bel authors"
copyright = "the bel authors, MIT licence"
release = version = bel.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_design",
    "sphinx-mathjax-offline",
    "bel_book",  # docs/_ext: the landing page's notebook cards, the explorer replay, navigation
]
bel_notebooks = str(NOTEBOOKS)
bel_binder = BINDER
bel_colab = COLAB
exclude_patterns = ["_build", "_ext", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
nitpicky = True
# Cross-references are checked for bel's own objects; the libraries bel builds on have no
# inventory here (no intersphinx: the build is offline), so references into them are not checked.
_EXTERNAL = r"(jax|jaxlib|flax|nnx|optax|numpy|np|jnp|matplotlib|plt|ipywidgets|IPython|PIL)"
nitpick_ignore_regex = [
    ("py:.*", _EXTERNAL + r"(\..*)?"),
    ("py:.*", r"(typing|collections|collections\.abc|types|dataclasses|enum|concurrent)\..*"),
    ("py:.*", r"(ArrayLike|Array|Any|Callable|Sequence|Iterable|Iterator|Mapping|NamedTuple)"),
    ("py:.*", r"(Figure|Axes|Module|Rngs|Param|Variable|Mesh|NamedSharding|Sharding|Device)"),
    ("py:class", r"(optional|default|callable|array|array-like|array_like)"),
]

# -- Notebooks (myst-nb) ---------------------------------------------------------------------------

nb_execution_mode = "off"  # the committed outputs are the outputs: never re-execute
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
# A widget view needs a kernel (or widget JavaScript from a CDN); every widget output in bel's
# notebooks also carries the picture it showed, and the book shows that picture instead.
nb_mime_priority_overrides = [("html", WIDGET_VIEW, None)]
nb_ipywidgets_js: dict = {}
# Cell tags from the notebooks' own metadata (kept in the .py side by jupytext): myst-nb leaves
# out the code of a cell tagged `remove-input` (prose built by code: only the sentence shows) and
# folds the code of one tagged `hide-input` (drawing code: the figure shows, the code is a click
# away). These labels are the fold's button.
# Prose that code builds (display(Markdown(f"..."))) is parsed as MyST, as the notebooks' own
# markdown cells are, so its $...$ is typeset (the default, CommonMark, left it as raw dollars).
nb_render_markdown_format = "myst"
nb_code_prompt_show = "Show the code"
nb_code_prompt_hide = "Hide the code"

# -- API (autodoc) ---------------------------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
# Defaults as written in the source (``wrt=nnx.Param``), not their repr (``<class
# 'flax.nnx.variablelib.Param'>``), which Sphinx cannot parse: the whole signature then fell back
# to raw text with ``~typing.Any`` in it.
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
autosummary_generate = False

# -- HTML ------------------------------------------------------------------------------------------

html_theme = "sphinx_book_theme"
html_title = "bel — BatchEnsemble, learned interactively"
html_static_path = ["_static"]
templates_path = ["_templates"]  # layout.html: the landing page's title once
html_css_files = ["book.css"]
html_favicon = "_static/favicon.svg"  # three members, one shared frame
html_last_updated_fmt = None
# light by default (the figures are drawn on white); the theme button switches. Without a value
# the theme logs "invalid theme mode" as a console error on every page.
html_context = {"default_mode": "light"}
html_theme_options = {
    "repository_url": f"https://github.com/{REPOSITORY}",
    "repository_branch": "main",
    "path_to_docs": "",  # pages notebooks/NAME are the repository's notebooks/NAME.ipynb
    "use_repository_button": False,
    "use_download_button": True,
    "show_toc_level": 2,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
        "notebook_interface": "jupyterlab",
    },
}


# -- Generated sources -----------------------------------------------------------------------------


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _markdown_cell(cell_id: str, text: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _local_links(markdown: str) -> str:
    """The Binder badge from this book's own files, the links to this book's repository."""
    markdown = markdown.replace(BINDER_BADGE, LOCAL_BINDER_BADGE)
    return markdown.replace("https://mybinder.org/v2/gh/OWNER/REPO/HEAD", BINDER)


def _readme_to_landing_page(markdown: str) -> str:
    """Links to the README (the notebook index on GitHub) lead to the book's landing page."""
    return re.sub(r"\]\(\.\./README\.md(#[^)\s]*)?\)", "](../index.md)", markdown)


def _pictureless(output: dict) -> bool:
    """An output with nothing to show without a kernel: a widget's repr (a progress bar, say),
    or an empty text (what a progress bar leaves behind when it is closed).

    The page would show ``HBox(children=(IntProgress(...), ...))`` or an empty grey box; it shows
    nothing instead.
    """
    data = output.get("data", {})
    if WIDGET_VIEW in data and set(data) <= {WIDGET_VIEW, "text/plain"}:
        return True
    if output.get("output_type") == "stream":
        return not _text({"source": output.get("text", "")}).strip()
    return set(data) == {"text/plain"} and not _text({"source": data["text/plain"]}).strip()


def _has_widgets(nb: dict) -> bool:
    return any(
        WIDGET_VIEW in output.get("data", {})
        for cell in nb["cells"]
        for output in cell.get("outputs", [])
    )


def _launch_note(name: str) -> str:
    replay = (
        "\n\nOn this page, **Try it on this page** below replays the explorer without a kernel: "
        "its controls move through results computed beforehand by the explorer's own model."
        if name in REPLAY_PAGES
        else ""
    )
    return f"""\
:::{{admonition}} Interactive: launch it to move the sliders
:class: tip

This page shows the notebook as it was saved: each widget panel appears as the static picture it
last drew and does not react. To interact, run it with a live kernel:

- **in your browser, as an app** (Voilà on Binder, only the panel):
  [open the explorer app in Voilà]({BINDER}?urlpath=voila/render/{APP});
- **in your browser, as a notebook** (JupyterLab on Binder):
  [open {name} in JupyterLab]({BINDER}?labpath=notebooks/{name}.ipynb);
- **on your machine**, from a clone of the repository: `make explorer` opens the explorer as an
  app, `make lab` opens every notebook in JupyterLab.

The first Binder launch builds the environment and takes a few minutes.{replay}
:::
"""


def _solution_title(path: Path) -> str:
    """``Exercise N · what it does``: from the first comment line that says it (``# Solution to
    exercise N …: what`` or ``# Exercise N: what``), else from the file's name (``NN_exN_what``).
    """
    for line in path.read_text(encoding="utf-8").splitlines()[:5]:
        match = re.match(r"#\s*(?:Solution to exercise|Exercise)\s+(\d+)[^:]*:\s*(.+)", line, re.I)
        if match:
            return f"Exercise {match.group(1)} · {match.group(2).rstrip('.')}"
    match = re.match(r"\d+_ex(\d+)_(.+)", path.stem)
    if match:
        return f"Exercise {match.group(1)} · {match.group(2).replace('_', ' ')}"
    return path.stem


def _solutions_cell(name: str) -> dict | None:
    number = name.split("_", 1)[0]
    files = sorted(SOLUTIONS.glob(f"{number}_*.py"))
    if not files:
        return None
    parts = [
        "## Solutions to the exercises\n\n"
        "Try each exercise first. In the notebook, `%load solutions/NAME.py` in a new cell loads a "
        "solution; here each one opens with a click.\n"
    ]
    for path in files:
        parts.append(
            f"\n::::{{dropdown}} {_solution_title(path)} (`{path.name}`)\n"
            f"```{{literalinclude}} ../../notebooks/solutions/{path.name}\n"
            ":language: python\n"
            "```\n"
            "::::\n"
        )
    return _markdown_cell("book-solutions", "".join(parts))


def _solutions_index(cells: list[dict]) -> int:
    """Where the solutions go: before the first level-2 heading after ``## Exercises``."""
    heading = re.compile(r"^##\s+(.*)$", re.MULTILINE)
    exercises = None
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        titles = heading.findall(_text(cell))
        if exercises is None and any(t.strip().lower().startswith("exercises") for t in titles):
            exercises = i
        elif exercises is not None and re.match(r"^##\s", _text(cell)):
            return i
    return len(cells)


def _titles() -> dict[str, str]:
    """Each notebook's title (its first heading), by file name."""
    titles = {}
    for path in NOTEBOOKS.glob("*.ipynb"):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        first = next((_text(c) for c in cells if c["cell_type"] == "markdown"), "")
        match = re.search(r"^#\s+(.+?)\s*$", first, re.M)
        titles[path.name] = match.group(1) if match else path.stem
    return titles


def _next_links(markdown: str, titles: dict[str, str]) -> str:
    """In a ``**Next:**`` line, a link shown as a file name in code (`` [`02_x`](02_x.ipynb) ``)
    shows the notebook's title instead."""

    def title(match: re.Match) -> str:
        return f"[{titles.get(match.group(2), match.group(1))}]({match.group(2)})"

    def line(match: re.Match) -> str:
        return re.sub(r"\[`([^`\]]+)`\]\((\d\d_[\w-]+\.ipynb)\)", title, match.group(0))

    return re.sub(r"\*\*Next:?\*\*:?[^\n]*", line, markdown)


def _replay_cell() -> dict:
    return _markdown_cell(
        "book-replay",
        "### Try it on this page\n\n"
        "Move the controls: the pictures and numbers below are the explorer's own, computed "
        "beforehand for a grid of settings.\n\n```{explorer-replay}\n```\n",
    )


def _book_notebook(source: Path) -> str:
    nb = json.loads(source.read_text(encoding="utf-8"))
    nb["metadata"].pop("widgets", None)  # the saved widget state: no widget JavaScript here
    cells = nb["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            cell["outputs"] = [out for out in cell.get("outputs", []) if not _pictureless(out)]
    titles = _titles()
    for cell in cells:
        if cell["cell_type"] == "markdown":
            text = _readme_to_landing_page(_local_links(_text(cell)))
            cell["source"] = _next_links(text, titles)
    if source.stem in REPLAY_PAGES:
        # after the first cell that shows the live panel and the prose that reads its picture
        shows_panel = [i for i, c in enumerate(cells) if _has_widgets({"cells": [c]})]
        at = shows_panel[0] + 1 if shows_panel else 1
        while (
            at < len(cells)
            and cells[at]["cell_type"] == "markdown"
            and not _text(cells[at]).lstrip().startswith("#")
        ):
            at += 1
        cells.insert(at, _replay_cell())
    solutions = _solutions_cell(source.stem)
    if solutions is not None:
        cells.insert(_solutions_index(cells), solutions)
    if _has_widgets(nb):
        cells.insert(1, _markdown_cell("book-launch", _launch_note(source.stem)))
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _module_page(name: str) -> str:
    return f"# `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n   :members:\n```\n"


def _api_index(modules: list[str]) -> str:
    names = "\n".join(f"   {name}" for name in bel.__all__ if not name.startswith("_"))
    pages = "\n".join(f"{name}" for name in modules)
    return f"""\
# API reference

Generated from bel's docstrings; the `>>>` examples are run as doctests by the test suite.

```{{eval-rst}}
.. automodule:: bel
```

## The names `import bel` gives you

```{{eval-rst}}
.. autosummary::

{names}
```

## Modules

```{{toctree}}
:maxdepth: 1

{pages}
```
"""


def _documented_elsewhere(name: str) -> bool:
    """A module whose public classes and functions all say they live in its package (bel.layers'
    linear, conv and layout: they are documented once, as ``bel.layers.NAME``)."""
    module = importlib.import_module(name)
    public = [getattr(module, n) for n in getattr(module, "__all__", ())]
    homes = {getattr(obj, "__module__", name) for obj in public if callable(obj)}
    return homes == {name.rpartition(".")[0]}


def _bel_modules() -> list[str]:
    found = [
        info.name
        for info in pkgutil.walk_packages(bel.__path__, "bel.")
        if not any(part.startswith("_") for part in info.name.split("."))
        and not _documented_elsewhere(info.name)
    ]
    return sorted(found)


def _generate_sources() -> None:
    wanted = {}
    for source in sorted(NOTEBOOKS.glob("*.ipynb")):
        wanted[source.name] = _book_notebook(source)
    BOOK_NOTEBOOKS.mkdir(exist_ok=True)
    for stale in set(p.name for p in BOOK_NOTEBOOKS.glob("*.ipynb")) - set(wanted):
        (BOOK_NOTEBOOKS / stale).unlink()
    for name, text in wanted.items():
        _write_if_changed(BOOK_NOTEBOOKS / name, text)

    modules = _bel_modules()
    BOOK_API.mkdir(exist_ok=True)
    pages = {f"{name}.md": _module_page(name) for name in modules}
    pages["index.md"] = _api_index(modules)
    for stale in set(p.name for p in BOOK_API.glob("*.md")) - set(pages):
        (BOOK_API / stale).unlink()
    for name, text in pages.items():
        _write_if_changed(BOOK_API / name, text)


# -- Hooks -----------------------------------------------------------------------------------------


def _readme_links(app, relative_path, parent_docname, content) -> None:
    """``include-read``: the README's Binder badge from the book's files, its links completed."""
    content[0] = _local_links(content[0])


_MISSING = object()


def _object(name: str) -> Any:
    """What ``package.module.Class.attribute`` names (importing as far as it can), or _MISSING."""
    parts = name.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
        except (ImportError, ValueError):
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute, _MISSING)
            if obj is _MISSING:
                return _MISSING
        return obj
    return _MISSING


def _canonical(name: str, obj: Any) -> str | None:
    """``bel.layers.tile`` for ``bel.tile`` (the module that defines what a name refers to)."""
    defined_in, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not (isinstance(defined_in, str) and isinstance(qualname, str)):
        return None
    canonical = f"{defined_in}.{qualname}"
    return canonical if canonical != name else None


def _resolve_reexports(app, env, node, contnode):
    """``missing-reference`` for bel's own names that Sphinx cannot find by itself.

    ``bel.fit`` (a re-export) links to ``bel.train.fit``, where it is documented. A name that
    exists but has no entry of its own (a type variable, an undocumented constant or property)
    stays plain text. Anything else, e.g. a name that no longer exists, stays a warning.
    """
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    module, cls = node.get("py:module"), node.get("py:class")
    candidates = [target]
    if module and cls:
        candidates.append(f"{module}.{cls}.{target}")
    if module:
        candidates.append(f"{module}.{target}")
    domain = env.get_domain("py")
    for name in candidates:
        if not name.startswith("bel.") and name != "bel":
            continue
        obj = _object(name)
        if obj is _MISSING:
            continue
        canonical = _canonical(name, obj)
        if canonical:
            found = domain.resolve_xref(
                env, node["refdoc"], app.builder, node["reftype"], canonical, node, contnode
            )
            if found is not None:
                return found
        return contnode
    return None


def _installs_bel(nb: dict) -> bool:
    """Whether the first code cell installs bel when it is missing (what Colab needs)."""
    code = next((_text(cell) for cell in nb["cells"] if cell["cell_type"] == "code"), "")
    return 'find_spec("bel")' in code and "pip" in code


def _launch_buttons(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``, after the theme's: the launch menu of a notebook page.

    Binder in the README's link pattern (``?labpath=``); Voilà too for notebooks with widgets;
    Colab only where it works, i.e. where the first code cell installs bel.
    """
    source = NOTEBOOKS / f"{pagename.removeprefix('notebooks/')}.ipynb"
    if not pagename.startswith("notebooks/") or not source.exists():
        return
    name, nb = source.stem, json.loads(source.read_text(encoding="utf-8"))
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        buttons = group["buttons"]
        for button in buttons:
            if button.get("text") == "Binder":
                button["url"] = f"{BINDER}?labpath=notebooks/{name}.ipynb"
                button["text"] = "Binder (JupyterLab)"
        if not _installs_bel(nb):
            buttons[:] = [button for button in buttons if button.get("text") != "Colab"]
        if _has_widgets(nb):
            buttons.append(
                {
                    "type": "link",
                    "text": "Binder (Voilà app)",
                    "tooltip": "Launch the interactive panels on Binder with Voilà",
                    "icon": "_static/images/logo_binder.svg",
                    "url": f"{BINDER}?urlpath=voila/render/{APP}",
                }
            )


class _Anchors(HTMLParser):
    """The ids of a page and the URLs it points to (links, images, scripts, stylesheets)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) and tag in ("a", "img", "link", "script", "source", "iframe"):
                self.urls.append(attrs[key])


def _check_internal_links(app, exception) -> None:
    """``build-finished``: every link inside the book leads to a file, and to an id that exists.

    Links to other sites are not followed (the build is offline); each broken internal link is a
    warning, so ``-W`` makes it fail the build.
    """
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir).resolve()
    pages = {}
    for page in outdir.rglob("*.html"):
        if page.relative_to(outdir).parts[0] == "_static":
            continue  # the themes' template fragments, not pages
        parser = _Anchors()
        parser.feed(page.read_text(encoding="utf-8"))
        pages[page.resolve()] = parser
    broken = 0
    for page, parser in sorted(pages.items()):
        for url in parser.urls:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            where = page.relative_to(outdir)
            if not target.exists():
                LOGGER.warning(f"broken internal link in {where}: {url} (no file {target})")
                broken += 1
            elif parts.fragment and target in pages and parts.fragment not in pages[target].ids:
                LOGGER.warning(f"broken internal link in {where}: {url} (no id #{parts.fragment})")
                broken += 1
    LOGGER.info(
        f"internal links: {sum(len(p.urls) for p in pages.values())} checked, {broken} broken"
    )


def _class_signature(app, what, name, obj, options, signature, return_annotation):
    """``autodoc-process-signature``: a class shows its ``__init__`` arguments.

    Flax NNX modules are built through a metaclass ``__call__(*args, **kwargs)``, which autodoc
    would otherwise show as the class's signature.
    """
    if what != "class" or not signature or "*args" not in signature:
        return None
    if not getattr(obj.__init__, "__module__", "").startswith("bel"):
        return None  # an __init__ inherited from the library underneath: as autodoc shows it
    try:
        init = inspect.signature(obj.__init__)
    except (TypeError, ValueError):
        return None
    parameters = list(init.parameters.values())[1:]  # without self
    if [p.kind for p in parameters] == [
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.VAR_KEYWORD,
    ]:
        return None
    shown = init.replace(parameters=parameters, return_annotation=inspect.Signature.empty)
    return stringify_signature(shown, unqualified_typehints=True), return_annotation


def setup(app):
    _generate_sources()  # before Sphinx looks for sources (importing this file writes nothing)
    app.connect("autodoc-process-signature", _class_signature)
    app.connect("include-read", _readme_links)
    app.connect("missing-reference", _resolve_reexports)
    app.connect("html-page-context", _launch_buttons, priority=502)
    app.connect("build-finished", _check_internal_links, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
