"""The Laplace approximation of a weighted GLMM at any depth, as lme4 defines it.

All random effects (every level, in spherical coordinates ``u_l = C_l v_l``,
``v ~ N(0, I)``) are moved jointly to their conditional mode, and the
integral is replaced by the Gaussian one with the curvature at the mode
(Bates, Maechler, Bolker and Walker 2015, *Fitting linear mixed-effects
models using lme4*, J. Stat. Softw. 67(1), sections 3.6 and 5; Pinheiro and
Bates 1995, 2000, section 7.1). With unit weights this is exactly lme4's
``glmer(nAGQ=1)`` log-likelihood; with survey weights it is the nested
weighted pseudo-likelihood of WeMix, each level's integral approximated with
the joint mode and the curvature left after its descendants are eliminated.

Notes
-----
Write ``a_j`` for the product of the conditional weights from group ``j``'s
level to the top (``a_g = w_g`` for a top group) and ``a_i = w_{i|j} a_j``
for a row. The weighted joint log integrand is

.. math::

    \\Phi(v) = \\sum_i a_i \\log f(y_i \\mid \\eta_i)
             - \\tfrac12 \\sum_j a_j |v_j|^2,
    \\qquad \\eta_i = x_i'\\beta + o_i + \\sum_l Z_{l,i}' C_l v_{l, g_l(i)},

and the approximation is

.. math::

    \\ell = \\Phi(\\hat v) - \\tfrac12 \\sum_j a_j \\log\\det S_j,

``S_j`` the normalised Schur block of group ``j``: with the element matrix of
a level-2 group ``E_j = I \\oplus 0 + \\sum_{i \\in j} w_{i|j} W_i z_i z_i'``
over (its own ``v``, its ancestors' ``v``) and, above, ``E_p = I \\oplus 0 +
\\sum_{j \\in p} w_{j|p} (E_{j,aa} - E_{j,ao} S_j^{-1} E_{j,oa})``,
``S_j = E_{j,oo}``. ``W_i`` is the GLM working weight (expected information,
as lme4 uses). With unit weights ``\\sum_j \\log\\det S_j`` is the log
determinant of the whole joint curvature ``\\Lambda'Z'WZ\\Lambda + I`` and the
``\\pm q/2 \\log 2\\pi`` of the prior and of the Gaussian integral cancel.

The gradient in ``\\phi = (\\beta, C)`` is exact:
``d\\ell/d\\phi = \\Phi_\\phi - \\tfrac12 (L_\\phi + \\lambda' \\Phi_{v\\phi})``,
``\\lambda = M^{-1} L_v`` (``M = -\\Phi_{vv}``: implicit differentiation of the
mode), ``L_v`` and ``L_\\phi`` through ``W_i(\\eta_i)`` and ``z_i(C)`` with the
adjoint of ``L`` in each element matrix, ``N_j = S_j^{-1} \\oplus 0 + P_j
N_{parent} P_j'``, ``P_j = [-S_j^{-1} E_{j,oa}; I]`` (a selected inverse,
computed top-down).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from ..design.sufficient import group_crossprod, group_sum
from .covariance import CholeskyParameters
from .newton import damped_newton
from .quadrature import Evaluation

__all__ = ["LaplaceObjective", "MODE_STEP_TOL"]

#: The mode search stops after a full Newton step smaller than this (largest
#: change of any spherical random effect); being quadratically convergent, the
#: error left is of the order of its square.
MODE_STEP_TOL = 1e-6


@dataclass
class _Factor:
    """Block elimination of one element system, bottom-up."""

    R: list  # per level, Cholesky factor of S_j (J, q, q)
    K: list  # per level, S_j^{-1} E_{j,oa} (J, q, D_{l+1}); None at the top
    logdet: list  # per level, log det S_j (J,)


@dataclass
class _Point:
    """The random effects ``v``, the linear predictor and the log-density
    derivatives of every row, with each top group's ``Phi_g / w_g``."""

    v: list
    eta: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    d3: np.ndarray
    top: np.ndarray


