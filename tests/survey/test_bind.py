"""``mix(formula, sdf)`` on survey data (survey/bind.py): the scale named as the
response expands to its plausible values, the survey's weights, preset and
replicates apply, each can be overridden, only the model's columns are read,
and the results equal the explicit call on a data frame, for each survey's
synthetic layout."""

import warnings

import numpy as np
import pandas as pd
import pytest
from survey_files import iea_frames, naep_frames, pisa_frames, talis_frames, write

import pywemix

PISA = "math ~ escs + (1|cntschid)"
N_PV = 3  # fewer than PISA's 10, to keep the suite fast
PVS = [f"PV{k}MATH" for k in range(1, N_PV + 1)]
FAY = [f"W_FSTURWT{r}" for r in range(1, 81)]


def quiet(*args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pywemix.mix(*args, **kw)


def assert_same(a, b):
    """Two results equal exactly: estimates, every covariance kind, variance terms."""
    assert type(a) is type(b)
    assert a.default_kind == b.default_kind and a.variance_kinds == b.variance_kinds
    pd.testing.assert_series_equal(a.params, b.params, check_exact=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.PseudoLikelihoodWarning)  # kind="model"
        for kind in a.variance_kinds:
            np.testing.assert_array_equal(
                a.cov_params(kind).to_numpy(), b.cov_params(kind).to_numpy()
            )
    pd.testing.assert_frame_equal(a.var_components, b.var_components, check_exact=True)
    assert a.settings == b.settings


def _files(folder, frames, stu_name, sch_name):
    stu, sch, labels, missing = frames
    s = write(
        stu,
        folder / stu_name,
        {k: v for k, v in labels.items() if k in stu},
        {k: v for k, v in missing.items() if k in stu},
    )
    c = write(
        sch,
        folder / sch_name,
        {k: v for k, v in labels.items() if k in sch},
        {k: v for k, v in missing.items() if k in sch},
    )
    return s, c


@pytest.fixture(scope="module")
def pisa(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bind_pisa")
    s, c = _files(folder, pisa_frames(n_pv=N_PV), "stu.sav", "sch.sav")
    return s, c, folder / "cache"


@pytest.fixture
def sdf(pisa):
    s, c, cache = pisa
    return pywemix.read_survey(s, school=c, cache=cache)


def _pisa_frame(sdf):
    """The model's columns as the file spells them, formula names in lower case."""
    d = sdf.get_data(PVS + ["ESCS", "CNTSCHID", "CNT", "W_FSTUWT", "W_SCHGRNRABWT"] + FAY)
    return d.rename(columns={"ESCS": "escs", "CNTSCHID": "cntschid"})


# -- equal to the explicit call, each survey's layout -----------------------------------


def test_pisa_scale_weights_fay_replicates_equal_the_explicit_call(sdf):
    got = quiet(PISA, sdf)
    rep = pywemix.Replicates(FAY, method="fay", fay=0.5, full_weight="W_FSTUWT")
    explicit = quiet(
        PISA,
        _pisa_frame(sdf),
        ["W_FSTUWT", "W_SCHGRNRABWT"],
        survey="PISA",
        plausible_values={"math": PVS},
        replicates=rep,
    )
    assert isinstance(got, pywemix.ReplicateResult) and got.n_plausible == N_PV
    assert_same(got, explicit)
    assert got.settings.survey == "PISA" and got.settings.weight_scaling == "size"
    assert got.method == "Fay's BRR, 80 replicates, k = 0.5"


def test_the_summary_names_what_was_used(sdf):
    s = quiet(PISA, sdf).summary()
    text = str(s)
    for part in (
        "Survey preset     PISA (method A at level 1, none above)",
        "PV1MATH",
        f"PV{N_PV}MATH) of math",
        "W_FSTUWT (level 1), W_SCHGRNRABWT (level 2)",
        "Fay's BRR, 80 replicates, k = 0.5",
    ):
        assert part in text, part
    info = s.as_dict()
    assert info["survey"]["preset"] == "PISA"
    assert info["survey"]["weights"] == ["W_FSTUWT", "W_SCHGRNRABWT"]
    assert info["plausible_values"] == {"response": "math", "columns": PVS}
    assert info["replicates"]["n_replicates"] == 80


def test_by_country_equals_the_explicit_call(sdf):
    got = quiet(PISA, sdf, by="cnt")
    rep = pywemix.Replicates(FAY, method="fay", fay=0.5, full_weight="W_FSTUWT")
    explicit = quiet(
        PISA,
        _pisa_frame(sdf).rename(columns={"CNT": "cnt"}),
        ["W_FSTUWT", "W_SCHGRNRABWT"],
        survey="PISA",
        plausible_values={"math": PVS},
        replicates=rep,
        by="cnt",
    )
    assert isinstance(got, pywemix.ByResult) and list(got) == ["AAA", "BBB"] == list(explicit)
    for k in got:
        assert_same(got[k], explicit[k])


def test_in_memory_survey_data_equals_the_file(pisa, sdf):
    stu, sch, _, _ = pisa_frames(n_pv=N_PV)
    mem = pywemix.survey_data(
        stu.assign(ESCS=stu["ESCS"].where(stu["ESCS"] < 95)), survey="PISA", school=sch
    )
    a, b = quiet(PISA, sdf, replicates=False), quiet(PISA, mem, replicates=False)
    pd.testing.assert_series_equal(a.params, b.params, check_exact=True)
    np.testing.assert_array_equal(a.cov_params(), b.cov_params())


@pytest.mark.parametrize(
    "survey, grade, subjects, ext",
    [("TIMSS", "B", ("MMAT", "SSCI"), ".sav"), ("PIRLS", "A", ("RREA", "RLIT"), ".dta")],
)
def test_iea_jk2_by_country_equals_the_explicit_call(tmp_path, survey, grade, subjects, ext):
    frames = iea_frames(seed=11, grade=grade, subjects=subjects)
    s, c = _files(tmp_path, frames, f"stu{ext}", f"sch{ext}")
    sdf = pywemix.read_survey(s, school=c, cache=tmp_path / "cache")
    assert sdf.survey == survey
    scale = subjects[0].lower()
    formula = f"{scale} ~ itsex + (1|idschool)"
    got = quiet(formula, sdf, by="idcntry")
    pvs = sdf.plausible_values[scale]
    d = sdf.get_data(pvs + ["ITSEX", "IDSCHOOL", "IDCNTRY", "TOTWGT", "SCHWGT", "JKZONE", "JKREP"])
    d = d.rename(columns={"ITSEX": "itsex", "IDSCHOOL": "idschool", "IDCNTRY": "idcntry"})
    jk = pywemix.jackknife_weights(d, "JKZONE", "JKREP", "TOTWGT")
    explicit = quiet(
        formula,
        d,
        ["TOTWGT", "SCHWGT"],
        survey=survey,
        plausible_values={scale: pvs},
        by="idcntry",
        replicates=pywemix.Replicates(jk, method="jk2"),
    )
    assert list(got) == [36, 40] == list(explicit)
    for k in got:
        assert_same(got[k], explicit[k])
        assert "JK2 jackknife" in got[k].method and got[k].settings.survey == survey


def test_talis_fay_100_equals_the_explicit_call(tmp_path):
    s, c = _files(tmp_path, talis_frames(), "btg.csv", "bcg.csv")
    sdf = pywemix.read_survey(s, school=c, cache=tmp_path / "cache")
    formula = "t3jobsa ~ tt3g01 + (1|idschool)"
    got = quiet(formula, sdf)
    reps = [f"TRWGT{r}" for r in range(1, 101)]
    d = sdf.get_data(["T3JOBSA", "TT3G01", "IDSCHOOL", "TCHWGT", "SCHWGT"] + reps)
    d = d.rename(columns={"T3JOBSA": "t3jobsa", "TT3G01": "tt3g01", "IDSCHOOL": "idschool"})
    explicit = quiet(
        formula,
        d,
        ["TCHWGT", "SCHWGT"],
        survey="TALIS",
        replicates=pywemix.Replicates(reps, method="fay", fay=0.5, full_weight="TCHWGT"),
    )
    assert isinstance(got, pywemix.ReplicateResult)
    assert_same(got, explicit)
    assert got.method == "Fay's BRR, 100 replicates, k = 0.5"
    assert got.settings.weight_scaling == "size"


def test_naep_jackknife_equals_the_explicit_call(tmp_path):
    stu, sch, _, _ = naep_frames()
    s, c = write(stu, tmp_path / "naep.parquet"), write(sch, tmp_path / "sch.parquet")
    sdf = pywemix.read_survey(s, school=c)
    formula = "composite ~ dsex + (1|scrpsu)"
    got = quiet(formula, sdf)
    pvs = [f"MRPCM{k}" for k in range(1, 6)]
    reps = [f"SRWT{r:02d}" for r in range(1, 63)]
    d = sdf.get_data(pvs + ["DSEX", "SCRPSU", "ORIGWT", "SMSRSWT"] + reps)
    d = d.rename(columns={"DSEX": "dsex", "SCRPSU": "scrpsu"})
    explicit = quiet(
        formula,
        d,
        ["ORIGWT", "SMSRSWT"],
        survey="NAEP",
        plausible_values={"composite": pvs},
        replicates=pywemix.Replicates(reps, method="jk2", full_weight="ORIGWT"),
    )
    assert_same(got, explicit)
    assert got.method == "JK2 jackknife, 62 replicates, one per zone"


# -- overrides ------------------------------------------------------------------------


def test_each_default_can_be_overridden(sdf):
    frame = _pisa_frame(sdf)
    rep = pywemix.Replicates(FAY, method="fay", fay=0.5, full_weight="W_FSTUWT")
    w = ["W_FSTUWT", "W_SCHGRNRABWT"]
    # replicates=False: the sandwich
    plain = quiet(PISA, sdf, replicates=False)
    assert isinstance(plain, pywemix.PlausibleValuesResult) and plain.default_kind == "robust"
    assert_same(
        plain,
        quiet(PISA, frame, w, survey="PISA", replicates=False, plausible_values={"math": PVS}),
    )
    # plausible_values=: two of them (names any case)
    two = {"math": ["pv1math", "pv3math"]}
    got = quiet(PISA, sdf, plausible_values=two, replicates=False)
    assert got.columns == two["math"]
    assert_same(
        got,
        quiet(
            PISA,
            frame.rename(columns={c: c.lower() for c in PVS}),
            w,
            survey="PISA",
            replicates=False,
            plausible_values=two,
        ),
    )
    # weights= and cond_weights=: the user's
    got = quiet(PISA, sdf, weights=["w_fstuwt", None], replicates=rep)
    assert got.settings.weight_spec == ("w_fstuwt", None)
    assert_same(
        got,
        quiet(
            PISA,
            frame.assign(w_fstuwt=frame["W_FSTUWT"]),
            ["w_fstuwt", None],
            survey="PISA",
            replicates=rep,
            plausible_values={"math": PVS},
        ),
    )
    # survey=False: no preset (no scaling); weight_scaling= departing from the preset drops it
    bare = quiet(PISA, sdf, survey=False, replicates=False)
    assert bare.settings.survey is None and bare.settings.weight_scaling == "none"
    assert_same(bare, quiet(PISA, frame, w, replicates=False, plausible_values={"math": PVS}))
    b = quiet(PISA, sdf, weight_scaling="effective")
    assert b.settings.survey is None and b.settings.weight_scaling == "effective"
    assert_same(
        b,
        quiet(
            PISA,
            frame,
            w,
            weight_scaling="effective",
            replicates=rep,
            plausible_values={"math": PVS},
        ),
    )
    # cond_weights=True with the survey's (unconditional) weights: the user's word
    c = quiet(PISA, sdf, cond_weights=True, replicates=False)
    assert c.settings.cond_weights and c.settings.survey == "PISA"
    # survey="TIMSS": that preset's weight rule on these data
    t = quiet(PISA, sdf, survey="TIMSS", replicates=False)
    assert t.settings.survey == "TIMSS" and t.settings.weight_scaling == "none"


def test_a_single_plausible_value_is_a_column(sdf):
    one = quiet("pv1math ~ escs + (1|cntschid)", sdf, replicates=False)
    assert isinstance(one, pywemix.MixResult) and one.settings.survey == "PISA"


def test_survey_data_read_without_replicates(pisa):
    s, c, cache = pisa
    sdf = pywemix.read_survey(s, school=c, cache=cache, replicates=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pywemix.SurveyWarning)  # chosen: no warning
        r = quiet(PISA, sdf)
    assert r.default_kind == "robust"
    # read without the survey's rules, fitted with the preset: the preset finds its columns
    plain = pywemix.read_survey(
        s, school=c, cache=cache, survey=False, school_key=["cnt", "cntschid"]
    )
    assert plain.replicates is None
    got = quiet(
        "pv1math ~ escs + (1|cntschid)", plain, ["w_fstuwt", "w_schgrnrabwt"], survey="PISA"
    )
    assert got.method == "Fay's BRR, 80 replicates, k = 0.5"


def test_only_the_models_columns_are_read(pisa, monkeypatch):
    import pyreadstat

    s, c, cache = pisa
    reads = []
    real = pyreadstat.read_sav

    def spy(path, **kw):
        if not kw.get("metadataonly"):
            reads.append(set(kw.get("usecols") or ()))
        return real(path, **kw)

    monkeypatch.setattr(pyreadstat, "read_sav", spy)
    sdf = pywemix.read_survey(s, school=c, cache=False)
    quiet(PISA, sdf, replicates=False)
    student = set(PVS) | {"ESCS", "CNTSCHID", "CNT", "W_FSTUWT"}
    assert reads == [student, {"CNT", "CNTSCHID"}, {"W_SCHGRNRABWT"}]
    reads.clear()
    quiet(PISA, sdf)  # the replicate weights are read when used (the school file again)
    assert reads == [set(FAY), {"W_SCHGRNRABWT"}]


# -- errors ----------------------------------------------------------------------------


def test_errors_name_the_scale_or_column(sdf, pisa):
    with pytest.raises(
        ValueError,
        match=r"column 'maths' is not in 'stu.sav' or 'sch.sav'.*"
        r"scales .* are math, read, mccr, flit",
    ):
        pywemix.mix("maths ~ escs + (1|cntschid)", sdf)
    with pytest.raises(
        ValueError,
        match=r"formula name 'read' is a scale of 3 plausible "
        r"values \(PV1READ..PV3READ\): only the response",
    ):
        pywemix.mix("math ~ read + (1|cntschid)", sdf)
    with pytest.raises(ValueError, match="weight column 'math' is a scale"):
        pywemix.mix(PISA, sdf, weights=["math", None])
    s, _, cache = pisa
    no_school = pywemix.read_survey(s, cache=cache)
    with pytest.raises(
        ValueError,
        match=r"the PISA data lack a level weight: W_SCHGRNRABWT "
        r"or W_FSCHWT not found .*school=.*weights=",
    ):
        pywemix.mix(PISA, no_school)
    with pytest.raises(TypeError, match="replicates must be a pywemix.Replicates"):
        pywemix.mix(PISA, sdf, replicates=FAY)


# -- Dask-backed survey data -------------------------------------------------------------


def test_dask_backed_survey_equals_pandas(tmp_path):
    pytest.importorskip("dask.dataframe")
    stu, sch, _, _ = pisa_frames(seed=12, n_pv=N_PV)
    folder = tmp_path / "parts"
    folder.mkdir()
    small = stu[[c for c in stu.columns if not c.startswith("Q")]]
    for i, part in enumerate(np.array_split(np.arange(len(small)), 3)):
        small.iloc[part].to_parquet(folder / f"part{i}.parquet", index=False)
    school = write(sch, tmp_path / "sch.parquet")
    lazy = pywemix.read_survey(folder, school=school)
    eager = pywemix.read_survey(folder, school=school, backend="pandas")
    a = quiet(PISA, lazy, replicates=False)
    b = quiet(PISA, eager, replicates=False)
    assert type(a.fits[0]).__name__ == "DaskMixResult"
    assert a.settings == b.settings and a.columns == b.columns == PVS
    np.testing.assert_allclose(a.params, b.params, rtol=1e-6)
    np.testing.assert_allclose(a.bse, b.bse, rtol=1e-6)
    single = quiet("pv2math ~ escs + (1|cntschid)", lazy, replicates=False)
    np.testing.assert_allclose(single.params, b.fits[1].params, rtol=1e-6)
    # the survey's replicate weights apply on Dask as in memory
    r_lazy = quiet("pv2math ~ escs + (1|cntschid)", lazy)
    r_eager = quiet("pv2math ~ escs + (1|cntschid)", eager)
    assert r_lazy.default_kind == r_eager.default_kind == "replicate"
    assert r_lazy.method == r_eager.method
    np.testing.assert_allclose(r_lazy.bse, r_eager.bse, rtol=1e-6)


def test_a_bad_jackknife_design_names_its_columns():
    stu, sch, _, _ = iea_frames(seed=13, subjects=("MMAT",))
    sdf = pywemix.survey_data(stu.assign(JKREP=1.0), survey="TIMSS", school=sch)
    with pytest.raises(
        ValueError,
        match=r"zones without a pair in 'JKZONE'.*survey='TIMSS' "
        r"builds JK2 replicate weights from JKZONE, JKREP, "
        r"TOTWGT; replicates=False keeps the sandwich",
    ):
        pywemix.mix("mmat ~ itsex + (1|idschool)", sdf, by="idcntry")
    ok = quiet("mmat ~ itsex + (1|idschool)", sdf, by="idcntry", replicates=False)
    assert ok[36].default_kind == "robust"


def test_a_derived_school_weight_gives_the_school_files_fit():
    """TIMSS without its school file: SCHWGT = WGTFAC1 x WGTADJ1, the same numbers."""
    stu, sch, _, _ = iea_frames(seed=14, subjects=("MMAT",))
    merged = pywemix.survey_data(stu, survey="TIMSS", school=sch)
    derived = pywemix.survey_data(stu, survey="TIMSS")
    assert derived.weights.derived == (("SCHWGT", ("WGTFAC1", "WGTADJ1")),)
    a = quiet("mmat ~ itsex + (1|idschool)", merged, by="idcntry", replicates=False)
    b = quiet("mmat ~ itsex + (1|idschool)", derived, by="idcntry", replicates=False)
    for k in a:
        assert_same(a[k], b[k])
