"""BatchEnsemble and naive-ensemble linear layers, and the member-major batch layout.

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

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = [
    "FastWeight",
    "BatchEnsembleLinear",
    "NaiveEnsembleLinear",
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


def _check_base_layer(base_layer: Any) -> None:
    if not isinstance(base_layer, nnx.Linear):
        raise ValueError(
            f"base_layer must be a flax.nnx.Linear, got {type(base_layer).__module__}."
            f"{type(base_layer).__qualname__}"
        )


def _check_member_major(inputs: jax.Array, in_features: int, num_members: int, name: str) -> None:
    """Raise a readable ValueError for inputs that are not an [E*B, ..., in_features] batch."""
    shape = tuple(getattr(inputs, "shape", ()))
    if len(shape) < 2:
        raise ValueError(
            f"{name} expects inputs of shape [E*B, ..., {in_features}] (rank >= 2), "
            f"got shape {shape} (rank {len(shape)})"
        )
    if shape[-1] != in_features:
        raise ValueError(
            f"{name} expects the last axis of inputs to be in_features={in_features}, "
            f"got shape {shape}"
        )
    if shape[0] % num_members != 0:
        raise ValueError(
            f"{name} expects a member-major batch whose rows divide evenly among "
            f"num_members={num_members} (rows [k*B, (k+1)*B) belong to member k), "
            f"got {shape[0]} rows; tile the batch with bel.tile(x, {num_members})"
        )


def _draw_factor(
    key: jax.Array, shape: tuple[int, int], init: str, mean: float, std: float, dtype: Any
) -> jax.Array:
    if init == "random_sign":
        return jax.random.rademacher(key, shape, dtype=dtype)
    return (mean + std * jax.random.normal(key, shape)).astype(dtype)


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
    >>> layer = bel.BatchEnsembleLinear(base, 1, num_members=4)
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
      base_layer: the ``nnx.Linear`` to turn into an ensemble. Its sizes, ``use_bias``, ``dtype``,
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
    """

    def __init__(
        self,
        base_layer: nnx.Linear,
        rngs: nnx.Rngs | int,
        num_members: int,
        use_base_weights: bool = True,
        init: str = "normal",
        r_mean: float = 1.0,
        r_std: float = 0.5,
        s_mean: float = 1.0,
        s_std: float = 0.5,
    ):
        _check_base_layer(base_layer)
        rngs = _as_rngs(rngs)
        num_members = _check_num_members(num_members)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        for name, std in (("r_std", r_std), ("s_std", s_std)):
            if not std >= 0:  # also rejects NaN
                raise ValueError(f"{name} must be >= 0, got {std!r}")

        self.in_features = base_layer.in_features
        self.out_features = base_layer.out_features
        self.use_bias = base_layer.use_bias
        self.num_members = num_members
        self.init = init
        self.dtype = base_layer.dtype
        self.param_dtype = base_layer.param_dtype
        self.precision = base_layer.precision
        self.dot_general = base_layer.dot_general
        self.promote_dtype = base_layer.promote_dtype
        self.preferred_element_type = base_layer.preferred_element_type

        n_in, n_out, pdtype = self.in_features, self.out_features, self.param_dtype
        if use_base_weights:
            self.kernel = base_layer.kernel  # shared: the same Param object
        else:
            self.kernel = nnx.Param(_default_kernel_init(rngs.params(), (n_in, n_out), pdtype))
        self.bias: nnx.Param | None
        if not self.use_bias:
            self.bias = nnx.data(None)
        elif use_base_weights:
            self.bias = nnx.Param(jnp.tile(base_layer.bias[...][None, :], (num_members, 1)))
        else:
            self.bias = nnx.Param(_default_bias_init(rngs.params(), (num_members, n_out), pdtype))
        self.r = FastWeight(
            _draw_factor(rngs.params(), (num_members, n_in), init, r_mean, r_std, pdtype)
        )
        self.s = FastWeight(
            _draw_factor(rngs.params(), (num_members, n_out), init, s_mean, s_std, pdtype)
        )

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
        _check_member_major(inputs, self.in_features, self.num_members, "BatchEnsembleLinear")
        kernel = self.kernel[...]
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        r = self.r[...].astype(inputs.dtype)
        s = self.s[...].astype(kernel.dtype)

        E, shape = self.num_members, inputs.shape
        # View the rows as [E, rows-per-member, ..., features] so that r_k, s_k and bias_k broadcast
        # over member k's block. Only the row axis is split: a batch sharded along its rows (see
        # bel.sharding) then keeps its sharding on the member axis, with no resharding.
        blocks = (E, shape[0] // E) + shape[1:-1]
        per_member = (slice(None),) + (None,) * (len(shape) - 1)  # [E, f] -> [E, 1, ..., 1, f]
        x = (inputs.reshape(blocks + (self.in_features,)) * r[per_member]).reshape(shape)
        kwargs: dict[str, Any] = {"out_sharding": out_sharding}
        if self.preferred_element_type is not None:
            kwargs["preferred_element_type"] = self.preferred_element_type
        y = self.dot_general(
            x, kernel, (((x.ndim - 1,), (0,)), ((), ())), precision=self.precision, **kwargs
        )
        # ∘ s (+ bias), blockwise again.
        y = y.reshape(blocks + (self.out_features,)) * s[per_member]
        if bias is not None:
            y = y + bias[per_member]
        return y.reshape(shape[:-1] + (self.out_features,))


class NaiveEnsembleLinear(nnx.Module):
    """A naive ensemble: ``num_members`` fully independent kernels and biases.

    The honest baseline for BatchEnsemble: the same member-major call convention, but
    ``E·(in·out + out)`` parameters instead of ``in·out + E·(in + 2·out)``. Every member's kernel is
    drawn afresh with ``nnx.Linear``'s default initialiser (lecun-normal) and its bias starts at
    zero; sizes, ``use_bias`` and dtypes come from ``base_layer``.

    >>> import jax.numpy as jnp
    >>> from flax import nnx
    >>> import bel
    >>> layer = bel.NaiveEnsembleLinear(nnx.Linear(3, 2, rngs=nnx.Rngs(0)), 1, num_members=4)
    >>> layer.kernel.shape, layer.bias.shape
    ((4, 3, 2), (4, 2))
    >>> x = jnp.ones((5, 3))
    >>> y = bel.untile(layer(bel.tile(x, 4)), 4)    # [4, 5, 2]
    >>> bool(jnp.allclose(y[2], x @ layer.kernel[2] + layer.bias[2], atol=1e-6))
    True
    """

    def __init__(self, base_layer: nnx.Linear, rngs: nnx.Rngs | int, num_members: int):
        _check_base_layer(base_layer)
        rngs = _as_rngs(rngs)
        num_members = _check_num_members(num_members)
        self.in_features = base_layer.in_features
        self.out_features = base_layer.out_features
        self.use_bias = base_layer.use_bias
        self.num_members = num_members
        self.dtype = base_layer.dtype
        self.param_dtype = base_layer.param_dtype
        self.precision = base_layer.precision
        self.promote_dtype = base_layer.promote_dtype
        shape = (num_members, self.in_features, self.out_features)
        keys = jax.random.split(rngs.params(), num_members)
        kernels = [_default_kernel_init(k, shape[1:], self.param_dtype) for k in keys]
        self.kernel = nnx.Param(jnp.stack(kernels))
        self.bias: nnx.Param | None
        if self.use_bias:
            self.bias = nnx.Param(jnp.zeros((num_members, self.out_features), self.param_dtype))
        else:
            self.bias = nnx.data(None)

    def effective_weights(self) -> jax.Array:
        """The members' kernels, ``[num_members, in, out]`` (same interface as BatchEnsemble)."""
        return self.kernel[...]

    def __call__(self, inputs: jax.Array) -> jax.Array:
        """Forward pass on a member-major batch ``[E*B, ..., in_features]``."""
        _check_member_major(inputs, self.in_features, self.num_members, "NaiveEnsembleLinear")
        kernel = self.kernel[...]
        bias = self.bias[...] if self.bias is not None else None
        inputs, kernel, bias = self.promote_dtype((inputs, kernel, bias), dtype=self.dtype)
        E, shape = self.num_members, inputs.shape
        # Split only the row axis into member blocks (keeps a row-sharded batch's sharding).
        x = inputs.reshape((E, shape[0] // E) + shape[1:])
        y = jnp.einsum("eb...i,eio->eb...o", x, kernel, precision=self.precision)
        if bias is not None:
            y = y + bias[(slice(None),) + (None,) * (len(shape) - 1)]
        return y.reshape(shape[:-1] + (self.out_features,))


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
