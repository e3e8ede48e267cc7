"""Many GLMM fits that differ only in their weights, maximised together.

Replicate refits (and any batch of weightings of one design) start where
the full-sample fit ended and are a few Newton steps from their own
maxima. :func:`maximize_batch` takes those steps for every problem at once,
each iteration one evaluation of a batched objective
(:class:`~pywemix.objective.batched.TwoLevelBatch`) at the problems' own
points. R has no equivalent (WeMix and EdSurvey refit replicate by
replicate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..objective.newton import backtrack

__all__ = ["maximize_batch", "BatchFit", "BATCH_TOL"]

#: A problem has converged when its Newton decrement ``g'(-H)^{-1}g`` is below
#: this fraction of ``max(1, |llf|)`` (the Laplace fit's criterion is 1e-13).
BATCH_TOL = 1e-14
#: Armijo's constant and the largest change of the objective, relative to
#: its size, that counts as rounding (then a step is taken when it makes the
#: gradient smaller, as the mode search does).
ARMIJO = 1e-4
ROUNDING = 1e-13


@dataclass(frozen=True)
class BatchFit:
    """The maxima of a batch of problems.

    Attributes
    ----------
    x : ndarray (R, P)
        Each problem's parameters (``(beta, chol)``).
    llf : ndarray (R,)
        The objective there.
    converged : ndarray of bool (R,)
        Whether the Newton decrement fell below ``BATCH_TOL * max(1, |llf|)``.
    iterations, evaluations : int
        Newton iterations, and batched evaluations (each for the problems
        still moving).
    """

    x: np.ndarray
    llf: np.ndarray
    converged: np.ndarray
    iterations: int
    evaluations: int


class _State(NamedTuple):
    x: np.ndarray  # (R, P)
    llf: np.ndarray  # (R,)
    grad: np.ndarray  # (R, P)
    hess: np.ndarray  # (R, P, P), the objective's approximation
    modes: np.ndarray  # (R, ...), the conditional modes ...
    dmodes: np.ndarray  # (R, ..., P), ... and their derivatives


def _directions(M, grad):
    """Newton steps ``M^{-1} g`` for ``M`` (R, P, P), minus the Hessian
    estimate, made positive definite where it is not (eigenvalues reflected
    and floored, as the start of the Laplace fit's BFGS does)."""
    lam, U = np.linalg.eigh(0.5 * (M + np.swapaxes(M, -1, -2)))
    top = np.max(np.abs(lam), axis=-1, keepdims=True)
    lam = np.maximum(np.abs(lam), 1e-10 * np.maximum(top, 1e-300))
    return np.einsum("rab,rb->ra", U, np.einsum("rba,rb->ra", U, grad) / lam)


def _start_correction(objective, state, W, w, columns, rel_step=1e-5):
    """``H - H_approx`` at the common start in the rows and columns
    ``columns`` of the Hessian: the exact second derivatives of every problem
    there, by central differences of the exact gradient (two evaluations per
    column, each one evaluation for all problems), less the objective's
    approximations."""
    x0 = state.x[0]
    h = rel_step * np.maximum(np.abs(x0), 1.0)
    E = np.zeros_like(state.hess)
    for m in columns:
        e = np.zeros(len(x0))
        e[m] = h[m]
        up, down = (
            objective.evaluate(
                (x0 + sign * e)[None, :], W, w, modes=state.modes[:1], hessian=False
            ).grad
            for sign in (1.0, -1.0)
        )
        col = (up - down) / (2 * h[m]) - state.hess[:, :, m]
        E[:, :, m] = E[:, m, :] = np.where(np.isfinite(col), col, 0.0)
    return E


def maximize_batch(
    objective, start, W, w=None, *, correct=None, max_iter: int = 50, tol: float = BATCH_TOL
) -> BatchFit:
    """Maximise the objective of every problem from one start.

    Parameters
    ----------
    objective : TwoLevelBatch
        ``objective.evaluate(phi, W, w, modes, hessian)`` for a batch of problems.
    start : ndarray (P,)
        The common start (the full-sample estimates).
    W : ndarray (R, J)
        Top-level weights of each problem.
    w : ndarray (n,) or (R, n), optional
        Level-1 weights (default the design's, shared).
    correct : sequence of int, optional
        Parameters whose rows and columns of the approximate Hessian are
        replaced by differences of the exact gradient at the start (default
        all); only when the problems share their level-1 weights.
    max_iter : int
    tol : float
        Convergence criterion (see :data:`BATCH_TOL`).

    Returns
    -------
    BatchFit

    Notes
    -----
    Damped Newton iterations on every problem at once (backtracking with
    Armijo's rule, :func:`pywemix.objective.newton.backtrack`) with the
    objective's approximate Hessian plus a constant correction: the
    difference, at the start, between the exact Hessian (central
    differences of the exact gradient) and the approximation, in the rows
    and columns ``correct`` (the parameters the approximation misses most:
    the covariance parameters, through the log determinant). The modes of a
    trial point are predicted from those of the current one and their
    derivatives, the start of its mode search. Near the maximum, where the
    objective no longer resolves a step's gain (its change is below
    ``ROUNDING`` times its size), a step is taken when it makes the Newton
    decrement smaller. A problem stops when its decrement is below ``tol *
    max(1, |llf|)``, after its last (tiny) step is taken, or when no step
    length is accepted (not converged). The evaluations at the start are
    each one evaluation for all problems when they share their level-1
    weights.
    """
    W = np.asarray(W, dtype=float)
    R = W.shape[0]
    start = np.asarray(start, dtype=float)
    per_row = w is not None and np.ndim(w) == 2
    ev = objective.evaluate(start[None, :], W, w)
    state = _State(
        np.tile(start, (R, 1)), ev.llf, ev.grad, ev.hess, np.array(ev.modes), np.array(ev.dmodes)
    )
    E = np.zeros_like(state.hess)
    if not per_row:
        E = _start_correction(
            objective, state, W, w, range(len(start)) if correct is None else correct
        )
    active = np.isfinite(state.llf)
    converged = np.zeros(R, dtype=bool)
    calls = [1 + (0 if per_row else 2 * (len(start) if correct is None else len(correct)))]

    def evaluate(x, pending, k):
        idx = np.flatnonzero(pending)
        guess = state.modes[idx] + np.einsum(
            "r...m,rm->r...", state.dmodes[idx], x[idx] - state.x[idx]
        )
        got = objective.evaluate(x[idx], W[idx], w[idx] if per_row else w, modes=guess)
        out = [np.array(a) for a in state]
        out[0] = x
        for f, a in enumerate((got.llf, got.grad, got.hess, got.modes, got.dmodes), start=1):
            out[f][idx] = a
        calls[0] += 1
        return _State(*out)

    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is read after the loop)
        M = -(state.hess + E)
        step = _directions(M, state.grad)
        dec = np.sum(state.grad * step, axis=-1)
        done = active & (dec <= tol * np.maximum(1.0, np.abs(state.llf)))
        if done.any():  # the last step, smaller than the tolerance allows
            state = _State(np.where(done[:, None], state.x + step, state.x), *state[1:])
        converged |= done
        active &= ~done
        if not active.any():
            break

        def accept(new, old, dec=dec, M=M):
            gain = new.llf - old.llf
            predicted = np.sum(old.grad * (new.x - old.x), axis=-1)
            armijo = (gain > 0) & (gain >= ARMIJO * predicted)
            new_dec = np.sum(new.grad * _directions(M, new.grad), axis=-1)
            flat = (gain >= -ROUNDING * np.abs(old.llf)) & (new_dec < dec)
            return np.isfinite(new.llf) & (armijo | flat)

        state, _, ok, _ = backtrack(evaluate, state, step, active, accept)
        active &= ok
    return BatchFit(state.x, state.llf, converged, it, calls[0])
