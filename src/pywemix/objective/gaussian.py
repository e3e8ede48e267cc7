"""The Gaussian (linear) objective: weighted likelihood integrated analytically.

Works from per-group sufficient statistics only, so an evaluation costs
O(groups x small matrices) whatever the number of rows. R equivalents:
``lme4::mkLmerDevfun`` and WeMix's linear ``devG``.

Notes
-----
Let ``G = [Z_2 ... Z_L X y]`` and ``c = (u_l, u_(l+1), ..., beta, -1)`` so
that the residual is ``-G c``. For a level-2 group ``j`` with conditional
level-1 weights ``W_j`` the weighted log-likelihood, given the higher-level
effects, is the integral over ``u_2 ~ N(0, sigma^2 T_2)`` of
``prod_i f(y_i | u)^(w_i)``; with ``M_j = G_j' W_j G_j`` partitioned at the
level's ``q`` effects it equals

.. math::

    \\ell_j = -\\tfrac12 n_j \\log(2\\pi\\sigma^2) - \\tfrac12 \\log|I + T M_{11}|
              - \\frac{1}{2\\sigma^2} c' S_j c,
    \\qquad S_j = M_{22} - M_{21}(I + T M_{11})^{-1} T M_{12},

with ``n_j = sum_i w_i``. ``S_j`` is again a quadratic form in the remaining
effects, so a level-3 group aggregates ``sum_j w_(j|k) S_j`` (and the
weighted ``n`` and log-determinants) and integrates its own effects the same
way, up to the top level whose groups carry weights ``w_g``. The total
pseudo-log-likelihood ``sum_g w_g l_g`` is maximised in ``beta`` and
``sigma^2`` in closed form (the profiled likelihood), leaving only the
relative covariance parameters ``T_l`` to the optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..design.sufficient import group_crossprod, group_sum

__all__ = [
    "GaussianObjective",
    "ProfiledFit",
    "FixedSolution",
    "solve_fixed",
    "profiled_criterion",
    "inv_logdet",
]

LOG2PI = np.log(2.0 * np.pi)


@dataclass(frozen=True)
class ProfiledFit:
    """Closed-form estimates given the relative covariance parameters."""

    llf: float
    beta: np.ndarray
    sigma2: float
    n_weighted: float
    criterion: str


@dataclass
class _Top:
    S: np.ndarray  # (G, r, r) remaining quadratic forms of the top groups
    n: np.ndarray  # (G,) weighted observation counts
    D: np.ndarray  # (G,) weighted log-determinants
    K: list  # per level (J_l, q_l, r_l) mode operators, if kept
    B: list  # per level (J_l, q_l, q_l) (I + T M_11)^{-1} T, if kept
    dS: np.ndarray | None = None  # (k, G, r, r) derivatives, if asked for
    dD: np.ndarray | None = None  # (k, G)


class GaussianObjective:
    """Weighted Gaussian pseudo-likelihood of a nested mixed model.

    Parameters
    ----------
    design : ModelDesign
    structure : CovarianceStructure
    """

    def __init__(self, design, structure):
        self.structure = structure
        self.levels = design.levels
        self.q = structure.q
        self.p = design.X.shape[1]
        self._design = design
        self._w1 = design.w1
        self._offset = design.offset
        G = np.hstack(list(design.Z) + [design.X, (design.y - design.offset)[:, None]])
        starts = design.levels[0].starts
        self.M2 = group_crossprod(G, design.w1, starts)
        del G
        self.n2 = group_sum(design.w1, starts)
        self.wg = design.wg
        self.child_starts = [
            lev.child_starts(up) for lev, up in zip(design.levels[:-1], design.levels[1:])
        ]

    @classmethod
    def from_statistics(cls, M2, n2, wg, levels, structure) -> GaussianObjective:
        """The objective from per-group sufficient statistics alone (no rows).

        Parameters
        ----------
        M2 : ndarray (J, d, d)
            ``G_j' W_j G_j`` of every level-2 group ``j`` (in the order of
            ``levels[0]``), with ``G = [Z_2 ... Z_L X (y - offset)]`` and
            ``W_j`` the conditional level-1 weights (after any scaling).
        n2 : ndarray (J,)
            Sum of the conditional level-1 weights of each level-2 group.
        wg : list of ndarray
            Conditional weights of the groups of each level (level 2 up).
        levels : list of Level
            Only ``parent`` (and the number of groups) of each level is used.
        structure : CovarianceStructure

        Notes
        -----
        The likelihood needs nothing else from the data (module notes), so
        statistics added up partition by partition (for example on a Dask
        cluster) give the same objective as :class:`GaussianObjective` on the
        rows. :meth:`with_responses` needs the rows and is not available.
        """
        obj = object.__new__(cls)
        obj.__dict__.update(
            structure=structure,
            levels=levels,
            q=structure.q,
            p=M2.shape[-1] - sum(structure.q) - 1,
            _design=None,
            _w1=None,
            _offset=None,
            M2=M2,
            n2=n2,
            wg=list(wg),
            child_starts=[lev.child_starts(up) for lev, up in zip(levels[:-1], levels[1:])],
        )
        return obj

    def with_responses(self, Y) -> GaussianObjective:
        """A copy for other responses (same rows, design and weights).

        ``Y`` (n,) gives an ordinary objective; ``Y`` (n, B) a batched one
        whose ``M2`` is (B, J, d, d), for :meth:`profiled_grad` on (B, k)
        parameters. Only the cross-products with the response are recomputed,
        so parametric-bootstrap refits cost little.
        """
        if self._design is None:
            raise ValueError(
                "this objective was built from sufficient statistics "
                "(from_statistics): refits to other responses need the rows"
            )
        new = object.__new__(GaussianObjective)
        new.__dict__.update(self.__dict__)
        Y = np.asarray(Y, dtype=float)
        ZX = np.hstack(list(self._design.Z) + [self._design.X])
        R = (Y.T if Y.ndim == 2 else Y) - self._offset  # (..., n)
        starts = self.levels[0].starts
        WR = self._w1 * R
        cross = np.add.reduceat(WR[..., :, None] * ZX, starts, axis=-2)  # (..., J, d-1)
        M = np.broadcast_to(self.M2, R.shape[:-1] + self.M2.shape).copy()
        M[..., :-1, -1] = cross
        M[..., -1, :-1] = cross
        M[..., -1, -1] = np.add.reduceat(WR * R, starts, axis=-1)
        new.M2 = M
        return new

    def conditional_variances(self, sigma2, covs) -> list:
        """Conditional variances of each level's effects given the levels above.

        ``sigma^2 diag((I + T M_11)^{-1} T)`` per group, from the same
        recursion as the likelihood (list, level 2 first, arrays (J, q)).
        """
        top = self.integrate([C / sigma2 for C in covs], keep=True)
        return [sigma2 * np.diagonal(B, axis1=-2, axis2=-1).copy() for B in top.B]

    @property
    def top_weights(self) -> np.ndarray:
        """Conditional weights of the top-level groups."""
        return self.wg[-1]

    def integrate(self, T_list, keep: bool = False, dT=None) -> _Top:
        """:meth:`_integrate`; the last result without derivatives is kept
        and given again for the same ``M2`` and ``T`` (the estimates' modes,
        variances, information and scores all integrate at the same point).
        Callers only read the result."""
        if dT is not None:
            return self._integrate(T_list, keep, dT)
        key = (tuple(np.asarray(T).tobytes() for T in T_list), tuple(np.shape(T) for T in T_list))
        last = self.__dict__.get("_last_top")
        if last is not None and last[0] is self.M2 and last[1] == key and (last[2] or not keep):
            return last[3]
        top = self._integrate(T_list, keep)
        self.__dict__["_last_top"] = (self.M2, key, keep, top)
        return top

    def _integrate(self, T_list, keep: bool = False, dT=None) -> _Top:
        """Integrate the random effects level by level (see module notes).

        Every array may carry leading batch axes (several responses or
        parameter values at once): ``M2`` (..., J, d, d) and ``T_l``
        (..., q, q). With ``dT`` (per level, (..., k, q_l, q_l): the
        derivatives of ``T_l`` in each of k parameters) the derivatives of the
        top groups' ``S`` and ``D`` are carried along in forward mode
        (``_Top.dS`` (..., k, G, r, r), ``_Top.dD`` (..., k, G)).
        """
        M, n = self.M2, self.n2
        D: np.ndarray | float = 0.0
        dM = dD = None
        Ks, Bs = [], []
        last = len(T_list) - 1
        for li, T in enumerate(T_list):
            q = self.q[li]
            M11, M12, M22 = M[..., :q, :q], M[..., :q, q:], M[..., q:, q:]
            M21 = np.swapaxes(M12, -1, -2)
            Tb = T[..., None, :, :]
            Ainv, logdet = inv_logdet(np.eye(q) + matmul_q(Tb, M11))
            K = matmul_q(Ainv, matmul_q(Tb, M12))
            S = M22 - matmul_q(M21, K)
            if dT is not None:
                dTl = dT[li][..., :, None, :, :]
                dA = matmul_q(dTl, M11[..., None, :, :, :])
                dTM12 = matmul_q(dTl, M12[..., None, :, :, :])
                if dM is not None:
                    Tk = T[..., None, None, :, :]
                    dA = dA + matmul_q(Tk, dM[..., :q, :q])
                    dTM12 = dTM12 + matmul_q(Tk, dM[..., :q, q:])
                dlog = np.einsum("...jab,...kjba->...kj", Ainv, dA)
                Ke = K[..., None, :, :, :]
                dK = matmul_q(Ainv[..., None, :, :, :], dTM12 - matmul_q(dA, Ke))
                dS = -matmul_q(M21[..., None, :, :, :], dK)
                if dM is not None:
                    dS = dS + dM[..., q:, q:] - matmul_q(np.swapaxes(dM[..., :q, q:], -1, -2), Ke)
                    dlog = dlog + dD
            D = D + logdet
            if keep:
                Ks.append(K)
                Bs.append(matmul_q(Ainv, Tb))
            if li < last:
                w, cs = self.wg[li], self.child_starts[li]
                M = np.add.reduceat(w[:, None, None] * S, cs, axis=-3)
                n = group_sum(w * n, cs)
                D = np.add.reduceat(w * D, cs, axis=-1)
                if dT is not None:
                    dM = np.add.reduceat(w[:, None, None] * dS, cs, axis=-3)
                    dD = np.add.reduceat(w * dlog, cs, axis=-1)
            elif dT is not None:
                dM, dD = dS, dlog
        top = _Top(S, n, np.asarray(D), Ks, Bs)
        if dT is not None:
            top.dS, top.dD = dM, dD
        return top

    def _totals(self, top: _Top):
        """Weighted totals over the top groups: ``S`` (..., r, r), ``N``, ``D`` (...)."""
        w = self.top_weights
        return np.einsum("g,...gij->...ij", w, top.S), float(w @ top.n), top.D @ w

    def profiled(self, theta, reml: bool = False) -> ProfiledFit:
        """Profiled log-likelihood (ML, or REML with ``reml=True``) at ``theta``,
        with the closed-form ``beta`` and ``sigma^2`` (see :func:`profiled_criterion`)."""
        crit = "REML" if reml else "ML"
        try:
            top = self.integrate(self.structure.relative_cov(theta))
        except np.linalg.LinAlgError:
            return ProfiledFit(-np.inf, np.full(self.p, np.nan), np.nan, float("nan"), crit)
        S, N, D = self._totals(top)
        llf, _, fixed = profiled_criterion(S, N, D, self.p, reml)
        beta = np.where(fixed.singular, np.nan, fixed.beta)
        if not np.isfinite(llf):
            return ProfiledFit(-np.inf, beta, np.nan, N, crit)
        sigma2 = fixed.prss / (N - self.p if reml else N)
        return ProfiledFit(float(llf), beta, float(sigma2), N, crit)

    def profiled_grad(self, theta, reml: bool = False, directions=None):
        """Profiled log-likelihood and its exact gradient in ``theta``.

        ``theta`` may be (k,) or, with a batched ``M2`` (see
        :meth:`with_responses`), (B, k); the results then have a leading B.
        ``dS`` and ``dD`` come from forward-mode differentiation of the level
        recursion (:meth:`integrate`); see :func:`profiled_criterion`.
        ``directions`` (per level, (k, q_l, q_l)) replaces the derivatives of
        the relative covariances in ``theta``: the gradient is then the
        derivative along each of those k changes of the covariances (e.g.
        :meth:`CovarianceStructure.element_directions`, the gradient in the
        covariance elements themselves).
        """
        st = self.structure
        theta = np.asarray(theta, dtype=float)
        dT = st.relative_cov_grad(theta) if directions is None else directions
        try:
            top = self.integrate(st.relative_cov(theta), dT=dT)
        except np.linalg.LinAlgError:
            bad = np.full(theta.shape[:-1], -np.inf)
            return (float(bad) if bad.ndim == 0 else bad), np.full(theta.shape, np.nan)
        S, N, D = self._totals(top)
        w = self.top_weights
        assert top.dS is not None and top.dD is not None  # integrate(dT=) computed them
        dS = np.einsum("g,...kgij->...kij", w, top.dS)
        llf, grad, _ = profiled_criterion(S, N, D, self.p, reml, dS, top.dD @ w)
        return (float(llf) if np.ndim(llf) == 0 else llf), grad

    def group_loglik(self, beta, sigma2, covs) -> np.ndarray:
        """Weighted log-likelihood contribution ``w_g l_g`` of every top-level group.

        Parameters
        ----------
        beta : ndarray (p,)
        sigma2 : float
            Residual variance.
        covs : list of ndarray
            Absolute covariance matrix of each level's random effects.
        """
        top = self.integrate([C / sigma2 for C in covs])
        c = np.append(beta, -1.0)
        quad = np.einsum("i,gij,j->g", c, top.S, c)
        return self.top_weights * (
            -0.5 * top.n * (LOG2PI + np.log(sigma2)) - 0.5 * top.D - 0.5 * quad / sigma2
        )

    def beta_scores(self, beta, sigma2, covs) -> np.ndarray:
        """Gradient of each top group's ``w_g l_g`` in ``beta``, shape (G, p)."""
        top = self.integrate([C / sigma2 for C in covs])
        p = self.p
        resid = top.S[:, :p, p] - top.S[:, :p, :p] @ beta
        return self.top_weights[:, None] * resid / sigma2

    def beta_information(self, sigma2, covs) -> np.ndarray:
        """Negative Hessian of the log-likelihood in ``beta``: ``S_XX / sigma^2``."""
        S, _, _ = self._totals(self.integrate([C / sigma2 for C in covs]))
        return S[: self.p, : self.p] / sigma2

    def conditional_modes(self, beta, sigma2, covs) -> list:
        """Conditional modes (= means) of the random effects of every level.

        Returns a list, level 2 first, of arrays (n_groups, q_l).
        """
        top = self.integrate([C / sigma2 for C in covs], keep=True)
        L = len(covs)
        modes: list = [None] * L
        for li in range(L - 1, -1, -1):
            K = top.K[li]
            J = K.shape[0]
            parts, idx = [], np.arange(J)
            for up in range(li + 1, L):
                idx = self.levels[up - 1].parent[idx]
                parts.append(modes[up][idx])
            parts.append(np.broadcast_to(np.append(beta, -1.0), (J, self.p + 1)))
            rest = np.hstack(parts)
            modes[li] = -np.einsum("jqr,jr->jq", K, rest)
        return modes


