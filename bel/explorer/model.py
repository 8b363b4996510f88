"""What the diversity explorer computes: settings → a BatchEnsemble built by bel → its diversity.

No matplotlib and no widgets here. Everything is built and trained by bel itself:

- :func:`build` is ``bel.batchensemble(bel.mlp(in, out, hidden=HIDDEN, rngs=2·seed), E,
  rngs=2·seed + 1, init=…, r_mean=…, …)``. The explorer always builds ``E = MAX_MEMBERS`` member
  *slots*; because member ``k``'s initial factors do not depend on ``E``, the first ``E`` slots
  are exactly the ``E``-member ensemble (:func:`first_members` cuts them out). The slots' values
  come from bel's own initialisers, with the same keys, without building modules: bit for bit
  what that call returns, in a few milliseconds.
- :func:`train` is :func:`bel.fit` on the slots with a ``member_mask``: only the first ``E``
  members' losses count, so the active slots end where ``bel.fit`` on the ``E``-member ensemble
  ends (the mask is data, not a shape).
- :func:`evaluate` runs the slots on the task and measures every diversity number for every
  prefix ``E = 1 … MAX_MEMBERS`` with :mod:`bel.metrics`, in one compiled program per task.

So the member count, the init, the means, stds and the seed are all *values*: after one
compilation per task (:func:`warm_up`), no setting compiles anything new.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import cache, lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from bel import data, metrics
from bel._jit import jit
from bel.convert import batchensemble
from bel.layers import INITS, common, tile, untile
from bel.train import fit, mlp

__all__ = [
    "MAX_MEMBERS",
    "HIDDEN",
    "TASKS",
    "LAYERS",
    "CHUNK",
    "LEARNING_RATE",
    "Task",
    "Settings",
    "Evaluation",
    "make_task",
    "build",
    "first_members",
    "evaluate",
    "train",
    "warm_up",
    "warm_up_jobs",
    "FIRST_PICTURE",
]

MAX_MEMBERS = 8
HIDDEN = (16, 16)
#: ``"moons"``: 2-D classification (two moons); ``"gap"``: 1-D regression with a gap in the data.
TASKS = ("moons", "gap")
#: The three BatchEnsemble layers of the network, named by what they connect.
LAYERS = ("input → hidden 1", "hidden 1 → hidden 2", "hidden 2 → output")
CHUNK = 50  # training steps per compiled call (a progress update after each)
LEARNING_RATE = 3e-2


# --------------------------------------------------------------------------------------------------
# the task and the settings


@dataclass(frozen=True, eq=False)
class Task:
    """A toy task: training data, the points predictions are drawn on, and the loss.

    ``points`` is a 40×40 grid over ``bounds`` for ``"moons"`` (``grid_shape = (40, 40)``) and a
    line of 161 points on [-1.6, 1.6] for ``"gap"``. ``region`` marks the points of the line that
    lie where the data are (``"gap"`` only: inside [-1, 1] and outside the gap).
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

    @property
    def classify(self) -> bool:
        """Whether the task is a classification (cross-entropy) rather than a regression."""
        return self.loss == "cross_entropy"


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

    ``init``, ``r_mean``, ``r_std``, ``s_mean``, ``s_std`` and ``use_base_weights`` are passed to
    :func:`bel.batchensemble` as they are (see :class:`bel.BatchEnsembleLinear`); the means and
    stds matter for ``init="normal"`` only. ``members`` is the ensemble size ``E`` (1 to
    ``MAX_MEMBERS``) and ``seed`` picks the random draws.

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
            object.__setattr__(self, name, float(value))  # one dtype for every eager init op
        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if not isinstance(self.use_base_weights, bool | np.bool_):
            raise ValueError(f"use_base_weights must be a bool, got {self.use_base_weights!r}")
        object.__setattr__(self, "members", int(self.members))
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "use_base_weights", bool(self.use_base_weights))

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (checked again)."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"Settings has no field(s) {sorted(unknown)}")
        return Settings(**{**self.__dict__, **changes})


