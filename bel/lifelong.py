"""Lifelong learning with BatchEnsemble: one shared ``W``, one new member per task.

The paper's second half (Wen, Tran & Ba, ICLR 2020, section 4.1): train the whole network on the
first task, then keep every shared kernel ``W`` fixed and learn each new task as a new *member*,
i.e. only a new ``r``, ``s`` (and bias) per layer. A task then costs ``in + out (+ out)`` parameters
per layer, and nothing learned before can be forgotten: earlier members' rows are never written.

The recipe, one task at a time::

    add_member(model, rngs)            # every BatchEnsemble layer gets row E: new r, s, bias
    new = member(model, E)             # a one-member copy of that row; W in it is frozen
    bel.fit(new, x, y)                 # trains exactly the new r, s and bias
    set_member(model, E, new)          # writes them back into row E, and nothing else

Freezing is by type: in the one-member model every shared weight is a :class:`FrozenWeight`, which
is not an ``nnx.Param``, so ``bel.fit`` (or any optimiser built with ``wrt=nnx.Param``) never sees
it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

import jax
import numpy as np
from flax import nnx

from bel._checks import as_rngs, check_at_least, check_choice, check_module, is_int
from bel.data import rotate, two_moons
from bel.layers import INITS, BatchEnsembleConv, BatchEnsembleLinear, FastWeight, Init, num_members
from bel.layers.common import draw_factors
from bel.metrics import accuracy
from bel.train import fit, predict

__all__ = [
    "FrozenWeight",
    "add_member",
    "member",
    "set_member",
    "parameter_cost",
    "rotated_tasks",
    "task_accuracies",
    "learn_tasks",
    "finetune_tasks",
]

M = TypeVar("M", bound=nnx.Module)

BIAS_INITS = ("mean", "zeros")


class FrozenWeight(nnx.Variable):
    """A weight that a model reads but no optimiser trains: deliberately *not* an ``nnx.Param``.

    :func:`member` turns every shared weight of its one-member model into a ``FrozenWeight``, so
    ``nnx.state(model, nnx.Param)`` (what ``bel.fit`` and ``nnx.Optimizer(..., wrt=nnx.Param)``
    train) holds exactly the member's ``r``, ``s`` and bias.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> import bel.lifelong
    >>> w = bel.lifelong.FrozenWeight(jnp.ones((2, 3)))
    >>> isinstance(w, nnx.Param), w.shape
    (False, (2, 3))
    """


BatchEnsembleLayer = BatchEnsembleLinear | BatchEnsembleConv


def _layers(model: Any, name: str = "bel.lifelong") -> list[BatchEnsembleLayer]:
    check_module(model, name)
    kinds = (BatchEnsembleLinear, BatchEnsembleConv)
    return [m for _, m in nnx.iter_modules(model) if isinstance(m, kinds)]


def _ensemble_layers(model: Any, name: str) -> list[BatchEnsembleLayer]:
    layers = _layers(model, name)
    if not layers:
        raise ValueError(
            f"{name} expects a model with at least one BatchEnsembleLinear or BatchEnsembleConv, "
            f"got a "
            f"{type(model).__name__} with none (convert it with bel.batchensemble first)"
        )
    num_members(model)  # every ensemble layer must agree (a ValueError naming them otherwise)
    return layers


def _check_member_index(model: nnx.Module, k: Any, name: str) -> int:
    return _check_index(k, _ensemble_layers(model, name)[0].num_members, name)


def _check_index(k: Any, E: int, name: str) -> int:
    if not (is_int(k) and 0 <= k < E):
        raise ValueError(f"{name} expects a member index k in [0, {E}), got {k!r}")
    return int(k)


def add_member(
    model: M,
    rngs: nnx.Rngs | int,
    *,
    init: Init = "normal",
    r_mean: float = 1.0,
    r_std: float = 0.5,
    s_mean: float = 1.0,
    s_std: float = 0.5,
    bias: str = "mean",
) -> M:
    """Append one member to every BatchEnsemble layer (Linear or Conv) of ``model``, in place.

    Each layer's ``r`` and ``s`` gain a row drawn with ``init`` (``"normal"`` or
    ``"random_sign"``; a layer does not remember how it was initialised, so pass the init, means
    and stds if you built it with others than the defaults N(1, 0.5²)). All layers draw from the
    one ``rngs`` stream, in tree order. The new bias row is the ``"mean"`` of the existing
    members' rows (the point the shared ``W`` was trained around; with one member, a copy of its
    bias) or ``"zeros"``. Existing rows and the kernels are left bit-identical. Returns ``model``.

    >>> import jax.numpy as jnp
    >>> import bel, bel.lifelong
    >>> model = bel.batchensemble(bel.mlp(2, 2, hidden=(8,), rngs=0), 1, rngs=1)
    >>> r0 = model.layers[0].r[...]
    >>> _ = bel.lifelong.add_member(model, rngs=2)
    >>> model.layers[0].r.shape, model.layers[0].bias.shape, bel.num_members(model)
    ((2, 2), (2, 8), 2)
    >>> bool(jnp.array_equal(model.layers[0].r[:1], r0))
    True
    """
    layers = _ensemble_layers(model, "add_member")
    check_choice(bias, "bias", BIAS_INITS)
    check_choice(init, "init", INITS)
    check_at_least(r_std, "r_std")
    check_at_least(s_std, "s_std")
    stream = as_rngs(rngs)
    for layer in layers:
        dtype = layer.param_dtype
        r = draw_factors(stream.params(), 1, layer.in_features, init, r_mean, r_std, dtype)
        s = draw_factors(stream.params(), 1, layer.out_features, init, s_mean, s_std, dtype)
        layer.r.set_value(_appended(layer.r[...], r))
        layer.s.set_value(_appended(layer.s[...], s))
        if layer.bias is not None:
            old = np.asarray(layer.bias[...])
            row = old.mean(0, keepdims=True) if bias == "mean" else np.zeros_like(old[:1])
            layer.bias.set_value(_appended(old, row))
        layer.num_members += 1
    return model


# Row surgery on the small [E, ...] arrays r, s and bias is done in NumPy: the same ops in JAX
# compile anew for every member count, which made a task sequence spend most of its time compiling.


def _appended(rows: Any, new: Any) -> jax.Array:
    rows = np.asarray(rows)
    return jax.device_put(np.concatenate([rows, np.asarray(new, rows.dtype)]))


def _row(rows: Any, k: int) -> jax.Array:
    return jax.device_put(np.asarray(rows)[k : k + 1])


def _with_row(rows: Any, k: int, row: Any) -> jax.Array:
    rows = np.array(rows)  # a writable copy
    rows[k] = np.asarray(row, rows.dtype).reshape(rows.shape[1:])
    return jax.device_put(rows)


def _freeze_shared(view: nnx.Module, keep: set[int]) -> None:
    """Turn every ``nnx.Param`` of ``view`` whose id is not in ``keep`` into a FrozenWeight."""
    for _, module in nnx.iter_modules(view):
        for name, value in list(vars(module).items()):
            if isinstance(value, nnx.Param) and id(value) not in keep:
                setattr(module, name, FrozenWeight(value[...]))


def member(model: nnx.Module, k: int) -> nnx.Module:
    """Member ``k`` of ``model`` as a one-member model whose only parameters are its own.

    A copy of ``model`` in which every BatchEnsemble layer keeps only row ``k`` of ``r``, ``s``
    and bias (``num_members = 1``), and every other parameter (the shared kernels ``W``, and
    anything outside the ensemble layers) becomes a :class:`FrozenWeight`. Its output on ``x``
    equals member ``k``'s output in ``model``; training it with ``bel.fit`` (``wrt=nnx.Param``)
    changes only its ``r``, ``s`` and bias; :func:`set_member` writes them back. ``model`` itself
    is never modified. The copy shares no mutable state with ``model`` (JAX arrays are immutable,
    so no memory is duplicated until a row is trained).

    >>> import jax, jax.numpy as jnp
    >>> from flax import nnx
    >>> import bel, bel.lifelong
    >>> model = bel.batchensemble(bel.mlp(2, 2, hidden=(8,), rngs=0), 3, rngs=1)
    >>> one = bel.lifelong.member(model, 2)
    >>> sorted({type(v).__name__ for v in jax.tree.leaves(nnx.state(one), is_leaf=lambda v:
    ...     isinstance(v, nnx.Variable))})
    ['FastWeight', 'FrozenWeight', 'Param']
    >>> x = jnp.ones((5, 2))
    >>> bool(jnp.allclose(bel.predict(one, x)[0], bel.predict(model, x)[2]))
    True
    """
    k = _check_member_index(model, k, "member")
    view = nnx.clone(model)
    keep: set[int] = set()
    for layer in _layers(view):
        layer.r = FastWeight(_row(layer.r[...], k))
        layer.s = FastWeight(_row(layer.s[...], k))
        keep |= {id(layer.r), id(layer.s)}
        if layer.bias is not None:
            layer.bias = nnx.Param(_row(layer.bias[...], k))
            keep.add(id(layer.bias))
        layer.num_members = 1
    _freeze_shared(view, keep)
    return view


def set_member(model: M, k: int, one: nnx.Module) -> M:
    """Write a one-member model's ``r``, ``s`` and bias into row ``k`` of ``model``, in place.

    ``one`` comes from :func:`member` (usually after training it). Only row ``k`` of each
    BatchEnsemble layer's ``r``, ``s`` and bias is written; every other row and every kernel stay
    bit-identical. Raises ValueError when ``one`` does not fit ``model`` (other layers or sizes,
    more than one member) or was trained against a different shared ``W``. Returns ``model``.

    >>> import jax.numpy as jnp
    >>> import bel, bel.lifelong
    >>> model = bel.batchensemble(bel.mlp(2, 2, hidden=(8,), rngs=0), 2, rngs=1)
    >>> one = bel.lifelong.member(model, 1)
    >>> one.layers[0].r[...] = jnp.zeros((1, 2))
    >>> _ = bel.lifelong.set_member(model, 1, one)
    >>> model.layers[0].r[1].tolist()
    [0.0, 0.0]
    """
    k = _check_member_index(model, k, "set_member")
    targets, sources = _layers(model), _layers(one)
    if len(targets) != len(sources):
        raise ValueError(
            f"set_member expects a one-member model with the same {len(targets)} "
            f"BatchEnsembleLinear layers as model, got {len(sources)}"
        )
    for i, (t, s) in enumerate(zip(targets, sources, strict=True)):
        if s.num_members != 1 or s.r.shape[1:] != t.r.shape[1:] or s.s.shape[1:] != t.s.shape[1:]:
            raise ValueError(
                f"set_member expects layer {i} of one to be a one-member copy of a "
                f"{t.in_features}->{t.out_features} layer, got {s.num_members} member(s), "
                f"{s.in_features}->{s.out_features}"
            )
        if not np.array_equal(np.asarray(s.kernel[...]), np.asarray(t.kernel[...])):
            raise ValueError(
                f"set_member expects one to share model's kernels bit for bit, but layer {i}'s "
                "kernel differs (was it trained with W unfrozen, or taken from another model?)"
            )
    for t, s in zip(targets, sources, strict=True):
        t.r.set_value(_with_row(t.r[...], k, s.r[...]))
        t.s.set_value(_with_row(t.s[...], k, s.s[...]))
        if t.bias is not None and s.bias is not None:
            t.bias.set_value(_with_row(t.bias[...], k, s.bias[...]))
    return model


def _count(state: Any) -> int:
    return int(sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(state)))


def parameter_cost(model: nnx.Module) -> dict[str, int]:
    """Parameters shared by all tasks and parameters one more task adds, counted from the state.

    ``"per_task"`` is one member's share of the BatchEnsemble layers' ``r``, ``s`` and bias:
    ``in + out`` (+ ``out`` for the bias) per layer, summed over layers. ``"shared"`` is every
    other parameter (the kernels ``W``, ``in·out`` per layer, and anything outside the ensemble
    layers): what :func:`member` freezes. Only shapes are read, so an abstract model from
    ``nnx.eval_shape`` works too (instant, nothing drawn).

    >>> from flax import nnx
    >>> import bel, bel.lifelong
    >>> model = bel.batchensemble(bel.mlp(2, 3, hidden=(8,), rngs=0), 1, rngs=1)
    >>> bel.lifelong.parameter_cost(model)   # shared 2·8 + 8·3; per task (2+8+8) + (8+3+3)
    {'shared': 40, 'per_task': 32}
    >>> shapes_only = nnx.eval_shape(lambda: bel.batchensemble(bel.mlp(2, 3, rngs=0), 4, rngs=1))
    >>> bel.lifelong.parameter_cost(shapes_only)["per_task"]
    392
    """
    layers = _ensemble_layers(model, "parameter_cost")
    E = layers[0].num_members
    members = 0
    for layer in layers:
        rows = [layer.r, layer.s] + ([layer.bias] if layer.bias is not None else [])
        members += sum(math.prod(v.shape) for v in rows)
    total = _count(nnx.state(model, nnx.Param))
    return {"shared": total - members, "per_task": members // E}


def rotated_tasks(
    angles: Sequence[float], n: int = 256, *, noise: float = 0.15, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One two-moons task per angle: the same ``n`` points and labels, rotated by ``angle`` degrees.

    Task ``t`` is ``(rotate(x, angles[t]), y)`` with ``x, y = bel.data.two_moons(n, noise=noise,
    seed=seed)``; the rotation is about the origin, where the moons are centred. Use another
    ``seed`` for a held-out test set of the same tasks.

    >>> import bel.lifelong
    >>> tasks = bel.lifelong.rotated_tasks([0, 90], n=4)
    >>> [(x.shape, y.tolist()) for x, y in tasks]
    [((4, 2), [0, 1, 0, 1]), ((4, 2), [0, 1, 0, 1])]
    """
    angles = list(angles)
    if not angles:
        raise ValueError("rotated_tasks expects at least one angle, got none")
    x, y = two_moons(n, noise=noise, seed=seed)
    return [(rotate(x, float(a)), y) for a in angles]


