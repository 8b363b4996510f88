"""Tests for the bel/layers/ package: its linear and conv layers, the layout (tile, untile, ...).

One file for the four modules of the package: the Linear and Conv tests share their references
(float64 forward passes, rounding-error bounds) and the fixed pool of shapes, kept in one place.

The property that matters (facts.md, "Mistakes made elsewhere"): on random shapes and dtypes, the
fast path equals ``x_k (W ∘ r_k s_kᵀ) + b_k`` for every member ``k``, and equals one ordinary
``nnx.Linear`` per member. References are computed in float64 NumPy from the stored parameters, so
the only tolerance is a rounding-error bound for the layer's own compute and parameter dtypes.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from hypothesis import example, given, settings
from hypothesis import strategies as st

import bel
from bel.layers import FastWeight

from support import compiled

# --------------------------------------------------------------------------------------------------
# helpers

# (param_dtype, dtype): the dtype parameters are stored in, and the compute dtype (None: promote).
DTYPES = [
    (jnp.float32, None),
    (jnp.float32, jnp.bfloat16),
    (jnp.bfloat16, None),
    (jnp.float16, jnp.float32),
    (jnp.float32, jnp.float16),
]

sizes = st.integers(1, 16)
members = st.integers(1, 6)
batches = st.integers(1, 8)
extra_axes = st.lists(st.integers(1, 3), max_size=2).map(tuple)
seeds = st.integers(0, 2**31 - 1)


def f64(a) -> np.ndarray:
    """Any array (bfloat16 included) as float64 NumPy, without dispatching a JAX op."""
    return np.asarray(a).astype(np.float64)


def numpy_init(seed: int, scale: float = 1.0):
    """A kernel/bias initialiser that draws with NumPy: no XLA compilation per new shape.

    ``nnx.Linear`` would compile a truncated-normal program for every new shape (~0.5 s on 2 cores);
    the base layer's values are irrelevant to the properties tested here, only their shapes vary.
    """

    def init(key, shape, dtype=jnp.float32):
        values = np.random.default_rng(seed).standard_normal(shape) * scale
        return jnp.asarray(values, dtype)

    return init


def base_linear(n_in: int, n_out: int, seed: int, **kwargs) -> nnx.Linear:
    return nnx.Linear(
        n_in,
        n_out,
        kernel_init=numpy_init(seed, 1 / math.sqrt(n_in)),
        bias_init=numpy_init(seed + 1),
        rngs=nnx.Rngs(seed),
        **kwargs,
    )


# one compiled program per shape instead of one per primitive per shape
forward = nnx.jit(lambda layer, x: layer(x))
effective_weights = nnx.jit(lambda layer: layer.effective_weights())


def unit_roundoff(*dtypes) -> float:
    return max(float(jnp.finfo(d).eps) / 2 for d in dtypes if d is not None)


def subnormal_spacing(*dtypes) -> float:
    """The absolute rounding step near zero (float16 is subnormal below ~6e-5: within our range)."""
    return max(float(jnp.finfo(d).smallest_subnormal) for d in dtypes if d is not None)


def assert_within(actual, expected, bound, what: str) -> None:
    """|actual - expected| <= bound elementwise (bound: a rounding-error bound, not a fudge)."""
    err = np.abs(f64(actual) - expected)
    worst = np.unravel_index(np.argmax(err - bound), err.shape) if err.size else ()
    assert np.all(err <= bound), (
        f"{what}: error {err[worst]:.3g} > bound {bound[worst]:.3g} at {worst} "
        f"(actual {f64(actual)[worst]!r}, expected {expected[worst]!r})"
    )


def make_layer(
    n_in: int,
    n_out: int,
    num_members: int,
    seed: int,
    *,
    use_bias: bool = True,
    param_dtype=jnp.float32,
    dtype=None,
    randomize_bias: bool = True,
    **options,
) -> bel.BatchEnsembleLinear:
    """A BatchEnsembleLinear whose per-member biases are random (so a bias bug cannot hide)."""
    base = base_linear(n_in, n_out, seed, use_bias=use_bias, dtype=dtype, param_dtype=param_dtype)
    layer = bel.BatchEnsembleLinear(base, nnx.Rngs(seed + 1), num_members, **options)
    if use_bias and randomize_bias:
        b = np.random.default_rng(seed + 2).standard_normal((num_members, n_out))
        layer.bias[...] = jnp.asarray(b, layer.bias.dtype)
    return layer


def filled_layer(
    cls, n_in, n_out, num_members, seed, *, init="normal", use_bias=True, **linear_options
):
    """``cls(base, ...)`` built abstractly (``nnx.eval_shape``), then filled with NumPy draws.

    The shapes and dtypes are the constructor's own; only the values come from NumPy, so a
    hypothesis example costs no random-number compilation (~0.5 s per new shape on 2 cores). The
    constructor's own draws are tested at fixed shapes below. Values: kernel ~ N(0, 1/in), bias ~
    N(0, 1) (random, so a per-member bias mix-up cannot hide behind zeros), r and s ~ N(1, 0.5²) or
    ±1 for ``init="random_sign"``.
    """

    def build():
        base = nnx.Linear(n_in, n_out, use_bias=use_bias, rngs=nnx.Rngs(0), **linear_options)
        return cls(base, 0, num_members)

    graphdef, state = nnx.split(nnx.eval_shape(build))
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        name = path[0].key
        if name in ("r", "s") and init == "random_sign":
            values = rng.choice([-1.0, 1.0], leaf.shape)
        elif name in ("r", "s"):
            values = rng.normal(1.0, 0.5, leaf.shape)
        elif name == "kernel":
            values = rng.standard_normal(leaf.shape) / math.sqrt(n_in)
        else:
            values = rng.standard_normal(leaf.shape)
        return jnp.asarray(values, leaf.dtype)

    return nnx.merge(graphdef, jax.tree_util.tree_map_with_path(fill, state))


def member_inputs(seed: int, num_members: int, batch: int, extra: tuple, n_in: int) -> np.ndarray:
    """Different inputs per member: [E, B, *extra, in] float32 (tiling would hide a mix-up)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((num_members, batch, *extra, n_in)).astype(np.float32)


def stack_members(xs: np.ndarray) -> jnp.ndarray:
    """[E, B, ...] -> member-major [E*B, ...]."""
    return jnp.asarray(xs.reshape((-1,) + xs.shape[2:]))


