"""Survey presets, command line and errors of the survey layer."""

import json

import numpy as np
import pandas as pd
import pytest
from survey_data import FORMULA, survey_sample

import pywemix
from pywemix.cli import main

from conftest import quiet_mix

COLS = [f"rw{i}" for i in range(1, 5)]


@pytest.fixture(scope="module")
def sample():
    return survey_sample(seed=5, n_schools=16, reps=4)


def test_pisa_preset_uses_the_fay_replicates_any_case():
    d = survey_sample(seed=6, n_schools=20, size=6, reps=64)
    # 80 PISA replicate columns (64 Hadamard columns and 16 repeated ones)
    for r in range(64, 80):
        d[f"rw{r + 1}"] = d[f"rw{r - 63}"]
    up = d.rename(columns={f"rw{r}": f"W_FSTURWT{r}" for r in range(1, 81)})
    up = up.rename(columns={"wt": "W_FSTUWT"})
    pre = quiet_mix(FORMULA, up, ["W_FSTUWT", "w2"], survey="PISA")
    low = up.rename(columns=str.lower)
    pre_low = quiet_mix(FORMULA, low, ["w_fstuwt", "w2"], survey="pisa")
    rep = pywemix.Replicates(
        [f"W_FSTURWT{r}" for r in range(1, 81)], method="fay", fay=0.5, full_weight="W_FSTUWT"
    )
    explicit = quiet_mix(FORMULA, up, ["W_FSTUWT", "w2"], survey="PISA", replicates=rep)
    np.testing.assert_allclose(pre.cov_params(), explicit.cov_params(), rtol=1e-12)
    np.testing.assert_allclose(pre_low.cov_params(), explicit.cov_params(), rtol=1e-12)
    assert "Fay's BRR, 80 replicates, k = 0.5" in str(pre.summary())
    plain = quiet_mix(FORMULA, up, ["W_FSTUWT", "w2"], survey="PISA", replicates=False)
    assert isinstance(plain, pywemix.MixResult)


def test_timss_preset_uses_jk2(sample):
    up = sample.rename(columns={"jkzone": "JKZONE", "jkrep": "JKREP", "wt": "TOTWGT"})
    pre = quiet_mix(FORMULA, up, ["TOTWGT", "w2"], survey="TIMSS")
    jk = pywemix.jackknife_weights(up, "JKZONE", "JKREP", "TOTWGT")
    explicit = quiet_mix(
        FORMULA,
        up,
        ["TOTWGT", "w2"],
        survey="TIMSS",
        replicates=pywemix.Replicates(jk, method="jk2"),
    )
    np.testing.assert_allclose(pre.cov_params(), explicit.cov_params(), rtol=1e-12)
    assert "JK2 jackknife" in pre.method
    bad = up.assign(JKREP=1)
    with pytest.raises(ValueError, match="zones without a pair.*replicates=False"):
        quiet_mix(FORMULA, bad, ["TOTWGT", "w2"], survey="TIMSS")
    assert isinstance(
        quiet_mix(FORMULA, bad, ["TOTWGT", "w2"], survey="TIMSS", replicates=False),
        pywemix.MixResult,
    )
    # without any of the columns the preset gives the sandwich, saying so (issue 19)
    with pytest.warns(
        pywemix.SurveyWarning,
        match="none of the preset's jackknife columns "
        r"\(JKZONE, JKREP, TOTWGT\)",
    ):
        plain = pywemix.mix(
            FORMULA,
            sample.drop(columns=["jkzone", "jkrep"]),
            ["wt", "w2"],
            survey="TIMSS",
            weight_scaling="none",
        )
    assert isinstance(plain, pywemix.MixResult) and plain.default_kind == "robust"
    # with only some of them nothing sensible remains: an error naming the missing ones
    with pytest.raises(ValueError, match="JKZONE, TOTWGT are not in the data"):
        quiet_mix(FORMULA, sample.drop(columns="jkzone"), ["wt", "w2"], survey="TIMSS")


