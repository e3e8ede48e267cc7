"""The optimiser (pywemix.estimation.search): fits reach the maximum whatever the start,
including where a Cholesky diagonal passes through 0 (a stationary point of
the profiled likelihood, by the symmetry theta -> -theta)."""

from __future__ import annotations

import numpy as np
import pytest

from pywemix.estimation.search import as_batch, check_start, minimize_bounded, newton_batch

from conftest import quiet_mix
from conftest import small_random_intercept as _small


@pytest.mark.parametrize("seed", [21, 5, 77, 123])
def test_default_start_reaches_the_maximum(seed):
    """A Newton step from theta = 1 can land a rounding error from 0; the fit
    must not stop there (seed 21 once did, at a lower likelihood)."""
    d = _small(seed)
    default = quiet_mix("y ~ x + (1|g)", d)
    best = max(quiet_mix("y ~ x + (1|g)", d, start=[s]).llf for s in (0.05, 0.4, 2.0))
    assert default.llf >= best - 1e-9 * abs(best)
    assert default.converged


def test_newton_batch_leaves_a_saddle_on_the_bound():
    """f(a, b) = (a^2 - 1)^2 + b^2 with a >= 0: a = 0 is a stationary point
    (a saddle on the bound); the minimum is at a = 1."""

    def fg(X, idx):
        a, b = X[:, 0], X[:, 1]
        f = (a * a - 1) ** 2 + b * b
        g = np.stack([4 * a * (a * a - 1), 2 * b], axis=1)
        return f, g

    res = newton_batch(fg, np.array([[0.0, 0.3], [1e-17, -0.2]]), np.array([0.0, -np.inf]))
    np.testing.assert_allclose(res.x, [[1.0, 0.0], [1.0, 0.0]], atol=1e-7)
    assert res.converged.all()


@pytest.mark.parametrize(
    "start, exc",
    [
        ("abc", TypeError),
        (1.0, ValueError),
        ([[1.0]], ValueError),
        ([np.nan], ValueError),
        ([1.0, 2.0], ValueError),
    ],
)
def test_bad_starting_values(start, exc):
    with pytest.raises(exc, match="start"):
        check_start(start, 1, "theta")
    with pytest.raises(exc, match="start"):
        quiet_mix("y ~ x + (1|g)", _small(1), start=start)


def _rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def _rosenbrock_grad(x):
    return np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])


@pytest.mark.parametrize("how", ["differences", "grad", "fun_and_grad"])
def test_minimize_bounded_interior_and_bound(how):
    """Minimum (1, 1) inside; with x_0 >= 1.5 it is (1.5, 2.25), on the bound."""
    kw = {
        "differences": {},
        "grad": {"grad": _rosenbrock_grad},
        "fun_and_grad": {"fun_and_grad": lambda x: (_rosenbrock(x), _rosenbrock_grad(x))},
    }[how]
    free = minimize_bounded(_rosenbrock, [-1.2, 1.0], np.full(2, -np.inf), **kw)
    assert free.converged
    np.testing.assert_allclose(free.x, [1.0, 1.0], atol=1e-6)
    bound = minimize_bounded(_rosenbrock, [2.0, 1.0], np.array([1.5, -np.inf]), **kw)
    assert bound.converged and bound.at_boundary == (0,)
    np.testing.assert_allclose(bound.x, [1.5, 2.25], atol=1e-6)


def test_newton_batch_one_unbounded_problem_with_exact_hessian():
    """Damped Newton from far away on a convex non-quadratic function."""

    def fg(x):
        return np.sum(np.cosh(x - 2.0)), np.sinh(x - 2.0)

    def hess(X, idx):
        return np.stack([np.diag(np.cosh(x - 2.0)) for x in X])

    res = newton_batch(as_batch(fg), np.array([[-8.0, 9.0, 2.5]]), np.full(3, -np.inf), hess=hess)
    assert res.converged[0]
    np.testing.assert_allclose(res.x[0], [2.0, 2.0, 2.0], atol=1e-9)


def test_newton_batch_projected_bounds_on_batched_quadratics():
    """Separable convex quadratics ``sum_i a_i (x_i - c_i)^2 / 2 + x_i^4 / 4``:
    the bounded minimum of each coordinate is the unbounded one clipped to
    its bound (convex in each coordinate separately); no point evaluated is
    below a bound."""
    rng = np.random.default_rng(4)
    B, k = 9, 3
    a = rng.uniform(0.5, 4.0, (B, k))
    c = rng.normal(0.0, 2.0, (B, k))
    lower = np.array([0.0, -np.inf, 0.5])
    seen = []

    def fg(X, idx):
        seen.append(X.copy())
        d = X - c[idx]
        return (np.sum(0.5 * a[idx] * d * d + 0.25 * X**4, axis=1), a[idx] * d + X**3)

    res = newton_batch(fg, rng.normal(0.0, 3.0, (B, k)), lower, gtol=1e-12)
    free = np.empty((B, k))
    for b in range(B):  # unbounded minimum of each coordinate: root of a cubic
        for i in range(k):
            r = np.roots([1.0, 0.0, a[b, i], -a[b, i] * c[b, i]])
            free[b, i] = r[np.argmin(np.abs(r.imag))].real
    np.testing.assert_allclose(res.x, np.maximum(free, lower), rtol=0, atol=1e-10)
    assert res.converged.all()
    assert all((X >= lower).all() for X in seen)
    # converged problems drop out: later evaluations are for fewer problems
    assert len(seen[-1]) < B


def test_an_abnormal_line_search_is_not_converged():
    """A gradient inconsistent with the function makes L-BFGS-B's line search
    end abnormally ('ABNORMAL: '): never reported as converged, even where
    the (wrong) gradient is small."""

    def fg(x):
        g = 2 * (x - 1)
        g[0] = -0.3 * g[0] + 0.1
        return float(np.sum((x - 1) ** 2)), g

    for polish in (0, 5):
        rec = minimize_bounded(
            lambda x: fg(x)[0],
            np.array([3.0, 2.0]),
            np.full(2, -np.inf),
            fun_and_grad=fg,
            polish=polish,
        )
        assert not rec.converged
        assert "abnormally" in rec.message
