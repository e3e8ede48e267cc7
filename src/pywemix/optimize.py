"""Optimisation of the covariance parameters, with a record of convergence.

A bounded quasi-Newton search (L-BFGS-B) followed by a few projected Newton
steps with a finite-difference Hessian, so that fits that should agree do
agree to many digits. R equivalent: ``lme4::optimizeLmer`` and the
``optinfo`` slot; MixedModels.jl's ``OptSummary``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from .numdiff import hessian, jacobian

__all__ = ["OptimizationRecord", "minimize_bounded"]


@dataclass(frozen=True)
class OptimizationRecord:
    """What the optimiser did.

    Attributes
    ----------
    x : ndarray
        Final parameters.
    fun : float
        Final objective value (minimised).
    iterations : int
        Quasi-Newton iterations plus Newton polishing steps.
    evaluations : int
        Objective evaluations.
    grad_norm : float
        Largest absolute projected gradient at the end (objective scaled per
        unit of total weight).
    converged : bool
    message : str
    method : str
    at_boundary : tuple of int
        Indices of parameters that ended on their lower bound.
    """

    x: np.ndarray
    fun: float
    iterations: int
    evaluations: int
    grad_norm: float
    converged: bool
    message: str
    method: str
    at_boundary: tuple


class _Counted:
    def __init__(self, f):
        self.f, self.n = f, 0

    def __call__(self, x):
        self.n += 1
        v = self.f(x)
        return v if np.isfinite(v) else 1e300


def _proj_grad(g, x, lower):
    pg = g.copy()
    at = x <= lower
    pg[at] = np.minimum(g[at], 0.0)
    return pg


def minimize_bounded(fun, x0, lower, *, gtol: float = 1e-8, max_iter: int = 1000,
                     polish: int = 20) -> OptimizationRecord:
    """Minimise ``fun`` subject to ``x >= lower`` (``-inf`` for no bound).

    Parameters
    ----------
    fun : callable
        Smooth objective, scaled to order one.
    x0, lower : ndarray
    gtol : float
        Convergence criterion on the largest projected gradient.
    max_iter : int
        Maximum quasi-Newton iterations.
    polish : int
        Maximum Newton steps after the quasi-Newton search.
    """
    f = _Counted(fun)
    lower = np.asarray(lower, dtype=float)
    x = np.maximum(np.asarray(x0, dtype=float), lower)

    def h_at(x):
        return 1e-6 * np.maximum(np.abs(x), 1e-2)

    def grad(x):
        return jacobian(f, x, h_at(x), lower)

    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    res = minimize(f, x, jac=grad, method="L-BFGS-B", bounds=bounds,
                   options=dict(maxiter=max_iter, ftol=1e-15, gtol=gtol * 1e-2,
                                maxcor=20))
    x, fx = np.maximum(res.x, lower), float(res.fun)
    iters, message = int(res.nit), str(res.message)
    # projected Newton polish
    for _ in range(polish):
        g = grad(x)
        pg = _proj_grad(g, x, lower)
        if np.max(np.abs(pg), initial=0) < gtol:
            break
        free = ~((x <= lower) & (g >= 0))
        if not free.any():
            break
        idx = np.flatnonzero(free)

        def sub(z, idx=idx, x=x):
            y = x.copy()
            y[idx] = z
            return f(y)
        H = hessian(sub, x[idx], 1e-4 * np.maximum(np.abs(x[idx]), 1e-2))
        try:
            np.linalg.cholesky(H)
            step = -np.linalg.solve(H, g[idx])
        except np.linalg.LinAlgError:
            break
        t, improved = 1.0, False
        for _ in range(30):
            cand = x.copy()
            cand[idx] = x[idx] + t * step
            cand = np.maximum(cand, lower)
            fc = f(cand)
            if fc <= fx:
                x, fx, improved = cand, fc, True
                break
            t *= 0.5
        iters += 1
        if not improved:
            break
    g = grad(x)
    pg = _proj_grad(g, x, lower)
    gnorm = float(np.max(np.abs(pg), initial=0.0))
    converged = bool(gnorm < max(gtol * 100, 1e-6) and np.isfinite(fx))
    if not converged:
        message = f"projected gradient {gnorm:.3g} above tolerance ({message})"
    at = tuple(int(i) for i in np.flatnonzero(x <= lower))
    return OptimizationRecord(x, fx, iters, f.n, gnorm, converged, message,
                              "L-BFGS-B + Newton", at)
