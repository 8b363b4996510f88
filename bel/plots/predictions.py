"""Pictures of what ensembles predict: decision maps, uncertainty maps, regression bands, bars.

Data in, figure out: every function takes plain arrays (member probabilities ``[E, G, C]`` on a
grid from :func:`bel.data.grid`, member predictions ``[E, N, 1]`` from :func:`bel.predict`, ...)
and returns a :class:`matplotlib.figure.Figure` that is not registered with ``pyplot`` (nothing
accumulates in pyplot's figure list; a figure shows when it is a notebook cell's last expression,
or with ``display(fig)``). Pass ``axes=`` / ``ax=`` where offered to draw into axes of your own.

The ensemble's prediction is always the *mean of the members' probabilities* (or of their
regression outputs), as in :mod:`bel.metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

__all__ = [
    "CLASS_COLORS",
    "MODEL_COLORS",
    "plot_decision_maps",
    "plot_uncertainty_maps",
    "plot_regression_members",
    "plot_comparison",
]

#: Colours of classes 0, 1, 2, ... in decision maps and scatter plots (blue, red, green, ...).
CLASS_COLORS = ("#2166ac", "#b2182b", "#1b7837", "#762a83", "#e08214", "#35978f")
#: Colours of the compared models, in the order they are given (bars, legends).
MODEL_COLORS = ("#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


# --------------------------------------------------------------------------------------------------
# checks and helpers


def _as_array(values: Any, name: str, what: str) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} expects {what} as an array of numbers, got {values!r}") from err
    return a


def _check_grid(grid: Any, size: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``(gx, gy)`` meshgrid pair of :func:`bel.data.grid`, holding ``size`` points."""
    try:
        gx, gy = (np.asarray(g, dtype=np.float64) for g in grid)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} expects grid as the (gx, gy) meshgrid pair returned by bel.data.grid, "
            f"got {type(grid).__name__}"
        ) from err
    if gx.ndim != 2 or gx.shape != gy.shape:
        raise ValueError(
            f"{name} expects grid = (gx, gy), two 2-D meshgrid arrays of one shape, "
            f"got shapes {gx.shape} and {gy.shape}"
        )
    if gx.size != size:
        raise ValueError(
            f"{name} expects values for the {gx.size} grid points ({gx.shape[0]}×{gx.shape[1]}), "
            f"got {size}"
        )
    return gx, gy