def explicit_forward(layer: bel.BatchEnsembleLinear, xs: np.ndarray):
    """Float64 reference per member: x_k (W ∘ r_k s_kᵀ) + b_k, and the same with |.| everywhere."""
    W, r, s = f64(layer.kernel[...]), f64(layer.r[...]), f64(layer.s[...])
    b = (
        f64(layer.bias[...])
        if layer.bias is not None
        else np.zeros((layer.num_members, W.shape[1]))
    )
    x = xs.astype(np.float64)
    W_eff = W[None] * r[:, :, None] * s[:, None, :]
    y = np.einsum("eb...i,eio->eb...o", x, W_eff)
    y_abs = np.einsum("eb...i,eio->eb...o", np.abs(x), np.abs(W_eff))
    bshape = (layer.num_members,) + (1,) * (x.ndim - 2) + (W.shape[1],)
    return y + b.reshape(bshape), y_abs + np.abs(b).reshape(bshape)


def rounding_bound(layer, y_abs: np.ndarray, *dtypes) -> np.ndarray:
    """A bound on the rounding error of a length-``in`` dot product plus a handful of products.

    Every rounding step errs by at most ``u·|value| + spacing`` (relative for normal numbers,
    absolute for subnormals); there are at most ``in + 8`` of them on the way to one output.
    """
    u = unit_roundoff(jnp.float32, *dtypes)
    return (layer.in_features + 8) * (u * y_abs + subnormal_spacing(jnp.float32, *dtypes))


# --------------------------------------------------------------------------------------------------
# the identity: fast path == explicit per-member weights == one ordinary nnx.Linear per member


@settings(max_examples=settings.default.max_examples)
@given(
    n_in=sizes,
    n_out=sizes,
    num_members=members,
    batch=batches,
    extra=extra_axes,
    dtypes=st.sampled_from(DTYPES),
    use_bias=st.booleans(),
    init=st.sampled_from(["normal", "random_sign"]),
    seed=seeds,
)
@example(  # a sequence batch [E*B, T, in] in plain float32
    n_in=5,
    n_out=3,
    num_members=4,
    batch=2,
    extra=(3,),
    dtypes=DTYPES[0],
    use_bias=True,
    init="normal",
    seed=0,
)
def test_fast_path_equals_explicit_member_weights(
    n_in, n_out, num_members, batch, extra, dtypes, use_bias, init, seed
):
    param_dtype, dtype = dtypes
    layer = filled_layer(
        bel.BatchEnsembleLinear,
        n_in,
        n_out,
        num_members,
        seed,
        init=init,
        use_bias=use_bias,
        param_dtype=param_dtype,
        dtype=dtype,
    )
    assert isinstance(layer, bel.BatchEnsembleLinear)
    assert (layer.in_features, layer.out_features, layer.num_members) == (n_in, n_out, num_members)
    assert layer.r.shape == (num_members, n_in) and layer.s.shape == (num_members, n_out)
    assert layer.kernel.shape == (n_in, n_out)
    assert layer.bias is None if not use_bias else layer.bias.shape == (num_members, n_out)
    for p in (layer.kernel, layer.r, layer.s) + ((layer.bias,) if use_bias else ()):
        assert p.dtype == param_dtype
    xs = member_inputs(seed, num_members, batch, extra, n_in)

    y = forward(layer, stack_members(xs))
    compute_dtype = dtype or jnp.float32
    assert y.shape == (num_members * batch, *extra, n_out)
    assert y.dtype == compute_dtype
    y_members = np.asarray(y).reshape((num_members, batch, *extra, n_out))  # member-major

    # 1. against the float64 formula from the stored kernel, r, s and bias
    expected, y_abs = explicit_forward(layer, xs)
    bound = rounding_bound(layer, y_abs, compute_dtype)
    assert_within(y_members, expected, bound, "fast path vs float64 x (W ∘ r sᵀ) + b")

    # 2. against x_k @ effective_weights()[k] + bias[k], member by member
    W_eff = np.asarray(effective_weights(layer))
    assert W_eff.shape == (num_members, n_in, n_out)
    W_exact = f64(layer.kernel[...])[None] * f64(layer.r[...])[:, :, None]
    W_exact = W_exact * f64(layer.s[...])[:, None, :]
    W_bound = 2 * (unit_roundoff(param_dtype) * np.abs(W_exact) + subnormal_spacing(param_dtype))
    assert_within(W_eff, W_exact, W_bound, "W_eff")
    bound = rounding_bound(layer, y_abs, compute_dtype, param_dtype)
    bias = f64(layer.bias[...]) if use_bias else None
    for k in range(num_members):
        y_k = xs[k].astype(np.float64) @ f64(W_eff[k])
        if use_bias:
            y_k = y_k + bias[k]
        assert_within(y_members[k], y_k, bound[k], f"member {k} vs x_k @ W_eff[k] + b[k]")

    # 3. against E ordinary nnx.Linear layers with kernel W ∘ r_k s_kᵀ and bias b_k
    for k in range(num_members):
        linear = base_linear(
            n_in, n_out, 0, use_bias=use_bias, dtype=dtype, param_dtype=param_dtype
        )
        linear.kernel[...] = jnp.asarray(W_eff[k])
        if use_bias:
            linear.bias[...] = jnp.asarray(np.asarray(layer.bias[...])[k])
        y_lin = forward(linear, jnp.asarray(xs[k]))
        assert y_lin.dtype == y.dtype
        assert_within(y_members[k], f64(y_lin), 2 * bound[k], f"member {k} vs nnx.Linear")


def test_members_really_differ():
    """Guard for the property above: members' outputs on the same input are not all equal."""
    layer = make_layer(4, 3, 3, seed=0)
    y = bel.untile(layer(bel.tile(jnp.ones((2, 4)), 3)), 3)
    assert not np.allclose(y[0], y[1]) and not np.allclose(y[1], y[2])


# --------------------------------------------------------------------------------------------------
# tile / untile


@given(num_members=members, batch=batches, extra=extra_axes)
def test_tile_is_member_major_and_untile_inverts_it(num_members, batch, extra):
    x = np.arange(batch * math.prod(extra), dtype=np.float32).reshape((batch, *extra))
    t = np.asarray(bel.tile(x, num_members))
    assert t.shape == (num_members * batch, *extra)
    np.testing.assert_array_equal(t, np.tile(x, (num_members,) + (1,) * len(extra)))
    for k in range(num_members):  # rows [k*B, (k+1)*B) are the whole batch, for member k
        np.testing.assert_array_equal(t[k * batch : (k + 1) * batch], x)
    u = np.asarray(bel.untile(t, num_members))
    assert u.shape == (num_members, batch, *extra)
    for k in range(num_members):
        np.testing.assert_array_equal(u[k], x)
    # any member-major array (not just a tiled one): untile splits the row blocks, and inverts
    y = np.arange(t.size, dtype=np.float32).reshape(t.shape)
    u = np.asarray(bel.untile(y, num_members))
    for k in range(num_members):
        np.testing.assert_array_equal(u[k], y[k * batch : (k + 1) * batch])
    np.testing.assert_array_equal(u.reshape(t.shape), y)
    if num_members > 1 and batch > 1:  # rows are distinct, so the interleaved layout differs
        assert not np.array_equal(t, np.repeat(x, num_members, axis=0))


