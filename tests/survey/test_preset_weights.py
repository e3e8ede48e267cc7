"""A survey preset's level weights on a data frame: ``mix(df, survey=...)``
without ``weights=`` fits the survey's weights when the data have them, as
survey data do, says so in the summary, and warns naming those it lacks
(issue 21: it used to fit unit weights without a word)."""

import warnings

import numpy as np
import pytest
from survey_data import FORMULA, survey_sample
from survey_files import iea_frames, naep_frames, pisa_frames, talis_frames
from test_bind import assert_same, quiet

import pywemix
from pywemix.datasets import load_pisa_replicates

FAY = [f"W_FSTURWT{r}" for r in range(1, 81)]

# survey -> (its frames, formula in the file's spelling, level weights)
LAYOUTS = {
    "PISA": (
        lambda: pisa_frames(n_pv=2),
        "PV1MATH ~ ESCS + (1|CNTSCHID)",
        ["W_FSTUWT", "W_SCHGRNRABWT"],
    ),
    "TIMSS": (
        lambda: iea_frames(subjects=("MMAT",)),
        "BSMMAT01 ~ ITSEX + (1|IDSCHOOL)",
        ["TOTWGT", "SCHWGT"],
    ),
    "PIRLS": (
        lambda: iea_frames(grade="A", subjects=("RREA",)),
        "ASRREA01 ~ ITSEX + (1|IDSCHOOL)",
        ["TOTWGT", "SCHWGT"],
    ),
    "TALIS": (talis_frames, "T3JOBSA ~ TT3G01 + (1|IDSCHOOL)", ["TCHWGT", "SCHWGT"]),
    "NAEP": (naep_frames, "MRPCM1 ~ DSEX + (1|SCRPSU)", ["ORIGWT", "SMSRSWT"]),
}


def _frame(survey):
    """One country's merged student and school data, a plain pandas frame."""
    make, formula, weights = LAYOUTS[survey]
    stu, sch, _, _ = make()
    sdf = pywemix.survey_data(stu, survey=survey, school=sch)
    names = formula.replace("~", " ").replace("+", " ").replace("(1|", " ").replace(")", " ")
    data = sdf.get_data(list(dict.fromkeys(names.split() + weights)))
    if "IDCNTRY" in stu:
        data = data[stu["IDCNTRY"].to_numpy() == 36.0]  # school ids repeat across countries
    return data.reset_index(drop=True), formula, weights


def _weight_warnings(caught):
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, pywemix.SurveyWarning) and "level weight" in str(w.message)
    ]


