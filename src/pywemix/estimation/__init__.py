"""Stage 3, estimation: optimise an objective, then estimate the variances.

:func:`optimize` (lme4's ``optimizeLmer`` / ``optimizeGlmer``) returns an
:class:`Optimum`; :func:`estimate_variance` the model-based and
cluster-robust (sandwich) covariances as a :class:`VarianceEstimate`.
:mod:`.search` holds the optimisers and their record, :mod:`.linear` and
:mod:`.glmm` the per-family searches, :mod:`.variance` every variance
estimator.
"""

from .optimum import Optimum
from .stage import optimize
from .variance import VarianceEstimate, estimate_variance

__all__ = ["Optimum", "VarianceEstimate", "estimate_variance", "optimize"]
