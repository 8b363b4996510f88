"""Tests for bel/models.py: the small MLP and CNN, and the import paths they keep."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

import bel
from bel import models


def test_every_import_path_reaches_the_same_functions():
    assert bel.mlp is models.mlp and bel.cnn is models.cnn
    assert bel.global_average is models.global_average
    from bel.train import cnn, global_average, mlp  # the path written before the move

    assert (mlp, cnn, global_average) == (models.mlp, models.cnn, models.global_average)


def test_mlp_builds_a_relu_stack():
    model = bel.mlp(3, 2, hidden=(5, 4), rngs=0)
    assert [(m.in_features, m.out_features) for m in model.layers[::2]] == [(3, 5), (5, 4), (4, 2)]
    assert all(f is nnx.relu for f in model.layers[1::2])
    assert bel.mlp(3, 2, hidden=(5, 4), rngs=nnx.Rngs(0)).layers[0].kernel.shape == (3, 5)
    np.testing.assert_array_equal(
        bel.mlp(3, 2, rngs=0).layers[0].kernel[...], bel.mlp(3, 2, rngs=0).layers[0].kernel[...]
    )


def test_cnn_builds_convolutions_then_an_average_then_a_head():
    model = bel.cnn(3, 5, channels=(4, 6, 8), rngs=0)
    convs = [m for m in model.layers if isinstance(m, nnx.Conv)]
    assert [(c.in_features, c.out_features, c.strides) for c in convs] == [
        (3, 4, 1), (4, 6, 2), (6, 8, 2)
    ]  # fmt: skip
    assert model(jnp.ones((2, 8, 8, 3))).shape == (2, 5)


def test_global_average_is_the_mean_over_positions():
    h = jnp.arange(2 * 3 * 4 * 5, dtype=jnp.float32).reshape(2, 3, 4, 5)
    np.testing.assert_allclose(bel.global_average(h), np.asarray(h).mean(axis=(1, 2)))
