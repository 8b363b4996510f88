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
        match=r"^batchensemble: the model is already a BatchEnsemble of 3 members \(ensemble "
        r"layers at blocks/0, blocks/1, heads/main, inner/proj, last, shared, stem/layers/0\), "
        r"got num_members=5; convert the original model$",
    ):
        bel.batchensemble(net, 5, rngs=1)
    with pytest.raises(
        ValueError, match=r"^naive_ensemble: the model is already a BatchEnsemble of 3 members"
    ):
        bel.naive_ensemble(net, 5, rngs=1)
    with pytest.raises(
        ValueError,
        match=r"^batchensemble: the model is already a BatchEnsemble of 3 members, with every "
        r"layer bel can convert converted \(ensemble layers at blocks/0, .*stem/layers/0\); "
        r"convert the original model instead$",
    ):
        bel.batchensemble(net, E, rngs=1)  # every layer is converted already
    naive = bel.naive_ensemble(make_net(), 2, rngs=0)
    with pytest.raises(ValueError, match=r"already a naive ensemble of 2 members, with every"):
        bel.naive_ensemble(naive, 2, rngs=1)
    with pytest.raises(ValueError, match=r"already a BatchEnsemble of 3 members \(ensemble "
                       r"layers at \(the model itself\)\), got num_members=5"):  # fmt: skip
        bel.batchensemble(at(net, ("shared",)), 5, rngs=1)

    # the head first, then the rest with the same member count: the head is kept as it was
    head = bel.batchensemble(make_net(), E, rngs=0, select=nnx.PathContains("heads"))
    with pytest.raises(ValueError, match=r"got num_members=2; convert the original model, or "
                       r"ask for 3 members to convert its plain layers$"):  # fmt: skip
        bel.batchensemble(head, 2, rngs=1)
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
        match=r"^batchensemble found nothing to convert: select matched no module; the modules "
        r"with parameters are: blocks/0 \(Linear, plain, convertible: not converted\); .*"
        r"inner/norm \(LayerNorm, normalisation: shared on purpose\); ",
    ):
        bel.batchensemble(net, E, rngs=0, select=lambda path, layer: False)
    with pytest.raises(
        ValueError,
        match=r"^batchensemble found nothing to convert: expected at least one plain nnx\.Linear "
        r"or nnx\.Conv, got these modules with parameters: none$",
    ):
        bel.batchensemble(nnx.Sequential(nnx.relu), E, rngs=0)
    with pytest.raises(ValueError, match=r"select matched inner/norm, which holds only layers "
                       r"bel cannot convert: inner/norm \(LayerNorm, normalisation"):  # fmt: skip
        bel.batchensemble(net, E, rngs=0, select=nnx.PathContains("norm"))
    with pytest.raises(ValueError, match=r"^batchensemble expects a flax\.nnx\.Module, got "
                       r"builtins\.list$"):  # fmt: skip
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


# --------------------------------------------------------------------------------------------------
# only exact nnx.Linear / nnx.Conv are converted; everything nnx finds is found


class Scaled(nnx.Linear):
    """A Linear subclass that computes something else: replacing it would be silently wrong."""

    def __call__(self, x):
        return 10.0 * super().__call__(x)


