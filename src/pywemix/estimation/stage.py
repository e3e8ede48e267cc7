"""Stage 3a as one function: optimise an objective, whatever its family.

R equivalent: lme4's ``optimizeLmer`` / ``optimizeGlmer``.
"""

from __future__ import annotations

from ..checks import check_positive_int
from .glmm import optimize_quadrature
from .linear import optimize_linear
from .optimum import Optimum

__all__ = ["optimize"]

#: Default iteration limits of the Gaussian and quadrature optimisers.
MAX_ITER = {"gaussian": 1000, "quadrature": 200}


def optimize(objective, *, start=None, max_iter: int | None = None) -> Optimum:
    """Maximise the pseudo-log-likelihood of ``objective``.

    Parameters
    ----------
    objective : MixObjective
        From :func:`pywemix.objective.make_objective`.
    start : array-like, optional
        Starting values, in the order of ``result.theta`` (so that
        ``start=res.theta`` restarts a Gaussian fit where ``res`` ended).
        Gaussian: lme4's ``theta`` (``getME(m, "theta")``), the
        lower-triangular Cholesky elements of each level's covariance
        relative to the residual variance, each block column by column
        (for a 3x3 block (1,1), (2,1), (3,1), (2,2), (3,2), (3,3)), the
        blocks in lme4's order (usually level 2 first, each level's terms in
        formula order; :func:`pywemix.objective.covariance.lme4_block_order`).
        Other families: the fixed
        effects (as ``params``), then the Cholesky elements of each level's
        covariance in the same order (lme4's ``theta`` with ``sigma = 1``),
        e.g. ``numpy.r_[res.params, res.theta]``; lme4's
        ``glmer(start = list(fixef =, theta =))``.
    max_iter : int, optional
        Iteration limit (default 1000 Gaussian, 200 otherwise).

    Returns
    -------
    Optimum
        The optimiser's record (an ``OptimizationRecord``) with the estimates
        at the optimum and the conditional modes. ``converged`` is True only
        when the point passed the convergence certificate
        (:mod:`pywemix.estimation.certificate`: first-order conditions in
        covariance space, no negative curvature); saddles found on the way
        are left for better points. Boundary estimates, non-convergence
        (with the reason) and separation are issued as warnings.

    Notes
    -----
    Gaussian: projected Newton on the profiled likelihood
    (:func:`pywemix.estimation.linear.optimize_linear`); other families:
    Newton-Raphson on the adaptive-quadrature approximation
    (:func:`pywemix.estimation.glmm.optimize_quadrature`). R equivalents:
    ``lme4::optimizeLmer``, ``lme4::optimizeGlmer``.
    """
    kind = "gaussian" if objective.gaussian else "quadrature"
    max_iter = check_positive_int(max_iter, "max_iter", allow_none=True) or MAX_ITER[kind]
    if objective.gaussian:
        return optimize_linear(objective, start=start, max_iter=max_iter)
    return optimize_quadrature(objective, start=start, max_iter=max_iter)
