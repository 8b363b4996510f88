"""Mini-batched ``bel.predict`` and ``bel.fit`` on real data sizes: memory and time.

- ``predict`` on 50,000 × 784 rows through a 784-1024-1024-10 MLP at E=8: the peak memory each
  call adds (chunks of ``PREDICT_BATCH`` rows, and the whole batch at once), each measured in a
  fresh subprocess (the peak resident set, ``VmHWM``, reset just before the call, so the baseline
  is clean), and the time of the chunked call over the full-batch call (interleaved in one
  process, median of the ratios).
- One mini-batched epoch of ``bel.fit`` on 20,000 × 784 rows (784-256-256-10, E=4, batches of
  ``FIT_BATCH``) against the same epoch in a hand-written ``nnx.jit`` loop with ``nnx.Optimizer``
  (the same optimiser, model and batches), interleaved, median of the ratios; and the peak memory
  the epoch of ``fit`` adds (subprocess).

Run: ``python -m bench batches``. The data are random (shapes are what matter here).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax
from flax import nnx

import bel

PREDICT_ROWS, PREDICT_BATCH, PREDICT_MEMBERS = 50_000, 1_000, 8
FIT_ROWS, FIT_BATCH, FIT_MEMBERS = 20_000, 128, 4
REPEATS = 3


def _status(field: str) -> int:
    """A field of /proc/self/status in bytes (VmRSS: resident now; VmHWM: its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _peak_added(call) -> tuple[int, float]:
    """Bytes the peak resident set grows by during ``call()``, and its seconds."""
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current VmRSS
    before = _status("VmRSS")
    start = time.perf_counter()
    jax.block_until_ready(call())
    seconds = time.perf_counter() - start
    return _status("VmHWM") - before, seconds


def _predict_setup():
    x = np.random.default_rng(0).random((PREDICT_ROWS, 784), dtype=np.float32)
    base = bel.mlp(784, 10, hidden=(1024, 1024), rngs=0)
    return x, bel.batchensemble(base, PREDICT_MEMBERS, rngs=1)


def _fit_setup():
    rng = np.random.default_rng(0)
    x = rng.random((FIT_ROWS, 784), dtype=np.float32)
    y = rng.integers(0, 10, FIT_ROWS).astype(np.int32)
    base = bel.mlp(784, 10, hidden=(256, 256), rngs=0)
    return x, y, bel.batchensemble(base, FIT_MEMBERS, rngs=1)


def _measure(kind: str) -> None:
    """In a subprocess: print ``bytes seconds`` that one call of ``kind`` adds."""
    if kind.startswith("predict"):
        x, model = _predict_setup()
        size = PREDICT_BATCH if kind == "predict_chunked" else None
        if size:  # compile on one chunk; the whole call then reuses the program
            bel.predict(model, x[:size], batch_size=size)
        added, seconds = _peak_added(lambda: bel.predict(model, x, batch_size=size))
    else:
        x, y, model = _fit_setup()
        bel.fit(model, x, y, steps=2, batch_size=FIT_BATCH)  # compile
        added, seconds = _peak_added(
            lambda: bel.fit(model, x, y, epochs=1, batch_size=FIT_BATCH, learning_rate=1e-3)
        )
    print(added, seconds)


def _in_subprocess(kind: str) -> tuple[int, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.batches", kind], capture_output=True, text=True, check=True
    )
    added, seconds = out.stdout.split()[-2:]
    return int(added), float(seconds)


@nnx.jit
def _hand_written_step(model, optimizer, xb, yb):
    E = bel.num_members(model)

    def loss_fn(model):
        logits = model(bel.tile(xb, E))
        return optax.softmax_cross_entropy_with_integer_labels(logits, bel.tile(yb, E)).mean()

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


def _hand_written_epoch(model: nnx.Module, tx, x: np.ndarray, y: np.ndarray, rows: np.ndarray):
    """The epoch a practitioner writes: an nnx.jit step, nnx.Optimizer, the same batches.

    ``tx`` is built once: the optimiser is part of what ``nnx.jit`` compiles for, so a new one
    each epoch would compile the step again.
    """
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    return [_hand_written_step(model, optimizer, x[r], y[r]) for r in rows]


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args, **kwargs))
    return time.perf_counter() - start, out


def predict_figures() -> None:
    chunked, chunked_s = _in_subprocess("predict_chunked")
    full, full_s = _in_subprocess("predict_full")
    print(f"predict_50000x784_E8_chunk{PREDICT_BATCH}_peak_mb_added: {chunked / 2**20:.0f}")
    print(f"predict_50000x784_E8_full_batch_peak_mb_added: {full / 2**20:.0f}")
    x, model = _predict_setup()
    ratios = []
    for rep in range(REPEATS + 1):
        a, _ = _timed(bel.predict, model, x, batch_size=PREDICT_BATCH)
        b, _ = _timed(bel.predict, model, x)
        if rep:  # the first round compiles
            ratios.append(a / b)
    print(f"predict_50000x784_E8_time_ratio_chunked_over_full: {np.median(ratios):.3f}")


def fit_figures() -> None:
    added, _ = _in_subprocess("fit_epoch")
    print(f"fit_20000x784_E4_batch{FIT_BATCH}_epoch_peak_mb_added: {added / 2**20:.0f}")
    x, y, model = _fit_setup()
    rows = bel.train.Batches(FIT_ROWS, FIT_BATCH, seed=0).rows(0, FIT_ROWS // FIT_BATCH)
    tx = bel.fast_weight_optimizer(model, 1e-3, fast_lr_multiplier=0.5, weight_decay=0.0)
    ratios = []
    for rep in range(REPEATS + 1):
        ours, theirs = bel.convert.clone(model), bel.convert.clone(model)
        a, fitted = _timed(bel.fit, ours, x, y, epochs=1, batch_size=FIT_BATCH, learning_rate=1e-3)
        b, handwritten = _timed(_hand_written_epoch, theirs, tx, x, y, rows)
        if rep:  # the first round compiles
            ratios.append(a / b)
    # The same training: the losses of the two loops agree step by step.
    np.testing.assert_allclose(fitted, np.array(handwritten), rtol=1e-3, atol=1e-5)
    print(f"fit_epoch_ratio_bel_fit_over_hand_written_nnx_jit: {np.median(ratios):.3f}")


def main() -> None:
    predict_figures()
    fit_figures()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        _measure(sys.argv[1])
    else:
        main()
