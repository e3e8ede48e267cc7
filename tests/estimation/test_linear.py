"""Optimising the profiled Gaussian likelihood (pywemix.estimation.linear)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pywemix
from pywemix.design import build_design
from pywemix.estimation.linear import optimize_linear, refit_criteria
from pywemix.objective import make_objective

from conftest import small_random_intercept


def _objective(d, formula="y ~ x + (1|g)", reml=False):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        return make_objective(build_design(formula, d), None, reml=reml)


@pytest.fixture(scope="module")
def data():
    return small_random_intercept(21, n_groups=20, size=6)


@pytest.mark.parametrize("reml", [False, True])
def test_any_start_reaches_the_same_optimum(data, reml):
    obj = _objective(data, reml=reml)
    a = optimize_linear(obj)
    b = optimize_linear(obj, start=[3.0])
    assert a.converged and b.converged and a.criterion == ("REML" if reml else "ML")
    assert b.llf == pytest.approx(a.llf, rel=1e-12)
    np.testing.assert_allclose(b.theta, a.theta, rtol=1e-6)
    # the record's x is the relative factor; the covariance is sigma^2 theta^2
    assert a.covariances[0][0, 0] == pytest.approx(a.sigma2 * a.theta[0] ** 2, rel=1e-12)


def test_batched_refits_equal_one_by_one_fits(data):
    obj = _objective(data)
    y = obj.design.y
    batched = refit_criteria(
        obj.function.with_responses(np.column_stack([y, 2.0 * y + 1.0])),
        obj.structure.theta_start(),
        False,
    )
    one = optimize_linear(obj)
    assert batched[0] == pytest.approx(one.llf, rel=1e-10)
    # y -> 2y + 1 (x has an intercept) shifts the maximised log-likelihood by -n log 2
    assert batched[1] == pytest.approx(one.llf - len(y) * np.log(2.0), rel=1e-10)


def test_no_between_group_variation_ends_exactly_on_the_boundary(data):
    d = data.copy()
    d["y"] = d["y"] - d.groupby("g")["y"].transform("mean") + 1.0
    obj = _objective(d)
    with pytest.warns(pywemix.BoundaryWarning, match="exactly 0"):
        opt = optimize_linear(obj)
    assert opt.theta[0] == 0.0 and opt.at_boundary == (0,)
    assert opt.covariances[0][0, 0] == 0.0
