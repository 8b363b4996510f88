"""The input checks every bel module shares: one spelling of each question, one message for each.

Private to bel (users never call these), and at the very bottom of the package: it imports
nothing from bel, so the ground floor (layers, metrics, data) and everything above it can use it.
Each check answers one question the same way everywhere:

- an *int* is a Python ``int`` or a NumPy integer, never a ``bool`` (``True`` is an ``int`` to
  Python, but nobody means "1 member" by it); accepted ints come back as Python ``int``;
- a *real* is an int or a float, Python or NumPy, never a ``bool``;
- a *model* is an ``nnx.Module``, and the message names the type received in full;
- *rngs* is an ``nnx.Rngs`` or an int seed.

>>> from bel._checks import check_int
>>> import numpy as np
>>> check_int(np.int64(3), "num_members", 1)
3
>>> check_int(True, "num_members", 1)
Traceback (most recent call last):
...
ValueError: num_members must be an int >= 1, got True
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
from flax import nnx

__all__ = [
    "qualname",
    "is_int",
    "is_real",
    "check_int",
    "check_choice",
    "check_at_least",
    "check_module",
    "as_rngs",
]


def qualname(obj: Any) -> str:
    """``module.QualName`` of ``obj``'s type: what an error message says it received.

    >>> qualname([1])
    'builtins.list'
    """
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def is_int(value: Any) -> bool:
    """A Python or NumPy integer, never a bool (``True`` is an ``int`` to Python).

    >>> import numpy as np
    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(np.bool_(True)), is_int(3.0)
    (True, True, False, False, False)
    """
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def is_real(value: Any) -> bool:
    """A Python or NumPy int or float, never a bool.

    >>> import numpy as np
    >>> is_real(0.5), is_real(np.float32(0.5)), is_real(2), is_real(False), is_real("1")
    (True, True, True, False, False)
    """
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def check_int(
    value: Any,
    name: str,
    minimum: int | None = None,
    *,
    below: int | None = None,
    caller: str | None = None,
    hint: str = "",
) -> int:
    """``value`` as a Python int, or a ValueError saying what was expected and what was received.

    ``minimum`` (inclusive) and ``below`` (exclusive) bound it. The message reads
    ``"{name} must be an int >= {minimum}, got {value!r}"``, or with ``caller``
    ``"{caller} expects {name} to be an int ..."``; ``hint`` is appended after a space.

    >>> check_int(2, "steps", 1), check_int(0, "k", 0, below=3)
    (2, 0)
    >>> check_int(3, "k", 0, below=3, caller="member")
    Traceback (most recent call last):
    ...
    ValueError: member expects k to be an int in [0, 3), got 3
    """
    ok = is_int(value)
    if minimum is not None and below is not None:
        bound = f" in [{minimum}, {below})"
    elif minimum is not None:
        bound = f" >= {minimum}"
    elif below is not None:
        bound = f" < {below}"
    else:
        bound = ""
    ok = ok and (minimum is None or value >= minimum) and (below is None or value < below)
    if not ok:
        what = f"an int{bound}, got {value!r}"
        message = (
            f"{name} must be {what}" if caller is None else f"{caller} expects {name} to be {what}"
        )
        raise ValueError(f"{message} {hint}" if hint else message)
    return int(value)


def check_choice(value: Any, name: str, choices: Collection[Any]) -> Any:
    """``value`` if it is one of ``choices``, else ``"{name} must be one of {choices}, got ..."``.

    >>> check_choice("normal", "init", ("normal", "random_sign"))
    'normal'
    """
    if isinstance(value, str | int | float | type(None)) and value in choices:
        return value
    raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def check_at_least(value: Any, name: str, minimum: float = 0) -> Any:
    """``value`` if ``value >= minimum`` (a number or a scalar array; NaN is refused).

    >>> check_at_least(0.5, "r_std")
    0.5
    >>> check_at_least(float("nan"), "r_std")
    Traceback (most recent call last):
    ...
    ValueError: r_std must be >= 0, got nan
    """
    try:
        ok = bool(value >= minimum)  # NaN compares False
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return value


def check_module(value: Any, name: str) -> nnx.Module:
    """``value`` if it is an ``nnx.Module``, else ``"{name} expects a flax.nnx.Module, got ..."``.

    >>> check_module([1], "fit")
    Traceback (most recent call last):
    ...
    ValueError: fit expects a flax.nnx.Module, got builtins.list
    """
    if not isinstance(value, nnx.Module):
        raise ValueError(f"{name} expects a flax.nnx.Module, got {qualname(value)}")
    return value


def as_rngs(rngs: Any, name: str = "rngs") -> nnx.Rngs:
    """``rngs`` itself if it is an ``nnx.Rngs``, a fresh ``nnx.Rngs(seed)`` for an int seed.

    >>> as_rngs(0).params().shape
    ()
    """
    if isinstance(rngs, nnx.Rngs):
        return rngs
    if is_int(rngs):
        return nnx.Rngs(int(rngs))
    raise ValueError(
        f"{name} must be an nnx.Rngs or an int seed, got {type(rngs).__name__}: {rngs!r}"
    )
