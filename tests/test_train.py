"""Tests for bel/train.py: fit (the one training loop) and predict.

The model knows its member count, so neither ``fit`` nor ``predict`` needs one; every input that
cannot mean what it says is a ValueError naming what was expected and what was received, raised
before anything is traced; non-parameter state (dropout RNG counts, BatchNorm statistics) moves
through the compiled loop; a member mask trains exactly the chosen members.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from hypothesis import given
from hypothesis import strategies as st

import bel

from support import compiled

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
    (
        dict(x=np.ones((40, 3))),
        r"cannot take rows of shape \(3,\) and dtype float32 \(inputs of shape \(40, 3\)\)",
    ),
    (dict(x=np.ones(40)), r"inputs of shape \[N, features\.\.\.\] with N >= 1, got shape \(40,\)"),
    (dict(x=np.full((40, 2), np.nan)), r"finite inputs, got NaN or inf"),
    (dict(x=[["a", "b"]] * 40), r"numeric inputs .*got shape \(40, 2\) of dtype <U1"),
    (
        dict(loss="mse"),
        r"loss='mse' expects numeric targets of the model's output shape, \(40, 2\)",
    ),
    (dict(loss="hinge"), r"loss must be one of \('cross_entropy', 'mse'\), got 'hinge'"),
    (dict(steps=0), r"steps must be an int >= 1, got 0"),
    (dict(steps=True), r"steps must be an int >= 1, got True"),
    (dict(steps=3, epochs=2), r"fit takes steps or epochs, not both; got steps=3, epochs=2"),
    (dict(steps=None, epochs=0), r"epochs must be an int >= 1, got 0"),
    (dict(steps=None, epochs=1.5), r"epochs must be an int >= 1, got 1\.5"),
    (dict(batch_size=0), r"batch_size must be an int in \[1, 40\], got 0"),
    (dict(batch_size=41), r"batch_size must be an int in \[1, 40\], got 41"),
    (dict(batch_size=8.0), r"batch_size must be an int in \[1, 40\], got 8\.0"),
    (
        dict(batch_size=10, members_see="split"),
        r"members_see='split' cuts each batch into 4 sub-batches, one per member: batch_size "
        r"must be a multiple of 4, got 10",
    ),
    (dict(x=X[:3], y=Y[:3], members_see="split"), r"needs at least 4 rows, got 3"),
    (dict(members_see="each"), r"members_see must be one of \('same', 'split'\), got 'each'"),
    (dict(seed=-1), r"seed must be an int >= 0, got -1"),
    (dict(seed="0"), r"seed must be an int >= 0, got '0'"),
    (dict(chunk=0, callback=print), r"chunk must be an int >= 1, got 0"),
    (
        dict(x=np.full((40, 2), 2**40, np.int64)),
        r"integer inputs that fit in int32, got int64 inputs from 1099511627776",
    ),
    (
        dict(learning_rate=jnp.float32(-1)),
        r"learning_rate must be a finite number >= 0 or an optax schedule, got Arr",
    ),
    (
        dict(learning_rate=np.ones(2)),
        r"learning_rate must be a finite number >= 0 or an optax schedule, got array",
    ),
    (dict(learning_rate=lambda step: -1.0), r"learning_rate: a schedule must give a finite rate"),
    (dict(learning_rate=lambda: 1.0), r"learning_rate: the schedule .* failed at step 0"),
    (
        dict(learning_rate=-1e-3),
        r"learning_rate must be a finite number >= 0 or an optax schedule, got -0\.001",
    ),
    (
        dict(learning_rate=float("inf")),
        r"learning_rate must be a finite number >= 0 or an optax schedule, got inf",
    ),
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
        bel.fit(model, x, y, **{"steps": 2, **kwargs})
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
    with pytest.raises(ValueError, match=r"flax\.nnx\.Module, got builtins\.int"):
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


# --------------------------------------------------------------------------------------------------
# mini-batches, epochs, and the two protocols (which rows each member trains on)


def member_losses(model: nnx.Module, rows_per_member: list[np.ndarray]) -> np.ndarray:
    """Each member's mean cross-entropy on its own rows, from its outputs on every row."""
    logits = np.asarray(bel.predict(model, X), np.float64)
    losses = []
    for k, rows in enumerate(rows_per_member):
        z = logits[k, rows]
        log_p = (
            z
            - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True))
            - z.max(1, keepdims=True)
        )
        losses.append(-log_p[np.arange(len(rows)), Y[rows]].mean())
    return np.array(losses)


