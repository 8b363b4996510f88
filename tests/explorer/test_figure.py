"""bel.explorer.figure: a legible picture of exactly the active members, the same when blitted."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib.colorbar import Colorbar
from matplotlib.text import Text
from PIL import Image

from bel.explorer import model
from bel.explorer.figure import METRICS, ExplorerFigure
from bel.plots import style


@pytest.fixture(scope="module")
def states():
    """Per task: an evaluation at init and one after training 3 members."""
    result = {}
    for name in model.TASKS:
        task = model.make_task(name)
        slots = model.build(task, model.Settings())
        trained, _ = model.train(task, slots, 3, 100)
        result[name] = (task, model.evaluate(task, slots), model.evaluate(task, trained))
    return result


def _draw(picture: ExplorerFigure, states, name: str, members: int = 3, layer: int = 1) -> bytes:
    task, init, trained = states[name]
    numbers = (init.numbers(members, layer), trained.numbers(members, layer))
    picture.update(task, trained, members, layer, numbers, f"E = {members}")
    return picture.render()


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize("name", model.TASKS)
def test_every_text_is_at_least_the_house_minimum_at_the_house_resolution(states, name):
    picture = ExplorerFigure()
    _draw(picture, states, name)
    picture.fig.canvas.draw()
    assert picture.fig.dpi >= 100 and picture.fig.get_size_inches()[0] <= style.MAX_WIDTH
    texts = [t for t in picture.fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert len(texts) > 30
    small = [(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < 9]
    assert not small, f"text below 9 pt: {small}"


@pytest.mark.parametrize("name", model.TASKS)
def test_blitting_draws_the_same_picture_as_savefig(states, name):
    picture = ExplorerFigure()
    _draw(picture, states, name, members=8)
    blitted = _draw(picture, states, name, members=3)
    buffer = io.BytesIO()
    picture.fig.savefig(buffer, format="png", dpi=picture.dpi)
    a, b = _pixels(blitted), _pixels(buffer.getvalue())
    assert a.shape == b.shape
    assert float((np.abs(a - b).max(axis=2) > 8).mean()) < 0.002


def test_only_the_active_members_are_drawn(states):
    picture = ExplorerFigure()
    png = _pixels(_draw(picture, states, "moons", members=2))
    height, width, _ = png.shape
    for i, (ax, cover) in enumerate(zip(picture.weight_axes, picture.covers[::2], strict=True)):
        assert ax.get_visible() == (i < 2) and cover.get_visible() == (i >= 2)
    # the columns of members 2..7 (their weights, titles and predictions) are blank
    for cover in picture.covers[4:]:
        x, y, w, h = (np.array(cover.get_bbox().bounds) * [width, height, width, height]).round()
        inside = png[int(height - y - h) + 3 : int(height - y) - 3, int(x) + 3 : int(x + w) - 3]
        assert inside.size and (inside >= 250).all()
    # and the columns of members 0 and 1 are not
    for cover in picture.covers[:4]:
        x, y, w, h = (np.array(cover.get_bbox().bounds) * [width, height, width, height]).round()
        inside = png[int(height - y - h) + 3 : int(height - y) - 3, int(x) + 3 : int(x + w) - 3]
        assert (inside < 250).any()


def test_every_colour_bar_states_its_scale(states):
    picture = ExplorerFigure()
    for name in model.TASKS:
        _draw(picture, states, name)
    bars = [ax for ax in picture.fig.axes if isinstance(getattr(ax, "_colorbar", None), Colorbar)]
    labels = [ax.get_ylabel() for ax in bars]
    assert len(bars) == 3, labels  # weights, p(class 1), mutual information
    assert all(labels), labels
    assert any("√ scale" in label for label in labels)
    assert "99th percentile of |entries|" in picture.weights_heading.get_text()
    assert picture.scale_heading.get_text().startswith("c = ")


def test_each_number_has_an_axis_of_its_own_with_its_value_written(states):
    picture = ExplorerFigure()
    for name in model.TASKS:
        _draw(picture, states, name, members=3)
        task, init, trained = states[name]
        written = [t.get_text() for t in picture.values]
        for k, (key, _, limits) in enumerate(METRICS[name]):
            assert picture.number_axes[k].get_xlim() == pytest.approx(limits)
            assert written[2 * k] == f"{init.numbers(3)[key]:.3f}"
            assert written[2 * k + 1].startswith(f"{trained.numbers(3)[key]:.3f}")


def test_render_before_update_is_a_value_error():
    with pytest.raises(ValueError, match="call update"):
        ExplorerFigure().render()
