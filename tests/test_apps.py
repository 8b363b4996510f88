"""apps/: the panel-only explorer app is a jupytext pair that agrees, shows only a title, three
things to try and the panel, and is what the README's Binder link and `make explorer` open."""

from __future__ import annotations

from pathlib import Path

import jupytext

from tools.notebooks import inputs

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "apps" / "explorer"


def test_the_app_pair_agrees():
    assert inputs(APP.with_suffix(".py")) == inputs(APP.with_suffix(".ipynb")), (
        "apps/explorer.py and apps/explorer.ipynb differ: "
        "jupytext --to ipynb apps/explorer.py -o apps/explorer.ipynb"
    )


def test_the_app_is_a_title_three_things_to_try_and_the_panel():
    cells = jupytext.read(APP.with_suffix(".ipynb")).cells
    assert [c.cell_type for c in cells] == ["markdown", "code"]
    text = cells[0].source.splitlines()
    assert text[0].startswith("# ") and sum(line[:3] in ("1. ", "2. ", "3. ") for line in text) == 3
    assert "DiversityExplorer(" in cells[1].source and "display(explorer.widget)" in cells[1].source
    assert all(not c.get("outputs") for c in cells)  # Voila runs it; nothing stale is saved


def test_the_readme_links_the_app_on_binder():
    readme = (ROOT / "README.md").read_text()
    assert "HEAD?urlpath=voila/render/apps/explorer.ipynb" in readme
