"""``PooledResult`` beyond Rubin's rules: no pooled likelihood (NaN with a
warning, as plausible values), per-row values averaged over the fits."""

import warnings

import numpy as np
import pandas as pd
import pytest
from survey_data import FORMULA, survey_sample

import pywemix

from conftest import quiet_mix

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
        with pytest.warns(
            pywemix.PseudoLikelihoodWarning, match=r"3 imputed-data fits .*wald_test"
        ):
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
    np.testing.assert_allclose(fitted, np.mean([f.fittedvalues for f in fits], axis=0), rtol=1e-12)
    resid = pooled.resid
    np.testing.assert_allclose(
        resid, data.loc[resid.index, PVS].mean(axis=1) - fitted, rtol=1e-10, atol=1e-12
    )
    np.testing.assert_allclose(
        resid(kind="pearson"), np.mean([f.residuals("pearson") for f in fits], axis=0), rtol=1e-12
    )
    new = data.iloc[:7]
    np.testing.assert_allclose(
        pooled.predict(new, include_random=False),
        np.mean([f.predict(new, include_random=False) for f in fits], axis=0),
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match="kind must be 'response' or 'pearson'"):
        pooled.residuals("deviance")


def test_pooled_fits_on_other_rows_are_not_averaged(pooled, data):
    """Imputed data sets that kept different rows: no silent NaN-filled mean."""
    short = _fit(data.iloc[:-5], "pv3")
    with pytest.warns(pywemix.DataWarning, match="fit 2 has 103 rows, fit 0 108"):
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
        _ = pooled.no_such_thing
    assert isinstance(pooled.fittedvalues, pd.Series)


def test_pooled_intervals_use_barnard_rubin_t(pooled):
    """conf_int and tidy agree: t intervals with the Barnard-Rubin df."""
    td = pooled.tidy(alpha=0.1).set_index("term")
    ci = pooled.conf_int(alpha=0.1)
    names = list(pooled.params.index)
    np.testing.assert_allclose(ci.iloc[:, 0], td.loc[names, "conf_low"], rtol=1e-12)
    np.testing.assert_allclose(ci.iloc[:, 1], td.loc[names, "conf_high"], rtol=1e-12)
    assert (ci.iloc[:, 1] - ci.iloc[:, 0] > 2 * 1.6448 * pooled.bse).all()  # t > z
    both = pooled.conf_int(alpha=0.1, which="all", cols=["x", "sd(Intercept|school)"])
    assert list(both.index) == ["x", "sd(Intercept|school)"]
    np.testing.assert_allclose(both.loc["x"], ci.loc["x"], rtol=1e-12)


# -- pool() checks that the fits are of one model to one data set -----------------------


def _quiet(formula, data, **kw):
    return quiet_mix(formula, data, ["wt", "w2"], **kw)


def test_pool_of_other_families_or_links_says_so(data):
    """A linear and a logit fit are other models: the message names the
    family and link, not the variance components the families also differ in."""
    binary = data.assign(y=(data["pv1"] > data["pv1"].median()).astype(float))
    linear = _fit(data, "pv1")
    logit = _quiet(FORMULA, binary, family="binomial")
    with pytest.raises(
        ValueError,
        match=r"fit 1 is a binomial model \(logit link\), fit 0 "
        r"a gaussian model \(identity link\)",
    ):
        pywemix.pool([linear, logit])
    probit = _quiet(FORMULA, binary, family="binomial", link="probit")
    with pytest.raises(
        ValueError,
        match="fit 1 has the probit link, fit 0 the logit link "
        r"\(both binomial models\)",
    ):
        pywemix.pool([logit, probit])


