"""The diversity explorer: drag sliders, watch BatchEnsemble members agree or diverge.

Three floors, each importing only the ones below it:

- :mod:`bel.explorer.model`: what the explorer computes (settings → an ensemble built and trained
  by bel → its diversity numbers); no matplotlib, no widgets.
- :mod:`bel.explorer.figure`: the picture (matplotlib, blitted, styled by :mod:`bel.plots.style`).
- :mod:`bel.explorer.widget`: the panel, :class:`~bel.explorer.widget.DiversityExplorer`
  (ipywidgets controls in, the picture out).

``import bel`` does not import this package; ``from bel.explorer import DiversityExplorer`` loads
the panel (and with it matplotlib and ipywidgets) on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DiversityExplorer"]


def __getattr__(name: str) -> Any:
    if name == "DiversityExplorer":
        from bel.explorer.widget import DiversityExplorer

        return DiversityExplorer
    raise AttributeError(f"module 'bel.explorer' has no attribute {name!r}")
