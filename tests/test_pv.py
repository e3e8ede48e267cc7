"""Plausible values: one fit per value, combined by the EdSurvey rules.

Reference: ``pisa_s1_pv_combined`` (5 WeMix fits combined by the EdSurvey
note, seed 001 eqs. 6-8) and ``pisa_s1_pv1..pv5`` in tests/reference.
"""

from __future__ import annotations

import inspect
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

import pywemix

from conftest import case, mix_call, needs_reference, our_name, rel
from conftest import quiet_mix as _quiet_mix

PV_CASES = [f"pisa_s1_pv{k}" for k in range(1, 6)]


_cache = {}


def combined():
    """(expected, data, combined result) of pisa_s1_pv_combined."""
    if "combined" not in _cache:
        exp, df = case("pisa_s1_pv_combined")
        res = _quiet_mix(
            exp["call"]["formula"],
            df,
            plausible_values=exp["call"]["plausible_values"],
            **mix_call(exp),
        )
        _cache["combined"] = (exp, df, res)
    return _cache["combined"]


def _match_var(vc, row):
    if row["level"] == 1:
        sel = vc[vc["level"] == 1]
    else:
        sel = vc[
            (vc["level"] == row["level"])
            & (vc["var1"] == row["var1"])
            & ((vc["var2"] == row["var2"]) if row["var2"] else vc["var2"].isna())
        ]
    assert len(sel) == 1, row
    return sel.iloc[0]


# -- the reference combination ------------------------------------------------


@needs_reference
def test_combined_matches_reference():
    exp, _, res = combined()
    assert isinstance(res, pywemix.PlausibleValuesResult)
    names = list(res.params.index)
    assert len(names) == len(exp["params"])
    for k, v in exp["params"].items():
        assert rel(res.params[our_name(k, names)], v) < 1e-4, k
    for k, v in exp["bse"].items():
        assert rel(res.bse[our_name(k, names)], v) < 5e-3, k
    for k, v in exp["imputation_variance"].items():
        assert rel(res.imputation_variance[our_name(k, names)], v) < 5e-3, k
    for k, v in exp["sampling_variance"].items():
        assert rel(res.sampling_variance[our_name(k, names)], v) < 5e-3, k
    vc = res.var_components
    assert len(vc) == len(exp["var_components"])
    for row in exp["var_components"]:
        got = _match_var(vc, row)
        assert rel(got["variance"], row["variance"]) < 1e-3, row
        assert rel(got["std_error"], row["std_error"]) < 2e-2, row
    assert rel(res.icc, exp["icc"]) < 1e-3
    with pytest.warns(pywemix.PseudoLikelihoodWarning, match="no combined likelihood"):
        assert np.isnan(res.llf)


@needs_reference
def test_per_value_fits_match_reference():
    _, _, res = combined()
    assert len(res.fits) == 5 and res.n_plausible == 5
    assert res.columns == [f"pv{k}math" for k in range(1, 6)]
    assert res.response == "math"
    for fit, name in zip(res.fits, PV_CASES):
        exp, _ = case(name)
        assert isinstance(fit, pywemix.MixResult)
        names = list(fit.params.index)
        for k, v in exp["params"].items():
            assert rel(fit.params[our_name(k, names)], v) < 1e-4, (name, k)
        for k, v in exp["bse"].items():
            assert rel(fit.bse[our_name(k, names)], v) < 5e-3, (name, k)
        assert fit.llf >= exp["llf"] - 1e-7 * abs(exp["llf"])


