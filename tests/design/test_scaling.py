"""Level-1 weight scaling (methods A and B) and survey presets.

EdSurvey note (seed 001) eqs. 3-5 and Table 1; WeMix vignette eqs. 10-11.
"""

from __future__ import annotations

import html
import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix

from conftest import quiet_mix as _quiet_mix


@pytest.fixture
def table():
    """Three schools in shuffled row order; conditional and unconditional weights."""
    df = pd.DataFrame(
        {
            "school": ["b", "a", "c", "a", "b", "c", "a", "c", "b", "c"],
            "w_cond": [2.0, 1.0, 4.0, 3.0, 6.0, 1.0, 2.0, 1.0, 1.0, 2.0],
            "w_school": [5.0, 10.0, 2.0, 10.0, 5.0, 2.0, 10.0, 2.0, 5.0, 2.0],
        }
    )
    df["w_total"] = df["w_cond"] * df["w_school"]
    df.index = [f"r{i}" for i in range(len(df))]
    return df


def _hand(df, col, method):
    out = pd.Series(np.nan, index=df.index)
    for _, sub in df.groupby("school"):
        w = sub[col]
        if method == "size":
            out[sub.index] = w * len(w) / w.sum()
        else:
            out[sub.index] = w * w.sum() / (w**2).sum()
    return out


@pytest.mark.parametrize("method, alias", [("size", "A"), ("effective", "B")])
def test_scale_weights_hand_computation(table, method, alias):
    got = pywemix.scale_weights(table, "w_cond", "school", method)
    assert isinstance(got, pd.Series)
    assert list(got.index) == list(table.index)
    np.testing.assert_allclose(got.to_numpy(), _hand(table, "w_cond", method), rtol=1e-14)
    # aliases, case-insensitive
    for a in (alias, alias.lower()):
        np.testing.assert_allclose(
            pywemix.scale_weights(table, "w_cond", "school", a), got, rtol=0, atol=0
        )
    # group given as a list
    np.testing.assert_allclose(
        pywemix.scale_weights(table, "w_cond", ["school"], method), got, rtol=0, atol=0
    )


def test_size_sums_to_group_count(table):
    got = pywemix.scale_weights(table, "w_cond", "school", "size")
    sums = got.groupby(table["school"]).sum()
    counts = table["school"].value_counts().sort_index()
    np.testing.assert_allclose(sums.sort_index().to_numpy(), counts.to_numpy(), rtol=1e-14)


def test_effective_sums_to_effective_size(table):
    got = pywemix.scale_weights(table, "w_cond", "school", "effective")
    for _, sub in table.groupby("school"):
        w = sub["w_cond"]
        n_eff = w.sum() ** 2 / (w**2).sum()
        assert got[sub.index].sum() == pytest.approx(n_eff, rel=1e-14)


@pytest.mark.parametrize("method", ["size", "effective"])
def test_conditional_or_unconditional_input_same(table, method):
    a = pywemix.scale_weights(table, "w_cond", "school", method)
    b = pywemix.scale_weights(table, "w_total", "school", method)
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-13)


def test_scale_weights_none_and_missing(table):
    none = pywemix.scale_weights(table, "w_cond", "school", "none")
    np.testing.assert_array_equal(none.to_numpy(), table["w_cond"].to_numpy())
    t = table.copy()
    t.loc["r0", "w_cond"] = np.nan
    got = pywemix.scale_weights(t, "w_cond", "school", "size")
    assert np.isnan(got["r0"])
    assert np.isfinite(got.drop("r0")).all()


def test_scale_weights_errors(table):
    with pytest.raises(ValueError, match="unknown method 'C'"):
        pywemix.scale_weights(table, "w_cond", "school", "C")
    with pytest.raises(ValueError, match="nope"):
        pywemix.scale_weights(table, "nope", "school", "size")
    with pytest.raises(ValueError, match="nope"):
        pywemix.scale_weights(table, "w_cond", "nope", "size")
    t = table.copy()
    t.loc["r1", "w_cond"] = -1.0
    with pytest.raises(ValueError, match="negative"):
        pywemix.scale_weights(t, "w_cond", "school", "size")

    with pytest.raises(ValueError, match="'w_cond' has 1 infinite"):
        pywemix.scale_weights(
            table.assign(w_cond=table["w_cond"].replace(3.0, np.inf)), "w_cond", "school", "size"
        )