def task_accuracies(
    model: nnx.Module,
    tasks: Sequence[tuple[Any, Any]],
    members: Sequence[int | None] | None = None,
) -> np.ndarray:
    """Accuracy on every task, task ``j`` answered by member ``members[j]``: a ``[T]`` array.

    By default task ``j`` uses member ``j``, and tasks without a member yet (``j >= E``) get NaN.
    ``members[j] = None`` also gives NaN. A model without BatchEnsemble layers (one ordinary
    network) answers every task itself and ignores ``members``. ``tasks`` is a list of
    ``(x [N, features], labels [N])`` pairs.

    >>> import bel, bel.lifelong
    >>> tasks = bel.lifelong.rotated_tasks([0, 90, 180], n=32)
    >>> model = bel.batchensemble(bel.mlp(2, 2, hidden=(8,), rngs=0), 2, rngs=1)
    >>> acc = bel.lifelong.task_accuracies(model, tasks)
    >>> acc.shape, bool(np.isnan(acc[2]))
    ((3,), True)
    >>> bel.lifelong.task_accuracies(model, tasks, members=[0, 0, 0]).shape
    (3,)
    """
    tasks = list(tasks)
    if not tasks or not all(isinstance(t, (tuple, list)) and len(t) == 2 for t in tasks):
        raise ValueError("task_accuracies expects a non-empty list of (x, labels) pairs")
    if not _layers(model, "task_accuracies"):
        return np.array([float(accuracy(predict(model, x)[0], y)) for x, y in tasks])
    E = num_members(model)  # every layer's count, checked to agree
    if members is None:
        members = [j if j < E else None for j in range(len(tasks))]
    members = list(members)
    if len(members) != len(tasks):
        raise ValueError(
            f"task_accuracies expects one member per task ({len(tasks)}), got {len(members)}"
        )
    members = [None if k is None else _check_index(k, E, "task_accuracies") for k in members]
    # every member on every task's inputs in one call (no per-member copies): [E, ΣN, C]; then
    # member k's outputs on task j's rows (sliced in NumPy: nothing compiles per task size)
    outputs = np.asarray(predict(model, np.concatenate([np.asarray(x) for x, _ in tasks])))
    ends = np.cumsum([len(x) for x, _ in tasks])
    return np.array(
        [
            np.nan if k is None else float(accuracy(outputs[k, end - len(x) : end][None], y))
            for k, (x, y), end in zip(members, tasks, ends, strict=True)
        ]
    )