@needs_reference
def test_combination_equals_hand_computation():
    """EdSurvey eqs. 6-8 from the per-value fits."""
    _, _, res = combined()
    K = len(res.fits)
    est = np.stack([f.params.to_numpy() for f in res.fits])
    mean = est.mean(axis=0)
    dev = est - mean
    imp = (K + 1) / ((K - 1) * K) * dev.T @ dev
    samp = np.mean([f.cov_params("robust").to_numpy() for f in res.fits], axis=0)
    np.testing.assert_allclose(res.params.to_numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(res.imputation_variance.to_numpy(), np.diag(imp), rtol=1e-10)
    np.testing.assert_allclose(res.sampling_variance.to_numpy(), np.diag(samp), rtol=1e-10)
    np.testing.assert_allclose(res.cov_params().to_numpy(), imp + samp, rtol=1e-10)
    np.testing.assert_allclose(res.bse.to_numpy(), np.sqrt(np.diag(imp + samp)), rtol=1e-10)
    # model-based covariance: the same rules with each fit's model covariance
    # (weighted fits: model-based variances are asked for on purpose, and warn)
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        samp_m = np.mean([f.cov_params("model").to_numpy() for f in res.fits], axis=0)
    with pytest.warns(pywemix.PseudoLikelihoodWarning):
        model = res.cov_params("model").to_numpy()
    np.testing.assert_allclose(model, imp + samp_m, rtol=1e-10)
    # variance components: mean estimate, imputation + sampling variance
    vest = np.stack([f.var_components["variance"].to_numpy() for f in res.fits])
    vmean = vest.mean(axis=0)
    vdev = vest - vmean
    vimp = (K + 1) / ((K - 1) * K) * np.sum(vdev**2, axis=0)
    vsamp = np.mean([f.var_components["std_error"].to_numpy() ** 2 for f in res.fits], axis=0)
    np.testing.assert_allclose(res.var_components["variance"].to_numpy(), vmean, rtol=1e-12)
    np.testing.assert_allclose(
        res.var_components["std_error"].to_numpy(), np.sqrt(vimp + vsamp), rtol=1e-8
    )
    # ICC: the mean of the per-value ICCs
    assert res.icc == pytest.approx(np.mean([f.icc for f in res.fits]), rel=1e-12)


# -- the interface ---------------------------------------------------------------


@needs_reference
def test_interface_like_mixresult():
    _, _, res = combined()
    names = list(res.params.index)
    assert list(res.bse.index) == names
    assert list(res.cov_params().index) == names
    ci = res.conf_int()
    assert list(ci.index) == names and ci.shape == (len(names), 2)
    z = 1.959963984540054
    np.testing.assert_allclose(ci.iloc[:, 0], res.params - z * res.bse, rtol=1e-9)
    np.testing.assert_allclose(ci.iloc[:, 1], res.params + z * res.bse, rtol=1e-9)
    civ = res.conf_int(which="variance")
    assert len(civ) == len(res.var_components)
    w = res.wald_test(["escs"])
    assert w.df == 1
    assert w.statistic == pytest.approx((res.params["escs"] / res.bse["escs"]) ** 2, rel=1e-9)
    td = res.tidy()
    assert {
        "term",
        "kind",
        "estimate",
        "std_error",
        "statistic",
        "p_value",
        "conf_low",
        "conf_high",
    } <= set(td.columns)
    assert (td["kind"] == "fixed").sum() == len(names)
    assert (td["kind"] == "variance").sum() == len(res.var_components)
    assert 0 < res.icc < 1
    assert len(res.ranef()["schoolid"]) == 157
    # with standard errors: Rubin's rules over the per-value tables
    t = res.ranef(se=True)["schoolid"]
    per = [f.ranef(se=True)["schoolid"] for f in res.fits]
    est = np.stack([p["estimate"].to_numpy() for p in per])
    within = np.mean([p["std_error"].to_numpy() ** 2 for p in per], axis=0)
    K = len(per)
    between = est.var(axis=0, ddof=1)
    assert list(t.columns) == ["group", "term", "estimate", "std_error"]
    assert t["group"].tolist() == per[0]["group"].tolist()
    np.testing.assert_allclose(t["estimate"], est.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(t["std_error"], np.sqrt(within + (1 + 1 / K) * between), rtol=1e-10)
    np.testing.assert_allclose(
        t["estimate"], res.ranef()["schoolid"].to_numpy().T.ravel(), rtol=1e-12
    )
    with pytest.raises(TypeError, match="se"):
        res.ranef(se="yes")
    with pytest.raises(AttributeError):
        res.params = None


@needs_reference
def test_summary_text_and_html():
    _, _, res = combined()
    s = res.summary()
    text = str(s)
    assert "Plausible values" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("Plausible values"))
    assert line.split()[2] == "5"
    assert "pv1math" in line and "pv5math" in line
    assert "Fixed effects" in text
    assert "not defined (plausible values)" in text
    h = s._repr_html_()
    assert h.lstrip().startswith("<") and "<table" in h and "Plausible values" in h
    assert res._repr_html_() == h
    assert "5 plausible values" in repr(res)


@needs_reference
def test_never_averaged_first():
    exp, df, res = combined()
    cols = exp["call"]["plausible_values"]["math"]
    avg = _quiet_mix(exp["call"]["formula"], df.assign(math=df[cols].mean(axis=1)), **mix_call(exp))
    # averaging the plausible values first shrinks the residual variance and
    # loses the imputation variance: it is not what the combination does
    resid_avg = avg.var_components.query("level == 1")["variance"].iloc[0]
    resid_pv = res.var_components.query("level == 1")["variance"].iloc[0]
    assert rel(resid_avg, resid_pv) > 0.01
    assert np.max(rel(avg.params.to_numpy(), res.params.to_numpy())) > 1e-6
    assert np.max(rel(avg.bse.to_numpy(), res.bse.to_numpy())) > 1e-3


@needs_reference
def test_executor_gives_identical_results():
    exp, df, res = combined()
    with ThreadPoolExecutor(max_workers=3) as ex:
        par = _quiet_mix(
            exp["call"]["formula"],
            df,
            plausible_values=exp["call"]["plausible_values"],
            executor=ex,
            **mix_call(exp),
        )
    np.testing.assert_allclose(par.params, res.params, rtol=1e-12, atol=0)
    np.testing.assert_allclose(par.bse, res.bse, rtol=1e-10, atol=0)
    np.testing.assert_allclose(
        par.var_components["variance"], res.var_components["variance"], rtol=1e-10
    )
    for a, b in zip(par.fits, res.fits):  # in the order of the columns
        np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=0)
        assert a.llf == pytest.approx(b.llf, rel=1e-13)


