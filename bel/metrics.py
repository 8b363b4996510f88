"""Ensemble metrics: accuracy, calibration, diversity and uncertainty, as pure functions of arrays.

Conventions shared by every function here:

- ``logits`` of rank 3, shape ``[E, N, C]``, are an ensemble: ``E`` members, ``N`` inputs, ``C``
  classes, the layout :func:`bel.untile` gives for a member-major ``[E*N, C]`` output. Logits of
  rank 2, shape ``[N, C]``, are one model, read as an ensemble of ``E = 1``. Any other rank is a
  ``ValueError``. A member-major ``[E*N, C]`` batch is rank 2 as well: ``untile`` it first, or it is
  read as one model on ``E*N`` inputs.
- ``labels`` are integers of shape ``[N]`` with values in ``[0, C)``.
- Member ``i`` predicts ``p_i = softmax(z_i)``. The ensemble predicts the *mean of probabilities*
  ``p̄ = (1/E) Σ_i p_i``, never the softmax of the mean logit (Wen, Tran & Ba, 2020; Lakshminarayanan
  et al., 2017).
- Natural logarithms; ``0 · log 0 = 0``. Results are jax arrays (0-d for scalars), computed in at
  least float32. Every function works under :func:`jax.jit` (:func:`ece` and
  :func:`reliability_curve` with ``num_bins`` static, :func:`accuracy_rejection_curve` with its
  ``rejected`` fractions concrete).
- Scores for :func:`auroc` and :func:`accuracy_rejection_curve` are ``[N]`` arrays, e.g. an
  uncertainty per input from :func:`predictive_entropy` or :func:`max_probability`.
- Shapes, dtypes and ``num_bins`` are checked in Python before anything is computed, and mistakes
  raise a ``ValueError`` that says what was expected and what was received. Label *values* are also
  checked when they are concrete (not under ``jit``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from bel._checks import check_int
from bel._jit import jit

__all__ = [
    "member_probs",
    "ensemble_probs",
    "ensemble_log_probs",
    "nll",
    "accuracy",
    "brier",
    "ece",
    "pairwise_disagreement",
    "pairwise_kl",
    "predictive_entropy",
    "expected_entropy",
    "mutual_information",
    "weight_cosine_similarity",
    "mean_pairwise_cosine",
    "normalized_disagreement",
    "pairwise_correlation",
    "max_probability",
    "ReliabilityCurve",
    "reliability_curve",
    "auroc",
    "accuracy_rejection_curve",
    "nearest_distance",
]

_HIGHEST = jax.lax.Precision.HIGHEST


# --------------------------------------------------------------------------------------------------
# Input checks: Python only, on shapes and dtypes, before anything is computed


def _array(x: Any) -> Any:
    """``x`` itself if it is an array (jax, numpy or a tracer); lists and scalars via numpy.

    No conversion to a jax array here: ``jnp.asarray`` would compile a transfer for every new
    shape, while the jitted kernels take numpy arrays as they are.
    """
    return x if hasattr(x, "shape") and hasattr(x, "dtype") else np.asarray(x)


def _check_real(x: Any, name: str, what: str) -> None:
    dtype = x.dtype
    if not (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)):
        if dtype != jnp.bool_:
            raise ValueError(f"{name} expects real-valued {what}, got dtype {dtype}")


def _check_logits(logits: Any, name: str) -> Any:
    """Check logits ``[E, N, C]`` (an ensemble) or ``[N, C]`` (one model); return ``[E, N, C]``.

    One model becomes ``[1, N, C]`` here, outside the kernels, so that it shares their compiled
    code with an ensemble of one.
    """
    z = _array(logits)
    if z.ndim not in (2, 3):
        raise ValueError(
            f"{name} expects logits of shape [E, N, C] (an ensemble, rank 3) or [N, C] (one model, "
            f"rank 2), got shape {z.shape} (rank {z.ndim})"
        )
    if 0 in z.shape:
        raise ValueError(f"{name} expects non-empty logits (E, N, C >= 1), got shape {z.shape}")
    _check_real(z, name, "logits")
    return z if z.ndim == 3 else z[None]


def _check_labels(labels: Any, z: Any, name: str) -> Any:
    """Return labels, checked to be integers ``[N]`` in ``[0, C)`` for logits ``z [E, N, C]``."""
    _, n, c = z.shape
    y = _array(labels)
    if y.ndim != 1:
        raise ValueError(
            f"{name} expects labels of shape [N] (rank 1), got shape {y.shape} (rank {y.ndim})"
        )
    if y.shape[0] != n:
        raise ValueError(
            f"{name} expects one label per input: labels of shape ({n},) for logits with "
            f"N = {n} inputs (read as [E, N, C] = {z.shape}), got labels of shape {y.shape}"
        )
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(f"{name} expects integer class labels, got dtype {y.dtype}")
    if not isinstance(y, jax.core.Tracer):  # label values can be checked only outside jit
        values = np.asarray(y)
        lo, hi = int(values.min()), int(values.max())
        if lo < 0 or hi >= c:
            raise ValueError(
                f"{name} expects labels in [0, {c}) for C = {c} classes, "
                f"got values from {lo} to {hi}"
            )
    return y


def _check_num_bins(num_bins: Any, name: str = "ece") -> int:
    jit = "(under jax.jit, pass it as a static argument: static_argnames='num_bins')"
    return check_int(num_bins, "num_bins", 1, caller=name, hint=jit)


def _check_weights(weights: Any, name: str) -> Any:
    """Return weights, checked to be ``[E, ...]`` (rank >= 2) and non-empty."""
    w = _array(weights)
    if w.ndim < 2:
        raise ValueError(
            f"{name} expects weights of shape [E, ...] (rank >= 2, one block of weights per "
            f"member), got shape {w.shape} (rank {w.ndim})"
        )
    if 0 in w.shape:
        raise ValueError(f"{name} expects non-empty weights, got shape {w.shape}")
    _check_real(w, name, "weights")
    return w


# --------------------------------------------------------------------------------------------------
# Kernels: unchecked, on logits [E, N, C]; jitted, so that a new shape costs one compilation per
# metric rather than one per operation


def _as_float(x: jax.Array) -> jax.Array:
    """Compute in at least float32 (bool, int, float16 and bfloat16 inputs are promoted)."""
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def _xlogy_terms(p: jax.Array, log_p: jax.Array) -> jax.Array:
    """``p · log p`` elementwise with ``0 · log 0 = 0`` (logits of -inf are allowed)."""
    return jnp.where(p > 0, p * log_p, 0.0)


@jit
def _member_probs(z: jax.Array) -> jax.Array:
    return jax.nn.softmax(_as_float(z), axis=-1)


@jit
def _ensemble_probs(z: jax.Array) -> jax.Array:
    return jnp.mean(_member_probs(z), axis=0)


@jit
def _ensemble_log_probs(z: jax.Array) -> jax.Array:
    z = _as_float(z)
    return jax.nn.logsumexp(jax.nn.log_softmax(z, axis=-1), axis=0) - math.log(z.shape[0])


@jit
def _nll(z: jax.Array, y: jax.Array) -> jax.Array:
    log_p = _ensemble_log_probs(z)
    return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=-1))


@jit
def _accuracy(z: jax.Array, y: jax.Array) -> jax.Array:
    p = _ensemble_probs(z)
    return jnp.mean((jnp.argmax(p, axis=-1) == y).astype(p.dtype))


@jit
def _brier(z: jax.Array, y: jax.Array) -> jax.Array:
    p = _ensemble_probs(z)
    onehot = jax.nn.one_hot(y, p.shape[-1], dtype=p.dtype)
    return jnp.mean(jnp.sum((p - onehot) ** 2, axis=-1))


@jit(static_argnames="num_bins")
def _ece(z: jax.Array, y: jax.Array, num_bins: int) -> jax.Array:
    p = _ensemble_probs(z)
    conf = jnp.max(p, axis=-1)
    correct = (jnp.argmax(p, axis=-1) == y).astype(conf.dtype)
    edges = jnp.linspace(0.0, 1.0, num_bins + 1, dtype=conf.dtype)
    # side="left" finds i with edges[i-1] < conf <= edges[i]: bin i-1 is (lower, upper].
    i = jnp.searchsorted(edges, conf, side="left", method="compare_all")
    bins = jnp.clip(i - 1, 0, num_bins - 1)
    gaps = jnp.zeros(num_bins, conf.dtype).at[bins].add(correct - conf)
    return jnp.sum(jnp.abs(gaps)) / conf.shape[0]


@jit
def _pairwise_disagreement(z: jax.Array) -> jax.Array:
    z = _as_float(z)
    e = z.shape[0]
    if e == 1:
        return jnp.zeros((), z.dtype)
    pred = jnp.argmax(z, axis=-1)  # [E, N]
    differ = jnp.mean((pred[:, None, :] != pred[None, :, :]).astype(z.dtype), axis=-1)  # [E, E]
    return jnp.sum(differ) / (e * (e - 1))  # the diagonal is 0


@jit
def _pairwise_kl(z: jax.Array) -> jax.Array:
    z = _as_float(z)
    e, n, _ = z.shape
    if e == 1:
        return jnp.zeros((), z.dtype)
    log_p = jax.nn.log_softmax(z, axis=-1)
    p = jnp.exp(log_p)

    def kl_from(member: tuple[jax.Array, jax.Array]) -> jax.Array:
        """Σ_n KL(p_i[n] ‖ p_j[n]) for one member i against every member j: shape [E]."""
        p_i, log_p_i = member
        terms = jnp.where(p_i > 0, p_i * (log_p_i - log_p), 0.0)  # [E, N, C]
        return jnp.sum(terms, axis=(1, 2))

    kl = jax.lax.map(kl_from, (p, log_p)) / n  # [E, E], holding only E·N·C values at a time
    kl = jnp.maximum(kl, 0.0)  # KL >= 0; only rounding could make a pair negative
    return jnp.sum(kl) / (e * (e - 1))  # the diagonal is exactly 0


@jit
def _predictive_entropy(z: jax.Array) -> jax.Array:
    log_p = _ensemble_log_probs(z)
    return -jnp.sum(_xlogy_terms(jnp.exp(log_p), log_p), axis=-1)


@jit
def _expected_entropy(z: jax.Array) -> jax.Array:
    log_p = jax.nn.log_softmax(_as_float(z), axis=-1)
    return -jnp.mean(jnp.sum(_xlogy_terms(jnp.exp(log_p), log_p), axis=-1), axis=0)


@jit
def _mutual_information(z: jax.Array) -> jax.Array:
    return jnp.maximum(_predictive_entropy(z) - _expected_entropy(z), 0.0)


@jit
def _cosine_matrix(weights: jax.Array) -> jax.Array:
    """``[E, E]`` cosine similarities of the flattened members; all-zero members give 0."""
    w = _as_float(weights.reshape(weights.shape[0], -1))
    norms = jnp.linalg.norm(w, axis=1)
    nonzero = norms > 0
    unit = w / jnp.where(nonzero, norms, 1.0)[:, None]
    s = jnp.matmul(unit, unit.T, precision=_HIGHEST)
    s = jnp.clip((s + s.T) / 2, -1.0, 1.0)  # exactly symmetric, never 1 + ulp
    diagonal = jnp.eye(w.shape[0], dtype=bool)
    return jnp.where(diagonal, nonzero.astype(s.dtype)[:, None], s)


@jit
def _mean_pairwise_cosine(weights: jax.Array) -> jax.Array:
    s = _cosine_matrix(weights)
    e = s.shape[0]
    if e == 1:
        return jnp.ones((), s.dtype)
    return (jnp.sum(s) - jnp.trace(s)) / (e * (e - 1))


# --------------------------------------------------------------------------------------------------
# Predictions


def member_probs(logits: ArrayLike) -> jax.Array:
    """Each member's class probabilities, ``p_i = softmax(z_i)``, shape ``[E, N, C]``.

    ``p_i[n, c] = exp(z_i[n, c]) / Σ_k exp(z_i[n, k])``. Logits of shape ``[N, C]`` (one model)
    give ``[1, N, C]``.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[[0.9, 0.1], [0.2, 0.8]],      # member 0: E=2, N=2, C=2
    ...                             [[0.3, 0.7], [0.6, 0.4]]]))    # member 1
    >>> metrics.member_probs(logits).tolist()
    [[[0.9, 0.1], [0.2, 0.8]], [[0.3, 0.7], [0.6, 0.4]]]
    """
    return _member_probs(_check_logits(logits, "member_probs"))


def ensemble_probs(logits: ArrayLike) -> jax.Array:
    """The ensemble's prediction, the mean of member probabilities, shape ``[N, C]``.

    ``p̄[n, c] = (1/E) Σ_i softmax(z_i)[n, c]``: the mean of probabilities, *not* the softmax of the
    mean logit (which is more confident and worse calibrated).

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[[0.9, 0.1], [0.2, 0.8]],
    ...                             [[0.3, 0.7], [0.6, 0.4]]]))
    >>> metrics.ensemble_probs(logits).tolist()
    [[0.6, 0.4], [0.4, 0.6]]
    """
    return _ensemble_probs(_check_logits(logits, "ensemble_probs"))


def ensemble_log_probs(logits: ArrayLike) -> jax.Array:
    """``log p̄``, the log of the mean member probability, computed stably; shape ``[N, C]``.

    ``log p̄[n, c] = logsumexp_i(log_softmax(z_i)[n, c]) − log E`` (log-mean-exp), so a class that
    every member gives a probability below float precision still has a finite log-probability.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.array([[[0.0, -200.0], [0.0, 0.0]],
    ...                     [[0.0, -300.0], [0.0, 0.0]]])    # input 0: p̄(class 1) ≈ e^-200 / 2
    >>> metrics.ensemble_log_probs(logits)[0].tolist()        # -200 - log 2
    [0.0, -200.6931]
    >>> jnp.log(metrics.ensemble_probs(logits))[0].tolist()   # the naive way underflows
    [0.0, -inf]
    """
    return _ensemble_log_probs(_check_logits(logits, "ensemble_log_probs"))


# --------------------------------------------------------------------------------------------------
# Quality and calibration of the ensemble prediction


def nll(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Negative log-likelihood of the ensemble's mean probability, averaged over inputs.

    ``NLL = −(1/N) Σ_n log p̄[n, y_n]``, with ``log p̄`` from :func:`ensemble_log_probs`
    (log-mean-exp, never ``log`` of an underflowed mean). Rank 3 logits ``[E, N, C]`` are an
    ensemble; rank 2 ``[N, C]`` one model, for which this is the usual cross-entropy.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[[0.9, 0.1], [0.2, 0.8]],
    ...                             [[0.3, 0.7], [0.6, 0.4]]]))    # p̄ = [.6, .4], [.4, .6]
    >>> metrics.nll(logits, jnp.array([0, 1])).item()               # -log 0.6
    0.5108
    >>> metrics.nll(logits[0], jnp.array([0, 1])).item()            # member 0 alone
    0.1643
    """
    z = _check_logits(logits, "nll")
    return _nll(z, _check_labels(labels, z, "nll"))


