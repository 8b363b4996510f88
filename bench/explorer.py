"""Latency of the diversity explorer, measured the way a learner meets it.

Each figure is timed from the assignment ``control.value = v`` (what a slider does) until it
returns: observers run synchronously and end by encoding the new PNG into the panel's image, so
this is compute + redraw + PNG encoding.

- ``explorer_construct_s``: building the panel in a fresh Python process until it is usable
  (every compilation needed to show the first task included; target <= 2 s).
- ``explorer_switch_ms``: a task switch at once after construction, while the other task may still
  be compiling in the background: until the assignment returns (the panel is free again; target
  <= 1000 ms). ``explorer_switch_picture_s``: until the new task's picture is shown.
  ``explorer_ready_s``: until the training program and the other task, compiled on a background
  thread meanwhile, are ready too.
  ``explorer_construct_cached_s``: the same in a fresh process whose
  JAX compilation cache on disk is warm (what ``make lab`` / ``make explorer`` kernels get from
  their second start on).
- ``explorer_cold_ms_p95`` / ``_max``: on that fresh panel, once ready, the first visit of every
  member count (1..8), of the other task, of ``random_sign`` and of a fresh ``W`` (target p95
  <= 250 ms).
- ``explorer_first_train_s``: then the first press of Train (300 steps and the redraw); target
  <= 2 s.
- ``explorer_update_ms_median`` / ``_p95``: a seeded random walk through every control, after a
  warm-up that visits every value once; targets <= 50 ms and <= 100 ms.
- ``explorer_retrain_s``: Train (300 steps), median of three later presses; target <= 2 s.
- ``explorer_savefig_ms_median``: for comparison, one ordinary full ``figure.savefig`` to PNG.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

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
# the first visits timed on a fresh panel (it starts at members=4, moons, normal, base W)
COLD = [("members", m) for m in (1, 2, 3, 5, 6, 7, 8)] + [
    ("init", "random_sign"),
    ("use_base_weights", False),
]


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def fresh_panel() -> dict[str, float]:
    """Construction, first visits and the first Train of a panel in this (fresh) process."""
    from bel.explorer.widget import DiversityExplorer

    start = time.perf_counter()
    explorer = DiversityExplorer()
    construct = time.perf_counter() - start
    # the learner switches the task at once, while it may still compile in the background
    switch = _timed(lambda: setattr(explorer.controls["task"], "value", "gap"))
    switch_picture = switch + _timed(lambda: explorer.numbers)  # reading waits for the picture
    explorer.wait_ready()  # everything else compiles in the background while the learner reads
    ready = time.perf_counter() - start
    explorer.controls["task"].value = "moons"
    cold = [_timed(lambda n=n, v=v: setattr(explorer.controls[n], "value", v)) for n, v in COLD]
    first_train = _timed(explorer.controls["train"].click)
    return {
        "construct_s": construct,
        "switch_ms": switch * 1e3,
        "switch_picture_s": switch_picture,
        "ready_s": ready,
        "cold_ms": [t * 1e3 for t in cold],
        "train_s": first_train,
    }


def _fresh_process(cache: str | None = None) -> dict:
    """``fresh_panel()`` in a new Python process (with a JAX compilation cache folder, or none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    if cache is not None:
        env["JAX_COMPILATION_CACHE_DIR"] = cache
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
    code = "import json, bench.explorer as b; print(json.dumps(b.fresh_panel()))"
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600,
        env=env,
    )  # fmt: skip
    return json.loads(child.stdout.strip().splitlines()[-1])


def main() -> None:
    fresh = _fresh_process()
    with tempfile.TemporaryDirectory() as cache:
        _fresh_process(cache)  # fills the cache
        cached = _fresh_process(cache)

    from bel.explorer.widget import DiversityExplorer

    explorer = DiversityExplorer()
    for task in VALUES["task"]:  # warm-up: every value of every control once, on both tasks
        explorer.controls["task"].value = task
        for name, values in VALUES.items():
            if name != "task":
                for value in values:
                    explorer.controls[name].value = value
    rng = np.random.default_rng(0)
    names, times = list(VALUES), []
    for _ in range(CHANGES):
        name = names[rng.integers(len(names))]
        choices = [v for v in VALUES[name] if v != explorer.controls[name].value]
        value = choices[rng.integers(len(choices))]
        times.append(_timed(lambda n=name, v=value: setattr(explorer.controls[n], "value", v)))
    times_ms = np.array(times) * 1e3

    explorer = DiversityExplorer(steps=300)
    explorer.controls["train"].click()
    retrain = [_timed(explorer.controls["train"].click) for _ in range(3)]

    def savefig() -> None:
        explorer.figure.savefig(io.BytesIO(), format="png", dpi=explorer._figure.dpi)

    savefig()
    full = [_timed(savefig) for _ in range(5)]
    print(f"explorer_construct_s: {fresh['construct_s']:.2f}")
    print(f"explorer_switch_ms: {fresh['switch_ms']:.0f}")
    print(f"explorer_switch_picture_s: {fresh['switch_picture_s']:.2f}")
    print(f"explorer_ready_s: {fresh['ready_s']:.2f}")
    print(f"explorer_construct_cached_s: {cached['construct_s']:.2f}")
    print(f"explorer_cold_ms_p95: {np.percentile(fresh['cold_ms'], 95):.1f}")
    print(f"explorer_cold_ms_max: {np.max(fresh['cold_ms']):.1f}")
    print(f"explorer_first_train_s: {fresh['train_s']:.2f}")
    print(f"explorer_update_ms_median: {np.median(times_ms):.1f}")
    print(f"explorer_update_ms_p95: {np.percentile(times_ms, 95):.1f}")
    print(f"explorer_retrain_s: {np.median(retrain):.2f}")
    print(f"explorer_savefig_ms_median: {np.median(full) * 1e3:.1f}")


if __name__ == "__main__":
    main()