def test_cli_replicates_and_by(sample, tmp_path, capsys):
    path = tmp_path / "s.csv"
    sample.assign(cnt=sample["school"] % 2).to_csv(path, index=False)
    assert (
        main(
            [
                "fit",
                FORMULA,
                str(path),
                "--weights",
                "wt",
                "w2",
                "--replicates",
                "rw1-4",
                "--replicate-method",
                "fay",
                "--full-weight",
                "wt",
                "--json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    r = quiet_mix(
        FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates(COLS, full_weight="wt")
    )
    assert out["bse"]["x"] == pytest.approx(r.bse["x"], rel=1e-10)
    assert main(["fit", FORMULA, str(path), "--weights", "wt", "w2", "--by", "cnt"]) == 0
    assert "cnt = 1" in capsys.readouterr().out
    assert main(["fit", FORMULA, str(path), "--weights", "wt", "w2", "--by", "cnt", "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["fits"]) == {"0", "1"}


def _fit(data, rep):
    return quiet_mix(FORMULA, data, ["wt", "w2"], replicates=rep)


def test_bad_replicate_columns(sample):
    with pytest.raises(ValueError, match="replicate weight column 'rw9' is not in the data"):
        _fit(sample, pywemix.Replicates(COLS + ["rw9"]))
    bad = sample.assign(rw2=-sample["rw2"])
    with pytest.raises(ValueError, match="'rw2' has .* negative"):
        _fit(bad, pywemix.Replicates(COLS))
    bad = sample.copy()
    bad.loc[4, "rw3"] = np.nan
    with pytest.raises(ValueError, match="'rw3' has 1 missing or infinite"):
        _fit(bad, pywemix.Replicates(COLS))
    bad = sample.copy()
    bad.loc[4, "rw3"] = np.inf
    with pytest.raises(ValueError, match="'rw3' has 1 missing or infinite"):
        _fit(bad, pywemix.Replicates(COLS))
    bad = sample.assign(full=sample["wt"])
    bad.loc[0, "full"] = 0.0
    with pytest.raises(
        ValueError, match="'rw1' is positive in 1 rows where the full-sample weight 'full' is 0"
    ):
        _fit(bad, pywemix.Replicates(COLS, full_weight="full"))
    with pytest.raises(ValueError, match="full-sample weight column 'nope'"):
        _fit(sample, pywemix.Replicates(COLS, full_weight="nope"))
    with pytest.raises(ValueError, match="full_weight"):
        quiet_mix(FORMULA, sample, replicates=pywemix.Replicates(COLS))


def test_bad_replicate_arguments(sample):
    with pytest.raises(ValueError, match="unknown replicate method 'jk3'"):
        pywemix.Replicates(COLS, method="jk3")
    with pytest.raises(ValueError, match="fay must be in"):
        pywemix.Replicates(COLS, fay=1.0)
    with pytest.raises(ValueError, match="scale must be a positive"):
        pywemix.Replicates(COLS, scale=-1)
    with pytest.raises(ValueError, match="at least two"):
        pywemix.Replicates(["rw1"])
    with pytest.raises(ValueError, match="repeated"):
        pywemix.Replicates(["rw1", "rw1"])
    with pytest.raises(ValueError, match="'all' or 'first'"):
        pywemix.Replicates(COLS, plausible_values="last")
    with pytest.raises(ValueError, match="reml=True needs unit weights"):
        quiet_mix(FORMULA, sample, replicates=pywemix.Replicates(COLS, full_weight="wt"), reml=True)
    with pytest.raises(TypeError, match="replicates must be a pywemix.Replicates"):
        quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=COLS)
    assert pywemix.Replicates("rw1-4").columns == COLS


def test_jackknife_weights_errors(sample):
    bad = sample.copy()
    bad.loc[bad["jkzone"] == 2, "jkrep"] = 1
    with pytest.raises(ValueError, match="zones without a pair in 'jkzone'.*\\[2\\]"):
        pywemix.jackknife_weights(bad, weight="wt")
    bad = sample.assign(jkrep=sample["jkrep"] + 1)
    with pytest.raises(ValueError, match="'jkrep' must hold 0 and 1"):
        pywemix.jackknife_weights(bad, weight="wt")
    with pytest.raises(ValueError, match="total weight column 'totwgt' is not in the data"):
        pywemix.jackknife_weights(sample)
    bad = sample.copy()
    bad.loc[0, "jkzone"] = np.nan
    with pytest.raises(ValueError, match="'jkzone' has 1 missing"):
        pywemix.jackknife_weights(bad, weight="wt")


def test_replicate_column_leaving_no_group(sample):
    # an all-zero replicate column has no estimate: refuse it, naming the column
    with pytest.raises(ValueError, match="replicate weight column 'rw3' is 0 in every row"):
        _fit(sample.assign(rw3=0.0), pywemix.Replicates(COLS, full_weight="wt"))


def test_jackknife_weights_join_by_label_whatever_the_row_order(sample):
    jk = pywemix.jackknife_weights(sample, weight="wt")
    rep = pywemix.Replicates(jk, method="jk2")
    base = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=rep)
    # data shuffled, replicate frame in the original order, and the reverse
    shuffled = sample.sample(frac=1, random_state=3)
    a = quiet_mix(FORMULA, shuffled, ["wt", "w2"], replicates=rep)
    b = quiet_mix(
        FORMULA,
        sample,
        ["wt", "w2"],
        replicates=pywemix.Replicates(jk.sample(frac=1, random_state=4), method="jk2"),
    )
    np.testing.assert_allclose(a.bse, base.bse, rtol=1e-8)
    np.testing.assert_allclose(b.bse, base.bse, rtol=1e-8)
    # a subset of the rows (e.g. one gender) reads its own rows' replicate weights
    sub = sample[sample["school"] != 0]
    c = quiet_mix(FORMULA, sub, ["wt", "w2"], replicates=rep)
    d = quiet_mix(
        FORMULA,
        pd.concat([sub, jk.loc[sub.index]], axis=1),
        ["wt", "w2"],
        replicates=pywemix.Replicates(list(jk.columns), method="jk2", full_weight="wt"),
    )
    np.testing.assert_allclose(c.bse, d.bse, rtol=1e-8)


def test_replicate_frames_need_a_unique_index(sample):
    dup = sample.set_axis(np.arange(len(sample)) // 2)
    with pytest.raises(ValueError, match="the data has repeated index labels"):
        pywemix.jackknife_weights(dup, weight="wt")
    jk = pywemix.jackknife_weights(sample, weight="wt")
    with pytest.raises(ValueError, match="replicate-weight DataFrame has repeated index"):
        pywemix.Replicates(jk.set_axis(np.arange(len(jk)) // 2), method="jk2")
    with pytest.raises(ValueError, match="the data's index has repeated labels"):
        _fit(dup, pywemix.Replicates(jk, method="jk2"))
    with pytest.raises(ValueError, match="not in the replicate-weight DataFrame"):
        _fit(sample.set_axis(np.arange(len(sample)) + 5), pywemix.Replicates(jk, method="jk2"))


# -- presets never fall back silently (issue 19) ----------------------------------------


@pytest.fixture(scope="module")
def pisa_reps():
    return pywemix.datasets.load_pisa_replicates()


PISA_FORMULA = "pv1math ~ escs + (1|schoolid)"


def _pisa(data, **kw):
    return pywemix.mix(PISA_FORMULA, data, ["pwt1", "pwt2"], cond_weights=True, survey="PISA", **kw)


def test_pisa_without_replicate_columns_warns_naming_them(pisa_reps):
    data = pisa_reps.drop(columns=[f"w_fsturwt{i}" for i in range(1, 81)])
    with pytest.warns(
        pywemix.SurveyWarning,
        match=r"none of the preset's replicate weight "
        r"columns \(W_FSTURWT1\.\.W_FSTURWT80\).*cluster-robust sandwich",
    ):
        r = _pisa(data)
    assert isinstance(r, pywemix.MixResult) and r.default_kind == "robust"
    assert any("W_FSTURWT1..W_FSTURWT80" in w for w in r.warnings)  # and in its summary
    assert "W_FSTURWT1..W_FSTURWT80" in str(r.summary())
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", pywemix.SurveyWarning)  # chosen: no warning
        assert isinstance(
            quiet_mix(
                PISA_FORMULA,
                data,
                ["pwt1", "pwt2"],
                cond_weights=True,
                survey="PISA",
                replicates=False,
            ),
            pywemix.MixResult,
        )


def test_pisa_with_some_replicate_columns_is_an_error(pisa_reps):
    data = pisa_reps.drop(columns=[f"w_fsturwt{i}" for i in range(41, 81)])
    with pytest.raises(
        ValueError,
        match=r"40 of its 80 replicate weight columns are not in "
        r"the data \(W_FSTURWT41\.\.W_FSTURWT80\)",
    ):
        _pisa(data)
    gap = pisa_reps.drop(columns=["w_fsturwt7", "w_fsturwt30", "w_fsturwt31"])
    with pytest.raises(ValueError, match=r"W_FSTURWT7, W_FSTURWT30\.\.W_FSTURWT31"):
        _pisa(gap)


def test_pisa_without_the_full_weight_uses_the_models_total_weight(pisa_reps):
    """``w_fstuwt`` is ``pwt1 * pwt2``, the model's total weight: the same variances."""
    full = quiet_mix(PISA_FORMULA, pisa_reps, ["pwt1", "pwt2"], cond_weights=True, survey="PISA")
    with pytest.warns(
        pywemix.SurveyWarning, match="full-sample weight W_FSTUWT is not in the data"
    ):
        without = _pisa(pisa_reps.drop(columns="w_fstuwt"))
    assert without.default_kind == "replicate"
    np.testing.assert_allclose(without.cov_params(), full.cov_params(), rtol=1e-8)


def test_timss_without_its_total_weight_is_an_error(pisa_reps):
    data = pisa_reps.drop(columns="totwgt")
    with pytest.raises(
        ValueError,
        match=r"builds JK2 replicate weights from JKZONE, JKREP, "
        r"TOTWGT, but TOTWGT is not in the data",
    ):
        pywemix.mix(PISA_FORMULA, data, ["w_fstuwt", "pwt2"], survey="TIMSS")
    with pytest.raises(ValueError, match="JKREP is not in the data"):
        pywemix.mix(
            PISA_FORMULA, pisa_reps.drop(columns="jkrep"), ["w_fstuwt", "pwt2"], survey="TIMSS"
        )


def test_naep_and_talis_presets_find_their_replicates():
    """NAEP: 62 jackknife replicates SRWT01..62 of ORIGWT (one per zone, factor 1);
    TALIS: 100 Fay replicates TRWGT1..100 of TCHWGT (k = 0.5), level-1 method A."""
    d = survey_sample(seed=7, n_schools=16, reps=4)
    naep = d.rename(columns={"wt": "origwt"})
    for r in range(1, 63):
        naep[f"srwt{r:02d}"] = d[f"rw{(r - 1) % 4 + 1}"]
    a = quiet_mix(FORMULA, naep, ["origwt", "w2"], survey="NAEP")
    b = quiet_mix(
        FORMULA,
        naep,
        ["origwt", "w2"],
        replicates=pywemix.Replicates(
            [f"srwt{r:02d}" for r in range(1, 63)], method="jk2", scale=1.0, full_weight="origwt"
        ),
    )
    assert "JK2 jackknife, 62 replicates, one per zone" == a.method
    np.testing.assert_allclose(a.cov_params(), b.cov_params(), rtol=1e-10)
    talis = d.rename(columns={"wt": "TCHWGT"})
    for r in range(1, 101):
        talis[f"TRWGT{r}"] = d[f"rw{(r - 1) % 4 + 1}"]
    c = quiet_mix(FORMULA, talis, ["TCHWGT", "w2"], survey="TALIS")
    assert c.method == "Fay's BRR, 100 replicates, k = 0.5"
    assert c.settings.weight_scaling == "size" and c.settings.survey == "TALIS"


def test_a_preset_warning_is_issued_once_and_recorded_once(pisa_reps):
    import warnings

    data = pisa_reps.drop(columns=[f"w_fsturwt{i}" for i in range(1, 81)])
    pvs = {"math": [f"pv{k}math" for k in range(1, 4)]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = pywemix.mix(
            "math ~ escs + (1|schoolid)",
            data,
            ["pwt1", "pwt2"],
            cond_weights=True,
            survey="PISA",
            plausible_values=pvs,
        )
    said = [w for w in caught if issubclass(w.category, pywemix.SurveyWarning)]
    assert len(said) == 1 and said[0].filename == __file__
    assert sum("W_FSTURWT1..W_FSTURWT80" in w for w in r.warnings) == 1
    assert all(sum("W_FSTURWT1" in w for w in f.warnings) == 1 for f in r.fits)
