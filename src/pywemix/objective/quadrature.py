"""Adaptive Gauss-Hermite quadrature objective for non-Gaussian families.

One objective for every family (a :class:`~pywemix.objective.families.Family` object
supplies the log density and its derivatives). Random effects are
integrated level by level from the lowest up, each group's nodes centred at
its conditional mode and scaled by the curvature there (WeMix vignette,
Appendix A; Rabe-Hesketh, Skrondal and Pickles 2002, 2005). R equivalents:
WeMix's ``mix(family=binomial())``, lme4's ``glmer(nAGQ=)`` for two levels.

Notes
-----
With ``u_l = C_l v_l`` and ``v_l ~ N(0, I)``, the contribution of a group
``j`` at level ``l`` given the effects above it is

.. math::

    A_j = \\log \\int \\phi(v) \\exp\\Big(\\sum_{c \\in j} w_c A_c(v)\\Big) dv
        \\approx \\log|B_j| - \\tfrac{q}{2}\\log 2\\pi
        + \\operatorname{LSE}_k \\big[\\log \\omega_k + |x_k|^2 - \\tfrac12|v_k|^2
        + \\textstyle\\sum_c w_c A_c(v_k)\\big],

``v_k = \\hat v_j + B_j x_k``, ``B_j = \\sqrt2 R_j^{-T}``, ``R_j R_j'`` the
negative Hessian at the mode ``\\hat v_j``; at level 2 the children are the
observations with ``A_i = \\log f(y_i \\mid \\eta_i)``. The total is
``sum_g w_g A_g`` over the top-level groups. Derivatives in the parameters
``(beta, C)`` with the nodes held fixed follow from the posterior weights of
the nodes (the Fisher and Louis identities), level by level; they give the
Newton steps, the per-group scores for the sandwich and the information.
All sums over nodes are in log space, so survey-scale weights cannot
overflow; nodes where the log density overflows get posterior weight 0 and
add nothing to the derivatives, so more nodes never break an evaluation.

Node placement and accuracy. Every group's nodes are centred at its
conditional mode *given the node of each level above* (for a three-level
model, the schools' nodes are re-centred for every district node). The modes
are solved to ``MODE_TOL`` (level 2; Newton steps judged by the decrement
once the value stops resolving progress) or to ``MODE_TOL_UPPER`` (above,
where the gradient is the children's fixed-node gradient and its root is
taken as the centre), which makes the approximation a smooth function of the
parameters. WeMix's vignette (Appendix A, "Calculation of Conditional Mode")
finds the level-2 modes with the effects above set to zero and then uses them
for the level-3 integral, i.e. the level-2 nodes do not follow the level-3
nodes. Checked against brute force (a fine trapezoid grid over each effect,
no adaptation):

* two levels, 20 groups, survey-scale conditional level-1 weights (~1e3),
  error of the objective (about -4.7e5) with 5/13/30/60 nodes: probit
  -2e-2/-1e-4/-3e-8/5e-10, cloglog -0.16/-5e-3/-3e-5/-3e-8; logit, against
  60 nodes, -2.4e-4/<1e-9/<1e-9 (every group agreeing with brute force to
  1e-11). The slow settling of cloglog is real quadrature error: groups
  whose responses are all 0 (or 1) have skewed, one-sided integrands that no
  Gaussian-centred rule integrates in few nodes; it converges monotonically.
* three levels (12 schools in 4 districts, unit-scale weights, probit),
  error of the objective (about -307): 5 nodes, pywemix's placement -1.0e-2,
  WeMix-style placement (school nodes fixed at the modes given a district
  effect of zero) -3.5e-2; 13 nodes -1.4e-6 against -2.0e-6. Re-centring the
  lower level at every upper node is the more accurate, the more so the
  larger the upper-level variance relative to the posterior spread of the
  lower effects (survey-scale level-1 weights make that spread small).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..design.sufficient import group_sum
from . import adapted_gradient as _adapted
from .covariance import CholeskyParameters
from .gausshermite import grid
from .newton import cap_length, damped_newton

__all__ = ["QuadratureObjective", "Evaluation", "newton_modes"]

_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)
#: Level 2 with one effect per group is computed with the rows last
#: (:meth:`QuadratureObjective._rows_last`): the same numbers, faster; off
#: only to test that they are the same.
ROWS_LAST = True
#: Rows per block of the log density at every node (arrays of rows x nodes
#: doubles that stay in the processor's cache).
ROW_BLOCK = 2048


@dataclass
class _Level:
    A: np.ndarray  # (J, K) log integrals
    G: np.ndarray | None  # (J, K, P) gradients
    H: np.ndarray | None  # (J, K, P, P) Hessians
    post: np.ndarray  # (J, K, N) posterior weights of the nodes
    V: np.ndarray  # (J, K, N, q) nodes in v-space


@dataclass(frozen=True)
class Evaluation:
    """Value and fixed-node derivatives of the pseudo-log-likelihood."""

    llf: float
    grad: np.ndarray | None  # None with derivs=False
    hess: np.ndarray | None
    group_A: np.ndarray  # (G,) top-group log integrals (unweighted)
    group_grad: np.ndarray | None  # (G, P) their gradients (unweighted)


class QuadratureObjective(CholeskyParameters):
    """Weighted pseudo-likelihood of a GLMM by nested adaptive quadrature.

    Parameters
    ----------
    design : ModelDesign
    structure : CovarianceStructure
    family : Family
    n_quad : int
        Nodes per random effect (``n_quad ** q`` per group). One node at two
        levels is the Laplace approximation; above two levels use
        :class:`~pywemix.objective.laplace.LaplaceObjective` (lme4's joint
        Laplace approximation), as
        :func:`~pywemix.objective.make.make_objective` does for ``n_quad=1``
        (fitted by :func:`~pywemix.estimation.glmm.optimize_quadrature`).
    """

    def __init__(self, design, structure, family, n_quad: int):
        self.n_quad = int(n_quad)
        self.structure = structure
        self.y = design.y
        self.X = design.X
        self.offset = design.offset
        self.Z = design.Z
        self.w1 = design.w1
        self.wg = design.wg
        self.levels = design.levels
        self.q = structure.q
        # phi = (beta, aux, chol); (index in phi, row, column) of each level's
        # Cholesky elements
        self._set_parameters(family, design.X.shape[1])
        self.child_starts = [
            lev.child_starts(up) for lev, up in zip(design.levels[:-1], design.levels[1:])
        ]
        self._store: dict = {}
        self._last: dict = {}

    # -- parameters -----------------------------------------------------------

    # -- modes ---------------------------------------------------------------
    def _rows_last_applies(self, li: int, q: int) -> bool:
        """Whether level ``li`` is computed with the rows last
        (:meth:`_rows_last`, :meth:`_rows_last_pieces`,
        :meth:`_rows_last_params`): level 2 with one effect per group.

        That code differentiates through ``eta`` only. A family with
        auxiliary parameters of its own (``phi = (beta, aux, chol)``, attribute
        ``k`` > 0 where families have them) needs their derivatives too, which
        only the general code adds: such fits take the general code, as do
        binomial counts, whose response has two columns (successes, trials).
        """
        return (
            ROWS_LAST and li == 0 and q == 1 and not getattr(self, "k", 0) and np.ndim(self.y) == 1
        )

    def _mode(self, li, off, Cs):
        lev, Zl, C, q = self.levels[li], self.Z[li], Cs[li], self.q[li]
        J, K = lev.n_groups, off.shape[1]
        dv = Zl @ C  # d eta / d v, (n, q)
        prev = self._store.get(("v", li, K))  # warm start: same level and contexts
        v = prev.copy() if prev is not None and prev.shape == (J, K, q) else np.zeros((J, K, q))
        eye = np.eye(q)
        rows_last = self._rows_last_applies(li, q)
        offT = np.ascontiguousarray(off.T) if rows_last else None

        def pieces(v):
            if rows_last:
                F, g, h = self._rows_last_pieces(offT, dv[:, 0], v[..., 0], lev)
            elif li == 0:
                eta = _effects(dv, v, lev.codes, off)
                ll, d1, d2 = self.family.derivs(self.y[:, None], eta)
                w = self.w1[:, None]
                F = group_sum(_times(ll, w), lev.starts)
                g = group_sum(_times(d1, w)[..., None] * dv[:, None, :], lev.starts)
                h = group_sum(
                    _times(d2, w)[..., None, None] * (dv[:, :, None] * dv[:, None, :])[:, None],
                    lev.starts,
                )
            else:
                eta = _effects(dv, v, lev.codes, off)
                ch = self._level(
                    li - 1, eta, np.broadcast_to(dv[:, None, :], eta.shape + (q,)), Cs, False, True
                )
                cw, cs = self.wg[li - 1], self.child_starts[li - 1]
                F = group_sum(cw[:, None] * ch.A, cs)
                g = group_sum(cw[:, None, None] * ch.G, cs)
                h = group_sum(cw[:, None, None, None] * ch.H, cs)
            F = F - 0.5 * np.sum(v * v, axis=-1)
            return F, g - v, eye - h

        F, g, Hn = pieces(v)
        bad = ~np.isfinite(F)
        if bad.any():  # a warm start where the density is not defined: start at 0
            v = np.where(bad[..., None], 0.0, v)
            F, g, Hn = pieces(v)
        v, Hn = newton_modes(pieces, v, F, g, Hn, exact=li == 0 or self.n_quad == 1)
        self._store[("v", li, K)] = v
        return v, Hn

    # -- integration -----------------------------------------------------------
    def _level(self, li, off, dirs, Cs, param_mode, adapt, derivs=True) -> _Level:
        lev, Zl, C, q = self.levels[li], self.Z[li], Cs[li], self.q[li]
        n, K = off.shape
        if adapt:
            vhat, Hn = self._mode(li, off, Cs)
            R = np.linalg.cholesky(Hn)
            Rinv = np.linalg.inv(R)
            B = np.sqrt(2.0) * np.swapaxes(Rinv, -1, -2)
            logdetB = 0.5 * q * np.log(2.0) - np.sum(
                np.log(np.diagonal(R, axis1=-2, axis2=-1)), axis=-1
            )
            self._store[("nodes", li)] = (vhat, B, logdetB)
        else:
            vhat, B, logdetB = self._store[("nodes", li)]
        nodes, logw = grid(self.n_quad, q)
        N = len(nodes)
        V = vhat[:, :, None, :] + np.einsum("jkab,sb->jksa", B, nodes)
        P = dirs.shape[-1]
        if self._rows_last_applies(li, q):  # one effect per group: rows last
            if derivs and param_mode:
                An, moments = self._rows_last_params(off, V, C, dirs, lev)
            else:
                An, moments = self._rows_last(off, (V @ C.T)[..., 0], lev, dirs if derivs else None)
            return self._integrate(q, logw, An, V, logdetB, moments, li)
        eta = _effects(Zl, V @ C.T, lev.codes, off[:, :, None])
        full = np.broadcast_to(dirs[:, :, None, :], (n, K, N, P))
        if param_mode and derivs:
            full = full.copy()
            Vr = V[lev.codes]
            for idx, r, col in self._cpos[li]:
                full[..., idx] += Zl[:, r, None, None] * Vr[..., col]
        if li == 0:
            if derivs:
                ll, d1, d2 = self.family.derivs(self.y[:, None, None], eta)
            else:
                ll = self.family.loglik(self.y[:, None, None], eta)
            w = self.w1[:, None, None]
            An = group_sum(_times(ll, w), lev.starts)
            aux = None
            if derivs:
                g = group_sum(_times(d1, w)[..., None] * full, lev.starts)
                wd2 = _times(d2, w)
                h = None  # summed over the nodes with their posterior weights below
                if param_mode and self.k:  # the family's auxiliary parameters
                    aux = self._aux_rows(eta, w)
                    g[..., self.p : self.p + self.k] += group_sum(aux[0], lev.starts)
        else:
            ch = self._level(
                li - 1,
                eta.reshape(n, K * N),
                full.reshape(n, K * N, P),
                Cs,
                param_mode,
                adapt,
                derivs,
            )
            cw, cs = self.wg[li - 1], self.child_starts[li - 1]
            J = lev.n_groups
            An = group_sum(cw[:, None] * ch.A, cs).reshape(J, K, N)
            if derivs:
                g = group_sum(cw[:, None, None] * ch.G, cs).reshape(J, K, N, P)
                h = group_sum(cw[:, None, None, None] * ch.H, cs).reshape(J, K, N, P, P)
        moments = None
        if derivs and li == 0:

            def moments(post):
                return _level1_moments(post, g, wd2, full, lev, aux, self.p)
        elif derivs:

            def moments(post):
                return _posterior_moments(post, g, h)

        return self._integrate(q, logw, An, V, logdetB, moments, li)

    def _integrate(self, q, logw, An, V, logdetB, moments, li) -> _Level:
        """The level's log integrals from the node values ``An`` (J, K, N),
        and their derivatives from ``moments(post)`` (None: without)."""
        t = logw + An - 0.5 * np.sum(V * V, axis=-1)
        t[np.isnan(t)] = -np.inf  # a node where the density under/overflows adds nothing
        m = np.max(t, axis=-1, keepdims=True)
        e = np.exp(t - m)
        S = np.sum(e, axis=-1)
        A = logdetB - q * _HALF_LOG_2PI + m[..., 0] + np.log(S)
        post = e / S[..., None]
        G, H = moments(post) if moments is not None else (None, None)
        self._last[li] = (post, V)
        return _Level(A, G, H, post, V)

    def _rows_last_loglik(self, Ut, offT, lev):
        """``sum_i w_i log f(y_i | eta_i)`` of every group, context and node
        (J, K, N), from the effects ``Ut`` (K, N, J): in blocks of whole groups
        of about ``ROW_BLOCK`` rows, whose arrays stay in the processor's cache
        through the dozen passes of the log density (each group's sum is the
        one over all rows at once)."""
        K, N, J = Ut.shape
        out = np.empty((K, N, J))
        z, y, w, starts = self.Z[0][:, 0], self.y, self.w1, lev.starts
        for g0, g1 in _group_blocks(starts, len(y), ROW_BLOCK):
            r0 = starts[g0]
            r1 = starts[g1] if g1 < J else len(y)
            eta = np.repeat(Ut[..., g0:g1], np.diff(np.r_[starts[g0:g1], r1]), axis=-1)
            eta *= z[r0:r1]
            eta += offT[..., r0:r1]
            ll = self.family.loglik(y[r0:r1], eta)
            ll *= w[r0:r1]
            out[..., g0:g1] = np.add.reduceat(ll, starts[g0:g1] - r0, axis=-1)
        return out.transpose(2, 0, 1)

    def _rows_last_pieces(self, offT, z, v, lev):
        """Log integrand pieces ``(F, g, h)`` of level 2 with one effect per
        group (before the prior terms), from the contexts' offsets ``offT``
        (K, n), ``d eta / d v`` per row ``z`` (n,) and the effects ``v`` (J, K).

        The numbers of the general code (the same products, and group sums
        that numpy adds up the same way along either axis), computed with the
        rows last: every pass over the (K, n) arrays is one long loop instead
        of n short broadcasts, and the group sums run over contiguous memory.
        """
        eta = _by_row(np.ascontiguousarray(v.T), lev)  # (K, n)
        eta *= z
        eta += offT
        ll, d1, d2 = self.family.derivs(self.y, eta)
        w = self.w1
        F = np.add.reduceat(_times(ll, w), lev.starts, axis=-1)
        g = np.add.reduceat(_times(_times(d1, w), z), lev.starts, axis=-1)
        h = np.add.reduceat(_times(_times(d2, w), z * z), lev.starts, axis=-1)
        return F.T, g.T[..., None], h.T[..., None, None]

    def _rows_last(self, off, U, lev, dirs=None):
        """Level 2 with one effect per group, rows last (:meth:`_rows_last_pieces`).

        Returns each group's ``sum_i w_i log f(y_i | eta_i)`` at every
        context and node, (J, K, N), for the effects ``U`` (J, K, N); with
        ``dirs`` (n, K, 1), the derivative of every row's ``eta`` in one
        direction, also ``moments(post)`` giving the level's derivatives in
        that direction, as :func:`_level1_moments` does.
        """
        Ut = np.ascontiguousarray(U.transpose(1, 2, 0))  # (K, N, J)
        offT = off.T[:, None, :]
        if dirs is None:
            return self._rows_last_loglik(Ut, offT, lev), None
        eta = _by_row(Ut, lev)
        eta *= self.Z[0][:, 0]
        eta += offT
        w = self.w1
        ll, d1, d2 = self.family.derivs(self.y, eta)
        An = np.add.reduceat(_times(ll, w), lev.starts, axis=-1).transpose(2, 0, 1)
        d = np.ascontiguousarray(dirs[:, :, 0].T)[:, None, :]  # (K, 1, n)
        g = np.add.reduceat(_times(_times(d1, w), d), lev.starts, axis=-1)
        g = g.transpose(2, 0, 1)[..., None]  # (J, K, N, 1)
        wd2 = _times(d2, w)

        def moments(post):
            return _rows_last_moments(post, g, wd2, d, lev)

        return An, moments

    def _rows_last_params(self, off, V, C, dirs, lev):
        """:meth:`_rows_last` with the derivatives in all parameters ``dirs``
        (n, K, P), as the general code's ``_level1_moments``: the gradients
        are the same numbers; in the posterior mean of the node Hessians, the
        directions that do not vary over a group's nodes (all but this level's
        Cholesky element) are taken out of the node sums, so the sums cost a
        few passes instead of one product of P x P matrices per row and
        context (the same value up to the order of the additions)."""
        z, w, P = self.Z[0][:, 0], self.w1, dirs.shape[-1]
        Vt = _by_row(np.ascontiguousarray(V[..., 0].transpose(1, 2, 0)), lev)  # (K, N, n)
        eta = _by_row(np.ascontiguousarray((V @ C.T)[..., 0].transpose(1, 2, 0)), lev)
        eta *= z
        eta += off.T[:, None, :]
        ll, d1, d2 = self.family.derivs(self.y, eta)
        An = np.add.reduceat(_times(ll, w), lev.starts, axis=-1).transpose(2, 0, 1)
        D = np.ascontiguousarray(dirs.transpose(2, 1, 0))[:, :, None, :]  # (P, K, 1, n)
        vary = {}
        for idx, _, _ in self._cpos[0]:  # d eta / d c = dirs + z v at every node
            zv = Vt * z
            zv += D[idx]
            vary[idx] = zv
        wd1 = _times(d1, w)
        g = np.stack(
            [np.add.reduceat(wd1 * vary.get(p, D[p]), lev.starts, axis=-1) for p in range(P)],
            axis=-1,
        ).transpose(2, 0, 1, 3)  # (J, K, N, P)
        wd2 = _times(d2, w)

        def moments(post):
            return _rows_last_param_moments(post, g, wd2, D[:, :, 0], vary, lev)

        return An, moments

    def evaluate(self, phi, adapt: bool = True, derivs: bool = True) -> Evaluation:
        """Pseudo-log-likelihood at ``phi = (beta, c)`` and its fixed-node derivatives.

        ``adapt=True`` re-centres the nodes at the conditional modes;
        ``adapt=False`` reuses the nodes of the last adaptive evaluation.
        """
        beta, chol = self.split(phi)
        Cs = self.factors(chol)
        off = (self.X @ beta + self.offset)[:, None]
        dirs = np.zeros((len(self.y), 1, self.P))
        dirs[:, 0, : self.p] = self.X
        top = len(self.levels) - 1
        res = self._level(top, off, dirs, Cs, True, adapt, derivs)
        w = self.wg[top]
        A = res.A[:, 0]
        llf = float(w @ A)
        if not derivs:
            return Evaluation(llf, None, None, A, None)
        assert res.G is not None and res.H is not None  # derivs=True
        G = res.G[:, 0]
        return self.unconstrained(
            Evaluation(llf, w @ G, np.einsum("g,gab->ab", w, res.H[:, 0]), A, G)
        )

    def adapted_gradient(self, phi, derivs: bool = False):
        """The evaluation at ``phi`` (with the fixed-node derivatives if
        ``derivs``) and the per-top-group gradients ``(G, P)`` of the adapted
        log integrals, the nodes' movement included
        (:mod:`~pywemix.objective.adapted_gradient`); None where that exact
        gradient is not available (then the search takes differences), or
        ``(evaluation, None)`` where it is not finite."""
        inner = self._internals()
        if not _adapted.applies(self, inner):
            return None
        return _adapted.adapted_group_gradient(self, inner, phi, derivs)

    def has_adapted_gradient(self) -> bool:
        """Whether :meth:`adapted_gradient` is available (three levels, one
        effect per level, more than one node, no family parameters)."""
        return _adapted.applies(self, self._internals())

    def _internals(self):
        return _adapted.Internals(
            self._mode,
            self._cpos,
            lambda: self._store[("v", 1, 1)][:, 0, 0],
            self._rows_last_applies(0, 1),
        )

    def _aux_rows(self, eta, w):
        """Weighted derivatives of each row's log density in the family's
        auxiliary parameters at every node: ``w l_a``, ``w d1_a``, ``w l_aa``."""
        la, l1a, _, laa = self.family.aux_derivs(self.y[:, None, None], eta)
        return w[..., None] * la, w[..., None] * l1a, w[..., None, None] * laa

    # -- random effects -----------------------------------------------------------
    def conditional_modes(self, phi, variances: bool = False):
        """Modes of each level's effects given the modes of the levels above.

        With ``variances=True`` also returns the conditional variances from
        the curvature at the mode (inverse negative Hessian).
        """
        beta, chol = self.split(phi)
        Cs = self.factors(chol)
        off = self.X @ beta + self.offset
        out = [None] * len(self.levels)
        var = [None] * len(self.levels)
        for li in range(len(self.levels) - 1, -1, -1):
            for key in [k for k in self._store if k[:2] == ("v", li)]:
                del self._store[key]
            v, Hn = self._mode(li, off[:, None], Cs)
            u = v[:, 0, :] @ Cs[li].T
            out[li] = u
            cov_v = np.linalg.inv(Hn[:, 0])
            var[li] = np.einsum("ab,jbc,ac->ja", Cs[li], cov_v, Cs[li])
            off = off + np.einsum("iq,iq->i", self.Z[li], u[self.levels[li].codes])
        return (out, var) if variances else out

    def node_posteriors(self, li: int):
        """(posterior weights, nodes) of level ``li`` from the last evaluation:
        arrays (J, K, N) and (J, K, N, q)."""
        return self._last[li]

    def conditional_means(self, phi) -> list:
        """Posterior means of each level's effects (WeMix Appendix A, eq. 26)."""
        self.evaluate(phi, adapt=True, derivs=False)
        Cs = self.factors(self.split(phi)[1])
        L = len(self.levels)
        out = [None] * L
        weight = np.ones((self.levels[-1].n_groups, 1))  # posterior of each context
        for li in range(L - 1, -1, -1):
            post, V = self._last[li]
            J, K, N, q = V.shape
            mean_v = np.einsum("jk,jks,jksq->jq", weight, post, V)
            out[li] = mean_v @ Cs[li].T
            if li > 0:
                ctx = (weight[:, :, None] * post).reshape(J, K * N)
                weight = ctx[self.levels[li - 1].parent]
        return out


