"""Maximising the adaptive-quadrature pseudo-likelihood to a true maximum.

The objective a fit reports is the adaptive approximation: every group's
nodes are centred at its conditional mode and scaled by the curvature there,
both of which move with the parameters. Newton steps with the nodes held
fixed (the Fisher and Louis identities, as in GLLAMM and WeMix) converge to
where the *fixed-node* gradient vanishes, which is not where the gradient of
the adaptive approximation vanishes: the nodes' own movement is left out.
With large level-1 weights the two points differ by many standard errors'
worth of the objective. So the search finishes on the gradient of the
reported objective itself. R equivalents: WeMix's ``mix(family=)``,
``lme4::glmer(nAGQ=)``.

Notes
-----
Two phases, each a damped Newton iteration whose steps are accepted only when
the reported (adapted) objective ``f`` does not decrease:

1. direction ``(-H)^{-1} g_fixed`` with ``H`` the fixed-node Hessian and
   ``g_fixed`` the fixed-node gradient, until its decrement is small or a
   step no longer gains what the fixed-node model predicts (Armijo's
   condition within a few halvings: near its own optimum the fixed-node model
   stops describing ``f``, and halving further only wastes evaluations);
2. direction ``(-H - E)^{-1} g`` with ``g`` the central-difference gradient of
   ``f`` (step ``1e-5 max(|phi|, 1)``; accurate because the conditional modes
   are solved to machine precision, which makes ``f`` smooth in the
   parameters) and ``E`` a secant correction of the fixed-node Hessian
   (:func:`_secant_update`), until the Newton decrement ``g'(-H - E)^{-1}g``,
   twice the predicted gain, is below ``STOP_TOL`` times the scale of ``f``
   or below the rounding error of ``f``.

Where the objective has the exact gradient of the adapted approximation
(``adapted_gradient``: three levels with one effect each,
:mod:`pywemix.objective.adapted_gradient`), it replaces the difference
gradient and the search starts with phase 2: each accepted step's
evaluation carries that gradient, and after a long step (above
``FORWARD_ABOVE``, relative) also a fresh fixed-node Hessian, from which the
secant correction starts again.

The scale is the sum of the top-level weights: the information about the
parameters shared across groups (variances, intercept) grows with it and not
with the level-1 weights, so a decrement per unit of it bounds the distance
to the maximum in standard-error units, whatever the weights' scale. The
fit has converged when the decrement from the difference gradient is below
``CONVERGED_TOL`` times that scale and ``-H`` is positive definite. ``H`` is
modified (``-H + mu I``) only where it is not negative definite (far from the
maximum), a Levenberg-Marquardt step.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np

from ..objective.newton import backtrack

__all__ = ["maximize_adaptive", "objective_scale", "difference_gradient", "gradient"]

#: Fixed-node Newton hands over to the difference gradient below this decrement
#: (relative to the scale of the objective).
SWITCH_TOL = 1e-8
#: The search stops below this decrement (relative; about where it meets the
#: rounding error of the difference gradient), or when a step no longer
#: changes the objective beyond its rounding error ...
STOP_TOL = 1e-14
#: ... and reports convergence below this one: the objective is then within
#: ``CONVERGED_TOL / 2`` per unit of top-level weight of its maximum.
CONVERGED_TOL = 1e-9
#: Relative step of the central differences.
DIFF_STEP = 1e-5
#: A fixed-node Newton step is taken only if the adapted objective gains at
#: least this share of the gain the fixed-node model predicts (Armijo), within
#: this many halvings; otherwise the fixed-node model no longer describes the
#: reported objective (near the maximum, or where the fixed-node Hessian is
#: indefinite) and the search goes on with the difference gradient. The
#: search starts from the Laplace estimates, close to the maximum.
ARMIJO = 1e-4
FIXED_HALVINGS = 4
#: Relative rounding error of the objective (a sum over many groups): a step
#: whose gain, predicted (half the decrement; twice it is used here to be safe)
#: or realised, is below this times ``|f|`` cannot be told from no step.
RESOLUTION = 8 * np.finfo(float).eps
#: While the last step moved a parameter by more than this (relative), the
#: difference gradient is one-sided (P evaluations instead of 2P): its error,
#: about ``DIFF_STEP`` times the curvature, moves a Newton step by about
#: ``DIFF_STEP / 2``, far less than such steps. Convergence is judged on
#: central differences only.
FORWARD_ABOVE = 1e-3


def objective_scale(obj) -> float:
    """Sum of the top-level weights: the information about the parameters that
    act across groups (the variances, the intercept) grows with it, however
    heavy the level-1 weights, so the gradient is judged per unit of it."""
    return float(max(np.sum(obj.wg[-1]), 1e-300))


def _value(obj, phi, derivs=False):
    try:
        ev = obj.evaluate(phi, adapt=True, derivs=derivs)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError):
        return None
    return ev if np.isfinite(ev.llf) and np.all(np.isfinite(ev.group_A)) else None


def difference_gradient(obj, phi, base=None):
    """Per-group gradients ``(G, P)`` of the adapted log integrals by central
    differences, or by forward differences from ``base`` (the per-group log
    integrals at ``phi``) when it is given; None where ``f`` cannot be
    evaluated."""
    phi = np.asarray(phi, dtype=float)
    h = DIFF_STEP * np.maximum(np.abs(phi), 1.0)
    cols = []
    for k in range(len(phi)):
        e = np.zeros_like(phi)
        e[k] = h[k]
        up = _value(obj, phi + e)
        down = _value(obj, phi - e) if base is None else None
        if up is None or (base is None and down is None):
            return None
        if base is None:
            assert down is not None  # returned above otherwise
            cols.append((up.group_A - down.group_A) / (2 * h[k]))
        else:
            cols.append((up.group_A - base) / h[k])
    return np.stack(cols, axis=-1)


def exact_value(obj, phi, derivs=False):
    """The evaluation of ``obj`` at ``phi`` carrying the exact gradient of the
    adapted objective (``grad``, and ``group_grad`` per top group; the nodes'
    movement included, ``obj.adapted_gradient``) and, with ``derivs``, the
    fixed-node Hessian; None where ``obj`` has no such gradient or it is not
    finite there."""
    method = getattr(obj, "adapted_gradient", None)
    try:
        got = None if method is None else method(np.asarray(phi, dtype=float), derivs)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError):
        return None
    if got is None or got[1] is None or not np.isfinite(got[0].llf):
        return None
    return replace(got[0], grad=obj.wg[-1] @ got[1], group_grad=got[1])


def gradient(obj, phi, base=None):
    """Per-group gradients ``(G, P)`` of the adapted log integrals and how
    they were found: ``"exact"`` (:func:`exact_value`, where the objective
    has it), else by :func:`difference_gradient`, ``"forward"`` from
    ``base`` when given or ``"central"``. ``G`` is None where ``f`` cannot
    be evaluated."""
    ev = exact_value(obj, phi)
    if ev is not None:
        return ev.group_grad, "exact"
    return difference_gradient(obj, phi, base), "central" if base is None else "forward"


def _direction(ev_hess, grad):
    """Levenberg-Marquardt ascent direction and whether ``-H`` was definite."""
    negH = -ev_hess
    n = len(grad)
    mu, top = 0.0, max(1.0, float(np.abs(np.diag(negH)).max()))
    for _ in range(80):
        try:
            L = np.linalg.cholesky(negH + mu * np.eye(n))
            break
        except np.linalg.LinAlgError:
            mu = max(4 * mu, 1e-10 * top)
    else:
        return grad / top, False
    step = np.linalg.solve(L.T, np.linalg.solve(L, grad))
    return step, mu == 0.0


def _line_search(obj, phi, llf, step, gain=None, halvings=40, derivs=True, exact=False):
    """Largest ``t = 2^-k`` (``k < halvings``) with ``f(phi + t step) >= f(phi)``,
    or, given the predicted ``gain`` of the full step, with the Armijo
    condition ``f(phi + t step) - f(phi) >= ARMIJO t gain`` and a strict
    increase: (phi, ev) or
    (None, None). With ``derivs``, the full step, nearly always taken, is
    evaluated with the fixed-node derivatives, which the next iteration needs;
    shorter ones without; with ``exact``, the full step with the exact
    gradient (:func:`exact_value`) where the objective has one.
    :func:`pywemix.objective.newton.backtrack` on one problem."""

    def evaluate(x, pending, k):
        ev = exact_value(obj, x[0], derivs) if exact and k == 0 else None
        if ev is None:
            ev = _value(obj, x[0], derivs=derivs and k == 0)
        ok = ev is not None and ev.llf >= llf
        if gain is not None:  # Armijo, and a gain the objective can resolve
            ok = ok and ev.llf > llf and ev.llf >= llf + ARMIJO * 0.5**k * gain
        return SimpleNamespace(x=x, ev=ev, ok=np.array([ok]))

    state, _, found, _ = backtrack(
        evaluate,
        SimpleNamespace(x=phi[None, :]),
        step[None, :],
        np.ones(1, dtype=bool),
        lambda new, old: new.ok,
        halvings=halvings,
    )
    return (state.x[0], state.ev) if found[0] else (None, None)


def maximize_adaptive(obj, phi0, max_iter: int):
    """Maximise ``obj``'s adapted pseudo-log-likelihood from ``phi0``.

    Returns
    -------
    phi, ev, iterations, converged, message
        ``ev`` holds the value, the difference gradient (total and per top
        group) of the reported objective and the fixed-node Hessian at ``phi``.
    """
    phi = np.asarray(phi0, dtype=float).copy()
    scale = objective_scale(obj)
    # with the exact gradient the search needs no fixed-node phase: the
    # fixed-node Hessian, refreshed after long steps and corrected by secant
    # updates, serves
    first = exact_value(obj, phi, derivs=True)
    ev = obj.evaluate(phi, adapt=True) if first is None else first
    if not np.isfinite(ev.llf):
        return phi, ev, 0, False, "the likelihood is not finite at the starting values"
    G = None if first is None else first.group_grad
    kind = "exact" if G is not None else None
    exact, central, it, secant, fixed_hess = G is not None, G is not None, 0, None, ev.hess
    moved = 0.0 if exact else np.inf
    message = "maximum iterations reached"
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is read after the loop)
        if exact:
            if G is None:
                G, kind = gradient(obj, phi, None if moved < FORWARD_ABOVE else ev.group_A)
            central = kind != "forward"
            if G is None:
                message = "the objective cannot be evaluated next to the estimates"
                break
            grad = obj.wg[-1] @ G
            if secant is not None and secant[-1] != central:
                secant = None  # one-sided and central gradients differ by O(h): restart
            if ev.hess is not None and ev.hess is not fixed_hess:
                # a fresh fixed-node Hessian (after a long step): the correction
                # learnt along the way describes the old one; start it again
                fixed_hess, secant = ev.hess, None
            hess, secant = _secant_update(secant, fixed_hess, phi, grad, central)
        else:
            grad, hess = ev.grad, ev.hess
        step, definite = _direction(hess, grad)
        decrement = float(grad @ step) / scale
        if not exact and decrement < SWITCH_TOL:  # close: central differences
            exact, moved = True, 0.0
            continue
        reason = (
            _stop_reason(decrement, float(grad @ step), ev.llf)
            if exact and central and definite
            else None
        )
        if reason:
            message = reason
            if float(grad @ step) > 0 and decrement >= STOP_TOL:
                # too small a gain to test, but the gradient is accurate: take
                # the step; _finish judges the gradient where it lands
                phi, G = phi + step, None
                ev = obj.evaluate(phi, adapt=True)
            break
        if exact:  # the secant-corrected Hessian needs no fixed-node derivatives
            # with the exact gradient at the trial point; after a long step
            # also the fixed-node Hessian there (the secant's base)
            long = np.max(np.abs(step) / np.maximum(np.abs(phi), 1.0)) > FORWARD_ABOVE
            cand, trial = _line_search(
                obj, phi, ev.llf, step, derivs=kind == "exact" and long, exact=kind == "exact"
            )
        else:  # the fixed-node model must predict the gain: else finish exactly
            # values only: the derivatives (several times the cost of a value)
            # are taken below where a step is accepted, which from the
            # Laplace start is not the rule
            cand, trial = _line_search(
                obj, phi, ev.llf, step, float(grad @ step), FIXED_HALVINGS, derivs=False
            )
        if cand is None:
            if not exact:
                exact = True
                continue
            if not central:  # retry with central differences
                moved, G = 0.0, None
                continue
            message = "no step along the Newton direction increases the objective"
            break
        moved = float(np.max(np.abs(cand - phi) / np.maximum(np.abs(phi), 1.0)))
        phi, old = cand, ev.llf
        ev = trial if exact or trial.hess is not None else obj.evaluate(phi, adapt=True)
        # the exact gradient, if the line search's evaluation carries it
        # (the exact phase's other evaluations are values only)
        G = ev.group_grad if exact else None
        if exact and ev.llf - old <= RESOLUTION * abs(old):
            if not central:  # one-sided differences stop resolving: go central
                moved = 0.0
                continue
            message = "no step along the Newton direction changes the objective"
            break
    return _finish(obj, phi, ev, G, it, message, scale)


def _stop_reason(decrement, gain2, llf):
    """Why the exact phase stops at a point with a negative definite Hessian
    estimate and a central-difference gradient (None: go on). ``gain2`` is
    ``g'(-H)^{-1}g``, twice the predicted gain of the Newton step."""
    if decrement < STOP_TOL:
        return "gradient of the adaptive-quadrature objective below tolerance"
    if gain2 <= RESOLUTION * abs(llf):
        return "the predicted gain of a Newton step is below the rounding error of the objective"
    return None


