"""The result of a fit on a Dask DataFrame (pywemix.dask.result.DaskMixResult):
the in-memory result's estimates, per-row quantities as Dask Series."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix
import pywemix.warnings
from pywemix.dask.result import DaskMixResult
from pywemix.results import MixResult

from conftest import quiet_mix, small_random_intercept

dd = pytest.importorskip("dask.dataframe")

FORMULA = "y ~ x + (1|g)"


@pytest.fixture(scope="module")
def fits():
    d = small_random_intercept(51, n_groups=12, size=5)
    rng = np.random.default_rng(51)
    d = d.assign(w1=rng.uniform(0.5, 2.0, len(d)), w2=np.repeat(rng.uniform(1, 3, 12), 5))
    ddf = dd.from_pandas(d, npartitions=3, sort=False)
    kw = dict(weights=["w1", "w2"], weight_scaling="size")
    return d, ddf, quiet_mix(FORMULA, d, **kw), quiet_mix(FORMULA, ddf, **kw)


def test_the_estimates_and_tables_are_those_of_the_in_memory_result(fits):
    _, _, mem, res = fits
    assert isinstance(res, DaskMixResult) and isinstance(res, MixResult)
    np.testing.assert_allclose(res.params, mem.params, rtol=1e-8)
    np.testing.assert_allclose(res.bse, mem.bse, rtol=1e-6)
    np.testing.assert_allclose(
        res.var_components["variance"], mem.var_components["variance"], rtol=1e-7
    )
    pd.testing.assert_frame_equal(res.groups, mem.groups, check_dtype=False)
    with pytest.raises(AttributeError, match="immutable"):
        res.sigma2 = 1.0


def test_per_row_quantities_are_dask_series(fits):
    d, ddf, mem, res = fits
    fitted = res.fittedvalues
    assert isinstance(fitted, dd.Series)
    np.testing.assert_allclose(
        fitted.compute().sort_index(), mem.fittedvalues.sort_index(), rtol=1e-7
    )
    pearson = res.resid("pearson").compute().sort_index()
    np.testing.assert_allclose(
        pearson, mem.resid().sort_index() / np.sqrt(mem.sigma2), rtol=1e-6, atol=1e-9
    )
    pred = res.predict(d)
    assert isinstance(pred, pd.Series)
    np.testing.assert_allclose(pred, mem.predict(d), rtol=1e-7)


def test_to_data_order_needs_the_rows(fits):
    _, _, _, res = fits
    with pytest.raises(NotImplementedError, match="on the workers"):
        res.to_data_order(np.zeros(3))
    with pytest.raises(ValueError, match="include_random=False needs newdata"):
        res.predict(include_random=False)


def test_anova_on_dask_fits_equals_anova_in_memory(fits):
    d, ddf, mem, res = fits
    kw = dict(weights=["w1", "w2"], weight_scaling="size")
    mem0, res0 = quiet_mix("y ~ 1 + (1|g)", d, **kw), quiet_mix("y ~ 1 + (1|g)", ddf, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pywemix.warnings.PseudoLikelihoodWarning)
        expected, got = pywemix.anova(mem0, mem), pywemix.anova(res0, res)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-7)
    for pair in ((res0, mem), (mem0, res)):
        with pytest.raises(ValueError, match="different data"):
            pywemix.anova(*pair)
    with pytest.raises(NotImplementedError, match="in memory"):
        pywemix.bootstrap_lrt(res0, res, n=5, allow_weighted=True)


def test_anova_dask_rows_and_reml_refit(fits):
    d, ddf, _, _ = fits
    x2 = np.cos(np.arange(len(d)))
    d = d.assign(x2=x2, z=np.where(np.arange(len(d)) % 7 == 0, np.nan, x2))
    ddf = dd.from_pandas(d, npartitions=3, sort=False)
    small, missing = quiet_mix("y ~ 1 + (1|g)", ddf), quiet_mix("y ~ z + (1|g)", ddf)
    with pytest.raises(ValueError, match="different data"):
        pywemix.anova(small, missing)
    reml = [
        quiet_mix(f, data, reml=True)
        for data in (d, ddf)
        for f in ("y ~ x + (1|g)", "y ~ x + x2 + (1|g)")
    ]
    expected = pywemix.anova(reml[0], reml[1], refit=True)
    got = pywemix.anova(reml[2], reml[3], refit=True)
    pd.testing.assert_frame_equal(got, expected, rtol=1e-7)


def test_simulate_draws_on_the_workers(fits):
    d, _, mem, res = fits
    sims = res.simulate(400, seed=3)
    assert isinstance(sims, dd.DataFrame)
    got = sims.compute().sort_index()
    assert list(got.columns) == [f"sim_{k}" for k in range(1, 401)]
    assert got.index.equals(mem.fittedvalues.index.sort_values())
    pd.testing.assert_frame_equal(res.simulate(400, seed=3).compute().sort_index(), got)
    # mean of the draws: X beta; variance: sigma^2 + the random intercept's variance
    fixed = mem.predict(d, include_random=False).sort_index()
    se = np.sqrt((mem.sigma2 + mem.random_effects_covariances[0][0, 0]) / 400)
    assert np.all(np.abs(got.mean(axis=1) - fixed) < 5 * se)
    total = got.to_numpy().var()
    assert (
        abs(total / (mem.sigma2 + mem.random_effects_covariances[0][0, 0] + fixed.var()) - 1) < 0.1
    )
    with pytest.raises(ValueError, match="positive integer"):
        res.simulate(0)


def test_plots_of_a_dask_fit(fits):
    pytest.importorskip("matplotlib")
    _, _, _, res = fits
    for kind in ("resid_fitted", "qq_resid", "qq_ranef", "caterpillar", "coef"):
        fig = res.plot(kind)
        assert len(fig.axes) >= 1
    small = res.plot("resid_fitted", max_points=10)
    assert 0 < len(small.axes[0].collections[0].get_offsets()) < res.nobs


def test_wald_test_of_a_factor_by_its_name_equals_the_in_memory_one():
    d = small_random_intercept(52, n_groups=12, size=5)
    d["f"] = np.array(list("abc"))[np.arange(len(d)) % 3]
    ddf = dd.from_pandas(d, npartitions=3, sort=False)
    res, mem = quiet_mix("y ~ x + f + (1|g)", ddf), quiet_mix("y ~ x + f + (1|g)", d)
    w, wm = res.wald_test("f"), mem.wald_test("f")
    assert w.columns == ["f[T.b]", "f[T.c]"] == wm.columns and w.df == 2
    assert w.statistic == pytest.approx(wm.statistic, rel=1e-6)