#: A group's mode is found when its Newton step is below this (v is N(0, I)
#: a priori, so this is an absolute accuracy), far below what moves the nodes.
MODE_TOL = 1e-12
#: The same above level 2, where the gradient is the children's quadrature's.
MODE_TOL_UPPER = 1e-10


def _capped_step(Hn, g):
    """Newton steps ``Hn^{-1} g``, each no longer than 5 (prior sd units); 0
    where the pieces overflowed (such trial points are rejected anyway)."""
    bad = ~(np.isfinite(Hn).all(axis=(-2, -1)) & np.isfinite(g).all(axis=-1))
    if bad.any():
        Hn = np.where(bad[..., None, None], np.eye(Hn.shape[-1]), Hn)
        g = np.where(bad[..., None], 0.0, g)
    try:
        step = _solve(Hn, g)
    except np.linalg.LinAlgError:
        step = np.einsum("...ab,...b->...a", np.linalg.pinv(Hn), g)
    return cap_length(step, 5.0)


class _ModeState(NamedTuple):
    """Every (group, context)'s point ``x`` with its log integrand ``F``,
    gradient ``g``, negative Hessian ``Hn``, Newton step and decrement."""

    x: np.ndarray
    F: np.ndarray
    g: np.ndarray
    Hn: np.ndarray
    step: np.ndarray
    dec: np.ndarray


