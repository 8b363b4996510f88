"""Tests for bel/plots/predictions.py: each picture holds the numbers it claims to show.

Checked through the artists: the image on a decision-map panel is that member's ``p(class 1)`` (or
the mean over members) laid out on the grid with ``y`` increasing upwards; uncertainty panels share
one colour scale; the regression mean line, band and member curves are the mean, mean ± 2 std and
the members; bar heights are the table's values. Bad input raises a ValueError saying what was
expected.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

import bel.data
from bel.plots.predictions import (
    CLASS_COLORS,
    MODEL_COLORS,
    model_color,
    plot_decision_maps,
    plot_over_seeds,
    plot_regression_members,
    plot_uncertainty_maps,
    two_class_cmap,
)

RES = 12
POINTS, GRID = bel.data.grid((-1.0, 2.0, -3.0, 1.0), RES)


def image(ax) -> np.ndarray:
    assert len(ax.images) == 1, f"expected one image, found {len(ax.images)}"
    return np.asarray(ax.images[0].get_array())


def binary_probs(members=3, seed=0) -> np.ndarray:
    """[E, G, 2] probabilities that differ per member and per point."""
    rng = np.random.default_rng(seed)
    p1 = rng.uniform(0.01, 0.99, size=(members, POINTS.shape[0]))
    return np.stack([1 - p1, p1], axis=-1)


# --------------------------------------------------------------------------------------------------
# plot_decision_maps


def test_decision_maps_show_each_member_and_the_mean_on_the_grid():
    probs = binary_probs(3)
    fig = plot_decision_maps(probs, GRID, title="BE")
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == [
        "member 0",
        "member 1",
        "member 2",
        "ensemble mean",
    ]
    for ax, expected in zip(fig.axes, [*probs, probs.mean(0)], strict=True):
        np.testing.assert_allclose(image(ax), expected[:, 1].reshape(RES, RES))
        assert ax.images[0].get_clim() == (0.0, 1.0)
        assert ax.images[0].get_extent() == [-1.0, 2.0, -3.0, 1.0]
    assert fig._suptitle.get_text() == "BE"


def test_decision_maps_put_low_y_at_the_bottom():
    # p(class 1) = the point's height scaled to [0, 1]: the bottom image row must be the lowest y.
    height = (POINTS[:, 1] + 3.0) / 4.0
    fig = plot_decision_maps(np.stack([1 - height, height], -1)[None], GRID)
    ax = fig.axes[0]
    assert ax.images[0].origin == "lower"
    np.testing.assert_allclose(image(ax)[0], 0.0, atol=1e-6)
    np.testing.assert_allclose(image(ax)[-1], 1.0, atol=1e-6)


def test_decision_maps_draw_the_boundary_and_the_data():
    x = np.array([[0.0, 0.0], [1.0, -1.0]])
    fig = plot_decision_maps(binary_probs(2), GRID, x, np.array([0, 1]))
    for ax in fig.axes:
        assert ax.collections, "expected a 0.5 contour and the data"
        scatter = ax.collections[-1]
        np.testing.assert_allclose(scatter.get_offsets(), x)
        np.testing.assert_allclose(
            scatter.get_facecolors()[:, :3], [to_rgb(CLASS_COLORS[0]), to_rgb(CLASS_COLORS[1])]
        )


def test_one_model_gets_one_panel():
    fig = plot_decision_maps(binary_probs(1), GRID)
    assert [ax.get_title() for ax in fig.axes] == ["single model"]


def test_many_classes_mix_colours_and_fade_to_white_when_unsure():
    g = POINTS.shape[0]
    probs = np.full((1, g, 3), 1 / 3)
    probs[0, 0] = [0.0, 0.0, 1.0]  # certain of class 2 at the first grid point
    fig = plot_decision_maps(probs, GRID)
    rgb = image(fig.axes[0])
    assert rgb.shape == (RES, RES, 3)
    np.testing.assert_allclose(rgb[0, 0], to_rgb(CLASS_COLORS[2]), atol=1e-6)
    np.testing.assert_allclose(rgb[RES // 2, RES // 2], [1.0, 1.0, 1.0], atol=1e-6)


def test_decision_maps_draw_into_given_axes():
    fig = Figure()
    axes = fig.subplots(1, 3)
    returned = plot_decision_maps(binary_probs(2), GRID, axes=axes)
    assert returned is fig
    assert [ax.get_title() for ax in axes] == ["member 0", "member 1", "ensemble mean"]


@pytest.mark.parametrize(
    ("probs", "grid", "kwargs", "message"),
    [
        (np.ones((4, RES * RES)), GRID, {}, r"shape \[E, G, C\] with C >= 2"),
        (binary_probs() * 2, GRID, {}, "expects probabilities"),
        (binary_probs(), bel.data.grid(resolution=5)[1], {}, r"the 25 grid points .* got 144"),
        (binary_probs(), "grid", {}, r"the \(gx, gy\) meshgrid pair"),
        (binary_probs(), GRID, {"x": np.zeros((3, 2))}, "both x and y"),
        (binary_probs(), GRID, {"x": np.zeros((3, 3)), "y": np.zeros(3)}, r"x of shape \[n, 2\]"),
        (binary_probs(3), GRID, {"axes": Figure().subplots(1, 2)}, "4 matplotlib Axes, got 2"),
    ],
)
def test_decision_maps_reject_bad_input(probs, grid, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_decision_maps(probs, grid, **kwargs)


# --------------------------------------------------------------------------------------------------
# plot_uncertainty_maps


def test_uncertainty_maps_share_one_scale_and_show_the_values():
    a, b = POINTS[:, 0] ** 2, np.zeros(POINTS.shape[0])
    fig = plot_uncertainty_maps({"naive": a, "single": b}, GRID, label="MI")
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["naive", "single"]
    np.testing.assert_allclose(image(panels[0]), a.reshape(RES, RES))
    assert {ax.images[0].get_clim() for ax in panels} == {(0.0, float(a.max()))}
    colorbars = [ax for ax in fig.axes if ax.get_ylabel() == "MI"]
    assert len(colorbars) == 1


def test_uncertainty_maps_outline_the_region_and_respect_vmax():
    values = {"m": np.ones(POINTS.shape[0])}
    region = (POINTS[:, 0] > 0.5) & (POINTS[:, 1] < -1.0)
    fig = plot_uncertainty_maps(values, GRID, region=region, vmax=2.0)
    ax = fig.axes[0]
    assert ax.images[0].get_clim() == (0.0, 2.0)
    (outline,) = [c for c in ax.collections if hasattr(c, "get_paths") and c.get_paths()]
    vertices = np.concatenate([path.vertices for path in outline.get_paths()])
    inside, outside = POINTS[region], POINTS[~region]
    # the outline lies between the region's points and the others: right of x = 0.5, below y = -1
    assert vertices[:, 0].min() > outside[:, 0][outside[:, 0] <= 0.5].max() - 1e-9
    assert vertices[:, 1].max() < outside[:, 1][outside[:, 1] >= -1.0].min() + 1e-9
    assert inside.size and vertices[:, 0].max() >= inside[:, 0].max() - 1e-9


def test_uncertainty_maps_draw_into_given_axes():
    fig = Figure()
    axes = fig.subplots(1, 2)
    maps = {"a": np.zeros(POINTS.shape[0]), "b": np.ones(POINTS.shape[0])}
    assert plot_uncertainty_maps(maps, GRID, axes=axes) is fig
    assert [ax.get_title() for ax in axes] == ["a", "b"]


@pytest.mark.parametrize(
    ("maps", "kwargs", "message"),
    [
        ({}, {}, "non-empty dict"),
        ({"a": np.zeros((RES, RES))}, {}, r"shape \[G\], for 'a', got shape \(12, 12\)"),
        ({"a": np.zeros(RES * RES), "b": np.zeros(3)}, {}, "equally long maps"),
        ({"a": np.zeros(7)}, {}, "the 144 grid points"),
        ({"a": np.zeros(RES * RES)}, {"vmax": 0.0}, "vmax > 0 or None"),
        ({"a": np.zeros(RES * RES)}, {"region": np.zeros(RES * RES)}, "boolean mask of shape"),
        ({"a": np.zeros(RES * RES)}, {"region": np.zeros(3, bool)}, r"shape \(144,\)"),
        ({"a": np.zeros(RES * RES)}, {"axes": Figure().subplots(1, 2)}, "1 matplotlib Axes"),
    ],
)
def test_uncertainty_maps_reject_bad_input(maps, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_uncertainty_maps(maps, GRID, **kwargs)


# --------------------------------------------------------------------------------------------------
# plot_regression_members


def band_limits(ax) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest y of the ±2 std band (the PolyCollection from fill_between)."""
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    vertices = band.get_paths()[0].vertices
    return vertices[:, 1].min(), vertices[:, 1].max()


