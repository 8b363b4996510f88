"""What every ensemble layer shares: the fast-weight type, the input checks and the initialisers.

:class:`FastWeight` is the parameter type of ``r`` and ``s``. :func:`draw_factors` is bel's one
initialiser of fast weights (member ``k`` drawn from ``fold_in(key, k)``, so a member's draw does
not depend on ``E``) and :func:`lecun_normal` its one kernel initialiser (flax's default, bit for
bit); both draw from pools compiled once, so no new shape or member count compiles anything;
:func:`init_ensemble_params` and :func:`init_fast_weights` give a
BatchEnsemble layer (Linear or Conv) its shared kernel, per-member bias and factors;
:func:`naive_params` gives a naive ensemble its ``E`` kernels. :func:`blockwise` applies
per-member rows to a member-major batch. Used by :mod:`bel.layers.linear`,
:mod:`bel.layers.conv` and :func:`bel.lifelong.add_member`.
"""

from __future__ import annotations

import math
from typing import Any, Literal, TypedDict

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from bel._checks import check_at_least, check_choice, qualname
from bel._jit import jit

# FastWeight, INITS, Init and LayerOptions are public as bel.layers.NAME (documented there once).
__all__ = [
    "check_base_layer",
    "check_init",
    "check_member_major",
    "draw_factors",
    "lecun_normal",
    "zeros",
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


# Random draws come from flat pools that compile once per pool size, not once per shape: XLA on
# the CPU takes 0.2-0.4 s to compile each random draw (jax 0.10.2; 6 s for a 4-D convolution
# kernel), and a lesson draws a dozen shapes. A draw of shape S takes the first prod(S) values of
# a pool of max(minimum, next power of two) values and reshapes them; outside a trace the slicing
# runs in NumPy (nothing to compile), inside one in JAX, with the same values. JAX's random bits
# are counter-based, so a prefix of the pool equals a draw of that shape (lecun_normal's doctest).
# Member k's draw comes from fold_in(key, k), so it does not depend on E; all members' rows are
# drawn in one call, over a power-of-two number of rows (>= 16), so a new E compiles nothing either;
# a row pool holds at least 4096 values, so the layers of a small network share one program.
_MIN_POOL, _MIN_ROW_POOL, _MIN_ROWS = 1 << 14, 1 << 12, 16


def _bucket(n: int, least: int) -> int:
    return max(least, 1 << max(n - 1, 0).bit_length())


_KINDS = ("normal", "random_sign", "truncated_normal")  # the kind is data: one program for all


def _values(key: jax.Array, kind: jax.Array, size: int, loc: Any, scale: Any, dtype: Any):
    def normal() -> jax.Array:
        return (loc + scale * jax.random.normal(key, (size,))).astype(dtype)

    def random_sign() -> jax.Array:
        return jax.random.rademacher(key, (size,), dtype=dtype)

    def truncated_normal() -> jax.Array:  # as flax's variance_scaling: drawn and scaled in dtype
        return jax.random.truncated_normal(key, -2, 2, (size,), dtype) * scale.astype(dtype)

    return jax.lax.switch(kind, [normal, random_sign, truncated_normal])


@jit(static_argnames=("size", "dtype"))
def _pool(key: jax.Array, kind: jax.Array, size: int, loc: Any, scale: Any, dtype: Any):
    return _values(key, kind, size, loc, scale, dtype)


@jit(static_argnames=("size", "dtype"))
def _pool_rows(key, rows, kind: jax.Array, size: int, loc: Any, scale: Any, dtype: Any):
    def row(k: jax.Array) -> jax.Array:
        return _values(jax.random.fold_in(key, k), kind, size, loc, scale, dtype)

    return jax.vmap(row)(rows)


def _draw(key: jax.Array, shape: tuple[int, ...], kind: str, loc: Any, scale: Any, dtype: Any,
          members: int | None = None) -> Any:  # fmt: skip
    """``shape`` values from a pool (``[members, *shape]``, member k from ``fold_in(key, k)``,
    when ``members`` is given): a NumPy array, or a traced JAX array inside a trace."""
    n, which = math.prod(shape), np.int32(_KINDS.index(kind))
    loc, scale = np.float32(loc), np.float32(scale)
    if members is None:
        flat = _pool(key, which, _bucket(n, _MIN_POOL), loc, scale, dtype)[None]
    else:
        rows = np.arange(_bucket(members, _MIN_ROWS), dtype=np.uint32)
        flat = _pool_rows(key, rows, which, _bucket(n, _MIN_ROW_POOL), loc, scale, dtype)
    out_shape = tuple(shape) if members is None else (members, *shape)
    if isinstance(flat, jax.core.Tracer):
        return flat[: members or 1, :n].reshape(out_shape)
    return np.asarray(flat)[: members or 1, :n].reshape(out_shape)


def _device(values: Any) -> jax.Array:
    return values if isinstance(values, jax.core.Tracer) else jax.device_put(values)


def _rows(row: Any, n: int) -> jax.Array:
    """``[n, *row.shape]``: ``n`` copies of ``row`` (in NumPy outside a trace: nothing compiles)."""
    if isinstance(row, jax.core.Tracer):
        return jnp.tile(row[None], (n,) + (1,) * row.ndim)
    return jax.device_put(np.tile(np.asarray(row)[None], (n,) + (1,) * np.ndim(row)))


def lecun_normal(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """bel's kernel initialiser: flax's default (LeCun normal), drawn so no new shape compiles.

    Values are a normal truncated to ±2 standard deviations and scaled to variance ``1 / fan_in``,
    where the fan-in of a ``[..., in, out]`` kernel is ``prod(...) · in``. They are bit-identical
    to ``nnx.initializers.lecun_normal()(key, shape, dtype)``: JAX's counter-based random bits
    make the first ``n`` values of a long flat draw those of a draw of ``n`` values, so the draw
    comes from the compile-once pool (see the note above :func:`_pool`). ``bel.mlp``, ``bel.cnn``
    and every fresh kernel bel draws use it.

    >>> key = jax.random.key(0)
    >>> kernel = lecun_normal(key, (3, 3, 2, 4))
    >>> bool((kernel == nnx.initializers.lecun_normal()(key, (3, 3, 2, 4))).all())
    True
    >>> bool((jax.jit(lecun_normal, static_argnums=1)(key, (3, 3, 2, 4)) == kernel).all())
    True
    """
    scale = _lecun_scale(shape, dtype)
    return _device(_draw(key, tuple(shape), "truncated_normal", 0.0, scale, dtype))


def _lecun_scale(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """The scale of a lecun-normal kernel as flax computes it, in the kernel's dtype: the std of
    ``1 / fan_in`` over that of a standard normal truncated to [-2, 2]."""
    variance = np.asarray(1.0 / math.prod(shape[:-1]), dtype)
    return np.sqrt(variance) / np.asarray(0.87962566103423978, dtype)


def zeros(key: Any, shape: tuple[int, ...], dtype: Any = jnp.float32) -> jax.Array:
    """A zero bias (flax's default; ``key`` is unused), built in NumPy: a shape compiles nothing."""
    return jax.device_put(np.zeros(shape, dtype))


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


def draw_factors(
    key: jax.Array, num_members: int, size: int, init: str, mean: Any, std: Any, dtype: Any
) -> jax.Array:
    """``[num_members, size]`` factors; row k is drawn from ``fold_in(key, k)``."""
    if init == "random_sign":
        return _device(_draw(key, (size,), "random_sign", 0.0, 1.0, dtype, num_members))
    return _device(_draw(key, (size,), "normal", mean, std, dtype, num_members))


def member_kernels(key: jax.Array, num_members: int, shape: tuple[int, ...], dtype: Any):
    """``num_members`` independent lecun-normal kernels, member k from ``fold_in(key, k)``."""
    scale = _lecun_scale(shape, dtype)
    return _device(_draw(key, tuple(shape), "truncated_normal", 0.0, scale, dtype, num_members))


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
        layer.kernel = nnx.Param(lecun_normal(rngs.params(), tuple(kernel_shape), pdtype))
    if not layer.use_bias:
        layer.bias = nnx.data(None)
    elif use_base_weights:
        layer.bias = nnx.Param(_rows(base_layer.bias[...], E))
    else:
        layer.bias = nnx.Param(zeros(rngs.params(), (E, n_out), pdtype))


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
        layer.bias = nnx.Param(zeros(None, (E, kernel_shape[-1]), pdtype))
    else:
        layer.bias = nnx.data(None)