def _check_task(task: Any, name: str) -> Task:
    if not isinstance(task, Task):
        raise ValueError(
            f"{name} expects a bel.explorer.model.Task (make_task), got {type(task).__name__}"
        )
    return task


# --------------------------------------------------------------------------------------------------
# the network: built by bel


def build(task: Task, settings: Settings, num_members: int = MAX_MEMBERS) -> nnx.Module:
    """The explorer's network for ``settings``, built by bel, with ``num_members`` members.

    ``bel.batchensemble(bel.mlp(in, out, hidden=HIDDEN, rngs=2·seed), num_members,
    rngs=2·seed + 1, init=…, r_mean=…, r_std=…, s_mean=…, s_std=…, use_base_weights=…)``: the base
    network and the factors come from separate seeds, so ``use_base_weights=False`` draws a ``W``
    of its own. ``settings.members`` is not used here: the explorer builds ``MAX_MEMBERS`` slots
    and uses the first ``settings.members`` of them.

    The ``MAX_MEMBERS`` slots (the default) are built in a few milliseconds, from the same draws
    as bel's (see :func:`_slot_values`); their values are ``bel.batchensemble``'s bit for bit.

    >>> model = build(make_task("moons"), Settings(init="random_sign"))
    >>> type(model.layers[2]).__name__, model.layers[2].r.shape
    ('BatchEnsembleLinear', (8, 16))
    """
    _check_task(task, "build")
    if not isinstance(settings, Settings):
        raise ValueError(f"build expects a Settings, got {type(settings).__name__}")
    if not _is_int(num_members) or not 1 <= num_members <= MAX_MEMBERS:
        raise ValueError(f"num_members must be an int in [1, {MAX_MEMBERS}], got {num_members!r}")
    if num_members == MAX_MEMBERS:
        return nnx.merge(_structure(task.name), _slot_values(task, settings))
    return _bel_build(task, settings, int(num_members))


def _bel_build(task: Task, settings: Settings, num_members: int) -> nnx.Module:
    """What :func:`build` returns, built the way a learner would write it with bel."""
    base = mlp(task.in_features, task.out_features, hidden=HIDDEN, rngs=2 * settings.seed)
    return batchensemble(
        base,
        num_members,
        rngs=2 * settings.seed + 1,
        init=settings.init,
        r_mean=settings.r_mean,
        r_std=settings.r_std,
        s_mean=settings.s_mean,
        s_std=settings.s_std,
        use_base_weights=settings.use_base_weights,
    )


# The slots without building modules. bel.batchensemble converts the three Linears in tree order,
# drawing from one stream nnx.Rngs(2·seed + 1); each BatchEnsembleLinear takes from it, in this
# order, a key for a fresh kernel and one for its (zero) bias when use_base_weights=False
# (bel.layers.common.init_ensemble_params), then one for r and one for s (init_fast_weights).
# Here the same keys come from the same stream and go to the same bel functions (lecun_normal,
# zeros, draw_factors: the same compiled draws), so every value is bel's bit for bit; what is saved
# is the building of modules (survey, copy, constructors: ~40 ms), and whatever does not depend on
# the changed slider is kept (the base network per seed, the factors per mean and std).
# tests/explorer/test_model.py holds the slots equal to bel.batchensemble's over random settings.


@lru_cache(maxsize=256)
def _stream(seed: int, count: int) -> tuple[jax.Array, ...]:
    """The first ``count`` keys that ``nnx.Rngs(seed).params()`` hands out, in order."""
    rngs = nnx.Rngs(seed)
    return tuple(rngs.params() for _ in range(count))


