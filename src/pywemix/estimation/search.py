"""The searches that optimise the covariance parameters, and their record.

:func:`newton_batch` minimises by projected Newton steps with a Levenberg
shift (for one problem or many small ones at once), through the package's
one damped Newton iteration, :func:`pywemix.objective.newton.damped_newton`;
Gaussian fits, bootstrap and replicate refits run it first.
:func:`minimize_bounded` is the fallback: a bounded quasi-Newton search
(L-BFGS-B) polished by a few Newton steps, used when the Newton search of a
Gaussian fit stalls and for GLMMs approximated with too few quadrature points
for fixed-node Newton steps (numerical derivatives).
:class:`OptimizationRecord` says what the search did. R equivalent:
``lme4::optimizeLmer`` and the ``optinfo`` slot; MixedModels.jl's
``OptSummary``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.optimize import minimize

from ..objective.newton import cap_length, damped_newton, shift
from .numdiff import hessian, jacobian, steps

__all__ = [
    "OptimizationRecord",
    "minimize_bounded",
    "newton_batch",
    "as_batch",
    "check_start",
    "check_finite_fit",
    "projected",
    "irls",
]


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
        The search converged and its point passed the convergence
        certificate (:mod:`pywemix.estimation.certificate`).
    message : str
        How the search ended; why the point is not certified, if it is not.
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
        raise TypeError(
            f"start must be a sequence of {n} numbers ({layout}), got {start!r}"
        ) from None
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
        hint = (
            f" The conditional level-1 weights range from {w1.min():.3g} to "
            f"{w1.max():.3g}: rescale them (weight_scaling='size', or divide "
            "unconditional student weights by the school weights)."
        )
    raise ValueError(
        "the fit failed numerically: the likelihood is not finite at the "
        "estimates (extreme weights or values, or a degenerate model)." + hint
    )


class _Counted:
    """``f`` counting its calls; a non-finite value becomes ``1e300``."""

    def __init__(self, f):
        self.f, self.n = f, 0

    def __call__(self, x):
        self.n += 1
        v = self.f(x)
        return v if np.isfinite(v) else 1e300


def projected(g, x, lower):
    """The gradient ``g`` at ``x`` with the components pushing out through a
    lower bound set to 0 (the projected gradient of a bound-constrained search)."""
    return np.where((x <= lower) & (g > 0), 0.0, g)


class BatchResult(NamedTuple):
    """Outcome of :func:`newton_batch`."""

    x: np.ndarray
    fun: np.ndarray
    converged: np.ndarray
    iterations: int
    evaluations: int


def newton_batch(
    fun_grad, X0, lower, *, gtol: float = 1e-8, max_iter: int = 100, escape: bool = True, hess=None
) -> BatchResult:
    """Minimise one or many small problems by damped, projected Newton steps.

    :func:`~pywemix.objective.newton.damped_newton` with projected steps;
    a single problem is a batch of one (``X0[None, :]``), an unbounded one
    has ``lower = np.full(k, -np.inf)``.

    Parameters
    ----------
    fun_grad : callable
        ``(X (b, k), idx (b,)) -> (f (b,), g (b, k))`` for the problems
        ``idx`` (for example bootstrap replicates), vectorised over them.
        A non-finite ``f`` rejects the point.
    X0 : ndarray (B, k)
    lower : ndarray (k,)
        Lower bounds (``-inf`` for none).
    gtol : float
        Convergence criterion on the largest projected gradient.
    max_iter : int
        Maximum Newton steps.
    escape : bool
        Restart problems that stop on a bound from points off it (see Notes).
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
    Coordinates on their bound with the gradient pushing outwards are held
    fixed; on the others the step is ``-(H + mu I)^{-1} g`` with the
    Levenberg shift ``mu`` making the Hessian positive definite (Nocedal and
    Wright 2006, *Numerical Optimization*, 2nd ed., sect. 3.4), shortened to
    a trust radius ``max(1, |x|)`` and halved until the objective does not
    increase (backtracking, ibid. sect. 3.1). A problem stops when its
    projected gradient is below ``gtol``, or when no step decreases it (at
    once, or for three steps running: the optimum up to rounding, when the
    objective is too large for ``gtol``); it has then converged if its
    projected gradient is below 1e-5. Problems that have stopped drop out
    of later evaluations.

    A Cholesky diagonal on its bound has zero gradient there whatever the
    curvature (``d(LL')/dL_ii = 0`` at ``L_ii = 0``), so a search can stop
    on a saddle: where the curvature along the bound coordinate is negative
    the step leaves the bound, and with ``escape`` problems stopped on a
    bound are restarted from points off it when those do better.
    """
    X = np.maximum(np.array(X0, dtype=float), lower)
    B = X.shape[0]
    calls = [0]

    def counted(Z, idx):
        calls[0] += 1
        return fun_grad(Z, idx)

    def evaluate(Z, pending, k):
        idx = np.flatnonzero(pending)
        f, g = np.full(B, np.nan), np.zeros_like(Z)
        f[idx], g[idx] = counted(Z[idx], idx)
        return _Point(Z, f, g)

    def direction(pt, active):
        at = (pt.x <= lower) & (pt.g > 0)
        pg = np.where(at, 0.0, pt.g)
        small = np.max(np.abs(pg), axis=1, initial=0.0) < gtol
        a = np.flatnonzero(active & ~small)
        step = np.zeros_like(pt.x)
        if len(a):
            Xa = pt.x[a]
            H = _fd_hessian(counted, Xa, a, lower) if hess is None else hess(Xa, a)
            step[a] = _newton_step(H, pg[a], ~at[a], Xa, lower, gtol)
        return step, small

    stalls = np.zeros(B, dtype=int)

    def stop(old, new, step, t):
        # no decrease along a Newton direction three times running, or no
        # move: at the optimum up to rounding
        stalls[:] = np.where(new.f < old.f, 0, stalls + 1)
        moved = np.max(np.abs(step * t[:, None]), axis=1)
        return (stalls >= 3) | (moved < 1e-12 * np.maximum(1.0, np.max(np.abs(old.x), axis=1)))

    pt, rec = damped_newton(
        evaluate,
        _Point(X, *counted(X, np.arange(B))),
        direction,
        _decrease,
        np.ones(B, dtype=bool),
        move=_projector(lower),
        stop=stop,
        max_iter=max_iter,
        halvings=30,
    )
    gnorm = np.max(np.abs(projected(pt.g, pt.x, lower)), axis=1, initial=0.0)
    X, f, converged = pt.x.copy(), pt.f.copy(), rec.converged | (rec.stopped & (gnorm < 1e-5))
    if escape:
        X, f, converged = _escape_bounds(counted, X, f, converged, lower, gtol, max_iter, hess)
    return BatchResult(X, f, converged, rec.iterations, calls[0])


class _Point(NamedTuple):
    """Points ``x`` (B, k) of a batch with their values ``f`` and gradients ``g``."""

    x: np.ndarray
    f: np.ndarray
    g: np.ndarray


def _decrease(new, old):
    """Accept a trial point whose value is finite and not above the current one
    (up to 1e-13 relative)."""
    return np.isfinite(new.f) & (new.f <= old.f + 1e-13 * np.abs(old.f))


def _projector(lower):
    """Trial points ``max(x + t s, lower)``; a bounded coordinate a rounding
    error away from its bound is put on it (a Cholesky diagonal at 1e-16 is a
    stationary point, like 0, and only the bound's saddle checks can tell
    whether to leave it)."""

    def move(pt, step, t):
        cand = np.maximum(shift(pt, step, t), lower)
        return np.where(cand - lower < 1e-10, lower, cand)

    return move


def _newton_step(H, pg, free, X, lower, gtol):
    """Levenberg-shifted Newton steps on the ``free`` coordinates, within the trust radius."""
    eye = np.eye(X.shape[1])
    Hf = np.where(free[:, :, None] & free[:, None, :], H, eye)
    lam_min = np.linalg.eigvalsh(Hf)[:, 0]
    mu = np.where(lam_min < 1e-10, 1e-10 - lam_min + 1e-6 * np.abs(Hf).max(axis=(1, 2)), 0.0)
    step = -np.linalg.solve(Hf + mu[:, None, None] * eye, pg[..., None])[..., 0]
    # negative curvature along a bound coordinate with zero gradient: a saddle
    # on the bound, so step off it into the interior
    diag = np.diagonal(H, axis1=1, axis2=2)
    saddle = (X <= lower) & (np.abs(pg) < gtol) & (diag < 0)
    step = np.where(saddle, 0.1 * np.maximum(1.0, np.abs(X).max(axis=1))[:, None], step)
    # trust radius: a nearly singular (shifted) Hessian far from the optimum
    # gives huge steps that the line search would only halve back
    return cap_length(step, np.maximum(1.0, np.sqrt(np.sum(X * X, axis=1))))


def _fd_hessian(fun_grad, Xa, a, lower):
    """Hessians by central differences of the exact gradients (one-sided at bounds)."""
    k = Xa.shape[1]
    h = steps(Xa, 1e-5)
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


def _escape_bounds(fun_grad, X, f, converged, lower, gtol, max_iter, hess=None):
    """Restart problems stopped on a bound from points off it, where those do better."""
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
                Xn, fn, cn, _, _ = newton_batch(
                    lambda Z, j, idx=idx: fun_grad(Z, idx[j]),
                    cand[better],
                    lower,
                    gtol=gtol,
                    max_iter=max_iter,
                    escape=False,
                    hess=sub_hess,
                )
                keep = fn < f[idx]
                X[idx[keep]], f[idx[keep]], converged[idx[keep]] = Xn[keep], fn[keep], cn[keep]
            on = on[~better]
    return X, f, converged


def as_batch(fun_and_grad):
    """A one-problem ``x -> (f, g)`` as :func:`newton_batch`'s ``(X, idx) -> (f, G)``.

    For example ``newton_batch(as_batch(fg), x0[None, :], lower).x[0]``.
    """

    def fg(X, idx):
        v, g = fun_and_grad(X[0])
        return np.array([v]), np.asarray(g, dtype=float)[None, :]

    return fg


def _value_and_gradient(f, grad, fun_and_grad, lower):
    """``x -> (f(x), gradient)`` with non-finite values made safe for the search.

    The gradient is ``fun_and_grad``'s, else ``grad``'s, else central
    differences of the (counted) ``f``. A non-finite value becomes ``1e300``
    and non-finite gradient entries 0, so that line searches reject the point.
    """

    def raw(x):
        if fun_and_grad is not None:
            f.n += 1
            return fun_and_grad(x)
        if grad is not None:
            return f(x), grad(x)
        return f(x), jacobian(f, x, steps(x, 1e-6), lower)

    def both(x):
        v, g = raw(x)
        if not np.isfinite(v) or v >= 1e300:
            return 1e300, np.zeros_like(x)
        g = np.asarray(g, dtype=float)
        return float(v), np.where(np.isfinite(g), g, 0.0)

    return both


def minimize_bounded(
    fun,
    x0,
    lower,
    *,
    grad=None,
    fun_and_grad=None,
    gtol: float = 1e-8,
    max_iter: int = 1000,
    polish: int = 20,
    escape: bool = True,
) -> OptimizationRecord:
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
        Try stepping off lower bounds where the search stopped (see
        :func:`newton_batch`).

    Notes
    -----
    A bounded quasi-Newton search (L-BFGS-B; Byrd, Lu, Nocedal and Zhu 1995,
    SIAM J. Sci. Comput. 16, 1190-1208), then at most ``polish`` damped
    Newton steps by :func:`newton_batch`, with the Hessian from central
    differences of the exact gradient, or of ``fun`` itself when there is no
    exact gradient. When the quasi-Newton line search ends abnormally
    (scipy's ``'ABNORMAL: '``), the record has converged only if the Newton
    polish converged by its own test; its message says so otherwise.
    """
    f = _Counted(fun)
    lower = np.asarray(lower, dtype=float)
    x = np.maximum(np.asarray(x0, dtype=float), lower)
    both = _value_and_gradient(f, grad, fun_and_grad, lower)
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    res = minimize(
        both,
        x,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options=dict(maxiter=max_iter, ftol=1e-15, gtol=gtol * 1e-2, maxcor=20),
    )
    x, fx = np.maximum(res.x, lower), float(res.fun)
    hess = None
    if grad is None and fun_and_grad is None:

        def hess(X, idx):  # differences of differences are too noisy: use f itself
            return hessian(f, X[0], steps(X[0], 1e-4))[None]

    iterations = int(res.nit)
    # a line search that ended abnormally stops the quasi-Newton search
    # anywhere: only a Newton search that converges by itself from there
    # can make the point an optimum
    confirmed = not str(res.message).startswith("ABNORMAL")
    if polish > 0:
        polished = newton_batch(
            as_batch(both), x[None, :], lower, gtol=gtol, max_iter=polish, escape=escape, hess=hess
        )
        iterations += polished.iterations
        if polished.fun[0] <= fx:
            x, fx = polished.x[0], float(polished.fun[0])
            confirmed = confirmed or bool(polished.converged[0])
    _, g = both(x)
    gnorm = float(np.max(np.abs(projected(g, x, lower)), initial=0.0))
    converged = bool(gnorm < max(gtol * 100, 1e-6) and fx < 1e300 and confirmed)
    message = str(res.message)
    if not confirmed:
        message = f"the quasi-Newton line search ended abnormally ({message})"
    elif not converged:
        message = f"projected gradient {gnorm:.3g} above tolerance ({message})"
    at = tuple(int(i) for i in np.flatnonzero(x <= lower))
    return OptimizationRecord(
        x, fx, iterations, f.n, gnorm, converged, message, "L-BFGS-B + Newton", at
    )


def irls(
    info_score, beta0, *, max_iter: int = 50, max_step: float = 5.0, tol: float = 1e-8
) -> np.ndarray:
    """Maximise a concave log-likelihood by Newton (scoring) steps, as IRLS does.

    Parameters
    ----------
    info_score : callable
        ``beta -> (information (p, p), score (p,))``, for example of a
        weighted GLM (summed over Dask actors or not).
    beta0 : ndarray (p,)
    max_iter : int
    max_step : float
        Each coordinate's step is clipped to ``[-max_step, max_step]`` (a
        separated binary predictor would otherwise step to infinity).
    tol : float
        Stop when no coordinate moves more than this.

    Returns
    -------
    ndarray
        The estimate (the last point reached if the information becomes
        singular).

    Notes
    -----
    ``beta <- beta + I(beta)^{-1} s(beta)`` (with a ridge of 1e-10), iteratively reweighted least
    squares for a GLM (McCullagh and Nelder 1989, *Generalized Linear
    Models*, 2nd ed., sect. 2.5); R equivalent: ``glm.fit``. Used for the
    fixed-effects start of GLMM fits.
    """
    beta = np.array(beta0, dtype=float)
    for _ in range(max_iter):
        info, score = info_score(beta)
        try:
            step = np.linalg.solve(info + 1e-10 * np.eye(len(beta)), score)
        except np.linalg.LinAlgError:
            break
        step = np.clip(step, -max_step, max_step)
        beta = beta + step
        if np.max(np.abs(step), initial=0.0) < tol:
            break
    return beta
