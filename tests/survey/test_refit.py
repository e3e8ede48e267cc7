"""GLMM replicate refits (one batch of Newton problems for two-level models)
equal separate fits with the replicate weights, from the default start."""

import numpy as np
import pytest
from survey_data import explicit_replicates, survey_sample

import pywemix
from pywemix.objective.batched import TwoLevelBatch
from pywemix.objective.covariance import CovarianceStructure
from pywemix.survey import refit
from pywemix.survey.refit import replicate_weights

from conftest import quiet_mix

COLS = [f"rw{i}" for i in range(1, 9)]


def _sample(seed=11, n_schools=24, size=9):
    d = survey_sample(seed=seed, n_schools=n_schools, size=size, reps=8)
    rng = np.random.default_rng(seed)
    d["pass"] = (d["y"] > 1).astype(int)
    d["count"] = rng.poisson(np.exp(0.4 * d["y"]))
    return d


FAMILIES = [("pass ~ x + (1|school)", "binomial"), ("count ~ x + (1|school)", "poisson")]


def _no_separate_refits(monkeypatch):
    """Two-level refits must all converge in the batch: a refit one by one fails."""

    def refuse(*args, **kwargs):
        raise AssertionError("a replicate was refitted on its own")

    monkeypatch.setattr(refit, "optimize", refuse)


@pytest.mark.parametrize("formula,family", FAMILIES)
@pytest.mark.parametrize("n_quad", [1, 7])
def test_two_level_refits_equal_separate_fits(formula, family, n_quad, monkeypatch):
    data = _sample()
    kw = dict(family=family, n_quad=n_quad)
    P, V, _ = explicit_replicates(data, COLS, formula=formula, **kw)
    full = quiet_mix(formula, data, ["wt", "w2"], **kw)
    _no_separate_refits(monkeypatch)
    res = quiet_mix(formula, data, ["wt", "w2"], replicates=pywemix.Replicates(COLS), **kw)
    np.testing.assert_allclose(res.replicate_params.to_numpy(), P, rtol=1e-6)
    np.testing.assert_allclose(res.replicate_var_components.to_numpy(), V, rtol=1e-6)
    np.testing.assert_allclose(res.params, full.params, rtol=1e-12)
    assert res.converged


@pytest.mark.parametrize("formula,family", FAMILIES)
@pytest.mark.parametrize("n_quad", [1, 7])
def test_batch_objective_at_a_separate_optimum_is_its_llf(formula, family, n_quad):
    """The refits maximise the separate fits' objective: at a separate fit's
    estimates the batch objective with that replicate's weights is its llf."""
    data = _sample(seed=12)
    kw = dict(family=family, n_quad=n_quad)
    full = quiet_mix(formula, data, ["wt", "w2"], **kw)
    weights = replicate_weights(full.design, data, pywemix.Replicates(COLS))
    batch = TwoLevelBatch(
        full.design, CovarianceStructure.from_design(full.design), full.family_object, n_quad
    )
    for r in range(3):
        f = data[COLS[r]] / data["wt"]
        one = quiet_mix(
            formula, data.assign(_w1=data["wt"] * f, _w2=data["w2"] * f), ["_w1", "_w2"], **kw
        )
        ev = batch.evaluate(np.r_[one.params, one.theta], weights.top[r : r + 1])
        np.testing.assert_allclose(ev.llf[0], one.llf, rtol=1e-12)
        # ... and its maximum: the gradient there is 0 up to the fit's tolerance
        assert np.max(np.abs(ev.grad[0])) < 1e-4 * max(1.0, abs(one.llf))


@pytest.mark.parametrize("n_quad", [1, 5])
def test_factors_varying_within_schools_equal_separate_fits(n_quad, monkeypatch):
    """Row factors that differ within a school change the level-1 weights of
    each replicate (no shared evaluation at the start)."""
    data = _sample(seed=13)
    rng = np.random.default_rng(5)
    for c in COLS[:4]:
        data[c] = data[c] * rng.uniform(0.7, 1.3, len(data))
    kw = dict(family="binomial", n_quad=n_quad)
    formula = "pass ~ x + (1|school)"
    P, V, _ = explicit_replicates(data, COLS[:4], formula=formula, **kw)
    _no_separate_refits(monkeypatch)
    res = quiet_mix(
        formula, data, ["wt", "w2"], replicates=pywemix.Replicates(COLS[:4], method="jk1"), **kw
    )
    np.testing.assert_allclose(res.replicate_params.to_numpy(), P, rtol=1e-6)
    np.testing.assert_allclose(res.replicate_var_components.to_numpy(), V, rtol=1e-6)


def test_random_slopes_equal_separate_fits(monkeypatch):
    data = _sample(seed=14, n_schools=30, size=12)
    kw = dict(family="binomial", n_quad=5)
    formula = "pass ~ x + (1 + x|school)"
    P, V, _ = explicit_replicates(data, COLS[:4], formula=formula, **kw)
    _no_separate_refits(monkeypatch)
    res = quiet_mix(formula, data, ["wt", "w2"], replicates=pywemix.Replicates(COLS[:4]), **kw)
    np.testing.assert_allclose(res.replicate_params.to_numpy(), P, rtol=1e-6)
    np.testing.assert_allclose(res.replicate_var_components.to_numpy(), V, rtol=1e-6, atol=1e-10)


def _three_levels(seed=4):
    rng = np.random.default_rng(seed)
    d = survey_sample(seed=seed, n_schools=32, size=9, reps=0)
    d["district"] = d["school"] // 2
    d["y"] = d["y"] + rng.normal(0, 0.5, d["district"].max() + 1)[d["district"]]
    w3 = rng.uniform(1, 3, d["district"].max() + 1)
    d["w3"] = w3[d["district"]]
    d["w2"] = d["w2"] * d["w3"]
    d["wt"] = d["wt"] * d["w3"]
    d["pass"] = (d["y"] > 1).astype(int)
    d["count"] = rng.poisson(np.exp(0.4 * d["y"]))
    sign = np.where(np.arange(16) % 2 == 0, 1, -1)
    H = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    for r in range(4):
        d[f"rw{r + 1}"] = d["wt"] * (1 + 0.5 * H[r, (np.arange(16) // 2) % 4] * sign)[d["district"]]
    return d


@pytest.mark.parametrize("response,family", [("pass", "binomial"), ("count", "poisson")])
@pytest.mark.parametrize("n_quad", [1, 3])
def test_three_level_refits_equal_separate_fits(response, family, n_quad):
    d = _three_levels()
    formula = f"{response} ~ x + (1|district/school)"
    kw = dict(family=family, n_quad=n_quad)
    cols = ["rw1", "rw2", "rw3", "rw4"]
    res = quiet_mix(formula, d, ["wt", "w2", "w3"], replicates=pywemix.Replicates(cols), **kw)
    P, V = [], []
    for c in cols:
        f = d[c] / d["wt"]
        r = quiet_mix(
            formula, d.assign(a=d["wt"] * f, b=d["w2"] * f, c=d["w3"] * f), ["a", "b", "c"], **kw
        )
        P.append(r.params.to_numpy())
        V.append(r.var_components["variance"].to_numpy())
    np.testing.assert_allclose(res.replicate_params.to_numpy(), np.array(P), rtol=1e-6)
    np.testing.assert_allclose(res.replicate_var_components.to_numpy(), np.array(V), rtol=1e-6)
