"""bel.explorer.model: the explorer's networks are bel's, trained by bel.fit, measured by
bel.metrics, and nothing compiles after the warm-up."""

from __future__ import annotations

import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx
from hypothesis import example, given, settings
from hypothesis import strategies as st

import bel
from bel import metrics
from bel.explorer import model
from bel.explorer.model import MAX_MEMBERS, Settings

from support import compiled

SETTINGS = [
    Settings(),
    Settings(init="random_sign", seed=3),
    Settings(r_mean=-0.5, r_std=1.2, s_mean=2.0, s_std=0.1, seed=7, use_base_weights=False),
    Settings(r_std=0.0, s_std=0.0, seed=1),
]


@pytest.fixture(scope="module", params=model.TASKS)
def task(request):
    return model.make_task(request.param)


def _leaves(m: nnx.Module) -> list[np.ndarray]:
    return [np.asarray(a) for a in jax.tree.leaves(nnx.as_pure(nnx.state(m)))]


def _bel_model(task, s: Settings, members: int) -> nnx.Module:
    """What a learner writes with bel for the same arguments."""
    base = bel.mlp(task.in_features, task.out_features, hidden=model.HIDDEN, rngs=2 * s.seed)
    return bel.batchensemble(base, members, rngs=2 * s.seed + 1, init=s.init, r_mean=s.r_mean,
                             r_std=s.r_std, s_mean=s.s_mean, s_std=s.s_std,
                             use_base_weights=s.use_base_weights)  # fmt: skip


@pytest.mark.parametrize("settings", SETTINGS)
def test_the_first_members_of_the_slots_are_what_bel_batchensemble_builds(task, settings):
    slots = model.build(task, settings)
    assert bel.num_members(slots) == MAX_MEMBERS
    for members in (1, 3, 8):
        expected = _bel_model(task, settings, members)
        got = model.first_members(task, settings, slots, members)
        assert bel.num_members(got) == members
        for a, b in zip(_leaves(got), _leaves(expected), strict=True):
            np.testing.assert_array_equal(a, b)


