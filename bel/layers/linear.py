"""BatchEnsemble and naive-ensemble linear layers, built from an ``nnx.Linear``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

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

__all__ = ["BatchEnsembleLinear", "NaiveEnsembleLinear"]


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
        init: Init = "normal",
        r_mean: float = 1.0,
        r_std: float = 0.5,
        s_mean: float = 1.0,
        s_std: float = 0.5,
    ):
        check_base_layer(base_layer, nnx.Linear, "BatchEnsembleLinear", _LINEARS)
        rngs = as_rngs(rngs)
        num_members = check_int(num_members, "num_members", 1)
        check_init(init, r_std, s_std)
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
        init_ensemble_params(
            self, base_layer, rngs, (self.in_features, self.out_features), use_base_weights
        )
        init_fast_weights(self, rngs, init, r_mean, r_std, s_mean, s_std)

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
        check_member_major(inputs, E, "BatchEnsembleLinear", features=self.in_features)
        kernel = self.kernel[...]
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        x = blockwise(inputs, self.r[...].astype(inputs.dtype), E)
        kwargs: dict[str, Any] = {"out_sharding": out_sharding}
        if self.preferred_element_type is not None:
            kwargs["preferred_element_type"] = self.preferred_element_type
        y = self.dot_general(
            x, kernel, (((x.ndim - 1,), (0,)), ((), ())), precision=self.precision, **kwargs
        )
        y = blockwise(y, self.s[...].astype(kernel.dtype), E)
        return y if bias is None else blockwise(y, bias, E, op="add")


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
        check_base_layer(base_layer, nnx.Linear, "NaiveEnsembleLinear", _LINEARS)
        rngs = as_rngs(rngs)
        self.num_members = check_int(num_members, "num_members", 1)
        self.in_features = base_layer.in_features
        self.out_features = base_layer.out_features
        self.use_bias = base_layer.use_bias
        self.dtype = base_layer.dtype
        self.param_dtype = base_layer.param_dtype
        self.precision = base_layer.precision
        self.promote_dtype = base_layer.promote_dtype
        naive_params(self, rngs, (self.in_features, self.out_features))

    def effective_weights(self) -> jax.Array:
        """The members' kernels, ``[num_members, in, out]`` (same interface as BatchEnsemble)."""
        return self.kernel[...]

    def __call__(self, inputs: jax.Array) -> jax.Array:
        """Forward pass on a member-major batch ``[E*B, ..., in_features]``."""
        E = self.num_members
        check_member_major(inputs, E, "NaiveEnsembleLinear", features=self.in_features)
        kernel = self.kernel[...]
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        shape = inputs.shape
        # Split only the row axis into member blocks (keeps a row-sharded batch's sharding).
        x = inputs.reshape((E, shape[0] // E) + shape[1:])
        y = jnp.einsum("eb...i,eio->eb...o", x, kernel, precision=self.precision)
        y = y.reshape(shape[:-1] + (self.out_features,))
        return y if bias is None else blockwise(y, bias, E, op="add")


_LINEARS = (BatchEnsembleLinear, NaiveEnsembleLinear)  # refused as base layers