def _mode_state(v, F, g, Hn) -> _ModeState:
    step = _capped_step(Hn, g)
    return _ModeState(v, F, g, Hn, step, np.sum(g * step, axis=-1))


def newton_modes(pieces, v, F, g, Hn, exact=True):
    """Maximise every group's log integrand at once by damped Newton steps.

    Parameters
    ----------
    pieces : callable
        ``v -> (F, g, Hn)``: log integrand, its gradient and negative Hessian
        in ``v`` for every (group, context).
    v, F, g, Hn : arrays
        The start and its pieces.
    exact : bool
        Whether ``g`` is the gradient of ``F``. If not (above level 2 with
        more than one node, where ``g`` is the children's fixed-node
        gradient), the iteration solves ``g = 0``: a step is accepted when the
        Newton decrement falls, whatever ``F`` does.

    Returns
    -------
    v, Hn
        The modes and the negative Hessians there.

    Notes
    -----
    :func:`~pywemix.objective.newton.damped_newton` with one problem per
    (group, context). A step is accepted when the log integrand increases,
    or when it stays within rounding of its value and the Newton decrement
    ``g' Hn^{-1} g`` falls: close to the mode the value no longer resolves
    progress (its changes are below its rounding error) but the gradient
    does, so Newton's quadratic convergence carries every mode to
    ``MODE_TOL``: a group has converged when its step is below ``MODE_TOL
    (1 + max|v|)``. Modes solved to machine precision make the adaptive
    approximation a smooth, deterministic function of the parameters
    (whatever the start), which its finite-difference derivatives need.
    Above level 2 the gradient comes from the children's quadrature with
    their nodes held fixed, which leaves out how their nodes move with
    ``v``: its root is not quite the maximum of ``F``, so judging steps by
    ``F`` would stop them somewhere between the two, at a point that depends
    on the start and makes the objective rough in the parameters. The root
    of ``g`` is as good a centre and as smooth, and Newton steps on it
    converge to ``MODE_TOL_UPPER``.
    """
    tol = MODE_TOL if exact else MODE_TOL_UPPER

    def direction(st, active):
        size = np.max(np.abs(st.step), axis=-1)
        return st.step, ~(size > tol * (1.0 + np.max(np.abs(st.x), axis=-1)))

    def accept(new, old):
        ok = np.isfinite(new.F) & np.isfinite(new.dec)
        if not exact:
            return ok & (new.dec < old.dec)
        slack = 1e-12 * np.maximum(np.abs(old.F), 1.0)
        return ok & ((new.F > old.F) | ((new.F >= old.F - slack) & (new.dec < old.dec)))

    st, _ = damped_newton(
        lambda x, pending, k: _mode_state(x, *pieces(x)),
        _mode_state(v, F, g, Hn),
        direction,
        accept,
        np.ones(F.shape, dtype=bool),
        max_iter=100,
        halvings=40,
    )
    return st.x, st.Hn


