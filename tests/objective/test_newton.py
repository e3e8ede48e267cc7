"""The batched damped Newton core (pywemix.objective.newton) on problems with
known solutions: concave quadratics (closed form), logistic regressions on a
2x2 table (closed-form maximum likelihood), per-problem masks, step halving
on the rejected problems only, and a single problem as a batch of one."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from scipy.special import expit, logit

from pywemix.objective.newton import backtrack, cap_length, damped_newton


class State(NamedTuple):
    x: np.ndarray
    f: np.ndarray
    g: np.ndarray
    H: np.ndarray  # negative Hessian


def _increase(new, old):
    return np.isfinite(new.f) & (new.f >= old.f)


def _decrement(st):
    return np.sum(st.g * np.linalg.solve(st.H, st.g[..., None])[..., 0], axis=-1)


def _increase_or_decrement_falls(new, old):
    """The quadrature modes' rule: the value increases, or stays within
    rounding while the Newton decrement falls (near the maximum the value no
    longer resolves progress, the gradient does)."""
    slack = 1e-12 * np.maximum(np.abs(old.f), 1.0)
    falls = _decrement(new) < _decrement(old)
    return np.isfinite(new.f) & ((new.f > old.f) | ((new.f >= old.f - slack) & falls))


def _newton(tol=1e-12, radius=np.inf):
    """Newton steps ``H^{-1} g`` no longer than ``radius``; converged when the
    step is below ``tol (1 + max|x|)``."""

    def direction(st, active):
        step = cap_length(np.linalg.solve(st.H, st.g[..., None])[..., 0], radius)
        return step, np.max(np.abs(step), axis=-1) < tol * (1 + np.max(np.abs(st.x), axis=-1))

    return direction


def _quadratics(seed, B, k):
    """``f_b(x) = -(x - c_b)' A_b (x - c_b) / 2``, ``A_b`` positive definite."""
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(B, k, k))
    A = M @ np.swapaxes(M, 1, 2) + 0.5 * np.eye(k)
    c = rng.normal(scale=3.0, size=(B, k))

    def evaluate(x, pending=None, k_=0):
        d = x - c
        Ad = np.einsum("bij,bj->bi", A, d)
        return State(x, -0.5 * np.sum(d * Ad, axis=1), -Ad, A)

    return evaluate, c


def test_batched_quadratics_reach_their_maxima_in_one_newton_step():
    evaluate, c = _quadratics(1, 7, 3)
    st, rec = damped_newton(
        evaluate, evaluate(np.zeros((7, 3))), _newton(1e-10), _increase, np.ones(7, dtype=bool)
    )
    np.testing.assert_allclose(st.x, c, rtol=0, atol=1e-12)
    assert rec.converged.all() and not rec.stopped.any()
    # one step each, accepted at once; the second step is (numerically) 0
    assert rec.iterations == 2 and rec.evaluations == 1