def test_regression_plot_draws_members_mean_and_band():
    x_plot = np.linspace(-1.0, 1.0, 7)
    preds = np.stack([x_plot, x_plot + 1.0, x_plot - 1.0])[..., None]  # E=3, [3, 7, 1]
    fig = plot_regression_members(x_plot[:, None], preds, gap=(-0.2, 0.3), title="BE")
    ax = fig.axes[0]
    *members, mean = ax.lines
    assert len(members) == 3
    for line, expected in zip(members, preds[..., 0], strict=True):
        np.testing.assert_allclose(line.get_ydata(), expected)
    np.testing.assert_allclose(mean.get_ydata(), x_plot)  # the mean of x, x+1, x-1
    std = np.sqrt(2 / 3)
    lo, hi = band_limits(ax)
    assert lo == pytest.approx(-1.0 - 2 * std) and hi == pytest.approx(1.0 + 2 * std)
    (gap,) = ax.patches  # the shaded gap, a Rectangle spanning the axes' height
    assert (gap.get_x(), gap.get_x() + gap.get_width()) == pytest.approx((-0.2, 0.3))
    assert ax.get_title() == "BE"


def test_regression_plot_sorts_inputs_and_overlays_data():
    x_plot = np.array([0.5, -0.5, 0.0])
    preds = np.array([[1.0, -1.0, 0.0]])  # one model, [E, N]
    fig = plot_regression_members(x_plot, preds, x=np.array([[0.1]]), y=np.array([[2.0]]))
    ax = fig.axes[0]
    (line,) = ax.lines  # a single model: no member curves, one prediction line
    np.testing.assert_allclose(line.get_xdata(), [-0.5, 0.0, 0.5])
    np.testing.assert_allclose(line.get_ydata(), [-1.0, 0.0, 1.0])
    lo, hi = band_limits(ax)
    assert (lo, hi) == (-1.0, 1.0)  # zero width: the band is the line itself
    scatter = [c for c in ax.collections if not isinstance(c, PolyCollection)]
    np.testing.assert_allclose(scatter[0].get_offsets(), [[0.1, 2.0]])