def _secant_update(secant, fixed_hess, phi, grad, kind=None):
    """(Hessian estimate, state) for the next exact Newton direction; ``kind``
    (how the gradient was computed) is kept in the state.

    The fixed-node Hessian where it was last computed (the exact phase's
    steps are short and skip the fixed-node derivatives) plus a correction
    ``E`` for what it leaves out (how the nodes move with the parameters, and
    how the Hessian changed since), learnt from the steps and the changes of
    the difference gradient, so the exact phase converges superlinearly
    instead of linearly. ``E`` starts at 0.

    Notes
    -----
    With ``B = -H_fixed``, ``s`` the step and
    ``y = -(g_new - g_old)``, the Powell-symmetric-Broyden update makes
    ``(B + E) s = y`` with the smallest symmetric change of ``E``
    (Dennis and Schnabel 1996, sec. 9.1; the structured form of
    Dennis, Martinez and Tapia 1989):
    ``r = y - (B + E) s``, ``E += (r s' + s r') / s's - (r's) s s' / (s's)^2``.
    It needs no definiteness; the direction modifies an indefinite estimate.
    """
    if secant is None:
        E = np.zeros_like(fixed_hess)
    else:
        E, phi_old, grad_old, _ = secant
        s, y = phi - phi_old, grad_old - grad
        ss = float(s @ s)
        if ss > 0:
            r = y - (E - fixed_hess) @ s
            E = E + (np.outer(r, s) + np.outer(s, r)) / ss - float(r @ s) * np.outer(s, s) / ss**2
    return fixed_hess - E, (E, phi, grad, kind)


def _finish(obj, phi, ev, G, it, message, scale):
    """Attach the difference gradient at ``phi`` (and the fixed-node Hessian,
    the bread of the sandwich, if ``ev`` lacks it) and decide convergence."""
    if ev.hess is None:
        ev = obj.evaluate(phi, adapt=True)
    if G is None:
        G = gradient(obj, phi)[0]
    if G is None:
        return phi, ev, it, False, message
    grad = obj.wg[-1] @ G
    step, definite = _direction(ev.hess, grad)
    decrement = float(grad @ step) / scale
    converged = bool(definite and decrement < CONVERGED_TOL)
    if not converged:
        why = (
            "the Hessian is not negative definite there"
            if not definite
            else f"the gradient of the objective is not 0 there (Newton decrement "
            f"{decrement:.2g} per unit of weight)"
        )
        message = f"{message}; {why}"
    ev = replace(ev, grad=grad, group_grad=G)
    return phi, ev, it, converged, message


def gradient_size(ev, scale) -> float:
    """Largest absolute gradient component per unit of total weight."""
    return float(np.max(np.abs(ev.grad)) / scale) if ev.grad is not None else np.nan