def _check_task_lists(train_tasks: Any, test_tasks: Any, name: str) -> tuple[list, list]:
    train_tasks, test_tasks = list(train_tasks), list(test_tasks)
    for what, tasks in (("train_tasks", train_tasks), ("test_tasks", test_tasks)):
        if not tasks or not all(isinstance(t, (tuple, list)) and len(t) == 2 for t in tasks):
            raise ValueError(f"{name} expects {what} as a non-empty list of (x, labels) pairs")
    if len(train_tasks) != len(test_tasks):
        raise ValueError(
            f"{name} expects as many test tasks as training tasks ({len(train_tasks)}), "
            f"got {len(test_tasks)}"
        )
    return train_tasks, test_tasks


def learn_tasks(
    model: M,
    train_tasks: Sequence[tuple[Any, Any]],
    test_tasks: Sequence[tuple[Any, Any]],
    *,
    rngs: nnx.Rngs | int,
    train_first: bool = True,
    init: Init = "normal",
    steps: int = 500,
    learning_rate: float = 1e-2,
) -> np.ndarray:
    """Learn the tasks one after another, one member each; return the accuracy matrix ``[T, T]``.

    ``model`` starts with one member. With ``train_first`` (the paper's recipe) task 0 trains
    the whole model, ``W`` included, as member 0; with ``train_first=False`` every shared weight
    stays exactly as it is (for example random, never trained) and task 0 is learned as member 0
    with ``W`` frozen, like every later task: the control that tells whether the first task's
    ``W`` matters. Every later task ``t`` is :func:`add_member` (drawn with ``init`` from
    ``rngs``), :func:`member`, ``bel.fit``, :func:`set_member`. Row ``i`` of the result holds the
    test accuracy on every task after learning task ``i`` (task ``j`` answered by member ``j``;
    NaN for tasks not learned yet). ``model`` ends with ``T`` members.

    >>> import bel, bel.lifelong
    >>> tasks = bel.lifelong.rotated_tasks([0, 90], n=32)
    >>> model = bel.batchensemble(bel.mlp(2, 2, hidden=(8,), rngs=0), 1, rngs=1)
    >>> acc = bel.lifelong.learn_tasks(model, tasks, tasks, rngs=2, steps=20)
    >>> acc.shape, bool(np.isnan(acc[0, 1])), bel.num_members(model)
    ((2, 2), True, 2)
    """
    train_tasks, test_tasks = _check_task_lists(train_tasks, test_tasks, "learn_tasks")
    E = _ensemble_layers(model, "learn_tasks")[0].num_members
    if E != 1:
        raise ValueError(f"learn_tasks expects a model with one member (task 0's), got {E}")
    stream = as_rngs(rngs)
    rows = []
    for t, (x, y) in enumerate(train_tasks):
        if t == 0 and train_first:
            fit(model, x, y, steps=steps, learning_rate=learning_rate)
        else:
            if t > 0:
                add_member(model, stream, init=init)
            one = member(model, t)
            fit(one, x, y, steps=steps, learning_rate=learning_rate)
            set_member(model, t, one)
        rows.append(task_accuracies(model, test_tasks))
    return np.array(rows)


