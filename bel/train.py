"""The one training loop of bel (:func:`fit`) and prediction (:func:`predict`).

Both ask the model how many members it holds (:func:`bel.num_members`): nobody passes ``E`` next
to a model that already knows it. Both check their inputs and raise a ValueError that names what
was expected and what was received before anything is traced. Inputs keep their dtype: integer
token ids reach the model as integers (an ``nnx.Embed`` model trains and predicts), floats as
float32 (float16 and bfloat16 stay as they are).

Training is functional under the hood (``nnx.split`` once, a ``jax.lax.fori_loop`` over steps
inside one ``jax.jit``). The number of steps is traced, not static: the loop runs up to a fixed
number of steps per call and writes the losses into a buffer of that fixed length, so a new step
count or epoch count reuses the compiled program. Mini-batches are index arrays (data, not
shapes) drawn on the host from the seed and gathered on the device; the data set is padded to
one of a few sizes, so a slightly different data size reuses the program too. Learning rates,
weight decay and the member mask are traced as well: changing them never recompiles (an optax
schedule is part of the program: a new schedule object compiles once). On the CPU, a model with
a convolution is stepped from Python instead, one compiled step per call: XLA runs a
convolution's gradient much slower inside a compiled loop (see :class:`TrainingRun`).

Two protocols decide which rows each member trains on (``members_see``):

- ``"same"`` (the default; the uncertainty-baselines recipe, and what the notebooks use): every
  member sees the step's whole batch, tiled member-major (``tile(batch, E)``: ``E·B`` rows
  through the network).
- ``"split"`` (the paper's protocol, Wen et al. 2020, https://arxiv.org/abs/2002.06715v2 §3.1
  "Vectorization"): the step's batch of ``B`` rows is cut into ``E`` sub-batches of ``B/E`` rows
  and member ``k`` trains on sub-batch ``k`` only (``B`` rows through the network).

The loss is the mean over members of each member's mean loss on its own rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Literal

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from flax.nnx.filterlib import Filter
from jax.typing import ArrayLike

from bel._checks import check_module, is_int
from bel._jit import jit
from bel.layers import num_members as model_members
from bel.layers import tile, untile

# The models moved to bel.models; ``from bel.train import mlp`` (and cnn, global_average) still
# works for code written before.
from bel.models import cnn, global_average, mlp  # noqa: F401
from bel.optim import fast_weight_optimizer

__all__ = ["LOSSES", "MEMBERS_SEE", "fit", "predict", "Batches", "training_run", "TrainingRun"]

LOSSES = ("cross_entropy", "mse")
MEMBERS_SEE = ("same", "split")
Loss = Literal["cross_entropy", "mse"]
MembersSee = Literal["same", "split"]
Rate = float | np.floating | jax.Array  # a Python, numpy or JAX scalar
DEFAULT_STEPS = 500
# Steps per compiled call: the loss buffer's length, and the mini-batch index buffer's (capped so
# that the indices of one call stay near 1 MB however large the batch).
MAX_STEPS_PER_CALL = 512
_ROWS_PER_CALL = 1 << 18


def _loss(kind: str, outputs: jax.Array, targets: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean over the members in ``mask`` of each member's mean loss (rows are member-major)."""
    if kind == "cross_entropy":
        per_row = optax.softmax_cross_entropy_with_integer_labels(outputs, targets)
    else:
        per_row = jnp.mean(((outputs - targets) ** 2).reshape(outputs.shape[0], -1), axis=1)
    per_member = per_row.reshape(mask.shape[0], -1).mean(axis=1)
    return jnp.sum(mask * per_member) / jnp.sum(mask)


def _optimizer(graphdef: Any, params: Any, rest: Any, hyper: dict[str, jax.Array], static: tuple):
    wrt, _, schedule, _ = static
    model = nnx.merge(graphdef, params, rest)
    return fast_weight_optimizer(
        model,
        hyper["learning_rate"] if schedule is None else schedule,
        fast_lr_multiplier=hyper["fast_lr_multiplier"],
        weight_decay=hyper["weight_decay"],
        wrt=wrt,
    )


@jit(static_argnames=("graphdef", "static"))
def _init_opt_state(graphdef, params, rest, hyper, static):
    return _optimizer(graphdef, params, rest, hyper, static).init(params)


