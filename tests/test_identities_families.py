"""Identities with weights for the families with auxiliary parameters
(negative binomial, gamma with log and inverse links, ordinal logit and
probit) and the binomial with trials (``cbind``), at Laplace and at adaptive
quadrature, as tests/test_identities.py checks them for the Gaussian,
binomial and Poisson families:

* integer level-1 weights = rows repeated that many times;
* integer level-2 (top-level) weights = groups repeated under new ids;
* row order never matters;
* scaling every top-level weight by c leaves the estimates (fixed effects,
  family parameters, theta) alone and multiplies the log-likelihood by c.

The estimates agree to 1e-6 (relative, absolute below 1), the
log-likelihoods to 1e-6 relative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pywemix

from conftest import AUX_FAMILIES, aux_family_id, family_data

pytestmark = [
    pytest.mark.filterwarnings("error::pywemix.ConvergenceWarning"),
    pytest.mark.filterwarnings("error::pywemix.BoundaryWarning"),
    pytest.mark.filterwarnings("ignore::pywemix.FewGroupsWarning"),
    pytest.mark.filterwarnings("ignore:the level-1 weights vary within:pywemix.WeightWarning"),
]

TOL = 1e-6
N_QUAD = [1, 7]


@pytest.fixture(scope="module")
def df():
    """16 schools with integer weights 1-3 for rows and schools (every
    family's school variance is away from 0 on these data)."""
    d = family_data(4, n_groups=16, sizes=(5, 10))
    rng = np.random.default_rng(44)
    d["w1"] = rng.integers(1, 4, len(d)).astype(float)
    d["w2"] = rng.integers(1, 4, 16)[d["g"]].astype(float)
    return d


def fit(case, data, weights=("w1", "w2"), n_quad=1, **kw):
    family, link, response = case
    return pywemix.mix(
        f"{response} ~ x + (1|g)",
        data,
        list(weights),
        cond_weights=True,
        family=family,
        link=link,
        n_quad=n_quad,
        **kw,
    )


def assert_same_fit(a, b, llf_ratio=1.0):
    assert a.converged and b.converged, (a.optimization.message, b.optimization.message)
    assert list(a.params.index) == list(b.params.index)
    np.testing.assert_allclose(a.params.values, b.params.values, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(a.theta, b.theta, rtol=TOL, atol=TOL)
    assert a.llf == pytest.approx(llf_ratio * b.llf, rel=TOL)
    assert min(a.theta) > 0.05  # not a vacuous check of a zero variance


@pytest.mark.parametrize("n_quad", N_QUAD)
@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
def test_level1_integer_weights_equal_repeated_rows(df, case, n_quad):
    rep = df.loc[df.index.repeat(df["w1"].astype(int))].assign(one=1.0)
    assert_same_fit(fit(case, df, n_quad=n_quad), fit(case, rep, ("one", "w2"), n_quad))


@pytest.mark.parametrize("n_quad", N_QUAD)
@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
def test_level2_integer_weights_equal_repeated_groups(df, case, n_quad):
    copies = [df[df["w2"] >= k].assign(g=lambda d, k=k: d["g"] + 1000 * k) for k in (1, 2, 3)]
    rep = pd.concat(copies, ignore_index=True).assign(one=1.0)
    assert_same_fit(fit(case, df, n_quad=n_quad), fit(case, rep, ("w1", "one"), n_quad))


@pytest.mark.parametrize("n_quad", N_QUAD)
@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
def test_row_order(df, case, n_quad):
    shuffled = df.sample(frac=1.0, random_state=9)
    a, b = fit(case, df, n_quad=n_quad), fit(case, shuffled, n_quad=n_quad)
    assert_same_fit(a, b)
    pd.testing.assert_series_equal(
        a.fittedvalues.loc[shuffled.index], b.fittedvalues, rtol=1e-5, check_names=False
    )


@pytest.mark.parametrize("c", [1e-2, 1e4])
@pytest.mark.parametrize("n_quad", N_QUAD)
@pytest.mark.parametrize("case", AUX_FAMILIES, ids=aux_family_id)
def test_scaling_top_level_weights(df, case, n_quad, c):
    assert_same_fit(
        fit(case, df.assign(w2=c * df["w2"]), n_quad=n_quad),
        fit(case, df, n_quad=n_quad),
        llf_ratio=c,
    )