@lru_cache(maxsize=256)
def _shared(task_name: str, seed: int, use_base_weights: bool) -> tuple[tuple[Any, Any], ...]:
    """Per layer, the slots' shared kernel ``W`` and their biases ``[MAX_MEMBERS, out]``."""
    task = make_task(task_name)
    layers = _linears(task)
    if use_base_weights:
        base = mlp(task.in_features, task.out_features, hidden=HIDDEN, rngs=2 * seed)
        # every member's bias starts from the base bias, tiled as init_ensemble_params tiles it
        return tuple((layer.kernel[...], common._rows(layer.bias[...], MAX_MEMBERS))
                     for layer in base.layers[::2])  # fmt: skip
    keys = _stream(2 * seed + 1, 4 * len(layers))
    return tuple(
        (
            common.lecun_normal(keys[4 * i], (n_in, n_out), jnp.float32),
            common.zeros(keys[4 * i + 1], (MAX_MEMBERS, n_out), jnp.float32),
        )
        for i, (n_in, n_out) in enumerate(layers)
    )


@lru_cache(maxsize=1024)
def _factors(
    task_name: str, seed: int, use_base_weights: bool, which: str, init: str, mean: float,
    std: float,
) -> tuple[jax.Array, ...]:  # fmt: skip
    """Per layer, the slots' ``r`` (``which="r"``) or ``s``, drawn as init_fast_weights does."""
    layers = _linears(make_task(task_name))
    per_layer = 2 if use_base_weights else 4
    keys = _stream(2 * seed + 1, per_layer * len(layers))
    first = per_layer - 2 + (which == "s")  # the position of r's (s's) key in a layer's draws
    return tuple(
        common.draw_factors(key, MAX_MEMBERS, size[which == "s"], init, mean, std, jnp.float32)
        for key, size in zip(keys[first::per_layer], layers, strict=True)
    )


def _linears(task: Task) -> list[tuple[int, int]]:
    """``(in, out)`` of each Linear of the task's network, in order."""
    sizes = [task.in_features, *HIDDEN, task.out_features]
    return list(zip(sizes[:-1], sizes[1:], strict=True))


def _slot_values(task: Task, s: Settings) -> Any:
    """The pure state of ``build(task, s)``'s ``MAX_MEMBERS`` slots (see the note above)."""
    normal = s.init == "normal"
    means = (s.r_mean, s.r_std, s.s_mean, s.s_std) if normal else (0.0, 0.0, 0.0, 0.0)
    shared = _shared(task.name, s.seed, s.use_base_weights)
    r = _factors(task.name, s.seed, s.use_base_weights, "r", s.init, *means[:2])
    f = _factors(task.name, s.seed, s.use_base_weights, "s", s.init, *means[2:])
    values = {"kernel": 0, "bias": 1}

    def value(path: tuple[Any, ...], _: Any) -> Any:
        layer, name = path[-2].key // 2, path[-1].key
        if name in values:
            return shared[layer][values[name]]
        return (r if name == "r" else f)[layer]

    return jax.tree_util.tree_map_with_path(value, _abstract(task.name)[1])


def _abstract(task_name: str) -> tuple[Any, Any]:
    """The graph structure of the task's slots (shared by every setting: the compiled programs
    key on it) and their pure state as shapes (``jax.ShapeDtypeStruct`` leaves)."""
    with _tracing:  # warm-up jobs on two threads both need it: traced once
        return _abstract_once(task_name)


_tracing = threading.Lock()


@cache
def _abstract_once(task_name: str) -> tuple[Any, Any]:
    task = make_task(task_name)
    graphdef, state = nnx.split(nnx.eval_shape(lambda: _bel_build(task, Settings(), MAX_MEMBERS)))
    return graphdef, nnx.as_pure(state)


@cache
def _shapes(task_name: str) -> tuple[Any, Any, list[tuple[int, ...]]]:
    """The graph structure of the task's slots, the tree structure of its state and the shapes
    of its arrays."""
    graphdef, state = _abstract(task_name)
    return graphdef, jax.tree.structure(state), [tuple(a.shape) for a in jax.tree.leaves(state)]


def _structure(task_name: str) -> Any:
    return _shapes(task_name)[0]


