"""``tidy()``, ``compare()`` and standard-deviation-scale intervals of the
variance components."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import pywemix

from conftest import needs_reference, reference_data
from conftest import quiet_mix as _mix

pytestmark = needs_reference

TIDY_COLUMNS = {
    "term",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "conf_low",
    "conf_high",
    "kind",
}
Z975 = stats.norm.ppf(0.975)


@pytest.fixture(scope="module")
def sleep():
    return reference_data("sleepstudy.csv")


@pytest.fixture(scope="module")
def ri(sleep):
    return _mix("Reaction ~ Days + (1|Subject)", sleep)


@pytest.fixture(scope="module")
def slope(sleep):
    return _mix("Reaction ~ Days + (Days|Subject)", sleep, weights=["W1", "W2"])


@pytest.fixture(scope="module")
def three():
    return _mix("strength ~ 1 + (1|sample) + (1|batch)", reference_data("pastes.csv"))


# -- tidy --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ri", "slope", "three"])
def test_tidy_one_row_per_parameter(request, name):
    r = request.getfixturevalue(name)
    t = r.tidy()
    assert set(t.columns) == TIDY_COLUMNS
    assert len(t) == len(r.params) + len(r.var_components)
    assert t["term"].is_unique
    fixed, var = t[t["kind"] == "fixed"], t[t["kind"] == "variance"]
    assert set(t["kind"]) == {"fixed", "variance"}
    assert list(fixed["term"]) == list(r.params.index)
    np.testing.assert_allclose(fixed["estimate"], r.params, rtol=1e-12)
    np.testing.assert_allclose(fixed["std_error"], r.bse, rtol=1e-12)
    np.testing.assert_allclose(fixed["statistic"], r.tvalues, rtol=1e-12)
    np.testing.assert_allclose(fixed["p_value"], r.pvalues, rtol=1e-10)
    np.testing.assert_allclose(var["estimate"], r.var_components["variance"], rtol=1e-12)
    np.testing.assert_allclose(var["std_error"], r.var_components["std_error"], rtol=1e-6)
    assert "var(Residual)" in set(var["term"])
    ok = t["std_error"].notna()
    low = t.loc[ok, "estimate"] - Z975 * t.loc[ok, "std_error"]
    is_var = t.loc[ok, "term"].str.startswith("var(")  # a variance's limit is >= 0
    np.testing.assert_allclose(t.loc[ok, "conf_low"], np.where(is_var, low.clip(lower=0), low))
    np.testing.assert_allclose(
        t.loc[ok, "conf_high"], t.loc[ok, "estimate"] + Z975 * t.loc[ok, "std_error"]
    )


def test_tidy_terms_of_correlated_slope(slope):
    terms = list(slope.tidy()["term"])
    assert terms == [
        "Intercept",
        "Days",
        "var(Intercept|Subject)",
        "var(Days|Subject)",
        "cov(Intercept,Days|Subject)",
        "var(Residual)",
    ]


def test_tidy_model_kind_and_alpha(ri):
    t = ri.tidy(kind="model", alpha=0.1)
    fixed = t[t["kind"] == "fixed"]
    np.testing.assert_allclose(fixed["std_error"], ri.std_errors("model"), rtol=1e-12)
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(
        fixed["conf_high"] - fixed["estimate"], z * fixed["std_error"], rtol=1e-10
    )


# -- compare -----------------------------------------------------------------


def test_compare_layout(ri, slope, three):
    table = pywemix.compare(ri, slope, three, names=["RI", "slope", "pastes"])
    assert isinstance(table.columns, pd.MultiIndex)
    assert list(table.columns) == [
        (n, c) for n in ("RI", "slope", "pastes") for c in ("estimate", "std_error")
    ]
    # every term of every model, once
    terms = [t for r in (ri, slope, three) for t in r.tidy()["term"]]
    body = table.iloc[:-3]
    assert set(body.index) == set(terms) and body.index.is_unique
    # fixed effects before variance components
    kinds = ["variance" if i.startswith(("var(", "cov(")) else "fixed" for i in body.index]
    assert kinds == sorted(kinds)
    # values are each model's own
    for name, r in (("RI", ri), ("slope", slope), ("pastes", three)):
        t = r.tidy().set_index("term")
        np.testing.assert_allclose(table.loc[t.index, (name, "estimate")], t["estimate"])
        np.testing.assert_allclose(table.loc[t.index, (name, "std_error")], t["std_error"])
    # NaN where a model lacks a term
    assert np.isnan(table.loc["Days", ("pastes", "estimate")])
    assert np.isnan(table.loc["Days", ("pastes", "std_error")])
    assert np.isnan(table.loc["var(Days|Subject)", ("RI", "estimate")])
    assert np.isnan(table.loc["var(Intercept|batch)", ("slope", "estimate")])
    # footer rows
    assert {"nobs", "llf"} <= set(table.index[-3:])
    for name, r in (("RI", ri), ("slope", slope), ("pastes", three)):
        assert table.loc["nobs", (name, "estimate")] == r.nobs
        assert table.loc["llf", (name, "estimate")] == pytest.approx(r.llf)
        assert np.isnan(table.loc["llf", (name, "std_error")])


def test_compare_default_names_and_list(ri, slope):
    a = pywemix.compare(ri, slope)
    assert list(a.columns.get_level_values(0).unique()) == ["(1)", "(2)"]
    pd.testing.assert_frame_equal(a, pywemix.compare([ri, slope]))


def test_compare_model_standard_errors(ri):
    table = pywemix.compare(ri, kind="model")
    np.testing.assert_allclose(
        table.loc[list(ri.params.index), ("(1)", "std_error")], ri.std_errors("model"), rtol=1e-12
    )


def test_compare_bad_input(ri, slope):
    with pytest.raises(ValueError):
        pywemix.compare()
    with pytest.raises(TypeError):
        pywemix.compare(ri, "not a model")
    with pytest.raises(TypeError):
        pywemix.compare(ri, ri.params)
    with pytest.raises(ValueError, match="names"):
        pywemix.compare(ri, slope, names=["only one"])
    with pytest.raises(ValueError, match="names"):
        pywemix.compare(ri, slope, names=["a", "b", "c"])
    with pytest.raises(ValueError):
        pywemix.compare(ri, slope, names=["same", "same"])


# -- display: fixed notation (issue 15) --------------------------------------


@pytest.fixture(scope="module")
def pisa_weighted():
    """The bundled example with its survey weights: a pseudo-log-likelihood of
    the order of -1e7 next to estimates of the order of 1 to 1e3."""
    from importlib import resources

    with resources.as_file(resources.files("pywemix") / "data" / "pisa_example.csv") as p:
        data = pd.read_csv(p)
    return (
        _mix("pv1math ~ escs + st04q01 + (1|schoolid)", data, ["pwt1", "pwt2"], cond_weights=True),
        _mix("pv1math ~ escs + (1|schoolid)", data, ["pwt1", "pwt2"], cond_weights=True),
    )


def test_compare_prints_in_fixed_notation(pisa_weighted):
    big, small = pisa_weighted
    assert abs(big.llf) > 1e6
    table = pywemix.compare(big, small, names=["big", "small"])
    assert isinstance(table, pd.DataFrame)
    for shown in (repr(table), str(table), table._repr_html_()):
        assert not re.search(r"\d[eE][+-]\d", shown), shown  # no scientific notation
        for r in (big, small):
            assert f"{r.llf:.2f}" in shown
    lines = {line.split()[0]: line.split()[1:] for line in repr(table).splitlines()[2:]}
    assert lines["nobs"] == [str(big.nobs), str(small.nobs)]
    assert lines["top-level"] == ["groups"] + [
        str(r.groups["n_units"].iloc[-1]) for r in (big, small)
    ]
    # a row's cells share their number of decimals; the values round to the table's
    f = table.formatted()
    for term in big.params.index:
        cells = [c for c in f.loc[term] if c]
        decimals = {len(c.split(".")[1]) for c in cells}
        assert len(decimals) == 1 and 2 <= min(decimals) <= 6, cells
        np.testing.assert_allclose(
            [float(c) for c in f.loc[term, "big"]],
            table.loc[term, "big"],
            rtol=0,
            atol=0.5 * 10.0 ** -min(decimals) * (1 + 1e-9),
        )
    assert f.loc["escs", ("small", "std_error")] != ""
    assert f.loc["st04q01[T.Male]", ("small", "estimate")] == ""  # missing term: blank
    # the numbers themselves are untouched
    np.testing.assert_allclose(table.loc["llf", ("big", "estimate")], big.llf, rtol=0)
    assert type(table.iloc[:2]) is pd.DataFrame


# -- conf_int on the standard-deviation scale --------------------------------


@pytest.mark.parametrize("name", ["ri", "slope", "three"])
def test_conf_int_variance_sd_scale(request, name):
    r = request.getfixturevalue(name)
    ci = r.conf_int(which="variance")
    vc = r.var_components
    t = r.tidy().set_index("term")
    assert len(ci) == len(vc)
    for label, (lo, hi) in ci.iterrows():
        if label.startswith("sd("):
            var_label = "var(" + label[3:]
            var, se_var = t.loc[var_label, "estimate"], t.loc[var_label, "std_error"]
            sd = np.sqrt(var)
            assert 0 <= lo < sd < hi, label
            # the variance's Wald interval (truncated at 0), square-rooted
            assert lo == pytest.approx(np.sqrt(max(var - Z975 * se_var, 0)), rel=1e-10)
            assert hi == pytest.approx(np.sqrt(var + Z975 * se_var), rel=1e-10)
        else:
            assert label.startswith("cov(")
            assert lo == pytest.approx(t.loc[label, "conf_low"], rel=1e-10)
            assert hi == pytest.approx(t.loc[label, "conf_high"], rel=1e-10)
    assert "sd(Residual)" in ci.index
    assert ci.loc["sd(Residual)"].iloc[0] < np.sqrt(r.sigma2) < ci.loc["sd(Residual)"].iloc[1]


def test_conf_int_all_stacks_fixed_and_variance(slope):
    both = slope.conf_int(which="all", alpha=0.1)
    fixed = slope.conf_int(alpha=0.1)
    var = slope.conf_int(which="variance", alpha=0.1)
    pd.testing.assert_frame_equal(both, pd.concat([fixed, var]))
    assert list(both.columns) == ["5 %", "95 %"]
    with pytest.raises(ValueError):
        slope.conf_int(which="sd")
