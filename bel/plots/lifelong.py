"""Plots for lifelong learning: task × time accuracy matrices, example images, decision maps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import matplotlib.pyplot as plt
import numpy as np
from flax import nnx
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bel.data import grid
from bel.layers import num_members
from bel.lifelong import _layers
from bel.plots import style
from bel.train import predict

__all__ = ["accuracy_matrix", "task_examples", "task_maps"]


def accuracy_matrix(
    acc: Any,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    task_labels: Sequence[str] | None = None,
) -> Axes:
    """Heatmap of a task × time accuracy matrix, one annotated cell per entry.

    ``acc[i, j]`` is the accuracy on task ``j`` after training on task ``i`` (rows: time, columns:
    tasks). NaN cells (a task not learned yet) are left blank. Colours run from 0 (dark blue) to 1
    (yellow) on the sequential, colour-blind-safe ``style.SEQUENTIAL`` map on every figure, so two
    matrices drawn side by side compare at a glance; each number is written in black or white,
    whichever reads on its cell.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import numpy as np
    >>> import bel.plots.lifelong as lp
    >>> ax = lp.accuracy_matrix(np.array([[0.9, np.nan], [0.5, 0.8]]), title="demo")
    >>> [t.get_text() for t in ax.texts]
    ['0.90', '0.50', '0.80']
    """
    acc = np.asarray(acc, dtype=float)
    if acc.ndim != 2:
        raise ValueError(f"accuracy_matrix expects a 2-D [time, task] array, got shape {acc.shape}")
    T_time, T = acc.shape
    labels = list(task_labels) if task_labels is not None else [str(j) for j in range(T)]
    if len(labels) != T:
        raise ValueError(f"task_labels needs one label per task ({T}), got {len(labels)}")
    if ax is None:
        ax = style.figure(0.8 * T + 1.8, 0.6 * T_time + 1.2).subplots()
    cmap = plt.get_cmap(style.SEQUENTIAL)
    ax.imshow(np.ma.masked_invalid(acc), cmap=cmap, vmin=0.0, vmax=1.0)
    for i in range(T_time):
        for j in range(T):
            if np.isfinite(acc[i, j]):
                r, g, b, _ = cmap(acc[i, j])
                ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
                ax.text(j, i, f"{acc[i, j]:.2f}", ha="center", va="center", color=ink)
    ax.set_xticks(range(T), labels)
    ax.set_yticks(range(T_time), [f"after {labels[i]}" if i < T else str(i) for i in range(T_time)])
    ax.set_xlabel("accuracy on task")
    ax.set_ylabel("time (last task trained)")
    if title:
        ax.set_title(title)
    return ax


def task_examples(
    tasks: Sequence[tuple[Any, Any]],
    *,
    titles: Sequence[str] | None = None,
    class_names: Sequence[Sequence[str]] | None = None,
    per_class: int = 3,
    image_shape: tuple[int, int] = (8, 8),
) -> Figure:
    """A few training images of each class of each task: one block per task, one row per class.

    ``tasks`` are ``(x [N, H·W], labels [N])`` pairs of two-class image tasks (e.g. the ``train``
    of :func:`bel.data.digit_tasks`). Row ``c`` of a block shows the first ``per_class`` images of
    label ``c``, in grey (dark = ink), labelled on the left with ``class_names[t][c]`` (without
    ``class_names``, only the first block's rows are labelled, ``"label 0"`` and ``"label 1"``);
    ``titles[t]`` names the block. Each block is one image (the digits side by side, two white
    pixels apart) in one axes: a handful of axes draw much faster than one per digit.

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import bel, bel.plots.lifelong as lp
    >>> tasks = [t.train for t in bel.data.digit_tasks([(0, 1), (2, 3)])]
    >>> fig = lp.task_examples(tasks, titles=["0 vs 1", "2 vs 3"], per_class=2)
    >>> len(fig.axes), fig.axes[0].images[0].get_array().shape   # 2 rows x 2 digits of 8 x 8
    (2, (18, 18))
    """
    tasks = list(tasks)
    T = len(tasks)
    if T == 0:
        raise ValueError("task_examples expects at least one (x, labels) task, got none")
    for name, given in (("titles", titles), ("class_names", class_names)):
        if given is not None and len(given) != T:
            raise ValueError(f"{name} needs one entry per task ({T}), got {len(given)}")
    (h, w), gap = image_shape, 2
    width = min(style.MAX_WIDTH, 0.55 * T * per_class + 0.9)
    side = (width - 0.9) / (T * per_class)  # inches per image
    fig = style.figure(width, 2 * side * 1.15 + 0.45)
    axes = np.atleast_1d(fig.subplots(1, T))
    for t, ((x, y), ax) in enumerate(zip(tasks, axes, strict=True)):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 2 or x.shape[1] != h * w:
            raise ValueError(f"task_examples expects images [N, {h * w}], got shape {x.shape}")
        block = np.zeros((2 * h + gap, per_class * w + (per_class - 1) * gap), np.float32)
        for c in range(2):
            for k, image in enumerate(x[y == c][:per_class]):
                top, left = c * (h + gap), k * (w + gap)
                block[top : top + h, left : left + w] = image.reshape(h, w)
        ax.imshow(block, cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_frame_on(False)
        if class_names is not None or t == 0:
            names = class_names[t] if class_names is not None else ["label 0", "label 1"]
            ax.set_yticks([(h - 1) / 2, h + gap + (h - 1) / 2], list(names))
            ax.tick_params(axis="y", length=0)
        else:
            ax.set_yticks([])
        if titles is not None:
            ax.set_title(titles[t])
    return fig


def _check_one_member(model: nnx.Module) -> None:
    if _layers(model) and num_members(model) != 1:
        raise ValueError(
            "task_maps expects one-member models (bel.lifelong.member(model, k)) or plain "
            f"networks, got a model with {num_members(model)} members"
        )


def task_maps(
    tasks: Sequence[tuple[Any, Any]],
    rows: Mapping[str, nnx.Module | Sequence[nnx.Module]] | None = None,
    *,
    titles: Sequence[str] | None = None,
    bounds: tuple[float, float, float, float] = (-1.6, 1.6, -1.6, 1.6),
    resolution: int = 60,
    panel_size: float = 1.8,
) -> Figure:
    """One column per task, one row per entry of ``rows``: P(class 1) maps with the task's points.

    ``rows`` maps a row label to either one model used for every task (e.g. a fine-tuned network)
    or a list with one model per task (e.g. ``[bel.lifelong.member(model, k) for k ...]``; ``None``
    leaves that panel with the data only). Models must have one member or none. Without ``rows``
    the figure shows the tasks' data alone. Binary tasks are assumed (class 1 in orange).

    >>> import matplotlib; matplotlib.use("Agg")
    >>> import bel, bel.lifelong, bel.plots.lifelong as lp
    >>> tasks = bel.lifelong.rotated_tasks([0, 90], n=16)
    >>> fig = lp.task_maps(tasks, {"net": bel.mlp(2, 2, hidden=(4,), rngs=0)}, resolution=8)
    >>> len(fig.axes)
    2
    """
    tasks = list(tasks)
    T = len(tasks)
    if T == 0:
        raise ValueError("task_maps expects at least one (x, labels) task, got none")
    named = dict(rows or {"": [None] * T})
    for label, entry in named.items():
        if isinstance(entry, nnx.Module):
            named[label] = [entry] * T
        elif len(entry) != T:
            raise ValueError(f"row {label!r} needs one model per task ({T}), got {len(entry)}")
    points, (gx, gy) = grid(bounds, resolution)
    fig = style.figure(panel_size * T, panel_size * len(named))
    axes = fig.subplots(len(named), T, squeeze=False)
    for i, (label, models) in enumerate(named.items()):
        for j, ((x, y), model) in enumerate(zip(tasks, models, strict=True)):
            ax = axes[i, j]
            if model is not None:
                _check_one_member(model)
                p = jax.nn.softmax(predict(model, points)[0], axis=-1)[:, 1]
                p = np.asarray(p).reshape(gx.shape)
                ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="PuOr_r", alpha=0.45)
                ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=0.8)
            x, y = np.asarray(x), np.asarray(y)
            ax.scatter(x[:, 0], x[:, 1], c=y, cmap="PuOr_r", vmin=-0.2, vmax=1.2, s=8, lw=0.3)
            ax.set_xlim(bounds[:2])
            ax.set_ylim(bounds[2:])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            if i == 0 and titles is not None:
                ax.set_title(titles[j])
            if j == 0 and label:
                ax.set_ylabel(label)
    return fig