def _slots(task: Task, model: nnx.Module) -> dict[str, Any]:
    """The values of a ``MAX_MEMBERS``-slot model of ``task``, checked, as a pure state."""
    state = nnx.as_pure(nnx.state(model))
    _, structure, shapes = _shapes(task.name)
    ok = (
        jax.tree.structure(state) == structure
        and [tuple(np.shape(a)) for a in jax.tree.leaves(state)] == shapes
    )
    if not ok:
        raise ValueError(
            f"expected the explorer's {MAX_MEMBERS}-slot network for task {task.name!r} (build), "
            f"got a {type(model).__name__} of another structure"
        )
    return state


def first_members(task: Task, settings: Settings, model: nnx.Module, members: int) -> nnx.Module:
    """The first ``members`` slots of ``model`` as an ordinary ``members``-member bel model.

    The result is ``build(task, settings, members)`` with its values taken from ``model`` (the
    shared ``W`` whole, ``r``, ``s`` and biases cut to the first ``members`` rows).

    >>> task, settings = make_task("moons"), Settings(init="random_sign")
    >>> model = first_members(task, settings, build(task, settings), 3)
    >>> model.layers[0].r.shape, model.layers[0].kernel.shape
    ((3, 2), (2, 16))
    """
    slots = _slots(task, model)
    small = build(task, settings, members)
    cut = jax.tree.map(
        lambda big, like: jnp.asarray(big)[tuple(slice(0, n) for n in np.shape(like))],
        slots,
        nnx.as_pure(nnx.state(small)),
    )
    nnx.update(small, cut)
    return small


