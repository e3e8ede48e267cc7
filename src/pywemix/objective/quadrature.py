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

from .covariance import CholeskyParameters
from .gausshermite import grid
from .newton import cap_length, damped_newton
from ..design.sufficient import group_sum

__all__ = ["QuadratureObjective", "Evaluation"]

_HALF_LOG_2PI = 0.5 * np.log(2 * np.pi)


@dataclass
class _Level:
    A: np.ndarray          # (J, K) log integrals
    G: np.ndarray | None   # (J, K, P) gradients
    H: np.ndarray | None   # (J, K, P, P) Hessians
    post: np.ndarray       # (J, K, N) posterior weights of the nodes
    V: np.ndarray          # (J, K, N, q) nodes in v-space


@dataclass(frozen=True)
class Evaluation:
    """Value and fixed-node derivatives of the pseudo-log-likelihood."""

    llf: float
    grad: np.ndarray
    hess: np.ndarray
    group_A: np.ndarray     # (G,) top-group log integrals (unweighted)
    group_grad: np.ndarray  # (G, P) their gradients (unweighted)


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
        self.child_starts = [lev.child_starts(up) for lev, up in
                             zip(design.levels[:-1], design.levels[1:])]
        self._store = {}
        self._last = {}

    # -- parameters -----------------------------------------------------------

    # -- modes ---------------------------------------------------------------
    def _mode(self, li, off, Cs):
        lev, Zl, C, q = self.levels[li], self.Z[li], Cs[li], self.q[li]
        J, K = lev.n_groups, off.shape[1]
        dv = Zl @ C  # d eta / d v, (n, q)
        prev = self._store.get(("v", li, K))  # warm start: same level and contexts
        v = prev.copy() if prev is not None and prev.shape == (J, K, q) else np.zeros((J, K, q))
        eye = np.eye(q)

        def pieces(v):
            eta = off + np.einsum("iq,ikq->ik", dv, v[lev.codes])
            if li == 0:
                ll, d1, d2 = self.family.derivs(self.y[:, None], eta)
                w = self.w1[:, None]
                F = group_sum(w * ll, lev.starts)
                g = group_sum((w * d1)[..., None] * dv[:, None, :], lev.starts)
                h = group_sum((w * d2)[..., None, None]
                              * (dv[:, :, None] * dv[:, None, :])[:, None], lev.starts)
            else:
                ch = self._level(li - 1, eta, np.broadcast_to(dv[:, None, :], eta.shape + (q,)),
                                 Cs, False, True)
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
        v, Hn = _newton_modes(pieces, v, F, g, Hn, exact=li == 0 or self.n_quad == 1)
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
            logdetB = 0.5 * q * np.log(2.0) - np.sum(np.log(np.diagonal(R, axis1=-2, axis2=-1)),
                                                     axis=-1)
            self._store[("nodes", li)] = (vhat, B, logdetB)
        else:
            vhat, B, logdetB = self._store[("nodes", li)]
        nodes, logw = grid(self.n_quad, q)
        N = len(nodes)
        V = vhat[:, :, None, :] + np.einsum("jkab,sb->jksa", B, nodes)
        U = V @ C.T
        eta = off[:, :, None] + np.einsum("ia,iksa->iks", Zl, U[lev.codes])
        P = dirs.shape[-1]
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
            An = group_sum(w * ll, lev.starts)
            aux = None
            if derivs:
                g = group_sum((w * d1)[..., None] * full, lev.starts)
                h = None  # summed over the nodes with their posterior weights below
                if param_mode and self.k:  # the family's auxiliary parameters
                    aux = self._aux_rows(eta, w)
                    g[..., self.p:self.p + self.k] += group_sum(aux[0], lev.starts)
        else:
            ch = self._level(li - 1, eta.reshape(n, K * N), full.reshape(n, K * N, P), Cs,
                             param_mode, adapt, derivs)
            cw, cs = self.wg[li - 1], self.child_starts[li - 1]
            J = lev.n_groups
            An = group_sum(cw[:, None] * ch.A, cs).reshape(J, K, N)
            if derivs:
                g = group_sum(cw[:, None, None] * ch.G, cs).reshape(J, K, N, P)
                h = group_sum(cw[:, None, None, None] * ch.H, cs).reshape(J, K, N, P, P)
        t = logw + An - 0.5 * np.sum(V * V, axis=-1)
        t[np.isnan(t)] = -np.inf  # a node where the density under/overflows adds nothing
        m = np.max(t, axis=-1, keepdims=True)
        e = np.exp(t - m)
        S = np.sum(e, axis=-1)
        A = logdetB - q * _HALF_LOG_2PI + m[..., 0] + np.log(S)
        post = e / S[..., None]
        G = H = None
        if derivs and li == 0:
            G, H = _level1_moments(post, g, w * d2, full, lev, aux, self.p)
        elif derivs:
            G, H = _posterior_moments(post, g, h)
        self._last[li] = (post, V)
        return _Level(A, G, H, post, V)

    def evaluate(self, phi, adapt: bool = True, derivs: bool = True) -> Evaluation:
        """Pseudo-log-likelihood at ``phi = (beta, c)`` and its fixed-node derivatives.

        ``adapt=True`` re-centres the nodes at the conditional modes;
        ``adapt=False`` reuses the nodes of the last adaptive evaluation.
        """
        beta, chol = self.split(phi)
        Cs = self.factors(chol)
        off = (self.X @ beta + self.offset)[:, None]
        dirs = np.zeros((len(self.y), 1, self.P))
        dirs[:, 0, :self.p] = self.X
        top = len(self.levels) - 1
        res = self._level(top, off, dirs, Cs, True, adapt, derivs)
        w = self.wg[top]
        A = res.A[:, 0]
        llf = float(w @ A)
        if not derivs:
            return Evaluation(llf, None, None, A, None)
        G = res.G[:, 0]
        return self.unconstrained(
            Evaluation(llf, w @ G, np.einsum("g,gab->ab", w, res.H[:, 0]), A, G))

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


def _newton_modes(pieces, v, F, g, Hn, exact=True):
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

    st, _ = damped_newton(lambda x, pending, k: _mode_state(x, *pieces(x)),
                          _mode_state(v, F, g, Hn), direction, accept,
                          np.ones(F.shape, dtype=bool), max_iter=100, halvings=40)
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
        H = (np.einsum("jks,jksab->jkab", post, h)
             + np.einsum("jks,jksa,jksb->jkab", post, g, g))
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


def _solve(H, g):
    if H.shape[-1] == 1:
        return g / H[..., 0]
    return np.linalg.solve(H, g[..., None])[..., 0]
