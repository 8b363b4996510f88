"""Data sets: toys generated in code, and real digits that ship inside scikit-learn (no downloads).

Every function takes a ``seed`` and returns NumPy ``float32`` inputs with ``int32`` labels
(classification) or ``float32`` targets (regression); the same seed gives the same numbers.

The real data are scikit-learn's ``load_digits`` (1,797 greyscale 8×8 images of the digits 0–9,
shipped inside the package): :func:`digits` splits them, holding some digits out of training as an
out-of-distribution set, and :func:`shift_digits` corrupts test images with a severity knob
(rotation, Gaussian noise, translation) for calibration-under-shift curves (Ovadia et al., 2019).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from bel._checks import check_int, is_int, is_real

__all__ = [
    "two_moons",
    "spirals",
    "gap_regression",
    "grid",
    "rotate",
    "Digits",
    "DIGIT_SHIFTS",
    "digits",
    "shift_digits",
    "DigitTask",
    "SPLIT_PAIRS",
    "digit_tasks",
]


def two_moons(n: int = 256, *, noise: float = 0.15, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D, ``n`` points, labels 0 / 1 (alternating halves).

    Upper moon: ``(cos t, sin t)``; lower moon: ``(1 - cos t, 0.5 - sin t)`` for ``t ~ U[0, π]``,
    plus Gaussian noise of std ``noise``; then centred and scaled to roughly [-1, 1]².

    >>> x, y = two_moons(6, seed=0)
    >>> x.shape, x.dtype.name, y.tolist()
    ((6, 2), 'float32', [0, 1, 0, 1, 0, 1])
    """
    n = check_int(n, "n", 1)
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
    n = check_int(n, "n", 1)
    num_classes = check_int(num_classes, "num_classes", 1)
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
    n = check_int(n, "n", 1)
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
    resolution = check_int(resolution, "resolution", 1)
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


# --------------------------------------------------------------------------------------------------
# Real images: scikit-learn's digits (shipped inside the package, never downloaded)

DIGIT_SHIFTS: dict[str, tuple[float, ...]] = {
    "rotate": (0.0, 15.0, 30.0, 45.0, 60.0, 90.0, 120.0, 180.0),  # degrees, counter-clockwise
    "noise": (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),  # std of Gaussian pixel noise ([0, 1] scale)
    "translate": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),  # pixels, in a random direction per image
}
"""The corruptions :func:`shift_digits` knows, each with a ladder of severities (0 = no shift)."""


