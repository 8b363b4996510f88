"""Tests for bel.metrics: hand-computed examples, properties on random shapes, error messages.

Expected numbers are written out (computed by hand, or in float64 numpy from the textbook formula),
never produced by the code under test.
"""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bel import metrics

FAST = settings(max_examples=settings.default.max_examples, deadline=None)

# --------------------------------------------------------------------------------------------------
# Hand-computed examples. Logits are log-probabilities, so each member's softmax is the table below.

# Example A: E=2 members, N=2 inputs, C=2 classes.
PROBS_A = np.array(
    [
        [[0.9, 0.1], [0.2, 0.8]],  # member 0 predicts 0, 1
        [[0.3, 0.7], [0.6, 0.4]],  # member 1 predicts 1, 0
    ]
)
LABELS_A = np.array([0, 1])
# p̄ = [[0.6, 0.4], [0.4, 0.6]]: right on both inputs, confidence 0.6 on both.

# Example B: E=3, N=2, C=3; the ensemble is wrong on input 0 and right on input 1.
PROBS_B = np.array(
    [
        [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]],  # predicts 0, 2
        [[0.5, 0.3, 0.2], [0.2, 0.5, 0.3]],  # predicts 0, 1
        [[0.6, 0.3, 0.1], [0.3, 0.5, 0.2]],  # predicts 0, 1
    ]
)
LABELS_B = np.array([1, 2])
# p̄ = [[0.6, 0.26667, 0.13333], [0.2, 0.36667, 0.43333]]: predicts 0 (wrong), 2 (right).


def logits_of(probs: np.ndarray) -> np.ndarray:
    return np.log(probs).astype(np.float32)


def close(actual, expected, atol: float = 1e-5) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected, rtol=0, atol=atol)


def test_probabilities_by_hand():
    close(metrics.member_probs(logits_of(PROBS_A)), PROBS_A)
    close(metrics.ensemble_probs(logits_of(PROBS_A)), [[0.6, 0.4], [0.4, 0.6]])
    close(metrics.ensemble_log_probs(logits_of(PROBS_A)), np.log([[0.6, 0.4], [0.4, 0.6]]))
    close(
        metrics.ensemble_probs(logits_of(PROBS_B)),
        [[0.6, 0.8 / 3, 0.4 / 3], [0.2, 1.1 / 3, 1.3 / 3]],
    )