def accuracy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Fraction of inputs where the ensemble's mean prediction is right.

    ``acc = (1/N) Σ_n 1[argmax_c p̄[n, c] = y_n]`` (ties go to the lowest class index).

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[[0.9, 0.1], [0.2, 0.8]],
    ...                             [[0.3, 0.7], [0.6, 0.4]]]))    # p̄ = [.6, .4], [.4, .6]
    >>> metrics.accuracy(logits, jnp.array([0, 0])).item()
    0.5
    """
    z = _check_logits(logits, "accuracy")
    return _accuracy(z, _check_labels(labels, z, "accuracy"))


def brier(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Brier score of the ensemble's mean prediction: mean over inputs of the squared error.

    ``Brier = (1/N) Σ_n Σ_c (p̄[n, c] − 1[c = y_n])²``, in ``[0, 2]``; 0 is a certain, correct
    prediction. (This is the multi-class sum over classes, not divided by ``C``.)

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[[0.9, 0.1], [0.2, 0.8]],
    ...                             [[0.3, 0.7], [0.6, 0.4]]]))    # p̄ = [.6, .4], [.4, .6]
    >>> metrics.brier(logits, jnp.array([0, 1])).item()             # 0.4² + 0.4² on each input
    0.32
    """
    z = _check_logits(logits, "brier")
    return _brier(z, _check_labels(labels, z, "brier"))


