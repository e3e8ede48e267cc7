"""Bad input gets a clear error naming the culprit; data problems that can be
repaired (missing values, zero weights) are repaired with a warning that says
what was done; results cannot be changed after the fit.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix import BoundaryWarning, DataWarning, FewGroupsWarning, PywemixWarning

from conftest import quiet_mix as quiet_fit

RI = "y ~ x + cat + (1 | school)"


# ---------------------------------------------------------------------------
# simulated data
# ---------------------------------------------------------------------------
def two_level(seed: int = 1, n_groups: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(5, 11, n_groups)
    g = np.repeat(np.arange(n_groups), sizes)
    n = len(g)
    x = rng.normal(size=n)
    cat = rng.choice(np.array(["a", "b"]), n)
    y = 1 + 0.5 * x + 0.3 * (cat == "b") + rng.normal(0, 0.8, n_groups)[g] + rng.normal(size=n)
    w2 = np.round(rng.uniform(1.0, 4.0, n_groups), 3)[g]
    # unconditional weights (survey-file style): a student's weight is at
    # least the school's
    return pd.DataFrame(
        dict(
            y=y,
            x=x,
            cat=cat,
            school=[f"s{k:03d}" for k in g],
            w1=np.round(rng.uniform(1.0, 3.0, n) * w2, 3),
            w2=w2,
        )
    )


def three_level(seed: int = 2, n_districts: int = 22) -> pd.DataFrame:
    """Unique school ids (``school``) and ids numbered within district (``sch``).

    Unconditional weights w1 >= w2 >= w3.
    """
    rng = np.random.default_rng(seed)
    n_sch = rng.integers(3, 6, n_districts)
    district = np.repeat(np.arange(n_districts), n_sch)
    within = np.concatenate([np.arange(k) for k in n_sch])
    S = len(district)
    sizes = rng.integers(4, 9, S)
    school = np.repeat(np.arange(S), sizes)
    n = len(school)
    d_row = district[school]
    w3 = np.round(rng.uniform(1.0, 3.0, n_districts), 3)[d_row]
    w2 = np.round(rng.uniform(1.0, 3.0, S)[school] * w3, 3)
    x = rng.normal(size=n)
    y = (
        1
        + x
        + rng.normal(0, 0.6, n_districts)[d_row]
        + rng.normal(0, 0.6, S)[school]
        + rng.normal(size=n)
    )
    return pd.DataFrame(
        dict(
            y=y,
            x=x,
            school=[f"s{k:03d}" for k in school],
            sch=[f"k{k}" for k in within[school]],
            district=[f"d{k:02d}" for k in d_row],
            w1=np.round(rng.uniform(1.0, 3.0, n) * w2, 3),
            w2=w2,
            w3=w3,
        )
    )


@pytest.fixture
def df():
    return two_level()


@pytest.fixture
def df3():
    return three_level()


# ---------------------------------------------------------------------------
# unknown columns
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "formula,culprit",
    [
        ("y ~ xx + cat + (1 | school)", "xx"),  # fixed part
        ("y ~ x + log(zz) + (1 | school)", "zz"),  # inside a transform
        ("y ~ x + (1 + slope | school)", "slope"),  # random part
        ("y ~ x + (1 | schol)", "schol"),  # grouping factor
        ("y ~ x + (1 | school) + (1 | region)", "region"),  # second grouping factor
        ("y ~ x + (1 | region/school)", "region"),  # nested form
        ("yy ~ x + (1 | school)", "yy"),  # response
    ],
)
def test_unknown_column(df, formula, culprit):
    with pytest.raises(ValueError, match=rf"unknown column.*'{culprit}'"):
        pywemix.mix(formula, df)


def test_unknown_weight_column(df):
    with pytest.raises(ValueError, match=r"unknown weight column.*'pwt2'"):
        pywemix.mix(RI, df, ["w1", "pwt2"])
    with pytest.raises(ValueError, match=r"unknown weight column.*'pwt1'"):
        pywemix.mix(RI, df, ["pwt1", None])


def test_unknown_column_message_lists_the_data_columns(df):
    with pytest.raises(ValueError, match=r"not in the data \(columns are y, x, cat, school"):
        pywemix.mix("y ~ xx + (1 | school)", df)


# ---------------------------------------------------------------------------
# formula syntax
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "formula,message",
    [
        ("y ~ x + (1 | school", r"unbalanced '\('"),
        ("y ~ x + (1 | school))", r"unbalanced '\)'"),
        ("y ~ x + 1 | school)", r"unbalanced '\)'"),
        ("y ~ (x + (1 | school)", r"unbalanced '\('"),
        ("y x + (1 | school)", r"exactly one '~'"),
        ("y = x + (1 | school)", r"exactly one '~'"),
        ("y ~ x ~ (1 | school)", r"exactly one '~'"),
        ("~ x + (1 | school)", r"no response"),
        ("y ~ ", r"nothing on the right"),
        ("y ~ x + (1 | )", r"no grouping factor after '\|'"),
        ("y ~ x + (1 |)", r"no grouping factor after '\|'"),
        ("y ~ x + ( | school)", r"empty effects"),
        ("y ~ x + + * (1 | school)", r"formula syntax error"),
    ],
)
def test_formula_syntax_errors(df, formula, message):
    with pytest.raises(ValueError, match=message):
        pywemix.mix(formula, df)


def test_formula_syntax_error_says_syntax(df):
    for formula in ["y ~ x + (1 | school", "y x + (1 | school)", "y ~ x + (1 | )"]:
        with pytest.raises(ValueError, match="formula syntax error"):
            pywemix.mix(formula, df)


@pytest.mark.parametrize("formula", ["y ~ x + cat", "y ~ 1", "y ~ x + (x + cat)"])
def test_no_random_term(df, formula):
    with pytest.raises(ValueError, match=r"no random term.*\(1 \| school\)"):
        pywemix.mix(formula, df)


@pytest.mark.parametrize("formula", [3, None, ["y ~ x + (1 | school)"]])
def test_formula_not_a_string(df, formula):
    with pytest.raises(TypeError, match="formula must be a string"):
        pywemix.mix(formula, df)


# ---------------------------------------------------------------------------
# the weights argument
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("weights,got", [(["w1"], 1), (["w1", "w2", "w2"], 3), ([], 0)])
def test_wrong_number_of_weights(df, weights, got):
    with pytest.raises(
        ValueError, match=rf"wrong number of weights.*2 levels.*needs 2 entries.*got {got}"
    ):
        pywemix.mix(RI, df, weights)


def test_wrong_number_of_weights_three_levels(df3):
    with pytest.raises(ValueError, match=r"wrong number of weights.*3 levels.*got 2"):
        pywemix.mix("y ~ x + (1 | school) + (1 | district)", df3, ["w1", "w2"])


def test_weights_as_a_single_string(df):
    with pytest.raises(TypeError, match=r"weights must be a list.*string 'w1'.*2 levels"):
        pywemix.mix(RI, df, "w1")


@pytest.mark.parametrize("weights", [[1, "w2"], ["w1", 2.0], [["w1"], "w2"]])
def test_weight_entry_not_a_name(df, weights):
    with pytest.raises(TypeError, match="column name or None"):
        pywemix.mix(RI, df, weights)


def test_non_numeric_weight_column(df):
    with pytest.raises(TypeError, match=r"weight column 'w1' must be numeric"):
        pywemix.mix(RI, df.assign(w1=df["w1"].astype(str)), ["w1", "w2"])


@pytest.mark.parametrize("col", ["w1", "w2"])
def test_negative_weight(df, col):
    bad = df.copy()
    bad.loc[bad["school"] == "s002", col] = -1.5
    with pytest.raises(ValueError, match=rf"weight column '{col}' has \d+ negative"):
        pywemix.mix(RI, bad, ["w1", "w2"])


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_weight(df, value):
    bad = df.copy()
    bad.loc[[4, 9], "w1"] = value
    # -inf is both infinite and negative: either message names the column
    with pytest.raises(ValueError, match=r"weight column 'w1' has 2 (infinite|negative)"):
        pywemix.mix(RI, bad, ["w1", "w2"])


@pytest.mark.parametrize("col", ["w1", "w2"])
def test_missing_weight(df, col):
    bad = df.copy()
    bad.loc[bad["school"] == "s003", col] = np.nan
    n = int((bad["school"] == "s003").sum())
    with pytest.raises(ValueError, match=rf"weight column '{col}' has {n} missing"):
        pywemix.mix(RI, bad, ["w1", "w2"])


def test_missing_weight_on_a_row_dropped_anyway_is_fine(df):
    # the row is dropped for its missing x before the weights are checked
    d = df.copy()
    d.loc[7, ["x", "w1"]] = np.nan
    with pytest.warns(DataWarning, match="dropped 1 of"):
        res = pywemix.mix(RI, d, ["w1", "w2"], weight_scaling="size")
    assert res.nobs == len(d) - 1


def test_level2_weight_varying_within_a_group(df):
    bad = df.copy()
    rows = bad.index[bad["school"] == "s007"]
    bad.loc[rows[0], "w2"] = 99.0
    with pytest.raises(
        ValueError, match=r"weight column 'w2' varies within school s007 .*constant within"
    ):
        pywemix.mix(RI, bad, ["w1", "w2"])
    # the same with conditional weights
    with pytest.raises(ValueError, match=r"varies within school s007"):
        pywemix.mix(RI, bad, ["w1", "w2"], cond_weights=True)


def test_top_weight_varying_within_a_group_three_levels(df3):
    bad = df3.copy()
    bad.loc[bad.index[bad["district"] == "d05"][-1], "w3"] = 50.0
    with pytest.raises(ValueError, match=r"weight column 'w3' varies within district d05"):
        pywemix.mix("y ~ x + (1 | school) + (1 | district)", bad, ["w1", "w2", "w3"])


def test_level2_weight_varying_within_a_group_nested_form(df3):
    bad = df3.copy()
    bad.loc[bad.index[bad["school"] == "s010"][0], "w2"] = 50.0
    sch, dist = bad.loc[bad["school"] == "s010", ["sch", "district"]].iloc[0]
    with pytest.raises(ValueError, match=rf"'w2' varies within sch:district {sch}:{dist}"):
        pywemix.mix("y ~ x + (1 | district/sch)", bad, ["w1", "w2", "w3"])


def test_cond_weights_must_be_bool(df):
    with pytest.raises(TypeError, match="cond_weights must be True or False"):
        pywemix.mix(RI, df, ["w1", "w2"], cond_weights="yes")


def test_reml_with_weights(df):
    with pytest.raises(ValueError, match=r"reml=True needs unit weights"):
        pywemix.mix(RI, df, ["w1", "w2"], reml=True, weight_scaling="size")


# ---------------------------------------------------------------------------
# grouping structure
# ---------------------------------------------------------------------------
def test_crossed_grouping_factors(df):
    d = df.assign(rater=np.random.default_rng(0).choice([f"r{k}" for k in range(25)], len(df)))
    with pytest.raises(ValueError) as info:
        pywemix.mix("y ~ x + (1 | school) + (1 | rater)", d)
    msg = str(info.value)
    assert re.search(r"'school' and 'rater' are crossed, not nested", msg)
    assert re.search(r"school s\d+ occurs in rater r\d+", msg)
    assert "each group lies in exactly one group of the level above" in msg


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ x + (1 | school) + (1 | district)",
        "y ~ x + (1 | district) + (1 | school)",
    ],
)
def test_school_id_reused_in_another_district_suggests_nested_form(df3, formula):
    # one id used by two schools in different districts (a typical data slip)
    d = df3.copy()
    other = d.loc[d["district"] == "d01", "school"].iloc[0]
    d.loc[d["school"] == other, "school"] = "s000"
    with pytest.raises(ValueError) as info:
        pywemix.mix(formula, d)
    msg = str(info.value)
    assert "crossed, not nested" in msg
    assert re.search(r"school s000 occurs in district d00, d01", msg)
    assert "(1 | district/school)" in msg


def test_ids_numbered_within_district_suggest_nested_form(df3):
    with pytest.raises(ValueError) as info:
        pywemix.mix("y ~ x + (1 | sch) + (1 | district)", df3)
    msg = str(info.value)
    assert "nested" in msg
    assert "(1 | district/sch)" in msg
    # and the form it suggests is accepted
    quiet_fit("y ~ x + (1 | district/sch)", df3)


def test_nested_form_accepts_ids_numbered_within_district(df3):
    a = quiet_fit("y ~ x + (1 | district/sch)", df3, ["w1", "w2", "w3"])
    b = quiet_fit("y ~ x + (1 | school) + (1 | district)", df3, ["w1", "w2", "w3"])
    assert abs(a.llf - b.llf) <= 1e-8 * abs(b.llf)
    np.testing.assert_allclose(
        a.var_components["variance"], b.var_components["variance"], rtol=1e-6
    )


def test_two_factors_defining_the_same_groups(df):
    with pytest.raises(
        ValueError,
        match=r"'school' and 'school2' define the same groups|"
        r"'school2' and 'school' define the same groups",
    ):
        pywemix.mix("y ~ x + (1 | school) + (1 | school2)", df.assign(school2=df["school"] + "_"))


def test_level_with_a_single_group(df):
    with pytest.raises(
        ValueError, match=r"grouping factor 'country' has a single group.*at least two"
    ):
        pywemix.mix("y ~ x + (1 | school) + (1 | country)", df.assign(country="FR"))
    with pytest.raises(ValueError, match=r"'country' has a single group"):
        pywemix.mix("y ~ x + (1 | country)", df.assign(country="FR"))


def test_single_group_left_after_dropping_rows(df):
    # the second country exists only on rows with a missing x
    d = df.assign(country=np.where(df.index < 5, "DE", "FR"))
    d.loc[d.index < 5, "x"] = np.nan
    with pytest.raises(ValueError, match=r"'country' has a single group"):
        quiet_fit("y ~ x + (1 | school) + (1 | country)", d)


# ---------------------------------------------------------------------------
# response and fixed design
# ---------------------------------------------------------------------------
def test_non_numeric_response(df):
    with pytest.raises(TypeError, match=r"response 'cat' must be numeric.*'a'"):
        pywemix.mix("cat ~ x + (1 | school)", df)
    with pytest.raises(TypeError, match=r"response 'ys' must be numeric"):
        pywemix.mix("ys ~ x + (1 | school)", df.assign(ys=df["y"].round(2).astype(str)))


@pytest.mark.parametrize(
    "extra,formula,aliased",
    [
        (dict(x2=lambda d: 2 * d["x"] - 1), "y ~ x + x2 + (1 | school)", ["'x2'"]),
        (dict(cat2=lambda d: d["cat"]), "y ~ x + cat + cat2 + (1 | school)", [r"'cat2\[T\.b\]'"]),
        (
            dict(a=lambda d: d["x"] + 1, b=lambda d: 1.0),
            "y ~ x + a + b + (1 | school)",
            ["'a'", "'b'"],
        ),
    ],
)
def test_rank_deficient_fixed_design(df, extra, formula, aliased):
    d = df.assign(**extra)
    with pytest.raises(ValueError, match=r"rank-deficient fixed-effects design") as info:
        pywemix.mix(formula, d)
    msg = str(info.value)
    for name in aliased:
        assert re.search(name, msg), msg
    assert f"{len(aliased)} column" in msg


def test_rank_deficient_all_zero_column(df):
    with pytest.raises(ValueError, match=r"rank-deficient.*'z' are all zero"):
        pywemix.mix("y ~ x + z + (1 | school)", df.assign(z=0.0))


# ---------------------------------------------------------------------------
# the data argument
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make",
    [
        lambda d: d.to_dict("list"),
        lambda d: d.to_numpy(),
        lambda d: d.to_records(index=False),
        lambda d: "data.csv",
        lambda d: None,
    ],
)
def test_data_not_a_dataframe(df, make):
    with pytest.raises(TypeError, match=r"data must be a pandas or polars DataFrame, got"):
        pywemix.mix(RI, make(df))


def test_duplicated_column_names(df):
    d = pd.concat([df, df[["x"]]], axis=1)
    with pytest.raises(ValueError, match=r"several columns named 'x'"):
        pywemix.mix(RI, d)
    # a duplicated column the model does not use is no obstacle
    e = pd.concat(
        [df, df[["x"]].rename(columns={"x": "unused"})] * 1
        + [df[["x"]].rename(columns={"x": "unused"})],
        axis=1,
    )
    assert quiet_fit(RI, e).nobs == len(df)


def test_dotted_column_name_hint(df):
    with pytest.raises(ValueError, match="backticks"):
        pywemix.mix("y ~ x.b + (1 | school)", df.rename(columns={"x": "x.b"}))
    r = quiet_fit("y ~ `x.b` + (1 | school)", df.rename(columns={"x": "x.b"}))
    assert "x.b" in r.params.index


def test_unicode_names(df):
    d = df.rename(columns={"school": "Schüler", "x": "größe"})
    r = quiet_fit("y ~ größe + (1 | Schüler)", d)
    assert r.groups["group"].iloc[-1] == "Schüler"


def test_polars_dataframe_accepted(df):
    pl = pytest.importorskip("polars")
    # built from plain columns, so that making the frame needs no pyarrow
    p = pl.DataFrame({c: df[c].tolist() for c in df.columns})
    res = quiet_fit(RI, p, ["w1", "w2"])
    ref = quiet_fit(RI, df, ["w1", "w2"])
    assert res.nobs == ref.nobs
    assert abs(res.llf - ref.llf) <= 1e-9 * abs(ref.llf)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-8)
    assert list(res.params.index) == list(ref.params.index)


# ---------------------------------------------------------------------------
# missing values
# ---------------------------------------------------------------------------
def test_missing_values_in_model_variables_are_dropped_with_a_count(df):
    d = df.copy()
    d.loc[[1, 5, 9], "x"] = np.nan
    d.loc[[5, 20], "cat"] = None  # row 5 twice: 4 rows in all
    d.loc[33, "y"] = np.nan
    d["unused"] = np.nan  # entirely missing, but not in the model
    with pytest.warns(DataWarning, match=rf"dropped 5 of {len(d)} rows with missing values"):
        res = pywemix.mix(RI, d, ["w1", "w2"], weight_scaling="size")
    assert res.nobs == len(d) - 5
    assert any("dropped 5 of" in m for m in res.warnings)
    dropped = {1, 5, 9, 20, 33}
    assert dropped.isdisjoint(res.fittedvalues.index)
    assert set(res.fittedvalues.index) == set(d.index) - dropped
    # same fit as dropping the rows by hand
    ref = quiet_fit(RI, df.drop(index=sorted(dropped)), ["w1", "w2"], weight_scaling="size")
    assert abs(res.llf - ref.llf) <= 1e-9 * abs(ref.llf)


def test_missing_values_in_grouping_factor_and_random_slope_are_dropped(df):
    d = df.copy()
    d.loc[[0, 2], "school"] = None
    d["z"] = np.where(d.index == 11, np.nan, d["x"] ** 2)
    with pytest.warns(
        DataWarning,
        match=r"dropped 3 of .*school: 2.*z: 1|"
        r"dropped 3 of .*z: 1.*school: 2",
    ):
        res = pywemix.mix("y ~ x + (1 + z | school)", d)
    assert res.nobs == len(d) - 3


def test_missing_values_in_unused_columns_do_not_drop_rows(df):
    d = df.assign(unused=np.where(df.index % 2 == 0, np.nan, 1.0), unused_weight=np.nan, note=None)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = pywemix.mix(RI, d, ["w1", "w2"])
    assert not [w for w in record if issubclass(w.category, DataWarning)]
    assert res.nobs == len(d)
    assert not [m for m in res.warnings if "dropped" in m]


# ---------------------------------------------------------------------------
# zero weights
# ---------------------------------------------------------------------------
def test_zero_level1_weights_drop_rows_with_a_count(df):
    d = df.copy()
    d.loc[[2, 7, 8, 40], "w1"] = 0.0
    with pytest.warns(DataWarning, match=r"dropped 4 rows with level-1 weight 'w1' equal to 0"):
        res = pywemix.mix(RI, d, ["w1", "w2"], cond_weights=True, weight_scaling="size")
    assert res.nobs == len(d) - 4
    ref = quiet_fit(
        RI, df.drop(index=[2, 7, 8, 40]), ["w1", "w2"], cond_weights=True, weight_scaling="size"
    )
    assert abs(res.llf - ref.llf) <= 1e-9 * abs(ref.llf)
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-7)


def test_zero_level2_weight_drops_the_group(df):
    d = df.copy()
    gone = d["school"] == "s004"
    d.loc[gone, "w2"] = 0.0
    with pytest.warns(
        DataWarning,
        match=rf"dropped 1 school groups \({int(gone.sum())} rows\) with "
        r"weight 'w2' equal to 0",
    ):
        res = pywemix.mix(RI, d, ["w1", "w2"], weight_scaling="size")
    assert res.nobs == int((~gone).sum())
    assert "s004" not in res.ranef()["school"].index
    groups = res.groups.set_index("level")
    assert groups.loc[2, "n_units"] == df["school"].nunique() - 1
    ref = quiet_fit(RI, df[~gone], ["w1", "w2"], weight_scaling="size")
    assert abs(res.llf - ref.llf) <= 1e-9 * abs(ref.llf)


def test_zero_top_weight_drops_the_district_three_levels(df3):
    d = df3.copy()
    d.loc[d["district"] == "d03", "w3"] = 0.0
    with pytest.warns(DataWarning, match=r"dropped 1 district groups .*'w3' equal to 0"):
        res = pywemix.mix(
            "y ~ x + (1 | school) + (1 | district)",
            d,
            ["w1", "w2", "w3"],
            cond_weights=True,
            weight_scaling="size",
        )
    assert "d03" not in res.ranef()["district"].index
    assert res.nobs == int((df3["district"] != "d03").sum())


def test_all_weights_zero(df):
    with pytest.raises(ValueError, match="no rows left"):
        quiet_fit(RI, df.assign(w1=0.0), ["w1", None])


# ---------------------------------------------------------------------------
# few groups, boundary
# ---------------------------------------------------------------------------
def test_few_top_level_groups_warn(df):
    small = df[df["school"].isin(sorted(df["school"].unique())[:12])]
    with pytest.warns(FewGroupsWarning, match=r"only 12 top-level groups.*school"):
        res = pywemix.mix(RI, small)
    assert any("only 12 top-level groups" in m for m in res.warnings)
    assert issubclass(FewGroupsWarning, PywemixWarning)


def test_few_groups_threshold_is_20(df):
    schools = sorted(df["school"].unique())
    with pytest.warns(FewGroupsWarning, match="only 19"):
        pywemix.mix(RI, df[df["school"].isin(schools[:19])])
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewGroupsWarning)
        pywemix.mix(RI, df[df["school"].isin(schools[:20])])


def test_few_groups_counts_the_top_level(df3):
    # 60+ schools but only 8 districts: the clusters are the districts
    d = df3[df3["district"].isin(sorted(df3["district"].unique())[:8])]
    with pytest.warns(FewGroupsWarning, match=r"only 8 top-level groups.*district"):
        res = pywemix.mix("y ~ x + (1 | school) + (1 | district)", d)
    assert res.groups.set_index("level").loc[3, "n_units"] == 8


def _no_group_effect(seed=5, n_groups=30, size=8):
    """Residuals centred within group: no between-group variation at all."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), size)
    e = rng.normal(size=len(g))
    e -= pd.Series(e).groupby(g).transform("mean").to_numpy()
    x = rng.normal(size=len(g))
    w2 = rng.uniform(1.0, 3.0, n_groups)[g]
    return pd.DataFrame(
        dict(y=1 + 0.5 * x + e, x=x, g=g, w1=rng.uniform(1.0, 2.0, len(g)) * w2, w2=w2)
    )