@pytest.mark.parametrize("values", [list("abcdefghij"), [True, False] * 5])
def test_scale_weights_non_numeric_column(table, values):
    with pytest.raises(TypeError, match="weight column 'w_cond' must be numeric"):
        pywemix.scale_weights(table.assign(w_cond=values), "w_cond", "school", "size")


@pytest.mark.parametrize("method", [["A"], 3, ("size",), {"A": 1}])
def test_scale_weights_method_of_wrong_type(table, method):
    with pytest.raises(TypeError, match="method must be a string"):
        pywemix.scale_weights(table, "w_cond", "school", method)


def test_mix_weight_scaling_of_wrong_type():
    with pytest.raises(TypeError, match="weight_scaling must be a string"):
        pywemix.mix(
            FORMULA, _sim(), ["w_cond", "w_school"], cond_weights=True, weight_scaling=["A"]
        )


@pytest.mark.parametrize("method", ["size", "effective"])
def test_all_zero_group_stays_zero(table, method):
    t = table.copy()
    t.loc[t["school"] == "b", "w_cond"] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 RuntimeWarning
        got = pywemix.scale_weights(t, "w_cond", "school", method)
    b = (t["school"] == "b").to_numpy()
    assert np.all(got[b] == 0.0)
    others = t.loc[~b]
    np.testing.assert_allclose(got[~b], _hand(others, "w_cond", method), rtol=1e-14)


@pytest.mark.parametrize("method", ["size", "effective"])
def test_missing_group_id_gives_nan(table, method):
    t = table.copy()
    t.loc["r4", "school"] = np.nan  # a row of school b loses its id
    got = pywemix.scale_weights(t, "w_cond", "school", method)
    assert np.isnan(got["r4"])
    rest = t.drop(index="r4")
    np.testing.assert_allclose(got.drop(index="r4"), _hand(rest, "w_cond", method), rtol=1e-14)
    # two group columns, one of them missing
    t2 = table.assign(region=["n"] * 10)
    t2.loc["r0", "region"] = None
    got2 = pywemix.scale_weights(t2, "w_cond", ["region", "school"], method)
    assert np.isnan(got2["r0"]) and got2.drop(index="r0").notna().all()


@pytest.mark.parametrize("method", ["size", "none"])
def test_empty_frame_gives_empty_series(table, method):
    got = pywemix.scale_weights(table.iloc[:0], "w_cond", "school", method)
    assert isinstance(got, pd.Series) and len(got) == 0 and got.name == "w_cond_scaled"


# -- in mix() ----------------------------------------------------------------------


def _sim(seed=11, n_groups=25):
    rng = np.random.default_rng(seed)
    sizes = rng.integers(4, 12, n_groups)
    g = np.repeat(np.arange(n_groups), sizes)
    n = g.size
    x = rng.normal(size=n)
    u = rng.normal(scale=1.0, size=n_groups)[g]
    df = pd.DataFrame({"g": g, "x": x, "y": 1 + 0.5 * x + u + rng.normal(size=n)})
    df["w_cond"] = rng.uniform(1.0, 4.0, n)  # student | school
    df["w_school"] = rng.uniform(2.0, 20.0, n_groups)[g]  # school
    df["w_total"] = df["w_cond"] * df["w_school"]  # total student weight
    return df


FORMULA = "y ~ x + (1|g)"


def _same(a, b, rtol=1e-7):
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=rtol)
    np.testing.assert_allclose(a.bse.to_numpy(), b.bse.to_numpy(), rtol=10 * rtol)
    np.testing.assert_allclose(
        a.var_components["variance"].to_numpy(),
        b.var_components["variance"].to_numpy(),
        rtol=10 * rtol,
    )
    assert a.llf == pytest.approx(b.llf, rel=rtol)


@pytest.mark.parametrize("method, alias", [("size", "A"), ("effective", "B")])
def test_mix_scaling_equals_hand_scaled(method, alias):
    df = _sim()
    df["w_scaled"] = pywemix.scale_weights(df, "w_cond", "g", method)
    hand = _quiet_mix(FORMULA, df, ["w_scaled", "w_school"], cond_weights=True)
    r_cond = _quiet_mix(
        FORMULA, df, ["w_cond", "w_school"], cond_weights=True, weight_scaling=method
    )
    r_uncond = _quiet_mix(
        FORMULA, df, ["w_total", "w_school"], cond_weights=False, weight_scaling=method
    )
    r_alias = _quiet_mix(
        FORMULA, df, ["w_cond", "w_school"], cond_weights=True, weight_scaling=alias
    )
    _same(r_cond, hand)
    _same(r_uncond, hand)
    _same(r_alias, hand, rtol=1e-12)
    # the scaling changes the fit (weights are not constant within groups)
    plain = _quiet_mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True)
    assert abs(plain.llf - hand.llf) > 1e-6 * abs(hand.llf)


