"""Optimisation of the covariance parameters, with a record of convergence.

A bounded quasi-Newton search (L-BFGS-B) followed by a few projected Newton
steps with a finite-difference Hessian, so that fits that should agree do
agree to many digits. R equivalent: ``lme4::optimizeLmer`` and the
``optinfo`` slot; MixedModels.jl's ``OptSummary``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize

from .numdiff import hessian, jacobian

__all__ = ["OptimizationRecord", "minimize_bounded", "newton_batch", "check_start",
           "check_finite_fit"]


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


def check_start(start, n: int, layout: str) -> np.ndarray:
    """User starting values as a finite float vector of length ``n``.

    ``layout`` says what the values are, for the error messages.
    """
    try:
        x = np.asarray(start, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"start must be a sequence of {n} numbers ({layout}), got "
                        f"{start!r}") from None
    if x.ndim != 1 or len(x) != n:
        raise ValueError(f"start must have {n} values ({layout}), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"start must be finite, got {x.tolist()}")
    return x


def check_finite_fit(values, design) -> None:
    """Raise when a fit ended on non-finite estimates (the criterion could not
    be evaluated there), with what to look at."""
    if all(np.all(np.isfinite(np.asarray(v, dtype=float))) for v in values):
        return
    w1 = design.w1
    hint = ""
    if w1.max() > 1e6 or (w1.min() > 0 and w1.max() / w1.min() > 1e8):
        hint = (f" The conditional level-1 weights range from {w1.min():.3g} to "
                f"{w1.max():.3g}: rescale them (weight_scaling='size', or divide "
                "unconditional student weights by the school weights).")
    raise ValueError("the fit failed numerically: the likelihood is not finite at the "
                     "estimates (extreme weights or values, or a degenerate model)." + hint)


class _Counted:
    def __init__(self, f):
        self.f, self.n = f, 0

    def __call__(self, x):
        self.n += 1
        v = self.f(x)
        return v if np.isfinite(v) else 1e300


def _escape(f, x, fx, lower, steps=(1e-2, 1e-1, 0.5)):
    """A point off the bound that improves on ``x``, or None."""
    for i in np.flatnonzero(np.isfinite(lower) & (x <= lower)):
        for d in steps:
            cand = x.copy()
            cand[i] = lower[i] + d
            if f(cand) < fx - 1e-12 * max(1.0, abs(fx)):
                return cand
    return None


def _proj_grad(g, x, lower):
    pg = g.copy()
    at = x <= lower
    pg[at] = np.minimum(g[at], 0.0)
    return pg


def minimize_bounded(fun, x0, lower, *, grad=None, fun_and_grad=None, gtol: float = 1e-8,
                     max_iter: int = 1000, polish: int = 20,
                     escape: bool = True) -> OptimizationRecord:
    """Minimise ``fun`` subject to ``x >= lower`` (``-inf`` for no bound).

    Parameters
    ----------
    fun : callable
        Smooth objective, scaled to order one.
    grad : callable, optional
        Its exact gradient; finite differences when omitted.
    fun_and_grad : callable, optional
        ``x -> (fun(x), grad(x))`` computed together (cheaper when both are
        needed); implies ``grad``.
    x0, lower : ndarray
    gtol : float
        Convergence criterion on the largest projected gradient.
    max_iter : int
        Maximum quasi-Newton iterations.
    polish : int
        Maximum Newton steps after the quasi-Newton search.
    escape : bool
        Try stepping off lower bounds where the search stopped (see below).
    """
    f = _Counted(fun)
    lower = np.asarray(lower, dtype=float)
    x = np.maximum(np.asarray(x0, dtype=float), lower)

    def h_at(x):
        return 1e-6 * np.maximum(np.abs(x), 1e-2)

    if fun_and_grad is not None and grad is None:
        def grad(x):
            return fun_and_grad(x)[1]
    exact = grad
    if exact is None:
        def grad(x):
            return jacobian(f, x, h_at(x), lower)
    else:
        def grad(x):
            g = np.asarray(exact(x), dtype=float)
            return np.where(np.isfinite(g), g, 0.0)

    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    if fun_and_grad is not None:
        def both(x):
            f.n += 1
            v, g = fun_and_grad(x)
            if not np.isfinite(v):
                return 1e300, np.zeros_like(x)
            return v, np.where(np.isfinite(g), g, 0.0)
        target, jac = both, True
    else:
        target, jac = f, grad
    res = minimize(target, x, jac=jac, method="L-BFGS-B", bounds=bounds,
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
        if exact is None:
            H = hessian(sub, x[idx], 1e-4 * np.maximum(np.abs(x[idx]), 1e-2))
        else:
            def gsub(z, idx=idx, x=x):
                y = x.copy()
                y[idx] = z
                return grad(y)[idx]
            H = jacobian(gsub, x[idx], 1e-5 * np.maximum(np.abs(x[idx]), 1e-2))
            H = 0.5 * (H + H.T)
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
    # A Cholesky diagonal on its bound has zero gradient there whatever the
    # curvature (d(LL')/dL_ii = 0 at L_ii = 0), so the search can stop on a
    # saddle: step off the bound and search again if that does better.
    for _ in range(5 if escape else 0):
        restart = _escape(f, x, fx, lower)
        if restart is None:
            break
        again = minimize_bounded(fun, restart, lower, grad=exact,
                                 fun_and_grad=fun_and_grad, gtol=gtol,
                                 max_iter=max_iter, polish=polish, escape=False)
        iters += again.iterations
        if again.fun < fx:
            x, fx = again.x, again.fun
    g = grad(x)
    pg = _proj_grad(g, x, lower)
    gnorm = float(np.max(np.abs(pg), initial=0.0))
    converged = bool(gnorm < max(gtol * 100, 1e-6) and np.isfinite(fx))
    if not converged:
        message = f"projected gradient {gnorm:.3g} above tolerance ({message})"
    at = tuple(int(i) for i in np.flatnonzero(x <= lower))
    return OptimizationRecord(x, fx, iters, f.n, gnorm, converged, message,
                              "L-BFGS-B + Newton", at)


class BatchResult(NamedTuple):
    """Outcome of :func:`newton_batch`."""

    x: np.ndarray
    fun: np.ndarray
    converged: np.ndarray
    iterations: int
    evaluations: int


def newton_batch(fun_grad, X0, lower, *, gtol: float = 1e-8, max_iter: int = 100,
                 escape: bool = True, hess=None):
    """Minimise many small problems at once by projected Newton steps.

    Parameters
    ----------
    fun_grad : callable
        ``(X (b, k), idx (b,)) -> (f (b,), g (b, k))`` for the problems
        ``idx`` (for example bootstrap replicates), vectorised over them.
    X0 : ndarray (B, k)
    lower : ndarray (k,)
        Lower bounds (``-inf`` for none).
    hess : callable, optional
        ``(X (b, k), idx (b,)) -> H (b, k, k)``, the exact Hessians; central
        differences of the gradients when omitted.

    Returns
    -------
    BatchResult
        ``x`` (B, k), ``fun`` (B,), ``converged`` (B,) and the numbers of
        iterations and (batched) evaluations.

    Notes
    -----
    The Hessian is the central difference of the exact gradients; a
    non-positive-definite Hessian is shifted (Levenberg) and every step is
    backtracked until the objective does not increase. Coordinates on their
    bound with the gradient pushing outwards are held fixed. Problems that
    have converged drop out of later evaluations.
    """
    X = np.maximum(np.array(X0, dtype=float), lower)
    B, k = X.shape
    calls = [0]

    def fun_grad_counted(Z, idx, _fg=fun_grad):
        calls[0] += 1
        return _fg(Z, idx)
    fun_grad = fun_grad_counted
    f, g = fun_grad(X, np.arange(B))
    done = np.zeros(B, dtype=bool)
    converged = np.zeros(B, dtype=bool)
    eye = np.eye(k)
    iterations = 0
    for iterations in range(1, max_iter + 1):
        at = (X <= lower) & (g > 0)
        pg = np.where(at, 0.0, g)
        small = np.max(np.abs(pg), axis=1) < gtol
        converged |= small
        done |= small
        if done.all():
            break
        a = np.flatnonzero(~done)
        Xa, fa, pga, ata = X[a], f[a], pg[a], at[a]
        H = _fd_hessian(fun_grad, Xa, a, lower) if hess is None else hess(Xa, a)
        free = ~ata
        Hf = np.where(free[:, :, None] & free[:, None, :], H, eye)
        lam_min = np.linalg.eigvalsh(Hf)[:, 0]
        shift = np.where(lam_min < 1e-10,
                         1e-10 - lam_min + 1e-6 * np.abs(Hf).max(axis=(1, 2)), 0.0)
        step = -np.linalg.solve(Hf + shift[:, None, None] * eye, pga[..., None])[..., 0]
        # a Cholesky diagonal on its bound has zero gradient whatever the
        # curvature (d(LL')/dL_ii = 0 at L_ii = 0): where the curvature is
        # negative the bound is a saddle, so step off it into the interior
        diag = np.diagonal(H, axis1=1, axis2=2)
        saddle = (Xa <= lower) & (np.abs(pga) < gtol) & (diag < 0)
        step = np.where(saddle, 0.1 * np.maximum(1.0, np.abs(Xa).max(axis=1))[:, None], step)
        # trust radius: a nearly singular (shifted) Hessian far from the optimum
        # gives huge steps that the line search would only halve back
        norm = np.sqrt(np.sum(step * step, axis=1))
        radius = np.maximum(1.0, np.sqrt(np.sum(Xa * Xa, axis=1)))
        step *= np.minimum(1.0, radius / np.maximum(norm, 1e-300))[:, None]
        t = np.ones(len(a))
        accepted = np.zeros(len(a), dtype=bool)
        for _ in range(30):
            todo = np.flatnonzero(~accepted)
            cand = np.maximum(Xa[todo] + t[todo, None] * step[todo], lower)
            # a bounded coordinate a rounding error away from its bound is on it
            # (a Cholesky diagonal at 1e-16 is a stationary point, like 0, and
            # only the bound's saddle checks can tell whether to leave it)
            cand = np.where(cand - lower < 1e-10, lower, cand)
            fc, gc = fun_grad(cand, a[todo])
            ok = np.isfinite(fc) & (fc <= fa[todo] + 1e-13 * np.abs(fa[todo]))
            rows = a[todo[ok]]
            X[rows], f[rows], g[rows] = cand[ok], fc[ok], gc[ok]
            accepted[todo[ok]] = True
            if accepted.all():
                break
            t[todo[~ok]] *= 0.5
        moved = np.max(np.abs(step * t[:, None]), axis=1)
        # no decrease along a Newton direction: at the optimum up to rounding
        stuck = ~accepted | (moved < 1e-12 * np.maximum(1.0, np.max(np.abs(Xa), axis=1)))
        done[a[stuck]] = True
        converged[a[stuck]] = np.max(np.abs(pga[stuck]), axis=1) < 1e-5
    if escape:
        X, f, converged = _escape_batch(fun_grad, X, f, converged, lower, gtol, max_iter,
                                        hess)
    return BatchResult(X, f, converged, iterations, calls[0])


def _fd_hessian(fun_grad, Xa, a, lower):
    """Hessians by central differences of the exact gradients (one-sided at bounds)."""
    k = Xa.shape[1]
    h = 1e-5 * np.maximum(np.abs(Xa), 1e-2)
    H = np.empty((len(a), k, k))
    for i in range(k):
        up, lo = Xa.copy(), Xa.copy()
        up[:, i] += h[:, i]
        lo[:, i] -= h[:, i]
        one_sided = lo[:, i] < lower[i]
        lo[one_sided, i] = Xa[one_sided, i]
        gu = fun_grad(up, a)[1]
        gl = fun_grad(lo, a)[1]
        H[:, :, i] = (gu - gl) / (np.where(one_sided, 1.0, 2.0) * h[:, i])[:, None]
    return 0.5 * (H + np.swapaxes(H, 1, 2))


def _escape_batch(fun_grad, X, f, converged, lower, gtol, max_iter, hess=None):
    """``_escape`` for :func:`newton_batch`: restart problems stuck on a bound."""
    for i in np.flatnonzero(np.isfinite(lower)):
        on = np.flatnonzero(X[:, i] <= lower[i])
        for d in (1e-2, 1e-1, 0.5):
            if len(on) == 0:
                break
            cand = X[on].copy()
            cand[:, i] = lower[i] + d
            fc, _ = fun_grad(cand, on)
            better = fc < f[on] - 1e-12 * np.maximum(1.0, np.abs(f[on]))
            if better.any():
                idx = on[better]
                sub_hess = None if hess is None else (lambda Z, j, idx=idx: hess(Z, idx[j]))
                Xn, fn, cn, _, _ = newton_batch(lambda Z, j, idx=idx: fun_grad(Z, idx[j]),
                                                cand[better], lower, gtol=gtol,
                                                max_iter=max_iter, escape=False,
                                                hess=sub_hess)
                keep = fn < f[idx]
                X[idx[keep]], f[idx[keep]], converged[idx[keep]] = Xn[keep], fn[keep], cn[keep]
            on = on[~better]
    return X, f, converged
