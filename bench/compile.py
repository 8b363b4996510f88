"""What :mod:`bel._jit`'s XLA option buys: compile and run time of ``bel.fit``'s training loop.

The loop is notebook 07's (a BatchEnsemble of 4 members of a 64-32-32-8 MLP, mini-batches of 64
digit images), lowered once and compiled with XLA's default CPU fusion emitters and with bel's
option, in alternation, in one process; then each compiled loop runs 300 steps from the same
state, again in alternation. Each ratio is the median of the ratios measured side by side.
"""

from __future__ import annotations

import time

import jax
import numpy as np

import bel
from bel._jit import COMPILER_OPTIONS
from bel.train import _train_loop, training_run

REPEATS, STEPS = 5, 300
ARGS = ("graphdef", "params", "rest", "opt_state", "x", "y", "rows", "count", "mask", "hyper",
        "static", "length")  # fmt: skip
STATIC = ("graphdef", "static", "length")


def _loop_arguments() -> tuple:
    digits = bel.data.digits(held_out=(8, 9), seed=0)
    model = bel.batchensemble(bel.mlp(64, 8, hidden=(32, 32), rngs=0), 4, rngs=1)
    run = training_run(model, digits.x_train, digits.y_train, batch_size=64, seed=0)
    x, y, mask, hyper = run._data
    rows = run.batches.rows(0, STEPS, run.steps_per_call)
    return (run.graphdef, run.params, run.rest, run.opt_state, x, y, rows, np.int32(STEPS),
            mask, hyper, run._static, run.steps_per_call)  # fmt: skip


def _seconds(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - start, out


def main() -> None:
    args = _loop_arguments()
    options = {"default": {}, "bel": COMPILER_OPTIONS}
    jitted = {k: jax.jit(_train_loop.__wrapped__, static_argnames=STATIC, compiler_options=v)
              for k, v in options.items()}  # fmt: skip
    compile_s = {k: [] for k in options}
    compiled = {}
    for _ in range(REPEATS):
        for k in options:
            jax.clear_caches()  # JAX remembers compiled programs: compile from scratch each time
            lowered = jitted[k].lower(*args)  # tracing and lowering: the same for both, not timed
            t, compiled[k] = _seconds(lowered.compile)
            compile_s[k].append(t)
    dynamic = [a for a, name in zip(args, ARGS, strict=True) if name not in STATIC]
    run_s = {k: [] for k in options}
    for _ in range(REPEATS):
        for k in options:
            t, out = _seconds(compiled[k], *dynamic)
            run_s[k].append(t)
    losses = {k: np.asarray(compiled[k](*dynamic)[-1])[:STEPS] for k in options}
    c_default, c_bel = np.array(compile_s["default"]), np.array(compile_s["bel"])
    r_default, r_bel = np.array(run_s["default"]), np.array(run_s["bel"])
    print(f"compile_train_loop_s_default_emitters: {np.median(c_default):.2f}")
    print(f"compile_train_loop_s_bel: {np.median(c_bel):.2f}")
    print(f"compile_train_loop_ratio_bel_over_default: {np.median(c_bel / c_default):.2f}")
    print(f"train_loop_{STEPS}_steps_ratio_bel_over_default: {np.median(r_bel / r_default):.2f}")
    print(
        f"train_loop_loss_max_abs_difference: {np.abs(losses['bel'] - losses['default']).max():.1e}"
    )


if __name__ == "__main__":
    main()