def test_summary_states_scaling():
    df = _sim()
    r = _quiet_mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True, weight_scaling="A")
    text = str(r.summary())
    line = next(ln for ln in text.splitlines() if ln.startswith("Weight scaling"))
    assert "method A" in line
    r = _quiet_mix(
        FORMULA, df, ["w_cond", "w_school"], cond_weights=True, weight_scaling="effective"
    )
    line = next(ln for ln in str(r.summary()).splitlines() if ln.startswith("Weight scaling"))
    assert "method B" in line
    r = _quiet_mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True)
    line = next(ln for ln in str(r.summary()).splitlines() if ln.startswith("Weight scaling"))
    assert line.split()[-1] == "none"
    assert "Survey preset" not in str(r.summary())


def test_pisa_preset_equals_method_a():
    df = _sim()
    pisa = _quiet_mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True, survey="PISA")
    a = _quiet_mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True, weight_scaling="size")
    _same(pisa, a, rtol=1e-12)
    # case-insensitive, and an explicit matching scaling is not a conflict
    both = _quiet_mix(
        FORMULA, df, ["w_cond", "w_school"], cond_weights=True, survey="pisa", weight_scaling="A"
    )
    _same(both, a, rtol=1e-12)
    text = str(pisa.summary())
    assert any(ln.startswith("Survey preset") and "PISA" in ln for ln in text.splitlines())
    assert any(ln.startswith("Weight scaling") and "method A" in ln for ln in text.splitlines())


@pytest.mark.parametrize("survey", ["TIMSS", "PIRLS", "TIMSS Advanced"])
def test_timss_preset_equals_unconditional(survey):
    df = _sim()
    preset = _quiet_mix(FORMULA, df, ["w_total", "w_school"], cond_weights=False, survey=survey)
    plain = _quiet_mix(FORMULA, df, ["w_total", "w_school"], cond_weights=False)
    cond = _quiet_mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True)
    _same(preset, plain, rtol=1e-12)
    _same(preset, cond)
    text = str(preset.summary())
    assert any(ln.startswith("Survey preset") and survey.upper() in ln for ln in text.splitlines())
    assert any(
        ln.startswith("Weight scaling") and ln.split()[-1] == "none" for ln in text.splitlines()
    )
    with pytest.raises(ValueError, match="cond_weights=False"):
        pywemix.mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True, survey=survey)


def test_naep_preset_no_scaling():
    df = _sim()
    naep = _quiet_mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True, survey="NAEP")
    plain = _quiet_mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True)
    _same(naep, plain, rtol=1e-12)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(weight_scaling="C"), "unknown weight_scaling"),
        (dict(weight_scaling="sizes"), "unknown weight_scaling"),
        (dict(survey="CIVED"), "unknown survey"),  # no preset (TALIS has one)
        (dict(survey=""), "unknown survey"),
        (dict(survey="PISA", weight_scaling="B"), "conflicts"),
        (dict(survey="PISA", weight_scaling="effective"), "conflicts"),
        (dict(survey="NAEP", weight_scaling="A"), "conflicts"),
    ],
)
def test_bad_scaling_arguments(kw, match):
    df = _sim(n_groups=20)
    with pytest.raises(ValueError, match=match):
        pywemix.mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True, **kw)


# -- weight sanity warning ---------------------------------------------------------------


def test_conditional_weights_given_as_unconditional_warn():
    df = _sim()  # w_cond (1-4) is below w_school (2-20) in most rows
    assert (df["w_cond"] < df["w_school"]).mean() > 0.5
    with warnings.catch_warnings():
        # dividing by the school weight again distorts the fit (a boundary variance)
        warnings.simplefilter("ignore", pywemix.BoundaryWarning)
        with pytest.warns(pywemix.WeightWarning, match="cond_weights=True"):
            # (scaled: the unscaled-weight warning is not what this test is about)
            pywemix.mix(
                FORMULA, df, ["w_cond", "w_school"], cond_weights=False, weight_scaling="size"
            )


def test_genuinely_unconditional_weights_do_not_warn():
    df = _sim()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pywemix.mix(FORMULA, df, ["w_total", "w_school"], cond_weights=False)
        pywemix.mix(FORMULA, df, ["w_cond", "w_school"], cond_weights=True)
    assert not [
        w
        for w in caught
        if issubclass(w.category, pywemix.WeightWarning) and "cond_weights" in str(w.message)
    ]


