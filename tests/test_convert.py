"""Tests for bel/convert.py: turning any NNX model into a BatchEnsemble or a naive ensemble.

A converted model must keep its structure, lose every plain ``nnx.Linear``, keep shared layers
shared, give every layer its own factors from one advancing stream, and compute, for member ``k``,
exactly the original architecture with every kernel replaced by ``W ∘ r_k s_kᵀ`` (or the naive
member's kernel).
"""

from __future__ import annotations

import itertools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bel

E = 3  # members
D = 6  # hidden width: five of the seven layers below are [D, D]


class Inner(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.proj = nnx.Linear(D, D, rngs=rngs)
        self.norm = nnx.LayerNorm(D, rngs=rngs)

    def __call__(self, x):
        return self.norm(self.proj(x))


class Net(nnx.Module):
    """Every kind of nesting: Sequential, List, Dict, a sub-Module, a Linear used in two places."""

    def __init__(self, rngs: nnx.Rngs):
        self.shared = nnx.Linear(D, D, rngs=rngs)
        self.stem = nnx.Sequential(nnx.Linear(4, D, rngs=rngs), nnx.relu, self.shared)
        self.blocks = nnx.List([nnx.Linear(D, D, rngs=rngs), nnx.Linear(D, D, rngs=rngs)])
        self.heads = nnx.Dict(main=nnx.Linear(D, 2, rngs=rngs))
        self.inner = Inner(rngs)
        self.last = nnx.Linear(D, D, use_bias=False, rngs=rngs)

    def __call__(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = nnx.relu(block(x))
        x = self.shared(self.inner(x))
        return self.heads["main"](self.last(x))


LINEAR_PATHS = [
    ("shared",),
    ("stem", "layers", 0),
    ("blocks", 0),
    ("blocks", 1),
    ("heads", "main"),
    ("inner", "proj"),
    ("last",),
]


def make_net(seed: int = 0) -> Net:
    """A Net with random biases everywhere (so a bias mix-up cannot hide behind zeros)."""
    net = Net(nnx.Rngs(seed))
    rng = np.random.default_rng(seed)
    for _, module in nnx.iter_modules(net):
        if isinstance(module, nnx.Linear) and module.bias is not None:
            module.bias[...] = jnp.asarray(rng.standard_normal(module.bias.shape), jnp.float32)
    return net


def at(model: Any, path: tuple) -> Any:
    for key in path:
        model = model[key] if isinstance(model, (nnx.List, nnx.Dict)) else getattr(model, key)
    return model


def layers_of(model: Any, cls: type) -> dict[tuple, Any]:
    """Every module of exactly type ``cls``, by path (a shared module is listed once)."""
    return {path: m for path, m in nnx.iter_modules(model) if type(m) is cls}


def assert_distinct(arrays: list, what: str) -> None:
    for (i, a), (j, b) in itertools.combinations(enumerate(arrays), 2):
        assert not np.allclose(a, b), f"{what}: layers {i} and {j} are identical"


def member_model(original: Net, converted: Net, k: int) -> Net:
    """The original architecture with every Linear set to member ``k`` of the converted layer."""
    plain = nnx.clone(original)
    for path in LINEAR_PATHS:
        ensemble_layer, linear = at(converted, path), at(plain, path)
        linear.kernel[...] = ensemble_layer.effective_weights()[k]
        if linear.bias is not None:
            linear.bias[...] = ensemble_layer.bias[...][k]
    return plain


# --------------------------------------------------------------------------------------------------
# batchensemble


def test_nested_model_keeps_its_structure_and_loses_every_linear():
    net = make_net()
    originals = {p: at(net, p) for p in LINEAR_PATHS}

    out = bel.batchensemble(net, E, rngs=nnx.Rngs(1))

    assert out is not net  # a new model ...
    assert layers_of(net, bel.BatchEnsembleLinear) == {}  # ... and the argument is untouched
    assert type(out.inner.norm) is nnx.LayerNorm and out.stem.layers[1] is nnx.relu
    assert layers_of(out, nnx.Linear) == {}, "a plain nnx.Linear survived the conversion"
    converted = layers_of(out, bel.BatchEnsembleLinear)
    assert len(converted) == len(LINEAR_PATHS)  # the shared layer is counted once
    assert bel.num_members(out) == E and bel.num_members(net) == 1
    for path, original in originals.items():
        layer = at(out, path)
        assert type(layer) is bel.BatchEnsembleLinear, path
        assert layer.num_members == E, path
        assert layer.kernel is not original.kernel, path  # cloned: nothing shared ...
        np.testing.assert_array_equal(layer.kernel[...], original.kernel[...])  # ... same values
        assert (layer.in_features, layer.out_features, layer.use_bias) == (
            original.in_features,
            original.out_features,
            original.use_bias,
        ), path
        if original.use_bias:
            np.testing.assert_array_equal(layer.bias[...], np.tile(original.bias[...], (E, 1)))
        else:
            assert layer.bias is None


def _buffers(model) -> set[int]:
    return {
        a.unsafe_buffer_pointer() for a in jax.tree.leaves(nnx.state(model)) if hasattr(a, "shape")
    }


@pytest.mark.parametrize("convert", [bel.batchensemble, bel.naive_ensemble])
def test_conversion_leaves_the_original_untouched_and_shares_no_array(convert):
    net = make_net()
    before = jax.tree.map(np.array, nnx.state(net))
    graphdef = nnx.graphdef(net)
    out = convert(net, E, rngs=0)
    assert nnx.graphdef(net) == graphdef
    jax.tree.map(np.testing.assert_array_equal, nnx.state(net), before)
    assert not _buffers(net) & _buffers(out), "the converted model shares a buffer with its source"
    # training the converted model changes nothing in the original
    x = jax.random.normal(jax.random.key(0), (8, 4))
    bel.fit(out, x, np.arange(8) % 2, steps=3)
    jax.tree.map(np.testing.assert_array_equal, nnx.state(net), before)


def test_a_shared_linear_becomes_one_shared_converted_layer():
    net = bel.batchensemble(make_net(), E, rngs=0)
    assert net.stem.layers[2] is net.shared
    assert type(net.shared) is bel.BatchEnsembleLinear
    # and it stays shared through split/merge
    again = nnx.merge(*nnx.split(net))
    assert again.stem.layers[2] is again.shared


def test_converted_model_computes_each_member_with_its_own_weights():
    original = make_net()
    net = bel.batchensemble(original, E, rngs=nnx.Rngs(1))
    x = jax.random.normal(jax.random.key(0), (5, 4))

    y = bel.untile(nnx.jit(lambda m, x: m(x))(net, bel.tile(x, E)), E)

    assert y.shape == (E, 5, 2)
    for k in range(E):
        expected = member_model(original, net, k)(x)
        np.testing.assert_allclose(y[k], expected, rtol=2e-4, atol=2e-4, err_msg=f"member {k}")
    assert not np.allclose(y[0], y[1])


@pytest.mark.parametrize("rngs", [nnx.Rngs(1), 1], ids=["Rngs", "int"])
@pytest.mark.parametrize("use_base_weights", [True, False])
def test_same_shape_layers_get_different_factors(rngs, use_base_weights):
    net = bel.batchensemble(make_net(), E, rngs=rngs, use_base_weights=use_base_weights)
    square = [
        at(net, p) for p in LINEAR_PATHS if at(net, p).kernel.shape == (D, D) and p != ("shared",)
    ]
    assert len(square) == 4  # stem.layers[2] is the shared layer, counted once
    assert_distinct([layer.r[...] for layer in square], "r")
    assert_distinct([layer.s[...] for layer in square], "s")
    if not use_base_weights:
        assert_distinct([layer.kernel[...] for layer in square], "fresh kernel")


def test_layer_options_are_passed_to_every_layer():
    net = bel.batchensemble(make_net(), E, rngs=0, init="random_sign")
    for path in LINEAR_PATHS:
        layer = at(net, path)
        assert set(np.unique(np.concatenate([layer.r[...].ravel(), layer.s[...].ravel()]))) == {
            -1.0,
            1.0,
        }, path

    net = bel.batchensemble(make_net(), E, rngs=0, r_mean=2.0, r_std=0.0, s_mean=3.0, s_std=0.0)
    for path in LINEAR_PATHS:
        np.testing.assert_array_equal(at(net, path).r[...], 2.0)
        np.testing.assert_array_equal(at(net, path).s[...], 3.0)

    original = make_net()
    net = bel.batchensemble(original, E, rngs=7, use_base_weights=False)
    for path in LINEAR_PATHS:
        layer, before = at(net, path), at(original, path)
        assert not np.allclose(layer.kernel[...], before.kernel[...]), path
        if layer.use_bias:  # a fresh kernel never comes with the pretrained bias
            np.testing.assert_array_equal(layer.bias[...], 0.0)


def test_bare_linear_is_returned_converted():
    base = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    layer = bel.batchensemble(base, 4, rngs=1, init="random_sign")
    assert type(layer) is bel.BatchEnsembleLinear and layer.num_members == 4
    assert layer.kernel is not base.kernel
    np.testing.assert_array_equal(layer.kernel[...], base.kernel[...])
    assert set(np.unique(layer.r[...]).tolist()) == {-1.0, 1.0}
    naive = bel.naive_ensemble(base, 4, rngs=1)
    assert type(naive) is bel.NaiveEnsembleLinear and naive.kernel.shape == (4, 3, 2)
    conv = bel.batchensemble(nnx.Conv(3, 2, (3, 3), rngs=nnx.Rngs(0)), 4, rngs=1)
    assert type(conv) is bel.BatchEnsembleConv and conv.effective_weights().shape == (4, 3, 3, 3, 2)


def test_an_already_converted_model_is_refused_or_completed():
    net = bel.batchensemble(make_net(), E, rngs=0)
    with pytest.raises(
        ValueError,
        match=r"already holds ensemble layers with 3 members, got "
        r"num_members=5",
    ):
        bel.batchensemble(net, 5, rngs=1)
    with pytest.raises(ValueError, match=r"already holds ensemble layers with 3 members"):
        bel.naive_ensemble(net, 5, rngs=1)
    with pytest.raises(ValueError, match=r"found nothing to convert"):
        bel.batchensemble(net, E, rngs=1)  # every layer is converted already
    with pytest.raises(ValueError, match=r"already holds ensemble layers with 3 members"):
        bel.batchensemble(at(net, ("shared",)), 5, rngs=1)

    # the head first, then the rest with the same member count: the head is kept as it was
    head = bel.batchensemble(make_net(), E, rngs=0, select=nnx.PathContains("heads"))
    r_head = np.asarray(head.heads["main"].r[...])
    full = bel.batchensemble(head, E, rngs=1)
    np.testing.assert_array_equal(full.heads["main"].r[...], r_head)
    assert layers_of(full, nnx.Linear) == {}


def test_select_converts_only_the_chosen_layers():
    net = make_net()
    late = bel.batchensemble(net, E, rngs=0, select=lambda path, layer: path[0] == "heads")
    assert list(layers_of(late, bel.BatchEnsembleLinear)) == [("heads", "main")]
    assert len(layers_of(late, nnx.Linear)) == len(LINEAR_PATHS) - 1
    assert bel.num_members(late) == E
    y = bel.predict(late, jax.random.normal(jax.random.key(1), (5, 4)))
    assert y.shape == (E, 5, 2)
    naive = bel.naive_ensemble(net, E, rngs=0, select=nnx.PathContains("inner"))
    assert list(layers_of(naive, bel.NaiveEnsembleLinear)) == [("inner", "proj")]
    with pytest.raises(
        ValueError,
        match=r"found nothing to convert: expected at least one plain "
        r"nnx\.Linear or nnx\.Conv matching select, got these layers: blocks/0, ",
    ):
        bel.batchensemble(net, E, rngs=0, select=lambda path, layer: False)
    with pytest.raises(ValueError, match=r"found nothing to convert.*got these layers: none"):
        bel.batchensemble(nnx.Sequential(nnx.relu), E, rngs=0)
    with pytest.raises(ValueError, match=r"expects an nnx\.Module, got list"):
        bel.batchensemble([nnx.Linear(2, 2, rngs=nnx.Rngs(0))], E, rngs=0)


class CNN(nnx.Module):
    """Flax's tutorial CNN, small: two convolutions, pooling, two Linear layers."""

    def __init__(self, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 4, kernel_size=(3, 3), rngs=rngs)
        self.conv2 = nnx.Conv(4, 8, kernel_size=(3, 3), rngs=rngs)
        self.linear1 = nnx.Linear(8 * 2 * 2, 16, rngs=rngs)
        self.linear2 = nnx.Linear(16, 3, rngs=rngs)

    def __call__(self, x):
        pool = lambda v: nnx.avg_pool(v, window_shape=(2, 2), strides=(2, 2))  # noqa: E731
        x = pool(nnx.relu(self.conv1(x)))
        x = pool(nnx.relu(self.conv2(x)))
        x = x.reshape(x.shape[0], -1)
        return self.linear2(nnx.relu(self.linear1(x)))


@pytest.mark.parametrize("convert", [bel.batchensemble, bel.naive_ensemble])
def test_a_cnn_is_converted_whole_and_each_member_is_the_original_architecture(convert):
    original = CNN(nnx.Rngs(0))
    net = convert(original, E, rngs=1)
    kinds = {name: type(getattr(net, name)).__name__ for name in ("conv1", "conv2", "linear1")}
    prefix = "BatchEnsemble" if convert is bel.batchensemble else "NaiveEnsemble"
    assert kinds == {
        "conv1": prefix + "Conv",
        "conv2": prefix + "Conv",
        "linear1": prefix + "Linear",
    }
    x = jax.random.normal(jax.random.key(0), (5, 8, 8, 1))
    y = bel.predict(net, x)
    assert y.shape == (E, 5, 3)
    for k in range(E):
        member = nnx.clone(original)
        for name in ("conv1", "conv2", "linear1", "linear2"):
            layer = getattr(net, name)
            getattr(member, name).kernel[...] = layer.effective_weights()[k]
            getattr(member, name).bias[...] = layer.bias[...][k]
        np.testing.assert_allclose(y[k], member(x), rtol=2e-4, atol=2e-4, err_msg=f"member {k}")


@pytest.mark.parametrize("convert", [bel.batchensemble, bel.naive_ensemble])
def test_bad_arguments_raise_readable_value_errors(convert):
    with pytest.raises(ValueError, match=r"num_members must be an int >= 1, got 0"):
        convert(make_net(), 0, rngs=0)
    with pytest.raises(ValueError, match=r"rngs must be an nnx\.Rngs or an int seed, got str"):
        convert(make_net(), 2, rngs="0")
    with pytest.raises(TypeError):  # rngs is keyword-only
        convert(make_net(), 2, 0)


def test_bad_layer_options_raise_readable_value_errors():
    with pytest.raises(ValueError, match=r"init must be one of .*got 'uniform'"):
        bel.batchensemble(make_net(), 2, rngs=0, init="uniform")
    with pytest.raises(ValueError, match=r"s_std must be >= 0, got -1"):
        bel.batchensemble(make_net(), 2, rngs=0, s_std=-1)


# --------------------------------------------------------------------------------------------------
# naive_ensemble


def test_naive_ensemble_converts_every_linear_and_keeps_sharing():
    original = make_net()
    net = bel.naive_ensemble(nnx.clone(original), E, rngs=nnx.Rngs(2))
    assert layers_of(net, nnx.Linear) == {}
    assert len(layers_of(net, bel.NaiveEnsembleLinear)) == len(LINEAR_PATHS)
    assert net.stem.layers[2] is net.shared
    assert net.inner.norm is not None and net.stem.layers[1] is nnx.relu
    for path in LINEAR_PATHS:
        layer, before = at(net, path), at(original, path)
        assert type(layer) is bel.NaiveEnsembleLinear, path
        assert layer.kernel.shape == (E, *before.kernel.shape), path
        assert_distinct(list(layer.kernel[...]), f"{path} members")
    square = [at(net, p) for p in LINEAR_PATHS[1:] if at(net, p).kernel.shape == (E, D, D)]
    assert_distinct([layer.kernel[...] for layer in square], "same-shape naive layers")

    # member k of the converted model is the original architecture with member k's kernels
    for path in LINEAR_PATHS:
        layer = at(net, path)
        if layer.bias is not None:
            layer.bias[...] = jax.random.normal(jax.random.key(len(path)), layer.bias.shape)
    x = jax.random.normal(jax.random.key(0), (5, 4))
    y = bel.untile(net(bel.tile(x, E)), E)
    for k in range(E):
        np.testing.assert_allclose(
            y[k], member_model(original, net, k)(x), rtol=2e-4, atol=2e-4, err_msg=f"member {k}"
        )
