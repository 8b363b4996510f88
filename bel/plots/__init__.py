"""Plotting on top of the computing modules (matplotlib only here and in :mod:`bel.explorer`).

``bel.plots.weights`` draws the factors and effective weights of a BatchEnsemble layer;
``bel.plots.predictions`` draws members' predictions (decision maps, regression bands) and the
comparison figures; ``bel.plots.lifelong`` the task-by-task accuracy matrices and task
maps; ``bel.plots.calibration`` reliability diagrams, metrics against shift severity over seeds
and out-of-distribution scores. Import this package explicitly: ``import bel.plots``.
"""

from bel.plots import style as style
from bel.plots.calibration import *  # noqa: F403
from bel.plots.lifelong import *  # noqa: F403
from bel.plots.predictions import *  # noqa: F403
from bel.plots.weights import *  # noqa: F403
