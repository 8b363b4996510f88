"""How bel compiles its own programs: :func:`jax.jit` with one XLA option for the CPU.

XLA's CPU backend turns each fusion of a program into machine code either with its newer MLIR
"fusion emitters" (the default) or with its older LLVM IR emitters
(``xla_cpu_use_fusion_emitters=False``). For bel's small programs (the training loop of a
few-layer network, the metrics, the random draws) the older emitters compile faster and the
programs run as fast: ``python -m bench compile`` measures both side by side on notebook 07's
training loop (about a fifth less compile time, the same run time). The random draws stay
bit-identical to flax's (``tests/test_layers.py`` checks it); a training run can differ from the
default emitters' in the last bits of a float.

The option is passed per program (``jax.jit(..., compiler_options=...)``), so it touches nothing
but bel's programs, and other backends ignore it. JAX accepts it only on a program called at the
top level; called inside another trace (a user's ``jax.jit``, ``jax.vmap``, ``nnx.eval_shape``)
the function is the plain ``jax.jit`` one, which the outer program compiles as a part of itself.

>>> import jax.numpy as jnp
>>> from bel._jit import jit
>>> double = jit(lambda x: 2 * x)
>>> double(jnp.arange(3)).tolist()
[0, 2, 4]
>>> jit(static_argnames="n")(lambda x, n: x * n)(jnp.ones(2), n=3).tolist()
[3.0, 3.0]
>>> import jax
>>> jax.jit(lambda x: double(x) + 1)(jnp.arange(3)).tolist()   # inside another program
[1, 3, 5]
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial, wraps
from typing import Any

import jax

__all__ = ["COMPILER_OPTIONS", "jit"]

COMPILER_OPTIONS: dict[str, Any] = {"xla_cpu_use_fusion_emitters": False}


def jit(fun: Callable | None = None, /, **kwargs: Any) -> Any:
    """:func:`jax.jit` with :data:`COMPILER_OPTIONS` when called at the top level: ``@jit``,
    ``@jit(static_argnames=...)`` or ``jit(f, ...)``."""
    if fun is None:
        return partial(jit, **kwargs)
    top = jax.jit(fun, compiler_options=COMPILER_OPTIONS, **kwargs)
    nested = jax.jit(fun, **kwargs)

    @wraps(fun)
    def call(*args: Any, **kw: Any) -> Any:
        try:
            return top(*args, **kw)
        except ValueError as err:  # inside another trace: compiled as part of the outer program
            if "top-level" not in str(err):
                raise
            return nested(*args, **kw)

    return call