def finetune_tasks(
    model: nnx.Module,
    train_tasks: Sequence[tuple[Any, Any]],
    test_tasks: Sequence[tuple[Any, Any]],
    *,
    steps: int = 500,
    learning_rate: float = 1e-2,
) -> np.ndarray:
    """Train all of ``model`` on each task in turn; return the accuracy matrix ``[T, T]``.

    The baseline that forgets: one network (plain, or with one member) keeps training every
    parameter on each new task. Row ``i`` holds its test accuracy on tasks ``0..i`` after
    training on task ``i`` (NaN for tasks not seen yet).

    >>> import bel, bel.lifelong
    >>> tasks = bel.lifelong.rotated_tasks([0, 180], n=32)
    >>> net = bel.mlp(2, 2, hidden=(8,), rngs=0)
    >>> acc = bel.lifelong.finetune_tasks(net, tasks, tasks, steps=20)
    >>> acc.shape, bool(np.isnan(acc[0, 1]))
    ((2, 2), True)
    """
    train_tasks, test_tasks = _check_task_lists(train_tasks, test_tasks, "finetune_tasks")
    E = num_members(model)
    if E != 1:
        raise ValueError(f"finetune_tasks expects one network (one member), got {E} members")
    rows = []
    for t, (x, y) in enumerate(train_tasks):
        fit(model, x, y, steps=steps, learning_rate=learning_rate)
        acc = task_accuracies(model, test_tasks[: t + 1], [0] * (t + 1))  # member 0 answers
        rows.append(np.concatenate([acc, np.full(len(test_tasks) - t - 1, np.nan)]))
    return np.array(rows)
