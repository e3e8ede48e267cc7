"""Maximising the Laplace objective (``n_quad=1``) on its exact gradient.

BFGS (Nocedal and Wright 2006, ch. 6) with an Armijo line search, started
from the inverse of minus a forward-difference Hessian of the exact gradient
at the start (P extra evaluations, each mode search warm-started at the
start's modes; eigenvalues reflected and floored so that it is positive
definite), restarted after a failed line search from the inverse
outer-product information of the top-level groups (Berndt, Hall, Hall and
Hausman 1974).
The final Hessian (central differences of the exact gradient) serves the
standard errors and confirms that the reported point is a maximum. R
equivalent: ``lme4::glmer(nAGQ = 1)``, which uses derivative-free bobyqa.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np

from ..objective.newton import backtrack

__all__ = ["LAPLACE_TOL", "maximize_laplace", "fit_laplace", "stop_scale"]

#: The Laplace fit has converged when the Newton decrement ``g' H^{-1} g`` is
#: below this fraction of the objective's scale (:func:`stop_scale`).
LAPLACE_TOL = 1e-13


def stop_scale(obj, llf) -> float:
    """``max(|llf|, sum of the top-level weights)``: what the Newton decrement
    is compared with. Both scale with the top-level weights (``llf`` is their
    weighted sum), so the stopping rule gives the same estimates whatever
    their scale; ``|llf|`` keeps the tolerance above the objective's rounding
    under heavy level-1 weights. (``max(1, |llf|)``, used before, was not
    invariant: with small weights the 1 took over.)"""
    return max(abs(float(llf)), float(np.sum(obj.wg[-1])))


def _inv(H):
    try:
        return np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(H)


def _bhhh_inverse(ev, w):
    """Inverse of the outer-product information ``sum_g w_g s_g s_g'`` (ridged)."""
    B = np.einsum("g,ga,gb->ab", w, ev.group_grad, ev.group_grad)
    d = np.diag(B)
    B = B + np.diag(1e-8 * d + 1e-12 * max(float(d.max()), 1e-300))
    return _inv(B)


def _warm_start(obj, v) -> None:
    """Start ``obj``'s next mode search at ``v`` where the objective allows it."""
    if v is not None and hasattr(obj, "warm_start"):
        obj.warm_start(v)


def _fd_inverse(obj, phi, ev, rel_step=1e-4):
    """Positive definite inverse of minus the forward-difference Hessian of the
    exact gradient at ``phi`` (``ev`` its evaluation; modes stored at ``phi``).

    Notes
    -----
    ``H[:, k] = (g(phi + h_k e_k) - g(phi)) / h_k``, symmetrised; with
    ``-H = U diag(lambda) U'``, returns ``U diag(1 / max(|lambda|, floor)) U'``
    (the eigenvalue modification of Nocedal and Wright 2006, section 3.4).
    """
    P = len(phi)
    h = rel_step * np.maximum(np.abs(phi), 0.1)
    v0 = getattr(obj, "modes", None)  # objectives on a cluster keep their own
    H = np.empty((P, P))
    try:
        for k in range(P):
            e = np.zeros(P)
            e[k] = h[k]
            _warm_start(obj, v0)
            H[:, k] = (obj.evaluate(phi + e).grad - ev.grad) / h[k]
    except (np.linalg.LinAlgError, FloatingPointError):  # e.g. overflow far out
        H[:] = np.nan
    _warm_start(obj, v0)
    if not np.all(np.isfinite(H)):
        return None  # the caller falls back to the outer-product information
    lam, U = np.linalg.eigh(-0.5 * (H + H.T))
    lam = np.maximum(np.abs(lam), 1e-8 * max(float(np.max(np.abs(lam))), 1e-300))
    return (U / lam) @ U.T


def _first_trial(obj, phi, step):
    """Largest trial step length: at most 1, no parameter moved by more than 2,
    and no Cholesky diagonal by more than half of ``max(|c|, 0.2)``.

    The objective is even in each column of a Cholesky factor, flat for large
    variances and often not concave near zero, so a quadratic model fitted far
    from the optimum can send a standard deviation through zero or far out;
    the cap keeps each iteration on its own side (it binds only for large
    relative moves, not near the optimum).
    """
    diag = obj.theta_offset + np.flatnonzero(obj.structure.theta_is_diag())
    t = min(1.0, 2.0 / max(float(np.max(np.abs(step))), 1e-300))
    if len(diag):
        room = 0.5 * np.maximum(np.abs(phi[diag]), 0.2)
        t = min(t, float(np.min(room / np.maximum(np.abs(step[diag]), 1e-300))))
    return t


