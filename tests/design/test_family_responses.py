"""Bad responses of the families with auxiliary parameters and of the
binomial with trials: a ValueError (TypeError for a wrong kind of column)
that names the column at fault, before any fitting."""

from __future__ import annotations

import pandas as pd
import pytest

import pywemix

from conftest import family_data


@pytest.fixture(scope="module")
def df():
    d = family_data(2, n_groups=8)
    d["n"] = d["succ"] + d["fail"]
    d["prop"] = d["succ"] / d["n"]
    return d


def mix(formula, data, family, **kw):
    return pywemix.mix(formula, data, family=family, **kw)


def test_ordinal_response_with_one_category(df):
    with pytest.raises(ValueError, match=r"ordinal response 'ord' has 1 category"):
        mix("ord ~ x + (1|g)", df.assign(ord=1), "ordinal")


def test_ordinal_text_response_needs_an_order(df):
    with pytest.raises(TypeError, match=r"ordinal response 'ord' is text"):
        mix("ord ~ x + (1|g)", df.assign(ord=df["ord"].map(str)), "ordinal")


def test_ordinal_categorical_with_one_observed_category(df):
    one = pd.Categorical(["b"] * len(df), categories=["a", "b", "c"], ordered=True)
    with pytest.raises(ValueError, match=r"ordinal response 'ord' has 1 category"):
        mix("ord ~ x + (1|g)", df.assign(ord=one), "ordinal")


@pytest.mark.parametrize("bad", [-1.0, 2.5])
def test_negative_binomial_counts(df, bad):
    nb = df["nb"].copy()
    nb.iloc[[3, 7]] = bad
    with pytest.raises(
        ValueError,
        match=r"negative_binomial response 'nb' must hold "
        r"non-negative integers; 2 values",
    ):
        mix("nb ~ x + (1|g)", df.assign(nb=nb), "negative_binomial")


@pytest.mark.parametrize("bad", [0.0, -0.4])
@pytest.mark.parametrize("link", ["log", "inverse"])
def test_gamma_response_must_be_positive(df, bad, link):
    gam = df["gam"].copy()
    gam.iloc[5] = bad
    with pytest.raises(ValueError, match=r"gamma response 'gam' must be positive; 1 "):
        mix("gam ~ x + (1|g)", df.assign(gam=gam), "gamma", link=link)


def test_cbind_with_negative_failures(df):
    fail = df["fail"].copy()
    fail.iloc[0] = -1
    with pytest.raises(
        ValueError,
        match=r"'cbind\(succ, fail\)': 'fail' must hold "
        r"non-negative whole numbers",
    ):
        mix("cbind(succ, fail) ~ x + (1|g)", df.assign(fail=fail), "binomial")


def test_cbind_with_trials_below_successes(df):
    """``cbind(succ, n - succ)`` with ``n < succ`` in a row: negative failures,
    named by the expression."""
    n = df["n"].copy()
    n.iloc[2] = df["succ"].iloc[2] - 1
    with pytest.raises(ValueError, match=r"'n - succ' must hold non-negative"):
        mix("cbind(succ, n - succ) ~ x + (1|g)", df.assign(n=n), "binomial")


def test_trials_below_successes(df):
    """A proportion above 1 (successes over trials) with ``trials=``."""
    prop = df["prop"].copy()
    prop.iloc[4] = 1.5
    with pytest.raises(ValueError, match=r"'prop' with trials='n' must be a proportion"):
        mix("prop ~ x + (1|g)", df.assign(prop=prop), "binomial", trials="n")


def test_negative_trials(df):
    n = df["n"].copy()
    n.iloc[1] = -2
    with pytest.raises(ValueError, match=r"the trials column 'n' must hold non-negative"):
        mix("prop ~ x + (1|g)", df.assign(n=n), "binomial", trials="n")


def test_cbind_needs_the_binomial_family(df):
    with pytest.raises(TypeError, match=r"'cbind\(succ, fail\)'.* binomial family"):
        mix("cbind(succ, fail) ~ x + (1|g)", df, "negative_binomial")


def test_text_counts_are_a_type_error(df):
    with pytest.raises(TypeError, match=r"'nb' must be numeric"):
        mix("nb ~ x + (1|g)", df.assign(nb=df["nb"].astype(str)), "negative_binomial")