@pytest.mark.parametrize("members_see", ["same", "split"])
def test_each_member_is_scored_on_its_own_rows(members_see):
    # With a zero learning rate the model never moves, so every step's loss is the mean over
    # members of each member's loss on the rows the protocol gave it, computed here by hand.
    model = ensemble()
    losses = bel.fit(model, X, Y, steps=6, batch_size=8, members_see=members_see, seed=3,
                     learning_rate=0.0)  # fmt: skip
    batches = bel.train.Batches(40, 8, seed=3)
    for t, rows in enumerate(batches.rows(0, 6)):
        per_member = [rows] * E if members_see == "same" else np.split(rows, E)
        np.testing.assert_allclose(losses[t], member_losses(model, per_member).mean(), rtol=1e-5)


def test_split_without_a_batch_size_shuffles_every_step_and_splits_all_rows():
    model = ensemble()
    losses = bel.fit(model, X, Y, steps=3, members_see="split", seed=5, learning_rate=0.0)
    for t in range(3):
        order = np.random.default_rng([5, t]).permutation(40)
        expected = member_losses(model, np.split(order, E)).mean()
        np.testing.assert_allclose(losses[t], expected, rtol=1e-5)


def test_split_gives_member_k_gradients_from_sub_batch_k_only():
    # Change the labels of member 1's sub-batch only: after one step, every other member's own
    # weights (r, s) are exactly as before, member 1's are not.
    rows = np.split(bel.train.Batches(40, 16, seed=0).rows(0, 1)[0], E)
    flipped = Y.copy()
    flipped[rows[1]] = 1 - flipped[rows[1]]
    trained = []
    for labels in (Y, flipped):
        model = ensemble()
        bel.fit(model, X, labels, steps=1, batch_size=16, members_see="split")
        trained.append(model.layers[0])
    for name in ("r", "s"):
        a, b = (np.asarray(getattr(layer, name)[...]) for layer in trained)
        np.testing.assert_array_equal(np.delete(a, 1, axis=0), np.delete(b, 1, axis=0))
        assert not np.array_equal(a[1], b[1])


def test_split_and_the_member_mask_count_only_the_chosen_members_sub_batches():
    model = ensemble()
    losses = bel.fit(model, X, Y, steps=2, batch_size=16, members_see="split",
                     member_mask=[0, 1, 0, 1], learning_rate=0.0)  # fmt: skip
    for t, rows in enumerate(bel.train.Batches(40, 16, seed=0).rows(0, 2)):
        expected = member_losses(model, np.split(rows, E))[[1, 3]].mean()
        np.testing.assert_allclose(losses[t], expected, rtol=1e-5)


def test_mini_batches_are_reproducible_from_the_seed_and_differ_across_seeds():
    def run(seed):
        return bel.fit(ensemble(), X, Y, steps=10, batch_size=8, seed=seed)

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.allclose(run(0), run(1))
    batches = bel.train.Batches(40, 8, seed=0)
    epoch = batches.rows(0, 5)  # one epoch: every row exactly once
    assert sorted(epoch.ravel().tolist()) == list(range(40))
    assert not np.array_equal(batches.rows(5, 5), epoch)  # a fresh permutation per epoch


@given(n=st.integers(1, 50), data=st.data())
def test_every_epoch_takes_distinct_rows_and_the_seed_fixes_them(n, data):
    size = data.draw(st.integers(1, n))
    seed, start = data.draw(st.integers(0, 2**32 - 1)), data.draw(st.integers(0, 20))
    batches = bel.train.Batches(n, size, seed)
    per_epoch = n // size
    rows = batches.rows(start * per_epoch, per_epoch)  # one whole epoch
    assert rows.shape == (per_epoch, size) and rows.dtype == np.int32
    assert len(set(rows.ravel().tolist())) == per_epoch * size  # no row twice in an epoch
    assert rows.min() >= 0 and rows.max() < n
    np.testing.assert_array_equal(
        bel.train.Batches(n, size, seed).rows(start * per_epoch, per_epoch), rows
    )


def test_epochs_are_steps_over_the_data():
    model = ensemble()
    by_epochs = bel.fit(model, X, Y, epochs=3, batch_size=16, seed=2)  # 40 // 16 = 2 a epoch
    by_steps = bel.fit(ensemble(), X, Y, steps=6, batch_size=16, seed=2)
    np.testing.assert_array_equal(by_epochs, by_steps)
    assert bel.fit(ensemble(), X, Y, epochs=3).shape == (3,)  # full batch: one step an epoch
    assert bel.fit(ensemble(), X, Y).shape == (500,)  # neither: 500 steps, as always


def test_a_run_continues_with_the_next_batches_across_chunks():
    whole = bel.fit(ensemble(), X, Y, steps=12, batch_size=8)
    chunked = bel.fit(ensemble(), X, Y, steps=12, batch_size=8, chunk=5, callback=print)
    np.testing.assert_allclose(whole, chunked, rtol=1e-6)