# -- small simulated data ---------------------------------------------------------


def _sim(seed=3, n_groups=30, size=12, K=3):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), size)
    x = rng.normal(size=g.size)
    u = rng.normal(scale=0.8, size=n_groups)[g]
    df = pd.DataFrame(
        {
            "g": g,
            "x": x,
            "w1": rng.uniform(0.5, 2.0, g.size),
            "w2": rng.uniform(1.0, 3.0, n_groups)[g],
        }
    )
    for k in range(1, K + 1):
        eta = 0.3 + 0.7 * x + u + rng.normal(scale=0.5, size=g.size)
        df[f"pv{k}"] = 10 + 2 * eta + rng.normal(size=g.size)
        df[f"pass{k}"] = (rng.uniform(size=g.size) < 1 / (1 + np.exp(-eta))).astype(int)
    return df


def test_gaussian_pv_small_equals_separate_fits():
    df = _sim()
    cols = ["pv1", "pv2", "pv3"]
    res = _quiet_mix(
        "y ~ x + (1|g)", df, ["w1", "w2"], cond_weights=True, plausible_values={"y": cols}
    )
    for fit, c in zip(res.fits, cols):
        one = _quiet_mix(f"{c} ~ x + (1|g)", df, ["w1", "w2"], cond_weights=True)
        np.testing.assert_allclose(fit.params.to_numpy(), one.params.to_numpy(), rtol=1e-8)
        assert fit.llf == pytest.approx(one.llf, rel=1e-10)


