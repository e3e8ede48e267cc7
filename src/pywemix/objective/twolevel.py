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

from .gaussian import inv_logdet, profiled_criterion

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
        self.q2, self.p, self.r = q, p, M.shape[-1] - q  # level 2's effects, rest
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
        The value and gradient come from
        :func:`~pywemix.objective.gaussian.profiled_criterion`.
        """
        theta = np.asarray(theta, dtype=float)
        k = len(theta)
        st, q = self.structure, self.q2
        T = st.relative_cov(theta)[0]
        dT = st.relative_cov_grad(theta)[0]                       # (k, q, q)
        bad = (-np.inf, np.full(k, np.nan), np.full((k, k), np.nan))
        Ainv, logdet = inv_logdet(np.eye(q) + T @ self.M11)       # (G, q, q)
        if not np.all(np.isfinite(logdet)):
            return bad
        B = Ainv @ T
        C = np.eye(q) - self.M11 @ B
        AdT = Ainv @ dT[:, None]                                   # (k, G, q, q)
        dB = AdT @ C
        S = self.W22 + self._S(B)
        dS = self._S(dB)
        AdA = AdT @ self.M11                                       # A^-1 dA, (k, G, q, q)
        dD = np.einsum("g,kgaa->k", self.w, AdA)
        llf, grad, fixed = profiled_criterion(S, self.N, float(self.w @ logdet), self.p,
                                              reml, dS, dD)
        if not np.isfinite(llf):
            return bad
        if not hessian:
            return float(llf), grad, None
        MdB = self.M11 @ dB                                        # (k, G, q, q)
        d2B = (Ainv @ self.d2T[:, :, None] @ C
               - AdT[None, :] @ MdB[:, None] - AdT[:, None] @ MdB[None, :])
        d2D = (np.einsum("klbc,bc->kl", self.d2T,
                         np.einsum("g,gcb->bc", self.w, self.M11 @ Ainv))
               - np.einsum("g,kgab,lgba->kl", self.w, AdA, AdA))
        hess = self._hessian(fixed, dS, self._S(d2B), d2D, reml)
        return float(llf), grad, hess

    def _hessian(self, fixed, dS, d2S, d2D, reml):
        """Second derivatives of the profiled criterion (module notes)."""
        p = self.p
        c = fixed.c
        Sc = dS @ c                                                 # (k, r)
        dprss, prss = Sc @ c, fixed.prss
        dof = self.N - p if reml else self.N
        Scx = Sc[:, :p]
        d2prss = (np.einsum("a,klab,b->kl", c, d2S, c)
                  - 2 * Scx @ fixed.Sxx_inv @ Scx.T)
        rel = dprss / prss
        hess = -0.5 * dof * (d2prss / prss - np.outer(rel, rel)) - 0.5 * d2D
        if reml:
            dSxx = fixed.Sxx_inv @ dS[:, :p, :p]                    # (k, p, p)
            hess -= 0.5 * (np.einsum("ab,klba->kl", fixed.Sxx_inv, d2S[:, :, :p, :p])
                           - np.einsum("kab,lba->kl", dSxx, dSxx))
        return 0.5 * (hess + hess.T)
