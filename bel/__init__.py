"""bel: BatchEnsemble, learned interactively (JAX + Flax NNX).

The computing core: :class:`BatchEnsembleLinear` and its naive twin, the member-major layout
(:func:`tile` / :func:`untile`), whole-model conversion and the fast-weight optimiser recipe.
Metrics live in :mod:`bel.metrics`; plotting and widgets sit on top in their own modules.
"""

from bel import data, metrics, optim, train
from bel.train import fit, mlp, predict
from bel.convert import batchensemble, naive_ensemble
from bel.layers import BatchEnsembleLinear, FastWeight, NaiveEnsembleLinear, tile, untile
from bel.optim import fast_weight_optimizer

__all__ = [
    "BatchEnsembleLinear",
    "FastWeight",
    "NaiveEnsembleLinear",
    "batchensemble",
    "data",
    "fit",
    "mlp",
    "predict",
    "train",
    "fast_weight_optimizer",
    "metrics",
    "naive_ensemble",
    "optim",
    "tile",
    "untile",
]
__version__ = "0.1.0"
