"""The bel book's own Sphinx extension: the landing page's notebook cards and the explorer replay.

``{notebook-cards}``
    A card per ``notebooks/*.ipynb`` (found by glob: a new notebook gets its card with no docs
    edit), read from the notebook itself: the title from its first heading, the "What you will
    learn" bullets, "Prerequisites" and "Run time" from its header cell, a thumbnail of its key
    figure (the first PNG output of the cell tagged ``key-figure``, else the notebook's first
    PNG) and launch buttons (the page, Binder, Colab where the notebook installs bel).

``{explorer-replay}``
    The diversity explorer replayed with no kernel: a ``<div class="bel-replay">`` that
    ``_static/explorer-replay.js`` turns into controls, a canvas and the numbers, from
    ``_static/explorer-grid.json`` (``make explorer-grid``: computed by ``bel.explorer.model``).
    ``:size: small`` leaves the numbers out (the landing page). The note under it says that it
    replays precomputed results and links to the live explorer.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOGGER = logging.getLogger("bel.book")
THUMB_WIDTH = 480  # px: a card is at most ~440 px wide on the landing page
KEY_FIGURE = "key-figure"
GRID = "explorer-grid.json"


# -- reading a notebook ----------------------------------------------------------------------------


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _paragraph_after(pattern: str, markdown: str) -> str:
    """The text after ``pattern`` up to the next bold label or the end of its paragraph."""
    match = re.search(pattern + r"\s*(.*?)(?=\s\*\*[A-Z][^*]*\*\*|\n\s*\n|\Z)", markdown, re.S)
    return " ".join(match.group(1).split()) if match else ""


def header(nb: dict) -> dict:
    """Title, "What you will learn" bullets, prerequisites and run time from a notebook's header.

    The header is the first markdown cell: ``# NN · title``, a ``**What you will learn**`` list,
    ``**Prerequisites.**`` (or ``**Prerequisites**:``) and ``**Run time:**`` (or ``**Run
    time**:``). A missing piece is an empty string (an empty list for the bullets).
    """
    first = next((_text(c) for c in nb["cells"] if c["cell_type"] == "markdown"), "")
    title = re.search(r"^#\s+(.+?)\s*$", first, re.M)
    learn: list[str] = []
    block = re.search(r"\*\*What you will learn\*\*:?\s*\n((?:[ \t]*[-*] .*\n?|[ \t]+\S.*\n?)+)",
                      first)  # fmt: skip
    if block:
        for line in block.group(1).splitlines():
            if re.match(r"\s*[-*] ", line):
                learn.append(re.sub(r"^\s*[-*] ", "", line).strip())
            elif learn and line.strip():
                learn[-1] += " " + line.strip()
    run_time = _paragraph_after(r"\*\*Run time(?::\*\*|\*\*:?)", first)
    return {
        "title": title.group(1) if title else "",
        "learn": learn,
        "prerequisites": _paragraph_after(r"\*\*Prerequisites(?:[.:]\*\*|\*\*[.:]?)", first),
        "run_time": run_time,
    }


def key_figure(nb: dict) -> bytes | None:
    """The PNG of the notebook's key figure: the first PNG output of the cell tagged
    ``key-figure``, else the notebook's first PNG output; None without any."""
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    tagged = [c for c in cells if KEY_FIGURE in c.get("metadata", {}).get("tags", [])]
    for cell in tagged + cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                return base64.b64decode("".join(png) if isinstance(png, list) else png)
    return None


def thumbnail(png: bytes, width: int = THUMB_WIDTH) -> bytes:
    """A smaller PNG of ``png`` (at most ``width`` px wide; never enlarged)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _local_links(markdown: str) -> str:
    """Links between notebooks (``NN_name.ipynb``) as seen from the landing page."""
    return re.sub(r"\]\((\d\d_[\w-]+\.ipynb(?:#[^)\s]*)?)\)", r"](notebooks/\1)", markdown)


def _short_run_time(text: str) -> str:
    """The run time up to its first clause (``about 25 seconds on a 2-core laptop CPU``)."""
    return re.split(r";|\s\(|\.\s|\.$", text, maxsplit=1)[0].strip()


def _installs_bel(nb: dict) -> bool:
    code = next((_text(c) for c in nb["cells"] if c["cell_type"] == "code"), "")
    return 'find_spec("bel")' in code and "pip" in code


def card(path: Path, nb: dict, thumb: str | None, binder: str, colab: str) -> str:
    """The MyST text of one notebook's card (a sphinx-design grid item)."""
    info = header(nb)
    name = path.stem
    lines = [":::{grid-item-card}", ":class-card: bel-card"]
    if thumb:
        lines += [f":img-top: {thumb}", f":img-alt: the key figure of {name}"]
    lines += ["", "````{card-header}", f"**[{info['title'] or name}](notebooks/{path.name})**",
              "````", ""]  # fmt: skip
    if info["learn"]:
        lines += ["**What you will learn**", ""]
        lines += [f"- {_local_links(item)}" for item in info["learn"]]
        lines.append("")
    if info["prerequisites"]:
        lines += [f"**Prerequisites.** {_local_links(info['prerequisites'])}", ""]
    if info["run_time"]:
        lines += [f"**Run time:** {_short_run_time(info['run_time'])}.", ""]
    lines += ["````{card-footer}", ""]
    buttons = [
        (f"notebooks/{name}", "Read", "primary", False),
        (f"{binder}?labpath=notebooks/{path.name}", "Binder", "secondary", True),
    ]
    if _installs_bel(nb):
        buttons.append((f"{colab}/notebooks/{path.name}", "Colab", "secondary", True))
    for target, label, color, external in buttons:
        kind = "button-link" if external else "button-ref"
        lines += [f"```{{{kind}}} {target}", f":color: {color}", ":shadow:"]
        if not external:
            lines.append(":ref-type: doc")
        else:
            lines.append(":outline:")
        lines += [":class: bel-card-button", "", label, "```", ""]
    lines += ["````", ":::"]
    return "\n".join(lines)


