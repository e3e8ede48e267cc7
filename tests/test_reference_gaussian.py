"""Gaussian fits against WeMix and lme4 output in tests/reference.

Tolerances are those of tests/reference/README.md.
"""

from __future__ import annotations

import pytest

from conftest import case, needs_reference, our_name, rel

pytestmark = needs_reference

GAUSSIAN = [
    "sleep_ri_unweighted",
    "sleep_ri_slope_uncorrelated",
    "sleep_ri_slope_correlated",
    "sleep_ri_l1weights",
    "pastes_three_level_unweighted",
    "pisa_s1_ri",
    "pisa_s1_ri_slope",
    "three_s1_weighted",
    "pisa_s1_pv1",
    "pisa_s1_pv2",
    "pisa_s1_pv3",
    "pisa_s1_pv4",
    "pisa_s1_pv5",
]


def _match_var(res, row):
    vc = res.var_components
    if row["level"] == 1:
        sel = vc[vc["level"] == 1]
    else:
        sel = vc[
            (vc["level"] == row["level"])
            & (vc["var1"] == row["var1"])
            & ((vc["var2"] == row["var2"]) if row["var2"] else vc["var2"].isna())
        ]
        assert (sel["group"] == row["group"]).all()
    assert len(sel) == 1, row
    return sel.iloc[0]


@pytest.mark.parametrize("name", GAUSSIAN)
def test_llf(name, reference_fit):
    exp, res = reference_fit(name)
    # no lower than the reference by more than 1e-7 relative
    assert res.llf >= exp["llf"] - 1e-7 * abs(exp["llf"])
    assert res.converged


@pytest.mark.parametrize("name", GAUSSIAN)
def test_fixed_effects_and_robust_se(name, reference_fit):
    exp, res = reference_fit(name)
    names = list(res.params.index)
    assert len(names) == len(exp["params"])
    for k, v in exp["params"].items():
        assert rel(res.params[our_name(k, names)], v) < 1e-4, k
    for k, v in exp["bse"].items():
        assert rel(res.bse[our_name(k, names)], v) < 5e-3, k


@pytest.mark.parametrize("name", GAUSSIAN)
def test_variance_components(name, reference_fit):
    exp, res = reference_fit(name)
    assert len(res.var_components) == len(exp["var_components"])
    largest = max(abs(r["variance"]) for r in exp["var_components"])
    for row in exp["var_components"]:
        ours = _match_var(res, row)
        both_tiny = abs(ours["variance"]) < 1e-6 * largest and abs(row["variance"]) < 1e-6 * largest
        assert both_tiny or rel(ours["variance"], row["variance"]) < 1e-3, row
        if row["std_error"] is not None:
            assert rel(ours["std_error"], row["std_error"]) < 2e-2, row
    assert rel(res.icc, exp["icc"]) < 1e-3


@pytest.mark.parametrize(
    "name",
    [n for n in GAUSSIAN if "lme4_ml" in case(n)[0]]
    if __import__("conftest").reference_available()
    else [],
)
def test_unit_weights_equal_lme4_ml(name, reference_fit):
    exp, res = reference_fit(name)
    lme4 = exp["lme4_ml"]
    assert res.llf >= lme4["llf"] - 1e-7 * abs(lme4["llf"])
    assert abs(res.llf - lme4["llf"]) < 1e-6 * abs(lme4["llf"])
    for k, v in lme4["params"].items():
        assert rel(res.params[our_name(k, list(res.params.index))], v) < 1e-4