def _check_points(x: Any, y: Any, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Optional data to overlay: 2-D inputs ``[n, 2]`` with integer labels ``[n]``."""
    if x is None and y is None:
        return None
    if x is None or y is None:
        raise ValueError(f"{name} expects both x and y (or neither), got only one of them")
    xs, ys = np.asarray(x), np.asarray(y)
    if xs.ndim != 2 or xs.shape[1] != 2 or ys.shape != (xs.shape[0],):
        raise ValueError(
            f"{name} expects data x of shape [n, 2] and labels y of shape [n], "
            f"got x {xs.shape} and y {ys.shape}"
        )
    return xs, ys


def _extent(gx: np.ndarray, gy: np.ndarray) -> tuple[float, float, float, float]:
    return (float(gx.min()), float(gx.max()), float(gy.min()), float(gy.max()))


def _scatter(ax: Axes, points: tuple[np.ndarray, np.ndarray] | None, size: float = 9) -> None:
    if points is None:
        return
    xs, ys = points
    colors = [CLASS_COLORS[int(c) % len(CLASS_COLORS)] for c in ys]
    ax.scatter(xs[:, 0], xs[:, 1], c=colors, s=size, edgecolors="white", linewidths=0.4)


def _bare(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")


def _check_axes(axes: Any, count: int, name: str) -> list[Axes] | None:
    if axes is None:
        return None
    flat = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(flat) != count or not all(isinstance(a, Axes) for a in flat):
        raise ValueError(
            f"{name} expects axes to be {count} matplotlib Axes, got {len(flat)} item(s): "
            f"{sorted({type(a).__name__ for a in flat})}"
        )
    return flat


def _probability_image(probs: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """RGB image: each class's colour weighted by its probability (white where all are equal)."""
    c = probs.shape[-1]
    palette = np.array([to_rgb(CLASS_COLORS[k % len(CLASS_COLORS)]) for k in range(c)])
    mixed = probs @ palette  # [G, 3]
    # Fade towards white as the prediction approaches uniform: confidence 1/C -> white, 1 -> colour.
    confidence = (probs.max(-1, keepdims=True) - 1.0 / c) / (1.0 - 1.0 / c)
    rgb = 1.0 - confidence * (1.0 - mixed)
    return np.clip(rgb, 0.0, 1.0).reshape(*shape, 3)


# --------------------------------------------------------------------------------------------------
# classification on a 2-D grid


def plot_decision_maps(
    member_probs: Any,
    grid: Any,
    x: Any = None,
    y: Any = None,
    *,
    title: str | None = None,
    axes: Any = None,
    panel_size: float = 1.9,
) -> Figure:
    """One panel per member and one for the ensemble mean: who predicts which class where.

    ``member_probs`` ``[E, G, C]`` are the members' class probabilities at the ``G`` points of
    ``grid`` (the ``(gx, gy)`` pair from :func:`bel.data.grid`; e.g.
    ``bel.metrics.member_probs(bel.predict(model, points, num_members=E))``). The last panel is the
    ensemble's mean probability. With two classes a panel shows ``p(class 1)`` from blue (0) to red
    (1) with the 0.5 contour, the decision boundary, in black; with more classes each pixel mixes
    the class colours by probability, fading to white where the prediction is uncertain. ``x, y``
    (``[n, 2]``, ``[n]``) are overlaid as dots. A single model (``E = 1``) gets one panel.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import bel.data
    >>> points, grid = bel.data.grid((-1, 1, -1, 1), 20)
    >>> p1 = 1 / (1 + np.exp(-np.stack([points[:, 0], points[:, 1]])))   # E=2 members, [2, 400]
    >>> probs = np.stack([1 - p1, p1], axis=-1)                          # [2, 400, 2]
    >>> fig = plot_decision_maps(probs, grid)
    >>> [ax.get_title() for ax in fig.axes]
    ['member 0', 'member 1', 'ensemble mean']
    """
    p = _as_array(member_probs, "plot_decision_maps", "member_probs [E, G, C]")
    if p.ndim != 3 or p.shape[-1] < 2 or 0 in p.shape:
        raise ValueError(
            f"plot_decision_maps expects member_probs of shape [E, G, C] with C >= 2 classes "
            f"(probabilities, e.g. bel.metrics.member_probs(logits)), got shape {p.shape}"
        )
    if np.any(p < -1e-6) or np.any(np.abs(p.sum(-1) - 1.0) > 1e-3):
        raise ValueError(
            "plot_decision_maps expects probabilities (each row in [0, 1], summing to 1 over "
            f"classes), got values in [{p.min():.3g}, {p.max():.3g}] with row sums in "
            f"[{p.sum(-1).min():.3g}, {p.sum(-1).max():.3g}]: apply softmax to logits first"
        )
    E, G, C = p.shape
    gx, gy = _check_grid(grid, G, "plot_decision_maps")
    points = _check_points(x, y, "plot_decision_maps")
    panels = [*p, p.mean(0)] if E > 1 else [p[0]]
    names = [f"member {i}" for i in range(E)] + ["ensemble mean"] if E > 1 else ["single model"]
    flat = _check_axes(axes, len(panels), "plot_decision_maps")
    if flat is None:
        n = len(panels)
        fig = Figure(figsize=(panel_size * n, panel_size + 0.35), layout="constrained")
        flat = list(np.ravel(fig.subplots(1, n, squeeze=False)))
    fig = flat[0].figure
    extent = _extent(gx, gy)
    for ax, probs, name in zip(flat, panels, names, strict=True):
        if C == 2:
            ax.imshow(
                probs[:, 1].reshape(gx.shape),
                origin="lower",
                extent=extent,
                cmap="RdBu_r",
                vmin=0.0,
                vmax=1.0,
                interpolation="bilinear",
            )
            ax.contour(gx, gy, probs[:, 1].reshape(gx.shape), levels=[0.5], colors="k")
        else:
            ax.imshow(_probability_image(probs, gx.shape), origin="lower", extent=extent)
        _scatter(ax, points, size=6)
        _bare(ax, extent)
        ax.set_title(name, fontsize=9, fontweight="bold" if name == "ensemble mean" else None)
    if title is not None:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_uncertainty_maps(
    maps: Mapping[str, Any],
    grid: Any,
    x: Any = None,
    y: Any = None,
    *,
    label: str = "uncertainty",
    vmax: float | None = None,
    box: tuple[float, float, float, float] | None = None,
    cmap: str = "magma",
    panel_size: float = 2.4,
) -> Figure:
    """Side-by-side heatmaps of a per-point uncertainty on the grid, one panel per model.

    ``maps`` maps a panel title (e.g. a model's name) to ``G`` values on ``grid`` (the ``(gx, gy)``
    pair from :func:`bel.data.grid`), e.g. ``bel.metrics.mutual_information(logits)``. All panels
    share one colour scale, ``[0, vmax]`` (default: the largest value), and one colour bar titled
    ``label``. ``box = (xmin, xmax, ymin, ymax)`` draws a dashed rectangle, e.g. around the region
    where the training data lie.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import bel.data
    >>> points, grid = bel.data.grid((-2, 2, -2, 2), 10)
    >>> fig = plot_uncertainty_maps({"a": np.zeros(100), "b": np.abs(points[:, 0])}, grid,
    ...                             box=(-1, 1, -1, 1))
    >>> [ax.get_title() for ax in fig.axes[:2]], fig.axes[1].images[0].get_clim()
    (['a', 'b'], (0.0, 2.0))
    """
    if not isinstance(maps, Mapping) or not maps:
        raise ValueError(
            f"plot_uncertainty_maps expects a non-empty dict {{title: values}}, got {maps!r}"
        )
    values = {}
    for name, v in maps.items():
        a = _as_array(v, "plot_uncertainty_maps", f"the values of {name!r}")
        if a.ndim != 1:
            raise ValueError(
                f"plot_uncertainty_maps expects one value per grid point, shape [G], for "
                f"{name!r}, got shape {a.shape}"
            )
        values[name] = a
    sizes = {a.size for a in values.values()}
    if len(sizes) != 1:
        raise ValueError(f"plot_uncertainty_maps expects equally long maps, got sizes {sizes}")
    gx, gy = _check_grid(grid, sizes.pop(), "plot_uncertainty_maps")
    points = _check_points(x, y, "plot_uncertainty_maps")
    if vmax is None:
        vmax = max(float(np.nanmax(a)) for a in values.values())
        vmax = vmax if vmax > 0 else 1.0
    elif not (isinstance(vmax, int | float) and np.isfinite(vmax) and vmax > 0):
        raise ValueError(f"plot_uncertainty_maps expects vmax > 0 or None, got {vmax!r}")
    n = len(values)
    fig = Figure(figsize=(panel_size * n + 0.9, panel_size + 0.3), layout="constrained")
    axes = np.ravel(fig.subplots(1, n, squeeze=False))
    extent = _extent(gx, gy)
    image = None
    for ax, (name, a) in zip(axes, values.items(), strict=True):
        image = ax.imshow(
            a.reshape(gx.shape),
            origin="lower",
            extent=extent,
            cmap=colormaps[cmap],
            vmin=0.0,
            vmax=vmax,
            interpolation="bilinear",
        )
        _scatter(ax, points, size=4)
        if box is not None:
            x0, x1, y0, y1 = box
            ax.plot([x0, x1, x1, x0, x0], [y0, y0, y1, y1, y0], "w--", linewidth=1)
        _bare(ax, extent)
        ax.set_title(str(name), fontsize=9)
    fig.colorbar(image, ax=list(axes), label=label, shrink=0.85)
    return fig


# --------------------------------------------------------------------------------------------------
# 1-D regression


def plot_regression_members(
    x_plot: Any,
    member_preds: Any,
    x: Any = None,
    y: Any = None,
    *,
    gap: tuple[float, float] | None = None,
    ax: Axes | None = None,
    title: str | None = None,
    color: str = MODEL_COLORS[1],
) -> Figure:
    """Every member's curve, the ensemble mean and a mean ± 2 std band, over a 1-D input.

    ``x_plot`` ``[N]`` or ``[N, 1]`` are the inputs the curves are drawn at; ``member_preds``
    ``[E, N, 1]`` (or ``[E, N]``) the members' outputs there, as :func:`bel.predict` returns them.
    The band is the mean ± twice the members' standard deviation (``ddof=0``): zero width for a
    single model. ``x, y`` (training data) are drawn as dots; ``gap = (lo, hi)`` is shaded. Draws
    into ``ax`` when given (and returns its figure).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> xs = np.linspace(-1, 1, 5)
    >>> preds = np.stack([xs, -xs])[..., None]                   # E=2 members, [2, 5, 1]
    >>> fig = plot_regression_members(xs, preds, gap=(-0.3, 0.4))
    >>> fig.axes[0].lines[-1].get_ydata().tolist()                 # the mean, drawn last
    [0.0, 0.0, 0.0, 0.0, 0.0]
    """
    xs = _as_array(x_plot, "plot_regression_members", "x_plot [N]")
    if xs.ndim == 2 and xs.shape[1] == 1:
        xs = xs[:, 0]
    if xs.ndim != 1:
        raise ValueError(
            f"plot_regression_members expects x_plot of shape [N] or [N, 1], got {xs.shape}"
        )
    p = _as_array(member_preds, "plot_regression_members", "member_preds [E, N, 1]")
    if p.ndim == 3 and p.shape[-1] == 1:
        p = p[..., 0]
    if p.ndim != 2 or p.shape[1] != xs.size or p.shape[0] < 1:
        raise ValueError(
            f"plot_regression_members expects member_preds of shape [E, N, 1] or [E, N] with "
            f"N = {xs.size} (the length of x_plot), got shape {np.shape(member_preds)}"
        )
    if (x is None) != (y is None):
        raise ValueError("plot_regression_members expects both x and y (or neither)")
    if ax is not None and not isinstance(ax, Axes):
        raise ValueError(f"plot_regression_members expects a matplotlib Axes, got {ax!r}")
    if gap is not None and not (len(gap) == 2 and gap[0] < gap[1]):
        raise ValueError(f"plot_regression_members expects gap = (lo, hi) with lo < hi, got {gap}")
    if ax is None:
        ax = Figure(figsize=(4.2, 2.8), layout="constrained").subplots()
    order = np.argsort(xs)
    xs, p = xs[order], p[:, order]
    mean, std = p.mean(0), p.std(0)
    if gap is not None:
        ax.axvspan(gap[0], gap[1], color="0.9", zorder=0, label="gap (no data)")
    ax.fill_between(
        xs, mean - 2 * std, mean + 2 * std, color=color, alpha=0.25, lw=0, label="mean ± 2 std"
    )
    if x is not None:
        ax.scatter(np.ravel(x), np.ravel(y), s=6, color="k", alpha=0.6, zorder=3, label="data")
    for i, member in enumerate(p if p.shape[0] > 1 else []):
        ax.plot(xs, member, color=color, lw=0.8, alpha=0.7, label="members" if i == 0 else None)
    ax.plot(
        xs,
        mean,
        color="k" if p.shape[0] > 1 else color,
        lw=1.8,
        label="ensemble mean" if p.shape[0] > 1 else "prediction",
    )
    if title is not None:
        ax.set_title(title, fontsize=10)
    ax.set_xlabel("x")
    return ax.figure


# --------------------------------------------------------------------------------------------------
# the comparison, one bar panel per quantity


def plot_comparison(
    rows: Mapping[str, Mapping[str, float]],
    columns: Sequence[str],
    *,
    labels: Mapping[str, str] | None = None,
    panel_size: float = 1.75,
    ncols: int | None = None,
) -> Figure:
    """Small bar charts, one per quantity in ``columns``, one bar per model (row), same colours.

    ``rows`` is what :func:`bel.compare.format_table` prints: ``{model: {quantity: value}}``.
    ``labels`` renames quantities in the panel titles (e.g. ``{"nll": "NLL ↓"}``). Every panel
    starts its axis at 0, so bar heights can be compared as ratios.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> rows = {"single": {"params": 1218, "nll": 0.45}, "naive": {"params": 4872, "nll": 0.38}}
    >>> fig = plot_comparison(rows, ["params", "nll"])
    >>> [round(float(bar.get_height()), 2) for bar in fig.axes[1].patches]
    [0.45, 0.38]
    """
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError(f"plot_comparison expects a non-empty dict of rows, got {rows!r}")
    columns = list(columns)
    if not columns:
        raise ValueError("plot_comparison expects at least one column to draw, got none")
    missing = {name: [c for c in columns if c not in row] for name, row in rows.items()}
    missing = {name: cols for name, cols in missing.items() if cols}
    if missing:
        raise ValueError(f"plot_comparison: some rows lack the columns to draw: {missing}")
    labels = dict(labels or {})
    ncols = len(columns) if ncols is None else ncols
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"plot_comparison expects ncols to be an int >= 1, got {ncols!r}")
    nrows = -(-len(columns) // ncols)
    fig = Figure(figsize=(panel_size * ncols, 1.9 * nrows), layout="constrained")
    axes = np.ravel(fig.subplots(nrows, ncols, squeeze=False))
    names = list(rows)
    colors = [MODEL_COLORS[i % len(MODEL_COLORS)] for i in range(len(names))]
    for ax, column in zip(axes, columns, strict=False):
        heights = [float(rows[name][column]) for name in names]
        ax.bar(range(len(names)), heights, color=colors)
        ax.set_title(labels.get(column, column), fontsize=9)
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_ylim(bottom=0)
    for ax in axes[len(columns) :]:
        ax.set_visible(False)
    return fig
