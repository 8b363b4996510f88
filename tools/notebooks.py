"""Notebook pairs: find them, check they agree, execute them (tests, ``make notebooks``, bench).

``python -m tools.notebooks sync`` re-syncs every pair with ``jupytext --sync`` (the newer side
wins, so a learner's edits on either side are kept), then re-executes each notebook from its
``.py`` in a fresh kernel and writes the outputs into the ``.ipynb``. A pair whose two sides both
changed since they were last in sync is refused by jupytext rather than overwritten.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def stems() -> list[str]:
    """Every notebook name in notebooks/, from either side of a pair."""
    names = {p.stem for p in NOTEBOOKS.glob("*.py")} | {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    return sorted(names)


def inputs(path: Path) -> list[tuple[str, str]]:
    """The cells of a notebook as ``(cell_type, source)``, outputs and metadata left out."""
    nb = jupytext.read(path)
    return [(cell.cell_type, cell.source.strip()) for cell in nb.cells]


def execute(path: Path, timeout: int = 300) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook top to bottom in a fresh kernel (cwd = its folder); return it and seconds."""
    nb = jupytext.read(path)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def sync_and_execute(names: list[str]) -> None:
    for name in names or stems():
        py, ipynb = NOTEBOOKS / f"{name}.py", NOTEBOOKS / f"{name}.ipynb"
        if ipynb.exists() and py.exists():
            subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(py)], check=True)
        nb, seconds = execute(py)
        jupytext.write(nb, ipynb)
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(ipynb)], check=True)
        print(f"{name}: executed in {seconds:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "sync":
        sys.exit("usage: python -m tools.notebooks sync [NAME ...]")
    sync_and_execute(sys.argv[2:])