def test_mean_of_probabilities_not_of_logits():
    # Members with logits [4, 0] and [0, 0] predict 0.98201 and 0.5 for class 0: the mean of
    # probabilities is 0.74101. The softmax of the mean logit [2, 0] would say 0.88080.
    logits = np.array(
        [[[4.0, 0.0], [4.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]], np.float32
    )  # N = 2 copies
    close(metrics.ensemble_probs(logits), [[0.7410069, 0.2589931]] * 2)
    close(metrics.nll(logits, np.array([1, 1])), -math.log(0.2589931))


def test_scores_by_hand_example_a():
    z, y = logits_of(PROBS_A), LABELS_A
    close(metrics.nll(z, y), -math.log(0.6))  # 0.5108256
    close(metrics.accuracy(z, y), 1.0)
    close(metrics.brier(z, y), 0.32)  # (0.4² + 0.4²) on each input
    close(metrics.ece(z, y), 0.4)  # one bin, accuracy 1, confidence 0.6


def test_scores_by_hand_example_b():
    z, y = logits_of(PROBS_B), LABELS_B
    close(metrics.nll(z, y), -(math.log(0.8 / 3) + math.log(1.3 / 3)) / 2)  # 1.0790019
    close(metrics.accuracy(z, y), 0.5)
    # input 0: 0.6² + (1 − 0.26667)² + 0.13333² = 0.91556; input 1: 0.2² + 0.36667² + 0.56667²
    close(metrics.brier(z, y), 0.7055556)
    # conf 0.6 (wrong) and 0.43333 (right) fall in different bins: (0.6 + (1 − 0.43333)) / 2
    close(metrics.ece(z, y), 0.5833333)


def test_diversity_by_hand():
    close(metrics.pairwise_disagreement(logits_of(PROBS_A)), 1.0)  # they differ on both inputs
    # B: pairs (0,1) and (0,2) differ on input 1 only, (1,2) never: (0.5 + 0.5 + 0) / 3
    close(metrics.pairwise_disagreement(logits_of(PROBS_B)), 1 / 3)
    # A: KL(p0‖p1), KL(p1‖p0) on input 0: 0.79416, 1.03255; on input 1: 0.33480, 0.38191
    close(metrics.pairwise_kl(logits_of(PROBS_A)), 0.6358543)
    close(metrics.pairwise_kl(logits_of(PROBS_B)), 0.2750447)


def test_uncertainty_by_hand():
    z = logits_of(PROBS_A)
    h_mean = -(0.6 * math.log(0.6) + 0.4 * math.log(0.4))  # 0.6730117 on both inputs
    h = {q: -(q * math.log(q) + (1 - q) * math.log(1 - q)) for q in (0.9, 0.3, 0.2, 0.6)}
    expected = [(h[0.9] + h[0.3]) / 2, (h[0.2] + h[0.6]) / 2]  # 0.4679736, 0.5867070
    close(metrics.predictive_entropy(z), [h_mean, h_mean])
    close(metrics.expected_entropy(z), expected)
    close(metrics.mutual_information(z), [0.2050380, 0.0863046])
    z = logits_of(PROBS_B)
    close(metrics.predictive_entropy(z), [0.9276173, 1.0521392])
    close(metrics.expected_entropy(z), [0.9098058, 0.8994460])
    close(metrics.mutual_information(z), [0.0178116, 0.1526932])


def test_cosine_by_hand():
    weights = np.array(
        [
            [[1.0, 0.0], [0.0, 0.0]],  # flattened: (1, 0, 0, 0)
            [[1.0, 1.0], [0.0, 0.0]],  # (1, 1, 0, 0)
            [[-2.0, 0.0], [0.0, 0.0]],  # (−2, 0, 0, 0)
        ],
        np.float32,
    )
    r = 1 / math.sqrt(2)
    expected = [[1.0, r, -1.0], [r, 1.0, -r], [-1.0, -r, 1.0]]
    close(metrics.weight_cosine_similarity(weights), expected)
    close(metrics.mean_pairwise_cosine(weights), (r - 1.0 - r) / 3)


def test_cosine_conventions():
    close(metrics.mean_pairwise_cosine(np.ones((1, 3))), 1.0)  # E = 1
    with_zero = np.array([[1.0, 2.0], [0.0, 0.0], [2.0, 4.0]], np.float32)
    close(
        metrics.weight_cosine_similarity(with_zero),
        [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0]],
    )


def test_ece_edge_goes_to_lower_bin():
    # Two bins, (0, 0.5] and (0.5, 1]. Confidence 0.5 exactly (a tie: predicted class 0, right)
    # and 0.75 (wrong). Lower-bin rule: 0.5·|1 − 0.5| + 0.5·|0 − 0.75| = 0.625. (Had 0.5 gone to the
    # upper bin: |0.5 − 0.625| = 0.125.)
    logits = np.array([[0.0, 0.0], [math.log(3.0), 0.0]], np.float32)
    close(metrics.ece(logits, np.array([0, 1]), num_bins=2), 0.625)


def test_ece_confidence_one_goes_to_last_bin():
    # Confidence 1.0 (wrong) shares the last bin with 0.75 (right): |0.5 − 0.875| = 0.375.
    # A 1.0 lost or put in a bin of its own would give 0.625 or 0.125.
    logits = np.array([[100.0, 0.0], [math.log(3.0), 0.0]], np.float32)
    assert float(metrics.ensemble_probs(logits)[0, 0]) == 1.0
    close(metrics.ece(logits, np.array([1, 0]), num_bins=2), 0.375)


def test_ece_one_bin_is_accuracy_minus_confidence():
    z, y = logits_of(PROBS_B), LABELS_B
    close(metrics.ece(z, y, num_bins=1), abs(0.5 - (0.6 + 1.3 / 3) / 2))


def test_ensemble_log_probs_is_stable():
    # Class 1 gets e^-200 and e^-300, both 0 in float32: log p̄ = −200 − log 2 + log1p(e^-100)
    logits = np.array([[[0.0, -200.0]] * 2, [[0.0, -300.0]] * 2], np.float32)  # [E=2, N=2, C=2]
    close(metrics.ensemble_log_probs(logits)[:, 1], [-200.0 - math.log(2.0)] * 2, atol=1e-3)
    close(metrics.nll(logits, np.array([1, 1])), 200.0 + math.log(2.0), atol=1e-3)


