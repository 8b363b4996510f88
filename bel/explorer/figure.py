"""The diversity explorer's picture: one matplotlib figure, built once, then only its data change.

Three rows. Top: each active member's effective weight ``W ∘ (r_i s_iᵀ)`` of one layer, on one
colour scale. Middle: each active member's predictions. Bottom: the ensemble (mean of the
members), where the members disagree, and the diversity numbers at initialisation and after
training, each number on an axis of its own with its value written beside its bar. Styled by
:mod:`bel.plots.style` (``DPI``, text of at least ``MIN_FONT_SIZE`` points at the displayed size,
colour-blind-safe colours).

Drawing text is what makes a matplotlib redraw slow, so the static parts (axes, ticks, labels,
colour bars) are drawn once per task into a background, and an update restores that background
and draws only the artists whose data change on top of it ("blitting"). White covers hide the
columns of inactive members. ``figure.savefig`` draws everything the ordinary way and gives the
same picture. Even so, the few texts that change (the title, the values beside the bars) were most
of an update's time; each one drawn is kept as pixels, keyed by its string, its place and the
pixels it was drawn over, and pasted back when the same text comes again on the same pixels (the
title and the weights' heading are split so that a slider changes only a short part of them).
The two smooth images are kept the same way, keyed by their data. The sixteen small images of
``interpolation="nearest"`` are painted straight into the canvas: matplotlib draws once where each
cell lands, and every update looks the cells' colours up there (the same pixels as matplotlib's
own drawing, for a tenth of its time). The picture is written as an unfiltered PNG.
"""

from __future__ import annotations

import hashlib
import math
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import matplotlib.style
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
from matplotlib.text import Text
from matplotlib.transforms import Bbox
from PIL import Image as PILImage

from bel.explorer.model import LAYERS, MAX_MEMBERS, Evaluation, Task
from bel.plots import style
from bel.plots.predictions import two_class_cmap

__all__ = ["ExplorerFigure", "WIDTH", "HEIGHT", "METRICS"]

WIDTH, HEIGHT = style.MAX_WIDTH, 7.4  # inches: shown 1:1 in the panel (990 × 814 px at 110 dpi)
#: For each task, (key of ``Evaluation.numbers``, label, axis limits) of each number shown.
METRICS: dict[str, tuple[tuple[str, str, tuple[float, float]], ...]] = {
    "moons": (
        ("disagreement", "pairwise disagreement (share)", (0.0, 1.0)),
        ("mutual_information", "mutual information (nats)", (0.0, math.log(2))),
        ("cosine", "cosine similarity, weights above", (-1.0, 1.0)),
        ("accuracy", "ensemble accuracy on the data", (0.0, 1.0)),
    ),
    "gap": (
        ("spread_data", "spread on the data (std, y)", (0.0, 1.0)),
        ("spread_off_data", "spread off the data (std, y)", (0.0, 1.0)),
        ("cosine", "cosine similarity, weights above", (-1.0, 1.0)),
        ("rmse", "RMSE of the ensemble mean (y)", (0.0, 1.0)),
    ),
}
_FONT = style.MIN_FONT_SIZE
_INIT_COLOR, _TRAINED_COLOR = style.OKABE_ITO[5], style.OKABE_ITO[0]  # sky blue, blue
_NO_DATA = "#ececec"  # the regression's regions without data
_GAP = "#fbeecb"  # the gap inside the regression's data
_SPREAD_COLOR = style.OKABE_ITO[4]
_MI_NORM = PowerNorm(0.5, 0.0, math.log(2))  # square root: the small values at init show too
_MI_TICKS = (0.0, 0.01, 0.05, 0.2, 0.4, 0.69)

# layout, in figure fractions
_LEFT, _RIGHT, _GAP_X = 0.02, 0.885, 0.009
_COL = (_RIGHT - _LEFT - (MAX_MEMBERS - 1) * _GAP_X) / MAX_MEMBERS
_ROW_H = 0.125
_WEIGHTS_Y, _MEMBERS_Y = 0.765, 0.575
_BOTTOM_Y, _BOTTOM_H = 0.065, 0.405
_TITLE_GAP = 0.003


