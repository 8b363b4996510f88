"""The member-major layout: :func:`tile` / :func:`untile`, and what a model holds per member.

Rows ``[k*B, (k+1)*B)`` of an ``[E*B, ...]`` batch belong to member ``k``. :func:`num_members` reads
``E`` from a model's ensemble layers (every one must agree); :func:`member_weights` lines up every
member's effective weights for comparing members in weight space.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax.typing import ArrayLike

from bel._checks import check_int, check_module
from bel.layers.conv import BatchEnsembleConv, NaiveEnsembleConv
from bel.layers.linear import BatchEnsembleLinear, NaiveEnsembleLinear

__all__ = ["ENSEMBLE_LAYERS", "num_members", "member_weights", "tile", "untile"]

ENSEMBLE_LAYERS = (BatchEnsembleLinear, NaiveEnsembleLinear, BatchEnsembleConv, NaiveEnsembleConv)


def num_members(model: nnx.Module) -> int:
    """The number of ensemble members ``E`` a model holds: 1 for a model without ensemble layers.

    Every ensemble layer of the model must agree; a model whose layers disagree is refused with a
    ValueError that lists them. ``bel.fit``, ``bel.predict``, ``bel.compare`` and the plots ask
    the model this way, so nobody has to pass ``E`` next to a model that already knows it.

    >>> import bel
    >>> bel.num_members(bel.mlp(2, 2, rngs=0))
    1
    >>> bel.num_members(bel.batchensemble(bel.mlp(2, 2, rngs=0), 3, rngs=1))
    3
    """
    check_module(model, "num_members")
    found: dict[int, list[str]] = {}
    for path, module in nnx.iter_modules(model):
        if isinstance(module, ENSEMBLE_LAYERS):
            where = "/".join(map(str, path)) or type(module).__name__
            found.setdefault(module.num_members, []).append(where)
    if not found:
        return 1
    if len(found) > 1:
        detail = "; ".join(
            f"{E} members at {', '.join(paths)}" for E, paths in sorted(found.items())
        )
        raise ValueError(
            f"num_members expects every ensemble layer of a model to have the same number of "
            f"members, got {detail}"
        )
    return next(iter(found))


def member_weights(model: nnx.Module) -> jax.Array:
    """Every member's effective weights over all ensemble layers, one row per member: ``[E, P]``.

    Row ``k`` concatenates, in tree order, every ensemble layer's ``effective_weights()[k]``
    flattened (``W ∘ (r_k s_kᵀ)`` for BatchEnsemble, member k's own kernel for a naive ensemble):
    the vector whose cosine similarity between members measures how alike they are in weight
    space (:func:`bel.metrics.weight_cosine_similarity`).

    >>> import bel
    >>> model = bel.batchensemble(bel.mlp(2, 3, hidden=(4,), rngs=0), 5, rngs=1)
    >>> bel.member_weights(model).shape            # 5 members, 2*4 + 4*3 weights each
    (5, 20)
    """
    E = num_members(model)
    layers = [m for _, m in nnx.iter_modules(model) if isinstance(m, ENSEMBLE_LAYERS)]
    if not layers:
        raise ValueError(
            f"member_weights expects a model with ensemble layers, got a {type(model).__name__} "
            f"with none (convert it with bel.batchensemble or bel.naive_ensemble first)"
        )
    return jnp.concatenate([layer.effective_weights().reshape(E, -1) for layer in layers], axis=1)


def tile(x: ArrayLike, num_members: int) -> jax.Array:
    """Repeat a batch ``[B, ...]`` for every member, member-major: ``[E*B, ...]``.

    Row ``k*B + j`` is ``x[j]`` for member ``k`` (what ``jnp.tile`` does; ``jnp.repeat`` would
    interleave the members instead, a classic bug).

    >>> import jax.numpy as jnp
    >>> import bel
    >>> bel.tile(jnp.array([[1.0], [2.0]]), 3)[:, 0].tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]
    """
    num_members = check_int(num_members, "num_members", 1)
    x = jnp.array(x, copy=False)  # jnp.asarray compiles a transfer per shape
    if x.ndim < 1:
        raise ValueError(f"tile expects an array with a batch axis, got shape {x.shape}")
    return jnp.tile(x, (num_members,) + (1,) * (x.ndim - 1))


def untile(y: ArrayLike, num_members: int) -> jax.Array:
    """Split a member-major ``[E*B, ...]`` array into ``[E, B, ...]``; the inverse of :func:`tile`.

    >>> import jax.numpy as jnp
    >>> import bel
    >>> bel.untile(bel.tile(jnp.arange(2.0), 3), 3).shape
    (3, 2)
    """
    num_members = check_int(num_members, "num_members", 1)
    y = jnp.array(y, copy=False)
    if y.ndim < 1 or y.shape[0] % num_members != 0:
        raise ValueError(
            f"untile expects a member-major array whose first axis divides by "
            f"num_members={num_members}, got shape {y.shape}"
        )
    return y.reshape((num_members, -1) + y.shape[1:])
