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
from matplotlib.colors import LinearSegmentedColormap, to_rgb
from matplotlib.figure import Figure

from bel._checks import check_int
from bel.plots import style
from bel.plots.style import CLASS_COLORS, MODEL_COLORS, OKABE_ITO

__all__ = [
    "CLASS_COLORS",
    "MODEL_COLORS",
    "model_color",
    "seed_dots",
    "two_class_cmap",
    "plot_decision_maps",
    "plot_uncertainty_maps",
    "plot_regression_members",
    "plot_over_seeds",
]


def model_color(name: str, index: int = 0) -> str:
    """The house colour of a model: ``MODEL_COLORS[name]``, else the ``index``-th Okabe–Ito colour.

    >>> model_color("naive") == MODEL_COLORS["naive"], model_color("other", 2) == OKABE_ITO[2]
    (True, True)
    """
    return MODEL_COLORS.get(str(name), OKABE_ITO[index % len(OKABE_ITO)])


def seed_dots(
    ax: Axes, x: float, values: Any, *, color: str, width: float = 1.0, label: str | None = None
) -> None:
    """One model's scores over seeds at ``x``: a dot per seed and a black bar at the mean ± std.

    The house way to show variation over seeds (``ddof=0``); the dots sit just left of ``x``,
    spread a little so equal values stay visible, the bar just right. ``width`` scales the
    horizontal footprint (1 for one model per unit of x).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from bel.plots import style
    >>> ax = style.figure(2, 2).subplots()
    >>> seed_dots(ax, 0, [0.5, 0.7], color="C0")
    >>> ax.collections[0].get_offsets()[:, 1].tolist()
    [0.5, 0.7]
    """
    values = np.asarray(values, dtype=float)
    spread = np.linspace(-0.12, 0.12, values.size) if values.size > 1 else np.zeros(1)
    ax.scatter(
        x + (spread - 0.1) * width,
        values,
        s=22,
        color=color,
        edgecolors="black",
        linewidths=0.5,
        zorder=3,
        label=label,
    )
    ax.errorbar(
        x + 0.22 * width,
        values.mean(),
        yerr=values.std(),
        fmt="_",
        color="black",
        markersize=12 * min(1.0, 2 * width),
        capsize=3,
        lw=1.2,
        zorder=2,
    )


def two_class_cmap(strength: float = 0.55) -> LinearSegmentedColormap:
    """``p(class 1)`` from a tint of class 0's colour (0) through white (0.5) to class 1's (1).

    The ends are the class colours of the data dots mixed with white (``strength`` of the colour,
    the rest white), so a region and the points of the class it predicts share a hue while the
    full-colour dots still stand out on it; colour-blind safe (blue–orange), never red–green.

    >>> cmap = two_class_cmap()
    >>> [round(float(v), 3) for v in cmap(0.5)[:3]]
    [1.0, 1.0, 1.0]
    """
    if not 0 < strength <= 1:
        raise ValueError(f"two_class_cmap expects a strength in (0, 1], got {strength!r}")
    tint = [strength * np.array(to_rgb(c)) + (1 - strength) for c in CLASS_COLORS[:2]]
    return LinearSegmentedColormap.from_list("bel_two_class", [tint[0], (1.0, 1.0, 1.0), tint[1]])


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


def _scatter(
    ax: Axes, points: tuple[np.ndarray, np.ndarray] | None, size: float = 14, halo: bool = False
) -> None:
    """Data dots in their class colours with a black ring; ``halo`` adds a white rim (dark maps)."""
    if points is None:
        return
    xs, ys = points
    colors = [CLASS_COLORS[int(c) % len(CLASS_COLORS)] for c in ys]
    if halo:
        ax.scatter(xs[:, 0], xs[:, 1], s=size * 2.2, c="white", linewidths=0, zorder=3)
    ax.scatter(xs[:, 0], xs[:, 1], c=colors, s=size, edgecolors="black", linewidths=0.5, zorder=4)


