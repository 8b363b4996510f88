"""Tests for bel/train.py: mlp, fit (the one training loop) and predict.

The model knows its member count, so neither ``fit`` nor ``predict`` needs one; every input that
cannot mean what it says is a ValueError naming what was expected and what was received, raised
before anything is traced; non-parameter state (dropout RNG counts, BatchNorm statistics) moves
through the compiled loop; a member mask trains exactly the chosen members.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bel

E = 4
X, Y = bel.data.two_moons(40, seed=0)  # one data shape for the whole module: one compile each


def ensemble(seed: int = 0, members: int = E, **options) -> nnx.Module:
    return bel.batchensemble(
        bel.mlp(2, 2, hidden=(8,), rngs=seed), members, rngs=seed + 1, **options
    )


# --------------------------------------------------------------------------------------------------
# the member count comes from the model


def test_predict_infers_the_members_and_returns_each_members_outputs():
    model = ensemble()
    logits = bel.predict(model, X)
    assert logits.shape == (E, 40, 2)
    direct = bel.untile(model(bel.tile(X, E)), E)
    np.testing.assert_allclose(logits, direct, rtol=1e-5, atol=1e-5)
    assert bel.predict(bel.mlp(2, 3, hidden=(4,), rngs=0), X).shape == (1, 40, 3)


def test_fit_trains_every_member_on_all_the_data():
    # Each member sees every row: member k of the trained ensemble equals member k trained alone
    # on the same data, with the same loss (the ensemble's loss is the mean of the members').
    model = ensemble()
    losses = bel.fit(model, X, Y, steps=60, learning_rate=3e-2)
    assert losses.shape == (60,) and losses[-1] < 0.6 * losses[0]
    accuracy = bel.metrics.accuracy(bel.predict(model, X), Y)
    assert accuracy > 0.8


def test_explicit_num_members_is_only_a_check():
    model = ensemble()
    assert bel.predict(model, X, num_members=E).shape == (E, 40, 2)
    for call in (
        lambda: bel.predict(model, X, num_members=3),
        lambda: bel.fit(model, X, Y, steps=1, num_members=3),
    ):
        with pytest.raises(
            ValueError, match=r"num_members=3 disagrees with the model, which holds 4"
        ):
            call()


def test_layers_that_disagree_are_refused():
    mixed = nnx.Sequential(
        bel.BatchEnsembleLinear(nnx.Linear(2, 4, rngs=nnx.Rngs(0)), 1, 2),
        bel.BatchEnsembleLinear(nnx.Linear(4, 2, rngs=nnx.Rngs(0)), 1, 3),
    )
    with pytest.raises(ValueError, match=r"same number of members, got 2 members at layers/0; 3 "):
        bel.predict(mixed, X)


# --------------------------------------------------------------------------------------------------
# validation before tracing


BAD_FIT = [
    (
        dict(y=Y.astype(np.float32)),
        r"integer class labels of shape \(40,\) in \[0, 2\), got float32",
    ),
    (
        dict(y=Y[:, None]),
        r"integer class labels of shape \(40,\) .*got int32 labels of shape \(40, 1\)",
    ),
    (dict(y=Y + 1), r"class labels in \[0, 2\) for a model with 2 outputs, got labels from 1 to 2"),
    (dict(y=Y - 1), r"class labels in \[0, 2\) .*got labels from -1 to 0"),
    (dict(y=Y[:30]), r"as many targets as input rows, got inputs \(40, 2\) and targets \(30,\)"),
    (dict(x=np.ones((40, 3))), r"cannot take rows of shape \(3,\) \(inputs of shape \(40, 3\)\)"),
    (dict(x=np.ones(40)), r"inputs of shape \[N, features\.\.\.\] with N >= 1, got shape \(40,\)"),
    (dict(x=np.full((40, 2), np.nan)), r"finite inputs, got NaN or inf"),
    (dict(x=[["a", "b"]] * 40), r"numeric inputs .*got shape \(40, 2\) of dtype <U1"),
    (
        dict(loss="mse"),
        r"loss='mse' expects numeric targets of the model's output shape, \(40, 2\)",
    ),
    (dict(loss="hinge"), r"loss must be one of \('cross_entropy', 'mse'\), got 'hinge'"),
    (dict(steps=0), r"steps must be an int >= 1, got 0"),
    (dict(learning_rate=-1e-3), r"learning_rate must be a finite number >= 0, got -0\.001"),
    (dict(learning_rate=float("inf")), r"learning_rate must be a finite number >= 0, got inf"),
    (dict(fast_lr_multiplier=-1), r"fast_lr_multiplier must be a finite number >= 0, got -1"),
    (dict(fast_lr_multiplier=float("nan")), r"fast_lr_multiplier must be a finite .*got nan"),
    (dict(weight_decay="0.1"), r"weight_decay must be a finite number >= 0, got '0\.1'"),
    (dict(member_mask=[1, 0, 1]), r"member_mask must hold 4 entries of 0/1 .*got \[1, 0, 1\]"),
    (dict(member_mask=[0, 0, 0, 0]), r"member_mask .* at least one 1, got \[0, 0, 0, 0\]"),
    (dict(member_mask=[2, 0, 0, 0]), r"member_mask must hold 4 entries of 0/1"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_FIT)
def test_fit_refuses_what_cannot_mean_what_it_says(kwargs, message):
    model = ensemble()
    before = jax.tree.map(np.array, nnx.state(model))
    kwargs = dict(kwargs)
    x, y = kwargs.pop("x", X), kwargs.pop("y", Y)
    with pytest.raises(ValueError, match=message):
        bel.fit(model, x, y, steps=kwargs.pop("steps", 2), **kwargs)
    jax.tree.map(np.testing.assert_array_equal, nnx.state(model), before)


def test_regression_targets_need_the_output_shape_per_row():
    x, y = bel.data.gap_regression(32, seed=0)
    model = bel.batchensemble(bel.mlp(1, 1, hidden=(8,), rngs=0), 3, rngs=1)
    with pytest.raises(
        ValueError,
        match=r"expects numeric targets .*\(32, 1\), got float32 targets "
        r"of shape \(32,\) \(use y\[:, None\]\)",
    ):
        bel.fit(model, x, y[:, 0], loss="mse", steps=2)
    losses = bel.fit(model, x, y, loss="mse", steps=2)
    # The first loss is the mean of the members' MSE on the right targets, not a broadcast.
    outputs = bel.predict(bel.batchensemble(bel.mlp(1, 1, hidden=(8,), rngs=0), 3, rngs=1), x)
    np.testing.assert_allclose(losses[0], np.mean((np.asarray(outputs) - y[None]) ** 2), rtol=1e-5)


def test_predict_checks_its_inputs():
    model = ensemble()
    with pytest.raises(ValueError, match=r"predict: the model cannot take rows of shape \(5,\)"):
        bel.predict(model, np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"predict expects numeric inputs of shape \[N, features"):
        bel.predict(model, np.ones(2))
    with pytest.raises(ValueError, match=r"flax\.nnx\.Module, got int"):
        bel.predict(3, X)


# --------------------------------------------------------------------------------------------------
# the optimiser, the member mask, and state that is not trained


def test_every_call_starts_a_fresh_optimiser():
    # Adam's first step moves every weight by ~ the learning rate (m/sqrt(v) = ±1), whatever came
    # before; a resumed Adam would not. So one step after 50 steps moves the kernel by ~lr.
    model = ensemble()
    bel.fit(model, X, Y, steps=50, learning_rate=1e-2, fast_lr_multiplier=0.0)
    before = np.array(model.layers[0].kernel[...])
    bel.fit(model, X, Y, steps=1, learning_rate=1e-2, fast_lr_multiplier=0.0)
    step = np.abs(np.array(model.layers[0].kernel[...]) - before)
    moved = step[step > 0]
    np.testing.assert_allclose(moved, 1e-2, rtol=1e-2)


def test_member_mask_trains_exactly_the_chosen_members_like_a_smaller_ensemble():
    # The first 2 members of a 4-member model drawn with the same seed ARE the 2-member model, and
    # training with the mask [1, 1, 0, 0] gives them what training the 2-member model gives.
    big, small = ensemble(3, 4), ensemble(3, 2)
    for a, b in zip(big.layers[::2], small.layers[::2], strict=True):
        np.testing.assert_array_equal(a.r[...][:2], b.r[...])
        np.testing.assert_array_equal(a.s[...][:2], b.s[...])
    frozen = [np.array(layer.r[...][2:]) for layer in big.layers[::2]]
    losses_big = bel.fit(big, X, Y, steps=30, member_mask=[1, 1, 0, 0])
    losses_small = bel.fit(small, X, Y, steps=30)
    np.testing.assert_allclose(losses_big, losses_small, rtol=1e-4, atol=1e-6)
    for a, b, r_rest in zip(big.layers[::2], small.layers[::2], frozen, strict=True):
        np.testing.assert_allclose(a.kernel[...], b.kernel[...], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(a.r[...][:2], b.r[...], rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(a.r[...][2:], r_rest)  # masked members do not move


class DropoutNet(nnx.Module):
    def __init__(self):
        self.linear = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
        self.dropout = nnx.Dropout(0.5, rngs=nnx.Rngs(dropout=1))

    def __call__(self, x):
        return self.dropout(self.linear(x))


class BatchNormNet(nnx.Module):
    def __init__(self):
        self.linear = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
        self.norm = nnx.BatchNorm(2, rngs=nnx.Rngs(0))

    def __call__(self, x):
        return self.norm(self.linear(x))


def test_dropout_draws_a_fresh_mask_every_step_and_predict_is_deterministic():
    model = DropoutNet()
    losses = bel.fit(model, X, Y, steps=5, learning_rate=0.0)  # no learning: only masks change
    assert len(set(np.round(losses, 6).tolist())) == 5
    assert int(nnx.state(model, nnx.RngCount)["dropout"]["rngs"]["count"][...]) == 5
    assert model.dropout.deterministic is False  # fit did not change the model's own flags
    np.testing.assert_array_equal(bel.predict(model, X), bel.predict(model, X))
    assert bel.predict(model, X).shape == (1, 40, 2)


def test_batchnorm_statistics_update_during_fit_and_are_used_by_predict():
    model = BatchNormNet()
    bel.fit(model, X, Y, steps=20, learning_rate=0.0)
    features = np.asarray(model.linear(jnp.asarray(X)))
    # After 20 steps of momentum 0.99 the running mean has moved 1 - 0.99**20 of the way.
    np.testing.assert_allclose(
        model.norm.mean[...], (1 - 0.99**20) * features.mean(0), rtol=1e-4, atol=1e-6
    )
    expected = (features - model.norm.mean[...]) / np.sqrt(model.norm.var[...] + 1e-5)
    expected = expected * model.norm.scale[...] + model.norm.bias[...]
    np.testing.assert_allclose(bel.predict(model, X)[0], expected, rtol=1e-4, atol=1e-4)
    assert model.norm.use_running_average is False


def test_wrt_freezes_everything_else():
    model = ensemble()
    kernel = np.array(model.layers[0].kernel[...])
    bel.fit(model, X, Y, steps=5, wrt=bel.FastWeight)
    np.testing.assert_array_equal(model.layers[0].kernel[...], kernel)


def test_callback_reports_progress_in_chunks():
    seen = []
    losses = bel.fit(ensemble(), X, Y, steps=20, chunk=5, callback=lambda n, v: seen.append(n))
    assert seen == [5, 10, 15, 20] and losses.shape == (20,)


def test_mlp_builds_a_relu_stack():
    model = bel.mlp(3, 2, hidden=(5, 4), rngs=0)
    assert [(m.in_features, m.out_features) for m in model.layers[::2]] == [(3, 5), (5, 4), (4, 2)]
    assert bel.mlp(3, 2, hidden=(5, 4), rngs=nnx.Rngs(0)).layers[0].kernel.shape == (3, 5)


def test_a_convolutional_model_is_stepped_from_python_with_the_same_result():
    # On the CPU a convolution's gradient is slow inside a compiled loop, so fit steps a CNN
    # from Python; the training itself must be the same as the compiled loop's.
    x = np.random.default_rng(0).random((16, 6, 6, 1), dtype=np.float32)
    y = np.arange(16, dtype=np.int32) % 2
    model = bel.batchensemble(bel.cnn(1, 2, channels=(4,), rngs=0), 2, rngs=1)
    stepwise = bel.train.training_run(model, x, y)
    looped = bel.train.training_run(model, x, y)
    looped.stepwise = False
    assert stepwise.stepwise == (jax.default_backend() == "cpu")
    dense = bel.mlp(2, 2, hidden=(4,), rngs=0)
    assert not bel.train.training_run(dense, x[:, 0, :2, 0], y).stepwise
    np.testing.assert_allclose(stepwise.advance(7), looped.advance(7), rtol=1e-5, atol=1e-6)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        stepwise.params,
        looped.params,
    )


def test_cnn_builds_convolutions_then_an_average_then_a_head():
    model = bel.cnn(3, 5, channels=(4, 6, 8), rngs=0)
    convs = [m for m in model.layers if isinstance(m, nnx.Conv)]
    assert [(c.in_features, c.out_features, c.strides) for c in convs] == [
        (3, 4, 1), (4, 6, 2), (6, 8, 2)
    ]  # fmt: skip
    assert model(jnp.ones((2, 8, 8, 3))).shape == (2, 5)
