"""Ensemble members spread over devices: one mesh axis for the member axis, with JAX's own sharding.

A BatchEnsemble layer stores everything that belongs to member ``k`` in row ``k`` of ``r``, ``s``
and ``bias``; only the kernel ``W`` is shared. Sharding those three arrays along a mesh axis, and
replicating ``W``, puts each device in charge of ``E / n`` whole members. A member-major batch
sharded along its rows (:func:`shard_batch`) then meets its own members' factors on its own device:
the forward pass runs with no communication at all, and its output stays sharded the same way. The
backward pass needs one sum across devices per layer, for the shared kernel's gradient (every member
contributes to it).

Everything here is ordinary ``jax.sharding``: a :class:`jax.sharding.Mesh` (``jax.make_mesh``),
``NamedSharding`` and ``PartitionSpec``; with an explicit-mode mesh (``jax.make_mesh``'s default)
the sharding is part of each array's type (``jax.typeof(y)`` prints ``float32[24@members,3]``).
The same code runs on one host with simulated CPU devices or across hosts after
``jax.distributed.initialize()``.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any, TypeVar

import jax
from flax import nnx
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from bel._checks import check_module
from bel.layers import (
    BatchEnsembleConv,
    BatchEnsembleLinear,
    NaiveEnsembleLinear,
)

__all__ = [
    "MEMBER_AXIS_PARAMS",
    "COLLECTIVES",
    "shard_members",
    "shard_batch",
    "device_bytes",
    "collectives",
    "collective_bytes",
]

M = TypeVar("M")

# XLA's cross-device operations, as they are spelled in a compiled program's text.
COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")

# The attributes of each ensemble layer whose leading axis is the member axis.
MEMBER_AXIS_PARAMS: dict[type, tuple[str, ...]] = {
    BatchEnsembleLinear: ("r", "s", "bias"),
    NaiveEnsembleLinear: ("kernel", "bias"),
    BatchEnsembleConv: ("r", "s", "bias"),
}


def _check_mesh_axes(mesh: Any, axes: tuple[Any, ...], name: str) -> int:
    """Validate ``mesh`` and the axis names in ``axes``; return the product of their sizes."""
    if not isinstance(mesh, Mesh):
        raise ValueError(
            f"{name} expects a jax.sharding.Mesh (e.g. jax.make_mesh((4,), ('members',))), "
            f"got {type(mesh).__name__}"
        )
    for axis in axes:
        if axis not in mesh.axis_names:
            raise ValueError(
                f"{name}: axis {axis!r} is not an axis of the mesh; expected one of "
                f"{tuple(mesh.axis_names)}"
            )
    return math.prod(mesh.shape[axis] for axis in axes)


def _is_array(value: Any) -> bool:
    return isinstance(value, jax.Array) or (hasattr(value, "shape") and hasattr(value, "dtype"))


def _place(variable: nnx.Variable, mesh: Mesh, spec: tuple[Any, ...]) -> None:
    # Only the array moves. No sharding metadata is added to the variable: metadata is part of a
    # Variable's pytree structure, and a sharded model should stay tree-compatible with an
    # unsharded copy (jax.tree.map over both, nnx.update from one into the other).
    variable.set_value(jax.device_put(variable.get_value(), NamedSharding(mesh, P(*spec))))


def shard_members(model: M, mesh: Mesh, axis: str = "members") -> M:
    """Shard every ensemble layer's member axis along ``mesh`` axis ``axis``; replicate the rest.

    In each :class:`~bel.BatchEnsembleLinear` (and :class:`~bel.BatchEnsembleConv`), ``r``, ``s``
    and ``bias`` (shape ``[E, ...]``) get ``PartitionSpec(axis)``: device ``d`` of the ``n`` along
    that axis holds members ``[d*E/n, (d+1)*E/n)``. The shared kernel ``W``, and every other array
    in the model, is replicated (``PartitionSpec()``). A :class:`~bel.NaiveEnsembleLinear` has its
    stacked kernels and biases sharded the same way (``NaiveEnsembleConv`` is not supported: it
    slices its input per member, which an explicitly sharded batch refuses). The model is
    changed in place and returned, with the same pytree structure as before: only the arrays move
    (their ``.sharding`` says where to).

    Feed the model a member-major batch sharded along its rows (:func:`shard_batch`): each device
    then computes its own members' rows and the output stays sharded along ``axis``. The numbers
    are the same as without sharding.

    >>> import jax
    >>> import jax.numpy as jnp
    >>> import bel
    >>> from bel.sharding import shard_batch, shard_members
    >>> mesh = jax.make_mesh((len(jax.devices()),), ("members",))   # 1 device here, 4-8 in 04
    >>> model = bel.batchensemble(bel.mlp(2, 3, hidden=(8,), rngs=0), 4, rngs=1)
    >>> model = shard_members(model, mesh)
    >>> model.layers[0].r.sharding.spec, model.layers[0].kernel.sharding.spec
    (P('members', None), P(None, None))
    >>> x = shard_batch(bel.tile(jnp.ones((5, 2)), 4), mesh)
    >>> model(x).sharding.spec
    P('members', None)

    Args:
      model: an NNX module holding at least one ensemble layer (e.g. from
        :func:`bel.batchensemble`).
      mesh: a :class:`jax.sharding.Mesh`, e.g. ``jax.make_mesh((4,), ("members",))``. Other mesh
        axes (e.g. a ``"data"`` axis) see the member-axis parameters replicated.
      axis: the mesh axis to spread the members over. Every ensemble layer's ``num_members`` must
        be divisible by its size.

    Raises:
      ValueError: ``mesh`` is not a Mesh, ``axis`` is not one of its axes, the model holds no
        ensemble layer, or a layer's ``num_members`` does not divide evenly over the axis.
    """
    check_module(model, "shard_members")
    size = _check_mesh_axes(mesh, (axis,), "shard_members")
    layers = [
        (path, node)
        for path, node in nnx.iter_graph(model)
        if isinstance(node, tuple(MEMBER_AXIS_PARAMS))
    ]
    if not layers:
        raise ValueError(
            "shard_members expects a model with at least one BatchEnsembleLinear or "
            "NaiveEnsembleLinear layer (or a BatchEnsembleConv), got a "
            f"{type(model).__name__} with none (convert it first, e.g. with bel.batchensemble)"
        )
    for path, layer in layers:  # validate everything before moving anything
        if layer.num_members % size != 0:
            where = "/".join(map(str, path)) or "the model itself"
            raise ValueError(
                f"shard_members: the layer at {where} has num_members={layer.num_members}, which "
                f"does not divide evenly over mesh axis {axis!r} of size {size}; expected a "
                f"multiple of {size}"
            )
    sharded: set[int] = set()
    for _, layer in layers:
        for name in MEMBER_AXIS_PARAMS[type(layer)]:
            variable = getattr(layer, name)
            if isinstance(variable, nnx.Variable) and id(variable) not in sharded:
                spec = (axis,) + (None,) * (variable.get_value().ndim - 1)
                _place(variable, mesh, spec)
                sharded.add(id(variable))
    for _, node in nnx.iter_graph(model):  # everything else: a full copy on every device
        if isinstance(node, nnx.Variable) and id(node) not in sharded:
            if _is_array(node.get_value()):
                _place(node, mesh, (None,) * node.get_value().ndim)
    return model


def shard_batch(x: Any, mesh: Mesh, axis: str | tuple[str, ...] = "members") -> jax.Array:
    """Shard a member-major batch ``[E*B, ...]`` along its rows over mesh ``axis``.

    With ``axis="members"`` and ``n`` devices on that axis, device ``d`` receives rows
    ``[d*E*B/n, (d+1)*E*B/n)``: whole member blocks when ``E`` is divisible by ``n``, exactly the
    members whose factors :func:`shard_members` put there. A tuple such as
    ``("members", "data")`` splits each member's block further over a second (data-parallel)
    axis; on an explicit-mode mesh (``jax.make_mesh``'s default) this needs ``E`` equal to the
    size of the ``"members"`` axis, so that every member's block is split the same way.

    >>> import jax
    >>> import jax.numpy as jnp
    >>> import bel
    >>> from bel.sharding import shard_batch
    >>> mesh = jax.make_mesh((len(jax.devices()),), ("members",))
    >>> x = shard_batch(bel.tile(jnp.ones((5, 2)), 4), mesh)
    >>> x.shape, x.sharding.spec
    ((20, 2), P('members',))
    """
    axes = axis if isinstance(axis, tuple) else (axis,)
    size = _check_mesh_axes(mesh, axes, "shard_batch")
    x = x if isinstance(x, jax.Array) else jax.numpy.asarray(x)
    if x.ndim < 1 or x.shape[0] % size != 0:
        raise ValueError(
            f"shard_batch expects an array whose first axis divides evenly over mesh axis "
            f"{axis!r} of size {size}, got shape {x.shape}"
        )
    return jax.device_put(x, NamedSharding(mesh, P(axis)))


def device_bytes(tree: Any) -> dict[int, int]:
    """Bytes of array data each device holds for ``tree`` (a module, a state, or arrays).

    A replicated array counts in full on every device that holds a copy; a sharded one counts only
    its shard. Keys are device ids, in increasing order.

    The tree may also be *abstract*: a model built under ``nnx.eval_shape`` (e.g.
    ``nnx.eval_shape(lambda: shard_members(make_model(), mesh))``) holds ``jax.ShapeDtypeStruct``
    leaves that carry their sharding but no data, so nothing is allocated or drawn. Each such
    leaf counts its shard shape on every device of its mesh; keys are then the positions
    ``0 .. n-1`` in the mesh (an abstract mesh has no device ids).

    >>> import jax, jax.numpy as jnp
    >>> from bel.sharding import device_bytes
    >>> device_bytes({"W": jnp.zeros((3, 4), jnp.float32)})    # one device: {device id: bytes}
    {0: 48}
    >>> device_bytes({"W": jax.ShapeDtypeStruct((3, 4), jnp.float32, sharding=jax.NamedSharding(
    ...     jax.make_mesh((1,), ("members",)), jax.P()))})
    {0: 48}
    """
    if isinstance(tree, nnx.Module):
        tree = nnx.state(tree)
    held: defaultdict[int, int] = defaultdict(int)
    kinds = set()
    for leaf in jax.tree.leaves(tree):
        if isinstance(leaf, jax.Array):
            kinds.add("concrete")
            for shard in leaf.addressable_shards:
                held[shard.device.id] += shard.data.nbytes
        elif isinstance(leaf, jax.ShapeDtypeStruct):
            kinds.add("abstract")
            sharding = getattr(leaf, "sharding", None)
            if not isinstance(sharding, NamedSharding):
                raise ValueError(
                    "device_bytes expects abstract leaves with a NamedSharding (build the model "
                    f"with shard_members inside nnx.eval_shape), got a leaf of shape {leaf.shape} "
                    f"with sharding {sharding}"
                )
            nbytes = math.prod(sharding.shard_shape(leaf.shape)) * leaf.dtype.itemsize
            for position in range(math.prod(sharding.mesh.axis_sizes)):
                held[position] += nbytes
    if len(kinds) > 1:
        raise ValueError(
            "device_bytes expects either concrete arrays or abstract ones (nnx.eval_shape), "
            "got a tree that mixes both"
        )
    return dict(sorted(held.items()))


def _compiled_text(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    return jax.jit(fn).lower(*args, **kwargs).compile().as_text()


def collectives(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, int]:
    """Count the cross-device operations in the compiled program for ``fn(*args, **kwargs)``.

    Compiles ``jax.jit(fn)`` for these arguments (their shapes and shardings; nothing is run) and
    counts each kind in :data:`COLLECTIVES` (``all-reduce``, ``all-gather``, ...) in the optimised
    XLA program. Kinds that do not occur are left out, so ``{}`` means: every device computes its
    part without talking to the others.

    >>> import jax.numpy as jnp
    >>> from bel.sharding import collectives
    >>> collectives(lambda x: 2 * x, jnp.ones(4))
    {}
    """
    text = _compiled_text(fn, *args, **kwargs)
    found = {op: text.count(f" {op}(") + text.count(f" {op}-start(") for op in COLLECTIVES}
    return {op: n for op, n in found.items() if n}


# Bytes per element of XLA's element types, as a compiled program's text spells them.
_XLA_BYTES = {"pred": 1, "s8": 1, "u8": 1, "f16": 2, "bf16": 2, "s16": 2, "u16": 2}
_XLA_BYTES |= {"f32": 4, "s32": 4, "u32": 4, "f64": 8, "s64": 8, "u64": 8, "c64": 8, "c128": 16}
_ARRAY_TYPE = re.compile(r"\b([a-z][a-z0-9]*)\[([\d,]*)\]")


def _type_bytes(result_type: str) -> int:
    """Bytes of an HLO result type such as ``(f32[], f32[32,2]{1,0})`` (layouts ignored)."""
    total = 0
    for dtype, dims in _ARRAY_TYPE.findall(re.sub(r"\{[\d,]*\}", "", result_type)):
        if dtype not in _XLA_BYTES:
            raise ValueError(f"collective_bytes: unknown XLA element type {dtype!r}")
        total += _XLA_BYTES[dtype] * math.prod(int(d) for d in dims.split(",") if d)
    return total


def collective_bytes(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, int]:
    """Bytes each device sends into every kind of cross-device operation, for one call of ``fn``.

    Compiles ``jax.jit(fn)`` like :func:`collectives` and adds up, per kind, the size of each
    collective's result on one device: for an ``all-reduce`` that is exactly the data every device
    contributes to the sum (a tuple of arrays when XLA bundles several sums into one operation).
    ``{}`` means no communication. Nothing is run.

    >>> import jax.numpy as jnp
    >>> from bel.sharding import collective_bytes
    >>> collective_bytes(lambda x: x.sum(), jnp.ones(4))     # one device: nothing to exchange
    {}
    """
    text = _compiled_text(fn, *args, **kwargs)
    found: defaultdict[str, int] = defaultdict(int)
    for line in text.splitlines():
        for op in COLLECTIVES:
            match = re.search(rf"= (.*?) {op}(?:-start)?\(", line)
            if match:
                found[op] += _type_bytes(match.group(1))
    return dict(found)
