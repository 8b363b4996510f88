"""BatchEnsemble and naive-ensemble layers (Linear and Conv), and the member-major batch layout.

A BatchEnsemble layer keeps one shared ("slow") kernel ``W`` of shape ``[in, out]`` and, per member
``i``, two "fast" vectors ``r_i`` (``[in]``) and ``s_i`` (``[out]``). Member ``i`` computes

    y_i = x (W ∘ r_i s_iᵀ) + b_i = ((x ∘ r_i) W) ∘ s_i + b_i,

and the right-hand form is what runs: one matmul for all members, two elementwise products
around it, and never ``E`` full weight matrices (Wen, Tran & Ba, ICLR 2020, eq. 2).

Inputs are *member-major*: rows ``[k*B, (k+1)*B)`` of an ``[E*B, ..., in]`` batch belong to member
``k``. :func:`tile` builds that layout from an ordinary batch, :func:`untile` splits the outputs
back per member.

The package has four modules: :mod:`~bel.layers.common` (the fast-weight type, input checks and
the one initialiser), :mod:`~bel.layers.linear`, :mod:`~bel.layers.conv` and
:mod:`~bel.layers.layout` (:func:`tile`, :func:`untile`, :func:`num_members`,
:func:`member_weights`). Every name is importable from ``bel.layers`` itself.
"""

from inspect import isfunction

from bel.layers.common import INITS, FastWeight, Init, LayerOptions
from bel.layers.conv import BatchEnsembleConv, NaiveEnsembleConv
from bel.layers.layout import ENSEMBLE_LAYERS, member_weights, num_members, tile, untile
from bel.layers.linear import BatchEnsembleLinear, NaiveEnsembleLinear

__all__ = [
    "FastWeight",
    "BatchEnsembleLinear",
    "NaiveEnsembleLinear",
    "BatchEnsembleConv",
    "NaiveEnsembleConv",
    "ENSEMBLE_LAYERS",
    "num_members",
    "member_weights",
    "tile",
    "untile",
    "INITS",
    "Init",
    "LayerOptions",
]

# Every public class and function is documented, pickled and reached as ``bel.layers.NAME``:
# where it lives inside the package is an implementation detail.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) or isfunction(_obj):  # not the constants and typing aliases
        _obj.__module__ = __name__
del _name, _obj
