"""The Gaussian objective (pywemix.objective.gaussian): the profiled criterion
is the full log-likelihood at the closed-form estimates, the fixed-effects
solve is generalised least squares, batched evaluations equal single ones."""

from __future__ import annotations

import numpy as np
import pytest

from pywemix.design.model import build_design
from pywemix.objective.covariance import CovarianceStructure
from pywemix.objective.gaussian import (
    GaussianObjective,
    matmul_q,
    profiled_criterion,
    solve_fixed,
)

from conftest import small_random_intercept

# These tests check objectives and derivatives on small weighted groups; the
# unscaled level-1 weights are deliberate (WeMix's default, as the references
# use) and the unscaled-weight warning is not what they are about (it is
# tested in tests/design/test_scaling.py).
pytestmark = pytest.mark.filterwarnings(
    "ignore:the level-1 weights vary within:pywemix.WeightWarning"
)


def _objective(formula="y ~ x + (1 + x|g)", seed=3):
    d = small_random_intercept(seed, n_groups=12, size=8)
    d["w1"] = 0.5 + (np.arange(len(d)) % 3)
    d["w2"] = 1.0 + d["g"] % 2
    design = build_design(formula, d, weights=["w1", "w2"], cond_weights=True)
    return GaussianObjective(design, CovarianceStructure.from_design(design)), design


def test_solve_fixed_is_generalised_least_squares():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(20, 4))
    S = A.T @ A
    fx = solve_fixed(S, 3)
    beta = np.linalg.lstsq(A[:, :3], A[:, 3], rcond=None)[0]
    np.testing.assert_allclose(fx.beta, beta, rtol=1e-10)
    np.testing.assert_allclose(fx.prss, np.sum((A[:, 3] - A[:, :3] @ beta) ** 2), rtol=1e-10)
    np.testing.assert_allclose(fx.logdet, np.linalg.slogdet(S[:3, :3])[1], rtol=1e-12)
    np.testing.assert_allclose(fx.c, np.r_[beta, -1.0], rtol=1e-10)
    assert not fx.singular


def test_solve_fixed_batched_and_singular():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(3, 20, 3))
    S = np.swapaxes(A, 1, 2) @ A
    S[2, :2, :2] = 0.0  # S_XX singular
    fx = solve_fixed(S, 2)
    assert list(fx.singular) == [False, False, True]
    for b in range(2):
        np.testing.assert_allclose(fx.beta[b], solve_fixed(S[b], 2).beta, rtol=1e-12)
    llf, _, _ = profiled_criterion(S, 20.0, np.zeros(3), 2, reml=False)
    assert np.isfinite(llf[:2]).all() and llf[2] == -np.inf


@pytest.mark.parametrize("reml", [False, True])
def test_profiled_is_the_likelihood_at_the_closed_form_estimates(reml):
    """ML: the profiled value is the full log-likelihood at beta-hat and
    sigma2-hat (the sum of the top groups' contributions)."""
    obj, _ = _objective()
    theta = np.array([0.7, 0.1, 0.3])
    pf = obj.profiled(theta, reml)
    covs = [pf.sigma2 * T for T in obj.structure.relative_cov(theta)]
    full = obj.group_loglik(pf.beta, pf.sigma2, covs).sum()
    if reml:
        # REML adds -log|S_XX / sigma2| / 2 + p/2 log(2 pi) to the ML
        # likelihood at the REML estimates (Bates et al. 2015, eq. 41)
        p = len(pf.beta)
        info = obj.beta_information(pf.sigma2, covs)
        full += -0.5 * np.linalg.slogdet(info)[1] + 0.5 * p * np.log(2 * np.pi)
    assert pf.llf == pytest.approx(full, rel=1e-12)


def test_beta_is_stationary_for_the_group_scores():
    obj, _ = _objective()
    theta = np.array([0.7, 0.1, 0.3])
    pf = obj.profiled(theta)
    covs = [pf.sigma2 * T for T in obj.structure.relative_cov(theta)]
    scores = obj.beta_scores(pf.beta, pf.sigma2, covs).sum(axis=0)
    assert np.max(np.abs(scores)) < 1e-9 * np.max(np.abs(obj.beta_information(pf.sigma2, covs)))


def test_conditional_variances_by_hand():
    """Two levels: sigma2 diag((I + T M_11)^-1 T) with M_11 = Z_j' W_j Z_j."""
    obj, design = _objective()
    theta = np.array([0.7, 0.1, 0.3])
    sigma2 = 1.3
    T = obj.structure.relative_cov(theta)[0]
    var = obj.conditional_variances(sigma2, [sigma2 * T])[0]
    lev, Z, w = design.levels[0], design.Z[0], design.w1
    for j in (0, 5):
        rows = lev.codes == j
        M11 = Z[rows].T @ (w[rows, None] * Z[rows])
        expected = sigma2 * np.diag(np.linalg.solve(np.eye(2) + T @ M11, T))
        np.testing.assert_allclose(var[j], expected, rtol=1e-12)


def test_batched_responses_equal_single_fits():
    obj, design = _objective()
    rng = np.random.default_rng(5)
    Y = design.y[:, None] + rng.normal(size=(len(design.y), 3))
    batch = obj.with_responses(Y)
    theta = np.array([[0.7, 0.1, 0.3], [1.0, 0.0, 1.0], [0.2, -0.3, 0.5]])
    llf, grad = batch.profiled_grad(theta)
    for b in range(3):
        one = obj.with_responses(Y[:, b])
        l1, g1 = one.profiled_grad(theta[b])
        assert llf[b] == pytest.approx(l1, rel=1e-12)
        np.testing.assert_allclose(grad[b], g1, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("q", [1, 2])
def test_products_over_one_levels_effects_equal_matmul_exactly(q):
    """matmul_q gives numpy's matmul to the last bit (q = 1: elementwise products;
    the estimates must not change with it), with the stacks and broadcasting the
    objectives use."""
    rng = np.random.default_rng(11)
    G, r, k = 40, 7, 3
    T = rng.standard_normal((q, q)) * 1e3
    M11 = rng.standard_normal((G, q, q)) * 1e-2
    M12 = rng.standard_normal((G, q, r))
    dT = rng.standard_normal((k, q, q))
    Ainv = rng.standard_normal((G, q, q))
    for a, b in [
        (T[None], M11),
        (Ainv, M12),
        (np.swapaxes(M12, -1, -2), rng.standard_normal((G, q, r))),
        (Ainv, dT[:, None]),
        (dT[:, None], Ainv),
        (rng.standard_normal((5, G, q, q)), M12),
    ]:
        got, want = matmul_q(a, b), np.matmul(a, b)
        assert got.shape == want.shape
        assert np.array_equal(got, want)