def _batch(x: jax.Array, y: jax.Array, rows: jax.Array | None, E: int, members_see: str):
    """The step's member-major batch: the rows gathered on the device, tiled for ``"same"``.

    Without ``rows`` (full batch, every member the same rows) ``x`` and ``y`` are already tiled.
    For ``"split"`` the rows come member-major already: member ``k`` takes the ``k``-th block.
    """
    if rows is None:
        return x, y
    x, y = jnp.take(x, rows, axis=0), jnp.take(y, rows, axis=0)
    return (tile(x, E), tile(y, E)) if members_see == "same" else (x, y)


def _step(graphdef, carry, x, y, rows, mask, hyper, static):
    """One training step: ``(params, rest, opt_state)`` → the next, and the step's loss."""
    params, rest, opt_state = carry
    wrt, loss, _, members_see = static
    tx = _optimizer(graphdef, params, rest, hyper, static)
    x, y = _batch(x, y, rows, mask.shape[0], members_see)

    def loss_fn(params, rest):
        model = nnx.merge(graphdef, params, rest)
        value = _loss(loss, model(x), y, mask)
        # State that is not trained (dropout RNG counts, BatchNorm statistics) moves on each step.
        _, _, rest = nnx.split(model, wrt, ...)
        return value, nnx.as_pure(rest)

    (value, rest), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, rest)
    updates, opt_state = tx.update(grads, opt_state, params)
    return (optax.apply_updates(params, updates), rest, opt_state), value


@jit(static_argnames=("graphdef", "static", "length"))
def _train_loop(graphdef, params, rest, opt_state, x, y, rows, count, mask, hyper, static, length):
    """``count`` (traced, ≤ ``length``) steps; their losses in a buffer of ``length``.

    The trip count is data, so any number of steps up to ``length`` runs the same program.
    """

    def body(i, state):
        carry, losses = state
        carry, value = _step(
            graphdef, carry, x, y, None if rows is None else rows[i], mask, hyper, static
        )
        return carry, losses.at[i].set(value)

    losses = jnp.zeros((length,), jnp.float32)
    carry, losses = jax.lax.fori_loop(0, count, body, ((params, rest, opt_state), losses))
    return *carry, losses


@lru_cache(maxsize=32)
def _stepper(graphdef: Any, static: tuple, treedef: Any) -> Callable:
    """One compiled training step on the flat leaves of ``(params, rest, opt_state)``.

    For :class:`TrainingRun`'s Python-stepped models: a step is called once per training step,
    so everything fixed (the model's structure, the options, the state's tree) is bound here,
    once per run, instead of being hashed and flattened on every call, which cost more than a
    small CNN's step.
    """

    def step(leaves, x, y, rows, mask, hyper):
        carry = jax.tree.unflatten(treedef, leaves)
        carry, value = _step(graphdef, carry, x, y, rows, mask, hyper, static)
        return jax.tree.leaves(carry), value

    return jit(step)


def _steps_from_python(model: nnx.Module) -> bool:
    """Whether :class:`TrainingRun` should loop over compiled steps in Python, not in a loop.

    On the CPU, XLA compiles a convolution's gradient inside a loop body to a much slower kernel
    than the same gradient outside one (measured: a small CNN's step 8.5 ms inside ``scan``, 2 ms
    from Python). Models with a convolution therefore take one compiled step per Python call
    there; everything else keeps the compiled loop, which is faster for small dense models.
    """
    if jax.default_backend() != "cpu":
        return False
    return any(isinstance(m, nnx.Conv) for _, m in nnx.iter_modules(model))


@jit(static_argnames=("graphdef",))
def _forward(graphdef, state, x):
    return nnx.merge(graphdef, state)(x)


@jit(static_argnames=("graphdef", "members"))
def _forward_members(graphdef, state, x, members):
    return untile(nnx.merge(graphdef, state)(tile(x, members)), members)


# --------------------------------------------------------------------------------------------------
# checks: everything before anything is traced


def _members(model: Any, num_members: Any, name: str) -> int:
    """The model's own member count; an explicit ``num_members`` must agree with it."""
    E = model_members(check_module(model, name))
    if num_members is not None and num_members != E:
        raise ValueError(
            f"{name}: num_members={num_members!r} disagrees with the model, which holds {E} "
            f"member(s); leave num_members out, the model knows it"
        )
    return E


