"""Pictures of a BatchEnsemble layer's weights: ``W``, ``r_i``, ``s_i`` and ``W ∘ (r_i s_iᵀ)``.

Every matrix is drawn with a diverging colour map (:data:`bel.plots.style.DIVERGING`) on a
*symmetric* scale ``[-vmax, vmax]``: white is 0, red positive, blue negative, so a sign flip is a
colour flip. Figures that show several members give them one shared scale, so a brighter member
really has larger weights. Figures are made with :func:`bel.plots.style.figure` (house dpi, text
of at least 9 pt).

The figure-level functions return a :class:`matplotlib.figure.Figure` that is not registered with
``pyplot``: nothing accumulates in pyplot's figure list (good for widgets that redraw often), and a
figure shows once when it is a notebook cell's last expression (or with ``display(fig)``). Pass
``axes=`` where offered to draw into axes of your own instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle

from bel._checks import check_int, is_int, is_real
from bel.layers import BatchEnsembleLinear
from bel.plots import style

__all__ = ["heatmap", "plot_factors", "plot_effective_weights", "plot_member_layout"]


# --------------------------------------------------------------------------------------------------
# checks and helpers


def _as_matrix(matrix: Any, name: str) -> np.ndarray:
    """A finite 2-D float64 NumPy array, or a ValueError saying what was wrong."""
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} expects a 2-D array of numbers, got {type(matrix).__name__}"
        ) from err
    if m.ndim != 2:
        hint = " (draw a vector v as v[:, None] or v[None, :])" if m.ndim == 1 else ""
        raise ValueError(f"{name} expects a 2-D matrix, got shape {m.shape}{hint}")
    if 0 in m.shape:
        raise ValueError(f"{name} expects a non-empty matrix, got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} expects finite values, got NaN or inf in a matrix of {m.shape}")
    return m


def _check_vmax(vmax: Any, name: str) -> float | None:
    if vmax is None:
        return None
    if not is_real(vmax):
        raise ValueError(f"{name} expects vmax to be a number > 0 or None, got {vmax!r}")
    if not (np.isfinite(vmax) and vmax > 0):
        raise ValueError(f"{name} expects vmax to be a finite number > 0 or None, got {vmax!r}")
    return float(vmax)


def _symmetric_limit(*arrays: np.ndarray) -> float:
    """``max |x|`` over the arrays, or 1.0 when all are zero (a scale must not be empty)."""
    largest = max(float(np.max(np.abs(a))) for a in arrays)
    return largest if largest > 0 else 1.0


# --------------------------------------------------------------------------------------------------
# one heatmap


def heatmap(
    ax: Axes,
    matrix: Any,
    *,
    title: str | None = None,
    vmax: float | None = None,
    cmap: str = style.DIVERGING,
) -> AxesImage:
    """Draw ``matrix`` on ``ax`` with a symmetric colour scale ``[-vmax, vmax]``; return the image.

    ``vmax`` defaults to ``max |matrix|`` (1.0 for an all-zero matrix); pass the same ``vmax`` to
    several heatmaps to compare them. Rows of the matrix run down, columns across (for a kernel
    ``W`` of shape ``[in, out]``: one row per input feature, one column per output feature), one
    square cell per entry, no ticks. The returned image can be updated in place with
    ``image.set_data(new_matrix)``, much cheaper than redrawing.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().subplots()
    >>> image = heatmap(ax, [[1.0, -2.0], [0.5, 0.0]], title="W")
    >>> image.get_clim()
    (-2.0, 2.0)
    """
    if not isinstance(ax, Axes):
        raise ValueError(f"heatmap expects a matplotlib Axes as ax, got {type(ax).__name__}")
    m = _as_matrix(matrix, "heatmap")
    limit = _check_vmax(vmax, "heatmap") or _symmetric_limit(m)
    image = ax.imshow(m, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():  # a thin frame on all four sides, whatever the rc style
        spine.set_visible(True)
        spine.set_linewidth(0.6)
    if title is not None:
        ax.set_title(title)
    return image


# --------------------------------------------------------------------------------------------------
# the factors of a layer, member by member


def _check_members(members: Any, num_members: int, name: str) -> list[int]:
    if members is None:
        return list(range(min(num_members, 3)))
    if is_int(members):
        members = [members]
    try:
        chosen = list(members)
    except TypeError as err:
        raise ValueError(
            f"{name} expects members as a sequence of member indices, got {members!r}"
        ) from err
    if not chosen:
        raise ValueError(f"{name} expects at least one member index, got {members!r}")
    for i in chosen:
        if not (is_int(i) and 0 <= i < num_members):
            raise ValueError(
                f"{name} expects member indices in [0, {num_members}) for a layer of "
                f"{num_members} members, got {i!r}"
            )
    return [int(i) for i in chosen]


def plot_factors(
    layer: BatchEnsembleLinear,
    members: Sequence[int] | int | None = None,
    *,
    cmap: str = style.DIVERGING,
    cell: float = 0.3,
) -> Figure:
    """The effective weights built step by step: one row per member, one column per factor.

    Columns: the shared ``W`` ``[in, out]``; ``r_i`` as a column ``[in, 1]`` (it scales the rows
    of ``W``); ``s_iᵀ`` as a row ``[1, out]`` (it scales the columns); the rank-one ``r_i s_iᵀ``;
    and member ``i``'s effective weight ``W ∘ (r_i s_iᵀ)``. Each column has one symmetric colour
    scale shared by all rows (its colour bar sits underneath), so members can be compared
    entry by entry; ``W`` and the effective weights share one scale too, so an entry that grows
    or shrinks from ``W`` to ``W ∘ (r_i s_iᵀ)`` really looks brighter or paler. ``members``
    defaults to the first three (fewer if the layer has fewer);
    ``cell`` is the size of one matrix entry in inches.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from flax import nnx
    >>> import numpy as np
    >>> import bel
    >>> layer = bel.BatchEnsembleLinear(nnx.Linear(4, 3, rngs=nnx.Rngs(0)), 1, num_members=4)
    >>> fig = plot_factors(layer, members=[0, 2])
    >>> effective = fig.axes[4].images[0].get_array()        # row 0, last column: member 0
    >>> bool(np.allclose(effective, layer.effective_weights()[0], atol=1e-6))
    True
    """
    if not isinstance(layer, BatchEnsembleLinear):
        raise ValueError(
            f"plot_factors expects a bel.BatchEnsembleLinear, got {type(layer).__module__}."
            f"{type(layer).__qualname__}"
        )
    chosen = _check_members(members, layer.num_members, "plot_factors")
    W = np.asarray(layer.kernel[...], dtype=np.float64)
    r = np.asarray(layer.r[...], dtype=np.float64)[chosen]
    s = np.asarray(layer.s[...], dtype=np.float64)[chosen]
    rank_one = r[:, :, None] * s[:, None, :]
    effective = W[None] * rank_one
    n_in, n_out = W.shape

    factor_limit = _symmetric_limit(r, s)  # r and s are drawn alike: one scale for both
    weight_limit = _symmetric_limit(W, effective)  # W and W ∘ (r sᵀ) too, to compare them
    columns = [  # (title, matrices per member, colour limit)
        ("W (shared)", [W] * len(chosen), weight_limit),
        ("$r_i$", list(r[:, :, None]), factor_limit),
        ("$s_i^T$", list(s[:, None, :]), factor_limit),
        ("$r_i s_i^T$", list(rank_one), _symmetric_limit(rank_one)),
        ("$W \\circ (r_i s_i^T)$", list(effective), weight_limit),
    ]
    widths = [n_out, 1, n_out, n_out, n_out]
    width = cell * (sum(widths) + 6) + 1.0
    height = cell * (n_in + 2) * len(chosen) + 1.2
    fig = style.figure(width, height)
    axes = fig.subplots(len(chosen), len(columns), width_ratios=widths, squeeze=False)
    for c, (name, matrices, limit) in enumerate(columns):
        for row, (i, matrix) in enumerate(zip(chosen, matrices, strict=True)):
            title = name.replace("_i", f"_{i}") if row == 0 or c > 0 else None
            image = heatmap(axes[row, c], matrix, title=title, vmax=limit, cmap=cmap)
            axes[row, c].set_anchor("N")  # s_i^T, one row high, sits at the top of its cell
        if c != 1:  # r and s share the colour bar drawn under both of their columns
            bar_axes = axes[:, 1:3] if c == 2 else axes[:, c]
            fig.colorbar(
                image, ax=bar_axes, orientation="horizontal", shrink=0.9, aspect=12, panchor=False
            )
    for row, i in enumerate(chosen):
        axes[row, 0].set_ylabel(f"member {i}")
    return fig


# --------------------------------------------------------------------------------------------------
# a row of effective weights


def plot_effective_weights(
    weights: Any,
    *,
    axes: Sequence[Axes] | None = None,
    vmax: float | None = None,
    titles: Sequence[str] | None = None,
    label: str | None = None,
    colorbar: bool = True,
    cmap: str = style.DIVERGING,
) -> Figure:
    """A row of heatmaps, one per member, of ``weights`` ``[E, in, out]`` on one shared scale.

    ``weights`` is e.g. ``layer.effective_weights()``. The colour scale is ``[-vmax, vmax]`` with
    ``vmax = max |weights|`` over all members unless given (pass one ``vmax`` to several calls to
    compare rows). ``titles`` default to ``"member i"``; ``label`` goes on the left of the row.
    With ``axes`` (``E`` of them, e.g. one row of ``fig.subplots(rows, E)``) the heatmaps are
    drawn there and their figure is returned; otherwise a new figure is made.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> weights = np.arange(12.0).reshape(3, 2, 2) - 6        # 3 members of 2x2
    >>> fig = plot_effective_weights(weights, colorbar=False)
    >>> [ax.images[0].get_clim() for ax in fig.axes]
    [(-6.0, 6.0), (-6.0, 6.0), (-6.0, 6.0)]
    """
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"plot_effective_weights expects an array [E, in, out], got {type(weights).__name__}"
        ) from err
    if w.ndim != 3 or 0 in w.shape:
        raise ValueError(
            f"plot_effective_weights expects weights of shape [E, in, out] with E, in, out >= 1, "
            f"got shape {w.shape}"
        )
    if not np.all(np.isfinite(w)):
        raise ValueError("plot_effective_weights expects finite weights, got NaN or inf")
    E = w.shape[0]
    limit = _check_vmax(vmax, "plot_effective_weights") or _symmetric_limit(w)
    if titles is None:
        titles = [f"member {i}" for i in range(E)]
    elif len(titles) != E:
        raise ValueError(
            f"plot_effective_weights expects one title per member ({E}), got {len(titles)}"
        )
    if axes is None:
        n_in, n_out = w.shape[1:]
        scale = 2.2 / max(n_in, n_out)
        fig = style.figure(E * n_out * scale + 1.2, n_in * scale + 0.6)
        axes = list(fig.subplots(1, E, squeeze=False)[0])
    else:
        axes = list(np.ravel(np.asarray(axes, dtype=object)))
        if len(axes) != E or not all(isinstance(ax, Axes) for ax in axes):
            raise ValueError(
                f"plot_effective_weights expects {E} matplotlib Axes (one per member), got "
                f"{len(axes)} object(s)"
            )
        fig = axes[0].figure
    for ax, matrix, title in zip(axes, w, titles, strict=True):
        image = heatmap(ax, matrix, title=title, vmax=limit, cmap=cmap)
    if label is not None:
        axes[0].set_ylabel(label)
    if colorbar:
        fig.colorbar(image, ax=axes, shrink=0.9, aspect=15)
    return fig


# --------------------------------------------------------------------------------------------------
# which member each row of a stacked batch goes to


def plot_member_layout(
    examples: Any,
    num_members: int,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Figure:
    """Which example each member sees in a stacked ``[E*B]`` batch, as an ``[E, B]`` grid.

    ``examples[t]`` is the index of the example held by row ``t`` of the stacked batch (tile or
    repeat ``arange(B)`` to get it). A BatchEnsemble layer gives rows ``[k*B, (k+1)*B)`` to member
    ``k``, so grid row ``k`` shows what member ``k`` sees and column ``j`` where
    :func:`bel.untile` will read member ``k``'s answer for example ``j``. Each cell is coloured
    and labelled by its example; a cell that does not hold example ``j`` is labelled in red,
    with a red frame: member ``k``'s output there is not about example ``j``.

    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> fig = plot_member_layout(np.tile(np.arange(3), 2), 2, title="tile")
    >>> fig.axes[0].images[0].get_array().tolist()
    [[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]
    """
    num_members = check_int(num_members, "num_members", 1, caller="plot_member_layout")
    ex = np.asarray(examples)
    if ex.ndim != 1 or ex.size == 0 or not np.issubdtype(ex.dtype, np.integer):
        raise ValueError(
            f"plot_member_layout expects a non-empty 1-D integer array of example indices "
            f"[E*B], got dtype {ex.dtype} and shape {ex.shape}"
        )
    if ex.min() < 0:
        raise ValueError(
            f"plot_member_layout expects example indices >= 0, got minimum {int(ex.min())}"
        )
    if ex.size % num_members != 0:
        raise ValueError(
            f"plot_member_layout expects a member-major batch whose {ex.size} rows divide evenly "
            f"among num_members={num_members}"
        )
    grid = ex.reshape(num_members, -1).astype(np.float64)
    B = grid.shape[1]
    if ax is None:
        fig = style.figure(0.42 * B + 1.4, 0.42 * num_members + 0.8)
        ax = fig.subplots()
    elif not isinstance(ax, Axes):
        raise ValueError(
            f"plot_member_layout expects a matplotlib Axes as ax, got {type(ax).__name__}"
        )
    else:
        fig = ax.figure
    n = int(ex.max()) + 1
    palette = [colormaps["Set3"](c) for c in (0, 1, 2, 4, 5, 6, 8, 9, 10, 11)]  # light, no reds
    cmap = ListedColormap([palette[e % len(palette)] for e in range(n)])
    ax.imshow(grid, cmap=cmap, vmin=-0.5, vmax=n - 0.5)
    for k in range(num_members):
        for j in range(B):
            wrong = grid[k, j] != j
            ax.text(
                j,
                k,
                str(int(grid[k, j])),
                ha="center",
                va="center",
                fontsize=style.MIN_FONT_SIZE,
                color="#b00000" if wrong else "black",
                fontweight="bold" if wrong else "normal",
            )
            if wrong:
                ax.add_patch(
                    Rectangle(
                        (j - 0.45, k - 0.45), 0.9, 0.9, fill=False, edgecolor="#b00000", lw=1.2
                    )
                )
    ax.set_xticks(range(B))
    ax.set_yticks(range(num_members))
    ax.tick_params(length=0)
    ax.set_xlabel("slot j in the member's block (untile reads example j here)")
    ax.set_ylabel("member k")
    if title is not None:
        ax.set_title(title)
    return fig