@settings(deadline=None, max_examples=25)
@given(
    name=st.sampled_from(model.TASKS),
    init=st.sampled_from(["normal", "random_sign"]),
    seed=st.integers(0, 99),
    means=st.tuples(*[st.floats(-2.0, 2.0, allow_subnormal=False)] * 2),
    stds=st.tuples(*[st.floats(0.0, 1.5, allow_subnormal=False)] * 2),
    use_base_weights=st.booleans(),
)
def test_the_slots_are_bel_batchensemble_bit_for_bit(name, init, seed, means, stds,
                                                     use_base_weights):  # fmt: skip
    # build() draws the slots without building modules (model._slot_values): every value must
    # still be exactly what bel.batchensemble(bel.mlp(...), 8, ...) draws
    task = model.make_task(name)
    s = Settings(init=init, seed=seed, r_mean=means[0], s_mean=means[1], r_std=stds[0],
                 s_std=stds[1], use_base_weights=use_base_weights)  # fmt: skip
    fast = model.build(task, s)
    for a, b in zip(_leaves(fast), _leaves(_bel_model(task, s, MAX_MEMBERS)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert nnx.graphdef(fast) == nnx.graphdef(_bel_model(task, s, MAX_MEMBERS))


@pytest.mark.parametrize("members", [1, 3])
def test_training_the_slots_with_a_mask_is_bel_fit_on_the_smaller_ensemble(task, members):
    # float32 sums over 8 or over `members` rows round differently, and training amplifies the
    # difference slowly (the first losses agree to 1e-3, the end to 3%)
    settings = SETTINGS[1]
    trained, losses = model.train(task, model.build(task, settings), members, steps=50)
    expected = _bel_model(task, settings, members)
    expected_losses = bel.fit(expected, task.x, task.y, loss=task.loss, steps=50,
                              learning_rate=model.LEARNING_RATE)  # fmt: skip
    np.testing.assert_allclose(losses[:40], expected_losses[:40], rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(losses, expected_losses, rtol=3e-2)
    got = model.first_members(task, settings, trained, members)
    for a, b in zip(_leaves(got), _leaves(expected), strict=True):
        assert np.linalg.norm(a - b) <= 1e-2 * max(np.linalg.norm(b), 1e-6)


def test_training_leaves_the_inactive_slots_and_the_argument_alone(task):
    slots = model.build(task, SETTINGS[0])
    before = _leaves(slots)
    trained, _ = model.train(task, slots, 2, steps=50)
    for a, b in zip(_leaves(slots), before, strict=True):
        np.testing.assert_array_equal(a, b)
    layer, start = trained.layers[2], slots.layers[2]
    np.testing.assert_array_equal(np.asarray(layer.r[...])[2:], np.asarray(start.r[...])[2:])
    assert not np.array_equal(np.asarray(layer.r[...])[:2], np.asarray(start.r[...])[:2])


@pytest.mark.parametrize("settings", SETTINGS[:3])
def test_every_prefix_number_is_bel_metrics_on_the_first_members(task, settings):
    slots = model.build(task, settings)
    evaluation = model.evaluate(task, slots)
    logits = bel.predict(slots, np.concatenate([task.points, task.x]))
    on_points, on_data = logits[:, : len(task.points)], logits[:, len(task.points) :]
    # a few member counts (each is a new shape for bel.metrics, a compilation): the prefix forms
    # are held equal to the metrics of every prefix by a property test below
    for members in (1, 2, 5, MAX_MEMBERS):
        got = evaluation.numbers(members, layer=0)
        sub = model.first_members(task, settings, slots, members)
        cosine = metrics.mean_pairwise_cosine(sub.layers[0].effective_weights())
        assert got["cosine"] == pytest.approx(float(cosine), abs=1e-5)
        if task.classify:
            z = on_points[:members]
            assert got["disagreement"] == pytest.approx(float(metrics.pairwise_disagreement(z)))
            mi = float(metrics.mutual_information(z).mean())
            assert got["mutual_information"] == pytest.approx(mi, abs=1e-5)
            acc = float(metrics.accuracy(on_data[:members], task.y))
            assert got["accuracy"] == pytest.approx(acc)
        else:
            spread = np.std(np.asarray(on_points[:members, :, 0]), axis=0)
            assert got["spread_data"] == pytest.approx(spread[task.region].mean(), abs=1e-5)
            assert got["spread_off_data"] == pytest.approx(spread[~task.region].mean(), abs=1e-5)
            mean = np.asarray(on_data[:members, :, 0]).mean(axis=0)
            rmse = np.sqrt(np.mean((mean - task.y[:, 0]) ** 2))
            assert got["rmse"] == pytest.approx(rmse, rel=1e-4)


def test_std_zero_gives_identical_members(task):
    evaluation = model.evaluate(task, model.build(task, SETTINGS[3]))
    numbers = evaluation.numbers(MAX_MEMBERS)
    assert numbers["cosine"] == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(evaluation.outputs, evaluation.outputs[:1].repeat(8, 0), atol=1e-6)
    if task.classify:
        assert numbers["disagreement"] == 0.0
        assert numbers["mutual_information"] == pytest.approx(0.0, abs=1e-6)


def test_nothing_compiles_after_the_warm_up():
    for name in model.TASKS:
        model.warm_up(model.make_task(name))
    with compiled() as compiles:
        for name in model.TASKS:
            task = model.make_task(name)
            for settings in SETTINGS:
                slots = model.build(task, settings)
                evaluation = model.evaluate(task, slots)
                for members in range(1, MAX_MEMBERS + 1):
                    evaluation.numbers(members, layer=members % 3)
                trained, _ = model.train(task, slots, 1 + settings.seed % MAX_MEMBERS, 100)
                model.evaluate(task, trained)
    assert compiles == [], f"{len(compiles)} compilations after the warm-up"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"members": 0}, "members must be an int in \\[1, 8\\], got 0"),
        ({"members": 9}, "members must be an int in \\[1, 8\\], got 9"),
        ({"members": 2.0}, "members must be an int"),
        ({"init": "uniform"}, "init must be one of"),
        ({"r_std": -0.1}, "r_std must be >= 0, got -0.1"),
        ({"s_mean": float("nan")}, "s_mean must be a finite number"),
        ({"s_std": "big"}, "s_std must be a number, got 'big'"),
        ({"seed": -1}, "seed must be an int >= 0"),
        ({"use_base_weights": 1}, "use_base_weights must be a bool"),
    ],
)
def test_settings_reject_bad_values(changes, match):
    with pytest.raises(ValueError, match=match):
        Settings(**changes)


