"""Small models to convert and train: a ReLU MLP (:func:`mlp`) and a small CNN (:func:`cnn`).

Both are plain ``nnx.Sequential`` stacks of ``nnx.Linear`` / ``nnx.Conv`` layers, so
:func:`bel.batchensemble` converts every layer of them; :func:`global_average` is the CNN's
pooling between its convolutions and its head.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
from flax import nnx

from bel._checks import as_rngs
from bel.layers.common import lecun_normal, zeros

__all__ = ["mlp", "cnn", "global_average"]

# flax's default initialisers (LeCun-normal kernels, zero biases), drawn so that a new layer shape
# compiles nothing (bel.layers.common.lecun_normal)
_INIT = dict(kernel_init=lecun_normal, bias_init=zeros)


def mlp(
    in_features: int,
    out_features: int,
    *,
    hidden: Sequence[int] = (64, 64),
    rngs: nnx.Rngs | int,
) -> nnx.Sequential:
    """A ReLU multi-layer perceptron ``in → hidden… → out`` as an ``nnx.Sequential`` of Linears.

    >>> model = mlp(2, 3, hidden=(16,), rngs=0)
    >>> [(layer.in_features, layer.out_features) for layer in model.layers[::2]]
    [(2, 16), (16, 3)]
    """
    rngs = as_rngs(rngs)
    sizes = [in_features, *hidden, out_features]
    layers: list[Any] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nnx.Linear(a, b, rngs=rngs, **_INIT))
        if i < len(sizes) - 2:
            layers.append(nnx.relu)
    return nnx.Sequential(*layers)


def global_average(h: jax.Array) -> jax.Array:
    """Feature maps ``[N, height, width, channels]`` averaged over positions: ``[N, channels]``.

    >>> import jax.numpy as jnp
    >>> global_average(jnp.ones((2, 4, 4, 3))).shape
    (2, 3)
    """
    return h.mean(axis=(1, 2))


def cnn(
    in_channels: int,
    out_features: int,
    *,
    channels: Sequence[int] = (8, 16),
    rngs: nnx.Rngs | int,
) -> nnx.Sequential:
    """A small ReLU CNN for images ``[N, height, width, in_channels]``, as an ``nnx.Sequential``.

    One 3×3 ``nnx.Conv`` per entry of ``channels`` (``SAME`` padding; every one after the first
    with stride 2), then :func:`global_average` over positions and an ``nnx.Linear`` head.

    >>> import jax.numpy as jnp
    >>> model = cnn(1, 2, channels=(8, 16), rngs=0)
    >>> model(jnp.ones((5, 8, 8, 1))).shape
    (5, 2)
    """
    rngs = as_rngs(rngs)
    sizes = [in_channels, *channels]
    layers: list[Any] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        stride = 1 if i == 0 else 2
        conv = nnx.Conv(a, b, (3, 3), strides=stride, rngs=rngs, **_INIT)
        layers += [conv, nnx.relu]
    return nnx.Sequential(
        *layers, global_average, nnx.Linear(sizes[-1], out_features, rngs=rngs, **_INIT)
    )
