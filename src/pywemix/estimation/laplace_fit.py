"""Maximising the Laplace objective (``n_quad=1``) on its exact gradient.

BFGS (Nocedal and Wright 2006, ch. 6) started from the inverse outer-product
information of the top-level groups (Berndt, Hall, Hall and Hausman 1974),
with an Armijo line search; no finite differences inside the optimisation.
The final Hessian (central differences of the exact gradient) serves the
standard errors and confirms that the reported point is a maximum. R
equivalent: ``lme4::glmer(nAGQ = 1)``, which uses derivative-free bobyqa.
"""
from __future__ import annotations

import numpy as np

__all__ = ["LAPLACE_TOL", "maximize_laplace", "fit_laplace"]

#: The Laplace fit has converged when the Newton decrement ``g' H^{-1} g`` is
#: below this fraction of ``max(1, |llf|)``.
LAPLACE_TOL = 1e-13


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


def _line_search(obj, phi, ev, step, decrement):
    """Backtracking (Armijo) along ``step``; returns (phi, ev, t) or None."""
    t = min(1.0, 2.0 / max(float(np.max(np.abs(step))), 1e-300))
    for _ in range(40):
        cand = phi + t * step
        try:
            new = obj.evaluate(cand)
        except (np.linalg.LinAlgError, FloatingPointError):  # e.g. overflow far out
            new = None
        if (new is not None and np.isfinite(new.llf) and np.all(np.isfinite(new.grad))
                and new.llf >= ev.llf + 1e-4 * t * decrement):
            return cand, new, t
        t *= 0.5
    return None


def maximize_laplace(obj, phi, max_iter):
    """Maximise the Laplace objective by BFGS on its exact gradient.

    The inverse-Hessian approximation starts from (and, when a line search
    fails, restarts at) the inverse outer-product information of the
    top-level groups; converged when the decrement ``g' H^{-1} g`` is below
    ``LAPLACE_TOL * max(1, |llf|)``.
    """
    w = obj.wg[-1]
    ev = obj.evaluate(phi)
    Hinv = _bhhh_inverse(ev, w)
    restarted, message = False, "maximum iterations reached"
    it = 0
    for it in range(1, max_iter + 1):
        step = Hinv @ ev.grad
        decrement = float(ev.grad @ step)
        if decrement <= 0:
            Hinv = _bhhh_inverse(ev, w)
            continue
        if decrement < LAPLACE_TOL * max(1.0, abs(ev.llf)):
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
    try:
        decrement = float(ev.grad @ np.linalg.solve(-ev.hess, ev.grad))
    except np.linalg.LinAlgError:
        decrement = np.inf
    if converged and not abs(decrement) < 1e3 * LAPLACE_TOL * max(1.0, abs(ev.llf)):
        converged, message = False, "gradient not small at the reported optimum"
    return phi, ev, iters, converged, message