def test_entropy_with_minus_inf_logits():
    # A masked class (logit −inf) has p = 0 and contributes 0 · log 0 = 0.
    logits = np.broadcast_to(np.array([0.0, 0.0, -np.inf], np.float32), (3, 2, 3))
    close(metrics.predictive_entropy(logits), [math.log(2.0)] * 2)
    close(metrics.expected_entropy(logits), [math.log(2.0)] * 2)
    close(metrics.mutual_information(logits), [0.0] * 2)
    close(metrics.pairwise_kl(logits), 0.0)


def test_single_model_rank_two():
    z, y = logits_of(PROBS_B[0]), LABELS_B  # [N, C]: member 0 of B on its own
    assert metrics.member_probs(z).shape == (1, 2, 3)
    close(metrics.nll(z, y), -(math.log(0.2) + math.log(0.8)) / 2)
    close(metrics.accuracy(z, y), 0.5)  # predicts 0 (label 1), 2 (label 2)
    close(metrics.pairwise_disagreement(z), 0.0)
    close(metrics.pairwise_kl(z), 0.0)
    close(metrics.mutual_information(z), [0.0, 0.0])


# --------------------------------------------------------------------------------------------------
# Properties on random ensembles: E in 1..6, N in 1..20, C in 2..5
#
# Each new shape costs every metric a fresh XLA compilation (~0.1 s each on a 2-core CPU), so the
# shapes come from a fixed pool spanning those ranges, corners included, shared by all the tests
# below (and with examples A and B); hypothesis draws the shape from the pool and the values freely.

SHAPES = [  # (E, N, C)
    (1, 2, 3),  # one model of example B
    (2, 2, 2),  # example A
    (3, 2, 3),  # example B
    (5, 1, 4),
    (6, 20, 5),
]