def ece(logits: ArrayLike, labels: ArrayLike, num_bins: int = 15) -> jax.Array:
    """Expected calibration error of the ensemble's mean prediction, with equal-width bins.

    The confidence of input ``n`` is ``conf_n = max_c p̄[n, c]`` (in ``(0, 1]``), its prediction
    ``argmax_c p̄[n, c]``. Bin ``m`` (``m = 1 … M``, ``M = num_bins``) holds the inputs with
    ``(m−1)/M < conf_n ≤ m/M``: a confidence exactly on an edge goes to the lower bin and 1.0 to the
    last one. Then (Naeini et al., 2015; Guo et al., 2017)::

        ECE = Σ_m |B_m|/N · |acc(B_m) − conf(B_m)| = (1/N) Σ_m |Σ_{n∈B_m} (1[correct_n] − conf_n)|,

    with ``acc`` and ``conf`` the mean correctness and mean confidence in the bin; empty bins add 0.
    The result lies in ``[0, 1]``. Under :func:`jax.jit`, ``num_bins`` must be static.

    The ``(lower, upper]`` bins are those of Guo et al.'s reference code. uncertainty-baselines
    (through robustness_metrics' ``tf.histogram_fixed_width_bins``) uses ``[lower, upper)`` bins,
    with 1.0 clipped into the last one; the two agree except for confidences exactly on an edge.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[0.75, 0.25]] * 4))       # one model, 75% sure of class 0 ...
    >>> metrics.ece(logits, jnp.array([0, 0, 0, 1])).item()    # ... and right 3 times in 4
    0.0
    >>> metrics.ece(logits, jnp.array([0, 1, 1, 1])).item()    # right once in 4: |0.25 − 0.75|
    0.5
    """
    num_bins = _check_num_bins(num_bins)
    z = _check_logits(logits, "ece")
    return _ece(z, _check_labels(labels, z, "ece"), num_bins=num_bins)