class WithSubclass(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.body = nnx.Linear(4, D, rngs=rngs)
        self.lora = nnx.LoRALinear(D, D, lora_rank=2, rngs=rngs)
        self.head = Scaled(D, 2, rngs=rngs)

    def __call__(self, x):
        return self.head(self.lora(self.body(x)))


def test_a_subclass_of_linear_is_refused_with_its_path_and_a_way_on():
    model = WithSubclass(nnx.Rngs(0))
    with pytest.raises(
        ValueError,
        match=r"^batchensemble cannot convert head \(Scaled, subclass of nnx\.Linear: not "
        r"converted\); lora \(LoRALinear, subclass of nnx\.Linear: not converted\): bel converts "
        r"layers whose type is exactly nnx\.Linear or nnx\.Conv .*never replaces another "
        r"silently\. Leave them out with select=, e\.g\. "
        r"select=lambda path, layer: path not in \[\('head',\), \('lora',\)\]$",
    ):
        bel.batchensemble(model, E, rngs=0)
    with pytest.raises(ValueError, match=r"^naive_ensemble cannot convert lora \(LoRALinear"):
        bel.naive_ensemble(model, E, rngs=0, select=nnx.PathContains("lora"))

    # the suggested select works, and the subclasses keep computing what they computed
    kept = bel.batchensemble(
        model,
        E,
        rngs=0,
        select=lambda path, layer: path not in [("head",), ("lora",)],
        r_std=0.0,
        s_std=0.0,
    )
    assert type(kept.lora) is nnx.LoRALinear and type(kept.head) is Scaled
    assert type(kept.body) is bel.BatchEnsembleLinear
    x = jax.random.normal(jax.random.key(0), (5, 4))
    np.testing.assert_allclose(bel.predict(kept, x)[0], model(x), rtol=1e-6, atol=1e-6)


def test_a_subclass_is_refused_by_the_layers_too():
    with pytest.raises(ValueError, match=r"^BatchEnsembleLinear expects a plain flax\.nnx\.Linear "
                       r"as base_layer, got .*\.Scaled, a subclass: what it computes beyond a "
                       r"plain Linear would be lost"):  # fmt: skip
        bel.BatchEnsembleLinear(Scaled(2, 2, rngs=nnx.Rngs(0)), 0, 2)
    lora = r"got flax\.nnx\.nn\.lora\.LoRALinear, a subclass"
    with pytest.raises(ValueError, match=r"^NaiveEnsembleLinear expects a plain flax\.nnx\.Linear "
                       r"as base_layer, " + lora):  # fmt: skip
        bel.NaiveEnsembleLinear(nnx.LoRALinear(2, 2, lora_rank=1, rngs=nnx.Rngs(0)), 0, 2)


class Containers(nnx.Module):
    """Layers in every container nnx knows, and one layer tied in two of them."""

    def __init__(self, rngs: nnx.Rngs):
        self.tied = nnx.Linear(D, D, rngs=rngs)
        self.listed = nnx.data([nnx.Linear(4, D, rngs=rngs), self.tied])
        self.mapped = nnx.data({"a": nnx.Linear(D, D, rngs=rngs)})
        self.nlist = nnx.List([nnx.Linear(D, D, rngs=rngs)])
        self.ndict = nnx.Dict(b=nnx.Linear(D, 2, rngs=rngs))

    def __call__(self, x):
        for layer in (*self.listed, self.mapped["a"], self.nlist[0], self.tied):
            x = nnx.relu(layer(x))
        return self.ndict["b"](x)


# the tied layer is found first (nnx sorts keys) as listed[1]; it is the same object as .tied
CONTAINER_PATHS = [("listed", 0), ("listed", 1), ("mapped", "a"), ("ndict", "b"), ("nlist", 0)]


@pytest.mark.parametrize("convert", [bel.batchensemble, bel.naive_ensemble])
def test_layers_are_found_wherever_nnx_finds_them_and_ties_stay_tied(convert):
    model = Containers(nnx.Rngs(0))
    before = jax.tree.map(np.array, nnx.state(model))
    out = convert(model, E, rngs=1)
    assert layers_of(out, nnx.Linear) == {}, "a layer in a container was not found"
    kind = bel.BatchEnsembleLinear if convert is bel.batchensemble else bel.NaiveEnsembleLinear
    assert sorted(layers_of(out, kind)) == CONTAINER_PATHS
    assert out.listed[1] is out.tied, "the tied layer became two layers"
    assert type(model.listed[0]) is nnx.Linear and model.listed[1] is model.tied
    jax.tree.map(np.testing.assert_array_equal, nnx.state(model), before)  # original untouched
    assert bel.predict(out, jnp.ones((2, 4))).shape == (E, 2, 2)


def test_member_zero_with_unit_factors_computes_the_original_model():
    """r = s = 1 (std 0): every member is the original model, whatever containers hold it."""
    for model, x in (
        (Containers(nnx.Rngs(0)), jax.random.normal(jax.random.key(0), (5, 4))),
        (make_net(), jax.random.normal(jax.random.key(1), (5, 4))),
        (CNN(nnx.Rngs(0)), jax.random.normal(jax.random.key(2), (5, 8, 8, 1))),
    ):
        out = bel.batchensemble(model, E, rngs=1, r_std=0.0, s_std=0.0)
        np.testing.assert_allclose(bel.predict(out, x)[0], model(x), rtol=1e-5, atol=1e-6)


class Grouped(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.stem = nnx.Conv(4, 4, (3,), rngs=rngs)
        self.depthwise = nnx.Conv(4, 4, (3,), feature_group_count=4, rngs=rngs)
        self.head = nnx.Linear(4, 2, rngs=rngs)


def test_a_grouped_conv_is_named_and_select_leaves_it_out():
    model = Grouped(nnx.Rngs(0))
    with pytest.raises(
        ValueError,
        match=r"^batchensemble cannot convert depthwise \(Conv, grouped "
        r"\(feature_group_count=4\): not supported\): .*select=lambda path, layer: path not in "
        r"\[\('depthwise',\)\]$",
    ):
        bel.batchensemble(model, E, rngs=0)
    out = bel.batchensemble(model, E, rngs=0, select=lambda path, layer: path != ("depthwise",))
    assert type(out.depthwise) is nnx.Conv and type(out.stem) is bel.BatchEnsembleConv
    assert bel.describe(out).rows[0].note == "grouped (feature_group_count=4): not supported"


class Block(nnx.Module):
    """A small transformer block: tokens, self-attention, LayerNorm, feed-forward, head."""

    def __init__(self, rngs: nnx.Rngs):
        self.embed = nnx.Embed(20, 8, rngs=rngs)
        self.attn = nnx.MultiHeadAttention(2, 8, 8, decode=False, rngs=rngs)
        self.norm = nnx.LayerNorm(8, rngs=rngs)
        self.ff = nnx.Linear(8, 8, rngs=rngs)
        self.head = nnx.Linear(8, 3, rngs=rngs)

    def __call__(self, tokens):
        x = self.embed(tokens)
        x = self.norm(x + self.attn(x))
        return self.head((x + nnx.relu(self.ff(x))).mean(axis=1))


def test_select_on_attention_says_bel_cannot_convert_what_it_holds():
    block = Block(nnx.Rngs(0))
    attention = (
        r"which holds only layers bel cannot convert: attn/key \(LinearGeneral, attention: not "
        r"supported\); attn/out .*attn/value \(LinearGeneral, attention: not supported\); bel "
        r"converts plain nnx\.Linear and nnx\.Conv layers \(see bel\.describe\(model\)\)$"
    )
    with pytest.raises(ValueError, match=r"^batchensemble found nothing to convert: select "
                       r"matched attn, " + attention):  # fmt: skip
        bel.batchensemble(block, E, rngs=0, select=nnx.PathContains("attn"))
    with pytest.raises(ValueError, match=r"select matched attn, " + attention):
        bel.batchensemble(block, E, rngs=0, select=lambda path, layer: path == ("attn",))
    out = bel.batchensemble(block, E, rngs=0)  # the block converts; its tokens stay integers
    tokens = jax.random.randint(jax.random.key(0), (5, 7), 0, 20)
    assert out(bel.tile(tokens, E)).shape == (E * 5, 3)


# --------------------------------------------------------------------------------------------------
# describe


def test_describe_lists_every_module_with_parameters_as_per_member_or_shared():
    block = Block(nnx.Rngs(0))
    before = bel.describe(block)
    assert before.num_members == 1 and before.per_member == []
    assert [(r.where, r.type, r.kind) for r in before.rows] == [
        ("attn/key", "LinearGeneral", "unsupported"),
        ("attn/out", "LinearGeneral", "unsupported"),
        ("attn/query", "LinearGeneral", "unsupported"),
        ("attn/value", "LinearGeneral", "unsupported"),
        ("embed", "Embed", "unsupported"),
        ("ff", "Linear", "convertible"),
        ("head", "Linear", "convertible"),
        ("norm", "LayerNorm", "norm"),
    ]
    assert [r.params for r in before.rows] == [72, 72, 72, 72, 160, 72, 27, 16]  # by hand
    assert str(before).splitlines()[0] == (
        "single model (no ensemble layers): 2 of 8 modules are plain Linear / Conv"
    )

    after = bel.describe(bel.batchensemble(block, 4, rngs=1))
    assert after.num_members == 4 and after.per_member == ["ff", "head"]
    assert after.shared == ["attn/key", "attn/out", "attn/query", "attn/value", "embed", "norm"]
    ff = after.rows[5]
    assert (ff.type, ff.members, ff.params) == ("BatchEnsembleLinear", 4, 8 * 8 + 4 * (8 + 8 + 8))
    text = str(after)
    assert text.splitlines()[0] == (  # ff 160 + head 24 + 4 * (3 + 8 + 3) per member
        "BatchEnsemble of 4 members: 2 of 8 modules per member, holding 240 of 704 parameters"
    )
    assert "ff          BatchEnsembleLinear     160  per member (4)" in text
    assert (
        "attn/key    LinearGeneral            72  shared          attention: not supported" in text
    )
    assert "embed       Embed                   160  shared          not supported" in text
    assert max(map(len, text.splitlines())) <= 90
    markdown = after._repr_markdown_()
    assert "| path | type | params | members | why shared |" in markdown
    assert "| `norm` | LayerNorm | 16 | shared | normalisation: shared on purpose |" in markdown
    assert repr(after) == text


def test_describe_names_subclasses_naive_layers_and_tied_layers_once():
    rows = bel.describe(WithSubclass(nnx.Rngs(0))).rows
    assert [(r.where, r.kind, r.note) for r in rows] == [
        ("body", "convertible", "plain, convertible: not converted"),
        ("head", "subclass", "subclass of nnx.Linear: not converted"),
        ("lora", "subclass", "subclass of nnx.Linear: not converted"),
        ("lora/lora", "unsupported", "not supported"),
    ]
    naive = bel.describe(bel.naive_ensemble(Containers(nnx.Rngs(0)), 2, rngs=1))
    assert naive.what == "naive ensemble of 2 members"
    assert naive.per_member == ["listed/0", "listed/1", "mapped/a", "ndict/b", "nlist/0"]
    assert {r.note for r in naive.rows} == {"kernel and bias per member"}


def test_describe_refuses_what_is_not_a_model():
    with pytest.raises(
        ValueError, match=r"^describe expects a flax\.nnx\.Module, got builtins\.int$"
    ):
        bel.describe(3)


# --------------------------------------------------------------------------------------------------
# saving and restoring (the recipe in bel/convert.py's docstring and the README)


def _restore(pure: dict, build) -> Any:
    graphdef, state = nnx.split(nnx.eval_shape(build))
    nnx.replace_by_pure_dict(state, pure)
    return nnx.merge(graphdef, state)


@pytest.mark.parametrize("storage", ["pickle", "npz", "orbax"])
def test_a_saved_model_restores_into_a_fresh_structure_bit_for_bit(storage, tmp_path):
    def build():
        return bel.batchensemble(CNN(nnx.Rngs(5)), E, rngs=6, select=nnx.OfType(nnx.Conv))

    model = bel.batchensemble(CNN(nnx.Rngs(0)), E, rngs=1, select=nnx.OfType(nnx.Conv))
    pure = jax.device_get(nnx.to_pure_dict(nnx.state(model)))
    if storage == "pickle":
        import pickle

        (tmp_path / "m.pkl").write_bytes(pickle.dumps(pure))
        loaded = pickle.loads((tmp_path / "m.pkl").read_bytes())
    elif storage == "npz":
        flat = {"/".join(map(str, k)): v for k, v in nnx.traversals.flatten_mapping(pure).items()}
        np.savez(tmp_path / "m.npz", **flat)
        with np.load(tmp_path / "m.npz") as npz:
            loaded = nnx.traversals.unflatten_mapping(
                {tuple(int(p) if p.isdigit() else p for p in k.split("/")): npz[k] for k in npz}
            )
    else:
        ocp = pytest.importorskip("orbax.checkpoint")
        with ocp.StandardCheckpointer() as checkpointer:
            checkpointer.save(tmp_path / "orbax", nnx.state(model))
        graphdef, abstract = nnx.split(nnx.eval_shape(build))
        with ocp.StandardCheckpointer() as checkpointer:
            state = checkpointer.restore(tmp_path / "orbax", abstract)
        loaded = nnx.to_pure_dict(state)
    restored = _restore(loaded, build)

    x = jax.random.normal(jax.random.key(0), (4, 8, 8, 1))
    np.testing.assert_array_equal(bel.predict(restored, x), bel.predict(model, x))
    assert type(restored.conv1.r) is bel.FastWeight and type(restored.linear1) is nnx.Linear
    jax.tree.map(
        np.testing.assert_array_equal,
        nnx.state(restored, bel.FastWeight),
        nnx.state(model, bel.FastWeight),
    )
    assert bel.describe(restored).rows == bel.describe(model).rows
