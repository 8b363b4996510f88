"""How ``bel.fit`` steps: one compiled loop over the steps (``scan`` in the figures' names), or
one compiled step per call.

On the CPU, XLA runs a convolution's gradient several times slower inside a compiled loop body
than outside one, so :func:`bel.train.training_run` steps models with a convolution from Python
and keeps the single compiled loop for everything else. Both drivers of the same run are timed
here, interleaved in one process, on the small CNN of notebook 05 (64 digit images) and on the
notebook's MLP (260 digit images); each figure is the median of the ratios measured side by side.
"""

from __future__ import annotations

import time

import jax
import numpy as np
from flax import nnx

import bel
from bel.train import training_run

STEPS, REPEATS = 150, 11


def _seconds(run, steps: int) -> float:
    start = time.perf_counter()
    jax.block_until_ready(run.run(steps))
    return time.perf_counter() - start


def _ratio(model: nnx.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Median seconds per step from Python and in ``scan``, and the median ratio scan / Python."""
    stepwise, looped = training_run(model, x, y), training_run(model, x, y)
    stepwise.stepwise, looped.stepwise = True, False
    _seconds(stepwise, STEPS), _seconds(looped, STEPS)  # compile both
    pairs = np.array([(_seconds(stepwise, STEPS), _seconds(looped, STEPS)) for _ in range(REPEATS)])
    python, scan = np.median(pairs, axis=0) / STEPS
    return python, scan, float(np.median(pairs[:, 1] / pairs[:, 0]))


def main() -> None:
    task = bel.data.digit_tasks(seed=0)[0]
    x, y = task.x_train, task.y_train
    model = bel.batchensemble(bel.cnn(1, 2, channels=(8, 16), rngs=0), 1, rngs=1)
    python, scan, ratio = _ratio(model, x[:64].reshape(-1, 8, 8, 1), y[:64])
    print(f"fit_cnn_step_ms_python: {python * 1e3:.2f}")
    print(f"fit_cnn_step_ms_scan: {scan * 1e3:.2f}")
    print(f"fit_cnn_step_ratio_scan_over_python: {ratio:.2f}")
    mlp = bel.batchensemble(bel.mlp(64, 2, hidden=(32, 32), rngs=0), 1, rngs=1)
    python, scan, ratio = _ratio(mlp, x, y)
    print(f"fit_mlp_step_ms_python: {python * 1e3:.3f}")
    print(f"fit_mlp_step_ms_scan: {scan * 1e3:.3f}")
    print(f"fit_mlp_step_ratio_scan_over_python: {ratio:.2f}")


if __name__ == "__main__":
    main()