def test_tile_and_untile_reject_bad_input():
    with pytest.raises(ValueError, match=r"num_members must be an int >= 1, got 0"):
        bel.tile(jnp.ones((2, 3)), 0)
    with pytest.raises(ValueError, match=r"batch axis, got shape \(\)"):
        bel.tile(jnp.float32(1.0), 2)
    with pytest.raises(ValueError, match=r"num_members=3, got shape \(7, 2\)"):
        bel.untile(jnp.ones((7, 2)), 3)
    with pytest.raises(ValueError, match=r"num_members must be an int >= 1, got 2.5"):
        bel.untile(jnp.ones((4, 2)), 2.5)


# --------------------------------------------------------------------------------------------------
# gradients


def _mse(model, x, target):
    return jnp.mean((model(x) - target) ** 2)


@pytest.mark.parametrize("use_bias", [True, False])
def test_gradients_reach_every_parameter_and_match_the_explicit_formula(use_bias):
    E, B, T, n_in, n_out = 3, 2, 2, 4, 3  # the shapes most tests here share (compile cache)
    layer = make_layer(n_in, n_out, E, seed=3, use_bias=use_bias)
    xs = member_inputs(4, E, B, (T,), n_in)
    x = stack_members(xs)
    target = jax.random.normal(jax.random.key(5), (E * B, T, n_out))

    grads = nnx.jit(nnx.grad(_mse))(layer, x, target)

    def explicit_loss(p):
        W_eff = p["kernel"][None] * p["r"][:, :, None] * p["s"][:, None, :]
        y = jnp.einsum("ebti,eio->ebto", jnp.asarray(xs), W_eff, precision="highest")
        if use_bias:
            y = y + p["bias"][:, None, None, :]
        return jnp.mean((y.reshape(target.shape) - target) ** 2)

    names = ["kernel", "r", "s"] + (["bias"] if use_bias else [])
    params = {n: getattr(layer, n)[...] for n in names}
    expected = jax.grad(explicit_loss)(params)
    for n in names:
        g = np.asarray(grads[n][...])
        assert g.shape == params[n].shape
        np.testing.assert_allclose(g, expected[n], rtol=1e-4, atol=1e-6, err_msg=n)
        if n != "kernel":  # every member gets its own gradient, not just member 0
            assert np.all(np.linalg.norm(g, axis=1) > 0), n
        assert np.linalg.norm(g) > 0, n
    if not use_bias:
        assert "bias" not in nnx.state(grads, nnx.Param)


def test_training_step_under_jit_changes_every_parameter():
    layer = make_layer(4, 3, 3, seed=0)
    before = {n: np.asarray(getattr(layer, n)[...]) for n in ("kernel", "r", "s", "bias")}
    optimizer = nnx.Optimizer(layer, optax.sgd(0.1), wrt=nnx.Param)
    x, target = bel.tile(jnp.ones((4, 4)), 3), jnp.zeros((12, 3))

    @nnx.jit
    def step(model, optimizer, x, target):
        loss, grads = nnx.value_and_grad(_mse)(model, x, target)
        optimizer.update(model, grads)
        return loss

    first = step(layer, optimizer, x, target)
    for n, value in before.items():
        assert not np.allclose(getattr(layer, n)[...], value), n
    assert step(layer, optimizer, x, target) < first


# --------------------------------------------------------------------------------------------------
# use_base_weights


def test_use_base_weights_shares_the_kernel_and_copies_the_bias():
    base = nnx.Linear(4, 3, rngs=nnx.Rngs(0))
    base.bias[...] = jnp.array([0.5, -1.0, 2.0])
    layer = bel.BatchEnsembleLinear(base, 1, 3, use_base_weights=True)
    assert layer.kernel is base.kernel
    np.testing.assert_array_equal(layer.bias[...], np.tile(base.bias[...], (3, 1)))

    # a write through the base layer is seen by the ensemble ...
    new_kernel = jax.random.normal(jax.random.key(9), (4, 3))
    base.kernel[...] = new_kernel
    np.testing.assert_array_equal(layer.kernel[...], new_kernel)
    xs = member_inputs(0, 3, 2, (), 4)
    expected, _ = explicit_forward(layer, xs)
    W = np.asarray(new_kernel, np.float64)
    r, s, b = f64(layer.r[...]), f64(layer.s[...]), f64(layer.bias[...])
    np.testing.assert_allclose(
        bel.untile(layer(stack_members(xs)), 3),
        np.stack([((xs[k] * r[k]) @ W) * s[k] + b[k] for k in range(3)]),
        rtol=1e-5,
        atol=1e-5,
    )

    # ... and an optimizer step on the ensemble is seen by the base layer
    optimizer = nnx.Optimizer(layer, optax.sgd(0.5), wrt=nnx.Param)
    grads = nnx.grad(_mse)(layer, stack_members(xs), jnp.zeros((6, 3)))
    optimizer.update(layer, grads)
    assert not np.allclose(base.kernel[...], new_kernel)
    np.testing.assert_array_equal(base.kernel[...], layer.kernel[...])


def test_fresh_weights_draw_a_new_kernel_and_a_zero_bias():
    n = 512  # the shapes of the normal-init test below: the random draws compile once
    base = nnx.Linear(n, n, rngs=nnx.Rngs(0))
    base.bias[...] = jnp.ones(n)  # a pretrained-looking bias that must NOT be copied
    layer = bel.BatchEnsembleLinear(base, 1, 64, use_base_weights=False)
    assert layer.kernel is not base.kernel
    assert layer.kernel.shape == base.kernel.shape
    assert not np.allclose(layer.kernel[...], base.kernel[...])
    # nnx.Linear's default initialisers: lecun-normal kernel (std 1/sqrt(fan_in)), zero bias
    kernel = np.asarray(layer.kernel[...], np.float64)
    assert abs(kernel.std() * math.sqrt(n) - 1.0) < 0.02  # SE of the std: ~0.3%
    assert abs(kernel.mean()) < 5 / math.sqrt(n * n) / math.sqrt(n)
    np.testing.assert_array_equal(layer.bias[...], np.zeros((64, n)))
    # the base layer is untouched
    np.testing.assert_array_equal(base.bias[...], np.ones(n))


