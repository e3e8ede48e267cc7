"""Gauss-Hermite product grids (pywemix.objective.gausshermite.grid).

The rule with n points per dimension integrates every monomial of degree at
most 2n - 1 in each coordinate exactly against exp(-|x|^2); the moments are
known in closed form: int x^k exp(-x^2) dx = Gamma((k + 1)/2) for even k, 0 for
odd k.
"""

from __future__ import annotations

import itertools
from math import gamma, pi, sqrt

import numpy as np
import pytest

from pywemix.objective.gausshermite import grid


def moment_1d(k: int) -> float:
    return 0.0 if k % 2 else gamma((k + 1) / 2)


def weights(nodes, logw):
    """The grid stores log(w) + |x|^2; recover the Gauss-Hermite weights."""
    return np.exp(logw - np.sum(nodes**2, axis=1))


@pytest.mark.parametrize("q", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_node_count_and_shape(n, q):
    nodes, logw = grid(n, q)
    assert nodes.shape == (n**q, q)
    assert logw.shape == (n**q,)
    assert len({tuple(x) for x in nodes}) == n**q


@pytest.mark.parametrize("q", [1, 2, 3])
@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_monomials_below_degree_2n_are_exact(n, q):
    nodes, logw = grid(n, q)
    w = weights(nodes, logw)
    max_deg = 2 * n - 1
    # every monomial with each exponent <= 2n - 1 (all of them for q <= 2;
    # for q = 3 a spread of them, to keep the test quick)
    exps = list(itertools.product(range(max_deg + 1), repeat=q))
    if q == 3 and len(exps) > 300:
        exps = exps[:: max(1, len(exps) // 300)]
    for e in exps:
        f = np.prod(nodes ** np.array(e), axis=1)
        exact = np.prod([moment_1d(k) for k in e])
        scale = np.prod([moment_1d(2 * ((k + 1) // 2)) for k in e])  # even-moment size
        assert abs(w @ f - exact) <= 1e-12 * max(scale, 1.0), (n, q, e)


@pytest.mark.parametrize("q", [1, 2, 3])
def test_total_mass_and_polynomials(q):
    n = 4
    nodes, logw = grid(n, q)
    w = weights(nodes, logw)
    assert w.sum() == pytest.approx(pi ** (q / 2), rel=1e-13)
    # a polynomial with mixed terms: 3 + x1^2 x2^4 - 2 x1 + x_q^6 (degree < 2n per coordinate)
    x = nodes
    f = 3 + x[:, 0] ** 2 * x[:, -1] ** 4 - 2 * x[:, 0] + x[:, -1] ** 6
    if q == 1:
        exact = 3 * sqrt(pi) + moment_1d(6) + moment_1d(6)
    else:
        exact = (
            3 * pi ** (q / 2)
            + moment_1d(2) * moment_1d(4) * pi ** ((q - 2) / 2)
            + moment_1d(6) * pi ** ((q - 1) / 2)
        )
    assert w @ f == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_degree_2n_is_not_exact(n):
    """The bound is sharp: x^(2n) is not integrated exactly."""
    nodes, logw = grid(n, 1)
    w = weights(nodes, logw)
    assert abs(w @ nodes[:, 0] ** (2 * n) - moment_1d(2 * n)) > 1e-6


@pytest.mark.parametrize("q", [1, 2, 3])
def test_single_node_is_the_origin(q):
    nodes, logw = grid(1, q)
    np.testing.assert_array_equal(nodes, np.zeros((1, q)))
    # the one weight is the total mass pi^(q/2)
    assert logw[0] == pytest.approx(q / 2 * np.log(pi), rel=1e-14)


def test_symmetric_nodes():
    nodes, logw = grid(5, 2)
    flipped = {tuple(-x) for x in nodes}
    assert flipped == {tuple(x) for x in nodes}


@pytest.mark.parametrize("n", [0, -1])
def test_invalid_n(n):
    with pytest.raises(ValueError):
        grid(n, 1)