def test_regression_plot_draws_into_a_given_axes():
    fig = Figure()
    ax = fig.subplots()
    assert plot_regression_members(np.zeros(2), np.zeros((2, 2, 1)), ax=ax) is fig
    assert len(ax.lines) == 3


@pytest.mark.parametrize(
    ("x_plot", "preds", "kwargs", "message"),
    [
        (np.zeros((3, 2)), np.zeros((2, 3, 1)), {}, r"x_plot of shape \[N\] or \[N, 1\]"),
        (np.zeros(3), np.zeros((2, 4, 1)), {}, r"N = 3 .* got shape \(2, 4, 1\)"),
        (np.zeros(3), np.zeros((2, 3, 2)), {}, r"\[E, N, 1\] or \[E, N\]"),
        (np.zeros(3), np.zeros((2, 3)), {"gap": (0.5, 0.1)}, "gap = \\(lo, hi\\) with lo < hi"),
        (np.zeros(3), np.zeros((2, 3)), {"x": np.zeros(3)}, "both x and y"),
        (np.zeros(3), np.zeros((2, 3)), {"ax": "axes"}, "expects a matplotlib Axes"),
    ],
)
def test_regression_plot_rejects_bad_input(x_plot, preds, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_regression_members(x_plot, preds, **kwargs)


# --------------------------------------------------------------------------------------------------
# colours


def test_models_and_classes_take_the_house_colours():
    assert model_color("BatchEnsemble") == MODEL_COLORS["BatchEnsemble"]
    assert model_color("unknown", 1) not in (None, "")
    cmap = two_class_cmap(0.5)  # half class colour, half white
    np.testing.assert_allclose(cmap(0.0)[:3], (np.array(to_rgb(CLASS_COLORS[0])) + 1) / 2)
    np.testing.assert_allclose(cmap(1.0)[:3], (np.array(to_rgb(CLASS_COLORS[1])) + 1) / 2)
    np.testing.assert_allclose(two_class_cmap(1.0)(1.0)[:3], to_rgb(CLASS_COLORS[1]))
    with pytest.raises(ValueError, match=r"strength in \(0, 1\], got 0"):
        two_class_cmap(0)


def test_decision_maps_use_the_class_colours_for_probabilities():
    fig = plot_decision_maps(binary_probs(1), GRID)
    cmap = fig.axes[0].images[0].get_cmap()
    np.testing.assert_allclose(cmap(1.0)[:3], two_class_cmap()(1.0)[:3])


# --------------------------------------------------------------------------------------------------
# plot_over_seeds


RUNS = {
    "single": [{"nll": 0.5, "ece": 0.1}, {"nll": 0.7, "ece": 0.2}, {"nll": 0.6, "ece": 0.3}],
    "BatchEnsemble": [{"nll": 0.4, "ece": 0.05}, {"nll": 0.4, "ece": 0.07}],
    "naive": [{"nll": 0.3, "ece": 0.07}],
}


def test_over_seeds_draws_one_dot_per_seed_and_the_mean_with_its_spread():
    fig = plot_over_seeds(RUNS, ["nll", "ece"], labels={"nll": "NLL"})
    nll, ece = fig.axes
    assert [nll.get_title(), ece.get_title()] == ["NLL", "ece"]
    dots = nll.collections[::2]  # scatter, errorbar line collection, scatter, ...
    for scatter, (name, runs) in zip(dots, RUNS.items(), strict=True):
        np.testing.assert_allclose(scatter.get_offsets()[:, 1], [r["nll"] for r in runs])
        np.testing.assert_allclose(scatter.get_facecolors()[0, :3], to_rgb(MODEL_COLORS[name]))
    means = [container.lines[0].get_ydata()[0] for container in nll.containers]
    np.testing.assert_allclose(means, [0.6, 0.4, 0.3])
    bars = nll.collections[1].get_segments()[0][:, 1]  # single: mean ± std (ddof=0)
    np.testing.assert_allclose(
        sorted(bars), [0.6 - np.std([0.5, 0.7, 0.6]), 0.6 + np.std([0.5, 0.7, 0.6])]
    )
    assert [t.get_text() for t in nll.get_xticklabels()] == list(RUNS)


def test_over_seeds_wraps_into_rows_and_leaves_no_empty_panel():
    fig = plot_over_seeds(RUNS, ["nll", "ece", "nll"], ncols=2)
    assert len(fig.axes) == 3


@pytest.mark.parametrize(
    ("runs", "scores", "kwargs", "message"),
    [
        ({}, ["nll"], {}, "non-empty dict"),
        (RUNS, [], {}, "at least one score"),
        ({"a": []}, ["nll"], {}, "non-empty list of per-seed dicts for 'a'"),
        ({"a": {"nll": 1.0}}, ["nll"], {}, "per-seed dicts for 'a', got dict"),
        (RUNS, ["nll", "accuracy"], {}, r"lack scores \['accuracy'\]"),
        (RUNS, ["nll"], {"ncols": 0}, "ncols to be an int >= 1"),
    ],
)
def test_over_seeds_rejects_bad_input(runs, scores, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_over_seeds(runs, scores, **kwargs)


def test_decision_maps_show_chosen_members_and_the_mean_of_all():
    points, grid = bel.data.grid((-1, 1, -1, 1), 10)
    p1 = np.stack([np.full(100, v) for v in (0.1, 0.3, 0.9)])  # E = 3 members, p(class 1)
    probs = np.stack([1 - p1, p1], axis=-1)
    fig = plot_decision_maps(probs, grid, members=[2])
    assert [ax.get_title() for ax in fig.axes] == ["member 2", "ensemble mean"]
    mean = fig.axes[1].images[0].get_array()
    np.testing.assert_allclose(np.asarray(mean), (0.1 + 0.3 + 0.9) / 3, atol=1e-6)
    with pytest.raises(ValueError, match=r"expects members among 0..2 \(at least one\), got \[3\]"):
        plot_decision_maps(probs, grid, members=[3])
