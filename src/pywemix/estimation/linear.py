"""Optimising a weighted linear mixed model's profiled likelihood.

R equivalent: lme4's ``optimizeLmer``; WeMix's linear branch.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .components import boundary_messages
from .search import (OptimizationRecord, as_batch, check_finite_fit, check_start,
                     minimize_bounded, newton_batch, projected)
from .optimum import Optimum
from ..objective.twolevel import TwoLevelProfile
from ..warnings import BoundaryWarning, ConvergenceWarning, warn

__all__ = ["optimize_linear", "refit_criteria"]


def _snap_to_boundary(f, theta, structure):
    """Set tiny diagonal parameters to exactly zero when that is no worse."""
    diag = structure.theta_is_diag()
    theta = theta.copy()
    f0 = f(theta)
    for i in np.flatnonzero(diag & (theta > 0) & (theta < 1e-4)):
        cand = theta.copy()
        cand[i] = 0.0
        fc = f(cand)
        if fc <= f0 + 1e-12 * max(1.0, abs(f0)):
            theta, f0 = cand, fc
    return theta


def optimize_linear(objective, *, start=None, max_iter: int = 1000) -> Optimum:
    """Maximise the (restricted) profiled likelihood of a Gaussian objective.

    Parameters
    ----------
    objective : MixObjective
        Gaussian (from :func:`pywemix.objective.make_objective`).
    start : array-like, optional
        Starting ``theta`` (relative Cholesky elements, lme4's ``theta``).
    max_iter : int

    Returns
    -------
    Optimum
        The record and the estimates (``beta``, ``sigma2``, covariances,
        conditional modes); boundary and convergence problems are issued as
        warnings.

    Notes
    -----
    Projected Newton on ``theta`` with the exact gradient (and Hessian for
    two-level models), L-BFGS-B if that stalls; the profiled ``beta`` and
    ``sigma^2`` follow in closed form. R equivalent: ``lme4::optimizeLmer``.
    """
    gauss, structure, design = objective.function, objective.structure, objective.design
    reml = objective.reml
    theta0 = structure.theta_start() if start is None else check_start(
        start, structure.n_theta, "the relative Cholesky factors of the random effects, "
        "lme4's theta")
    scale = _total_weight(gauss)
    record = _optimize(gauss, theta0, reml, scale, max_iter)
    theta = _snap_to_boundary(_scaled(gauss, reml, scale)[0], record.x, structure)
    pf = gauss.profiled(theta, reml)
    check_finite_fit([pf.llf, pf.beta, pf.sigma2], design)
    covs = tuple(pf.sigma2 * T for T in structure.relative_cov(theta))
    for msg in boundary_messages(structure, theta, design.levels, covs):
        warn(msg, BoundaryWarning)
    if not record.converged:
        warn(f"the optimiser did not converge: {record.message}", ConvergenceWarning)
    modes = tuple(gauss.conditional_modes(pf.beta, pf.sigma2, covs))
    return Optimum.from_record(
        replace(record, x=theta), beta=pf.beta, sigma2=float(pf.sigma2), covariances=covs,
        theta=theta, llf=float(pf.llf), criterion=pf.criterion, modes=modes,
        mode_variances=tuple(gauss.conditional_variances(pf.sigma2, covs)))


def refit_criteria(gauss, theta0, reml: bool) -> np.ndarray:
    """Maximised (restricted) log-likelihood of each response of a batched Gaussian objective.

    ``gauss`` comes from :meth:`GaussianObjective.with_responses` with a
    matrix of responses; all refits run at once from ``theta0`` (used by the
    parametric bootstrap, where only the response changes).
    """
    B = gauss.M2.shape[0]
    scale = _total_weight(gauss)
    full = gauss.M2

    def fg(X, idx):
        gauss.M2 = full[idx]
        v, g = gauss.profiled_grad(X, reml)
        return -v / scale, -g / scale

    lower = gauss.structure.theta_lower()
    try:
        X, f, _, _, _ = newton_batch(fg, np.tile(theta0, (B, 1)), lower)
    finally:
        gauss.M2 = full
    return -f * scale


def _optimize(gauss, theta0, reml, scale, max_iter) -> OptimizationRecord:
    """Projected Newton with the exact gradient (and, for two-level models, the
    exact Hessian); L-BFGS-B if that stalls."""
    lower = gauss.structure.theta_lower()
    f, fg = _scaled(gauss, reml, scale)
    hess, method = None, "Newton (exact gradient)"
    if TwoLevelProfile.fits(gauss):
        profile = TwoLevelProfile(gauss)
        method = "Newton (exact gradient and Hessian)"

        def fg(theta):
            v, g, _ = profile.evaluate(theta, reml, hessian=False)
            return -v / scale, -g / scale

        def hess(X, idx):
            return np.stack([-profile.evaluate(x, reml)[2] / scale for x in X])
    res = newton_batch(as_batch(fg), theta0[None, :],
                       lower, gtol=1e-9, max_iter=max_iter, hess=hess)
    x, fx = res.x[0], float(res.fun[0])
    if not res.converged[0]:
        return minimize_bounded(f, x, lower, fun_and_grad=fg, max_iter=max_iter,
                                polish=min(20, max_iter))
    pg = projected(fg(x)[1], x, lower)
    at = tuple(int(i) for i in np.flatnonzero(x <= lower))
    return OptimizationRecord(x, fx, res.iterations, res.evaluations,
                              float(np.max(np.abs(pg), initial=0.0)), True,
                              "projected gradient below tolerance", method, at)


def _total_weight(gauss) -> float:
    """The optimiser's scale: the total weight of the top-level groups.

    The information about the covariance parameters grows with the number of
    groups, not of rows; scaling by the observations' total weight would let
    large level-1 weights shrink the gradient below any tolerance at the start.
    """
    return float(np.sum(gauss.top_weights))


def _scaled(gauss, reml, scale):
    """Objective ``-llf / scale`` and (value, exact gradient), for the optimiser."""
    def f(theta):
        return -gauss.profiled(theta, reml).llf / scale

    def fg(theta):
        v, g = gauss.profiled_grad(theta, reml)
        return -v / scale, -g / scale
    return f, fg