@st.composite
def ensembles(draw):
    """Random logits [E, N, C] (float32, normal with a random scale) and int labels [N]."""
    e, n, c = draw(st.sampled_from(SHAPES))
    scale = draw(st.sampled_from([0.1, 1.0, 3.0, 8.0]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = (scale * rng.normal(size=(e, n, c))).astype(np.float32)
    labels = rng.integers(0, c, size=n)
    return logits, labels


def np_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    ez = np.exp(z - z.max(-1, keepdims=True))
    return ez / ez.sum(-1, keepdims=True)


@FAST
@given(ensembles())
def test_probabilities_and_nll(data):
    z, y = data
    p_members = np.asarray(metrics.member_probs(z), np.float64)
    p_mean = np.asarray(metrics.ensemble_probs(z), np.float64)
    log_p_mean = np.asarray(metrics.ensemble_log_probs(z), np.float64)
    close(p_members.sum(-1), np.ones(z.shape[:2]))
    close(p_mean.sum(-1), np.ones(z.shape[1]))
    close(np.exp(log_p_mean).sum(-1), np.ones(z.shape[1]))
    naive = np_softmax(z).mean(0)  # mean over members of the probabilities, float64
    close(p_mean, naive)
    close(log_p_mean, np.log(naive), atol=1e-4)
    close(metrics.nll(z, y), -np.mean(np.log(naive[np.arange(len(y)), y])), atol=1e-4)


@FAST
@given(ensembles())
def test_scores_match_naive_numpy(data):
    z, y = data
    p = np_softmax(z).mean(0)  # [N, C], float64
    close(metrics.accuracy(z, y), np.mean(p.argmax(-1) == y))
    close(metrics.brier(z, y), np.mean(((p - np.eye(z.shape[-1])[y]) ** 2).sum(-1)))
    # ECE with an explicit loop over the bins (lower, upper], as in Guo et al.'s code
    conf, correct = p.max(-1), p.argmax(-1) == y
    edges = np.linspace(0.0, 1.0, 16)
    expected = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        in_bin = (conf > lo) & (conf <= hi)
        if in_bin.any():
            expected += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    value = float(metrics.ece(z, y))
    assert 0.0 <= value <= 1.0
    close(value, expected)


@FAST
@given(ensembles())
def test_ece_zero_when_perfectly_calibrated(data):
    z, _ = data
    _, n, c = z.shape
    # Certain and right: confidence 1 = accuracy 1.
    labels = np.arange(n) % c
    confident = np.broadcast_to(50.0 * np.eye(c, dtype=np.float32)[labels], z.shape)
    close(metrics.ece(confident, labels), 0.0, atol=1e-6)
    if n % c == 0:
        # Uniform predictions (confidence 1/C, a tie: class 0) and every class equally often:
        # accuracy 1/C = confidence.
        close(metrics.ece(np.zeros(z.shape, np.float32), labels), 0.0, atol=1e-6)


@FAST
@given(ensembles())
def test_uncertainty_decomposition(data):
    z, _ = data
    e, n, c = z.shape
    p = np_softmax(z)
    h_total = -(p.mean(0) * np.log(p.mean(0))).sum(-1)
    h_members = -(p * np.log(p)).sum(-1).mean(0)
    close(metrics.predictive_entropy(z), h_total, atol=1e-4)
    close(metrics.expected_entropy(z), h_members, atol=1e-4)
    mi = np.asarray(metrics.mutual_information(z))
    assert mi.shape == (n,)
    assert np.all(mi >= 0.0)
    assert np.all(mi <= min(math.log(e), math.log(c)) + 1e-5)
    close(mi, np.maximum(h_total - h_members, 0.0), atol=1e-4)
    # identical members: no epistemic uncertainty
    same = np.repeat(z[:1], e, axis=0)
    close(metrics.mutual_information(same), np.zeros(n), atol=1e-6)
    close(metrics.predictive_entropy(same), metrics.expected_entropy(same), atol=1e-5)


@FAST
@given(ensembles())
def test_diversity(data):
    z, _ = data
    e = z.shape[0]
    pred = z.argmax(-1)
    p = np_softmax(z)
    pairs = [(i, j) for i in range(e) for j in range(e) if i != j]
    disagreement = np.mean([np.mean(pred[i] != pred[j]) for i, j in pairs]) if pairs else 0.0
    kl = np.mean([(p[i] * np.log(p[i] / p[j])).sum(-1).mean() for i, j in pairs]) if pairs else 0.0
    d = float(metrics.pairwise_disagreement(z))
    assert 0.0 <= d <= 1.0
    close(d, disagreement)
    assert float(metrics.pairwise_kl(z)) >= 0.0
    close(metrics.pairwise_kl(z), kl, atol=1e-4)
    # identical members: no disagreement, no divergence
    same = np.repeat(z[:1], e, axis=0)
    assert float(metrics.pairwise_disagreement(same)) == 0.0
    assert float(metrics.pairwise_kl(same)) == 0.0


WEIGHT_SHAPES = [(1, 3), (3, 2), (3, 2, 2), (4, 1), (6, 3, 5)]  # [E, ...], as in the examples


@FAST
@given(st.sampled_from(WEIGHT_SHAPES), st.integers(0, 2**32 - 1))
def test_cosine_matrix(shape, seed):
    e = shape[0]
    w = np.random.default_rng(seed).normal(size=shape).astype(np.float32)
    s = np.asarray(metrics.weight_cosine_similarity(w))
    assert s.shape == (e, e)
    np.testing.assert_array_equal(s, s.T)
    np.testing.assert_array_equal(np.diag(s), np.ones(e))
    assert np.all(np.abs(s) <= 1.0)
    flat = w.reshape(e, -1).astype(np.float64)
    unit = flat / np.linalg.norm(flat, axis=1, keepdims=True)
    close(s, unit @ unit.T)
    off_diagonal = (s.sum() - e) / (e * (e - 1)) if e > 1 else 1.0
    close(metrics.mean_pairwise_cosine(w), off_diagonal)
    # scaling a member by a positive number does not change its direction
    scaled = w * np.arange(1, e + 1, dtype=np.float32).reshape(e, *[1] * (w.ndim - 1))
    close(metrics.weight_cosine_similarity(scaled), s)


def test_rank_two_is_an_ensemble_of_one():
    z, y = logits_of(PROBS_B)[0], LABELS_B  # [N, C] and the same as [1, N, C]
    for fn in (
        metrics.member_probs,
        metrics.ensemble_probs,
        metrics.ensemble_log_probs,
        metrics.pairwise_disagreement,
        metrics.pairwise_kl,
        metrics.predictive_entropy,
        metrics.expected_entropy,
        metrics.mutual_information,
    ):
        np.testing.assert_array_equal(fn(z), fn(z[None]))
    for fn in (metrics.nll, metrics.accuracy, metrics.brier, metrics.ece):
        np.testing.assert_array_equal(fn(z, y), fn(z[None], y))


def test_all_functions_work_under_jit():
    z, y = logits_of(PROBS_B), LABELS_B
    w = z.reshape(3, -1)
    logit_fns = (
        metrics.member_probs,
        metrics.ensemble_probs,
        metrics.ensemble_log_probs,
        metrics.pairwise_disagreement,
        metrics.pairwise_kl,
        metrics.predictive_entropy,
        metrics.expected_entropy,
        metrics.mutual_information,
    )
    label_fns = (metrics.nll, metrics.accuracy, metrics.brier, metrics.ece)
    weight_fns = (metrics.weight_cosine_similarity, metrics.mean_pairwise_cosine)

    def everything(z, y, w):
        return (
            [fn(z) for fn in logit_fns]
            + [fn(z, y) for fn in label_fns]
            + [metrics.ece(z, y, num_bins=4)]
            + [fn(w) for fn in weight_fns]
        )

    for jitted, eager in zip(jax.jit(everything)(z, y, w), everything(z, y, w), strict=True):
        close(jitted, eager)


# --------------------------------------------------------------------------------------------------
# Error messages: raised in Python, before XLA sees anything

LOGITS = np.zeros((2, 3, 4), np.float32)  # E=2, N=3, C=4 (numpy: nothing to compile)
LABELS = np.array([0, 1, 3])


@pytest.mark.parametrize(
    "fn",
    [
        metrics.member_probs,
        metrics.ensemble_probs,
        metrics.ensemble_log_probs,
        metrics.pairwise_disagreement,
        metrics.pairwise_kl,
        metrics.predictive_entropy,
        metrics.expected_entropy,
        metrics.mutual_information,
    ],
)
@pytest.mark.parametrize("shape", [(4,), (1, 2, 3, 4)])
def test_logits_of_wrong_rank(fn, shape):
    with pytest.raises(
        ValueError, match=rf"{fn.__name__} expects logits of shape \[E, N, C\]"
    ) as e:
        fn(np.zeros(shape))
    assert f"got shape {shape} (rank {len(shape)})" in str(e.value)


@pytest.mark.parametrize("fn", [metrics.nll, metrics.accuracy, metrics.brier, metrics.ece])
def test_label_errors(fn):
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"{name} expects logits .* got shape \(3,\) \(rank 1\)"):
        fn(np.zeros(3), LABELS)
    with pytest.raises(ValueError, match=rf"{name} expects labels of shape \[N\] .* got shape"):
        fn(LOGITS, LABELS[:, None])
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) .* got labels of shape \(4,\)"):
        fn(LOGITS, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"expects integer class labels, got dtype float32"):
        fn(LOGITS, LABELS.astype(np.float32))
    with pytest.raises(ValueError, match=r"labels in \[0, 4\) .* got values from 0 to 4"):
        fn(LOGITS, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"labels in \[0, 4\) .* got values from -1 to 1"):
        fn(LOGITS, np.array([0, -1, 1]))


