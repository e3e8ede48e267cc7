"""Replication variances equal the formulas applied to explicit separate fits."""
import numpy as np
import pandas as pd
import pytest

import pywemix
from conftest import quiet_mix
from survey_data import FORMULA, explicit_replicates, survey_sample

COLS = [f"rw{i}" for i in range(1, 9)]


def _var(c, est, full):
    dev = est - full
    return c * dev.T @ dev


@pytest.fixture(scope="module")
def sample():
    return survey_sample()


@pytest.fixture(scope="module")
def full(sample):
    return quiet_mix(FORMULA, sample, ["wt", "w2"])


@pytest.fixture(scope="module")
def explicit(sample):
    return explicit_replicates(sample, COLS)


@pytest.mark.parametrize("method,fay,factor", [
    ("fay", 0.5, 1 / (8 * 0.25)), ("fay", 0.3, 1 / (8 * 0.49)), ("brr", 0.5, 1 / 8),
    ("jk1", 0.5, 7 / 8), ("bootstrap", 0.5, 1 / 8)])
def test_replication_variance_equals_separate_fits(sample, full, explicit, method, fay,
                                                   factor):
    rep = pywemix.Replicates(COLS, method=method, fay=fay, full_weight="wt")
    r = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=rep)
    P, V, icc = explicit
    np.testing.assert_allclose(r.cov_params().to_numpy(),
                               _var(factor, P, full.params.to_numpy()), rtol=1e-6)
    np.testing.assert_allclose(r.bse.to_numpy(),
                               np.sqrt(np.diag(_var(factor, P, full.params.to_numpy()))),
                               rtol=1e-6)
    vfull = full.var_components["variance"].to_numpy()
    np.testing.assert_allclose(r.var_components["std_error"].to_numpy(),
                               np.sqrt(np.diag(_var(factor, V, vfull))), rtol=1e-6)
    np.testing.assert_allclose(r.var_cov(), _var(factor, V, vfull), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(r.icc_std_error, np.sqrt(factor * np.sum((icc - full.icc) ** 2)),
                               rtol=1e-6)
    np.testing.assert_allclose(r.replicate_params.to_numpy(), P, rtol=1e-7)


def test_brr_drops_groups_with_zero_factor(sample):
    """k = 0: half the schools get factor 0 in each replicate (dropped)."""
    data = survey_sample(fay=0.0)
    rep = pywemix.Replicates(COLS, method="brr", full_weight="wt")
    r = quiet_mix(FORMULA, data, ["wt", "w2"], replicates=rep)
    full = quiet_mix(FORMULA, data, ["wt", "w2"])
    P, V, _ = explicit_replicates(data, COLS)
    np.testing.assert_allclose(r.bse.to_numpy(),
                               np.sqrt(np.diag(_var(1 / 8, P, full.params.to_numpy()))),
                               rtol=1e-6)
    np.testing.assert_allclose(r.var_components["std_error"].to_numpy(),
                               np.sqrt(np.diag(_var(1 / 8, V, full.var_components[
                                   "variance"].to_numpy()))), rtol=1e-6)


def test_row_factors_varying_within_schools(sample, full):
    """Factors that differ between a school's students change the level-1
    weights too (the design is reused with new weights)."""
    rng = np.random.default_rng(5)
    data = sample.copy()
    for c in COLS[:4]:
        data[c] = data[c] * rng.uniform(0.7, 1.3, len(data))
    rep = pywemix.Replicates(COLS[:4], method="jk1", full_weight="wt")
    r = quiet_mix(FORMULA, data, ["wt", "w2"], replicates=rep)
    P, V, _ = explicit_replicates(data, COLS[:4])
    np.testing.assert_allclose(r.cov_params().to_numpy(),
                               _var(3 / 4, P, full.params.to_numpy()), rtol=1e-6)
    np.testing.assert_allclose(r.var_components["std_error"].to_numpy(),
                               np.sqrt(np.diag(_var(3 / 4, V, full.var_components[
                                   "variance"].to_numpy()))), rtol=1e-6)


def test_full_weight_defaults_to_total_weight(sample):
    """Without ``full_weight`` the model's level-1 unconditional weight is
    the total; with conditional weights their product."""
    rep = pywemix.Replicates(COLS, full_weight="wt")
    a = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=rep)
    b = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates(COLS))
    cond = sample.assign(w1c=sample["wt"] / sample["w2"])
    c = quiet_mix(FORMULA, cond, ["w1c", "w2"], cond_weights=True,
                  replicates=pywemix.Replicates(COLS))
    np.testing.assert_allclose(b.bse, a.bse, rtol=1e-10)
    np.testing.assert_allclose(c.bse, a.bse, rtol=1e-6)