def _bare(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    for spine in ax.spines.values():  # a map gets a frame on all four sides, whatever the rc style
        spine.set_visible(True)
        spine.set_linewidth(0.6)


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
    members: Any = None,
) -> Figure:
    """One panel per member and one for the ensemble mean: who predicts which class where.

    ``member_probs`` ``[E, G, C]`` are the members' class probabilities at the ``G`` points of
    ``grid`` (the ``(gx, gy)`` pair from :func:`bel.data.grid`; e.g.
    ``bel.metrics.member_probs(bel.predict(model, points))``). The last panel is the
    ensemble's mean probability. With two classes a panel shows ``p(class 1)`` from class 0's
    colour (0) through white to class 1's colour (1) (:func:`two_class_cmap`) with the 0.5
    contour, the decision boundary, in black; with more classes each pixel mixes
    the class colours by probability, fading to white where the prediction is uncertain. ``x, y``
    (``[n, 2]``, ``[n]``) are overlaid as dots. A single model (``E = 1``) gets one panel.
    ``members`` (indices) shows only those members; the mean panel still averages all ``E``.

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
    >>> [ax.get_title() for ax in plot_decision_maps(probs, grid, members=[1]).axes]
    ['member 1', 'ensemble mean']
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
    shown = list(range(E)) if members is None else [int(i) for i in np.ravel(members)]
    if E > 1 and (not shown or any(not 0 <= i < E for i in shown)):
        raise ValueError(
            f"plot_decision_maps expects members among 0..{E - 1} (at least one), got {members!r}"
        )
    panels = [*p[shown], p.mean(0)] if E > 1 else [p[0]]
    names = [f"member {i}" for i in shown] + ["ensemble mean"] if E > 1 else ["single model"]
    flat = _check_axes(axes, len(panels), "plot_decision_maps")
    if flat is None:
        n = len(panels)
        fig = style.figure(panel_size * n, panel_size + 0.35)
        flat = list(np.ravel(fig.subplots(1, n, squeeze=False)))
    fig = flat[0].figure
    extent = _extent(gx, gy)
    for ax, probs, name in zip(flat, panels, names, strict=True):
        if C == 2:
            ax.imshow(
                probs[:, 1].reshape(gx.shape),
                origin="lower",
                extent=extent,
                cmap=two_class_cmap(),
                vmin=0.0,
                vmax=1.0,
                interpolation="bilinear",
            )
            ax.contour(gx, gy, probs[:, 1].reshape(gx.shape), levels=[0.5], colors="k")
        else:
            ax.imshow(_probability_image(probs, gx.shape), origin="lower", extent=extent)
        _scatter(ax, points)
        _bare(ax, extent)
        ax.set_title(name, fontweight="bold" if name == "ensemble mean" else None)
    if title is not None:
        fig.suptitle(title)
    return fig


def plot_uncertainty_maps(
    maps: Mapping[str, Any],
    grid: Any,
    x: Any = None,
    y: Any = None,
    *,
    label: str = "uncertainty",
    vmax: float | None = None,
    region: Any = None,
    cmap: str = style.SEQUENTIAL,
    axes: Any = None,
    panel_size: float = 2.4,
) -> Figure:
    """Side-by-side heatmaps of a per-point uncertainty on the grid, one panel per model.

    ``maps`` maps a panel title (e.g. a model's name) to ``G`` values on ``grid`` (the ``(gx, gy)``
    pair from :func:`bel.data.grid`), e.g. ``bel.metrics.mutual_information(logits)``. All panels
    share one colour scale, ``[0, vmax]`` (default: the largest value), and one colour bar titled
    ``label``. ``region``, a boolean ``[G]`` mask on the grid, has its outline drawn dashed in
    white, e.g. the points within some distance of the training data
    (:func:`bel.metrics.nearest_distance`). With ``axes`` (one per map) the panels are drawn there
    and their figure is returned.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import bel.data
    >>> points, grid = bel.data.grid((-2, 2, -2, 2), 10)
    >>> fig = plot_uncertainty_maps({"a": np.zeros(100), "b": np.abs(points[:, 0])}, grid,
    ...                             region=np.abs(points[:, 0]) < 1)
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
    inside = None
    if region is not None:
        inside = np.asarray(region)
        if inside.dtype != bool or inside.shape != (gx.size,):
            raise ValueError(
                f"plot_uncertainty_maps expects region as a boolean mask of shape ({gx.size},), "
                f"got dtype {inside.dtype} and shape {inside.shape}"
            )
    n = len(values)
    axes = _check_axes(axes, n, "plot_uncertainty_maps")
    if axes is None:
        fig = style.figure(panel_size * n + 0.9, panel_size + 0.3)
        axes = list(np.ravel(fig.subplots(1, n, squeeze=False)))
    fig = axes[0].figure
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
        if inside is not None:
            ax.contour(
                gx,
                gy,
                inside.reshape(gx.shape).astype(float),
                levels=[0.5],
                colors="white",
                linestyles="--",
                linewidths=1.2,
            )
        _scatter(ax, points, size=8, halo=True)
        _bare(ax, extent)
        ax.set_title(str(name))
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
    color: str = MODEL_COLORS["BatchEnsemble"],
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
        ax = style.figure(4.2, 2.8).subplots()
    order = np.argsort(xs)
    xs, p = xs[order], p[:, order]
    mean, std = p.mean(0), p.std(0)
    if gap is not None:
        ax.axvspan(gap[0], gap[1], color="0.9", zorder=0, label="gap (no data)")
    ax.fill_between(
        xs, mean - 2 * std, mean + 2 * std, color=color, alpha=0.25, lw=0, label="mean ± 2 std"
    )
    if x is not None:
        ax.scatter(
            np.ravel(x),
            np.ravel(y),
            s=12,
            color="0.2",
            edgecolors="white",
            linewidths=0.4,
            zorder=3,
            label="data",
        )
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
        ax.set_title(title)
    ax.set_xlabel("x")
    return ax.figure


