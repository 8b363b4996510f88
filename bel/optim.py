"""Optimiser recipes that treat the fast weights (``r``, ``s``) as their own group, by type.

uncertainty-baselines trains BatchEnsemble with the fast weights' learning rate scaled down
(x0.5 on CIFAR, x0.25 on ImageNet) and without weight decay on ``r`` and ``s``. Here the group is
chosen by parameter *type* (:class:`~bel.FastWeight`), never by name, so renaming an attribute
cannot silently empty it.
"""

from __future__ import annotations

from typing import Any

import jax
import optax
from flax import nnx
from flax.nnx.filterlib import Filter

from bel._checks import check_module, is_real
from bel.layers import FastWeight

__all__ = ["fast_weight_labels", "fast_weight_optimizer"]


def _is_variable(x: Any) -> bool:
    return isinstance(x, nnx.Variable)


def fast_weight_labels(model: nnx.Module, wrt: Filter = nnx.Param) -> Any:
    """Label every parameter of ``model`` ``"fast"`` (a :class:`~bel.FastWeight`) or ``"slow"``.

    Returns a tree with the structure of ``nnx.state(model, wrt)``, one string per parameter, for
    ``optax.multi_transform``. The labels are read from the model, not from the arrays an
    optimiser sees: ``nnx.Optimizer`` hands ``tx.update`` plain arrays without their types.

    >>> from flax import nnx
    >>> import bel
    >>> layer = bel.BatchEnsembleLinear(nnx.Linear(2, 3, rngs=nnx.Rngs(0)), 0, 4)
    >>> labels = bel.optim.fast_weight_labels(layer)
    >>> {k: labels[k] for k in ("kernel", "bias", "r", "s")}
    {'kernel': 'slow', 'bias': 'slow', 'r': 'fast', 's': 'fast'}
    """
    check_module(model, "fast_weight_labels")
    return jax.tree.map(
        lambda v: "fast" if isinstance(v, FastWeight) else "slow",
        nnx.state(model, wrt),
        is_leaf=_is_variable,
    )


def fast_weight_optimizer(
    model: nnx.Module,
    learning_rate: float | optax.Schedule,
    *,
    fast_lr_multiplier: float = 0.5,
    weight_decay: float = 1e-4,
    wrt: Filter = nnx.Param,
) -> optax.GradientTransformation:
    """AdamW for the slow weights; Adam at ``fast_lr_multiplier`` × the rate, no decay, for r, s.

    Slow weights (kernels, biases, anything not a :class:`~bel.FastWeight`):
    ``optax.adamw(learning_rate, weight_decay=weight_decay)``. Fast weights:
    ``optax.adam(learning_rate)`` then ``optax.scale(fast_lr_multiplier)``, no weight decay. The
    groups are read from ``model`` by type (see :func:`fast_weight_labels`); use the result with
    ``nnx.Optimizer(model, tx, wrt=wrt)``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> import bel
    >>> model = bel.BatchEnsembleLinear(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), 0, 2)
    >>> tx = bel.fast_weight_optimizer(model, 1e-2)
    >>> opt = nnx.Optimizer(model, tx, wrt=nnx.Param)
    >>> loss = lambda m: jnp.mean(m(jnp.ones((4, 2))) ** 2)
    >>> _ = opt.update(model, nnx.grad(loss)(model))
    """
    m = fast_lr_multiplier
    traced = isinstance(m, jax.core.Tracer)  # bel.fit builds its optimiser under jit
    if not traced and (not (is_real(m) or isinstance(m, jax.Array) and m.ndim == 0) or not m >= 0):
        raise ValueError(f"fast_lr_multiplier must be a number >= 0, got {m!r}")
    return optax.multi_transform(
        {
            "slow": optax.adamw(learning_rate, weight_decay=weight_decay),
            "fast": optax.chain(optax.adam(learning_rate), optax.scale(fast_lr_multiplier)),
        },
        fast_weight_labels(model, wrt),
    )
