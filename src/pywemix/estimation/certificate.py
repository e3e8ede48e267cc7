"""The convergence certificate: no direction of the covariance space improves
on the reported point.

The optimisers work on Cholesky factors (lme4's ``theta``), in which the
likelihood is smooth but folded: a factor with a zero diagonal (a covariance
on the boundary) has other factors with the same covariance (the column of
that diagonal negated, or rotated with later columns). Such a point can
satisfy the first-order conditions in the factor while the likelihood still
increases from the same covariance along another factor: a saddle on the
boundary, where a search stops and would report convergence. The
certificate checks the conditions in covariance space instead, and when they
fail gives a better point from which the search goes on.
R equivalent: none (lme4's ``checkConv`` looks at the gradient and Hessian in
``theta`` only).

Notes
-----
For each covariance block with factor ``L`` (lower triangular, non-negative
diagonal), covariance ``T = L L'`` and ``G`` the gradient of the minimised
objective ``f`` in ``T`` (symmetric), the first-order conditions of
minimising ``f`` over positive semi-definite ``T`` are (e.g. Vandenberghe and
Boyd 1996, SIAM Review 38, sect. 3):

* ``G L = 0``: no change of the covariance within its current range
  improves ``f``. In the factor, the derivatives in the lower-triangular
  elements are ``2 (G L)_ij`` and vanish at a stationary point of the search;
  where a diagonal ``L_jj`` is 0, row ``j`` of ``G L`` is also the derivative
  of the other factors of the same ``T`` (the diagonal for either sign of the
  column, and the rotations of the column with later ones), so that row must
  vanish too (:func:`fold_violation`);
* ``G`` positive semi-definite on the null space of ``T``: adding variance in
  a direction the covariance does not yet have, ``T + t v v'``, does not
  improve ``f`` to first order (:func:`null_violation`).

The second-order check rejects saddles off the boundary: the Hessian of
``f`` in the parameters that are not on their bound has no eigenvalue below
``-CURVATURE_TOL`` (:func:`curvature_escape`). A violated condition gives
the direction of a better point; the point is found by halving the step
along it until ``f`` decreases, and the search restarts from there.
Directions that leave the lower-triangular form are mapped back to a factor
of the same covariance (:func:`lower_factor`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Certificate",
    "CERT_GTOL",
    "CURVATURE_TOL",
    "MAX_ROUNDS",
    "lower_factor",
    "fold_violation",
    "null_violation",
    "covariance_escape",
    "curvature_escape",
    "block_factor",
    "with_block_factor",
    "descend",
    "canonical",
]

#: First-order tolerance in covariance space (derivatives of the objective per
#: unit of top-level weight, as the searches' gradient tolerances).
CERT_GTOL = 1e-6
#: Second-order tolerance: smallest eigenvalue allowed of the Hessian of the
#: objective per unit of top-level weight.
CURVATURE_TOL = 1e-6
#: Restarts from better points before a fit is declared not converged.
MAX_ROUNDS = 10


@dataclass(frozen=True)
class Certificate:
    """Whether a point passed, why not, and a better point to go on from.

    Attributes
    ----------
    passed : bool
        Every check passed (or a violation was within the objective's
        resolution: no better point along it).
    reason : str
        What failed ("" when passed).
    escape : ndarray or None
        A point with a lower objective than the checked one.
    """

    passed: bool
    reason: str = ""
    escape: np.ndarray | None = None


PASSED = Certificate(True)


def lower_factor(A) -> np.ndarray:
    """Lower-triangular ``L`` with ``L L' = A A'`` and a non-negative diagonal.

    ``A`` is (q, m) with ``m >= q``; from the QR decomposition ``A' = Q R``,
    ``L = R'`` with its columns' signs made non-negative on the diagonal.
    """
    L = np.linalg.qr(np.asarray(A, dtype=float).T, mode="r").T  # type: ignore[attr-defined]
    signs = np.where(np.diag(L) < 0, -1.0, 1.0)
    return np.tril(L * signs[None, :])


def block_factor(x, entries, k, offset=0) -> np.ndarray:
    """The (k, k) factor of one block from the parameter vector ``x``
    (``entries`` as :meth:`CovarianceStructure.blocks` gives them)."""
    L = np.zeros((k, k))
    L[entries[:, 1], entries[:, 2]] = x[offset + entries[:, 0]]
    return L


def with_block_factor(x, entries, L, offset=0) -> np.ndarray:
    """``x`` with one block's elements replaced by those of the factor ``L``."""
    x = np.array(x, dtype=float)
    x[offset + entries[:, 0]] = L[entries[:, 1], entries[:, 2]]
    return x


def canonical(structure, x, offset=0) -> np.ndarray:
    """``x`` with every factor column signed so that its diagonal is >= 0
    (the covariances do not change)."""
    x = np.array(x, dtype=float)
    for _, rows, entries in structure.blocks():
        L = block_factor(x, entries, rows.stop - rows.start, offset)
        x = with_block_factor(x, entries, L * np.where(np.diag(L) < 0, -1.0, 1.0), offset)
    return x


