"""The cost of BatchEnsemble on the hot path: one hidden-layer training step.

A step is: forward through the layer, a mean-squared loss against a fixed target, then gradients
for every parameter *and* for the input (what a hidden layer inside a network needs). The same
step runs through ``BatchEnsembleLinear``, a plain ``nnx.Linear`` on the same ``E*B`` rows and a
``NaiveEnsembleLinear``, interleaved in one process; each figure is the median over repetitions of
the ratio of times measured side by side. 1.0 is the floor for BatchEnsemble / Linear: the same
three matmuls. The convolutions are measured the same way: ``BatchEnsembleConv`` against a plain
``nnx.Conv`` on the same ``E*B`` images, and ``NaiveEnsembleConv`` against BatchEnsemble.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from bel import BatchEnsembleConv, BatchEnsembleLinear, NaiveEnsembleConv, NaiveEnsembleLinear
from bel.compare import parameter_count

SIZES = [(512, 512, 4, 256), (1024, 1024, 4, 512), (256, 256, 8, 128)]
# (kernel, C_in, C_out, image side, E, B)
CONV_SIZES = [(3, 32, 32, 16, 4, 32)]
REPEATS = 41


def training_step(model: nnx.Module):
    """A jitted ``(params, x, t) -> (loss, (grad params, grad x))`` for ``model``."""
    graphdef, params = nnx.split(model)

    @jax.jit
    def step(params, x, t):
        def loss(params, x):
            return 0.5 * jnp.mean((nnx.merge(graphdef, params)(x) - t) ** 2)

        return jax.value_and_grad(loss, argnums=(0, 1))(params, x)

    return step, nnx.as_pure(params)


def _time(step, params, x, t) -> float:
    start = time.perf_counter()
    jax.block_until_ready(step(params, x, t))
    return time.perf_counter() - start


def _ratios(models: dict[str, nnx.Module], x: jax.Array, t: jax.Array) -> dict[str, np.ndarray]:
    """Interleaved step times of every model on the same data, after two warm-up rounds."""
    steps = {name: training_step(m) for name, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for rep in range(REPEATS + 2):
        for name, (step, params) in steps.items():
            elapsed = _time(step, params, x, t)
            if rep >= 2:  # the first two rounds compile and warm up
                times[name].append(elapsed)
    return {name: np.array(values) for name, values in times.items()}


def main() -> None:
    for n_in, n_out, E, B in SIZES:
        tag = f"{n_in}x{n_out}_E{E}_B{B}"
        base = nnx.Linear(n_in, n_out, rngs=nnx.Rngs(0))
        models = {
            "plain": base,
            "batchensemble": BatchEnsembleLinear(base, 1, E),
            "naive": NaiveEnsembleLinear(base, 2, E),
        }
        kx, kt = jax.random.split(jax.random.key(0))
        x = jax.random.normal(kx, (E * B, n_in))
        t = jax.random.normal(kt, (E * B, n_out))
        times = _ratios(models, x, t)
        lin, be, naive = (times[k] for k in ("plain", "batchensemble", "naive"))
        print(f"step_ratio_batchensemble_over_linear_{tag}: {np.median(be / lin):.3f}")
        print(f"step_ratio_naive_over_batchensemble_{tag}: {np.median(naive / be):.3f}")
        print(f"step_ms_linear_{tag}: {np.median(lin) * 1e3:.2f}")
        print(f"params_batchensemble_{tag}: {parameter_count(models['batchensemble'])}")
        print(f"params_batchensemble_formula_{tag}: {n_in * n_out + E * (n_in + 2 * n_out)}")
        print(f"params_naive_{tag}: {parameter_count(models['naive'])}")
        print(f"params_naive_formula_{tag}: {E * (n_in * n_out + n_out)}")
    for k, c_in, c_out, side, E, B in CONV_SIZES:
        tag = f"conv{k}x{k}_{c_in}to{c_out}_{side}x{side}_E{E}_B{B}"
        base = nnx.Conv(c_in, c_out, (k, k), rngs=nnx.Rngs(0))
        models = {
            "plain": base,
            "batchensemble": BatchEnsembleConv(base, 1, E),
            "naive": NaiveEnsembleConv(base, 2, E),
        }
        kx, kt = jax.random.split(jax.random.key(1))
        x = jax.random.normal(kx, (E * B, side, side, c_in))
        t = jax.random.normal(kt, (E * B, side, side, c_out))
        times = _ratios(models, x, t)
        conv, be, naive = (times[k] for k in ("plain", "batchensemble", "naive"))
        print(f"step_ratio_batchensemble_over_conv_{tag}: {np.median(be / conv):.3f}")
        print(f"step_ratio_naive_over_batchensemble_{tag}: {np.median(naive / be):.3f}")
        print(f"step_ms_conv_{tag}: {np.median(conv) * 1e3:.2f}")
        print(f"params_batchensemble_{tag}: {parameter_count(models['batchensemble'])}")
        print(f"params_naive_{tag}: {parameter_count(models['naive'])}")


if __name__ == "__main__":
    main()