# --------------------------------------------------------------------------------------------------
# scores over seeds: one dot per seed, mean ± standard deviation


def plot_over_seeds(
    runs: Mapping[str, Sequence[Mapping[str, float]]],
    scores: Sequence[str],
    *,
    labels: Mapping[str, str] | None = None,
    ncols: int | None = None,
    panel_size: float = 2.1,
) -> Figure:
    """One panel per score, one column of dots per model: each dot one seed, a bar its mean ± std.

    ``runs`` maps a model name to its results, one dict ``{score: value}`` per seed (e.g. one
    :func:`bel.compare.classification_summary` per seed). In each panel a model's dots sit in its
    house colour (:func:`model_color`) with a black ring; the black bar beside them is the mean
    over seeds with ± one standard deviation (``ddof=0``). ``labels`` rename scores in the titles
    (e.g. ``{"nll": "NLL (lower is better)"}``). Panels wrap into rows of ``ncols``; panels left
    over in the last row are removed, so none is empty.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> runs = {"single": [{"nll": 0.5}, {"nll": 0.7}], "naive": [{"nll": 0.4}, {"nll": 0.4}]}
    >>> fig = plot_over_seeds(runs, ["nll"])
    >>> fig.axes[0].collections[0].get_offsets()[:, 1].tolist()    # single's dots, one per seed
    [0.5, 0.7]
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(
            f"plot_over_seeds expects a non-empty dict {{model: [runs]}}, got {runs!r}"
        )
    scores = list(scores)
    if not scores:
        raise ValueError("plot_over_seeds expects at least one score to draw, got none")
    for name, rs in runs.items():
        if isinstance(rs, Mapping) or not isinstance(rs, Sequence) or not rs:
            raise ValueError(
                f"plot_over_seeds expects a non-empty list of per-seed dicts for {name!r}, "
                f"got {type(rs).__name__}"
            )
        missing = sorted({c for r in rs for c in scores if c not in r})
        if missing:
            raise ValueError(f"plot_over_seeds: the runs of {name!r} lack scores {missing}")
    ncols = min(len(scores), 4) if ncols is None else ncols
    ncols = check_int(ncols, "ncols", 1, caller="plot_over_seeds")
    nrows = -(-len(scores) // ncols)
    fig = style.figure(panel_size * ncols, 1.9 * nrows + 0.2)
    axes = np.ravel(fig.subplots(nrows, ncols, squeeze=False))
    names = list(runs)
    for ax, score in zip(axes, scores, strict=False):
        for i, name in enumerate(names):
            values = np.array([float(r[score]) for r in runs[name]])
            seed_dots(ax, i, values, color=model_color(name, i))
        ax.set_title((labels or {}).get(score, score))
        ax.set_xticks(range(len(names)), names, rotation=25, ha="right")
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.grid(axis="y", color="0.9", lw=0.6)
    for ax in axes[len(scores) :]:
        fig.delaxes(ax)
    return fig
