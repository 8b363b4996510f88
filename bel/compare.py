"""Measure models side by side: size and memory from their state, time on this machine, quality.

Sizes are *measured*, never computed from a formula: :func:`parameter_count` and
:func:`state_bytes` add up the arrays in ``nnx.state(model, wrt)``, so whatever a layer really
stores (fast weights, per-member biases, shared kernels counted once) is what gets counted.

Times are medians over repeats after a warm-up call (the warm-up pays for compilation, which is
not what is being compared): :func:`forward_seconds` times the compiled forward pass that
:func:`bel.predict` runs, :func:`train_step_seconds` the per-step cost of a full-batch
:func:`bel.fit` run on a copy of the model. On a tiny model both are dominated by fixed
overheads; compare them on the same machine, in the same session, and read small differences as
noise.

:func:`classification_summary` gathers the usual ensemble metrics of :mod:`bel.metrics` into one
dict, and :func:`format_table` prints a few such dicts as an aligned text table. :func:`seed_gap`
turns two methods' per-seed numbers into the verdict a lesson may state ("better", "worse" or
"no measurable difference"), so no verdict word is ever typed by hand.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from flax.nnx.filterlib import Filter

from bel import metrics
from bel._checks import check_int, check_module, is_int, is_real
from bel._jit import jit
from bel.layers import FastWeight, num_members, tile
from bel.train import LOSSES, _forward, training_run

__all__ = [
    "parameter_count",
    "state_bytes",
    "sizes",
    "median_seconds",
    "forward_seconds",
    "train_step_seconds",
    "classification_summary",
    "regression_summary",
    "format_table",
    "SeedGap",
    "seed_gap",
    "seed_verdict",
]


def parameter_count(model: nnx.Module, wrt: Filter = nnx.Param) -> int:
    """Number of scalars in ``nnx.state(model, wrt)``: the parameters the model really stores.

    ``wrt`` is any NNX filter: ``nnx.Param`` (every parameter, the default) or ``bel.FastWeight``
    (only the ``r`` and ``s`` of BatchEnsemble layers). An array shared by two layers is counted
    once, as it is stored once. Shapes are all it reads, so an abstract model from
    ``nnx.eval_shape`` (nothing allocated, nothing computed) is counted just the same.

    >>> import bel
    >>> single = bel.mlp(2, 2, hidden=(8,), rngs=0)                  # 2·8 + 8 + 8·2 + 2
    >>> parameter_count(single)
    42
    >>> be = bel.batchensemble(bel.mlp(2, 2, hidden=(8,), rngs=0), 4, rngs=1)
    >>> parameter_count(be), parameter_count(be, bel.FastWeight)     # W once, r and s per member
    (152, 80)
    >>> from flax import nnx
    >>> wide = nnx.eval_shape(lambda: bel.mlp(2, 2, hidden=(1024,), rngs=0))   # abstract
    >>> parameter_count(wide)
    5122
    """
    check_module(model, "parameter_count")
    return int(sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(nnx.state(model, wrt))))


def state_bytes(model: nnx.Module, wrt: Filter = nnx.Param) -> int:
    """Bytes of the arrays in ``nnx.state(model, wrt)`` (``size × itemsize``, summed).

    The memory the model's parameters occupy, measured from the arrays and their dtypes. An
    optimiser such as Adam keeps two more arrays of the same shapes while training.

    >>> import jax.numpy as jnp
    >>> import bel
    >>> model = bel.mlp(2, 2, hidden=(8,), rngs=0)                   # 42 float32 parameters
    >>> state_bytes(model)
    168
    """
    check_module(model, "state_bytes")
    leaves = jax.tree.leaves(nnx.state(model, wrt))
    return int(sum(math.prod(leaf.shape) * np.dtype(leaf.dtype).itemsize for leaf in leaves))


def sizes(models: Mapping[str, nnx.Module]) -> dict[str, dict[str, float]]:
    """Measured size of each model: ``params``, ``fast (r, s)`` (its fast weights) and ``KiB``.

    One row per model, ready for :func:`format_table`; every figure is measured from the model's
    state (:func:`parameter_count`, :func:`state_bytes`).

    >>> import bel
    >>> single = bel.mlp(2, 2, hidden=(8,), rngs=0)
    >>> rows = sizes({"single": single, "BatchEnsemble": bel.batchensemble(single, 4, rngs=1)})
    >>> be = rows["BatchEnsemble"]
    >>> rows["single"]["params"], be["params"], be["fast (r, s)"]    # W + 4 biases + 4 (r, s)
    (42, 152, 80)
    """
    if not isinstance(models, Mapping) or not models:
        raise ValueError(f"sizes expects a non-empty dict {{name: model}}, got {models!r}")
    return {
        name: {
            "params": parameter_count(model),
            "fast (r, s)": parameter_count(model, FastWeight),
            "KiB": state_bytes(model) / 1024,
        }
        for name, model in models.items()
    }


def median_seconds(
    fn: Callable[..., Any], *args: Any, warmup: int = 1, repeats: int = 5, **kwargs: Any
) -> float:
    """Median wall-clock seconds of ``fn(*args, **kwargs)``, after ``warmup`` untimed calls.

    Each call's result is passed to :func:`jax.block_until_ready`, so JAX's asynchronous dispatch
    cannot make a call look faster than it is. The warm-up calls absorb compilation.

    >>> import jax.numpy as jnp
    >>> seconds = median_seconds(jnp.sum, jnp.ones(10), warmup=1, repeats=3)
    >>> 0 < seconds < 1
    True
    """
    if not callable(fn):
        raise ValueError(f"median_seconds expects a callable fn, got {type(fn).__name__}")
    check_int(warmup, "warmup", 0)
    check_int(repeats, "repeats", 1)
    for _ in range(warmup):
        jax.block_until_ready(fn(*args, **kwargs))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args, **kwargs))
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def forward_seconds(model: nnx.Module, x: Any, *, warmup: int = 1, repeats: int = 7) -> float:
    """Median seconds of one compiled forward pass of all ``E`` members on ``x`` ``[N, features]``.

    ``E`` is the model's own member count (:func:`bel.num_members`). The model is split once
    and the batch tiled once (``E·N`` rows, member-major); what is timed
    is the compiled forward pass that :func:`bel.predict` runs, the same compiled code, so timing a
    model and shape you have already predicted with costs no compilation. (``bel.predict`` itself
    adds a fixed Python cost per call for splitting the model, which is not timed here.)

    >>> import jax.numpy as jnp
    >>> import bel
    >>> model = bel.batchensemble(bel.mlp(2, 2, hidden=(8,), rngs=0), 4, rngs=1)
    >>> 0 < forward_seconds(model, jnp.ones((16, 2)), repeats=3) < 1
    True
    """
    check_module(model, "forward_seconds")
    x = jnp.array(x, copy=False)  # jnp.asarray compiles a transfer per shape
    if x.ndim != 2:
        raise ValueError(f"forward_seconds expects inputs of shape [N, features], got {x.shape}")
    graphdef, state = nnx.split(model)
    return median_seconds(
        _forward,
        graphdef,
        nnx.as_pure(state),
        tile(x, num_members(model)),
        warmup=warmup,
        repeats=repeats,
    )


def train_step_seconds(
    model: nnx.Module,
    x: Any,
    y: Any,
    *,
    loss: str = "cross_entropy",
    steps: int = 100,
    warmup: int = 1,
    repeats: int = 3,
    **fit_options: Any,
) -> float:
    """Median seconds per full-batch training step, as :func:`bel.fit` runs it.

    The run is checked and prepared once (:func:`bel.train.training_run`, as ``fit`` does; not
    timed); each repeat then runs the compiled loop for ``steps`` steps from the same starting
    state and the wall time is divided by ``steps``. So fit's fixed costs outside the loop
    (checks, splitting the model: milliseconds, which would dominate a tiny model's per-step
    figure) are not counted, and ``model`` is left untouched. With the same ``steps``, ``loss``,
    shapes and model structure as an earlier ``bel.fit`` call, the compiled loop is reused and
    the warm-up costs no compilation. ``fit_options`` go to :func:`bel.train.training_run`
    (``learning_rate``, ``weight_decay``, ...).

    >>> import bel
    >>> x, y = bel.data.two_moons(32, seed=0)
    >>> model = bel.mlp(2, 2, hidden=(8,), rngs=0)
    >>> 0 < train_step_seconds(model, x, y, steps=10, repeats=2) < 1
    True
    """
    check_module(model, "train_step_seconds")
    steps = check_int(steps, "steps", 1)
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES}, got {loss!r}")

    prepared = training_run(model, x, y, loss=loss, **fit_options)
    return median_seconds(prepared.run, steps, warmup=warmup, repeats=repeats) / steps


@jit(static_argnames="num_bins")
def _classification_summary(z: jax.Array, y: jax.Array, num_bins: int) -> dict[str, jax.Array]:
    # One compiled computation for all metrics (one compilation per shape, not one per metric).
    return {
        "accuracy": metrics.accuracy(z, y),
        "member_accuracy": jnp.mean(jnp.argmax(z, axis=-1) == y[None, :]),
        "nll": metrics.nll(z, y),
        "ece": metrics.ece(z, y, num_bins),
        "brier": metrics.brier(z, y),
        "disagreement": metrics.pairwise_disagreement(z),
        "pairwise_kl": metrics.pairwise_kl(z),
        "mutual_information": jnp.mean(metrics.mutual_information(z)),
    }


def classification_summary(logits: Any, labels: Any, num_bins: int = 15) -> dict[str, float]:
    """Every metric of the comparison, from member logits ``[E, N, C]`` (or ``[N, C]``) and labels.

    Returns floats: ``accuracy``, ``nll``, ``ece`` (``num_bins`` equal-width bins), ``brier`` of
    the ensemble's mean probability (:mod:`bel.metrics`); ``member_accuracy``, the members' mean
    accuracy on their own; the diversity of the members, ``disagreement``
    (:func:`bel.metrics.pairwise_disagreement`) and ``pairwise_kl``; and ``mutual_information``
    (:func:`bel.metrics.mutual_information`, averaged over the inputs). For one model the last
    three are 0: a single network has no second opinion.

    >>> import jax.numpy as jnp
    >>> logits = jnp.log(jnp.array([[[0.9, 0.1], [0.2, 0.8]],
    ...                             [[0.6, 0.4], [0.7, 0.3]]]))     # E=2 members, N=2 inputs
    >>> summary = classification_summary(logits, jnp.array([0, 1]))
    >>> summary["accuracy"], summary["member_accuracy"], summary["disagreement"]  # mean wins
    (1.0, 0.75, 0.5)
    """
    z, y = jnp.array(logits, copy=False), np.asarray(labels)
    if z.ndim not in (2, 3) or 0 in z.shape:
        raise ValueError(
            f"classification_summary expects logits [E, N, C] or [N, C], got shape {z.shape}"
        )
    z = z if z.ndim == 3 else z[None]
    if y.shape != z.shape[1:2] or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"classification_summary expects integer labels of shape ({z.shape[1]},) for logits "
            f"{z.shape}, got {y.dtype} labels of shape {y.shape}"
        )
    if y.min() < 0 or y.max() >= z.shape[2]:
        raise ValueError(
            f"classification_summary expects labels in [0, {z.shape[2]}), "
            f"got values from {y.min()} to {y.max()}"
        )
    num_bins = check_int(num_bins, "num_bins", 1)
    summary = _classification_summary(z, jax.device_put(y), num_bins)
    return {name: float(value) for name, value in summary.items()}


def regression_summary(member_preds: Any, targets: Any) -> dict[str, float]:
    """Error of the ensemble mean and spread of the members, from ``[E, N, 1]`` and ``[N, 1]``.

    ``rmse`` is ``sqrt(mean((ȳ − y)²))`` with ``ȳ`` the mean over members; ``member_rmse`` the
    members' RMSE on their own, averaged; ``spread`` the members' standard deviation around ``ȳ``
    (``ddof=0``), averaged over the inputs: 0 for a single model.

    >>> import numpy as np
    >>> preds = np.array([[[0.0], [1.0]], [[2.0], [1.0]]])           # E=2 members, N=2 inputs
    >>> regression_summary(preds, np.array([[1.0], [1.0]]))
    {'rmse': 0.0, 'member_rmse': 0.7071..., 'spread': 0.5}
    """
    p, t = np.asarray(member_preds, np.float64), np.asarray(targets, np.float64)
    if p.ndim != 3 or t.shape != p.shape[1:]:
        raise ValueError(
            f"regression_summary expects member predictions [E, N, out] and targets [N, out], "
            f"got predictions {p.shape} and targets {t.shape}"
        )
    return {
        "rmse": float(np.sqrt(np.mean((p.mean(0) - t) ** 2))),
        "member_rmse": float(np.mean(np.sqrt(np.mean((p - t) ** 2, axis=(1, 2))))),
        "spread": float(np.mean(p.std(0))),
    }


def _format_value(value: Any, fmt: str | None) -> str:
    if fmt is not None:
        return format(value, fmt)
    if not is_real(value):
        return str(value)
    if is_int(value):
        return f"{value:,}"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.3f}"
    return f"{value:.2e}" if math.isfinite(value) else str(value)


def format_table(
    rows: Mapping[str, Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    formats: Mapping[str, str] | None = None,
) -> str:
    """An aligned text table: one row per entry of ``rows``, one column per key.

    ``rows`` maps a row name to a dict of values (e.g. one :func:`classification_summary` per
    model); ``columns`` picks and orders the keys (default: every row's keys, in order of first
    appearance; a row without one shows ``-``); ``formats``
    gives a format spec per column (e.g. ``{"nll": ".2f"}``). Otherwise ints get thousands
    separators and floats three decimals. A key missing from a row shows as ``-``.

    >>> print(format_table({"single": {"params": 1218, "nll": 0.4491},
    ...                     "naive": {"params": 4872, "nll": 0.37}}))
    model   params    nll
    single   1,218  0.449
    naive    4,872  0.370
    """
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError(f"format_table expects a non-empty dict of rows, got {rows!r}")
    bad = {name: type(row).__name__ for name, row in rows.items() if not isinstance(row, Mapping)}
    if bad:
        raise ValueError(f"format_table expects every row to be a dict of values, got {bad}")
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows.values() for key in row))
    columns = list(columns)
    formats = dict(formats or {})
    table = [["model", *columns]]
    for name, row in rows.items():
        cells = [_format_value(row[c], formats.get(c)) if c in row else "-" for c in columns]
        table.append([str(name), *cells])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in table
    ]
    return "\n".join(line.rstrip() for line in lines)


class SeedGap(NamedTuple):
    """Method A against method B over paired seeds (see :func:`seed_gap`)."""

    mean: float  # mean over seeds of A − B
    spread: float  # standard deviation over seeds of A − B (ddof=1)
    wins: int  # seeds in which A is strictly better than B
    seeds: int
    verdict: str  # "better", "worse" or "no measurable difference" (A compared with B)

    @property
    def every_seed(self) -> bool:
        """A is better than B in every seed (``wins == seeds``)."""
        return self.wins == self.seeds

    def __str__(self) -> str:
        return (
            f"{self.verdict} (gap {self.mean:+.3f} ± {self.spread:.3f} over {self.seeds} seeds, "
            f"ahead in {self.wins} of {self.seeds})"
        )


def seed_gap(a: Any, b: Any, *, higher_is_better: bool = True) -> SeedGap:
    """Method A against method B from per-seed numbers (seed ``i`` of A with seed ``i`` of B).

    The per-seed gaps are ``d_i = a_i − b_i``. The mean gap is *measurable* when it is larger than
    the spread of the gaps over seeds, ``|mean(d)| > std(d)`` (ddof=1; with 5 seeds this is a
    paired t statistic above √5 ≈ 2.2): A is then ``"better"`` or ``"worse"`` than B (in the
    direction ``higher_is_better`` says); otherwise there is ``"no measurable difference"``.
    ``wins`` counts the seeds in which A is strictly better. Needs at least 2 seeds.

    >>> gap = seed_gap([0.91, 0.93, 0.92], [0.88, 0.90, 0.90])
    >>> gap.verdict, gap.wins, gap.every_seed
    ('better', 3, True)
    >>> print(seed_gap([0.30, 0.35, 0.28], [0.33, 0.31, 0.30], higher_is_better=False))
    no measurable difference (gap -0.003 ± 0.038 over 3 seeds, ahead in 2 of 3)
    """
    a_, b_ = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_.ndim != 1 or a_.shape != b_.shape or a_.size < 2:
        raise ValueError(
            "seed_gap expects two 1-D sequences of per-seed numbers of the same length >= 2, got "
            f"shapes {a_.shape} and {b_.shape}"
        )
    if not (np.isfinite(a_).all() and np.isfinite(b_).all()):
        raise ValueError(f"seed_gap expects finite numbers, got {a_.tolist()} and {b_.tolist()}")
    d = a_ - b_
    mean, spread = float(d.mean()), float(d.std(ddof=1))
    sign = 1.0 if higher_is_better else -1.0
    wins = int((sign * d > 0).sum())
    if abs(mean) > spread:
        verdict = "better" if sign * mean > 0 else "worse"
    else:
        verdict = "no measurable difference"
    return SeedGap(mean, spread, wins, int(d.size), verdict)


def seed_verdict(
    a: Any,
    b: Any,
    names: tuple[str, str],
    *,
    higher_is_better: bool = True,
    digits: int = 3,
    better: str = "better",
) -> str:
    """The verdict of :func:`seed_gap` as a phrase for a lesson's prose, the better method first.

    ``names`` are how A and B are called. A measurable gap reads "X (mean) is better than Y
    (mean)", with "in every seed" only when X is ahead in every seed (else the wins are counted);
    a gap within the spread reads "no measurable difference between X and Y". ``better`` replaces
    the word "better" for numbers that have no better, e.g. ``better="higher"`` for a diversity.

    >>> seed_verdict([0.91, 0.93, 0.92], [0.88, 0.90, 0.90], ("BatchEnsemble", "single"))
    'BatchEnsemble (0.920) is better than single (0.893) in every seed'
    >>> seed_verdict([0.30, 0.38, 0.31], [0.33, 0.31, 0.30], ("A", "B"), higher_is_better=False)
    'no measurable difference between A (0.330) and B (0.313): gap +0.017 ± 0.050 over 3 seeds'
    >>> seed_verdict([0.5, 0.4, 0.45, 0.52], [0.6, 0.6, 0.6, 0.5], ("A", "B"))
    'B (0.575) is better than A (0.468), ahead in 3 of 4 seeds'
    >>> seed_verdict([0.3, 0.4, 0.35], [0.1, 0.1, 0.2], ("A", "B"), better="higher")
    'A (0.350) is higher than B (0.133) in every seed'
    """
    if not (
        isinstance(names, tuple) and len(names) == 2 and all(isinstance(n, str) for n in names)
    ):
        raise ValueError(f"seed_verdict expects names as a tuple of two strings, got {names!r}")
    gap = seed_gap(a, b, higher_is_better=higher_is_better)
    means = {names[0]: float(np.mean(a)), names[1]: float(np.mean(b))}
    if gap.verdict == "no measurable difference":
        return (
            f"no measurable difference between {names[0]} ({means[names[0]]:.{digits}f}) and "
            f"{names[1]} ({means[names[1]]:.{digits}f}): gap {gap.mean:+.{digits}f} ± "
            f"{gap.spread:.{digits}f} over {gap.seeds} seeds"
        )
    first = gap.verdict == "better"
    winner, loser = (names[0], names[1]) if first else (names[1], names[0])
    won = gap if first else seed_gap(b, a, higher_is_better=higher_is_better)
    how = " in every seed" if won.every_seed else f", ahead in {won.wins} of {won.seeds} seeds"
    mean_w, mean_l = f"{means[winner]:.{digits}f}", f"{means[loser]:.{digits}f}"
    return f"{winner} ({mean_w}) is {better} than {loser} ({mean_l}){how}"