def _count(value: Any, name: str, low: int, high: int | None = None) -> int:
    """An int (Python or numpy, never a bool) in ``[low, high]``, else a ValueError."""
    ok = is_int(value) and low <= value and (high is None or value <= high)
    if not ok:
        bounds = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an int {bounds}, got {value!r}")
    return int(value)


_INT32 = np.iinfo(np.int32)


def _check_inputs(x: Any, name: str) -> np.ndarray:
    """Inputs ``[N, features...]`` as a host array of the dtype the model will get.

    Floats become float32 (float16 and bfloat16 stay), booleans float32; integers stay integers
    (token ids), as int32 when they are wider (JAX's default integer).
    """
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} expects inputs as an array [N, features...], got {x!r}") from err
    low = x.dtype in (np.float16, np.float32) or x.dtype.name == "bfloat16"
    if (x.dtype.kind not in "fiub" and not low) or x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(
            f"{name} expects numeric inputs of shape [N, features...] with N >= 1, got "
            f"shape {x.shape} of dtype {x.dtype}"
        )
    if x.dtype.kind in "iu":
        if x.dtype.itemsize < 4 or x.dtype == np.int32:
            return x
        if x.min() < _INT32.min or x.max() > _INT32.max:
            raise ValueError(
                f"{name} expects integer inputs that fit in int32, got {x.dtype} inputs from "
                f"{x.min()} to {x.max()}"
            )
        return x.astype(np.int32)
    if x.dtype.kind == "b":
        return x.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} expects finite inputs, got NaN or inf in inputs of {x.shape}")
    return x if low else x.astype(np.float32)


def _output_shape(graphdef: Any, state: Any, x: Any, E: int, name: str) -> tuple:
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
            f"{name}: the model cannot take rows of shape {x.shape[1:]} and dtype {x.dtype} "
            f"(inputs of shape {x.shape}); expected the feature shape and dtype of the model's "
            f"first layer (integer ids for an nnx.Embed). The model said: {err}"
        ) from err
    return out


@lru_cache(maxsize=256)
def _abstract_output(graphdef: Any, treedef: Any, spec: tuple, shape: tuple, dtype: Any) -> tuple:
    state = jax.tree.unflatten(treedef, [jax.ShapeDtypeStruct(s, d) for s, d in spec])
    out = jax.eval_shape(
        lambda s, v: nnx.merge(graphdef, s)(v), state, jax.ShapeDtypeStruct(shape, dtype)
    )
    return tuple(out.shape[1:])


def _check_targets(y: Any, loss: str, n: int, out: tuple, name: str) -> np.ndarray:
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
        return y.astype(np.int32)
    if y.dtype.kind not in "fiu" or y.shape != (n,) + out:
        raise ValueError(
            f"{name} with loss='mse' expects numeric targets of the model's output shape, "
            f"({n}, {', '.join(map(str, out))}), got {y.dtype} targets of shape {y.shape}"
            + (" (use y[:, None])" if y.shape == (n,) and out == (1,) else "")
        )
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name} expects finite targets, got NaN or inf")
    return y.astype(np.float32)


def _number(value: Any) -> float | None:
    """``value`` as a float if it is one real number (Python, numpy or JAX scalar), else None."""
    if isinstance(value, bool | np.bool_):
        return None
    try:
        array = np.asarray(value)
    except Exception:  # a tracer, an object numpy cannot read: not a concrete number
        return None
    if array.shape != () or array.dtype.kind not in "fiu":
        return None
    return float(array)


def _check_rate(value: Any, name: str, expected: str = "a finite number >= 0") -> jax.Array:
    number = _number(value)
    if number is None or not (math.isfinite(number) and number >= 0):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return jnp.float32(number)


def _check_schedule(schedule: Callable, name: str) -> Callable:
    """An optax schedule (step → rate), checked at step 0: a finite rate >= 0."""
    try:
        first = _number(schedule(0))
    except Exception as err:
        raise ValueError(f"{name}: the schedule {schedule!r} failed at step 0: {err}") from err
    if first is None or not (math.isfinite(first) and first >= 0):
        raise ValueError(
            f"{name}: a schedule must give a finite rate >= 0 at every step, got "
            f"{schedule(0)!r} at step 0"
        )
    return schedule