def test_untiled_member_major_batch_is_caught_by_labels():
    # Forgetting bel.untile: [E*N, C] reads as one model on E*N inputs; the labels do not match.
    with pytest.raises(ValueError, match=r"labels of shape \(6,\) .*\[E, N, C\] = \(1, 6, 4\)"):
        metrics.nll(LOGITS.reshape(6, 4), LABELS)


def test_empty_and_complex_inputs():
    with pytest.raises(ValueError, match=r"nll expects non-empty logits .* got shape \(2, 0, 4\)"):
        metrics.nll(np.zeros((2, 0, 4)), np.zeros(0, np.int32))
    with pytest.raises(ValueError, match=r"expects real-valued logits, got dtype complex64"):
        metrics.ensemble_probs(np.zeros((2, 3), np.complex64))


@pytest.mark.parametrize("num_bins", [0, -3, 1.5, True, None])
def test_ece_num_bins(num_bins):
    with pytest.raises(ValueError, match=r"ece expects num_bins to be an int >= 1, got"):
        metrics.ece(LOGITS, LABELS, num_bins=num_bins)


def test_ece_num_bins_traced_under_jit():
    with pytest.raises(ValueError, match=r"static_argnames='num_bins'"):
        jax.jit(metrics.ece)(LOGITS, LABELS, 15)


def test_errors_under_jit_are_still_value_errors():
    with pytest.raises(ValueError, match=r"labels of shape \(3,\) .* got labels of shape \(2,\)"):
        jax.jit(metrics.nll)(LOGITS, LABELS[:2])


