"""bel: BatchEnsemble, learned interactively (JAX + Flax NNX).

The computing core: :class:`BatchEnsembleLinear`, :class:`BatchEnsembleConv` and their naive
twins, the member-major layout (:func:`tile` / :func:`untile`), the member count a model holds
(:func:`num_members`), whole-model conversion, the one training loop and the fast-weight recipe.
Metrics live in :mod:`bel.metrics`; plotting and widgets sit on top in their own modules.
"""

from bel import compare, data, lifelong, metrics, models, optim, recipes, sharding, train
from bel.convert import batchensemble, describe, naive_ensemble
from bel.layers import (
    BatchEnsembleConv,
    BatchEnsembleLinear,
    FastWeight,
    NaiveEnsembleConv,
    NaiveEnsembleLinear,
    member_weights,
    num_members,
    tile,
    untile,
)
from bel.models import cnn, global_average, mlp
from bel.optim import fast_weight_optimizer
from bel.train import fit, predict

__all__ = [
    "BatchEnsembleConv",
    "BatchEnsembleLinear",
    "NaiveEnsembleConv",
    "member_weights",
    "num_members",
    "FastWeight",
    "NaiveEnsembleLinear",
    "batchensemble",
    "describe",
    "compare",
    "data",
    "fit",
    "lifelong",
    "mlp",
    "cnn",
    "global_average",
    "models",
    "predict",
    "sharding",
    "train",
    "fast_weight_optimizer",
    "metrics",
    "naive_ensemble",
    "optim",
    "recipes",
    "tile",
    "untile",
]
__version__ = "0.1.0"
