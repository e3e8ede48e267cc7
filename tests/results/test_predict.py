"""Predictions (pywemix.results.predict and MixResult.predict), as lme4's
``predict.merMod``: fixed part plus the conditional modes of known groups
(``re.form = NULL``), the fixed part only (``re.form = NA``), and new groups
with effects of zero (``allow.new.levels = TRUE``).

The fixed part is rebuilt here by hand from the data (intercept, numeric
column, treatment dummies with the first category as reference), and the
random part from ``ranef()``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from conftest import needs_reference, reference_data
from conftest import quiet_mix as _mix

pytestmark = needs_reference

FORMULA = "pv1math ~ escs + st04q01 + st29c + hi + (1 + escs|schoolid)"
ST29_ORDER = ["Strongly disagree", "Agree", "Strongly agree", "Disagree"]  # not sorted


@pytest.fixture(scope="module")
def data():
    """pisa_s1 complete rows, with a string (st04q01), a Categorical in a
    non-sorted order (st29c) and a bool (hi) predictor."""
    d = reference_data("pisa_s1.csv").dropna(subset=["escs"]).reset_index(drop=True)
    d["st29c"] = pd.Categorical(d["st29q03"], categories=ST29_ORDER)
    d["hi"] = d["escs"] > 0.5
    d.index = pd.Index([f"r{i}" for i in range(len(d))])  # a non-default index
    return d


@pytest.fixture(scope="module")
def res(data):
    return _mix(FORMULA, data, ["pwt1", "pwt2"], cond_weights=True)


def fixed_by_hand(d: pd.DataFrame, params: pd.Series) -> np.ndarray:
    """X beta with X built from the columns (references: Female, the first
    category of st29c, False)."""
    cols = {
        "Intercept": np.ones(len(d)),
        "escs": d["escs"].to_numpy(float),
        "st04q01[T.Male]": (d["st04q01"].astype(str) == "Male").to_numpy(float),
        "hi[T.True]": d["hi"].to_numpy(float),
    }
    for level in ST29_ORDER[1:]:
        cols[f"st29c[T.{level}]"] = (d["st29c"].astype(str) == level).to_numpy(float)
    assert set(cols) == set(params.index)
    return sum(cols[name] * params[name] for name in params.index)


def random_by_hand(d: pd.DataFrame, res) -> np.ndarray:
    u = res.ranef()["schoolid"].loc[d["schoolid"].to_numpy()]
    return u["Intercept"].to_numpy() + d["escs"].to_numpy() * u["escs"].to_numpy()


def assert_close(a, b):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-12, atol=1e-9)


# -- the fitted rows -----------------------------------------------------------


def test_predict_without_newdata_is_fitted(res, data):
    p = res.predict()
    assert p.index.equals(res.fittedvalues.index)
    assert_close(p, res.fittedvalues)
    assert p.index.equals(data.index)


def test_predict_on_the_fitting_data_is_fitted(res, data):
    p = res.predict(newdata=data)
    assert isinstance(p, pd.Series)
    assert p.index.equals(data.index)
    assert_close(p, res.fittedvalues.loc[data.index])


def test_fitted_is_fixed_plus_random_by_hand(res, data):
    by_hand = fixed_by_hand(data, res.params) + random_by_hand(data, res)
    assert_close(res.fittedvalues.loc[data.index], by_hand)
    assert_close(res.predict(newdata=data), by_hand)


def test_shuffled_rows(res, data):
    shuffled = data.sample(frac=1, random_state=5)
    p = res.predict(newdata=shuffled)
    assert p.index.equals(shuffled.index)
    assert_close(p, res.fittedvalues.loc[shuffled.index])


@pytest.mark.parametrize("subset", ["males", "one_st29_level", "hi_false", "one_row"])
def test_subsets_missing_some_levels(res, data, subset):
    """Rows that show only some levels of the categorical predictors keep the
    fit's coding."""
    rows = {
        "males": data["st04q01"] == "Male",
        "one_st29_level": data["st29c"] == "Strongly agree",
        "hi_false": ~data["hi"],
        "one_row": data.index == data.index[17],
    }[subset]
    sub = data[rows]
    assert_close(res.predict(newdata=sub), res.fittedvalues.loc[sub.index])


def test_categoricals_given_in_other_forms(res, data):
    """A string column given as a Categorical (other order), a Categorical
    given as strings, a bool given as a Categorical: same predictions."""
    new = data.copy()
    new["st04q01"] = pd.Categorical(new["st04q01"], categories=["Male", "Female"])
    new["st29c"] = new["st29c"].astype(str)
    new["hi"] = pd.Categorical(new["hi"], categories=[True, False])
    assert_close(res.predict(newdata=new), res.fittedvalues.loc[data.index])


def test_fixed_part_only(res, data):
    p = res.predict(newdata=data, include_random=False)
    assert_close(p, fixed_by_hand(data, res.params))
    # the grouping column is not needed for it
    p2 = res.predict(newdata=data.drop(columns=["schoolid"]), include_random=False)
    assert_close(p2, p)


