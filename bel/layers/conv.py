"""BatchEnsemble and naive-ensemble convolutions, built from an ``nnx.Conv``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx
from flax.nnx.nn.linear import canonicalize_padding

from bel._checks import as_rngs, check_int
from bel.layers.common import (
    Init,
    blockwise,
    check_base_layer,
    check_init,
    check_member_major,
    init_ensemble_params,
    init_fast_weights,
    naive_params,
)

__all__ = ["BatchEnsembleConv", "NaiveEnsembleConv"]


def _check_conv_base(base_layer: Any, name: str) -> None:
    check_base_layer(base_layer, nnx.Conv, name, (BatchEnsembleConv, NaiveEnsembleConv))
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
    or pairs), input and kernel dilation behave exactly as in ``flax.nnx.Conv``: the padding logic
    is a copy of ``flax.nnx.Conv.__call__`` in flax 0.12.8 (``flax/nnx/nn/linear.py``; flax has no
    public function for it). ``tests/test_layers.py`` compares the two bit for bit for every
    padding kind, so a flax release that changes its logic fails that test.
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
        init: Init = "normal",
        r_mean: float = 1.0,
        r_std: float = 0.5,
        s_mean: float = 1.0,
        s_std: float = 0.5,
    ):
        _check_conv_base(base_layer, "BatchEnsembleConv")
        rngs = as_rngs(rngs)
        num_members = check_int(num_members, "num_members", 1)
        check_init(init, r_std, s_std)
        self.num_members = num_members
        _copy_conv_config(self, base_layer)
        init_ensemble_params(self, base_layer, rngs, self.kernel_shape, use_base_weights)
        init_fast_weights(self, rngs, init, r_mean, r_std, s_mean, s_std)

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
        check_member_major(inputs, E, "BatchEnsembleConv", features=self.in_features, rank=rank)
        kernel = self.kernel[...]
        if self.mask is not None:
            kernel = kernel * self.mask
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        x = blockwise(inputs, self.r[...].astype(inputs.dtype), E)
        y = _convolve(self, x, kernel, out_sharding)
        y = blockwise(y, self.s[...].astype(y.dtype), E)
        return y if bias is None else blockwise(y, bias, E, op="add")


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
        rngs = as_rngs(rngs)
        self.num_members = check_int(num_members, "num_members", 1)
        _copy_conv_config(self, base_layer)
        naive_params(self, rngs, self.kernel_shape)

    def effective_weights(self) -> jax.Array:
        """The members' kernels, ``[num_members, *kernel_size, C_in, C_out]``."""
        return self.kernel[...]

    def __call__(self, inputs: jax.Array, out_sharding: Any = None) -> jax.Array:
        """Forward pass on a member-major batch ``[E*B, spatial..., in_features]``."""
        E = self.num_members
        rank = len(self.kernel_size) + 2
        check_member_major(inputs, E, "NaiveEnsembleConv", features=self.in_features, rank=rank)
        kernel = self.kernel[...]
        if self.mask is not None:
            kernel = kernel * self.mask
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        x = inputs.reshape((E, inputs.shape[0] // E) + inputs.shape[1:])
        # E separate convolutions: XLA's CPU backend runs a vmapped (grouped) convolution many
        # times slower than the same work as E ordinary ones.
        y = jnp.concatenate([_convolve(self, x[k], kernel[k], out_sharding) for k in range(E)])
        return y if bias is None else blockwise(y, bias, E, op="add")
