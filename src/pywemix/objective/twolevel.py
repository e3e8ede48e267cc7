"""Profiled Gaussian likelihood of two-level models with exact derivatives.

In a two-level model the top-level groups are the level-2 groups, whose
cross-products ``M_j`` do not depend on the parameters, so the weighted
total of their quadratic forms is linear in the small matrices
``B_j = (I + T M_j,11)^{-1} T``:

.. math::

    S = \\sum_j w_j M_{j,22} - \\sum_j w_j M_{j,21} B_j M_{j,12}
      = W_{22} - U' \\tilde B U,

with ``U`` the stacked ``M_{j,12}`` (groups x q, r) and ``\\tilde B`` block
diagonal. Every evaluation then costs a few operations on (groups, q, q)
and (groups, q, r) arrays and one matrix product, and the
first and second derivatives in the relative Cholesky parameters ``theta``
follow in closed form, so the optimiser takes exact Newton steps. Values
equal :meth:`pywemix.objective.gaussian.GaussianObjective.profiled_grad`; this module
only makes them cheaper and adds the Hessian. R equivalent: none (lme4
optimises its deviance without derivatives).

Notes
-----
With ``A_j = I + T M_{j,11}``, ``C_j = I - M_{j,11} B_j`` and ``dT_k``,
``d2T_kl`` the derivatives of ``T``:

.. math::

    dB_k = A^{-1} dT_k C, \\qquad
    d^2B_{kl} = A^{-1}(d^2T_{kl} C - dT_l M_{11} dB_k - dT_k M_{11} dB_l),

``d log|A| = tr(A^{-1} dT_k M_11)`` and
``d2 log|A| = tr(A^{-1} d2T_kl M_11) - tr(A^{-1} dT_l M_11 A^{-1} dT_k M_11)``.
The profiled residual sum of squares ``PRSS = min_beta c'Sc``,
``c = (beta, -1)``, has ``dPRSS_k = c' S_k c`` and
``d2PRSS_kl = c' S_kl c - 2 (S_k c)_X' S_XX^{-1} (S_l c)_X``; the ML
log-likelihood is ``-N/2 (log(2 pi PRSS/N) + 1) - D/2`` (REML: ``N - p``
and ``-log|S_XX|/2``, lme4's criterion).
"""
from __future__ import annotations

import numpy as np

from .gaussian import _inv_logdet

__all__ = ["TwoLevelProfile"]