# flax's default kernel shapes of every kind bel draws: matrices, convolution kernels, one value,
# and one larger than the smallest pool
KERNEL_SHAPES = [(1, 1), (5, 7), (64, 32), (3, 3, 1, 8), (3, 3, 8, 16), (2, 2, 2, 3, 4), (130, 130)]


def test_kernels_equal_flax_default_draw_bit_for_bit_and_compile_once_per_pool():
    from bel.layers.common import lecun_normal, zeros

    keys = list(jax.random.split(jax.random.key(7), len(KERNEL_SHAPES)))
    for key, shape in zip(keys, KERNEL_SHAPES, strict=True):
        expected = nnx.initializers.lecun_normal()(key, shape)
        np.testing.assert_array_equal(lecun_normal(key, shape), expected, err_msg=str(shape))

    # new shapes in an already-compiled pool, and new member counts, compile nothing
    def layers(n_in, n_out, E):
        base = nnx.Linear(n_in, n_out, kernel_init=lecun_normal, bias_init=zeros, rngs=nnx.Rngs(0))
        for init in bel.layers.INITS:
            bel.BatchEnsembleLinear(base, 1, E, init=init, use_base_weights=False)
        bel.NaiveEnsembleLinear(base, 2, E)

    layers(3, 2, 2)
    with compiled() as seconds:
        for shape in [(9, 11), (6, 6, 3), (32, 2)]:
            lecun_normal(keys[1], shape)
        layers(6, 9, 5)
        layers(7, 3, 3)
    assert seconds == [], f"{len(seconds)} programs compiled for new shapes"


def test_initialisers_give_the_same_values_inside_a_trace():
    def build():
        return bel.batchensemble(bel.cnn(1, 2, channels=(4,), rngs=3), 3, rngs=4)

    eager = dict(nnx.to_flat_state(nnx.state(build())))
    traced = dict(nnx.to_flat_state(nnx.state(nnx.jit(build)())))
    kernels = [path for path in eager if path[-1] == "kernel"]
    assert kernels and eager.keys() == traced.keys()
    for path in kernels:
        np.testing.assert_array_equal(eager[path][...], traced[path][...], str(path))


def test_fresh_kernels_differ_between_layers_drawn_from_one_stream():
    base = nnx.Linear(4, 3, rngs=nnx.Rngs(0))
    rngs = nnx.Rngs(1)
    a = bel.BatchEnsembleLinear(base, rngs, 3, use_base_weights=False)
    b = bel.BatchEnsembleLinear(base, rngs, 3, use_base_weights=False)
    for n in ("kernel", "r", "s"):
        assert not np.allclose(getattr(a, n)[...], getattr(b, n)[...]), n


# --------------------------------------------------------------------------------------------------
# initialisation of r and s


def test_random_sign_gives_only_plus_and_minus_one():
    base = nnx.Linear(512, 512, rngs=nnx.Rngs(0))  # r and s: [64, 512], one compiled draw
    layer = bel.BatchEnsembleLinear(base, 2, 64, init="random_sign", r_mean=5.0, s_std=3.0)
    for name in ("r", "s"):
        values = np.asarray(getattr(layer, name)[...])
        assert set(np.unique(values).tolist()) == {-1.0, 1.0}, name
        assert isinstance(getattr(layer, name), FastWeight)


def test_normal_init_matches_requested_mean_and_std():
    E, n = 64, 512
    base = nnx.Linear(n, n, rngs=nnx.Rngs(0))
    layer = bel.BatchEnsembleLinear(base, 3, E, s_mean=-2.0, s_std=0.1)  # r: defaults N(1, 0.5)
    count = E * n
    for name, mean, std in (("r", 1.0, 0.5), ("s", -2.0, 0.1)):
        values = np.asarray(getattr(layer, name)[...], np.float64)
        assert values.shape == (E, n)
        # five standard errors: mean's SE is std/sqrt(N), the sample std's SE is std/sqrt(2N)
        assert abs(values.mean() - mean) < 5 * std / math.sqrt(count), name
        assert abs(values.std() - std) < 5 * std / math.sqrt(2 * count), name
        assert len(np.unique(values[:, 0])) == E, f"{name}: members should start different"


def test_zero_std_gives_identical_members():
    layer = make_layer(4, 3, 3, seed=0, r_std=0.0, s_std=0.0, s_mean=2.0, randomize_bias=False)
    np.testing.assert_array_equal(layer.r[...], np.ones((3, 4)))
    np.testing.assert_array_equal(layer.s[...], np.full((3, 3), 2.0))
    y = bel.untile(layer(bel.tile(jax.random.normal(jax.random.key(0), (2, 4)), 3)), 3)
    np.testing.assert_array_equal(y[0], y[1])
    np.testing.assert_array_equal(y[0], y[2])


def test_int_seed_and_rngs_draw_the_same_factors():
    base = nnx.Linear(4, 3, rngs=nnx.Rngs(0))
    a = bel.BatchEnsembleLinear(base, 7, 3, use_base_weights=False)
    b = bel.BatchEnsembleLinear(base, nnx.Rngs(7), 3, use_base_weights=False)
    c = bel.BatchEnsembleLinear(base, 8, 3, use_base_weights=False)
    for n in ("kernel", "r", "s"):
        np.testing.assert_array_equal(getattr(a, n)[...], getattr(b, n)[...])
        assert not np.allclose(getattr(a, n)[...], getattr(c, n)[...])


# --------------------------------------------------------------------------------------------------
# bad input: a readable ValueError, also under jit, before anything reaches XLA


def _conv():
    return nnx.Conv(2, 3, kernel_size=(3,), rngs=nnx.Rngs(0))


