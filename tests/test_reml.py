"""REML fits against lme4's ``lmer(REML = TRUE)`` (tests/data/lme4_extra.json).

The reference values were made by tests/data/make_lme4_extra.R; the data are
the outside reference files sleepstudy.csv and pastes.csv.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import needs_reference, reference_data, rel
from conftest import quiet_mix as _mix

pytestmark = needs_reference

LME4 = json.loads((Path(__file__).parent / "data" / "lme4_extra.json").read_text())

CASES = {
    "sleep_ri_reml": ("Reaction ~ Days + (1|Subject)", "sleepstudy.csv"),
    "sleep_slope_reml": ("Reaction ~ Days + (Days|Subject)", "sleepstudy.csv"),
    "pastes_reml": ("strength ~ 1 + (1|sample) + (1|batch)", "pastes.csv"),
}


@pytest.fixture(scope="module")
def sleep():
    return reference_data("sleepstudy.csv")


@pytest.fixture(scope="module", params=sorted(CASES))
def reml_case(request):
    formula, file = CASES[request.param]
    return LME4[request.param], _mix(formula, reference_data(file), reml=True)


def _key(group, var1, var2):
    def clean(v):
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)

    return (str(group), clean(var1) if group != "Residual" else None, clean(var2))


def test_reml_criterion_matches_lme4(reml_case):
    ref, r = reml_case
    assert r.criterion == "REML"
    assert r.converged
    # lme4's REML criterion is -2 * restricted log-likelihood
    assert rel(-2 * r.llf, ref["reml_criterion"]) < 1e-6
    assert rel(r.llf, ref["llf"]) < 1e-6
    # a maximum at least as high as lme4's (up to rounding)
    assert -2 * r.llf <= ref["reml_criterion"] * (1 + 1e-10)


def test_reml_fixed_effects_match_lme4(reml_case):
    ref, r = reml_case
    assert set(r.params.index) == set(ref["params"])
    for name, value in ref["params"].items():
        assert rel(r.params[name], value) < 1e-4, name


def test_reml_variances_match_lme4(reml_case):
    ref, r = reml_case
    ours = {
        _key(row["group"], row["var1"], row["var2"]): row["variance"]
        for _, row in r.var_components.iterrows()
    }
    theirs = {_key(v["group"], v["var1"], v["var2"]): v["variance"] for v in ref["var_components"]}
    assert set(ours) == set(theirs)
    for k, v in theirs.items():
        # lme4 stops its optimiser (bobyqa) a little short of the maximum on the
        # correlated-slope model (our criterion is the lower one); its variances
        # are still within 2e-5 relative of ours
        assert rel(ours[k], v) < 1e-4, k


def test_reml_sigma2_is_residual_row(reml_case):
    _, r = reml_case
    vc = r.var_components
    assert np.isclose(vc.loc[vc["group"] == "Residual", "variance"].iloc[0], r.sigma2)


def test_reml_summary_and_criterion(sleep):
    r = _mix("Reaction ~ Days + (1|Subject)", sleep, reml=True)
    ml = _mix("Reaction ~ Days + (1|Subject)", sleep)
    assert r.criterion == "REML"
    assert ml.criterion == "ML"
    text = str(r.summary())
    crit_line = [ln for ln in text.splitlines() if ln.startswith("Criterion")]
    assert crit_line and "REML" in crit_line[0]
    crit_ml = [ln for ln in str(ml.summary()).splitlines() if ln.startswith("Criterion")]
    assert crit_ml and "REML" not in crit_ml[0] and "ML" in crit_ml[0]
    # the restricted likelihood is a different criterion from the ML one
    assert r.llf != pytest.approx(ml.llf, rel=1e-6)


def test_reml_with_non_unit_weights_is_an_error(sleep):
    with pytest.raises(ValueError, match="maximum likelihood"):
        _mix("Reaction ~ Days + (1|Subject)", sleep, weights=["W1", "W2"], reml=True)
    with pytest.raises(ValueError, match="reml=False"):
        _mix(
            "Reaction ~ Days + (1|Subject)",
            sleep,
            weights=["W1", "W2"],
            cond_weights=True,
            reml=True,
        )


def test_reml_with_unit_weight_columns_equals_unweighted(sleep):
    a = _mix("Reaction ~ Days + (1|Subject)", sleep, reml=True)
    b = _mix("Reaction ~ Days + (1|Subject)", sleep, weights=["one1", "one2"], reml=True)
    assert b.criterion == "REML" and not b.weighted
    assert b.llf == pytest.approx(a.llf, rel=1e-12)
    np.testing.assert_allclose(b.params, a.params, rtol=1e-10)


def test_reml_binomial_is_an_error(sleep):
    with pytest.raises(ValueError, match="gaussian"):
        _mix("bin ~ Days + (1|Subject)", sleep, family="binomial", reml=True)


@pytest.mark.parametrize(
    "formula", ["Reaction ~ Days + (1|Subject)", "Reaction ~ Days + (Days|Subject)"]
)
def test_ml_and_reml_fixed_effects_agree_when_balanced(sleep, formula):
    # sleepstudy is balanced (every subject has Days 0..9), so the GLS estimate
    # of beta is OLS whatever the covariance: ML and REML give the same beta
    ml = _mix(formula, sleep)
    reml = _mix(formula, sleep, reml=True)
    np.testing.assert_allclose(reml.params, ml.params, rtol=1e-8)
    # but REML's group-level variances are larger (degrees-of-freedom
    # correction); the residual variance is no smaller (with a random slope on
    # Days the effects span the fixed columns and both criteria give the same
    # residual variance, so only "no smaller" can be asked, to rounding)
    vml, vreml = ml.var_components, reml.var_components
    is_var = (vml["level"] == 2) & vml["var2"].isna()
    assert np.all(vreml.loc[is_var, "variance"].to_numpy() > vml.loc[is_var, "variance"].to_numpy())
    assert reml.sigma2 >= ml.sigma2 * (1 - 1e-9)
