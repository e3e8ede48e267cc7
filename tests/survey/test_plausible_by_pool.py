"""Plausible values with replicates, fits by group, pooling."""

import warnings

import numpy as np
import pandas as pd
import pytest
from survey_data import FORMULA, explicit_replicates, survey_sample

import pywemix
from pywemix.results.summary import Summary
from pywemix.survey import GroupFitError

from conftest import quiet_mix

COLS = [f"rw{i}" for i in range(1, 5)]
PVS = ["pv1", "pv2", "pv3"]


@pytest.fixture(scope="module")
def sample():
    return survey_sample(seed=2, n_schools=16, reps=4, n_pv=3)


@pytest.fixture(scope="module")
def per_value(sample):
    """Full-sample fits and explicit replicate fits of every plausible value."""
    out = []
    for pv in PVS:
        full = quiet_mix(FORMULA, sample.assign(y=sample[pv]), ["wt", "w2"])
        P, V, _ = explicit_replicates(sample, COLS, response=pv)
        c = 1 / (4 * 0.25)
        out.append(
            (
                full,
                c * (P - full.params.to_numpy()).T @ (P - full.params.to_numpy()),
                c
                * (V - full.var_components["variance"].to_numpy()).T
                @ (V - full.var_components["variance"].to_numpy()),
            )
        )
    return out


def _total(est, variances):
    est = np.asarray(est)
    M = len(est)
    dev = est - est.mean(axis=0)
    return np.mean(variances, axis=0) + (1 + 1 / M) * dev.T @ dev / (M - 1)


@pytest.mark.parametrize("which", ["all", "first"])
def test_plausible_values_with_replicates(sample, per_value, which):
    rep = pywemix.Replicates(COLS, full_weight="wt", plausible_values=which)
    r = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=rep, plausible_values={"y": PVS})
    est = [f.params.to_numpy() for f, _, _ in per_value]
    U = [u for _, u, _ in per_value] if which == "all" else [per_value[0][1]] * 3
    np.testing.assert_allclose(r.params, np.mean(est, axis=0), rtol=1e-12)
    np.testing.assert_allclose(r.cov_params().to_numpy(), _total(est, U), rtol=1e-6)
    vest = [f.var_components["variance"].to_numpy() for f, _, _ in per_value]
    VU = [v for _, _, v in per_value] if which == "all" else [per_value[0][2]] * 3
    np.testing.assert_allclose(
        r.var_components["std_error"].to_numpy(), np.sqrt(np.diag(_total(vest, VU))), rtol=1e-6
    )
    assert r.n_plausible == 3
    n_rep = 3 * 4 if which == "all" else 4
    assert r.replicate_params.shape == (n_rep, 2)
    # the sandwich combination stays available
    pv_only = quiet_mix(FORMULA, sample, ["wt", "w2"], plausible_values={"y": PVS})
    np.testing.assert_allclose(r.cov_params("robust"), pv_only.cov_params("robust"))
    assert "Plausible values" in str(r.summary())


def test_pool_equals_plausible_value_combination(sample, per_value):
    fits = [f for f, _, _ in per_value]
    pooled = pywemix.pool(fits)
    pv = quiet_mix(FORMULA, sample, ["wt", "w2"], plausible_values={"y": PVS})
    np.testing.assert_allclose(pooled.params, pv.params, rtol=1e-12)
    np.testing.assert_allclose(pooled.cov_params("robust"), pv.cov_params("robust"), rtol=1e-12)
    np.testing.assert_allclose(pooled.var_cov("robust"), pv.var_cov("robust"), rtol=1e-12)
    # model-based variances of weighted fits are asked for on purpose: they warn
    for res in (pooled, pv):
        with pytest.warns(pywemix.PseudoLikelihoodWarning):
            model = res.cov_params("model"), res.var_cov("model")
        if res is pooled:
            pooled_model = model
    np.testing.assert_allclose(pooled_model[0], model[0], rtol=1e-12)
    np.testing.assert_allclose(pooled_model[1], model[1], rtol=1e-12)
    np.testing.assert_allclose(
        pooled.var_components["std_error"], pv.var_components["std_error"], rtol=1e-12
    )


