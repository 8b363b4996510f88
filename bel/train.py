"""The one training loop of bel (:func:`fit`), prediction (:func:`predict`) and a small MLP.

Both ask the model how many members it holds (:func:`bel.num_members`): nobody passes ``E`` next
to a model that already knows it. Both check their inputs and raise a ValueError that names what
was expected and what was received before anything is traced.

Training is functional under the hood (``nnx.split`` once, ``jax.lax.scan`` over steps inside one
``jax.jit``), so a few hundred steps on a toy data set take a fraction of a second and compiled
code is reused across calls with the same model structure and shapes. Learning rates, weight
decay and the member mask are traced, not static: changing them never recompiles. (On the CPU, a
model with a convolution is stepped from Python instead, one compiled step per call: XLA runs a
convolution's gradient much slower inside a compiled loop; see :class:`TrainingRun`.)

Every ensemble is trained on the member-major batch ``tile(x, E)``: each member sees the same data
(the uncertainty-baselines recipe) and the loss is the mean over members of each member's loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from bel.layers import num_members as model_members
from bel.layers import tile, untile
from bel.optim import fast_weight_optimizer

__all__ = [
    "LOSSES",
    "mlp",
    "cnn",
    "global_average",
    "fit",
    "predict",
    "training_run",
    "TrainingRun",
]

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


def global_average(h: jax.Array) -> jax.Array:
    """Feature maps ``[N, height, width, channels]`` averaged over positions: ``[N, channels]``.

    >>> global_average(jnp.ones((2, 4, 4, 3))).shape
    (2, 3)
    """
    return h.mean(axis=(1, 2))


def cnn(
    in_channels: int,
    out_features: int,
    *,
    channels: Sequence[int] = (8, 16),
    rngs: nnx.Rngs | int,
) -> nnx.Sequential:
    """A small ReLU CNN for images ``[N, height, width, in_channels]``, as an ``nnx.Sequential``.

    One 3×3 ``nnx.Conv`` per entry of ``channels`` (``SAME`` padding; every one after the first
    with stride 2), then :func:`global_average` over positions and an ``nnx.Linear`` head.

    >>> model = cnn(1, 2, channels=(8, 16), rngs=0)
    >>> model(jnp.ones((5, 8, 8, 1))).shape
    (5, 2)
    """
    rngs = nnx.Rngs(rngs) if isinstance(rngs, int) else rngs
    sizes = [in_channels, *channels]
    layers: list[Any] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers += [nnx.Conv(a, b, (3, 3), strides=1 if i == 0 else 2, rngs=rngs), nnx.relu]
    return nnx.Sequential(*layers, global_average, nnx.Linear(sizes[-1], out_features, rngs=rngs))


def _loss(kind: str, outputs: jax.Array, targets: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean over the members in ``mask`` of each member's mean loss (rows are member-major)."""
    if kind == "cross_entropy":
        per_row = optax.softmax_cross_entropy_with_integer_labels(outputs, targets)
    else:
        per_row = jnp.mean(((outputs - targets) ** 2).reshape(outputs.shape[0], -1), axis=1)
    per_member = per_row.reshape(mask.shape[0], -1).mean(axis=1)
    return jnp.sum(mask * per_member) / jnp.sum(mask)


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


def _step(graphdef, carry, x, y, mask, hyper, wrt, loss):
    """One training step: ``(params, rest, opt_state)`` → the next, and the step's loss."""
    params, rest, opt_state = carry
    tx = _optimizer(graphdef, params, rest, hyper, wrt)

    def loss_fn(params, rest):
        model = nnx.merge(graphdef, params, rest)
        value = _loss(loss, model(x), y, mask)
        # State that is not trained (dropout RNG counts, BatchNorm statistics) moves on each step.
        _, _, rest = nnx.split(model, wrt, ...)
        return value, nnx.as_pure(rest)

    (value, rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, rest)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), rest, opt_state), value


@partial(jax.jit, static_argnames=("graphdef", "wrt", "loss", "steps"))
def _train_chunk(graphdef, params, rest, opt_state, x, y, mask, hyper, wrt, loss, steps):
    def body(carry, _):
        return _step(graphdef, carry, x, y, mask, hyper, wrt, loss)

    (params, rest, opt_state), losses = jax.lax.scan(body, (params, rest, opt_state), None, steps)
    return params, rest, opt_state, losses


@partial(jax.jit, static_argnames=("graphdef", "wrt", "loss"))
def _train_step(graphdef, params, rest, opt_state, x, y, mask, hyper, wrt, loss):
    (params, rest, opt_state), value = _step(
        graphdef, (params, rest, opt_state), x, y, mask, hyper, wrt, loss
    )
    return params, rest, opt_state, value


