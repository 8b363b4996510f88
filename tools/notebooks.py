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


KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
TEXT_REPRESENTATION = {"extension": ".py", "format_name": "percent", "format_version": "1.3"}


def stamp(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Give a notebook the kernel it runs on and the text format it is paired with.

    The kernelspec lets JupyterLab and Binder start the kernel without asking; the
    ``text_representation`` lets ``jupytext --diff NAME.ipynb NAME.py`` compare the pair.
    """
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.setdefault("jupytext", {})["text_representation"] = dict(TEXT_REPRESENTATION)
    return nb


def stamp_file(ipynb: Path) -> None:
    """:func:`stamp` an .ipynb in place (with nbformat: jupytext's writer drops the format)."""
    nbformat.write(stamp(nbformat.read(ipynb, as_version=4)), ipynb)


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
        jupytext.write(stamp(nb), ipynb)
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(ipynb)], check=True)
        stamp_file(ipynb)
        print(f"{name}: executed in {seconds:.1f} s")


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "sync":
        sys.exit("usage: python -m tools.notebooks sync [NAME ...]")
    sync_and_execute(sys.argv[2:])
