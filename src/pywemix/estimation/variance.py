"""Stage 3b: the variance of the estimates, model-based and cluster-robust,
for every family, in one place.

Notes
-----
Cluster-robust (sandwich) variance as WeMix computes it (Rabe-Hesketh and
Skrondal 2006; WeMix vignette eqs. 7-9), with scores ``s_g`` the gradients of
each top-level group's weighted log-likelihood contribution:

.. math::

    J = \\frac{G}{G-1} \\sum_g s_g s_g', \\qquad
    \\widehat{\\mathrm{Var}} = H^{-1} J H^{-1},

``H`` being the negative Hessian. It is applied blockwise: fixed effects use
``H_bb = S_XX / sigma^2`` (so ``H_bb^{-1} = sigma^2 (X'V^{-1}X)^{-1}``);
the variance terms of level ``l`` use the block of ``(variances and
covariances of level l, sigma^2)`` with the fixed effects and the other
levels' *relative* covariances ``Sigma_m / sigma^2`` held at their estimates
(WeMix's parametrisation; this reproduces its figures for three levels).
Non-Gaussian families use one joint sandwich over ``phi = (beta, aux,
chol)`` (``aux`` the family's parameters, unconstrained) from the
derivatives of the Laplace or quadrature objective, mapped to the family
parameters' values and the variance elements by the delta method. The
model-based variance is ``H^{-1}`` of the same blocks. R equivalents: the
standard errors of ``summary`` of a
``WeMix::mix`` fit; ``vcov.merMod`` (lme4) for the model-based variance.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..warnings import DataWarning, warn
from .numdiff import hessian, jacobian

__all__ = ["VarianceEstimate", "estimate_variance", "meat", "SE_FLOOR"]

#: WeMix leaves out the standard error of a (non-Gaussian) variance below this value.
SE_FLOOR = float(np.exp(-3.6))


@dataclass(frozen=True)
class VarianceEstimate:
    """
    Model-based and cluster-robust covariances of the estimates.

    Made by :func:`estimate_variance`. A frozen dataclass: its fields are its
    parameters and attributes.

    Parameters
    ----------
    fixed_model, fixed_robust : ndarray (p, p)
        Covariance of the fixed effects, then the family parameters
        (dispersion, thresholds) if the family has any (``p`` counts them).
    components_model, components_robust : ndarray (m, m)
        Covariance of the variance-component estimates, in the order of the
        rows of ``MixResult.var_components`` (the residual variance last, for
        Gaussian fits). NaN where not estimated.
    n_clusters : int
        Top-level groups (clusters of the sandwich).
    """

    fixed_model: np.ndarray
    fixed_robust: np.ndarray
    components_model: np.ndarray
    components_robust: np.ndarray
    n_clusters: int

    def std_errors(self) -> np.ndarray:
        """
        Robust standard errors of the variance components.

        Returns
        -------
        ndarray
            Square roots of the diagonal of ``components_robust`` (NaN where
            the variance is not available or negative).
        """
        v = np.diag(self.components_robust)
        with np.errstate(invalid="ignore"):
            return np.where(np.isfinite(v) & (v >= 0), np.sqrt(np.abs(v)), np.nan)


def estimate_variance(objective, optimum) -> VarianceEstimate:
    """
    Estimate the covariances of a fit's estimates, model-based and cluster-robust.

    Stage 3b of a fit.

    Parameters
    ----------
    objective : MixObjective
        From :func:`pywemix.objective.make_objective`.
    optimum : Optimum
        From :func:`pywemix.estimation.optimize` on the same objective.

    Returns
    -------
    VarianceEstimate
        Model-based and cluster-robust covariances of the fixed effects and
        of the variance components.

    See Also
    --------
    pywemix.estimation.optimize : The estimates (stage 3a).

    Notes
    -----
    The cluster-robust (sandwich) variance, with :math:`s_g` the score of
    top-level group :math:`g` (of :math:`G`) and :math:`H` the negative
    Hessian of the weighted log-likelihood:

    .. math::

        \\widehat{\\mathrm{Var}} = H^{-1} \\Big(\\frac{G}{G-1} \\sum_g s_g s_g^\\top\\Big) H^{-1};

    the model-based one is :math:`H^{-1}`. See the module notes for the
    blocks (WeMix vignette eqs. 7-9; Rabe-Hesketh and Skrondal 2006). R
    equivalents: the standard errors of ``summary`` of a
    ``WeMix::mix`` fit; ``vcov.merMod`` (model-based).
    """
    if objective.gaussian:
        est = _gaussian(objective.function, objective.structure, optimum)
        return _flag_degenerate(est, objective.design.x_names)
    est = _quadrature(objective, optimum)
    return _flag_degenerate(est, list(objective.design.x_names) + list(objective.family.aux_names))


#: A cluster-robust variance below this share of the model-based one is zero
#: up to rounding: the coefficient's score vanishes in every cluster.
DEGENERATE = 1e-10


def _flag_degenerate(est, names) -> VarianceEstimate:
    """Robust variances of fixed effects that are 0 up to rounding set to NaN,
    with a warning naming the coefficients.

    Such a coefficient is fitted exactly by its own rows (e.g. a category
    with a single observation), so its score is 0 in every cluster and the
    sandwich says nothing about its precision; rounding makes the computed
    value a tiny number of either sign, which would otherwise show as a
    standard error of ~1e-9 or a silent NaN depending on the platform.
    """
    d_m, d_r = np.diag(est.fixed_model), np.diag(est.fixed_robust)
    bad = np.isfinite(d_m) & (d_m > 0) & (d_r <= DEGENERATE * d_m)
    if not bad.any():
        return est
    robust = est.fixed_robust.copy()
    robust[bad, :] = np.nan
    robust[:, bad] = np.nan
    shown = [names[k] for k in np.flatnonzero(bad)]
    warn(
        f"the cluster-robust variance of {', '.join(map(repr, shown[:5]))}"
        f"{' and others' if len(shown) > 5 else ''} is 0 up to rounding: the "
        "coefficient is fitted exactly by its own rows (e.g. a category with one "
        "observation), so its score is 0 in every cluster and its robust standard "
        "error is not identified (reported as NaN); merge sparse categories, or use "
        "cov_params(kind='model') knowing its assumptions",
        DataWarning,
    )
    return replace(est, fixed_robust=robust)


def meat(scores: np.ndarray) -> np.ndarray:
    """``G/(G-1) * sum_g s_g s_g'`` from per-cluster scores (G, k)."""
    G = scores.shape[0]
    return (G / (G - 1.0)) * scores.T @ scores


