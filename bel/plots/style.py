"""One house style for every bel figure: resolution, text sizes, colours.

Every figure in bel (the static plots, the explorer, the notebooks' own cells) is made with
:func:`figure` or after :func:`use`, so that it is sharp (``DPI`` ≥ 100), readable (no text below
``MIN_FONT_SIZE`` points at the size it is displayed: figures are at most ``MAX_WIDTH`` inches wide,
so a notebook column shows them unscaled) and safe for colour-blind readers (the Okabe–Ito palette
for categories, viridis / cividis for sequential scales, blue–white–red for signed values; never a
red–green map).

>>> import bel.plots.style as style
>>> fig = style.figure(4, 3)
>>> fig.dpi >= 100, [float(v) for v in fig.get_size_inches()]
(True, [4.0, 3.0])
>>> float(style.figure(20, 3).get_size_inches()[0]) == style.MAX_WIDTH
True
>>> set(style.MODEL_COLORS.values()) <= set(style.OKABE_ITO)
True
"""

from __future__ import annotations

from typing import Any

import matplotlib
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "FONT_SIZE",
    "MIN_FONT_SIZE",
    "MAX_WIDTH",
    "OKABE_ITO",
    "CLASS_COLORS",
    "MODEL_COLORS",
    "MEMBER_COLORS",
    "DIVERGING",
    "SEQUENTIAL",
    "RC",
    "use",
    "figure",
]

DPI = 110
FONT_SIZE = 10.0
MIN_FONT_SIZE = 9.0
MAX_WIDTH = 9.0  # inches: 990 px at DPI, the width of a JupyterLab / book column

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common colour-vision
# deficiency. Black is last so that it is used only when eight categories are needed.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
CLASS_COLORS = OKABE_ITO[:6] + OKABE_ITO[7:]  # classes in scatter plots (no yellow: pale on white)
MEMBER_COLORS = OKABE_ITO  # ensemble members, in member order
# One colour per method, the same in every notebook and figure (look colours up with
# ``bel.plots.model_color(name)``; a method not listed here gets a palette colour by position).
# Eight Okabe-Ito colours for nine names: "separate networks" (notebook 05: one independently
# trained network per task) is the naive ensemble's idea grown one task at a time, so it shares
# naive's orange; the two never appear in one figure. Yellow (pale on white) goes to the method
# drawn only as black-ringed dots.
MODEL_COLORS = {
    "single": "#000000",  # black: one network, the baseline
    "BatchEnsemble": "#0072B2",  # blue (every member sees the same rows, the default of bel.fit)
    "BatchEnsemble (split)": "#56B4E9",  # sky blue: each member its own sub-batch (paper §3.1)
    "naive": "#E69F00",  # orange: independently trained networks
    "separate networks": "#E69F00",  # orange: one independent network per task (notebook 05)
    "random signs": "#009E73",  # bluish green: BatchEnsemble with r, s initialised to ±1
    "TabM-style": "#CC79A7",  # reddish purple: random signs in the first layer only, many members
    "random W": "#D55E00",  # vermillion: members on a random, untrained W (notebook 05's control)
    "fine-tuning": "#F0E442",  # yellow: one network trained on each task in turn (notebook 05)
}
DIVERGING = "RdBu_r"  # signed values on a symmetric scale: blue negative, white 0, red positive
SEQUENTIAL = "viridis"  # magnitudes (probabilities, uncertainty, accuracy)

RC: dict[str, Any] = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.constrained_layout.use": True,
    "font.size": FONT_SIZE,
    "axes.titlesize": FONT_SIZE,
    "axes.labelsize": FONT_SIZE,
    "xtick.labelsize": MIN_FONT_SIZE,
    "ytick.labelsize": MIN_FONT_SIZE,
    "legend.fontsize": MIN_FONT_SIZE,
    "legend.title_fontsize": MIN_FONT_SIZE,
    "figure.titlesize": FONT_SIZE + 1,
    "axes.prop_cycle": matplotlib.cycler(color=list(OKABE_ITO)),
    "image.cmap": SEQUENTIAL,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "scatter.edgecolors": "white",
    "lines.markersize": 5,
}


def use() -> None:
    """Make the house style the default for every figure drawn afterwards (notebooks call it once).

    >>> import matplotlib
    >>> import bel.plots.style as style
    >>> style.use()
    >>> matplotlib.rcParams["figure.dpi"] == style.DPI
    True
    """
    matplotlib.rcParams.update(RC)


def figure(width: float, height: float, **kwargs: Any) -> Figure:
    """A new figure in the house style, ``width × height`` inches (width capped at ``MAX_WIDTH``).

    The figure is not registered with pyplot: nothing accumulates in pyplot's list (good for
    widgets that redraw often), and it shows once when it is a notebook cell's last expression.
    Keyword arguments go to :class:`matplotlib.figure.Figure` (``layout`` defaults to
    ``"constrained"``).
    """
    if not (width > 0 and height > 0):
        raise ValueError(f"figure expects a width and height > 0 inches, got {width!r}, {height!r}")
    if width > MAX_WIDTH:  # shrink proportionally, so the aspect ratio is kept
        width, height = MAX_WIDTH, height * MAX_WIDTH / width
    kwargs.setdefault("layout", "constrained")
    kwargs.setdefault("dpi", DPI)
    with matplotlib.rc_context(RC):
        return Figure(figsize=(width, height), **kwargs)
