"""Optimising a weighted generalized linear mixed model's adaptive-quadrature
pseudo-likelihood (stage 3a for non-Gaussian families).

Newton-Raphson on the quadrature approximation with the nodes held fixed,
re-adapting the nodes at every iteration (as GLLAMM and WeMix do), until the
Newton decrement vanishes. ``n_quad=1`` is the Laplace approximation as lme4
defines it (joint conditional modes of all levels,
:class:`~pywemix.objective.laplace.LaplaceObjective`), maximised by
quasi-Newton steps on its exact gradient (:mod:`.laplace_fit`). R
equivalents: WeMix's ``mix(family=)``, ``lme4::glmer(nAGQ=)``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..objective.covariance import CovarianceStructure, chain_auxiliary
from ..objective.laplace import LaplaceObjective
from ..objective.linpred import linear_predictor
from ..objective.quadrature import Evaluation, QuadratureObjective
from ..warnings import BoundaryWarning, ConvergenceWarning, DataWarning, warn
from .certificate import MAX_ROUNDS, Certificate, curvature_escape
from .components import boundary_messages, random_grams
from .laplace_fit import fit_laplace, maximize_laplace
from .numdiff import hessian, jacobian
from .optimum import Optimum
from .quadrature_optimize import maximize_adaptive, objective_scale
from .search import OptimizationRecord, check_finite_fit, check_start, minimize_bounded

__all__ = [
    "optimize_quadrature",
    "refit_llf",
    "maximise",
    "glm_evaluation",
    "glm_newton",
    "fixed_start",
    "natural_start",
]

#: With fewer nodes than this, posterior moments from the nodes are too rough
#: for fixed-node derivatives, so the adapted approximation is maximised with
#: finite-difference derivatives instead (n_quad = 2, 3; n_quad = 1 is the
#: Laplace objective with its exact gradient, :mod:`.laplace_fit`).
FIXED_NODE_MIN = 4


def _glm_start(design, family):
    """Fixed effects of the weighted GLM without random effects (IRLS)."""
    X, y, off = design.X, design.y, design.offset
    w = _row_weights(design)
    beta = np.zeros(X.shape[1])
    if family.name == "poisson" and "Intercept" in design.x_names:
        beta[design.x_names.index("Intercept")] = np.log(max(np.average(y, weights=w), 1e-3))
    for _ in range(50):
        eta = linear_predictor(X, beta, off)
        _, d1, d2 = family.derivs(y, eta)
        info = (X * (w * -d2)[:, None]).T @ X
        try:
            step = np.linalg.solve(info + 1e-10 * np.eye(len(beta)), X.T @ (w * d1))
        except np.linalg.LinAlgError:
            break
        step = np.clip(step, -5, 5)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def _row_weights(design):
    """Each row's weight: the product of its conditional weights at every level."""
    w = design.w1.copy()
    for lev, wl in zip(design.levels, design.wg):
        w = w * wl[lev.codes]
    return w


def glm_evaluation(family, X, y, off, w, x) -> Evaluation:
    """Weighted log-likelihood of the model without random effects, its
    gradient and Hessian in ``x = (beta, a)``, ``a`` the family's
    unconstrained auxiliary parameters (``group_A``, ``group_grad`` empty).

    Notes
    -----
    In ``(beta, t)``, ``t`` the auxiliary parameters' values: gradient
    ``(X' w d1, sum w l_t)``, Hessian blocks ``X' w d2 X``, ``X' w d1_t`` and
    ``sum w l_tt``; then in ``a`` by
    :func:`~pywemix.objective.covariance.chain_auxiliary`.
    """
    p = X.shape[1]
    values, J, D2 = family.natural(x[p:])
    fam = family.with_aux(values)
    eta = linear_predictor(X, x[:p], off)
    ll, d1, d2 = fam.derivs(y, eta)
    la, l1a, _, laa = fam.aux_derivs(y, eta)
    grad = np.r_[X.T @ (w * d1), w @ la]
    hess = np.block(
        [
            [(X * (w * d2)[:, None]).T @ X, X.T @ (w[:, None] * l1a)],
            [(w[:, None] * l1a).T @ X, np.einsum("i,iab->ab", w, laa)],
        ]
    )
    ev = Evaluation(float(w @ ll), grad, hess, np.zeros(0), np.zeros((0, len(x))))
    return chain_auxiliary(ev, p, J, D2)


