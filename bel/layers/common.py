"""What every ensemble layer shares: the fast-weight type, the input checks and the one initialiser.

:class:`FastWeight` is the parameter type of ``r`` and ``s``. :func:`draw_factors` is bel's one
initialiser of fast weights (member ``k`` drawn from ``fold_in(key, k)``, so a member's draw does
not depend on ``E``); :func:`init_ensemble_params` and :func:`init_fast_weights` give a
BatchEnsemble layer (Linear or Conv) its shared kernel, per-member bias and factors;
:func:`naive_params` gives a naive ensemble its ``E`` kernels. :func:`blockwise` applies
per-member rows to a member-major batch. Used by :mod:`bel.layers.linear`,
:mod:`bel.layers.conv` and :func:`bel.lifelong.add_member`.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal, TypedDict

import jax
import jax.numpy as jnp
from flax import nnx

from bel._checks import check_at_least, check_choice, qualname

# FastWeight, INITS, Init and LayerOptions are public as bel.layers.NAME (documented there once).
__all__ = [
    "check_base_layer",
    "check_init",
    "check_member_major",
    "draw_factors",
    "lecun_normal_2d",
    "member_kernels",
    "blockwise",
    "init_ensemble_params",
    "init_fast_weights",
    "naive_params",
]

Init = Literal["normal", "random_sign"]
INITS: tuple[Init, ...] = ("normal", "random_sign")


class LayerOptions(TypedDict, total=False):
    """The keyword options of a BatchEnsemble layer, as :func:`bel.batchensemble` passes them on."""

    use_base_weights: bool
    init: Init
    r_mean: float
    r_std: float
    s_mean: float
    s_std: float


def lecun_normal_2d(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """flax's default kernel initialiser (LeCun normal), drawn as a matrix and reshaped.

    The draw is bit-identical to ``nnx.initializers.lecun_normal()(key, shape, dtype)`` (the
    fan-in of ``[..., in, out]`` is that of ``[prod(...)·in, out]`` and the random bits are
    drawn flat), but XLA on the CPU compiles a random draw of a 4-D shape very slowly (jax
    0.10.2: 6 s for a 3×3×8×16 convolution kernel, 0.6 s as a 72×16 matrix), so every
    convolution kernel bel draws goes through this.

    >>> key = jax.random.key(0)
    >>> flax_kernel = nnx.initializers.lecun_normal()(key, (3, 3, 2, 4))
    >>> bool((lecun_normal_2d(key, (3, 3, 2, 4)) == flax_kernel).all())
    True
    """
    rows = 1
    for size in shape[:-1]:
        rows *= size
    flat = (rows, shape[-1]) if len(shape) > 2 else tuple(shape)
    return nnx.initializers.lecun_normal()(key, flat, dtype).reshape(shape)


_default_kernel_init = lecun_normal_2d
_default_bias_init = nnx.initializers.zeros_init()


class FastWeight(nnx.Param):
    """The per-member factors ``r`` and ``s`` of a BatchEnsemble layer.

    A parameter type of its own, so optimisers and filters can select the fast weights *by type*
    (never by name): ``nnx.state(model, FastWeight)`` returns exactly the ``r`` and ``s`` of every
    layer. Being a subclass of :class:`flax.nnx.Param`, they are trained like any other parameter.
    """


def check_base_layer(base_layer: Any, kind: type, name: str, ensembles: tuple[type, ...]) -> None:
    """``base_layer`` must be exactly a ``kind`` (nnx.Linear or nnx.Conv): no subclass, no ensemble.

    A subclass of ``kind`` (``nnx.LoRALinear``, a user's ``class Scaled(nnx.Linear)``) computes
    something an ensemble layer built from its kernel would not, so it is refused rather than
    silently replaced; ``ensembles`` are the ensemble layers of that kind (refused with their own
    message: convert the original layer instead).
    """
    if type(base_layer) is kind:
        return
    if isinstance(base_layer, ensembles):
        raise ValueError(
            f"{name} expects a plain flax.nnx.{kind.__name__} as base_layer, got an ensemble layer "
            f"({type(base_layer).__name__} with {base_layer.num_members} members): convert the "
            f"original layer instead"
        )
    if isinstance(base_layer, kind):
        raise ValueError(
            f"{name} expects a plain flax.nnx.{kind.__name__} as base_layer, got "
            f"{qualname(base_layer)}, a subclass: what it computes beyond a plain "
            f"{kind.__name__} would be lost, so it is not converted"
        )
    raise ValueError(f"base_layer must be a flax.nnx.{kind.__name__}, got {qualname(base_layer)}")


def check_init(init: Any, r_std: Any, s_std: Any) -> None:
    """``init`` one of :data:`INITS`; both stds ``>= 0`` (NaN refused)."""
    check_choice(init, "init", INITS)
    check_at_least(r_std, "r_std")
    check_at_least(s_std, "s_std")


def check_member_major(
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


def draw_factors(
    key: jax.Array, num_members: int, size: int, init: str, mean: Any, std: Any, dtype: Any
) -> jax.Array:
    """``[num_members, size]`` factors; row k is drawn from ``fold_in(key, k)``."""
    rows = [_draw_row(key, k, size, init, mean, std, dtype) for k in range(num_members)]
    return jnp.stack(rows)


@partial(jax.jit, static_argnames=("shape", "dtype"))
def _fresh_kernel(key: jax.Array, shape: tuple[int, ...], dtype: Any) -> jax.Array:
    return _default_kernel_init(key, shape, dtype)


def member_kernels(key: jax.Array, num_members: int, shape: tuple[int, ...], dtype: Any):
    """``num_members`` independent lecun-normal kernels, member k from ``fold_in(key, k)``."""
    return jnp.stack(
        [_fresh_kernel(jax.random.fold_in(key, k), shape, dtype) for k in range(num_members)]
    )


def blockwise(y: jax.Array, factors: jax.Array, num_members: int, op: str = "mul") -> jax.Array:
    """Multiply (or add) member-major rows of ``y [E*B, ..., f]`` by ``factors [E, f]``, blockwise.

    Only the row axis is split into ``[E, B]``: a batch sharded along its rows (see
    :mod:`bel.sharding`) keeps its sharding on the member axis, with no resharding.
    """
    shape = y.shape
    blocks = y.reshape((num_members, shape[0] // num_members) + shape[1:])
    per_member = factors[(slice(None),) + (None,) * (len(shape) - 1)]  # [E, 1, ..., 1, f]
    out = blocks * per_member if op == "mul" else blocks + per_member
    return out.reshape(shape)


def init_ensemble_params(
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


def init_fast_weights(
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
        draw_factors(rngs.params(), E, layer.in_features, init, r_mean, r_std, pdtype)
    )
    layer.s = FastWeight(
        draw_factors(rngs.params(), E, layer.out_features, init, s_mean, s_std, pdtype)
    )


def naive_params(layer: nnx.Module, rngs: nnx.Rngs, kernel_shape: tuple[int, ...]) -> None:
    """``E`` independent lecun-normal kernels (member k from its own key) and zero biases."""
    E, pdtype = layer.num_members, layer.param_dtype
    layer.kernel = nnx.Param(member_kernels(rngs.params(), E, tuple(kernel_shape), pdtype))
    if layer.use_bias:
        layer.bias = nnx.Param(jnp.zeros((E, kernel_shape[-1]), pdtype))
    else:
        layer.bias = nnx.data(None)