def test_other_kinds_and_tests_use_their_covariance(sample, full):
    rep = pywemix.Replicates(COLS, full_weight="wt")
    r = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=rep)
    np.testing.assert_allclose(r.cov_params("robust"), full.cov_params("robust"))
    with pytest.warns(pywemix.PseudoLikelihoodWarning):   # weighted: asked on purpose
        model = r.std_errors("model"), full.std_errors("model")
    np.testing.assert_allclose(*model)
    np.testing.assert_allclose(r.params, full.params)
    w = r.wald_test(["x"])
    V = r.cov_params().loc["x", "x"]
    assert w.statistic == pytest.approx(r.params["x"] ** 2 / V, rel=1e-12)
    assert r.wald_test(["x"], cov="robust").statistic == pytest.approx(
        full.wald_test(["x"]).statistic, rel=1e-12)
    t = r.tidy()
    np.testing.assert_allclose(t.loc[t["kind"] == "fixed", "std_error"], r.bse)
    assert r.ranef()["school"].equals(full.ranef()["school"])
    assert r.llf == full.llf
    text = str(r.summary())
    assert "Fay's BRR, 8 replicates, k = 0.5" in text
    assert "replication SE" in text
    assert r.n_replicates == 8


def test_jk2_from_jackknife_weights_equals_separate_fits(sample, full):
    jk = pywemix.jackknife_weights(sample, zone="jkzone", rep="jkrep", weight="wt")
    zones = np.unique(sample["jkzone"])
    assert jk.shape == (len(sample), 2 * len(zones))
    z1 = (sample["jkzone"] == zones[0]).to_numpy()
    one = (sample["jkrep"] == 1).to_numpy()
    first, second = jk.iloc[:, 0].to_numpy(), jk.iloc[:, 1].to_numpy()
    wt = sample["wt"].to_numpy()
    np.testing.assert_allclose(first[z1 & one], 2 * wt[z1 & one])
    np.testing.assert_array_equal(first[z1 & ~one], 0)
    np.testing.assert_allclose(second[z1 & ~one], 2 * wt[z1 & ~one])
    np.testing.assert_array_equal(second[z1 & one], 0)
    np.testing.assert_allclose(first[~z1], wt[~z1])
    r = quiet_mix(FORMULA, sample, ["wt", "w2"],
                  replicates=pywemix.Replicates(jk, method="jk2"))
    data = pd.concat([sample, jk], axis=1)
    P, V, _ = explicit_replicates(data, list(jk.columns))
    np.testing.assert_allclose(r.cov_params().to_numpy(),
                               _var(0.5, P, full.params.to_numpy()), rtol=1e-6)
    assert "both half-samples" in r.method
    # one replicate per zone (NAEP style): factor 1
    one_each = pywemix.Replicates(list(jk.columns[::2]), method="jk2", full_weight="wt")
    r1 = quiet_mix(FORMULA, data, ["wt", "w2"], replicates=one_each)
    np.testing.assert_allclose(r1.cov_params().to_numpy(),
                               _var(1.0, P[::2], full.params.to_numpy()), rtol=1e-6)


def test_scale_overrides_the_factor(sample):
    a = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates(COLS))
    b = quiet_mix(FORMULA, sample, ["wt", "w2"],
                  replicates=pywemix.Replicates(COLS, scale=1.0))
    np.testing.assert_allclose(b.cov_params(), a.cov_params() * 8 * 0.25, rtol=1e-12)
    assert "scale = 1" in b.method


def test_range_of_columns_and_case(sample):
    up = sample.rename(columns={c: c.upper() for c in COLS + ["wt"]})
    a = quiet_mix(FORMULA, sample, ["wt", "w2"],
                  replicates=pywemix.Replicates("rw1-8", full_weight="wt"))
    b = quiet_mix(FORMULA, up, ["WT", "w2"],
                  replicates=pywemix.Replicates("rw1-8", full_weight="wt"))
    np.testing.assert_allclose(a.bse, b.bse, rtol=1e-12)