@pytest.mark.parametrize("weights", [None, ["w1", "w2"]])
def test_boundary_variance_is_exactly_zero_and_warns(weights):
    d = _no_group_effect()
    with pytest.warns(BoundaryWarning, match=r"'Intercept' at level 2 \(g\).*boundary"):
        res = pywemix.mix("y ~ x + (1 | g)", d, weights, weight_scaling="size")
    vc = res.var_components
    tau = vc.loc[vc["level"] == 2, "variance"]
    assert len(tau) == 1 and tau.iloc[0] == 0.0
    assert vc.loc[vc["level"] == 1, "variance"].iloc[0] > 0
    assert res.icc == 0.0
    assert res.converged
    assert any("boundary" in m for m in res.warnings)
    # the random effects are all zero then
    assert np.all(res.ranef()["g"].to_numpy() == 0.0)


def test_boundary_in_one_level_of_three():
    # a school effect, no district effect
    rng = np.random.default_rng(8)
    n_d, n_s, size = 25, 4, 6
    school = np.repeat(np.arange(n_d * n_s), size)
    district = school // n_s
    u = rng.normal(0, 0.8, n_d * n_s)
    u -= pd.Series(u).groupby(np.arange(n_d * n_s) // n_s).transform("mean").to_numpy()
    e = rng.normal(size=len(school))
    e -= pd.Series(e).groupby(district).transform("mean").to_numpy()
    d = pd.DataFrame(
        dict(y=u[school] + e, x=rng.normal(size=len(school)), school=school, district=district)
    )
    with pytest.warns(BoundaryWarning, match=r"level 3 \(district\)"):
        res = pywemix.mix("y ~ x + (1 | school) + (1 | district)", d)
    vc = res.var_components.set_index("level")
    assert vc.loc[3, "variance"] == 0.0
    assert vc.loc[2, "variance"] > 0.1


# ---------------------------------------------------------------------------
# immutability
# ---------------------------------------------------------------------------
@pytest.fixture
def result(df):
    return quiet_fit("y ~ x + cat + (1 + x | school)", df, ["w1", "w2"])


@pytest.mark.parametrize(
    "name",
    ["params", "bse", "llf", "var_components", "nobs", "converged", "warnings", "new_attribute"],
)
def test_result_attributes_cannot_be_set(result, name):
    with pytest.raises(AttributeError):
        setattr(result, name, 0)


def test_result_attributes_cannot_be_deleted(result):
    with pytest.raises(AttributeError):
        del result.llf


def test_modifying_returned_objects_does_not_change_the_result(result):
    params, bse, llf = result.params.copy(), result.bse.copy(), result.llf
    vc, groups = result.var_components.copy(), result.groups.copy()
    fitted, cov = result.fittedvalues.copy(), result.cov_params().copy()
    ranef = {k: v.copy() for k, v in result.ranef().items()}

    p = result.params
    p.iloc[:] = 123.0
    p["Intercept"] = -1.0
    b = result.bse
    b.iloc[0] = 0.0
    v = result.var_components
    v.loc[:, "variance"] = -5.0
    gr = result.groups
    gr.iloc[0, gr.columns.get_loc("n_units")] = 0
    fv = result.fittedvalues
    fv.iloc[:] = 0.0
    r = result.ranef()
    r["school"].iloc[:, :] = 9.0
    r.clear()
    c = result.cov_params()
    c.iloc[0, 0] = 1e9
    ci = result.conf_int()
    ci.iloc[:, :] = 0.0

    pd.testing.assert_series_equal(result.params, params)
    pd.testing.assert_series_equal(result.bse, bse)
    pd.testing.assert_frame_equal(result.var_components, vc)
    pd.testing.assert_frame_equal(result.groups, groups)
    pd.testing.assert_series_equal(result.fittedvalues, fitted)
    pd.testing.assert_frame_equal(result.cov_params(), cov)
    for k, v in ranef.items():
        pd.testing.assert_frame_equal(result.ranef()[k], v)
    assert result.llf == llf


def test_returned_arrays_are_not_views_of_the_result(result):
    arr = result.params.to_numpy()
    before = result.params.iloc[0]
    try:
        arr[0] = 1e6
    except ValueError:
        pass  # read-only is fine too
    assert result.params.iloc[0] == before


@pytest.mark.parametrize(
    "max_iter, exc", [(0, ValueError), (-2, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_bad_max_iter(df, max_iter, exc):
    with pytest.raises(exc, match="max_iter"):
        pywemix.mix(RI, df, max_iter=max_iter)


def test_unicode_response_and_stateful_transform(df):
    d = df.rename(columns={"y": "größe", "x": "x_ü"})
    a = quiet_fit("größe ~ scale(x_ü) + (1 | school)", d)
    b = quiet_fit("y ~ scale(x) + (1 | school)", df)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-12)