def test_settings_replace_checks_names_and_values():
    assert Settings().replace(seed=3).seed == 3
    with pytest.raises(ValueError, match="no field"):
        Settings().replace(colour="red")
    with pytest.raises(ValueError, match="members"):
        Settings().replace(members=9)


def test_bad_calls_are_value_errors():
    moons = model.make_task("moons")
    with pytest.raises(ValueError, match="task must be one of \\('moons', 'gap'\\), got 'mnist'"):
        model.make_task("mnist")
    with pytest.raises(ValueError, match="expects a bel.explorer.model.Task"):
        model.evaluate("moons", model.build(moons, Settings()))
    with pytest.raises(ValueError, match="8-slot network for task 'gap'"):
        model.evaluate(model.make_task("gap"), model.build(moons, Settings()))
    with pytest.raises(ValueError, match="8-slot network"):
        model.evaluate(moons, model.build(moons, Settings(), 4))
    with pytest.raises(ValueError, match="steps must be a positive multiple of 50, got 75"):
        model.train(moons, model.build(moons, Settings()), 2, 75)
    with pytest.raises(ValueError, match="layer must be an int in \\[0, 3\\)"):
        model.evaluate(moons, model.build(moons, Settings())).numbers(2, layer=3)


def test_import_bel_leaves_the_explorer_alone_and_the_model_draws_nothing():
    code = (
        "import sys, bel; assert not any(m.startswith('bel.explorer') for m in sys.modules); "
        "import bel.explorer.model; "
        "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'bel.explorer.widget') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# bel.metrics' prefix forms, which the explorer's numbers come from: row k - 1 is the ordinary
# metric of the first k members. Shapes from a small fixed pool (each new shape compiles).
LOGIT_SHAPES = [(8, 5, 2), (3, 7, 3)]


@settings(deadline=None)
@given(shape=st.sampled_from(LOGIT_SHAPES), seed=st.integers(0, 2**32 - 1),
       scale=st.sampled_from([0.1, 3.0, 30.0]))  # fmt: skip
@example(shape=(8, 5, 2), seed=29118, scale=30.0)  # ties between saturated members
def test_the_prefix_forms_are_the_metrics_of_each_prefix(shape, seed, scale):
    rng = np.random.default_rng(seed)
    logits = (scale * rng.standard_normal(shape)).astype(np.float32)
    labels = rng.integers(0, shape[2], shape[1])
    weights = rng.standard_normal((shape[0], 4, 3)).astype(np.float32)
    mi = np.asarray(metrics.prefix_mutual_information(logits))
    log_p = np.asarray(metrics.prefix_ensemble_log_probs(logits))
    disagreement = np.asarray(metrics.prefix_pairwise_disagreement(logits))
    accuracy = np.asarray(metrics.prefix_accuracy(logits, labels))
    cosine = np.asarray(metrics.prefix_mean_pairwise_cosine(weights))
    for k in range(1, shape[0] + 1):
        z = logits[:k]
        np.testing.assert_allclose(mi[k - 1], metrics.mutual_information(z), atol=2e-5)
        np.testing.assert_allclose(log_p[k - 1], metrics.ensemble_log_probs(z), atol=2e-5)
        assert disagreement[k - 1] == pytest.approx(float(metrics.pairwise_disagreement(z)))
        # the same accuracy, except on inputs whose two top classes tie to float precision
        # (saturated members: 0.5 against 0.5), where either answer is the argmax
        top_two = np.sort(np.asarray(metrics.ensemble_probs(z)), axis=-1)[:, -2:]
        ties = int(np.sum(top_two[:, 1] - top_two[:, 0] < 1e-6))
        gap = abs(float(accuracy[k - 1]) - float(metrics.accuracy(z, labels))) * shape[1]
        assert gap <= ties + 1e-3, (k, gap, ties)
        assert cosine[k - 1] == pytest.approx(
            float(metrics.mean_pairwise_cosine(weights[:k])), abs=1e-5
        )


def test_the_prefix_forms_check_their_arguments():
    with pytest.raises(ValueError, match="prefix_mutual_information expects logits of shape"):
        metrics.prefix_mutual_information(np.zeros(3))
    with pytest.raises(ValueError, match="prefix_accuracy expects one label per input"):
        metrics.prefix_accuracy(np.zeros((2, 3, 2)), np.zeros(4, int))
    with pytest.raises(ValueError, match="prefix_mean_pairwise_cosine expects weights"):
        metrics.prefix_mean_pairwise_cosine(np.zeros(3))