# --------------------------------------------------------------------------------------------------
# Diversity between members


def pairwise_disagreement(logits: ArrayLike) -> jax.Array:
    """Fraction of inputs on which two members predict different classes, averaged over pairs.

    ``D = 2/(E(E−1)) Σ_{i<j} (1/N) Σ_n 1[argmax z_i[n] ≠ argmax z_j[n]]``, in ``[0, 1]``; 0 for
    ``E = 1`` (no pairs). Some papers divide by the ensemble's error rate; this does not.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.array([[[1.0, 0.0], [1.0, 0.0]],       # member 0 predicts 0, 0
    ...                     [[1.0, 0.0], [0.0, 1.0]],       # member 1 predicts 0, 1
    ...                     [[1.0, 0.0], [0.0, 1.0]]])      # member 2 predicts 0, 1
    >>> metrics.pairwise_disagreement(logits).item()       # pairs (0,1), (0,2): 1/2; (1,2): 0
    0.3333
    """
    return _pairwise_disagreement(_check_logits(logits, "pairwise_disagreement"))


def pairwise_kl(logits: ArrayLike) -> jax.Array:
    """Mean KL divergence between two members' predictions, over ordered pairs and inputs.

    ``KL = 1/(E(E−1)) Σ_{i≠j} (1/N) Σ_n Σ_c p_i[n, c] (log p_i[n, c] − log p_j[n, c])``, with
    ``p_i = softmax(z_i)``. KL is not symmetric; averaging over *ordered* pairs uses both
    directions. ``>= 0`` (each pair is clipped at 0 against rounding); 0 for ``E = 1`` and for
    identical members.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[[0.5, 0.5], [0.5, 0.5]],
    ...                             [[0.75, 0.25], [0.75, 0.25]]]))
    >>> metrics.pairwise_kl(logits).item()   # (KL(.5‖.75) + KL(.75‖.5)) / 2 = (0.1438 + 0.1308) / 2
    0.1373
    """
    return _pairwise_kl(_check_logits(logits, "pairwise_kl"))


# --------------------------------------------------------------------------------------------------
# Uncertainty decomposition (per input)


def predictive_entropy(logits: ArrayLike) -> jax.Array:
    """Total uncertainty: the entropy of the ensemble's mean prediction, per input, shape ``[N]``.

    ``H[p̄](n) = −Σ_c p̄[n, c] log p̄[n, c]``, in ``[0, log C]``, with ``log p̄`` from
    :func:`ensemble_log_probs`.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.array([[[9.0, 0.0], [2.0, 0.0]],
    ...                     [[0.0, 9.0], [2.0, 0.0]]])     # disagree on input 0, agree on 1
    >>> metrics.predictive_entropy(logits).tolist()        # input 0: p̄ = [.5, .5], log 2
    [0.6931, 0.3653]
    """
    return _predictive_entropy(_check_logits(logits, "predictive_entropy"))


def expected_entropy(logits: ArrayLike) -> jax.Array:
    """Aleatoric uncertainty: the mean of the members' entropies, per input, shape ``[N]``.

    ``E_i H[p_i](n) = −(1/E) Σ_i Σ_c p_i[n, c] log p_i[n, c]``.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.array([[[9.0, 0.0], [2.0, 0.0]],
    ...                     [[0.0, 9.0], [2.0, 0.0]]])     # input 0: each member nearly certain
    >>> metrics.expected_entropy(logits).tolist()
    [0.0012, 0.3653]
    """
    return _expected_entropy(_check_logits(logits, "expected_entropy"))


def mutual_information(logits: ArrayLike) -> jax.Array:
    """Epistemic uncertainty: how much the members disagree, per input, shape ``[N]``.

    ``MI(n) = H[p̄](n) − E_i H[p_i](n)`` (:func:`predictive_entropy` minus
    :func:`expected_entropy`), the mutual information between the prediction and the choice of
    member. It is ``>= 0`` by concavity of entropy (the result is clipped at 0 against rounding),
    ``<= log E`` and ``<= log C``, and 0 when all members agree.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.array([[[9.0, 0.0], [2.0, 0.0]],
    ...                     [[0.0, 9.0], [2.0, 0.0]]])     # disagree on input 0, agree on 1
    >>> metrics.mutual_information(logits).tolist()
    [0.6919, 0.0]
    """
    return _mutual_information(_check_logits(logits, "mutual_information"))


# --------------------------------------------------------------------------------------------------
# Similarity in weight space


def weight_cosine_similarity(weights: ArrayLike) -> jax.Array:
    """Cosine similarity between members' flattened weights, an ``[E, E]`` matrix.

    ``S[i, j] = ⟨w_i, w_j⟩ / (‖w_i‖ ‖w_j‖)`` with ``w_i = weights[i].ravel()``; e.g. ``weights``
    from ``BatchEnsembleLinear.effective_weights()``, shape ``[E, in, out]``. ``S`` is symmetric,
    in ``[−1, 1]``, with a unit diagonal. A member whose weights are all zero has no direction: its
    row and column (diagonal included) are 0.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> weights = jnp.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])   # E=3 members of 2 weights
    >>> metrics.weight_cosine_similarity(weights).tolist()
    [[1.0, 0.0, 0.7071], [0.0, 1.0, 0.7071], [0.7071, 0.7071, 1.0]]
    """
    return _cosine_matrix(_check_weights(weights, "weight_cosine_similarity"))


