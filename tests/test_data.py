"""Tests for bel.data: the toy generators and the digits with their shifts.

Expected values are worked out by hand or from the definitions (geometry, counts of the shipped
data set), never produced by the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bel import data

# --------------------------------------------------------------------------------------------------
# Toy data


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: data.two_moons(50, seed=seed),
        lambda seed: data.spirals(60, num_classes=4, seed=seed),
        lambda seed: data.gap_regression(40, seed=seed),
    ],
)
def test_same_seed_same_numbers_other_seed_other_numbers(make):
    a, b, c = make(3), make(3), make(4)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0])


def test_two_moons_shapes_labels_and_moons():
    x, y = data.two_moons(400, noise=0.0, seed=1)
    assert x.shape == (400, 2) and x.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_equal(y, np.arange(400) % 2)
    # Without noise, undo the scaling: the upper moon lies on the unit circle with y >= 0, the lower
    # one on the circle of radius 1 about (1, 0.5) with y <= 0.5.
    raw = x.astype(np.float64) * [1.5, 1.0] + [0.5, 0.25]
    upper, lower = raw[y == 0], raw[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-5)
    assert upper[:, 1].min() >= -1e-6 and lower[:, 1].max() <= 0.5 + 1e-6


def test_spirals_arms():
    x, y = data.spirals(300, num_classes=3, noise=0.0, turns=1.0, seed=0)
    assert x.shape == (300, 2) and sorted(set(y.tolist())) == [0, 1, 2]
    rho = np.hypot(*x.astype(np.float64).T)
    assert rho.min() >= 0.05 - 1e-6 and rho.max() <= 1.0 + 1e-6
    # Without noise, angle = 2π (ρ + c/3) exactly (mod 2π).
    angle = np.arctan2(x[:, 1], x[:, 0])
    expected = 2 * np.pi * (rho + y / 3)
    np.testing.assert_allclose(np.cos(angle - expected), 1.0, atol=1e-5)


def test_gap_regression_leaves_the_gap_empty():
    x, y = data.gap_regression(500, gap=(-0.5, 0.2), noise=0.0, seed=2)
    assert x.shape == y.shape == (500, 1)
    assert np.all(np.diff(x[:, 0]) >= 0)  # sorted
    assert np.all((x >= -1.0) & (x <= 1.0)) and not np.any((x > -0.5) & (x < 0.2))
    np.testing.assert_allclose(y, np.sin(3 * x) + 0.5 * x, atol=1e-5)
    # Both pieces get points in proportion to their length (0.5 and 0.8 of 1.3).
    assert abs(np.mean(x < -0.5) - 0.5 / 1.3) < 0.07


def test_grid_covers_bounds():
    points, (gx, gy) = data.grid((-1.0, 3.0, 0.0, 2.0), 5)
    assert points.shape == (25, 2) and gx.shape == gy.shape == (5, 5)
    assert sorted(set(points[:, 0].tolist())) == [-1.0, 0.0, 1.0, 2.0, 3.0]
    assert sorted(set(points[:, 1].tolist())) == [0.0, 0.5, 1.0, 1.5, 2.0]
    np.testing.assert_array_equal(points[:, 0].reshape(5, 5), gx)


@given(st.floats(-720, 720), st.integers(0, 2**32 - 1))
def test_rotate_keeps_lengths_and_angles_add(degrees, seed):
    x = np.random.default_rng(seed).normal(size=(7, 2))
    turned = data.rotate(x, degrees)
    np.testing.assert_allclose(np.hypot(*turned.T), np.hypot(*x.T), atol=1e-9)
    np.testing.assert_allclose(data.rotate(turned, -degrees), x, atol=1e-9)
    np.testing.assert_allclose(
        data.rotate(data.rotate(x, 30.0), degrees), data.rotate(x, degrees + 30.0), atol=1e-9
    )


def test_rotate_direction():
    quarter = data.rotate(np.array([[1.0, 0.0], [0.0, 1.0]]), 90)
    np.testing.assert_allclose(quarter, [[0.0, 1.0], [-1.0, 0.0]], atol=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.two_moons(0), r"n must be an int >= 1, got 0"),
        (lambda: data.two_moons(2.5), r"n must be an int >= 1, got 2.5"),
        (lambda: data.spirals(10, num_classes=0), r"num_classes must be an int >= 1, got 0"),
        (lambda: data.gap_regression(10, gap=(0.5, 0.1)), r"gap must satisfy .* got \(0.5, 0.1\)"),
        (lambda: data.gap_regression(10, gap=(-2.0, 0.1)), r"-1 <= lo < hi <= 1"),
        (lambda: data.grid(resolution=True), r"resolution must be an int >= 1, got True"),
        (lambda: data.rotate(np.zeros((3, 3)), 10), r"points of shape \[n, 2\], got \(3, 3\)"),
    ],
)
def test_toy_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------------------------------------------------
# Digits

COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # images per digit in load_digits


def test_digits_split_is_stratified_and_complete():
    d = data.digits(test_fraction=0.25, held_out=(8, 9), seed=0)
    np.testing.assert_array_equal(d.classes, np.arange(8))
    for k in range(8):
        n_test = round(0.25 * COUNTS[k])
        assert np.sum(d.y_test == k) == n_test
        assert np.sum(d.y_train == k) == COUNTS[k] - n_test
    assert len(d.x_ood) == COUNTS[8] + COUNTS[9]
    assert sorted(set(d.ood_digits.tolist())) == [8, 9]
    for x in (d.x_train, d.x_test, d.x_ood):
        assert x.dtype == np.float32 and x.shape[1] == 64
        assert x.min() == 0.0 and x.max() == 1.0
    # Every one of the 1,797 images is used exactly once.
    rows = np.concatenate([d.x_train, d.x_test, d.x_ood])
    assert len(rows) == sum(COUNTS)
    assert len(np.unique(rows, axis=0)) == len(
        np.unique(np.asarray(data._load_digits()[0]), axis=0)
    )
    # Training and test rows are shuffled, not grouped by class.
    assert np.mean(np.diff(d.y_train) != 0) > 0.5
    assert np.mean(np.diff(d.y_test) != 0) > 0.5


def test_digits_labels_match_the_images():
    images, targets = data._load_digits()
    d = data.digits(held_out=(0, 5), seed=3)
    np.testing.assert_array_equal(d.classes, [1, 2, 3, 4, 6, 7, 8, 9])
    lookup = {
        row.tobytes(): t for row, t in zip((images / 16).astype(np.float32), targets, strict=True)
    }
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        digits_of_rows = [lookup[row.tobytes()] for row in x[:50]]
        np.testing.assert_array_equal(d.classes[y[:50]], digits_of_rows)
    np.testing.assert_array_equal(
        [lookup[row.tobytes()] for row in d.x_ood[:50]], d.ood_digits[:50]
    )


def test_digits_seeds():
    a, b, c = data.digits(seed=1), data.digits(seed=1), data.digits(seed=2)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.x_test, c.x_test)
    np.testing.assert_array_equal(a.x_ood, c.x_ood)  # the OOD set is every held-out image


def test_digits_without_held_out_classes():
    d = data.digits(held_out=(), test_fraction=0.5, seed=0)
    assert d.classes.tolist() == list(range(10)) and len(d.x_ood) == 0
    assert len(d.x_train) + len(d.x_test) == sum(COUNTS)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"test_fraction": 0.0}, r"test_fraction must lie strictly between 0 and 1, got 0.0"),
        ({"test_fraction": 1.5}, r"got 1.5"),
        ({"test_fraction": "0.2"}, r"between 0 and 1, got '0.2'"),
        ({"held_out": (8, 8)}, r"distinct digits 0..9 .* got \(8, 8\)"),
        ({"held_out": (10,)}, r"got \(10,\)"),
        ({"held_out": tuple(range(9))}, r"leave at least 2 classes"),
        ({"held_out": (8.0,)}, r"held_out must be a tuple of digits \(ints 0..9\), got \(8.0,\)"),
    ],
)
def test_digits_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.digits(**kwargs)


def one_pixel(row: int, col: int) -> np.ndarray:
    x = np.zeros((1, 8, 8), np.float32)
    x[0, row, col] = 1.0
    return x


@pytest.mark.parametrize(
    "degrees, expected",
    [(90, (4, 1)), (180, (6, 4)), (270, (3, 6)), (360, (1, 3))],  # (r, c) about the centre 3.5
)
def test_rotate_digits_counter_clockwise(degrees, expected):
    # (1, 3) is 2.5 rows above and 0.5 columns left of the centre; a quarter turn counter-clockwise
    # (as the image is shown, row 0 at the top) puts it 2.5 columns left and 0.5 rows below.
    turned = data.shift_digits(one_pixel(1, 3), "rotate", degrees)
    assert tuple(np.argwhere(turned[0] > 0.5)[0]) == expected


def test_translate_moves_by_the_severity():
    x = one_pixel(3, 3)
    for severity in (1.0, 2.0):
        moved = data.shift_digits(np.repeat(x, 20, 0), "translate", severity, seed=5)[:, :, :]
        # Bilinear interpolation spreads the pixel's mass; its centre of mass moves by `severity`
        # pixels (all mass stays inside the image when it starts at (3, 3) and moves <= 2).
        rows, cols = np.mgrid[0:8, 0:8]
        mass = moved.sum(axis=(1, 2))
        np.testing.assert_allclose(mass, 1.0, atol=1e-6)
        dr = (moved * rows).sum(axis=(1, 2)) - 3
        dc = (moved * cols).sum(axis=(1, 2)) - 3
        np.testing.assert_allclose(np.hypot(dr, dc), severity, atol=1e-5)
        assert np.std(np.arctan2(dr, dc)) > 0.5  # every image its own direction


def test_noise_statistics_and_clipping():
    x = np.full((400, 64), 0.5, np.float32)
    noisy = data.shift_digits(x, "noise", 0.1, seed=0)
    assert abs(np.std(noisy - x) - 0.1) < 0.005 and abs(np.mean(noisy - x)) < 0.005
    wild = data.shift_digits(x, "noise", 5.0, seed=0)
    assert wild.min() == 0.0 and wild.max() == 1.0


@pytest.mark.parametrize("kind", sorted(data.DIGIT_SHIFTS))
def test_shift_keeps_shape_dtype_range_and_zero_is_identity(kind):
    d = data.digits(seed=0)
    x = d.x_test[:30]
    np.testing.assert_array_equal(data.shift_digits(x, kind, 0.0), x)
    levels = data.DIGIT_SHIFTS[kind]
    assert levels[0] == 0.0 and list(levels) == sorted(levels)
    for severity in levels[1:]:
        out = data.shift_digits(x, kind, severity, seed=1)
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert not np.array_equal(out, x)
    square = data.shift_digits(x.reshape(-1, 8, 8), kind, levels[-1], seed=1)
    np.testing.assert_array_equal(
        square.reshape(-1, 64), data.shift_digits(x, kind, levels[-1], seed=1)
    )


def test_larger_shifts_change_more():
    x = data.digits(seed=0).x_test
    for kind, levels in data.DIGIT_SHIFTS.items():
        change = [np.abs(data.shift_digits(x, kind, s, seed=0) - x).mean() for s in levels[:4]]
        assert np.all(np.diff(change) > 0), (kind, change)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            (np.zeros((2, 64)), "blur", 1.0),
            r"kind must be one of \('rotate', 'noise', 'translate'\)",
        ),
        ((np.zeros((2, 64)), "noise", -0.1), r"severity must be a finite number >= 0, got -0.1"),
        ((np.zeros((2, 64)), "rotate", math.nan), r"severity must be a finite number >= 0"),
        ((np.zeros((2, 64)), "rotate", "45"), r"severity must be a finite number >= 0, got '45'"),
        ((np.zeros((2, 64)), "noise", True), r"severity must be a finite number >= 0, got True"),
        (
            (np.zeros((2, 63)), "rotate", 10),
            r"images \[N, 64\] or \[N, 8, 8\], got shape \(2, 63\)",
        ),
        ((np.zeros((8, 8)), "rotate", 10), r"got shape \(8, 8\)"),
    ],
)
def test_shift_errors(args, message):
    with pytest.raises(ValueError, match=message):
        data.shift_digits(*args)


# --------------------------------------------------------------------------------------------------
# Split tasks (lifelong learning)


def test_digit_tasks_are_the_pairs_relabelled_and_balanced():
    split = data.digits(held_out=(), seed=3)
    tasks = data.digit_tasks(seed=3)
    assert [t.digits for t in tasks] == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    n_train = np.bincount(split.y_train).min()  # the rarest digit's training images
    n_test = np.bincount(split.y_test).min()
    seen_train = []
    for task in tasks:
        assert task.x_train.shape == (2 * n_train, 64) and task.x_test.shape == (2 * n_test, 64)
        assert np.bincount(task.y_train).tolist() == [n_train, n_train]
        assert task.y_train.dtype == np.int32 and task.x_train.dtype == np.float32
        # every image is one of the split's images of the right digit, train stays train
        for x, y, pool_x, pool_y in [
            (task.x_train, task.y_train, split.x_train, split.y_train),
            (task.x_test, task.y_test, split.x_test, split.y_test),
        ]:
            for label, digit in enumerate(task.digits):
                pool = {row.tobytes() for row in pool_x[pool_y == digit]}
                assert all(row.tobytes() in pool for row in x[y == label]), (task.digits, label)
        assert task.train[0] is task.x_train and task.test[1] is task.y_test
        seen_train.append({row.tobytes() for row in task.x_train})
    assert not set.intersection(*seen_train[:2])  # disjoint digits, disjoint images


def test_digit_tasks_options():
    a, b = data.digit_tasks([(3, 5)], seed=1), data.digit_tasks([(3, 5)], seed=1)
    assert np.array_equal(a[0].x_train, b[0].x_train)
    assert not np.array_equal(a[0].x_train, data.digit_tasks([(3, 5)], seed=2)[0].x_train)
    swapped = data.digit_tasks([(5, 3)], seed=1)[0]
    assert sorted(map(bytes, swapped.x_train)) == sorted(map(bytes, a[0].x_train))
    full = data.digit_tasks([(0, 1)], balanced=False, seed=0)[0]
    split = data.digits(held_out=(), seed=0)
    assert len(full.x_train) == np.isin(split.y_train, [0, 1]).sum()


@pytest.mark.parametrize(
    "pairs, message",
    [
        ([], "at least one pair"),
        ([(1, 1)], r"two different digits 0\.\.9, got \(1, 1\)"),
        ([(0, 10)], r"got \(0, 10\)"),
        ([(0, 1, 2)], r"got \(0, 1, 2\)"),
        ([(True, 2)], r"got \(True, 2\)"),
    ],
)
def test_digit_tasks_errors(pairs, message):
    with pytest.raises(ValueError, match=message):
        data.digit_tasks(pairs)
