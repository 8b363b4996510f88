"""Small models and full-batch optax training loops for the toy tasks.

Training is functional under the hood (``nnx.split`` once, ``jax.lax.scan`` over steps inside one
``jax.jit``), so a few hundred steps on a toy data set take a fraction of a second and compiled
code is reused across calls with the same shapes. Learning rate and the other hyperparameters are
traced, not static: changing them never recompiles.

Every ensemble is trained on the member-major batch ``tile(x, E)``: each member sees the same data
(the uncertainty-baselines recipe) and the loss is the mean over members of each member's loss.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from bel.layers import tile, untile
from bel.optim import fast_weight_optimizer

__all__ = ["LOSSES", "mlp", "fit", "predict"]

LOSSES = ("cross_entropy", "mse")


def mlp(
    in_features: int,
    out_features: int,
    *,
    hidden: Sequence[int] = (64, 64),
    rngs: nnx.Rngs | int,
) -> nnx.Sequential:
    """A ReLU multi-layer perceptron ``in → hidden… → out`` as an ``nnx.Sequential`` of Linears.

    >>> model = mlp(2, 3, hidden=(16,), rngs=0)
    >>> [(layer.in_features, layer.out_features) for layer in model.layers[::2]]
    [(2, 16), (16, 3)]
    """
    rngs = nnx.Rngs(rngs) if isinstance(rngs, int) else rngs
    sizes = [in_features, *hidden, out_features]
    layers: list[Any] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nnx.Linear(a, b, rngs=rngs))
        if i < len(sizes) - 2:
            layers.append(nnx.relu)
    return nnx.Sequential(*layers)


def _loss(loss: str, outputs: jax.Array, targets: jax.Array) -> jax.Array:
    if loss == "cross_entropy":
        return optax.softmax_cross_entropy_with_integer_labels(outputs, targets).mean()
    return jnp.mean((outputs - targets) ** 2)


def _optimizer(graphdef: Any, params: Any, rest: Any, hyper: dict[str, jax.Array], wrt: Any):
    model = nnx.merge(graphdef, params, rest)
    return fast_weight_optimizer(
        model,
        hyper["learning_rate"],
        fast_lr_multiplier=hyper["fast_lr_multiplier"],
        weight_decay=hyper["weight_decay"],
        wrt=wrt,
    )


@partial(jax.jit, static_argnames=("graphdef", "wrt"))
def _init_opt_state(graphdef, params, rest, hyper, wrt):
    return _optimizer(graphdef, params, rest, hyper, wrt).init(params)


@partial(jax.jit, static_argnames=("graphdef", "wrt", "loss", "steps"))
def _train_chunk(graphdef, params, rest, opt_state, x, y, hyper, wrt, loss, steps):
    tx = _optimizer(graphdef, params, rest, hyper, wrt)

    def loss_fn(params):
        return _loss(loss, nnx.merge(graphdef, params, rest)(x), y)

    def step(carry, _):
        params, opt_state = carry
        value, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), value

    (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), None, length=steps)
    return params, opt_state, losses


def _check_data(x: Any, y: Any, loss: str) -> tuple[jax.Array, jax.Array]:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    x, y = jnp.asarray(x), jnp.asarray(y)
    if x.ndim != 2 or y.shape[:1] != x.shape[:1]:
        raise ValueError(
            f"fit expects inputs [N, features] and targets with the same N, "
            f"got inputs {x.shape} and targets {y.shape}"
        )
    return x, y


def fit(
    model: nnx.Module,
    x: Any,
    y: Any,
    *,
    num_members: int = 1,
    loss: str = "cross_entropy",
    steps: int = 500,
    learning_rate: float = 1e-2,
    fast_lr_multiplier: float = 0.5,
    weight_decay: float = 0.0,
    wrt: Any = nnx.Param,
    chunk: int | None = None,
    callback: Callable[[int, float], None] | None = None,
) -> np.ndarray:
    """Train ``model`` in place, full batch, on ``(tile(x, E), tile(y, E))``; return the losses.

    The optimiser is :func:`bel.fast_weight_optimizer` (AdamW; r and s at
    ``fast_lr_multiplier`` × the rate, no decay); models without fast weights get plain AdamW.
    Only parameters matching ``wrt`` are trained (e.g. ``bel.FastWeight`` to freeze the kernels).
    ``loss`` is ``"cross_entropy"`` (integer labels ``[N]``) or ``"mse"`` (targets ``[N, out]``).
    With ``callback``, training runs in chunks of ``chunk`` steps and ``callback(steps_done,
    last_loss)`` is called after each (for progress bars).

    >>> import bel
    >>> x, y = bel.data.two_moons(64, seed=0)
    >>> model = bel.batchensemble(mlp(2, 2, hidden=(16,), rngs=0), 4, rngs=1)
    >>> losses = fit(model, x, y, num_members=4, steps=200, learning_rate=3e-2)
    >>> bool(losses[-1] < 0.5 * losses[0])
    True
    """
    x, y = _check_data(x, y, loss)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    for name, value in (("learning_rate", learning_rate), ("weight_decay", weight_decay)):
        if not value >= 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")
    xs, ys = tile(x, num_members), tile(y, num_members)
    hyper = {
        "learning_rate": jnp.float32(learning_rate),
        "fast_lr_multiplier": jnp.float32(fast_lr_multiplier),
        "weight_decay": jnp.float32(weight_decay),
    }
    graphdef, params, rest = nnx.split(model, wrt, ...)
    params, rest = nnx.as_pure(params), nnx.as_pure(rest)
    opt_state = _init_opt_state(graphdef, params, rest, hyper, wrt)
    chunk = steps if callback is None else max(1, min(chunk or steps // 10 or 1, steps))
    history, done = [], 0
    while done < steps:
        n = min(chunk, steps - done)
        params, opt_state, losses = _train_chunk(
            graphdef, params, rest, opt_state, xs, ys, hyper, wrt, loss, n
        )
        history.append(np.asarray(losses))
        done += n
        if callback is not None:
            callback(done, float(history[-1][-1]))
    nnx.update(model, params)
    return np.concatenate(history)


@partial(jax.jit, static_argnames=("graphdef",))
def _forward(graphdef, state, x):
    return nnx.merge(graphdef, state)(x)


def predict(model: nnx.Module, x: Any, *, num_members: int = 1) -> jax.Array:
    """Every member's outputs on ``x`` ``[N, features]``: an ``[E, N, out]`` array.

    Tiles ``x`` member-major, runs one compiled forward pass (cached per model structure and
    shape), and splits the rows back per member.

    >>> import jax.numpy as jnp
    >>> import bel
    >>> model = bel.batchensemble(mlp(2, 3, hidden=(8,), rngs=0), 4, rngs=1)
    >>> predict(model, jnp.ones((5, 2)), num_members=4).shape
    (4, 5, 3)
    """
    graphdef, state = nnx.split(model)
    return untile(
        _forward(graphdef, nnx.as_pure(state), tile(jnp.asarray(x), num_members)), num_members
    )