BAD_CONSTRUCTION = [
    (dict(num_members=0), r"num_members must be an int >= 1, got 0"),
    (dict(num_members=-1), r"num_members must be an int >= 1, got -1"),
    (dict(num_members=2.5), r"num_members must be an int >= 1, got 2\.5"),
    (dict(num_members=True), r"num_members must be an int >= 1, got True"),
    (dict(init="uniform"), r"init must be one of \('normal', 'random_sign'\), got 'uniform'"),
    (dict(r_std=-0.1), r"r_std must be >= 0, got -0\.1"),
    (dict(s_std=-1.0), r"s_std must be >= 0, got -1\.0"),
    (dict(r_std=float("nan")), r"r_std must be >= 0, got nan"),
    (dict(rngs="0"), r"rngs must be an nnx\.Rngs or an int seed, got str: '0'"),
    (dict(rngs=0.5), r"rngs must be an nnx\.Rngs or an int seed, got float: 0\.5"),
    (dict(rngs=None), r"rngs must be an nnx\.Rngs or an int seed, got NoneType"),
    (dict(rngs=True), r"rngs must be an nnx\.Rngs or an int seed, got bool"),
    (dict(base_layer="conv"), r"base_layer must be a flax\.nnx\.Linear, got .*Conv"),
    (dict(base_layer="dense"), r"base_layer must be a flax\.nnx\.Linear, got .*LinearGeneral"),
]


def _build(cls, base_layer="linear", rngs=0, num_members=2, **options):
    if base_layer == "linear":
        base_layer = nnx.Linear(4, 3, rngs=nnx.Rngs(0))
    elif base_layer == "conv":
        base_layer = _conv()
    elif base_layer == "dense":
        base_layer = nnx.LinearGeneral(3, 2, rngs=nnx.Rngs(0))
    return cls(base_layer, rngs, num_members, **options)


@pytest.mark.parametrize(("kwargs", "message"), BAD_CONSTRUCTION)
def test_bad_construction_raises_readable_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _build(bel.BatchEnsembleLinear, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [(k, m) for k, m in BAD_CONSTRUCTION if not {"init", "r_std", "s_std"} & k.keys()],
)
def test_naive_ensemble_bad_construction_raises_readable_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _build(bel.NaiveEnsembleLinear, **kwargs)


def test_bad_construction_raises_under_jit():
    @nnx.jit
    def build(base):
        bel.BatchEnsembleLinear(base, 0, 0)
        return 0

    with pytest.raises(ValueError, match=r"num_members must be an int >= 1, got 0"):
        build(nnx.Linear(4, 3, rngs=nnx.Rngs(0)))


BAD_INPUTS = [
    ((7, 4), r"divide evenly among num_members=3 .*got 7 rows; tile the batch"),
    ((6, 5), r"last axis of inputs to be in_features=4, got shape \(6, 5\)"),
    ((6, 2, 5), r"last axis of inputs to be in_features=4, got shape \(6, 2, 5\)"),
    ((4,), r"shape \[E\*B, \.\.\., 4\] \(rank >= 2\), got shape \(4,\) \(rank 1\)"),
    ((), r"\(rank >= 2\), got shape \(\) \(rank 0\)"),
]