# rcParams that are no matter of style (matplotlib's own style sheets leave them alone too)
_NOT_STYLE = ("backend", "interactive", "toolbar", "timezone", "webagg.", "tk.", "date.epoch",
              "savefig.directory", "figure.max_open_warning", "figure.raise_window",
              "docstring.hardcopy")  # fmt: skip


@cache
def _house_params() -> dict[str, Any]:
    """matplotlib's defaults plus the house style (:mod:`bel.plots.style`), computed once."""
    house = ["default", {**style.RC, "figure.constrained_layout.use": False}]
    with matplotlib.style.context(house):
        params = dict(dict.items(matplotlib.rcParams))  # the validated values, as they are
    return {k: v for k, v in params.items() if not k.startswith(_NOT_STYLE)}


@contextmanager
def _house() -> Iterator[None]:
    """matplotlib's defaults plus the house style, whatever the caller's own rcParams: the
    picture is the same in every process (the axes are placed by hand: no layout engine).

    Only the parameters that differ from the house's are set (and restored) here: setting all
    of them, as ``matplotlib.style.context`` does, took a tenth of every update.
    """
    current = matplotlib.rcParams
    different = {
        k: v
        for k, v in _house_params().items()
        if (now := dict.get(current, k)) is not v and bool(now != v)
    }
    if not different:
        yield
        return
    with matplotlib.rc_context(different):
        yield


