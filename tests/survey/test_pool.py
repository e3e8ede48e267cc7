"""``PooledResult`` beyond Rubin's rules: no pooled likelihood (NaN with a
warning, as plausible values), per-row values averaged over the fits."""
import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix
from conftest import quiet_mix
from survey_data import FORMULA, survey_sample

PVS = ["pv1", "pv2", "pv3"]


def _fit(data, column):
    """The model fitted to ``data`` with ``column`` (one imputation) as ``y``."""
    return quiet_mix(FORMULA, data.assign(y=data[column]), ["wt", "w2"])


@pytest.fixture(scope="module")
def data():
    return survey_sample(seed=4, n_schools=12, reps=2, n_pv=3)


@pytest.fixture(scope="module")
def pooled(data):
    return pywemix.pool([_fit(data, c) for c in PVS])


def test_pooled_result_has_no_likelihood(pooled):
    """llf, aic and bic: NaN with a warning pointing to Wald tests, as a
    plausible-value combination (the same code), never None or an exception."""
    for name in ("llf", "aic", "bic"):
        with pytest.warns(pywemix.PseudoLikelihoodWarning,
                          match=r"3 imputed-data fits .*wald_test"):
            assert np.isnan(getattr(pooled, name))
    with warnings.catch_warnings():
        warnings.simplefilter("error", pywemix.PseudoLikelihoodWarning)
        assert all(np.isnan(pooled.information_criteria()))
        # reports and tables read it without the warning
        assert "not defined (pooled fits)" in str(pooled.summary())
        table = pywemix.compare(pooled, pooled.fits[0])
    assert np.isnan(table.iloc[:, 0].loc["llf"])
    assert table.iloc[:, 2].loc["llf"] == pytest.approx(pooled.fits[0].llf)


def test_pooled_per_row_values_are_means_over_fits(pooled, data):
    fits = pooled.fits
    fitted = pooled.fittedvalues
    assert fitted.name == "fittedvalues" and fitted.index.equals(fits[0].fittedvalues.index)
    np.testing.assert_allclose(fitted, np.mean([f.fittedvalues for f in fits], axis=0),
                               rtol=1e-12)
    resid = pooled.resid
    np.testing.assert_allclose(resid, data.loc[resid.index, PVS].mean(axis=1) - fitted,
                               rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(resid(kind="pearson"),
                               np.mean([f.residuals("pearson") for f in fits], axis=0),
                               rtol=1e-12)
    new = data.iloc[:7]
    np.testing.assert_allclose(pooled.predict(new, include_random=False),
                               np.mean([f.predict(new, include_random=False) for f in fits],
                                       axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="kind must be 'response' or 'pearson'"):
        pooled.residuals("deviance")


def test_pooled_fits_on_other_rows_are_not_averaged(pooled, data):
    """Imputed data sets that kept different rows: no silent NaN-filled mean."""
    short = _fit(data.iloc[:-5], "pv3")
    res = pywemix.pool([pooled.fits[0], pooled.fits[1], short])
    assert np.isfinite(res.params).all()
    for name in ("fittedvalues", "resid"):
        with pytest.raises(ValueError, match=r"fit 2 has \d+ rows .*fits\[k\]"):
            getattr(res, name)
    with pytest.raises(ValueError, match="cannot be averaged row by row"):
        res.predict()


def test_single_fit_attributes_point_to_the_fits(pooled):
    with pytest.raises(AttributeError, match=r"one fit.*result\.fits\[k\]\.ranef"):
        pooled.ranef()
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        pooled.no_such_thing
    assert isinstance(pooled.fittedvalues, pd.Series)


def test_pooled_intervals_use_barnard_rubin_t(pooled):
    """conf_int and tidy agree: t intervals with the Barnard-Rubin df."""
    td = pooled.tidy(alpha=0.1).set_index("term")
    ci = pooled.conf_int(alpha=0.1)
    names = list(pooled.params.index)
    np.testing.assert_allclose(ci.iloc[:, 0], td.loc[names, "conf_low"], rtol=1e-12)
    np.testing.assert_allclose(ci.iloc[:, 1], td.loc[names, "conf_high"], rtol=1e-12)
    assert (ci.iloc[:, 1] - ci.iloc[:, 0] > 2 * 1.6448 * pooled.bse).all()   # t > z
    both = pooled.conf_int(alpha=0.1, which="all", cols=["x", "sd(Intercept|school)"])
    assert list(both.index) == ["x", "sd(Intercept|school)"]
    np.testing.assert_allclose(both.loc["x"], ci.loc["x"], rtol=1e-12)