def test_pool_of_other_terms_names_them(data):
    d = data.assign(z=np.arange(len(data)) % 3, k=np.arange(len(data)) % 2)
    base = _quiet("y ~ x + C(z) + (1|school)", d.assign(y=d["pv1"]))
    other = _quiet("y ~ x + k + (1|school)", d.assign(y=d["pv2"]))
    with pytest.raises(
        ValueError,
        match=r"fit 1 has the term\(s\) \['k'\] that fit 0 has "
        r"not and not the term\(s\) \['C\(z\)'\] of fit 0",
    ):
        pywemix.pool([base, other])
    # the same terms, a level of a factor missing in one data set
    fewer = _quiet("y ~ x + C(z) + (1|school)", d.assign(y=d["pv2"], z=d["z"].clip(0, 1)))
    with pytest.raises(
        ValueError,
        match=r"the term 'C\(z\)' has the columns "
        r"\['C\(z\)\[T.1\]'\] in fit 1",
    ):
        pywemix.pool([base, fewer])
    # the same fixed effects in another order
    swapped = _quiet("y ~ C(z) + x + (1|school)", d.assign(y=d["pv2"]))
    with pytest.raises(ValueError, match="the same in another order"):
        pywemix.pool([base, swapped])
    # other random effects
    slope = _quiet("y ~ x + C(z) + (x|school)", d.assign(y=d["pv2"]))
    with pytest.raises(ValueError, match=r"fit 1 has the variance components .*var\(x\|school"):
        pywemix.pool([base, slope])
    # the response may differ: plausible values pooled by hand
    by_hand = pywemix.pool([quiet_mix(f"{c} ~ x + (1|school)", data, ["wt", "w2"]) for c in PVS])
    np.testing.assert_allclose(
        by_hand.params, pywemix.pool([_fit(data, c) for c in PVS]).params, rtol=1e-12
    )


def test_pool_of_two_countries_is_an_error(data):
    """Fits to different samples share no top-level group: pooling them
    would count the countries' difference as imputation variance."""
    other = survey_sample(seed=9, n_schools=10, reps=2, n_pv=3)
    other = other.assign(school=other["school"] + 100)
    with pytest.raises(
        ValueError,
        match=r"fit 1 and fit 0 have no top-level group in common "
        r"\(\d+ and 108 rows, 10 and 12 groups\).*by=",
    ):
        pywemix.pool([_fit(data, "pv1"), _fit(other, "pv1")])
    # one frame split by country: the school ids may repeat, the row labels do not
    both = pd.concat(
        [data.assign(cnt="A"), other.assign(cnt="B", school=other["school"] - 100)],
        ignore_index=True,
    )
    a, b = (_fit(both[both["cnt"] == c], "pv1") for c in "AB")
    assert a.nobs != b.nobs
    with pytest.raises(
        ValueError,
        match=rf"fit 1 has {b.nobs} rows, fit 0 {a.nobs}, and no "
        r"row \(index label\) in common",
    ):
        pywemix.pool([a, b])
    # re-indexed, the rows of the two countries are only a warning
    a2, b2 = (_fit(both[both["cnt"] == c].reset_index(drop=True), "pv1") for c in "AB")
    with pytest.warns(
        pywemix.DataWarning,
        match=rf"fit 1 has {b.nobs} rows, fit 0 {a.nobs}: "
        "pool\\(\\) combines imputations of one",
    ):
        res = pywemix.pool([a2, b2])
    assert any("combines imputations" in w for w in res.warnings)


def test_pool_of_imputations_with_other_row_labels_passes(data):
    """Imputed data sets stacked in one long frame (mice::complete(imp,
    "long")) have other labels for the same rows: no error, no warning; the
    same rows in other groups warn."""
    long = pd.concat([data.assign(y=data[c], imp=k) for k, c in enumerate(PVS)], ignore_index=True)
    fits = [quiet_mix(FORMULA, long[long["imp"] == k], ["wt", "w2"]) for k in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", pywemix.DataWarning)
        res = pywemix.pool(fits)
    ref = pywemix.pool([_fit(data, c) for c in PVS])
    np.testing.assert_allclose(res.params, ref.params, rtol=1e-12)
    np.testing.assert_allclose(res.bse, ref.bse, rtol=1e-10)
    moved = data.assign(school=np.where(data["school"] == 0, 99, data["school"]))
    with pytest.warns(
        pywemix.DataWarning,
        match=r"fit 1 has other top-level groups than "
        r"fit 0 \(11 of its 12 are in fit 0",
    ):
        pywemix.pool([_fit(data, "pv1"), _fit(moved, "pv2")])
