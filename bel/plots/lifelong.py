"""Plots for lifelong learning: task × time accuracy matrices and per-task decision maps."""

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
from bel.lifelong import _layers, num_members
from bel.train import predict

__all__ = ["accuracy_matrix", "task_maps"]


def accuracy_matrix(
    acc: Any,
    ax: Axes | None = None,
    *,
    title: str | None = None,
    task_labels: Sequence[str] | None = None,
) -> Axes:
    """Heatmap of a task × time accuracy matrix, one annotated cell per entry.

    ``acc[i, j]`` is the accuracy on task ``j`` after training on task ``i`` (rows: time, columns:
    tasks). NaN cells (a task not learned yet) are left blank. Colours run from 0 (red) to 1
    (green) on every figure, so two matrices drawn side by side compare at a glance.

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
        _, ax = plt.subplots(figsize=(0.7 * T + 1.5, 0.6 * T_time + 1.2))
    ax.imshow(np.ma.masked_invalid(acc), cmap="RdYlGn", vmin=0.0, vmax=1.0)
    for i in range(T_time):
        for j in range(T):
            if np.isfinite(acc[i, j]):
                ax.text(j, i, f"{acc[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(T), labels)
    ax.set_yticks(range(T_time), [f"after {labels[i]}" if i < T else str(i) for i in range(T_time)])
    ax.set_xlabel("accuracy on task")
    ax.set_ylabel("time (last task trained)")
    if title:
        ax.set_title(title)
    return ax


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
    fig, axes = plt.subplots(
        len(named), T, figsize=(panel_size * T, panel_size * len(named)), squeeze=False
    )
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
            ax.scatter(x[:, 0], x[:, 1], c=y, cmap="PuOr_r", vmin=-0.2, vmax=1.2, s=5, lw=0)
            ax.set_xlim(bounds[:2])
            ax.set_ylim(bounds[2:])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_aspect("equal")
            if i == 0 and titles is not None:
                ax.set_title(titles[j], fontsize=9)
            if j == 0 and label:
                ax.set_ylabel(label, fontsize=9)
    fig.tight_layout()
    return fig
