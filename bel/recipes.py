"""Recipes assembled from bel's pieces: the TabM-style mini-ensemble, and one method over seeds.

:func:`tabm_style` converts a model the way TabM (Gorishniy et al., ICLR 2025,
`yandex-research/tabm <https://github.com/yandex-research/tabm>`_) initialises its
BatchEnsemble MLP: the members differ **only in the first layer** at initialisation (``r`` of
the first layer from random signs, its ``s`` = 1), and every later layer starts with
``r = s = 1``, i.e. as the one shared ``W``. Training (the mean of the members' losses, as
:func:`bel.fit` does) and prediction (the mean of the members' probabilities) are bel's own.

:func:`over_seeds` runs one method for each seed and gathers its scores, one array per score
with one entry per seed: the per-seed numbers that :func:`bel.compare.seed_gap` turns into a
verdict and :func:`bel.plots.plot_over_seeds` draws as dots.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import jax.numpy as jnp
import numpy as np
from flax import nnx

from bel._checks import check_int, check_module
from bel.convert import batchensemble
from bel.layers import BatchEnsembleConv, BatchEnsembleLinear

__all__ = ["tabm_style", "over_seeds"]

M = TypeVar("M")


def tabm_style(model: M, num_members: int, *, rngs: nnx.Rngs | int) -> M:
    """A BatchEnsemble copy of ``model`` whose members differ only in the first layer at init.

    Every plain ``nnx.Linear`` / ``nnx.Conv`` becomes a BatchEnsemble layer sharing the model's
    ``W`` (as :func:`bel.batchensemble` does). The **first** one in nnx's graph order (for
    ``bel.mlp``, the input layer) gets ``r`` from
    random signs ±1 and ``s = 1``; every other one ``r = s = 1``. So member ``k`` starts as the
    base network applied to ``x ∘ r_k``: the members see differently signed inputs and share
    everything else, the initialisation of TabM (``tabm_init``), whose authors find the members
    "weak individually, but powerful collectively". ``model`` is left untouched.

    >>> import bel
    >>> model = bel.mlp(3, 2, hidden=(8, 8), rngs=0)
    >>> tabm = tabm_style(model, 16, rngs=1)
    >>> first, second = tabm.layers[0], tabm.layers[2]
    >>> sorted(set(first.r[...].ravel().tolist())), bool((first.s[...] == 1).all())
    ([-1.0, 1.0], True)
    >>> bool((second.r[...] == 1).all() and (second.s[...] == 1).all()), bel.num_members(tabm)
    (True, 16)
    """
    model = check_module(model, "tabm_style")
    num_members = check_int(num_members, "num_members", 1)
    ensemble = batchensemble(model, num_members, rngs=rngs, init="random_sign")
    layers = [
        module
        for _, module in nnx.iter_modules(ensemble)
        if isinstance(module, BatchEnsembleLinear | BatchEnsembleConv)
    ]
    first, rest = layers[0], layers[1:]
    first.s[...] = jnp.ones_like(first.s[...])
    for layer in rest:  # the later layers start as the shared W: r = s = 1
        layer.r[...] = jnp.ones_like(layer.r[...])
        layer.s[...] = jnp.ones_like(layer.s[...])
    return ensemble


def over_seeds(
    run: Callable[[int], Mapping[str, float]], seeds: Sequence[int]
) -> dict[str, np.ndarray]:
    """``run(seed)`` for every seed, gathered: ``{score: array of one value per seed}``.

    ``run`` trains and measures one method for one seed and returns a dict of numbers (e.g. a
    :func:`bel.compare.classification_summary`); every seed must return the same scores. The
    arrays keep the order of ``seeds``, so two methods run over the same seeds pair up seed by
    seed for :func:`bel.compare.seed_gap`.

    >>> scores = over_seeds(lambda seed: {"seed": seed, "square": seed**2}, [0, 1, 2])
    >>> scores["square"].tolist()
    [0.0, 1.0, 4.0]
    """
    if not callable(run):
        raise ValueError(f"over_seeds expects a callable run(seed), got {type(run).__name__}")
    seeds = list(seeds)
    if not seeds or not all(
        isinstance(s, int | np.integer) and not isinstance(s, bool) for s in seeds
    ):
        raise ValueError(f"over_seeds expects a non-empty list of int seeds, got {seeds!r}")
    rows = [run(int(seed)) for seed in seeds]
    for seed, row in zip(seeds, rows, strict=True):
        if not isinstance(row, Mapping):
            raise ValueError(
                f"over_seeds: run({seed}) should return a dict {{score: number}}, got "
                f"{type(row).__name__}"
            )
        if set(row) != set(rows[0]):
            raise ValueError(
                f"over_seeds: run({seed}) returned scores {sorted(row)}, but run({seeds[0]}) "
                f"returned {sorted(rows[0])}; every seed must return the same scores"
            )
    return {key: np.array([float(row[key]) for row in rows]) for key in rows[0]}
