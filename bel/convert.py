"""Turn any NNX model into an ensemble: every ``nnx.Linear`` and ``nnx.Conv`` (or a selection).

Conversion returns a **new** model and leaves its argument untouched: the model is cloned first
(every array copied, so nothing is shared with the original) and the clone's layers are replaced.
The walk over the module tree finishes before anything is replaced (mutating a tree while
iterating over it crashes on nested models), and every converted layer draws its factors from one
advancing random stream, so two layers of the same shape never get identical ``r`` or ``s``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx import filterlib

from bel.layers import (
    ENSEMBLE_LAYERS,
    BatchEnsembleConv,
    BatchEnsembleLinear,
    NaiveEnsembleConv,
    NaiveEnsembleLinear,
    _as_rngs,
    _check_num_members,
    num_members,
)

__all__ = ["batchensemble", "naive_ensemble", "layer_slots", "clone"]

M = TypeVar("M")
Slot = tuple[Any, Any, tuple[Any, ...], nnx.Module]


def clone(model: M) -> M:
    """A deep copy of ``model`` that shares no Variable and no array with it.

    >>> import jax.numpy as jnp
    >>> import bel
    >>> model = bel.mlp(2, 2, hidden=(4,), rngs=0)
    >>> copy = bel.convert.clone(model)
    >>> copy.layers[0].kernel[...] = jnp.zeros((2, 4))
    >>> bool(jnp.any(model.layers[0].kernel[...] != 0))     # the original is untouched
    True
    """
    graphdef, state = nnx.split(model)
    return nnx.merge(graphdef, _copy(state))


@jax.jit
def _copy(state: Any) -> Any:
    # One compiled program copies every array (a jit output is a fresh buffer: nothing aliases).
    return jax.tree.map(jnp.copy, state)


def _convertible(node: Any) -> bool:
    return isinstance(node, nnx.Linear | nnx.Conv) and not isinstance(node, ENSEMBLE_LAYERS)


def layer_slots(model: Any) -> list[Slot]:
    """Every place a plain ``nnx.Linear`` or ``nnx.Conv`` sits in ``model``.

    Returns ``(parent, key, path, layer)`` tuples in tree order; ``path`` is the tuple of keys from
    the root (what ``select`` filters see). Ensemble layers are not listed. A layer referenced from
    two places is listed twice (with the same object), so both references can be replaced by one
    converted layer.

    >>> from flax import nnx
    >>> import bel.convert
    >>> model = nnx.Sequential(nnx.Linear(2, 4, rngs=nnx.Rngs(0)), nnx.relu,
    ...                        nnx.Linear(4, 1, rngs=nnx.Rngs(1)))
    >>> [path for _, _, path, _ in bel.convert.layer_slots(model)]
    [('layers', 0), ('layers', 2)]
    """
    slots: list[Slot] = []
    seen: set[int] = set()

    def visit(node: Any, path: tuple[Any, ...]) -> None:
        if id(node) in seen:
            return
        seen.add(id(node))
        for key, child in nnx.iter_children(node):
            if isinstance(child, nnx.Variable):
                continue  # a parameter (iter_children lists those too): nothing inside to convert
            if _convertible(child):
                slots.append((node, key, path + (key,), child))
            else:
                visit(child, path + (key,))

    visit(model, ())
    return slots


def _replace(parent: Any, key: Any, new: Any) -> None:
    if isinstance(parent, nnx.List | list | dict):
        parent[key] = new
    else:
        setattr(parent, key, new)


def _convert(
    model: M, E: int, select: Any, make: Callable[[nnx.Module], nnx.Module], name: str
) -> M:
    if not isinstance(model, nnx.Module):
        raise ValueError(f"{name} expects an nnx.Module, got {type(model).__qualname__}")
    E = _check_num_members(E)
    held = num_members(model)  # raises when the model's ensemble layers already disagree
    if held != 1 and held != E:
        raise ValueError(
            f"{name}: the model already holds ensemble layers with {held} members, got "
            f"num_members={E}; convert the original model, or ask for {held} members"
        )
    keep = (lambda path, layer: True) if select is None else filterlib.to_predicate(select)
    if _convertible(model):  # a bare Linear / Conv is its own only slot
        if not keep((), model):
            raise ValueError(f"{name}: select matched nothing (the model is one layer)")
        return make(clone(model))  # type: ignore[return-value]
    copy = clone(model)
    slots = layer_slots(copy)  # the whole walk first ...
    chosen = [slot for slot in slots if keep(slot[2], slot[3])]
    if not chosen:
        found = ", ".join("/".join(map(str, path)) for _, _, path, _ in slots) or "none"
        raise ValueError(
            f"{name} found nothing to convert: expected at least one plain nnx.Linear or nnx.Conv"
            f"{'' if select is None else ' matching select'}, got these layers: {found}"
        )
    converted: dict[int, nnx.Module] = {}
    for parent, key, _, layer in chosen:  # ... then the replacements
        if id(layer) not in converted:
            converted[id(layer)] = make(layer)
        _replace(parent, key, converted[id(layer)])
    return copy


def batchensemble(
    model: M,
    num_members: int,
    *,
    rngs: nnx.Rngs | int,
    select: Any = None,
    **layer_options: Any,
) -> M:
    """A BatchEnsemble copy of ``model``: every ``nnx.Linear`` / ``nnx.Conv`` becomes an ensemble.

    ``model`` is left untouched (the result shares no array with it). Works on nested modules,
    ``nnx.List``, ``nnx.Dict`` and ``nnx.Sequential``; a bare layer is returned converted.
    ``select`` chooses which layers to convert: an ``nnx`` filter on ``(path, layer)`` such as
    ``nnx.PathContains("head")``, or any callable ``select(path, layer) -> bool`` (for example only
    the last layer: the "ensemble late" design). ``layer_options`` go to every layer
    (``use_base_weights``, ``init``, ``r_mean``, ``r_std``, ``s_mean``, ``s_std``). All layers draw
    from the one ``rngs`` stream, in tree order. Converting a model that already holds ensemble
    layers converts the remaining plain layers, with the same member count only.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> import bel
    >>> mlp = bel.mlp(2, 3, hidden=(8, 8), rngs=0)
    >>> ensemble = bel.batchensemble(mlp, 4, rngs=1, init="random_sign")
    >>> type(ensemble.layers[2]).__name__, ensemble.layers[2].r.shape, bel.num_members(ensemble)
    ('BatchEnsembleLinear', (4, 8), 4)
    >>> type(mlp.layers[2]).__name__                       # the original is untouched
    'Linear'
    >>> late = bel.batchensemble(mlp, 4, rngs=1, select=lambda path, layer: path[-1] == 4)
    >>> [type(layer).__name__ for layer in late.layers[::2]]
    ['Linear', 'Linear', 'BatchEnsembleLinear']
    """
    stream = _as_rngs(rngs)

    def make(layer: nnx.Module) -> nnx.Module:
        cls = BatchEnsembleConv if isinstance(layer, nnx.Conv) else BatchEnsembleLinear
        return cls(layer, stream, num_members, **layer_options)

    return _convert(model, num_members, select, make, "batchensemble")


def naive_ensemble(model: M, num_members: int, *, rngs: nnx.Rngs | int, select: Any = None) -> M:
    """A naive-ensemble copy of ``model``: ``num_members`` independent weights per layer.

    Every selected ``nnx.Linear`` / ``nnx.Conv`` becomes a :class:`~bel.NaiveEnsembleLinear` /
    :class:`~bel.NaiveEnsembleConv` with independently drawn kernels from the one ``rngs`` stream,
    so the result is a naive ensemble of independently initialised copies of ``model``'s
    architecture that takes the same member-major batches as a BatchEnsemble. ``model`` is left
    untouched; ``select`` as for :func:`batchensemble`.

    >>> import bel
    >>> mlp = bel.mlp(2, 3, hidden=(8,), rngs=0)
    >>> bel.naive_ensemble(mlp, 4, rngs=1).layers[0].kernel.shape
    (4, 2, 8)
    """
    stream = _as_rngs(rngs)

    def make(layer: nnx.Module) -> nnx.Module:
        cls = NaiveEnsembleConv if isinstance(layer, nnx.Conv) else NaiveEnsembleLinear
        return cls(layer, stream, num_members)

    return _convert(model, num_members, select, make, "naive_ensemble")