# --------------------------------------------------------------------------------------------------
# evaluation: every diversity number for every prefix of the slots, in one compiled program


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The ``MAX_MEMBERS`` slots run on a task, and the diversity of every prefix of them.

    Arrays indexed by ``E - 1`` hold the value for the ensemble of the first ``E`` members.

    Attributes:
      effective_weights: per layer (see ``LAYERS``), ``W ∘ (r_i s_iᵀ)`` of every slot,
        ``[MAX_MEMBERS, in, out]``.
      outputs: ``[MAX_MEMBERS, P]``, each slot on ``task.points``: the probability of class 1
        (``"moons"``) or the regression output (``"gap"``).
      uncertainty: ``[MAX_MEMBERS, P]``, where the first ``E`` members disagree: the mutual
        information at each point (``"moons"``) or the members' standard deviation (``"gap"``).
      cosine: ``[MAX_MEMBERS, len(LAYERS)]``, :func:`bel.metrics.mean_pairwise_cosine` of the
        first ``E`` members' effective weights, per layer.
      disagreement, mutual_information: ``[MAX_MEMBERS]``, on the points (``"moons"``; 0 for
        ``"gap"``): :func:`bel.metrics.pairwise_disagreement` and the mean over the points of
        :func:`bel.metrics.mutual_information`.
      score: ``[MAX_MEMBERS]``, the ensemble on its training data: accuracy
        (:func:`bel.metrics.accuracy`, ``"moons"``) or the root-mean-square error of the members'
        mean (``"gap"``).
    """

    task: Task
    effective_weights: tuple[np.ndarray, ...]
    outputs: np.ndarray
    uncertainty: np.ndarray
    cosine: np.ndarray
    disagreement: np.ndarray
    mutual_information: np.ndarray
    score: np.ndarray

    def numbers(self, members: int, layer: int = 1) -> dict[str, float]:
        """The diversity numbers of the first ``members`` members, as plain floats.

        ``"moons"``: ``disagreement``, ``mutual_information`` (mean over the grid, nats),
        ``cosine`` (of the effective weights of ``layer``) and ``accuracy``. ``"gap"``:
        ``spread_data`` and ``spread_off_data`` (the members' standard deviation averaged over
        the points on / off the data), ``cosine`` and ``rmse``.

        >>> task = make_task("moons")
        >>> ev = evaluate(task, build(task, Settings(init="random_sign")))
        >>> ev.numbers(4)["disagreement"] > 0, ev.numbers(1)["disagreement"]
        (True, 0.0)
        """
        if not _is_int(members) or not 1 <= members <= MAX_MEMBERS:
            raise ValueError(f"members must be an int in [1, {MAX_MEMBERS}], got {members!r}")
        if not _is_int(layer) or not 0 <= layer < len(LAYERS):
            raise ValueError(f"layer must be an int in [0, {len(LAYERS)}), got {layer!r}")
        e = members - 1
        cosine = float(self.cosine[e, layer])
        if self.task.classify:
            return {
                "disagreement": float(self.disagreement[e]),
                "mutual_information": float(self.mutual_information[e]),
                "cosine": cosine,
                "accuracy": float(self.score[e]),
            }
        region = self.task.region
        return {
            "spread_data": float(self.uncertainty[e, region].mean()),
            "spread_off_data": float(self.uncertainty[e, ~region].mean()),
            "cosine": cosine,
            "rmse": float(self.score[e]),
        }


@jit(static_argnames=("graphdef", "classify"))
def _evaluate(graphdef, state, points, x, y, classify):
    """Every number for every prefix ``E`` at once, from :mod:`bel.metrics`' prefix forms
    (``prefix_*``: row ``E - 1`` is the ordinary metric of the first ``E`` members), in one
    compiled program. The regression's spread and RMSE use ``average[E - 1, i] = 1/E`` for
    ``i < E``: ``average @ v`` is the mean of the first ``E`` members' ``v``."""
    model = nnx.merge(graphdef, state)
    m = MAX_MEMBERS
    weights = tuple(layer.effective_weights() for layer in model.layers[::2])
    cosine = jnp.stack([metrics.prefix_mean_pairwise_cosine(w) for w in weights], axis=1)
    out = untile(model(tile(jnp.concatenate([points, x]), m)), m)  # [M, P + N, out]
    on_points, on_data = out[:, : points.shape[0]], out[:, points.shape[0] :]
    result = {"effective_weights": weights, "cosine": cosine}
    if classify:
        mi = metrics.prefix_mutual_information(on_points)  # [M, P]
        return result | {
            "outputs": metrics.member_probs(on_points)[..., 1],
            "uncertainty": mi,
            "disagreement": metrics.prefix_pairwise_disagreement(on_points),
            "mutual_information": mi.mean(axis=1),
            "score": metrics.prefix_accuracy(on_data, y),
        }
    size = jnp.arange(1, m + 1, dtype=jnp.float32)
    average = jnp.tril(jnp.ones((m, m))) / size[:, None]
    values = on_points[..., 0]  # [M, P]
    mean = average @ values
    spread = jnp.sqrt(jnp.einsum("ei,eip->ep", average, (values[None] - mean[:, None]) ** 2))
    on_data_mean = average @ on_data[..., 0]
    return result | {
        "outputs": values,
        "uncertainty": spread,
        "disagreement": jnp.zeros(m),
        "mutual_information": jnp.zeros(m),
        "score": jnp.sqrt(jnp.mean((on_data_mean - y[None, :, 0]) ** 2, axis=1)),
    }


def evaluate(task: Task, model: nnx.Module) -> Evaluation:
    """Run the ``MAX_MEMBERS`` slots of ``model`` on ``task`` and measure every prefix.

    One compiled program per task, whatever the settings the model was built with.

    >>> task = make_task("moons")
    >>> ev = evaluate(task, build(task, Settings(r_std=0.0, s_std=0.0)))
    >>> ev.numbers(4)["disagreement"], round(ev.numbers(4)["cosine"], 4)   # identical members
    (0.0, 1.0)
    """
    _check_task(task, "evaluate")
    state = _slots(task, model)
    result = jax.device_get(
        _evaluate(_structure(task.name), state, task.points, task.x, task.y, task.classify)
    )
    return Evaluation(
        task=task,
        effective_weights=tuple(result["effective_weights"]),
        outputs=result["outputs"],
        uncertainty=result["uncertainty"],
        cosine=result["cosine"],
        disagreement=result["disagreement"],
        mutual_information=result["mutual_information"],
        score=result["score"],
    )


# --------------------------------------------------------------------------------------------------
# training: bel.fit on the slots, only the first E members' losses counting


