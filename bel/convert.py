"""Turn any NNX model into an ensemble, and say which of its layers are per member.

:func:`batchensemble` and :func:`naive_ensemble` return a **new** model and leave their argument
untouched: the model is cloned first (every array copied, so nothing is shared with the original)
and the clone's layers are replaced with flax's own traversal (``nnx.recursive_map``), which finds
a layer wherever nnx finds it (attributes, nested modules, ``nnx.List``, ``nnx.Dict``,
``nnx.data([...])`` lists and dicts) and keeps a layer referenced from two places one layer.

Only layers whose type is **exactly** ``nnx.Linear`` or ``nnx.Conv`` are converted, because only
for those is the ensemble layer exactly the same computation per member. Everything else stays
shared, and :func:`describe` says so, layer by layer, with the reason. A layer that looks
convertible but is not (a subclass such as ``nnx.LoRALinear``, a grouped convolution) is never
replaced silently: the conversion refuses with its path and suggests ``select=`` to leave it out.

Every converted layer draws its factors from one advancing random stream, in tree order, so two
layers of the same shape never get identical ``r`` or ``s``.

Saving and restoring
--------------------
A converted model is an ordinary NNX module. Save its state as a dict of plain arrays
(``nnx.to_pure_dict``; here with pickle, orbax or ``np.savez`` work the same way), build the same
structure afresh (the same model converted with the same ``E``; ``nnx.eval_shape`` builds it
without allocating or drawing anything), and load the arrays into it. The predictions are
bit-identical and the fast weights keep their type (:class:`~bel.FastWeight`):

>>> import os, pickle, tempfile
>>> import jax, jax.numpy as jnp
>>> from flax import nnx
>>> import bel
>>> model = bel.batchensemble(bel.mlp(2, 3, hidden=(8,), rngs=0), 4, rngs=1)
>>> path = os.path.join(tempfile.mkdtemp(), "model.pkl")
>>> with open(path, "wb") as file:
...     pickle.dump(jax.device_get(nnx.to_pure_dict(nnx.state(model))), file)
>>> graphdef, state = nnx.split(   # the structure only: abstract arrays, nothing drawn
...     nnx.eval_shape(lambda: bel.batchensemble(bel.mlp(2, 3, hidden=(8,), rngs=0), 4, rngs=0)))
>>> with open(path, "rb") as file:
...     nnx.replace_by_pure_dict(state, pickle.load(file))
>>> restored = nnx.merge(graphdef, state)
>>> x = jnp.ones((5, 2))
>>> bool(jnp.array_equal(bel.predict(restored, x), bel.predict(model, x)))
True
>>> type(restored.layers[0].r).__name__
'FastWeight'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, Unpack

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx import filterlib

from bel._checks import as_rngs, check_int, check_module
from bel._jit import jit
from bel.layers import (
    ENSEMBLE_LAYERS,
    BatchEnsembleConv,
    BatchEnsembleLinear,
    NaiveEnsembleConv,
    NaiveEnsembleLinear,
    num_members,
)
from bel.layers.common import LayerOptions

__all__ = ["batchensemble", "naive_ensemble", "describe", "Description", "Row", "clone"]

M = TypeVar("M")
Select = filterlib.Filter | None

_CONVERTIBLE = (nnx.Linear, nnx.Conv)
_NORMS = (nnx.LayerNorm, nnx.BatchNorm, nnx.RMSNorm, nnx.GroupNorm, nnx.InstanceNorm)
_REFUSED = ("subclass", "grouped")  # kinds that look convertible but are not


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


@jit
def _copy(state: Any) -> Any:
    # One compiled program copies every array (a jit output is a fresh buffer: nothing aliases).
    return jax.tree.map(jnp.copy, state)


# --------------------------------------------------------------------------------------------------
# what each module of a model is: the one classification both describe and the conversion use


@dataclasses.dataclass(frozen=True)
class Row:
    """One module that holds parameters: where it is, what it is, and whether it is per member.

    ``members`` is ``E`` for a per-member (ensemble) layer and 1 for a shared one; ``params``
    counts the scalars of the parameters the module holds itself (not its children's); ``kind``
    is one of ``"ensemble"``, ``"convertible"`` (a plain ``nnx.Linear`` / ``nnx.Conv``),
    ``"subclass"``, ``"grouped"``, ``"norm"`` or ``"unsupported"``; ``note`` says why, briefly.
    """

    path: tuple[Any, ...]
    type: str
    params: int
    members: int
    kind: str
    note: str

    @property
    def per_member(self) -> bool:
        return self.kind == "ensemble"

    @property
    def where(self) -> str:
        return _where(self.path)

    def __str__(self) -> str:
        return f"{self.where} ({self.type}, {self.note})"


def _where(path: tuple[Any, ...]) -> str:
    return "/".join(map(str, path)) or "(the model itself)"


def _own_params(module: nnx.Module) -> int:
    return sum(int(v.size) for _, v in nnx.iter_children(module) if isinstance(v, nnx.Param))


def _classify(module: nnx.Module, parent: Any) -> tuple[str, str]:
    """``(kind, note)`` for a module that holds parameters."""
    if isinstance(module, BatchEnsembleLinear | BatchEnsembleConv):
        return "ensemble", "r, s and bias per member; W shared"
    if isinstance(module, ENSEMBLE_LAYERS):
        return "ensemble", "kernel and bias per member"
    if type(module) is nnx.Conv and module.feature_group_count != 1:
        groups = module.feature_group_count
        return "grouped", f"grouped (feature_group_count={groups}): not supported"
    if type(module) in _CONVERTIBLE:
        return "convertible", "plain, convertible: not converted"
    if isinstance(module, _CONVERTIBLE):
        base = "Linear" if isinstance(module, nnx.Linear) else "Conv"
        return "subclass", f"subclass of nnx.{base}: not converted"
    if isinstance(module, _NORMS):
        return "norm", "normalisation: shared on purpose"
    if isinstance(parent, nnx.MultiHeadAttention):
        return "unsupported", "attention: not supported"
    return "unsupported", "not supported"


def _survey(model: nnx.Module) -> Iterator[tuple[tuple[Any, ...], nnx.Module, Row | None]]:
    """Every module of ``model`` once (a shared one at its first path), in tree order, with its
    :class:`Row` when it holds parameters (None otherwise)."""
    modules = dict(nnx.iter_modules(model))
    order = sorted(
        modules, key=lambda p: [(0, k, "") if isinstance(k, int) else (1, 0, str(k)) for k in p]
    )
    for path in order:
        module = modules[path]
        params = _own_params(module)
        if not params:
            yield path, module, None
            continue
        kind, note = _classify(module, modules.get(path[:-1]) if path else None)
        members = module.num_members if kind == "ensemble" else 1
        yield path, module, Row(path, type(module).__name__, params, members, kind, note)


@dataclasses.dataclass(frozen=True)
class Description:
    """What :func:`describe` returns: one :class:`Row` per module that holds parameters.

    ``str()`` is a plain-text table, ``_repr_markdown_`` the same table for a notebook.
    """

    rows: tuple[Row, ...]
    num_members: int

    @property
    def per_member(self) -> list[str]:
        """Paths of the per-member (ensemble) layers."""
        return [row.where for row in self.rows if row.per_member]

    @property
    def shared(self) -> list[str]:
        """Paths of the modules whose parameters every member shares."""
        return [row.where for row in self.rows if not row.per_member]

    @property
    def what(self) -> str:
        """The kind of model, e.g. ``"BatchEnsemble of 4 members"`` or ``"single model"``."""
        kinds = {row.type for row in self.rows if row.per_member}
        if not kinds:
            return "single model"
        if all(kind.startswith("BatchEnsemble") for kind in kinds):
            return f"BatchEnsemble of {self.num_members} members"
        if all(kind.startswith("NaiveEnsemble") for kind in kinds):
            return f"naive ensemble of {self.num_members} members"
        return f"ensemble of {self.num_members} members"

    def title(self) -> str:
        """One line: what the model is, and how much of it is per member."""
        if not self.per_member:
            plain = sum(row.kind == "convertible" for row in self.rows)
            return (
                f"single model (no ensemble layers): {plain} of {len(self.rows)} modules are "
                f"plain Linear / Conv"
            )
        total = sum(row.params for row in self.rows)
        per = sum(row.params for row in self.rows if row.per_member)
        return (
            f"{self.what}: {len(self.per_member)} of {len(self.rows)} modules per member, "
            f"holding {per:,} of {total:,} parameters"
        )

    def _cells(self) -> list[tuple[str, ...]]:
        return [
            (
                row.where,
                row.type,
                f"{row.params:,}",
                f"per member ({row.members})" if row.per_member else "shared",
                "" if row.per_member else row.note,
            )
            for row in self.rows
        ]

    def __str__(self) -> str:
        header = ("path", "type", "params", "members", "why shared")
        cells = [header, *self._cells()]
        widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
        lines = [self.title()]
        for c in cells:
            parts = [c[i].rjust(widths[i]) if i == 2 else c[i].ljust(widths[i]) for i in range(4)]
            lines.append("  ".join(parts + [c[4]]).rstrip())
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        lines = [
            f"**{self.title()}**",
            "",
            "| path | type | params | members | why shared |",
            "|---|---|--:|---|---|",
        ]
        lines += ["| " + " | ".join((f"`{c[0]}`", *c[1:])) + " |" for c in self._cells()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def describe(model: nnx.Module) -> Description:
    """Which modules of ``model`` are per member and which are shared, and why.

    One :class:`Row` per module that holds parameters, by path and type, in tree order: per member
    (the ensemble layers, with ``E``) or shared, with the reason a shared one stays shared
    (normalisation is shared on purpose, as in uncertainty-baselines; ``LinearGeneral``,
    ``Einsum``, ``Embed``, ``ConvTranspose`` and attention are not supported; a subclass of
    ``nnx.Linear`` / ``nnx.Conv`` or a grouped convolution is not converted; a plain ``Linear`` /
    ``Conv`` is what :func:`batchensemble` converts). A module referenced from two places is listed
    once, at its first path. ``print`` it for a table; a notebook shows it as a Markdown table.

    >>> from flax import nnx
    >>> import bel
    >>> class Net(nnx.Module):
    ...     def __init__(self, rngs):
    ...         self.embed = nnx.Embed(10, 8, rngs=rngs)
    ...         self.norm = nnx.LayerNorm(8, rngs=rngs)
    ...         self.head = nnx.Linear(8, 2, rngs=rngs)
    >>> print(bel.describe(bel.batchensemble(Net(nnx.Rngs(0)), 4, rngs=1)))
    BatchEnsemble of 4 members: 1 of 3 modules per member, holding 64 of 160 parameters
    path   type                 params  members         why shared
    embed  Embed                    80  shared          not supported
    head   BatchEnsembleLinear      64  per member (4)
    norm   LayerNorm                16  shared          normalisation: shared on purpose
    """
    check_module(model, "describe")
    rows = tuple(row for _, _, row in _survey(model) if row is not None)
    return Description(rows, num_members(model))


# --------------------------------------------------------------------------------------------------
# conversion


def _predicate(select: Select) -> Callable[[tuple[Any, ...], Any], bool]:
    if select is None:
        return lambda path, module: True
    return filterlib.to_predicate(select)


def _matches(keep: Callable[..., bool], path: tuple[Any, ...], module: Any) -> bool:
    # Only to explain an empty selection: a user's predicate written for layers (path[-1], ...)
    # may fail on other modules, which then simply did not match.
    try:
        return bool(keep(path, module))
    except Exception:  # noqa: BLE001
        return False


def _listing(rows: list[Row]) -> str:
    return "; ".join(map(str, rows)) or "none"


def _nothing_chosen(
    name: str, model: nnx.Module, survey: list, keep: Callable[..., bool], select: Select
) -> ValueError:
    rows = [row for _, _, row in survey if row is not None]
    if select is None:
        return ValueError(
            f"{name} found nothing to convert: expected at least one plain nnx.Linear or "
            f"nnx.Conv, got these modules with parameters: {_listing(rows)}"
        )
    matched = [path for path, module, _ in survey if _matches(keep, path, module)]
    matched = [p for p in matched if not any(p[: len(q)] == q != p for q in matched)]  # topmost
    if not matched:
        return ValueError(
            f"{name} found nothing to convert: select matched no module; the modules with "
            f"parameters are: {_listing(rows)}"
        )
    inside = [r for r in rows if any(r.path[: len(p)] == p for p in matched)]
    return ValueError(
        f"{name} found nothing to convert: select matched {', '.join(map(_where, matched))}, "
        f"which holds only layers bel cannot convert: {_listing(inside)}; bel converts plain "
        f"nnx.Linear and nnx.Conv layers (see bel.describe(model))"
    )


def _convert(
    model: M, E: Any, select: Select, make: Callable[[nnx.Module], nnx.Module], name: str
) -> M:
    check_module(model, name)
    E = check_int(E, "num_members", 1)
    survey = list(_survey(model))
    held = Description(  # num_members raises when the model's ensemble layers disagree
        tuple(row for _, _, row in survey if row is not None), num_members(model)
    )
    keep = _predicate(select)
    chosen = [
        (path, row)
        for path, module, row in survey
        if row is not None and row.kind in ("convertible", *_REFUSED) and keep(path, module)
    ]
    refused = [row for _, row in chosen if row.kind in _REFUSED]
    if refused:
        paths = ", ".join(repr(row.path) for row in refused)
        raise ValueError(
            f"{name} cannot convert {_listing(refused)}: bel converts layers whose type is exactly "
            f"nnx.Linear or nnx.Conv (with feature_group_count=1), and never replaces another "
            f"silently. Leave them out with select=, e.g. "
            f"select=lambda path, layer: path not in [{paths}]"
        )
    ensembles = [row for row in held.rows if row.per_member]
    if ensembles and held.num_members != E:
        raise ValueError(
            f"{name}: the model is already a {held.what} (ensemble layers at "
            f"{', '.join(row.where for row in ensembles)}), got num_members={E}; convert the "
            f"original model"
            + (
                f", or ask for {held.num_members} members to convert its plain layers"
                if chosen
                else ""
            )
        )
    if not chosen and ensembles:
        raise ValueError(
            f"{name}: the model is already a {held.what}, with every layer bel "
            f"can convert converted (ensemble layers at "
            f"{', '.join(row.where for row in ensembles)}); convert the original model instead"
        )
    if not chosen:
        raise _nothing_chosen(name, model, survey, keep, select)
    paths = {path for path, _ in chosen}

    def replace(path: tuple[Any, ...], node: Any) -> Any:
        return make(node) if path in paths and type(node) in _CONVERTIBLE else node

    return nnx.recursive_map(replace, clone(model))


def batchensemble(
    model: M,
    num_members: int,
    *,
    rngs: nnx.Rngs | int,
    select: Select = None,
    **layer_options: Unpack[LayerOptions],
) -> M:
    """A BatchEnsemble copy of ``model``: every ``nnx.Linear`` / ``nnx.Conv`` becomes an ensemble.

    ``model`` is left untouched (the result shares no array with it). Layers are found wherever
    nnx finds them (nested modules, ``nnx.List``, ``nnx.Dict``, ``nnx.Sequential``,
    ``nnx.data([...])`` lists and dicts); a layer used in two places becomes one converted layer
    used in both; a bare layer is returned converted. Only layers whose type is exactly
    ``nnx.Linear`` or ``nnx.Conv`` are converted: a subclass (``nnx.LoRALinear``, your own
    ``class Scaled(nnx.Linear)``) or a grouped convolution raises a ValueError naming its path,
    since replacing it would silently change what it computes. Every other layer stays shared;
    :func:`describe` lists which, and why.

    ``select`` chooses which layers to convert: an ``nnx`` filter on ``(path, layer)`` such as
    ``nnx.PathContains("head")``, or any callable (``lambda path, layer: path != ("lora",)``:
    all but one layer; only the last layer: the "ensemble late" design).
    ``layer_options`` go to every layer (``use_base_weights``, ``init``, ``r_mean``, ``r_std``,
    ``s_mean``, ``s_std``: see :class:`~bel.BatchEnsembleLinear`). All layers draw
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
    stream = as_rngs(rngs)

    def make(layer: nnx.Module) -> nnx.Module:
        cls = BatchEnsembleConv if isinstance(layer, nnx.Conv) else BatchEnsembleLinear
        return cls(layer, stream, num_members, **layer_options)

    return _convert(model, num_members, select, make, "batchensemble")


def naive_ensemble(model: M, num_members: int, *, rngs: nnx.Rngs | int, select: Select = None) -> M:
    """A naive-ensemble copy of ``model``: ``num_members`` independent weights per layer.

    Every selected ``nnx.Linear`` / ``nnx.Conv`` becomes a :class:`~bel.NaiveEnsembleLinear` /
    :class:`~bel.NaiveEnsembleConv` with independently drawn kernels from the one ``rngs`` stream,
    so the result is a naive ensemble of independently initialised copies of ``model``'s
    architecture that takes the same member-major batches as a BatchEnsemble. ``model`` is left
    untouched; which layers are converted, and ``select``, as for :func:`batchensemble`.

    >>> import bel
    >>> mlp = bel.mlp(2, 3, hidden=(8,), rngs=0)
    >>> bel.naive_ensemble(mlp, 4, rngs=1).layers[0].kernel.shape
    (4, 2, 8)
    """
    stream = as_rngs(rngs)

    def make(layer: nnx.Module) -> nnx.Module:
        cls = NaiveEnsembleConv if isinstance(layer, nnx.Conv) else NaiveEnsembleLinear
        return cls(layer, stream, num_members)

    return _convert(model, num_members, select, make, "naive_ensemble")
