"""bel._jit: bel's programs compile with its XLA option at the top level, plainly inside a trace."""

from __future__ import annotations

import re
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bel
from bel._jit import COMPILER_OPTIONS, jit

BEL = Path(bel.__file__).parent


def test_every_program_of_bel_is_compiled_through_bel_jit():
    # sharding.py compiles a user's function to show what XLA makes of it: that one stays plain
    plain = re.compile(r"^\s*(@jax\.jit|@partial\(jax\.jit|.*=\s*jax\.jit\()", re.M)
    mine = [p for p in BEL.rglob("*.py") if p.name not in ("_jit.py", "sharding.py")]
    offenders = [str(p.relative_to(BEL)) for p in mine if plain.search(p.read_text())]
    assert offenders == []
    assert COMPILER_OPTIONS == {"xla_cpu_use_fusion_emitters": False}


def test_top_level_and_nested_calls_give_the_same_numbers():
    @jit(static_argnames="n")
    def f(x, n):
        return jnp.tanh(x) * n

    x = jnp.linspace(-2, 2, 7)
    top = f(x, n=3)
    nested = jax.jit(lambda x: f(x, n=3))(x)
    mapped = jax.vmap(lambda v: f(v, n=3))(x)
    np.testing.assert_array_equal(top, nested)
    np.testing.assert_array_equal(top, mapped)
    assert f.__name__ == "f"


def test_a_model_built_inside_eval_shape_draws_through_the_plain_program():
    shapes = nnx.eval_shape(lambda: bel.batchensemble(bel.mlp(3, 2, rngs=0), 4, rngs=1))
    assert bel.num_members(shapes) == 4
    assert all(isinstance(v, jax.ShapeDtypeStruct) for v in jax.tree.leaves(nnx.state(shapes)))


def test_errors_of_the_function_itself_are_not_swallowed():
    @jit
    def bad(x):
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        bad(jnp.ones(2))
    with pytest.raises(ValueError, match="bad input"):
        jax.jit(bad)(jnp.ones(2))
