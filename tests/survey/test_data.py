"""``read_survey`` / ``survey_data`` / ``SurveyData`` on synthetic files in each
survey's layout: detection, merge with the school file, labels, missing codes,
replicates, and the errors of bad files."""

import numpy as np
import pandas as pd
import pytest
from survey_files import NAEP_LABELS, iea_frames, naep_frames, pisa_frames, talis_frames, write

import pywemix


@pytest.fixture(scope="module")
def pisa(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pisa")
    stu, sch, labels, missing = pisa_frames()
    s_lab = {k: v for k, v in labels.items() if k in stu}
    c_lab = {k: v for k, v in labels.items() if k in sch}
    paths = (
        write(stu, folder / "stu.sav", s_lab, {k: v for k, v in missing.items() if k in stu}),
        write(sch, folder / "sch.sav", c_lab, {k: v for k, v in missing.items() if k in sch}),
    )
    return stu, sch, paths, folder


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_pisa_file_knows_its_scales_weights_replicates(pisa, cache):
    stu, sch, (s, c), _ = pisa
    sdf = pywemix.read_survey(s, school=c, cache=cache)
    assert sdf.survey == "PISA"  # detected from W_FSTUWT
    assert set(sdf.plausible_values) == {"math", "read", "mccr", "flit"}
    assert sdf.plausible_values["math"] == [f"PV{k}MATH" for k in range(1, 11)]
    assert sdf.weights.columns == ("W_FSTUWT", "W_SCHGRNRABWT") and not sdf.weights.conditional
    rep = sdf.replicates
    assert rep.method == "fay" and rep.fay == 0.5 and rep.full_weight == "W_FSTUWT"
    assert rep.columns == [f"W_FSTURWT{r}" for r in range(1, 81)]
    assert sdf.school_key == ("CNT", "CNTSCHID") and sdf.country == "CNT"
    assert sdf.loaded == [] and len(sdf) == len(stu)


def test_reads_only_the_columns_asked_for_in_one_pass(pisa, cache, monkeypatch):
    import pyreadstat

    calls = []
    real = pyreadstat.read_sav

    def spy(path, **kw):
        calls.append(kw)
        return real(path, **kw)

    monkeypatch.setattr(pyreadstat, "read_sav", spy)
    stu, sch, (s, c), _ = pisa
    sdf = pywemix.read_survey(s, school=c, cache=cache)
    reads = [k["usecols"] for k in calls if not k.get("metadataonly")]
    assert reads == []
    sdf.get_data(["escs", "math"])
    reads = [k["usecols"] for k in calls if not k.get("metadataonly")]
    student_reads = [r for r in reads if "ESCS" in r]
    assert len(student_reads) == 1
    assert set(student_reads[0]) == {"ESCS", "CNT", "CNTSCHID"} | {
        f"PV{k}MATH" for k in range(1, 11)
    }


def test_values_labels_missing_codes_and_merge(pisa, cache):
    stu, sch, (s, c), _ = pisa
    sdf = pywemix.read_survey(s, school=c, cache=cache)
    d = sdf.get_data(["st004d01t", "escs", "cntschid", "W_SCHGRNRABWT", "sc013q01ta", "pv3read"])
    sex = d["ST004D01T"]
    assert sex.dtype.ordered and list(sex.cat.categories) == ["Female", "Male"]
    assert sex.isna().sum() == 3  # the user-missing code 7
    assert sex.iloc[3:].tolist() == stu["ST004D01T"].iloc[3:].map({1: "Female", 2: "Male"}).tolist()
    escs = d["ESCS"]  # partly labelled: stays numeric
    assert escs.dtype == float and escs.isna().sum() == 2
    np.testing.assert_array_equal(escs.iloc[5:], stu["ESCS"].iloc[5:])
    assert d["CNTSCHID"].dtype == "int64"  # whole numbers as integers
    merged = stu[["CNT", "CNTSCHID"]].merge(sch, on=["CNT", "CNTSCHID"], how="left")
    np.testing.assert_allclose(d["W_SCHGRNRABWT"], merged["W_SCHGRNRABWT"])
    public = merged["SC013Q01TA"].map({1: "Public", 2: "Private"})
    assert d["SC013Q01TA"].tolist() == public.tolist()
    np.testing.assert_allclose(d["PV3READ"], stu["PV3READ"])


def test_names_as_given_and_scale_names(pisa, cache):
    _, _, (s, c), _ = pisa
    sdf = pywemix.read_survey(s, school=c, cache=cache, columns=["escs", "math"])
    assert set(sdf.loaded) >= {"ESCS", "PV1MATH", "CNT", "CNTSCHID"}
    d = sdf.get_data(["Math", "escs", "cntschid"], names_as_given=True)
    assert list(d.columns) == [f"PV{k}MATH" for k in range(1, 11)] + ["escs", "cntschid"]
    cols = sdf.columns_for(["math", "escs"])
    assert cols[:11] == [f"PV{k}MATH" for k in range(1, 11)] + ["ESCS"]
    assert {"W_FSTUWT", "W_SCHGRNRABWT", "W_FSTURWT80", "CNT", "CNTSCHID"} <= set(cols)


def test_survey_data_in_memory_equals_the_file(pisa, cache):
    stu, sch, (s, c), _ = pisa
    from_file = pywemix.read_survey(s, school=c, cache=cache).get_data(["math", "W_SCHGRNRABWT"])
    mem = pywemix.survey_data(stu, survey="pisa", school=sch)
    assert mem.plausible_values == pywemix.read_survey(s, cache=cache).plausible_values
    pd.testing.assert_frame_equal(
        mem.get_data(["math", "W_SCHGRNRABWT"]), from_file, check_dtype=False
    )
    assert mem.data is stu


def test_overrides(pisa, cache):
    stu, _, (s, _), _ = pisa
    sdf = pywemix.read_survey(
        s,
        cache=cache,
        plausible_values={"m": ["pv1math", "pv2math"]},
        weights=["w_fstuwt", None],
        cond_weights=True,
        replicates=False,
    )
    assert sdf.plausible_values == {"m": ["PV1MATH", "PV2MATH"]}
    assert sdf.weights.columns == ("W_FSTUWT", None) and sdf.weights.conditional
    assert sdf.replicates is None
    plain = pywemix.read_survey(s, survey=False, cache=cache)
    assert plain.survey is None and plain.plausible_values == {} and plain.replicates is None


def test_weight_missing_without_the_school_file(pisa, cache):
    _, _, (s, _), _ = pisa
    sdf = pywemix.read_survey(s, cache=cache)
    assert sdf.weights.columns == ("W_FSTUWT", None) and not sdf.weights.complete
    assert "W_SCHGRNRABWT or W_FSCHWT" in str(sdf.describe())


def test_describe_text_html_dict(pisa, cache):
    _, _, (s, c), _ = pisa
    sdf = pywemix.read_survey(s, school=c, cache=cache)
    text = str(sdf.describe())
    for part in (
        "PISA data",
        "math",
        "PV1MATH .. PV10MATH",
        "W_FSTUWT",
        "W_SCHGRNRABWT",
        "Fay's BRR, 80 replicates, k = 0.5",
        "merged on CNT + CNTSCHID",
        "total weights, not conditional",
    ):
        assert part in text
    html = sdf._repr_html_()
    assert "<table>" in html and "PV1MATH .. PV10MATH" in html
    info = sdf.describe().to_dict()
    assert info["scales"]["flit"][0] == "PV1FLIT" and info["default_scale"] == "math"


@pytest.mark.parametrize("ext", [".dta", ".csv", ".parquet"])
def test_other_formats_read_alike(pisa, tmp_path, ext):
    stu, sch, (s, _), _ = pisa
    small = stu.iloc[:, :60]
    path = write(small, tmp_path / f"stu{ext}", {"ST004D01T": {1.0: "Female", 2.0: "Male"}})
    sdf = pywemix.read_survey(path, survey="PISA", cache=tmp_path / "c", replicates=False)
    assert sdf.plausible_values["math"][0] == "PV1MATH"
    d = sdf.get_data(["pv1math", "escs"])
    np.testing.assert_allclose(d["PV1MATH"], small["PV1MATH"])


def test_sas_transport_file(tmp_path):
    df = pd.DataFrame({"SCHID": [1.0, 1, 2, 2], "Y": [1.0, 2, 3, 4], "W": [1.0, 2, 1, 2]})
    path = write(df, tmp_path / "d.xpt")
    sdf = pywemix.read_survey(path, survey=False, cache=False, weights=["w"])
    assert sdf.get_data(["y", "schid"])["SCHID"].tolist() == [1, 1, 2, 2]


# -- the other surveys ----------------------------------------------------------


def test_timss_scales_weights_and_jk2(tmp_path):
    stu, sch, labels, missing = iea_frames()
    s = write(stu, tmp_path / "bsg.sav", labels, missing)
    c = write(sch, tmp_path / "bcg.sav")
    sdf = pywemix.read_survey(s, school=c, cache=tmp_path / "c")
    assert sdf.survey == "TIMSS"
    assert set(sdf.plausible_values) == {"mmat", "ssci", "malg"}  # not the benchmarks
    assert sdf.plausible_values["mmat"] == [f"BSMMAT{k:02d}" for k in range(1, 6)]
    assert sdf.weights.columns == ("TOTWGT", "SCHWGT") and sdf.weights.derived == ()
    assert sdf.school_key == ("IDCNTRY", "IDSCHOOL")
    rep = sdf.replicates
    expected = pywemix.jackknife_weights(stu, "JKZONE", "JKREP", "TOTWGT")
    assert rep.method == "jk2"
    np.testing.assert_allclose(rep.frame.to_numpy(), expected.to_numpy())
    d = sdf.get_data(["schwgt", "itsex"])
    want = stu.merge(sch, on=["IDCNTRY", "IDSCHOOL"], how="left")["SCHWGT"]
    np.testing.assert_allclose(d["SCHWGT"], want)
    assert d["ITSEX"].isna().sum() == 1


def test_timss_school_weight_from_its_factors(tmp_path):
    stu, sch, labels, missing = iea_frames()
    sdf = pywemix.survey_data(stu, survey="TIMSS")
    assert sdf.weights.columns == ("TOTWGT", "SCHWGT")
    assert sdf.weights.derived == (("SCHWGT", ("WGTFAC1", "WGTADJ1")),)
    got = sdf.get_data(["schwgt"])["SCHWGT"]
    want = stu.merge(sch, on=["IDCNTRY", "IDSCHOOL"], how="left")["SCHWGT"]
    np.testing.assert_allclose(got, want)
    assert "SCHWGT = WGTFAC1 x WGTADJ1" in str(sdf.describe())


def test_pirls_stata_file(tmp_path):
    stu, _, labels, _ = iea_frames(seed=5, grade="A", subjects=("RREA", "RLIT"))
    s = write(stu, tmp_path / "asg.dta", labels)
    sdf = pywemix.read_survey(s, cache=tmp_path / "c")
    assert sdf.survey == "PIRLS" and set(sdf.plausible_values) == {"rrea", "rlit"}
    assert sdf.describe().info["default_scale"] == "rrea"


def test_talis_csv(tmp_path):
    t, sch, _, _ = talis_frames()
    s = write(t, tmp_path / "btg.csv")
    c = write(sch, tmp_path / "bcg.csv")
    sdf = pywemix.read_survey(s, school=c, cache=tmp_path / "c")
    assert sdf.survey == "TALIS" and sdf.plausible_values == {}
    assert sdf.weights.columns == ("TCHWGT", "SCHWGT")
    assert sdf.replicates.n_replicates == 100 and sdf.replicates.full_weight == "TCHWGT"
    np.testing.assert_allclose(
        sdf.get_data(["schwgt"])["SCHWGT"], t.merge(sch, how="left")["SCHWGT"]
    )


def test_naep_names_labels_and_school_key(tmp_path):
    stu, sch, labels, _ = naep_frames()
    s = write(stu, tmp_path / "naep.parquet")
    c = write(sch, tmp_path / "naep_sch.parquet")
    sdf = pywemix.read_survey(s, school=c)
    assert sdf.survey == "NAEP"
    assert sdf.plausible_values == {
        "composite": [f"MRPCM{k}" for k in range(1, 6)],
        "sca": [f"MRPSCA{k}" for k in range(1, 6)],
    }
    assert sdf.school_key == ("SCRPSU",) and sdf.weights.columns == ("ORIGWT", "SMSRSWT")
    assert sdf.replicates.method == "jk2" and sdf.replicates.n_replicates == 62
    np.testing.assert_allclose(
        sdf.get_data(["smsrswt"])["SMSRSWT"],
        stu.merge(sch, left_on="SCRPSU", right_on="SSCRPSU")["SMSRSWT"],
    )
    labelled = write(
        stu.iloc[:, :80],
        tmp_path / "naep.sav",
        labels,
        column_labels={k: NAEP_LABELS.get(k) for k in stu.columns[:80]},
    )
    by_label = pywemix.read_survey(labelled, survey="NAEP", cache=False, replicates=False)
    assert set(by_label.plausible_values) == {"composite", "num_oper"}


def test_parquet_folder_as_dask_equals_pandas(tmp_path):
    pytest.importorskip("dask.dataframe")
    stu, sch, _, _ = pisa_frames(seed=9)
    folder = tmp_path / "parts"
    folder.mkdir()
    small = stu.iloc[:, :70]
    for i, part in enumerate(np.array_split(np.arange(len(small)), 3)):
        small.iloc[part].to_parquet(folder / f"part{i}.parquet", index=False)
    school = write(sch, tmp_path / "sch.parquet")
    lazy = pywemix.read_survey(folder, school=school, replicates=False)
    eager = pywemix.read_survey(folder, school=school, replicates=False, backend="pandas")
    got = lazy.get_data(["math", "w_schgrnrabwt"])
    assert type(got).__module__.startswith("dask")
    pd.testing.assert_frame_equal(
        got.compute().reset_index(drop=True), eager.get_data(["math", "w_schgrnrabwt"])
    )
    partial = write(sch.iloc[1:], tmp_path / "sch1.parquet")
    lost = int((small["CNTSCHID"] == sch["CNTSCHID"].iloc[0]).sum())
    with pytest.raises(ValueError, match=f"{lost} rows of 'parts' find no school"):
        pywemix.read_survey(folder, school=partial, replicates=False).get_data(["W_SCHGRNRABWT"])


# -- bad files -------------------------------------------------------------------


def test_student_without_a_school(pisa, tmp_path):
    stu, sch, _, _ = pisa
    c = write(sch.iloc[1:], tmp_path / "sch.sav")
    s = write(stu.iloc[:, :30], tmp_path / "stu.sav")
    sdf = pywemix.read_survey(s, school=c, cache=False, replicates=False)
    lost = int((stu["CNTSCHID"] == sch["CNTSCHID"].iloc[0]).sum())
    with pytest.raises(
        ValueError,
        match=rf"{lost} rows of 'stu.sav' find no school in 'sch.sav' "
        r"on CNT, CNTSCHID: 1 key\(s\) without a match, "
        r"\('AAA', 1000\)",
    ):
        sdf.get_data(["escs"])
    with pytest.raises(ValueError, match="find no school"):
        pywemix.survey_data(stu, survey="PISA", school=sch.iloc[1:])


def test_duplicate_school_keys(pisa):
    stu, sch, _, _ = pisa
    twice = pd.concat([sch, sch.iloc[[2]]], ignore_index=True)
    with pytest.raises(
        ValueError,
        match=r"2 rows sharing 1 school key\(s\) \(CNT, CNTSCHID\): "
        r"\('AAA', 1002\)",
    ):
        pywemix.survey_data(stu, survey="PISA", school=twice)


def test_no_school_key(pisa):
    stu, sch, _, _ = pisa
    with pytest.raises(ValueError, match="no school key .*CNT\\+CNTSCHID.* pass school_key="):
        pywemix.survey_data(stu, survey="PISA", school=sch.drop(columns="CNTSCHID"))
    ok = pywemix.survey_data(
        stu.rename(columns={"CNTSCHID": "SCH"}),
        survey="PISA",
        school=sch,
        school_key=["CNT", ("SCH", "CNTSCHID")],
    )
    assert ok.school_key == ("CNT", "SCH")


def test_scale_with_one_plausible_value(pisa):
    stu = pisa[0].drop(columns=[f"PV{k}FLIT" for k in range(2, 11)])
    with pytest.raises(
        ValueError,
        match="scale 'flit' has one plausible value only "
        r"\('PV1FLIT'",
    ):
        pywemix.survey_data(stu, survey="PISA")
    gap = pisa[0].drop(columns=["PV4READ"])
    with pytest.raises(ValueError, match=r"scale 'read' lacks plausible value\(s\) \[4\]"):
        pywemix.survey_data(gap, survey="PISA")
    with pytest.raises(ValueError, match="needs a list of two or more"):
        pywemix.survey_data(stu, survey="PISA", plausible_values={"x": ["PV1MATH"]})


def test_replicate_columns_missing(pisa):
    stu = pisa[0].drop(columns=["W_FSTURWT7", "W_FSTURWT80"])
    with pytest.raises(
        ValueError,
        match=r"2 of its 80 replicate weight columns are not in "
        r"the data \(W_FSTURWT7, W_FSTURWT80\)",
    ):
        pywemix.survey_data(stu, survey="PISA")
    assert pywemix.survey_data(stu, survey="PISA", replicates=False).replicates is None
    timss = iea_frames()[0].drop(columns="JKREP")
    with pytest.raises(
        ValueError,
        match=r"builds JK2 replicate weights from JKZONE, JKREP, "
        r"TOTWGT, but JKREP is not in the data",
    ):
        pywemix.survey_data(timss, survey="TIMSS")


def test_unknown_and_ambiguous_columns(pisa):
    sdf = pywemix.survey_data(pisa[0], survey="PISA")
    with pytest.raises(ValueError, match="column 'escz' is not in the data; did you mean ESCS"):
        sdf.get_data(["escz"])
    both = pd.DataFrame({"x": [1.0], "X": [2.0]})
    sdf = pywemix.survey_data(both, survey=False)
    assert sdf.get_data(["X"])["X"].tolist() == [2.0]
    with pytest.raises(ValueError, match="matches several columns"):
        pywemix.survey_data(pd.DataFrame({"ab": [1.0], "AB": [2.0]}), survey=False).get_data(["Ab"])
    with pytest.raises(ValueError, match="unknown survey preset 'PIZA'; known: PISA"):
        pywemix.survey_data(both, survey="PIZA")


@pytest.mark.parametrize("ext", [".sav", ".parquet"])
def test_bad_files_on_disk_name_the_key_or_column(pisa, tmp_path, ext):
    """The errors above, from files read by ``read_survey`` (the model's
    columns only: a few of the thousand unused ones)."""
    stu, sch, _, _ = pisa
    keep = [c for c in stu.columns if not c.startswith("Q")][:40] + ["Q0001"]
    keep += [c for c in stu.columns if c.startswith("W_FSTURWT") and c not in keep]
    stu = stu[keep]
    s = write(stu, tmp_path / f"stu{ext}")
    twice = write(pd.concat([sch, sch.iloc[[2]]], ignore_index=True), tmp_path / f"dup{ext}")
    sdf = pywemix.read_survey(s, school=twice, cache=False, replicates=False)
    with pytest.raises(
        ValueError,
        match=rf"school file 'dup{ext}' has 2 rows sharing 1 school "
        r"key\(s\) \(CNT, CNTSCHID\): \('AAA', 1002\)",
    ):
        pywemix.mix("pv1math ~ escs + (1|cntschid)", sdf)
    one = write(
        stu.drop(
            columns=[c for c in stu if c.startswith("PV") and c != "PV1MATH" and c.endswith("MATH")]
        ),
        tmp_path / f"one{ext}",
    )
    with pytest.raises(
        ValueError,
        match=rf"scale 'math' has one plausible value only "
        rf"\('PV1MATH' in 'one{ext}'\)",
    ):
        pywemix.read_survey(one, survey="PISA", cache=False)
    part = write(stu.drop(columns=["W_FSTURWT3"]), tmp_path / f"part{ext}")
    with pytest.raises(
        ValueError,
        match=rf"1 of its 80 replicate weight columns are not in "
        rf"'part{ext}' \(W_FSTURWT3\)",
    ):
        pywemix.read_survey(part, survey="PISA", cache=False)
