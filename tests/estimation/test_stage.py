"""The stages of a fit called one by one give what ``mix`` gives.

design (build_design) -> objective (make_objective) -> optimum (optimize) ->
variance (estimate_variance) -> result (make_result), as lme4's
lFormula -> mkLmerDevfun -> optimizeLmer -> mkMerMod.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.design import build_design
from pywemix.estimation import Optimum, VarianceEstimate, estimate_variance, optimize
from pywemix.estimation.search import OptimizationRecord
from pywemix.objective import MixObjective, make_objective
from pywemix.objective.families import get_family
from pywemix.results import FitSettings, MixResult, make_result

from conftest import quiet_mix, small_random_intercept

FORMULA = "y ~ x + (1|g)"
BINARY = "b ~ x + (1|g)"


@pytest.fixture(scope="module")
def data():
    d = small_random_intercept(5, n_groups=25, size=6)
    rng = np.random.default_rng(6)
    return d.assign(
        w1=rng.uniform(0.5, 2.0, len(d)),
        w2=np.repeat(rng.uniform(1.0, 3.0, 25), 6),
        b=(d["y"] > 1.0).astype(int),
    )


def _stages(formula, data, family, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PywemixWarning)
        design = build_design(formula, data, ["w1", "w2"], False, family=family)
        objective = make_objective(design, family, **kw)
        optimum = optimize(objective)
        variance = estimate_variance(objective, optimum)
    return design, objective, optimum, variance


def _assert_same(a, b):
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)
    np.testing.assert_allclose(a.bse, b.bse, rtol=1e-10)
    # model-based SEs of weighted fits are asked for on purpose: they warn
    with (
        pytest.warns(pywemix.PseudoLikelihoodWarning)
        if a.weighted or b.weighted
        else warnings.catch_warnings()
    ):
        model = a.std_errors("model"), b.std_errors("model")
    np.testing.assert_allclose(*model, rtol=1e-10)
    np.testing.assert_allclose(a.var_cov("robust"), b.var_cov("robust"), rtol=1e-10)
    pd.testing.assert_frame_equal(a.var_components, b.var_components, rtol=1e-10)
    assert a.llf == pytest.approx(b.llf, rel=1e-13)
    for name in a.ranef():
        pd.testing.assert_frame_equal(a.ranef()[name], b.ranef()[name], rtol=1e-10)
    pd.testing.assert_series_equal(a.fittedvalues, b.fittedvalues, rtol=1e-10)


def test_gaussian_stages_equal_mix(data):
    design, objective, optimum, variance = _stages(FORMULA, data, None)
    assert isinstance(objective, MixObjective) and objective.gaussian
    settings = FitSettings(FORMULA, weighted=True, weight_spec=("w1", "w2"))
    result = make_result(design, settings, optimum, variance)
    fit = quiet_mix(FORMULA, data, ["w1", "w2"])
    assert fit.settings == settings
    _assert_same(result, fit)
    assert result.sigma2 == pytest.approx(fit.sigma2, rel=1e-12)


def test_binomial_stages_equal_mix(data):
    family = get_family("binomial")
    design, objective, optimum, variance = _stages(BINARY, data, family, n_quad=5)
    assert not objective.gaussian and objective.n_quad == 5
    settings = FitSettings(
        BINARY,
        family="binomial",
        link="logit",
        n_quad=5,
        weighted=True,
        weight_spec=("w1", "w2"),
        family_object=family,
    )
    result = make_result(design, settings, optimum, variance)
    fit = quiet_mix(BINARY, data, ["w1", "w2"], family="binomial", n_quad=5)
    assert fit.settings == settings
    _assert_same(result, fit)
    assert np.isnan(result.sigma2) and "Residual" not in set(result.var_components["group"])


def test_stage_outputs_are_typed_and_frozen(data):
    _, _, optimum, variance = _stages(FORMULA, data, None)
    assert isinstance(optimum, Optimum) and isinstance(optimum, OptimizationRecord)
    assert isinstance(variance, VarianceEstimate)
    for record, field in ((optimum, "llf"), (variance, "n_clusters")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, field, 0)
    assert variance.n_clusters == 25
    assert variance.components_robust.shape == (2, 2)  # var(Intercept|g), residual


def test_make_result_refuses_untyped_parts(data):
    design, _, optimum, variance = _stages(FORMULA, data, None)
    settings = FitSettings(FORMULA)
    with pytest.raises(TypeError, match="settings must be of type FitSettings"):
        make_result(design, {"family": "gaussian"}, optimum, variance)
    with pytest.raises(TypeError, match="optimum must be of type Optimum"):
        make_result(design, settings, dataclasses.asdict(optimum), variance)
    with pytest.raises(TypeError, match="variance must be of type VarianceEstimate"):
        make_result(design, settings, optimum, None)
    assert isinstance(make_result(design, settings, optimum, variance), MixResult)


@pytest.mark.parametrize("family", [None, "binomial"])
def test_non_convergence_warning_gives_the_stop_reason(data, family):
    fam = get_family(family) if family else None
    formula = BINARY if fam else FORMULA
    design = build_design(formula, data, family=fam)
    objective = make_objective(design, fam, n_quad=5)
    with pytest.warns(pywemix.ConvergenceWarning) as caught:
        optimum = optimize(objective, max_iter=1)
    assert not optimum.converged
    texts = [str(w.message) for w in caught if issubclass(w.category, pywemix.ConvergenceWarning)]
    assert any(optimum.message in t for t in texts), (optimum.message, texts)


def test_result_accessors_are_the_stage_outputs(data):
    fit = quiet_mix(FORMULA, data, ["w1", "w2"])
    assert isinstance(fit.optimization, Optimum)
    assert isinstance(fit.variance_estimate, VarianceEstimate)
    assert fit.design.n_obs == fit.nobs
    covs = fit.random_effects_covariances
    assert covs[0][0, 0] == pytest.approx(fit.var_components["variance"].iloc[0], rel=1e-12)
    with pytest.raises(ValueError):
        covs[0][0, 0] = 1.0  # read-only
    assert fit.objective.gaussian and fit.objective.design is fit.design
    with pytest.raises(AttributeError, match="immutable"):
        fit.settings = None