def _posterior_moments(post, g, h):
    """Posterior mean of the node gradients and the Louis Hessian
    ``E[h] + E[g g'] - E[g] E[g]'`` over the nodes.

    Nodes with posterior weight 0 are left out, so the derivatives of the log
    density where it overflows (far-out nodes, many of them with large
    ``n_quad``) cannot turn the sums into ``0 * inf``.
    """
    G = np.einsum("jks,jksp->jkp", post, g)
    H = np.einsum("jks,jksab->jkab", post, h) + np.einsum("jks,jksa,jksb->jkab", post, g, g)
    if not (np.isfinite(G).all() and np.isfinite(H).all()):
        live = post > 0
        g = np.where(live[..., None], g, 0.0)
        h = np.where(live[..., None, None], h, 0.0)
        G = np.einsum("jks,jksp->jkp", post, g)
        H = np.einsum("jks,jksab->jkab", post, h) + np.einsum("jks,jksa,jksb->jkab", post, g, g)
    return G, H - G[..., :, None] * G[..., None, :]


def _level1_moments(post, g, wd2, full, lev, aux=None, start=0):
    """:func:`_posterior_moments` at level 1, where the node Hessians are sums
    over observations, ``h_js = sum_i w_i d2_is x_is x_is'``.

    Their posterior mean is summed per observation over the nodes first
    (``sum_i sum_s p_js w_i d2_is x_is x_is'``), which never forms the
    per-node Hessians (``n_quad`` times fewer products); nodes with posterior
    weight 0 are left out as in :func:`_posterior_moments`. ``aux`` (each
    row's weighted ``l_a``, ``d1_a``, ``l_aa`` at every node)
    adds the terms of the family's auxiliary parameters, which sit at
    ``start, ...`` of the parameters: ``d1_a x'`` (and its transpose) and
    ``l_aa``, whose directions ``x`` are 0.
    """
    live = post > 0
    g = np.where(live[..., None], g, 0.0)
    p_obs = post[lev.codes]
    a = np.where(p_obs > 0, p_obs * wd2, 0.0)
    Eh = group_sum(np.swapaxes(a[..., None] * full, -1, -2) @ full, lev.starts)
    if aux is not None:
        on = p_obs > 0
        pw = np.where(on, p_obs, 0.0)
        l1a = np.where(on[..., None], aux[1], 0.0)
        laa = np.where(on[..., None, None], aux[2], 0.0)
        k = l1a.shape[-1]
        sl = slice(start, start + k)
        cross = group_sum(np.einsum("iks,iksa,iksb->ikab", pw, l1a, full), lev.starts)
        Eh[..., sl, :] += cross
        Eh[..., :, sl] += np.swapaxes(cross, -1, -2)
        Eh[..., sl, sl] += group_sum(np.einsum("iks,iksab->ikab", pw, laa), lev.starts)
    G = np.einsum("jks,jksp->jkp", post, g)
    H = Eh + np.swapaxes(post[..., None] * g, -1, -2) @ g
    return G, H - G[..., :, None] * G[..., None, :]


