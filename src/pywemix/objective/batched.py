"""A two-level GLMM objective evaluated for a batch of weightings at once.

Replicate refits change only weights: the design is the same, each
replicate ``r`` has its own top-level group weights ``W_r`` (and possibly
level-1 weights ``w_r``) and its own parameters ``phi_r``. Given the
parameters, every group's log integral depends on its own rows only, through
weighted sums over them, so the objectives of all replicates are batches of
weighted sums of the same per-row terms at ``R`` parameter points.
:class:`TwoLevelBatch` evaluates them together, vectorised over replicates
and groups: per replicate the pseudo-log-likelihood, its *exact* gradient
(including how the adaptive nodes move) and an approximate Hessian, for the
batched Newton iterations of :func:`pywemix.estimation.batched.maximize_batch`.

Its values are those of :class:`~pywemix.objective.laplace.LaplaceObjective`
(``n_quad=1``) and :class:`~pywemix.objective.quadrature.QuadratureObjective`
(``n_quad > 1``) of a two-level design with the replicate's weights. R has
no equivalent (WeMix and EdSurvey refit replicate by replicate).

Notes
-----
For a group ``j`` (and a replicate, left implicit) with rows ``i``, level-1
weights ``w_i``, ``eta_i(v) = x_i'beta + o_i + D_i'v``, ``D_i = C'z_i`` and

.. math::

    F(v) = \\sum_i w_i \\log f(y_i \\mid \\eta_i(v)) - \\tfrac12 |v|^2,

``hat v`` the mode, ``H = -F_{vv}(\\hat v) = I - \\sum_i w_i \\ell''_i D_i D_i'``:

* ``n_quad = 1`` (Laplace, lme4's definition): ``A = F(\\hat v) - \\frac12
  \\log\\det K``, ``K = I + \\sum_i w_i c_i D_i D_i'`` with the GLM working
  weight ``c_i`` (``-\\ell''_i`` for a canonical link);
* ``n_quad > 1``: ``A = \\log|B| - \\frac q2 \\log 2\\pi + \\log \\sum_k
  \\tilde\\omega_k e^{F(v_k)}``, ``v_k = \\hat v + B x_k``, ``B = \\sqrt2
  R^{-T}``, ``RR' = H``; ``K = H``, ``c_i = -\\ell''_i``.

The exact gradient in a parameter ``m`` (with ``p_k`` the posterior weights
of the nodes; one node ``x = 0`` for Laplace):

.. math::

    \\frac{dA}{d\\phi_m} = -\\tfrac12 \\operatorname{tr}(K^{-1} dK_m)
      + \\sum_k p_k \\big[\\partial_m F(v_k) + \\nabla F(v_k)'
      (d\\hat v_m - R^{-T} dR_m' B x_k)\\big],

``d\\hat v_m = H^{-1} \\partial_m \\nabla F(\\hat v)`` (implicit
differentiation of the mode), ``dR_m = R\\,\\Phi(R^{-1} dK_m R^{-T})``
(``\\Phi``: lower triangle, half the diagonal; the derivative of the Cholesky
factor) and ``dK_m = \\sum_i w_i [c'_i\\, d\\eta_{im} D_i D_i' + c_i
(\\partial_m D_i D_i' + D_i \\partial_m D_i')]`` with the total
``d\\eta_{im} = \\partial_m \\eta_i + D_i' d\\hat v_m``. The Laplace gradient
is the one-node case (``\\nabla F(\\hat v) = 0``). The approximate Hessian
is that of ``F(\\hat v(\\phi), \\phi)``, ``F_{\\phi\\phi} + F_{\\phi v}
H^{-1} F_{v\\phi}``, which leaves out the curvature of the log determinant
and of the quadrature correction (small against the data's; the batched
Newton iterations correct it by secant updates).

Every per-group sum is a product of per-row coefficients with fixed per-row
vectors (``x_i``, ``z_i z_i'``, ...), one batched matrix product per bucket
of groups of similar size (:class:`~pywemix.design.sufficient.GroupRows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..design.sufficient import GroupRows
from .gausshermite import grid
from .quadrature import newton_modes

__all__ = ["TwoLevelBatch", "BatchEvaluation", "CHUNK_CELLS"]

#: Replicates are evaluated in chunks of about this many (problem, row) cells
#: (the quadrature nodes are taken one at a time, :data:`BLOCK_CELLS`).
CHUNK_CELLS = 1 << 21
#: Within a chunk, the per-row arithmetic (the family's derivatives and the
#: sums over each group's rows) runs on blocks of problems of about this
#: many cells: arrays that stay in the processor's cache (and that the
#: allocator reuses), about twice as fast as whole chunks.
BLOCK_CELLS = 1 << 16

_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


@dataclass(frozen=True)
class BatchEvaluation:
    """Per problem: pseudo-log-likelihood ``llf`` (R,), its exact gradient
    ``grad`` (R, P), an approximate Hessian ``hess`` (R, P, P), the
    conditional modes ``modes`` (R, J, q) and their derivatives in the
    parameters ``dmodes`` (R, J, q, P): with them the modes at a nearby
    point are predicted, the start of its mode search."""

    llf: np.ndarray
    grad: np.ndarray
    hess: np.ndarray | None
    modes: np.ndarray
    dmodes: np.ndarray


class TwoLevelBatch:
    """The pseudo-log-likelihood of a two-level GLMM for many weightings.

    Parameters
    ----------
    design : ModelDesign
        A two-level design (one grouping level).
    structure : CovarianceStructure
    family : Family
    n_quad : int
        1: the Laplace approximation; more: adaptive Gauss-Hermite quadrature.

    Notes
    -----
    See the module notes. :meth:`evaluate` takes parameters ``phi`` (R, P)
    (``(beta, chol)`` as the single objectives) or one row shared by every
    problem, top-level weights ``W`` (R, J) and level-1 weights (n,) or
    (R, n).
    """

    def __init__(self, design, structure, family, n_quad: int = 1):
        if len(design.levels) != 1:
            raise ValueError("TwoLevelBatch needs a two-level design")
        self.family, self.structure, self.n_quad = family, structure, int(n_quad)
        self.y, self.X, self.offset, self.w1 = design.y, design.X, design.offset, design.w1
        Z = design.Z[0]
        self.Zt = np.ascontiguousarray(Z.T)
        lev = design.levels[0]
        self.codes, self.starts, self.n_groups = lev.codes, lev.starts, lev.n_groups
        n, self.p = self.X.shape
        self.sizes = np.diff(np.r_[self.starts, n])
        self.q = structure.q[0]
        self.P = self.p + structure.n_theta
        self.elements = np.array(structure.layout(self.p)[0], dtype=int).reshape(-1, 3)
        self.nodes, self.logw = grid(self.n_quad, self.q)
        self.rows = GroupRows(self.starts, n)
        q, p = self.q, self.p
        zz = Z[:, :, None] * Z[:, None, :]
        self.zz = zz.reshape(n, q * q)
        self.zzt = np.ascontiguousarray(self.zz.T)
        zzz = (zz[..., None] * Z[:, None, None, :]).reshape(n, q**3)
        self.zx = (Z[:, :, None] * self.X[:, None, :]).reshape(n, q * p)
        zzx = (zz[..., None] * self.X[:, None, None, :]).reshape(n, q * q * p)
        self.zzz_zzx = np.concatenate([zzz, zzx], axis=1)
        self.upper = np.triu_indices(p)
        self.xx = self.X[:, self.upper[0]] * self.X[:, self.upper[1]]

    @staticmethod
    def fits(design, family=None) -> bool:
        """Whether the batch evaluates this model: one grouping level, and a
        family with neither auxiliary parameters (thresholds, a dispersion)
        nor a two-column (successes, trials) response."""
        plain = family is None or (family.n_aux == 0 and np.ndim(design.y) == 1)
        return len(design.levels) == 1 and plain

    # -- evaluation -----------------------------------------------------------------
    def evaluate(self, phi, W, w=None, modes=None, hessian: bool = True) -> BatchEvaluation:
        """Value, exact gradient and approximate Hessian of every problem.

        Parameters
        ----------
        phi : ndarray (R, P) or (P,)
            Parameters per problem, or one point for all.
        W : ndarray (R, J)
            Top-level (group) weights per problem.
        w : ndarray (n,) or (R, n), optional
            Level-1 conditional weights (default the design's).
        modes : ndarray (R, J, q) or (1, J, q), optional
            Start of the mode search.
        hessian : bool
            Also the approximate Hessian (else ``hess`` is None).

        Returns
        -------
        BatchEvaluation
            ``llf`` is ``-inf`` where the objective is not defined.
        """
        phi = np.atleast_2d(np.asarray(phi, dtype=float))
        W = np.atleast_2d(np.asarray(W, dtype=float))
        w = self.w1 if w is None else np.asarray(w, dtype=float)
        R = W.shape[0]
        if phi.shape[0] == 1 and w.ndim == 1 and (modes is None or len(modes) == 1):
            # one point and the same group functions for every problem: evaluated once
            return self._chunk(phi, W, w, modes, hessian)
        step = max(1, CHUNK_CELLS // len(self.y))
        parts = [
            self._chunk(
                _rows(phi, sl),
                W[sl],
                w if w.ndim == 1 else w[sl],
                None if modes is None else _rows(modes, sl),
                hessian,
            )
            for sl in (slice(a, min(a + step, R)) for a in range(0, R, step))
        ]
        if len(parts) == 1:
            return parts[0]
        fields: dict[str, Any] = {
            f: None
            if getattr(parts[0], f) is None
            else np.concatenate([getattr(e, f) for e in parts])
            for f in ("llf", "grad", "hess", "modes", "dmodes")
        }
        return BatchEvaluation(**fields)

    def _chunk(self, phi, W, w, modes, hessian):
        p = self.p
        C = self.structure.factors(phi[:, p:])[0]  # (Rp, q, q)
        base = phi[:, :p] @ self.X.T + self.offset  # (Rp, n)
        D = np.einsum("rab,ai->rbi", C, self.Zt)  # (Rp, q, n)
        Rb = max(phi.shape[0], 1 if w.ndim == 1 else w.shape[0])
        v = (
            np.zeros((Rb, self.n_groups, self.q))
            if modes is None
            else np.array(np.broadcast_to(modes, (Rb, self.n_groups, self.q)))
        )
        v, H, rows, sums = self._modes(base, C, D, w, v)
        ok = np.all(np.isfinite(H), axis=(-2, -1))
        H = np.where(ok[..., None, None], H, np.eye(self.q))
        ok &= (H[..., 0, 0] > 0) if self.q == 1 else np.all(np.linalg.eigvalsh(H) > 0, axis=-1)
        H = np.where(ok[..., None, None], H, np.eye(self.q))
        at = _Mode(self, C, D, v, H, w, rows, sums)
        A, G = at.laplace() if self.n_quad == 1 else at.quadrature()
        llf, grad, hess = at.totals(W, A, G, at.hessian() if hessian else None)
        bad = np.broadcast_to(~np.all(ok, axis=-1), llf.shape) | ~np.isfinite(llf)
        R = len(llf)
        return BatchEvaluation(
            np.where(bad, -np.inf, llf),
            grad,
            hess,
            np.broadcast_to(v, (R,) + v.shape[1:]),
            np.broadcast_to(at.dv, (R,) + at.dv.shape[1:]),
        )

    def _modes(self, base, C, D, w, v):
        """Conditional modes of every (problem, group), ``H`` there and the
        rows' ``(eta, log f, d1, d2, d3)`` at them with the group sums ``F``,
        ``s1 = sum_i w_i d1_i z_i`` and ``s2zz = sum_i w_i d2_i z_i z_i'``
        (the Newton mode search of the single objective,
        :func:`pywemix.objective.quadrature.newton_modes`).

        Notes
        -----
        ``nabla F = C's1 - v`` and ``-F_vv = I - C's2zz C`` (``D_i = C'z_i``):
        the sums over rows have the fixed vectors ``w_i z_i`` and ``w_i z_i
        z_i'``, made once for the search.
        """
        starts, q, eye = self.starts, self.q, np.eye(self.q)
        Rb, J = v.shape[:2]
        wz = np.atleast_2d(w)[:, None, :] * self.Zt  # (1 or Rb, q, n)
        wzz = np.atleast_2d(w)[:, None, :] * self.zzt  # (1 or Rb, q*q, n)
        C = C[:, None]  # (Rp, 1, q, q)
        Ct = np.swapaxes(C, -1, -2)
        blocks = _blocks(Rb, len(self.y) * q * q)
        last: dict = {}

        def pieces(v):
            F, s1, s2 = np.empty((Rb, J)), np.empty((Rb, q, J)), np.empty((Rb, q * q, J))
            rows = []
            for sl in blocks:
                eta = self._effect(_rows(D, sl), v[sl])
                eta += _rows(base, sl)
                ll, d1, d2, d3 = self.family.derivs(self.y, eta, order=3)
                F[sl] = np.add.reduceat(_rows(w, sl) * ll, starts, axis=-1)
                s1[sl] = np.add.reduceat(d1[:, None, :] * _rows(wz, sl), starts, axis=-1)
                s2[sl] = np.add.reduceat(d2[:, None, :] * _rows(wzz, sl), starts, axis=-1)
                rows.append((eta, ll, d1, d2, d3))
            F -= 0.5 * np.sum(v * v, axis=-1)
            s1 = np.moveaxis(s1, 1, -1)
            s2zz = np.moveaxis(s2, 1, -1).reshape(Rb, J, q, q)
            last.update(v=v, rows=rows, sums=(F, s1, s2zz))
            g = (Ct @ s1[..., None])[..., 0] - v
            return F, g, eye - Ct @ s2zz @ C

        F, g, H = pieces(v)
        v, H = newton_modes(pieces, v, F, g, H, exact=True)
        if not np.array_equal(last["v"], v):  # the search ended on a merged point
            pieces(v)
        rows = last["rows"]
        rows = rows[0] if len(rows) == 1 else tuple(np.concatenate(a) for a in zip(*rows))
        return v, H, rows, last["sums"]

    def _effect(self, D, v):
        """``D_i' v_{g(i)}`` per problem and row: D (Rp, q, n), v (R, J, q) -> (R, n)."""
        vr = np.repeat(v, self.sizes, axis=1)  # (R, n, q)
        if D.shape[1] == 1:
            return D[:, 0, :] * vr[..., 0]
        return np.sum(D * np.moveaxis(vr, -1, 1), axis=1)

    def __repr__(self):
        return (
            f"TwoLevelBatch({self.family!r}, n_quad={self.n_quad}, groups={self.n_groups}, "
            f"parameters={self.P})"
        )


def _rows(a, sl):
    """Rows ``sl`` of ``a``, or ``a`` when it has one row (or one dimension)
    shared by every problem."""
    return a if a.ndim == 1 or a.shape[0] == 1 else a[sl]


def _blocks(R, cells):
    """Slices of ``R`` problems in blocks of about :data:`BLOCK_CELLS` cells,
    ``cells`` per problem."""
    step = max(1, BLOCK_CELLS // max(1, cells))
    return [slice(a, min(a + step, R)) for a in range(0, R, step)]


def _node_weights(logw, An, V):
    """``m`` and ``S`` with ``log sum_k exp(t_k) = m + log S``, and the
    posterior weights ``p_k = exp(t_k) / sum``, of the nodes' terms
    ``t_k = log omega_k + An_k - |V_k|^2 / 2`` (``An`` (..., N), ``V``
    (..., N, q)); a node where the density under- or overflows adds nothing."""
    t = logw + An - 0.5 * np.sum(V * V, axis=-1)
    t[np.isnan(t)] = -np.inf
    m = np.max(t, axis=-1, keepdims=True)
    e = np.exp(t - m)
    S = np.sum(e, axis=-1)
    return m[..., 0], S, e / S[..., None]


def _inv(A):
    """Inverses of a stack of small matrices (one division when they are 1 x 1)."""
    return 1.0 / A if A.shape[-1] == 1 else np.linalg.inv(A)


def _cholesky_derivative(Rc, Rinv, dK):
    """``dR = R Phi(R^{-1} dK R^{-T})`` for every parameter (``Phi``: lower
    triangle with half the diagonal): the derivative of the Cholesky factor
    ``R`` of ``K`` in the directions ``dK`` (..., P, q, q)."""
    M = Rinv[..., None, :, :] @ dK @ np.swapaxes(Rinv, -1, -2)[..., None, :, :]
    M = np.tril(M) - 0.5 * M * np.eye(M.shape[-1])
    return Rc[..., None, :, :] @ M


class _Mode:
    """One evaluation at the conditional modes, per problem and group: the
    sums over each group's rows and the formulas of the module notes.

    Arrays have the problems first, then the groups (``Rb``, ``J``); the
    parameters' factors ``C`` (Rp, q, q) and ``D = C'z`` (Rp, q, n) have
    ``Rp`` 1 or ``Rb``.
    """

    def __init__(self, obj, C, D, v, H, w, at, sums):
        eta, ll, d1, d2, d3 = at
        self.obj, self.D, self.v, self.H, self.w, self.eta = obj, D, v, H, w, eta
        q, p, rows = obj.q, obj.p, obj.rows
        Rb, J = v.shape[:2]
        self.ll, self.d1, self.d2 = ll, d1, d2
        self.F, self.s1, self.s2zz = sums  # (Rb, J), (Rb, J, q), (Rb, J, q, q)
        self.s2zx = rows.outer(w * d2, obj.zx).reshape(Rb, J, q, p)
        if obj.n_quad == 1 and not obj.family.canonical:  # lme4's working weight
            c, dc = obj.family.laplace_weight(obj.y, eta)
            self.czz = rows.outer(w * c, obj.zz).reshape(Rb, J, q, q)
            both = rows.outer(w * dc, obj.zzz_zzx)
        else:  # dc = -d3
            self.czz = -self.s2zz
            both = -rows.outer(w * d3, obj.zzz_zzx)
        self.dczzz = both[..., : q**3].reshape(Rb, J, q, q, q)
        self.dczzx = both[..., q**3 :].reshape(Rb, J, q, q, p)
        self.C = C[:, None]  # (Rp, 1, q, q)
        self.Ct = np.swapaxes(self.C, -1, -2)
        self.K = np.eye(q) + self.Ct @ self.czz @ self.C
        self.grad_v = (self.Ct @ self.s1[..., None])[..., 0] - v  # nabla F(hat v)
        self.Fvp = self._cross()  # (Rb, J, q, P)
        self.Kinv = _inv(self.K)
        self.dv = _inv(H) @ self.Fvp  # (Rb, J, q, P)
        self.dK = self._dK()  # (Rb, J, P, q, q)

    # -- pieces ---------------------------------------------------------------
    def _cross(self):
        """``d/dphi`` of ``nabla_v F`` at the mode, ``v`` held: (Rb, J, q, P)."""
        obj = self.obj
        Rb, J, q = self.v.shape
        out = np.zeros((Rb, J, q, obj.P))
        out[..., : obj.p] = self.Ct @ self.s2zx
        s2C = self.Ct @ self.s2zz  # C' S2zz
        for idx, a, b in obj.elements:
            out[..., b, idx] += self.s1[..., a]
            out[..., idx] += self.v[..., b, None] * s2C[..., :, a]
        return out

    def _dK(self):
        """``dK_m`` (module notes): (Rb, J, P, q, q)."""
        obj = self.obj
        Rb, J, q = self.v.shape
        # sum_i w c'_i (d eta_im) z_i z_i' with the total d eta (the mode moves too)
        inner = np.zeros((Rb, J, obj.P, q, q))
        inner[:, :, : obj.p] = np.moveaxis(self.dczzx, -1, 2)
        for idx, a, b in obj.elements:
            inner[:, :, idx] += self.v[..., b, None, None] * self.dczzz[..., a]
        Cdv = self.C @ self.dv  # (Rb, J, q, P)
        inner += np.einsum("rjcm,rjabc->rjmab", Cdv, self.dczzz)
        self.inner = inner
        dK = self.Ct[:, :, None] @ inner @ self.C[:, :, None]
        czzC = self.czz @ self.C  # (Rb, J, q, q)
        for idx, a, b in obj.elements:
            dK[:, :, idx, b, :] += czzC[..., a, :]
            dK[:, :, idx, :, b] += czzC[..., a, :]
        return dK

    def _logdet_grad(self):
        """``-1/2 tr(K^{-1} dK_m)``: (Rb, J, P)."""
        return -0.5 * np.einsum("rjab,rjmba->rjm", self.Kinv, self.dK)

    # -- value and gradient ----------------------------------------------------------
    def laplace(self):
        """Per group: ``A = F(hat v) - log det K / 2`` and its gradient, less the
        fixed effects' row sums ``sum_i w_i d1_i x_i`` (:meth:`totals`)."""
        obj = self.obj
        if self.obj.q == 1:
            logdet = np.log(np.where(self.K[..., 0, 0] > 0, self.K[..., 0, 0], np.nan))
        else:
            sign, logdet = np.linalg.slogdet(self.K)
            logdet = np.where(sign > 0, logdet, np.nan)
        A = self.F - 0.5 * logdet
        G = self._logdet_grad() + np.einsum("rja,rjam->rjm", self.grad_v, self.dv)
        for idx, a, b in obj.elements:
            G[..., idx] += self.s1[..., a] * self.v[..., b]
        self.abar = self.d1
        return A, G

    def quadrature(self):
        """Per group: the adaptive-quadrature ``A`` and its exact gradient (as
        :meth:`laplace`, the fixed effects' row sums left to :meth:`totals`)."""
        obj, v = self.obj, self.v
        q = obj.q
        Rc = np.sqrt(self.H) if q == 1 else np.linalg.cholesky(self.H)
        Rinv = _inv(Rc)
        B = np.sqrt(2.0) * np.swapaxes(Rinv, -1, -2)
        logdetB = 0.5 * q * np.log(2.0) - np.sum(
            np.log(np.diagonal(Rc, axis1=-2, axis2=-1)), axis=-1
        )
        Bx = np.einsum("rjab,kb->rjka", B, obj.nodes)  # (Rb, J, N, q)
        V = v[:, :, None, :] + Bx
        T, m, S, post = self._at_nodes(B, V)
        A = logdetB - q * _HALF_LOG_2PI + m + np.log(S)
        gradF = (self.Ct[:, :, None] @ T[..., None])[..., 0] - V  # nabla F(v_k)
        E1 = np.einsum("rjk,rjka->rja", post, gradF)
        Q = np.einsum("rjk,rjka,rjkb->rjab", post, Bx, gradF)
        dR = _cholesky_derivative(Rc, Rinv, self.dK)  # (Rb, J, P, q, q)
        G = (
            self._logdet_grad()
            + np.einsum("rja,rjam->rjm", E1, self.dv)
            - np.einsum("rjca,rjmbc,rjba->rjm", Rinv, dR, Q)
        )
        for idx, a, b in obj.elements:
            G[..., idx] += np.sum(post * T[..., a] * V[..., b], axis=-1)
        return A, G

    def _at_nodes(self, B, V):
        """The nodes ``V`` (Rb, J, N, q) of every group: per node ``k`` the
        sums ``sum_i w_i d1_ik z_i`` (Rb, J, N, q), ``m`` and ``S`` (Rb, J)
        of :func:`_node_weights` and the posterior weights (Rb, J, N), at
        ``eta_ik = eta_i(hat v) + D_i' B x_k``; sets each row's ``abar_i =
        sum_k p_k d1_ik`` (Rb, n).

        Blocks of problems (:func:`_blocks`), one node at a time: arrays of
        a block's rows, not ``N`` times that.
        """
        obj = self.obj
        q, N, n = obj.q, len(obj.logw), len(obj.y)
        Rb, J = B.shape[:2]
        # D_i' B x_k = s_i' x_k, s_i = B_g(i)' D_i
        if q == 1:
            srow = self.D[:, 0, :] * np.repeat(B[..., 0, 0], obj.sizes, axis=1)  # (Rb, n)
        else:
            srow = np.einsum("rai,riab->rbi", self.D, np.repeat(B, obj.sizes, axis=1))
        An, T = np.empty((Rb, J, N)), np.empty((Rb, J, N, q))
        m, S, post = np.empty((Rb, J)), np.empty((Rb, J)), np.empty((Rb, J, N))
        self.abar = np.empty((Rb, n))
        wz = np.atleast_2d(self.w)[:, None, :] * obj.Zt  # (1 or Rb, q, n)
        for sl in _blocks(Rb, n * q):
            w, d1s = _rows(self.w, sl), []
            for k, x in enumerate(obj.nodes):
                if not x.any():  # the mode itself (odd n_quad): its rows are known
                    ll, d1 = self.ll[sl], self.d1[sl]
                else:
                    shift = srow[sl] * x[0] if q == 1 else np.einsum("rbi,b->ri", srow[sl], x)
                    ll, d1, _ = obj.family.derivs(obj.y, self.eta[sl] + shift)
                An[sl, :, k] = np.add.reduceat(w * ll, obj.starts, axis=-1)
                if not np.isfinite(np.sum(d1)):  # a node where the density overflows
                    d1 = np.where(np.isfinite(d1), d1, 0.0)
                sums = np.add.reduceat(d1[:, None, :] * _rows(wz, sl), obj.starts, axis=-1)
                T[sl, :, k] = np.moveaxis(sums, 1, -1)
                d1s.append(d1)
            m[sl], S[sl], post[sl] = _node_weights(obj.logw, An[sl], V[sl])
            self.abar[sl] = 0.0
            for k, d1 in enumerate(d1s):
                self.abar[sl] += np.repeat(post[sl, :, k], obj.sizes, axis=1) * d1
        return T, m, S, post

    # -- curvature and totals ------------------------------------------------------------
    def hessian(self):
        """Per group, the Hessian of ``F(hat v(phi), phi)``, less the fixed
        effects' ``sum_i w_i d2_i x_i x_i'`` (:meth:`totals`)."""
        obj, v = self.obj, self.v
        Hs = np.einsum("rjam,rjan->rjmn", self.Fvp, self.dv)
        Kinv = self.Kinv
        KdK = Kinv[:, :, None] @ self.dK  # (Rb, J, P, q, q)
        Hs += 0.5 * np.einsum("rjmab,rjnba->rjmn", KdK, KdK)
        # -tr(K^{-1} d2K)/2 where d2K moves C and the curvature weights together:
        # d(C' S C)/dC_ab = E_ba S C + C' S E_ab, whose derivative in m adds
        # E_ba dS_m C + C' dS_m E_ab (dS_m: self.inner)
        KCS = Kinv[:, :, None] @ self.Ct[:, :, None] @ self.inner  # (Rb, J, P, q, q)
        for idx, a, b in obj.elements:
            Hs[..., : obj.p, idx] += v[..., b, None] * self.s2zx[..., a, :]
            Hs[..., idx, : obj.p] += v[..., b, None] * self.s2zx[..., a, :]
            Hs[..., :, idx] -= KCS[..., b, a]
            Hs[..., idx, :] -= KCS[..., b, a]
            for idx2, a2, b2 in obj.elements:
                Hs[..., idx, idx2] += (
                    v[..., b] * v[..., b2] * self.s2zz[..., a, a2]
                    - Kinv[..., b, b2] * self.czz[..., a, a2]
                )
        return Hs

    def totals(self, W, A, G, Hs):
        """Sums over the groups weighted by ``W`` (R, J): (R,), (R, P), (R, P, P);
        the fixed effects' row sums ``sum_i W_g(i) w_i (.)_i x_i`` as one
        matrix product per problem."""
        obj = self.obj
        p = obj.p
        Wr = np.repeat(W, obj.sizes, axis=1) * self.w  # (R, n)
        llf = np.einsum("rj,rj->r", W, np.broadcast_to(A, W.shape))
        grad = np.einsum("rj,rjm->rm", W, np.broadcast_to(G, W.shape + G.shape[2:]))
        grad[:, :p] += (Wr * self.abar) @ obj.X
        if Hs is None:
            return llf, grad, None
        hess = np.einsum("rj,rjmn->rmn", W, np.broadcast_to(Hs, W.shape + Hs.shape[2:]))
        hess[:, obj.upper[0], obj.upper[1]] += (Wr * self.d2) @ obj.xx
        hess = np.triu(hess) + np.swapaxes(np.triu(hess, 1), -1, -2)
        return llf, grad, hess
