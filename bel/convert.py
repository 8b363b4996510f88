"""Turn any NNX model into an ensemble by replacing every ``nnx.Linear`` in it.

The walk over the module tree finishes before anything is replaced (mutating a tree while
iterating over it crashes on nested models), and every converted layer draws its factors from one
advancing random stream, so two layers of the same shape never get identical ``r`` or ``s``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flax import nnx

from bel.layers import BatchEnsembleLinear, NaiveEnsembleLinear, _as_rngs, _check_num_members

__all__ = ["batchensemble", "naive_ensemble", "linear_slots"]

M = TypeVar("M")


def linear_slots(model: Any) -> list[tuple[Any, Any, nnx.Linear]]:
    """Every place a plain ``nnx.Linear`` sits in ``model``: ``(parent, key, layer)`` triples.

    Layers that are already ensembles are not listed. A layer referenced from two places is listed
    twice (with the same object), so both references can be replaced by one converted layer.

    >>> from flax import nnx
    >>> import bel.convert
    >>> model = nnx.Sequential(nnx.Linear(2, 4, rngs=nnx.Rngs(0)), nnx.relu,
    ...                        nnx.Linear(4, 1, rngs=nnx.Rngs(1)))
    >>> [key for _, key, _ in bel.convert.linear_slots(model)]
    [0, 2]
    """
    slots: list[tuple[Any, Any, nnx.Linear]] = []
    seen: set[int] = set()

    def visit(node: Any) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for key, child in nnx.iter_children(node):
            if isinstance(child, nnx.Variable):
                continue  # a parameter (iter_children lists those too): nothing inside to convert
            if isinstance(child, nnx.Linear) and not isinstance(child, BatchEnsembleLinear):
                slots.append((node, key, child))
            else:
                visit(child)

    visit(model)
    return slots


def _replace(parent: Any, key: Any, new: Any) -> None:
    if isinstance(parent, (nnx.List, list, dict)):
        parent[key] = new
    else:
        setattr(parent, key, new)


def _convert(model: M, make: Callable[[nnx.Linear], nnx.Module]) -> M:
    if isinstance(model, nnx.Linear) and not isinstance(model, BatchEnsembleLinear):
        return make(model)  # type: ignore[return-value]
    slots = linear_slots(model)  # the whole walk first ...
    converted: dict[int, nnx.Module] = {}
    for parent, key, layer in slots:  # ... then the replacements
        if id(layer) not in converted:
            converted[id(layer)] = make(layer)
        _replace(parent, key, converted[id(layer)])
    return model


def batchensemble(model: M, num_members: int, *, rngs: nnx.Rngs | int, **layer_options: Any) -> M:
    """Replace every ``nnx.Linear`` in ``model`` by a :class:`~bel.BatchEnsembleLinear`.

    Works on nested modules, ``nnx.List`` and ``nnx.Sequential``; the model is converted in place
    and returned (a bare ``nnx.Linear`` is returned converted). ``layer_options`` go to every layer
    (``use_base_weights``, ``init``, ``r_mean``, ``r_std``, ``s_mean``, ``s_std``). All layers draw
    from the one ``rngs`` stream, in tree order.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> import bel
    >>> mlp = nnx.Sequential(nnx.Linear(2, 8, rngs=nnx.Rngs(0)), nnx.relu,
    ...                      nnx.Linear(8, 8, rngs=nnx.Rngs(0)), nnx.relu,
    ...                      nnx.Linear(8, 3, rngs=nnx.Rngs(0)))
    >>> mlp = bel.batchensemble(mlp, 4, rngs=nnx.Rngs(1), init="random_sign")
    >>> type(mlp.layers[2]).__name__, mlp.layers[2].r.shape
    ('BatchEnsembleLinear', (4, 8))
    >>> mlp(bel.tile(jnp.ones((5, 2)), 4)).shape
    (20, 3)
    """
    num_members = _check_num_members(num_members)
    stream = _as_rngs(rngs)
    return _convert(
        model, lambda lin: BatchEnsembleLinear(lin, stream, num_members, **layer_options)
    )


def naive_ensemble(model: M, num_members: int, *, rngs: nnx.Rngs | int) -> M:
    """Replace every ``nnx.Linear`` in ``model`` by a :class:`~bel.NaiveEnsembleLinear`.

    Each layer gets ``num_members`` independent kernels drawn from the one ``rngs`` stream, so the
    result is a naive ensemble of independently initialised copies of ``model``'s architecture
    that takes the same member-major batches as a BatchEnsemble.

    >>> from flax import nnx
    >>> import bel
    >>> mlp = nnx.Sequential(nnx.Linear(2, 8, rngs=nnx.Rngs(0)), nnx.relu,
    ...                      nnx.Linear(8, 3, rngs=nnx.Rngs(0)))
    >>> bel.naive_ensemble(mlp, 4, rngs=nnx.Rngs(1)).layers[0].kernel.shape
    (4, 2, 8)
    """
    num_members = _check_num_members(num_members)
    stream = _as_rngs(rngs)
    return _convert(model, lambda lin: NaiveEnsembleLinear(lin, stream, num_members))
