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

from typing import Any

import numpy as np

from .gaussian import inv_logdet, matmul_q, profiled_criterion

__all__ = ["TwoLevelProfile", "CHUNK"]

#: Groups per chunk of the group sums (bounds the temporaries at about
#: CHUNK x parameters^2 x q^2 doubles).
CHUNK = 65536


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
        self.U = np.ascontiguousarray(M[:, :q, q:])  # (G, q, r)
        self.w3 = w[:, None, None]
        self.w = w
        self.W22 = np.einsum("g,gab->ab", w, M[:, q:, q:])
        self.N = float(w @ objective.n2)
        self.d2T = st.relative_cov_hess()[0]
        self._last: Any = None  # (key, llf, grad, fixed, dS, chunk terms) of the last point

    @staticmethod
    def fits(objective) -> bool:
        """Whether the closed form applies (models with one grouping level)."""
        return len(objective.levels) == 1

    def _S(self, B, sl):
        """``-sum_j w_j M_j,21 B_j M_j,12`` over the groups ``sl`` for ``B``
        (..., g, q, q) -> (..., r, r)."""
        U = self.U[sl]
        V = matmul_q(self.w3[sl] * B, U)  # (..., g, q, r)
        return -(U.reshape(-1, self.r).T @ V.reshape(B.shape[:-3] + (-1, self.r)))

    def _sums(self, sl, T, dT, hessian):
        """The group sums over the groups ``sl`` (a chunk): ``(S, dS, D, dD,
        d2S, d2D)`` without ``W22``, or None where ``A_j`` is singular; and
        what the second derivatives need (for :meth:`_second`)."""
        q, M11, w = self.q2, self.M11[sl], self.w[sl]
        Ainv, logdet = inv_logdet(np.eye(q) + matmul_q(T, M11))  # (g, q, q)
        if not np.all(np.isfinite(logdet)):
            return None, None
        B = matmul_q(Ainv, T)
        C = np.eye(q) - matmul_q(M11, B)
        AdT = matmul_q(Ainv, dT[:, None])  # (k, g, q, q)
        dB = matmul_q(AdT, C)
        AdA = matmul_q(AdT, M11)  # A^-1 dA
        out = [
            self._S(B, sl),
            self._S(dB, sl),
            float(w @ logdet),
            np.einsum("g,kgaa->k", w, AdA),
            None,
            None,
        ]
        inner = (sl, Ainv, C, AdT, dB, AdA)
        if hessian:
            out[4], out[5] = self._second(inner)
        return out, inner

    def _second(self, inner):
        """``(d2S, d2D)`` over one chunk of groups from its first-order terms."""
        sl, Ainv, C, AdT, dB, AdA = inner
        M11, w = self.M11[sl], self.w[sl]
        MdB = matmul_q(M11, dB)  # (k, g, q, q)
        d2B = (
            matmul_q(matmul_q(Ainv, self.d2T[:, :, None]), C)
            - matmul_q(AdT[None, :], MdB[:, None])
            - matmul_q(AdT[:, None], MdB[None, :])
        )
        d2D = np.einsum(
            "klbc,bc->kl", self.d2T, np.einsum("g,gcb->bc", w, matmul_q(M11, Ainv))
        ) - np.einsum("g,kgab,lgba->kl", w, AdA, AdA)
        return self._S(d2B, sl), d2D

    def evaluate(self, theta, reml: bool = False, hessian: bool = True):
        """``(llf, gradient, Hessian)`` of the profiled criterion at ``theta``.

        Returns ``-inf`` (and NaN derivatives) where the criterion is not
        defined (singular matrices, non-positive residual sum of squares).
        The value and gradient come from
        :func:`~pywemix.objective.gaussian.profiled_criterion`. The group sums
        are taken over chunks of ``CHUNK`` groups, so the temporaries (of size
        parameters^2 x groups) stay bounded however many groups there are.
        """
        theta = np.asarray(theta, dtype=float)
        k = len(theta)
        key = (theta.tobytes(), bool(reml))
        if self._last is not None and self._last[0] == key:
            # the optimiser asks for the Hessian where it has just taken the
            # value and gradient: only the second-order sums are new
            return self._from_last(hessian, reml)
        st = self.structure
        T = st.relative_cov(theta)[0]
        dT = st.relative_cov_grad(theta)[0]  # (k, q, q)
        G = len(self.w)
        total: Any = None  # the summed chunks
        inner: list = []
        for start in range(0, G, CHUNK):
            part, chunk = self._sums(slice(start, min(start + CHUNK, G)), T, dT, hessian)
            if part is None:
                return _undefined(k)
            inner.append(chunk)
            total = (
                part
                if total is None
                else [None if a is None else a + b for a, b in zip(total, part)]
            )
        S, dS, D, dD, d2S, d2D = total
        llf, grad, fixed = profiled_criterion(self.W22 + S, self.N, D, self.p, reml, dS, dD)
        if not np.isfinite(llf):
            return _undefined(k)
        # keep what the Hessian at this point needs (one chunk: small arrays)
        self._last = (key, float(llf), grad, fixed, dS, inner) if len(inner) == 1 else None
        if not hessian:
            return float(llf), grad, None
        return float(llf), grad, self._hessian(fixed, dS, d2S, d2D, reml)

    def _from_last(self, hessian: bool, reml: bool):
        """:meth:`evaluate` at the point of the last evaluation."""
        _, llf, grad, fixed, dS, inner = self._last
        if not hessian:
            return llf, grad.copy(), None
        d2S, d2D = self._second(inner[0])
        return llf, grad.copy(), self._hessian(fixed, dS, d2S, d2D, reml)

    def _hessian(self, fixed, dS, d2S, d2D, reml):
        """Second derivatives of the profiled criterion (module notes)."""
        p = self.p
        c = fixed.c
        Sc = dS @ c  # (k, r)
        dprss, prss = Sc @ c, fixed.prss
        dof = self.N - p if reml else self.N
        Scx = Sc[:, :p]
        d2prss = np.einsum("a,klab,b->kl", c, d2S, c) - 2 * Scx @ fixed.Sxx_inv @ Scx.T
        rel = dprss / prss
        hess = -0.5 * dof * (d2prss / prss - np.outer(rel, rel)) - 0.5 * d2D
        if reml:
            dSxx = fixed.Sxx_inv @ dS[:, :p, :p]  # (k, p, p)
            hess -= 0.5 * (
                np.einsum("ab,klba->kl", fixed.Sxx_inv, d2S[:, :, :p, :p])
                - np.einsum("kab,lba->kl", dSxx, dSxx)
            )
        return 0.5 * (hess + hess.T)


def _undefined(k: int) -> tuple:
    """:meth:`TwoLevelProfile.evaluate` where the criterion is not defined."""
    return -np.inf, np.full(k, np.nan), np.full((k, k), np.nan)