def fold_violation(G, L) -> np.ndarray:
    """``2 G L`` on the rows of zero diagonals, from the diagonal rightwards
    (0 elsewhere): the derivatives along the other factors of the same
    covariance, which must vanish at a stationary point."""
    R = 2.0 * G @ L
    zero = np.diag(L) == 0
    k = L.shape[0]
    mask = zero[:, None] & (np.arange(k)[None, :] >= np.arange(k)[:, None])
    return np.where(mask, R, 0.0)


def null_violation(G, L):
    """(smallest eigenvalue, its direction) of ``G`` on the null space of
    ``L L'``; (0, None) when the covariance is not singular."""
    n_null = int(np.sum(np.diag(L) == 0))
    if n_null == 0:
        return 0.0, None
    _, vecs = np.linalg.eigh(L @ L.T)
    N = vecs[:, :n_null]
    lam, U = np.linalg.eigh(N.T @ G @ N)
    return float(lam[0]), N @ U[:, 0]


def descend(f, f0, point, t0=1.0, halvings=40):
    """The first of ``point(t0 2^-k)`` (k = 0, 1, ...) with ``f`` below ``f0``
    beyond its rounding error, or None."""
    floor = f0 - 64 * np.finfo(float).eps * max(1.0, abs(f0))
    t = t0
    for _ in range(halvings):
        x = point(t)
        try:
            v = f(x)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            v = np.inf
        if np.isfinite(v) and v < floor:
            return x
        t *= 0.5
    return None


def covariance_escape(structure, x, gradients, f, f0, offset=0) -> Certificate:
    """First-order conditions in covariance space at ``x`` (module notes).

    Parameters
    ----------
    structure : CovarianceStructure
    x : ndarray
        The parameter vector; the covariance elements start at ``offset``.
    gradients : list of ndarray
        Per level, the gradient ``G_l`` (q_l, q_l) of the minimised objective
        in the level's covariance (relative to the residual variance for
        linear models), per unit of top-level weight.
    f : callable
        The minimised objective (per unit of top-level weight) of a vector.
    f0 : float
        ``f(x)``.

    Returns
    -------
    Certificate
        With a better point when a condition fails and a step along the
        violating direction decreases ``f``.
    """
    reasons = []
    for li, rows, entries in structure.blocks():
        k = rows.stop - rows.start
        L = block_factor(x, entries, k, offset)
        G = gradients[li][rows, rows]
        R = fold_violation(G, L)
        if np.max(np.abs(R), initial=0.0) > CERT_GTOL:
            scale = max(1.0, float(np.max(np.abs(L)))) / float(np.max(np.abs(R)))
            better = descend(
                f,
                f0,
                lambda t, L=L, R=R, e=entries: with_block_factor(
                    x, e, lower_factor(L - t * R), offset
                ),
                t0=scale,
            )
            if better is not None:
                return Certificate(False, "a saddle on the covariance boundary", better)
            reasons.append(f"the gradient in covariance space is {np.max(np.abs(R)):.2g}")
        lam, v = null_violation(G, L)
        if lam < -CERT_GTOL:
            better = descend(
                f,
                f0,
                lambda t, L=L, v=v, e=entries: with_block_factor(
                    x, e, lower_factor(np.column_stack([L, np.sqrt(t) * v])), offset
                ),
            )
            if better is not None:
                return Certificate(
                    False, "a variance on the boundary that should be positive", better
                )
            reasons.append(f"adding variance would improve the objective ({lam:.2g})")
    return PASSED if not reasons else Certificate(True, "; ".join(reasons))


def curvature_escape(f, f0, x, grad, hess, free) -> Certificate:
    """Second-order check at ``x``: the Hessian ``hess`` of the minimised
    objective (per unit of top-level weight) on the ``free`` parameters has
    no eigenvalue below ``-CURVATURE_TOL``; else a better point along its
    eigenvector (the side the gradient ``grad`` does not climb)."""
    idx = np.flatnonzero(free)
    if len(idx) == 0:
        return PASSED
    H = np.asarray(hess, dtype=float)[np.ix_(idx, idx)]
    if not np.all(np.isfinite(H)):
        return Certificate(False, "the Hessian cannot be computed at the estimates")
    lam, U = np.linalg.eigh(0.5 * (H + H.T))
    if lam[0] >= -CURVATURE_TOL * max(1.0, float(np.max(np.abs(lam)))):
        return PASSED
    d = np.zeros(len(x))
    d[idx] = U[:, 0]
    if float(np.asarray(grad)[idx] @ U[:, 0]) > 0:
        d = -d
    t0 = max(1.0, float(np.max(np.abs(x[idx]))))
    for sign in (1.0, -1.0):
        better = descend(f, f0, lambda t: x + sign * t * d, t0=t0, halvings=30)  # noqa: B023 (called within this iteration)
        if better is not None:
            return Certificate(False, "a saddle point (negative curvature)", better)
    return Certificate(True, f"negative curvature ({lam[0]:.2g}) not resolvable")
