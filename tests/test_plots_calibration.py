"""Tests for bel/plots/calibration.py: each picture holds the numbers it claims to show.

Checked through the artists: reliability dots sit at (confidence, accuracy) of the non-empty bins
with areas that grow with the bins' counts; seed curves draw the mean over seeds as the line,
mean ± std as the band and every seed as a dot; grouped dots put every seed of every model in its
group with its mean ± std bar. Bad input raises a ValueError saying what was expected.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import jax.numpy as jnp
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from bel import metrics
from bel.plots import style
from bel.plots.calibration import grouped_seed_dots, reliability_diagram, seed_curves, shift_curves


def dots(ax, label=None):
    """The scatter collections of ``ax`` (those with offsets), optionally by label."""
    found = [c for c in ax.collections if len(c.get_offsets()) and hasattr(c, "get_sizes")]
    found = [c for c in found if len(c.get_sizes())]
    return [c for c in found if label is None or c.get_label() == label]


# --------------------------------------------------------------------------------------------------
# reliability_diagram


def test_reliability_dots_are_the_non_empty_bins():
    probs = np.array([[0.95, 0.05], [0.9, 0.1], [0.7, 0.3], [0.6, 0.4], [0.2, 0.8]])
    labels = np.array([0, 1, 0, 1, 1])
    curve = metrics.reliability_curve(jnp.log(probs), labels, num_bins=5)
    fig = reliability_diagram({"single": curve, "naive": curve}, title="clean", min_count=0)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title() == "clean"
    count = np.asarray(curve.count)
    used = count > 0
    (single, naive) = dots(ax)
    expected = np.stack([np.asarray(curve.confidence)[used], np.asarray(curve.accuracy)[used]], 1)
    np.testing.assert_allclose(single.get_offsets(), expected, atol=1e-6)
    # Bin (0.6, 0.8] holds 2 inputs, the others 1 or 2: areas follow the counts.
    sizes = single.get_sizes()
    assert np.all(np.diff(sizes[np.argsort(count[used])]) >= 0)
    assert to_rgb(single.get_facecolors()[0][:3]) == to_rgb(style.MODEL_COLORS["single"])
    assert to_rgb(naive.get_facecolors()[0][:3]) == to_rgb(style.MODEL_COLORS["naive"])
    diagonal = [line for line in ax.lines if line.get_label() == "calibrated"]
    assert len(diagonal) == 1 and list(diagonal[0].get_xdata()) == [0, 1]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["single", "naive", "calibrated"]


def test_reliability_into_given_axes_without_legend():
    fig = style.figure(6, 3)
    left, right = fig.subplots(1, 2)
    curve = (np.array([np.nan, 0.8]), np.array([np.nan, 0.5]), np.array([0, 4]))
    assert reliability_diagram({"x": curve}, ax=right, legend=False) is fig
    assert right.get_legend() is None and not left.collections
    np.testing.assert_allclose(dots(right)[0].get_offsets(), [[0.8, 0.5]])


def test_reliability_thin_bins_are_grey_with_their_count_and_off_the_line():
    curve = (np.array([0.55, 0.75, 0.95]), np.array([0.9, 0.7, 0.9]), np.array([3, 40, 200]))
    fig = reliability_diagram({"BatchEnsemble": curve}, min_count=10)
    ax = fig.axes[0]
    line = next(x for x in ax.lines if x.get_label() == "BatchEnsemble")
    np.testing.assert_allclose(line.get_xdata(), [0.75, 0.95])  # the thin bin is skipped
    thick, thin = dots(ax)[:2]
    np.testing.assert_allclose(thick.get_offsets(), [[0.75, 0.7], [0.95, 0.9]])
    np.testing.assert_allclose(thin.get_offsets(), [[0.55, 0.9]])
    assert to_rgb(thin.get_facecolors()[0][:3]) == to_rgb("0.85")
    assert [t.get_text() for t in ax.texts] == ["3"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["BatchEnsemble", "calibrated", "< 10 inputs (count shown)"]
    with pytest.raises(ValueError, match=r"expects min_count an int >= 0, got -1"):
        reliability_diagram({"a": curve}, min_count=-1)


@pytest.mark.parametrize(
    "curves, message",
    [
        ({}, r"reliability_diagram expects a non-empty dict \{model: reliability curve\}"),
        ({"a": (np.zeros(3), np.zeros(2), np.zeros(3))}, r"three \[num_bins\] arrays for 'a'"),
        ({"a": (np.zeros(3), np.zeros(3), np.zeros(3))}, r"every bin of 'a' is empty"),
        ({"a": 3.0}, r"\(confidence, accuracy, count\) arrays for 'a', got 3.0"),
    ],
)
def test_reliability_errors(curves, message):
    with pytest.raises(ValueError, match=message):
        reliability_diagram(curves)


def test_reliability_bad_axes():
    curve = (np.array([0.8]), np.array([0.5]), np.array([4]))
    with pytest.raises(ValueError, match=r"expects a matplotlib Axes as ax, got 'left'"):
        reliability_diagram({"a": curve}, ax="left")


# --------------------------------------------------------------------------------------------------
# seed_curves and shift_curves

X = [0.0, 30.0, 60.0, 90.0]
VALUES = {
    "single": np.array([[0.9, 0.8, 0.5, 0.3], [0.92, 0.7, 0.6, 0.2], [0.88, 0.75, 0.4, 0.25]]),
    "BatchEnsemble": np.array(
        [[0.95, 0.85, 0.6, 0.35], [0.93, 0.8, 0.55, 0.3], [0.9, 0.8, 0.5, 0.4]]
    ),
}


def test_seed_curves_mean_band_and_every_seed():
    fig = seed_curves(X, VALUES, xlabel="degrees", ylabel="accuracy", title="rotation")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("degrees", "accuracy", "rotation")
    for name, line in zip(VALUES, ax.lines, strict=True):
        v = VALUES[name]
        np.testing.assert_allclose(line.get_xdata(), X)
        np.testing.assert_allclose(line.get_ydata(), v.mean(0))
        assert to_rgb(line.get_color()) == to_rgb(style.MODEL_COLORS[name])
    bands = ax.collections[0::2]  # fill_between, scatter, fill_between, scatter
    scatters = ax.collections[1::2]
    for name, band, scatter in zip(VALUES, bands, scatters, strict=True):
        v = VALUES[name]
        ys = band.get_paths()[0].vertices[:, 1]
        assert np.isclose(ys.min(), (v.mean(0) - v.std(0)).min())
        assert np.isclose(ys.max(), (v.mean(0) + v.std(0)).max())
        offsets = scatter.get_offsets()
        assert offsets.shape == (v.size, 2)
        np.testing.assert_allclose(np.sort(offsets[:, 1]), np.sort(v.ravel()))
        # dots sit near their x (nudged by at most a few percent of the range)
        nearest = np.min(np.abs(offsets[:, :1] - np.array(X)[None, :]), axis=1)
        assert np.all(nearest <= 0.05 * 90)
    # the two models' dots are nudged apart, not on top of each other
    assert not np.allclose(scatters[0].get_offsets()[:, 0], scatters[1].get_offsets()[:, 0])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(VALUES)


@pytest.mark.parametrize(
    "x, values, message",
    [
        (X, {}, r"seed_curves expects a non-empty dict \{model: \[seeds, points\] array\}"),
        ([[0, 1]], {"a": [[1, 2]]}, r"x of shape \[points\] with points >= 1, got \(1, 2\)"),
        (X, {"a": [1, 2, 3, 4]}, r"values \[seeds, 4\] \(one column per x\) for 'a', got shape"),
        (X, {"a": [[1, 2, 3]]}, r"for 'a', got shape \(1, 3\)"),
        (X, {"a": [["x"] * 4]}, r"the values of 'a' as an array of numbers"),
    ],
)
def test_seed_curves_errors(x, values, message):
    with pytest.raises(ValueError, match=message):
        seed_curves(x, values)


def test_shift_curves_one_panel_per_metric_and_one_legend():
    results = {"accuracy": VALUES, "ece": {k: 1 - v for k, v in VALUES.items()}}
    fig = shift_curves(X, results, xlabel="degrees", labels={"ece": "ECE (lower is better)"})
    assert [ax.get_title() for ax in fig.axes] == ["accuracy", "ECE (lower is better)"]
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(VALUES)
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), 1 - VALUES["single"].mean(0))
    width, _ = fig.get_size_inches()
    assert width <= style.MAX_WIDTH and fig.dpi >= 100


def test_shift_curves_errors():
    with pytest.raises(ValueError, match=r"shift_curves expects a non-empty dict"):
        shift_curves(X, {})
    with pytest.raises(ValueError, match=r"values \[seeds, 4\]"):
        shift_curves(X, {"accuracy": {"a": [[1.0, 2.0]]}})


# --------------------------------------------------------------------------------------------------
# grouped_seed_dots


def test_grouped_dots_every_seed_and_the_mean_bar():
    values = {
        "entropy": {"single": [0.80, 0.84, 0.82], "naive": [0.90, 0.91, 0.95]},
        "max prob": {"single": [0.70, 0.75, 0.72], "naive": [0.85, 0.86, 0.80]},
    }
    fig = grouped_seed_dots(values, ylabel="AUROC", reference=0.5, reference_label="chance")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["entropy", "max prob"]
    scatters = dots(ax)
    assert len(scatters) == 4
    for scatter, (group, name) in zip(
        scatters, [(g, m) for g in values for m in values[g]], strict=True
    ):
        offsets = scatter.get_offsets()
        np.testing.assert_allclose(offsets[:, 1], values[group][name])
        g = list(values).index(group)
        assert np.all(np.abs(offsets[:, 0] - g) < 0.45)  # inside its group
    # error bars: mean ± std (ddof=0) of each model in each group
    seeds = [np.array(v) for per_model in values.values() for v in per_model.values()]
    assert len(ax.containers) == len(seeds)
    for container, v in zip(ax.containers, seeds, strict=True):
        data_line, _, (segments,) = container.lines
        np.testing.assert_allclose(np.asarray(data_line.get_ydata(), float), [v.mean()])
        (segment,) = segments.get_segments()
        np.testing.assert_allclose(segment[:, 1], [v.mean() - v.std(), v.mean() + v.std()])
    reference = [line for line in ax.lines if line.get_label() == "chance"]
    assert len(reference) == 1 and reference[0].get_ydata()[0] == 0.5
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["single", "naive", "chance"]  # each model once


def test_grouped_dots_title_and_no_legend():
    fig = grouped_seed_dots({"a": {"single": [0.5]}}, title="AUROC", legend=False)
    assert fig.axes[0].get_title() == "AUROC" and fig.axes[0].get_legend() is None


@pytest.mark.parametrize(
    "values, message",
    [
        ({}, r"grouped_seed_dots expects a non-empty dict \{group: \{model: seeds\}\}"),
        ({"entropy": {}}, r"non-empty dict \{model: seeds \(group 'entropy'\)\}"),
        ({"entropy": {"a": []}}, r"expects \[seeds\] for 'a' in 'entropy', got \(0,\)"),
        ({"entropy": {"a": [[0.5]]}}, r"expects \[seeds\] for 'a' in 'entropy', got \(1, 1\)"),
    ],
)
def test_grouped_dots_errors(values, message):
    with pytest.raises(ValueError, match=message):
        grouped_seed_dots(values)
