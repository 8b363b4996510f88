"""bel.lifelong: add a member, train it alone against a frozen W, write it back."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

import bel
from bel import lifelong
from bel.layers import FastWeight


def be_mlp(sizes, E, seed=0, **options):
    """A BatchEnsemble MLP with layer sizes ``sizes`` (in, hidden..., out) and E members."""
    net = bel.mlp(sizes[0], sizes[-1], hidden=tuple(sizes[1:-1]), rngs=seed)
    return bel.batchensemble(net, E, rngs=seed + 1, **options)


def arrays(model):
    """Every variable of ``model`` as a plain array, keyed by path."""
    return {path: np.asarray(v[...]) for path, v in nnx.to_flat_state(nnx.state(model))}


def assert_bit_identical(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype and np.array_equal(a[key], b[key]), key


# A fixed pool of layer sizes (in, hidden..., out) and member counts: hypothesis picks among them,
# so the compiled programs are reused across examples instead of one compilation per drawn shape.
SIZES = [(2, 3), (3, 4, 2), (1, 5, 3), (4, 2, 2)]
sizes_st = st.sampled_from(SIZES)
members_st = st.sampled_from([1, 3])


# --------------------------------------------------------------------------------------------------
# add_member


@settings(max_examples=settings.default.max_examples // 4)
@given(sizes=sizes_st, E=members_st, seed=st.integers(0, 100))
def test_add_member_appends_a_row_and_leaves_everything_else_bit_identical(sizes, E, seed):
    model = be_mlp(sizes, E, seed)
    before = arrays(model)
    lifelong.add_member(model, rngs=seed + 7)
    after = arrays(model)
    assert bel.num_members(model) == E + 1
    for key, old in before.items():
        new = after[key]
        if key[-1] == "kernel":
            assert np.array_equal(new, old)
        else:  # r, s, bias: one more row, the old rows untouched
            assert new.shape == (E + 1,) + old.shape[1:]
            assert np.array_equal(new[:E], old)


def test_add_member_bias_starts_at_the_mean_of_the_existing_rows_or_at_zero():
    model = be_mlp([2, 4, 3], 3)
    for layer in model.layers[::2]:
        layer.bias[...] = jax.random.normal(jax.random.key(0), layer.bias.shape)
    old = [layer.bias[...] for layer in model.layers[::2]]
    lifelong.add_member(model, rngs=0)
    for layer, b in zip(model.layers[::2], old, strict=True):
        np.testing.assert_allclose(layer.bias[3], b.mean(0), rtol=1e-6)
    lifelong.add_member(model, rngs=0, bias="zeros")
    for layer in model.layers[::2]:
        assert np.array_equal(layer.bias[4], np.zeros(layer.out_features))


def test_add_member_draws_like_the_layer_and_from_one_stream():
    model = be_mlp([3, 5, 5, 5, 2], 1, init="random_sign")
    lifelong.add_member(model, rngs=3, init="random_sign")
    layers = model.layers[::2]
    for layer in layers:
        assert set(np.unique(layer.r[1]).tolist()) <= {-1.0, 1.0}
    # the two 5 -> 5 layers drew different rows (one advancing stream, not one seed per layer)
    assert not np.array_equal(layers[1].s[1], layers[2].s[1])
    # same seed, same draws
    twin = be_mlp([3, 5, 5, 5, 2], 1, init="random_sign")
    lifelong.add_member(twin, rngs=3, init="random_sign")
    assert_bit_identical(arrays(model), arrays(twin))
    # the Gaussian draw follows r_mean / r_std
    wide = be_mlp([200, 300, 2], 1)
    lifelong.add_member(wide, rngs=0, init="normal", r_mean=2.0, r_std=0.1)
    r = np.asarray(wide.layers[0].r[1])
    assert abs(r.mean() - 2.0) < 0.05 and abs(r.std() - 0.1) < 0.03


def test_add_member_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one BatchEnsembleLinear"):
        lifelong.add_member(bel.mlp(2, 2, rngs=0), rngs=0)
    with pytest.raises(ValueError, match="bias must be one of"):
        lifelong.add_member(be_mlp([2, 2], 1), rngs=0, bias="copy")
    with pytest.raises(ValueError, match="init must be"):
        lifelong.add_member(be_mlp([2, 2], 1), rngs=0, init="uniform")
    with pytest.raises(ValueError, match="r_std must be >= 0"):
        lifelong.add_member(be_mlp([2, 2], 1), rngs=0, r_std=-1.0)
    with pytest.raises(ValueError, match="rngs must be"):
        lifelong.add_member(be_mlp([2, 2], 1), rngs="seed")


def test_layers_that_disagree_are_refused():
    model = be_mlp([2, 3, 2], 2)
    model.layers[2] = bel.BatchEnsembleLinear(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), 0, 3)
    for call in (lambda: lifelong.add_member(model, rngs=0), lambda: lifelong.member(model, 0)):
        with pytest.raises(ValueError, match="same number of members"):
            call()
    with pytest.raises(
        ValueError, match=r"^add_member expects a flax\.nnx\.Module, got numpy\.ndarray$"
    ):
        lifelong.add_member(np.zeros(3), rngs=0)
    with pytest.raises(ValueError, match="at least one BatchEnsembleLinear"):
        lifelong.member(bel.mlp(2, 2, rngs=0), 0)


# --------------------------------------------------------------------------------------------------
# member / set_member


@settings(max_examples=settings.default.max_examples // 4)
@given(sizes=sizes_st, E=members_st, data=st.data())
def test_member_k_computes_what_member_k_of_the_model_computes(sizes, E, data):
    k = data.draw(st.integers(0, E - 1))
    model = be_mlp(sizes, E, seed=data.draw(st.integers(0, 50)))
    for layer in model.layers[::2]:  # biases that differ per member
        layer.bias[...] = jax.random.normal(jax.random.key(k), layer.bias.shape)
    x = jax.random.normal(jax.random.key(1), (7, sizes[0]))
    full = bel.predict(model, x)[k]
    one = bel.predict(lifelong.member(model, k), x)[0]
    np.testing.assert_allclose(one, full, rtol=1e-5, atol=1e-5)


def test_member_trainable_parameters_are_exactly_r_s_and_bias_of_one_member():
    model = be_mlp([2, 8, 3], 4)
    before = arrays(model)
    one = lifelong.member(model, 2)
    params = nnx.to_flat_state(nnx.state(one, nnx.Param))
    assert {path[-1] for path, _ in params} == {"r", "s", "bias"}
    assert all(v.shape[0] == 1 for _, v in params)
    frozen = nnx.to_flat_state(nnx.state(one, lifelong.FrozenWeight))
    assert {path[-1] for path, _ in frozen} == {"kernel"}
    assert_bit_identical(arrays(model), before)  # taking a member changes nothing


def test_member_freezes_parameters_outside_the_ensemble_layers():
    model = nnx.Sequential(
        bel.BatchEnsembleLinear(nnx.Linear(2, 4, rngs=nnx.Rngs(0)), 0, 2),
        nnx.LayerNorm(4, rngs=nnx.Rngs(0)),
    )
    one = lifelong.member(model, 1)
    assert isinstance(one.layers[1].scale, lifelong.FrozenWeight)
    assert isinstance(one.layers[0].r, FastWeight)
    n_params = sum(v.size for v in jax.tree.leaves(nnx.state(one, nnx.Param)))
    assert n_params == 2 + 4 + 4


def test_training_a_member_changes_its_row_only():
    x, y = bel.data.two_moons(64, seed=0)
    model = be_mlp([2, 16, 16, 2], 1)
    bel.fit(model, x, y, steps=50)
    lifelong.add_member(model, rngs=5)
    lifelong.add_member(model, rngs=6)
    before = arrays(model)
    one = lifelong.member(model, 1)
    losses = bel.fit(one, bel.data.rotate(x, 90), y, steps=100, learning_rate=3e-2)
    assert losses[-1] < 0.5 * losses[0]
    lifelong.set_member(model, 1, one)
    after = arrays(model)
    for key, old in before.items():
        if key[-1] == "kernel":
            assert np.array_equal(after[key], old), key
        else:
            assert np.array_equal(np.delete(after[key], 1, 0), np.delete(old, 1, 0)), key
            assert not np.array_equal(after[key][1], old[1]), f"{key} row 1 was not trained"
    # the model's member 1 now answers like the trained one-member model
    np.testing.assert_allclose(
        bel.predict(model, x)[1], bel.predict(one, x)[0], rtol=1e-5, atol=1e-5
    )


def test_set_member_refuses_what_does_not_fit():
    model = be_mlp([2, 4, 2], 2)
    one = lifelong.member(model, 0)
    one.layers[0].kernel[...] = one.layers[0].kernel[...] + 1.0
    with pytest.raises(ValueError, match="kernel differs"):
        lifelong.set_member(model, 0, one)
    with pytest.raises(ValueError, match="one-member copy"):
        lifelong.set_member(model, 0, be_mlp([2, 4, 2], 2))
    with pytest.raises(ValueError, match="one-member copy of a 2->4 layer"):
        lifelong.set_member(model, 0, lifelong.member(be_mlp([3, 4, 2], 2), 0))
    with pytest.raises(ValueError, match="same 2 BatchEnsembleLinear"):
        lifelong.set_member(model, 0, lifelong.member(be_mlp([2, 4, 4, 2], 2), 0))
    with pytest.raises(ValueError, match=r"member index k in \[0, 2\), got 2"):
        lifelong.set_member(model, 2, lifelong.member(model, 0))
    with pytest.raises(ValueError, match=r"member index k in \[0, 2\), got -1"):
        lifelong.member(model, -1)


# --------------------------------------------------------------------------------------------------
# parameter_cost, tasks, accuracies


@settings(max_examples=settings.default.max_examples // 4)
@given(sizes=sizes_st)
def test_parameter_cost_matches_the_formula(sizes):
    cost = lifelong.parameter_cost(be_mlp(sizes, 3))
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    assert cost["shared"] == sum(a * b for a, b in pairs)
    assert cost["per_task"] == sum(a + b + b for a, b in pairs)


def test_rotated_tasks_rotate_the_same_points():
    tasks = lifelong.rotated_tasks([0, 90, 180], n=16, seed=3)
    (x0, y0), (x90, y90), (x180, _) = tasks
    assert np.array_equal(y0, y90)
    np.testing.assert_allclose(x90, np.stack([-x0[:, 1], x0[:, 0]], 1), atol=1e-6)
    np.testing.assert_allclose(x180, -x0, atol=1e-6)
    with pytest.raises(ValueError, match="at least one angle"):
        lifelong.rotated_tasks([])


def test_task_accuracies_use_member_j_for_task_j():
    tasks = lifelong.rotated_tasks([0, 180], n=64)
    model = be_mlp([2, 16, 2], 1)
    bel.fit(model, *tasks[0], steps=150, learning_rate=3e-2)
    acc = lifelong.task_accuracies(model, tasks)
    assert acc[0] > 0.8 and np.isnan(acc[1])
    # member 0 on the 180° task is (close to) the opposite labels
    both = lifelong.task_accuracies(model, tasks, members=[0, 0])
    assert both[0] == acc[0] and both[1] < 0.3
    assert np.isnan(lifelong.task_accuracies(model, tasks, members=[None, 0])[0])
    plain = lifelong.task_accuracies(bel.mlp(2, 2, rngs=0), tasks)
    assert plain.shape == (2,) and np.isfinite(plain).all()
    with pytest.raises(ValueError, match=r"one member per task \(2\), got 1"):
        lifelong.task_accuracies(model, tasks, members=[0])
    with pytest.raises(ValueError, match="list of \\(x, labels\\) pairs"):
        lifelong.task_accuracies(model, [])
    with pytest.raises(ValueError, match=r"member index k in \[0, 1\), got 1"):
        lifelong.task_accuracies(model, tasks, members=[0, 1])


# --------------------------------------------------------------------------------------------------
# learn_tasks, finetune_tasks


def kernels(model):
    return [np.asarray(layer.kernel[...]) for layer in model.layers[::2]]


def test_learn_tasks_never_changes_a_learned_task_and_freezes_w_after_task_0():
    tasks = lifelong.rotated_tasks([0, 90, 180], n=64)
    model = be_mlp([2, 16, 2], 1)
    before = kernels(model)
    acc = lifelong.learn_tasks(model, tasks, tasks, rngs=3, steps=200, learning_rate=3e-2)
    assert acc.shape == (3, 3) and bel.num_members(model) == 3
    assert np.isnan(acc[np.triu_indices(3, 1)]).all() and np.isfinite(np.tril(acc)).all()
    for j in range(3):  # a learned task's accuracy never moves afterwards
        assert np.all(acc[j:, j] == acc[j, j]), acc
    assert np.diag(acc).min() > 0.75, acc
    assert not any(np.array_equal(a, b) for a, b in zip(before, kernels(model), strict=True))
    # the control: W stays exactly as it was, task 0 is learned as a member like the others
    control = be_mlp([2, 16, 2], 1)
    frozen = kernels(control)
    acc = lifelong.learn_tasks(control, tasks, tasks, rngs=3, train_first=False, steps=60)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, kernels(control), strict=True))
    assert np.all(acc[1:, 0] == acc[0, 0])


def test_finetune_tasks_forgets_what_learn_tasks_keeps():
    tasks = lifelong.rotated_tasks([0, 180], n=64)
    acc = lifelong.finetune_tasks(bel.mlp(2, 2, hidden=(16,), rngs=0), tasks, tasks, steps=150)
    assert acc.shape == (2, 2) and np.isnan(acc[0, 1])
    assert acc[0, 0] > 0.8 and acc[1, 1] > 0.8 and acc[1, 0] < 0.3  # 180° undoes 0°
    one = lifelong.finetune_tasks(be_mlp([2, 16, 2], 1), tasks, tasks, steps=150)
    assert one[1, 0] < one[0, 0] - 0.3, one  # a one-member BatchEnsemble forgets just the same


def test_learn_and_finetune_refuse_what_does_not_fit():
    tasks = lifelong.rotated_tasks([0, 90], n=16)
    with pytest.raises(ValueError, match="one member \\(task 0's\\), got 2"):
        lifelong.learn_tasks(be_mlp([2, 4, 2], 2), tasks, tasks, rngs=0)
    with pytest.raises(ValueError, match="at least one BatchEnsembleLinear"):
        lifelong.learn_tasks(bel.mlp(2, 2, rngs=0), tasks, tasks, rngs=0)
    with pytest.raises(ValueError, match=r"as many test tasks as training tasks \(2\), got 1"):
        lifelong.learn_tasks(be_mlp([2, 4, 2], 1), tasks, tasks[:1], rngs=0)
    with pytest.raises(ValueError, match="test_tasks as a non-empty list of \\(x, labels\\)"):
        lifelong.finetune_tasks(bel.mlp(2, 2, rngs=0), tasks, [])
    with pytest.raises(ValueError, match="one network \\(one member\\), got 2 members"):
        lifelong.finetune_tasks(be_mlp([2, 4, 2], 2), tasks, tasks)


def test_the_recipe_works_for_convolutional_members():
    def pool(x):
        return x.mean(axis=(1, 2))

    rngs = nnx.Rngs(0)
    cnn = nnx.Sequential(
        nnx.Conv(1, 3, (3, 3), rngs=rngs), nnx.relu, pool, nnx.Linear(3, 2, rngs=rngs)
    )
    model = bel.batchensemble(cnn, 2, rngs=1)
    assert isinstance(model.layers[0], bel.BatchEnsembleConv)
    before = arrays(model)
    lifelong.add_member(model, rngs=2, init="random_sign")
    assert bel.num_members(model) == 3 and model.layers[0].r.shape == (3, 1)
    assert set(np.unique(model.layers[0].s[2]).tolist()) <= {-1.0, 1.0}
    x = jax.random.normal(jax.random.key(0), (5, 6, 6, 1))
    one = lifelong.member(model, 2)
    np.testing.assert_allclose(bel.predict(one, x)[0], bel.predict(model, x)[2], atol=1e-5)
    one.layers[0].s[...] = one.layers[0].s[...] * 2.0
    lifelong.set_member(model, 2, one)
    after = arrays(model)
    for key, old in before.items():  # members 0 and 1 and the kernels: bit-identical
        assert np.array_equal(after[key][: len(old)] if key[-1] != "kernel" else after[key], old)
    np.testing.assert_allclose(bel.predict(one, x)[0], bel.predict(model, x)[2], atol=1e-5)