def _effects(Zl, U, codes, off):
    """``off + sum_a Zl[i, a] U[codes[i], ..., a]``: each row's linear
    predictor given the effects ``U`` (groups, ..., q) of its group."""
    if Zl.shape[1] == 1:  # one effect: no einsum, no gathered (.., 1) copy
        extra = U.ndim - 2
        return off + Zl[(slice(None), 0) + (None,) * extra] * U[..., 0][codes]
    return off + np.einsum("ia,i...a->i...", Zl, U[codes])


def _times(values, w):
    """``w * values``, in place when ``values`` is a fresh array of the full shape."""
    if values.flags.owndata and np.broadcast_shapes(values.shape, w.shape) == values.shape:
        values *= w
        return values
    return w * values


def _by_row(values, lev):
    """``values[..., codes]``: each row's value of its group (last axis), by
    repeating each group's value over its contiguous rows."""
    sizes = np.diff(np.r_[lev.starts, len(lev.codes)])
    return np.repeat(values, sizes, axis=-1)


def _group_blocks(starts, n, rows):
    """Runs ``(g0, g1)`` of whole groups with about ``rows`` rows each."""
    cuts = np.searchsorted(starts, np.arange(rows, n, rows))
    edges = np.unique(np.r_[0, cuts, len(starts)])
    return list(zip(edges[:-1], edges[1:]))