# -- directives ------------------------------------------------------------------------------------


class NotebookCards(SphinxDirective):
    """``{notebook-cards}``: a card per notebook of ``bel_notebooks`` (see the module doc)."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        config = self.env.config
        folder = Path(config.bel_notebooks)
        thumbs = Path(self.env.srcdir) / config.bel_thumbs
        thumbs.mkdir(parents=True, exist_ok=True)
        cards = []
        for path in sorted(folder.glob("*.ipynb")):
            self.env.note_dependency(str(path))
            nb = json.loads(path.read_text(encoding="utf-8"))
            png = key_figure(nb)
            thumb = None
            if png is not None:
                target = thumbs / f"{path.stem}.png"
                small = thumbnail(png)
                if not target.exists() or target.read_bytes() != small:
                    target.write_bytes(small)
                thumb = f"{config.bel_thumbs}/{path.stem}.png"
            else:
                LOGGER.warning(f"{path.name} has no PNG output for its card's thumbnail")
            cards.append(card(path, nb, thumb, config.bel_binder, config.bel_colab))
        if not cards:
            LOGGER.warning(f"no notebooks in {folder} for the landing page's cards")
        text = "\n".join(["::::{grid} 1 1 2 2", ":gutter: 3", ":class-container: bel-cards", "",
                          "\n\n".join(cards), "::::"])  # fmt: skip
        container = nodes.container(classes=["bel-notebook-cards"])
        self.state.nested_parse(StringList(text.splitlines(), "notebook-cards"), 0, container)
        return [container]


class ExplorerReplay(SphinxDirective):
    """``{explorer-replay}``: the explorer replayed from ``_static/explorer-grid.json``."""

    has_content = False
    option_spec = {"size": lambda value: directives.choice(value, ("full", "small"))}

    def run(self) -> list[nodes.Node]:
        size = self.options.get("size", "full")
        grid_file = Path(self.env.srcdir) / "_static" / GRID
        self.env.note_dependency(str(grid_file))
        if not grid_file.exists():
            where = self.get_location()
            LOGGER.warning(f"no {grid_file}: run `make explorer-grid`", location=where)
            return []
        grid = json.loads(grid_file.read_text(encoding="utf-8"))
        stds = ", ".join(f"{s:g}" for s in grid["grid"]["std"])
        binder = self.env.config.bel_binder
        live = f"{binder}?urlpath=voila/render/apps/explorer.ipynb"
        note = (
            "<strong>A replay of precomputed results, not the live explorer.</strong> Every "
            "picture and number here was computed beforehand by the explorer's own model "
            "(<code>bel.explorer.model</code>, <code>make explorer-grid</code>) for 1–8 members, "
            f"both inits, one std for r and s in {{{stds}}}, both tasks, at initialisation and "
            f"after {grid['steps']} training steps (means 1, seed 0); nothing is computed in your "
            "browser. The live explorer has "
            f'every slider: <a href="{html.escape(live)}">open it on Binder</a> (Voilà), or run '
            "<code>make explorer</code> in a clone of the repository."
        )
        if size == "small":
            note = (
                "A replay of results precomputed by <code>bel.explorer.model</code> (nothing runs "
                "in your browser); the full replay with the numbers is on notebook 03's page, the "
                f'live explorer <a href="{html.escape(live)}">on Binder</a> or with '
                "<code>make explorer</code>."
            )
        markup = (
            f'<div class="bel-replay-box bel-replay-{size}">'
            f'<div class="bel-replay" data-size="{size}">'
            "<noscript>The explorer replay needs JavaScript.</noscript>"
            '<p class="bel-replay-loading">Loading the replay …</p></div>'
            f'<p class="bel-replay-note">{note}</p></div>'
        )
        return [nodes.raw("", markup, format="html")]


def setup(app):
    app.add_config_value("bel_notebooks", "", "env")
    app.add_config_value("bel_thumbs", "notebooks/_thumbs", "env")
    app.add_config_value("bel_binder", "", "env")
    app.add_config_value("bel_colab", "", "env")
    app.add_directive("notebook-cards", NotebookCards)
    app.add_directive("explorer-replay", ExplorerReplay)
    app.add_js_file("book.js", loading_method="defer")
    app.add_js_file("explorer-replay.js", loading_method="defer")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