@dataclass(frozen=True)
class FixedSolution:
    """Fixed effects given the covariance parameters, from the total quadratic form.

    Attributes (all with the leading batch axes of ``S``): ``beta`` (..., p);
    ``Sxx_inv`` (..., p, p); ``logdet`` = ``log|S_XX|``; ``prss`` the
    profiled (weighted, penalised) residual sum of squares; ``singular``
    where ``S_XX`` is not positive definite (``beta`` is then meaningless).
    """

    beta: np.ndarray
    Sxx_inv: np.ndarray
    logdet: np.ndarray
    prss: np.ndarray
    singular: np.ndarray

    @property
    def c(self) -> np.ndarray:
        """``(beta, -1)``, the coefficient vector of the residual."""
        c = np.empty(self.beta.shape[:-1] + (self.beta.shape[-1] + 1,))
        c[..., :-1] = self.beta
        c[..., -1] = -1.0
        return c


def solve_fixed(S, p: int) -> FixedSolution:
    """Generalised least squares from ``S`` (..., p + 1, p + 1): the one
    fixed-effects solve (``beta = S_XX^{-1} S_Xy``, ``PRSS = S_yy - S_yX beta``).

    A numerically singular ``S_XX`` (a far-out candidate) is flagged rather
    than raised, so that one matrix cannot abort a batch of refits.
    """
    Sxx, Sxy = S[..., :p, :p], S[..., :p, p]
    sign, logdet = np.linalg.slogdet(Sxx)
    singular = sign <= 0
    if singular.any():
        Sxx = np.where(singular[..., None, None], np.eye(p), Sxx)
    Sxx_inv = np.linalg.inv(Sxx)
    beta = np.matmul(Sxx_inv, Sxy[..., None])[..., 0]
    prss = S[..., p, p] - (Sxy * beta).sum(axis=-1)
    return FixedSolution(beta, Sxx_inv, logdet, prss, singular)


