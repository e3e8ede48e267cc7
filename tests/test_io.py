"""``pywemix.read_data``: CSV, TSV, Parquet, SPSS and Stata files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pywemix

from conftest import quiet_mix as _quiet_mix

# code order differs from the alphabetical order on purpose
AGREE = {1.0: "Strongly agree", 2.0: "Agree", 3.0: "Disagree", 4.0: "Strongly disagree"}
SEX = {1.0: "Male", 2.0: "Female"}


@pytest.fixture(scope="module")
def coded():
    """Numeric codes, as survey files store them."""
    rng = np.random.default_rng(2)
    n_groups, size = 25, 8
    g = np.repeat(np.arange(1, n_groups + 1), size)
    n = g.size
    agree = rng.integers(1, 5, n).astype(float)
    sex = rng.integers(1, 3, n).astype(float)
    x = rng.normal(size=n)
    y = (
        500
        + 20 * x
        - 5 * agree
        + 8 * (sex == 1)
        + rng.normal(scale=30, size=n_groups)[g - 1]
        + rng.normal(scale=60, size=n)
    )
    return pd.DataFrame(
        {
            "schoolid": g.astype(float),
            "x": x,
            "agree": agree,
            "sex": sex,
            "partly": rng.integers(1, 4, n).astype(float),
            "w1": rng.uniform(1, 3, n),
            "w2": rng.uniform(5, 50, n_groups)[g - 1],
            "y": y,
        }
    )


@pytest.fixture(scope="module")
def labelled(coded):
    """What reading the labelled file should give."""
    df = coded.copy()
    df["agree"] = pd.Categorical(df["agree"].map(AGREE), categories=list(AGREE.values()))
    df["sex"] = pd.Categorical(df["sex"].map(SEX), categories=list(SEX.values()))
    return df


FORMULA = "y ~ x + agree + sex + (1|schoolid)"


def _same_fit(a, b):
    assert list(a.params.index) == list(b.params.index)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(a.bse.to_numpy(), b.bse.to_numpy(), rtol=1e-8)
    assert a.llf == pytest.approx(b.llf, rel=1e-12)


# -- text files ------------------------------------------------------------------------


@pytest.mark.parametrize("ext, sep", [(".csv", ","), (".txt", ","), (".tsv", "\t")])
def test_text_files(tmp_path, coded, ext, sep):
    path = tmp_path / f"data{ext}"
    coded.to_csv(path, sep=sep, index=False)
    got = pywemix.read_data(path)
    pd.testing.assert_frame_equal(got, coded, check_exact=False, rtol=1e-14)
    assert_str = pywemix.read_data(str(path))  # str paths, too
    pd.testing.assert_frame_equal(assert_str, got)


def test_csv_fit_equals_original(tmp_path, labelled):
    path = tmp_path / "data.csv"
    labelled.to_csv(path, index=False)
    got = pywemix.read_data(path)
    # strings come back; pywemix sorts them, so give the original the same order
    orig = labelled.assign(agree=labelled["agree"].astype(str), sex=labelled["sex"].astype(str))
    _same_fit(
        _quiet_mix(FORMULA, got, ["w1", "w2"], cond_weights=True),
        _quiet_mix(FORMULA, orig, ["w1", "w2"], cond_weights=True),
    )


def test_read_csv_keyword_arguments(tmp_path, coded):
    path = tmp_path / "data.csv"
    coded.to_csv(path, index=False, sep=";")
    got = pywemix.read_data(path, sep=";")
    assert list(got.columns) == list(coded.columns)


def test_parquet(tmp_path, labelled):
    pytest.importorskip("pyarrow")
    path = tmp_path / "data.parquet"
    labelled.to_parquet(path)
    got = pywemix.read_data(path)
    pd.testing.assert_frame_equal(got, labelled)
    assert list(got["agree"].cat.categories) == list(AGREE.values())
    _same_fit(
        _quiet_mix(FORMULA, got, ["w1", "w2"], cond_weights=True),
        _quiet_mix(FORMULA, labelled, ["w1", "w2"], cond_weights=True),
    )


# -- SPSS and Stata -----------------------------------------------------------------------


def _write(pyreadstat, kind, df, path, labels):
    if kind == "sav":
        pyreadstat.write_sav(df, str(path), variable_value_labels=labels)
    else:
        pyreadstat.write_dta(df, str(path), variable_value_labels=labels)


@pytest.mark.parametrize("kind", ["sav", "dta"])
def test_labelled_round_trip(tmp_path, coded, labelled, kind):
    pyreadstat = pytest.importorskip("pyreadstat")
    path = tmp_path / f"data.{kind}"
    # 'partly' has labels for codes 1 and 2 only: it keeps its raw values
    labels = {"agree": AGREE, "sex": SEX, "partly": {1.0: "one", 2.0: "two"}}
    src = coded.copy()
    if kind == "dta":  # Stata value labels need integer columns and codes
        for c in ("agree", "sex", "partly"):
            src[c] = src[c].astype("int32")
        labels = {c: {int(k): v for k, v in m.items()} for c, m in labels.items()}
    _write(pyreadstat, kind, src, path, labels)
    got = pywemix.read_data(path)
    assert list(got.columns) == list(coded.columns)
    for col, mapping in (("agree", AGREE), ("sex", SEX)):
        assert isinstance(got[col].dtype, pd.CategoricalDtype), col
        assert list(got[col].cat.categories) == list(mapping.values()), col  # code order
        assert list(got[col].astype(str)) == list(labelled[col].astype(str)), col
    assert not isinstance(got["partly"].dtype, pd.CategoricalDtype)
    np.testing.assert_array_equal(got["partly"].to_numpy(dtype=float), coded["partly"].to_numpy())
    for c in ("schoolid", "x", "w1", "w2", "y"):
        np.testing.assert_allclose(
            got[c].to_numpy(dtype=float), coded[c].to_numpy(), rtol=1e-15, err_msg=c
        )
    # the first code is the reference level of the fit
    fit = _quiet_mix(FORMULA, got, ["w1", "w2"], cond_weights=True)
    assert "agree[T.Agree]" in fit.params.index
    assert "agree[T.Strongly agree]" not in fit.params.index
    assert "sex[T.Female]" in fit.params.index
    _same_fit(fit, _quiet_mix(FORMULA, labelled, ["w1", "w2"], cond_weights=True))


def test_label_for_code_not_present(tmp_path, coded):
    """Labels of codes that never occur do not become categories."""
    pyreadstat = pytest.importorskip("pyreadstat")
    path = tmp_path / "data.sav"
    labels = {"sex": {**SEX, 9.0: "Missing"}}
    pyreadstat.write_sav(coded, str(path), variable_value_labels=labels)
    got = pywemix.read_data(path)
    assert list(got["sex"].cat.categories) == ["Male", "Female"]


# -- whole numbers from SPSS, SAS and Stata stay integers ----------------------------------


def _ids_frame():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(1, 13), 6)
    n = g.size
    return pd.DataFrame(
        {
            "schoolid": g.astype(float),  # stored as doubles
            "student": np.arange(1, n + 1, dtype=float) * 1000,
            "withmissing": np.where(np.arange(n) % 7 == 0, np.nan, 99999.0),
            "x": rng.normal(size=n),  # not whole numbers
            "half": np.where(np.arange(n) % 2 == 0, 1.0, 1.5),
            "y": rng.normal(500, 80, size=n) + rng.normal(0, 40, 12)[g - 1],
        }
    )


@pytest.mark.parametrize("kind", ["sav", "dta"])
def test_whole_number_columns_read_as_integers(tmp_path, kind):
    pyreadstat = pytest.importorskip("pyreadstat")
    src = _ids_frame()
    path = tmp_path / f"ids.{kind}"
    (pyreadstat.write_sav if kind == "sav" else pyreadstat.write_dta)(src, str(path))
    got = pywemix.read_data(path)
    assert got["schoolid"].dtype == np.int64 and got["student"].dtype == np.int64
    assert got["withmissing"].dtype == pd.Int64Dtype()
    assert got["withmissing"].isna().sum() == src["withmissing"].isna().sum()
    assert got["x"].dtype == np.float64 and got["half"].dtype == np.float64
    for c in src.columns:
        np.testing.assert_array_equal(
            got[c].to_numpy(dtype=float, na_value=np.nan), src[c].to_numpy(), err_msg=c
        )
    # ids print as integers in the random effects, not as "1.0"
    fit = _quiet_mix("y ~ x + (1|schoolid)", got)
    labels = [str(k) for k in fit.ranef()["schoolid"].index]
    assert labels[:3] == ["1", "2", "3"]
    # a nullable integer column with missing values is a usable predictor
    with_na = _quiet_mix(
        "y ~ x + withmissing + (1|schoolid)",
        got.assign(withmissing=got["withmissing"] // 99999 * np.arange(len(got))),
    )
    assert with_na.nobs == int(got["withmissing"].notna().sum())


def test_whole_numbers_in_csv_are_left_alone(tmp_path):
    """Only the formats that store every number as a double are converted."""
    src = _ids_frame()
    path = tmp_path / "ids.csv"
    src.to_csv(path, index=False)
    got = pywemix.read_data(path)
    assert got["withmissing"].dtype == np.float64
    assert got["student"].dtype == np.float64  # pandas reads "1000.0" as a float


def test_bad_id_message_names_an_integer(tmp_path):
    """Errors that quote ids quote them as the file has them: 99999, not 99999.0."""
    pyreadstat = pytest.importorskip("pyreadstat")
    src = _ids_frame().assign(schoolid=lambda d: np.where(d.index < 6, 99999.0, d["schoolid"]))
    path = tmp_path / "ids.sav"
    pyreadstat.write_sav(src, str(path))
    got = pywemix.read_data(path)
    got["w2"] = np.where(got.index == 0, 2.0, 1.0)  # school weight not constant in 99999
    with pytest.raises(ValueError, match=r"99999(?!\.0)"):
        pywemix.mix("y ~ x + (1|schoolid)", got, [None, "w2"])


# -- missing packages: the message names the package ----------------------------------------


@pytest.mark.parametrize(
    "name, package",
    [("data.parquet", "pyarrow"), ("data.sav", "pyreadstat"), ("data.dta", "pyreadstat")],
)
def test_missing_reader_package_is_named(tmp_path, monkeypatch, name, package):
    path = tmp_path / name
    path.write_bytes(b"anything")
    monkeypatch.setitem(__import__("sys").modules, package, None)  # import fails
    with pytest.raises(ImportError, match=rf"needs the package {package}.*pywemix\[files\]"):
        pywemix.read_data(path)


# -- errors ----------------------------------------------------------------------------------


def test_unknown_extension(tmp_path, coded):
    path = tmp_path / "data.xlsx"
    path.write_text("not really a spreadsheet")
    with pytest.raises(ValueError, match="unknown data file type '.xlsx'"):
        pywemix.read_data(path)
    noext = tmp_path / "data"
    noext.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="unknown data file type"):
        pywemix.read_data(noext)


@pytest.mark.parametrize("name", ["missing.csv", "missing.sav", "missing.xlsx"])
def test_missing_file(tmp_path, name):
    with pytest.raises(FileNotFoundError, match="no such data file"):
        pywemix.read_data(tmp_path / name)


@pytest.mark.parametrize(
    "name, sep",
    [
        ("data.csv.gz", ","),
        ("data.tsv.gz", "\t"),
        ("data.csv.zip", ","),
        ("data.txt.bz2", ","),
        ("data.CSV.GZ", ","),
    ],
)
def test_compressed_text_files(tmp_path, coded, name, sep):
    path = tmp_path / name
    coded.to_csv(path, sep=sep, index=False)  # compressed as the extension says
    assert not path.read_bytes().startswith(b"schoolid")
    got = pywemix.read_data(path)
    pd.testing.assert_frame_equal(got, coded, check_exact=False, rtol=1e-14)


def test_compressed_non_text_file_is_refused(tmp_path):
    path = tmp_path / "data.parquet.gz"
    path.write_bytes(b"\x1f\x8b")
    with pytest.raises(ValueError, match="only CSV and TSV files may be compressed"):
        pywemix.read_data(path)


def test_directory_is_an_error(tmp_path):
    folder = tmp_path / "data.csv"
    folder.mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        pywemix.read_data(folder)


def test_empty_csv_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(ValueError, match=r"'.*empty\.csv' is empty"):
        pywemix.read_data(path)


@pytest.mark.parametrize("name", ["bad.sav", "bad.dta", "bad.parquet"])
def test_corrupt_file_is_an_error(tmp_path, name):
    pytest.importorskip("pyreadstat" if not name.endswith("parquet") else "pyarrow")
    path = tmp_path / name
    path.write_bytes(b"this is not a data file\n" * 4)
    with pytest.raises(ValueError, match=rf"cannot read '.*{name}'"):
        pywemix.read_data(path)


def test_path_of_wrong_type():
    with pytest.raises(TypeError, match="path must be a file name"):
        pywemix.read_data(3)
