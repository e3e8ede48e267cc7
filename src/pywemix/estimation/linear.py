"""Optimising a weighted linear mixed model's profiled likelihood.

R equivalent: lme4's ``optimizeLmer``; WeMix's linear branch.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..objective.twolevel import TwoLevelProfile
from ..warnings import BoundaryWarning, ConvergenceWarning, warn
from .certificate import MAX_ROUNDS, Certificate, canonical, covariance_escape, curvature_escape
from .components import boundary_messages
from .numdiff import jacobian, steps
from .optimum import Optimum
from .search import (
    OptimizationRecord,
    as_batch,
    check_finite_fit,
    check_start,
    minimize_bounded,
    newton_batch,
    projected,
)

__all__ = ["optimize_linear", "refit_criteria"]


def _snap_to_boundary(f, theta, structure):
    """Set tiny diagonal parameters to exactly zero when that is no worse."""
    diag = structure.theta_is_diag()
    theta = theta.copy()
    tiny = np.flatnonzero(diag & (theta > 0) & (theta < 1e-4))
    if len(tiny) == 0:  # no candidate: nothing to evaluate
        return theta
    f0 = f(theta)
    for i in tiny:
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
    ``sigma^2`` follow in closed form. The end point is certified in
    covariance space (:func:`_certified`, :mod:`.certificate`) and the
    search goes on from a better point when it is a saddle. R equivalent:
    ``lme4::optimizeLmer``.
    """
    gauss, structure, design = objective.function, objective.structure, objective.design
    reml = objective.reml
    theta0 = (
        structure.theta_start()
        if start is None
        else check_start(
            start,
            structure.n_theta,
            "the relative Cholesky factors of the random effects, lme4's theta",
        )
    )
    scale = _total_weight(gauss)
    record = _certified(gauss, structure, reml, scale, theta0, max_iter)
    theta = record.x
    pf = gauss.profiled(theta, reml)
    check_finite_fit([pf.llf, pf.beta, pf.sigma2], design)
    covs = tuple(pf.sigma2 * T for T in structure.relative_cov(theta))
    for msg in boundary_messages(structure, theta, design.levels, covs, _grams(gauss, structure)):
        warn(msg, BoundaryWarning)
    if not record.converged:
        warn(f"the optimiser did not converge: {record.message}", ConvergenceWarning)
    modes = tuple(gauss.conditional_modes(pf.beta, pf.sigma2, covs))
    return Optimum.from_record(
        record,
        beta=pf.beta,
        sigma2=float(pf.sigma2),
        covariances=covs,
        theta=theta,
        llf=float(pf.llf),
        criterion=pf.criterion,
        modes=modes,
        mode_variances=tuple(gauss.conditional_variances(pf.sigma2, covs)),
    )


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


def _certified(gauss, structure, reml, scale, theta0, max_iter) -> OptimizationRecord:
    """Search, then certify the point (:mod:`.certificate`); from a better
    point the search goes on, up to ``MAX_ROUNDS`` times.

    The record has converged only when the search converged and the
    certificate passed; otherwise its message gives the reason.
    """
    f = _scaled(gauss, reml, scale)[0]
    theta, iterations, evaluations, retried = theta0, 0, 0, False
    # one closed-form profile for the search and the certificate: the
    # certificate's Hessian is taken where the search last evaluated (the
    # profile keeps that point's first-order sums; the same numbers)
    profile = TwoLevelProfile(gauss) if TwoLevelProfile.fits(gauss) else None
    for _ in range(MAX_ROUNDS):
        record = _optimize(gauss, theta, reml, scale, max_iter, profile)
        iterations, evaluations = iterations + record.iterations, evaluations + record.evaluations
        theta = _snap_to_boundary(f, record.x, structure)
        cert = _certify(gauss, structure, reml, scale, theta, profile)
        if cert.escape is None:
            if record.converged or retried:
                break
            retried = True  # a search that stopped short: once more from where it ended
            continue
        theta = canonical(structure, cert.escape)
    else:
        cert = replace(
            cert,
            passed=False,
            reason=f"still improving after {MAX_ROUNDS} restarts from saddle points",
        )
    message = record.message if cert.passed else f"{record.message}; not certified: {cert.reason}"
    at = tuple(int(i) for i in np.flatnonzero(theta <= structure.theta_lower()))
    return replace(
        record,
        x=theta,
        fun=f(theta),
        iterations=iterations,
        evaluations=evaluations,
        converged=record.converged and cert.passed,
        message=message,
        at_boundary=at,
    )


def _certify(gauss, structure, reml, scale, theta, profile=None) -> Certificate:
    """The certificate of ``theta``: first-order conditions in covariance
    space with the exact gradient in the covariances, then the Hessian of the
    parameters off their bounds (from ``profile``, the model's
    :class:`~pywemix.objective.twolevel.TwoLevelProfile`, if it has one)."""
    f, fg = _scaled(gauss, reml, scale)
    f0, g = fg(theta)
    _, d = gauss.profiled_grad(theta, reml, directions=structure.element_directions())
    if not np.all(np.isfinite(d)):
        return Certificate(False, "the gradient cannot be computed at the estimates")
    G = [-Gl / scale for Gl in structure.gradient_matrices(d)]
    cert = covariance_escape(structure, theta, G, f, f0)
    if cert.escape is not None or not cert.passed:
        return cert
    lower = structure.theta_lower()
    free = theta > lower
    if profile is not None:
        H = -profile.evaluate(theta, reml)[2] / scale
    else:
        H = jacobian(lambda x: fg(x)[1], theta, steps(theta, 1e-5), lower)
    second = curvature_escape(f, f0, theta, g, H, free)
    if second.escape is not None or not second.passed:
        return second
    return cert


def _optimize(gauss, theta0, reml, scale, max_iter, profile=None) -> OptimizationRecord:
    """Projected Newton with the exact gradient (and, given the model's
    :class:`~pywemix.objective.twolevel.TwoLevelProfile` ``profile``, the
    exact Hessian); L-BFGS-B if that stalls."""
    lower = gauss.structure.theta_lower()
    f, fg = _scaled(gauss, reml, scale)
    hess, method = None, "Newton (exact gradient)"
    if profile is not None:
        method = "Newton (exact gradient and Hessian)"

        def fg(theta):
            v, g, _ = profile.evaluate(theta, reml, hessian=False)
            return -v / scale, -g / scale

        def hess(X, idx):
            return np.stack([-profile.evaluate(x, reml)[2] / scale for x in X])

    res = newton_batch(
        as_batch(fg), theta0[None, :], lower, gtol=1e-9, max_iter=max_iter, hess=hess
    )
    x, fx = res.x[0], float(res.fun[0])
    if not res.converged[0]:
        return minimize_bounded(
            f, x, lower, fun_and_grad=fg, max_iter=max_iter, polish=min(20, max_iter)
        )
    pg = projected(fg(x)[1], x, lower)
    at = tuple(int(i) for i in np.flatnonzero(x <= lower))
    return OptimizationRecord(
        x,
        fx,
        res.iterations,
        res.evaluations,
        float(np.max(np.abs(pg), initial=0.0)),
        True,
        "projected gradient below tolerance",
        method,
        at,
    )


def _grams(gauss, structure) -> list:
    """Per level, ``Z_l' W_1 Z_l`` from the objective's sufficient statistics
    (their columns start with the random effects of every level)."""
    total = np.sum(gauss.M2, axis=0)
    ends = np.cumsum([0] + structure.q)
    return [total[a:b, a:b] for a, b in zip(ends[:-1], ends[1:])]


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