@pytest.mark.parametrize("cls", [bel.BatchEnsembleLinear, bel.NaiveEnsembleLinear])
@pytest.mark.parametrize("jit", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize(("shape", "message"), BAD_INPUTS)
def test_bad_inputs_raise_readable_value_error(cls, jit, shape, message):
    layer = cls(nnx.Linear(4, 3, rngs=nnx.Rngs(0)), 0, 3)
    call = nnx.jit(lambda m, x: m(x)) if jit else (lambda m, x: m(x))
    with pytest.raises(ValueError, match=message) as info:
        call(layer, jnp.ones(shape))
    assert cls.__name__ in str(info.value)


# --------------------------------------------------------------------------------------------------
# it is still an nnx.Linear


def test_keeps_base_layer_configuration_and_uses_it():
    calls = {"dot_general": 0, "promote_dtype": 0}

    def counting_dot_general(*args, **kwargs):
        calls["dot_general"] += 1
        return jax.lax.dot_general(*args, **kwargs)

    def counting_promote_dtype(arrays, dtype=None, inexact=True):
        calls["promote_dtype"] += 1
        return nnx.nn.dtypes.promote_dtype(arrays, dtype=dtype, inexact=inexact)

    base = nnx.Linear(
        4,
        3,
        dtype=jnp.bfloat16,
        param_dtype=jnp.float16,
        precision=jax.lax.Precision.HIGHEST,
        dot_general=counting_dot_general,
        promote_dtype=counting_promote_dtype,
        preferred_element_type=jnp.float32,
        rngs=nnx.Rngs(0),
    )
    layer = bel.BatchEnsembleLinear(base, 0, 3)
    assert isinstance(layer, nnx.Linear) and issubclass(bel.BatchEnsembleLinear, nnx.Linear)
    for name in ("in_features", "out_features", "use_bias", "dtype", "param_dtype", "precision"):
        assert getattr(layer, name) == getattr(base, name), name
    for name in ("dot_general", "promote_dtype", "preferred_element_type"):
        assert getattr(layer, name) is getattr(base, name), name
    for name in ("kernel", "bias", "r", "s"):
        assert getattr(layer, name).dtype == jnp.float16, name

    x = jnp.ones((6, 4))
    y_base = base(x[:2])
    calls.update(dot_general=0, promote_dtype=0)
    y = layer(x)
    assert calls == {"dot_general": 1, "promote_dtype": 1}
    assert y.dtype == y_base.dtype


def test_rngs_int_and_out_sharding_none_are_accepted():
    layer = bel.BatchEnsembleLinear(nnx.Linear(4, 3, rngs=nnx.Rngs(0)), 5, 3)
    x = bel.tile(jnp.ones((2, 4)), 3)
    np.testing.assert_array_equal(layer(x, out_sharding=None), layer(x))
    jitted = nnx.jit(lambda m, x: m(x, out_sharding=None))
    np.testing.assert_allclose(jitted(layer, x), layer(x), rtol=1e-6)


def test_module_methods_still_work():
    class Block(nnx.Module):
        def __init__(self):
            base = nnx.Linear(4, 3, rngs=nnx.Rngs(0))
            self.layer = bel.BatchEnsembleLinear(base, 0, 3)
            self.dropout = nnx.Dropout(0.5, rngs=nnx.Rngs(1))

        def __call__(self, x):
            return self.dropout(self.layer(x))

    block = Block()
    x = bel.tile(jnp.ones((2, 4)), 3)
    block.eval()
    assert block.dropout.deterministic is True
    np.testing.assert_array_equal(block(x), block.layer(x))
    block.train()
    assert block.dropout.deterministic is False
    block.set_attributes(nnx.Dropout, deterministic=True)
    assert block.dropout.deterministic is True
    block.layer.set_attributes(precision=jax.lax.Precision.HIGHEST)
    assert block.layer.precision == jax.lax.Precision.HIGHEST
    found = {path: type(m) for path, m in nnx.iter_modules(block)}
    assert found[("layer",)] is bel.BatchEnsembleLinear
    assert [key for key, _ in nnx.iter_children(block)] == ["dropout", "layer"]
    # FastWeight is a Param: filtered by type, r and s are exactly the fast weights
    assert set(nnx.state(block, FastWeight)["layer"].keys()) == {"r", "s"}
    assert set(nnx.state(block, nnx.Param)["layer"].keys()) == {"kernel", "bias", "r", "s"}
    # split/merge round trip keeps the class and the values
    graphdef, state = nnx.split(block)
    again = nnx.merge(graphdef, state)
    assert type(again.layer) is bel.BatchEnsembleLinear
    np.testing.assert_array_equal(again.layer.r[...], block.layer.r[...])


# --------------------------------------------------------------------------------------------------
# the naive twin


@given(
    n_in=sizes,
    n_out=sizes,
    num_members=members,
    batch=batches,
    extra=extra_axes,
    use_bias=st.booleans(),
    seed=seeds,
)
def test_naive_ensemble_member_k_uses_its_own_kernel_and_bias(
    n_in, n_out, num_members, batch, extra, use_bias, seed
):
    layer = filled_layer(bel.NaiveEnsembleLinear, n_in, n_out, num_members, seed, use_bias=use_bias)
    assert layer.kernel.shape == (num_members, n_in, n_out)
    assert layer.bias is None if not use_bias else layer.bias.shape == (num_members, n_out)
    xs = member_inputs(seed, num_members, batch, extra, n_in)
    y = np.asarray(forward(layer, stack_members(xs))).reshape((num_members, batch, *extra, n_out))
    assert y.shape == (num_members, batch, *extra, n_out)
    kernel = f64(layer.kernel[...])
    bias = f64(layer.bias[...]) if use_bias else np.zeros((num_members, n_out))
    for k in range(num_members):
        x_k = xs[k].astype(np.float64)
        expected = x_k @ kernel[k] + bias[k]
        bound = (n_in + 4) * unit_roundoff(jnp.float32) * (np.abs(x_k) @ np.abs(kernel[k]) + 1)
        assert_within(y[k], expected, bound, f"naive member {k}")
    np.testing.assert_array_equal(effective_weights(layer), kernel)


@pytest.mark.parametrize(("n_in", "n_out", "num_members"), [(4, 3, 3), (16, 16, 6)])
def test_naive_ensemble_draws_independent_kernels_and_zero_biases(n_in, n_out, num_members):
    base = nnx.Linear(n_in, n_out, rngs=nnx.Rngs(0))
    base.bias[...] = jnp.ones(n_out)
    layer = bel.NaiveEnsembleLinear(base, 1, num_members)
    kernels = np.asarray(layer.kernel[...])
    assert kernels.shape == (num_members, n_in, n_out)
    for k in range(num_members):
        assert not np.allclose(kernels[k], base.kernel[...]), f"member {k} copies the base"
        for j in range(k):
            assert not np.allclose(kernels[j], kernels[k]), f"members {j} and {k} share a kernel"
    np.testing.assert_array_equal(layer.bias[...], np.zeros((num_members, n_out)))


def _count(model, filter_=nnx.Param) -> int:
    return sum(int(np.prod(v.shape)) for v in jax.tree.leaves(nnx.state(model, filter_)))


@given(n_in=sizes, n_out=sizes, num_members=members, use_bias=st.booleans())
def test_parameter_counts(n_in, n_out, num_members, use_bias):
    E, bias = num_members, int(use_bias)

    def build():  # abstract construction (shapes only): nothing is compiled per example
        base = nnx.Linear(n_in, n_out, use_bias=use_bias, rngs=nnx.Rngs(0))
        return bel.BatchEnsembleLinear(base, 1, E), bel.NaiveEnsembleLinear(base, 1, E)

    be, naive = nnx.eval_shape(build)
    assert _count(be) == n_in * n_out + E * (n_in + n_out + bias * n_out)
    assert _count(be, FastWeight) == E * (n_in + n_out)
    assert _count(naive) == E * (n_in * n_out + bias * n_out)


def test_naive_ensemble_keeps_the_compute_dtype():
    base = nnx.Linear(4, 3, dtype=jnp.bfloat16, param_dtype=jnp.float32, rngs=nnx.Rngs(0))
    layer = bel.NaiveEnsembleLinear(base, 0, 3)
    assert layer.kernel.dtype == jnp.float32
    assert layer(jnp.ones((6, 4))).dtype == jnp.bfloat16


# --------------------------------------------------------------------------------------------------
# member k does not depend on E; ensemble layers refuse an ensemble as their base


@pytest.mark.parametrize("init", ["normal", "random_sign"])
def test_the_first_members_of_a_larger_ensemble_are_the_smaller_ensemble(init):
    base = nnx.Linear(4, 3, rngs=nnx.Rngs(0))
    small = bel.BatchEnsembleLinear(base, 5, 2, init=init)
    big = bel.BatchEnsembleLinear(base, 5, 8, init=init)
    np.testing.assert_array_equal(big.r[...][:2], small.r[...])
    np.testing.assert_array_equal(big.s[...][:2], small.s[...])
    naive_small = bel.NaiveEnsembleLinear(base, 5, 2)
    naive_big = bel.NaiveEnsembleLinear(base, 5, 8)
    np.testing.assert_array_equal(naive_big.kernel[...][:2], naive_small.kernel[...])


@pytest.mark.parametrize(
    "cls", [bel.BatchEnsembleLinear, bel.NaiveEnsembleLinear, bel.BatchEnsembleConv,
            bel.NaiveEnsembleConv]
)  # fmt: skip
def test_an_ensemble_layer_is_refused_as_base_layer(cls):
    is_conv = cls in (bel.BatchEnsembleConv, bel.NaiveEnsembleConv)
    plain = (
        nnx.Conv(2, 2, (3,), rngs=nnx.Rngs(0)) if is_conv else nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    )
    inner = cls(plain, 0, 4)
    kind = "Conv" if is_conv else "Linear"
    with pytest.raises(ValueError, match=rf"plain flax\.nnx\.{kind} as base_layer, got an "
                       rf"ensemble layer \({cls.__name__} with 4 members\)"):  # fmt: skip
        cls(inner, 0, 2)


# --------------------------------------------------------------------------------------------------
# BatchEnsembleConv: one convolution for all members == E ordinary convolutions

# A fixed pool of convolution configurations (each new shape or dtype costs a compile, ~1 s on 2
# cores); hypothesis draws a configuration and the values (seed) freely.
CONV_POOL = [
    # kernel_size, strides, padding, kernel_dilation, input_dilation, C_in, C_out, spatial size,
    # members, rows per member, (param_dtype, dtype), use_bias
    ((3,), 1, "SAME", 1, 1, 2, 3, (7,), 3, 2, (jnp.float32, None), True),
    ((2,), 2, "VALID", 1, 1, 3, 2, (9,), 1, 3, (jnp.float32, jnp.bfloat16), True),
    ((3,), 1, "CAUSAL", 2, 1, 1, 4, (6,), 2, 1, (jnp.float32, None), False),
    ((3, 3), 1, "SAME", 1, 1, 3, 4, (6, 6), 4, 2, (jnp.float32, None), True),
    ((3, 2), (2, 1), "VALID", 1, 1, 2, 3, (7, 5), 2, 2, (jnp.float16, jnp.float32), True),
    ((3, 3), 1, "CIRCULAR", 1, 1, 2, 2, (5, 5), 3, 1, (jnp.float32, None), True),
    ((2, 2), 1, ((1, 0), (0, 1)), (2, 1), 1, 2, 3, (6, 6), 2, 2, (jnp.float32, None), False),
    ((3, 3), 2, 1, 1, 2, 4, 2, (5, 5), 2, 1, (jnp.float32, None), True),
    ((2, 2), 1, "REFLECT", 1, 1, 2, 2, (4, 4), 3, 2, (jnp.float32, jnp.float16), True),
    ((1, 1, 2), 1, "SAME", 1, 1, 2, 2, (3, 3, 4), 2, 1, (jnp.float32, None), True),
]


def conv_pair(index: int, seed: int):
    ks, strides, padding, kd, idl, c_in, c_out, _, E_, _, dtypes, use_bias = CONV_POOL[index]
    param_dtype, dtype = dtypes
    options = dict(strides=strides, padding=padding, kernel_dilation=kd, input_dilation=idl)
    base = nnx.Conv(
        c_in, c_out, ks, **options, use_bias=use_bias, param_dtype=param_dtype, dtype=dtype,
        kernel_init=numpy_init(seed, 1 / math.sqrt(c_in * math.prod(ks))),
        bias_init=numpy_init(seed + 1), rngs=nnx.Rngs(0),
    )  # fmt: skip
    layer = bel.BatchEnsembleConv(base, seed, E_)
    if use_bias:
        bias = np.random.default_rng(seed + 2).standard_normal((E_, c_out))
        layer.bias[...] = jnp.asarray(bias, layer.bias.dtype)
    plain = nnx.Conv(c_in, c_out, ks, **options, use_bias=use_bias,
                     precision=jax.lax.Precision.HIGHEST, rngs=nnx.Rngs(0))  # fmt: skip
    return layer, plain


@settings(max_examples=settings.default.max_examples, deadline=None)
@given(index=st.integers(0, len(CONV_POOL) - 1), seed=st.integers(0, 2**16))
def test_batchensemble_conv_equals_one_ordinary_conv_per_member(index, seed):
    _, _, _, _, _, c_in, c_out, size, num_members, batch, dtypes, use_bias = CONV_POOL[index]
    layer, plain = conv_pair(index, seed)
    xs = np.random.default_rng(seed + 3).standard_normal((num_members, batch, *size, c_in))
    xs = xs.astype(np.float32)
    y = bel.untile(forward(layer, stack_members(xs)), num_members)
    W_eff = f64(effective_weights(layer))
    assert W_eff.shape == (num_members, *layer.kernel_size, c_in, c_out)
    eps = unit_roundoff(*dtypes, jnp.float32)
    for k in range(num_members):
        plain.kernel[...] = jnp.asarray(W_eff[k], jnp.float32)
        if use_bias:
            plain.bias[...] = jnp.asarray(f64(layer.bias[...])[k], jnp.float32)
        expected = f64(forward(plain, jnp.asarray(xs[k])))
        plain.kernel[...] = jnp.abs(plain.kernel[...])
        if use_bias:
            plain.bias[...] = jnp.abs(plain.bias[...])
        scale = f64(forward(plain, jnp.abs(jnp.asarray(xs[k])))) + 1.0
        assert y.shape[1:] == expected.shape
        assert_within(y[k], expected, 40 * eps * scale, f"member {k}, pool entry {index}")


@settings(max_examples=settings.default.max_examples // 4, deadline=None)
@given(index=st.integers(0, len(CONV_POOL) - 1))
def test_naive_ensemble_conv_member_k_is_an_ordinary_conv(index):
    ks, strides, padding, kd, idl, c_in, c_out, size, num_members = CONV_POOL[index][:9]
    options = dict(strides=strides, padding=padding, kernel_dilation=kd, input_dilation=idl)
    base = nnx.Conv(c_in, c_out, ks, **options, rngs=nnx.Rngs(0))
    layer = bel.NaiveEnsembleConv(base, 1, num_members)
    layer.bias[...] = jnp.arange(num_members * c_out, dtype=jnp.float32).reshape(num_members, -1)
    xs = np.random.default_rng(index).standard_normal((num_members, 2, *size, c_in))
    y = bel.untile(forward(layer, stack_members(xs.astype(np.float32))), num_members)
    plain = nnx.Conv(c_in, c_out, ks, **options, precision=jax.lax.Precision.HIGHEST,
                     rngs=nnx.Rngs(0))  # fmt: skip
    for k in range(num_members):
        plain.kernel[...] = layer.kernel[...][k]
        plain.bias[...] = layer.bias[...][k]
        expected = forward(plain, jnp.asarray(xs[k], jnp.float32))
        np.testing.assert_allclose(y[k], expected, rtol=1e-4, atol=1e-4, err_msg=f"member {k}")


def test_conv_refuses_grouped_convolutions_and_bad_inputs():
    grouped = nnx.Conv(4, 4, (3,), feature_group_count=2, rngs=nnx.Rngs(0))
    for cls in (bel.BatchEnsembleConv, bel.NaiveEnsembleConv):
        with pytest.raises(ValueError, match=r"feature_group_count=1 only .*got feature_group_co"):
            cls(grouped, 0, 2)
        with pytest.raises(ValueError, match=r"base_layer must be a flax\.nnx\.Conv, got .*Linear"):
            cls(nnx.Linear(2, 2, rngs=nnx.Rngs(0)), 0, 2)
    layer = bel.BatchEnsembleConv(nnx.Conv(3, 2, (3, 3), rngs=nnx.Rngs(0)), 0, 2)
    for shape, message in [
        ((4, 5, 5, 2), r"last axis of inputs to be in_features \(channels last\)=3, got shape"),
        ((3, 5, 5, 3), r"divide evenly among num_members=2 .*got 3 rows"),
        ((5, 5, 3), r"expects inputs of shape \[E\*B, d1, d2, 3\] \(rank 4\), got shape \(5, 5, 3"),
    ]:
        for call in (layer, nnx.jit(lambda m, x: m(x))):
            with pytest.raises(ValueError, match=message):
                call(jnp.ones(shape)) if call is layer else call(layer, jnp.ones(shape))


def test_conv_keeps_base_configuration_and_the_api_of_nnx_conv():
    base = nnx.Conv(3, 2, (3, 3), strides=2, padding="VALID", rngs=nnx.Rngs(0))
    layer = bel.BatchEnsembleConv(base, 0, 4, use_base_weights=True, init="random_sign")
    assert isinstance(layer, nnx.Conv)
    assert (layer.kernel_size, layer.strides, layer.padding) == ((3, 3), 2, "VALID")
    assert layer.kernel is base.kernel and layer.bias.shape == (4, 2)
    fresh = bel.BatchEnsembleConv(base, 5, 4, use_base_weights=False)
    assert not np.allclose(fresh.kernel[...], base.kernel[...])
    np.testing.assert_array_equal(fresh.bias[...], 0.0)
    with pytest.raises(TypeError):  # configuration after num_members is keyword-only
        bel.BatchEnsembleConv(base, 0, 4, False)


# --------------------------------------------------------------------------------------------------
# the memory saving is real: no forward (or backward) pass builds E full weights


def _all_shapes(jaxpr) -> set[tuple[int, ...]]:
    shapes = set()
    for eqn in jaxpr.eqns:
        shapes |= {tuple(v.aval.shape) for v in eqn.outvars if hasattr(v.aval, "shape")}
        for param in eqn.params.values():
            inner = getattr(param, "jaxpr", param)
            if hasattr(inner, "eqns"):
                shapes |= _all_shapes(inner)
    return shapes


@pytest.mark.parametrize("kind", ["linear", "conv"])
def test_no_pass_builds_the_members_full_weights(kind):
    E_, B = 3, 2
    if kind == "linear":
        layer = bel.BatchEnsembleLinear(nnx.Linear(5, 7, rngs=nnx.Rngs(0)), 0, E_)
        x, full = jnp.ones((E_ * B, 5)), (E_, 5, 7)
    else:
        layer = bel.BatchEnsembleConv(nnx.Conv(5, 7, (3, 2), rngs=nnx.Rngs(0)), 0, E_)
        x, full = jnp.ones((E_ * B, 4, 4, 5)), (E_, 3, 2, 5, 7)
    graphdef, state = nnx.split(layer)

    def loss(state, x):
        return jnp.sum(nnx.merge(graphdef, state)(x) ** 2)

    forward_shapes = _all_shapes(jax.make_jaxpr(loss)(state, x).jaxpr)
    backward_shapes = _all_shapes(jax.make_jaxpr(jax.grad(loss, argnums=(0, 1)))(state, x).jaxpr)
    assert full not in forward_shapes, forward_shapes
    assert full not in backward_shapes, backward_shapes
    # the check can fail: effective_weights() does build them
    assert full in _all_shapes(
        jax.make_jaxpr(lambda s: nnx.merge(graphdef, s).effective_weights())(state).jaxpr
    )


def test_member_weights_concatenates_every_layers_effective_weights():
    model = bel.batchensemble(bel.mlp(2, 3, hidden=(4,), rngs=0), 5, rngs=1)
    rows = bel.member_weights(model)
    first, second = (layer.effective_weights() for layer in model.layers[::2])
    expected = np.concatenate([f64(first).reshape(5, -1), f64(second).reshape(5, -1)], axis=1)
    np.testing.assert_allclose(f64(rows), expected, rtol=1e-6)
    naive = bel.naive_ensemble(bel.mlp(2, 3, hidden=(4,), rngs=0), 2, rngs=1)
    np.testing.assert_array_equal(
        bel.member_weights(naive)[1][:8], naive.layers[0].kernel[1].ravel()
    )
    with pytest.raises(ValueError, match=r"member_weights expects a model with ensemble layers"):
        bel.member_weights(bel.mlp(2, 3, rngs=0))


# --------------------------------------------------------------------------------------------------
# _convolve copies flax's padding logic (flax 0.12.8): it must give flax's result, bit for bit


@pytest.mark.parametrize("index", range(len(CONV_POOL)))
def test_convolve_gives_exactly_what_flax_conv_gives(index):
    from bel.layers.conv import _convolve

    ks, strides, padding, kd, idl, c_in, c_out, size = CONV_POOL[index][:8]
    options = dict(strides=strides, padding=padding, kernel_dilation=kd, input_dilation=idl)
    conv = nnx.Conv(c_in, c_out, ks, **options, use_bias=False, rngs=nnx.Rngs(index))
    x = jax.random.normal(jax.random.key(index), (2, *size, c_in))
    np.testing.assert_array_equal(
        _convolve(conv, x, conv.kernel[...], None), conv(x), err_msg=f"padding {padding!r}"
    )


# --------------------------------------------------------------------------------------------------
# the package: every name the former bel/layers.py exported is importable from bel.layers


def test_every_name_the_old_module_exported_is_importable_from_the_package():
    import bel.layers

    before = [
        "FastWeight", "BatchEnsembleLinear", "NaiveEnsembleLinear", "BatchEnsembleConv",
        "NaiveEnsembleConv", "ENSEMBLE_LAYERS", "num_members", "member_weights", "tile", "untile",
        "INITS",
    ]  # fmt: skip
    assert set(before) <= set(bel.layers.__all__)
    for name in bel.layers.__all__:
        assert getattr(bel.layers, name) is not None, name
    assert bel.layers.INITS == ("normal", "random_sign")


class _MaskedConv(nnx.Conv):
    pass


@pytest.mark.parametrize("cls", [bel.BatchEnsembleConv, bel.NaiveEnsembleConv])
def test_a_subclass_of_conv_is_refused_as_base_layer(cls):
    with pytest.raises(ValueError, match=rf"^{cls.__name__} expects a plain flax\.nnx\.Conv as "
                       r"base_layer, got .*_MaskedConv, a subclass: what it computes beyond a "
                       r"plain Conv would be lost, so it is not converted$"):  # fmt: skip
        cls(_MaskedConv(2, 2, (3,), rngs=nnx.Rngs(0)), 0, 2)