def _chol_solve(R, b):
    """Solve ``(R R') x = b`` for batched lower-triangular ``R`` (J, q, q), b (J, q, k)."""
    if R.shape[-1] == 1:
        return b / (R[:, 0, 0] ** 2)[:, None, None]
    Rinv = np.linalg.inv(R)
    return np.swapaxes(Rinv, -1, -2) @ (Rinv @ b)


@lru_cache(maxsize=16)
def _upper(D: int) -> tuple:
    """Row and column indices of the upper triangle of a ``D x D`` matrix
    (``np.triu_indices``, made once per size: the mode search asks for them
    at every Newton step)."""
    r, c = np.triu_indices(D)
    r.flags.writeable = c.flags.writeable = False
    return r, c


def _crossprod(Zc, wt, starts):
    """``sum_i wt_i z_i z_i'`` per contiguous group (J, D, D).

    The distinct products as columns summed by ``reduceat`` while they fit in
    about 2**23 cells; bucketed batched products beyond that.
    """
    n, D = Zc.shape
    r, c = _upper(D)
    if n * len(r) > 1 << 23:
        return group_crossprod(Zc, wt, starts)
    sums = np.add.reduceat(Zc[:, r] * Zc[:, c] * wt[:, None], starts, axis=0)
    E = np.empty((len(starts), D, D))
    E[:, r, c] = sums
    E[:, c, r] = sums
    return E