def test_stepwise_driver_takes_the_same_mini_batches():
    x = np.random.default_rng(0).random((16, 6, 6, 1), dtype=np.float32)
    y = np.arange(16, dtype=np.int32) % 2
    model = bel.batchensemble(bel.cnn(1, 2, channels=(4,), rngs=0), 2, rngs=1)
    for options in (dict(batch_size=4, members_see="split"), dict(batch_size=6)):
        stepwise = bel.train.training_run(model, x, y, **options)
        looped = bel.train.training_run(model, x, y, **options)
        stepwise.stepwise, looped.stepwise = True, False
        np.testing.assert_allclose(stepwise.advance(7), looped.advance(7), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------------------------------
# rates, dtypes, compiled programs


def test_rates_accept_numpy_and_jax_scalars_and_schedules():
    reference = bel.fit(ensemble(), X, Y, steps=5, learning_rate=1e-2, weight_decay=1e-4)
    for rate, decay in [(np.float32(1e-2), np.float64(1e-4)), (jnp.float32(1e-2), jnp.array(1e-4))]:
        losses = bel.fit(ensemble(), X, Y, steps=5, learning_rate=rate, weight_decay=decay)
        np.testing.assert_allclose(losses, reference, rtol=1e-6)
    constant = bel.fit(ensemble(), X, Y, steps=5, learning_rate=optax.constant_schedule(1e-2),
                       weight_decay=1e-4)  # fmt: skip
    np.testing.assert_allclose(constant, reference, rtol=1e-6)
    frozen = bel.fit(ensemble(), X, Y, steps=5, learning_rate=lambda step: 0.0 * step)
    assert len(set(frozen.tolist())) == 1  # a rate of zero at every step: nothing moves


class TokenNet(nnx.Module):
    def __init__(self):
        self.embed = nnx.Embed(10, 4, rngs=nnx.Rngs(0))
        self.head = nnx.Linear(4, 2, rngs=nnx.Rngs(1))

    def __call__(self, ids):
        return self.head(self.embed(ids).mean(axis=1))


def test_token_ids_reach_an_embedding_as_integers():
    ids = np.random.default_rng(0).integers(0, 10, size=(40, 3))  # int64, as numpy draws them
    labels = (ids[:, 0] >= 5).astype(np.int32)
    model = bel.batchensemble(TokenNet(), 2, rngs=2)
    losses = bel.fit(model, ids, labels, steps=40, learning_rate=5e-2, batch_size=8)
    assert losses[-5:].mean() < losses[:5].mean()
    assert bel.predict(model, ids).shape == (2, 40, 2)
    np.testing.assert_allclose(bel.predict(model, ids, batch_size=16), bel.predict(model, ids),
                               rtol=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match=r"rows of shape \(3,\) and dtype float32 .*nnx\.Embed"):
        bel.predict(model, ids.astype(np.float32))
    # A float model still gets floats from integer inputs (flax promotes them to its dtype).
    assert bel.predict(ensemble(), np.ones((5, 2), np.int32)).dtype == jnp.float32


def test_predict_in_chunks_equals_predict_at_once():
    model = ensemble()
    whole = bel.predict(model, X)
    for size in (16, 40, 64):  # a partial last chunk, one exact chunk, one padded chunk
        np.testing.assert_allclose(bel.predict(model, X, batch_size=size), whole, rtol=1e-6,
                                   atol=1e-7)  # fmt: skip
    with pytest.raises(ValueError, match=r"batch_size must be an int >= 1, got 0"):
        bel.predict(model, X, batch_size=0)


def compiles(fn) -> int:
    """How many programs XLA compiled while ``fn`` ran."""
    with compiled() as seconds:
        fn()
    return len(seconds)


def test_new_step_counts_epochs_rates_and_similar_data_sizes_compile_nothing():
    bel.fit(ensemble(), X, Y, steps=7, batch_size=8, learning_rate=1e-2)
    bel.fit(ensemble(), X, Y, steps=3, learning_rate=1e-2)
    x37, y37 = X[:37], Y[:37]  # pads to the same 40 rows as X
    again = [
        lambda: bel.fit(ensemble(), X, Y, steps=13, batch_size=8, learning_rate=3e-3),
        lambda: bel.fit(ensemble(), X, Y, epochs=2, batch_size=8, weight_decay=0.1),
        lambda: bel.fit(ensemble(), X, Y, epochs=5, batch_size=8, seed=4),
        lambda: bel.fit(ensemble(), x37, y37, steps=2, batch_size=8),
        lambda: bel.fit(ensemble(), X, Y, steps=11, learning_rate=jnp.float32(1e-3)),
        lambda: bel.fit(ensemble(), X, Y, epochs=4, member_mask=[1, 0, 1, 0]),
    ]
    for call in again:
        assert compiles(call) == 0
    bel.predict(ensemble(), X, batch_size=16)
    assert compiles(lambda: bel.predict(ensemble(), X[:21], batch_size=16)) == 0