def _steps_from_python(model: nnx.Module) -> bool:
    """Whether :class:`TrainingRun` should loop over compiled steps in Python, not in ``scan``.

    On the CPU, XLA compiles a convolution's gradient inside a loop body to a much slower kernel
    than the same gradient outside one (measured: a small CNN's step 8.5 ms inside ``scan``, 2 ms
    from Python). Models with a convolution therefore take one compiled step per Python call
    there; everything else keeps the single compiled loop, which is faster for small dense models.
    """
    if jax.default_backend() != "cpu":
        return False
    return any(isinstance(m, nnx.Conv) for _, m in nnx.iter_modules(model))


@partial(jax.jit, static_argnames=("graphdef",))
def _forward(graphdef, state, x):
    return nnx.merge(graphdef, state)(x)


def _members(model: Any, num_members: Any, name: str) -> int:
    """The model's own member count; an explicit ``num_members`` must agree with it."""
    if not isinstance(model, nnx.Module):
        raise ValueError(f"{name} expects a flax.nnx.Module, got {type(model).__qualname__}")
    E = model_members(model)
    if num_members is not None and num_members != E:
        raise ValueError(
            f"{name}: num_members={num_members!r} disagrees with the model, which holds {E} "
            f"member(s); leave num_members out, the model knows it"
        )
    return E


def _check_inputs(x: Any, name: str) -> jax.Array:
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} expects inputs as an array [N, features...], got {x!r}") from err
    if x.dtype.kind not in "fiub" or x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(
            f"{name} expects numeric inputs of shape [N, features...] with N >= 1, got "
            f"shape {x.shape} of dtype {x.dtype}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} expects finite inputs, got NaN or inf in inputs of {x.shape}")
    low = x.dtype in (np.float16, np.float32) or x.dtype.name == "bfloat16"
    return jnp.asarray(x, x.dtype if low else jnp.float32)


def _output_shape(graphdef: Any, state: Any, x: jax.Array, E: int, name: str) -> tuple:
    """The model's output shape per row, from an abstract forward pass (nothing is compiled).

    Remembered per model structure and shapes: tracing the model again for every ``fit`` and
    ``predict`` call cost a task sequence of small models a fifth of its time.
    """
    leaves, treedef = jax.tree.flatten(state)
    spec = tuple((tuple(leaf.shape), leaf.dtype) for leaf in leaves)
    try:
        out = _abstract_output(graphdef, treedef, spec, (E,) + tuple(x.shape[1:]), x.dtype)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name}: the model cannot take rows of shape {x.shape[1:]} (inputs of shape "
            f"{x.shape}); expected the feature shape of the model's first layer. "
            f"The model said: {err}"
        ) from err
    return out


@lru_cache(maxsize=256)
def _abstract_output(graphdef: Any, treedef: Any, spec: tuple, shape: tuple, dtype: Any) -> tuple:
    state = jax.tree.unflatten(treedef, [jax.ShapeDtypeStruct(s, d) for s, d in spec])
    out = jax.eval_shape(
        lambda s, v: nnx.merge(graphdef, s)(v), state, jax.ShapeDtypeStruct(shape, dtype)
    )
    return tuple(out.shape[1:])


def _check_targets(y: Any, loss: str, n: int, out: tuple, name: str) -> jax.Array:
    y = np.asarray(y)
    if loss == "cross_entropy":
        if len(out) != 1:
            raise ValueError(
                f"{name} with loss='cross_entropy' expects a model with outputs [N, classes], got "
                f"outputs of shape [N, {', '.join(map(str, out))}] per batch"
            )
        C = out[0]
        if y.dtype.kind not in "iu" or y.shape != (n,):
            raise ValueError(
                f"{name} with loss='cross_entropy' expects integer class labels of shape ({n},) "
                f"in [0, {C}), got {y.dtype} labels of shape {y.shape}"
            )
        if n and (y.min() < 0 or y.max() >= C):
            raise ValueError(
                f"{name} expects class labels in [0, {C}) for a model with {C} outputs, got "
                f"labels from {y.min()} to {y.max()}"
            )
        return jnp.asarray(y, jnp.int32)
    if y.dtype.kind not in "fiu" or y.shape != (n,) + out:
        raise ValueError(
            f"{name} with loss='mse' expects numeric targets of the model's output shape, "
            f"({n}, {', '.join(map(str, out))}), got {y.dtype} targets of shape {y.shape}"
            + (" (use y[:, None])" if y.shape == (n,) and out == (1,) else "")
        )
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} expects finite targets, got NaN or inf")
    return jnp.asarray(y, jnp.float32)