def mean_pairwise_cosine(weights: ArrayLike) -> jax.Array:
    """Mean cosine similarity over pairs of distinct members (the off-diagonal of the matrix).

    ``(1/(E(E−1))) Σ_{i≠j} S[i, j]`` with ``S`` from :func:`weight_cosine_similarity`. Near 1:
    the members point the same way in weight space. By convention a single member (``E = 1``)
    gives 1.0: it is identical to itself, so there is no diversity.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> weights = jnp.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    >>> metrics.mean_pairwise_cosine(weights).item()              # (0 + 0.7071 + 0.7071) / 3
    0.4714
    >>> metrics.mean_pairwise_cosine(weights[:1]).item()
    1.0
    """
    return _mean_pairwise_cosine(_check_weights(weights, "mean_pairwise_cosine"))


# --------------------------------------------------------------------------------------------------
# Function-space similarity of the members


@jit
def _member_errors(z: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean((jnp.argmax(z, axis=-1) != y[None, :]).astype(_as_float(z).dtype))


@jit
def _normalized_disagreement(z: jax.Array, y: jax.Array) -> jax.Array:
    d, err = _pairwise_disagreement(z), _member_errors(z, y)
    return jnp.where(err > 0, d / jnp.where(err > 0, err, 1.0), 0.0)


@jit
def _pairwise_correlation(z: jax.Array) -> jax.Array:
    p = _member_probs(z)
    centred = p.reshape(p.shape[0], -1) - 1.0 / p.shape[-1]  # each row's mean is exactly 1/C
    return _mean_pairwise_cosine(centred)


def normalized_disagreement(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """Pairwise disagreement divided by the members' mean error rate (Fort et al., 2019).

    ``D / ē`` with ``D`` from :func:`pairwise_disagreement` and
    ``ē = (1/E) Σ_i (1/N) Σ_n 1[argmax z_i[n] ≠ y_n]``. Two members that err independently of
    each other at rate ``ē`` disagree on up to about ``2ē`` of the inputs; members that copy each
    other give 0. When every member is always right (``ē = 0``) there is no disagreement either,
    and the result is 0.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.array([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]],   # predicts 0 0 0 1
    ...                     [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]])  # predicts 0 1 0 1
    >>> labels = jnp.array([0, 0, 1, 1])                  # errors: 1/4 and 2/4, mean 3/8
    >>> metrics.normalized_disagreement(logits, labels).item()   # D = 1/4, (1/4) / (3/8)
    0.6667
    """
    z = _check_logits(logits, "normalized_disagreement")
    return _normalized_disagreement(z, _check_labels(labels, z, "normalized_disagreement"))


def pairwise_correlation(logits: ArrayLike) -> jax.Array:
    """Mean Pearson correlation between two members' predicted probabilities, over pairs.

    Member ``i``'s predictions ``p_i = softmax(z_i)`` are flattened over inputs and classes to one
    vector of ``N·C`` numbers, whose mean is exactly ``1/C``. For members ``i ≠ j``,
    ``ρ_ij = ⟨p_i − 1/C, p_j − 1/C⟩ / (‖p_i − 1/C‖ ‖p_j − 1/C‖)``; the result is the mean over
    ordered pairs, in ``[−1, 1]``: 1 when the members predict alike up to scale. A member that
    predicts the uniform distribution everywhere has no variance: its pairs count as 0. By
    convention one member (``E = 1``) gives 1.0.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[[0.9, 0.1], [0.2, 0.8]],
    ...                             [[0.8, 0.2], [0.4, 0.6]],
    ...                             [[0.1, 0.9], [0.8, 0.2]]]))
    >>> metrics.pairwise_correlation(logits).item()   # pairs: (0.9487 − 1 − 0.9487) / 3
    -0.3333
    """
    return _pairwise_correlation(_check_logits(logits, "pairwise_correlation"))


# --------------------------------------------------------------------------------------------------
# Reliability diagrams, out-of-distribution detection, selective prediction


class ReliabilityCurve(NamedTuple):
    """Per-bin data of a reliability diagram, each ``[num_bins]``; empty bins hold NaN / 0."""

    confidence: jax.Array  # mean confidence of the inputs in the bin
    accuracy: jax.Array  # fraction of them predicted right
    count: jax.Array  # how many inputs fall in the bin


@jit(static_argnames="num_bins")
def _reliability_curve(z: jax.Array, y: jax.Array, num_bins: int) -> ReliabilityCurve:
    p = _ensemble_probs(z)
    conf = jnp.max(p, axis=-1)
    correct = (jnp.argmax(p, axis=-1) == y).astype(conf.dtype)
    edges = jnp.linspace(0.0, 1.0, num_bins + 1, dtype=conf.dtype)
    i = jnp.searchsorted(edges, conf, side="left", method="compare_all")  # the same bins as _ece
    bins = jnp.clip(i - 1, 0, num_bins - 1)
    count = jnp.zeros(num_bins, conf.dtype).at[bins].add(1.0)
    safe = jnp.where(count > 0, count, 1.0)
    empty = jnp.where(count > 0, 0.0, jnp.nan)
    confidence = jnp.zeros(num_bins, conf.dtype).at[bins].add(conf) / safe + empty
    accuracy_ = jnp.zeros(num_bins, conf.dtype).at[bins].add(correct) / safe + empty
    return ReliabilityCurve(confidence, accuracy_, count.astype(jnp.int32))


def reliability_curve(logits: ArrayLike, labels: ArrayLike, num_bins: int = 15) -> ReliabilityCurve:
    """The data of a reliability diagram (Guo et al., 2017): accuracy against confidence per bin.

    With the bins of :func:`ece` (``(m−1)/M < conf_n ≤ m/M``, ``conf_n = max_c p̄[n, c]``), bin
    ``m`` reports ``count_m = |B_m|``, ``confidence_m = (1/|B_m|) Σ_{n∈B_m} conf_n`` and
    ``accuracy_m = (1/|B_m|) Σ_{n∈B_m} 1[argmax_c p̄[n, c] = y_n]`` (NaN for an empty bin, so a
    plot leaves it out). A calibrated model has ``accuracy_m ≈ confidence_m``, and
    ``ECE = Σ_m (count_m / N) · |accuracy_m − confidence_m|`` over the non-empty bins.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]]))
    >>> curve = metrics.reliability_curve(logits, jnp.array([0, 1, 0, 0]), num_bins=2)
    >>> curve.count.tolist(), curve.confidence.tolist(), curve.accuracy.tolist()
    ([0, 4], [nan, 0.75], [nan, 0.5])
    """
    num_bins = _check_num_bins(num_bins, "reliability_curve")
    z = _check_logits(logits, "reliability_curve")
    return _reliability_curve(z, _check_labels(labels, z, "reliability_curve"), num_bins=num_bins)


@jit
def _max_probability(z: jax.Array) -> jax.Array:
    return jnp.max(_ensemble_probs(z), axis=-1)


def max_probability(logits: ArrayLike) -> jax.Array:
    """The ensemble's confidence, ``max_c p̄[n, c]``, per input: shape ``[N]``, in ``[1/C, 1]``.

    Hendrycks & Gimpel's (2017) baseline score for out-of-distribution detection (low = suspect)
    and the usual score for rejecting inputs (:func:`accuracy_rejection_curve`).

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[[0.9, 0.1], [0.2, 0.8]],
    ...                             [[0.3, 0.7], [0.6, 0.4]]]))    # p̄ = [.6, .4], [.4, .6]
    >>> metrics.max_probability(logits).tolist()
    [0.6, 0.6]
    """
    return _max_probability(_check_logits(logits, "max_probability"))


def _check_scores(scores: Any, name: str, what: str) -> Any:
    s = _array(scores)
    if s.ndim != 1 or s.shape[0] == 0:
        raise ValueError(f"{name} expects {what} of shape [N] with N >= 1, got shape {s.shape}")
    _check_real(s, name, what)
    if not isinstance(s, jax.core.Tracer) and not np.all(np.isfinite(np.asarray(s))):
        raise ValueError(f"{name} expects finite {what}, got NaN or infinite values")
    return s


@jit
def _auroc(negatives: jax.Array, positives: jax.Array) -> jax.Array:
    neg = jnp.sort(_as_float(negatives))
    pos = _as_float(positives).astype(neg.dtype)
    below = jnp.searchsorted(neg, pos, side="left", method="compare_all")  # negatives < s
    not_above = jnp.searchsorted(neg, pos, side="right", method="compare_all")  # negatives <= s
    return jnp.mean((below + not_above).astype(neg.dtype) / (2.0 * neg.shape[0]))


def auroc(negative_scores: ArrayLike, positive_scores: ArrayLike) -> jax.Array:
    """Area under the ROC curve of a score that should be higher on the positives.

    The probability that a random positive outscores a random negative, ties counting one half
    (the Mann–Whitney statistic):

        AUROC = 1/(N₋ N₊) Σ_i Σ_j ( 1[s⁺_j > s⁻_i] + ½ · 1[s⁺_j = s⁻_i] ).

    1 separates the two sets perfectly, 0.5 is chance (a constant score gives exactly 0.5). For
    out-of-distribution detection (Hendrycks & Gimpel, 2017) the negatives are in-distribution
    inputs, the positives OOD inputs, and the score an uncertainty such as
    :func:`predictive_entropy`, :func:`mutual_information` or ``−``:func:`max_probability`.
    Both score arrays are ``[N]`` and finite.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> metrics.auroc(jnp.array([0.1, 0.4, 0.5]), jnp.array([0.5, 0.9])).item()
    0.9167
    """
    neg = _check_scores(negative_scores, "auroc", "negative_scores")
    pos = _check_scores(positive_scores, "auroc", "positive_scores")
    return _auroc(neg, pos)


@jit
def _accuracy_rejection_curve(correct: jax.Array, confidence: jax.Array, keep: jax.Array):
    order = jnp.argsort(-_as_float(confidence), stable=True)
    hits = jnp.cumsum(_as_float(correct)[order])  # hits[k-1]: right answers among the k kept
    return hits[keep - 1] / keep.astype(hits.dtype)


def accuracy_rejection_curve(
    correct: ArrayLike, confidence: ArrayLike, rejected: Any = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
) -> jax.Array:
    """Accuracy on the inputs a model keeps when it may reject its least confident ones.

    Sort the ``N`` inputs by ``confidence``, most confident first (ties keep their input order).
    Rejecting a fraction ``q`` keeps the first ``k(q) = N − ⌊q·N⌋`` of them, and

        accuracy(q) = (1/k(q)) Σ_{n among the k(q) kept} correct_n.

    ``correct`` is ``[N]`` bool / 0-1 (an input of a class the model never saw is never correct,
    as in Lakshminarayanan et al.'s 2017 known-vs-unseen-classes test); ``confidence`` is ``[N]``,
    e.g. :func:`max_probability` or minus :func:`predictive_entropy`. ``rejected`` is a concrete
    sequence of fractions in ``[0, 1)``; the result has its length. A confidence that ranks the
    mistakes last gives a curve rising to 1; one that knows nothing gives a flat curve on average.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> correct = jnp.array([True, False, True, True])
    >>> confidence = jnp.array([0.9, 0.6, 0.8, 0.5])
    >>> metrics.accuracy_rejection_curve(correct, confidence, [0.0, 0.25, 0.5]).tolist()
    [0.75, 0.6667, 1.0]
    """
    c = _check_scores(correct, "accuracy_rejection_curve", "correct")
    if not isinstance(c, jax.core.Tracer) and not np.isin(np.asarray(c), (0, 1)).all():
        raise ValueError(
            "accuracy_rejection_curve expects correct to hold booleans or 0 / 1, got values "
            f"{np.unique(np.asarray(c))[:5].tolist()}"
        )
    conf = _check_scores(confidence, "accuracy_rejection_curve", "confidence")
    if c.shape != conf.shape:
        raise ValueError(
            f"accuracy_rejection_curve expects one confidence per input: correct {c.shape} and "
            f"confidence {conf.shape} differ"
        )
    q = np.asarray(rejected, np.float64)
    if q.ndim != 1 or q.size == 0 or not np.all((q >= 0) & (q < 1)):
        raise ValueError(
            "accuracy_rejection_curve expects rejected fractions: a non-empty sequence of values "
            f"in [0, 1), got {rejected!r}"
        )
    n = c.shape[0]
    keep = n - np.floor(q * n + 1e-9).astype(np.int64)  # the tolerance keeps 0.3·10 from being 2
    return _accuracy_rejection_curve(c, conf, jax.device_put(np.asarray(keep, np.int32)))


# --------------------------------------------------------------------------------------------------
# Where the data are: distance to the nearest training point


@jit
def _nearest_distance(points: jax.Array, data: jax.Array) -> jax.Array:
    # Broadcast the differences ([P, D, F]) in blocks of points, so memory stays O(block · D · F).
    def block(p: jax.Array) -> jax.Array:
        return jnp.sqrt(jnp.min(jnp.sum((p[:, None, :] - data[None, :, :]) ** 2, axis=-1), axis=1))

    size = 256
    pad = (-points.shape[0]) % size
    padded = jnp.pad(points, ((0, pad), (0, 0))).reshape(-1, size, points.shape[1])
    return jax.lax.map(block, padded).reshape(-1)[: points.shape[0]]


def nearest_distance(points: ArrayLike, data: ArrayLike) -> jax.Array:
    """Euclidean distance from each row of ``points`` ``[P, F]`` to the nearest row of ``data``.

    ``d(x) = min_n ‖x − x_n‖₂`` over the training inputs ``x_n``: a density-based notion of "on the
    data" (small where training points are close by, large in empty regions, including the empty
    corners of the data's bounding box). ``data`` is ``[D, F]``; returns ``[P]``, in at least
    float32.

    >>> import jax.numpy as jnp
    >>> data = jnp.array([[0.0, 0.0], [3.0, 0.0]])
    >>> nearest_distance(jnp.array([[0.0, 1.0], [3.0, 4.0], [1.0, 0.0]]), data).tolist()
    [1.0, 4.0, 1.0]
    """
    p, d = _array(points), _array(data)
    for name, a in (("points", p), ("data", d)):
        _check_real(a, "nearest_distance", name)
        if a.ndim != 2 or 0 in a.shape:
            raise ValueError(
                f"nearest_distance expects non-empty {name} of shape [n, features], got shape "
                f"{a.shape}"
            )
    if p.shape[1] != d.shape[1]:
        raise ValueError(
            f"nearest_distance expects points and data with the same number of features, got "
            f"points {p.shape} and data {d.shape}"
        )
    dtype = jnp.promote_types(jnp.result_type(p, d), jnp.float32)
    return _nearest_distance(p.astype(dtype), d.astype(dtype))


# --------------------------------------------------------------------------------------------------
# Every prefix of an ensemble at once: the first k members, for k = 1 … E
#
# Row k - 1 of each result is the ordinary metric of the first k members (``logits[:k]``), so one
# compiled program answers "what if the ensemble had only k members?" for every k (the diversity
# explorer's member slider). Written with the kernels above; tests hold every row equal to the
# ordinary metric of that prefix.

__all__ += [  # noqa: PLE0605 - the prefix forms, appended to the list above
    "prefix_ensemble_log_probs",
    "prefix_mutual_information",
    "prefix_pairwise_disagreement",
    "prefix_accuracy",
    "prefix_mean_pairwise_cosine",
]


def _prefix_mask(e: int) -> jax.Array:
    """``M[k, i] = 1`` for ``i <= k``, else 0: row ``k`` selects the first ``k + 1`` members."""
    return jnp.tril(jnp.ones((e, e), bool))


def _prefix_sizes(e: int) -> jax.Array:
    """``[1, 2, …, E]``: the number of members in each prefix."""
    return jnp.arange(1, e + 1, dtype=jnp.float32)


def _prefix_pair_means(matrix: jax.Array, one_member: float) -> jax.Array:
    """For every prefix: the mean of ``matrix[i, j]`` over ordered pairs ``i ≠ j`` in it, and
    ``one_member`` for the prefix of one member (no pairs)."""
    size = _prefix_sizes(matrix.shape[0])
    total = jnp.diagonal(jnp.cumsum(jnp.cumsum(matrix, axis=0), axis=1))  # Σ_{i,j<k} m[i, j]
    off_diagonal = total - jnp.cumsum(jnp.diagonal(matrix))
    return jnp.where(size > 1, off_diagonal / jnp.maximum(size * (size - 1), 1.0), one_member)


@jit
def _prefix_ensemble_log_probs(z: jax.Array) -> jax.Array:
    log_p = jax.nn.log_softmax(_as_float(z), axis=-1)  # [E, N, C]
    e = z.shape[0]
    masked = jnp.where(_prefix_mask(e)[:, :, None, None], log_p[None], -jnp.inf)  # [E, E, N, C]
    return jax.nn.logsumexp(masked, axis=1) - jnp.log(_prefix_sizes(e))[:, None, None]


@jit
def _prefix_mutual_information(z: jax.Array) -> jax.Array:
    log_p = jax.nn.log_softmax(_as_float(z), axis=-1)
    member_entropy = -jnp.sum(_xlogy_terms(jnp.exp(log_p), log_p), axis=-1)  # [E, N]
    e = z.shape[0]
    average = _prefix_mask(e).astype(log_p.dtype) / _prefix_sizes(e)[:, None]  # [E, E]
    expected = jnp.matmul(average, member_entropy, precision=_HIGHEST)  # [E, N]
    log_mean = _prefix_ensemble_log_probs(z)
    predictive = -jnp.sum(_xlogy_terms(jnp.exp(log_mean), log_mean), axis=-1)  # [E, N]
    return jnp.maximum(predictive - expected, 0.0)


@jit
def _prefix_pairwise_disagreement(z: jax.Array) -> jax.Array:
    pred = jnp.argmax(z, axis=-1)  # [E, N]
    differ = jnp.mean((pred[:, None, :] != pred[None, :, :]).astype(jnp.float32), axis=-1)
    return _prefix_pair_means(differ, 0.0)


@jit
def _prefix_accuracy(z: jax.Array, y: jax.Array) -> jax.Array:
    predicted = jnp.argmax(_prefix_ensemble_log_probs(z), axis=-1)  # [E, N]
    return jnp.mean((predicted == y[None]).astype(jnp.float32), axis=-1)


@jit
def _prefix_mean_pairwise_cosine(weights: jax.Array) -> jax.Array:
    return _prefix_pair_means(_cosine_matrix(weights), 1.0)


def prefix_ensemble_log_probs(logits: ArrayLike) -> jax.Array:
    """:func:`ensemble_log_probs` of every prefix of the ensemble, shape ``[E, N, C]``.

    Row ``k − 1`` is ``log p̄_k = log((1/k) Σ_{i<k} p_i)``, the ensemble of the first ``k``
    members, computed stably (a log-sum-exp over the members in the prefix).

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[[0.8, 0.2]], [[0.4, 0.6]]]))   # E=2 members, N=1 input
    >>> jnp.exp(metrics.prefix_ensemble_log_probs(logits)).tolist()   # p̄_1 = p_0, p̄_2 = mean
    [[[0.8, 0.2]], [[0.6, 0.4]]]
    """
    return _prefix_ensemble_log_probs(_check_logits(logits, "prefix_ensemble_log_probs"))


def prefix_mutual_information(logits: ArrayLike) -> jax.Array:
    """:func:`mutual_information` of every prefix of the ensemble, per input, shape ``[E, N]``.

    Row ``k − 1`` is ``MI_k(n) = H[p̄_k](n) − (1/k) Σ_{i<k} H[p_i](n)``, clipped at 0 against
    rounding: the predictive entropy of the first ``k`` members' mean prediction minus the mean of
    their entropies. The first row (one member) is 0.

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.array([[[9.0, 0.0]], [[0.0, 9.0]], [[0.0, 9.0]]])   # E=3, N=1
    >>> metrics.prefix_mutual_information(logits).tolist()   # 0; log 2 (minus ~0); a 1:2 split
    [[0.0], [0.6919], [0.6353]]
    """
    return _prefix_mutual_information(_check_logits(logits, "prefix_mutual_information"))


def prefix_pairwise_disagreement(logits: ArrayLike) -> jax.Array:
    """:func:`pairwise_disagreement` of every prefix of the ensemble, shape ``[E]``.

    Entry ``k − 1`` is ``D_k = 1/(k(k−1)) Σ_{i≠j<k} (1/N) Σ_n 1[argmax z_i[n] ≠ argmax z_j[n]]``,
    over the ordered pairs of the first ``k`` members; 0 for ``k = 1`` (no pairs).

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.array([[[1.0, 0.0], [1.0, 0.0]],
    ...                     [[1.0, 0.0], [0.0, 1.0]],
    ...                     [[1.0, 0.0], [0.0, 1.0]]])
    >>> metrics.prefix_pairwise_disagreement(logits).tolist()   # 0; (0,1) differ on 1 of 2; 1/3
    [0.0, 0.5, 0.3333]
    """
    return _prefix_pairwise_disagreement(_check_logits(logits, "prefix_pairwise_disagreement"))


def prefix_accuracy(logits: ArrayLike, labels: ArrayLike) -> jax.Array:
    """:func:`accuracy` of every prefix of the ensemble, shape ``[E]``.

    Entry ``k − 1`` is ``(1/N) Σ_n 1[argmax_c p̄_k[n, c] = y_n]``, with ``p̄_k`` the mean
    prediction of the first ``k`` members (:func:`prefix_ensemble_log_probs`).

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> logits = jnp.log(jnp.array([[[0.4, 0.6], [0.9, 0.1]],
    ...                             [[0.9, 0.1], [0.9, 0.1]]]))
    >>> metrics.prefix_accuracy(logits, jnp.array([0, 0])).tolist()   # member 0 alone; both
    [0.5, 1.0]
    """
    z = _check_logits(logits, "prefix_accuracy")
    return _prefix_accuracy(z, _check_labels(labels, z, "prefix_accuracy"))


def prefix_mean_pairwise_cosine(weights: ArrayLike) -> jax.Array:
    """:func:`mean_pairwise_cosine` of every prefix of the members, shape ``[E]``.

    Entry ``k − 1`` is ``1/(k(k−1)) Σ_{i≠j<k} S[i, j]`` with ``S`` from
    :func:`weight_cosine_similarity`; 1.0 for ``k = 1`` (one member is identical to itself).

    >>> import jax.numpy as jnp
    >>> from bel import metrics
    >>> weights = jnp.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
    >>> metrics.prefix_mean_pairwise_cosine(weights).tolist()    # 1; S[0,1] = 0; (0+.7071+.7071)/3
    [1.0, 0.0, 0.4714]
    """
    return _prefix_mean_pairwise_cosine(_check_weights(weights, "prefix_mean_pairwise_cosine"))
