"""The linear predictor X b + offset + sum_l Z_l u_l (pywemix.objective.linpred)."""

from __future__ import annotations

import numpy as np

from pywemix.objective.linpred import add_random, linear_predictor


def _pieces(seed=0, n=12):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    beta = rng.normal(size=2)
    Z = [rng.normal(size=(n, 2)), np.ones((n, 1))]
    codes = [np.repeat(np.arange(4), n // 4), np.repeat(np.arange(2), n // 2)]
    effects = [rng.normal(size=(4, 2)), rng.normal(size=(2, 1))]
    return X, beta, Z, codes, effects


def test_linear_predictor_equals_the_sum_row_by_row():
    X, beta, Z, codes, effects = _pieces()
    offset = np.linspace(-1, 1, len(X))
    eta = linear_predictor(X, beta, offset, Z, codes, effects)
    for i in range(len(X)):
        want = X[i] @ beta + offset[i] + sum(Zl[i] @ u[c[i]] for Zl, c, u in zip(Z, codes, effects))
        np.testing.assert_allclose(eta[i], want, rtol=1e-12, atol=1e-14)


def test_offset_and_random_parts_are_optional():
    X, beta, Z, codes, effects = _pieces(1)
    np.testing.assert_array_equal(linear_predictor(X, beta), X @ beta)
    with_random = linear_predictor(X, beta, None, Z, codes, effects)
    np.testing.assert_allclose(with_random, add_random(X @ beta, Z, codes, effects))


def test_add_random_leaves_its_input_alone():
    X, beta, Z, codes, effects = _pieces(2)
    eta = X @ beta
    before = eta.copy()
    out = add_random(eta, Z, codes, [np.zeros_like(u) for u in effects])
    np.testing.assert_array_equal(eta, before)
    np.testing.assert_array_equal(out, before)
    assert out is not eta
