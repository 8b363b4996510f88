"""BatchEnsemble and naive-ensemble layers (Linear and Conv), and the member-major batch layout.

A BatchEnsemble layer keeps one shared ("slow") kernel ``W`` of shape ``[in, out]`` and, per member
``i``, two "fast" vectors ``r_i`` (``[in]``) and ``s_i`` (``[out]``). Member ``i`` computes

    y_i = x (W ∘ r_i s_iᵀ) + b_i = ((x ∘ r_i) W) ∘ s_i + b_i,

and the right-hand form is what runs: one matmul for all members, two elementwise products
around it, and never ``E`` full weight matrices (Wen, Tran & Ba, ICLR 2020, eq. 2).

Inputs are *member-major*: rows ``[k*B, (k+1)*B)`` of an ``[E*B, ..., in]`` batch belong to member
``k``. :func:`tile` builds that layout from an ordinary batch, :func:`untile` splits the outputs
back per member.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn.linear import canonicalize_padding

__all__ = [
    "FastWeight",
    "BatchEnsembleLinear",
    "NaiveEnsembleLinear",
    "BatchEnsembleConv",
    "NaiveEnsembleConv",
    "ENSEMBLE_LAYERS",
    "num_members",
    "member_weights",
    "tile",
    "untile",
    "INITS",
]

INITS = ("normal", "random_sign")

_default_kernel_init = nnx.initializers.lecun_normal()
_default_bias_init = nnx.initializers.zeros_init()


class FastWeight(nnx.Param):
    """The per-member factors ``r`` and ``s`` of a BatchEnsemble layer.

    A parameter type of its own, so optimisers and filters can select the fast weights *by type*
    (never by name): ``nnx.state(model, FastWeight)`` returns exactly the ``r`` and ``s`` of every
    layer. Being a subclass of :class:`flax.nnx.Param`, they are trained like any other parameter.
    """


def _as_rngs(rngs: nnx.Rngs | int) -> nnx.Rngs:
    if isinstance(rngs, nnx.Rngs):
        return rngs
    if isinstance(rngs, int) and not isinstance(rngs, bool):
        return nnx.Rngs(rngs)
    raise ValueError(
        f"rngs must be an nnx.Rngs or an int seed, got {type(rngs).__name__}: {rngs!r}"
    )


def _check_num_members(num_members: Any) -> int:
    if isinstance(num_members, bool) or not isinstance(num_members, int) or num_members < 1:
        raise ValueError(f"num_members must be an int >= 1, got {num_members!r}")
    return num_members


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _check_base_layer(base_layer: Any, kind: type, name: str) -> None:
    """``base_layer`` must be a plain ``kind`` (nnx.Linear or nnx.Conv), never an ensemble layer."""
    if isinstance(base_layer, ENSEMBLE_LAYERS):
        raise ValueError(
            f"{name} expects a plain flax.nnx.{kind.__name__} as base_layer, got an ensemble layer "
            f"({type(base_layer).__name__} with {base_layer.num_members} members): convert the "
            f"original layer instead"
        )
    if not isinstance(base_layer, kind):
        raise ValueError(
            f"base_layer must be a flax.nnx.{kind.__name__}, got {_qualname(base_layer)}"
        )


def _check_init(init: Any, r_std: Any, s_std: Any) -> None:
    if init not in INITS:
        raise ValueError(f"init must be one of {INITS}, got {init!r}")
    for name, std in (("r_std", r_std), ("s_std", s_std)):
        if not std >= 0:  # also rejects NaN
            raise ValueError(f"{name} must be >= 0, got {std!r}")


def _check_member_major(
    inputs: jax.Array, num_members: int, name: str, *, features: int, rank: int | None = None
) -> None:
    """Raise a readable ValueError for inputs that are not a member-major batch.

    ``rank=None`` accepts ``[E*B, ..., features]`` (rank >= 2, the Linear layers); an int demands
    exactly that rank, ``[E*B, spatial..., features]`` (the Conv layers).
    """
    shape = tuple(getattr(inputs, "shape", ()))
    if rank is None:
        layout, ok = f"[E*B, ..., {features}] (rank >= 2)", len(shape) >= 2
    else:
        spatial = ", ".join(f"d{i}" for i in range(1, rank - 1))
        layout, ok = f"[E*B, {spatial}, {features}] (rank {rank})", len(shape) == rank
    if not ok:
        raise ValueError(
            f"{name} expects inputs of shape {layout}, got shape {shape} (rank {len(shape)})"
        )
    if shape[-1] != features:
        what = "in_features" if rank is None else "in_features (channels last)"
        raise ValueError(
            f"{name} expects the last axis of inputs to be {what}={features}, got shape {shape}"
        )
    if shape[0] % num_members != 0:
        raise ValueError(
            f"{name} expects a member-major batch whose rows divide evenly among "
            f"num_members={num_members} (rows [k*B, (k+1)*B) belong to member k), "
            f"got {shape[0]} rows; tile the batch with bel.tile(x, {num_members})"
        )


# The initialisers draw member k from fold_in(key, k), one compiled program per row shape, called
# once per member: member k's draw does not depend on E, and a new member count compiles nothing
# new (eagerly, each of a draw's dozen small ops would compile on its own: seconds of a notebook).
@partial(jax.jit, static_argnames=("size", "init", "dtype"))
def _draw_row(key: jax.Array, k: int, size: int, init: str, mean: Any, std: Any, dtype: Any):
    key = jax.random.fold_in(key, k)
    if init == "random_sign":
        return jax.random.rademacher(key, (size,), dtype=dtype)
    return (mean + std * jax.random.normal(key, (size,))).astype(dtype)


def _draw_factors(
    key: jax.Array, num_members: int, size: int, init: str, mean: Any, std: Any, dtype: Any
) -> jax.Array:
    """``[num_members, size]`` factors; row k is drawn from ``fold_in(key, k)``."""
    rows = [_draw_row(key, k, size, init, mean, std, dtype) for k in range(num_members)]
    return jnp.stack(rows)


@partial(jax.jit, static_argnames=("shape", "dtype"))
def _fresh_kernel(key: jax.Array, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    return _default_kernel_init(key, shape, dtype)


def _member_kernels(key: jax.Array, num_members: int, shape: tuple[int, ...], dtype: Any):
    """``num_members`` independent lecun-normal kernels, member k from ``fold_in(key, k)``."""
    return jnp.stack(
        [_fresh_kernel(jax.random.fold_in(key, k), shape, dtype) for k in range(num_members)]
    )


def _blockwise(y: jax.Array, factors: jax.Array, num_members: int, op: str = "mul") -> jax.Array:
    """Multiply (or add) member-major rows of ``y [E*B, ..., f]`` by ``factors [E, f]``, blockwise.

    Only the row axis is split into ``[E, B]``: a batch sharded along its rows (see
    :mod:`bel.sharding`) keeps its sharding on the member axis, with no resharding.
    """
    shape = y.shape
    blocks = y.reshape((num_members, shape[0] // num_members) + shape[1:])
    per_member = factors[(slice(None),) + (None,) * (len(shape) - 1)]  # [E, 1, ..., 1, f]
    out = blocks * per_member if op == "mul" else blocks + per_member
    return out.reshape(shape)


class BatchEnsembleLinear(nnx.Linear):
    """BatchEnsemble linear layer (Wen, Tran & Ba, ICLR 2020) built from an ``nnx.Linear``.

    Member ``i``'s effective weight is the Hadamard product ``W ∘ (r_i s_iᵀ)``: ``r`` scales the
    input features and ``s`` the output features. The layer takes a member-major batch of shape
    ``[E*B, ..., in_features]`` (rows ``[k*B, (k+1)*B)`` belong to member ``k``) and returns
    ``[E*B, ..., out_features]``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> import bel
    >>> base = nnx.Linear(3, 2, rngs=nnx.Rngs(0))
    >>> layer = bel.BatchEnsembleLinear(base, 1, 4)      # rngs=1, num_members=4
    >>> layer.kernel.shape, layer.r.shape, layer.s.shape, layer.bias.shape
    ((3, 2), (4, 3), (4, 2), (4, 2))
    >>> x = jnp.ones((5, 3))
    >>> y = layer(bel.tile(x, 4))              # [4*5, 3] -> [4*5, 2]
    >>> y.shape
    (20, 2)
    >>> W_eff = layer.effective_weights()      # [4, 3, 2]: W ∘ (r_i s_iᵀ) for each member
    >>> y_1 = x @ W_eff[1] + layer.bias[1]     # member 1, computed with its explicit weight
    >>> bool(jnp.allclose(bel.untile(y, 4)[1], y_1, atol=1e-6))
    True

    Args:
      base_layer: the plain ``nnx.Linear`` to turn into an ensemble (an ensemble layer is
        refused). Its sizes, ``use_bias``, ``dtype``,
        ``param_dtype``, ``precision``, ``dot_general``, ``promote_dtype`` and
        ``preferred_element_type`` are kept.
      rngs: an ``nnx.Rngs`` or an int seed; draws ``r``, ``s`` and (when ``use_base_weights`` is
        False) a fresh kernel.
      num_members: number of ensemble members ``E`` (>= 1).
      use_base_weights: True shares the base layer's kernel (the same ``nnx.Param`` object, so an
        update is visible through both) and starts every member's bias from the base bias. False
        draws a fresh kernel and a fresh bias with ``nnx.Linear``'s default initialisers
        (lecun-normal kernel, zero bias).
      init: ``"normal"`` draws ``r ~ N(r_mean, r_std²)`` and ``s ~ N(s_mean, s_std²)`` (the
        uncertainty-baselines default is mean 1, std 0.5); ``"random_sign"`` draws every entry from
        {-1, +1} (paper, Appendix B) and ignores the means and stds.
      r_mean, r_std, s_mean, s_std: the Gaussian's parameters when ``init="normal"``; stds must be
        >= 0. With both stds 0 every member starts identical.

    Attributes:
      kernel: ``nnx.Param`` ``[in_features, out_features]``, the shared weight ``W``.
      bias: ``nnx.Param`` ``[num_members, out_features]``, or None when the base layer has no bias.
      r: :class:`FastWeight` ``[num_members, in_features]``.
      s: :class:`FastWeight` ``[num_members, out_features]``.
      in_features, out_features, use_bias, num_members: ints / bool as named.

    Every argument after ``num_members`` is keyword-only, as in flax's own layers. Member ``k``'s
    ``r_k`` and ``s_k`` are drawn from their own key, so they do not depend on ``num_members``:
    the first ``E`` members of a larger ensemble drawn with the same ``rngs`` equal an
    ``E``-member ensemble.
    """

    def __init__(
        self,
        base_layer: nnx.Linear,
        rngs: nnx.Rngs | int,
        num_members: int,
        *,
        use_base_weights: bool = True,
        init: str = "normal",
        r_mean: float = 1.0,
        r_std: float = 0.5,
        s_mean: float = 1.0,
        s_std: float = 0.5,
    ):
        _check_base_layer(base_layer, nnx.Linear, "BatchEnsembleLinear")
        rngs = _as_rngs(rngs)
        num_members = _check_num_members(num_members)
        _check_init(init, r_std, s_std)
        self.in_features = base_layer.in_features
        self.out_features = base_layer.out_features
        self.use_bias = base_layer.use_bias
        self.num_members = num_members
        self.dtype = base_layer.dtype
        self.param_dtype = base_layer.param_dtype
        self.precision = base_layer.precision
        self.dot_general = base_layer.dot_general
        self.promote_dtype = base_layer.promote_dtype
        self.preferred_element_type = base_layer.preferred_element_type
        _init_ensemble_params(
            self, base_layer, rngs, (self.in_features, self.out_features), use_base_weights
        )
        _init_fast_weights(self, rngs, init, r_mean, r_std, s_mean, s_std)

    def effective_weights(self) -> jax.Array:
        """Every member's explicit weight ``W ∘ (r_i s_iᵀ)``, shape ``[num_members, in, out]``.

        For inspection and drawing only: the forward pass never forms these E matrices.
        """
        kernel, r, s = self.kernel[...], self.r[...], self.s[...]
        return kernel[None, :, :] * r[:, :, None] * s[:, None, :]

    def __call__(self, inputs: jax.Array, out_sharding: Any = None) -> jax.Array:
        """Forward pass on a member-major batch ``[E*B, ..., in_features]``.

        Computes ``((x ∘ r) W) ∘ s + bias`` blockwise: rows ``[k*B, (k+1)*B)`` use ``r_k``, ``s_k``
        and ``bias_k``. Returns ``[E*B, ..., out_features]``.
        """
        E = self.num_members
        _check_member_major(inputs, E, "BatchEnsembleLinear", features=self.in_features)
        kernel = self.kernel[...]
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        x = _blockwise(inputs, self.r[...].astype(inputs.dtype), E)
        kwargs: dict[str, Any] = {"out_sharding": out_sharding}
        if self.preferred_element_type is not None:
            kwargs["preferred_element_type"] = self.preferred_element_type
        y = self.dot_general(
            x, kernel, (((x.ndim - 1,), (0,)), ((), ())), precision=self.precision, **kwargs
        )
        y = _blockwise(y, self.s[...].astype(kernel.dtype), E)
        return y if bias is None else _blockwise(y, bias, E, op="add")


def _init_ensemble_params(
    layer: nnx.Module,
    base_layer: nnx.Module,
    rngs: nnx.Rngs,
    kernel_shape: tuple[int, ...],
    use_base_weights: bool,
) -> None:
    """The shared kernel ``W`` and the per-member bias of a BatchEnsemble layer (Linear or Conv)."""
    E, n_out, pdtype = layer.num_members, kernel_shape[-1], layer.param_dtype
    if use_base_weights:
        layer.kernel = base_layer.kernel  # shared: the same Param object
    else:
        layer.kernel = nnx.Param(_fresh_kernel(rngs.params(), tuple(kernel_shape), pdtype))
    if not layer.use_bias:
        layer.bias = nnx.data(None)
    elif use_base_weights:
        layer.bias = nnx.Param(jnp.tile(base_layer.bias[...][None, :], (E, 1)))
    else:
        layer.bias = nnx.Param(_default_bias_init(rngs.params(), (E, n_out), pdtype))


def _init_fast_weights(
    layer: nnx.Module,
    rngs: nnx.Rngs,
    init: str,
    r_mean: float,
    r_std: float,
    s_mean: float,
    s_std: float,
) -> None:
    """``r [E, in]`` and ``s [E, out]`` of a BatchEnsemble layer: the one initialiser of bel."""
    E, pdtype = layer.num_members, layer.param_dtype
    layer.r = FastWeight(
        _draw_factors(rngs.params(), E, layer.in_features, init, r_mean, r_std, pdtype)
    )
    layer.s = FastWeight(
        _draw_factors(rngs.params(), E, layer.out_features, init, s_mean, s_std, pdtype)
    )


def _naive_params(layer: nnx.Module, rngs: nnx.Rngs, kernel_shape: tuple[int, ...]) -> None:
    """``E`` independent lecun-normal kernels (member k from its own key) and zero biases."""
    E, pdtype = layer.num_members, layer.param_dtype
    layer.kernel = nnx.Param(_member_kernels(rngs.params(), E, tuple(kernel_shape), pdtype))
    if layer.use_bias:
        layer.bias = nnx.Param(jnp.zeros((E, kernel_shape[-1]), pdtype))
    else:
        layer.bias = nnx.data(None)


class NaiveEnsembleLinear(nnx.Module):
    """A naive ensemble: ``num_members`` fully independent kernels and biases.

    The honest baseline for BatchEnsemble: the same member-major call convention, but
    ``E·(in·out + out)`` parameters instead of ``in·out + E·(in + 2·out)``. Every member's kernel is
    drawn afresh with ``nnx.Linear``'s default initialiser (lecun-normal, member ``k`` from its own
    key) and its bias starts at zero; sizes, ``use_bias`` and dtypes come from ``base_layer``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> import bel
    >>> layer = bel.NaiveEnsembleLinear(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), 1, 4)
    >>> layer.kernel.shape, layer.bias.shape
    ((4, 3, 2), (4, 2))
    >>> x = jnp.ones((5, 3))
    >>> y = bel.untile(layer(bel.tile(x, 4)), 4)    # [4, 5, 2]
    >>> bool(jnp.allclose(y[2], x @ layer.kernel[2] + layer.bias[2], atol=1e-6))
    True
    """

    def __init__(self, base_layer: nnx.Linear, rngs: nnx.Rngs | int, num_members: int):
        _check_base_layer(base_layer, nnx.Linear, "NaiveEnsembleLinear")
        rngs = _as_rngs(rngs)
        self.num_members = _check_num_members(num_members)
        self.in_features = base_layer.in_features
        self.out_features = base_layer.out_features
        self.use_bias = base_layer.use_bias
        self.dtype = base_layer.dtype
        self.param_dtype = base_layer.param_dtype
        self.precision = base_layer.precision
        self.promote_dtype = base_layer.promote_dtype
        _naive_params(self, rngs, (self.in_features, self.out_features))

    def effective_weights(self) -> jax.Array:
        """The members' kernels, ``[num_members, in, out]`` (same interface as BatchEnsemble)."""
        return self.kernel[...]

    def __call__(self, inputs: jax.Array) -> jax.Array:
        """Forward pass on a member-major batch ``[E*B, ..., in_features]``."""
        E = self.num_members
        _check_member_major(inputs, E, "NaiveEnsembleLinear", features=self.in_features)
        kernel = self.kernel[...]
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        shape = inputs.shape
        # Split only the row axis into member blocks (keeps a row-sharded batch's sharding).
        x = inputs.reshape((E, shape[0] // E) + shape[1:])
        y = jnp.einsum("eb...i,eio->eb...o", x, kernel, precision=self.precision)
        y = y.reshape(shape[:-1] + (self.out_features,))
        return y if bias is None else _blockwise(y, bias, E, op="add")


# --------------------------------------------------------------------------------------------------
# convolutions


def _check_conv_base(base_layer: Any, name: str) -> None:
    _check_base_layer(base_layer, nnx.Conv, name)
    if base_layer.feature_group_count != 1:
        raise ValueError(
            f"{name} supports feature_group_count=1 only (r and s scale whole channels), got "
            f"feature_group_count={base_layer.feature_group_count}"
        )


def _copy_conv_config(layer: nnx.Module, base: nnx.Conv) -> None:
    for name in (
        "in_features", "out_features", "kernel_size", "strides", "padding", "input_dilation",
        "kernel_dilation", "feature_group_count", "use_bias", "dtype", "param_dtype",
        "precision", "conv_general_dilated", "promote_dtype", "preferred_element_type",
    ):  # fmt: skip
        setattr(layer, name, getattr(base, name))
    layer.kernel_shape = tuple(base.kernel_shape)
    layer.mask = None if base.mask is None else nnx.data(jnp.asarray(base.mask))


def _convolve(layer: nnx.Module, x: jax.Array, kernel: jax.Array, out_sharding: Any) -> jax.Array:
    """``nnx.Conv``'s convolution of ``x [B, spatial..., C_in]`` with one kernel, without bias.

    Strides, padding (``"SAME"``, ``"VALID"``, ``"CIRCULAR"``, ``"REFLECT"``, ``"CAUSAL"``, ints
    or pairs), input and kernel dilation behave exactly as in ``flax.nnx.Conv``.
    """
    kernel_size = layer.kernel_size
    nd = len(kernel_size)

    def per_axis(v: Any) -> tuple[int, ...]:
        v = 1 if v is None else v
        return (v,) * nd if isinstance(v, int) else tuple(v)

    strides, kernel_dilation = per_axis(layer.strides), per_axis(layer.kernel_dilation)
    padding = canonicalize_padding(layer.padding, nd)
    if padding in ("CIRCULAR", "REFLECT"):
        dilated = [(k - 1) * d + 1 for k, d in zip(kernel_size, kernel_dilation, strict=True)]
        pads = [(0, 0)] + [((k - 1) // 2, k // 2) for k in dilated] + [(0, 0)]
        x = jnp.pad(x, pads, mode={"CIRCULAR": "wrap", "REFLECT": "reflect"}[padding])
        padding = "VALID"
    elif padding == "CAUSAL":
        if nd != 1:
            raise ValueError("Causal padding is only implemented for 1D convolutions.")
        x = jnp.pad(x, [(0, 0), (kernel_dilation[0] * (kernel_size[0] - 1), 0), (0, 0)])
        padding = "VALID"
    kwargs: dict[str, Any] = {"out_sharding": out_sharding}
    if layer.preferred_element_type is not None:
        kwargs["preferred_element_type"] = layer.preferred_element_type
    spec = (0, nd + 1) + tuple(range(1, nd + 1))  # channels last, like flax
    return layer.conv_general_dilated(
        x,
        kernel,
        strides,
        padding,
        lhs_dilation=per_axis(layer.input_dilation),
        rhs_dilation=kernel_dilation,
        dimension_numbers=jax.lax.ConvDimensionNumbers(spec, (nd + 1, nd) + tuple(range(nd)), spec),
        precision=layer.precision,
        **kwargs,
    )


class BatchEnsembleConv(nnx.Conv):
    """BatchEnsemble convolution built from an ``nnx.Conv``: ``r`` scales input channels, ``s``
    output channels.

    Member ``i``'s effective kernel is ``W ∘ (r_i s_iᵀ)`` broadcast over the spatial axes,
    ``W[..., c, d] · r_i[c] · s_i[d]``, and since a convolution is linear in its input channels,
    ``conv(x, W ∘ r_i s_iᵀ) = conv(x ∘ r_i, W) ∘ s_i``. The right-hand side is what runs: **one**
    convolution for all members on a member-major batch ``[E*B, spatial..., C_in]``, never E
    kernels.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> import bel
    >>> base = nnx.Conv(3, 5, kernel_size=(3, 3), rngs=nnx.Rngs(0))
    >>> layer = bel.BatchEnsembleConv(base, 1, 4, init="random_sign")
    >>> layer.kernel.shape, layer.r.shape, layer.s.shape, layer.bias.shape
    ((3, 3, 3, 5), (4, 3), (4, 5), (4, 5))
    >>> x = jnp.ones((2, 8, 8, 3))                     # 2 images, 8x8, 3 channels
    >>> y = bel.untile(layer(bel.tile(x, 4)), 4)       # [4 members, 2, 8, 8, 5]
    >>> W_eff = layer.effective_weights()              # [4, 3, 3, 3, 5]
    >>> one = nnx.Conv(3, 5, kernel_size=(3, 3), rngs=nnx.Rngs(0))
    >>> one.kernel[...] = W_eff[2]; one.bias[...] = layer.bias[2]
    >>> bool(jnp.allclose(y[2], one(x), atol=1e-5))   # member 2 = an ordinary Conv
    True

    Args:
      base_layer: the plain ``nnx.Conv`` to turn into an ensemble; its kernel size, strides,
        padding, dilations, ``use_bias``, mask and dtypes are kept. ``feature_group_count > 1`` is
        refused (r and s scale whole channels).
      rngs, num_members, use_base_weights, init, r_mean, r_std, s_mean, s_std: as for
        :class:`BatchEnsembleLinear` (``r`` has ``in_features`` entries per member, ``s``
        ``out_features``).

    Attributes:
      kernel: ``nnx.Param`` ``[*kernel_size, in_features, out_features]``, the shared ``W``.
      bias: ``nnx.Param`` ``[num_members, out_features]`` or None.
      r, s: :class:`FastWeight` ``[num_members, in_features]`` and ``[num_members, out_features]``.
    """

    def __init__(
        self,
        base_layer: nnx.Conv,
        rngs: nnx.Rngs | int,
        num_members: int,
        *,
        use_base_weights: bool = True,
        init: str = "normal",
        r_mean: float = 1.0,
        r_std: float = 0.5,
        s_mean: float = 1.0,
        s_std: float = 0.5,
    ):
        _check_conv_base(base_layer, "BatchEnsembleConv")
        rngs = _as_rngs(rngs)
        num_members = _check_num_members(num_members)
        _check_init(init, r_std, s_std)
        self.num_members = num_members
        _copy_conv_config(self, base_layer)
        _init_ensemble_params(self, base_layer, rngs, self.kernel_shape, use_base_weights)
        _init_fast_weights(self, rngs, init, r_mean, r_std, s_mean, s_std)

    def effective_weights(self) -> jax.Array:
        """Every member's explicit kernel ``W ∘ (r_i s_iᵀ)``: ``[E, *kernel_size, C_in, C_out]``.

        For inspection and drawing only: the forward pass never forms these E kernels.
        """
        kernel, r, s = self.kernel[...], self.r[...], self.s[...]
        spatial = (None,) * len(self.kernel_size)
        return (
            kernel[None]
            * r[(slice(None),) + spatial + (slice(None), None)]
            * s[(slice(None),) + spatial + (None, slice(None))]
        )

    def __call__(self, inputs: jax.Array, out_sharding: Any = None) -> jax.Array:
        """Forward pass on a member-major batch ``[E*B, spatial..., in_features]``.

        ``conv(x ∘ r, W) ∘ s + bias`` blockwise, one convolution for all members. Returns
        ``[E*B, spatial'..., out_features]``.
        """
        E = self.num_members
        rank = len(self.kernel_size) + 2
        _check_member_major(inputs, E, "BatchEnsembleConv", features=self.in_features, rank=rank)
        kernel = self.kernel[...]
        if self.mask is not None:
            kernel = kernel * self.mask
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        x = _blockwise(inputs, self.r[...].astype(inputs.dtype), E)
        y = _convolve(self, x, kernel, out_sharding)
        y = _blockwise(y, self.s[...].astype(y.dtype), E)
        return y if bias is None else _blockwise(y, bias, E, op="add")


class NaiveEnsembleConv(nnx.Module):
    """A naive ensemble of convolutions: ``num_members`` independent kernels and biases.

    The honest baseline for :class:`BatchEnsembleConv`, with the same member-major call
    convention and ``E·(k·C_in·C_out + C_out)`` parameters.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> import bel
    >>> layer = bel.NaiveEnsembleConv(nnx.Conv(3, 5, kernel_size=(3, 3), rngs=nnx.Rngs(0)), 1, 4)
    >>> layer.kernel.shape, layer(jnp.ones((8, 6, 6, 3))).shape
    ((4, 3, 3, 3, 5), (8, 6, 6, 5))
    """

    def __init__(self, base_layer: nnx.Conv, rngs: nnx.Rngs | int, num_members: int):
        _check_conv_base(base_layer, "NaiveEnsembleConv")
        rngs = _as_rngs(rngs)
        self.num_members = _check_num_members(num_members)
        _copy_conv_config(self, base_layer)
        _naive_params(self, rngs, self.kernel_shape)

    def effective_weights(self) -> jax.Array:
        """The members' kernels, ``[num_members, *kernel_size, C_in, C_out]``."""
        return self.kernel[...]

    def __call__(self, inputs: jax.Array, out_sharding: Any = None) -> jax.Array:
        """Forward pass on a member-major batch ``[E*B, spatial..., in_features]``."""
        E = self.num_members
        rank = len(self.kernel_size) + 2
        _check_member_major(inputs, E, "NaiveEnsembleConv", features=self.in_features, rank=rank)
        kernel = self.kernel[...]
        if self.mask is not None:
            kernel = kernel * self.mask
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        x = inputs.reshape((E, inputs.shape[0] // E) + inputs.shape[1:])
        # E separate convolutions: XLA's CPU backend runs a vmapped (grouped) convolution many
        # times slower than the same work as E ordinary ones.
        y = jnp.concatenate([_convolve(self, x[k], kernel[k], out_sharding) for k in range(E)])
        return y if bias is None else _blockwise(y, bias, E, op="add")


ENSEMBLE_LAYERS = (BatchEnsembleLinear, NaiveEnsembleLinear, BatchEnsembleConv, NaiveEnsembleConv)


def num_members(model: Any) -> int:
    """The number of ensemble members ``E`` a model holds: 1 for a model without ensemble layers.

    Every ensemble layer of the model must agree; a model whose layers disagree is refused with a
    ValueError that lists them. ``bel.fit``, ``bel.predict``, ``bel.compare`` and the plots ask
    the model this way, so nobody has to pass ``E`` next to a model that already knows it.

    >>> import bel
    >>> bel.num_members(bel.mlp(2, 2, rngs=0))
    1
    >>> bel.num_members(bel.batchensemble(bel.mlp(2, 2, rngs=0), 3, rngs=1))
    3
    """
    if not isinstance(model, nnx.Module):
        raise ValueError(f"num_members expects an nnx.Module, got {_qualname(model)}")
    found: dict[int, list[str]] = {}
    for path, module in nnx.iter_modules(model):
        if isinstance(module, ENSEMBLE_LAYERS):
            where = "/".join(map(str, path)) or type(module).__name__
            found.setdefault(module.num_members, []).append(where)
    if not found:
        return 1
    if len(found) > 1:
        detail = "; ".join(
            f"{E} members at {', '.join(paths)}" for E, paths in sorted(found.items())
        )
        raise ValueError(
            f"num_members expects every ensemble layer of a model to have the same number of "
            f"members, got {detail}"
        )
    return next(iter(found))


def member_weights(model: Any) -> jax.Array:
    """Every member's effective weights over all ensemble layers, one row per member: ``[E, P]``.

    Row ``k`` concatenates, in tree order, every ensemble layer's ``effective_weights()[k]``
    flattened (``W ∘ (r_k s_kᵀ)`` for BatchEnsemble, member k's own kernel for a naive ensemble):
    the vector whose cosine similarity between members measures how alike they are in weight
    space (:func:`bel.metrics.weight_cosine_similarity`).

    >>> import bel
    >>> model = bel.batchensemble(bel.mlp(2, 3, hidden=(4,), rngs=0), 5, rngs=1)
    >>> bel.member_weights(model).shape            # 5 members, 2*4 + 4*3 weights each
    (5, 20)
    """
    E = num_members(model)
    layers = [m for _, m in nnx.iter_modules(model) if isinstance(m, ENSEMBLE_LAYERS)]
    if not layers:
        raise ValueError(
            f"member_weights expects a model with ensemble layers, got a {type(model).__name__} "
            f"with none (convert it with bel.batchensemble or bel.naive_ensemble first)"
        )
    return jnp.concatenate([layer.effective_weights().reshape(E, -1) for layer in layers], axis=1)


def tile(x: jax.Array, num_members: int) -> jax.Array:
    """Repeat a batch ``[B, ...]`` for every member, member-major: ``[E*B, ...]``.

    Row ``k*B + j`` is ``x[j]`` for member ``k`` (what ``jnp.tile`` does; ``jnp.repeat`` would
    interleave the members instead, a classic bug).

    >>> import jax.numpy as jnp
    >>> import bel
    >>> bel.tile(jnp.array([[1.0], [2.0]]), 3)[:, 0].tolist()
    [1.0, 2.0, 1.0, 2.0, 1.0, 2.0]
    """
    num_members = _check_num_members(num_members)
    x = jnp.asarray(x)
    if x.ndim < 1:
        raise ValueError(f"tile expects an array with a batch axis, got shape {x.shape}")
    return jnp.tile(x, (num_members,) + (1,) * (x.ndim - 1))


def untile(y: jax.Array, num_members: int) -> jax.Array:
    """Split a member-major ``[E*B, ...]`` array into ``[E, B, ...]``; the inverse of :func:`tile`.

    >>> import jax.numpy as jnp
    >>> import bel
    >>> bel.untile(bel.tile(jnp.arange(2.0), 3), 3).shape
    (3, 2)
    """
    num_members = _check_num_members(num_members)
    y = jnp.asarray(y)
    if y.ndim < 1 or y.shape[0] % num_members != 0:
        raise ValueError(
            f"untile expects a member-major array whose first axis divides by "
            f"num_members={num_members}, got shape {y.shape}"
        )
    return y.reshape((num_members, -1) + y.shape[1:])