class LaplaceObjective(CholeskyParameters):
    """Weighted Laplace approximation of a GLMM with exact gradients.

    Parameters
    ----------
    design : ModelDesign
    structure : CovarianceStructure
    family : Family

    Notes
    -----
    Parameters ``phi = (beta, c)``, ``c`` lme4's ``theta``: the
    lower-triangular elements of each level's Cholesky factor (of the
    covariance itself, ``sigma = 1``), as in
    :class:`~pywemix.objective.quadrature.QuadratureObjective`. See the module notes for the
    formulas.
    """

    def __init__(self, design, structure, family):
        self.structure = structure
        self.y, self.X, self.offset = design.y, design.X, design.offset
        self.Z, self.w1, self.wg, self.levels = design.Z, design.w1, design.wg, design.levels
        self.q = structure.q
        # phi = (beta, aux, chol); (index in phi, row, column) of each level's
        # Cholesky elements
        self._set_parameters(family, design.X.shape[1])
        L = len(self.levels)
        self.D = [sum(self.q[i:]) for i in range(L)]
        self.child_starts = [
            lev.child_starts(up) for lev, up in zip(self.levels[:-1], self.levels[1:])
        ]
        # weight of each row relative to its top group, a_i / w_g
        rel = self.w1.copy()
        for lev, w in zip(self.levels[:-1], self.wg[:-1]):
            rel = rel * w[lev.codes]
        self.rel_row = rel
        self.top_starts = self.levels[-1].starts
        self._top_of = [self._top_index(li) for li in range(L)]
        self._v = None

    # -- parameters -------------------------------------------------------------
    @property
    def cholesky_layout(self) -> list:
        """Per level, ``(index in phi, row, column)`` of each Cholesky element."""
        return self._cpos

    # -- block elimination ------------------------------------------------------------
    def _factor(self, Zc, wt) -> _Factor:
        """Eliminate the element matrices bottom-up.

        Parameters
        ----------
        Zc : ndarray (n, D_0)
            ``z_i``: derivative of ``eta_i`` in (v_2, v_3, ..., v_top).
        wt : ndarray (n,)
            ``w_{i|j} W_i``.

        Notes
        -----
        ``S_j = E_{j,oo}``, ``K_j = S_j^{-1} E_{j,oa}`` and the parent's element
        ``E_p = I \\oplus 0 + \\sum_j w_{j|p} (E_{j,aa} - E_{j,ao} K_j)``.
        """
        Rs: list = []
        Ks: list = []
        lds: list = []
        E = _crossprod(Zc, wt, self.levels[0].starts)
        for li, q in enumerate(self.q):
            E[:, :q, :q] += np.eye(q)
            R = np.linalg.cholesky(E[:, :q, :q])
            Rs.append(R)
            lds.append(2 * np.sum(np.log(np.diagonal(R, axis1=-2, axis2=-1)), axis=-1))
            if li == len(self.q) - 1:
                Ks.append(None)
                break
            K = _chol_solve(R, E[:, :q, q:])
            Ks.append(K)
            schur = E[:, q:, q:] - np.swapaxes(E[:, :q, q:], -1, -2) @ K
            E = group_sum(self.wg[li][:, None, None] * schur, self.child_starts[li])
        return _Factor(Rs, Ks, lds)

    def _solve(self, fac, Zc, s, own=None):
        """Solve ``M x = b`` with the right side given by elements.

        ``b``'s element at a level-2 group is ``sum_i w_{i|j} s_i z_i`` (s (n,)
        or (n, k)); ``own[l]`` (J_l, q_l[, k]), if given, is added to each
        group's own block at level l. Returns per level the solution (J_l, q_l[, k]).

        Notes
        -----
        Bottom-up ``y_j = S_j^{-1} b_{j,o}``, ``b_p += w_{j|p} (b_{j,a} - K_j' b_{j,o})``;
        top-down ``x_j = y_j - K_j x_{anc(j)}``.
        """
        vec = s.ndim == 1
        s2 = s[:, None] if vec else s
        b = group_sum((self.w1[:, None] * s2)[:, None, :] * Zc[:, :, None], self.levels[0].starts)
        ys = []
        for li, q in enumerate(self.q):
            if own is not None:
                b[:, :q] += own[li][..., None] if vec else own[li]
            y = _chol_solve(fac.R[li], b[:, :q])
            ys.append(y)
            if li < len(self.q) - 1:
                red = b[:, q:] - np.swapaxes(fac.K[li], -1, -2) @ b[:, :q]
                b = group_sum(self.wg[li][:, None, None] * red, self.child_starts[li])
        full = ys[-1]
        xs: list = [None] * len(self.q)
        xs[-1] = ys[-1]
        for li in range(len(self.q) - 2, -1, -1):
            anc = full[self.levels[li].parent]
            xs[li] = ys[li] - fac.K[li] @ anc
            full = np.concatenate([xs[li], anc], axis=1)
        return [x[..., 0] for x in xs] if vec else xs

    def _adjoint(self, fac) -> list:
        """Normalised adjoints ``N_j = d L / d E_j / a_j`` of every level, top-down.

        Notes
        -----
        ``N_top = S^{-1}``; ``N_j = S_j^{-1} \\oplus 0 + P_j N_{parent} P_j'``,
        ``P_j = [-K_j; I]``. With unit weights these are blocks of ``M^{-1}``.
        """
        Ls = len(self.q)
        out: list = [None] * Ls
        eye = [np.eye(q) for q in self.q]
        N = _chol_solve(fac.R[-1], np.broadcast_to(eye[-1], fac.R[-1].shape).copy())
        out[-1] = N
        for li in range(Ls - 2, -1, -1):
            R, K = fac.R[li], fac.K[li]
            Sinv = _chol_solve(R, np.broadcast_to(eye[li], R.shape).copy())
            Na = N[self.levels[li].parent]
            KNa = K @ Na
            oo = Sinv + KNa @ np.swapaxes(K, -1, -2)
            N = np.block([[oo, -KNa], [-np.swapaxes(KNa, -1, -2), Na]])
            out[li] = N
        return out

    # -- the mode ---------------------------------------------------------------------
    def _design(self, phi):
        beta, chol = self.split(phi)
        Cs = self.factors(chol)
        Zc = np.concatenate([Z @ C for Z, C in zip(self.Z, Cs)], axis=1)
        base = self.X @ beta + self.offset
        return Cs, Zc, base

    def _eta(self, base, Zc, v):
        eta, off = base.copy(), 0
        for lev, x, q in zip(self.levels, v, self.q):
            if q == 1:
                eta += Zc[:, off] * x[lev.codes, 0]
            else:
                eta += np.einsum("iq,iq->i", Zc[:, off : off + q], x[lev.codes])
            off += q
        return eta

    def _top_sum(self, row_values, group_values):
        """``sum_i (a_i/w_g) r_i + sum_j (a_j/w_g) g_j`` per top group, bottom-up."""
        acc = group_sum(self.w1 * row_values, self.levels[0].starts) + group_values[0]
        for li in range(1, len(self.q)):
            acc = group_sum(self.wg[li - 1] * acc, self.child_starts[li - 1]) + group_values[li]
        return acc

    def _point(self, base, Zc, v) -> _Point:
        """Everything per row at ``v`` from one call of the family's derivatives."""
        eta = self._eta(base, Zc, v)
        ll, d1, d2, d3 = self.family.derivs(self.y, eta, order=3)
        top = self._top_sum(ll, [-0.5 * np.sum(x * x, axis=1) for x in v])
        return _Point(v, eta, d1, d2, d3, top)

    def _mode(self, base, Zc) -> _Point:
        """Joint conditional mode by damped Newton steps, one problem per top group.

        Starts from the stored modes (those of the previous evaluation, or
        the warm start set by :meth:`warm_start`).

        Notes
        -----
        :func:`~pywemix.objective.newton.damped_newton` on the top groups
        (independent problems; the steps of all of them come from one solve
        of ``M s = Phi_v``, ``M = -Phi_vv``). A trial point is accepted when
        its group's ``Phi_g`` does not decrease (up to ``1e-13`` relative).
        Newton's method converges quadratically here, so once every step is
        below ``MODE_STEP_TOL`` the full step is taken unchecked and leaves
        an error of the order of its square.
        """
        v = self._v
        if v is None or not all(np.isfinite(x).all() for x in v):
            v = [np.zeros((lev.n_groups, q)) for lev, q in zip(self.levels, self.q)]
        top_of = self._top_of

        def direction(pt, active):
            fac = self._factor(Zc, self.w1 * -pt.d2)
            step = self._solve(fac, Zc, pt.d1, own=[-x for x in pt.v])
            every = active.all()
            size = max(
                float(np.max(np.abs(s if every else s[active[tp]]), initial=0.0))
                for s, tp in zip(step, top_of)
            )
            return step, np.full(active.shape, size < MODE_STEP_TOL)

        def move(pt, step, t):
            return [x + t[tp][:, None] * s for x, s, tp in zip(pt.v, step, top_of)]

        def accept(new, old):
            return new.top >= old.top - 1e-13 * np.abs(old.top)

        start = self._point(base, Zc, v)
        bad = ~np.isfinite(start.top)
        if bad.any():  # a warm start where the density is not defined (e.g. the
            # gamma inverse link's eta <= 0): those top groups start at 0
            v = [np.where(bad[tp][:, None], 0.0, x) for x, tp in zip(v, top_of)]
            start = self._point(base, Zc, v)
        pt, _ = damped_newton(
            lambda x, pending, k: self._point(base, Zc, x),
            start,
            direction,
            accept,
            np.ones(self.levels[-1].n_groups, dtype=bool),
            move=move,
            merge=self._merge,
            max_iter=100,
            halvings=40,
            final_step=True,
        )
        self._v = [x.copy() for x in pt.v]
        return pt

    def _merge(self, old, new, ok) -> _Point:
        """``new`` in the top groups where ``ok``, ``old`` elsewhere."""
        v = [np.where(ok[tp][:, None], xn, xo) for xo, xn, tp in zip(old.v, new.v, self._top_of)]
        rows = ok[self._top_of[0]][self.levels[0].codes]
        eta, d1, d2, d3 = (
            np.where(rows, a, b)
            for a, b in zip((new.eta, new.d1, new.d2, new.d3), (old.eta, old.d1, old.d2, old.d3))
        )
        return _Point(v, eta, d1, d2, d3, np.where(ok, new.top, old.top))

    @property
    def modes(self) -> list | None:
        """The stored conditional modes ``v`` (warm start of the next evaluation)."""
        return None if self._v is None else [x.copy() for x in self._v]

    def warm_start(self, v) -> None:
        """Start the next mode search at ``v`` (per level, (J_l, q_l))."""
        self._v = None if v is None else [np.array(x, dtype=float) for x in v]

    def _top_index(self, li):
        idx = np.arange(self.levels[li].n_groups)
        for lev in self.levels[li:-1]:
            idx = lev.parent[idx]
        return idx

    def _rows(self, x):
        """Each row's concatenation (x_2[g_2(i)], x_3[g_3(i)], ...) of per-level values."""
        full = x[-1]
        for li in range(len(self.q) - 2, -1, -1):
            full = np.concatenate([x[li], full[self.levels[li].parent]], axis=1)
        return full[self.levels[0].codes]

    def _state(self, phi):
        Cs, Zc, base = self._design(phi)
        return Cs, Zc, self._mode(base, Zc)

    def _weight(self, pt):
        """Laplace curvature weight ``W`` and ``dW/deta`` at a point (from its
        derivatives when the link is canonical)."""
        if self.family.observed_curvature:
            return -pt.d2, -pt.d3
        return self.family.laplace_weight(self.y, pt.eta)

    # -- value and gradient -----------------------------------------------------------
    def evaluate(
        self, phi, adapt: bool = True, derivs: bool = True, hessian: bool = False
    ) -> Evaluation:
        """Laplace pseudo-log-likelihood at ``phi = (beta, c)`` and its exact gradient.

        Parameters
        ----------
        phi : array_like (P,)
        adapt : bool
            Ignored (the modes are always recomputed); for the interface of
            :class:`~pywemix.objective.quadrature.QuadratureObjective`.
        derivs : bool
            Also the gradient and the per-top-group gradients.
        hessian : bool
            Also the Hessian, by central differences of the exact gradient
            (for standard errors only).

        Returns
        -------
        Evaluation
            ``group_A`` and ``group_grad`` are per top group, not multiplied by
            its weight ``w_g``: ``llf = w @ group_A``.
        """
        phi = np.asarray(phi, dtype=float)
        Cs, Zc, pt = self._state(phi)
        W, dW = self._weight(pt)
        fac = self._factor(Zc, self.w1 * W)
        A = pt.top - 0.5 * self._top_sum(np.zeros_like(pt.eta), fac.logdet)
        w = self.wg[-1]
        if not derivs:
            return Evaluation(float(w @ A), None, None, A, None)
        G = self._group_gradient(Zc, pt, W, dW, fac)
        ev = self.unconstrained(Evaluation(float(w @ A), w @ G, None, A, G))
        if hessian:
            ev = replace(ev, hess=self._hessian(phi, self.modes))
        return ev

    def _group_gradient(self, Zc, pt, W, dW, fac):
        """Exact gradient of each top group's value in ``phi`` (G, P), unweighted.

        Notes
        -----
        Per row, with ``h_i = z_i' N_j z_i``, ``lambda = M^{-1} L_v`` (``L_v``'s
        element rows ``w_{i|j} h_i W_i' z_i``), ``xi_i = z_i' lambda`` and
        ``alpha_i = d1_i - h_i W_i'/2 - d2_i xi_i/2``:
        ``d/d beta = sum_i a_i alpha_i x_i`` and
        ``d/d C_l[r, c] = sum_i a_i Z_{l,i,r} (alpha_i v_c - d1_i lambda_c/2
        - W_i (N_j z_i)_c)``, ``v_c``, ``lambda_c`` of row i's level-l group.
        The family's auxiliary parameters ``t`` (with the observed curvature
        ``W = -d2``) enter the log density, the curvature and the mode:
        ``d/dt = sum_i a_i (l_{t,i} + h_i d2_{t,i} / 2 - d1_{t,i} xi_i / 2)``
        (then in the unconstrained ``phi`` by :meth:`unconstrained`).
        """
        v, d1, d2 = pt.v, pt.d1, pt.d2
        facM = fac if self.family.observed_curvature else self._factor(Zc, self.w1 * -d2)
        Nz = self._adjoint_rows(fac, Zc)
        h = np.einsum("id,id->i", Zc, Nz)
        lam = self._rows(self._solve(facM, Zc, h * dW))
        xi = np.einsum("id,id->i", Zc, lam)
        V = self._rows(v)
        alpha = d1 - 0.5 * h * dW - 0.5 * d2 * xi
        rows = np.empty((len(d1), self.P))
        rows[:, : self.p] = alpha[:, None] * self.X
        off = 0
        for li, entries in enumerate(self._cpos):
            for idx, r, c in entries:
                k = off + c
                rows[:, idx] = self.Z[li][:, r] * (
                    alpha * V[:, k] - 0.5 * d1 * lam[:, k] - W * Nz[:, k]
                )
            off += self.q[li]
        if self.k:  # the family's auxiliary parameters: through l, W and the mode
            la, l1a, l2a, _ = self.family.aux_derivs(self.y, pt.eta)
            # W = -d2 (observed curvature), so dW/da = -d2_a
            rows[:, self.p : self.p + self.k] = (
                la + 0.5 * h[:, None] * l2a - 0.5 * xi[:, None] * l1a
            )
        return group_sum(self.rel_row[:, None] * rows, self.top_starts)

    def _adjoint_rows(self, fac, Zc):
        """``N_j z_i`` for every row (n, D_0), one column at a time."""
        N0 = self._adjoint(fac)[0]
        codes = self.levels[0].codes
        out = np.empty_like(Zc)
        for a in range(Zc.shape[1]):
            out[:, a] = np.einsum("id,id->i", N0[codes, a, :], Zc)
        return out

    def hessian(self, phi, rel_step: float = 1e-4) -> np.ndarray:
        """Hessian by central differences of the exact gradient (standard errors only)."""
        phi = np.asarray(phi, dtype=float)
        self._state(phi)
        return self._hessian(phi, self.modes, rel_step)

    def _hessian(self, phi, v0, rel_step: float = 1e-4) -> np.ndarray:
        """Central differences of the gradient around ``phi`` (modes ``v0``).

        Every evaluation starts its mode search from ``v0``, the one at
        ``phi - e`` from the reflection ``2 v0 - v(phi + e)`` (exact to second
        order in ``e``); the stored modes are ``v0`` again at the end.
        """
        h = rel_step * np.maximum(np.abs(phi), 0.1)
        H = np.empty((self.P, self.P))
        for k in range(self.P):
            e = np.zeros(self.P)
            e[k] = h[k]
            self.warm_start(v0)
            up = self.evaluate(phi + e).grad
            assert up is not None and self._v is not None  # derivs=True; modes set
            self.warm_start([2 * a - b for a, b in zip(v0, self._v)])
            H[:, k] = (up - self.evaluate(phi - e).grad) / (2 * h[k])
        self.warm_start(v0)
        return 0.5 * (H + H.T)

    # -- random effects -----------------------------------------------------------------
    def conditional_modes(self, phi, variances: bool = False):
        """Joint conditional modes ``u_l = C_l v_l`` of every level (lme4's ``ranef``).

        With ``variances=True`` also their conditional variances
        ``C_l N_{j,oo} C_l'`` (with unit weights, lme4's ``condVar``: diagonal
        blocks of the inverse joint curvature).
        """
        phi = np.asarray(phi, dtype=float)
        Cs, Zc, pt = self._state(phi)
        out = [x @ C.T for x, C in zip(pt.v, Cs)]
        if not variances:
            return out
        W, _ = self._weight(pt)
        Ns = self._adjoint(self._factor(Zc, self.w1 * W))
        var = [np.einsum("ab,jbc,ac->ja", C, N[:, :q, :q], C) for C, N, q in zip(Cs, Ns, self.q)]
        return out, var

    def conditional_means(self, phi) -> list:
        """The conditional modes (the Laplace approximation's posterior means)."""
        return self.conditional_modes(phi)
