"""Binomial and Poisson fits on a Dask cluster equal the in-memory fits."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import pywemix

from conftest import needs_reference, reference_data

dd = pytest.importorskip("dask.dataframe")


def _quiet(f, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = f(*args, **kwargs)
    return out, [str(w.message) for w in caught]


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))


def _compare(formula, df, npartitions, **kw):
    mem, mem_msgs = _quiet(pywemix.mix, formula, df, **kw)
    ddf = dd.from_pandas(df, npartitions=npartitions, sort=False)
    res, msgs = _quiet(pywemix.mix, formula, ddf, **kw)
    assert type(res).__name__ == "DaskMixResult"
    assert not any("runs in memory" in m for m in msgs)
    assert msgs == mem_msgs
    assert _rel(res.llf, mem.llf) < 1e-6
    assert _rel(res.params, mem.params) < 1e-6
    assert _rel(res.bse, mem.bse) < 1e-6
    assert _rel(res.var_components["variance"], mem.var_components["variance"]) < 1e-6
    for name, frame in mem.ranef().items():
        np.testing.assert_allclose(res.ranef()[name], frame, rtol=1e-5, atol=1e-8)
    return ddf, mem, res


@needs_reference
def test_dask_logit_equals_in_memory_fit(dask_client):
    df = reference_data("pisa_s1.csv")
    ddf, mem, res = _compare(
        "highmath ~ escs + st04q01 + (1 + escs|schoolid)",
        df,
        3,
        weights=["pwt1", "pwt2"],
        cond_weights=True,
        family="binomial",
        n_quad=5,
    )
    fitted = res.fittedvalues
    assert isinstance(fitted, dd.Series)
    np.testing.assert_allclose(
        fitted.compute().sort_index(), mem.fittedvalues.sort_index(), rtol=1e-5
    )
    pred = res.predict(ddf, type="link").compute().sort_index()
    np.testing.assert_allclose(
        pred, mem.predict(df, type="link").sort_index(), rtol=1e-5, atol=1e-8
    )
    np.testing.assert_allclose(
        res.resid().compute().sort_index(), mem.resid().sort_index(), rtol=1e-5, atol=1e-8
    )


@needs_reference
def test_dask_poisson_equals_in_memory_fit(dask_client):
    df = reference_data("counts_s1i.csv")
    _compare(
        "absences ~ escs + st04q01 + (1|schoolid)",
        df,
        4,
        weights=["iw1", "iw2"],
        cond_weights=True,
        family="poisson",
        n_quad=7,
    )


def test_dask_separation_warnings_as_in_memory(dask_client):
    rng = np.random.default_rng(3)
    n = 400
    df = pd.DataFrame(
        {
            "g": np.repeat(np.arange(20), 20),
            "x": rng.normal(size=n),
            "d": (np.arange(n) % 7 == 0).astype(float),
        }
    )
    df["y"] = ((df.x + rng.normal(size=20)[df.g] + rng.logistic(size=n)) > 0).astype(float)
    df.loc[df.d == 1, "y"] = 1.0  # y is always 1 where d is 1
    f = "y ~ x + d + (1|g)"
    mem, mem_msgs = _quiet(pywemix.mix, f, df, family="binomial", n_quad=5)
    res, msgs = _quiet(
        pywemix.mix, f, dd.from_pandas(df, npartitions=3, sort=False), family="binomial", n_quad=5
    )
    assert any("perfect separation" in m for m in mem_msgs)
    assert set(msgs) == set(mem_msgs)


def _laplace_data(seed=11):
    """Small three-level binomial data (districts > schools > pupils) with weights."""
    rng = np.random.default_rng(seed)
    dist = np.repeat(np.arange(8), 4)
    school = np.arange(32)
    size = rng.integers(5, 12, 32)
    rows = pd.DataFrame({"dist": np.repeat(dist, size), "school": np.repeat(school, size)})
    rows["x"] = rng.normal(size=len(rows))
    eta = (
        -0.3 + 0.8 * rows.x + rng.normal(0, 0.7, 8)[rows.dist] + rng.normal(0, 0.8, 32)[rows.school]
    )
    rows["y"] = (rng.random(len(rows)) < 1 / (1 + np.exp(-eta))).astype(float)
    rows["w1"] = rng.uniform(0.5, 2, len(rows))
    rows["w2"] = rng.uniform(1, 3, 32)[rows.school]
    rows["w3"] = rng.uniform(1, 3, 8)[rows.dist]
    return rows


def test_dask_laplace_three_levels_equals_in_memory_fit(dask_client):
    # n_quad=1 is lme4's joint Laplace in memory: the Dask fit must be the same model
    df = _laplace_data()
    _, mem, res = _compare("y ~ x + (1|school) + (1|dist)", df, 2, family="binomial", n_quad=1)
    assert "Laplace" in res.optimization.method


def test_dask_laplace_two_levels_weighted_equals_in_memory_fit(dask_client):
    df = _laplace_data(12)
    _compare(
        "y ~ x + (1|school)",
        df,
        3,
        weights=["w1", "w2"],
        cond_weights=True,
        family="binomial",
        n_quad=1,
    )
