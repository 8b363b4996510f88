"""bel.plots.lifelong: the figures draw what they are given and refuse what they cannot draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import bel
import bel.lifelong as lifelong
import bel.plots.lifelong as lp


def test_accuracy_matrix_annotates_finite_cells_and_masks_nan():
    acc = np.array([[0.9, np.nan, np.nan], [0.8, 0.7, np.nan], [0.1, 0.6, 1.0]])
    ax = lp.accuracy_matrix(acc, task_labels=["a", "b", "c"])
    assert [t.get_text() for t in ax.texts] == ["0.90", "0.80", "0.70", "0.10", "0.60", "1.00"]
    image = ax.images[0].get_array()
    assert image.mask[0, 1] and not image.mask[1, 0]
    assert ax.images[0].get_cmap().name == "viridis"  # style.SEQUENTIAL: no red-green map
    ink = {t.get_text(): t.get_color() for t in ax.texts}
    assert ink["0.10"] == "white" and ink["1.00"] == "black"  # readable on dark and bright cells
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    plt.close("all")


def test_accuracy_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match=r"2-D \[time, task\] array, got shape \(3,\)"):
        lp.accuracy_matrix(np.zeros(3))
    with pytest.raises(ValueError, match=r"one label per task \(2\), got 1"):
        lp.accuracy_matrix(np.zeros((2, 2)), task_labels=["a"])


def test_task_maps_one_panel_per_task_and_row():
    tasks = lifelong.rotated_tasks([0, 90, 180], n=16)
    model = bel.batchensemble(bel.mlp(2, 2, hidden=(4,), rngs=0), 3, rngs=1)
    members = [lifelong.member(model, k) for k in range(3)]
    fig = lp.task_maps(tasks, {"members": members, "one": members[0]}, resolution=8)
    assert len(fig.axes) == 6
    assert len(lp.task_maps(tasks, titles=["a", "b", "c"]).axes) == 3
    with pytest.raises(ValueError, match="one-member models"):
        lp.task_maps(tasks, {"all": model}, resolution=8)
    with pytest.raises(ValueError, match=r"one model per task \(3\), got 1"):
        lp.task_maps(tasks, {"short": members[:1]})
    with pytest.raises(ValueError, match="at least one"):
        lp.task_maps([])
    plt.close("all")


def test_task_examples_one_block_per_task_with_class_rows():
    tasks = [t.train for t in bel.data.digit_tasks([(0, 1), (2, 3), (4, 5)])]
    names = [("0", "1"), ("2", "3"), ("4", "5")]
    fig = lp.task_examples(tasks, titles=["a", "b", "c"], class_names=names, per_class=2)
    assert len(fig.axes) == 3  # one image per task
    labels = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels()]
    assert labels == ["0", "1", "2", "3", "4", "5"]
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"]
    block = np.asarray(fig.axes[0].images[0].get_array())  # 2 rows x 2 images, 2 px apart
    x, y = tasks[0]
    assert block.shape == (18, 18)
    np.testing.assert_array_equal(block[:8, :8], x[y == 0][0].reshape(8, 8))
    np.testing.assert_array_equal(block[10:, 10:], x[y == 1][1].reshape(8, 8))
    assert not block[8:10].any() and not block[:, 8:10].any()  # white gaps between the digits
    assert fig.dpi >= 100
    with pytest.raises(ValueError, match="at least one"):
        lp.task_examples([])
    with pytest.raises(ValueError, match=r"titles needs one entry per task \(3\), got 1"):
        lp.task_examples(tasks, titles=["a"])
    with pytest.raises(ValueError, match=r"images \[N, 64\], got shape \(4, 2\)"):
        lp.task_examples([(np.zeros((4, 2)), np.array([0, 1, 0, 1]))])
