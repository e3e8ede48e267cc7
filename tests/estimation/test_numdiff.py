"""Finite-difference derivatives (pywemix.estimation.numdiff)."""

from __future__ import annotations

import numpy as np

from pywemix.estimation.numdiff import hessian, jacobian, steps


def _f(x):
    return np.exp(x[0]) * np.sin(x[1]) + x[0] * x[1] ** 2


def test_steps_are_relative_with_a_floor():
    np.testing.assert_allclose(steps([2.0, -0.5, 0.0], 1e-4), [2e-4, 5e-5, 1e-6])
    np.testing.assert_allclose(steps([0.0], 1e-3, floor=1.0), [1e-3])


def test_jacobian_of_scalar_and_vector_functions():
    x = np.array([0.3, 1.1])
    exact = np.array(
        [np.exp(x[0]) * np.sin(x[1]) + x[1] ** 2, np.exp(x[0]) * np.cos(x[1]) + 2 * x[0] * x[1]]
    )
    np.testing.assert_allclose(jacobian(_f, x, steps(x, 1e-5)), exact, rtol=1e-8)
    J = jacobian(lambda z: np.array([_f(z), z[0] * z[1]]), x, steps(x, 1e-5))
    assert J.shape == (2, 2)
    np.testing.assert_allclose(J[1], [x[1], x[0]], rtol=1e-8)


def test_jacobian_one_sided_at_a_lower_bound():
    """At the bound the difference only looks inside (the function is not
    defined below 0 here)."""

    def f(z):
        assert z[0] >= 0
        return np.sqrt(z[0] + 1.0) + z[0] ** 3

    x = np.array([0.0])
    g = jacobian(f, x, np.array([1e-5]), lower=np.array([0.0]))
    np.testing.assert_allclose(g, [0.5], rtol=1e-8)


def test_hessian():
    x = np.array([0.3, 1.1])
    e, s, c = np.exp(x[0]), np.sin(x[1]), np.cos(x[1])
    exact = np.array([[e * s, e * c + 2 * x[1]], [e * c + 2 * x[1], -e * s + 2 * x[0]]])
    np.testing.assert_allclose(hessian(_f, x, steps(x, 1e-4)), exact, rtol=1e-6)
