"""tools/explorer_grid.py: the book's explorer replay holds the live explorer's own results.

The committed ``docs/_static/explorer-grid.json`` is checked against ``bel.explorer.model``
recomputed here at a few grid points (at initialisation and after training, both tasks, both
inits): the numbers equal :meth:`Evaluation.numbers` (to the file's rounding) and the pictures
equal the evaluations' outputs to within one uint8 step. A file made before a change to the model
fails here: `make explorer-grid` makes it again.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bel.explorer import model
from tools import explorer_grid as eg

GRID = json.loads(eg.OUT.read_text(encoding="utf-8")) if eg.OUT.exists() else None
POINTS = [  # (task, init, std, view, members)
    ("moons", "normal", 0.5, "init", 4),
    ("moons", "random_sign", 0.0, "trained", 3),
    ("gap", "normal", 0.1, "trained", 5),
    ("gap", "random_sign", 0.0, "init", 8),
]


@pytest.fixture(scope="module")
def grid() -> dict:
    if GRID is None:
        pytest.fail(f"no {eg.OUT.relative_to(eg.ROOT)}: run `make explorer-grid`")
    return GRID


def test_the_grid_is_whole_and_small(grid):
    g = grid["grid"]
    assert g["members"] == list(range(1, model.MAX_MEMBERS + 1))
    assert set(g["task"]) == set(model.TASKS) and set(g["init"]) == {"normal", "random_sign"}
    assert g["view"] == ["init", "trained"] and 0.0 in g["std"] and len(g["std"]) >= 3
    expected = {
        eg.key(task, init, std, view, members)
        for task in g["task"]
        for init in g["init"]
        for std in (g["std"] if init == "normal" else g["std"][:1])
        for view in g["view"]
        for members in g["members"]
    }
    assert set(grid["states"]) == expected
    assert eg.OUT.stat().st_size <= 8_000_000
    assert grid["steps"] == eg.STEPS and len(grid["colors"]["probability"]) == 256


@pytest.mark.parametrize("point", POINTS, ids=lambda p: "-".join(map(str, p)))
def test_grid_points_equal_the_live_explorers_numbers(grid, point):
    name, init, std, view, members = point
    task = model.make_task(name)
    settings = eg.settings_for(init, std)
    slots = model.build(task, settings)
    if view == "trained":
        slots, _ = model.train(task, slots, members, grid["steps"])
    ev = model.evaluate(task, slots)
    stored = grid["states"][eg.key(name, init, std, view, members)]
    live = ev.numbers(members)
    assert stored["numbers"].keys() == live.keys()
    for number, value in live.items():
        assert stored["numbers"][number] == pytest.approx(value, abs=0.6 * 10**-eg.DIGITS), number
    span = grid["tasks"][name]["ranges"]
    step = lambda r: (r[1] - r[0]) / 255 * 0.51  # noqa: E731  (half a uint8 step, and a hair)
    outputs = eg.decode(stored["outputs"], *span["outputs"]).reshape(members, -1)
    expected = np.clip(ev.outputs[:members], *span["outputs"])
    assert np.abs(outputs - expected).max() <= step(span["outputs"])
    uncertainty = ev.uncertainty[members - 1]
    if task.classify:  # mutual information, stored on the square-root scale of the colour bar
        uncertainty = np.sqrt(np.maximum(uncertainty, 0.0))
        assert span["uncertainty"][1] == pytest.approx(math.sqrt(math.log(2)))
    shown = eg.decode(stored["uncertainty"], *span["uncertainty"])
    assert np.abs(shown - np.clip(uncertainty, *span["uncertainty"])).max() <= step(
        span["uncertainty"]
    )


def test_the_replay_differs_where_the_explorer_does(grid):
    """The grid is not one picture repeated: std 0 at init gives identical members, random signs
    do not, and training changes the picture."""
    s = grid["states"]
    same = eg.decode(s[eg.key("moons", "normal", 0.0, "init", 4)]["outputs"], 0, 1).reshape(4, -1)
    assert np.ptp(same, axis=0).max() == 0 and s[eg.key("moons", "normal", 0.0, "init", 4)][
        "numbers"
    ]["disagreement"] == pytest.approx(0.0)
    signs = s[eg.key("moons", "random_sign", 0.0, "init", 4)]["numbers"]["disagreement"]
    assert signs > 0
    before = s[eg.key("moons", "normal", 0.5, "init", 4)]["numbers"]["accuracy"]
    after = s[eg.key("moons", "normal", 0.5, "trained", 4)]["numbers"]["accuracy"]
    assert after > before