def _bare(ax: Axes) -> Axes:
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _inset(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    """Limits a hair wider than an image, so the image never paints over the axes' frame."""
    x0, x1, y0, y1 = extent
    dx, dy = 0.02 * (x1 - x0), 0.02 * (y1 - y0)
    ax.set_xlim(min(x0, x1) - dx, max(x0, x1) + dx)
    ax.set_ylim(min(y0, y1) - dy, max(y0, y1) + dy)
    if y0 > y1:
        ax.invert_yaxis()


def _colorbar(fig: Figure, y: float, height: float, mappable: Any, label: str, **kw: Any) -> Axes:
    cax = fig.add_axes((_RIGHT + 0.012, y, 0.012, height))
    bar = fig.colorbar(mappable, cax=cax, **kw)
    bar.set_label(label, fontsize=_FONT)
    cax.tick_params(labelsize=_FONT)
    return cax


class _TaskArtists:
    """The members' predictions and the two ensemble panels of one task."""

    def __init__(self, fig: Figure, task: Task, xs: list[float]):
        self.task = task
        self.member_axes = [
            _bare(fig.add_axes((x, _MEMBERS_Y, _COL, _ROW_H))) for x in xs
        ]  # fmt: skip
        self.ensemble_ax = fig.add_axes((0.065, _BOTTOM_Y, 0.235, _BOTTOM_H))
        self.spread_ax = fig.add_axes((0.375, _BOTTOM_Y, 0.235, _BOTTOM_H))
        self.axes: list[Axes] = [*self.member_axes, self.ensemble_ax, self.spread_ax]
        self.texts: list[Artist] = []
        self.dynamic: list[Artist] = []  # redrawn at every update, in this order
        if task.classify:
            self._init_moons(fig)
        else:
            self._init_gap(fig)
        for ax in (self.ensemble_ax, self.spread_ax):
            ax.tick_params(labelsize=_FONT)
        self.set_visible(False)

    def _image(self, ax: Axes, cmap: Any, norm: Normalize, smooth: bool = False) -> AxesImage:
        t = self.task
        image = ax.imshow(
            np.zeros(t.grid_shape, np.float32),
            extent=t.bounds,
            origin="lower",
            cmap=cmap,
            norm=norm,
            interpolation="bilinear" if smooth else "nearest",
            aspect="auto",
        )
        _inset(ax, t.bounds)
        self.dynamic.append(image)
        return image

    def _init_moons(self, fig: Figure) -> None:
        x, y = self.task.x, self.task.y
        cmap, probability = two_class_cmap(), Normalize(0.0, 1.0)
        self.member_images = [self._image(ax, cmap, probability) for ax in self.member_axes]
        ax = self.ensemble_ax
        self.mean_image = self._image(ax, cmap, probability, smooth=True)
        for label in (0, 1):  # the data, in the colours of their classes, with white edges
            ax.plot(*x[y == label].T, ls="none", marker="o", ms=3.8, mfc=style.CLASS_COLORS[label],
                    mec="0.1", mew=0.6)  # fmt: skip
        self.dynamic += ax.lines
        ax.set(xlabel="x₁", ylabel="x₂")
        ax.set_title("ensemble: mean p(class 1)", fontsize=_FONT)
        ax = self.spread_ax
        self.spread_image = self._image(ax, style.SEQUENTIAL, _MI_NORM, smooth=True)
        ax.plot(*x.T, ls="none", marker="o", ms=2.4, mfc="0.75", mec="0.2", mew=0.3)
        self.dynamic.append(ax.lines[-1])
        ax.set(xlabel="x₁")
        ax.set_yticklabels([])
        ax.set_title("where members disagree: MI", fontsize=_FONT)
        box = ax.get_position()
        cax = fig.add_axes((box.x1 + 0.008, box.y0, 0.012, box.height))
        bar = fig.colorbar(self.spread_image, cax=cax, ticks=_MI_TICKS)
        bar.set_label("mutual information, nats (√ scale)", fontsize=_FONT)
        cax.tick_params(labelsize=_FONT)
        self.axes.append(cax)
        self.axes.append(
            _colorbar(
                fig,
                _MEMBERS_Y,
                _ROW_H,
                ScalarMappable(probability, cmap),
                "p(class 1)",
                ticks=[0, 0.5, 1],
            )  # fmt: skip
        )
        self.texts.append(
            fig.text(
                _LEFT,
                _MEMBERS_Y + _ROW_H + 0.008,
                "each member's prediction p(class 1) on the plane (blue: class 0, orange: class 1)",
                fontsize=_FONT,
            )  # fmt: skip
        )

    def _init_gap(self, fig: Figure) -> None:
        t = self.task
        line, zeros = t.points[:, 0], np.zeros(len(t.points), np.float32)
        low, high = t.bounds[2:]
        x, y = t.x[:, 0], t.y[:, 0]
        self.member_lines = []
        for i, ax in enumerate(self.member_axes):
            self._shade(ax, line)
            ax.plot(x, y, ls="none", marker="o", ms=1.6, mfc="0.55", mec="none")
            color = style.MEMBER_COLORS[i]
            self.member_lines.append(ax.plot(line, zeros, color=color, lw=1.6)[0])
            ax.set_xlim(line[0], line[-1])
            ax.set_ylim(low, high)
        self.dynamic += self.member_lines
        ax = self.ensemble_ax
        self._shade(ax, line)
        self.band = ax.fill_between(line, zeros, zeros, color="0.78", lw=0)
        self.ensemble_lines = [
            ax.plot(line, zeros, color=c, lw=0.9, alpha=0.9)[0] for c in style.MEMBER_COLORS
        ]
        (self.mean_line,) = ax.plot(line, zeros, color="k", lw=2.2)
        (data,) = ax.plot(x, y, ls="none", marker="o", ms=3.2, mfc="0.35", mec="white", mew=0.4)
        self.dynamic += [self.band, *self.ensemble_lines, self.mean_line, data]
        ax.set_xlim(line[0], line[-1])
        ax.set_ylim(low, high)
        ax.set(xlabel="x", ylabel="y")
        handles = [Patch(color="0.78"), Line2D([], [], color="k", lw=2.2)]
        ax.legend(handles, ["mean ± 2 std", "mean"], loc="lower right", fontsize=_FONT,
                  frameon=False)  # fmt: skip
        ax.set_title("ensemble: members, mean ± 2 std", fontsize=_FONT)
        ax = self.spread_ax
        self._shade(ax, line)
        (self.spread_line,) = ax.plot(line, zeros, color=_SPREAD_COLOR, lw=2.0)
        self.dynamic.append(self.spread_line)
        ax.set_xlim(line[0], line[-1])
        ax.set_ylim(0.0, 1.0)
        ax.set(xlabel="x", ylabel="std across members (y units)")
        ax.set_title("spread: std of the members", fontsize=_FONT)
        handles = [Patch(color=_GAP), Patch(color=_NO_DATA)]
        ax.legend(handles, ["gap in the data", "beyond the data"], loc="upper center",
                  fontsize=_FONT, frameon=False)  # fmt: skip
        self.texts.append(
            fig.text(
                _LEFT,
                _MEMBERS_Y + _ROW_H + 0.008,
                "each member's prediction y(x) (grey dots: the data; shaded: no data)",
                fontsize=_FONT,
            )  # fmt: skip
        )

    def _shade(self, ax: Axes, line: np.ndarray) -> None:
        ax.axvspan(*self.task.gap, color=_GAP, lw=0)
        ax.axvspan(line[0], -1.0, color=_NO_DATA, lw=0)
        ax.axvspan(1.0, line[-1], color=_NO_DATA, lw=0)

    def set_visible(self, visible: bool) -> None:
        for thing in [*self.axes, *self.texts]:
            thing.set_visible(visible)

    def update(self, ev: Evaluation, members: int) -> None:
        for i, ax in enumerate(self.member_axes):
            ax.set_visible(i < members)
        if self.task.classify:
            shape = self.task.grid_shape
            for i in range(members):
                self.member_images[i].set_data(ev.outputs[i].reshape(shape))
            self.mean_image.set_data(ev.outputs[:members].mean(axis=0).reshape(shape))
            self.spread_image.set_data(ev.uncertainty[members - 1].reshape(shape))
            return
        line = self.task.points[:, 0]
        outputs = ev.outputs[:members]
        mean, spread = outputs.mean(axis=0), ev.uncertainty[members - 1]
        for i in range(MAX_MEMBERS):
            if i < members:
                self.member_lines[i].set_ydata(outputs[i])
                self.ensemble_lines[i].set_ydata(outputs[i])
            self.ensemble_lines[i].set_visible(i < members)
        self.mean_line.set_ydata(mean)
        self.band.set_data(line, mean - 2 * spread, mean + 2 * spread)
        self.spread_line.set_ydata(spread)


class ExplorerFigure:
    """The explorer's picture (see the module docstring), drawn into its figure ``fig``.

    :meth:`update` sets the data of one state, :meth:`render` returns it as PNG bytes.

    >>> from bel.explorer import model
    >>> task = model.make_task("moons")
    >>> ev = model.evaluate(task, model.build(task, model.Settings()))
    >>> picture = ExplorerFigure()
    >>> numbers = ev.numbers(4)
    >>> picture.update(task, ev, 4, 1, (numbers, None), "E = 4")
    >>> picture.render()[:4], picture.fig.dpi >= 100
    (b'\\x89PNG', True)
    """

    def __init__(self, dpi: int = style.DPI):
        with _house():
            self._build(dpi)

    def _build(self, dpi: int) -> None:
        self.fig = Figure(figsize=(WIDTH, HEIGHT), dpi=dpi, layout="none")
        self.canvas = FigureCanvasAgg(self.fig)
        self.dpi = dpi
        fig = self.fig
        self.xs = [_LEFT + i * (_COL + _GAP_X) for i in range(MAX_MEMBERS)]
        # the title in two texts that meet in the middle (see update), so that a change of the
        # member count, seed or view and a change of the initialisation each redraw one of them
        size = style.FONT_SIZE + 1
        self.title = fig.text(0.5, 0.992, "", ha="center", va="top", fontsize=size)
        self.init_title = fig.text(0.5 + _TITLE_GAP, 0.992, "", va="top", fontsize=size)
        # the heading of the weights in two texts, so that only the short second one, the colour
        # scale, changes with the settings (see _draw_text)
        self.weights_heading = fig.text(_LEFT, _WEIGHTS_Y + _ROW_H + 0.032, "", fontsize=_FONT)
        self.scale_heading = fig.text(_LEFT, _WEIGHTS_Y + _ROW_H + 0.032, "", fontsize=_FONT)
        self.weight_axes = [
            _bare(fig.add_axes((x, _WEIGHTS_Y, _COL, _ROW_H))) for x in self.xs
        ]  # fmt: skip
        self.weight_images = [
            ax.imshow(np.zeros((16, 16)), cmap=style.DIVERGING, vmin=-1, vmax=1, aspect="auto",
                      interpolation="nearest")
            for ax in self.weight_axes
        ]  # fmt: skip
        for i, ax in enumerate(self.weight_axes):
            ax.set_title(f"member {i}", fontsize=_FONT, pad=2)
        scale = ScalarMappable(Normalize(-1, 1), cmap=style.DIVERGING)
        cax = _colorbar(fig, _WEIGHTS_Y, _ROW_H, scale, "linear", ticks=[-1, 0, 1])
        cax.set_yticklabels(["−c", "0", "+c"])
        self._layer_shape: tuple[int, int] | None = None
        # white sheets over the columns of inactive members (their titles are in the background),
        # one over the weights and their title, one over the predictions, none over the headings
        self.covers = [
            fig.add_artist(Rectangle((x - _GAP_X / 2, y - 0.004), _COL + _GAP_X, height,
                                     color="white", lw=0))
            for x in self.xs
            for y, height in ((_WEIGHTS_Y, _ROW_H + 0.03), (_MEMBERS_Y, _ROW_H + 0.007))
        ]  # fmt: skip
        self._init_numbers()
        self.dynamic: list[Artist] = [  # drawn in this order: texts last
            *self.weight_images, *self.covers, *self.init_bars, *self.trained_bars,
            *self.values, self.title, self.init_title, self.weights_heading, self.scale_heading,
        ]  # fmt: skip
        self.tasks: dict[str, _TaskArtists] = {}
        self.shown: str | None = None
        self._backgrounds: dict[str, Any] = {}  # per task: the static parts, drawn once
        self._texts: dict[tuple, Any] = {}  # drawn texts, pasted again (see _draw_text)
        self._cells: dict[tuple, Any] = {}  # where each image's cells land (see _cell_map)
        self._smooth: dict[tuple, Any] = {}  # drawn smooth images, pasted again (_draw_smooth)

    def _init_numbers(self) -> None:
        """Four small axes, one number each (init and trained bars), values written beside."""
        fig = self.fig
        x0, width, block = 0.73, 0.15, _BOTTOM_H / 4
        handles = [Patch(color=_INIT_COLOR), Patch(color=_TRAINED_COLOR)]
        fig.legend(handles, ["at init", "after training"], loc="lower left", ncols=2,
                   bbox_to_anchor=(x0 - 0.012, _BOTTOM_Y + _BOTTOM_H + 0.004), frameon=False,
                   fontsize=_FONT, handlelength=1.2, columnspacing=0.8)  # fmt: skip
        self.number_axes, self.number_labels = [], []
        self.init_bars, self.trained_bars, self.values = [], [], []
        for k in range(4):
            y = _BOTTOM_Y + (3 - k) * block
            ax = fig.add_axes((x0, y + 0.033, width, 0.045))
            self.init_bars.append(ax.barh([1], [0.0], 0.8, color=_INIT_COLOR)[0])
            self.trained_bars.append(ax.barh([0], [0.0], 0.8, color=_TRAINED_COLOR)[0])
            ax.set_yticks([])
            ax.set_ylim(-0.5, 1.5)
            ax.tick_params(labelsize=_FONT, length=2, pad=1)
            ax.spines["left"].set_visible(False)
            ax.grid(axis="x", color="0.9", lw=0.6)
            ax.set_axisbelow(True)
            self.number_axes.append(ax)
            self.number_labels.append(fig.text(x0, y + 0.082, "", fontsize=_FONT))
            for row in (1, 0):
                self.values.append(
                    ax.text(
                        1.03,
                        row,
                        "",
                        transform=ax.get_yaxis_transform(),
                        va="center",
                        fontsize=_FONT,
                        clip_on=False,
                    )  # fmt: skip
                )

    def _show_task(self, task: Task) -> _TaskArtists:
        if task.name not in self.tasks:
            self.tasks[task.name] = _TaskArtists(self.fig, task, self.xs)
        if self.shown != task.name:
            for name, artists in self.tasks.items():
                artists.set_visible(name == task.name)
            for ax, label, (_, text, limits) in zip(
                self.number_axes, self.number_labels, METRICS[task.name], strict=True
            ):
                ax.set_xlim(*limits)
                label.set_text(text)
                if limits == (0.0, math.log(2)):
                    ax.set_xticks([0, 0.2, 0.4, 0.6])
                else:
                    ax.set_xticks(np.linspace(*limits, 3))
            self.shown = task.name
        return self.tasks[task.name]

    def prepare(self, task: Task) -> None:
        """Draw the static parts of ``task``'s picture now (what the first :meth:`render` of it
        would do), e.g. while something else computes its data."""
        with _house():
            self._show_task(task)
            if task.name not in self._backgrounds:
                self._capture_background()

    def update(
        self,
        task: Task,
        shown: Evaluation,
        members: int,
        layer: int,
        numbers: tuple[dict[str, float], dict[str, float] | None],
        title: str,
        init: str = "",
    ) -> None:
        """Show the first ``members`` members of ``shown`` (the effective weights of ``layer``),
        the numbers ``(at init, after training or None)`` and the title ``title``, followed by
        ``init`` (the initialisation) when given."""
        with _house():
            self._update(task, shown, members, layer, numbers, title, init)

    def _update(
        self,
        task: Task,
        shown: Evaluation,
        members: int,
        layer: int,
        numbers: tuple[dict[str, float], dict[str, float] | None],
        title: str,
        init: str,
    ) -> None:
        artists = self._show_task(task)
        weights = shown.effective_weights[layer][:members]
        finite = np.abs(weights[np.isfinite(weights)])
        # one scale for all members: ± c, c the 99th percentile of |entries| (the largest 1%
        # saturate, so that a few large trained weights do not wash out every other entry)
        limit = float(np.percentile(finite, 99)) if finite.size else 0.0
        limit = limit if limit > 0 else 1.0
        for i, (ax, image) in enumerate(zip(self.weight_axes, self.weight_images, strict=True)):
            ax.set_visible(i < members)
            for cover in self.covers[2 * i : 2 * i + 2]:
                cover.set_visible(i >= members)
            if i < members:
                image.set_data(weights[i])
                image.set_clim(-limit, limit)
        n_in, n_out = weights.shape[1:]
        if self._layer_shape != (n_in, n_out):
            for ax, image in zip(self.weight_axes, self.weight_images, strict=True):
                extent = (-0.5, n_out - 0.5, n_in - 0.5, -0.5)
                image.set_extent(extent)
                _inset(ax, extent)
            self._layer_shape = (n_in, n_out)
        heading = (f"effective weights W ∘ (rᵢ sᵢᵀ) of layer {LAYERS[layer]} [{n_in} × {n_out}], "
                   "one colour scale ±c, c the 99th percentile of |entries|:")  # fmt: skip
        if self.weights_heading.get_text() != heading:  # the scale follows it on the same line
            self.weights_heading.set_text(heading)
            box = self.weights_heading.get_window_extent(self.canvas.get_renderer())
            self.scale_heading.set_x(box.x1 / self.fig.bbox.width + 0.004)
        self.scale_heading.set_text(f"c = {limit:.2g}")
        artists.update(shown, members)
        self._update_numbers(task, *numbers)
        self.title.set_text(title)
        self.init_title.set_text(init)
        if init:  # the two meet at the middle, each keeps its place when the other changes
            self.title.set(x=0.5 - _TITLE_GAP, ha="right")
        else:
            self.title.set(x=0.5, ha="center")

    def _update_numbers(self, task: Task, init: dict[str, float], trained: dict | None) -> None:
        for k, (key, _, (low, high)) in enumerate(METRICS[task.name]):
            for row, (bars, values) in enumerate(
                ((self.init_bars, init), (self.trained_bars, trained))
            ):
                value = None if values is None else values[key]
                bar, text = bars[k], self.values[2 * k + row]
                shown = value is not None and bool(np.isfinite(value))
                bar.set_visible(shown)
                if shown:
                    bar.set_width(float(np.clip(value, low, high)))
                    text.set_text(f"{value:.3f}" + ("▸" if value > high else ""))
                else:
                    text.set_text("—" if value is None else "n/a")

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

    def _draw_text(self, text: Text, renderer: Any) -> None:
        """Draw ``text``, or paste the pixels of the same text drawn before on the same pixels
        (the same picture, pixel for pixel: the key holds everything the drawing depends on)."""
        box = Bbox.intersection(text.get_window_extent(renderer).padded(2), self.fig.bbox)
        if not text.get_text() or box is None:
            text.draw(renderer)
            return
        self._draw_or_paste(text, renderer, box, text.get_text(), self._texts, 2048)

    def _draw_smooth(self, image: AxesImage, renderer: Any) -> None:
        """Draw a smoothly interpolated image, or paste its pixels drawn before from the same data
        on the same pixels (a change of the layer shown or of the view leaves the ensemble's two
        panels as they were)."""
        box = Bbox.intersection(image.axes.bbox.padded(1), self.fig.bbox)
        data = np.ascontiguousarray(image.get_array())
        norm = image.norm
        what = (hashlib.blake2b(data.tobytes()).digest(), data.shape, norm.vmin, norm.vmax,
                tuple(image.get_extent()))  # fmt: skip
        self._draw_or_paste(image, renderer, box, what, self._smooth, 32)

    def _draw_or_paste(self, artist: Artist, renderer: Any, box: Bbox, what: Any,
                       drawn: dict[tuple, Any], most: int) -> None:  # fmt: skip
        """Draw ``artist``, whose pixels all lie in ``box``, or paste them from ``drawn`` when it
        was drawn before as ``what`` on the same pixels; keep at most ``most`` there (a bound on
        memory, refilled as needed)."""
        under = np.asarray(self.canvas.copy_from_bbox(box))
        key = (id(artist), what, box.bounds, hashlib.blake2b(under.tobytes()).digest())
        pixels = drawn.get(key)
        if pixels is None:
            artist.draw(renderer)
            if len(drawn) >= most:
                drawn.clear()
            drawn[key] = self.canvas.copy_from_bbox(box)
        else:
            self.canvas.restore_region(pixels)

    def _draw_nearest(self, image: AxesImage, renderer: Any) -> None:
        """Draw an image of ``interpolation="nearest"``: each pixel it covers takes the colour of
        its cell, looked up in a map of which cell covers which pixel that matplotlib itself drew
        (:meth:`_cell_map`). The same pixels as ``image.draw``, without matplotlib's resampling
        machinery (1-2 ms an image, 16 images an update)."""
        colors = image.to_rgba(image.get_array(), bytes=True)
        if colors.ndim != 3 or (colors[..., 3] != 255).any():  # see-through cells: blend them
            image.draw(renderer)
            return
        pixels, cells = self._cell_map(image, renderer)
        # one RGBA pixel as one uint32: a single gather and a single scatter
        canvas = np.asarray(self.canvas.buffer_rgba()).view(np.uint32).reshape(-1)
        canvas[pixels] = np.ascontiguousarray(colors).view(np.uint32).reshape(-1)[cells]

    def _cell_map(self, image: AxesImage, renderer: Any) -> tuple[np.ndarray, np.ndarray]:
        """Where ``image`` lands on the canvas: the (flat) pixels it covers and the (flat) cell
        each shows. Drawn once per placement by matplotlib: an image whose cells
        spell their own index in their colour, over a transparent window, read back."""
        data = image.get_array()
        shape = data.shape[:2]
        ax = image.axes
        key = (id(image), tuple(image.get_extent()), shape, ax.bbox.bounds)
        found = self._cells.get(key)
        if found is not None:
            return found
        pixels = np.asarray(self.canvas.buffer_rgba())
        height, width = pixels.shape[:2]
        x0, y0, x1, y1 = ax.bbox.extents
        rows = slice(max(0, height - math.ceil(y1) - 2), min(height, height - math.floor(y0) + 2))
        columns = slice(max(0, math.floor(x0) - 2), min(width, math.ceil(x1) + 2))
        saved = pixels[rows, columns].copy()
        index = np.arange(shape[0] * shape[1]).reshape(shape)
        code = np.zeros((*shape, 4), np.uint8)
        code[..., 0], code[..., 1], code[..., 3] = index >> 8, index & 255, 255
        pixels[rows, columns] = 0  # transparent: the pixels the code covers become opaque
        image.set_data(code)
        try:
            image.draw(renderer)
            window = pixels[rows, columns]
            covered = window[..., 3] == 255
            cells = (window[..., 0].astype(np.intp) << 8 | window[..., 1])[covered]
        finally:
            image.set_data(data)
            pixels[rows, columns] = saved
        where = np.arange(height * width).reshape(height, width)[rows, columns][covered]
        self._cells[key] = where, cells
        return where, cells

    def _all_dynamic(self) -> list[Artist]:
        return self.tasks[self.shown].dynamic + self.dynamic

    def render(self) -> bytes:
        """The figure as PNG bytes: the static background plus the artists that change."""
        if self.shown is None:
            raise ValueError("nothing to render: call update() first")
        with _house():
            return self._render()

    def _render(self) -> bytes:
        if self.shown not in self._backgrounds:
            self._capture_background()
        self.canvas.restore_region(self._backgrounds[self.shown])
        renderer = self.canvas.get_renderer()
        for artist in self._all_dynamic():
            ax = artist.axes
            if artist.get_visible() and (ax is None or ax.get_visible()):
                if isinstance(artist, Text):
                    self._draw_text(artist, renderer)
                elif isinstance(artist, AxesImage) and artist.get_interpolation() == "nearest":
                    self._draw_nearest(artist, renderer)
                elif isinstance(artist, AxesImage):
                    self._draw_smooth(artist, renderer)
                else:
                    artist.draw(renderer)
        return _png(self.canvas)


def _png(canvas: FigureCanvasAgg) -> bytes:
    """The canvas as an 8-bit RGB PNG, deflated at level 1 with no per-row filter.

    Pillow's PNG writer picks a filter for every row by trying all five (PNG's adaptive filtering)
    and takes three quarters of its time doing so (~40 ms for this picture); unfiltered rows of
    a picture that is mostly flat colour deflate as small (~150 kB) in a third of the time.
    """
    width, height = canvas.get_width_height()
    rgba = PILImage.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    rows = np.empty((height, 1 + 3 * width), np.uint8)
    rows[:, 0] = 0  # each row starts with its filter type: 0, none
    rows[:, 1:] = np.frombuffer(rgba.convert("RGB").tobytes(), np.uint8).reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, no interlace
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)),
            _chunk(b"IEND", b""),
        )
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk: length, type, data, CRC-32 of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