class TwoLevelProfile:
    """Profiled (restricted) log-likelihood, gradient and Hessian in theta.

    Parameters
    ----------
    objective : GaussianObjective
        A two-level objective (one grouping level).
    """

    def __init__(self, objective):
        if len(objective.levels) != 1:
            raise ValueError("TwoLevelProfile needs a two-level model")
        st = objective.structure
        q, p = objective.q[0], objective.p
        M = objective.M2
        w = objective.top_weights
        self.q, self.p, self.r = q, p, M.shape[-1] - q
        self.structure = st
        self.M11 = M[:, :q, :q]
        self.U = np.ascontiguousarray(M[:, :q, q:])                # (G, q, r)
        self.Ut = self.U.reshape(-1, self.r).T.copy()              # (r, G q)
        self.w3 = w[:, None, None]
        self.w = w
        self.W22 = np.einsum("g,gab->ab", w, M[:, q:, q:])
        self.N = float(w @ objective.n2)
        self.d2T = st.relative_cov_hess()[0]

    @staticmethod
    def fits(objective) -> bool:
        """Whether the closed form applies (models with one grouping level)."""
        return len(objective.levels) == 1

    def _S(self, B):
        """``-sum_j w_j M_j,21 B_j M_j,12`` for ``B`` (..., G, q, q) -> (..., r, r)."""
        V = np.matmul(self.w3 * B, self.U)                         # (..., G, q, r)
        return -(self.Ut @ V.reshape(B.shape[:-3] + (-1, self.r)))

    def evaluate(self, theta, reml: bool = False, hessian: bool = True):
        """``(llf, gradient, Hessian)`` of the profiled criterion at ``theta``.

        Returns ``-inf`` (and NaN derivatives) where the criterion is not
        defined (singular matrices, non-positive residual sum of squares).
        """
        theta = np.asarray(theta, dtype=float)
        k = len(theta)
        st, q, p = self.structure, self.q, self.p
        T = st.relative_cov(theta)[0]
        dT = st.relative_cov_grad(theta)[0]                       # (k, q, q)
        bad = (-np.inf, np.full(k, np.nan), np.full((k, k), np.nan))
        A = np.eye(q) + T @ self.M11                             # (G, q, q)
        Ainv, logdet = _inv_logdet(A)
        if not np.all(np.isfinite(logdet)):
            return bad
        B = Ainv @ T
        C = np.eye(q) - self.M11 @ B
        dA = dT[:, None] @ self.M11                                # (k, G, q, q)
        AdT = Ainv @ dT[:, None]                                   # (k, G, q, q)
        dB = AdT @ C
        S = self.W22 + self._S(B)
        dS = self._S(dB)
        w = self.w
        D = float(w @ logdet)
        AdA = Ainv @ dA                                            # (k, G, q, q)
        dD = np.einsum("g,kgaa->k", w, AdA)
        c, Sxx_inv, prss = _profile_beta(S, p)
        if c is None or not np.isfinite(prss) or prss <= 0:
            return bad
        Sc = dS @ c                                                 # (k, r)
        dprss = Sc @ c
        dof = self.N - p if reml else self.N
        llf = -0.5 * dof * (np.log(2 * np.pi * prss / dof) + 1) - 0.5 * D
        grad = -0.5 * dof * dprss / prss - 0.5 * dD
        if reml:
            _, logdet_x = np.linalg.slogdet(S[:p, :p])
            llf -= 0.5 * logdet_x
            grad -= 0.5 * np.einsum("ab,kba->k", Sxx_inv, dS[:, :p, :p])
        if not hessian:
            return float(llf), grad, None
        # second derivatives
        MdB = self.M11 @ dB                                        # (k, G, q, q)
        d2B = (Ainv @ self.d2T[:, :, None] @ C
               - AdT[None, :] @ MdB[:, None] - AdT[:, None] @ MdB[None, :])
        d2S = self._S(d2B)                                         # (k, k, r, r)
        MA = np.einsum("g,gcb->bc", w, self.M11 @ Ainv)            # sum_j w_j (M A^-1)'
        d2D = (np.einsum("klbc,bc->kl", self.d2T, MA)
               - np.einsum("g,kgab,lgba->kl", w, AdA, AdA))
        Scx = Sc[:, :p]
        d2prss = np.einsum("a,klab,b->kl", c, d2S, c) - 2 * Scx @ Sxx_inv @ Scx.T
        rel = dprss / prss
        hess = -0.5 * dof * (d2prss / prss - np.outer(rel, rel)) - 0.5 * d2D
        if reml:
            dSxx = Sxx_inv @ dS[:, :p, :p]                          # (k, p, p)
            hess -= 0.5 * (np.einsum("ab,klba->kl", Sxx_inv, d2S[:, :, :p, :p])
                           - np.einsum("kab,lba->kl", dSxx, dSxx))
        return float(llf), grad, 0.5 * (hess + hess.T)


def _profile_beta(S, p):
    """``c = (beta, -1)``, ``S_XX^{-1}`` and PRSS from the total form ``S``."""
    if p == 0:
        return np.array([-1.0]), np.zeros((0, 0)), float(S[0, 0])
    Sxx = S[:p, :p]
    sign, _ = np.linalg.slogdet(Sxx)
    if sign <= 0:
        return None, None, np.nan
    Sxx_inv = np.linalg.inv(Sxx)
    beta = Sxx_inv @ S[:p, p]
    prss = float(S[p, p] - S[:p, p] @ beta)
    return np.r_[beta, -1.0], Sxx_inv, prss