@pytest.mark.parametrize("fn", [metrics.weight_cosine_similarity, metrics.mean_pairwise_cosine])
def test_weight_errors(fn):
    name = fn.__name__
    with pytest.raises(
        ValueError, match=rf"{name} expects weights of shape \[E, \.\.\.\] .*\(rank 1\)"
    ):
        fn(np.ones(3))
    with pytest.raises(ValueError, match=rf"{name} expects non-empty weights, got shape \(2, 0\)"):
        fn(np.ones((2, 0)))


# --------------------------------------------------------------------------------------------------
# AUROC, reliability curves, rejection curves, function-space similarity


def brute_force_auroc(negatives, positives) -> float:
    """Count every (negative, positive) pair: a win scores 1, a tie 1/2."""
    total = 0.0
    for s_neg in negatives:
        for s_pos in positives:
            total += 1.0 if s_pos > s_neg else 0.5 if s_pos == s_neg else 0.0
    return total / (len(negatives) * len(positives))


def test_auroc_by_hand():
    close(metrics.auroc([0.1, 0.2], [0.3, 0.4]), 1.0)  # separated
    close(metrics.auroc([0.3, 0.4], [0.1, 0.2]), 0.0)  # separated the wrong way
    close(metrics.auroc([1.0, 1.0, 1.0], [1.0, 1.0]), 0.5)  # a constant score: all ties
    # 4 negatives, 3 positives, 12 pairs: positive 2 beats 0, 1 and ties 2 twice (3);
    # positive 0 ties 0 (0.5); positive 5 beats all four (4): 7.5 / 12
    close(metrics.auroc([0, 1, 2, 2], [2, 0, 5]), 7.5 / 12)


@FAST
@given(
    st.lists(st.integers(-3, 3), min_size=1, max_size=25),
    st.lists(st.integers(-3, 3), min_size=1, max_size=25),
)
def test_auroc_matches_pair_count_with_ties(negatives, positives):
    # Small integer scores: many ties (the kernel is a sort and a search, cheap to compile).
    neg = np.array(negatives, np.float32)
    pos = np.array(positives, np.float32)
    value = float(metrics.auroc(neg, pos))
    close(value, brute_force_auroc(negatives, positives))
    close(metrics.auroc(pos, neg), 1.0 - value)  # swapping the roles mirrors the curve
    close(metrics.auroc(-pos, -neg), value)  # so does negating the score


@FAST
@given(st.integers(0, 2**32 - 1))
def test_auroc_is_rank_based(seed):
    rng = np.random.default_rng(seed)
    neg, pos = rng.normal(size=17), rng.normal(0.7, 1.0, size=11)
    value = float(metrics.auroc(neg, pos))
    close(value, brute_force_auroc(neg, pos))
    close(metrics.auroc(np.exp(neg), np.exp(pos)), value)  # any increasing map: same AUROC


def test_auroc_errors():
    with pytest.raises(
        ValueError, match=r"auroc expects negative_scores of shape \[N\] .* \(2, 2\)"
    ):
        metrics.auroc(np.zeros((2, 2)), np.zeros(3))
    with pytest.raises(
        ValueError, match=r"auroc expects positive_scores of shape \[N\] with N >= 1"
    ):
        metrics.auroc(np.zeros(2), np.zeros(0))
    with pytest.raises(ValueError, match=r"auroc expects finite positive_scores, got NaN"):
        metrics.auroc(np.zeros(2), np.array([0.0, np.nan]))


def test_reliability_curve_by_hand():
    # Example B: p̄ = [[0.6, 0.267, 0.133], [0.2, 0.367, 0.433]], wrong on input 0, right on 1.
    # Two bins (0, .5] and (.5, 1]: input 1 (0.433, right) and input 0 (0.6, wrong).
    curve = metrics.reliability_curve(logits_of(PROBS_B), LABELS_B, num_bins=2)
    np.testing.assert_array_equal(curve.count, [1, 1])
    close(curve.confidence, [1.3 / 3, 0.6])
    close(curve.accuracy, [1.0, 0.0])
    curve = metrics.reliability_curve(logits_of(PROBS_B), LABELS_B, num_bins=4)
    np.testing.assert_array_equal(curve.count, [0, 1, 1, 0])  # 0.433 in (.25, .5], 0.6 in (.5, .75]
    assert np.isnan(np.asarray(curve.confidence)[[0, 3]]).all()
    assert np.isnan(np.asarray(curve.accuracy)[[0, 3]]).all()


