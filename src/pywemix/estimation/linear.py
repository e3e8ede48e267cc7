"""Fitting a weighted linear mixed model: optimise, then assemble the result.

R equivalent: lme4's ``optimizeLmer`` + ``mkMerMod``; WeMix's linear branch.
"""
from __future__ import annotations


import numpy as np
import pandas as pd

from .components import assemble_var_cov, boundary_messages, groups_table, variance_table
from ..objective.covariance import CovarianceStructure
from ..objective.gaussian import GaussianObjective
from .optimize import (OptimizationRecord, check_finite_fit, check_start, minimize_bounded,
                       newton_batch)
from ..objective.twolevel import TwoLevelProfile
from .variance import estimate_variances
from ..warnings import BoundaryWarning, ConvergenceWarning, warn

__all__ = ["fit_linear"]


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


def fit_linear(design, *, reml: bool = False, start=None, max_iter: int = 1000):
    """Fit the Gaussian model described by ``design``.

    Returns the keyword arguments of :class:`~pywemix.results.result.MixResult`;
    boundary and convergence problems are issued as warnings.
    """
    structure = CovarianceStructure.from_design(design)
    objective = GaussianObjective(design, structure)
    theta0 = structure.theta_start() if start is None else check_start(
        start, structure.n_theta, "the relative Cholesky factors of the random effects, "
        "lme4's theta")
    scale = _total_weight(objective)
    record = _optimize(objective, theta0, reml, scale, max_iter)
    theta = _snap_to_boundary(_scaled(objective, reml, scale)[0], record.x, structure)
    pf = objective.profiled(theta, reml)
    check_finite_fit([pf.llf, pf.beta, pf.sigma2], design)
    covs = [pf.sigma2 * T for T in structure.relative_cov(theta)]
    ve = estimate_variances(objective, structure, pf.beta, pf.sigma2, covs)
    table = variance_table(structure, design.levels, covs, pf.sigma2, ve.phi_robust)
    modes = objective.conditional_modes(pf.beta, pf.sigma2, covs)
    ranef_var = objective.conditional_variances(pf.sigma2, covs)
    fitted = design.X @ pf.beta + design.offset
    for lev, Z, m in zip(design.levels, design.Z, modes):
        fitted = fitted + np.einsum("ij,ij->i", Z, m[lev.codes])
    for msg in boundary_messages(structure, theta, design.levels, covs):
        warn(msg, BoundaryWarning)
    if not record.converged:
        warn(f"the optimiser did not converge: {record.message}", ConvergenceWarning)
    params = pd.Series(pf.beta, index=design.x_names)
    var_cov = {"robust": assemble_var_cov(structure, ve.phi_robust),
               "model": assemble_var_cov(structure, ve.phi_model)}
    return dict(params=params, cov_robust=ve.beta_robust, cov_model=ve.beta_model,
                var_cov=var_cov,
                var_components=table, groups=groups_table(design), modes=modes,
                fitted_link=fitted, y=design.y, row_index=design.frame.index,
                design=design, sigma2=pf.sigma2, covs=covs, theta=theta,
                llf=pf.llf, criterion=pf.criterion, optimization=record,
                converged=record.converged, n_clusters=ve.n_clusters, ranef_var=ranef_var,
                extra_state=dict(objective=objective, design=design, reml=reml))



def refit_criteria(objective, theta0, reml: bool) -> np.ndarray:
    """Maximised (restricted) log-likelihood of each response of a batched objective.

    ``objective`` comes from :meth:`GaussianObjective.with_responses` with a
    matrix of responses; all refits run at once from ``theta0`` (used by the
    parametric bootstrap, where only the response changes).
    """
    B = objective.M2.shape[0]
    scale = _total_weight(objective)
    full = objective.M2

    def fg(X, idx):
        objective.M2 = full[idx]
        v, g = objective.profiled_grad(X, reml)
        return -v / scale, -g / scale

    lower = objective.structure.theta_lower()
    try:
        X, f, _, _, _ = newton_batch(fg, np.tile(theta0, (B, 1)), lower)
    finally:
        objective.M2 = full
    return -f * scale


def _optimize(objective, theta0, reml, scale, max_iter) -> OptimizationRecord:
    """Projected Newton with the exact gradient (and, for two-level models, the
    exact Hessian); L-BFGS-B if that stalls."""
    lower = objective.structure.theta_lower()
    f, fg = _scaled(objective, reml, scale)
    hess, method = None, "Newton (exact gradient)"
    if TwoLevelProfile.fits(objective):
        profile = TwoLevelProfile(objective)
        method = "Newton (exact gradient and Hessian)"

        def fg(theta):
            v, g, _ = profile.evaluate(theta, reml, hessian=False)
            return -v / scale, -g / scale

        def hess(X, idx):
            return np.stack([-profile.evaluate(x, reml)[2] / scale for x in X])
    res = newton_batch(lambda X, idx: _one(fg, X), theta0[None, :],
                       lower, gtol=1e-9, max_iter=max_iter, hess=hess)
    x, fx = res.x[0], float(res.fun[0])
    if not res.converged[0]:
        return minimize_bounded(f, x, lower, fun_and_grad=fg, max_iter=max_iter,
                                polish=min(20, max_iter))
    v, g = fg(x)
    pg = np.where((x <= lower) & (g > 0), 0.0, g)
    at = tuple(int(i) for i in np.flatnonzero(x <= lower))
    return OptimizationRecord(x, fx, res.iterations, res.evaluations,
                              float(np.max(np.abs(pg), initial=0.0)), True,
                              "projected gradient below tolerance", method, at)


def _total_weight(objective) -> float:
    """The optimiser's scale: the total weight of the top-level groups.

    The information about the covariance parameters grows with the number of
    groups, not of rows; scaling by the observations' total weight would let
    large level-1 weights shrink the gradient below any tolerance at the start.
    """
    return float(np.sum(objective.top_weights))


def _one(fg, X):
    v, g = fg(X[0])
    return np.array([v]), g[None, :]


def _scaled(objective, reml, scale):
    """Objective ``-llf / scale`` and (value, exact gradient), for the optimiser."""
    def f(theta):
        return -objective.profiled(theta, reml).llf / scale

    def fg(theta):
        v, g = objective.profiled_grad(theta, reml)
        return -v / scale, -g / scale
    return f, fg
