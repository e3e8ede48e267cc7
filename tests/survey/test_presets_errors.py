"""Survey presets, command line and errors of the survey layer."""
import json

import numpy as np
import pandas as pd
import pytest

import pywemix
from pywemix.cli import main
from conftest import quiet_mix
from survey_data import FORMULA, survey_sample

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
    rep = pywemix.Replicates([f"W_FSTURWT{r}" for r in range(1, 81)], method="fay",
                             fay=0.5, full_weight="W_FSTUWT")
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
    explicit = quiet_mix(FORMULA, up, ["TOTWGT", "w2"], survey="TIMSS",
                         replicates=pywemix.Replicates(jk, method="jk2"))
    np.testing.assert_allclose(pre.cov_params(), explicit.cov_params(), rtol=1e-12)
    assert "JK2 jackknife" in pre.method
    bad = up.assign(JKREP=1)
    with pytest.raises(ValueError, match="zones without a pair.*replicates=False"):
        quiet_mix(FORMULA, bad, ["TOTWGT", "w2"], survey="TIMSS")
    assert isinstance(quiet_mix(FORMULA, bad, ["TOTWGT", "w2"], survey="TIMSS",
                                replicates=False), pywemix.MixResult)
    # without any of the columns the preset gives the sandwich, saying so (issue 19)
    with pytest.warns(pywemix.SurveyWarning, match="none of the preset's jackknife columns "
                                                   r"\(JKZONE, JKREP, TOTWGT\)"):
        plain = pywemix.mix(FORMULA, sample.drop(columns=["jkzone", "jkrep"]), ["wt", "w2"],
                            survey="TIMSS", weight_scaling="none")
    assert isinstance(plain, pywemix.MixResult) and plain.default_kind == "robust"
    # with only some of them nothing sensible remains: an error naming the missing ones
    with pytest.raises(ValueError, match="JKZONE, TOTWGT are not in the data"):
        quiet_mix(FORMULA, sample.drop(columns="jkzone"), ["wt", "w2"], survey="TIMSS")


def test_cli_replicates_and_by(sample, tmp_path, capsys):
    path = tmp_path / "s.csv"
    sample.assign(cnt=sample["school"] % 2).to_csv(path, index=False)
    assert main(["fit", FORMULA, str(path), "--weights", "wt", "w2", "--replicates",
                 "rw1-4", "--replicate-method", "fay", "--full-weight", "wt", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    r = quiet_mix(FORMULA, sample, ["wt", "w2"],
                  replicates=pywemix.Replicates(COLS, full_weight="wt"))
    assert out["bse"]["x"] == pytest.approx(r.bse["x"], rel=1e-10)
    assert main(["fit", FORMULA, str(path), "--weights", "wt", "w2", "--by", "cnt"]) == 0
    assert "cnt = 1" in capsys.readouterr().out
    assert main(["fit", FORMULA, str(path), "--weights", "wt", "w2", "--by", "cnt",
                 "--json"]) == 0
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
    with pytest.raises(ValueError, match="'rw1' is positive in 1 rows where the full-sample "
                                         "weight 'full' is 0"):
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
        quiet_mix(FORMULA, sample, replicates=pywemix.Replicates(COLS, full_weight="wt"),
                  reml=True)
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
    b = quiet_mix(FORMULA, sample, ["wt", "w2"],
                  replicates=pywemix.Replicates(jk.sample(frac=1, random_state=4),
                                                method="jk2"))
    np.testing.assert_allclose(a.bse, base.bse, rtol=1e-8)
    np.testing.assert_allclose(b.bse, base.bse, rtol=1e-8)
    # a subset of the rows (e.g. one gender) reads its own rows' replicate weights
    sub = sample[sample["school"] != 0]
    c = quiet_mix(FORMULA, sub, ["wt", "w2"], replicates=rep)
    d = quiet_mix(FORMULA, pd.concat([sub, jk.loc[sub.index]], axis=1), ["wt", "w2"],
                  replicates=pywemix.Replicates(list(jk.columns), method="jk2",
                                                full_weight="wt"))
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