# -- unscaled level-1 weights in small groups ---------------------------------------------

from pywemix.design.scaling import SMALL_GROUP, warn_unscaled  # noqa: E402


def _noise_slope(n_groups=40, size=5, seed=11):
    """Small groups, level-1 weights varying within them, a pure-noise slope."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), size)
    x = rng.normal(size=g.size)
    y = rng.normal(0, 1, n_groups)[g] + 0.5 * x + rng.normal(size=g.size)
    w1 = rng.uniform(1.0, 20.0, g.size)
    return pd.DataFrame(
        {
            "g": g,
            "x": x,
            "y": y,
            "w1": w1,
            "w2": np.ones(g.size),
            "w1_const": np.repeat(rng.uniform(1, 20, n_groups), size),
        }
    )


def _weight_warnings(**kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pywemix.mix("y ~ x + (x|g)", kw.pop("data"), ["w1", "w2"], cond_weights=True, **kw)
    return res, [w for w in caught if issubclass(w.category, pywemix.WeightWarning)]


def test_unscaled_weights_in_small_groups_warn_and_show_in_summary():
    res, caught = _weight_warnings(data=_noise_slope())
    assert len(caught) == 1
    text = str(caught[0].message)
    assert "weight_scaling='size'" in text and "'g'" in text and "median 5 rows" in text
    assert text in res.warnings
    assert text in str(res.summary())  # the summary's notes list it
    assert html.escape(text) in res.summary()._repr_html_()


@pytest.mark.parametrize(
    "kw", [dict(weight_scaling="size"), dict(weight_scaling="B"), dict(survey="PISA")]
)
def test_scaled_weights_do_not_warn(kw):
    _, caught = _weight_warnings(data=_noise_slope(), **kw)
    assert not caught


def test_weights_constant_within_groups_or_prescaled_do_not_warn():
    df = _noise_slope()
    _, caught = _weight_warnings(data=df.assign(w1=df["w1_const"]))
    assert not caught
    for method in ("size", "effective"):  # scaled by the user beforehand
        scaled = pywemix.scale_weights(df, "w1", "g", method)
        _, caught = _weight_warnings(data=df.assign(w1=scaled))
        assert not caught, method


def test_large_groups_do_not_warn():
    df = _noise_slope(n_groups=6, size=SMALL_GROUP)
    res, caught = _weight_warnings(data=df)
    assert not caught
    assert not any("weight_scaling" in m for m in res.warnings)


def test_warn_unscaled_thresholds():
    rng = np.random.default_rng(0)
    for size, expect in ((SMALL_GROUP - 1, True), (SMALL_GROUP, False)):
        w = rng.uniform(1, 5, 4 * size)
        starts = np.arange(0, 4 * size, size)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert warn_unscaled(w, starts, "none", "'school'") is expect
            assert warn_unscaled(w, starts, "size", "'school'") is False
        assert len(caught) == int(expect)
    # rounding-level differences are not variation
    w = np.repeat([3.0, 7.0], 5) * (1 + 1e-12 * rng.normal(size=10))
    assert warn_unscaled(w, np.array([0, 5]), "none") is False


@pytest.mark.parametrize("survey", ["TIMSS", "PIRLS", "NAEP", "timss advanced"])
def test_presets_without_scaling_do_not_warn(survey):
    """TIMSS, PIRLS and NAEP presets choose no scaling knowingly (EdSurvey
    note): no unscaled-weight warning, the same fit, settings say "none"."""
    df = _noise_slope()  # w2 = 1: level-1 weights are total and conditional alike
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pywemix.mix("y ~ x + (x|g)", df, ["w1", "w2"], cond_weights=False, survey=survey)
    assert not [w for w in caught if issubclass(w.category, pywemix.WeightWarning)]
    assert res.settings.weight_scaling == "none"
    plain, plain_caught = _weight_warnings(data=df)
    assert len(plain_caught) == 1  # the same data without a preset warn
    np.testing.assert_allclose(res.params, plain.params, rtol=1e-12)


def test_preset_none_scales_as_none():
    from pywemix.design.scaling import PRESET_NONE, normalize_scaling

    assert normalize_scaling(PRESET_NONE) == "none"
    w = np.random.default_rng(1).uniform(1, 5, 20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_unscaled(w, np.arange(0, 20, 5), PRESET_NONE) is False
        assert warn_unscaled(w, np.arange(0, 20, 5), "none") is True
    assert len(caught) == 1