def _check_mask(member_mask: Any, E: int) -> jax.Array:
    if member_mask is None:
        return jax.device_put(np.ones((E,), np.float32))
    mask = np.asarray(member_mask)
    if mask.shape != (E,) or not np.isin(mask, (0, 1)).all() or mask.sum() < 1:
        raise ValueError(
            f"member_mask must hold {E} entries of 0/1 (one per member of the model) with at "
            f"least one 1, got {np.asarray(member_mask).tolist()!r}"
        )
    return jax.device_put(mask.astype(np.float32))


def _bucket(n: int) -> int:
    """The smallest ``m·2^k >= n`` with ``m`` in ``[8, 16)``: at most 1/8 more rows than ``n``.

    Mini-batched data is padded to this many rows (never drawn), so data sets of similar size
    share one compiled program.
    """
    if n <= 16:
        return n
    k = n.bit_length() - 4
    return -(-n // (1 << k)) << k


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    if a.shape[0] == rows:
        return a
    padded = np.zeros((rows,) + a.shape[1:], a.dtype)
    padded[: a.shape[0]] = a
    return padded


class Batches:
    """Which rows each training step takes: every epoch a fresh permutation of the ``n`` rows,
    drawn from ``numpy.random.default_rng([seed, epoch])``, cut into ``n // size`` batches of
    ``size`` rows (the last ``n % size`` rows of each permutation sit that epoch out; the next
    epoch's permutation is drawn afresh).

    Step ``t`` takes batch ``t % per_epoch`` of epoch ``t // per_epoch``, so any range of steps
    can be drawn on its own, and the same seed gives the same batches.

    >>> batches = Batches(10, 4, seed=0)
    >>> batches.per_epoch            # 10 // 4 batches of 4 rows; 2 rows sit this epoch out
    2
    >>> epoch = batches.rows(0, 2)
    >>> epoch.shape, len(set(epoch.ravel().tolist())), bool((batches.rows(0, 2) == epoch).all())
    ((2, 4), 8, True)
    """

    def __init__(self, n: int, size: int, seed: int):
        self.n, self.size, self.seed = n, size, seed
        self.per_epoch = n // size
        self._epoch, self._order = -1, np.zeros(0, np.int32)

    def order(self, epoch: int) -> np.ndarray:
        """The permutation of the rows for ``epoch``."""
        if epoch != self._epoch:
            rng = np.random.default_rng([self.seed, epoch])
            self._epoch, self._order = epoch, rng.permutation(self.n).astype(np.int32)
        return self._order

    def rows(self, start: int, count: int, length: int | None = None) -> np.ndarray:
        """The rows of steps ``start … start + count - 1``: ``[count, size]`` int32 (padded with
        zeros to ``[length, size]`` when ``length`` is given)."""
        out = np.zeros((length or count, self.size), np.int32)
        for i, t in enumerate(range(start, start + count)):
            epoch, j = divmod(t, self.per_epoch)
            out[i] = self.order(epoch)[j * self.size : (j + 1) * self.size]
        return out


# --------------------------------------------------------------------------------------------------
# fit and the run it drives


def fit(
    model: nnx.Module,
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: Loss = "cross_entropy",
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    members_see: MembersSee = "same",
    seed: int = 0,
    learning_rate: Rate | optax.Schedule = 1e-2,
    fast_lr_multiplier: Rate = 0.5,
    weight_decay: Rate = 0.0,
    wrt: Filter = nnx.Param,
    member_mask: ArrayLike | None = None,
    chunk: int | None = None,
    callback: Callable[[int, float], None] | None = None,
    num_members: int | None = None,
) -> np.ndarray:
    """Train ``model`` in place on ``(x, y)``; return the loss of every step.

    ``E`` is the model's own member count (:func:`bel.num_members`; 1 for a plain model). The loss
    is the mean over members of each member's mean loss on its rows: ``"cross_entropy"`` with
    integer labels ``[N]`` in ``[0, classes)``, or ``"mse"`` with targets of the model's output
    shape per row (``[N, out]``). The optimiser is :func:`bel.fast_weight_optimizer` (AdamW; r and
    s at ``fast_lr_multiplier`` × the rate, no decay); only parameters matching ``wrt`` are
    trained (e.g. ``bel.FastWeight`` to freeze the kernels).

    How long: ``steps`` or ``epochs``, not both (neither: 500 steps). Which rows:

    - Without ``batch_size`` (the default, for small data): every step takes the full batch. An
      epoch is one step.
    - With ``batch_size=B``: every step takes ``B`` rows of a fresh permutation per epoch, drawn
      from ``seed`` (:class:`Batches`; the same seed gives the same batches); an epoch is
      ``N // B`` steps (the ``N % B`` rows left over sit that epoch out). The data are held
      once; each step gathers its rows on the device, so what a step needs grows with the
      batch, not with the data set.
    - ``members_see="same"`` (the default; the uncertainty-baselines recipe, what the notebooks
      use): every member trains on the step's whole batch (``tile(batch, E)``, ``E·B`` rows).
    - ``members_see="split"`` (the paper's protocol, https://arxiv.org/abs/2002.06715v2 §3.1,
      "Vectorization"): the step's ``B`` rows are cut into ``E`` sub-batches of ``B/E`` rows and
      member ``k`` trains on sub-batch ``k`` only (``B`` rows through the network). ``B`` must
      divide by ``E``. Without ``batch_size`` every step shuffles all ``N`` rows (from ``seed``)
      and uses the first ``E·(N // E)``: each member gets its own ``N // E`` of them.

    Other options:

    - ``learning_rate``, ``fast_lr_multiplier``, ``weight_decay``: finite numbers >= 0 (Python,
      numpy or JAX scalars); they are traced, so changing them never recompiles.
      ``learning_rate`` may also be an optax schedule (step → rate; checked at step 0).
    - ``member_mask`` (``[E]`` of 0/1): only those members' losses count, so the others get zero
      gradients and stay as they are (with AdamW's decay, their biases decay). It is data, not a
      shape: changing it never recompiles.
    - Every call starts a **fresh optimiser** (Adam's moments and step count at zero): two calls
      of ``n`` steps are not one call of ``2n`` steps.
    - The model runs in training mode (``deterministic=False``, ``use_running_average=False``)
      without changing its own flags; state that is not trained is carried through the compiled
      loop, so Dropout draws a fresh mask every step and BatchNorm statistics update (over all
      the step's rows: an unconverted BatchNorm is shared by the members).
    - ``num_members`` may be given as a check only; it must equal the model's.
    - With ``callback``, training runs in chunks of ``chunk`` steps and ``callback(steps_done,
      last_loss)`` is called after each (for progress bars).

    Everything is checked before anything is traced; a mistake is a ValueError saying what was
    expected and what was received.

    >>> import bel
    >>> x, y = bel.data.two_moons(64, seed=0)
    >>> model = bel.batchensemble(bel.mlp(2, 2, hidden=(16,), rngs=0), 4, rngs=1)
    >>> losses = fit(model, x, y, steps=200, learning_rate=3e-2)
    >>> bool(losses[-1] < 0.5 * losses[0])
    True
    >>> fit(model, x, y, batch_size=16, epochs=3, members_see="split", seed=1).shape  # 4 a epoch
    (12,)
    """
    if steps is not None and epochs is not None:
        raise ValueError(f"fit takes steps or epochs, not both; got steps={steps!r}, "
                         f"epochs={epochs!r}")  # fmt: skip
    if steps is not None:
        steps = _count(steps, "steps", 1)
    if epochs is not None:
        epochs = _count(epochs, "epochs", 1)
    if chunk is not None:
        chunk = _count(chunk, "chunk", 1)
    run = training_run(
        model,
        x,
        y,
        loss=loss,
        batch_size=batch_size,
        members_see=members_see,
        seed=seed,
        learning_rate=learning_rate,
        fast_lr_multiplier=fast_lr_multiplier,
        weight_decay=weight_decay,
        wrt=wrt,
        member_mask=member_mask,
        num_members=num_members,
    )
    if epochs is not None:
        steps = epochs * run.steps_per_epoch
    elif steps is None:
        steps = DEFAULT_STEPS
    chunk = steps if callback is None else max(1, min(chunk or steps // 10 or 1, steps))
    history, done = [], 0
    while done < steps:
        n = min(chunk, steps - done)
        history.append(run.advance(n))
        done += n
        if callback is not None:
            callback(done, float(history[-1][-1]))
    nnx.update(model, run.params, run.rest)
    return np.concatenate(history)


class TrainingRun:
    """A checked, split, compiled-on-demand training run of one model: what :func:`fit` drives.

    Built by :func:`training_run`. :meth:`advance` runs ``n`` steps and keeps the new parameters,
    non-parameter state and optimiser state here (and counts the steps, so the next call takes
    the next mini-batches); the model itself is only written by :func:`fit` at the end.
    ``bel.compare.train_step_seconds`` times :meth:`run` (the compiled loop alone, without fit's
    checks and splitting).

    ``batches`` (a :class:`Batches`, or None for the full batch with every member on the same
    rows) says which rows each step takes. Steps run in compiled calls of up to
    ``steps_per_call`` steps whose trip count is traced: any number of steps reuses the program.

    With ``stepwise`` (set by :func:`training_run` for a model with a convolution on the CPU)
    :meth:`run` calls one compiled step per training step from Python instead of one compiled
    loop: the results are the same, but XLA's CPU code for a convolution's gradient inside a
    loop body is several times slower than outside one.
    """

    def __init__(self, graphdef, params, rest, opt_state, x, y, mask, hyper, static, *,
                 batches=None, stepwise=False):  # fmt: skip
        self.graphdef, self.params, self.rest, self.opt_state = graphdef, params, rest, opt_state
        self._data = (x, y, mask, hyper)
        self._static = static
        self.batches: Batches | None = batches
        self.stepwise = stepwise
        self.done = 0
        rows_per_step = 1 if batches is None else batches.size
        self.steps_per_call = max(1, min(MAX_STEPS_PER_CALL, _ROWS_PER_CALL // rows_per_step))

    @property
    def steps_per_epoch(self) -> int:
        """Steps that see every row once (1 for the full batch)."""
        return 1 if self.batches is None else self.batches.per_epoch

    def advance(self, steps: int) -> np.ndarray:
        """Run ``steps`` training steps, keep the result, return their losses."""
        self.params, self.rest, self.opt_state, losses = self.run(steps)
        self.done += steps
        return losses

    def run(self, steps: int) -> tuple[Any, Any, Any, np.ndarray]:
        """Run ``steps`` steps from the current state without keeping the result."""
        x, y, mask, hyper = self._data
        static, batches, length = self._static, self.batches, self.steps_per_call
        carry, losses, start = (self.params, self.rest, self.opt_state), [], self.done
        while start < self.done + steps:
            n = min(length, self.done + steps - start)
            rows = None if batches is None else batches.rows(start, n, length)
            if self.stepwise:
                leaves, treedef = jax.tree.flatten(carry)
                step = _stepper(self.graphdef, static, treedef)
                for i in range(n):
                    leaves, value = step(leaves, x, y, None if rows is None else rows[i], mask,
                                         hyper)  # fmt: skip
                    losses.append(value)
                carry = jax.tree.unflatten(treedef, leaves)
            else:
                *carry, values = _train_loop(
                    self.graphdef, *carry, x, y, rows, np.int32(n), mask, hyper, static, length
                )
                losses.append(np.asarray(values)[:n])
            start += n
        values = np.asarray(jax.device_get(losses)) if self.stepwise else np.concatenate(losses)
        return *carry, values.reshape(steps)


def training_run(
    model: nnx.Module,
    x: ArrayLike,
    y: ArrayLike,
    *,
    loss: Loss = "cross_entropy",
    batch_size: int | None = None,
    members_see: MembersSee = "same",
    seed: int = 0,
    learning_rate: Rate | optax.Schedule = 1e-2,
    fast_lr_multiplier: Rate = 0.5,
    weight_decay: Rate = 0.0,
    wrt: Filter = nnx.Param,
    member_mask: ArrayLike | None = None,
    num_members: int | None = None,
) -> TrainingRun:
    """Check everything :func:`fit` takes and prepare its compiled loop (see :class:`TrainingRun`).

    >>> import bel
    >>> x, y = bel.data.two_moons(32, seed=0)
    >>> run = training_run(bel.mlp(2, 2, hidden=(8,), rngs=0), x, y, batch_size=8)
    >>> run.advance(5).shape, run.steps_per_epoch
    ((5,), 4)
    """
    E = _members(model, num_members, "fit")
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")
    if members_see not in MEMBERS_SEE:
        raise ValueError(f"members_see must be one of {MEMBERS_SEE}, got {members_see!r}")
    seed = _count(seed, "seed", 0)
    schedule = learning_rate if callable(learning_rate) else None
    hyper = {
        "learning_rate": jnp.float32(0)
        if schedule is not None
        else _check_rate(
            learning_rate, "learning_rate", "a finite number >= 0 or an optax schedule"
        ),
        "fast_lr_multiplier": _check_rate(fast_lr_multiplier, "fast_lr_multiplier"),
        "weight_decay": _check_rate(weight_decay, "weight_decay"),
    }
    if schedule is not None:
        _check_schedule(schedule, "learning_rate")
    mask = _check_mask(member_mask, E)
    x = _check_inputs(x, "fit")
    N = x.shape[0]
    if batch_size is not None:
        batch_size = _count(batch_size, "batch_size", 1, N)
        if members_see == "split" and batch_size % E:
            raise ValueError(
                f"members_see='split' cuts each batch into {E} sub-batches, one per member: "
                f"batch_size must be a multiple of {E}, got {batch_size}"
            )
    elif members_see == "split" and N < E:
        raise ValueError(
            f"members_see='split' gives each of the {E} members its own rows: it needs at "
            f"least {E} rows, got {N}"
        )
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
    y = _check_targets(y, loss, N, out, "fit")
    static = (wrt, loss, schedule, members_see)
    if batch_size is None and members_see == "same":
        batches, x, y = None, tile(jax.device_put(x), E), tile(jax.device_put(y), E)
    else:
        size = batch_size or E * (N // E)
        batches = Batches(N, size, seed)
        if batch_size is not None:  # pad to a bucket: similar data sizes share the program
            x, y = _pad_rows(x, _bucket(N)), _pad_rows(y, _bucket(N))
        x, y = jax.device_put(x), jax.device_put(y)  # jnp.asarray compiles per shape
    opt_state = _init_opt_state(graphdef, params, rest, hyper, static)
    return TrainingRun(
        graphdef, params, rest, opt_state, x, y, mask, hyper, static, batches=batches,
        stepwise=_steps_from_python(model),
    )  # fmt: skip


def predict(
    model: nnx.Module,
    x: ArrayLike,
    *,
    batch_size: int | None = None,
    num_members: int | None = None,
) -> jax.Array:
    """Every member's outputs on ``x`` ``[N, features...]``: an ``[E, N, ...]`` array.

    ``E`` is the model's own member count (1 for a plain model). The model runs in evaluation mode
    (``deterministic=True``, ``use_running_average=True``, without changing the model's own
    flags), compiled once per model structure and shape, on the rows tiled member-major; the
    outputs are split back per member. Integer inputs (token ids) stay integers.

    Without ``batch_size`` all ``E·N`` rows go through in one call (fast for small data; memory
    grows with ``N``). With ``batch_size=B`` the rows go through in chunks of ``B`` (``E·B`` rows
    per call), the last one padded: one compiled program for every ``N``, memory bounded by the
    chunk. ``num_members`` may be given as a check only.

    >>> import jax.numpy as jnp
    >>> import bel
    >>> model = bel.batchensemble(bel.mlp(2, 3, hidden=(8,), rngs=0), 4, rngs=1)
    >>> predict(model, jnp.ones((5, 2))).shape
    (4, 5, 3)
    >>> bool(jnp.allclose(predict(model, jnp.ones((5, 2)), batch_size=2), predict(model,
    ...     jnp.ones((5, 2)))))
    True
    """
    E = _members(model, num_members, "predict")
    x = _check_inputs(x, "predict")
    if batch_size is not None:
        batch_size = _count(batch_size, "batch_size", 1)
    evaluation = nnx.view(
        model, deterministic=True, use_running_average=True, raise_if_not_found=False
    )
    graphdef, state = nnx.split(evaluation)
    state = nnx.as_pure(state)
    _output_shape(graphdef, state, x, E, "predict")
    if batch_size is None:
        return _forward_members(graphdef, state, x, E)
    N = x.shape[0]
    parts = [  # dispatched one after the other; the device works while Python slices on
        _forward_members(graphdef, state, _pad_rows(x[i : i + batch_size], batch_size), E)
        for i in range(0, N, batch_size)
    ]
    return jax.device_put(np.concatenate(jax.device_get(parts), axis=1)[:, :N])
