"""Tests for bel/_checks.py: each shared input check, and that the modules using it agree.

The point of one module of checks is that a question gets one answer everywhere: ``np.int64(3)``
is an int for every function that takes an int, ``True`` for none, and "is this a model" reads
the same in every message.
"""

from __future__ import annotations

import re

import jax
import numpy as np
import pytest
from flax import nnx

import bel
import bel.plots.predictions
from bel._checks import (
    as_rngs,
    check_at_least,
    check_choice,
    check_int,
    check_module,
    is_int,
    is_real,
    qualname,
)


@pytest.mark.parametrize(
    ("value", "int_", "real"),
    [
        (3, True, True),
        (np.int64(3), True, True),
        (np.int8(-1), True, True),
        (2.5, False, True),
        (np.float32(2.5), False, True),
        (True, False, False),
        (np.bool_(True), False, False),
        ("3", False, False),
        (None, False, False),
        (np.array(3), False, False),  # an array is not a scalar int, even a 0-d one
    ],
)
def test_is_int_and_is_real(value, int_, real):
    assert is_int(value) is int_
    assert is_real(value) is real


def test_check_int_returns_a_python_int_and_says_what_it_expected():
    assert type(check_int(np.int64(4), "E", 1)) is int
    assert check_int(0, "k", 0, below=2) == 0
    assert check_int(-5, "offset") == -5  # no bounds: any int
    cases = [
        (dict(value=0, name="E", minimum=1), "E must be an int >= 1, got 0"),
        (dict(value=True, name="E", minimum=1), "E must be an int >= 1, got True"),
        (dict(value=2.0, name="E", minimum=1), "E must be an int >= 1, got 2.0"),
        (dict(value=2, name="k", minimum=0, below=2), "k must be an int in [0, 2), got 2"),
        (dict(value=5, name="k", below=3), "k must be an int < 3, got 5"),
        (dict(value="a", name="k"), "k must be an int, got 'a'"),
        (
            dict(value=0, name="n", minimum=1, caller="f", hint="(see g)"),
            "f expects n to be an int >= 1, got 0 (see g)",
        ),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
            check_int(**kwargs)


def test_check_choice_at_least_module_and_rngs():
    assert check_choice("a", "mode", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"^mode must be one of \('a', 'b'\), got 'c'$"):
        check_choice("c", "mode", ("a", "b"))
    with pytest.raises(ValueError, match=r"^mode must be one of \('a', 'b'\), got \['a'\]$"):
        check_choice(["a"], "mode", ("a", "b"))  # unhashable: refused, not a TypeError
    assert check_at_least(0, "std") == 0
    for bad in (-1e-9, float("nan"), "1", None):
        with pytest.raises(ValueError, match=r"^std must be >= 0, got "):
            check_at_least(bad, "std")
    model = nnx.Linear(2, 2, rngs=nnx.Rngs(0))
    assert check_module(model, "f") is model
    with pytest.raises(ValueError, match=r"^f expects a flax\.nnx\.Module, got numpy\.ndarray$"):
        check_module(np.zeros(2), "f")
    assert qualname(model) == "flax.nnx.nn.linear.Linear"
    rngs = nnx.Rngs(3)
    assert as_rngs(rngs) is rngs
    np.testing.assert_array_equal(
        jax.random.key_data(as_rngs(np.int64(3)).params()),
        jax.random.key_data(nnx.Rngs(3).params()),
    )
    for bad in (True, 1.0, "0"):
        with pytest.raises(ValueError, match=r"^rngs must be an nnx\.Rngs or an int seed, got "):
            as_rngs(bad)


def test_every_module_accepts_numpy_ints_and_refuses_bools_alike():
    """The inconsistency the shared checks removed: np.int64 accepted in one place, refused in
    another."""
    n = np.int64(4)
    assert bel.tile(np.ones((2, 1)), n).shape == (8, 1)
    assert bel.data.two_moons(n)[0].shape == (4, 2)
    model = bel.batchensemble(bel.mlp(2, 2, hidden=(4,), rngs=0), n, rngs=np.int64(1))
    assert bel.num_members(model) == 4
    assert bel.compare.median_seconds(lambda: None, warmup=np.int64(0), repeats=n) >= 0
    for call, message in [
        (lambda: bel.tile(np.ones((2, 1)), True), "num_members must be an int >= 1, got True"),
        (lambda: bel.data.two_moons(True), "n must be an int >= 1, got True"),
        (lambda: bel.compare.median_seconds(lambda: None, repeats=True), "repeats must be"),
        (lambda: bel.metrics.ece(np.zeros((1, 2, 2)), np.zeros(2, int), num_bins=True),
         "ece expects num_bins to be an int >= 1, got True (under jax.jit"),
        (lambda: bel.plots.predictions.plot_over_seeds({"a": [{"x": 1.0}]}, ["x"], ncols=True),
         "plot_over_seeds expects ncols to be an int >= 1, got True"),
    ]:  # fmt: skip
        with pytest.raises(ValueError, match=re.escape(message)):
            call()


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: bel.num_members([]), "num_members"),
        (lambda: bel.describe([]), "describe"),
        (lambda: bel.batchensemble([], 2, rngs=0), "batchensemble"),
        (lambda: bel.compare.parameter_count([]), "parameter_count"),
        (lambda: bel.optim.fast_weight_labels([]), "fast_weight_labels"),
        (lambda: bel.sharding.shard_members([], jax.make_mesh((1,), ("members",))),
         "shard_members"),
        (lambda: bel.lifelong.member([], 0), "member"),
    ],
)  # fmt: skip
def test_every_module_says_what_a_model_is_the_same_way(call, name):
    with pytest.raises(
        ValueError, match=rf"^{name} expects a flax\.nnx\.Module, got builtins\.list$"
    ):
        call()