def test_three_levels_equal_separate_fits():
    """Replicates of the top level (districts) in a three-level model."""
    rng = np.random.default_rng(3)
    d = survey_sample(seed=4, n_schools=32, reps=0)
    d["district"] = d["school"] // 2
    u3 = rng.normal(0, 0.5, d["district"].max() + 1)
    d["y"] = d["y"] + u3[d["district"]]
    w3 = rng.uniform(1, 3, d["district"].max() + 1)
    d["w3"] = w3[d["district"]]
    d["w2"] = d["w2"] * d["w3"]
    d["wt"] = d["wt"] * d["w3"]
    sign = np.where(np.arange(16) % 2 == 0, 1, -1)
    H = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]])
    pair = np.arange(16) // 2
    cols = []
    for r in range(4):
        f = 1 + 0.5 * H[r, pair % 4] * sign
        d[f"rw{r + 1}"] = d["wt"] * f[d["district"]]
        cols.append(f"rw{r + 1}")
    form = "y ~ x + (1|district/school)"
    res = quiet_mix(form, d, ["wt", "w2", "w3"], replicates=pywemix.Replicates(cols))
    full = quiet_mix(form, d, ["wt", "w2", "w3"])
    P = []
    for c in cols:
        f = d[c] / d["wt"]
        r = quiet_mix(form, d.assign(a=d["wt"] * f, b=d["w2"] * f, c=d["w3"] * f),
                      ["a", "b", "c"])
        P.append(r.params.to_numpy())
    np.testing.assert_allclose(res.cov_params().to_numpy(),
                               _var(1 / (4 * 0.25), np.array(P), full.params.to_numpy()),
                               rtol=1e-6)


def test_glmm_refits_equal_separate_fits():
    d = survey_sample(seed=7, n_schools=16, size=10, reps=4)
    d["pass"] = (d["y"] > 1).astype(int)
    cols = ["rw1", "rw2", "rw3", "rw4"]
    form = "pass ~ x + (1|school)"
    kw = dict(family="binomial", n_quad=5)
    r = quiet_mix(form, d, ["wt", "w2"], replicates=pywemix.Replicates(cols), **kw)
    full = quiet_mix(form, d, ["wt", "w2"], **kw)
    P, V, _ = explicit_replicates(d, cols, formula=form, **kw)
    np.testing.assert_allclose(r.cov_params().to_numpy(),
                               _var(1 / (4 * 0.25), P, full.params.to_numpy()), rtol=1e-5)
    np.testing.assert_allclose(r.var_components["std_error"].to_numpy(),
                               np.sqrt(np.diag(_var(1.0, V, full.var_components[
                                   "variance"].to_numpy()))), rtol=1e-5)


def test_replicates_read_in_chunks(sample, monkeypatch):
    """Chunked reading of the replicate columns gives the same weights."""
    from pywemix.survey import refit
    rng = np.random.default_rng(8)
    data = sample.copy()
    data["rw3"] = data["rw3"] * rng.uniform(0.8, 1.2, len(data))
    jk = pywemix.jackknife_weights(data, weight="wt")
    for rep in (pywemix.Replicates(COLS, full_weight="wt"), pywemix.Replicates(jk, "jk2")):
        whole = quiet_mix(FORMULA, data, ["wt", "w2"], replicates=rep)
        monkeypatch.setattr(refit, "CHUNK_CELLS", 2 * len(data))
        chunked = quiet_mix(FORMULA, data, ["wt", "w2"], replicates=rep)
        monkeypatch.undo()
        np.testing.assert_allclose(chunked.cov_params(), whole.cov_params(), rtol=1e-12)
        assert chunked.method == whole.method


def test_unknown_kind_lists_the_kinds_of_the_result(sample):
    """A replicate result names 'replicate' among its valid covariance kinds."""
    r = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates(COLS))
    for method in (r.cov_params, r.var_cov, r.std_errors, r.tidy):
        with pytest.raises(ValueError,
                           match="kind must be 'replicate', 'robust' or 'model', got "
                                 "'sandwich'"):
            method(kind="sandwich")
    with pytest.raises(ValueError, match="cov must be 'replicate', 'robust' or 'model'"):
        r.wald_test(["x"], cov="sandwich")


def test_replicate_fit_of_weighted_data_does_not_warn_about_model_variances(sample):
    """Building the result reads the stored model-based covariances: the
    pseudo-likelihood warning is for users who ask for them."""
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = pywemix.mix(FORMULA, sample, ["wt", "w2"], replicates=pywemix.Replicates(COLS),
                        weight_scaling="size")
    assert not [w for w in caught if issubclass(w.category, pywemix.PseudoLikelihoodWarning)]
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        r.cov_params("model")