@FAST
@given(ensembles(), st.sampled_from([1, 3, 15]))
def test_reliability_curve_gives_ece(data, num_bins):
    z, y = data
    curve = metrics.reliability_curve(z, y, num_bins=num_bins)
    count = np.asarray(curve.count)
    assert count.sum() == len(y) and count.dtype == np.int32
    filled = count > 0
    assert np.all(np.isnan(curve.confidence) == ~filled)
    gaps = np.abs(np.asarray(curve.accuracy) - np.asarray(curve.confidence))[filled]
    close((count[filled] / len(y) * gaps).sum(), metrics.ece(z, y, num_bins=num_bins))
    # In one bin: the accuracy and the mean confidence over all inputs.
    if num_bins == 1:
        close(curve.accuracy, [metrics.accuracy(z, y)])
        close(curve.confidence, [np.mean(np_softmax(z).mean(0).max(-1))])


def test_reliability_curve_errors():
    with pytest.raises(ValueError, match=r"reliability_curve expects num_bins to be an int >= 1"):
        metrics.reliability_curve(LOGITS, LABELS, num_bins=0)
    with pytest.raises(ValueError, match=r"reliability_curve expects labels in \[0, 4\)"):
        metrics.reliability_curve(LOGITS, np.array([0, 1, 7]))


def test_max_probability():
    close(metrics.max_probability(logits_of(PROBS_B)), [0.6, 1.3 / 3])
    close(metrics.max_probability(logits_of(PROBS_B[1])), [0.5, 0.5])  # one model


def brute_force_rejection(correct, confidence, q) -> float:
    n = len(correct)
    keep = n - int(math.floor(q * n + 1e-9))
    order = sorted(range(n), key=lambda i: (-confidence[i], i))  # ties: input order
    return sum(correct[i] for i in order[:keep]) / keep


def test_accuracy_rejection_by_hand():
    correct = [True, False, True, False, True, True, True, True, True, True]
    confidence = [0.9, 0.2, 0.8, 0.3, 0.7, 0.6, 0.95, 0.99, 0.5, 0.4]
    # The two mistakes are the two least confident: rejecting 20% leaves only right answers.
    close(metrics.accuracy_rejection_curve(correct, confidence, [0.0, 0.1, 0.2, 0.3]),
          [0.8, 8 / 9, 1.0, 1.0])  # fmt: skip
    # Ties keep input order: of the three tied inputs the first is rejected last.
    close(metrics.accuracy_rejection_curve([0, 1, 1], [0.5, 0.5, 0.5], [0.0, 1 / 3, 2 / 3]),
          [2 / 3, 0.5, 0.0])  # fmt: skip


@FAST
@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_accuracy_rejection_matches_brute_force(n, seed):
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < 0.7
    confidence = rng.integers(0, 4, n).astype(np.float32)  # ties
    q = [0.0, 0.1, 0.25, 0.3, 0.5, 0.7, 0.9, 0.99]
    expected = [brute_force_rejection(correct.tolist(), confidence.tolist(), f) for f in q]
    close(metrics.accuracy_rejection_curve(correct, confidence, q), expected)
    # A confidence that is the correctness itself ranks every mistake last.
    perfect = np.asarray(metrics.accuracy_rejection_curve(correct, correct.astype(np.float32), q))
    assert np.all(np.diff(perfect) >= -1e-6)


def test_accuracy_rejection_errors():
    with pytest.raises(ValueError, match=r"correct \(3,\) and confidence \(2,\) differ"):
        metrics.accuracy_rejection_curve([1, 0, 1], [0.1, 0.2])
    for bad in ([1.0], [-0.1], [], [[0.1]]):
        with pytest.raises(
            ValueError, match=r"rejected fractions: a non-empty sequence .* \[0, 1\)"
        ):
            metrics.accuracy_rejection_curve([1, 0], [0.1, 0.2], bad)
    with pytest.raises(ValueError, match=r"expects finite confidence"):
        metrics.accuracy_rejection_curve([1, 0], [0.1, np.inf])
    with pytest.raises(ValueError, match=r"correct to hold booleans or 0 / 1, got values \[0, 2\]"):
        metrics.accuracy_rejection_curve([2, 0], [0.1, 0.2])


def test_normalized_disagreement_by_hand():
    # Example B: predictions (0, 2), (0, 1), (0, 1); labels (1, 2). Member errors: 1/2, 1, 1, mean
    # 5/6. Disagreement: pairs (0,1), (0,2) differ on input 1 (1/2 each), (1,2) agree: 1/3.
    close(metrics.normalized_disagreement(logits_of(PROBS_B), LABELS_B), (1 / 3) / (5 / 6))
    # Always right, so no disagreement: 0, not 0/0.
    z = np.log(np.array([[[0.9, 0.1]], [[0.8, 0.2]]], np.float32))
    close(metrics.normalized_disagreement(z, np.array([0])), 0.0)