def _logistic_tables(seed, B):
    """Weighted 2x2 tables: ``y ~ 1 + z``, ``z`` in {0, 1}; the maximum
    likelihood is ``(logit p0, logit p1 - logit p0)`` with ``p_z`` the weighted
    share of successes at ``z``."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 20.0, size=(B, 2, 2))  # (problem, z, y)
    X = np.array([[1.0, 0.0], [1.0, 1.0]])  # design row for z = 0, 1
    p = w[:, :, 1] / w.sum(axis=2)
    beta = np.stack([logit(p[:, 0]), logit(p[:, 1]) - logit(p[:, 0])], axis=1)

    def evaluate(b, pending=None, k=0):
        eta = b @ X.T  # (B, z)
        ll = w[:, :, 1] * eta - w.sum(axis=2) * np.logaddexp(0.0, eta)
        r = w[:, :, 1] - w.sum(axis=2) * expit(eta)
        W = w.sum(axis=2) * expit(eta) * expit(-eta)
        return State(b, ll.sum(axis=1), r @ X, np.einsum("bz,zi,zj->bij", W, X, X))

    return evaluate, beta


def test_batched_logistic_likelihoods_reach_the_closed_form_maxima():
    evaluate, beta = _logistic_tables(2, 12)
    halvings = []

    def counted(x, pending, k):
        halvings.append(k)
        return evaluate(x)

    # far from the maximum: some full Newton steps overshoot and are halved
    start = np.tile([3.0, -5.0], (12, 1))
    st, rec = damped_newton(
        counted,
        evaluate(start),
        _newton(radius=10.0),
        _increase_or_decrement_falls,
        np.ones(12, dtype=bool),
    )
    assert rec.converged.all() and max(halvings) > 0
    np.testing.assert_allclose(st.x, beta, rtol=0, atol=1e-11)


def test_masks_leave_inactive_and_converged_problems_untouched():
    """Problems outside ``active`` are never evaluated nor moved; a problem
    that has converged is never pending again."""
    quad, c = _quadratics(3, 4, 2)
    logi, beta = _logistic_tables(4, 4)
    seen = []

    def evaluate(x, pending, k):
        seen.append(pending.copy())
        q, lg = quad(x[:4]), logi(x[4:])
        return State(*(np.concatenate([a, b]) for a, b in zip(q, lg)))

    start = np.full((8, 2), 2.0)
    active = np.array([True, False, True, True, True, True, False, True])
    st0 = evaluate(start, np.ones(8, dtype=bool), 0)
    seen.clear()
    st, rec = damped_newton(
        evaluate, st0, _newton(radius=5.0), _increase_or_decrement_falls, active
    )
    assert not any(p[~active].any() for p in seen)
    np.testing.assert_array_equal(st.x[~active], start[~active])
    np.testing.assert_array_equal(st.f[~active], st0.f[~active])
    np.testing.assert_allclose(st.x[:4][active[:4]], c[active[:4]], atol=1e-12)
    np.testing.assert_allclose(st.x[4:][active[4:]], beta[active[4:]], atol=1e-11)
    assert (rec.converged == active).all()
    # the quadratics converge after one step, the logistic problems take more:
    # later evaluations are for the logistic ones only
    assert not any(p[:4].any() for p in seen[1:])
    assert len(seen) > 1


def test_only_rejected_problems_are_halved():
    """``f(x) = -sqrt(1 + x^2)``: the Newton step from 2 lands on -8, lower;
    a quadratic next to it accepts its full step at the first trial."""

    def evaluate(x, pending, k):
        return State(x, np.array([-((x[0, 0] - 1.0) ** 2), -np.sqrt(1 + x[1, 0] ** 2)]), None, None)

    st0 = evaluate(np.array([[3.0], [2.0]]), None, 0)
    step = np.array([[-2.0], [-10.0]])
    calls = []

    def counted(x, pending, k):
        calls.append(pending.copy())
        return evaluate(x, pending, k)

    st, t, ok, n = backtrack(
        counted,
        st0,
        step,
        np.ones(2, dtype=bool),
        _increase,
        merge=lambda o, nw, m: State(
            np.where(m[:, None], nw.x, o.x), np.where(m, nw.f, o.f), None, None
        ),
    )
    assert ok.all()
    assert t[0] == 1.0 and t[1] < 1.0
    assert st.x[0, 0] == 1.0 and abs(st.x[1, 0]) < 2.0
    assert calls[0].all() and not any(c[0] for c in calls[1:]) and n == len(calls) > 1


@pytest.mark.parametrize("final_step", [False, True])
def test_a_single_problem_with_any_state(final_step):
    """A batch of one needs no array merge (any state works). Steps that
    halve the distance to 1.5 stop below 1e-3; with ``final_step`` the
    last one is taken unchecked, in one more evaluation."""

    class One(NamedTuple):
        x: np.ndarray
        info: dict

    def evaluate(x, pending, k):
        return One(x, {"f": -float(np.sum((x - 1.5) ** 2))})

    def direction(st, active):
        step = 0.5 * (1.5 - st.x)
        return step, np.array([np.max(np.abs(step)) < 1e-3])

    accept = lambda new, old: np.array([new.info["f"] >= old.info["f"]])  # noqa: E731
    st, rec = damped_newton(
        evaluate,
        evaluate(np.array([[40.0, -3.0]]), None, 0),
        direction,
        accept,
        np.ones(1, dtype=bool),
        final_step=final_step,
    )
    last = 40.0 - 1.5  # distance of the first coordinate
    n = 0
    while 0.5 * last >= 1e-3:
        last, n = 0.5 * last, n + 1
    if final_step:
        last, n = 0.5 * last, n + 1
    assert rec.converged[0] and rec.evaluations == n
    np.testing.assert_allclose(st.x[0, 0] - 1.5, last, rtol=1e-12)


def test_a_problem_that_no_step_improves_stops():
    evaluate, c = _quadratics(5, 3, 2)
    st0 = evaluate(np.zeros((3, 2)))

    def uphill(st, active):  # problem 1 is given a descent direction
        step, done = _newton()(st, active)
        step[1] *= -1.0
        return step, done

    st, rec = damped_newton(evaluate, st0, uphill, _increase, np.ones(3, dtype=bool), halvings=10)
    assert rec.stopped.tolist() == [False, True, False]
    np.testing.assert_array_equal(st.x[1], 0.0)
    np.testing.assert_allclose(st.x[[0, 2]], c[[0, 2]], atol=1e-12)


@pytest.mark.parametrize("radius", [0.5, np.array([0.5, 10.0, 1e-3])])
def test_cap_length(radius):
    step = np.array([[3.0, 4.0], [0.3, 0.4], [1.0, 0.0]])
    capped = cap_length(step, radius)
    r = np.broadcast_to(radius, (3,))
    np.testing.assert_allclose(
        np.linalg.norm(capped, axis=1), np.minimum(np.linalg.norm(step, axis=1), r)
    )
    np.testing.assert_allclose(
        capped * np.linalg.norm(step, axis=1, keepdims=True),
        step * np.linalg.norm(capped, axis=1, keepdims=True),
    )