def _check_rate(value: Any, name: str) -> jax.Array:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return jnp.float32(value)


def _check_mask(member_mask: Any, E: int) -> jax.Array:
    if member_mask is None:
        return jnp.ones((E,), jnp.float32)
    mask = np.asarray(member_mask)
    if mask.shape != (E,) or not np.isin(mask, (0, 1)).all() or mask.sum() < 1:
        raise ValueError(
            f"member_mask must hold {E} entries of 0/1 (one per member of the model) with at "
            f"least one 1, got {np.asarray(member_mask).tolist()!r}"
        )
    return jnp.asarray(mask, jnp.float32)


def fit(
    model: nnx.Module,
    x: Any,
    y: Any,
    *,
    loss: str = "cross_entropy",
    steps: int = 500,
    learning_rate: float = 1e-2,
    fast_lr_multiplier: float = 0.5,
    weight_decay: float = 0.0,
    wrt: Any = nnx.Param,
    member_mask: Any = None,
    chunk: int | None = None,
    callback: Callable[[int, float], None] | None = None,
    num_members: int | None = None,
) -> np.ndarray:
    """Train ``model`` in place, full batch, on ``(tile(x, E), tile(y, E))``; return the losses.

    ``E`` is the model's own member count (:func:`bel.num_members`; 1 for a plain model). The loss
    is the mean over members of each member's mean loss: ``"cross_entropy"`` with integer labels
    ``[N]`` in ``[0, classes)``, or ``"mse"`` with targets of the model's output shape per row
    (``[N, out]``). The optimiser is :func:`bel.fast_weight_optimizer` (AdamW; r and s at
    ``fast_lr_multiplier`` × the rate, no decay); only parameters matching ``wrt`` are trained
    (e.g. ``bel.FastWeight`` to freeze the kernels).

    - ``member_mask`` (``[E]`` of 0/1): only those members' losses count, so the others get zero
      gradients and stay as they are (with AdamW's decay, their biases decay). It is data, not a
      shape: changing it never recompiles.
    - Every call starts a **fresh optimiser** (Adam's moments and step count at zero): two calls
      of ``n`` steps are not one call of ``2n`` steps.
    - The model runs in training mode (``deterministic=False``, ``use_running_average=False``)
      without changing its own flags; state that is not trained is carried through the compiled
      loop, so Dropout draws a fresh mask every step and BatchNorm statistics update (over all
      ``E·N`` rows: an unconverted BatchNorm is shared by the members).
    - ``num_members`` may be given as a check only; it must equal the model's.
    - With ``callback``, training runs in chunks of ``chunk`` steps and ``callback(steps_done,
      last_loss)`` is called after each (for progress bars).

    Everything is checked before anything is traced; a mistake is a ValueError saying what was
    expected and what was received.

    >>> import bel
    >>> x, y = bel.data.two_moons(64, seed=0)
    >>> model = bel.batchensemble(mlp(2, 2, hidden=(16,), rngs=0), 4, rngs=1)
    >>> losses = fit(model, x, y, steps=200, learning_rate=3e-2)
    >>> bool(losses[-1] < 0.5 * losses[0])
    True
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}")
    run = training_run(
        model,
        x,
        y,
        loss=loss,
        learning_rate=learning_rate,
        fast_lr_multiplier=fast_lr_multiplier,
        weight_decay=weight_decay,
        wrt=wrt,
        member_mask=member_mask,
        num_members=num_members,
    )
    chunk = steps if callback is None else max(1, min(chunk or steps // 10 or 1, steps))
    history, done = [], 0
    while done < steps:
        n = min(chunk, steps - done)
        history.append(np.asarray(run.advance(n)))
        done += n
        if callback is not None:
            callback(done, float(history[-1][-1]))
    nnx.update(model, run.params, run.rest)
    return np.concatenate(history)


class TrainingRun:
    """A checked, split, compiled-on-demand training run of one model: what :func:`fit` drives.

    Built by :func:`training_run`. :meth:`advance` runs ``n`` steps of the compiled loop and keeps
    the new parameters, non-parameter state and optimiser state here; the model itself is only
    written by :func:`fit` at the end. ``bel.compare.train_step_seconds`` times :meth:`run`
    (the compiled loop alone, without fit's checks and splitting).

    With ``stepwise`` (set by :func:`training_run` for a model with a convolution on the CPU)
    :meth:`run` calls one compiled step per training step from Python instead of one compiled
    ``scan`` over all steps: the results are the same, but XLA's CPU code for a convolution's
    gradient inside a loop body is several times slower than outside one.
    """

    def __init__(self, graphdef, params, rest, opt_state, xs, ys, mask, hyper, wrt, loss, *,
                 stepwise=False):  # fmt: skip
        self.graphdef, self.params, self.rest, self.opt_state = graphdef, params, rest, opt_state
        self._data = (xs, ys, mask, hyper)
        self._static = (wrt, loss)
        self.stepwise = stepwise

    def advance(self, steps: int) -> jax.Array:
        """Run ``steps`` training steps, keep the result, return their losses."""
        self.params, self.rest, self.opt_state, losses = self.run(steps)
        return losses

    def run(self, steps: int) -> tuple[Any, Any, Any, jax.Array]:
        """Run ``steps`` steps from the current state without keeping the result."""
        xs, ys, mask, hyper = self._data
        wrt, loss = self._static
        if not self.stepwise:
            return _train_chunk(
                self.graphdef, self.params, self.rest, self.opt_state, xs, ys, mask, hyper, wrt,
                loss, steps,
            )  # fmt: skip
        params, rest, opt_state, losses = self.params, self.rest, self.opt_state, []
        for _ in range(steps):
            params, rest, opt_state, value = _train_step(
                self.graphdef, params, rest, opt_state, xs, ys, mask, hyper, wrt, loss
            )
            losses.append(value)
        return params, rest, opt_state, jnp.stack(losses)


def training_run(
    model: nnx.Module,
    x: Any,
    y: Any,
    *,
    loss: str = "cross_entropy",
    learning_rate: float = 1e-2,
    fast_lr_multiplier: float = 0.5,
    weight_decay: float = 0.0,
    wrt: Any = nnx.Param,
    member_mask: Any = None,
    num_members: int | None = None,
) -> TrainingRun:
    """Check everything :func:`fit` takes and prepare its compiled loop (see :class:`TrainingRun`).

    >>> import bel
    >>> x, y = bel.data.two_moons(32, seed=0)
    >>> run = training_run(mlp(2, 2, hidden=(8,), rngs=0), x, y)
    >>> run.advance(5).shape
    (5,)
    """
    E = _members(model, num_members, "fit")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    hyper = {
        "learning_rate": _check_rate(learning_rate, "learning_rate"),
        "fast_lr_multiplier": _check_rate(fast_lr_multiplier, "fast_lr_multiplier"),
        "weight_decay": _check_rate(weight_decay, "weight_decay"),
    }
    mask = _check_mask(member_mask, E)
    x = _check_inputs(x, "fit")
    training = nnx.view(
        model, deterministic=False, use_running_average=False, raise_if_not_found=False
    )
    graphdef, params, rest = nnx.split(training, wrt, ...)
    params, rest = nnx.as_pure(params), nnx.as_pure(rest)
    if np.shape(y)[:1] != x.shape[:1]:
        raise ValueError(
            f"fit expects as many targets as input rows, got inputs {x.shape} and targets "
            f"{np.shape(y)}"
        )
    out = _output_shape(graphdef, nnx.merge_state(params, rest), x, E, "fit")
    y = _check_targets(y, loss, x.shape[0], out, "fit")
    xs, ys = tile(x, E), tile(y, E)
    opt_state = _init_opt_state(graphdef, params, rest, hyper, wrt)
    return TrainingRun(
        graphdef, params, rest, opt_state, xs, ys, mask, hyper, wrt, loss,
        stepwise=_steps_from_python(model),
    )  # fmt: skip


def predict(model: nnx.Module, x: Any, *, num_members: int | None = None) -> jax.Array:
    """Every member's outputs on ``x`` ``[N, features...]``: an ``[E, N, ...]`` array.

    ``E`` is the model's own member count (1 for a plain model). Tiles ``x`` member-major, runs
    one compiled forward pass in evaluation mode (``deterministic=True``,
    ``use_running_average=True``, without changing the model's own flags; cached per model
    structure and shape), and splits the rows back per member. ``num_members`` may be given as
    a check only.

    >>> import jax.numpy as jnp
    >>> import bel
    >>> model = bel.batchensemble(mlp(2, 3, hidden=(8,), rngs=0), 4, rngs=1)
    >>> predict(model, jnp.ones((5, 2))).shape
    (4, 5, 3)
    """
    E = _members(model, num_members, "predict")
    x = _check_inputs(x, "predict")
    evaluation = nnx.view(
        model, deterministic=True, use_running_average=True, raise_if_not_found=False
    )
    graphdef, state = nnx.split(evaluation)
    state = nnx.as_pure(state)
    _output_shape(graphdef, state, x, E, "predict")
    return untile(_forward(graphdef, state, tile(x, E)), E)
