"""What the diversity explorer computes: a BatchEnsemble MLP on a toy task, its diversity numbers.

The explorer (:class:`bel.widgets.DiversityExplorer`) must answer every slider move in well under
100 ms, so this module is built around *fixed shapes*:

- The network is always a ``bel.batchensemble(bel.mlp(in, out, hidden=HIDDEN), MAX_MEMBERS)``;
  a learner's ``members = E`` uses members ``0 .. E-1`` and ignores the rest. Every diversity
  number is computed for every prefix ``E = 1 .. MAX_MEMBERS`` in the same compiled call, so
  moving the members slider never compiles anything.
- The random draws are made with NumPy from ``seed`` (microseconds, nothing to compile); member
  ``i``'s factors depend only on ``(seed, i)``, so adding a member leaves the others unchanged.
  ``r_mean``, ``r_std``, ``s_mean``, ``s_std`` only rescale the same standard-normal draws ``z``:
  ``r = r_mean + r_std · z_r`` for ``"normal"``, ``r = sign(z_r)`` for ``"random_sign"``
  (the distributions of :class:`bel.BatchEnsembleLinear`; only the generator differs).
- Training masks the loss of the unused members: they get no gradient and do not touch the
  shared ``W``, so training ``E`` of ``MAX_MEMBERS`` members is training an ``E``-member ensemble.

One compiled forward pass and one compiled training chunk per task, shared by every explorer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache, lru_cache, partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from bel import data, metrics
from bel.convert import batchensemble
from bel.layers import INITS, tile, untile
from bel.optim import fast_weight_optimizer
from bel.train import mlp

__all__ = [
    "MAX_MEMBERS",
    "HIDDEN",
    "TASKS",
    "LAYERS",
    "Task",
    "Settings",
    "Evaluation",
    "make_task",
    "init_params",
    "evaluate",
    "is_compiled",
    "numbers",
    "train",
    "to_model",
]

MAX_MEMBERS = 8
HIDDEN = (16, 16)
#: ``"moons"``: 2-D classification (two moons); ``"gap"``: 1-D regression with a gap in the data.
TASKS = ("moons", "gap")
#: The three BatchEnsemble layers of the network, by the shape of their ``W``.
LAYERS = ("input → hidden 1", "hidden 1 → hidden 2", "hidden 2 → output")
CHUNK = 50  # training steps per compiled call (a progress update after each)
LEARNING_RATE = 3e-2

Params = tuple[dict[str, np.ndarray], ...]  # per layer: kernel [in, out], bias, r, s [MAX, ...]


# --------------------------------------------------------------------------------------------------
# the task and the settings


@dataclass(frozen=True, eq=False)
class Task:
    """A toy task: training data, the points predictions are drawn on, and the loss.

    ``points`` is a 40×40 grid over ``bounds`` for ``"moons"`` (``grid_shape = (40, 40)``) and a
    line of 161 points on [-1.6, 1.6] for ``"gap"``. ``region`` marks the points that lie in the
    data's region (``"gap"`` only: outside the gap and inside [-1, 1]).
    """

    name: str
    x: np.ndarray
    y: np.ndarray
    points: np.ndarray
    loss: str
    in_features: int
    out_features: int
    grid_shape: tuple[int, int] | None
    bounds: tuple[float, float, float, float]
    region: np.ndarray | None
    gap: tuple[float, float] | None


@cache
def make_task(name: str) -> Task:
    """The task ``"moons"`` (two moons, 256 points) or ``"gap"`` (128 points), from seed 0.

    >>> task = make_task("gap")
    >>> task.x.shape, task.points.shape, task.loss
    ((128, 1), (161, 1), 'mse')
    """
    if name == "moons":
        x, y = data.two_moons(256, seed=0)
        bounds = (-1.6, 1.6, -1.4, 1.4)
        points, _ = data.grid(bounds, 40)
        return Task(name, x, y, points, "cross_entropy", 2, 2, (40, 40), bounds, None, None)
    if name == "gap":
        gap = (-0.3, 0.4)
        x, y = data.gap_regression(128, gap=gap, seed=0)
        line = np.linspace(-1.6, 1.6, 161, dtype=np.float32)
        region = (np.abs(line) <= 1.0) & ((line < gap[0]) | (line > gap[1]))
        bounds = (-1.6, 1.6, float(y.min()) - 1.0, float(y.max()) + 1.0)
        return Task(name, x, y, line[:, None], "mse", 1, 1, None, bounds, region, gap)
    raise ValueError(f"task must be one of {TASKS}, got {name!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


@dataclass(frozen=True)
class Settings:
    """Everything that decides the ensemble at initialisation (what the explorer's sliders set).

    ``r_mean``, ``r_std``, ``s_mean`` and ``s_std`` are used by ``init="normal"`` only.
    ``use_base_weights=True`` takes the shared ``W`` from the base MLP drawn from ``seed``;
    ``False`` draws a fresh ``W`` (as :class:`bel.BatchEnsembleLinear` does); either way every
    member shares it.

    >>> Settings(members=2, init="random_sign").members
    2
    >>> Settings(members=9)
    Traceback (most recent call last):
    ...
    ValueError: members must be an int in [1, 8], got 9
    """

    members: int = 4
    init: str = "normal"
    r_mean: float = 1.0
    r_std: float = 0.5
    s_mean: float = 1.0
    s_std: float = 0.5
    seed: int = 0
    use_base_weights: bool = True

    def __post_init__(self) -> None:
        if not _is_int(self.members) or not 1 <= self.members <= MAX_MEMBERS:
            raise ValueError(f"members must be an int in [1, {MAX_MEMBERS}], got {self.members!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        for name in ("r_mean", "r_std", "s_mean", "s_std"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float | np.number):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if not np.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
            if name.endswith("std") and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if not isinstance(self.use_base_weights, bool | np.bool_):
            raise ValueError(f"use_base_weights must be a bool, got {self.use_base_weights!r}")

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (checked again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"Settings has no field(s) {sorted(unknown)}")
        return Settings(**{**self.__dict__, **changes})


# --------------------------------------------------------------------------------------------------
# initialisation, with NumPy


def _lecun_normal(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """``nnx.Linear``'s default kernel: truncated normal in ±2σ, variance 1/fan_in."""
    z = rng.standard_normal(shape)
    while (outside := np.abs(z) > 2).any():
        z[outside] = rng.standard_normal(int(outside.sum()))
    return (z * np.sqrt(1.0 / shape[0]) / 0.87962566103423978).astype(np.float32)


@lru_cache(maxsize=64)
def _draws(task_name: str, seed: int) -> tuple[dict[str, np.ndarray], ...]:
    """The standard draws behind ``seed``: base and fresh kernels, ``z_r`` and ``z_s``."""
    task = make_task(task_name)
    sizes = [task.in_features, *HIDDEN, task.out_features]
    base, fresh, fast = (np.random.default_rng([seed, stream]) for stream in range(3))
    draws = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        draws.append(
            {
                "base_kernel": _lecun_normal(base, (n_in, n_out)),
                "fresh_kernel": _lecun_normal(fresh, (n_in, n_out)),
                "z_r": fast.standard_normal((MAX_MEMBERS, n_in)).astype(np.float32),
                "z_s": fast.standard_normal((MAX_MEMBERS, n_out)).astype(np.float32),
            }
        )
    for layer in draws:
        for array in layer.values():
            array.setflags(write=False)
    return tuple(draws)


def init_params(task: Task, settings: Settings) -> Params:
    """The network's parameters at initialisation, for all ``MAX_MEMBERS`` members.

    Per layer a dict: ``kernel`` (the shared ``W``, ``[in, out]``), ``bias`` (``[MAX, out]``,
    zero), ``r`` (``[MAX, in]``) and ``s`` (``[MAX, out]``). With ``init="normal"`` and both stds
    0, every member gets ``r = r_mean`` and ``s = s_mean``: all members identical.

    >>> params = init_params(make_task("moons"), Settings(init="normal", r_std=0.0, s_std=0.0))
    >>> [p["r"].shape for p in params], bool((params[1]["r"] == 1.0).all())
    ([(8, 2), (8, 16), (8, 16)], True)
    """
    if not isinstance(task, Task) or not isinstance(settings, Settings):
        raise ValueError(
            f"init_params expects a Task and a Settings, got {type(task).__name__} and "
            f"{type(settings).__name__}"
        )
    params = []
    for d in _draws(task.name, int(settings.seed)):
        if settings.init == "random_sign":
            r = np.where(d["z_r"] >= 0, 1.0, -1.0).astype(np.float32)
            s = np.where(d["z_s"] >= 0, 1.0, -1.0).astype(np.float32)
        else:
            r = (np.float32(settings.r_mean) + np.float32(settings.r_std) * d["z_r"]).astype(
                np.float32
            )
            s = (np.float32(settings.s_mean) + np.float32(settings.s_std) * d["z_s"]).astype(
                np.float32
            )
        kernel = d["base_kernel"] if settings.use_base_weights else d["fresh_kernel"]
        bias = np.zeros((MAX_MEMBERS, kernel.shape[1]), np.float32)
        params.append({"kernel": kernel, "bias": bias, "r": r, "s": s})
    return tuple(params)


# --------------------------------------------------------------------------------------------------
# the network: a real bel BatchEnsemble, held as (graphdef, parameters)


@cache
def _graphdef(in_features: int, out_features: int, num_members: int) -> Any:
    def build():
        base = mlp(in_features, out_features, hidden=HIDDEN, rngs=0)
        return batchensemble(base, num_members, rngs=1)

    graphdef, _ = nnx.split(nnx.eval_shape(build))  # shapes only: nothing drawn, nothing compiled
    return graphdef


def _as_state(params: Any) -> dict[str, Any]:
    return {"layers": {2 * i: dict(p) for i, p in enumerate(params)}}


def _model(graphdef: Any, params: Any) -> nnx.Module:
    return nnx.merge(graphdef, _as_state(params))


def to_model(task: Task, params: Params, members: int) -> nnx.Module:
    """The first ``members`` members as an ordinary ``bel`` BatchEnsemble (an ``nnx`` model).

    >>> task = make_task("moons")
    >>> model = to_model(task, init_params(task, Settings()), 3)
    >>> type(model.layers[2]).__name__, model.layers[2].r.shape
    ('BatchEnsembleLinear', (3, 16))
    """
    _check(task, params, "to_model")
    members = _check_members(members)
    first = jax.tree.map(jnp.asarray, _first(params, members))  # arrays of its own, writable
    return _model(_graphdef(task.in_features, task.out_features, members), first)


# --------------------------------------------------------------------------------------------------
# evaluation: predictions and the diversity numbers of the first E members


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The first ``members`` members run on a task, and their diversity.

    Attributes:
      members: ``E``, how many members were evaluated.
      effective_weights: per layer (see ``LAYERS``), ``W ∘ (r_i s_iᵀ)`` per member,
        ``[E, in, out]``.
      outputs: ``[E, P]``, each member on ``task.points``: the probability of class 1
        (``"moons"``) or the regression output (``"gap"``).
      cosine: ``[len(LAYERS)]``, per layer the mean pairwise cosine similarity of the members'
        effective weights (:func:`bel.metrics.mean_pairwise_cosine`).
      disagreement, mutual_information: on the grid, for ``"moons"`` (0 for ``"gap"``):
        :func:`bel.metrics.pairwise_disagreement` and the mean over the grid of
        :func:`bel.metrics.mutual_information`.
      uncertainty: ``[P]``, where the members disagree: the mutual information at each grid point
        (``"moons"``) or the standard deviation across members (``"gap"``).
      score: the ensemble on its training data: accuracy (``"moons"``, :func:`bel.metrics.accuracy`)
        or the root-mean-square error of the members' mean (``"gap"``).
    """

    members: int
    effective_weights: tuple[np.ndarray, ...]
    outputs: np.ndarray
    cosine: np.ndarray
    disagreement: float
    mutual_information: float
    uncertainty: np.ndarray
    score: float


@partial(jax.jit, static_argnames=("graphdef", "classify"))
def _evaluate(graphdef, params, points, x, y, classify):
    model = _model(graphdef, params)
    E = model.layers[0].num_members
    weights = tuple(layer.effective_weights() for layer in model.layers[::2])
    cosine = jnp.stack([metrics.mean_pairwise_cosine(w) for w in weights])
    out = untile(model(tile(jnp.concatenate([points, x]), E)), E)  # [E, P + N, out]
    on_points, on_data = out[:, : points.shape[0]], out[:, points.shape[0] :]
    if classify:
        mi_map = metrics.mutual_information(on_points)
        return {
            "effective_weights": weights,
            "outputs": jax.nn.softmax(on_points, axis=-1)[..., 1],
            "cosine": cosine,
            "disagreement": metrics.pairwise_disagreement(on_points),
            "mutual_information": mi_map.mean(),
            "uncertainty": mi_map,
            "score": metrics.accuracy(on_data, y),
        }
    zero = jnp.zeros(())
    return {
        "effective_weights": weights,
        "outputs": on_points[..., 0],
        "cosine": cosine,
        "disagreement": zero,
        "mutual_information": zero,
        "uncertainty": jnp.std(on_points[..., 0], axis=0),
        "score": jnp.sqrt(jnp.mean((on_data.mean(axis=0) - y) ** 2)),
    }


def _check_members(members: Any) -> int:
    if not _is_int(members) or not 1 <= members <= MAX_MEMBERS:
        raise ValueError(f"members must be an int in [1, {MAX_MEMBERS}], got {members!r}")
    return int(members)


def _check(task: Any, params: Any, name: str) -> None:
    """A ValueError unless ``task`` is a Task and ``params`` came from :func:`init_params`."""
    if not isinstance(task, Task):
        raise ValueError(
            f"{name} expects a bel.diversity.Task (make_task), got {type(task).__name__}"
        )
    keys = {"kernel", "bias", "r", "s"}
    ok = isinstance(params, tuple | list) and len(params) == len(LAYERS)
    ok = ok and all(isinstance(p, dict) and set(p) == keys for p in params)
    ok = ok and all(np.shape(p["r"])[:1] == (MAX_MEMBERS,) for p in params)
    if not ok:
        raise ValueError(
            f"{name} expects params as returned by init_params or train: {len(LAYERS)} dicts with "
            f"keys {sorted(keys)} for {MAX_MEMBERS} members, got {type(params).__name__}"
        )


def _first(params: Params, members: int) -> list[dict[str, np.ndarray]]:
    """The parameters of the first ``members`` members (``W`` is shared: kept whole)."""
    return [{k: v if k == "kernel" else v[:members] for k, v in p.items()} for p in params]


def is_compiled(task: Task, members: int | None) -> bool:
    """Whether :func:`evaluate` has run for this task and member count (``None``: whether
    :func:`train` has run on this task), so that its compiled code is cached.

    >>> is_compiled(make_task("moons"), 7) in (True, False)
    True
    """
    return (task.name, members) in _compiled


_compiled: set[tuple[str, int | None]] = set()


def evaluate(task: Task, params: Params, members: int) -> Evaluation:
    """Run the first ``members`` members on ``task.points`` and measure their diversity.

    Compiled once per task and member count (the first call for a new pair takes about a
    second); any other change of the settings only changes the numbers passed in.

    >>> task = make_task("moons")
    >>> ev = evaluate(task, init_params(task, Settings(r_std=0.0, s_std=0.0)), 4)
    >>> ev.disagreement, round(float(ev.cosine[1]), 4)     # four identical members
    (0.0, 1.0)
    """
    _check(task, params, "evaluate")
    members = _check_members(members)
    graphdef = _graphdef(task.in_features, task.out_features, members)
    result = jax.device_get(
        _evaluate(
            graphdef,
            _first(params, members),
            task.points,
            task.x,
            task.y,
            task.loss == "cross_entropy",
        )
    )
    _compiled.add((task.name, members))
    return Evaluation(
        members=members,
        effective_weights=tuple(result["effective_weights"]),
        outputs=result["outputs"],
        cosine=result["cosine"],
        disagreement=float(result["disagreement"]),
        mutual_information=float(result["mutual_information"]),
        uncertainty=result["uncertainty"],
        score=float(result["score"]),
    )


def numbers(task: Task, evaluation: Evaluation, layer: int = 1) -> dict[str, float]:
    """The diversity numbers of an evaluation, as plain floats, named for the task.

    ``"moons"``: ``disagreement`` (share of the grid where two members pick different classes,
    averaged over pairs), ``mutual_information`` (mean over the grid, nats), ``cosine`` (mean
    pairwise cosine similarity of the effective weights of ``layer``) and ``accuracy`` (the
    ensemble on the training data). ``"gap"``: ``spread_data`` and ``spread_off_data`` (the
    members' standard deviation, averaged over the points in / outside the data's region),
    ``cosine`` and ``rmse``.

    >>> task = make_task("moons")
    >>> ev = evaluate(task, init_params(task, Settings(init="random_sign")), 4)
    >>> numbers(task, ev)["disagreement"] > 0
    True
    """
    if not _is_int(layer) or not 0 <= layer < len(LAYERS):
        raise ValueError(f"layer must be an int in [0, {len(LAYERS)}), got {layer!r}")
    cosine = float(evaluation.cosine[layer])
    if task.loss == "cross_entropy":
        return {
            "disagreement": evaluation.disagreement,
            "mutual_information": evaluation.mutual_information,
            "cosine": cosine,
            "accuracy": evaluation.score,
        }
    return {
        "spread_data": float(evaluation.uncertainty[task.region].mean()),
        "spread_off_data": float(evaluation.uncertainty[~task.region].mean()),
        "cosine": cosine,
        "rmse": evaluation.score,
    }


# --------------------------------------------------------------------------------------------------
# training, with the unused members masked out


def _member_losses(outputs: jax.Array, y: jax.Array, classify: bool) -> jax.Array:
    if classify:
        return optax.softmax_cross_entropy_with_integer_labels(outputs, y[None]).mean(axis=1)
    return jnp.mean((outputs - y[None]) ** 2, axis=(1, 2))


@partial(jax.jit, static_argnames=("graphdef",))
def _init_opt_state(graphdef, params):
    model = _model(graphdef, params)
    state = nnx.as_pure(nnx.state(model, nnx.Param))
    return fast_weight_optimizer(model, LEARNING_RATE, weight_decay=0.0).init(state)


@partial(jax.jit, static_argnames=("graphdef", "classify", "steps"))
def _train_chunk(graphdef, params, opt_state, x, y, mask, classify, steps):
    model = _model(graphdef, params)
    tx = fast_weight_optimizer(model, LEARNING_RATE, weight_decay=0.0)
    state = nnx.as_pure(nnx.state(model, nnx.Param))

    def loss_fn(state):
        out = untile(nnx.merge(graphdef, state)(tile(x, MAX_MEMBERS)), MAX_MEMBERS)
        return jnp.sum(mask * _member_losses(out, y, classify)) / jnp.sum(mask)

    def step(carry, _):
        state, opt_state = carry
        value, grads = jax.value_and_grad(loss_fn)(state)
        updates, opt_state = tx.update(grads, opt_state, state)
        return (optax.apply_updates(state, updates), opt_state), value

    (state, opt_state), losses = jax.lax.scan(step, (state, opt_state), None, length=steps)
    layers = nnx.to_pure_dict(state)["layers"]
    return tuple(layers[2 * i] for i in range(len(params))), opt_state, losses


def train(
    task: Task,
    params: Params,
    members: int,
    steps: int,
    callback: Callable[[int, float], None] | None = None,
) -> tuple[Params, np.ndarray]:
    """Train the first ``members`` members full batch for ``steps`` steps; return new params and
    the losses.

    :func:`bel.fast_weight_optimizer` (Adam, learning rate ``LEARNING_RATE``, ``r`` and ``s`` at
    half the rate, no weight decay) on the mean over the first ``members`` members of each
    member's loss; the other members get no gradient. ``steps`` must be a multiple of ``CHUNK``;
    ``callback(steps_done, loss)`` runs after each chunk (for a progress bar).

    >>> task = make_task("moons")
    >>> params, losses = train(task, init_params(task, Settings()), 4, steps=100)
    >>> bool(losses[-1] < 0.5 * losses[0])
    True
    """
    _check(task, params, "train")
    members = _check_members(members)
    if not _is_int(steps) or steps < CHUNK or steps % CHUNK:
        raise ValueError(f"steps must be a positive multiple of {CHUNK}, got {steps!r}")
    graphdef = _graphdef(task.in_features, task.out_features, MAX_MEMBERS)
    classify = task.loss == "cross_entropy"
    mask = (np.arange(MAX_MEMBERS) < members).astype(np.float32)
    opt_state = _init_opt_state(graphdef, params)
    history = []
    for done in range(CHUNK, steps + 1, CHUNK):
        params, opt_state, losses = _train_chunk(
            graphdef, params, opt_state, task.x, task.y, mask, classify, CHUNK
        )
        history.append(np.asarray(losses))
        _compiled.add((task.name, None))
        if callback is not None:
            callback(done, float(history[-1][-1]))
    return tuple(jax.device_get(params)), np.concatenate(history)
