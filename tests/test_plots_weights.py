"""Tests for bel/plots/weights.py: the pictures hold the right numbers on the right scales.

Every figure is checked through its artists: ``ax.images[0].get_array()`` must be the matrix the
picture claims to show (W, r_i, s_i, r_i s_iᵀ, W ∘ (r_i s_iᵀ), a member's effective weight, the
example a member sees), and panels that are meant to be compared must share one symmetric colour
scale. Bad input must raise a ValueError that says what was expected.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

import bel
from bel.plots.weights import heatmap, plot_effective_weights, plot_factors, plot_member_layout


def data(ax) -> np.ndarray:
    """The matrix drawn on ``ax`` (its only image)."""
    assert len(ax.images) == 1, f"expected one image on the axes, found {len(ax.images)}"
    return np.asarray(ax.images[0].get_array())


def clim(ax) -> tuple[float, float]:
    return ax.images[0].get_clim()


def layer(n_in=5, n_out=3, members=4, seed=0, **options) -> bel.BatchEnsembleLinear:
    return bel.BatchEnsembleLinear(
        nnx.Linear(n_in, n_out, rngs=nnx.Rngs(seed)), seed + 1, num_members=members, **options
    )


# --------------------------------------------------------------------------------------------------
# heatmap


def test_heatmap_draws_the_matrix_on_a_symmetric_scale():
    ax = Figure().subplots()
    matrix = np.array([[0.5, -3.0, 1.0], [2.0, 0.0, -0.25]])
    image = heatmap(ax, matrix, title="W")
    assert isinstance(image, AxesImage)
    np.testing.assert_array_equal(data(ax), matrix)
    assert clim(ax) == (-3.0, 3.0)  # max |x|, on both sides of zero
    assert ax.get_title() == "W"


def test_heatmap_takes_jax_arrays_an_explicit_vmax_and_an_all_zero_matrix():
    ax1, ax2 = Figure().subplots(1, 2)
    heatmap(ax1, jnp.ones((2, 2)), vmax=4)
    assert clim(ax1) == (-4.0, 4.0)
    heatmap(ax2, np.zeros((3, 1)))
    assert clim(ax2) == (-1.0, 1.0)  # a usable scale, not the empty [0, 0]


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (np.ones(3), r"2-D matrix, got shape \(3,\).*v\[:, None\]"),
        (np.ones((2, 2, 2)), r"2-D matrix, got shape \(2, 2, 2\)"),
        (np.ones((0, 3)), "non-empty"),
        (np.array([[1.0, np.nan]]), "finite"),
        ("abc", "2-D array of numbers"),
    ],
)
def test_heatmap_rejects_what_is_not_a_finite_matrix(matrix, message):
    with pytest.raises(ValueError, match=message):
        heatmap(Figure().subplots(), matrix)


@pytest.mark.parametrize("vmax", [0, -1.0, float("nan"), float("inf"), "1", True])
def test_heatmap_rejects_a_bad_vmax(vmax):
    with pytest.raises(ValueError, match="vmax"):
        heatmap(Figure().subplots(), np.ones((2, 2)), vmax=vmax)


def test_heatmap_rejects_what_is_not_an_axes():
    with pytest.raises(ValueError, match="Axes as ax, got Figure"):
        heatmap(Figure(), np.ones((2, 2)))


# --------------------------------------------------------------------------------------------------
# plot_factors


@pytest.mark.parametrize(
    ("n_in", "n_out", "members", "chosen", "rows", "options"),
    [
        (5, 3, 4, None, [0, 1, 2], {}),  # default: the first three members
        (5, 3, 2, None, [0, 1], {}),  # ... or all of them when there are fewer
        (2, 7, 5, [4, 1], [4, 1], {"init": "random_sign"}),
        (5, 3, 4, 2, [2], {"r_std": 2.0, "s_std": 0.1}),
    ],
)
def test_plot_factors_draws_every_factor_of_every_member(
    n_in, n_out, members, chosen, rows, options
):
    be = layer(n_in, n_out, members, seed=members, **options)
    fig = plot_factors(be, members=chosen)
    axes = np.array(fig.axes[: 5 * len(rows)]).reshape(len(rows), 5)
    W, r, s = (np.asarray(p[...]) for p in (be.kernel, be.r, be.s))
    effective = np.asarray(be.effective_weights())
    for row, i in enumerate(rows):
        np.testing.assert_array_equal(data(axes[row, 0]), W)
        np.testing.assert_allclose(data(axes[row, 1]), r[i][:, None], rtol=1e-6)
        np.testing.assert_allclose(data(axes[row, 2]), s[i][None, :], rtol=1e-6)
        np.testing.assert_allclose(data(axes[row, 3]), np.outer(r[i], s[i]), rtol=1e-5)
        np.testing.assert_allclose(data(axes[row, 4]), effective[i], rtol=1e-5, atol=1e-7)
        assert f"{i}" in axes[row, 4].get_title()
        assert axes[row, 0].get_ylabel() == f"member {i}"


def test_plot_factors_shares_one_symmetric_scale_per_column():
    be = layer(5, 3, 4, seed=3)
    fig = plot_factors(be, members=[0, 3, 2])
    axes = np.array(fig.axes[:15]).reshape(3, 5)
    for c in range(5):
        limits = {clim(ax) for ax in axes[:, c]}
        assert len(limits) == 1, f"column {c} has different colour scales: {limits}"
        low, high = limits.pop()
        assert low == -high > -np.inf
    for columns in ([0, 4], [1, 2], [3]):  # r with s, and W with W ∘ (r sᵀ), on one scale
        drawn = np.concatenate([data(ax).ravel() for ax in axes[:, columns].ravel()])
        high = clim(axes[0, columns[0]])[1]
        assert np.isclose(high, np.abs(drawn).max()), f"scale {high} of columns {columns}"
    assert clim(axes[0, 1]) == clim(axes[0, 2])  # r and s are drawn on one scale
    assert clim(axes[0, 0]) == clim(axes[0, 4])  # W and the effective weights too


def test_plot_factors_of_identical_members_draws_identical_panels():
    be = layer(5, 3, 4, r_std=0.0, s_std=0.0)
    axes = np.array(plot_factors(be).axes[:15]).reshape(3, 5)
    for c in range(5):
        np.testing.assert_array_equal(data(axes[0, c]), data(axes[2, c]))


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ([0, 4], r"member indices in \[0, 4\).*got 4"),
        (-1, "got -1"),
        ([True], "got True"),
        ([], "at least one"),
        ("ab", "got 'a'"),
        (1.5, "sequence of member indices"),
    ],
)
def test_plot_factors_rejects_bad_members(members, message):
    with pytest.raises(ValueError, match=message):
        plot_factors(layer(members=4), members=members)


@pytest.mark.parametrize(
    "not_a_layer",
    [
        nnx.Linear(2, 2, rngs=nnx.Rngs(0)),
        bel.NaiveEnsembleLinear(nnx.Linear(2, 2, rngs=nnx.Rngs(0)), 1, 2),
    ],
)
def test_plot_factors_rejects_other_layers(not_a_layer):
    with pytest.raises(ValueError, match="expects a bel.BatchEnsembleLinear, got .*Linear"):
        plot_factors(not_a_layer)


# --------------------------------------------------------------------------------------------------
# plot_effective_weights


def test_plot_effective_weights_draws_each_member_on_one_shared_scale():
    be = layer(5, 3, 4, seed=2, r_std=1.0)
    weights = be.effective_weights()
    fig = plot_effective_weights(weights)
    members = fig.axes[:4]
    for i, ax in enumerate(members):
        np.testing.assert_allclose(data(ax), np.asarray(weights[i]), rtol=1e-6)
        assert ax.get_title() == f"member {i}"
    limit = float(np.abs(np.asarray(weights)).max())
    assert {clim(ax) for ax in members} == {(-limit, limit)}
    assert len(fig.axes) == 5  # four members and one colour bar


def test_plot_effective_weights_draws_rows_into_given_axes_with_a_common_vmax():
    fig = Figure()
    grid = fig.subplots(2, 3)
    small, large = np.full((3, 2, 2), 0.5), np.full((3, 2, 2), -2.0)
    assert plot_effective_weights(small, axes=grid[0], vmax=2.0, label="small") is fig
    plot_effective_weights(large, axes=grid[1], vmax=2.0, colorbar=False, titles=["a", "b", "c"])
    assert {clim(ax) for ax in grid.ravel()} == {(-2.0, 2.0)}
    np.testing.assert_array_equal(data(grid[1, 2]), large[2])
    assert grid[0, 0].get_ylabel() == "small" and grid[1, 1].get_title() == "b"


@pytest.mark.parametrize(
    ("weights", "kwargs", "message"),
    [
        (np.ones((3, 2)), {}, r"\[E, in, out\].*got shape \(3, 2\)"),
        (np.ones((0, 2, 2)), {}, r"got shape \(0, 2, 2\)"),
        (np.full((2, 2, 2), np.inf), {}, "finite"),
        (np.ones((2, 2, 2)), {"titles": ["only one"]}, r"one title per member \(2\), got 1"),
        (np.ones((2, 2, 2)), {"vmax": -1}, "vmax"),
    ],
)
def test_plot_effective_weights_rejects_bad_input(weights, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plot_effective_weights(weights, **kwargs)


def test_plot_effective_weights_wants_one_axes_per_member():
    axes = Figure().subplots(1, 2)
    with pytest.raises(ValueError, match=r"3 matplotlib Axes \(one per member\), got 2"):
        plot_effective_weights(np.ones((3, 2, 2)), axes=axes)


# --------------------------------------------------------------------------------------------------
# plot_member_layout


def frames(ax) -> int:
    return sum(isinstance(p, Rectangle) and not p.get_fill() for p in ax.patches)


def test_tile_gives_every_member_every_example_in_order():
    E, B = 3, 5
    fig = plot_member_layout(np.asarray(bel.tile(jnp.arange(B), E)), E, title="tile")
    ax = fig.axes[0]
    np.testing.assert_array_equal(data(ax), np.tile(np.arange(B), (E, 1)))
    assert frames(ax) == 0 and ax.get_title() == "tile"


def test_repeat_is_drawn_as_members_seeing_the_wrong_examples():
    E, B = 4, 6
    rows = np.repeat(np.arange(B), E)
    ax = plot_member_layout(rows, E).axes[0]
    grid = rows.reshape(E, B)
    np.testing.assert_array_equal(data(ax), grid)
    assert frames(ax) == int((grid != np.arange(B)).sum()) > 0
    red = [t.get_text() for t in ax.texts if t.get_color() != "black"]
    assert len(red) == frames(ax)


def test_plot_member_layout_draws_into_a_given_axes():
    fig = Figure()
    left, right = fig.subplots(1, 2)
    assert plot_member_layout(np.arange(4), 2, ax=right) is fig
    assert not left.images and len(right.images) == 1


@pytest.mark.parametrize(
    ("examples", "num_members", "message"),
    [
        (np.arange(5), 2, "5 rows divide evenly among num_members=2"),
        (np.arange(4.0), 2, "integer array"),
        (np.arange(4).reshape(2, 2), 2, r"1-D.*shape \(2, 2\)"),
        (np.array([0, -1]), 1, "indices >= 0"),
        (np.arange(4), 0, "plot_member_layout expects num_members to be an int >= 1, got 0"),
    ],
)
def test_plot_member_layout_rejects_bad_input(examples, num_members, message):
    with pytest.raises(ValueError, match=message):
        plot_member_layout(examples, num_members)