def profiled_criterion(S, N: float, D, p: int, reml: bool, dS=None, dD=None):
    """Profiled (restricted) log-likelihood and its gradient from the totals.

    Parameters
    ----------
    S : ndarray (..., p + 1, p + 1)
        Weighted total of the top groups' quadratic forms.
    N : float
        Weighted number of observations.
    D : ndarray (...)
        Weighted total of the log-determinants ``log|I + T M_11|``.
    p : int
        Number of fixed effects.
    reml : bool
    dS, dD : ndarray (..., k, p + 1, p + 1) and (..., k), optional
        Derivatives of ``S`` and ``D`` in the k covariance parameters.

    Returns
    -------
    llf : ndarray (...)
        ``-inf`` where the criterion is not defined (singular ``S_XX``,
        non-positive or non-finite PRSS, non-finite ``D``).
    grad : ndarray (..., k) or None
    fixed : FixedSolution

    Notes
    -----
    With ``beta = S_XX^{-1} S_Xy`` and ``PRSS = S_yy - S_yX beta``, for ML
    ``sigma^2 = PRSS / N`` and ``l = -N/2 (log(2 pi sigma^2) + 1) - D/2``;
    for REML ``sigma^2 = PRSS / (N - p)`` and
    ``l_R = -(N-p)/2 (log(2 pi sigma^2) + 1) - D/2 - log|S_XX|/2``
    (lme4's criteria: Bates et al. 2015, J. Stat. Softw. 67(1), eqs. 34 and
    41, with weighted ``N``). By the envelope theorem ``dPRSS = c' dS c``
    with ``c = (beta, -1)``, so ``dl = -N/2 dPRSS / PRSS - dD/2`` (ML); REML
    uses ``N - p`` and adds ``-tr(S_XX^{-1} dS_XX)/2``.
    """
    dof = N - p if reml else N
    fixed = solve_fixed(S, p)
    if np.ndim(fixed.prss) == 0:  # one problem: no batch to protect
        if fixed.singular or not fixed.prss > 0:
            return -np.inf, (None if dS is None else np.full(dS.shape[:-2], np.nan)), fixed
        llf, grad = _criterion(fixed, dof, D, reml, dS, dD)
        return (float(llf) if np.isfinite(llf) else -np.inf), grad, fixed
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        llf, grad = _criterion(fixed, dof, D, reml, dS, dD)
    bad = ~np.isfinite(llf) | ~(fixed.prss > 0) | fixed.singular
    return np.where(bad, -np.inf, llf), grad, fixed


