"""The model design (pywemix.design.model): responses given as expressions, columns
that only stateful transforms mention, predictor types, non-finite values and
random-effect structures that cannot be identified."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pywemix

from conftest import quiet_mix


def _data(seed=3, n_groups=30, size=8):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), size)
    x = rng.normal(size=g.size)
    y = np.exp(0.5 + 0.2 * x + 0.3 * rng.normal(size=n_groups)[g] + 0.2 * rng.normal(size=g.size))
    return pd.DataFrame({"y": y, "x": x, "g": g, "z": rng.normal(size=g.size)})


# -- responses ----------------------------------------------------------------


def test_response_expression_equals_a_transformed_column():
    d = _data()
    a = quiet_mix("np.log(y) ~ x + (1|g)", d)
    b = quiet_mix("ly ~ x + (1|g)", d.assign(ly=np.log(d["y"])))
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-12)
    assert a.llf == pytest.approx(b.llf, rel=1e-12)
    np.testing.assert_allclose(a.resid.to_numpy(), b.resid.to_numpy(), rtol=1e-10, atol=1e-12)
    c = quiet_mix("I(y / 100) ~ x + (1|g)", d)
    np.testing.assert_allclose(
        c.params.to_numpy() * 100, quiet_mix("y ~ x + (1|g)", d).params.to_numpy(), rtol=1e-8
    )


def test_backticked_response_with_a_space():
    d = _data().rename(columns={"y": "re act"})
    r = quiet_mix("`re act` ~ x + (1|g)", d)
    assert r.nobs == len(d)


def test_binomial_response_expression():
    d = _data()
    a = quiet_mix("I(y > 1.6) ~ x + (1|g)", d, family="binomial", n_quad=5)
    b = quiet_mix(
        "hi ~ x + (1|g)", d.assign(hi=(d["y"] > 1.6).astype(int)), family="binomial", n_quad=5
    )
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-10)


@pytest.mark.parametrize(
    "formula, match",
    [
        ("y + z ~ x + (1|g)", "single"),
        ("np.log(yy) ~ x + (1|g)", "yy"),
    ],
)
def test_bad_responses(formula, match):
    with pytest.raises(ValueError, match=match):
        quiet_mix(formula, _data())


def test_response_expression_with_non_finite_values_names_it():
    d = _data()
    d.loc[3, "y"] = -1.0
    with pytest.raises(ValueError, match=r"np.log\(y\).*non-finite"):
        quiet_mix("np.log(y) ~ x + (1|g)", d)


def test_constant_response_is_an_error():
    with pytest.raises(ValueError, match="'y' is constant"):
        quiet_mix("y ~ x + (1|g)", _data().assign(y=2.0))
    with pytest.raises(ValueError, match="constant"):
        quiet_mix("y ~ x + (1|g)", _data().assign(y=0), family="binomial")


def test_infinite_response_is_an_error():
    d = _data()
    d.loc[5, "y"] = np.inf
    with pytest.raises(ValueError, match="'y' has 1 non-finite"):
        quiet_mix("y ~ x + (1|g)", d)


def test_infinite_predictor_is_named_not_called_rank_deficient():
    d = _data()
    d.loc[5, "x"] = -np.inf
    with pytest.raises(ValueError, match=r"'x'.*infinite"):
        quiet_mix("y ~ x + (1|g)", d)


# -- columns used by stateful transforms --------------------------------------


@pytest.mark.parametrize(
    "term, by_hand",
    [
        ("scale(x)", lambda d: (d["x"] - d["x"].mean()) / d["x"].std()),
        ("center(x)", lambda d: d["x"] - d["x"].mean()),
    ],
)
def test_stateful_transforms_find_their_columns(term, by_hand):
    d = _data()
    a = quiet_mix(f"y ~ {term} + (1|g)", d)
    b = quiet_mix("y ~ xs + (1|g)", d.assign(xs=by_hand(d)))
    assert a.llf == pytest.approx(b.llf, rel=1e-10)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-6)
    # predictions on new rows use the transform's stored mean and scale
    np.testing.assert_allclose(
        a.predict(d.head(7)).to_numpy(), a.fittedvalues.head(7).to_numpy(), rtol=1e-10
    )


def test_missing_values_in_a_transformed_column_are_dropped():
    d = _data()
    d.loc[[1, 2], "x"] = np.nan
    with pytest.warns(pywemix.DataWarning, match="dropped 2"):
        r = pywemix.mix("y ~ poly(x, 2) + (1|g)", d)
    assert r.nobs == len(d) - 2


# -- predictor types -----------------------------------------------------------


def test_complex_and_datetime_predictors_are_refused():
    d = _data()
    with pytest.raises(TypeError, match="'c'.*complex"):
        quiet_mix("y ~ c + (1|g)", d.assign(c=d["x"] + 1j))
    with pytest.raises(TypeError, match="'when'.*dates"):
        quiet_mix(
            "y ~ when + (1|g)",
            d.assign(when=pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(len(d)), "D")),
        )


def test_numbers_stored_as_objects_are_numeric():
    d = _data()
    a = quiet_mix("y ~ xo + (1|g)", d.assign(xo=d["x"].astype(object)))
    b = quiet_mix("y ~ x + (1|g)", d)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-12)


# -- identifiability -------------------------------------------------------------


def test_groups_of_one_row_are_an_error():
    d = _data()
    with pytest.raises(ValueError, match="single observation"):
        quiet_mix("y ~ x + (1|id)", d.assign(id=np.arange(len(d))))


def test_more_random_effects_than_rows_is_an_error():
    d = _data(n_groups=40, size=2)
    with pytest.raises(ValueError, match="not identifiable"):
        quiet_mix("y ~ x + (x|g)", d)


@pytest.mark.parametrize(
    "formula", ["y ~ x + (1|g) + (1|g)", "y ~ x + (x|g) + (1|g)", "y ~ x + (x||g) + (0 + x|g)"]
)
def test_an_effect_in_two_terms_is_an_error(formula):
    with pytest.raises(ValueError, match="appears in two terms"):
        quiet_mix(formula, _data())


def test_singular_correlated_slope_warns():
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(50), 10)
    x = rng.normal(size=500)
    y = 1 + x + rng.normal(size=50)[g] + rng.normal(size=500)
    with pytest.warns(pywemix.BoundaryWarning, match="singular fit"):
        r = pywemix.mix("y ~ x + (x|g)", pd.DataFrame(dict(y=y, x=x, g=g)))
    assert any("singular" in m for m in r.warnings)