def test_fixed_part_only_needs_newdata(res):
    with pytest.raises(ValueError):
        res.predict(include_random=False)


def test_bad_type(res, data):
    with pytest.raises(ValueError, match="type"):
        res.predict(newdata=data, type="mean")


# -- new groups and bad newdata -------------------------------------------------


def test_new_groups_need_allow_new_levels(res, data):
    new = data.head(30).copy()
    new["schoolid"] = new["schoolid"] + 100_000
    with pytest.raises(ValueError, match="allow_new_levels"):
        res.predict(newdata=new)
    p = res.predict(newdata=new, allow_new_levels=True)
    assert_close(p, fixed_by_hand(new, res.params))


def test_mixed_known_and_new_groups(res, data):
    new = data.head(40).copy()
    is_new = np.arange(len(new)) % 2 == 1
    new.loc[is_new, "schoolid"] = -1
    p = res.predict(newdata=new, allow_new_levels=True)
    fixed = fixed_by_hand(new, res.params)
    assert_close(p[is_new], fixed[is_new])
    assert_close(p[~is_new], res.fittedvalues.loc[new.index[~is_new]])


@pytest.mark.parametrize("column, value", [("st29c", "Unknown"), ("st04q01", "Other")])
def test_new_level_of_a_categorical_predictor(res, data, column, value):
    new = data.head(10).copy()
    new[column] = new[column].astype(str)
    new.iloc[3, new.columns.get_loc(column)] = value
    with pytest.raises(ValueError, match=column):
        res.predict(newdata=new)
    with pytest.raises(ValueError, match=column):
        res.predict(newdata=new, include_random=False)


@pytest.mark.parametrize("column", ["escs", "st29c", "hi", "schoolid"])
def test_missing_column(res, data, column):
    with pytest.raises(ValueError, match=column):
        res.predict(newdata=data.drop(columns=[column]))


def test_response_not_needed(res, data):
    new = data.drop(columns=["pv1math"])
    assert_close(res.predict(newdata=new), res.fittedvalues.loc[data.index])


# -- binomial ------------------------------------------------------------------


@pytest.fixture(scope="module")
def binomial(data):
    return _mix(
        "highmath ~ escs + st04q01 + (1|schoolid)",
        data,
        ["pwt1", "pwt2"],
        cond_weights=True,
        family="binomial",
    )


def test_binomial_response_is_expit_of_link(binomial, data):
    link = binomial.predict(newdata=data, type="link")
    response = binomial.predict(newdata=data, type="response")
    assert_close(response, expit(link))
    assert np.all((response > 0) & (response < 1))
    assert_close(binomial.predict(type="response"), expit(binomial.predict(type="link")))
    assert_close(binomial.predict(), binomial.fittedvalues)
    assert_close(response, binomial.fittedvalues.loc[data.index])


def test_binomial_link_by_hand(binomial, data):
    b = binomial.params
    u = binomial.ranef()["schoolid"].loc[data["schoolid"].to_numpy(), "Intercept"].to_numpy()
    fixed = (
        b["Intercept"]
        + b["escs"] * data["escs"].to_numpy()
        + b["st04q01[T.Male]"] * (data["st04q01"] == "Male").to_numpy()
    )
    assert_close(binomial.predict(newdata=data, type="link"), fixed + u)
    assert_close(binomial.predict(newdata=data, type="link", include_random=False), fixed)
    assert_close(binomial.predict(newdata=data, include_random=False), expit(fixed))


# -- three levels --------------------------------------------------------------


@pytest.fixture(scope="module")
def three():
    t = reference_data("three_s1.csv")
    # school numbers that repeat across districts, for the a/b form
    t["sch"] = t.groupby("district")["school"].rank(method="dense").astype(int)
    return t


@pytest.fixture(scope="module")
def three_fits(three):
    w = ["w1", "w2", "w3"]
    return {
        "separate": _mix("y ~ x + (1|school) + (1|district)", three, w, cond_weights=True),
        "nested": _mix("y ~ x + (1|district/sch)", three, w, cond_weights=True),
    }


def three_by_hand(res, t, school_factor, school_keys):
    b = res.params
    re = res.ranef()
    u_school = re[school_factor].loc[school_keys, "Intercept"].to_numpy()
    u_district = re["district"].loc[t["district"].to_numpy(), "Intercept"].to_numpy()
    fixed = b["Intercept"] + b["x"] * t["x"].to_numpy()
    return fixed, u_school, u_district


def test_three_levels_add_both_effects(three_fits, three):
    res = three_fits["separate"]
    fixed, u_s, u_d = three_by_hand(res, three, "school", three["school"].to_numpy())
    assert np.all(u_s != 0) and np.all(u_d != 0)
    assert_close(res.predict(newdata=three), fixed + u_s + u_d)
    assert_close(res.fittedvalues, fixed + u_s + u_d)
    assert_close(res.predict(newdata=three, include_random=False), fixed)


