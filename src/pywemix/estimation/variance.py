"""Variance estimators of a fit: model-based and cluster-robust, in one place.

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
(WeMix's parametrisation; this reproduces its figures for three levels). The model-based variance is ``H^{-1}`` of the same blocks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .numdiff import hessian, jacobian

__all__ = ["VarianceEstimates", "estimate_variances", "sandwich", "meat"]


@dataclass(frozen=True)
class VarianceEstimates:
    """Model-based and robust covariances of the estimates.

    ``beta_model`` / ``beta_robust``: (p, p). ``phi_model`` / ``phi_robust``:
    per level a square matrix over (that level's free covariance elements,
    residual variance).
    """

    beta_model: np.ndarray
    beta_robust: np.ndarray
    phi_model: list
    phi_robust: list
    n_clusters: int


def meat(scores: np.ndarray) -> np.ndarray:
    """``G/(G-1) * sum_g s_g s_g'`` from per-cluster scores (G, k)."""
    G = scores.shape[0]
    return (G / (G - 1.0)) * scores.T @ scores


def _inv(H):
    try:
        return np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(H)


def sandwich(H: np.ndarray, J: np.ndarray) -> np.ndarray:
    """``H^{-1} J H^{-1}``."""
    Hi = _inv(H)
    return Hi @ J @ Hi


def estimate_variances(objective, structure, beta, sigma2, covs) -> VarianceEstimates:
    """Model-based and cluster-robust covariances for a Gaussian fit."""
    I_bb = objective.beta_information(sigma2, covs)
    V = _inv(I_bb)
    s_b = objective.beta_scores(beta, sigma2, covs)
    beta_robust = V @ meat(s_b) @ V
    phi_all = structure.cov_to_phi(covs)
    phi_model, phi_robust = [], []
    for li, sl in enumerate(structure.level_slices()):
        x0 = np.r_[phi_all[sl], sigma2]

        def block(x, li=li, sl=sl):
            # other levels keep their *relative* covariance (Sigma_m / sigma^2),
            # as WeMix holds its theta fixed; level li moves in absolute terms
            phi = phi_all.copy()
            phi[sl] = x[:-1]
            cs = [C if m == li else C * (x[-1] / sigma2)
                  for m, C in enumerate(structure.phi_to_cov(phi))]
            return objective.group_loglik(beta, x[-1], cs)

        scale = max(sigma2, float(np.max(np.abs(x0))))
        h_s = 1e-4 * np.maximum(np.abs(x0), 1e-2 * scale)
        h_h = 1e-3 * np.maximum(np.abs(x0), 1e-2 * scale)
        scores = jacobian(block, x0, h_s)
        base = block(x0)
        H = -hessian(lambda x: float(np.sum(block(x) - base)), x0, h_h)
        Hi = _inv(H)
        phi_model.append(Hi)
        phi_robust.append(Hi @ meat(scores) @ Hi)
    return VarianceEstimates(V, beta_robust, phi_model, phi_robust, s_b.shape[0])