def train(
    task: Task,
    model: nnx.Module,
    members: int,
    steps: int,
    callback: Callable[[int, float], None] | None = None,
) -> tuple[nnx.Module, np.ndarray]:
    """Train the first ``members`` slots of ``model`` with :func:`bel.fit`; return a trained copy
    and the losses (``model`` itself is left as it is).

    ``bel.fit(copy, task.x, task.y, loss=task.loss, steps=steps, learning_rate=LEARNING_RATE,
    member_mask=[1]*members + [0]*(MAX_MEMBERS - members), chunk=CHUNK, callback=callback)``:
    the other slots' losses do not count, so the first ``members`` slots end as ``bel.fit`` on
    the ``members``-member ensemble would leave them. ``steps`` is a positive multiple of
    ``CHUNK``; ``callback(steps_done, loss)`` runs after every chunk.

    >>> task = make_task("moons")
    >>> trained, losses = train(task, build(task, Settings()), 4, steps=100)
    >>> bool(losses[-1] < 0.5 * losses[0])
    True
    """
    _check_task(task, "train")
    if not _is_int(members) or not 1 <= members <= MAX_MEMBERS:
        raise ValueError(f"members must be an int in [1, {MAX_MEMBERS}], got {members!r}")
    if not _is_int(steps) or steps < CHUNK or steps % CHUNK:
        raise ValueError(f"steps must be a positive multiple of {CHUNK}, got {steps!r}")
    # The copy has the one structure of the task (the layers record their init settings as static
    # attributes; the structure is what the compiled training program is keyed on).
    copy = nnx.merge(_structure(task.name), _slots(task, model))
    mask = (np.arange(MAX_MEMBERS) < members).astype(np.float32)
    losses = fit(
        copy,
        task.x,
        task.y,
        loss=task.loss,
        steps=int(steps),
        learning_rate=LEARNING_RATE,
        member_mask=mask,
        chunk=CHUNK,
        callback=callback if callback is not None else _ignore,
    )
    return copy, np.asarray(losses)


def _ignore(done: int, loss: float) -> None:
    """The callback when none is given: with one, bel.fit always runs in chunks of ``CHUNK``."""


#: The warm-up jobs of :func:`warm_up_jobs` that the first picture of a task needs (building with
#: the default settings, evaluating); the others (``"build_fresh"``, ``"train"``) can come later.
FIRST_PICTURE = ("build", "evaluate")


def warm_up_jobs(task: Task) -> dict[str, Callable[[], object]]:
    """The independent pieces of :func:`warm_up`, by name, to run side by side (e.g. in threads).

    ``"build"``: building with the default settings compiles bel's random draws (eagerly, per
    shape); ``"build_fresh"``: random signs and a freshly drawn ``W`` compile draws of their own;
    ``"evaluate"`` and ``"train"`` compile their programs on a network of zeros of the right
    structure, so they need not wait for the random draws.

    >>> sorted(warm_up_jobs(make_task("moons")))
    ['build', 'build_fresh', 'evaluate', 'train']
    """
    _check_task(task, "warm_up_jobs")

    def zeros() -> nnx.Module:
        graphdef, structure, shapes = _shapes(task.name)
        leaves = [np.zeros(shape, np.float32) for shape in shapes]
        return nnx.merge(graphdef, jax.tree.unflatten(structure, leaves))

    fresh = Settings(init="random_sign", use_base_weights=False)
    return {  # each returns what it computed; a warm-up only keeps the compiled programs
        "build": lambda: build(task, Settings()),
        "build_fresh": lambda: build(task, fresh),
        "evaluate": lambda: evaluate(task, zeros()),
        "train": lambda: train(task, zeros(), MAX_MEMBERS, CHUNK),
    }


def warm_up(task: Task) -> None:
    """Compile everything the explorer runs for ``task``: building (both inits, both kinds of
    ``W``), evaluating and one training chunk. Afterwards no setting compiles anything new.

    >>> warm_up(make_task("gap"))
    """
    for job in warm_up_jobs(task).values():
        job()
