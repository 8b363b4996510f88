"""The live diversity explorer: sliders in, members' weights, predictions and diversity out.

:class:`DiversityExplorer` draws a BatchEnsemble MLP (computed by :mod:`bel.diversity`) into one
matplotlib figure that is built once and then only updated in place (``set_data``, ``set_ydata``,
``set_height``), encodes it as a PNG and shows it in an ``ipywidgets.Image``. That keeps a slider
move well under 100 ms on a 2-core CPU and leaves a static picture in a saved notebook (no
``ipympl`` needed). Text is what makes a matplotlib redraw slow, so the static parts (titles,
ticks, legends) are drawn once into a background and an update redraws only the artists whose
data changed on top of it ("blitting"); ``figure.savefig`` still draws everything and gives the
same picture.

Every control can also be set from code (``explorer.controls["r_std"].value = 0.0``): observers
run synchronously, so the figure and :attr:`DiversityExplorer.numbers` are up to date when the
assignment returns. Updates are serialised with a lock, because ipykernel 7 may handle widget
messages on a second thread while another update still runs; a change that a newer one has
overtaken is not drawn at all, and the newest always is.
"""

from __future__ import annotations

import base64
import io
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize, PowerNorm
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from PIL import Image as PILImage

from bel import diversity
from bel.diversity import LAYERS, MAX_MEMBERS, Evaluation, Settings, Task

__all__ = ["DiversityExplorer", "CONTROLS"]

#: The controls of the explorer, in display order (keys of :attr:`DiversityExplorer.controls`).
CONTROLS = (
    "task",
    "members",
    "init",
    "seed",
    "r_mean",
    "r_std",
    "s_mean",
    "s_std",
    "use_base_weights",
    "layer",
    "steps",
    "train",
    "view",
)
_SETTINGS = ("members", "init", "r_mean", "r_std", "s_mean", "s_std", "seed", "use_base_weights")
_VIEWS = (("at initialisation", "init"), ("after training", "trained"))
_TASKS = (("classification: two moons", "moons"), ("regression with a gap", "gap"))
_METRICS = {  # task -> (key of diversity.numbers, bar label, table label)
    "moons": (
        ("disagreement", "disagree-\nment", "pairwise disagreement (0 = members agree)"),
        ("mutual_information", "mutual\ninformation", "mutual information, nats (0 = agree)"),
        ("cosine", "cosine sim.\nof weights", "cosine similarity of W ∘ (r sᵀ) (1 = same)"),
    ),
    "gap": (
        ("spread_data", "spread\non data", "spread (std) of the members on the data"),
        ("spread_off_data", "spread\noff data", "spread (std) in the gap and beyond"),
        ("cosine", "cosine sim.\nof weights", "cosine similarity of W ∘ (r sᵀ) (1 = same)"),
    ),
}
_SCORES = {
    "moons": ("accuracy", "ensemble accuracy on the data"),
    "gap": ("rmse", "RMSE of the ensemble mean on the data"),
}
_INIT_COLOR, _TRAINED_COLOR = "#9ecae1", "#08519c"
_CLASS_COLORS = ("#2166ac", "#b2182b")  # class 0 blue, class 1 red (as in bel.plots)
_BAR_LIMITS = (-0.3, 1.15)
_SPREAD_MAX = 1.0  # the regression's spread panel shows std in [0, 1] (larger is clipped)
_MEMBER_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                  "#17becf")  # fmt: skip


# --------------------------------------------------------------------------------------------------
# the figure: built once, then only its data change
#
# Drawing text is what makes a matplotlib redraw slow (~60 texts here: titles, tick labels,
# legends). So the static parts are drawn once into a background, and an update restores that
# background and draws only the artists whose data change ("blitting"). ``figure.savefig`` still
# draws everything the ordinary way and gives the same picture.