def _line_search(obj, phi, ev, step, decrement):
    """Backtracking (Armijo) along ``step`` from the length of
    :func:`_first_trial`: :func:`pywemix.objective.newton.backtrack` on one
    problem. Returns (phi, ev, t) or None.

    Notes
    -----
    Takes ``t = t_0 2^{-k}`` with the smallest ``k < 40`` where the objective
    can be evaluated (finite value and gradient) and
    ``f(phi + t step) >= f(phi) + 10^{-4} t g'step`` (Nocedal and Wright
    2006, sect. 3.1); ``decrement`` is ``g'step``.
    """
    t0 = _first_trial(obj, phi, step)

    def evaluate(x, pending, k):
        t = t0 * 0.5**k
        try:
            new = obj.evaluate(x[0])
        except (np.linalg.LinAlgError, FloatingPointError):  # e.g. overflow far out
            new = None
        ok = (
            new is not None
            and np.isfinite(new.llf)
            and np.all(np.isfinite(new.grad))
            and new.llf >= ev.llf + 1e-4 * t * decrement
        )
        return SimpleNamespace(x=x, ev=new, ok=np.array([ok]))

    state, t, found, _ = backtrack(
        evaluate,
        SimpleNamespace(x=phi[None, :]),
        step[None, :],
        np.ones(1, dtype=bool),
        lambda new, old: new.ok,
        move=lambda st, s, t: st.x + (t0 * t)[:, None] * s,
    )
    return (state.x[0], state.ev, t0 * float(t[0])) if found[0] else None


def maximize_laplace(obj, phi, max_iter):
    """Maximise the Laplace objective by BFGS on its exact gradient.

    The inverse-Hessian approximation starts from the inverse of minus a
    forward-difference Hessian (:func:`_fd_inverse`) and, when a line search
    fails, restarts at the inverse outer-product information of the
    top-level groups; converged when the decrement ``g' H^{-1} g`` is below
    ``LAPLACE_TOL * max(1, |llf|)``.
    """
    w = obj.wg[-1]
    ev = obj.evaluate(phi)
    Hinv = _fd_inverse(obj, phi, ev)
    if Hinv is None:
        Hinv = _bhhh_inverse(ev, w)
    restarted, message = False, "maximum iterations reached"
    it = 0
    for it in range(1, max_iter + 1):
        step = Hinv @ ev.grad
        decrement = float(ev.grad @ step)
        if decrement <= 0:
            Hinv = _bhhh_inverse(ev, w)
            continue
        if decrement < LAPLACE_TOL * stop_scale(obj, ev.llf):
            return phi, ev, it, True, "gradient (Newton decrement) below tolerance"
        found = _line_search(obj, phi, ev, step, decrement)
        if found is None:
            if restarted:
                message = "line search failed"
                break
            Hinv, restarted = _bhhh_inverse(ev, w), True
            continue
        cand, new, t = found
        s_, y_ = t * step, ev.grad - new.grad
        sy = float(s_ @ y_)
        if sy > 1e-12 * float(np.sqrt((s_ @ s_) * (y_ @ y_))):
            rho = 1.0 / sy
            V = np.eye(len(phi)) - rho * np.outer(s_, y_)
            Hinv = V @ Hinv @ V.T + rho * np.outer(s_, s_)
        phi, ev, restarted = cand, new, False
    return phi, ev, it, False, message


def fit_laplace(obj, phi0, max_iter, canonical):
    """BFGS fit, canonical signs, and the final evaluation with the Hessian.

    ``canonical(phi, obj)`` signs the Cholesky columns. The Hessian (finite
    differences of the exact gradient, for the standard errors) also confirms
    convergence: the Newton decrement with it must be small too.
    """
    phi, ev, iters, converged, message = maximize_laplace(obj, phi0, max_iter)
    phi = canonical(phi, obj)
    ev = obj.evaluate(phi, hessian=True)
    phi, ev = _newton_polish(obj, phi, ev, canonical)
    try:
        decrement = float(ev.grad @ np.linalg.solve(-ev.hess, ev.grad))
    except np.linalg.LinAlgError:
        decrement = np.inf
    if converged and not abs(decrement) < 1e3 * LAPLACE_TOL * stop_scale(obj, ev.llf):
        converged, message = False, "gradient not small at the reported optimum"
    return phi, ev, iters, converged, message


def _newton_polish(obj, phi, ev, canonical):
    """One Newton step with the final Hessian, kept when it does not lower the
    objective beyond its rounding: where BFGS stopped depends on its path, the
    Newton step's end point hardly does (its error is about the square of the
    step's), so fits that differ only in the weights' scale or the start agree
    to the objective's resolution. The Hessian is kept from ``phi`` (the step
    is far below the precision standard errors need)."""
    try:
        step = np.linalg.solve(-ev.hess, ev.grad)
    except np.linalg.LinAlgError:
        return phi, ev
    if not float(ev.grad @ step) > 0 or not np.all(np.isfinite(step)):
        return phi, ev  # not an ascent direction: -H is not positive definite
    cand = phi + step
    if not np.array_equal(canonical(cand, obj), cand):
        return phi, ev  # a Cholesky diagonal would change sign
    try:
        new = obj.evaluate(cand)
    except (np.linalg.LinAlgError, FloatingPointError):
        return phi, ev
    floor = ev.llf - 64 * np.finfo(float).eps * abs(ev.llf)
    if not (np.isfinite(new.llf) and np.all(np.isfinite(new.grad)) and new.llf >= floor):
        return phi, ev
    return cand, replace(new, hess=ev.hess)
