"""Fitting a weighted generalized linear mixed model by adaptive quadrature.

Newton-Raphson on the quadrature approximation with the nodes held fixed,
re-adapting the nodes at every iteration (as GLLAMM and WeMix do), until the
Newton decrement vanishes. R equivalents: WeMix's ``mix(family=)``,
``lme4::glmer(nAGQ=)``.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from ..objective.quadrature import Evaluation, QuadratureObjective
from .quadrature_optimize import maximize_adaptive
from .components import boundary_messages, groups_table, variance_table
from ..objective.covariance import CovarianceStructure
from .numdiff import hessian, jacobian
from .optimize import OptimizationRecord, check_finite_fit, check_start, minimize_bounded
from .variance import meat
from ..warnings import BoundaryWarning, ConvergenceWarning, DataWarning, warn

__all__ = ["fit_quadrature"]

#: WeMix leaves out a variance's standard error below this value.
SE_FLOOR = float(np.exp(-3.6))

#: With fewer nodes than this, posterior moments from the nodes are too rough
#: for fixed-node derivatives (with one node, the Laplace approximation, they
#: miss the log-determinant term), so the adapted approximation is maximised
#: with finite-difference derivatives instead.
FIXED_NODE_MIN = 4


def _glm_start(design, family):
    """Fixed effects of the weighted GLM without random effects (IRLS)."""
    X, y, off = design.X, design.y, design.offset
    w = design.w1.copy()
    for lev, wl in zip(design.levels, design.wg):
        w = w * wl[lev.codes]
    beta = np.zeros(X.shape[1])
    if family.name == "poisson" and "Intercept" in design.x_names:
        beta[design.x_names.index("Intercept")] = np.log(max(np.average(y, weights=w), 1e-3))
    for _ in range(50):
        eta = X @ beta + off
        _, d1, d2 = family.derivs(y, eta)
        info = (X * (w * -d2)[:, None]).T @ X
        try:
            step = np.linalg.solve(info + 1e-10 * np.eye(len(beta)), X.T @ (w * d1))
        except np.linalg.LinAlgError:
            break
        step = np.clip(step, -5, 5)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


#: Largest second-derivative array (rows x nodes x P x P doubles) allowed, in bytes.
MAX_BYTES = 4e9


def _check_grid_size(design, structure, n_quad):
    """Refuse quadrature grids too large for memory, warn about slow ones.

    Every row is evaluated at the nodes of all the levels above it:
    ``prod_l n_quad ** q_l`` points.
    """
    per_row = int(np.prod([float(n_quad) ** q for q in structure.q]))
    cells = design.n_obs * per_row
    P = design.X.shape[1] + structure.n_theta
    if cells * P * P * 8 > MAX_BYTES:
        raise ValueError(
            f"n_quad={n_quad} with {structure.q} random effects per level means "
            f"{per_row} quadrature points for each of the {design.n_obs} rows, beyond "
            f"what memory allows; use fewer points (n_quad ** (effects) grows fast: "
            f"n_quad=5 or 7 is usually accurate with adaptive quadrature)")
    if cells * P * P * 8 > MAX_BYTES / 8:
        warn(f"n_quad={n_quad} gives {per_row} quadrature points per row "
             f"({structure.q} random effects per level): the fit will be slow; "
             "fewer points are usually enough with adaptive quadrature", ConvergenceWarning)


def _separation_check(design, family):
    if family.name != "binomial":
        return
    y = design.y
    for j, name in enumerate(design.x_names):
        col = design.X[:, j]
        if name == "Intercept" or not np.all(np.isin(col, (0.0, 1.0))):
            continue
        on = col == 1
        if 0 < on.sum() < len(col) and len(np.unique(y[on])) == 1:
            warn(
                f"perfect separation: the response is always {int(y[on][0])} where "
                f"{name!r} is 1; its coefficient is not identified and will be very large", DataWarning)


def _extreme_fit_check(design, family, beta, eta):
    """Warn when fitted means are numerically 0 or 1 (as R's glm): the sign of
    (quasi-)complete separation, where some coefficients run off to infinity."""
    mu = family.mean(eta)
    if family.name == "binomial":
        extreme = (mu < 1e-10) | (mu > 1 - 1e-10)
        what = "fitted probabilities numerically 0 or 1"
    else:
        extreme = mu < 1e-10
        what = "fitted means numerically 0"
    if not extreme.any():
        return
    X = design.X
    size = np.abs(beta) * np.std(X, axis=0)
    names = [n for n, s in zip(design.x_names, size) if n != "Intercept" and s > 5]
    culprit = (f"; look at {', '.join(map(repr, names))}, whose coefficient"
               f"{'s are' if len(names) > 1 else ' is'} very large" if names else "")
    warn(f"{what} in {int(extreme.sum())} rows: (quasi-)complete separation, the "
         f"estimates of the coefficients involved are not identified{culprit}", DataWarning)


def _newton(obj, phi, max_iter, scale=None):
    """Maximise the adapted approximation: fixed-node Newton steps, finished on
    the difference gradient of the reported objective (see
    :mod:`.quadrature_optimize`). ``scale`` is unused (kept for callers)."""
    phi, ev, it, converged, message = maximize_adaptive(obj, phi, max_iter)
    flip = _canonical(phi, obj)
    signs = np.where(flip == phi, 1.0, -1.0)
    if np.any(signs < 0):
        ev = replace(ev, grad=signs * ev.grad, hess=ev.hess * np.outer(signs, signs),
                     group_grad=ev.group_grad * signs)
    return flip, ev, it, converged, message


def _numeric(obj, phi0, max_iter, scale):
    """Maximise the adapted approximation with finite-difference derivatives."""
    def f(phi):
        return -obj.evaluate(phi, adapt=True, derivs=False).llf / scale

    rec = minimize_bounded(f, phi0, np.full(len(phi0), -np.inf), max_iter=max_iter * 5)
    phi = _canonical(rec.x, obj)
    w = obj.wg[-1]

    def groups(phi):
        return obj.evaluate(phi, adapt=True, derivs=False).group_A

    h = 1e-5 * np.maximum(np.abs(phi), 1e-2)
    G = jacobian(groups, phi, h)
    H = hessian(lambda x: float(w @ groups(x)), phi, 10 * h)
    base = obj.evaluate(phi, adapt=True, derivs=False)
    ev = Evaluation(base.llf, w @ G, H, base.group_A, G)
    return phi, ev, rec.iterations, rec.converged, rec.message


def fit_quadrature(design, family, *, n_quad: int = 13, start=None, max_iter: int = 200):
    """Fit a GLMM by adaptive Gauss-Hermite quadrature; returns result fields."""
    structure = CovarianceStructure.from_design(design)
    _check_grid_size(design, structure, n_quad)
    obj = QuadratureObjective(design, structure, family, n_quad)
    _separation_check(design, family)
    if start is None:
        c0 = 0.5 * structure.theta_start()
        phi0 = np.r_[_glm_start(design, family), c0]
    else:
        phi0 = check_start(start, obj.P, "the fixed effects, then the Cholesky factors of "
                           "each level's covariance")
    scale = float(np.sum(design.w1))
    if n_quad >= FIXED_NODE_MIN:
        phi, ev, iters, converged, message = _newton(obj, phi0, max_iter, scale)
    else:
        phi, ev, iters, converged, message = _numeric(obj, phi0, max_iter, scale)
    check_finite_fit([ev.llf, phi], design)
    grad_norm = float(np.max(np.abs(ev.grad)) / max(1.0, abs(ev.llf)) * scale)
    record = OptimizationRecord(phi, -ev.llf, iters, iters, grad_norm, converged, message,
                                "Newton-Raphson (adaptive quadrature)", ())
    if not converged:
        warn(f"the optimiser did not converge in {iters} iterations: {message}",
             ConvergenceWarning)
    p = obj.p
    beta, c = phi[:p], phi[p:]
    covs = obj.covariances(c)
    # joint sandwich over all parameters, then the delta method to variances
    w = design.wg[-1]
    scores = w[:, None] * ev.group_grad
    negH = -ev.hess
    Hi = _inv(negH)
    V_model = Hi
    V_robust = Hi @ meat(scores) @ Hi
    A = np.zeros((p + len(structure.cov_to_phi(covs)), obj.P))
    A[:p, :p] = np.eye(p)
    A[p:, p:] = jacobian(lambda cc: structure.cov_to_phi(obj.covariances(cc)), c,
                         1e-6 * np.maximum(np.abs(c), 1e-3))
    cov_r = A @ V_robust @ A.T
    cov_m = A @ V_model @ A.T
    phi_robust = _level_blocks(structure, cov_r[p:, p:])
    table = variance_table(structure, design.levels, covs, np.nan, phi_robust)
    table = table[table["group"] != "Residual"].reset_index(drop=True)
    small = (table["variance"] < SE_FLOOR).to_numpy() & table["var2"].isna().to_numpy()
    table.loc[small, "std_error"] = np.nan
    var_cov = {"robust": cov_r[p:, p:].copy(), "model": cov_m[p:, p:].copy()}
    for V in var_cov.values():
        V[small, :] = np.nan
        V[:, small] = np.nan
    for msg in boundary_messages(structure, c, design.levels, covs):
        warn(msg, BoundaryWarning)
    modes, ranef_var = obj.conditional_modes(phi, variances=True)
    eta = design.X @ beta + design.offset
    for lev, Z, m in zip(design.levels, design.Z, modes):
        eta = eta + np.einsum("ij,ij->i", Z, m[lev.codes])
    _extreme_fit_check(design, family, beta, eta)
    return dict(params=pd.Series(beta, index=design.x_names), cov_robust=cov_r[:p, :p],
                cov_model=cov_m[:p, :p], var_cov=var_cov, var_components=table, groups=groups_table(design),
                modes=modes, fitted_link=eta, y=design.y, row_index=design.frame.index,
                design=design, sigma2=np.nan, covs=covs, theta=c, llf=ev.llf,
                criterion="ML", optimization=record, converged=converged,
                n_clusters=len(w), family_obj=family, ranef_var=ranef_var,
                extra_state=dict(objective=obj, phi=phi, design=design, n_quad=n_quad,
                                 cov_all_robust=cov_r, cov_all_model=cov_m))


def _canonical(phi, obj):
    phi = phi.copy()
    for li, entries in enumerate(obj._cpos):
        C = obj.factors(phi[obj.p:])[li]
        signs = np.where(np.diag(C) < 0, -1.0, 1.0)
        for idx, r, col in entries:
            phi[idx] = phi[idx] * signs[col]
    return phi


def _level_blocks(structure, cov_phi):
    out = []
    for sl in structure.level_slices():
        k = sl.stop - sl.start
        M = np.full((k + 1, k + 1), np.nan)
        M[:k, :k] = cov_phi[sl, sl]
        out.append(M)
    return out


def _inv(H):
    try:
        return np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(H)


def refit_llf(design, family, n_quad, phi0) -> float:
    """Maximised pseudo-log-likelihood of a GLMM design from ``phi0`` (bootstrap)."""
    structure = CovarianceStructure.from_design(design)
    obj = QuadratureObjective(design, structure, family, n_quad)
    scale = float(np.sum(design.w1))
    if n_quad >= FIXED_NODE_MIN:
        _, ev, _, _, _ = _newton(obj, np.asarray(phi0, float), 200, scale)
    else:
        _, ev, _, _, _ = _numeric(obj, np.asarray(phi0, float), 200, scale)
    return ev.llf
