"""Latency of the diversity explorer, measured the way a learner meets it.

``explorer_update_ms_median`` / ``_p95``: a control change that does not retrain, timed from the
assignment ``control.value = v`` until it returns. Observers run synchronously and end by encoding
the new PNG into the panel's image, so this is compute + redraw + PNG encoding. It is measured
after a warm-up that visits every control value once (the first visit of a member count or a
task compiles), over a seeded random walk through every control. Targets: <= 100 ms, <= 250 ms.

``explorer_retrain_s``: pressing Train (300 steps, then the redraw), median of three, after one
warm-up training; target <= 2 s. ``explorer_first_train_s`` is that warm-up (it compiles).
``explorer_savefig_ms_median``: for comparison, one ordinary full ``figure.savefig`` to PNG.
"""

from __future__ import annotations

import io
import time

import numpy as np

from bel.widgets import DiversityExplorer

VALUES = {
    "members": list(range(1, 9)),
    "init": ["normal", "random_sign"],
    "seed": [0, 1, 2, 3, 42],
    "r_mean": [0.0, 0.5, 1.0, 1.5],
    "r_std": [0.0, 0.1, 0.25, 0.5, 1.0],
    "s_mean": [0.5, 1.0, 2.0],
    "s_std": [0.0, 0.3, 0.5, 1.5],
    "use_base_weights": [True, False],
    "layer": [0, 1, 2],
    "steps": [100, 300],
    "view": ["init", "trained"],
    "task": ["moons", "gap"],
}
CHANGES = 240


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _assign(explorer: DiversityExplorer, name: str, value) -> None:
    explorer.controls[name].value = value


def main() -> None:
    explorer = DiversityExplorer()
    for task in VALUES["task"]:  # warm-up: every value of every control once, on both tasks
        explorer.controls["task"].value = task
        for name, values in VALUES.items():
            if name != "task":
                for value in values:
                    _assign(explorer, name, value)
    explorer.controls["task"].value = "moons"
    first_train = _timed(explorer.controls["train"].click)

    rng = np.random.default_rng(0)
    names = list(VALUES)
    times = []
    for _ in range(CHANGES):
        name = names[rng.integers(len(names))]
        choices = [v for v in VALUES[name] if v != explorer.controls[name].value]
        value = choices[rng.integers(len(choices))]
        times.append(_timed(lambda n=name, v=value: _assign(explorer, n, v)))
    times_ms = np.array(times) * 1e3

    explorer = DiversityExplorer(steps=300)
    explorer.controls["train"].click()  # compiled already; this one warms the caches
    retrain = [_timed(explorer.controls["train"].click) for _ in range(3)]

    def savefig() -> None:
        explorer.figure.savefig(io.BytesIO(), format="png", dpi=explorer._figure.dpi)

    savefig()
    full = [_timed(savefig) for _ in range(5)]
    print(f"explorer_update_ms_median: {np.median(times_ms):.1f}")
    print(f"explorer_update_ms_p95: {np.percentile(times_ms, 95):.1f}")
    print(f"explorer_retrain_s: {np.median(retrain):.2f}")
    print(f"explorer_first_train_s: {first_train:.2f}")
    print(f"explorer_savefig_ms_median: {np.median(full) * 1e3:.1f}")


if __name__ == "__main__":
    main()
