"""Tests for bel/compare.py: measured sizes, timing helpers, metric summaries and the text table.

Sizes must equal the paper's arithmetic *and* be read from the state (a shared array counted once,
a dtype's real width). The timing helpers must time what they claim (warm-up excluded, the median
of the repeats) and must not touch the model. The summaries must agree with ``bel.metrics``.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

import bel
from bel import compare, metrics

# A few fixed shapes keep compilation (paid once per shape) cheap.
SHAPES = [([2, 8, 3], 4), ([3, 5, 5, 2], 2), ([1, 6, 1], 3)]


def mlp_of(sizes, seed=0):
    return bel.mlp(sizes[0], sizes[-1], hidden=tuple(sizes[1:-1]), rngs=seed)


def abstract(make):
    """The model ``make()`` builds, with shapes only (nothing allocated or compiled)."""
    return nnx.eval_shape(make)


# --------------------------------------------------------------------------------------------------
# parameter_count and state_bytes


@pytest.mark.parametrize(("sizes", "members"), SHAPES)
def test_parameter_count_matches_the_arithmetic_for_all_three_models(sizes, members):
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    single = sum(i * o + o for i, o in pairs)
    be = sum(i * o + members * (i + o) + members * o for i, o in pairs)
    fast = sum(members * (i + o) for i, o in pairs)
    assert compare.parameter_count(abstract(lambda: mlp_of(sizes))) == single
    naive = abstract(lambda: bel.naive_ensemble(mlp_of(sizes), members, rngs=1))
    assert compare.parameter_count(naive) == members * single
    model = abstract(lambda: bel.batchensemble(mlp_of(sizes), members, rngs=1))
    assert compare.parameter_count(model) == be
    assert compare.parameter_count(model, bel.FastWeight) == fast
    assert compare.state_bytes(model) == 4 * be


def test_abstract_and_concrete_models_count_alike():
    concrete = bel.batchensemble(mlp_of([2, 8, 3]), 4, rngs=1)
    shapes = abstract(lambda: bel.batchensemble(mlp_of([2, 8, 3]), 4, rngs=1))
    assert compare.parameter_count(concrete) == compare.parameter_count(shapes)
    assert compare.state_bytes(concrete) == compare.state_bytes(shapes)


def test_parameter_count_counts_a_shared_layer_once():
    layer = nnx.Linear(4, 4, rngs=nnx.Rngs(0))
    twice = nnx.Sequential(layer, nnx.relu, layer)
    assert compare.parameter_count(twice) == 4 * 4 + 4


def test_state_bytes_reads_the_dtype_of_every_array():
    f32 = mlp_of([2, 8, 3])
    assert compare.state_bytes(f32) == 4 * compare.parameter_count(f32)
    mixed = nnx.Sequential(
        nnx.Linear(2, 8, param_dtype=jnp.bfloat16, rngs=nnx.Rngs(0)),
        nnx.Linear(8, 3, param_dtype=jnp.float32, rngs=nnx.Rngs(0)),
    )
    assert compare.state_bytes(mixed) == 2 * (2 * 8 + 8) + 4 * (8 * 3 + 3)


@pytest.mark.parametrize("fn", [compare.parameter_count, compare.state_bytes])
def test_sizes_reject_what_is_not_a_module(fn):
    with pytest.raises(ValueError, match="expects a flax.nnx.Module, got builtins.dict"):
        fn({"kernel": np.ones(3)})


# --------------------------------------------------------------------------------------------------
# median_seconds


class Sleeper:
    """A callable that sleeps the given durations in turn, then the last one forever."""

    def __init__(self, *durations):
        self.durations, self.calls = list(durations), 0

    def __call__(self):
        seconds = self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1
        time.sleep(seconds)
        return jnp.zeros(())


def test_median_seconds_leaves_the_warm_up_out():
    slow_first = Sleeper(0.3, 0.001)
    assert compare.median_seconds(slow_first, warmup=1, repeats=3) < 0.1
    assert slow_first.calls == 4
    assert compare.median_seconds(Sleeper(0.3, 0.001), warmup=0, repeats=1) >= 0.3


def test_median_seconds_is_the_median_not_the_mean():
    outlier_last = Sleeper(0.0, 0.005, 0.005, 0.4)
    seconds = compare.median_seconds(outlier_last, warmup=1, repeats=3)
    assert 0.005 <= seconds < 0.1


def test_median_seconds_passes_arguments_and_blocks_on_the_result():
    seen = []

    def fn(a, *, b):
        seen.append((a, b))
        return jnp.ones(3) * a

    compare.median_seconds(fn, 2.0, b="x", warmup=1, repeats=2)
    assert seen == [(2.0, "x")] * 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"warmup": -1}, "warmup must be an int >= 0"),
        ({"repeats": 0}, "repeats must be an int >= 1"),
        ({"repeats": 2.5}, "repeats must be an int >= 1"),
    ],
)
def test_median_seconds_rejects_bad_counts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare.median_seconds(lambda: None, **kwargs)


def test_median_seconds_rejects_what_is_not_callable():
    with pytest.raises(ValueError, match="expects a callable fn, got int"):
        compare.median_seconds(3)


# --------------------------------------------------------------------------------------------------
# forward_seconds and train_step_seconds


@pytest.fixture(scope="module")
def ensemble():
    return bel.batchensemble(mlp_of([2, 8, 3]), 4, rngs=1)


def test_forward_seconds_times_a_forward_pass_and_leaves_the_model_alone(ensemble):
    before = jax.tree.map(np.array, nnx.state(ensemble))
    seconds = compare.forward_seconds(ensemble, np.ones((16, 2), np.float32))
    assert 0 < seconds < 1
    after = nnx.state(ensemble)
    jax.tree.map(np.testing.assert_array_equal, before, jax.tree.map(np.array, after))


def test_forward_seconds_rejects_inputs_without_a_batch_axis(ensemble):
    with pytest.raises(ValueError, match=r"inputs of shape \[N, features\], got \(2,\)"):
        compare.forward_seconds(ensemble, np.ones(2, np.float32))


def test_train_step_seconds_trains_a_copy_not_the_model(ensemble):
    x, y = bel.data.two_moons(32, seed=0)
    before = jax.tree.map(np.array, nnx.state(ensemble))
    seconds = compare.train_step_seconds(ensemble, x, y, steps=5)
    assert 0 < seconds < 1
    jax.tree.map(np.testing.assert_array_equal, before, jax.tree.map(np.array, nnx.state(ensemble)))


def test_train_step_seconds_divides_by_the_steps(monkeypatch, ensemble):
    calls = []

    class FakeRun:
        def run(self, steps):
            calls.append(steps)
            time.sleep(0.02)
            return np.zeros(steps)

    monkeypatch.setattr(compare, "training_run", lambda *args, **kwargs: FakeRun())
    seconds = compare.train_step_seconds(ensemble, None, None, steps=10, warmup=1, repeats=2)
    assert calls == [10, 10, 10]
    assert 0.002 <= seconds < 0.01  # ~0.02 s per call over 10 steps


def test_train_step_seconds_times_the_loop_not_fits_checks(ensemble):
    # A tiny model's step takes microseconds; a whole fit call also checks its inputs and splits
    # the model (milliseconds). The per-step figure must not carry those fixed costs.
    x, y = bel.data.two_moons(16, seed=0)
    one = compare.train_step_seconds(ensemble, x, y, steps=1, repeats=7)
    copy = bel.convert.clone(ensemble)
    whole = compare.median_seconds(lambda: bel.fit(copy, x, y, steps=1), repeats=7)
    assert one < whole / 3, (one, whole)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"steps": 0}, "steps must be an int >= 1"), ({"loss": "hinge"}, "loss must be one of")],
)
def test_train_step_seconds_rejects_bad_options(ensemble, kwargs, message):
    x, y = bel.data.two_moons(8, seed=0)
    with pytest.raises(ValueError, match=message):
        compare.train_step_seconds(ensemble, x, y, **kwargs)


# --------------------------------------------------------------------------------------------------
# classification_summary and regression_summary


def test_classification_summary_agrees_with_bel_metrics():
    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(size=(4, 50, 3)) * 2, jnp.float32)
    labels = jnp.asarray(rng.integers(0, 3, 50), jnp.int32)
    summary = compare.classification_summary(logits, labels, num_bins=10)
    expected = {
        "accuracy": metrics.accuracy(logits, labels),
        "nll": metrics.nll(logits, labels),
        "ece": metrics.ece(logits, labels, 10),
        "brier": metrics.brier(logits, labels),
        "disagreement": metrics.pairwise_disagreement(logits),
        "pairwise_kl": metrics.pairwise_kl(logits),
        "mutual_information": jnp.mean(metrics.mutual_information(logits)),
        "member_accuracy": np.mean([metrics.accuracy(z, labels) for z in logits]),
    }
    assert set(summary) == set(expected)
    for name, value in expected.items():
        assert isinstance(summary[name], float)
        np.testing.assert_allclose(summary[name], float(value), rtol=1e-5, atol=1e-6, err_msg=name)


def test_classification_summary_of_one_model_has_no_diversity():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(30, 2)).astype(np.float32)
    labels = rng.integers(0, 2, 30).astype(np.int32)
    summary = compare.classification_summary(logits, labels)
    assert summary["disagreement"] == summary["pairwise_kl"] == 0.0
    assert summary["mutual_information"] == pytest.approx(0.0, abs=1e-6)
    assert summary["member_accuracy"] == summary["accuracy"]


@pytest.mark.parametrize(
    ("logits", "labels", "message"),
    [
        (np.zeros((2, 3, 4, 5)), np.zeros(4, np.int32), r"logits \[E, N, C\] or \[N, C\]"),
        (np.zeros((2, 3, 2)), np.zeros(4, np.int32), r"labels of shape \(3,\)"),
        (np.zeros((2, 3, 2)), np.zeros(3), "integer labels"),
        (np.zeros((2, 3, 2)), np.array([0, 1, 2]), r"labels in \[0, 2\)"),
    ],
)
def test_classification_summary_rejects_bad_input(logits, labels, message):
    with pytest.raises(ValueError, match=message):
        compare.classification_summary(logits, labels)


def test_regression_summary_on_a_worked_example():
    preds = np.array([[[1.0], [2.0], [0.0]], [[3.0], [2.0], [0.0]]])  # E=2, N=3
    targets = np.array([[2.0], [1.0], [0.0]])
    summary = compare.regression_summary(preds, targets)
    assert summary["rmse"] == pytest.approx(np.sqrt(1 / 3))  # mean is [2, 2, 0]
    assert summary["member_rmse"] == pytest.approx(np.sqrt(2 / 3))  # both members: errors 1, 1, 0
    assert summary["spread"] == pytest.approx(1 / 3)  # stds 1, 0, 0
    single = compare.regression_summary(preds[:1], targets)
    assert single["spread"] == 0.0 and single["rmse"] == single["member_rmse"]


def test_regression_summary_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"predictions \(2, 3, 1\) and targets \(4, 1\)"):
        compare.regression_summary(np.zeros((2, 3, 1)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match=r"member predictions \[E, N, out\]"):
        compare.regression_summary(np.zeros((3, 1)), np.zeros((3, 1)))


# --------------------------------------------------------------------------------------------------
# format_table


def test_format_table_aligns_formats_and_marks_missing_values():
    rows = {"a": {"n": 1234567, "x": 0.12345, "s": "yes"}, "longer name": {"n": 5, "x": 2.0}}
    text = compare.format_table(rows, formats={"x": ".1f"})
    lines = text.splitlines()
    assert lines[0].split() == ["model", "n", "x", "s"]
    assert lines[1].split() == ["a", "1,234,567", "0.1", "yes"]
    assert lines[2].split() == ["longer", "name", "5", "2.0", "-"]
    # numbers are right-aligned: every value column ends at the same character
    ends = {line.index("0.1") + 3 for line in lines[1:2]} | {lines[2].index("2.0") + 3}
    assert len(ends) == 1


def test_format_table_picks_and_orders_columns():
    text = compare.format_table({"m": {"a": 1, "b": 2}}, columns=["b"])
    assert text.splitlines() == ["model  b", "m      2"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [({}, "non-empty dict of rows"), ({"m": [1, 2]}, r"every row to be a dict.*'m': 'list'")],
)
def test_format_table_rejects_bad_rows(rows, message):
    with pytest.raises(ValueError, match=message):
        compare.format_table(rows)


def test_format_table_shows_every_rows_columns():
    text = compare.format_table({"a": {"x": 1}, "b": {"x": 2, "fit_s": 0.5}})
    header, first, second = text.splitlines()
    assert header.split() == ["model", "x", "fit_s"]
    assert first.split() == ["a", "1", "-"] and second.split() == ["b", "2", "0.500"]


def test_sizes_measures_every_model(ensemble):
    single = mlp_of([2, 8, 3])
    rows = compare.sizes({"single": single, "BatchEnsemble": ensemble})
    assert rows["single"] == {
        "params": compare.parameter_count(single),
        "fast (r, s)": 0,
        "KiB": compare.state_bytes(single) / 1024,
    }
    assert rows["BatchEnsemble"]["fast (r, s)"] == 4 * (2 + 8) + 4 * (8 + 3)
    with pytest.raises(ValueError, match=r"sizes expects a non-empty dict"):
        compare.sizes({})


# --------------------------------------------------------------------------------------------------
# seed_gap


def test_seed_gap_is_better_or_worse_only_beyond_the_spread_of_the_gaps():
    a = np.array([0.90, 0.92, 0.91, 0.93, 0.90])
    assert compare.seed_gap(a, a - 0.02).verdict == "better"
    assert compare.seed_gap(a - 0.02, a).verdict == "worse"
    noisy = a + np.array([0.03, -0.03, 0.02, -0.02, 0.01])
    gap = compare.seed_gap(noisy, a)
    assert gap.verdict == "no measurable difference"
    assert gap.wins == 3 and gap.seeds == 5 and not gap.every_seed
    assert gap.mean == pytest.approx(0.002)
    assert gap.spread == pytest.approx(np.std(noisy - a, ddof=1))


def test_seed_gap_lower_is_better_flips_the_verdict_and_the_wins():
    nll_a, nll_b = [0.30, 0.31, 0.29], [0.35, 0.36, 0.33]
    gap = compare.seed_gap(nll_a, nll_b, higher_is_better=False)
    assert (gap.verdict, gap.wins, gap.every_seed) == ("better", 3, True)
    assert str(gap).startswith("better (gap -0.047")


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [([1.0], [1.0], "length >= 2"), ([1, 2], [1, 2, 3], r"\(2,\) and \(3,\)"),
     ([1, np.nan], [1, 2], "finite")],
)  # fmt: skip
def test_seed_gap_refuses_what_it_cannot_compare(a, b, match):
    with pytest.raises(ValueError, match=match):
        compare.seed_gap(a, b)


def test_seed_verdict_names_the_better_method_first_and_counts_wins():
    from bel.compare import seed_verdict

    assert seed_verdict([0.2, 0.3, 0.25], [0.5, 0.6, 0.55], ("A", "B"), higher_is_better=False) == (
        "A (0.250) is better than B (0.550) in every seed"
    )
    assert seed_verdict([0.2, 0.3, 0.25], [0.5, 0.6, 0.55], ("A", "B")).startswith(
        "B (0.550) is better than A (0.250) in every seed"
    )
    assert seed_verdict([1.0, 2.0], [1.5, 1.4], ("A", "B"), digits=1).startswith(
        "no measurable difference between A (1.5) and B (1.4)"
    )
    with pytest.raises(ValueError, match=r"expects names as a tuple of two strings, got \['A'\]"):
        seed_verdict([1.0, 2.0], [1.5, 1.4], ["A"])
