"""Pictures of calibration and uncertainty under shift: reliability diagrams, metric-vs-shift curves
over seeds (Ovadia et al., 2019), out-of-distribution scores and accuracy–rejection curves.

Data in, figure out, as in :mod:`bel.plots.predictions`: the numbers come from :mod:`bel.metrics`
(:func:`bel.metrics.reliability_curve`, :func:`bel.metrics.auroc`,
:func:`bel.metrics.accuracy_rejection_curve`, ...) and these functions only draw them, in the house
style of :mod:`bel.plots.style` (each model in its :data:`~bel.plots.style.MODEL_COLORS` colour).
Variation over seeds is always shown, never hidden: one dot per seed, and the mean with ± one
standard deviation (``ddof=0``) over the seeds.

Every function returns a :class:`matplotlib.figure.Figure` not registered with ``pyplot``; pass
``ax=`` to draw into axes of your own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bel.plots import style
from bel.plots.predictions import model_color, seed_dots

__all__ = [
    "reliability_diagram",
    "seed_curves",
    "shift_curves",
    "grouped_seed_dots",
]

THIN_COLOR = "0.85"  # the fill of a reliability bin with too few inputs to read


def _check_models(values: Any, name: str, what: str) -> None:
    if not isinstance(values, Mapping) or not values:
        raise ValueError(f"{name} expects a non-empty dict {{model: {what}}}, got {values!r}")


def _check_ax(ax: Any, name: str, width: float, height: float) -> Axes:
    if ax is None:
        return style.figure(width, height).subplots()
    if not isinstance(ax, Axes):
        raise ValueError(f"{name} expects a matplotlib Axes as ax, got {ax!r}")
    return ax


def _numbers(values: Any, name: str, what: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} expects {what} as an array of numbers, got {values!r}") from err


# --------------------------------------------------------------------------------------------------
# Reliability diagram


def reliability_diagram(
    curves: Mapping[str, Any],
    *,
    ax: Axes | None = None,
    title: str | None = None,
    legend: bool = True,
    min_count: int = 10,
) -> Figure:
    """Accuracy against confidence per bin, one line per model (Guo et al., 2017).

    ``curves`` maps a model name to its :func:`bel.metrics.reliability_curve` (or any triple
    ``(confidence, accuracy, count)`` of ``[num_bins]`` arrays). Every non-empty bin becomes a dot
    at (mean confidence, accuracy) whose area is proportional to its share of the inputs; the
    dashed diagonal is perfect calibration. A line *below* the diagonal is over-confident: it is
    right less often than it claims.

    A bin with fewer than ``min_count`` inputs says little (one wrong answer moves its accuracy a
    lot): it is drawn as a grey dot with its count beside it, and the line skips it.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]))
    >>> curve = metrics.reliability_curve(logits, jnp.array([0, 1, 1]), num_bins=5)
    >>> fig = reliability_diagram({"single": curve}, min_count=0)
    >>> fig.axes[0].collections[0].get_offsets().round(2).tolist()   # (confidence, accuracy)
    [[0.75, 0.5], [0.9, 1.0]]
    >>> fig = reliability_diagram({"single": curve})  # every bin is thin: grey, count beside
    >>> [t.get_text() for t in fig.axes[0].texts]
    ['2', '1']
    """
    _check_models(curves, "reliability_diagram", "reliability curve")
    ax = _check_ax(ax, "reliability_diagram", 3.4, 3.2)
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 0:
        raise ValueError(f"reliability_diagram expects min_count an int >= 0, got {min_count!r}")
    thin_seen = False
    for i, (name, curve) in enumerate(curves.items()):
        try:
            confidence, accuracy, count = (
                _numbers(a, "reliability_diagram", "a reliability curve") for a in curve
            )
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"reliability_diagram expects (confidence, accuracy, count) arrays for {name!r}, "
                f"got {curve!r}"
            ) from err
        if not (confidence.ndim == 1 and confidence.shape == accuracy.shape == count.shape):
            raise ValueError(
                f"reliability_diagram expects three [num_bins] arrays for {name!r}, got shapes "
                f"{confidence.shape}, {accuracy.shape}, {count.shape}"
            )
        used = count > 0
        if not used.any():
            raise ValueError(f"reliability_diagram: every bin of {name!r} is empty")
        thick, thin = used & (count >= min_count), used & (count < min_count)
        size = 8 + 250 * count / count.sum()
        color = model_color(name, i)
        ax.plot(confidence[thick], accuracy[thick], color=color, lw=1.2, zorder=2, label=str(name))
        if thick.any():
            ax.scatter(
                confidence[thick],
                accuracy[thick],
                s=size[thick],
                color=color,
                edgecolors="black",
                linewidths=0.5,
                zorder=3,
            )
        if thin.any():
            thin_seen = True
            ax.scatter(
                confidence[thin],
                accuracy[thin],
                s=size[thin],
                color=THIN_COLOR,
                edgecolors=color,
                linewidths=1.0,
                zorder=3,
            )
            for c, a, n in zip(confidence[thin], accuracy[thin], count[thin], strict=True):
                ax.annotate(
                    f"{int(n)}",
                    (c, a),
                    xytext=(3, 3),
                    textcoords="offset points",
                    fontsize=style.MIN_FONT_SIZE,
                    color="0.35",
                )
    ax.plot([0, 1], [0, 1], color="0.4", ls="--", lw=0.8, zorder=1, label="calibrated")
    if thin_seen:  # a legend entry for the grey dots
        ax.scatter(
            [], [], color=THIN_COLOR, edgecolors="0.4", label=f"< {min_count} inputs (count shown)"
        )
    ax.set_xlim(0, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend(loc="upper left")
    return ax.figure


# --------------------------------------------------------------------------------------------------
# Curves over seeds: metric against shift severity, accuracy against rejected fraction


def seed_curves(
    x: Any,
    values: Mapping[str, Any],
    *,
    ax: Axes | None = None,
    xlabel: str = "",
    ylabel: str = "",
    title: str | None = None,
    legend: bool = True,
) -> Figure:
    """One curve per model against ``x``: a dot per seed, the mean as a line, ± 1 std as a band.

    ``values`` maps a model name to an array ``[seeds, len(x)]`` (one row per seed). Each model's
    dots are nudged sideways by a small model-specific offset so that the models' seeds do not hide
    each other; the line and band sit at the true ``x``.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = seed_curves([0, 30, 60], {"single": [[0.9, 0.7, 0.4], [0.8, 0.7, 0.6]]})
    >>> fig.axes[0].lines[0].get_ydata().round(3).tolist()           # the mean over the 2 seeds
    [0.85, 0.7, 0.5]
    """
    _check_models(values, "seed_curves", "[seeds, points] array")
    xs = _numbers(x, "seed_curves", "x")
    if xs.ndim != 1 or xs.size == 0:
        raise ValueError(
            f"seed_curves expects x of shape [points] with points >= 1, got {xs.shape}"
        )
    ax = _check_ax(ax, "seed_curves", 3.6, 2.8)
    span = float(np.ptp(xs)) if xs.size > 1 else 1.0
    names = list(values)
    for i, name in enumerate(names):
        v = _numbers(values[name], "seed_curves", f"the values of {name!r}")
        if v.ndim != 2 or v.shape[1] != xs.size or v.shape[0] == 0:
            raise ValueError(
                f"seed_curves expects values [seeds, {xs.size}] (one column per x) for {name!r}, "
                f"got shape {v.shape}"
            )
        color = model_color(name, i)
        mean, std = v.mean(axis=0), v.std(axis=0)
        ax.plot(xs, mean, color=color, lw=1.6, zorder=3, label=f"{name}")
        ax.fill_between(xs, mean - std, mean + std, color=color, alpha=0.2, lw=0, zorder=1)
        nudge = (i - (len(names) - 1) / 2) * 0.012 * span
        ax.scatter(
            np.broadcast_to(xs + nudge, v.shape).ravel(),
            v.ravel(),
            s=12,
            color=color,
            edgecolors="black",
            linewidths=0.4,
            zorder=4,
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(color="0.92", lw=0.6)
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend()
    return ax.figure


def shift_curves(
    severities: Any,
    results: Mapping[str, Mapping[str, Any]],
    *,
    xlabel: str = "shift severity",
    labels: Mapping[str, str] | None = None,
    panel_size: tuple[float, float] = (2.2, 2.3),
) -> Figure:
    """Ovadia-style panels: each metric against shift severity, every model with its seeds.

    ``results`` maps a metric name (e.g. ``"accuracy"``, ``"nll"``, ``"ece"``, ``"brier"``) to a
    ``{model: [seeds, severities]}`` dict, drawn by :func:`seed_curves` in one panel per metric,
    side by side, with one shared legend. ``labels`` rename metrics in the panel titles.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> results = {"accuracy": {"single": [[0.9, 0.5]]}, "ece": {"single": [[0.02, 0.3]]}}
    >>> [ax.get_title() for ax in shift_curves([0, 90], results).axes]
    ['accuracy', 'ece']
    """
    if not isinstance(results, Mapping) or not results:
        raise ValueError(
            f"shift_curves expects a non-empty dict {{metric: {{model: values}}}}, got {results!r}"
        )
    width, height = panel_size
    fig = style.figure(width * len(results), height + 0.5)
    axes = np.atleast_1d(fig.subplots(1, len(results)))
    for ax, (metric, values) in zip(axes, results.items(), strict=True):
        seed_curves(
            severities,
            values,
            ax=ax,
            xlabel=xlabel,
            title=(labels or {}).get(metric, metric),
            legend=False,
        )
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=len(names))
    return fig


# --------------------------------------------------------------------------------------------------
# Scalar scores over seeds, grouped


def grouped_seed_dots(
    values: Mapping[str, Mapping[str, Any]],
    *,
    ax: Axes | None = None,
    ylabel: str = "",
    reference: float | None = None,
    reference_label: str | None = None,
    title: str | None = None,
    legend: bool = True,
) -> Figure:
    """Scores over seeds in groups: e.g. OOD AUROC (y) per uncertainty score (group) per model.

    ``values`` maps a group name to ``{model: [seeds]}``. Within a group each model gets a column
    of dots (one per seed) in its colour and a black bar at the mean ± 1 std. ``reference`` draws a
    dashed horizontal line (e.g. 0.5, chance for an AUROC). ``legend=False`` leaves the legend
    out (several panels can share one).

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> fig = grouped_seed_dots({"entropy": {"single": [0.8, 0.9], "naive": [0.95, 0.93]}})
    >>> dots = {c.get_label(): c for c in fig.axes[0].collections}
    >>> dots["naive"].get_offsets()[:, 1].tolist()                  # naive's two seeds
    [0.95, 0.93]
    """
    if not isinstance(values, Mapping) or not values:
        raise ValueError(
            "grouped_seed_dots expects a non-empty dict {group: {model: seeds}}, "
            f"got {values!r}"
        )
    ax = _check_ax(ax, "grouped_seed_dots", 1.2 + 1.5 * len(values), 2.8)
    models: list[str] = []
    for group, per_model in values.items():
        _check_models(per_model, "grouped_seed_dots", f"seeds (group {group!r})")
        models += [m for m in per_model if m not in models]
    width = 0.8 / len(models)
    labelled: set[str] = set()
    for g, (group, per_model) in enumerate(values.items()):
        for name, seeds in per_model.items():
            v = _numbers(seeds, "grouped_seed_dots", f"the seeds of {name!r} in {group!r}")
            if v.ndim != 1 or v.size == 0:
                raise ValueError(
                    f"grouped_seed_dots expects [seeds] for {name!r} in {group!r}, got {v.shape}"
                )
            i = models.index(name)
            centre = g - 0.4 + width * (i + 0.5)
            label = None if name in labelled else name
            seed_dots(ax, centre, v, color=model_color(name, i), width=width, label=label)
            labelled.add(name)
    if reference is not None:
        ax.axhline(reference, color="0.4", ls="--", lw=0.8, zorder=1, label=reference_label)
    ax.set_xticks(range(len(values)), [str(g) for g in values])
    ax.set_xlim(-0.6, len(values) - 0.4)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", color="0.92", lw=0.6)
    if title is not None:
        ax.set_title(title)
    if legend:
        ax.legend()
    return ax.figure