def _criterion(fixed, dof, D, reml, dS, dD):
    """The formulas of :func:`profiled_criterion` (value, and gradient if ``dS``)."""
    prss = fixed.prss
    llf = -0.5 * dof * (np.log(2 * np.pi * prss / dof) + 1) - 0.5 * D
    if reml:
        llf = llf - 0.5 * fixed.logdet
    if dS is None:
        return llf, None
    c = fixed.c[..., None, :]  # (..., 1, r)
    dprss = (np.matmul(dS, c[..., None])[..., 0] * c).sum(axis=-1)
    grad = -0.5 * dof * dprss / prss[..., None] - 0.5 * dD
    if reml:
        p = fixed.beta.shape[-1]
        grad = grad - 0.5 * np.einsum("...ab,...kba->...k", fixed.Sxx_inv, dS[..., :p, :p])
    return llf, grad


def inv_logdet(A):
    """Inverse and log-determinant of a stack of small matrices (..., q, q).

    Closed forms for q = 1 and 2 (the usual sizes), LAPACK otherwise; a
    non-positive determinant gives NaN.
    """
    q = A.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        if q == 1:
            a = A[..., 0, 0]
            return (1.0 / a)[..., None, None], np.where(a > 0, np.log(np.abs(a)), np.nan)
        if q == 2:
            det = A[..., 0, 0] * A[..., 1, 1] - A[..., 0, 1] * A[..., 1, 0]
            inv = np.empty_like(A)
            inv[..., 0, 0], inv[..., 1, 1] = A[..., 1, 1] / det, A[..., 0, 0] / det
            inv[..., 0, 1], inv[..., 1, 0] = -A[..., 0, 1] / det, -A[..., 1, 0] / det
            return inv, np.where(det > 0, np.log(np.abs(det)), np.nan)
        sign, logdet = np.linalg.slogdet(A)
        return np.linalg.inv(A), np.where(sign > 0, logdet, np.nan)


def matmul_q(a, b):
    """``a @ b`` for stacks of small matrices multiplied over one level's
    random effects (``a`` (..., m, q), ``b`` (..., q, n)).

    With ``q = 1`` every entry is one product, taken elementwise: the same
    numbers as ``np.matmul``, which calls BLAS once per matrix of the stack.
    """
    if a.shape[-1] == 1:
        return a * b
    return np.matmul(a, b)