def glm_newton(evaluate, x, max_iter=100):
    """Maximise a smooth objective from ``x`` by damped Newton steps (the
    Hessian's eigenvalues reflected and floored where it is not negative
    definite); ``evaluate(x)`` gives an Evaluation. The start of the fits
    with auxiliary parameters (the GLM without random effects)."""
    ev = evaluate(x)
    for _ in range(max_iter):
        lam, U = np.linalg.eigh(-0.5 * (ev.hess + ev.hess.T))
        lam = np.maximum(np.abs(lam), 1e-8 * max(float(np.max(np.abs(lam))), 1e-12))
        step = np.clip(U @ ((U.T @ ev.grad) / lam), -5, 5)
        if float(ev.grad @ step) < 1e-12 * max(1.0, abs(ev.llf)):
            break
        for k in range(40):
            try:
                new = evaluate(x + 0.5**k * step)
            except (FloatingPointError, ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(new.llf) and np.all(np.isfinite(new.grad)) and new.llf >= ev.llf:
                x, ev = x + 0.5**k * step, new
                break
        else:
            break
    return x


def _glm_aux_start(design, family):
    """``(beta, a)`` of the weighted GLM without random effects of a family
    with auxiliary parameters: the link of the mean response and the
    family's moment start, then :func:`glm_newton`."""
    X, y, off = design.X, design.y, design.offset
    w = _row_weights(design)
    target = family.eta_start(y, w) - off
    sw = np.sqrt(w)
    beta = (
        np.linalg.lstsq(X * sw[:, None], target * sw, rcond=None)[0] if X.shape[1] else np.zeros(0)
    )
    values = family.aux_start(y, family.mean(linear_predictor(X, beta, off)), w)
    x = np.r_[beta, family.unconstrained(values)]
    return glm_newton(lambda z: glm_evaluation(family, X, y, off, w, z), x)


def fixed_start(design, family):
    """Start of ``phi``'s fixed effects and auxiliary parameters."""
    if family.n_aux:
        return _glm_aux_start(design, family)
    return _glm_start(design, family)


def natural_start(start, obj):
    """``phi`` from a start in the reported parameters ``(params, theta)``:
    the fixed effects, the family parameters' values (dispersion, thresholds)
    and lme4's theta; the family parameters are made unconstrained."""
    p, k = obj.p, obj.k
    x = np.array(
        check_start(
            start,
            obj.P,
            "the fixed effects, "
            + (f"the family parameters ({', '.join(obj.family.aux_names)}), " if k else "")
            + "then the Cholesky factors of each level's covariance",
        )
    )
    if k:
        try:
            x[p : p + k] = obj.base_family.unconstrained(x[p : p + k])
        except ValueError as exc:
            raise ValueError(f"start: {exc}") from None
    return x


def _separation_check(design, family):
    if family.name != "binomial":
        return
    y = family.observed(design.y)
    for j, name in enumerate(design.x_names):
        col = design.X[:, j]
        if name == "Intercept" or not np.all(np.isin(col, (0.0, 1.0))):
            continue
        on = col == 1
        if 0 < on.sum() < len(col) and len(np.unique(y[on])) == 1:
            warn(
                f"perfect separation: the response is always {int(y[on][0])} where "
                f"{name!r} is 1; its coefficient is not identified and will be very large",
                DataWarning,
            )


def _extreme_fit_check(design, family, beta, eta):
    """Warn when fitted means are numerically 0 or 1 (as R's glm): the sign of
    (quasi-)complete separation, where some coefficients run off to infinity."""
    mu = family.mean(eta)
    if family.name == "binomial":
        extreme = (mu < 1e-10) | (mu > 1 - 1e-10)
        what = "fitted probabilities numerically 0 or 1"
    else:
        extreme = mu < 1e-10
        what = "fitted means numerically 0"
    if not extreme.any():
        return
    X = design.X
    size = np.abs(beta) * np.std(X, axis=0)
    names = [n for n, s in zip(design.x_names, size) if n != "Intercept" and s > 5]
    culprit = (
        f"; look at {', '.join(map(repr, names))}, whose coefficient"
        f"{'s are' if len(names) > 1 else ' is'} very large"
        if names
        else ""
    )
    warn(
        f"{what} in {int(extreme.sum())} rows: (quasi-)complete separation, the "
        f"estimates of the coefficients involved are not identified{culprit}",
        DataWarning,
    )


def newton_adaptive(obj, phi, max_iter, scale=None):
    """Maximise the adapted approximation: fixed-node Newton steps, finished on
    the difference gradient of the reported objective (see
    :mod:`.quadrature_optimize`). ``scale`` is unused (kept for callers)."""
    phi, ev, it, converged, message = maximize_adaptive(obj, phi, max_iter)
    flip = canonical_signs(phi, obj)
    signs = np.where(flip == phi, 1.0, -1.0)
    if np.any(signs < 0):
        ev = replace(
            ev,
            grad=signs * ev.grad,
            hess=ev.hess * np.outer(signs, signs),
            group_grad=ev.group_grad * signs,
        )
    return flip, ev, it, converged, message


def maximize_numeric(obj, phi0, max_iter, scale):
    """Maximise the adapted approximation with finite-difference derivatives."""

    def f(phi):
        return -obj.evaluate(phi, adapt=True, derivs=False).llf / scale

    rec = minimize_bounded(f, phi0, np.full(len(phi0), -np.inf), max_iter=max_iter * 5)
    phi = canonical_signs(rec.x, obj)
    w = obj.wg[-1]

    def groups(phi):
        return obj.evaluate(phi, adapt=True, derivs=False).group_A

    h = 1e-5 * np.maximum(np.abs(phi), 1e-2)
    G = jacobian(groups, phi, h)
    H = hessian(lambda x: float(w @ groups(x)), phi, 10 * h)
    base = obj.evaluate(phi, adapt=True, derivs=False)
    ev = Evaluation(base.llf, w @ G, H, base.group_A, G)
    return phi, ev, rec.iterations, rec.converged, rec.message


def maximise(obj, n_quad, phi0, max_iter, scale):
    """(phi, evaluation with Hessian, iterations, converged, message): the
    search for ``n_quad`` (:func:`_maximise`), then the certificate
    (:mod:`.certificate`); from a better point the search goes on, up to
    ``MAX_ROUNDS`` times. Converged only when the search converged and the
    certificate passed; the message says why not."""
    phi, iterations = np.asarray(phi0, dtype=float), 0
    for _ in range(MAX_ROUNDS):
        phi, ev, it, converged, message = _maximise(obj, n_quad, phi, max_iter, scale)
        iterations += it
        cert = _certify(obj, phi, ev)
        if cert.escape is None:
            break
        phi = canonical_signs(cert.escape, obj)
    else:
        cert = replace(
            cert,
            passed=False,
            reason=f"still improving after {MAX_ROUNDS} restarts from saddle points",
        )
    if not cert.passed:
        converged, message = False, f"{message}; not certified: {cert.reason}"
    return phi, ev, iterations, converged, message


def _certify(obj, phi, ev):
    """Second-order check of a GLMM optimum: the Hessian of ``-llf`` per unit
    of top-level weight has no negative eigenvalue (its parameters are
    unbounded: the first-order conditions are the search's own)."""
    scale = objective_scale(obj)
    if ev.hess is None or ev.grad is None:
        return Certificate(False, "no Hessian at the estimates")

    def f(x):
        return -obj.evaluate(x, adapt=True, derivs=False).llf / scale

    return curvature_escape(
        f, -ev.llf / scale, phi, -ev.grad / scale, -ev.hess / scale, np.ones(len(phi), dtype=bool)
    )


def _maximise(obj, n_quad, phi0, max_iter, scale):
    """(phi, evaluation with Hessian, iterations, converged, message) by the
    method for ``n_quad``: BFGS on the exact gradient of the Laplace objective
    (1), numerical derivatives (2, 3) or fixed-node Newton steps (4 and up)."""
    if n_quad == 1:
        return fit_laplace(obj, phi0, max_iter, canonical_signs)
    if n_quad < FIXED_NODE_MIN:  # per unit of top-level weight: invariant to its scale
        return maximize_numeric(obj, phi0, max_iter, objective_scale(obj))
    # its evaluation carries the difference gradient and per-group scores of
    # the reported objective (already sign-canonical): keep them for the sandwich
    return newton_adaptive(obj, phi0, max_iter, scale)


def optimize_quadrature(objective, *, start=None, max_iter: int = 200) -> Optimum:
    """Maximise the adaptive-quadrature pseudo-likelihood of a GLMM objective.

    Parameters
    ----------
    objective : MixObjective
        Non-Gaussian (from :func:`pywemix.objective.make_objective`).
    start : array-like, optional
        Starting values of the reported parameters: the fixed effects, the
        family's parameters (dispersion, thresholds; none for binomial and
        Poisson), then the Cholesky elements of each level's covariance
        (``numpy.r_[res.params, res.theta]``). Default: the weighted GLM's
        fixed effects (and family parameters) and half the default Cholesky
        factors.
    max_iter : int

    Returns
    -------
    Optimum
        Boundary, convergence and separation problems are issued as warnings.

    Notes
    -----
    Newton-Raphson with the nodes held fixed and re-adapted at every
    iteration (Rabe-Hesketh, Skrondal and Pickles 2005), or, with fewer than
    ``FIXED_NODE_MIN`` nodes, a quasi-Newton search with finite-difference
    derivatives. R equivalents: ``lme4::optimizeGlmer``; WeMix's
    ``mix(family=)``.
    """
    design, family, obj = objective.design, objective.family, objective.function
    n_quad = objective.n_quad
    _separation_check(design, family)
    if start is None:
        phi0 = np.r_[fixed_start(design, family), 0.5 * objective.structure.theta_start()]
        if n_quad > 1:
            lap = LaplaceObjective(design, objective.structure, family)
            phi0 = laplace_start(lap, phi0, max_iter)
    else:
        phi0 = natural_start(start, obj)
    scale = float(np.sum(design.w1))
    phi, ev, iters, converged, message = maximise(obj, n_quad, phi0, max_iter, scale)
    record = quadrature_record(design, n_quad, scale, phi, ev, iters, converged, message)
    return _optimum(objective, record, ev)


def laplace_start(laplace, phi0, max_iter):
    """The maximum of the Laplace approximation ``laplace`` (lme4's
    ``nAGQ=1``; a :class:`LaplaceObjective` or one split into blocks) from
    ``phi0``, as the start of adaptive quadrature; ``phi0`` itself if that
    fails.

    Notes
    -----
    The Laplace objective is cheap (one joint mode per evaluation, an exact
    gradient) and its maximum is close to the quadrature's, so the expensive
    quadrature search starts where its Newton steps converge quickly, away
    from regions where its fixed-node Hessian is indefinite. This is the
    usual practice for adaptive quadrature (Rabe-Hesketh, Skrondal and Pickles
    2005, sec. 4; lme4's ``glmer(nAGQ > 1)`` likewise starts from its
    ``nAGQ = 0``/Laplace stages). The fit's estimates are the quadrature
    maximum whatever the start.
    """
    try:
        phi = maximize_laplace(laplace, np.asarray(phi0, dtype=float), max_iter)[0]
    except (np.linalg.LinAlgError, FloatingPointError, ValueError):
        return phi0
    return phi if np.all(np.isfinite(phi)) else phi0


def quadrature_record(design, n_quad, scale, phi, ev, iters, converged, message):
    """The :class:`OptimizationRecord` of a GLMM fit (non-finite fits refused,
    non-convergence warned with its reason); shared with the Dask fits."""
    check_finite_fit([ev.llf, phi], design)
    grad_norm = float(np.max(np.abs(ev.grad)) / max(1.0, abs(ev.llf)) * scale)
    method = (
        "BFGS on the exact gradient (Laplace)"
        if n_quad == 1
        else "Newton-Raphson (adaptive quadrature)"
        if n_quad >= FIXED_NODE_MIN
        else "L-BFGS-B + Newton (adaptive quadrature, numerical derivatives)"
    )
    if not converged:
        warn(
            f"the optimiser did not converge: {message} (after {iters} iterations)",
            ConvergenceWarning,
        )
    return OptimizationRecord(phi, -ev.llf, iters, iters, grad_norm, converged, message, method, ())


def _optimum(objective, record, ev) -> Optimum:
    """The estimates at ``record.x`` and the checks of the fit made there."""
    design, obj = objective.design, objective.function
    phi = record.x
    beta, chol = obj.split(phi)
    family_params = obj.family.aux
    covs = tuple(obj.covariances(chol))
    for msg in boundary_messages(
        objective.structure, chol, design.levels, covs, random_grams(design)
    ):
        warn(msg, BoundaryWarning)
    modes, mode_var = obj.conditional_modes(phi, variances=True)
    eta = linear_predictor(
        design.X, beta, design.offset, design.Z, [lev.codes for lev in design.levels], modes
    )
    _extreme_fit_check(design, obj.family, beta, eta)
    return Optimum.from_record(
        record,
        beta=beta,
        sigma2=np.nan,
        covariances=covs,
        theta=chol,
        llf=float(ev.llf),
        criterion="ML",
        modes=tuple(modes),
        mode_variances=tuple(mode_var),
        evaluation=ev,
        family_params=family_params,
    )


def canonical_signs(phi, obj):
    """``phi`` with every Cholesky column signed so that its diagonal is >= 0
    (the covariances do not change)."""
    phi = phi.copy()
    factors = obj.factors(phi[obj.theta_offset :])
    for C, entries in zip(factors, obj.structure.layout(obj.theta_offset)):
        signs = np.where(np.diag(C) < 0, -1.0, 1.0)
        for idx, _, col in entries:
            phi[idx] *= signs[col]
    return phi


def refit_llf(design, family, n_quad, phi0) -> float:
    """Maximised pseudo-log-likelihood of a GLMM design from ``phi0`` (bootstrap)."""
    structure = CovarianceStructure.from_design(design)
    if n_quad == 1:
        laplace = LaplaceObjective(design, structure, family)
        return maximize_laplace(laplace, np.asarray(phi0, float), 200)[1].llf
    obj = QuadratureObjective(design, structure, family, n_quad)
    scale = float(np.sum(design.w1))
    if n_quad >= FIXED_NODE_MIN:
        _, ev, _, _, _ = newton_adaptive(obj, np.asarray(phi0, float), 200, scale)
    else:
        _, ev, _, _, _ = maximize_numeric(obj, np.asarray(phi0, float), 200, objective_scale(obj))
    return ev.llf