class Digits(NamedTuple):
    """A split of the digits: ``x_*`` are ``[N, 64]`` ``float32`` in ``[0, 1]`` (8×8, row-major).

    ``y_train`` / ``y_test`` are class indices ``0..K-1`` into ``classes`` (the digit each class
    stands for). ``x_ood`` holds every image of the held-out digits, ``ood_digits`` their digit:
    these are not classes of the model, so they have no label a model could get right.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_ood: np.ndarray
    ood_digits: np.ndarray
    classes: np.ndarray


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    # Imported here, not at the top: `import bel` should not pay for importing scikit-learn.
    from sklearn.datasets import load_digits

    data = load_digits()
    return np.asarray(data.data), np.asarray(data.target)


def digits(
    *, test_fraction: float = 0.25, held_out: tuple[int, ...] = (8, 9), seed: int = 0
) -> Digits:
    """scikit-learn's 8×8 digits, split per class into train / test, some digits held out.

    Pixels (0–16 in the original) are divided by 16, so inputs lie in ``[0, 1]`` and the
    background is 0. Each digit not in ``held_out`` is split on its own (stratified): a seeded
    ``round(test_fraction · n_digit)`` of its images go to the test set, the rest to training.
    Both sets are shuffled. The digits kept become classes ``0..K-1`` in increasing order
    (``classes[k]`` is the digit of class ``k``); every image of a held-out digit goes to the
    out-of-distribution set ``x_ood``, in the order of ``load_digits``.

    >>> d = digits(seed=0)
    >>> d.x_train.shape, d.x_test.shape, d.x_ood.shape, d.classes.tolist()
    ((1082, 64), (361, 64), (354, 64), [0, 1, 2, 3, 4, 5, 6, 7])
    >>> float(d.x_train.min()), float(d.x_train.max()), sorted(set(d.ood_digits.tolist()))
    (0.0, 1.0, [8, 9])
    """
    if not (is_real(test_fraction) and 0.0 < test_fraction < 1.0):
        raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
    held = tuple(held_out)
    if not all(is_int(d) for d in held):
        raise ValueError(f"held_out must be a tuple of digits (ints 0..9), got {held_out!r}")
    if len(set(held)) != len(held) or not all(0 <= d <= 9 for d in held) or len(held) > 8:
        raise ValueError(
            f"held_out must hold distinct digits 0..9 and leave at least 2 classes, got {held!r}"
        )
    images, targets = _load_digits()
    x = (images / 16.0).astype(np.float32)
    classes = np.array([d for d in range(10) if d not in held])
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in classes:
        index = rng.permutation(np.flatnonzero(targets == digit))
        n_test = int(round(test_fraction * index.size))
        test.append(index[:n_test])
        train.append(index[n_test:])
    train_index, test_index = np.concatenate(train), np.concatenate(test)
    train_index = train_index[rng.permutation(train_index.size)]  # no blocks of one class
    test_index = test_index[rng.permutation(test_index.size)]
    class_of = np.full(10, -1)
    class_of[classes] = np.arange(classes.size)
    ood_index = np.flatnonzero(np.isin(targets, held))
    return Digits(
        x_train=x[train_index],
        y_train=class_of[targets[train_index]].astype(np.int32),
        x_test=x[test_index],
        y_test=class_of[targets[test_index]].astype(np.int32),
        x_ood=x[ood_index],
        ood_digits=targets[ood_index].astype(np.int32),
        classes=classes.astype(np.int32),
    )


def shift_digits(x: np.ndarray, kind: str, severity: float, *, seed: int = 0) -> np.ndarray:
    """A corrupted copy of digit images ``x`` (``[N, 64]`` or ``[N, 8, 8]``, values in [0, 1]).

    ``kind`` is one of :data:`DIGIT_SHIFTS`, ``severity`` its size in natural units:

    - ``"rotate"``: every image turned ``severity`` degrees counter-clockwise about its centre;
    - ``"noise"``: ``x + ε`` with ``ε ~ N(0, severity²)`` per pixel, clipped to [0, 1];
    - ``"translate"``: every image moved ``severity`` pixels in its own random direction
      ``θ ~ U[0, 2π)``, i.e. by ``(severity·sin θ, severity·cos θ)`` (rows, columns).

    Rotation and translation interpolate bilinearly (``scipy.ndimage``, spline order 1) and fill
    with the background value 0. Severity 0 returns the images unchanged. The result has the shape
    and dtype of ``x``; ``seed`` draws the noise and the directions.

    >>> x = np.zeros((1, 8, 8), np.float32); x[0, 1, 3] = 1.0        # one bright pixel
    >>> np.argwhere(shift_digits(x, "rotate", 180)[0] > 0.5).tolist()  # (r, c) -> (7-r, 7-c)
    [[6, 4]]
    >>> np.array_equal(shift_digits(x, "noise", 0.0), x)
    True
    """
    import scipy.ndimage  # here, not at the top: `import bel` should not pay for scipy

    if kind not in DIGIT_SHIFTS:
        raise ValueError(f"kind must be one of {tuple(DIGIT_SHIFTS)}, got {kind!r}")
    if not (is_real(severity) and np.isfinite(severity) and severity >= 0):
        raise ValueError(f"severity must be a finite number >= 0, got {severity!r}")
    x = np.asarray(x)
    if not (x.ndim == 2 and x.shape[1] == 64) and not (x.ndim == 3 and x.shape[1:] == (8, 8)):
        raise ValueError(f"shift_digits expects images [N, 64] or [N, 8, 8], got shape {x.shape}")
    images = x.reshape(-1, 8, 8).astype(np.float64)
    rng = np.random.default_rng(seed)
    if severity == 0:
        out = images
    elif kind == "rotate":
        out = scipy.ndimage.rotate(
            images, severity, axes=(2, 1), reshape=False, order=1, mode="constant", cval=0.0
        )
    elif kind == "noise":
        out = images + severity * rng.standard_normal(images.shape)
    else:
        theta = rng.uniform(0.0, 2 * np.pi, len(images))
        out = np.stack(
            [
                scipy.ndimage.shift(image, (severity * np.sin(t), severity * np.cos(t)), order=1)
                for image, t in zip(images, theta, strict=True)
            ]
        )
    return np.clip(out, 0.0, 1.0).astype(x.dtype).reshape(x.shape)


# --------------------------------------------------------------------------------------------------
# Split tasks: a sequence of two-class tasks over disjoint digits (lifelong learning)

SPLIT_PAIRS: tuple[tuple[int, int], ...] = ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))
"""The default split of the ten digits into five two-class tasks, as Split-MNIST does."""


class DigitTask(NamedTuple):
    """One two-class task of :func:`digit_tasks`: label 0 is ``digits[0]``, label 1 ``digits[1]``.

    ``x_*`` are ``[N, 64]`` ``float32`` images in ``[0, 1]``, ``y_*`` ``int32`` labels 0 / 1;
    ``train`` and ``test`` give the ``(x, y)`` pairs that ``bel.fit`` and
    ``bel.lifelong.task_accuracies`` take.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    digits: tuple[int, int]

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x_train, self.y_train

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x_test, self.y_test