def _inv(H):
    try:
        return np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(H)


def _gaussian(gauss, structure, optimum) -> VarianceEstimate:
    """Blockwise estimator of a Gaussian fit (module notes)."""
    beta, sigma2, covs = optimum.beta, optimum.sigma2, list(optimum.covariances)
    V = _inv(gauss.beta_information(sigma2, covs))
    s_b = gauss.beta_scores(beta, sigma2, covs)
    blocks = [_level_block(gauss, structure, beta, sigma2, covs, li) for li in range(len(covs))]
    return VarianceEstimate(
        V,
        V @ meat(s_b) @ V,
        _assemble(structure, [b[0] for b in blocks]),
        _assemble(structure, [b[1] for b in blocks]),
        s_b.shape[0],
    )


def _level_block(gauss, structure, beta, sigma2, covs, li):
    """(model, robust) covariance of (level ``li``'s free elements, sigma^2)."""
    elements = structure.cov_to_elements(covs)
    sl = structure.level_slices()[li]
    x0 = np.append(elements[sl], sigma2)

    def block(x):
        # other levels keep their *relative* covariance (Sigma_m / sigma^2),
        # as WeMix holds its theta fixed; level li moves in absolute terms
        moved = elements.copy()
        moved[sl] = x[:-1]
        cs = [
            C if m == li else C * (x[-1] / sigma2)
            for m, C in enumerate(structure.elements_to_cov(moved))
        ]
        return gauss.group_loglik(beta, x[-1], cs)

    scale = max(sigma2, float(np.max(np.abs(x0))))
    h_s = 1e-4 * np.maximum(np.abs(x0), 1e-2 * scale)
    h_h = 1e-3 * np.maximum(np.abs(x0), 1e-2 * scale)
    scores = jacobian(block, x0, h_s)
    base = block(x0)
    at0, zero = x0.tobytes(), float(np.sum(base - base))

    def change(x):  # the Hessian's centre point is the base point: not evaluated again
        return zero if x.tobytes() == at0 else float(np.sum(block(x) - base))

    Hi = _inv(-hessian(change, x0, h_h))
    return Hi, Hi @ meat(scores) @ Hi


def _assemble(structure, blocks) -> np.ndarray:
    """Covariance of all variance-component estimates from the level blocks.

    ``blocks`` holds, per level, the covariance of (that level's free
    elements, residual variance). Elements of different levels get
    covariance 0 (they are estimated in separate blocks); the residual
    variance's own entry comes from level 2's block, its covariance with
    each level's elements from that level's block.
    """
    slices = structure.level_slices()
    m = slices[-1].stop if slices else 0
    V = np.zeros((m + 1, m + 1))
    for sl, B in zip(slices, blocks):
        k = sl.stop - sl.start
        V[sl, sl] = B[:k, :k]
        V[sl, m] = V[m, sl] = B[:k, k]
    V[m, m] = blocks[0][-1, -1]
    return V


def _quadrature(objective, optimum) -> VarianceEstimate:
    """Joint sandwich over ``phi = (beta, aux, chol)``, then the delta method
    to (beta, the family parameters' values, the covariance elements)."""
    obj, structure = objective.function, objective.structure
    ev, p = optimum.evaluation, obj.theta_offset
    chol = optimum.x[p:]
    w = objective.design.wg[-1]
    Hi = _inv(-ev.hess)
    V_robust = Hi @ meat(w[:, None] * ev.group_grad) @ Hi
    A = np.zeros((p + len(structure.cov_to_elements(optimum.covariances)), obj.P))
    A[: obj.p, : obj.p] = np.eye(obj.p)
    A[obj.p : p, obj.p : p] = obj.base_family.natural(optimum.x[obj.p : p])[1]
    A[p:, p:] = jacobian(
        lambda c: structure.cov_to_elements(obj.covariances(c)),
        chol,
        1e-6 * np.maximum(np.abs(chol), 1e-3),
    )
    cov_r, cov_m = A @ V_robust @ A.T, A @ Hi @ A.T
    elements = structure.cov_to_elements(optimum.covariances)
    is_var = np.array([v2 is None for _, _, v2 in structure.element_labels()], dtype=bool)
    small = is_var & (elements < SE_FLOOR)
    comp = []
    for V in (cov_m[p:, p:].copy(), cov_r[p:, p:].copy()):
        V[small, :] = np.nan
        V[:, small] = np.nan
        comp.append(V)
    return VarianceEstimate(cov_m[:p, :p], cov_r[:p, :p], comp[0], comp[1], len(w))
