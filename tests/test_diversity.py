"""bel.diversity: the explorer's computations agree with bel's layers, metrics and training."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import bel
from bel import diversity, metrics
from bel.diversity import MAX_MEMBERS, Settings


@pytest.fixture(scope="module")
def moons():
    return diversity.make_task("moons")


@pytest.fixture(scope="module")
def gap():
    return diversity.make_task("gap")


# --------------------------------------------------------------------------------------------------
# settings and initialisation


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"members": 0}, "members must be an int in \\[1, 8\\], got 0"),
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


def test_make_task_rejects_unknown_names():
    with pytest.raises(ValueError, match="task must be one of \\('moons', 'gap'\\), got 'mnist'"):
        diversity.make_task("mnist")


def test_init_normal_with_zero_std_gives_identical_members(moons):
    params = diversity.init_params(moons, Settings(r_mean=0.7, r_std=0.0, s_mean=1.3, s_std=0.0))
    for p in params:
        assert (p["r"] == np.float32(0.7)).all() and (p["s"] == np.float32(1.3)).all()
        assert (p["bias"] == 0).all()


def test_init_random_sign_is_plus_minus_one_and_ignores_means_and_stds(moons):
    a = diversity.init_params(moons, Settings(init="random_sign"))
    b = diversity.init_params(moons, Settings(init="random_sign", r_mean=-2.0, s_std=1.5))
    for p, q in zip(a, b, strict=True):
        assert set(np.unique(p["r"])) == {-1.0, 1.0} and set(np.unique(p["s"])) == {-1.0, 1.0}
        assert np.array_equal(p["r"], q["r"]) and np.array_equal(p["s"], q["s"])


def test_init_is_an_affine_map_of_fixed_draws_per_seed(moons):
    """r = r_mean + r_std · z with the same z for every mean and std; seeds change z."""
    base = diversity.init_params(moons, Settings(r_mean=0.0, r_std=1.0, seed=5))
    other = diversity.init_params(moons, Settings(r_mean=0.5, r_std=0.25, seed=5))
    for p, q in zip(base, other, strict=True):
        np.testing.assert_allclose(q["r"], 0.5 + 0.25 * p["r"], rtol=1e-6, atol=1e-6)
    reseeded = diversity.init_params(moons, Settings(seed=6))
    assert not np.array_equal(diversity.init_params(moons, Settings(seed=5))[1]["r"],
                              reseeded[1]["r"])  # fmt: skip


def test_use_base_weights_only_changes_the_shared_kernel(moons):
    a = diversity.init_params(moons, Settings(use_base_weights=True))
    b = diversity.init_params(moons, Settings(use_base_weights=False))
    for p, q in zip(a, b, strict=True):
        assert not np.array_equal(p["kernel"], q["kernel"])
        assert np.array_equal(p["r"], q["r"]) and np.array_equal(p["s"], q["s"])


def test_kernels_follow_lecun_normal_truncated_at_two_sigma(moons):
    for seed in range(3):
        for p in diversity.init_params(moons, Settings(seed=seed)):
            fan_in = p["kernel"].shape[0]
            sigma = np.sqrt(1.0 / fan_in) / 0.87962566103423978
            assert np.abs(p["kernel"]).max() <= 2 * sigma + 1e-6


# --------------------------------------------------------------------------------------------------
# evaluation equals bel's own model, predictions and metrics


@pytest.mark.parametrize("members", [1, 3])
def test_evaluation_matches_bel_predict_and_metrics(moons, members):
    params = diversity.init_params(moons, Settings(members=members, seed=2, r_std=0.8))
    ev = diversity.evaluate(moons, params, members)
    model = diversity.to_model(moons, params, members)
    assert isinstance(model.layers[0], bel.BatchEnsembleLinear)
    assert model.layers[0].num_members == members
    logits = bel.predict(model, moons.points, num_members=members)  # [E, P, 2]
    np.testing.assert_allclose(ev.outputs, jax.nn.softmax(logits)[..., 1], atol=1e-5)
    assert ev.disagreement == pytest.approx(float(metrics.pairwise_disagreement(logits)), abs=1e-6)
    mi = metrics.mutual_information(logits)
    assert ev.mutual_information == pytest.approx(float(mi.mean()), abs=1e-5)
    np.testing.assert_allclose(ev.uncertainty, mi, atol=1e-5)
    data_logits = bel.predict(model, moons.x, num_members=members)
    assert ev.score == pytest.approx(float(metrics.accuracy(data_logits, moons.y)), abs=1e-6)
    for layer, weights in zip(model.layers[::2], ev.effective_weights, strict=True):
        np.testing.assert_allclose(weights, layer.effective_weights(), atol=1e-6)
    expected = [float(metrics.mean_pairwise_cosine(w)) for w in ev.effective_weights]
    np.testing.assert_allclose(ev.cosine, expected, atol=1e-5)


def test_identical_members_have_no_diversity_and_random_signs_do(moons, gap):
    same = Settings(members=4, r_std=0.0, s_std=0.0)
    ev = diversity.evaluate(moons, diversity.init_params(moons, same), 4)
    assert ev.disagreement == 0.0 and ev.mutual_information == pytest.approx(0.0, abs=1e-6)
    assert np.allclose(ev.cosine, 1.0, atol=1e-5)
    assert np.ptp(ev.outputs, axis=0).max() == 0.0
    signs = Settings(members=4, init="random_sign")
    ev = diversity.evaluate(moons, diversity.init_params(moons, signs), 4)
    assert ev.disagreement > 0.05 and ev.mutual_information > 0
    assert (ev.cosine < 0.9).all()
    numbers = diversity.numbers(gap, diversity.evaluate(gap, diversity.init_params(gap, same), 4))
    assert numbers["spread_data"] == 0.0 and numbers["spread_off_data"] == 0.0


def test_members_keep_their_factors_when_the_ensemble_grows(moons):
    params = diversity.init_params(moons, Settings(seed=1))
    small = diversity.evaluate(moons, params, 2)
    large = diversity.evaluate(moons, params, 5)
    np.testing.assert_allclose(large.outputs[:2], small.outputs, atol=1e-6)


def test_numbers_have_the_keys_of_their_task(moons, gap):
    ev = diversity.evaluate(moons, diversity.init_params(moons, Settings()), 4)
    assert set(diversity.numbers(moons, ev)) == {"disagreement", "mutual_information", "cosine",
                                                 "accuracy"}  # fmt: skip
    assert diversity.numbers(moons, ev, layer=0)["cosine"] == pytest.approx(float(ev.cosine[0]))
    ev = diversity.evaluate(gap, diversity.init_params(gap, Settings()), 4)
    assert set(diversity.numbers(gap, ev)) == {"spread_data", "spread_off_data", "cosine", "rmse"}
    with pytest.raises(ValueError, match="layer must be an int in \\[0, 3\\), got 3"):
        diversity.numbers(gap, ev, layer=3)


def test_bad_member_counts_are_rejected(moons):
    params = diversity.init_params(moons, Settings())
    for call in (
        lambda: diversity.evaluate(moons, params, 0),
        lambda: diversity.to_model(moons, params, MAX_MEMBERS + 1),
        lambda: diversity.train(moons, params, 9, 50),
    ):
        with pytest.raises(ValueError, match="members must be an int in \\[1, 8\\]"):
            call()
    with pytest.raises(ValueError, match="steps must be a positive multiple of 50, got 70"):
        diversity.train(moons, params, 2, 70)


def test_bad_tasks_and_params_are_rejected(moons):
    params = diversity.init_params(moons, Settings())
    with pytest.raises(ValueError, match="evaluate expects a bel.diversity.Task"):
        diversity.evaluate("moons", params, 2)
    with pytest.raises(ValueError, match="train expects params as returned by init_params"):
        diversity.train(moons, params[:2], 2, 50)
    with pytest.raises(ValueError, match="to_model expects params"):
        diversity.to_model(moons, [{"kernel": 0}] * 3, 2)
    with pytest.raises(ValueError, match="init_params expects a Task and a Settings"):
        diversity.init_params(moons, {"members": 2})


# --------------------------------------------------------------------------------------------------
# training: masking the unused members is training a smaller ensemble


@pytest.mark.parametrize("task_name", ["moons", "gap"])
def test_masked_training_equals_bel_fit_on_the_smaller_ensemble(task_name):
    task = diversity.make_task(task_name)
    members = 3
    params = diversity.init_params(task, Settings(seed=4))
    trained, losses = diversity.train(task, params, members, 50)
    model = diversity.to_model(task, params, members)
    fit_losses = bel.fit(
        model, task.x, task.y, num_members=members, loss=task.loss, steps=50,
        learning_rate=diversity.LEARNING_RATE, weight_decay=0.0,
    )  # fmt: skip
    np.testing.assert_allclose(losses, fit_losses, rtol=1e-4, atol=1e-6)
    for mine, layer in zip(trained, model.layers[::2], strict=True):
        np.testing.assert_allclose(mine["kernel"], layer.kernel[...], atol=2e-5)
        np.testing.assert_allclose(mine["r"][:members], layer.r[...], atol=2e-5)
        np.testing.assert_allclose(mine["s"][:members], layer.s[...], atol=2e-5)
    for before, after in zip(params, trained, strict=True):  # unused members: untouched
        for name in ("r", "s", "bias"):
            assert np.array_equal(np.asarray(after[name])[members:], before[name][members:])


def test_training_reports_progress_and_lowers_the_loss(moons):
    calls = []
    params = diversity.init_params(moons, Settings())
    _, losses = diversity.train(moons, params, 4, 150, lambda done, loss: calls.append(done))
    assert calls == [50, 100, 150]
    assert losses.shape == (150,) and losses[-1] < 0.5 * losses[0]


def test_identical_members_stay_identical_through_training(moons):
    """Full-batch training of identical members has no noise to break the tie."""
    params = diversity.init_params(moons, Settings(r_std=0.0, s_std=0.0))
    trained, _ = diversity.train(moons, params, 4, 100)
    ev = diversity.evaluate(moons, trained, 4)
    assert ev.disagreement == 0.0 and ev.score > 0.9
    assert float(jnp.max(jnp.ptp(ev.outputs, axis=0))) < 1e-5
