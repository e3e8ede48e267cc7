"""Closed-form profiled likelihood of two-level models (pywemix.objective.twolevel).

``TwoLevelProfile.evaluate`` must give the value and gradient of the general
level recursion (``GaussianObjective.profiled_grad``), and a Hessian equal to
central differences of that exact gradient.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pywemix
from pywemix.design.formula import parse_formula
from pywemix.design.model import build_design
from pywemix.objective.covariance import CovarianceStructure
from pywemix.objective.gaussian import GaussianObjective
from pywemix.objective.twolevel import TwoLevelProfile

from conftest import needs_reference, reference_data

pytestmark = needs_reference

FORMULAS = {
    "intercept": "pv1math ~ escs + st04q01 + (1|schoolid)",
    "correlated_slope": "pv1math ~ escs + st04q01 + (escs|schoolid)",
    "uncorrelated_slope": "pv1math ~ escs + st04q01 + (escs||schoolid)",
    "three_by_three": "pv1math ~ escs + st04q01 + (1 + escs + st04q01|schoolid)",
}


def objective(formula, data, weights, cond_weights=True):
    with warnings.catch_warnings():
        # rows with a missing escs are dropped with a warning
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        design = build_design(parse_formula(formula), data, weights, cond_weights)
    return GaussianObjective(design, CovarianceStructure.from_design(design))


@pytest.fixture(scope="module")
def pisa():
    return reference_data("pisa_s1.csv")


@pytest.fixture(scope="module", params=sorted(FORMULAS))
def obj(request, pisa):
    return objective(FORMULAS[request.param], pisa, ["pwt1", "pwt2"])


def thetas(st):
    """lme4's start, and a point with unequal diagonals and non-zero
    off-diagonals."""
    diag = np.isfinite(st.theta_lower())
    rng = np.random.default_rng(11)
    other = np.where(
        diag, 0.2 + rng.uniform(size=st.n_theta), rng.uniform(-0.3, 0.3, size=st.n_theta)
    )
    return [st.theta_start(), other]


def exact_gradient_fd(obj, theta, reml, h=1e-5):
    """Central differences of the exact gradient of the general recursion."""
    k = len(theta)
    H = np.empty((k, k))
    for j in range(k):
        step = h * max(1.0, abs(theta[j]))
        e = np.zeros(k)
        e[j] = step
        H[:, j] = (
            obj.profiled_grad(theta + e, reml)[1] - obj.profiled_grad(theta - e, reml)[1]
        ) / (2 * step)
    return H


def test_structures(obj):
    assert TwoLevelProfile.fits(obj)
    sizes = obj.structure.sizes
    assert len(sizes) == 1
    assert sizes[0] in ([1], [2], [1, 1], [3])


@pytest.mark.parametrize("reml", [False, True], ids=["ML", "REML"])
def test_value_and_gradient_equal_general_recursion(obj, reml):
    prof = TwoLevelProfile(obj)
    for theta in thetas(obj.structure):
        llf, grad, _ = prof.evaluate(theta, reml)
        llf_ref, grad_ref = obj.profiled_grad(theta, reml)
        assert np.isfinite(llf)
        assert abs(llf - llf_ref) <= 1e-10 * abs(llf_ref)
        scale = np.max(np.abs(grad_ref))
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-10, atol=1e-10 * scale)
        # and the value equals the plain profiled criterion
        assert abs(llf - obj.profiled(theta, reml).llf) <= 1e-10 * abs(llf_ref)


@pytest.mark.parametrize("reml", [False, True], ids=["ML", "REML"])
def test_hessian_equals_differences_of_exact_gradient(obj, reml):
    prof = TwoLevelProfile(obj)
    for theta in thetas(obj.structure):
        _, _, H = prof.evaluate(theta, reml)
        k = len(theta)
        assert H.shape == (k, k)
        np.testing.assert_array_equal(H, H.T)
        H_fd = exact_gradient_fd(obj, theta, reml)
        scale = np.max(np.abs(H_fd))
        np.testing.assert_allclose(H, H_fd, rtol=1e-6, atol=1e-6 * scale)


def test_without_hessian(obj):
    prof = TwoLevelProfile(obj)
    theta = thetas(obj.structure)[1]
    llf, grad, H = prof.evaluate(theta, hessian=False)
    assert H is None
    llf_full, grad_full, _ = prof.evaluate(theta)
    assert llf == llf_full
    np.testing.assert_array_equal(grad, grad_full)


def test_unweighted_two_level(pisa):
    obj = objective(FORMULAS["correlated_slope"], pisa, None, cond_weights=False)
    prof = TwoLevelProfile(obj)
    for reml in (False, True):
        for theta in thetas(obj.structure):
            llf, grad, H = prof.evaluate(theta, reml)
            llf_ref, grad_ref = obj.profiled_grad(theta, reml)
            assert abs(llf - llf_ref) <= 1e-10 * abs(llf_ref)
            np.testing.assert_allclose(
                grad, grad_ref, rtol=1e-10, atol=1e-10 * np.max(np.abs(grad_ref))
            )
            H_fd = exact_gradient_fd(obj, theta, reml)
            np.testing.assert_allclose(H, H_fd, rtol=1e-6, atol=1e-6 * np.max(np.abs(H_fd)))


def test_not_for_three_levels():
    data = reference_data("three_s1.csv")
    obj = objective("y ~ x + (1|school) + (1|district)", data, ["w1", "w2", "w3"])
    assert len(obj.levels) == 2
    assert not TwoLevelProfile.fits(obj)
    with pytest.raises(ValueError):
        TwoLevelProfile(obj)


@pytest.mark.parametrize("reml", [False, True], ids=["ML", "REML"])
def test_chunked_group_sums_equal_one_piece(obj, reml, monkeypatch):
    """Sums over chunks of groups (bounded temporaries for a million groups)
    give the one-piece value, gradient and Hessian."""
    import pywemix.objective.twolevel as twolevel

    prof = TwoLevelProfile(obj)
    theta = thetas(obj.structure)[0]
    whole = prof.evaluate(theta, reml)
    monkeypatch.setattr(twolevel, "CHUNK", 7)
    parts = prof.evaluate(theta, reml)
    np.testing.assert_allclose(parts[0], whole[0], rtol=1e-13)
    np.testing.assert_allclose(parts[1], whole[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(parts[2], whole[2], rtol=1e-10, atol=1e-12)
