"""Damped Newton iterations for a batch of independent problems.

The package's one damped Newton method with backtracking: the conditional
modes of the adaptive-quadrature objective (every group and context at once),
the joint modes of the Laplace objective (every top-level group at once) and
the projected Newton search over the covariance parameters (one problem, or
many bootstrap and replicate refits at once) are all :func:`damped_newton`
with their own step, acceptance rule and evaluation. A single problem is a
batch of one.

A *state* holds the current point of every problem and whatever the step and
the acceptance rule need there (value, gradient, ...). By default it is a
``NamedTuple`` of arrays whose leading axes are the problem axes (any
number of them) and whose field ``x`` is the point; other states bring their
own ``move`` and ``merge``.

Notes
-----
Each iteration computes Newton steps ``s`` for the active problems and
tries ``x + t s`` with ``t = 1, 1/2, 1/4, ...`` on each problem until its
trial point is accepted (Nocedal and Wright 2006, *Numerical Optimization*,
2nd ed., sect. 3.1, backtracking); all pending problems are evaluated
together and only the rejected ones are halved again. A problem leaves the
iteration when its step function says it has converged, when no step length
is accepted, or when the optional ``stop`` rule says so; the problems that
have left are never moved again. R equivalent: the inner PIRLS loop of lme4
(``pwrssUpdate``) and its step halving.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["NewtonRecord", "backtrack", "cap_length", "damped_newton", "shift", "select"]


@dataclass(frozen=True)
class NewtonRecord:
    """What :func:`damped_newton` did.

    Attributes
    ----------
    iterations : int
        Iterations started (calls of the step function).
    evaluations : int
        Calls of ``evaluate`` (each for all pending problems at once).
    converged : ndarray of bool
        Problems stopped by the step function's convergence test.
    stopped : ndarray of bool
        Problems stopped because no step length was accepted, or by ``stop``.
        Problems in neither ran out of iterations (or were not active).
    """

    iterations: int
    evaluations: int
    converged: np.ndarray
    stopped: np.ndarray


def _expand(mask, ndim):
    """``mask`` (problem axes) with trailing unit axes up to ``ndim`` dimensions."""
    return mask.reshape(mask.shape + (1,) * (ndim - mask.ndim))


def shift(state, step, t):
    """Default move: ``state.x + t * step`` per problem (``t = 0``: unmoved,
    exactly, even where ``step`` is not finite)."""
    tt = _expand(t, step.ndim)
    return state.x + np.where(tt > 0, tt * step, 0.0)


def select(old, new, ok):
    """Default merge: ``new`` where ``ok``, ``old`` elsewhere, field by field."""
    return type(old)(*(np.where(_expand(ok, np.ndim(a)), b, a) for a, b in zip(old, new)))


def cap_length(step, radius):
    """Steps (problem axes, k) shortened to Euclidean length at most ``radius``
    (a scalar or one per problem): ``s min(1, r / |s|)``, a trust radius
    (Nocedal and Wright 2006, ch. 4) that keeps a Newton step from a nearly
    singular Hessian within reach of the line search."""
    norm = np.sqrt(np.sum(step * step, axis=-1))
    return step * np.minimum(1.0, radius / np.maximum(norm, 1e-300))[..., None]


def _merge(merge, old, new, ok):
    """``merge`` without the work when every problem, or none, takes ``new``."""
    if ok.all():
        return new
    if not ok.any():
        return old
    return merge(old, new, ok)


def backtrack(
    evaluate, state, step, pending, accept, *, move=shift, merge=select, halvings: int = 40
):
    """Halve the steps of the rejected problems until each is accepted.

    Parameters
    ----------
    evaluate : callable
        ``(x, pending, k) -> state`` at the trial points ``x`` (from
        ``move``); only the problems in ``pending`` (bool, problem axes)
        are used, so it may evaluate those alone. ``k`` counts the halvings
        (0: the full step).
    state
        The current state.
    step : ndarray or object
        The steps (whatever ``move`` takes).
    pending : ndarray of bool
        The problems to move.
    accept : callable
        ``(new, old) -> bool`` per problem: whether the trial state ``new``
        replaces ``old``; it is only consulted on pending problems.
    move : callable
        ``(state, step, t) -> x``, the trial points at step lengths ``t``
        (0 for the problems not to move); default :func:`shift`.
    merge : callable
        ``(old, new, ok) -> state``; default :func:`select`.
    halvings : int
        Trial step lengths ``1, 1/2, ..., 2^(1 - halvings)``.

    Returns
    -------
    state, t, accepted, evaluations
        The state with the accepted points, the last step length tried per
        problem (the accepted one where accepted), which problems accepted
        one, and the number of calls of ``evaluate``.

    Notes
    -----
    Problem ``i`` takes ``x_i + 2^{-k} s_i`` with the smallest ``k`` whose
    trial point ``accept`` takes; the problems are tried together, each
    halving only while it is rejected.

    Examples
    --------
    One problem (a batch of one) maximising ``f(x) = -|x - 1|^2``:

    >>> from typing import NamedTuple
    >>> class Point(NamedTuple):
    ...     x: np.ndarray
    ...     f: np.ndarray
    >>> def f(x):
    ...     return -np.sum((x - 1.0) ** 2, axis=-1)
    >>> x0 = np.array([[3.0, -1.0]])
    >>> st, t, ok, n = backtrack(lambda x, pending, k: Point(x, f(x)), Point(x0, f(x0)),
    ...                          np.array([[-8.0, 8.0]]), np.ones(1, dtype=bool),
    ...                          lambda new, old: new.f >= old.f)
    >>> st.x, t, ok, n
    (array([[-1.,  3.]]), array([0.5]), array([ True]), 2)
    """
    pending = np.array(pending, dtype=bool)
    t = np.ones(pending.shape)
    accepted = np.zeros(pending.shape, dtype=bool)
    n = 0
    for k in range(halvings):
        new = evaluate(move(state, step, np.where(pending, t, 0.0)), pending, k)
        n += 1
        ok = pending & accept(new, state)
        state = _merge(merge, state, new, ok)
        accepted |= ok
        pending &= ~ok
        if not pending.any():
            break
        t = np.where(pending, 0.5 * t, t)
    return state, t, accepted, n


def damped_newton(
    evaluate,
    state,
    direction,
    accept,
    active,
    *,
    move=shift,
    merge=select,
    stop=None,
    max_iter: int = 100,
    halvings: int = 40,
    final_step: bool = False,
):
    """Damped Newton iterations on a batch of independent problems.

    Parameters
    ----------
    evaluate, accept, move, merge, halvings
        As in :func:`backtrack`.
    state
        The state at the starting points.
    direction : callable
        ``(state, active) -> (step, converged)``: the Newton steps of the
        ``active`` problems (bool, problem axes; others may be anything) and
        which of them are at their solution (bool per problem).
    active : ndarray of bool
        The problems to solve; the others are left untouched.
    stop : callable, optional
        ``(old, new, step, t) -> bool`` per problem, after each line search
        (``t`` the step lengths taken): problems to stop although they moved.
    max_iter : int
        Maximum iterations.
    final_step : bool
        Problems that converge take their last full step unchecked (in one
        evaluation), for a convergence test on the step size of a
        quadratically convergent iteration, which leaves an error of the
        order of the square of that step.

    Returns
    -------
    state, NewtonRecord

    Notes
    -----
    Per iteration: ``s, c = direction(state, a)`` for the active set ``a``;
    the problems in ``c`` leave it (taking ``s`` first with ``final_step``);
    the others backtrack along ``s`` (:func:`backtrack`) and leave it when
    no step length is accepted or ``stop`` says so.
    """
    active = np.array(active, dtype=bool)
    converged = np.zeros(active.shape, dtype=bool)
    stopped = np.zeros(active.shape, dtype=bool)
    it = evaluations = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is read after the loop)
        if not active.any():
            break
        step, done = direction(state, active)
        done = active & done
        if final_step and done.any():
            new = evaluate(move(state, step, done.astype(float)), done, 0)
            evaluations += 1
            state = _merge(merge, state, new, done)
        converged |= done
        active &= ~done
        if not active.any():
            break
        old = state
        state, t, ok, n = backtrack(
            evaluate, state, step, active, accept, move=move, merge=merge, halvings=halvings
        )
        evaluations += n
        if stop is not None:
            ok &= ~stop(old, state, step, t)
        stopped |= active & ~ok
        active &= ok
    return state, NewtonRecord(it, evaluations, converged, stopped)
