"""The families with auxiliary parameters against their R references, with
unit weights: glmmTMB (``nbinom2``, ``Gamma`` log and inverse links; its
Laplace approximation), ``ordinal::clmm`` (Laplace; adaptive quadrature with
one random intercept) and ``glmer`` (``cbind`` binomial, logit and probit;
Laplace and adaptive quadrature), fitted to tests/data/families.csv by
tests/data/make_families_refs.R (tests/data/families_refs.json).

Done when: llf to 1e-6 relative, estimates (fixed effects, family
parameters, variances) to 1e-4 (relative, absolute below 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom

from conftest import quiet_mix

DATA = Path(__file__).parent / "data"
REFS = json.loads((DATA / "families_refs.json").read_text())["cases"]
FAMILY = {"nbinom2": "negative_binomial", "Gamma": "gamma"}
LLF_TOL, EST_TOL = 1e-6, 1e-4


@pytest.fixture(scope="module")
def data():
    df = pd.read_csv(DATA / "families.csv")
    for col in ("ord", "ordp"):
        df[col] = pd.Categorical(df[col], categories=[1, 2, 3, 4], ordered=True)
    return df


@pytest.fixture(scope="module")
def fits(data):
    out = {}

    def fit(name):
        if name not in out:
            c = REFS[name]
            offset = "logexpo" if "offset(logexpo)" in c["call"] else None
            formula = c["call"].replace("offset(logexpo) + ", "")
            out[name] = quiet_mix(
                formula,
                data,
                family=FAMILY.get(c["family"], c["family"]),
                link=c["link"],
                n_quad=c["n_quad"],
                offset=offset,
            )
        return REFS[name], out[name]

    return fit


def _close(ours, theirs, tol=EST_TOL):
    return abs(ours - theirs) <= tol * max(1.0, abs(theirs))


def _saturated(df):
    """The saturated binomial log-likelihood, ``sum log dbinom(s, n, s / n)``."""
    s, n = df["succ"].to_numpy(float), (df["succ"] + df["fail"]).to_numpy(float)
    return float(np.sum(binom.logpmf(s, n, s / n)))


@pytest.mark.parametrize("name", list(REFS))
def test_llf_and_estimates(name, fits, data):
    ref, res = fits(name)
    assert res.converged
    llf = ref["llf"]
    if ref["package"] == "lme4" and ref["n_quad"] > 1:
        # glmer's adaptive quadrature reports the log-likelihood relative to the
        # saturated model (minus half its deviance); its Laplace approximation
        # and pywemix report the log-likelihood itself
        llf = llf + _saturated(data)
    assert abs(res.llf - llf) <= LLF_TOL * abs(llf), (res.llf, llf)
    expected = {**ref["params"], **(ref["family_params"] or {})}
    assert list(res.params.index) == list(ref["params"]) + list(ref["family_params"] or {})
    for term, value in expected.items():
        assert _close(res.params[term], value), (term, res.params[term], value)


@pytest.mark.parametrize("name", list(REFS))
def test_variance_components(name, fits):
    ref, res = fits(name)
    vc = res.var_components
    for group, block in ref["covariances"].items():
        names = block["names"] if isinstance(block["names"], list) else [block["names"]]
        cov = np.atleast_2d(np.array(block["cov"], dtype=float))
        rows = vc[vc["group"] == group]
        for i, a in enumerate(names):
            var = rows[(rows["var1"] == a) & rows["var2"].isna()]["variance"].item()
            assert _close(var, cov[i, i]), (group, a, var, cov[i, i])
            for j in range(i):
                sel = rows[(rows["var1"] == names[j]) & (rows["var2"] == a)]
                assert _close(sel["variance"].item(), cov[i, j])


@pytest.mark.parametrize("name", [n for n, c in REFS.items() if c["n_quad"] == 1])
def test_model_based_standard_errors(name, fits):
    """Model-based standard errors of the fixed effects (R's ``vcov``): the
    inverse Hessian of the same objective, from finite differences on both
    sides (glmmTMB's is TMB's automatic derivative)."""
    ref, res = fits(name)
    se = np.sqrt(np.diag(res.cov_params(kind="model")))
    ours = pd.Series(se, index=res.params.index)
    for term, value in ref["bse_model"].items():
        assert abs(ours[term] - value) <= 2e-3 * value, (term, ours[term], value)


def test_thresholds_are_named_and_ordered_as_clmm(fits):
    ref, res = fits("ordinal_logit")
    assert list(res.family_params.index) == ["1|2", "2|3", "3|4"]
    assert np.all(np.diff(res.family_params) > 0)
    assert "Intercept" not in res.params.index
    assert "Threshold coefficients" in str(res.summary())
