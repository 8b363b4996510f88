"""Toy data sets, generated in code from an explicit seed (no downloads, ever).

Every function takes a ``seed`` and returns NumPy ``float32`` inputs with ``int32`` labels
(classification) or ``float32`` targets (regression); the same seed gives the same numbers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["two_moons", "spirals", "gap_regression", "grid", "rotate"]


def _check_n(n: int, name: str = "n") -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{name} must be an int >= 1, got {n!r}")


def two_moons(n: int = 256, *, noise: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D, ``n`` points, labels 0 / 1 (alternating halves).

    Upper moon: ``(cos t, sin t)``; lower moon: ``(1 - cos t, 0.5 - sin t)`` for ``t ~ U[0, π]``,
    plus Gaussian noise of std ``noise``; then centred and scaled to roughly [-1, 1]².

    >>> x, y = two_moons(6, seed=0)
    >>> x.shape, x.dtype.name, y.tolist()
    ((6, 2), 'float32', [0, 1, 0, 1, 0, 1])
    """
    _check_n(n)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = rng.uniform(0.0, np.pi, n)
    x = np.where(
        y[:, None] == 0,
        np.stack([np.cos(t), np.sin(t)], 1),
        np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], 1),
    )
    x = x + noise * rng.standard_normal((n, 2))
    x = (x - np.array([0.5, 0.25])) / np.array([1.5, 1.0])
    return x.astype(np.float32), y.astype(np.int32)


def spirals(
    n: int = 300, *, num_classes: int = 3, noise: float = 0.2, turns: float = 1.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``num_classes`` interleaved spiral arms in 2-D, ``n`` points, labels ``0..num_classes-1``.

    Arm ``c`` at radius ``ρ ~ U[0.05, 1]`` has angle ``2π·turns·ρ + 2πc/num_classes`` plus noise
    of std ``noise`` (radians).

    >>> x, y = spirals(9, num_classes=3, seed=1)
    >>> x.shape, sorted(set(y.tolist()))
    ((9, 2), [0, 1, 2])
    """
    _check_n(n)
    _check_n(num_classes, "num_classes")
    rng = np.random.default_rng(seed)
    y = np.arange(n) % num_classes
    rho = rng.uniform(0.05, 1.0, n)
    angle = 2 * np.pi * (turns * rho + y / num_classes) + noise * rng.standard_normal(n)
    x = np.stack([rho * np.cos(angle), rho * np.sin(angle)], 1)
    return x.astype(np.float32), y.astype(np.int32)


def gap_regression(
    n: int = 128, *, gap: tuple[float, float] = (-0.3, 0.4), noise: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A 1-D regression ``y = sin(3x) + x/2 + ε`` on [-1, 1] with no data inside ``gap``.

    Inputs are ``[n, 1]``, targets ``[n, 1]``, ``ε ~ N(0, noise²)``. A good ensemble is confident
    where the data are and disagrees inside the gap and beyond [-1, 1].

    >>> x, y = gap_regression(50, seed=0)
    >>> x.shape, y.shape, bool(((x < -0.3) | (x > 0.4)).all())
    ((50, 1), (50, 1), True)
    """
    _check_n(n)
    lo, hi = gap
    if not -1.0 <= lo < hi <= 1.0:
        raise ValueError(f"gap must satisfy -1 <= lo < hi <= 1, got {gap!r}")
    rng = np.random.default_rng(seed)
    width = 2.0 - (hi - lo)
    u = rng.uniform(0.0, width, n)  # sample the two pieces as one interval, then open the gap
    x = np.where(u < lo + 1.0, u - 1.0, u - 1.0 + (hi - lo))
    x = np.sort(x)
    y = np.sin(3 * x) + 0.5 * x + noise * rng.standard_normal(n)
    return x[:, None].astype(np.float32), y[:, None].astype(np.float32)


def grid(
    bounds: tuple[float, float, float, float] = (-1.5, 1.5, -1.5, 1.5), resolution: int = 60
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """A ``resolution × resolution`` grid over ``(xmin, xmax, ymin, ymax)`` for decision maps.

    Returns the flattened points ``[resolution², 2]`` and the two ``meshgrid`` arrays (for
    ``contourf`` / ``imshow``).

    >>> points, (gx, gy) = grid((0, 1, 0, 1), 3)
    >>> points.shape, gx.shape
    ((9, 2), (3, 3))
    """
    _check_n(resolution, "resolution")
    xmin, xmax, ymin, ymax = bounds
    gx, gy = np.meshgrid(np.linspace(xmin, xmax, resolution), np.linspace(ymin, ymax, resolution))
    points = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    return points, (gx, gy)


def rotate(x: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate 2-D points ``[n, 2]`` counter-clockwise about the origin by ``degrees``.

    >>> rotate(np.array([[1.0, 0.0]], np.float32), 90).round(6).tolist()
    [[0.0, 1.0]]
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"rotate expects points of shape [n, 2], got {x.shape}")
    a = np.deg2rad(degrees)
    rotation = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]], dtype=x.dtype)
    return x @ rotation