def test_three_levels_nested_form(three_fits, three):
    res = three_fits["nested"]
    keys = (three["sch"].astype(str) + ":" + three["district"].astype(str)).to_numpy()
    fixed, u_s, u_d = three_by_hand(res, three, "sch:district", keys)
    assert_close(res.predict(newdata=three), fixed + u_s + u_d)
    assert_close(res.fittedvalues, fixed + u_s + u_d)
    shuffled = three.sample(frac=1, random_state=2)
    assert_close(res.predict(newdata=shuffled), res.fittedvalues.loc[shuffled.index])


def test_three_levels_new_school_in_known_district(three_fits, three):
    res = three_fits["separate"]
    new = three.head(12).copy()
    new["school"] = 10_000
    with pytest.raises(ValueError, match="allow_new_levels"):
        res.predict(newdata=new)
    p = res.predict(newdata=new, allow_new_levels=True)
    b = res.params
    u_d = res.ranef()["district"].loc[new["district"].to_numpy(), "Intercept"].to_numpy()
    assert_close(p, b["Intercept"] + b["x"] * new["x"].to_numpy() + u_d)


def test_rows_with_missing_predictors_give_nan(res, data):
    """As R's ``predict(..., na.action = na.pass)``: NaN for those rows only."""
    nd = data.sample(frac=1.0, random_state=3).head(40).copy()
    nd.iloc[[2, 7], nd.columns.get_loc("escs")] = np.nan
    nd["schoolid"] = nd["schoolid"].astype(float)
    nd.iloc[11, nd.columns.get_loc("schoolid")] = np.nan
    got = res.predict(nd)
    assert got.index.equals(nd.index)
    bad = np.zeros(len(nd), dtype=bool)
    bad[[2, 7, 11]] = True
    assert np.all(np.isnan(got.to_numpy()[bad]))
    ok = nd.loc[~bad]
    assert_close(got.to_numpy()[~bad], res.predict(ok).to_numpy())
    assert_close(got.to_numpy()[~bad], res.fittedvalues.loc[ok.index].to_numpy())


def test_newdata_as_a_dict(res, data):
    rows = data.head(6)
    got = res.predict({c: rows[c].tolist() for c in rows.columns})
    assert_close(got.to_numpy(), res.predict(rows).to_numpy())


def test_nested_form_with_float_ids_finds_known_groups(three_fits, three):
    """Ids turned into floats (as after a merge with missing values) are the same groups."""
    res = three_fits["nested"]
    floats = three.assign(sch=three["sch"].astype(float), district=three["district"].astype(float))
    assert_close(res.predict(newdata=floats), res.fittedvalues)
    strings = three.assign(sch=three["sch"].astype(str))
    assert_close(res.predict(newdata=strings), res.fittedvalues)


@pytest.mark.parametrize(
    "centering",
    [
        dict(center_group={"schoolid": ["escs"]}),
        dict(center_grand=["escs"]),
        dict(center_group={"schoolid": ["escs"]}, center_grand=["escs"]),
    ],
)
def test_predict_applies_the_fitted_centering(data, centering):
    res = _mix(
        "pv1math ~ escs + st04q01 + (1|schoolid)",
        data,
        ["pwt1", "pwt2"],
        cond_weights=True,
        **centering,
    )
    assert_close(res.predict(newdata=data), res.fittedvalues)
    # a subset of rows uses the fit's means, not the subset's
    part = data.sample(n=60, random_state=4)
    assert_close(res.predict(newdata=part), res.fittedvalues.loc[part.index])


def test_predict_centering_new_group_uses_its_own_rows(data):
    res = _mix(
        "pv1math ~ escs + (1|schoolid)",
        data,
        ["pwt1", "pwt2"],
        cond_weights=True,
        center_group={"schoolid": ["escs"]},
    )
    new = pd.DataFrame({"schoolid": [-1, -1, -1], "escs": [0.0, 1.0, 2.0]})
    p = res.predict(newdata=new, allow_new_levels=True)
    b = res.params
    assert_close(p, b["Intercept"] + b["escs"] * np.array([-1.0, 0.0, 1.0]))


def test_unseen_level_of_a_c_factor_is_an_error():
    s = reference_data("sleepstudy.csv")
    res = _mix("Reaction ~ C(Days) + (1|Subject)", s)
    with pytest.raises(ValueError, match="not seen"):
        res.predict(newdata=s.head(2).assign(Days=42))
    assert_close(res.predict(newdata=s.head(5)), res.fittedvalues.head(5))


@pytest.mark.parametrize("arg", ["include_random", "allow_new_levels"])
def test_flags_must_be_bool(res, data, arg):
    with pytest.raises(TypeError, match=arg):
        res.predict(data.head(3), **{arg: "no"})