@FAST
@given(ensembles())
def test_normalized_disagreement_property(data):
    z, y = data
    errors = np.mean(z.argmax(-1) != y[None, :])
    d = float(metrics.pairwise_disagreement(z))
    expected = d / errors if errors > 0 else 0.0
    close(metrics.normalized_disagreement(z, y), expected, atol=1e-4)


def test_pairwise_correlation_by_hand():
    # Example A flattened: member 0 (.9, .1, .2, .8), member 1 (.3, .7, .6, .4); minus 1/2:
    # (.4, −.4, −.3, .3) and (−.2, .2, .1, −.1): ⟨·,·⟩ = −.08 −.08 −.03 −.03 = −.22,
    # norms √.5 and √.1: ρ = −.22 / √.05
    close(metrics.pairwise_correlation(logits_of(PROBS_A)), -0.22 / math.sqrt(0.05))
    close(metrics.pairwise_correlation(logits_of(PROBS_A)[:1]), 1.0)  # E = 1


@FAST
@given(ensembles())
def test_pairwise_correlation_is_pearson(data):
    z, _ = data
    e = z.shape[0]
    p = np_softmax(z).reshape(e, -1)
    pairs = [(i, j) for i in range(e) for j in range(e) if i != j]
    if pairs and all(p[i].std() > 1e-3 for i in range(e)):
        expected = np.mean([np.corrcoef(p[i], p[j])[0, 1] for i, j in pairs])
        close(metrics.pairwise_correlation(z), expected, atol=1e-4)
    same = np.repeat(z[:1], e, axis=0)
    if np_softmax(z[:1]).std() > 1e-3:
        close(metrics.pairwise_correlation(same), 1.0, atol=1e-5)


def test_new_functions_work_under_jit():
    z, y = logits_of(PROBS_B), LABELS_B
    scores = np.array([0.3, 0.1, 0.7], np.float32)

    def everything(z, y, scores):
        return [
            metrics.normalized_disagreement(z, y),
            metrics.pairwise_correlation(z),
            metrics.max_probability(z),
            *metrics.reliability_curve(z, y, num_bins=3),
            metrics.auroc(scores, scores[:2] + 0.05),
            metrics.accuracy_rejection_curve(scores > 0.2, scores, (0.0, 0.5)),
        ]

    for jitted, eager in zip(
        jax.jit(everything)(z, y, scores), everything(z, y, scores), strict=True
    ):
        close(jitted, eager)


# --------------------------------------------------------------------------------------------------
# nearest_distance


@settings(max_examples=settings.default.max_examples, deadline=None)
@given(
    st.integers(1, 300),
    st.integers(1, 20),
    st.integers(1, 3),
    st.integers(0, 2**31 - 1),
)
def test_nearest_distance_is_the_brute_force_minimum(num_points, num_data, features, seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(num_points, features)).astype(np.float32)
    data = rng.normal(size=(num_data, features)).astype(np.float32)
    expected = np.sqrt(((points[:, None] - data[None]) ** 2).sum(-1)).min(1)
    got = np.asarray(metrics.nearest_distance(points, data))
    assert got.shape == (num_points,)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_nearest_distance_is_zero_on_the_data_and_grows_away_from_it():
    data = np.array([[0.0, 0.0], [1.0, 0.0]])
    d = np.asarray(metrics.nearest_distance(np.array([[1.0, 0.0], [0.5, 0.0], [4.0, 4.0]]), data))
    np.testing.assert_allclose(d, [0.0, 0.5, 5.0], atol=1e-6)


@pytest.mark.parametrize(
    ("points", "data", "message"),
    [
        (np.ones(3), np.ones((2, 3)), r"points of shape \[n, features\], got shape \(3,\)"),
        (np.ones((2, 3)), np.ones((0, 3)), r"data of shape \[n, features\], got shape \(0, 3\)"),
        (np.ones((2, 3)), np.ones((4, 2)), r"same number of features, got points \(2, 3\)"),
        (np.ones((2, 2), complex), np.ones((2, 2)), "real-valued points, got dtype complex"),
    ],
)
def test_nearest_distance_rejects_bad_input(points, data, message):
    with pytest.raises(ValueError, match=message):
        metrics.nearest_distance(points, data)
