"""Stage 3b, the variance of the estimates (pywemix.estimation.variance)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pywemix
from pywemix.design import build_design
from pywemix.estimation import VarianceEstimate, estimate_variance, optimize
from pywemix.estimation.variance import meat
from pywemix.objective import make_objective

from conftest import small_random_intercept


def test_meat_is_the_small_sample_scaled_sum_of_outer_products():
    s = np.random.default_rng(0).normal(size=(6, 3))
    want = 6 / 5 * sum(np.outer(r, r) for r in s)
    np.testing.assert_allclose(meat(s), want, rtol=1e-13)


def test_std_errors_are_nan_where_the_variance_is_not_usable():
    V = np.diag([4.0, -1.0, np.nan])
    est = VarianceEstimate(np.eye(1), np.eye(1), V, V, 10)
    se = est.std_errors()
    assert se[0] == 2.0 and np.isnan(se[1]) and np.isnan(se[2])


def test_unweighted_gaussian_fit_gives_symmetric_covariances_per_cluster():
    d = small_random_intercept(8, n_groups=20, size=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        objective = make_objective(build_design("y ~ x + (1|g)", d), None)
        optimum = optimize(objective)
        est = estimate_variance(objective, optimum)
    assert est.n_clusters == 20
    for V in (est.fixed_model, est.fixed_robust):
        np.testing.assert_allclose(V, V.T, rtol=1e-12)
        assert np.all(np.linalg.eigvalsh(V) > 0)
    # model-based fixed-effects variance: sigma^2 (X' V^-1 X)^-1, the GLS variance
    sigma2, tau = optimum.sigma2, optimum.covariances[0][0, 0]
    g = d["g"].to_numpy()
    Vy = sigma2 * np.eye(len(d)) + tau * (g[:, None] == g[None, :])
    X = np.column_stack([np.ones(len(d)), d["x"]])
    np.testing.assert_allclose(
        est.fixed_model, np.linalg.inv(X.T @ np.linalg.solve(Vy, X)), rtol=1e-8
    )
    assert est.components_robust.shape == (2, 2)
    assert est.std_errors() == pytest.approx(np.sqrt(np.diag(est.components_robust)))