def _rows_last_moments(post, g, wd2, d, lev):
    """:func:`_level1_moments` in one direction ``d`` (K, 1, n), with the
    rows last: ``wd2`` (K, N, n). The node sum of each row's
    ``a_s (d_i)^2`` is added node by node, as the matrix product of the
    general code adds it for one direction."""
    live = post > 0
    g = np.where(live[..., None], g, 0.0)
    p_obs = _by_row(np.ascontiguousarray(post.transpose(1, 2, 0)), lev)
    a = np.where(p_obs > 0, p_obs * wd2, 0.0)
    a *= d
    a *= d
    rows = a[:, 0].copy()
    for s in range(1, a.shape[1]):
        rows += a[:, s]
    Eh = np.add.reduceat(rows, lev.starts, axis=-1).T[..., None, None]  # (J, K, 1, 1)
    G = np.einsum("jks,jksp->jkp", post, g)
    H = Eh + np.swapaxes(post[..., None] * g, -1, -2) @ g
    return G, H - G[..., :, None] * G[..., None, :]


def _rows_last_param_moments(post, g, wd2, D, vary, lev):
    """:func:`_level1_moments` with the rows last, for the directions ``D``
    (P, K, n) constant over a group's nodes except those in ``vary``
    (index -> (K, N, n)): with ``a_s`` the posterior-weighted curvature of
    node s, each row's ``sum_s a_s x_s x_s'`` is ``A0 d d'`` for two constant
    directions, ``(sum_s a_s x_s) d'`` for one varying, ``sum_s a_s x_s x_s'``
    for two varying."""
    live = post > 0
    g = np.where(live[..., None], g, 0.0)
    p_obs = _by_row(np.ascontiguousarray(post.transpose(1, 2, 0)), lev)
    a = np.where(p_obs > 0, p_obs * wd2, 0.0)  # (K, N, n)
    A0 = a.sum(axis=1)
    A1 = {i: (a * x).sum(axis=1) for i, x in vary.items()}
    P = D.shape[0]
    rows = np.empty((P, P) + A0.shape)
    for p in range(P):
        for r in range(p + 1):
            if p in vary and r in vary:
                rows[p, r] = (a * vary[p] * vary[r]).sum(axis=1)
            elif p in vary or r in vary:
                v, c = (p, r) if p in vary else (r, p)
                rows[p, r] = A1[v] * D[c]
            else:
                rows[p, r] = A0 * D[p] * D[r]
            rows[r, p] = rows[p, r]
    Eh = np.add.reduceat(rows, lev.starts, axis=-1).transpose(3, 2, 0, 1)  # (J, K, P, P)
    G = np.einsum("jks,jksp->jkp", post, g)
    H = Eh + np.swapaxes(post[..., None] * g, -1, -2) @ g
    return G, H - G[..., :, None] * G[..., None, :]


def _solve(H, g):
    if H.shape[-1] == 1:
        return g / H[..., 0]
    return np.linalg.solve(H, g[..., None])[..., 0]
