"""Tests for bel/optim.py: the fast-weight optimiser recipe.

A grouping that silently selects nothing looks exactly like one that works, so every test here
checks that the grouping *bites*: weight decay moves the slow weights and never r or s, the
learning-rate multiplier scales r and s and nothing else, and the labels follow the parameter type,
not its name.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import bel
from bel.layers import FastWeight

E = 3  # and the layer shapes below: those of tests/test_convert.py (shared compile cache)


def make_model(seed: int = 0) -> nnx.Sequential:
    """A converted three-layer tanh MLP (no dead units: every gradient entry is nonzero)."""
    mlp = nnx.Sequential(
        nnx.Linear(4, 6, rngs=nnx.Rngs(seed)),
        nnx.tanh,
        nnx.Linear(6, 6, rngs=nnx.Rngs(seed + 1)),
        nnx.tanh,
        nnx.Linear(6, 2, rngs=nnx.Rngs(seed + 2)),
    )
    model = bel.batchensemble(mlp, E, rngs=nnx.Rngs(seed + 3))
    for i in (0, 2, 4):
        layer = model.layers[i]
        layer.bias[...] = jax.random.normal(jax.random.key(seed + i), layer.bias.shape)
    return model


def flat(tree) -> dict[tuple, object]:
    """{path: leaf} over Variables (or plain leaves), paths as tuples of plain keys."""
    leaves = jax.tree.flatten_with_path(tree, is_leaf=lambda x: isinstance(x, nnx.Variable))[0]
    return {tuple(getattr(k, "key", getattr(k, "idx", k)) for k in path): v for path, v in leaves}


def snapshot(model) -> dict[tuple, np.ndarray]:
    return {p: np.array(v[...]) for p, v in flat(nnx.state(model, nnx.Param)).items()}


def is_fast(path: tuple) -> bool:
    return path[-1] in ("r", "s")


def loss_fn(model, x, y):
    return jnp.mean((model(x) - y) ** 2)


@nnx.jit
def train_step(model, optimizer, x, y):
    loss, grads = nnx.value_and_grad(loss_fn)(model, x, y)
    optimizer.update(model, grads)
    return loss


@nnx.jit
def zero_grad_step(model, optimizer):
    grads = jax.tree.map(jnp.zeros_like, nnx.state(model, nnx.Param))
    optimizer.update(model, grads)


def data(seed: int = 0):
    x = jax.random.normal(jax.random.key(seed), (4, 4))
    return bel.tile(x, E), jax.random.normal(jax.random.key(seed + 1), (4 * E, 2))


# --------------------------------------------------------------------------------------------------
# labels


def test_labels_are_fast_exactly_for_the_fast_weights():
    model = make_model()
    labels = flat(bel.optim.fast_weight_labels(model))
    params = flat(nnx.state(model, nnx.Param))
    assert labels.keys() == params.keys()
    for path, variable in params.items():
        expected = "fast" if isinstance(variable, FastWeight) else "slow"
        assert labels[path] == expected, path
    fast = sorted(p for p, label in labels.items() if label == "fast")
    assert fast == [("layers", i, n) for i in (0, 2, 4) for n in ("r", "s")]
    assert sum(label == "slow" for label in labels.values()) == 6  # 3 kernels, 3 biases


def test_labels_follow_the_type_not_the_name():
    class Odd(nnx.Module):
        def __init__(self):
            self.r = nnx.Param(jnp.ones(3))  # named like a fast weight, but is not one
            self.alpha = FastWeight(jnp.ones(2))  # a fast weight under another name

    labels = bel.optim.fast_weight_labels(Odd())
    assert labels["r"] == "slow" and labels["alpha"] == "fast"


def test_a_model_without_fast_weights_is_all_slow():
    labels = flat(bel.optim.fast_weight_labels(nnx.Linear(2, 3, rngs=nnx.Rngs(0))))
    assert set(labels.values()) == {"slow"}


# --------------------------------------------------------------------------------------------------
# the grouping bites


def test_weight_decay_shrinks_slow_weights_and_never_touches_r_and_s():
    lr, wd = 0.1, 0.5
    model = make_model()
    before = snapshot(model)
    optimizer = nnx.Optimizer(
        model, bel.fast_weight_optimizer(model, lr, weight_decay=wd), wrt=nnx.Param
    )
    for _ in range(3):
        zero_grad_step(model, optimizer)
    after = snapshot(model)
    for path, value in before.items():
        if is_fast(path):
            np.testing.assert_array_equal(after[path], value, err_msg=f"{path} was decayed")
        else:  # AdamW with a zero gradient: p <- p (1 - lr wd), three times
            assert np.all(value != 0), path
            np.testing.assert_allclose(after[path], value * (1 - lr * wd) ** 3, rtol=1e-6)


def test_fast_lr_multiplier_zero_freezes_r_and_s_only():
    model = make_model()
    before = snapshot(model)
    tx = bel.fast_weight_optimizer(model, 0.05, fast_lr_multiplier=0.0, weight_decay=0.0)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x, y = data()
    losses = [float(train_step(model, optimizer, x, y)) for _ in range(3)]
    after = snapshot(model)
    for path, value in before.items():
        if is_fast(path):
            np.testing.assert_array_equal(after[path], value, err_msg=f"{path} moved")
        else:
            assert np.all(after[path] != value), f"{path} did not move everywhere"
    assert losses[-1] < losses[0]


def test_fast_lr_multiplier_scales_the_fast_updates_and_nothing_else():
    lr, mult = 0.01, 0.25
    x, y = data()
    deltas = {}
    for m in (1.0, mult):
        model = make_model()
        before = snapshot(model)
        tx = bel.fast_weight_optimizer(model, lr, fast_lr_multiplier=m, weight_decay=1e-2)
        train_step(model, nnx.Optimizer(model, tx, wrt=nnx.Param), x, y)
        deltas[m] = {p: v - before[p] for p, v in snapshot(model).items()}
    for path, full in deltas[1.0].items():
        assert np.all(full != 0), path  # every entry of every parameter got an update
        # the first Adam step moves each coordinate by ~lr·sign(g): the rate is visible directly
        np.testing.assert_allclose(np.abs(full), lr, rtol=0.02, atol=1e-4, err_msg=str(path))
        expected = mult * full if is_fast(path) else full
        np.testing.assert_allclose(deltas[mult][path], expected, rtol=1e-4, atol=1e-6)


def test_works_with_a_learning_rate_schedule():
    model = make_model()
    schedule = optax.linear_schedule(0.05, 0.0, transition_steps=10)
    optimizer = nnx.Optimizer(model, bel.fast_weight_optimizer(model, schedule), wrt=nnx.Param)
    x, y = data(1)
    losses = [float(train_step(model, optimizer, x, y)) for _ in range(5)]
    assert losses[-1] < losses[0]


def test_training_under_jit_moves_every_member_factor():
    model = make_model()
    before = snapshot(model)
    optimizer = nnx.Optimizer(model, bel.fast_weight_optimizer(model, 1e-2), wrt=nnx.Param)
    x, y = data(2)
    losses = [float(train_step(model, optimizer, x, y)) for _ in range(20)]
    assert losses[-1] < 0.9 * losses[0]
    for path, value in snapshot(model).items():
        if is_fast(path):  # every member's r and s is trained, not just member 0's
            assert np.all(np.abs(value - before[path]).max(axis=1) > 0), path


@pytest.mark.parametrize("bad", [-0.5, np.float32(-1.0), float("nan"), True, "0.5", None])
def test_a_fast_lr_multiplier_that_is_not_a_number_at_least_zero_is_refused(bad):
    model = bel.BatchEnsembleLinear(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), 0, 2)
    with pytest.raises(ValueError, match=r"^fast_lr_multiplier must be a number >= 0, got "):
        bel.fast_weight_optimizer(model, 1e-2, fast_lr_multiplier=bad)
    for good in (0, np.float64(0.25), jnp.float32(0.5)):
        bel.fast_weight_optimizer(model, 1e-2, fast_lr_multiplier=good)


def test_a_traced_fast_lr_multiplier_is_left_to_optax():
    """bel.fit builds its optimiser inside jit, where the multiplier is a tracer."""
    model = bel.BatchEnsembleLinear(nnx.Linear(2, 1, rngs=nnx.Rngs(0)), 0, 2)
    params = nnx.state(model, nnx.Param)

    @jax.jit
    def init(m):
        return bel.fast_weight_optimizer(model, 1e-2, fast_lr_multiplier=m).init(params)

    assert jax.tree.leaves(init(0.5))