def test_shared_design_equals_separate_fits_exactly():
    """The plausible-value fits share one design; they must equal separate fits."""
    df = _sim()
    df.loc[[3, 17], "x"] = np.nan  # rows dropped in every fit
    cols = ["pv1", "pv2", "pv3"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pywemix.mix(
            "y ~ x + (x|g)", df, ["w1", "w2"], cond_weights=True, plausible_values={"y": cols}
        )
    dropped = [w for w in caught if issubclass(w.category, pywemix.DataWarning)]
    assert len(dropped) == 1  # said once, not once per value
    for fit, c in zip(res.fits, cols):
        one = _quiet_mix(f"{c} ~ x + (x|g)", df, ["w1", "w2"], cond_weights=True)
        assert fit.nobs == one.nobs == len(df) - 2
        np.testing.assert_allclose(fit.params.to_numpy(), one.params.to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(fit.bse.to_numpy(), one.bse.to_numpy(), rtol=1e-9)
        assert fit.llf == pytest.approx(one.llf, rel=1e-13)
        np.testing.assert_allclose(
            fit.fittedvalues.to_numpy(), one.fittedvalues.to_numpy(), rtol=1e-10
        )
        assert any("dropped 2" in m for m in fit.warnings)


def test_plausible_values_missing_in_different_rows():
    """Rows where only some plausible values are missing are dropped from every
    fit (with a warning), so that all fits use one sample."""
    df = _sim()
    df.loc[[5, 6], "pv2"] = np.nan
    cols = ["pv1", "pv2", "pv3"]
    with pytest.warns(pywemix.DataWarning, match="dropped 2 rows where some plausible"):
        # scaled level-1 weights: this test is not about unscaled ones
        res = pywemix.mix(
            "y ~ x + (1|g)",
            df,
            ["w1", "w2"],
            cond_weights=True,
            plausible_values={"y": cols},
            weight_scaling="size",
        )
    assert [f.nobs for f in res.fits] == [len(df) - 2] * 3
    kept = df.drop(index=[5, 6])
    for fit, c in zip(res.fits, cols):
        one = _quiet_mix(
            f"{c} ~ x + (1|g)", kept, ["w1", "w2"], cond_weights=True, weight_scaling="size"
        )
        np.testing.assert_allclose(fit.params.to_numpy(), one.params.to_numpy(), rtol=1e-12)
    assert res.nobs == len(df) - 2


def test_combined_result_predicts_and_points_to_single_fits():
    df = _sim()
    cols = ["pv1", "pv2", "pv3"]
    res = _quiet_mix(
        "y ~ x + (1|g)", df, ["w1", "w2"], cond_weights=True, plausible_values={"y": cols}
    )
    mean_fit = sum(f.fittedvalues for f in res.fits) / 3
    np.testing.assert_allclose(res.fittedvalues.to_numpy(), mean_fit.to_numpy())
    np.testing.assert_allclose(
        res.predict(df.head(9)).to_numpy(), mean_fit.head(9).to_numpy(), rtol=1e-10
    )
    with pytest.raises(AttributeError, match=r"fits\[k\]"):  # plot: see test_plots.py
        _ = res.simulate
    with pytest.raises(TypeError, match="executor"):
        pywemix.mix("y ~ x + (1|g)", df, plausible_values={"y": cols}, executor=1)


def test_binomial_plausible_values():
    df = _sim()
    cols = ["pass1", "pass2", "pass3"]
    kw = dict(weights=["w1", "w2"], cond_weights=True, family="binomial", n_quad=5)
    res = _quiet_mix("passed ~ x + (1|g)", df, plausible_values={"passed": cols}, **kw)
    assert isinstance(res, pywemix.PlausibleValuesResult)
    assert res.family == "binomial" and len(res.fits) == 3
    est = []
    for fit, c in zip(res.fits, cols):
        one = _quiet_mix(f"{c} ~ x + (1|g)", df, **kw)
        np.testing.assert_allclose(fit.params.to_numpy(), one.params.to_numpy(), rtol=1e-6)
        est.append(one.params.to_numpy())
    est = np.array(est)
    np.testing.assert_allclose(res.params.to_numpy(), est.mean(axis=0), rtol=1e-6)
    imp = 4 / 6 * np.sum((est - est.mean(axis=0)) ** 2, axis=0)
    np.testing.assert_allclose(res.imputation_variance.to_numpy(), imp, rtol=1e-4, atol=1e-12)
    assert res.params["x"] > 0
    assert "Plausible values" in str(res.summary())


# -- bad input -----------------------------------------------------------------


@pytest.mark.parametrize(
    "pv, exc, match",
    [
        ({"reading": ["pv1", "pv2", "pv3"]}, ValueError, "not the response"),
        ({"y": ["pv1", "pv2", "pv3"], "x": ["pv1", "pv2"]}, ValueError, "unequal lengths"),
        ({"y": ["pv1"]}, ValueError, "at least two"),
        ({"y": "pv1"}, ValueError, "at least two"),
        ({"y": ["pv1", "pv1"]}, ValueError, "repeated"),
        ({"y": ["pv1", "pv9"]}, ValueError, "pv9"),
        (["pv1", "pv2"], TypeError, "dict"),
        ({}, TypeError, "dict"),
    ],
)
def test_bad_plausible_values(pv, exc, match):
    df = _sim(n_groups=5, size=4)
    with pytest.raises(exc, match=match):
        pywemix.mix("y ~ x + (1|g)", df, ["w1", "w2"], cond_weights=True, plausible_values=pv)


def test_executor_keeps_each_fits_warnings():
    df = _sim(n_groups=30, size=12, K=4)
    df.loc[df.index[:3], "x"] = np.nan  # every fit drops these 3 rows, with a warning
    cols = ["pv1", "pv2", "pv3", "pv4"]
    for _ in range(10):  # the race shows up in most repetitions
        with ThreadPoolExecutor(max_workers=4) as ex:
            res = _quiet_mix(
                "y ~ x + (1|g)",
                df,
                ["w1", "w2"],
                cond_weights=True,
                plausible_values={"y": cols},
                executor=ex,
            )
        counts = [sum("dropped 3 of" in m for m in f.warnings) for f in res.fits]
        assert counts == [1] * len(cols)


@pytest.mark.parametrize("pool", [None, ThreadPoolExecutor, ProcessPoolExecutor])
def test_warnings_said_once_at_the_users_line(pool):
    """A design warning is issued once (not once per plausible value), at the
    line that called mix, also when the fits run in threads or other
    processes; every fit still records it."""
    df = _sim(K=3)
    df.loc[[3, 17], "x"] = np.nan
    executor = pool(max_workers=2) if pool is not None else None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            line = inspect.currentframe().f_lineno + 1
            res = pywemix.mix(
                "y ~ x + (1|g)",
                df,
                ["w1", "w2"],
                cond_weights=True,
                plausible_values={"y": ["pv1", "pv2", "pv3"]},
                executor=executor,
            )
    finally:
        if executor is not None:
            executor.shutdown()
    dropped = [w for w in caught if issubclass(w.category, pywemix.DataWarning)]
    assert len(dropped) == 1
    assert "dropped 2" in str(dropped[0].message)
    ours = [w for w in caught if issubclass(w.category, pywemix.PywemixWarning)]
    assert ours and all((w.filename, w.lineno) == (__file__, line) for w in ours)
    assert len({str(w.message) for w in ours}) == len(ours)  # each said once
    for fit in res.fits:
        assert any("dropped 2" in m for m in fit.warnings)
    assert sum("dropped 2" in m for m in res.warnings) == 1


def test_combined_residuals_average_the_fits():
    """resid / residuals(): the mean over the plausible-value fits of each fit's
    residuals (response: mean plausible value - fittedvalues), data order."""
    df = _sim()
    cols = ["pv1", "pv2", "pv3"]
    res = _quiet_mix(
        "y ~ x + (1|g)",
        df.sample(frac=1, random_state=1),
        ["w1", "w2"],
        cond_weights=True,
        plausible_values={"y": cols},
    )
    for kind in ("response", "pearson"):
        mean = sum(f.residuals(kind) for f in res.fits) / len(res.fits)
        pd.testing.assert_series_equal(res.residuals(kind), mean.rename("resid"))
        pd.testing.assert_series_equal(res.resid(kind), mean.rename("resid"))
    r = res.resid
    pd.testing.assert_series_equal(pd.Series(r), res.residuals("response"))
    data = df.loc[r.index]
    np.testing.assert_allclose(
        r, data[cols].mean(axis=1) - res.fittedvalues.loc[r.index], rtol=1e-10, atol=1e-12
    )
    with pytest.raises(ValueError, match="kind must be 'response' or 'pearson'"):
        res.residuals("deviance")


def test_combined_result_has_no_likelihood():
    """llf, aic and bic of a plausible-value combination: NaN with a warning that
    points to Wald tests (as a weighted fit's aic/bic warn), never an exception."""
    df = _sim()
    res = _quiet_mix(
        "y ~ x + (1|g)",
        df,
        ["w1", "w2"],
        cond_weights=True,
        plausible_values={"y": ["pv1", "pv2", "pv3"]},
    )
    for name in ("llf", "aic", "bic"):
        with pytest.warns(pywemix.PseudoLikelihoodWarning, match="wald_test"):
            assert np.isnan(getattr(res, name))
    assert all(np.isnan(res.information_criteria()))
    # reports and tables read it without the warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", pywemix.PseudoLikelihoodWarning)
        assert "lnl: not defined (plausible values)" in str(res.summary())
        table = pywemix.compare(res, res.fits[0])
    assert np.isnan(table.iloc[:, 0].loc["llf"])
    assert table.iloc[:, 2].loc["llf"] == pytest.approx(res.fits[0].llf)