def digit_tasks(
    pairs: tuple[tuple[int, int], ...] | list[tuple[int, int]] = SPLIT_PAIRS,
    *,
    test_fraction: float = 0.25,
    balanced: bool = True,
    seed: int = 0,
) -> list[DigitTask]:
    """Two-class tasks over disjoint digits, one per pair: a split-task sequence.

    The split-task setup of lifelong learning (the BatchEnsemble paper uses Split-CIFAR-100 and
    Split-ImageNet), on scikit-learn's digits. Built on :func:`digits` with nothing held out (the
    same seeded, stratified train / test split and ``[0, 1]`` scaling). Task ``t`` holds the
    images of ``pairs[t]``, relabelled 0 (first digit) and 1 (second), shuffled. With
    ``balanced`` every digit contributes as many training (and test) images as the rarest digit
    has, so both classes are equally frequent and every task has the same shapes (``bel.fit``
    then compiles once for all tasks).

    >>> tasks = digit_tasks(seed=0)
    >>> [t.digits for t in tasks]
    [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    >>> tasks[0].x_train.shape, tasks[0].x_test.shape, np.bincount(tasks[0].y_train).tolist()
    ((260, 64), (88, 64), [130, 130])
    """
    pairs = [tuple(p) for p in pairs]
    if not pairs:
        raise ValueError("digit_tasks expects at least one pair of digits, got none")
    for pair in pairs:
        if len(pair) != 2 or pair[0] == pair[1] or not all(is_int(d) and 0 <= d <= 9 for d in pair):
            raise ValueError(
                f"digit_tasks expects pairs of two different digits 0..9, got {pair!r}"
            )
    split = digits(test_fraction=test_fraction, held_out=(), seed=seed)  # classes are the digits
    rng = np.random.default_rng(seed)
    n_train = min(np.bincount(split.y_train, minlength=10)) if balanced else None
    n_test = min(np.bincount(split.y_test, minlength=10)) if balanced else None

    def take(x: np.ndarray, y: np.ndarray, pair: tuple[int, int], n: int | None):
        index = np.concatenate([np.flatnonzero(y == d)[:n] for d in pair])
        index = index[rng.permutation(index.size)]
        return x[index], (y[index] == pair[1]).astype(np.int32)

    tasks = []
    for pair in pairs:
        x_train, y_train = take(split.x_train, split.y_train, pair, n_train)
        x_test, y_test = take(split.x_test, split.y_test, pair, n_test)
        tasks.append(DigitTask(x_train, y_train, x_test, y_test, (int(pair[0]), int(pair[1]))))
    return tasks
