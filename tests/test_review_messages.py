"""Clear messages for mistakes found in review: unknown grouping factors in
``ranef()``, text binomial responses, empty plausible-value columns, infinite
predictors on Dask frames, and ``predict`` with text where the fit had numbers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pywemix

from conftest import quiet_mix

FORMULA = "pv1math ~ escs + (1|schoolid)"
W = ["pwt1", "pwt2"]


@pytest.fixture(scope="module")
def small():
    d = pywemix.datasets.load_pisa()
    return d[d["schoolid"] <= 12].dropna(subset=["escs"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def fit(small):
    return quiet_mix(FORMULA, small, W)


def test_ranef_unknown_factor_lists_the_factors(fit):
    re = fit.ranef()
    assert isinstance(re, dict) and list(re) == ["schoolid"]
    with pytest.raises(KeyError, match="'nope' is not a grouping factor.*\\['schoolid'\\]"):
        re["nope"]
    with pytest.raises(KeyError, match="grouping factors are \\['schoolid'\\]"):
        fit.ranef(se=True)["nope"]
    assert re.get("nope") is None and "nope" not in re


def test_binomial_text_response_says_which_value_is_one(small):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = pywemix.mix("st04q01 ~ escs + (1|schoolid)", small, W, family="binomial", n_quad=1)
    notes = [str(w.message) for w in caught if issubclass(w.category, pywemix.DataWarning)]
    assert any("'st04q01' is text: 'Male' is coded 1 and 'Female' 0" in m for m in notes)
    coded = quiet_mix(
        "male ~ escs + (1|schoolid)",
        small.assign(male=(small["st04q01"] == "Male").astype(float)),
        W,
        family="binomial",
        n_quad=1,
    )
    np.testing.assert_allclose(text.params.to_numpy(), coded.params.to_numpy(), rtol=1e-8)


def test_plausible_value_column_all_missing_is_named(small):
    with pytest.raises(ValueError, match="plausible-value column 'pv2math' is missing"):
        quiet_mix(
            "m ~ escs + (1|schoolid)",
            small.assign(pv2math=np.nan),
            W,
            plausible_values={"m": ["pv1math", "pv2math"]},
        )


def test_dask_infinite_predictor_is_named(small):
    dd = pytest.importorskip("dask.dataframe")
    bad = small.copy()
    bad.loc[[3, 40], "escs"] = np.inf
    with pytest.raises(ValueError, match="column\\(s\\) 'escs' have 2 infinite values"):
        quiet_mix(FORMULA, dd.from_pandas(bad, npartitions=2), W)


def test_predict_text_where_the_fit_had_numbers(fit, small):
    with pytest.raises(TypeError, match="column 'escs' of newdata must be numeric"):
        fit.predict(small.iloc[:5].assign(escs="a"))
    as_objects = small.iloc[:5].assign(escs=small["escs"].iloc[:5].astype(object))
    np.testing.assert_allclose(fit.predict(as_objects), fit.predict(small.iloc[:5]))
