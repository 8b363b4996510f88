"""Tests for bel/recipes.py: the TabM-style conversion and running one method over seeds.

``tabm_style`` must give members that differ only in the first layer's ``r`` (random signs) at
initialisation, share the base model's kernels, leave the base model untouched, and train with
``bel.fit``. ``over_seeds`` must keep the seeds' order and refuse runs that do not line up.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bel
from bel.recipes import over_seeds, tabm_style


def base(seed=0):
    return bel.mlp(3, 2, hidden=(8, 8), rngs=seed)


def test_tabm_style_members_differ_only_in_the_first_layer_r():
    model = tabm_style(base(), 8, rngs=1)
    layers = [layer for layer in model.layers if isinstance(layer, bel.BatchEnsembleLinear)]
    assert len(layers) == 3 and bel.num_members(model) == 8
    first, rest = layers[0], layers[1:]
    assert set(np.unique(first.r[...]).tolist()) == {-1.0, 1.0}
    assert np.all(first.s[...] == 1)
    for layer in rest:
        assert np.all(layer.r[...] == 1) and np.all(layer.s[...] == 1)
    for layer in layers:  # every member starts from the same bias
        assert np.all(layer.bias[...] == layer.bias[...][0])


def test_tabm_style_member_k_is_the_base_on_sign_flipped_inputs():
    plain = base()
    model = tabm_style(plain, 4, rngs=2)
    x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)), jnp.float32)
    r = model.layers[0].r[...]
    members = bel.predict(model, x)
    for k in range(4):
        np.testing.assert_allclose(members[k], plain(x * r[k]), rtol=1e-5, atol=1e-6)


def test_tabm_style_shares_the_kernels_and_leaves_the_model_untouched():
    plain = base()
    before = [np.array(layer.kernel[...]) for layer in plain.layers[::2]]
    model = tabm_style(plain, 4, rngs=1)
    for layer, kernel in zip(model.layers[::2], before, strict=True):
        np.testing.assert_array_equal(layer.kernel[...], kernel)
    assert all(isinstance(layer, nnx.Linear) for layer in plain.layers[::2])
    for layer, kernel in zip(plain.layers[::2], before, strict=True):
        np.testing.assert_array_equal(layer.kernel[...], kernel)


def test_tabm_style_signs_depend_on_the_seed_and_the_model_trains():
    a, b = tabm_style(base(), 8, rngs=1), tabm_style(base(), 8, rngs=2)
    assert not np.array_equal(a.layers[0].r[...], b.layers[0].r[...])
    x, y = bel.data.two_moons(64, seed=0)
    model = tabm_style(bel.mlp(2, 2, hidden=(16,), rngs=0), 8, rngs=1)
    losses = bel.fit(model, x, y, steps=100, learning_rate=3e-2)
    assert losses[-1] < 0.5 * losses[0]


def test_tabm_style_on_a_bare_layer():
    layer = tabm_style(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), 4, rngs=1)
    assert isinstance(layer, bel.BatchEnsembleLinear)
    assert set(np.unique(layer.r[...]).tolist()) <= {-1.0, 1.0} and np.all(layer.s[...] == 1)


@pytest.mark.parametrize(
    ("model", "members", "message"),
    [
        ("not a model", 4, "expects a flax.nnx.Module"),
        (nnx.Sequential(nnx.relu), 4, "found nothing to convert"),
        (bel.mlp(2, 2, hidden=(4,), rngs=0), 0, "num_members"),
    ],
)
def test_tabm_style_errors(model, members, message):
    with pytest.raises(ValueError, match=message):
        tabm_style(model, members, rngs=0)


def test_over_seeds_keeps_the_order_of_the_seeds():
    scores = over_seeds(lambda seed: {"seed": seed, "twice": 2 * seed}, [3, 1, 2])
    assert scores["seed"].tolist() == [3, 1, 2] and scores["twice"].tolist() == [6, 2, 4]


@pytest.mark.parametrize(
    ("run", "seeds", "message"),
    [
        ("no", [0], "callable"),
        (lambda s: {"a": s}, [], "non-empty list of int seeds"),
        (lambda s: {"a": s}, [0, 1.5], "int seeds"),
        (lambda s: s, [0], "should return a dict"),
        (lambda s: {"a": s} if s == 0 else {"b": s}, [0, 1], "the same scores"),
    ],
)
def test_over_seeds_errors(run, seeds, message):
    with pytest.raises(ValueError, match=message):
        over_seeds(run, seeds)