def _bare(ax: Axes) -> Axes:
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _inset(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    """Limits a hair wider than an image, so the image never paints over the axes' frame."""
    x0, x1, y0, y1 = extent
    dx, dy = 0.03 * (x1 - x0), 0.03 * (y1 - y0)
    ax.set_xlim(x0 - dx, x1 + dx)
    ax.set_ylim(y0 - dy, y1 + dy)


class _TaskArtists:
    """The member-prediction row and the two ensemble panels of one task."""

    def __init__(self, fig: Figure, task: Task, member_rects: list, ensemble_rect, spread_rect):
        self.task = task
        self.member_axes = [_bare(fig.add_axes(rect)) for rect in member_rects]
        self.ensemble_ax = fig.add_axes(ensemble_rect)
        self.spread_ax = fig.add_axes(spread_rect)
        self.axes = [*self.member_axes, self.ensemble_ax, self.spread_ax]
        self.dynamic: list[Artist] = []  # redrawn at every update, in this order
        if task.grid_shape is not None:
            self._init_moons(fig)
        else:
            self._init_gap(fig)
        for ax in (self.ensemble_ax, self.spread_ax):
            ax.tick_params(labelsize=7)
        self.set_visible(False)

    def _image(self, ax: Axes, cmap: str, norm: Normalize, interpolation: str) -> AxesImage:
        t = self.task
        image = ax.imshow(
            np.zeros(t.grid_shape, np.float32),
            extent=t.bounds,
            origin="lower",
            cmap=cmap,
            norm=norm,
            interpolation=interpolation,
            aspect="auto",
        )
        _inset(ax, t.bounds)
        self.dynamic.append(image)
        return image

    def _dots(self, ax: Axes, which: Any = slice(None), **style: Any) -> None:
        """The training inputs as small markers (a Line2D draws far faster than a scatter)."""
        x = self.task.x[which]
        self.dynamic.append(ax.plot(x[:, 0], x[:, 1], ls="none", **style)[0])

    def _init_moons(self, fig: Figure) -> None:
        y = self.task.y
        probability = Normalize(0.0, 1.0)
        self.member_images = []
        for ax in self.member_axes:
            self.member_images.append(self._image(ax, "RdBu_r", probability, "nearest"))
            self._dots(ax, marker=",", color="k", alpha=0.3)
        self.mean_image = self._image(self.ensemble_ax, "RdBu_r", probability, "bilinear")
        for label, color in ((0, _CLASS_COLORS[0]), (1, _CLASS_COLORS[1])):
            self._dots(self.ensemble_ax, y == label, marker="o", ms=2.6, mfc=color, mec="w",
                       mew=0.3)  # fmt: skip
        self.ensemble_ax.set_title("ensemble: mean of the members' p(class 1)", fontsize=9)
        # a square-root colour scale, so that the small disagreement at initialisation shows
        mi_norm = PowerNorm(0.5, 0.0, math.log(2))
        self.spread_image = self._image(self.spread_ax, "Purples", mi_norm, "bilinear")
        self._dots(self.spread_ax, marker=",", color="k", alpha=0.3)
        self.spread_ax.set_title("mutual information: where members disagree", fontsize=9)
        box = self.spread_ax.get_position()
        cax = fig.add_axes((box.x1 + 0.006, box.y0, 0.008, box.height))
        fig.colorbar(self.spread_image, cax=cax, ticks=[0, 0.05, 0.2, 0.4, 0.69])
        cax.tick_params(labelsize=7)
        self.axes.append(cax)
        self.row_label = fig.text(0.008, 0.665, "members'\np(class 1)\n\nblue: 0\nred: 1",
                                  fontsize=7.5, va="center")  # fmt: skip

    def _init_gap(self, fig: Figure) -> None:
        t = self.task
        line, zeros = t.points[:, 0], np.zeros(len(t.points), np.float32)
        low, high = t.bounds[2:]
        x, y = t.x[:, 0], t.y[:, 0]
        self.member_lines = []
        for i, ax in enumerate(self.member_axes):
            ax.axvspan(*t.gap, color="#fff2cc", lw=0)
            ax.scatter(x, y, s=0.8, c="0.5", linewidths=0)
            self.member_lines.append(ax.plot(line, zeros, color=_MEMBER_COLORS[i], lw=1.2)[0])
            ax.set_xlim(line[0], line[-1])
            ax.set_ylim(low, high)
        self.dynamic += self.member_lines
        ax = self.ensemble_ax
        ax.axvspan(*t.gap, color="#fff2cc", lw=0)
        self.band = ax.fill_between(line, zeros, zeros, color="0.8", lw=0)
        self.ensemble_lines = [
            ax.plot(line, zeros, color=c, lw=0.8, alpha=0.8)[0] for c in _MEMBER_COLORS
        ]
        (self.mean_line,) = ax.plot(line, zeros, color="k", lw=2)
        data = ax.scatter(x, y, s=3, c="0.3", linewidths=0, zorder=3)
        self.dynamic += [self.band, *self.ensemble_lines, self.mean_line, data]
        ax.set_xlim(line[0], line[-1])
        ax.set_ylim(low, high)
        handles = [Patch(color="0.8"), Line2D([], [], color="k", lw=2)]
        ax.legend(handles, ["mean ± 2 std", "mean"], loc="lower right", fontsize=7, frameon=False)
        ax.set_title("ensemble: members, mean and ± 2 std", fontsize=9)
        ax = self.spread_ax
        ax.axvspan(*t.gap, color="#fff2cc", lw=0)
        ax.axvspan(line[0], -1.0, color="0.93", lw=0)
        ax.axvspan(1.0, line[-1], color="0.93", lw=0)
        (self.spread_line,) = ax.plot(line, zeros, color="#54278f", lw=1.5, clip_on=True)
        self.dynamic.append(self.spread_line)
        ax.set_xlim(line[0], line[-1])
        ax.set_ylim(0.0, _SPREAD_MAX)
        ax.set_title("spread: std across members (shaded: no data)", fontsize=9)
        self.row_label = fig.text(0.008, 0.665, "members'\npredictions\n\nyellow:\nthe gap",
                                  fontsize=7.5, va="center")  # fmt: skip

    def set_visible(self, visible: bool) -> None:
        for ax in self.axes:
            ax.set_visible(visible)
        self.row_label.set_visible(visible)

    def update(self, ev: Evaluation) -> None:
        E = ev.members
        for i, ax in enumerate(self.member_axes):
            ax.set_visible(i < E)
        if self.task.grid_shape is not None:
            shape = self.task.grid_shape
            for i in range(E):
                self.member_images[i].set_data(ev.outputs[i].reshape(shape))
            self.mean_image.set_data(ev.outputs.mean(axis=0).reshape(shape))
            self.spread_image.set_data(ev.uncertainty.reshape(shape))
            return
        line = self.task.points[:, 0]
        mean = ev.outputs.mean(axis=0)
        for i in range(MAX_MEMBERS):
            if i < E:
                self.member_lines[i].set_ydata(ev.outputs[i])
                self.ensemble_lines[i].set_ydata(ev.outputs[i])
            self.ensemble_lines[i].set_visible(i < E)
        self.mean_line.set_ydata(mean)
        self.band.set_data(line, mean - 2 * ev.uncertainty, mean + 2 * ev.uncertainty)
        self.spread_line.set_ydata(ev.uncertainty)


class _ExplorerFigure:
    """Row 1: each member's effective weights; row 2: each member's predictions; row 3: the
    ensemble, where its members disagree, and the diversity numbers (init and trained)."""

    def __init__(self, dpi: int):
        self.fig = Figure(figsize=(10.0, 6.2), dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.dpi = dpi
        left, right, gap = 0.1, 0.915, 0.008
        width = (right - left - (MAX_MEMBERS - 1) * gap) / MAX_MEMBERS
        xs = [left + i * (width + gap) for i in range(MAX_MEMBERS)]
        self.member_rects = [(x, 0.585, width, 0.16) for x in xs]
        self.ensemble_rect = (0.1, 0.07, 0.245, 0.42)
        self.spread_rect = (0.41, 0.07, 0.245, 0.42)
        fig = self.fig
        self.title = fig.text(0.5, 0.985, "", ha="center", va="top", fontsize=10)
        self.weight_axes = [_bare(fig.add_axes((x, 0.765, width, 0.16))) for x in xs]
        self.weight_images = [
            ax.imshow(np.zeros((16, 16)), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto",
                      interpolation="nearest")
            for ax in self.weight_axes
        ]  # fmt: skip
        for i, ax in enumerate(self.weight_axes):
            ax.set_title(f"member {i}", fontsize=9)
        cax = fig.add_axes((right + 0.022, 0.765, 0.008, 0.16))
        scale = ScalarMappable(Normalize(-1, 1), cmap="RdBu_r")
        fig.colorbar(scale, cax=cax, ticks=[-1, 0, 1]).set_ticklabels(["−c", "0", "+c"])
        cax.tick_params(labelsize=7)
        self.scale_text = fig.text(right + 0.04, 0.94, "", ha="center", fontsize=7)
        fig.text(right + 0.043, 0.74, "c: 99th\npercentile\nof |entries|", ha="center",
                 va="top", fontsize=6)  # fmt: skip
        self.unused_text = fig.text(0.5, 0.755, "", ha="center", va="center", fontsize=9,
                                    color="0.6")  # fmt: skip
        self._layer_shape: tuple[int, int] | None = None
        self.layer_label = fig.text(0.008, 0.845, "", fontsize=7.5, va="center")
        self.covers = [  # white sheets over the columns of unused members
            fig.add_artist(Rectangle((x - gap / 2, 0.575), width + gap, 0.385, color="w", lw=0))
            for x in xs
        ]
        self._init_bars()
        self.dynamic: list[Artist] = [  # drawn in this order: texts last, over the covers
            *self.weight_images, *self.covers, *self.init_bars, *self.trained_bars,
            self.title, self.scale_text, self.layer_label, self.unused_text,
        ]  # fmt: skip
        self.tasks: dict[str, _TaskArtists] = {}
        self.shown: str | None = None
        self._backgrounds: dict[str, Any] = {}  # per task: the static parts, drawn once

    def _init_bars(self) -> None:
        ax = self.bar_ax = self.fig.add_axes((0.755, 0.1, 0.23, 0.39))
        positions = np.arange(3)
        self.init_bars = ax.bar(positions - 0.19, np.zeros(3), 0.36, color=_INIT_COLOR)
        self.trained_bars = ax.bar(positions + 0.19, np.zeros(3), 0.36, color=_TRAINED_COLOR)
        ax.axhline(0, color="0.3", lw=0.6)
        ax.set_ylim(*_BAR_LIMITS)
        ax.set_xticks(positions)
        ax.tick_params(labelsize=7)
        ax.grid(axis="y", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
        ax.set_title("diversity (numbers: table above)", fontsize=9)
        handles = [Patch(color=_INIT_COLOR), Patch(color=_TRAINED_COLOR)]
        ax.legend(handles, ["at init", "trained"], fontsize=7, loc="upper right", frameon=False,
                  ncols=2, bbox_to_anchor=(1.0, 1.02))  # fmt: skip
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)

    def show_task(self, task: Task) -> _TaskArtists:
        if task.name not in self.tasks:
            self.tasks[task.name] = _TaskArtists(
                self.fig, task, self.member_rects, self.ensemble_rect, self.spread_rect
            )
        if self.shown != task.name:
            for name, artists in self.tasks.items():
                artists.set_visible(name == task.name)
            self.bar_ax.set_xticklabels([label for _, label, _ in _METRICS[task.name]])
            self.shown = task.name
        return self.tasks[task.name]

    def update(
        self,
        task: Task,
        shown: Evaluation,
        layer: int,
        bars: tuple[dict[str, float], dict[str, float] | None],
        title: str,
    ) -> None:
        artists = self.show_task(task)
        weights = shown.effective_weights[layer]
        finite = np.abs(weights[np.isfinite(weights)])
        # one scale for all members: ± the 99th percentile of |entries| (the largest 1% saturate,
        # so that a few large trained weights do not wash out every other entry)
        limit = float(np.percentile(finite, 99)) if finite.size else 0.0
        limit = limit if limit > 0 else 1.0
        for i, (ax, image) in enumerate(zip(self.weight_axes, self.weight_images, strict=True)):
            ax.set_visible(i < shown.members)
            self.covers[i].set_visible(i >= shown.members)
            if i < shown.members:
                image.set_data(weights[i])
                image.set_clim(-limit, limit)
        n_in, n_out = weights.shape[1:]
        if self._layer_shape != (n_in, n_out):
            for ax, image in zip(self.weight_axes, self.weight_images, strict=True):
                extent = (-0.5, n_out - 0.5, n_in - 0.5, -0.5)
                image.set_extent(extent)
                _inset(ax, extent)
            self._layer_shape = (n_in, n_out)
        self.scale_text.set_text(f"±{limit:.2g}")
        where = LAYERS[layer].replace(" → ", " →\n")
        self.layer_label.set_text(f"W ∘ (rᵢ sᵢᵀ)\n\n{where}\n[{n_in}×{n_out}]")
        unused = MAX_MEMBERS - shown.members
        self.unused_text.set_visible(unused > 0)
        if unused:
            first = self.covers[shown.members].get_x()
            self.unused_text.set_x(
                (first + self.covers[-1].get_x() + self.covers[-1].get_width()) / 2
            )
            names = f"member {shown.members}" if unused == 1 else f"members {shown.members}–7"
            self.unused_text.set_text(f"{names}: unused\n(members slider)")
        artists.update(shown)
        self._update_bars(task, *bars)
        self.title.set_text(title)

    def _update_bars(self, task: Task, init: dict[str, float], trained: dict | None) -> None:
        keys = [key for key, _, _ in _METRICS[task.name]]
        low, high = _BAR_LIMITS
        for bars, values in ((self.init_bars, init), (self.trained_bars, trained)):
            for bar, key in zip(bars, keys, strict=True):
                value = None if values is None else values[key]
                visible = value is not None and bool(np.isfinite(value))
                bar.set_visible(visible)
                if visible:
                    bar.set_height(float(np.clip(value, low, high)))

    # ---------------------------------------------------------------------------------------------
    # drawing

    def _capture_background(self) -> None:
        """Draw every static part once (all member columns shown, no dynamic artist)."""
        hidden = [(a, a.get_visible()) for a in self._all_dynamic()]
        axes = self.weight_axes + self.tasks[self.shown].member_axes
        shown_axes = [(ax, ax.get_visible()) for ax in axes]
        for artist, _ in hidden:
            artist.set_visible(False)
        for ax, _ in shown_axes:
            ax.set_visible(True)
        try:
            self.canvas.draw()
            self._backgrounds[self.shown] = self.canvas.copy_from_bbox(self.fig.bbox)
        finally:
            for thing, visible in hidden + shown_axes:
                thing.set_visible(visible)

    def _all_dynamic(self) -> list[Artist]:
        return self.tasks[self.shown].dynamic + self.dynamic

    def render(self) -> bytes:
        """The figure as PNG bytes: the static background plus the artists that change."""
        if self.shown not in self._backgrounds:
            self._capture_background()
        self.canvas.restore_region(self._backgrounds[self.shown])
        renderer = self.canvas.get_renderer()
        for artist in self._all_dynamic():
            ax = artist.axes
            if artist.get_visible() and (ax is None or ax.get_visible()):
                artist.draw(renderer)
        width, height = self.canvas.get_width_height()
        picture = PILImage.frombuffer(
            "RGBA", (width, height), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1
        )
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, format="png", compress_level=1)
        return buffer.getvalue()


# --------------------------------------------------------------------------------------------------
# the widget


def _slider(kind, description: str, value, **options) -> widgets.Widget:
    return kind(
        value=value,
        description=description,
        continuous_update=True,
        style={"description_width": "72px"},
        layout=widgets.Layout(width="290px"),
        **options,
    )


class DiversityExplorer:
    """Drag sliders, watch BatchEnsemble members agree or diverge, at initialisation and after
    training.

    Shows, for a small BatchEnsemble MLP (``bel.batchensemble`` of a 2-16-16-out ``bel.mlp``) on
    a toy task: each member's effective weight ``W ∘ (r_i s_iᵀ)`` of one layer as a heatmap (one
    colour scale shared by the members), each member's predictions, the ensemble's mean and where
    the members disagree, and the diversity numbers (pairwise disagreement, mutual information,
    cosine similarity of the effective weights) both at initialisation and after training.

    Display it in a notebook (``display(explorer)``, or :attr:`widget` alone). Every control in
    :attr:`controls` can also be set from code; :attr:`numbers` then holds the new numbers,
    :meth:`report` prints them and :attr:`png` is the new picture. :meth:`train` does what the
    Train button does; :meth:`model` returns the members shown as an ordinary ``bel`` model.

    >>> explorer = DiversityExplorer(members=3, init="normal", r_std=0.0, s_std=0.0)
    >>> explorer.numbers["init"]["disagreement"]         # three identical members
    0.0
    >>> explorer.controls["init"].value = "random_sign"
    >>> explorer.numbers["init"]["disagreement"] > 0
    True

    The arguments are the controls' starting values.

    Args:
      task: ``"moons"`` (2-D classification) or ``"gap"`` (1-D regression with a gap).
      members: ensemble size ``E``, 1 to 8.
      init, r_mean, r_std, s_mean, s_std, seed, use_base_weights: see
        :class:`bel.diversity.Settings` (and :class:`bel.BatchEnsembleLinear`).
      layer: which layer's effective weights to draw (index into ``bel.diversity.LAYERS``).
      steps: training steps for the Train button (a multiple of 50, at most 1000).
      dpi: resolution of the picture (80 keeps an update well under 100 ms).

    Attributes:
      controls: dict of the ipywidgets controls, keyed as in :data:`CONTROLS` (``"train"`` is a
        ``Button``; ``"view"`` switches the figure between initialisation and the trained state).
      figure: the matplotlib figure drawn into (``figure.savefig`` works as usual).
      widget: the whole panel, to display.
      image: the ``ipywidgets.Image`` showing the figure as a PNG.
      png: the bytes of that PNG, the picture the panel shows.
      status: the message line.
      progress: the training progress bar.
      table: the numbers table.
    """

    def __init__(
        self,
        *,
        task: str = "moons",
        members: int = 4,
        init: str = "normal",
        r_mean: float = 1.0,
        r_std: float = 0.5,
        s_mean: float = 1.0,
        s_std: float = 0.5,
        seed: int = 0,
        use_base_weights: bool = True,
        layer: int = 1,
        steps: int = 300,
        dpi: int = 80,
    ):
        settings = Settings(members, init, r_mean, r_std, s_mean, s_std, seed, use_base_weights)
        diversity.make_task(task)  # checks the name
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(LAYERS):
            raise ValueError(f"layer must be an int in [0, {len(LAYERS)}), got {layer!r}")
        if not isinstance(steps, int) or not 50 <= steps <= 1000 or steps % diversity.CHUNK:
            raise ValueError(f"steps must be a multiple of {diversity.CHUNK} in [50, 1000], "
                             f"got {steps!r}")  # fmt: skip
        if isinstance(dpi, bool) or not isinstance(dpi, int) or not 30 <= dpi <= 300:
            raise ValueError(f"dpi must be an int in [30, 300], got {dpi!r}")
        self._make_controls(task, settings, layer, steps)
        self._figure = _ExplorerFigure(dpi)
        self.figure = self._figure.fig
        self.image = widgets.Image(format="png", layout=widgets.Layout(width=f"{10 * dpi}px"))
        self.status = widgets.HTML()
        self.progress = widgets.IntProgress(
            value=0, min=0, max=steps, description="training", layout=widgets.Layout(width="290px")
        )
        self.table = widgets.HTML()
        self.widget = self._layout()
        self.png = b""
        # Observers can run on several threads at once (ipykernel 7 may handle widget messages on
        # a subshell thread while another thread works): one update at a time, under _lock.
        self._lock = threading.RLock()
        self._flags = threading.Lock()  # guards _generation and _dirty
        self._local = threading.local()  # per-thread "ignore my own control changes"
        self._generation = 0  # counts control changes; only the newest one needs drawing
        self._dirty = True  # the settings changed since the members were last drawn
        self._init: Evaluation | None = None
        self._trained: Evaluation | None = None
        self._trained_params: diversity.Params | None = None
        self._trained_steps = 0
        self._params: diversity.Params | None = None
        for name, control in self.controls.items():
            if name == "train":
                control.on_click(lambda _button: self._guarded(self.train))
            else:
                control.observe(self._on_change, names="value")
        self._guarded(self._refresh)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """``display(explorer)``: the live panel, with the current picture as a static fallback.

        JupyterLab with a running kernel shows the panel; a viewer that cannot run widgets
        (GitHub, a notebook opened before its kernel runs) shows the PNG instead of the panel's
        text representation.
        """
        bundle = dict(self.widget._repr_mimebundle_(**kwargs))
        bundle["image/png"] = base64.b64encode(self.png).decode("ascii")
        bundle["text/plain"] = f"DiversityExplorer: {self._title(self.settings, False)}"
        return bundle

    def __repr__(self) -> str:
        return f"DiversityExplorer({self._title(self.settings, self._trained is not None)})"

    # ---------------------------------------------------------------------------------------------
    # controls and layout

    def _make_controls(self, task: str, s: Settings, layer: int, steps: int) -> None:
        c: dict[str, widgets.Widget] = {}
        c["task"] = widgets.Dropdown(
            options=_TASKS, value=task, description="task", style={"description_width": "72px"},
            layout=widgets.Layout(width="290px"),
        )  # fmt: skip
        c["members"] = _slider(widgets.IntSlider, "members", s.members, min=1, max=MAX_MEMBERS)
        c["init"] = widgets.ToggleButtons(
            options=["normal", "random_sign"], value=s.init, style={"button_width": "110px"},
            tooltips=["r ~ N(r_mean, r_std²), s ~ N(s_mean, s_std²)", "every entry ±1"],
        )  # fmt: skip
        c["seed"] = _slider(widgets.IntSlider, "seed", s.seed, min=0, max=99)
        c["seed"].continuous_update = False  # a seed is no continuous quantity: update on release
        for name, value in (("r_mean", s.r_mean), ("s_mean", s.s_mean)):
            c[name] = _slider(widgets.FloatSlider, name, value, min=-2.0, max=2.0, step=0.05)
        for name, value in (("r_std", s.r_std), ("s_std", s.s_std)):
            c[name] = _slider(widgets.FloatSlider, name, value, min=0.0, max=1.5, step=0.05)
        c["use_base_weights"] = widgets.Checkbox(
            value=s.use_base_weights, description="use_base_weights",
            tooltip="checked: the shared W is the base MLP's kernel; unchecked: a fresh W",
            indent=False, layout=widgets.Layout(width="290px"),
        )  # fmt: skip
        c["layer"] = widgets.Dropdown(
            options=[(name, i) for i, name in enumerate(LAYERS)], value=layer,
            description="heatmaps", style={"description_width": "72px"},
            layout=widgets.Layout(width="290px"),
        )  # fmt: skip
        c["steps"] = _slider(widgets.IntSlider, "steps", steps, min=50, max=1000, step=50)
        c["train"] = widgets.Button(
            description="Train", icon="play", button_style="primary",
            tooltip="train the members on the task (full batch, Adam)",
            layout=widgets.Layout(width="120px"),
        )  # fmt: skip
        c["view"] = widgets.ToggleButtons(
            options=_VIEWS, value="init", style={"button_width": "120px"},
        )  # fmt: skip
        self.controls = {name: c[name] for name in CONTROLS}

    def _layout(self) -> widgets.Widget:
        c = self.controls
        columns = widgets.HBox(
            [
                widgets.VBox([c["task"], c["members"], c["seed"], c["use_base_weights"]]),
                widgets.VBox([c["r_mean"], c["r_std"], c["s_mean"], c["s_std"]]),
                widgets.VBox([c["layer"], c["steps"], widgets.HBox([c["train"]]), self.progress]),
            ]
        )

        def label(text: str) -> widgets.HTML:
            return widgets.HTML(
                f"<div style='text-align:right; padding-right:8px'>{text}</div>",
                layout=widgets.Layout(width="80px"),
            )

        toggles = widgets.HBox([label("init"), c["init"], label("show"), c["view"]])
        return widgets.VBox([columns, toggles, self.status, self.table, self.image])

    # ---------------------------------------------------------------------------------------------
    # state read from the controls

    @property
    def task(self) -> Task:
        """The current :class:`bel.diversity.Task`."""
        return diversity.make_task(self.controls["task"].value)

    @property
    def settings(self) -> Settings:
        """The current :class:`bel.diversity.Settings`, read from the controls."""
        return Settings(**{name: self.controls[name].value for name in _SETTINGS})

    @property
    def numbers(self) -> dict[str, dict[str, float] | None]:
        """``{"init": {...}, "trained": {...} or None}``: the diversity numbers shown (see
        :func:`bel.diversity.numbers`; ``cosine`` is for the layer shown)."""
        layer = self.controls["layer"].value
        with self._lock:
            init, trained = self._init, self._trained
        task = self.task
        return {
            "init": None if init is None else diversity.numbers(task, init, layer),
            "trained": None if trained is None else diversity.numbers(task, trained, layer),
        }

    def report(self) -> str:
        """The numbers of the table as plain text (for printing from code).

        >>> print(DiversityExplorer(r_std=0.0, s_std=0.0).report())  # doctest: +ELLIPSIS
        classification: two moons · E = 4 · r ~ N(1, 0²), s ~ N(1, 0²) · seed 0
                                                      at init   trained
        pairwise disagreement (0 = members agree)       0.000         —
        ...
        """
        task, numbers = self.task, self.numbers
        score_key, score_label = _SCORES[task.name]
        rows = [(key, label) for key, _, label in _METRICS[task.name]] + [(score_key, score_label)]
        task_label = dict((name, label) for label, name in _TASKS)[task.name]
        title = self._title(self.settings, False).replace(" · at initialisation", "")
        lines = [f"{task_label} · {title}",
                 f"{'':46}{'at init':>9}{'trained':>10}"]  # fmt: skip
        trained = numbers["trained"]
        for key, label in rows:
            after = "—" if trained is None else f"{trained[key]:.3f}"
            lines.append(f"{label:46}{numbers['init'][key]:9.3f}{after:>10}")
        return "\n".join(lines)

    @property
    def trained(self) -> bool:
        """Whether a trained state for the current settings exists."""
        return self._trained is not None

    def model(self, view: str = "init"):
        """The members shown, as an ordinary ``bel`` BatchEnsemble ``nnx`` model.

        ``view`` is ``"init"`` or ``"trained"`` (after :meth:`train`).
        """
        if view not in ("init", "trained"):
            raise ValueError(f"view must be 'init' or 'trained', got {view!r}")
        params = self._params if view == "init" else self._trained_params
        if params is None:
            raise ValueError("no trained state: call train() (or press Train) first")
        return diversity.to_model(self.task, params, self.settings.members)

    # ---------------------------------------------------------------------------------------------
    # reacting to the controls

    @contextmanager
    def _quiet(self) -> Iterator[None]:
        """Change controls from code without reacting to it (in this thread only)."""
        self._local.quiet = getattr(self._local, "quiet", 0) + 1
        try:
            yield
        finally:
            self._local.quiet -= 1

    def _guarded(self, action) -> None:
        """Run ``action``; on any error show a short message instead, keep the panel usable."""
        try:
            action()
        except Exception as err:  # noqa: BLE001 - the panel must survive anything
            text = str(err).splitlines()[0] if str(err) else ""
            self._say(f"Could not update: {type(err).__name__}: {text[:200]}", error=True)

    def _on_change(self, change: dict[str, Any]) -> None:
        if getattr(self._local, "quiet", 0):
            return
        name = next((k for k, v in self.controls.items() if v is change["owner"]), None)
        if name == "steps":
            self.progress.max = self.controls["steps"].value
            return
        with self._flags:
            self._generation += 1
            generation = self._generation
            self._dirty = self._dirty or name not in ("layer", "view")
        with self._lock:
            # A newer change is already waiting for the lock: it will draw the final state, which
            # makes drawing this intermediate one pointless (a dragged slider's backlog shrinks).
            if generation == self._generation:
                self._guarded(self._refresh)

    def _refresh(self) -> None:
        """Bring members, figure and numbers up to date with every control."""
        with self._flags:
            dirty, self._dirty = self._dirty, False
        if dirty:
            self._rebuild()
        else:
            self._redraw()

    def _say(self, text: str, error: bool = False) -> None:
        color = "#b30000" if error else "#444"
        self.status.value = f"<span style='color:{color}; font-size:90%'>{text}</span>"

    def _rebuild(self) -> None:
        """New settings: draw the members afresh, forget the training, redraw."""
        settings, task = self.settings, self.task
        for name in ("r_mean", "r_std", "s_mean", "s_std"):
            self.controls[name].disabled = settings.init == "random_sign"
        self._init = self._trained = self._trained_params = None
        self.progress.value = 0
        self.progress.bar_style = ""
        with self._quiet():
            self.controls["view"].value = "init"
        if not diversity.is_compiled(task, settings.members):
            self._say(f"compiling for {settings.members} member(s) on this task (once) …")
        self._params = diversity.init_params(task, settings)
        self._init = diversity.evaluate(task, self._params, settings.members)
        self._redraw()

    def _redraw(self) -> None:
        if self._init is None:
            self._say("Nothing to show: the last change failed; change a control to retry.", True)
            return
        task, settings = self.task, self.settings
        view = self.controls["view"].value
        message, error = "ready", False
        if view == "trained" and self._trained is None:
            message = "Not trained yet: press Train (showing the initialisation)."
        shown = self._trained if view == "trained" and self._trained is not None else self._init
        numbers = self.numbers
        if not all(np.isfinite(v) for v in numbers["init"].values()):
            message = "Some numbers are not finite (NaN or inf): try smaller means or stds."
            error = True
        self._figure.update(
            task,
            shown,
            self.controls["layer"].value,
            (numbers["init"], numbers["trained"]),
            self._title(settings, shown is self._trained),
        )
        self.png = self._figure.render()
        self.image.value = self.png
        self.table.value = self._table(task, numbers)
        self._say(message, error)

    def _title(self, s: Settings, trained: bool) -> str:
        if s.init == "random_sign":
            init = "r, s random signs ±1"
        else:
            init = f"r ~ N({s.r_mean:g}, {s.r_std:g}²), s ~ N({s.s_mean:g}, {s.s_std:g}²)"
        state = f"after {self._trained_steps} training steps" if trained else "at initialisation"
        return f"E = {s.members} · {init} · seed {s.seed} · {state}"

    def _table(self, task: Task, numbers: dict[str, dict[str, float] | None]) -> str:
        score_key, score_label = _SCORES[task.name]
        rows = [(key, label) for key, _, label in _METRICS[task.name]] + [(score_key, score_label)]
        init, trained = numbers["init"], numbers["trained"]
        pad = "padding:1px 10px; line-height:1.3"
        cell = f"<td style='{pad}; text-align:right; font-family:monospace'>{{}}</td>"
        lines = [f"<table style='font-size:90%; border-collapse:collapse'><tr>"
                 f"<th style='{pad}'></th><th style='{pad}'>at init</th>"
                 f"<th style='{pad}'>after training</th></tr>"]  # fmt: skip
        for key, label in rows:
            after = "—" if trained is None else f"{trained[key]:.3f}"
            lines.append(
                f"<tr><td style='{pad}'>{label}</td>{cell.format(f'{init[key]:.3f}')}"
                f"{cell.format(after)}</tr>"
            )
        return "".join(lines) + "</table>"

    # ---------------------------------------------------------------------------------------------
    # training

    def train(self) -> None:
        """Train the members for ``controls["steps"]`` steps from the initialisation shown, with
        progress in :attr:`progress`; then show the trained state (``view = "trained"``)."""
        with self._lock:
            if self._dirty:
                self._refresh()
            self._train()

    def _train(self) -> None:
        if self._params is None:
            raise ValueError("nothing to train: the last change failed; change a control first")
        task, settings = self.task, self.settings
        steps = self.controls["steps"].value
        button = self.controls["train"]
        button.disabled = True
        self.progress.max, self.progress.value, self.progress.bar_style = steps, 0, ""
        if diversity.is_compiled(task, None):
            self._say(f"training {steps} steps …")
        else:
            self._say(f"training {steps} steps (the first run on a task compiles: a few s) …")

        def report(done: int, loss: float) -> None:
            self.progress.value = done
            self._say(f"training: {done}/{steps} steps, loss {loss:.4f}")

        try:
            params, losses = diversity.train(task, self._params, settings.members, steps, report)
        finally:
            button.disabled = False
        self._trained_params = params
        self._trained = diversity.evaluate(task, params, settings.members)
        self._trained_steps = steps
        self.progress.bar_style = "success" if np.isfinite(losses[-1]) else "danger"
        with self._quiet():
            self.controls["view"].value = "trained"
        self._redraw()
        if not np.isfinite(losses[-1]):
            self._say(
                "Training diverged (the loss is not finite): try smaller means or stds.", True
            )
        else:
            self._say(f"trained {steps} steps: loss {losses[0]:.3f} → {losses[-1]:.4f}")