def _fit(*args, **kw):
    """``mix`` with its warnings caught: (result, the preset weights' warnings)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pywemix.mix(*args, **kw)
    return res, _weight_warnings(caught)


@pytest.mark.parametrize("survey", list(LAYOUTS))
def test_each_preset_fits_its_level_weights_as_the_explicit_call(survey):
    data, formula, weights = _frame(survey)
    got, said = _fit(formula, data, survey=survey, replicates=False)
    explicit = quiet(formula, data, weights, survey=survey, replicates=False)
    assert not said
    assert_same(got, explicit)
    assert list(got.settings.weight_spec) == weights and got.settings.weighted
    text = str(got.summary())
    assert (
        f"{weights[0]} (level 1), {weights[1]} (level 2); unconditional; the {survey} "
        "preset's level weights"
    ) in text
    assert "unit weights" not in text
    unit = quiet(formula, data, [None, None], survey=survey, replicates=False)
    assert not np.allclose(unit.params, got.params, rtol=1e-6, atol=0)


def test_the_preset_weights_with_its_replicates_equal_the_explicit_call():
    stu, sch, _, _ = pisa_frames(n_pv=2)
    data = pywemix.survey_data(stu, survey="PISA", school=sch).get_data(
        ["PV1MATH", "ESCS", "CNTSCHID", "W_FSTUWT", "W_SCHGRNRABWT"] + FAY
    )
    formula = "PV1MATH ~ ESCS + (1|CNTSCHID)"
    got, said = _fit(formula, data, survey="PISA")
    rep = pywemix.Replicates(FAY, method="fay", fay=0.5, full_weight="W_FSTUWT")
    explicit = quiet(formula, data, ["W_FSTUWT", "W_SCHGRNRABWT"], survey="PISA", replicates=rep)
    assert not said and isinstance(got, pywemix.ReplicateResult)
    assert_same(got, explicit)


def test_the_leads_case_a_student_weight_without_the_school_weight():
    """``load_pisa_replicates()`` has ``w_fstuwt`` but no school weight: the
    student weight is fitted, level 2 is unweighted, and the warning says so."""
    data = load_pisa_replicates()
    formula = "pv1math ~ escs + (1|schoolid)"
    got, said = _fit(formula, data, survey="PISA", replicates=False)
    assert len(said) == 1
    assert "level 2 (W_SCHGRNRABWT or W_FSCHWT)" in said[0]
    assert "found: w_fstuwt at level 1" in said[0] and "unit weights" in said[0]
    assert said[0] in got.warnings and said[0] in str(got.summary())
    explicit = quiet(formula, data, ["w_fstuwt", None], survey="PISA", replicates=False)
    assert_same(got, explicit)
    assert "Weights          none" not in str(got.summary())
    # with the school weight in the data, both are fitted without a word
    full = data.assign(w_schgrnrabwt=data["pwt2"])
    both, said = _fit(formula, full, survey="PISA", replicates=False)
    assert not said
    assert_same(
        both, quiet(formula, full, ["w_fstuwt", "w_schgrnrabwt"], survey="PISA", replicates=False)
    )


def test_no_preset_weight_in_the_data_warns_naming_them_all():
    data = survey_sample(seed=3, n_schools=12, reps=2)
    got, said = _fit(FORMULA, data, survey="TIMSS", replicates=False)
    assert len(said) == 1
    assert "level 1 (TOTWGT) and level 2 (SCHWGT)" in said[0] and "found: none" in said[0]
    assert "none (unit weights at every level)" in str(got.summary())
    assert said[0] in str(got.summary())
    assert_same(got, quiet(FORMULA, data, [None, None], survey="TIMSS", replicates=False))
    # weights given, unit ones included: no guess, no warning
    for weights in ([None, None], ["wt", "w2"]):
        _, said = _fit(FORMULA, data, weights, survey="TIMSS", replicates=False)
        assert not said


def test_a_derived_school_weight_is_computed_from_its_factors():
    """TIMSS without SCHWGT: WGTFAC1 x WGTADJ1, as survey data compute it."""
    stu, _, _, _ = iea_frames(seed=14, subjects=("MMAT",))
    data = stu[stu["IDCNTRY"] == 36.0].reset_index(drop=True)
    formula = "BSMMAT01 ~ ITSEX + (1|IDSCHOOL)"
    got, said = _fit(formula, data, survey="TIMSS", replicates=False)
    assert not said and "SCHWGT" not in data
    explicit = quiet(
        formula,
        data.assign(SCHWGT=data["WGTFAC1"] * data["WGTADJ1"]),
        ["TOTWGT", "SCHWGT"],
        survey="TIMSS",
        replicates=False,
    )
    assert_same(got, explicit)


def test_by_groups_and_dask_fit_the_preset_weights():
    data, formula, weights = _frame("PISA")
    data = data.assign(half=np.arange(len(data)) % 2)
    got = quiet(formula, data, survey="PISA", replicates=False, by="half")
    explicit = quiet(formula, data, weights, survey="PISA", replicates=False, by="half")
    for k in got:
        assert_same(got[k], explicit[k])
    dd = pytest.importorskip("dask.dataframe")
    lazy = dd.from_pandas(data, npartitions=2)
    on_dask = quiet(formula, lazy, survey="PISA", replicates=False)
    assert list(on_dask.settings.weight_spec) == weights
    mem = quiet(formula, data, weights, survey="PISA", replicates=False)
    np.testing.assert_allclose(on_dask.params, mem.params, rtol=1e-6)
    np.testing.assert_allclose(on_dask.bse, mem.bse, rtol=1e-6)


def test_survey_data_without_weights_fitted_with_a_preset():
    """Survey data wrapped without a survey (no weights of their own), fitted
    with ``survey="PISA"``: the preset's weights are read from the data."""
    data, formula, weights = _frame("PISA")
    sdf = pywemix.survey_data(data, survey=False)
    assert not len(sdf.weights)
    got, said = _fit(formula, sdf, survey="PISA", replicates=False)
    assert not said
    assert_same(got, quiet(formula, data, weights, survey="PISA", replicates=False))


def test_a_model_with_more_levels_than_the_preset_weights_is_an_error():
    data, _, _ = _frame("PISA")
    data = data.assign(region=(data["CNTSCHID"] % 3).astype(int))
    with pytest.raises(
        ValueError,
        match=r"survey='PISA' weights 2 levels \(W_FSTUWT, "
        r"W_SCHGRNRABWT, level 1 first\), but the model "
        r"has 3: name one weight per level",
    ):
        quiet("PV1MATH ~ ESCS + (1|region/CNTSCHID)", data, survey="PISA", replicates=False)
    ok = quiet(
        "PV1MATH ~ ESCS + (1|region/CNTSCHID)",
        data,
        ["W_FSTUWT", None, None],
        survey="PISA",
        replicates=False,
    )
    assert list(ok.settings.weight_spec) == ["W_FSTUWT", None, None]