def test_pool_degrees_of_freedom_and_fmi(per_value):
    """Barnard and Rubin (1999) by hand for the slope."""
    fits = [f for f, _, _ in per_value]
    pooled = pywemix.pool(fits, dfcom=50)
    q = np.array([f.params["x"] for f in fits])
    u = np.array([f.bse["x"] ** 2 for f in fits])
    m = 3
    b = q.var(ddof=1)
    t = u.mean() + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t
    old = (m - 1) / lam**2
    obs = (50 + 1) / (50 + 3) * 50 * (1 - lam)
    df = old * obs / (old + obs)
    riv = (1 + 1 / m) * b / u.mean()
    assert pooled.df["x"] == pytest.approx(df, rel=1e-10)
    assert pooled.riv["x"] == pytest.approx(riv, rel=1e-10)
    assert pooled.fmi["x"] == pytest.approx((riv + 2 / (df + 3)) / (riv + 1), rel=1e-10)
    assert pooled.bse["x"] == pytest.approx(np.sqrt(t), rel=1e-10)
    tidy = pooled.tidy()
    assert {"df", "fmi"} <= set(tidy.columns)
    s = pooled.summary()
    assert "Barnard-Rubin" in str(s)
    assert isinstance(s, Summary) and "<table" in s.as_html()
    np.testing.assert_allclose(s.fixed["df"], pooled.df)
    np.testing.assert_allclose(s.fixed["fmi"], pooled.fmi)
    np.testing.assert_allclose(s.fixed["Std. Error"], pooled.bse)
    assert s.as_dict()["fixed"][0]["term"] == pooled.params.index[0]


def test_pool_of_replicate_results_uses_replication_variances(sample):
    rep = pywemix.Replicates(COLS, full_weight="wt")
    fits = [
        quiet_mix(FORMULA, sample.assign(y=sample[pv]), ["wt", "w2"], replicates=rep) for pv in PVS
    ]
    combined = quiet_mix(FORMULA, sample, ["wt", "w2"], replicates=rep, plausible_values={"y": PVS})
    pooled = pywemix.pool(fits)
    np.testing.assert_allclose(pooled.cov_params(), combined.cov_params(), rtol=1e-10)


def test_pool_refuses_different_models(sample, per_value):
    other = quiet_mix("y ~ 1 + (1|school)", sample, ["wt", "w2"])
    with pytest.raises(ValueError, match="same model"):
        pywemix.pool([per_value[0][0], other])
    with pytest.raises(ValueError, match="at least two"):
        pywemix.pool([per_value[0][0]])


def test_pool_input_checks(per_value):
    fits = [f for f, _, _ in per_value]
    with pytest.raises(TypeError, match="pool needs fits .* item 0 is a int"):
        pywemix.pool([1, 2])
    with pytest.raises(TypeError, match="pool needs a list of fits .* got int"):
        pywemix.pool(3)
    for bad in (0, -3, np.nan):
        with pytest.raises(ValueError, match="dfcom.* must be positive"):
            pywemix.pool(fits, dfcom=bad)
    with pytest.raises(TypeError, match="dfcom must be a positive number"):
        pywemix.pool(fits, dfcom="10")
    assert np.all(pywemix.pool(fits, dfcom=np.inf).df > 0)


@pytest.fixture(scope="module")
def countries():
    a = survey_sample(seed=3, n_schools=12, reps=4, n_pv=3).assign(cnt="AAA")
    b = survey_sample(seed=4, n_schools=14, reps=4, n_pv=3).assign(cnt="BBB")
    b["school"] += 100
    return pd.concat([a, b], ignore_index=True)


