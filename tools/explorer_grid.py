"""The explorer's replay grid: ``bel.explorer.model`` run over a grid of settings, for the book.

``make explorer-grid`` (``python -m tools.explorer_grid``) writes
``docs/_static/explorer-grid.json`` (committed). The book's own script
(``docs/_static/explorer-replay.js``) paints it on a ``<canvas>`` with no kernel: the
notebook-03 page and the landing page replay these results.

Every number and every picture in the file is computed by the live explorer's model itself: for
each task, init and std below, :func:`bel.explorer.model.build` the ``MAX_MEMBERS`` slots,
:func:`~bel.explorer.model.evaluate` them (the view "at initialisation", every ``E`` at once) and,
for each ``E``, :func:`~bel.explorer.model.train` the first ``E`` slots for ``STEPS`` steps and
evaluate again ("after training"). The numbers are :meth:`Evaluation.numbers` (rounded to
``DIGITS`` decimals); the pictures are the evaluations' ``outputs`` and ``uncertainty`` quantised
to ``uint8`` (base64) with the ranges stored beside them, and the colour maps are the explorer
figure's own (:mod:`bel.explorer.figure`), sampled at 256 levels.

The grid: ``members`` 1–8, ``init`` normal / random signs, one std for ``r`` and ``s`` in
``STDS`` (normal only: random signs ignore it), both tasks, at init and after training; means 1,
seed 0, the base network's ``W`` shared (the explorer's defaults).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import time
from pathlib import Path

import numpy as np
from matplotlib import colormaps

from bel.explorer import model
from bel.explorer.figure import METRICS
from bel.plots import style
from bel.plots.predictions import two_class_cmap

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "_static" / "explorer-grid.json"
STDS = (0.0, 0.1, 0.25, 0.5, 1.0)
INITS = ("normal", "random_sign")
STEPS = 300  # the live explorer's default training length
DIGITS = 4
FORMAT = 1
#: The ranges the pictures are quantised over (values outside are clipped): the probability of
#: class 1 and the mutual information on a square-root scale (as the explorer's colour bar) for
#: "moons"; the output over the task's y-range and the members' std for "gap".
SPREAD_MAX = 1.0


def settings_for(init: str, std: float) -> model.Settings:
    """The explorer's settings at one grid point (``members`` is chosen later, per ``E``)."""
    return model.Settings(members=model.MAX_MEMBERS, init=init, r_std=std, s_std=std)


def stds_for(init: str) -> tuple[float, ...]:
    """The stds of the grid for an init: random signs ignore the std (one point)."""
    return STDS if init == "normal" else (STDS[0],)


def key(task: str, init: str, std: float, view: str, members: int) -> str:
    """A grid point's key in the file (the script builds the same string)."""
    return f"{task}|{init}|{std:g}|{view}|{members}"


def _uint8(values: np.ndarray, low: float, high: float) -> str:
    scaled = np.clip((np.asarray(values, np.float64) - low) / (high - low), 0.0, 1.0)
    return base64.b64encode(np.round(scaled * 255).astype(np.uint8).tobytes()).decode("ascii")


def decode(text: str, low: float, high: float) -> np.ndarray:
    """The values a quantised picture stands for (what the script paints), as floats."""
    raw = np.frombuffer(base64.b64decode(text), dtype=np.uint8).astype(np.float64)
    return low + raw / 255 * (high - low)


def ranges(task: model.Task) -> dict[str, list[float]]:
    """What ``outputs`` and ``uncertainty`` of a task are quantised over (uint8 0 → low, 255 →
    high); the moons' mutual information is stored as its square root (``sqrt_uncertainty``)."""
    if task.classify:
        return {"outputs": [0.0, 1.0], "uncertainty": [0.0, math.sqrt(math.log(2))]}
    return {"outputs": [task.bounds[2], task.bounds[3]], "uncertainty": [0.0, SPREAD_MAX]}


def state(task: model.Task, ev: model.Evaluation, members: int) -> dict:
    """One grid point: the first ``members`` members' outputs, where they disagree, the numbers."""
    span = ranges(task)
    uncertainty = ev.uncertainty[members - 1]
    if task.classify:
        uncertainty = np.sqrt(np.maximum(uncertainty, 0.0))
    numbers = ev.numbers(members)
    return {
        "outputs": _uint8(ev.outputs[:members].reshape(-1), *span["outputs"]),
        "uncertainty": _uint8(uncertainty, *span["uncertainty"]),
        "mean": _uint8(ev.outputs[:members].mean(axis=0), *span["outputs"]),
        "numbers": {name: round(value, DIGITS) for name, value in numbers.items()},
    }


def _lut(cmap) -> list[str]:
    return [
        "#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in cmap(i / 255)[:3]))
        for i in range(256)
    ]


def _task_info(task: model.Task) -> dict:
    info = {
        "label": "classification: two moons" if task.classify else "regression with a gap",
        "classify": task.classify,
        "bounds": [round(float(b), 4) for b in task.bounds],
        "x": np.round(task.x, 3).tolist(),
        "y": np.round(task.y, 3).reshape(-1).tolist(),
        "ranges": ranges(task),
        # the labels of the explorer figure's numbers; the replay draws no weights "above"
        "metrics": [
            [name, label.replace("weights above", f"W ∘ (r sᵀ), {model.LAYERS[1]}"), list(limits)]
            for name, label, limits in METRICS[task.name]
        ],
    }
    if task.classify:
        info["grid_shape"] = list(task.grid_shape)
    else:
        info["line"] = np.round(task.points[:, 0], 4).tolist()
        info["gap"] = list(task.gap)
    return info


def compute(tasks=model.TASKS, inits=INITS, stds=None, steps=STEPS, log=print) -> dict:
    """The whole grid (or a part of it: ``tasks``, ``inits``, ``stds``) as the file's content."""
    states: dict[str, dict] = {}
    start = time.perf_counter()
    for name in tasks:
        task = model.make_task(name)
        for init in inits:
            for std in stds if stds is not None else stds_for(init):
                settings = settings_for(init, std)
                slots = model.build(task, settings)
                at_init = model.evaluate(task, slots)
                for members in range(1, model.MAX_MEMBERS + 1):
                    states[key(name, init, std, "init", members)] = state(task, at_init, members)
                    trained, _ = model.train(task, slots, members, steps)
                    after = model.evaluate(task, trained)
                    states[key(name, init, std, "trained", members)] = state(task, after, members)
                log(f"{name} {init} std={std:g}: done ({time.perf_counter() - start:.0f} s)")
    return {
        "format": FORMAT,
        "made_by": "make explorer-grid (python -m tools.explorer_grid) with bel.explorer.model",
        "grid": {
            "task": list(tasks),
            "members": list(range(1, model.MAX_MEMBERS + 1)),
            "init": list(inits),
            "std": list(stds if stds is not None else STDS),
            "view": ["init", "trained"],
        },
        "settings": {"r_mean": 1.0, "s_mean": 1.0, "seed": 0, "use_base_weights": True},
        "steps": steps,
        "learning_rate": model.LEARNING_RATE,
        "colors": {
            "probability": _lut(two_class_cmap()),
            "uncertainty": _lut(colormaps[style.SEQUENTIAL]),
            "members": list(style.MEMBER_COLORS),
            "classes": list(style.CLASS_COLORS[:2]),
        },
        "tasks": {name: _task_info(model.make_task(name)) for name in tasks},
        "states": states,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    grid = compute()
    text = json.dumps(grid, separators=(",", ":")) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text) / 1e6:.2f} MB, {len(grid['states'])} grid points)")


if __name__ == "__main__":
    main()