def test_by_equals_separate_fits(countries):
    res = quiet_mix(FORMULA, countries, ["wt", "w2"], by="cnt")
    assert sorted(res) == ["AAA", "BBB"]
    for k in res:
        sep = quiet_mix(FORMULA, countries[countries["cnt"] == k], ["wt", "w2"])
        np.testing.assert_allclose(res[k].params, sep.params, rtol=1e-12)
        np.testing.assert_allclose(res[k].bse, sep.bse, rtol=1e-12)
    t = res.tidy()
    assert list(t.columns[:2]) == ["cnt", "term"]
    assert set(t["cnt"]) == {"AAA", "BBB"}
    assert "cnt = BBB" in str(res.summary())


def test_by_composes_with_replicates_plausible_values_and_executor(countries):
    from concurrent.futures import ThreadPoolExecutor

    rep = pywemix.Replicates(COLS, full_weight="wt")
    pv = {"y": PVS}
    with ThreadPoolExecutor(2) as ex:
        res = quiet_mix(
            FORMULA,
            countries,
            ["wt", "w2"],
            by="cnt",
            replicates=rep,
            plausible_values=pv,
            executor=ex,
        )
    for k in res:
        sep = quiet_mix(
            FORMULA,
            countries[countries["cnt"] == k],
            ["wt", "w2"],
            replicates=rep,
            plausible_values=pv,
        )
        np.testing.assert_allclose(res[k].cov_params(), sep.cov_params(), rtol=1e-10)
        assert isinstance(res[k], pywemix.ReplicateResult)


@pytest.mark.filterwarnings("ignore::pywemix.FewGroupsWarning")
def test_by_records_errors(countries):
    bad = countries.copy()
    bad.loc[bad["cnt"] == "BBB", "y"] = 1.0  # constant response: cannot be fitted
    with pytest.warns(pywemix.DataWarning, match="could not be fitted"):
        # (scaled level-1 weights: this test is not about unscaled ones)
        res = pywemix.mix(FORMULA, bad, ["wt", "w2"], by="cnt", weight_scaling="size")
    assert list(res) == ["AAA"]
    assert "constant" in res.errors["BBB"]
    with pytest.raises(GroupFitError, match="cnt = 'BBB' could not be fitted: .*constant"):
        res["BBB"]
    assert "BBB" not in res and res.get("BBB") is None
    with pytest.raises(KeyError):
        res["CCC"]
    assert "Not fitted" in str(res.summary())


@pytest.mark.filterwarnings("ignore::pywemix.FewGroupsWarning")
def test_by_raises_when_every_group_fails(countries):
    bad = countries.assign(y=1.0)
    with pytest.raises(
        ValueError, match="no group of 'cnt' could be fitted.*cnt='AAA': .*constant"
    ):
        pywemix.mix(FORMULA, bad, ["wt", "w2"], by="cnt")


def test_by_warnings_name_their_group(countries):
    data = countries.copy()
    data.loc[data.index[data["cnt"] == "BBB"][:2], "x"] = np.nan  # 2 rows dropped in BBB
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pywemix.mix(FORMULA, data, ["wt", "w2"], by="cnt")
    texts = [str(w.message) for w in caught if issubclass(w.category, pywemix.PywemixWarning)]
    assert texts and all(t.startswith(("cnt='AAA': ", "cnt='BBB': ")) for t in texts)
    assert any(t.startswith("cnt='BBB': dropped 2 of") for t in texts)


def test_by_column_errors(countries):
    with pytest.raises(ValueError, match="'nope'"):
        quiet_mix(FORMULA, countries, ["wt", "w2"], by="nope")
    bad = countries.copy()
    bad.loc[3, "cnt"] = None
    with pytest.raises(ValueError, match="by column 'cnt' has 1 missing"):
        quiet_mix(FORMULA, bad, ["wt", "w2"], by="cnt")
